//! Transfers over a real sshd (design.md §8), compared with rsync over the same server: push, pull,
//! `-e` quoting (rsync-cli.md §1.3.12), `--rsync-path` as a command, remote names with spaces,
//! several remote sources (§1.3.3), `-z`, and the transport failures with their exit codes (§1.3.13:
//! 255 from ssh, 127 remote command not found, 23 with the remote error printed locally).

use crate::sshd::Sshd;
use crate::util::*;
use std::path::Path;

fn over_ssh(t: &Twin, s: &Sshd, args: &[&str]) -> Pair {
    t.over_ssh(s, args)
}

fn same_over_ssh(t: &Twin, s: &Sshd, args: &[&str]) -> Pair {
    let pair = t.over_ssh(s, args);
    pair.assert_same(&format!("{args:?}"));
    pair
}

#[test]
fn push_archive() {
    let s = crate::need_sshd!();
    let t = Twin::standard();
    same_over_ssh(&t, s, &["-av", "--stats", "src/", "127.0.0.1:{WS}/dst/"])
        .p
        .expect(0, "push");
    t.assert_trees("dst", Cmp::ALL);
    // Nothing changed: a second run is a no-op with the same report.
    same_over_ssh(&t, s, &["-ai", "src/", "127.0.0.1:{WS}/dst/"]);
}

#[test]
fn pull_archive() {
    let s = crate::need_sshd!();
    let t = Twin::standard();
    same_over_ssh(&t, s, &["-av", "--stats", "127.0.0.1:{WS}/src", "dst"])
        .p
        .expect(0, "pull");
    t.assert_trees("dst", Cmp::ALL.no_root());
}

#[test]
fn push_and_pull_into_diverged_copies() {
    let s = crate::need_sshd!();
    let t = Twin::new(changed_tree);
    let pair = over_ssh(
        &t,
        s,
        &["-ai", "--delete", "--stats", "src/", "127.0.0.1:{WS}/dst/"],
    );
    // Delta transfers: literal/matched figures depend on the engine's blocks.
    pair.assert_same_by("push --delete", mask_delta);
    t.assert_trees("dst", Cmp::ALL);
    let t = Twin::new(changed_tree);
    let pair = over_ssh(
        &t,
        s,
        &["-ai", "--delete", "--stats", "127.0.0.1:{WS}/src/", "dst/"],
    );
    pair.assert_same_by("pull --delete", mask_delta);
    t.assert_trees("dst", Cmp::ALL);
}

#[test]
fn compressed_push_and_pull() {
    let s = crate::need_sshd!();
    let t = Twin::new(changed_tree);
    over_ssh(&t, s, &["-az", "--stats", "src/", "127.0.0.1:{WS}/dst/"])
        .assert_same_by("-z push", mask_delta);
    t.assert_trees("dst", Cmp::ALL.no_root());
    let t = Twin::standard();
    same_over_ssh(&t, s, &["-azv", "127.0.0.1:{WS}/src/", "dst"]);
    t.assert_trees("dst", Cmp::ALL);
}

#[test]
fn rsh_with_spaces_and_quotes() {
    let s = crate::need_sshd!();
    let t = Twin::standard();
    // The identity lives under a directory with a space; the -e string quotes it both ways.
    let keydir = t.r.parent().unwrap().join("key dir");
    std::fs::create_dir(&keydir).unwrap();
    let key = keydir.join("user key");
    std::fs::copy(s.user_key(), &key).unwrap();
    let rsh = format!(
        "ssh -p {} -i '{}' -o \"UserKnownHostsFile /dev/null\" -o StrictHostKeyChecking=no -o BatchMode=yes -o LogLevel=ERROR",
        s.port,
        key.display()
    );
    let pair = t.run_with(
        &["-a", "src/", "127.0.0.1:{WS}/dst/"],
        &["-e", &rsh],
        &["-e", &rsh, "--rsync-path={BIN}"],
    );
    pair.assert_same("-e with quotes");
    pair.p.expect(0, "parasync -e with quotes");
    t.assert_trees("dst", Cmp::ALL);
    // rsync's own error for an unterminated quote (exit 1).
    let bad = format!("ssh -p {} -i \"{}", s.port, key.display());
    t.run_with(
        &["-a", "src/", "127.0.0.1:{WS}/dst2/"],
        &["-e", &bad],
        &["-e", &bad, "--rsync-path={BIN}"],
    )
    .assert_same("unterminated quote");
}

#[test]
fn rsync_path_as_wrapper_script_and_command() {
    let s = crate::need_sshd!();
    let t = Twin::standard();
    let script = t.p.join("remote-wrap.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nexec {} \"$@\"\n", bin().display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let w = s.wrapper.to_str().unwrap();
    let rp = format!("--rsync-path={}", script.display());
    run(
        bin(),
        [
            "-e",
            w,
            &rp,
            "-a",
            "src/",
            &format!("127.0.0.1:{}/dst/", t.p.display()),
        ],
        &t.p,
    )
    .expect(0, "wrapper script");
    assert_same_tree(&t.p.join("src"), &t.p.join("dst"), Cmp::ALL.no_hardlinks());
    // A command sequence, run by the remote shell.
    let rp = format!("--rsync-path=cd /tmp && {}", bin().display());
    run(
        bin(),
        [
            "-e",
            w,
            &rp,
            "-a",
            &format!("127.0.0.1:{}/src/", t.p.display()),
            "pulled",
        ],
        &t.p,
    )
    .expect(0, "cd && bin");
    assert_same_tree(
        &t.p.join("src"),
        &t.p.join("pulled"),
        Cmp::ALL.no_hardlinks(),
    );
}

#[test]
fn remote_paths_with_spaces() {
    let s = crate::need_sshd!();
    let t = Twin::new(|w| standard_tree(&w.join("src dir")));
    same_over_ssh(&t, s, &["-av", "src dir/", "127.0.0.1:{WS}/dst dir/"]);
    t.assert_trees("dst dir", Cmp::ALL);
    same_over_ssh(
        &t,
        s,
        &["-av", "127.0.0.1:{WS}/src dir/name with spaces.txt", "got"],
    );
    assert_same_tree(&t.r.join("got"), &t.p.join("got"), Cmp::ALL);
}

#[test]
fn pull_multiple_remote_sources() {
    let s = crate::need_sshd!();
    let t = Twin::standard();
    same_over_ssh(
        &t,
        s,
        &[
            "-av",
            "127.0.0.1:{WS}/src/a.txt",
            ":{WS}/src/sub",
            ":{WS}/src/link",
            "dst/",
        ],
    );
    t.assert_trees("dst", Cmp::ALL.no_root());
}

#[test]
fn auth_failure_is_255() {
    let s = crate::need_sshd!();
    let t = Twin::standard();
    let rsh = s.ssh_words(&s.dir.join("otherkey")).join(" ");
    for common in [
        &["-a", "src/", "127.0.0.1:{WS}/dst/"][..],
        &["-a", "127.0.0.1:{WS}/src/", "dst/"],
    ] {
        let pair = t.run_with(common, &["-e", &rsh], &["-e", &rsh, "--rsync-path={BIN}"]);
        // As with 127, rsync reports 255 or (losing the race with its reaper) 12; parasync
        // always passes ssh's status through.
        assert!([12, 255].contains(&pair.r.code), "{}", pair.r);
        pair.p.expect(255, "parasync");
        assert!(
            pair.p.stderr.contains("Permission denied (publickey)"),
            "{}",
            pair.p
        );
        assert!(
            pair.p
                .stderr
                .contains("rsync error: unexplained error (code 255)"),
            "{}",
            pair.p
        );
        assert!(!t.p.join("dst").exists());
    }
}

/// A push walks its sources while ssh connects; when the connection then fails, what the walk
/// found (here a dangling symlink under -L) is not reported — rsync never got that far either.
#[test]
fn a_failed_connection_reports_no_walk_errors() {
    let s = crate::need_sshd!();
    // The standard tree holds a dangling symlink: -L makes it a walk error.
    let t = Twin::standard();
    let rsh = s.ssh_words(&s.dir.join("otherkey")).join(" ");
    let common = ["-aL", "src/", "127.0.0.1:{WS}/dst/"];
    let pair = t.run_with(&common, &["-e", &rsh], &["-e", &rsh, "--rsync-path={BIN}"]);
    pair.p.expect(255, "parasync");
    for run in [&pair.r, &pair.p] {
        assert!(!run.stderr.contains("referent"), "{run}");
    }
    assert!(!t.p.join("dst").exists());
}

#[test]
fn remote_binary_missing_is_127() {
    // rsync's own code here is racy (127 when it reaps ssh before noticing the closed stream, 12
    // otherwise); parasync always reports the shell's status, with the shell's message passed through.
    let s = crate::need_sshd!();
    let t = Twin::standard();
    let w = s.wrapper.to_str().unwrap();
    for common in [
        &[
            "-e",
            w,
            "--rsync-path=/nonexistent/parasync",
            "-a",
            "src/",
            "127.0.0.1:{WS}/dst/",
        ][..],
        &[
            "-e",
            w,
            "--rsync-path=/nonexistent/parasync",
            "-a",
            "127.0.0.1:{WS}/src/",
            "dst/",
        ],
    ] {
        let pair = t.run(common);
        assert!([12, 127].contains(&pair.r.code), "{}", pair.r);
        pair.p.expect(127, "parasync");
        assert!(
            pair.p
                .stderr
                .contains("/nonexistent/parasync: No such file or directory"),
            "{}",
            pair.p
        );
        assert!(
            pair.p
                .stderr
                .contains("rsync error: remote command not found (code 127)"),
            "{}",
            pair.p
        );
        assert!(!t.p.join("dst").exists());
    }
}

#[test]
fn remote_permission_denied_is_23() {
    let s = crate::need_sshd!();
    if !is_root() || !Path::new("/usr/bin/setpriv").exists() {
        eprintln!("note: needs root and setpriv; skipped");
        return;
    }
    let t = Twin::new(|w| {
        standard_tree(&w.join("src"));
        std::fs::create_dir(w.join("ro")).unwrap();
        // nobody may write here, but not into ro/.
        std::fs::create_dir(w.join("ok")).unwrap();
        std::os::unix::fs::chown(w.join("ok"), Some(65534), Some(65534)).unwrap();
    });
    let w = s.wrapper.to_str().unwrap();
    let pair = t.run_with(
        &["-r", "src/a.txt", "src/sub", "127.0.0.1:{WS}/ro/"],
        &["-e", w, &as_nobody(Path::new("rsync"))],
        &["-e", w, &as_nobody(&bin())],
    );
    pair.r.expect(23, "rsync");
    pair.p.expect(23, "parasync");
    // The receiver's error reaches the local stderr (the temp-file name is random, so compare the
    // shape rather than the bytes).
    assert!(
        pair.p.stderr.contains("Permission denied (13)"),
        "{}",
        pair.p
    );
    assert!(
        pair.p
            .stderr
            .contains("rsync error: some files/attrs were not transferred"),
        "{}",
        pair.p
    );
    // A writable destination works for the unprivileged remote half.
    let pair = t.run_with(
        &["-r", "src/a.txt", "127.0.0.1:{WS}/ok/"],
        &["-e", w, &as_nobody(Path::new("rsync"))],
        &["-e", w, &as_nobody(&bin())],
    );
    pair.assert_same("nobody into writable dir");
    assert_eq!(std::fs::read(t.p.join("ok/a.txt")).unwrap(), b"hello\n");
}

/// `--munge-links` acts on one side only, as rsync's: the sending side gives munged targets back
/// as they were, the receiving side prefixes "/rsyncd-munged/" (locally the receiver is never
/// given it; over ssh, `-M` gives it to the remote side). Item lines show the target as the side
/// that prints them knows it; a second run finds every link up to date.
#[test]
fn munge_links_match_rsync() {
    let s = crate::need_sshd!();
    let t = Twin::new(|w| {
        let src = w.join("src");
        std::fs::create_dir_all(&src).unwrap();
        for (name, to) in [
            ("rel", "../target"),
            ("munged", "/rsyncd-munged/abs"),
            ("prefix_only", "/rsyncd-munged/"),
        ] {
            std::os::unix::fs::symlink(to, src.join(name)).unwrap();
            let t = filetime::FileTime::from_unix_time(1_600_000_000, 0);
            filetime::set_symlink_file_times(src.join(name), t, t).unwrap();
        }
    });
    for (i, args) in [
        &["-ai", "--munge-links", "src/", "dst0/"][..],
        &["-ai", "-M--munge-links", "src/", "127.0.0.1:{WS}/dst1/"],
        &["-ai", "--munge-links", "127.0.0.1:{WS}/src/", "dst2/"],
        &[
            "-ai",
            "--munge-links",
            "-M--munge-links",
            "127.0.0.1:{WS}/dst1/",
            "dst3/",
        ],
    ]
    .into_iter()
    .enumerate()
    {
        for _ in 0..2 {
            same_over_ssh(&t, s, args).p.expect(0, "munge");
        }
        t.assert_trees(&format!("dst{i}"), Cmp::ALL.no_root());
    }
    let target = |d: &str, l: &str| std::fs::read_link(t.p.join(d).join(l)).unwrap();
    assert_eq!(target("dst0", "munged"), Path::new("abs"));
    assert_eq!(target("dst1", "rel"), Path::new("/rsyncd-munged/../target"));
    assert_eq!(target("dst3", "rel"), Path::new("/rsyncd-munged/../target"));
}
