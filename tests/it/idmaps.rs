//! `--chown`, `--usermap` and `--groupmap` against the installed rsync (rsync(1)): names, numeric
//! ids, ranges and wildcards, first match wins, the implied `-o`/`-g`, unknown names and bad
//! rules. Real ownership changes need root; the tests return early otherwise.

use crate::util::*;
use std::path::Path;

fn owned_tree(w: &Path) {
    let src = w.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    for (name, uid, gid) in [
        ("root_file", 0, 0),
        ("numeric_only", 1234, 5678),
        ("daemon_file", 1, 1),
        ("sub/bin_file", 2, 4),
    ] {
        std::fs::write(src.join(name), name).unwrap();
        std::os::unix::fs::lchown(src.join(name), Some(uid), Some(gid)).unwrap();
    }
    std::os::unix::fs::symlink("root_file", src.join("link")).unwrap();
    // Fixed times everywhere, so runs without -t transfer again deterministically.
    let t = filetime::FileTime::from_unix_time(1_600_000_000, 0);
    for p in [
        "src/root_file",
        "src/numeric_only",
        "src/daemon_file",
        "src/sub/bin_file",
        "src/link",
        "src/sub",
        "src",
    ] {
        filetime::set_symlink_file_times(w.join(p), t, t).unwrap();
    }
}

#[test]
fn maps_match_rsync() {
    if !is_root() {
        return;
    }
    let t = Twin::new(owned_tree);
    for (i, opts) in [
        &["-a", "--chown=nobody:nogroup"][..],
        &["-r", "--chown=nobody:nogroup"],
        &["-r", "--chown=bin"],
        &["-rl", "--chown=:adm"],
        &[
            "-a",
            "--usermap=1234:daemon,*:bin",
            "--groupmap=5000-6000:sys,r*:adm",
        ],
        &["-a", "--numeric-ids", "--usermap=1234:daemon,r*:bin"],
        &["-a", "--numeric-ids", "--usermap=*:bin"],
        &["-a", "--usermap=roo?:2,0:3,daemon:77"],
        &["-r", "--usermap=*:bin", "--groupmap=*:adm"],
        &["-a", "--usermap=*:nosuchuser,1234:bin"],
        // A map turns -o/-g on where it stands: a later --no-o/--no-g turns both off.
        &["-a", "--chown=daemon:daemon", "--no-o"],
        &["-a", "--groupmap=5678:daemon", "--no-g"],
        &["-r", "--chown=bin", "--no-o"],
        &["-a", "--no-g", "--chown=:adm"],
    ]
    .into_iter()
    .enumerate()
    {
        let dst = format!("dst{i}/");
        let mut args = opts.to_vec();
        args.extend(["-i", "src/", &dst]);
        t.same(&args).p.expect(0, "map");
        t.assert_trees(&dst, Cmp::ALL.no_root().no_times());
        // A second run itemizes the owner/group changes a different map asks for.
        let mut again = vec!["-ai", "--chown=bin:adm", "src/", &dst];
        again.truncate(4);
        t.same(&again);
        t.assert_trees(&dst, Cmp::ALL.no_root().no_times());
    }
}

#[test]
fn bad_maps_and_conflicts_match_rsync() {
    let t = Twin::new(|w| std::fs::create_dir_all(w.join("src")).unwrap());
    for opts in [
        &["--usermap=bin"][..],
        &["--usermap=*:nosuchuser", "--groupmap=zz:nosuchgroup,1-:2"],
        &["--chown=a:b", "--chown=c:d"],
        &["--chown=:a", "--chown=:b"],
        &["--usermap=a:b", "--chown=c"],
        &["--groupmap=a:b", "--chown=:c"],
        &["--chown=a", "--usermap=x:y"],
        &["--groupmap=a:b", "--groupmap=c:d"],
    ] {
        let mut args = opts.to_vec();
        args.extend(["-a", "src/", "dst/"]);
        let pair = t.same(&args);
        assert_ne!(pair.p.code, 0, "{opts:?}");
        assert!(
            !t.p.join("dst").exists(),
            "{opts:?}: nothing may be written"
        );
    }
}

#[test]
fn chown_over_ssh() {
    if !is_root() {
        return;
    }
    let s = crate::need_sshd!();
    let t = Twin::new(owned_tree);
    let w = s.wrapper.to_str().unwrap();
    t.run_with(
        &[
            "-ai",
            "--usermap=1234:daemon,*:bin",
            "--chown=:adm",
            "src/",
            "127.0.0.1:{WS}/dst/",
        ],
        &["-e", w],
        &["-e", w, "--rsync-path={BIN}"],
    )
    .assert_same("usermap push");
    t.assert_trees("dst", Cmp::ALL.no_root());
}

/// Not root: a group this process is not in is neither set nor itemized (rsync's uidlist.c
/// skips it), whatever --chown or --groupmap ask; its own group still is.
#[test]
fn unsettable_groups_are_skipped_as_rsync_skips_them() {
    if !is_root() || !Path::new("/usr/bin/setpriv").exists() {
        return;
    }
    for opts in [
        &["-ai", "--chown=root:root"][..],
        &["-ai", "--groupmap=*:root"],
        &["-ai", "--chown=:65534"],
        &["-ai", "-o", "-g"],
    ] {
        let t = Twin::new(|w| {
            let mut tr = Tree::new(w);
            tr.file("src/a", b"a\n")
                .file("src/sub/b", b"b\n")
                .file("dst/a", b"old\n")
                .mtime("dst/a", 1_500_000_000, 0);
            tr.finish();
            for p in ["", "src", "src/a", "src/sub", "src/sub/b", "dst", "dst/a"] {
                std::os::unix::fs::lchown(w.join(p), Some(65534), Some(65534)).unwrap();
            }
        });
        let mut a = opts.to_vec();
        a.extend_from_slice(&["src/", "dst/"]);
        let pair = t.run_under(&NOBODY, &a, &[], &[]);
        pair.r.expect(0, "rsync");
        pair.assert_same(&format!("{a:?}"));
        t.assert_trees("dst", Cmp::ALL.no_root());
    }
}

/// `--no-super` as root: no owners, only the groups root is a member of, no devices ("skipping
/// non-regular file"), and new directories as a plain user makes them; a later run without it
/// itemizes the owner changes. `--super` as root changes nothing.
#[test]
fn super_and_no_super_match_rsync() {
    if !is_root() {
        return;
    }
    let t = Twin::new(|w| {
        owned_tree(w);
        let src = w.join("src");
        let c = std::ffi::CString::new(src.join("null").as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(
            unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o644, libc::makedev(1, 3)) },
            0
        );
        std::os::unix::fs::chown(src.join("sub"), Some(1234), Some(65534)).unwrap();
        let t = filetime::FileTime::from_unix_time(1_600_000_000, 0);
        for p in ["null", "sub", ""] {
            filetime::set_symlink_file_times(src.join(p), t, t).unwrap();
        }
    });
    for (dst, first) in [("plain/", "--no-super"), ("sup/", "--super")] {
        t.same(&["-ai", first, "src/", dst]).p.expect(0, first);
        t.assert_trees(dst, Cmp::ALL.no_root());
        t.same(&["-aiv", "src/", dst]);
        t.assert_trees(dst, Cmp::ALL.no_root());
    }
    let out = t.same(&["-ai", "--no-super", "src/", "again/"]).p.stdout;
    assert!(out.contains("skipping non-regular file \"null\""), "{out}");
}

/// `--copy-as=USER[:GROUP]` (as root): the copy runs as that user — files it makes are its own,
/// a directory it may not write into fails as rsync's does (exit 11), a name that does not
/// resolve is a usage error (exit 1).
#[test]
fn copy_as_matches_rsync() {
    if !is_root() {
        return;
    }
    let t = Twin::new(|w| {
        owned_tree(w);
        for d in ["open", "closed"] {
            std::fs::create_dir_all(w.join(d)).unwrap();
        }
        let open = std::os::unix::fs::PermissionsExt::from_mode(0o777);
        std::fs::set_permissions(w.join("open"), open).unwrap();
        // Reachable for others (the workspace itself may be private).
        let reach = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(w, reach).unwrap();
    });
    t.same(&["-rlti", "--copy-as=nobody:daemon", "src/", "open/dst/"])
        .p
        .expect(0, "copy-as");
    t.assert_trees("open/dst", Cmp::ALL.no_root());
    t.same(&["-rlti", "--copy-as=nobody", "src/", "open/dst/"]);
    let out = t
        .same(&["-rlti", "--copy-as=nobody", "src/", "closed/dst/"])
        .p;
    out.expect(11, "copy-as into a directory nobody may not write");
    let bad = t.run(&["-a", "--copy-as=no_such_user_x", "src/", "x/"]);
    assert_eq!((bad.r.code, bad.p.code), (1, 1));
    assert!(bad
        .p
        .stderr
        .starts_with("Invalid copy-as user: no_such_user_x\n"));
}
