//! Directories wider than the parallel look-up threshold (32 names), compared with rsync: the
//! sender stats a directory's names on a thread pool and the receiver stats (and with `-c`
//! hashes) a segment's destination names ahead of deciding them, and neither may change a line
//! of output, an exit code or the resulting tree (issue 13; rsync flist.c `send_directory` /
//! `make_file` and generator.c `recv_generator` do the same work one name at a time).

use crate::util::*;

/// Names per wide directory (well above the threshold, below the batch size).
const WIDE: usize = 120;

/// `src/w`: `WIDE` files of varied sizes and modes, two 3 MiB files (hashed in blocks), symlinks
/// of every kind (to a file, to a directory, dangling, a loop, one leaving the transfer, one
/// excluded by the tests), and four wide subdirectories; `outside/x` is the unsafe link's target.
fn wide_tree(w: &std::path::Path) {
    let mut t = Tree::new(&w.join("src"));
    for i in 0..WIDE {
        let rel = format!("w/f{i:03}");
        t.file(&rel, &pseudo_random(i as u64, i * 37 % 5000));
        if i % 9 == 0 {
            t.mode(&rel, 0o600);
        }
    }
    t.file("w/big1", &pseudo_random(1001, 3 << 20))
        .file("w/big2", &pseudo_random(1002, (3 << 20) + 12345));
    for d in 0..4 {
        for i in 0..(WIDE / 3) {
            t.file(
                format!("w/sub{d}/g{i:03}"),
                &pseudo_random(d * 1000 + i as u64, 64),
            );
        }
    }
    t.symlink("w/l-file", "f001")
        .symlink("w/l-dir", "sub0")
        .symlink("w/dangling", "nowhere")
        .symlink("w/loop", "loop")
        .symlink("w/up", "../../outside/x")
        .symlink("w/excl-dangling", "nowhere2");
    t.finish();
    Tree::new(&w.join("outside"))
        .file("x", b"outside\n")
        .finish();
}

#[test]
fn wide_walk_with_every_symlink_option_matches_rsync() {
    let t = Twin::new(wide_tree);
    let cases: &[(&[&str], i32)] = &[
        (&["-ai", "--stats"], 0),
        // Followed: the loop fails ("readlink_stat(...) failed") and the dangling link has no
        // referent (both exit 23); the excluded dangling link is not reported.
        (&["-ai", "-L", "--exclude=excl-*"], 23),
        (&["-ai", "-k"], 0),
        (&["-aiv", "--copy-unsafe-links"], 0),
        (&["-ai", "-x"], 0),
    ];
    let mut out = Vec::new();
    for (n, (opts, code)) in cases.iter().enumerate() {
        let dst = format!("dst{n}/");
        let mut a = opts.to_vec();
        a.extend_from_slice(&["src/", &dst]);
        let pair = t.same(&a);
        pair.p.expect(*code, &format!("{a:?}"));
        t.assert_trees(&dst, Cmp::ALL);
        out.push(pair.p);
    }
    let l = &out[1].stderr;
    assert!(l.contains("readlink_stat(\"WS/src/w/loop\") failed"), "{l}");
    assert!(
        l.contains("symlink has no referent: \"WS/src/w/dangling\""),
        "{l}"
    );
    assert!(!l.contains("excl-dangling"), "{l}");
    let u = &out[3].stdout;
    assert!(
        u.contains("copying unsafe symlink \"w/up\" -> \"../../outside/x\""),
        "{u}"
    );
    assert_eq!(std::fs::read(t.p.join("dst3/w/up")).unwrap(), b"outside\n");
    // The listing is the walk alone.
    t.same(&["-r", "--list-only", "src/"]);
}

/// A destination that diverged from `src` in wide directories: contents changed behind the same
/// size and time (only `-c` sees them), times, sizes and modes changed, names missing and extra,
/// and two names that share an inode (changing one's mode changes the other's, so the second
/// must be looked at after the first was decided).
fn diverged(w: &std::path::Path) {
    wide_tree(w);
    let (src, dst) = (w.join("src"), w.join("dst"));
    copy_tree(&src, &dst);
    let mut t = Tree::new(&dst);
    let keep = |rel: &str| {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::symlink_metadata(src.join(rel)).unwrap();
        (m.mtime(), m.mtime_nsec() as u32)
    };
    for i in (3..WIDE).step_by(7) {
        let rel = format!("w/f{i:03}");
        let mut data = std::fs::read(src.join(&rel)).unwrap();
        if let Some(b) = data.first_mut() {
            *b ^= 0xff;
        }
        let (s, ns) = keep(&rel);
        t.file(&rel, &data).mtime(&rel, s, ns);
    }
    let mut big = std::fs::read(src.join("w/big2")).unwrap();
    big[2 << 20] ^= 1;
    let (s, ns) = keep("w/big2");
    t.file("w/big2", &big).mtime("w/big2", s, ns);
    t.file("w/f005", b"other size").mode("w/f010", 0o640);
    t.mtime("w/sub1/g004", 1_500_000_000, 0);
    std::fs::remove_file(dst.join("w/f020")).unwrap();
    t.file("w/extra", b"x").file("w/sub2/extra", b"y");
    // f030 and f031: one inode in the destination (mode 0600), same content and time as the
    // sender's files, which are 0644 — the first is changed, the second then is up to date.
    let data = std::fs::read(src.join("w/f030")).unwrap();
    std::fs::write(src.join("w/f031"), &data).unwrap();
    std::fs::remove_file(dst.join("w/f031")).unwrap();
    t.file("w/f030", &data).mode("w/f030", 0o600);
    t.hardlink("w/f031", "w/f030");
    let (s, ns) = keep("w/f030");
    t.mtime("w/f030", s, ns).mtime("w/f031", s, ns);
    Tree::new(&src).mtime("w/f031", s, ns).finish();
    for rel in ["", "w", "w/sub1", "w/sub2"] {
        let (s, ns) = keep(rel);
        t.mtime(rel, s, ns);
    }
    t.finish();
}

#[test]
fn wide_update_and_checksum_match_rsync() {
    for (opts, dry) in [
        (&["-ain", "--delete"][..], true),
        (&["-ai", "--delete"], false),
        (&["-ainc", "--delete"], true),
        (&["-aic", "--delete", "--stats"], false),
    ] {
        let t = Twin::new(diverged);
        let mut a = opts.to_vec();
        a.extend_from_slice(&["src/", "dst/"]);
        let pair = t.same(&a);
        pair.p.expect(0, &format!("{a:?}"));
        let out = &pair.p.stdout;
        // The shared inode: its first name gets the mode, the second is then up to date (a dry
        // run changes nothing, so both are shown).
        assert!(out.contains(".f...p..... w/f030\n"), "{out}");
        assert_eq!(out.contains(".f...p..... w/f031\n"), dry, "{out}");
        if opts.contains(&"-ainc") {
            // -c sees the contents changed behind the same size and time.
            assert!(out.contains(">fc........ w/f003\n"), "{out}");
            assert!(out.contains(">fc........ w/big2\n"), "{out}");
        }
        if !dry {
            t.assert_trees("dst", Cmp::ALL);
            // A second run has nothing to do.
            let again = t.same(&a);
            assert!(!again.p.stdout.contains("w/"), "{}", again.p);
        }
    }
}

/// More files than the receiver keeps requested at once (`MAX_JOBS` = 1024 in
/// session/receiver.rs): the generator stops deciding until data comes and resumes with the
/// segments that waited meanwhile. 3,000 new files (hard links, empty files, some in deep
/// directories) into a destination with extraneous names: the tree, the exit code and the
/// (empty) output equal rsync's, and a second run finds nothing to do.
fn many_new(w: &std::path::Path) {
    let mut t = Tree::new(&w.join("src"));
    for i in 0..3000usize {
        let rel = format!("d{:02}/s{}/f{i:04}", i % 40, i % 3);
        t.file(&rel, &pseudo_random(i as u64, i * 13 % 3000));
        if i % 500 == 7 {
            t.hardlink(format!("d{:02}/link{i}", i % 40), &rel);
        }
    }
    t.finish();
    let mut d = Tree::new(&w.join("dst"));
    d.file("d00/s0/extra", b"x").file("gone/x", b"y").finish();
}

#[test]
fn more_files_than_the_request_window_match_rsync() {
    let t = Twin::new(many_new);
    t.same(&["-aH", "--delete", "src/", "dst/"])
        .p
        .expect(0, "copy");
    t.assert_trees("dst", Cmp::ALL);
    assert_same_tree(&t.p.join("src"), &t.p.join("dst"), Cmp::ALL);
    let again = t.same(&["-aiH", "--delete", "src/", "dst/"]);
    assert_eq!(again.p.stdout, "", "nothing left to do");
}
