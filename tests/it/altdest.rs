//! `--link-dest` / `--compare-dest` / `--copy-dest` and backups, against the installed rsync:
//! the same command on the same trees must give the same files, contents and hard-link structure.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

/// name → (kind, content, link count, inode group label) for a tree.
fn snapshot(root: &Path) -> BTreeMap<String, (char, Vec<u8>, u64)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for ent in std::fs::read_dir(&d).unwrap() {
            let p = ent.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if m.is_dir() {
                stack.push(p.clone());
                out.insert(rel, ('d', vec![], 0));
            } else if m.is_file() {
                out.insert(rel, ('f', std::fs::read(&p).unwrap(), m.nlink()));
            } else {
                out.insert(rel, ('l', vec![], 0));
            }
        }
    }
    out
}

fn run(prog: &str, args: &[&str], cwd: &Path) -> i32 {
    Command::new(prog)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
        .status
        .code()
        .unwrap()
}

fn day(src: &Path, n: u32) {
    std::fs::create_dir_all(src.join("docs/old")).unwrap();
    std::fs::write(src.join("docs/a.txt"), b"stable a").unwrap();
    std::fs::write(src.join("docs/old/b.txt"), b"stable b").unwrap();
    std::fs::write(src.join("today.log"), format!("day {n}")).unwrap();
    std::fs::write(src.join("scratch.tmp"), b"never backed up").unwrap();
    if n == 1 {
        std::fs::write(src.join("gone.txt"), b"only on day 1").unwrap();
    } else {
        let _ = std::fs::remove_file(src.join("gone.txt"));
    }
    for f in ["docs/a.txt", "docs/old/b.txt", "gone.txt"] {
        let t = filetime::FileTime::from_unix_time(1_600_000_000, 0);
        let _ = filetime::set_file_mtime(src.join(f), t);
    }
    // today.log changes size and time each day.
    let t = filetime::FileTime::from_unix_time(1_700_000_000 + n as i64 * 86400, 0);
    filetime::set_file_mtime(src.join("today.log"), t).unwrap();
}

/// Run `args… r/` with rsync and `args… p/` with parasync in `root`, each after `prepare(dst)`,
/// each exiting 0: the two outputs (the destination's name masked) and the two trees must be
/// equal. Returns parasync's tree.
fn same_into_r_and_p(
    root: &Path,
    args: &[&str],
    prepare: impl Fn(&str),
) -> BTreeMap<String, (char, Vec<u8>, u64)> {
    let mut outs = Vec::new();
    for (prog, dst) in [("rsync", "r"), (env!("CARGO_BIN_EXE_parasync"), "p")] {
        prepare(dst);
        let target = format!("{dst}/");
        let o = Command::new(prog)
            .args(args)
            .arg(&target)
            .current_dir(root)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{prog} {args:?}: {o:?}");
        let text = String::from_utf8_lossy(&o.stdout).replace(
            &format!("created directory {dst}\n"),
            "created directory D\n",
        );
        outs.push(text);
    }
    assert_eq!(outs[0], outs[1], "{args:?}: output");
    let (r, p) = (snapshot(&root.join("r")), snapshot(&root.join("p")));
    assert_eq!(r, p, "{args:?}");
    p
}

#[test]
fn snapshot_backup_with_link_dest_matches_rsync() {
    if !crate::util::installed("rsync") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::write(t.path().join("excludes"), b"*.tmp\n").unwrap();
    for (prog, base) in [("rsync", "r"), (env!("CARGO_BIN_EXE_parasync"), "p")] {
        day(&src, 1);
        let d1 = format!("{base}/day1/");
        std::fs::create_dir_all(t.path().join(base)).unwrap();
        let code = run(
            prog,
            &["-a", "--delete", "--exclude-from=excludes", "src/", &d1],
            t.path(),
        );
        assert_eq!(code, 0, "{prog} day 1");
        day(&src, 2);
        let d2 = format!("{base}/day2/");
        let code = run(
            prog,
            &[
                "-a",
                "--delete",
                "--exclude-from=excludes",
                "--link-dest=../day1",
                "src/",
                &d2,
            ],
            t.path(),
        );
        assert_eq!(code, 0, "{prog} day 2");
    }
    for d in ["day1", "day2"] {
        let r = snapshot(&t.path().join("r").join(d));
        let p = snapshot(&t.path().join("p").join(d));
        assert_eq!(r, p, "{d} differs (kind, content, link count)");
    }
    // The unchanged files really are shared with yesterday.
    let a1 = std::fs::metadata(t.path().join("p/day1/docs/a.txt")).unwrap();
    let a2 = std::fs::metadata(t.path().join("p/day2/docs/a.txt")).unwrap();
    assert_eq!(a1.ino(), a2.ino());
}

#[test]
fn compare_and_copy_dest_match_rsync() {
    if !crate::util::installed("rsync") {
        return;
    }
    for opt in ["--compare-dest=../prev", "--copy-dest=../prev"] {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        day(&src, 2);
        std::fs::create_dir_all(t.path().join("prev")).unwrap();
        let o = Command::new("rsync")
            .args(["-a", "src/", "prev/"])
            .current_dir(t.path())
            .output()
            .unwrap();
        assert!(o.status.success());
        std::fs::write(src.join("today.log"), b"changed since").unwrap();
        same_into_r_and_p(t.path(), &["-ai", opt, "src/"], |_| {});
    }
}

#[test]
fn backups_match_rsync() {
    if !crate::util::installed("rsync") {
        return;
    }
    for opts in [
        vec!["-a", "-b"],
        vec!["-a", "-b", "--delete", "--suffix=.old"],
        vec!["-a", "--backup-dir=bk", "--delete"],
        vec!["-a", "-b", "--inplace", "--no-whole-file"],
    ] {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        day(&src, 2);
        for dst in ["r", "p"] {
            let d = t.path().join(dst);
            std::fs::create_dir_all(d.join("docs")).unwrap();
            std::fs::write(d.join("docs/a.txt"), b"older a").unwrap();
            std::fs::write(d.join("extra.txt"), b"extraneous").unwrap();
            std::fs::write(d.join("extra.txt~"), b"an earlier backup").unwrap();
        }
        let mut a = opts.clone();
        a.extend(["src/", "r/"]);
        assert_eq!(run("rsync", &a, t.path()), 0);
        let mut a = opts.clone();
        a.extend(["src/", "p/"]);
        assert_eq!(
            run(env!("CARGO_BIN_EXE_parasync"), &a, t.path()),
            0,
            "{opts:?}"
        );
        assert_eq!(
            snapshot(&t.path().join("r")),
            snapshot(&t.path().join("p")),
            "{opts:?}"
        );
    }
}

/// With the file already in the destination, an exact match in the alternate directory makes
/// it go: `--compare-dest` removes it, `--link-dest` replaces it with a hard link (rsync's
/// find_exact_for_existing), whether the destination copy was up to date or not;
/// `--copy-dest` updates it as usual.
#[test]
fn alternate_dirs_replace_existing_destination_files() {
    for opt in [
        "--compare-dest=../prev",
        "--link-dest=../prev",
        "--copy-dest=../prev",
    ] {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        day(&src, 2);
        assert_eq!(run("rsync", &["-a", "src/", "prev/"], t.path()), 0);
        std::fs::write(src.join("today.log"), b"changed since").unwrap();
        let p = same_into_r_and_p(t.path(), &["-ai", opt, "src/"], |dst| {
            // The destination holds a stale a.txt and an up-to-date b.txt.
            assert_eq!(run("cp", &["-a", "prev", dst], t.path()), 0);
            std::fs::write(t.path().join(dst).join("docs/a.txt"), b"stale").unwrap();
        });
        let b = p.get("docs/old/b.txt");
        match &opt[..6] {
            "--comp" => assert!(b.is_none(), "{p:?}"),
            // prev's copy, r's and p's: one inode.
            "--link" => assert_eq!(b.map(|x| x.2), Some(3)),
            _ => assert_eq!(b.map(|x| x.2), Some(1)),
        }
    }
}

/// `-H` with the alternate directories, and symlinks found there (rsync's hard_link_check and
/// try_dests_non): a hard-link group whose files the alternate directory holds is led by its
/// first member and its other members are not new items; an identical symlink is hard-linked
/// (link-dest), skipped (compare-dest) or made here (copy-dest), quietly at `-i`. Under
/// --compare-dest this used to fail linking to a leader that was never made (exit 23).
#[test]
fn hard_links_and_symlinks_from_alternate_dirs() {
    for opt in [
        "--link-dest=../prev",
        "--compare-dest=../prev",
        "--copy-dest=../prev",
    ] {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir(&src).unwrap();
        std::fs::write(src.join("a"), b"linked\n").unwrap();
        std::fs::hard_link(src.join("a"), src.join("b")).unwrap();
        std::fs::write(src.join("c"), b"plain\n").unwrap();
        std::os::unix::fs::symlink("c", src.join("l")).unwrap();
        assert_eq!(run("rsync", &["-aH", "src/", "prev/"], t.path()), 0);
        same_into_r_and_p(t.path(), &["-aHi", opt, "src/"], |_| {});
        let ino = |p: &str| std::fs::symlink_metadata(t.path().join(p)).map(|m| m.ino());
        match &opt[..6] {
            "--link" => {
                assert_eq!(
                    ino("p/l").unwrap(),
                    ino("prev/l").unwrap(),
                    "{opt}: symlink"
                );
                assert_eq!(ino("p/b").unwrap(), ino("prev/a").unwrap(), "{opt}: group");
            }
            "--comp" => assert!(ino("p/l").is_err() && ino("p/b").is_err(), "{opt}"),
            _ => assert_eq!(ino("p/a").unwrap(), ino("p/b").unwrap(), "{opt}: group"),
        }
    }
}

/// With `-c` the quick check ignores times, but an exact alternate copy must have the right
/// time as well (rsync's unchanged_attrs): an alternate file with the same bytes and an older
/// time is no link target; the destination keeps its file and gets the sender's time.
#[test]
fn checksum_alternate_match_needs_the_time_too() {
    for opt in ["--link-dest=../prev", "--compare-dest=../prev"] {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        day(&src, 2);
        assert_eq!(run("rsync", &["-a", "src/", "prev/"], t.path()), 0);
        let old = filetime::FileTime::from_unix_time(1_500_000_000, 0);
        filetime::set_file_mtime(t.path().join("prev/docs/a.txt"), old).unwrap();
        same_into_r_and_p(t.path(), &["-ai", "-c", opt, "src/"], |dst| {
            assert_eq!(run("cp", &["-a", "prev", dst], t.path()), 0);
        });
        let m = std::fs::metadata(t.path().join("p/docs/a.txt")).unwrap();
        assert_eq!((m.mtime(), m.nlink()), (1_600_000_000, 1), "{opt}");
    }
}

/// What rsync prints for items found in an alternate directory (generator.c try_dests_reg,
/// try_dests_non), and compare-dest's local copy of a file that only passes the quick check:
/// `-ii` shows exact matches as `hf`/`.f`/`cf`, `hL`/`.L`/`cL`, `cd` with blank attributes,
/// `-vv` says "X is uptodate" for them (a new destination directory's `./` included), and a
/// match whose attributes differ is copied here as a local change (`cf...p.....`).
#[test]
fn alternate_dir_items_are_itemized_as_rsync() {
    use crate::util::{mask_sorted, Cmp, Tree, Twin};
    let t = Twin::new(|w| {
        let mut tr = Tree::new(w);
        tr.file("src/a", b"perms differ\n")
            .file("src/b", b"exact\n")
            .file("src/c", b"only in src\n")
            .symlink("src/l", "b")
            .symlink("src/l2", "b")
            .dir("src/dd")
            .dir("dst");
        tr.finish();
        assert_eq!(run("rsync", &["-a", "src/", "alt/"], w), 0);
        // A link whose target changed since: itemized against the old one (cLc).
        std::fs::remove_file(w.join("alt/l2")).unwrap();
        std::os::unix::fs::symlink("c", w.join("alt/l2")).unwrap();
        std::fs::remove_file(w.join("alt/c")).unwrap();
        std::fs::set_permissions(
            w.join("alt/a"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
    });
    for kind in ["--compare-dest", "--link-dest", "--copy-dest"] {
        for v in ["-aii", "-avv", "-ai", "-av", "-avvi", "-ai --stats"] {
            let v: Vec<&str> = v.split(' ').collect();
            let alt = format!("{kind}=../../alt");
            let mut args = v.clone();
            args.extend([alt.as_str(), "src/", "dst/new/"]);
            let pair = t.run(&args);
            pair.r.expect(0, &format!("rsync {args:?}"));
            pair.assert_same_by(&format!("{args:?}"), mask_sorted);
            t.assert_trees("dst/new", Cmp::ALL);
            for ws in [&t.r, &t.p] {
                std::fs::remove_dir_all(ws.join("dst/new")).unwrap();
            }
        }
    }
    // A DIR that is not there, or no directory, is warned about (main.c
    // check_alt_basis_dirs) and the run goes on.
    for bad in ["--link-dest=../nowhere", "--compare-dest=../src/b"] {
        let pair = t.run(&["-a", bad, "src/", "dst/"]);
        pair.r.expect(0, "rsync");
        assert!(pair.r.stderr.contains(" arg "), "{}", pair.r);
        pair.assert_same(bad);
    }
}
