//! Every delta engine end to end over the real sshd, on the shapes of the benchmark workloads
//! (`../shared/bench/workloads.py`: insert, scatter, shuffle), built here at a reduced scale so
//! the test needs nothing outside the repository: the destination must equal the new tree
//! byte for byte (with mtime and mode), and on `insert` and `shuffle` the bytes sent must stay within
//! 1.10× of what rsync sends for the same pair (issue 5's acceptance rule); on `scatter` at most
//! half.

use crate::util::{bin, bytes_sent, copy_tree, pseudo_random, run, ENGINES, RSYNC};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

const MIB: usize = 1 << 20;
/// Old and new contents as the workloads define them.
fn build(name: &str) -> (Vec<u8>, Vec<u8>) {
    match name {
        // 8 MiB; new = 640 KiB of fresh bytes inserted at the middle.
        "insert" => {
            let old = pseudo_random(1, 8 * MIB);
            let mut new = old[..4 * MIB].to_vec();
            new.extend(pseudo_random(2, 640 << 10));
            new.extend_from_slice(&old[4 * MIB..]);
            (old, new)
        }
        // 8 MiB; new = 200 edits of 1 KiB spread over the file.
        "scatter" => {
            let old = pseudo_random(3, 8 * MIB);
            let mut new = old.clone();
            let at = pseudo_random(4, 200 * 8);
            for (i, w) in at.chunks_exact(8).enumerate() {
                let p =
                    (u64::from_le_bytes(w.try_into().unwrap()) % (8 * MIB as u64 - 1024)) as usize;
                new[p..p + 1024].copy_from_slice(&pseudo_random(100 + i as u64, 1024));
            }
            (old, new)
        }
        // 16 blocks of 1 MiB moved around, one of them replaced by fresh bytes.
        _ => {
            let blocks: Vec<Vec<u8>> = (0..16).map(|i| pseudo_random(10 + i, MIB)).collect();
            let old = blocks.concat();
            let order = [7, 3, 12, 0, 15, 9, 1, 14, 5, 10, 2, 13, 8, 4, 11, 6];
            let mut new = Vec::with_capacity(old.len());
            for (k, &i) in order.iter().enumerate() {
                if k == 9 {
                    new.extend(pseudo_random(99, MIB));
                } else {
                    new.extend_from_slice(&blocks[i]);
                }
            }
            (old, new)
        }
    }
}

/// Push `new/` over `old` (a fresh copy per run) with `tool` and its extra arguments; returns the
/// bytes sent after checking the result equals `new`.
fn push(w: &Path, tag: &str, tool: &Path, extra: &[&str], wrap: &str) -> u64 {
    let dst = w.join(format!("dst-{tag}"));
    copy_tree(&w.join("old"), &dst);
    let mut args: Vec<String> = vec!["-e".into(), wrap.into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(
        [
            "-a",
            "--stats",
            "new/",
            &format!("127.0.0.1:{}/", dst.display()),
        ]
        .map(String::from),
    );
    let out = run(tool, &args, w);
    out.expect(0, tag);
    // Files only: the top directory's own mtime depends on when the temp file was renamed into
    // it (rsync leaves it so too).
    for f in std::fs::read_dir(w.join("new")).unwrap() {
        let f = f.unwrap();
        let (a, b) = (f.path(), dst.join(f.file_name()));
        assert!(
            std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
            "{tag}: {b:?} differs"
        );
        let (ma, mb) = (a.metadata().unwrap(), b.metadata().unwrap());
        assert_eq!(ma.mtime(), mb.mtime(), "{tag}: mtime of {b:?}");
        assert_eq!(ma.mode(), mb.mode(), "{tag}: mode of {b:?}");
    }
    std::fs::remove_dir_all(&dst).unwrap();
    bytes_sent(&out.stdout).unwrap_or_else(|| panic!("no byte count in\n{}", out.stdout))
}

fn workload(name: &str, bound: Option<f64>) {
    let s = crate::need_sshd!();
    let t = tempfile::tempdir().unwrap();
    let w = t.path();
    let (old, new) = build(name);
    for (dir, data, secs) in [("old", &old, 1_700_000_000), ("new", &new, 1_700_003_600)] {
        let f = w.join(dir).join("data.bin");
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, data).unwrap();
        filetime::set_file_mtime(&f, filetime::FileTime::from_unix_time(secs, 0)).unwrap();
    }
    let wrap = s.wrapper.to_str().unwrap();
    let rsync = push(w, "rsync", Path::new(RSYNC), &[], wrap);
    let path = format!("--rsync-path={}", bin().display());
    let mut report = format!("{name}: rsync {rsync}");
    for e in ENGINES {
        let engine = format!("--engine={e}");
        let p = push(w, e, &bin(), &[&path, &engine], wrap);
        report += &format!(", {e} {p} ({:.3}×)", p as f64 / rsync as f64);
        if let Some(b) = bound {
            assert!(
                (p as f64) <= rsync as f64 * b,
                "{e} sent {p} bytes, rsync {rsync} (bound {b}×)"
            );
        }
    }
    eprintln!("{report}");
}

#[test]
fn every_engine_syncs_insert_within_bytes_of_rsync() {
    workload("insert", Some(1.10));
}

#[test]
fn every_engine_syncs_shuffle_within_bytes_of_rsync() {
    workload("shuffle", Some(1.10));
}

#[test]
fn every_engine_syncs_scatter_with_fewer_bytes_than_rsync() {
    // Literal refinement (session/refine.rs) keeps the unchanged bytes between nearby edits.
    workload("scatter", Some(0.5));
}
