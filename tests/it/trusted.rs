//! Operator paths and planted symlinks (rsync 3.5): the destination, `-T`, `--backup-dir`,
//! `--link-dest`, `--log-file`, `--files-from` and rule files follow a symlink only when root or
//! the running user owns it. Root plants the links as another user (65534), as the attack
//! needs; both tools run on the same layout and must print, exit and leave the same — and
//! nothing may reach the directory the planted link points at.

use crate::util::*;
use std::path::Path;

/// `src/a`, a destination `d/` with an old `a`, `real/` holding rule and list files, `evil` ->
/// `real` owned by nobody and `mine` -> `real` owned by root.
fn layout(w: &Path) {
    let mut t = Tree::new(w);
    t.file("src/a", b"new\n")
        .mtime("src/a", 1_700_000_000, 0)
        .file("d/a", b"old\n")
        .mtime("d/a", 1_600_000_000, 0)
        .file("real/rules", b"- nothing\n")
        .file("real/list", b"a\n");
    t.finish();
    let real = w.join("real");
    std::os::unix::fs::symlink(&real, w.join("evil")).unwrap();
    std::os::unix::fs::symlink(&real, w.join("mine")).unwrap();
    let c = std::ffi::CString::new(w.join("evil").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::lchown(c.as_ptr(), 65534, 65534) }, 0);
}

fn untouched(t: &Twin, what: &str) {
    let mut names: Vec<_> = std::fs::read_dir(t.p.join("real"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["list", "rules"],
        "{what}: written through the planted link"
    );
}

#[test]
fn planted_symlinks_in_operator_paths_are_refused_as_rsync() {
    if !is_root() {
        return;
    }
    for args in [
        &["-a", "src/", "evil/"][..],
        &["-a", "src/", "evil"],
        &["-a", "src/", "evil/new/"],
        &["-a", "src/a", "evil/./x"],
        &["-a", "--mkpath", "src/", "evil/new/deeper/"],
        // (With an absolute name rsync's make_path makes `new` through the link, then refuses
        // to enter it; parasync refuses before making anything.)
        &["-a", "--mkpath", "src/a", "evil/new/x"],
        &["-a", "--temp-dir={WS}/evil", "src/", "d/"],
        &["-a", "--log-file={WS}/evil/log", "src/", "d/"],
        &["-a", "--files-from={WS}/evil/list", "src/", "d/"],
        &["-a", "--exclude-from={WS}/evil/rules", "src/", "d/"],
        &["-a", "--include-from=evil/rules", "src/", "d/"],
        &["-a", "--filter=merge evil/rules", "src/", "d/"],
        &["-a", "--include-from=mine/rules", "src/", "d/"],
        &["-a", "src/", "mine/"],
    ] {
        let t = Twin::new(layout);
        t.same(args);
        if args.last() != Some(&"mine/") {
            untouched(&t, &format!("{args:?}"));
        }
        t.assert_trees("d", Cmp::ALL.no_root());
    }
}

/// `--insecure-links` turns the walk off on the side it is given to (never sent to the peer);
/// `-M--insecure-links` gives it to the other side.
#[test]
fn insecure_links_follow_as_rsync() {
    if !is_root() {
        return;
    }
    let s = crate::need_sshd!();
    for (remote, args) in [
        (false, &["-a", "--insecure-links", "src/", "evil/"][..]),
        (false, &["-a", "-M--insecure-links", "src/", "evil/"]),
        (
            false,
            &[
                "-a",
                "--insecure-links",
                "--temp-dir={WS}/evil",
                "src/",
                "d/",
            ],
        ),
        (true, &["-a", "src/", "127.0.0.1:{WS}/evil/"]),
        (
            true,
            &["-a", "--insecure-links", "src/", "127.0.0.1:{WS}/evil/"],
        ),
        (
            true,
            &["-a", "-M--insecure-links", "src/", "127.0.0.1:{WS}/evil/"],
        ),
        (true, &["-a", "127.0.0.1:{WS}/src/", "{WS}/evil/"]),
        (
            true,
            &["-a", "--temp-dir={WS}/evil", "src/", "127.0.0.1:{WS}/d/"],
        ),
    ] {
        let run = |t: &Twin| {
            if remote {
                t.over_ssh(s, args)
            } else {
                t.run(args)
            }
        };
        let mut t = Twin::new(layout);
        let mut pair = run(&t);
        // A remote rsync receiver that ends the run races its own exit: sometimes its last
        // lines (the failure, then "rsync error: … [Receiver=…]") are lost, sometimes a pull's
        // receiver adds "write error: Broken pipe". The broken pipe and the exit line are taken
        // out of rsync's text; parasync's must be exactly the rest, with its own last line. A
        // run where rsync lost its failure line too is tried again (parasync's output must be
        // the same in every run).
        if remote && pair.r.code == 3 {
            let racy = |l: &&str| {
                l.starts_with("rsync error: ")
                    || *l == "rsync: [Receiver] write error: Broken pipe (32)"
            };
            let steady = |o: &Out| -> Vec<String> {
                o.stderr
                    .lines()
                    .filter(|l| !racy(l))
                    .map(String::from)
                    .collect()
            };
            let mine = |o: &Out| -> Vec<String> {
                let l: Vec<String> = o.stderr.lines().map(String::from).collect();
                l[..l.len().saturating_sub(1)].to_vec()
            };
            let first = mine(&pair.p);
            for _ in 0..5 {
                if steady(&pair.r) == mine(&pair.p) {
                    break;
                }
                t = Twin::new(layout);
                pair = run(&t);
                assert_eq!(
                    mine(&pair.p),
                    first,
                    "{args:?}: parasync differs between runs"
                );
            }
            assert_eq!(pair.p.code, 3, "{args:?}: {}", pair.p);
            assert_eq!(mine(&pair.p), steady(&pair.r), "{args:?}");
            let last = "rsync error: errors selecting input/output files, dirs (code 3) at \
                        main.c(1) [Receiver=";
            assert!(
                pair.p
                    .stderr
                    .lines()
                    .last()
                    .is_some_and(|l| l.starts_with(last)),
                "{args:?}: {}",
                pair.p
            );
        } else {
            pair.assert_same(&format!("{args:?}"));
        }
        t.assert_trees("real", Cmp::ALL.no_root());
        t.assert_trees("d", Cmp::ALL.no_root());
    }
}

/// A `--link-dest` (or `--backup-dir`) through a planted link is not used: the transfer goes
/// on without it (rsync says the notice once more per file; parasync once), and a backup that
/// would go there is refused, the file left as it was (rsync stops the run with exit 11;
/// parasync reports the file and goes on, exit 23).
#[test]
fn basis_and_backup_dirs_behind_planted_links_are_not_used() {
    if !is_root() {
        return;
    }
    let t = Twin::new(layout);
    let notice = "refusing to follow a symlink owned by an untrusted user";
    for args in [
        &["-a", "--link-dest={WS}/evil", "src/", "d2/"][..],
        &["-a", "--link-dest=../evil", "src/", "d3/"],
    ] {
        let pair = t.run(args);
        pair.p.expect(0, "link-dest");
        assert_eq!(pair.r.code, 0);
        assert_eq!(pair.p.stderr.matches(notice).count(), 1, "{}", pair.p);
        let d = args[2];
        t.assert_trees(d, Cmp::ALL.no_root());
    }
    let pair = t.run(&["-a", "-b", "--backup-dir={WS}/evil/bk", "src/", "d/"]);
    assert_eq!(pair.r.code, 11, "{}", pair.r);
    assert_eq!(pair.p.code, 23, "{}", pair.p);
    assert!(pair.p.stderr.starts_with(notice), "{}", pair.p);
    t.assert_trees("d", Cmp::ALL.no_root());
    assert_eq!(std::fs::read(t.p.join("d/a")).unwrap(), b"old\n");
    untouched(&t, "backup-dir");
}
