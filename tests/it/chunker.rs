//! Chunkers and CDC engines: golden boundaries, parallel == serial, round trips, edit cost,
//! hostile messages.

use parasync::engine::cdc::crc32;
use parasync::engine::chunker::parallel::{Chunk, Parallel};
use parasync::engine::chunker::{self, Config};
use parasync::engine::parasync::Pipeline;
use parasync::engine::{self, EngineId, EngineParams, Op, Shared};
use proptest::prelude::*;
use std::sync::Arc;

fn xorshift(n: usize, mut x: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(n);
    v
}

/// Golden input: 768 KiB random, 200 KiB of zeros, 256 KiB random.
fn golden_input() -> Vec<u8> {
    let mut v = xorshift(768 << 10, 0x5eed);
    v.extend(std::iter::repeat_n(0u8, 200 << 10));
    v.extend(xorshift(256 << 10, 0xfeed));
    v
}

#[test]
fn golden_boundaries() {
    let data = golden_input();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for (name, cfg) in Config::PRESETS {
        let text: String = chunker::chunk(&cfg, &data)
            .iter()
            .map(|c| format!("{} {} {:016x}\n", c.off, c.len, c.fastfp))
            .collect();
        let path = dir.join(format!("chunks-{name}.txt"));
        if std::env::var_os("PARASYNC_BLESS").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert!(
            want == text,
            "chunk boundaries of {name} changed (PARASYNC_BLESS=1 rewrites)"
        );
    }
}

#[test]
fn zero_run_is_cut_at_max() {
    let data: Shared = Arc::new(vec![0u8; 1 << 20]);
    for (name, cfg) in Config::PRESETS {
        let cuts = chunker::chunk(&cfg, (*data).as_ref());
        assert!(
            cuts.iter().rev().skip(1).all(|c| c.len as usize == cfg.max),
            "{name}"
        );
        assert_eq!(cuts.len(), (1usize << 20).div_ceil(cfg.max), "{name}");
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let par = parasync::engine::chunker::parallel::chunk_all(Config::PARASYNC, data, 2, &pool);
    assert!(par
        .iter()
        .rev()
        .skip(1)
        .all(|c| c.len as usize == Config::PARASYNC.max));
}

fn serial_with_crc(cfg: &Config, data: &[u8]) -> Vec<Chunk> {
    chunker::chunk(cfg, data)
        .iter()
        .map(|c| Chunk {
            off: c.off,
            len: c.len,
            crc: crc32(&data[c.off as usize..(c.off + c.len as u64) as usize]),
        })
        .collect()
}

fn parallel(cfg: Config, data: Shared, threads: usize, segment: usize) -> Vec<Chunk> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let mut p = Parallel::new(cfg, data, threads).with_segment(segment);
    let mut out = Vec::new();
    while let Some(v) = p.next_region(&pool) {
        out.extend(v);
    }
    out
}

/// Random bytes with optional long zero runs (which exercise forced max cuts inside pieces).
fn data_strategy() -> impl Strategy<Value = Vec<u8>> {
    (
        0usize..400_000,
        any::<u64>(),
        prop::collection::vec((0usize..400_000, 1usize..200_000), 0..3),
    )
        .prop_map(|(n, seed, zeros)| {
            let mut v = xorshift(n, seed | 1);
            for (at, len) in zeros {
                let at = at.min(v.len());
                let end = (at + len).min(v.len());
                v[at..end].fill(0);
            }
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn parallel_equals_serial(data in data_strategy(), threads in 1usize..=16, seg in 1usize..70_000,
                              normalized in any::<bool>()) {
        let cfg = if normalized {
            Config { bits_before: 15, bits_after: 11, normal: 8192, ..Config::PARASYNC }
        } else {
            Config::PARASYNC
        };
        let want = serial_with_crc(&cfg, &data);
        let got = parallel(cfg, Arc::new(data), threads, seg);
        prop_assert_eq!(got, want);
    }
}

// ---- engines ----

const ENGINES: [EngineId; 4] = [
    EngineId::Dsync,
    EngineId::SkysyncC,
    EngineId::Pdsync,
    EngineId::Parasync,
];

fn params(threads: usize, pipeline: Pipeline, hw: Option<bool>) -> EngineParams {
    EngineParams {
        threads,
        pipeline,
        hw,
        ..Default::default()
    }
}

/// Run an engine locally and check the ops rebuild `new`; returns (literal bytes, wire bytes).
fn round_trip(id: EngineId, p: &EngineParams, old: &[u8], new: &[u8]) -> (u64, u64) {
    let (ops, wire) = engine::run_local(id, p, Arc::new(old.to_vec()), Arc::new(new.to_vec()))
        .unwrap_or_else(|e| panic!("{id:?}: {e}"));
    // Ops tile the new file exactly once.
    let mut spans: Vec<(u64, u64)> = ops.iter().map(|o| (o.dst(), o.len())).collect();
    spans.sort_unstable();
    let mut at = 0;
    for (d, l) in spans {
        assert_eq!(d, at, "{id:?}: ops do not tile the file");
        at += l;
    }
    assert_eq!(at, new.len() as u64, "{id:?}");
    for op in &ops {
        if let Op::Literal { data, .. } = op {
            assert!(
                data.len() <= 32 * 1024 && !data.is_empty(),
                "{id:?}: literal piece size"
            );
        }
    }
    let out = engine::apply_ops(old, &ops, new.len() as u64).unwrap();
    assert!(out == new, "{id:?} rebuilt a different file");
    let lit = ops
        .iter()
        .map(|o| match o {
            Op::Literal { data, .. } => data.len() as u64,
            _ => 0,
        })
        .sum();
    (lit, wire)
}

#[derive(Clone, Debug)]
enum Edit {
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Replace(usize, Vec<u8>),
    Move(usize, usize, usize),
}

fn apply_edit(v: &mut Vec<u8>, e: &Edit) {
    let n = v.len();
    match e {
        Edit::Insert(at, b) => {
            v.splice(at % (n + 1)..at % (n + 1), b.iter().copied());
        }
        Edit::Delete(at, len) if n > 0 => {
            let a = at % n;
            v.drain(a..(a + len).min(n));
        }
        Edit::Replace(at, b) if n > 0 => {
            let a = at % n;
            let e = (a + b.len()).min(n);
            v[a..e].copy_from_slice(&b[..e - a]);
        }
        Edit::Move(from, len, to) if n > 0 => {
            let a = from % n;
            let piece: Vec<u8> = v.drain(a..(a + len).min(n)).collect();
            let t = to % (v.len() + 1);
            v.splice(t..t, piece);
        }
        _ => {}
    }
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    let bytes = prop::collection::vec(any::<u8>(), 1..20_000);
    prop_oneof![
        (any::<usize>(), bytes.clone()).prop_map(|(a, b)| Edit::Insert(a, b)),
        (any::<usize>(), 1usize..30_000).prop_map(|(a, l)| Edit::Delete(a, l)),
        (any::<usize>(), bytes).prop_map(|(a, b)| Edit::Replace(a, b)),
        (any::<usize>(), 1usize..50_000, any::<usize>()).prop_map(|(a, l, t)| Edit::Move(a, l, t)),
    ]
}

fn pipeline_strategy() -> impl Strategy<Value = Pipeline> {
    prop_oneof![
        Just(Pipeline::Stream),
        Just(Pipeline::Batch),
        Just(Pipeline::V3),
        Just(Pipeline::Graph)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn engines_round_trip(old in data_strategy(), edits in prop::collection::vec(edit_strategy(), 0..6),
                          threads in 1usize..4, pipeline in pipeline_strategy(), hw in proptest::option::of(any::<bool>())) {
        let mut new = old.clone();
        for e in &edits {
            apply_edit(&mut new, e);
        }
        for id in ENGINES {
            round_trip(id, &params(threads, pipeline, hw), &old, &new);
        }
    }

    #[test]
    fn hostile_messages_are_errors(junk in prop::collection::vec(any::<u8>(), 0..200)) {
        let data: Shared = Arc::new(xorshift(50_000, 7));
        for id in ENGINES {
            let p = params(1, Pipeline::Stream, None);
            let mut r = engine::receiver_half(id, &p, data.clone());
            r.start().unwrap();
            while let Ok(Some(_)) = r.poll() {}
            let _ = r.handle(&junk);
            let mut s = engine::sender_half(id, &p, data.clone());
            s.start().unwrap();
            let _ = s.handle(&junk);
        }
    }
}

#[test]
fn empty_and_one_byte_files() {
    let cases: [(&[u8], &[u8]); 5] = [
        (b"", b""),
        (b"", b"x"),
        (b"x", b""),
        (b"x", b"x"),
        (b"x", b"y"),
    ];
    for id in ENGINES {
        for (old, new) in cases {
            round_trip(id, &params(2, Pipeline::Stream, None), old, new);
        }
    }
}

#[test]
fn small_edit_of_2mib_costs_few_literal_bytes() {
    let old = xorshift(2 << 20, 99);
    let mut new = old.clone();
    new[1_000_000..1_000_100].fill(0xab);
    new.splice(1_500_000..1_500_000, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for id in ENGINES {
        for threads in [1, 2] {
            let (lit, wire) = round_trip(id, &params(threads, Pipeline::Stream, None), &old, &new);
            assert!(lit <= 160 << 10, "{id:?}: {lit} literal bytes");
            assert!(wire <= 24 << 10, "{id:?}: {wire} wire bytes");
        }
    }
}

#[test]
fn identical_files_are_one_copy_for_parasync() {
    let data = xorshift(3 << 20, 5);
    let p = params(2, Pipeline::Stream, None);
    let (ops, _) = engine::run_local(
        EngineId::Parasync,
        &p,
        Arc::new(data.clone()),
        Arc::new(data.clone()),
    )
    .unwrap();
    assert_eq!(
        ops,
        vec![Op::Copy {
            dst: 0,
            src: 0,
            len: data.len() as u64
        }]
    );
}

/// Timing of the CDC engines on a workload pair (release build):
/// `python3 shared/bench/workloads.py insert /tmp/w && PARASYNC_BENCH_DIR=/tmp/w \
///  cargo test --release --test it chunker::timing -- --ignored --nocapture`
/// User + system CPU seconds of this process (all threads).
fn cpu_seconds() -> f64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

#[test]
#[ignore]
fn timing() {
    let dir =
        std::path::PathBuf::from(std::env::var("PARASYNC_BENCH_DIR").expect("PARASYNC_BENCH_DIR"));
    let map = |p: &str| -> Shared {
        let f = std::fs::File::open(dir.join(p)).unwrap();
        Arc::new(unsafe { memmap2::Mmap::map(&f) }.unwrap())
    };
    let (old, new) = (map("old/data.bin"), map("new/data.bin"));
    let runs = [
        (EngineId::Dsync, 1),
        (EngineId::SkysyncC, 1),
        (EngineId::Pdsync, 1),
        (EngineId::Pdsync, 2),
        (EngineId::Parasync, 1),
        (EngineId::Parasync, 2),
    ];
    let runs = runs
        .iter()
        .map(|&(id, t)| (id, t, Pipeline::Stream))
        .chain([
            (EngineId::Parasync, 2, Pipeline::Batch),
            (EngineId::Parasync, 2, Pipeline::V3),
        ]);
    for (id, threads, pipeline) in runs {
        let p = params(threads, pipeline, None);
        let (t, c) = (std::time::Instant::now(), cpu_seconds());
        let (ops, wire) = engine::run_local(id, &p, old.clone(), new.clone()).unwrap();
        let (secs, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c);
        let lit: usize = ops
            .iter()
            .map(|o| {
                if let Op::Literal { data, .. } = o {
                    data.len()
                } else {
                    0
                }
            })
            .sum();
        println!(
            "{:<10} threads {threads} {pipeline:?}: {secs:.3} s (cpu {cpu:.3} s), wire {wire} B, literal {lit} B, {} ops",
            id.name(),
            ops.len()
        );
    }
    for threads in [1, 2] {
        let cfg = Config::PARASYNC;
        let t = std::time::Instant::now();
        let n = parallel(
            cfg,
            old.clone(),
            threads,
            parasync::engine::chunker::parallel::SEGMENT,
        )
        .len();
        println!(
            "parallel chunking + CRC, threads {threads}: {:.3} s ({n} chunks)",
            t.elapsed().as_secs_f64()
        );
    }
    let t = std::time::Instant::now();
    let n = chunker::chunk(&Config::PARASYNC, (*old).as_ref()).len();
    println!(
        "serial chunking (no CRC): {:.3} s ({n} chunks)",
        t.elapsed().as_secs_f64()
    );
}

#[test]
fn zero_runs_keep_copies_contiguous() {
    let mut old = xorshift(1 << 20, 11);
    old.extend(std::iter::repeat_n(0u8, 4 << 20));
    old.extend(xorshift(1 << 20, 12));
    let mut new = old.clone();
    new.splice(500_000..500_000, xorshift(1000, 13));
    for id in ENGINES {
        let (lit, _) = round_trip(id, &params(2, Pipeline::Stream, None), &old, &new);
        assert!(lit <= 160 << 10, "{id:?}: {lit}");
    }
    let (ops, _) = engine::run_local(
        EngineId::Parasync,
        &params(2, Pipeline::Stream, None),
        Arc::new(old.clone()),
        Arc::new(new.clone()),
    )
    .unwrap();
    let copies = ops.iter().filter(|o| matches!(o, Op::Copy { .. })).count();
    assert!(
        copies <= 3,
        "locality should keep the zero run one copy: {copies} copies"
    );
}

/// Batches of the stream mode for `n` chunks: FIRST_BATCH, then doubling up to STREAM_BATCH.
fn stream_batches(mut n: usize) -> usize {
    use parasync::engine::parasync::{FIRST_BATCH, STREAM_BATCH};
    let (mut b, mut count) = (FIRST_BATCH, 0);
    while n > 0 {
        n -= n.min(b);
        b = (2 * b).min(STREAM_BATCH);
        count += 1;
    }
    count
}

/// The receiver streams weak messages of 256 chunks, then doubling up to 1024 (plus the end
/// marker); the `batch` pipeline holds everything back for one message.
#[test]
fn parasync_receiver_streams_batches() {
    let data: Shared = Arc::new(xorshift(56 << 20, 21));
    let chunks = chunker::chunk(&Config::PARASYNC, (*data).as_ref()).len();
    assert!(
        chunks > parasync::engine::parasync::BATCH,
        "{chunks} chunks"
    );
    for (pipeline, want) in [
        (Pipeline::Stream, stream_batches(chunks) + 1),
        (Pipeline::Batch, 2),
    ] {
        let mut r =
            engine::receiver_half(EngineId::Parasync, &params(2, pipeline, None), data.clone());
        let mut msgs = r.start().unwrap().msgs.len();
        while let Some(st) = r.poll().unwrap() {
            msgs += st.msgs.len();
        }
        assert_eq!(msgs, want, "{pipeline:?}");
    }
}
