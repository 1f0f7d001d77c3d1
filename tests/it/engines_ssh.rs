//! Every delta engine end to end over the real sshd, on the benchmark workloads of
//! `../shared/bench/workloads.py` at a reduced scale: the destination must equal the new tree
//! byte for byte (with mtime and mode), and on `insert` and `shuffle` the bytes sent must stay within
//! 1.10× of what rsync sends for the same pair (issue 5's acceptance rule); on `scatter` at most
//! half.

use crate::util::{bin, copy_tree, run, RSYNC};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const ENGINES: [&str; 6] = [
    "rsync",
    "dsync",
    "skysync-f",
    "skysync-c",
    "parasync",
    "pdsync",
];

fn generator() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/workloads.py")
}

/// `Total bytes sent` of a `--stats` run.
fn sent(stdout: &str) -> u64 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("Total bytes sent: "))
        .map(|v| v.replace(',', "").parse().unwrap())
        .unwrap_or_else(|| panic!("no byte count in\n{stdout}"))
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
    sent(&out.stdout)
}

fn workload(name: &str, scale: &str, bound: Option<f64>) {
    let s = crate::need_sshd!();
    let generator = generator();
    if !generator.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "workload generator missing: {}",
            generator.display()
        );
        eprintln!("skipped: no {}", generator.display());
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let w = t.path();
    let g = run(
        "python3",
        [
            generator.to_str().unwrap(),
            name,
            w.to_str().unwrap(),
            "--scale",
            scale,
        ],
        w,
    );
    g.expect(0, "workloads.py");
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
    workload("insert", "0.08", Some(1.10));
}

#[test]
fn every_engine_syncs_shuffle_within_bytes_of_rsync() {
    workload("shuffle", "0.25", Some(1.10));
}

#[test]
fn every_engine_syncs_scatter_with_fewer_bytes_than_rsync() {
    // Literal refinement (session/refine.rs) keeps the unchanged bytes between nearby edits.
    workload("scatter", "0.08", Some(0.5));
}
