//! Evaluation harness in the shape of the papers' seed programs (`rsync_test`, `dsync_test`,
//! `skysync_f_test`, `skysync_c_test`; algorithms.md §2.1, §11): both halves of each engine run in
//! this process on two files, without network, and the per-phase times come from the engines'
//! own instrumentation ([`parasync::engine::phase`]).
//!
//! ```text
//! cargo bench --bench phases -- OLD NEW [--hw 0|1] [--threads N] [--engine E]...
//! ```
//!
//! Per engine: signature/chunking, weak match, strong match, delta generation and patch times
//! (phase times of work that overlaps — parasync's streaming chunker — are summed per region, so
//! they can add up to more than the wall time), the wall time of the delta (both halves), the
//! engine messages, the delta as an rdiff-format file (literal bytes plus command headers), and
//! the peak RSS of the delta (the kernel's high-water mark, reset before each engine; it includes
//! the two mapped input files). The patch streams through `api::apply` into a checker that
//! compares it with NEW.

use std::sync::Arc;
use std::time::Instant;

use parasync::engine::phase::{MsgKind, Phase, PhaseTotals, Phases};
use parasync::engine::{api, rdiff, run_local, EngineId, EngineParams, Op, Shared};

/// A patch destination that compares what it is given with NEW instead of storing it.
struct Verify<'a> {
    new: &'a [u8],
    at: usize,
}

impl std::io::Write for Verify<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let end = self.at + buf.len();
        if self.new.get(self.at..end) != Some(buf) {
            return Err(std::io::Error::other("patched output differs from NEW"));
        }
        self.at = end;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Args {
    old: String,
    new: String,
    hw: Option<bool>,
    threads: usize,
    engines: Vec<EngineId>,
}

fn usage() -> ! {
    eprintln!("usage: phases OLD NEW [--hw 0|1] [--threads N] [--engine E]...");
    std::process::exit(2)
}

fn parse() -> Args {
    let mut files = Vec::new();
    let (mut hw, mut threads, mut engines) = (None, 0, Vec::new());
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--bench" => {} // added by `cargo bench`
            "--hw" => {
                hw = match val().as_str() {
                    "0" => Some(false),
                    "1" => Some(true),
                    _ => usage(),
                }
            }
            "--threads" => threads = val().parse().unwrap_or_else(|_| usage()),
            "--engine" => engines.push(EngineId::parse(&val()).unwrap_or_else(|| usage())),
            s if s.starts_with("--") => usage(),
            _ => files.push(a),
        }
    }
    let [old, new] = <[String; 2]>::try_from(files).unwrap_or_else(|_| usage());
    if engines.is_empty() {
        engines = EngineId::ALL.to_vec();
    }
    Args {
        old,
        new,
        hw,
        threads,
        engines,
    }
}

fn map(path: &str) -> Shared {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    if f.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
        return Arc::new(Vec::<u8>::new());
    }
    // SAFETY: the inputs are not modified while the harness runs.
    Arc::new(unsafe { memmap2::Mmap::map(&f) }.unwrap_or_else(|e| panic!("{path}: {e}")))
}

/// Reset the peak-RSS high-water mark (Linux `clear_refs` 5); false where unsupported.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Peak RSS in KiB since the last reset.
fn peak_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

struct Row {
    engine: EngineId,
    t: PhaseTotals,
    wall: f64,
    msgs: u64,
    delta: u64,
    literal: u64,
    copies: usize,
    peak_kib: u64,
}

fn run(id: EngineId, a: &Args, old: &Shared, new: &Shared) -> Row {
    let phases = Phases::enabled();
    let params = EngineParams {
        threads: a.threads,
        hw: a.hw,
        phases: phases.clone(),
        ..EngineParams::default()
    };
    reset_peak();
    let t = Instant::now();
    let (ops, msgs) = run_local(id, &params, old.clone(), new.clone())
        .unwrap_or_else(|e| panic!("{}: {e}", id.name()));
    let wall = t.elapsed().as_secs_f64();
    let peak_kib = peak_kib();
    let (oldb, newb): (&[u8], &[u8]) = ((**old).as_ref(), (**new).as_ref());
    let mut check = Verify { new: newb, at: 0 };
    phases.run(Phase::Patch, || {
        api::apply(std::io::Cursor::new(oldb), &ops, &mut check).expect("ops apply")
    });
    assert_eq!(
        check.at,
        newb.len(),
        "{}: patched output too short",
        id.name()
    );
    let mut sorted = ops;
    sorted.sort_by_key(Op::dst);
    Row {
        engine: id,
        t: phases.snapshot(),
        wall,
        msgs,
        delta: rdiff::delta_len(&sorted),
        literal: api::literal_bytes(&sorted),
        copies: sorted
            .iter()
            .filter(|o| matches!(o, Op::Copy { .. }))
            .count(),
        peak_kib,
    }
}

fn main() {
    let a = parse();
    let (old, new) = (map(&a.old), map(&a.new));
    let hw = match a.hw {
        None => "auto",
        Some(false) => "0",
        Some(true) => "1",
    };
    let threads = match a.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    println!(
        "old {} ({} bytes), new {} ({} bytes), hw={hw}, threads={threads}",
        a.old,
        (*old).as_ref().len(),
        a.new,
        (*new).as_ref().len()
    );
    println!(
        "{:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11} {:>11} {:>8} {:>9}",
        "engine",
        "sig/chunk",
        "weak",
        "strong",
        "delta",
        "patch",
        "wall",
        "msgs B",
        "delta B",
        "literal B",
        "copies",
        "peak MiB"
    );
    for &id in &a.engines {
        let r = run(id, &a, &old, &new);
        let s = |p| format!("{:.4}", r.t.secs(p));
        println!(
            "{:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9.4} {:>11} {:>11} {:>11} {:>8} {:>9.1}",
            r.engine.name(),
            s(Phase::Signature),
            s(Phase::Weak),
            s(Phase::Strong),
            s(Phase::Delta),
            s(Phase::Patch),
            r.wall,
            r.msgs,
            r.delta,
            r.literal,
            r.copies,
            r.peak_kib as f64 / 1024.0
        );
        let b = r.t.bytes;
        println!(
            "{:<10} messages: signature {} B, weak {} B, strong {} B",
            "",
            b[MsgKind::Signature as usize],
            b[MsgKind::Weak as usize],
            b[MsgKind::Strong as usize]
        );
    }
}
