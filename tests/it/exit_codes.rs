//! Exit codes and their messages, compared with rsync (rsync-cli.md §1.3.13, §1.3.14, §4.9):
//! usage errors are 1 with rsync's message shape, a missing source or an unreadable file is 23
//! with everything else still transferred, a destination whose parent is missing is 11 (mkdir fails).

use crate::util::*;
use std::path::Path;

#[test]
fn usage_errors_are_1() {
    let t = Twin::standard();
    for args in [
        &["--bogus", "src/", "dst"][..],
        &["-a", "--no-such-option=3", "src/", "dst"],
        &["--delete", "src/", "dst"],
        &["-a", "--delete-before", "--delete-after", "src/", "dst"],
        &["-a", "--inplace", "--partial-dir=p", "src/", "dst"],
        &["-a", "--append", "--whole-file", "src/", "dst"],
        &["-a", "--suffix=a/b", "-b", "src/", "dst"],
        &["-a", "--max-size=12Q", "src/", "dst"],
        &["-a", "--block-size"],
        &["-a", "-e", "ssh \"unterminated", "src/", "127.0.0.1:dst"],
        &["-a", "host1:src/", "host2:dst"],
    ] {
        let pair = t.run(args);
        pair.r.expect(1, &format!("rsync {args:?}"));
        pair.assert_same(&format!("{args:?}"));
        assert!(
            !t.p.join("dst").exists(),
            "{args:?} must not transfer anything"
        );
    }
}

#[test]
fn no_arguments_is_1() {
    let t = Twin::standard();
    let pair = t.run(&[]);
    assert_eq!((pair.r.code, pair.p.code), (1, 1), "{}\n{}", pair.r, pair.p);
}

#[test]
fn missing_source_is_23_and_the_rest_is_copied() {
    let t = Twin::standard();
    t.same(&["-a", "nosuch", "dst/"]).r.expect(23, "rsync");
    let pair = t.same(&["-av", "src/a.txt", "nosuch", "src/sub", "dst2/"]);
    pair.p.expect(23, "partial");
    t.assert_trees("dst2", Cmp::ALL.no_root());
    assert!(t.p.join("dst2/sub/deep/c.txt").exists());
}

#[test]
fn missing_destination_parent_is_11() {
    let t = Twin::standard();
    t.same(&["-a", "src/", "no/such/dir/dst"])
        .r
        .expect(11, "rsync");
}

#[test]
fn unreadable_file_is_23_and_the_rest_is_copied() {
    let Some(unprivileged) = unprivileged() else {
        return;
    };
    let t = Twin::new(|w| {
        let mut tr = Tree::new(&w.join("src"));
        tr.file("a.txt", b"a\n")
            .file("secret", b"s\n")
            .mode("secret", 0o000)
            .file("z/zz", b"z\n")
            .dir("closed");
        tr.finish();
        std::fs::set_permissions(
            w.join("src/closed"),
            std::os::unix::fs::PermissionsExt::from_mode(0o000),
        )
        .unwrap();
        std::fs::create_dir(w.join("dst")).unwrap();
        if is_root() {
            std::os::unix::fs::chown(w.join("dst"), Some(65534), Some(65534)).unwrap();
        }
    });
    let pair = t.run_under(unprivileged, &["-rtv", "src/", "dst/"], &[], &[]);
    pair.r.expect(23, "rsync");
    pair.assert_same("unreadable");
    assert_eq!(std::fs::read(t.p.join("dst/z/zz")).unwrap(), b"z\n");
    assert_eq!(std::fs::read(t.p.join("dst/a.txt")).unwrap(), b"a\n");
    assert!(!t.p.join("dst/secret").exists());
}

#[test]
fn unreadable_file_with_a_basis_is_23_not_a_protocol_error() {
    // The receiver starts the delta engine on its basis before the sender's open fails: the
    // engine messages in flight are dropped, as rsync's sender skips the file.
    let Some(unprivileged) = unprivileged() else {
        return;
    };
    let t = Twin::new(|w| {
        let data = crate::util::pseudo_random(5, 300_000);
        let mut tr = Tree::new(&w.join("src"));
        tr.file("a.txt", b"a\n").file("secret", &data);
        tr.finish();
        let mut tr = Tree::new(&w.join("dst"));
        tr.file("secret", &data[..200_000]);
        tr.finish();
        std::fs::set_permissions(
            w.join("src/secret"),
            std::os::unix::fs::PermissionsExt::from_mode(0o000),
        )
        .unwrap();
        if is_root() {
            for p in ["dst", "dst/secret"] {
                std::os::unix::fs::chown(w.join(p), Some(65534), Some(65534)).unwrap();
            }
        }
    });
    let pair = t.run_under(
        unprivileged,
        &["-rtv", "--no-whole-file", "src/", "dst/"],
        &[],
        &[],
    );
    pair.r.expect(23, "rsync");
    pair.assert_same("unreadable with basis");
    assert_eq!(std::fs::read(t.p.join("dst/a.txt")).unwrap(), b"a\n");
}

#[test]
fn unwritable_destination_file_is_23() {
    // A file whose destination path is occupied by a non-empty directory cannot be replaced without
    // --delete/--force: rsync reports it and exits 23 after transferring the rest.
    let t = Twin::new(|w| {
        let mut tr = Tree::new(&w.join("src"));
        tr.file("a.txt", b"a\n").file("blocked", b"b\n");
        tr.finish();
        let mut tr = Tree::new(&w.join("dst"));
        tr.file("blocked/keep", b"k\n");
        tr.finish();
    });
    let pair = t.same(&["-av", "src/", "dst/"]);
    pair.r.expect(23, "rsync");
    assert_eq!(std::fs::read(t.p.join("dst/a.txt")).unwrap(), b"a\n");
}

/// rsync's temp names end in six random characters; masked so the lines compare.
fn mask_temp_names(s: &str) -> String {
    s.split_inclusive('\n')
        .map(|l| match (l.find("mkstemp \""), l.find("\" failed")) {
            (Some(_), Some(end)) if end >= 6 => format!("{}XXXXXX{}", &l[..end - 6], &l[end..]),
            _ => l.to_string(),
        })
        .collect()
}

/// Set or clear the immutable flag (even root cannot create files in an immutable directory);
/// false where the file system has no such flag.
fn immutable(dir: &Path, on: bool) -> bool {
    std::process::Command::new("chattr")
        .arg(if on { "+i" } else { "-i" })
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success())
}

/// A temp file that cannot be created is rsync's "mkstemp … failed" for that file, exit 23, and
/// everything else transferred. Both ways parasync creates temp files are covered: at the
/// request (`0/`, early in the list) and when the data comes (`z/`, requested while more than
/// the receiver's first 256 files wait for their data).
#[test]
fn uncreatable_temp_files_are_23_with_rsyncs_message() {
    let t = Twin::new(|w| {
        let mut tree = Tree::new(&w.join("src"));
        tree.file("0/h", b"early\n");
        for i in 0..300 {
            tree.file(format!("a/f{i:03}"), format!("{i}\n").as_bytes());
        }
        tree.file("z/g1", b"one\n")
            .file("z/g2", b"two\n")
            .file("z/empty", b"");
        tree.finish();
        // The locked directories exist with the source's times: nothing to set on them.
        for d in ["0", "z"] {
            std::fs::create_dir_all(w.join("dst").join(d)).unwrap();
            let m = std::fs::metadata(w.join("src").join(d)).unwrap();
            let t = filetime::FileTime::from_last_modification_time(&m);
            filetime::set_file_mtime(w.join("dst").join(d), t).unwrap();
        }
    });
    let locked: Vec<_> = [&t.r, &t.p]
        .iter()
        .flat_map(|ws| ["0", "z"].map(|d| ws.join("dst").join(d)))
        .collect();
    if !locked.iter().all(|d| immutable(d, true)) {
        locked.iter().for_each(|d| {
            immutable(d, false);
        });
        // A file system without the flag, or a container without CAP_LINUX_IMMUTABLE.
        eprintln!("skipped: no immutable directories here");
        return;
    }
    let pair = t.run(&["-a", "src/", "dst/"]);
    locked.iter().for_each(|d| {
        immutable(d, false);
    });
    pair.assert_same_by("mkstemp", |s| crate::mask::mask(&mask_temp_names(s)));
    pair.p.expect(23, "parasync");
    assert_eq!(pair.p.stderr.matches("mkstemp").count(), 4, "{}", pair.p);
    t.assert_trees("dst", Cmp::ALL);
    assert!(std::fs::read_dir(t.p.join("dst/z"))
        .unwrap()
        .next()
        .is_none());
}

/// `src` with a directory nobody can read, `closed`, and a `dst` whose copy of it and an
/// extraneous top-level file a `--delete` would remove.
fn closed_dir_tree(w: &Path) {
    let mut tr = Tree::new(&w.join("src"));
    tr.file("a.txt", b"a\n").file("closed/c", b"c\n").dir("z");
    tr.finish();
    let mut tr = Tree::new(&w.join("dst"));
    tr.file("closed/c", b"keep\n")
        .file("closed/other", b"keep\n")
        .file("extra_top", b"x\n");
    tr.finish();
    std::fs::set_permissions(
        w.join("src/closed"),
        std::os::unix::fs::PermissionsExt::from_mode(0o000),
    )
    .unwrap();
}

/// A source directory the sender cannot read lists as empty: `--delete` must not take that as
/// "delete everything in it". rsync's sender flags the I/O error with the list, and its receiver
/// deletes nothing from then on ("IO error encountered -- skipping file deletion") unless
/// `--ignore-errors`; deletions made before the error stand. Every --delete timing, against
/// rsync, with the destination files checked directly.
#[test]
fn unreadable_source_directory_stops_deletions() {
    let Some(unprivileged) = unprivileged() else {
        return;
    };
    let setup = |w: &Path| {
        closed_dir_tree(w);
        if is_root() {
            for p in [
                "dst",
                "dst/closed",
                "dst/closed/c",
                "dst/closed/other",
                "dst/extra_top",
            ] {
                std::os::unix::fs::chown(w.join(p), Some(65534), Some(65534)).unwrap();
            }
        }
    };
    for when in [
        "--delete",
        "--delete-before",
        "--delete-after",
        "--delete-delay",
    ] {
        for ignore in [false, true] {
            let t = Twin::new(setup);
            let mut a = vec!["-rtv", when];
            if ignore {
                a.push("--ignore-errors");
            }
            a.extend_from_slice(&["src/", "dst/"]);
            let pair = t.run_under(unprivileged, &a, &[], &[]);
            pair.r.expect(23, "rsync");
            pair.assert_same_by(&format!("{a:?}"), mask_sorted);
            t.assert_trees("dst", Cmp::ALL.no_root().no_times());
            let kept = t.p.join("dst/closed/other").exists();
            assert_eq!(kept, !ignore, "{a:?}: the unreadable directory's copy");
        }
    }
}

/// The same over ssh, pulling from a sender that runs as nobody: the guard crosses the wire
/// (`Msg::IoError`) before the unreadable directory's empty listing.
#[test]
fn unreadable_remote_source_directory_stops_deletions() {
    let s = crate::need_sshd!();
    if !is_root() || !Path::new("/usr/bin/setpriv").exists() {
        return;
    }
    let w = s.wrapper.to_str().unwrap();
    for when in ["--delete", "--delete-delay", "--delete-after"] {
        let t = Twin::new(closed_dir_tree);
        let [from, to] = push_pull(false);
        let a = ["-rtv", when, from, to];
        let (rp, pp) = (as_nobody(Path::new("rsync")), as_nobody(&bin()));
        let pair = t.run_with(&a, &["-e", w, &rp], &["-e", w, &pp]);
        pair.r.expect(23, "rsync");
        pair.assert_same_by(&format!("{a:?}"), mask_sorted);
        t.assert_trees("dst", Cmp::ALL.no_root().no_times());
        assert!(t.p.join("dst/closed/other").exists(), "{a:?}");
    }
}

/// A destination that exists but is no directory, when more than one item (or a directory's
/// contents) goes there: rsync's two messages, exit 3, nothing touched.
#[test]
fn destination_that_is_a_file_is_3() {
    let t = Twin::new(|w| {
        let mut tr = Tree::new(w);
        tr.file("src/a", b"a\n")
            .file("src/d/b", b"b\n")
            .file("file", b"f\n");
        tr.finish();
    });
    for args in [
        &["-a", "src/", "file"][..],
        &["-a", "src/d", "file"],
        &["-a", "src/a", "src/d", "file"],
        &["-a", "src/a", "file/"],
        &["-a", "src/d/", "file/"],
    ] {
        let pair = t.same(args);
        pair.r.expect(3, "rsync");
        assert_eq!(std::fs::read(t.p.join("file")).unwrap(), b"f\n");
    }
}

/// The role in the last line of a failed remote run is rsync's: the pre-fork `Receiver` of a
/// pull for operand errors, a handshake that fails and an empty file list; the `generator` once
/// a pull's list has entries; the `sender` of a push.
#[test]
fn remote_errors_name_rsyncs_roles() {
    let s = crate::need_sshd!();
    let w = s.wrapper.to_str().unwrap();
    let t = Twin::standard();
    // rsync 3.5's pre-fork receiver also fails to write to the sender that is gone after an
    // empty list, a line parasync does not copy.
    let m = |s: &str| {
        mask(
            &s.lines()
                .filter(|l| !l.ends_with("write error: Broken pipe (32)"))
                .map(|l| format!("{l}\n"))
                .collect::<String>(),
        )
    };
    for (args, code) in [
        (&["-a", "127.0.0.1:{WS}/src/nosuch", "dst/"][..], 23),
        (&["-a", "127.0.0.1:{WS}/src/nosuch"], 23),
        (
            &["-a", "127.0.0.1:{WS}/src/nosuch", ":{WS}/src/a.txt", "dst/"],
            23,
        ),
        (&["-a", "nosuch", "127.0.0.1:{WS}/dst/"], 23),
        (&["-a", "127.0.0.1:{WS}/src/a.txt", "src/b", "dst/"], 1),
        (&["-a", "src/a.txt", "127.0.0.1:{WS}/src/b", "dst/"], 1),
        (&["-a", "127.0.0.1:{WS}/src/a.txt", ""], 1),
    ] {
        let pair = t.run_with(args, &["-e", w], &["-e", w, "--rsync-path={BIN}"]);
        pair.r.expect(code, &format!("rsync {args:?}"));
        let (re, pe) = (m(&pair.r.stderr), m(&pair.p.stderr));
        assert_eq!(pair.p.code, code, "{args:?}\n{}", pair.p);
        assert_eq!(re, pe, "{args:?}: stderr\n{}", diff(&re, &pe));
    }
    // A remote end that is not there: rsync's pre-fork receiver reports the closed connection.
    let gone = [
        "-a",
        "-e",
        w,
        "--rsync-path=no-such-program",
        "127.0.0.1:{WS}/src/",
        "dst/",
    ];
    let out = t.run(&gone).p;
    assert_eq!(out.code, 127, "{out}");
    assert!(
        out.stderr
            .contains("connection unexpectedly closed (0 bytes received so far) [Receiver]\n")
            && out.stderr.contains("[Receiver="),
        "{out}"
    );
}
