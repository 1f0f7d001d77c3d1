//! Dedupe on remote: content already sent in this transfer, or already under the destination, is
//! copied on the receiver instead of sent. Every case checks the resulting tree against the source
//! (and rsync's result where the option set is shared) and the bytes the client sent.

use std::path::Path;
use std::process::Command;

fn rnd(n: usize, seed: u64) -> Vec<u8> {
    crate::util::pseudo_random(seed, n)
}

/// Run parasync; returns (exit code, "Total bytes sent", stdout).
fn run(args: &[&str], cwd: &Path) -> (i32, u64, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_parasync"))
        .args(args)
        .arg("--stats")
        .current_dir(cwd)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let sent = crate::util::bytes_sent(&text).unwrap_or(u64::MAX);
    (out.status.code().unwrap_or(-1), sent, text)
}

fn same_tree(a: &Path, b: &Path) {
    let out = Command::new("diff")
        .arg("-r")
        .arg(a)
        .arg(b)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn duplicates_across_files_are_sent_once() {
    let t = tempfile::tempdir().unwrap();
    let s = t.path().join("src");
    for d in ["a", "b", "c"] {
        std::fs::create_dir_all(s.join(d)).unwrap();
        std::fs::write(s.join(d).join("lib.so"), rnd(1 << 20, 1)).unwrap();
    }
    std::fs::write(s.join("unique"), rnd(100_000, 2)).unwrap();
    let (code, sent, text) = run(&["-a", "src/", "dst/"], t.path());
    assert_eq!(code, 0);
    same_tree(&s, &t.path().join("dst"));
    assert!(sent < (1 << 20) + 200_000, "sent {sent}");
    assert!(
        text.contains(
            "Deduplicated data: 2,097,152 bytes (files: 2,097,152 bytes in 2 files, 0 renamed or moved; chunks: 0 bytes)"
        ),
        "{text}"
    );
    // --no-dedupe: the plain behaviour, everything sent.
    let (code, sent, text) = run(&["-a", "--no-dedupe", "src/", "dst2/"], t.path());
    assert_eq!(code, 0);
    same_tree(&s, &t.path().join("dst2"));
    assert!(sent > 3 << 20, "sent {sent}");
    assert!(!text.contains("Deduplicated"), "{text}");
}

#[test]
fn a_moved_directory_costs_almost_nothing() {
    let t = tempfile::tempdir().unwrap();
    let s = t.path().join("src");
    std::fs::create_dir_all(s.join("old")).unwrap();
    for i in 0..20 {
        std::fs::write(s.join("old").join(format!("f{i}")), rnd(256 << 10, 10 + i)).unwrap();
    }
    let (code, _, _) = run(&["-a", "src/", "dst/"], t.path());
    assert_eq!(code, 0);
    std::fs::rename(s.join("old"), s.join("renamed")).unwrap();
    let (code, sent, text) = run(&["-a", "--delete", "src/", "dst/"], t.path());
    assert_eq!(code, 0, "{text}");
    same_tree(&s, &t.path().join("dst"));
    assert!(!t.path().join("dst/old").exists());
    // 5 MiB moved: well under 1 % of it goes over the wire.
    assert!(sent < 50_000, "sent {sent}");
}

#[test]
fn a_destination_file_changing_during_the_run_never_gives_a_wrong_file() {
    // The candidate is modified while the transfer runs (before or after its digest is taken, the
    // timing is not controlled): whichever way, the whole-file check guards the copy — a stale
    // candidate makes the receiver redo the file without dedupe — and the result is the source.
    let t = tempfile::tempdir().unwrap();
    let s = t.path().join("src");
    std::fs::create_dir_all(&s).unwrap();
    let content = rnd(300_000, 5);
    std::fs::write(s.join("new-name"), &content).unwrap();
    let d = t.path().join("dst");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("old-name"), &content).unwrap();
    // A wrapper as the remote shell changes the candidate while the transfer starts.
    let rsh = t.path().join("rsh");
    std::fs::write(
        &rsh,
        format!(
            "#!/bin/sh\nshift\n(sleep 0.3; printf X | dd of={}/old-name bs=1 seek=1000 conv=notrunc 2>/dev/null) &\nexec sh -c \"$*\"\n",
            d.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&rsh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = env!("CARGO_BIN_EXE_parasync");
    let (code, _, text) = run(
        &[
            "-a",
            "-e",
            rsh.to_str().unwrap(),
            &format!("--rsync-path={bin}"),
            "src/",
            &format!("h:{}/", d.display()),
        ],
        t.path(),
    );
    assert_eq!(code, 0, "{text}");
    assert_eq!(std::fs::read(d.join("new-name")).unwrap(), content);
}

#[test]
fn hard_links_are_kept_with_h() {
    let t = tempfile::tempdir().unwrap();
    let s = t.path().join("src");
    std::fs::create_dir_all(&s).unwrap();
    std::fs::write(s.join("a"), rnd(50_000, 3)).unwrap();
    std::fs::hard_link(s.join("a"), s.join("b")).unwrap();
    std::fs::write(s.join("c"), rnd(50_000, 3)).unwrap();
    let (code, _, _) = run(&["-aH", "src/", "dst/"], t.path());
    assert_eq!(code, 0);
    use std::os::unix::fs::MetadataExt;
    let ino = |n: &str| {
        std::fs::metadata(t.path().join("dst").join(n))
            .unwrap()
            .ino()
    };
    assert_eq!(ino("a"), ino("b"), "-H keeps the link");
    assert_ne!(ino("a"), ino("c"), "dedupe makes copies, not links");
    same_tree(&s, &t.path().join("dst"));
}

/// A file repeating one block (within-file chunks) and a file embedding another file's content
/// at an offset (chunks across files): each piece of content crosses the wire about once.
#[test]
fn repeated_chunks_within_and_across_files_are_sent_once() {
    let t = tempfile::tempdir().unwrap();
    let s = t.path().join("src");
    std::fs::create_dir_all(&s).unwrap();
    let blk = rnd(256 << 10, 20);
    let mut rep = Vec::new();
    for _ in 0..8 {
        rep.extend_from_slice(&blk);
    }
    rep.extend(rnd(10_000, 21));
    std::fs::write(s.join("a-repeats"), &rep).unwrap();
    let lib = rnd(500_000, 22);
    std::fs::write(s.join("b-lib"), &lib).unwrap();
    let mut embed = rnd(3_333, 23);
    embed.extend_from_slice(&lib);
    embed.extend(rnd(7_000, 24));
    std::fs::write(s.join("c-embeds"), &embed).unwrap();
    let (code, sent, text) = run(&["-a", "src/", "dst/"], t.path());
    assert_eq!(code, 0, "{text}");
    same_tree(&s, &t.path().join("dst"));
    // Distinct content: one block + tail, the library, and c's own 10 KB (copies are extended
    // over the chunks straddling the edges of each shared run).
    let distinct = (256 << 10) + 10_000 + 500_000 + 10_333;
    assert!(sent < distinct + 16_384, "sent {sent}\n{text}");
    assert!(text.contains("; chunks: "), "{text}");
    assert!(!text.contains("; chunks: 0 bytes)"), "{text}");
    // --no-dedupe: everything is sent.
    let (code, sent, _) = run(&["-a", "--no-dedupe", "src/", "dst2/"], t.path());
    assert_eq!(code, 0);
    same_tree(&s, &t.path().join("dst2"));
    assert!(
        sent as usize > rep.len() + lib.len() + embed.len(),
        "sent {sent}"
    );
    // Receivers that write out of order or skip zeros get no copies within a file, the rest of
    // the dedupe still applies; every variant rebuilds the tree exactly, into an empty
    // destination and over the previous result (-I: transfer again).
    for (i, extra) in [
        &["--inplace"][..],
        &["--sparse"],
        &["-z"],
        &["--no-whole-file"],
    ]
    .iter()
    .enumerate()
    {
        for _ in 0..2 {
            let dst = format!("v{i}/");
            let mut args = vec!["-a", "-I"];
            args.extend_from_slice(extra);
            args.extend(["src/", &dst]);
            let (code, sent, text) = run(&args, t.path());
            assert_eq!(code, 0, "{extra:?}: {text}");
            same_tree(&s, &t.path().join(&dst));
            assert!(
                sent < (rep.len() + lib.len() + 30_000) as u64,
                "{extra:?}: {sent}"
            );
        }
    }
}

/// A delta-transferred file whose inserted bytes were sent earlier in the run (as another
/// file): the literal gap becomes a copy of that file.
#[test]
fn a_delta_literal_already_sent_is_copied() {
    for engine in ["parasync", "dsync", "rsync"] {
        let t = tempfile::tempdir().unwrap();
        let (s, d) = (t.path().join("src"), t.path().join("dst"));
        std::fs::create_dir_all(&s).unwrap();
        std::fs::create_dir_all(&d).unwrap();
        let insert = rnd(300_000, 30);
        std::fs::write(s.join("a-new"), &insert).unwrap();
        let old = rnd(1 << 20, 31);
        std::fs::write(d.join("b-big"), &old).unwrap();
        let mut new = old[..400_000].to_vec();
        new.extend_from_slice(&insert);
        new.extend_from_slice(&old[400_000..]);
        std::fs::write(s.join("b-big"), &new).unwrap();
        let e = format!("--engine={engine}");
        let (code, sent, text) = run(&["-a", "--no-whole-file", &e, "src/", "dst/"], t.path());
        assert_eq!(code, 0, "{text}");
        same_tree(&s, &d);
        // a-new once (300 KB) plus the delta's bookkeeping; not the insert a second time.
        assert!(sent < 300_000 + 120_000, "{engine}: sent {sent}\n{text}");
    }
}

/// Over SSH, a small tree like the `dupes` benchmark plus shared chunks: the same result as
/// rsync's, and far fewer bytes.
#[test]
fn dupes_over_ssh_match_rsync_with_fewer_bytes() {
    use crate::util::{assert_same_tree, Cmp, Twin};
    let s = crate::need_sshd!();
    let t = Twin::new(|w| {
        let src = w.join("src");
        let distinct: Vec<Vec<u8>> = (0..10).map(|i| rnd(64 << 10, 100 + i)).collect();
        for i in 0..60u64 {
            let dir = src.join(format!("g{:02}", i % 6));
            std::fs::create_dir_all(&dir).unwrap();
            let data = match i % 3 {
                // An exact copy of a shared content.
                0 => distinct[(i % 10) as usize].clone(),
                // A shared content inside unique bytes.
                1 => {
                    let mut v = rnd(2_000, 200 + i);
                    v.extend_from_slice(&distinct[(i % 10) as usize]);
                    v.extend(rnd(1_000, 300 + i));
                    v
                }
                _ => rnd(64 << 10, 400 + i),
            };
            std::fs::write(dir.join(format!("file{i:03}.bin")), data).unwrap();
        }
        std::fs::create_dir_all(w.join("dst")).unwrap();
        // Equal times in both workspaces.
        let t = filetime::FileTime::from_unix_time(1_700_000_000, 0);
        for i in 0..60 {
            let f = src.join(format!("g{:02}/file{i:03}.bin", i % 6));
            filetime::set_file_mtime(f, t).unwrap();
        }
        for g in 0..6 {
            filetime::set_file_mtime(src.join(format!("g{g:02}")), t).unwrap();
        }
        filetime::set_file_mtime(&src, t).unwrap();
    });
    let wrap = s.wrapper.to_str().unwrap();
    let args = ["-a", "--delete", "--stats", "src/", "127.0.0.1:{WS}/dst/"];
    let pair = t.run_with(&args, &["-e", wrap], &["-e", wrap, "--rsync-path={BIN}"]);
    pair.r.expect(0, "rsync");
    pair.p.expect(0, "parasync");
    t.assert_trees("dst", Cmp::ALL);
    let sent = |o: &crate::util::Out| crate::util::bytes_sent(&o.stdout).unwrap();
    let (r, p) = (sent(&pair.r), sent(&pair.p));
    // Distinct content: 10 shared + 20 unique 64 KiB files and 20 × 3 KB of unique edges (copies
    // are extended over the chunks straddling the edges), plus per-file protocol bytes.
    let distinct = 30 * 65_536 + 20 * 3_000;
    assert!(
        p < distinct + 20 * 24_576,
        "parasync sent {p}\n{}",
        pair.p.stdout
    );
    assert!(p * 100 < r * 56, "parasync {p} vs rsync {r}");
    // --no-dedupe: rsync's volume.
    let args = [
        "-a",
        "--no-dedupe",
        "--stats",
        "src/",
        "127.0.0.1:{WS}/dst2/",
    ];
    let pair = t.run_with(&args, &["-e", wrap], &["-e", wrap, "--rsync-path={BIN}"]);
    pair.p.expect(0, "parasync --no-dedupe");
    assert!(sent(&pair.p) * 100 > r * 98, "{} vs {r}", sent(&pair.p));
    assert_same_tree(&t.p.join("src"), &t.p.join("dst2"), Cmp::ALL.no_root());
    // Pull: the remote side is the sender and plans the same way.
    let args = ["-a", "--stats", "127.0.0.1:{WS}/src/", "dst3/"];
    let pair = t.run_with(&args, &["-e", wrap], &["-e", wrap, "--rsync-path={BIN}"]);
    pair.r.expect(0, "rsync pull");
    pair.p.expect(0, "parasync pull");
    t.assert_trees("dst3", Cmp::ALL);
    let got = |o: &crate::util::Out| -> u64 {
        o.stdout
            .lines()
            .find_map(|l| l.strip_prefix("Total bytes received: "))
            .map(|v| v.replace(',', "").parse().unwrap())
            .unwrap()
    };
    assert!(
        got(&pair.p) < distinct + 20 * 8_192,
        "pull: {}",
        got(&pair.p)
    );
    assert!(got(&pair.p) * 100 < got(&pair.r) * 56);
}

/// A chunk source changed on the receiver after it was written (by someone else) and before a
/// later file copies from it: the copy fails verification, the file is sent again as plain data,
/// and the result is the source. The sender is slowed by `--bwlimit` so the change lands first.
#[test]
fn a_chunk_source_changed_underneath_falls_back_to_data() {
    let t = tempfile::tempdir().unwrap();
    let s = t.path().join("src");
    std::fs::create_dir_all(&s).unwrap();
    let shared = rnd(200_000, 40);
    std::fs::write(s.join("a-src"), &shared).unwrap();
    std::fs::write(s.join("b-filler"), rnd(1 << 20, 41)).unwrap();
    let mut c = rnd(5_000, 42);
    c.extend_from_slice(&shared);
    c.extend(rnd(3_000, 43));
    std::fs::write(s.join("c-copier"), &c).unwrap();
    let d = t.path().join("dst");
    std::fs::create_dir_all(&d).unwrap();
    // The remote shell starts a watcher that flips a byte of dst/a-src as soon as it exists.
    let rsh = t.path().join("rsh");
    let a = d.join("a-src");
    std::fs::write(
        &rsh,
        format!(
            "#!/bin/sh\nshift\n(for i in $(seq 1 1000); do if [ -f {a} ]; then printf X | dd of={a} bs=1 seek=100000 conv=notrunc 2>/dev/null; break; fi; sleep 0.005; done) &\nexec sh -c \"$*\"\n",
            a = a.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&rsh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_parasync"))
        .args(["-av", "--bwlimit=4000", "-e"])
        .arg(&rsh)
        .arg(format!("--rsync-path={}", env!("CARGO_BIN_EXE_parasync")))
        .arg("src/")
        .arg(format!("h:{}/", d.display()))
        .current_dir(t.path())
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(code, 0, "{text}");
    assert_eq!(std::fs::read(d.join("c-copier")).unwrap(), c);
    assert_ne!(
        std::fs::read(&a).unwrap(),
        shared,
        "the watcher did not run"
    );
    assert!(text.contains("c-copier failed verification"), "{text}");
}
