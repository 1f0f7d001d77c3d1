//! Local→local transfers compared with rsync on identical inputs: trees, `-v` and `--stats` output
//! (rsync-cli.md §1.3.1 trailing slash, §1.3.2 new names and `--mkpath`, §1.3.4 local mode, §1.3.7
//! deletes, §4.2/§4.3 output).

use crate::util::*;

const VS: &[&str] = &["-v", "--stats"];

fn args<'a>(a: &[&'a str]) -> Vec<&'a str> {
    let mut v = a.to_vec();
    v.extend_from_slice(VS);
    v
}

#[test]
fn archive_without_trailing_slash() {
    let t = Twin::standard();
    t.same(&args(&["-a", "src", "dst"])).r.expect(0, "rsync");
    // dst itself was created by the run (its mtime is "now"); src inside it is a copy.
    t.assert_trees("dst", Cmp::ALL.no_root());
    // Without -H each name of a hard-linked pair becomes its own file.
    assert_same_tree(
        &t.r.join("src"),
        &t.p.join("dst/src"),
        Cmp::ALL.no_hardlinks(),
    );
}

#[test]
fn archive_with_trailing_slash() {
    let t = Twin::standard();
    t.same(&args(&["-a", "src/", "dst"])).r.expect(0, "rsync");
    t.assert_trees("dst", Cmp::ALL);
    assert_same_tree(&t.p.join("src"), &t.p.join("dst"), Cmp::ALL.no_hardlinks());
}

#[test]
fn hard_links_preserved_with_h() {
    let t = Twin::standard();
    t.same(&args(&["-aH", "src/", "dst"]));
    t.assert_trees("dst", Cmp::ALL);
    assert_same_tree(&t.p.join("src"), &t.p.join("dst"), Cmp::ALL);
}

#[test]
fn recursive_only() {
    // No -l: symlinks are skipped with a message; no -t/-p/-o/-g: defaults apply on creation.
    // Where rsync prints the skip messages among the item lines is a race between its generator
    // and its sender, so they are compared as a set.
    let t = Twin::standard();
    let pair = t.run(&args(&["-r", "src/", "dst"]));
    let (rs, rrest) = split_lines(&pair.r.stdout, "skipping non-regular file ");
    let (ps, prest) = split_lines(&pair.p.stdout, "skipping non-regular file ");
    assert_eq!(rs, ps, "{}\n{}", pair.r, pair.p);
    assert_eq!(rs.len(), 5);
    Pair {
        r: Out {
            stdout: rrest,
            ..pair.r.clone()
        },
        p: Out {
            stdout: prest,
            ..pair.p.clone()
        },
    }
    .assert_same("-r");
    t.assert_trees("dst", Cmp::ALL.no_times().no_root());
}

#[test]
fn archive_delete_into_diverged_copy() {
    let t = Twin::new(changed_tree);
    t.same(&args(&["-a", "--delete", "src/", "dst/"]))
        .r
        .expect(0, "rsync");
    t.assert_trees("dst", Cmp::ALL);
    // With -a -c the same-size-same-mtime a.txt differs; rsync -a alone leaves it alone.
    assert_eq!(std::fs::read(t.p.join("dst/a.txt")).unwrap(), b"HELLO\n");
}

#[test]
fn rerun_with_nothing_changed() {
    let t = Twin::standard();
    t.same(&args(&["-a", "src/", "dst"]));
    let again = t.same(&args(&["-a", "src/", "dst"]));
    again.p.expect(0, "second run");
    t.assert_trees("dst", Cmp::ALL);
    let itemized = t.same(&["-ai", "src/", "dst"]);
    assert!(
        itemized.p.stdout.is_empty(),
        "nothing to itemize:\n{}",
        itemized.p
    );
}

#[test]
fn dry_run_changes_nothing() {
    let t = Twin::new(changed_tree);
    let before = snapshot(&t.p.join("dst"));
    t.same(&args(&["-ain", "--delete", "src/", "dst/"]));
    assert_eq!(
        before,
        snapshot(&t.p.join("dst")),
        "dry run modified the destination"
    );
    t.same(&args(&["-an", "src/", "newdst"]));
    assert!(!t.p.join("newdst").exists());
}

#[test]
fn single_file_to_new_name_and_into_dir() {
    let t = Twin::new(|w| {
        standard_tree(&w.join("src"));
        std::fs::create_dir(w.join("into")).unwrap();
    });
    t.same(&args(&["-a", "src/a.txt", "renamed.txt"]));
    assert_same_tree(&t.r.join("renamed.txt"), &t.p.join("renamed.txt"), Cmp::ALL);
    assert_eq!(std::fs::read(t.p.join("renamed.txt")).unwrap(), b"hello\n");
    t.same(&args(&["-a", "src/a.txt", "into"]));
    t.assert_trees("into", Cmp::ALL.no_root());
    t.same(&args(&["-a", "src/empty", "into/"]));
    t.assert_trees("into", Cmp::ALL.no_root());
}

#[test]
fn multiple_sources() {
    let t = Twin::standard();
    t.same(&args(&[
        "-a",
        "src/a.txt",
        "src/sub",
        "src/link",
        "src/emptydir/",
        "dst/",
    ]));
    t.assert_trees("dst", Cmp::ALL.no_root());
    // With --delete, "." (from `dir/`) also holds the other operands: only the stale name goes.
    for w in [&t.r, &t.p] {
        std::fs::write(w.join("dst/stale"), b"x").unwrap();
    }
    // (sub/medium.dat is already in dst from the first run: dedupe may copy it locally.)
    t.run(&args(&["-a", "--delete", "src/a.txt", "src/sub/", "dst/"]))
        .assert_same_by("--delete with operands", mask_delta);
    t.assert_trees("dst", Cmp::ALL.no_root());
    assert!(t.p.join("dst/a.txt").exists() && !t.p.join("dst/stale").exists());
}

#[test]
fn mkpath_creates_missing_components() {
    let t = Twin::standard();
    t.same(&args(&["-a", "--mkpath", "src/", "x/y/z"]));
    t.assert_trees("x/y/z", Cmp::ALL);
    t.same(&args(&["-a", "--mkpath", "src/a.txt", "m/n/"]));
    t.assert_trees("m/n", Cmp::ALL.no_root());
    t.same(&args(&["-a", "--mkpath", "src/a.txt", "q/r/file.txt"]));
    t.assert_trees("q/r", Cmp::ALL.no_root());
    // Without --mkpath a missing parent is an error (exit 3 in rsync).
    t.same(&["-a", "src/", "no/such/parent"]);
}

#[test]
fn quick_check_variants() {
    // Each variant decides differently about the same diverged destination.
    for extra in [
        &["--no-whole-file"][..],
        &["-c"],
        &["--size-only"],
        &["-I"],
        // The checksum, then --size-only, decide before --ignore-times (generator.c).
        &["-c", "-I"],
        &["--size-only", "-I"],
        // Size limits skip before the quick check: exec.sh's mode stays as it is.
        &["--max-size=10"],
        &["--min-size=100k"],
        &["--ignore-existing"],
        &["-u"],
    ] {
        let t = Twin::new(changed_tree);
        let mut a = vec!["-ai", "--stats"];
        a.extend_from_slice(extra);
        a.extend_from_slice(&["src/", "dst/"]);
        let pair = t.run(&a);
        // Delta transfers (--no-whole-file) may match different amounts of data per engine.
        pair.assert_same_by(
            &format!("{a:?}"),
            if extra == ["--no-whole-file"] {
                mask_delta
            } else {
                mask
            },
        );
        t.assert_trees("dst", Cmp::ALL);
    }
}

#[test]
fn large_file_delta_and_whole() {
    // The one 64 MiB file: a fresh copy, then a delta against a basis with a changed middle.
    let t = Twin::new(|w| {
        let data = pseudo_random(64, 64 << 20);
        let mut tr = Tree::new(&w.join("src"));
        tr.file("huge.bin", &data);
        tr.finish();
        let mut old = data;
        old[32 << 20..(32 << 20) + 4096].fill(0);
        let mut tr = Tree::new(&w.join("dst"));
        tr.file("huge.bin", &old)
            .mtime("huge.bin", 1_600_000_000, 0);
        tr.finish();
    });
    let pair = t.run(&args(&["-a", "--no-whole-file", "src/", "dst/"]));
    pair.assert_same_by("delta 64 MiB", mask_delta);
    t.assert_trees("dst", Cmp::ALL);
    assert_same_tree(&t.p.join("src"), &t.p.join("dst"), Cmp::ALL);
    t.same(&args(&["-a", "src/", "fresh"]));
    t.assert_trees("fresh", Cmp::ALL);
}

/// `--old-dirs` is rsync's `-r` with the rule `- /*/*`: the top level and its directories,
/// not their contents; and `-vv` says whether deltas are computed either way.
#[test]
fn old_dirs_and_delta_transmission_lines() {
    for args in [
        &["-ai", "--old-dirs"][..],
        &["-ai", "--old-d", "--delete"],
        &["-avv", "--no-W"],
        &["-avv"],
    ] {
        let t = Twin::new(changed_tree);
        let mut a = args.to_vec();
        a.extend_from_slice(&["src/", "dst/"]);
        // -vv's "is uptodate" notes race with the item lines in rsync itself, and its delta
        // totals are the engine's.
        t.run(&a).assert_same_by(&format!("{a:?}"), |s| {
            mask_sorted(s)
                .lines()
                .filter(|l| !l.starts_with("total: matches="))
                .collect::<Vec<_>>()
                .join("\n")
        });
        t.assert_trees("dst", Cmp::ALL);
    }
}

/// `--modify-window` applies to directories and symlinks as to files (rsync's mtime_differs):
/// 2 s apart is "same" within a 5 s window, and nanoseconds count with `-1`.
#[test]
fn modify_window_covers_dirs_and_links() {
    let setup = |w: &std::path::Path| {
        for (root, s, ns) in [("src", 1_600_000_010, 5), ("dst", 1_600_000_012, 0)] {
            let mut t = Tree::new(&w.join(root));
            t.file("d/a", b"a\n")
                .symlink("l", "d/a")
                .mtime("d/a", 1_600_000_000, 0)
                .mtime("d", s, ns)
                .mtime("l", s, ns)
                .mtime("", 1_600_000_000, 0);
            t.finish();
        }
    };
    for window in [
        "--modify-window=5",
        "--modify-window=-1",
        "--modify-window=0",
    ] {
        let t = Twin::new(setup);
        t.same(&["-ai", window, "src/", "dst/"]);
        t.assert_trees("dst", Cmp::ALL);
    }
}

/// `-S`: the holes are as fine as rsync's (its write_sparse skips zero runs at any offset):
/// islands of data at unaligned offsets take no more blocks than rsync gives them, in a new
/// file and in one rebuilt over a basis (`-I --no-W`: copies and literals).
#[test]
fn sparse_files_get_rsyncs_holes() {
    let t = Twin::new(|w| {
        let mut data = vec![0u8; 3 << 20];
        data[100..5000].fill(7);
        data[1_000_003..1_009_000].fill(8);
        data[(3 << 20) - 10..].fill(9);
        Tree::new(w).file("src/holes", &data).finish();
    });
    let blocks = |ws: &std::path::Path| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(ws.join("dst/holes")).unwrap().blocks()
    };
    for args in [&["-aS"][..], &["-aSI", "--no-W"]] {
        let a: Vec<&str> = args.iter().copied().chain(["src/", "dst/"]).collect();
        t.same(&a).r.expect(0, "rsync");
        t.assert_trees("dst", Cmp::ALL);
        let (r, p) = (blocks(&t.r), blocks(&t.p));
        assert!(p <= r && p < 64, "{args:?}: {p} blocks, rsync {r}");
    }
}

/// `-T DIR`: on another filesystem the finished files are copied over (a rename cannot cross
/// devices; rsync's robust_rename copies) and the result is rsync's; a relative DIR is below
/// the destination; a DIR that does not exist is rsync's usage error, exit 1, before anything
/// is transferred.
#[test]
fn temp_dir_on_another_filesystem_and_missing() {
    use std::os::unix::fs::MetadataExt;
    let t = Twin::new(changed_tree);
    let shm = std::path::Path::new("/dev/shm");
    let dev = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.dev()).ok();
    if dev(shm).is_some() && dev(shm) != dev(&t.p) {
        let other = tempfile::tempdir_in(shm).unwrap();
        let o = other.path().to_str().unwrap();
        for extra in [&[][..], &["--delay-updates"]] {
            let mut a = vec!["-ai", "--delete", "-T", o];
            a.extend_from_slice(extra);
            a.extend(["src/", "dst/"]);
            t.same(&a).r.expect(0, "rsync");
            t.assert_trees("dst", Cmp::ALL.no_root());
            assert_eq!(std::fs::read_dir(other.path()).unwrap().count(), 0);
        }
    } else {
        eprintln!("note: /dev/shm is not another filesystem here; cross-device part skipped");
    }
    for ws in [&t.r, &t.p] {
        std::fs::create_dir(ws.join("dst/.tmp")).unwrap();
    }
    t.same(&["-ai", "-c", "--force", "-T", ".tmp", "src/", "dst/"])
        .r
        .expect(0, "rsync");
    for ws in [&t.r, &t.p] {
        std::fs::remove_dir(ws.join("dst/.tmp")).unwrap();
    }
    t.assert_trees("dst", Cmp::ALL.no_root());
    t.same(&["-ai", "-T", "/nonexistent", "src/", "new/"])
        .r
        .expect(1, "rsync");
}

/// `--backup-dir` on another filesystem: the replaced files, links included, are moved there
/// by a copy that keeps their times and modes (rsync's robust_move), and an older backup of
/// the same name is replaced (where rsync 3.5 keeps an older symlink backup and says so).
#[test]
fn backup_dir_on_another_filesystem() {
    use std::os::unix::fs::MetadataExt;
    let shm = std::path::Path::new("/dev/shm");
    let dev = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.dev()).ok();
    let t = Twin::new(changed_tree);
    if dev(shm).is_none() || dev(shm) == dev(&t.p) {
        eprintln!("note: /dev/shm is not another filesystem here; skipped");
        return;
    }
    let other = tempfile::tempdir_in(shm).unwrap();
    for tool in ["r", "p"] {
        std::fs::create_dir(other.path().join(tool)).unwrap();
    }
    for round in 0..2 {
        let bk = |ws: &str| format!("--backup-dir={}/{ws}", other.path().display());
        let a = ["-ai", "--delete", "src/", "dst/"];
        let pair = t.run_with(&a, &["-b", &bk("r")], &["-b", &bk("p")]);
        pair.r.expect(0, "rsync");
        // rsync 3.5 fails to replace an older backup of a symlink across devices ("File
        // exists", exit 0, the old backup kept); parasync replaces it as it does a file's.
        pair.assert_same_by(&format!("round {round}"), |s| {
            let kept: Vec<&str> = s
                .lines()
                .filter(|l| !l.ends_with("File exists (17)"))
                .collect();
            mask(&kept.join("\n"))
        });
        t.assert_trees("dst", Cmp::ALL.no_root());
        // The backup dirs' own times are their creation times.
        fn settle_dirs(d: &std::path::Path) {
            let t = filetime::FileTime::from_unix_time(1_600_000_000, 0);
            for ent in std::fs::read_dir(d).unwrap() {
                let p = ent.unwrap().path();
                if std::fs::symlink_metadata(&p).unwrap().is_dir() {
                    settle_dirs(&p);
                    filetime::set_file_mtime(&p, t).unwrap();
                }
            }
        }
        let (br, bp) = (other.path().join("r"), other.path().join("p"));
        settle_dirs(&br);
        settle_dirs(&bp);
        assert_same_tree(&br, &bp, Cmp::ALL.no_root());
        // The next round replaces the same names again.
        for ws in [&t.r, &t.p] {
            std::fs::remove_dir_all(ws.join("dst")).unwrap();
            std::fs::remove_dir_all(ws.join("src")).unwrap();
            changed_tree(ws);
        }
    }
}

#[test]
fn update_counts_the_modify_window_as_rsync_does() {
    // generator.c skips under -u when `source mtime - destination mtime < modify_window`: with a
    // window of 2 a copy 1 s older than its source is left alone, with -1 a copy 1 s newer is
    // replaced. Destinations from 3 s older to 3 s newer, each with another mode; a fifo, a
    // directory and a symlink 1 s off keep their times where the window calls them equal (an
    // item only re-moded keeps its mtime, as rsync's set_file_attrs leaves it).
    for window in [None, Some("--modify-window=2"), Some("--modify-window=-1")] {
        for update in [true, false] {
            let t = Twin::new(|w| {
                let (mut s, mut d) = (Tree::new(&w.join("src")), Tree::new(&w.join("dst")));
                for dt in -3i64..=3 {
                    let name = format!("f{dt}");
                    s.file(&name, b"same\n").mtime(&name, 1_700_000_000, 0);
                    d.file(&name, b"same\n")
                        .mode(&name, 0o600)
                        .mtime(&name, 1_700_000_000 + dt, 0);
                }
                s.dir("dd").symlink("l", "t");
                d.dir("dd").mode("dd", 0o700).symlink("l", "t");
                s.finish();
                d.finish();
                for (side, dt) in [("src", 0), ("dst", 1)] {
                    mkfifo(&w.join(side).join("p"), if dt == 0 { 0o644 } else { 0o600 });
                    let t = filetime::FileTime::from_unix_time(1_700_000_000 + dt, 0);
                    for p in ["p", "l", "dd", ""] {
                        filetime::set_symlink_file_times(w.join(side).join(p), t, t).unwrap();
                    }
                }
            });
            let mut a = vec!["-ai"];
            a.extend(update.then_some("-u"));
            a.extend(window);
            a.extend(["src/", "dst/"]);
            let pair = t.run(&a);
            pair.assert_same(&format!("{a:?}"));
            assert!(pair.p.stdout.contains("f-3"), "{a:?}: {}", pair.p.stdout);
            t.assert_trees("dst", Cmp::ALL);
        }
    }
}

#[test]
fn delete_when_options_conflict_as_rsyncs_do() {
    // options.c counts delete_before + !!delete_during + delete_after: --del, --delete-during and
    // --delete-delay set one variable (the last one wins), and repeating one is no conflict.
    for when in [
        &["--del", "--delete-delay"][..],
        &["--delete-delay", "--del"],
        &["--delete-before", "--delete-before"],
        &["--delete-after", "--delete-after"],
        &["--del", "--delete-after"],
        &["--delete-delay", "--delete-before"],
    ] {
        let t = Twin::new(changed_tree);
        let mut a = vec!["-ai"];
        a.extend_from_slice(when);
        a.extend(["src/", "dst/"]);
        t.same(&a);
        t.assert_trees("dst", Cmp::ALL);
    }
}

/// A destination where "." changes mode, a directory stands where a file goes, and there are
/// extraneous files (db-style layout for the incremental-recursion cases).
fn way_made(w: &std::path::Path) {
    let mut s = Tree::new(&w.join("src"));
    s.file("a", b"a\n")
        .file("n", b"n\n")
        .dir("b")
        .mode("b", 0o700);
    s.mode("", 0o700).finish();
    let mut d = Tree::new(&w.join("dst"));
    d.file("n/inside", b"i\n")
        .file("e/f", b"f\n")
        .file("top", b"t\n")
        .dir("b");
    d.finish();
}

#[test]
fn without_incremental_recursion_output_is_rsyncs() {
    // compat.c: no incremental recursion with --no-inc-recursive, --delete-before/after,
    // --delay-updates or -m: "building file list ... done", the top directory's line goes out
    // before the deletion that makes way for a file below it, and -vv says "deleting in" for
    // each operand directory of a before/after pass.
    for extra in [
        &["-v", "--no-inc-recursive"][..],
        &["-v", "--no-i-r", "--del"],
        &["-v", "--inc-recursive"],
        &["-v", "--delay-updates", "--del"],
        &["-v", "--delete-before"],
        &["-v", "--delete-after"],
        &["-vv", "--delete-before"],
        &["-vv", "--delete-after", "src/a"],
        // The sender's "total: matches=…" precedes the after-pass's deletions.
        &["-vv", "--delete-after"],
        &["-vv", "--delete-delay"],
        &["-v", "--delete-before", "-H"],
        &["-v", "--del", "-m"],
    ] {
        let t = Twin::new(way_made);
        let mut a = vec!["-ai"];
        a.extend_from_slice(extra);
        if !a.contains(&"src/a") {
            a.push("src/");
        }
        a.push("dst/");
        t.same(&a);
        // With a file operand the destination directory gets the time of the run.
        let file_op = a.contains(&"src/a");
        t.assert_trees(
            "dst",
            if file_op {
                Cmp::ALL.no_root()
            } else {
                Cmp::ALL
            },
        );
    }
}

/// An operand or `--files-from` line named twice: rsync lists it twice, drops the later copy
/// after sorting (flist.c clean_flist: "removing duplicate name … (N)" at `-vv`, N its index in
/// the sorted list, from 1 with incremental recursion) and counts both in the statistics.
#[test]
fn duplicate_names_are_reported_and_counted_as_rsyncs() {
    for opts in [
        &["-avv", "--files-from=list", "src/"][..],
        &["-a", "--stats", "--files-from=list", "src/"],
        &["-avv", "src/a.txt", "src/a.txt"],
        &["-rvv", "src/sub", "src/sub"],
        &[
            "-a",
            "--debug=DUP",
            "src/a.txt",
            "src/sub",
            "src/a.txt",
            "src/sub",
        ],
        &["-avvq", "src/a.txt", "src/a.txt"],
    ] {
        let t = Twin::new(|w| {
            standard_tree(&w.join("src"));
            std::fs::write(w.join("list"), "a.txt\na.txt\nsub/medium.dat\nsub\n").unwrap();
        });
        let mut a = opts.to_vec();
        a.push("dst/");
        t.same(&a);
        let cmp = Cmp::ALL.no_root();
        t.assert_trees("dst", if a[0] == "-rvv" { cmp.no_times() } else { cmp });
    }
}

#[test]
fn archive_recursion_follows_option_order_as_rsyncs() {
    // options.c: -r sets recurse to 2, --no-r to 0, -a to 1 only when it is 0; --files-from
    // drops the 1 that -a gave. So `--no-r -a` recurses and `-a --no-r` does not.
    for opts in [
        &["-a", "--no-r"][..],
        &["--no-r", "-a"],
        &["-r", "--no-r", "-a"],
        &["-a", "--files-from=list"],
        &["-r", "-a", "--files-from=list"],
        &["--no-r", "-a", "--files-from=list"],
    ] {
        let t = Twin::new(|w| {
            standard_tree(&w.join("src"));
            std::fs::write(w.join("list"), "sub\n").unwrap();
        });
        let mut a = vec!["-i"];
        a.extend_from_slice(opts);
        a.extend(["src/", "dst/"]);
        t.same(&a);
        t.assert_trees("dst", Cmp::ALL.no_root());
    }
}
