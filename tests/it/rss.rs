//! Peak memory of every delta engine on a large pair (issue 6: ≤ 64 MiB either side for a
//! 100 MiB pair; issue 7: the in-place receiver ≤ 32 MiB + `--inplace-buffer`).
//!
//! Why a real transfer with a separate receiver process: the engines read their inputs through
//! mappings whose touched pages count in the resident set, so an engine pass that does not drop
//! the pages behind it shows up as a peak close to the file size — only measurable per process.
//! The remote shell is a local wrapper (tests/data/rss_rsh.py) that runs the server half (the
//! receiver of a push) as its own process and records its `ru_maxrss`; the client runs under the
//! same wrapper, and its figure also covers its waited-for descendants (the server), so it bounds
//! both sides at once. (Forked straight from this test process, a child would start from the
//! test's own peak, which holds the generated files.) Both figures include the wrapper's
//! ~10 MiB floor.
//!
//! Workloads (generated here): a 1-byte insert at offset 0 of a 100 MiB file (every match
//! shifted, a chain of copies for the in-place planner) and a 64 MiB file whose 1 MiB blocks are
//! permuted with 2 fresh ones (in-place cycles). A file-sized resident set (~100 MiB and ~64 MiB
//! plus the process) fails the receiver bound on both. A third pair shares nothing (100 MiB of
//! random bytes over 100 MiB of other random bytes): every byte is a literal, which the sender
//! must stream from its mapping in pieces — building a file's literal ops, or a literal range's,
//! in one step held the file several times over (~400 MiB).

use crate::fault_kit::{command, run_cmd, BIN};
use crate::util::ENGINES;
use std::path::Path;
use std::time::Duration;

const MIB: usize = 1 << 20;
/// Issue 7: receiver ≤ 32 MiB + the stash (`--inplace-buffer`, default 8 MiB); held in
/// temp-file mode too, where there is no stash at all.
const RECEIVER_KIB: i64 = (32 + 8) << 10;
/// Issue 6: ≤ 64 MiB either side.
const EITHER_KIB: i64 = 64 << 10;

fn random(seed: u64, len: usize) -> Vec<u8> {
    crate::util::pseudo_random(seed, len)
}

/// The 64 MiB shuffle pair: new = old's 1 MiB blocks in a pseudo-random order, 2 of them fresh.
fn shuffle() -> (Vec<u8>, Vec<u8>) {
    let old = random(11, 64 * MIB);
    let mut order: Vec<usize> = (0..64).collect();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for i in (1..order.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    let mut new = Vec::with_capacity(old.len());
    for (k, &b) in order.iter().enumerate() {
        if k % 32 == 7 {
            new.extend_from_slice(&random(100 + k as u64, MIB));
        } else {
            new.extend_from_slice(&old[b * MIB..(b + 1) * MIB]);
        }
    }
    (old, new)
}

struct Run {
    what: String,
    receiver_kib: i64,
    either_kib: i64,
}

/// Push `dir/new` over `dir/old` (a fresh copy in `dir/dst`) with `engine`; peak RSS figures.
fn push(dir: &Path, engine: &str, inplace: bool, want: &blake3::Hash) -> Run {
    let dst = dir.join("dst");
    let _ = std::fs::remove_file(&dst);
    std::fs::copy(dir.join("old"), &dst).unwrap();
    let (rss, client_rss) = (dir.join("server.rss"), dir.join("client.rss"));
    for f in [&rss, &client_rss] {
        let _ = std::fs::remove_file(f);
    }
    let wrapper = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rss_rsh.py");
    let mut args = vec![
        wrapper.to_string(),
        client_rss.display().to_string(),
        "--".into(),
        BIN.into(),
        "-I".into(),
        "--no-whole-file".into(),
        format!("--engine={engine}"),
        "-e".into(),
        format!("python3 {wrapper} {}", rss.display()),
        format!("--rsync-path={BIN}"),
        dir.join("new").display().to_string(),
        format!("h:{}", dst.display()),
    ];
    if inplace {
        args.insert(4, "--inplace".into());
    }
    let out = run_cmd(command("python3", dir, &args), Duration::from_secs(120));
    let what = format!(
        "{} {engine}{}",
        dir.file_name().unwrap().to_string_lossy(),
        if inplace { " --inplace" } else { "" }
    );
    assert_eq!(out.code, 0, "{what}: {}", out.stderr);
    let got = blake3::hash(&std::fs::read(&dst).unwrap());
    assert_eq!(&got, want, "{what}: wrong result");
    let kib = |f: &Path| -> i64 {
        std::fs::read_to_string(f)
            .unwrap_or_else(|e| panic!("{what}: no figure in {}: {e}", f.display()))
            .trim()
            .parse()
            .unwrap()
    };
    Run {
        receiver_kib: kib(&rss),
        either_kib: kib(&client_rss),
        what,
    }
}

#[test]
fn every_engine_keeps_both_sides_bounded_on_large_files_with_and_without_inplace() {
    if !crate::util::installed("python3") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for case in ["insert", "shuffle", "fresh"] {
        let dir = t.path().join(case);
        std::fs::create_dir(&dir).unwrap();
        let (old, new) = match case {
            "insert" => {
                let old = random(7, 100 * MIB);
                let new = [&b"!"[..], &old].concat();
                (old, new)
            }
            "shuffle" => shuffle(),
            _ => (random(5, 100 * MIB), random(6, 100 * MIB)),
        };
        std::fs::write(dir.join("old"), &old).unwrap();
        std::fs::write(dir.join("new"), &new).unwrap();
        let want = blake3::hash(&new);
        drop((old, new));
        for engine in ENGINES {
            for inplace in [false, true] {
                // Nothing matches: in place, the receiver asks for the same literal ranges,
                // which take the same path on the sender; one mode keeps the test short.
                if case != "fresh" || !inplace {
                    runs.push(push(&dir, engine, inplace, &want));
                }
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let table: String = runs
        .iter()
        .map(|r| {
            format!(
                "{:<32} receiver {:>4} MiB, max of both sides {:>4} MiB\n",
                r.what,
                r.receiver_kib >> 10,
                r.either_kib >> 10
            )
        })
        .collect();
    eprint!("{table}");
    let over: Vec<&Run> = runs
        .iter()
        .filter(|r| r.receiver_kib > RECEIVER_KIB || r.either_kib > EITHER_KIB)
        .collect();
    assert!(
        over.is_empty(),
        "peak RSS over the bounds (receiver {} MiB, either side {} MiB):\n{table}",
        RECEIVER_KIB >> 10,
        EITHER_KIB >> 10
    );
}
