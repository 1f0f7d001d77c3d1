//! What happens to items the receiver replaces, keeps or must not create, and to the sources
//! `--remove-source-files` deletes — each against the installed rsync on the same trees:
//! `--remove-source-files` (up-to-date files count as delivered; a dry run removes nothing),
//! `--backup` of a replaced symlink and the `-O` it implies without `--backup-dir`,
//! `--existing` with new symlinks, `-J` on a retargeted link, `%f` of an absolute source, and
//! names the remote shell's C locale would escape printed in the client's UTF-8 locale.

use crate::util::*;
use std::path::Path;

/// [`changed_tree`] plus a symlink and a directory that exist only on the sender.
fn changed_plus_new(w: &Path) {
    changed_tree(w);
    let src = w.join("src");
    std::os::unix::fs::symlink("a.txt", src.join("newlink")).unwrap();
    std::fs::create_dir(src.join("newdir")).unwrap();
    std::fs::write(src.join("newdir/inner"), b"inner\n").unwrap();
    let t = filetime::FileTime::from_unix_time(NEW_TIME, 0);
    filetime::set_symlink_file_times(src.join("newlink"), t, t).unwrap();
    for p in ["newdir/inner", "newdir", ""] {
        filetime::set_file_mtime(src.join(p), t).unwrap();
    }
}

/// The time of the entries [`changed_plus_new`] adds.
const NEW_TIME: i64 = 1_650_000_000;

fn mtime(p: &Path) -> i64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(p).unwrap().mtime()
}

/// How the sources compare after `--remove-source-files` with `extra`.
fn src_cmp(extra: &[&str]) -> Cmp {
    if extra.contains(&"-n") {
        Cmp::ALL
    } else {
        Cmp::ALL.no_times()
    }
}

#[test]
fn remove_source_files_removes_what_was_delivered_and_nothing_in_a_dry_run() {
    for extra in [&["-n"][..], &[]] {
        let t = Twin::new(changed_plus_new);
        let before = snapshot(&t.p.join("src"));
        let mut a = vec!["-ai", "--remove-source-files"];
        a.extend_from_slice(extra);
        a.extend_from_slice(&["src/", "dst/"]);
        t.same(&a);
        // Removing sources changes their directories' times, at each run's own moment.
        t.assert_trees("src", src_cmp(extra));
        t.assert_trees("dst", Cmp::ALL);
        if extra == ["-n"] {
            assert_eq!(
                snapshot(&t.p.join("src")),
                before,
                "a dry run removed sources"
            );
        } else {
            // Up-to-date files went too (rsync's generator acknowledges them).
            assert!(!t.p.join("src/sub/deep/c.txt").exists());
            assert!(!t.p.join("src/exec.sh").exists());
        }
    }
}

#[test]
fn remove_source_files_over_ssh() {
    let s = crate::need_sshd!();
    let w = s.wrapper.to_str().unwrap();
    for dir in ["push", "pull"] {
        for extra in [&["-n"][..], &[]] {
            let t = Twin::new(changed_plus_new);
            let mut a = vec!["-ai", "--remove-source-files"];
            a.extend_from_slice(extra);
            a.extend_from_slice(&push_pull(dir == "push"));
            t.run_with(&a, &["-e", w], &["-e", w, "--rsync-path={BIN}"])
                .assert_same_by(&format!("{a:?}"), mask_delta);
            t.assert_trees("src", src_cmp(extra));
            t.assert_trees("dst", Cmp::ALL);
        }
    }
}

#[test]
fn backups_of_replaced_links_and_implied_omit_dir_times() {
    for extra in [
        &["-b"][..],
        &["-b", "--delete"],
        &["--backup-dir=bk", "--suffix=.old"],
        &["-b", "--existing"],
    ] {
        let t = Twin::new(changed_plus_new);
        let mut a = vec!["-ai"];
        a.extend_from_slice(extra);
        a.extend_from_slice(&["src/", "dst/"]);
        t.same(&a);
        // Directory times are the time of the run here (backups made in them, or -O implied).
        t.assert_trees("dst", Cmp::ALL.no_times());
        // Without --backup-dir rsync leaves directory times alone (-O implied).
        let kept = extra[0].starts_with("--backup-dir");
        for ws in [&t.r, &t.p] {
            if extra.contains(&"--existing") {
                assert!(!ws.join("dst/newdir").exists());
                continue;
            }
            assert_eq!(
                mtime(&ws.join("dst/newdir")) == NEW_TIME,
                kept,
                "{ws:?} {extra:?}"
            );
            assert_eq!(mtime(&ws.join("dst/newdir/inner")), NEW_TIME);
        }
    }
    let t = Twin::new(changed_plus_new);
    t.same(&["-a", "-b", "src/", "dst/"]);
    assert!(t
        .p
        .join("dst/link~")
        .symlink_metadata()
        .unwrap()
        .is_symlink());
}

#[test]
fn existing_creates_no_links_and_omitted_link_times_are_itemized() {
    for extra in [
        &["--existing", "-i"][..],
        &["--existing", "-v", "--info=skip1"],
        &["--existing", "-vv"],
        &["-J", "-i"],
        &["-J", "-i", "--no-t"],
    ] {
        let t = Twin::new(changed_plus_new);
        let mut a = vec!["-a"];
        a.extend_from_slice(extra);
        a.extend_from_slice(&["src/", "dst/"]);
        t.run(&a).assert_same_by(&format!("{a:?}"), mask_sorted);
        let cmp = if extra.contains(&"-J") || extra.contains(&"--no-t") {
            Cmp::ALL.no_times()
        } else {
            Cmp::ALL
        };
        t.assert_trees("dst", cmp);
    }
}

#[test]
fn full_source_names_lose_their_leading_slash() {
    let t = Twin::standard();
    let pair = t.run(&["-a", "--out-format=%f|%n", "{WS}/src/", "dst/"]);
    let strip = |ws: &Path, out: &str| {
        let w = ws.to_str().unwrap().trim_start_matches('/').to_string() + "/";
        assert!(
            out.contains(&w),
            "%f names the source by its full path:\n{out}"
        );
        out.replace(&w, "WS/")
    };
    assert_eq!(pair.r.code, 0);
    assert_eq!(pair.p.code, 0);
    assert_eq!(strip(&t.r, &pair.r.stdout), strip(&t.p, &pair.p.stdout));
    assert!(!pair.p.stdout.lines().any(|l| l.starts_with('/')));
}

#[test]
fn names_print_in_the_clients_locale_whatever_the_remotes() {
    let s = crate::need_sshd!();
    let w = s.wrapper.to_str().unwrap();
    let setup = |ws: &Path| {
        let mut t = Tree::new(&ws.join("src"));
        t.file("\u{fc}n\u{ef}.txt", b"u\n")
            .file("caf\u{e9}/men\u{fc}", b"m\n")
            .file(b"raw\xffbyte".as_slice(), b"r\n")
            .finish();
    };
    // The remote runs in the C locale, the client in a UTF-8 one (and then in C as well).
    for lang in ["C.UTF-8", "C"] {
        let env = ["env", "-u", "LANGUAGE", "LC_ALL=", "LC_CTYPE="];
        let lang_var = format!("LANG={lang}");
        let mut prefix: Vec<&str> = env.to_vec();
        prefix.push(&lang_var);
        for dir in ["push", "pull"] {
            for out in [&["-av"][..], &["-ai", "--out-format=%n %f"]] {
                let t = Twin::new(setup);
                let mut a = out.to_vec();
                a.extend_from_slice(&push_pull(dir == "push"));
                t.run_under(
                    &prefix,
                    &a,
                    &["-e", w, "--rsync-path=env LC_ALL=C LANG=C rsync"],
                    &["-e", w, "--rsync-path=env LC_ALL=C LANG=C {BIN}"],
                )
                .assert_same_by(&format!("LANG={lang} {a:?}"), mask_delta);
            }
        }
    }
}

/// `--backup-dir` as rsync's receiver starts with it (main.c do_recv): `--info=backup` names it
/// ("(new) " when it is to be made) and each "backed up NAME to DIR/NAME" line names it as
/// given; something else in its place ends the run before anything is done (exit 1, or 11 when
/// it cannot be looked at). Locally and as a remote receiver.
#[test]
fn backup_dir_lines_and_checks_match_rsync() {
    let s = crate::need_sshd!();
    for (remote, args) in [
        (
            false,
            &[
                "-ai",
                "--info=backup1",
                "-b",
                "--backup-dir=bk",
                "src/",
                "dst/",
            ][..],
        ),
        (
            false,
            &[
                "-a",
                "--info=backup1",
                "-b",
                "--backup-dir={WS}/abs/",
                "src/",
                "dst/",
            ],
        ),
        (
            false,
            &[
                "-a",
                "--info=backup1",
                "-b",
                "--suffix=.old",
                "src/",
                "dst/",
            ],
        ),
        (
            false,
            &["-a", "-b", "--backup-dir={WS}/src/a.txt", "src/", "dst/"],
        ),
        (
            false,
            &["-a", "-b", "--backup-dir={WS}/src/a.txt/x", "src/", "dst/"],
        ),
        (
            true,
            &[
                "-ai",
                "--info=backup1",
                "-b",
                "--backup-dir=bk",
                "src/",
                "127.0.0.1:{WS}/dst/",
            ],
        ),
    ] {
        let t = Twin::new(changed_tree);
        let pair = if remote {
            t.over_ssh(s, args)
        } else {
            t.run(args)
        };
        // Over ssh the "backed up" lines come in the order the files finish, where rsync's
        // come in list order (README, Known gaps). Locally, where a file's "backed up" line
        // falls among the item lines of the files after it is a race in rsync itself (its
        // receiver prints it when the file is done, its sender prints the next files' names
        // as it sends them; under load a big file finishes after later names are out), so
        // those lines are compared as a set, the item lines in order.
        let local = |s: &str| {
            let (backups, rest) = split_lines(s, "backed up ");
            format!(
                "{}\n--- backups ---\n{}",
                mask(&rest),
                mask(&backups.concat())
            )
        };
        pair.assert_same_by(
            &format!("{args:?}"),
            if remote { mask_sorted } else { local },
        );
        // (Backup directories are made now: their times differ by when.)
        t.assert_trees("dst", Cmp::ALL.no_root().no_times());
    }
    // A remote rsync receiver's message races its exit (sometimes only the code arrives), so
    // here the codes are compared and parasync's lines are checked as they must read.
    let t = Twin::new(changed_tree);
    let args = [
        "-a",
        "-b",
        "--backup-dir={WS}/src/a.txt",
        "src/",
        "127.0.0.1:{WS}/dst/",
    ];
    let pair = t.over_ssh(s, &args);
    assert_eq!(pair.r.code, 1, "{}", pair.r);
    pair.p.expect(1, "backup-dir in the way");
    assert_eq!(
        mask(&pair.p.stderr),
        "The backup-dir is not a directory: WS/src/a.txt\n\
         rsync error: syntax or usage error (code 1) at LOC [Receiver=VER]\n"
    );
    t.assert_trees("dst", Cmp::ALL.no_root());
}

/// Every kind of item (file, directory, empty directory, symlink, fifo) sent where the
/// destination holds each kind, as rsync's generator.c replaces them: a link or special in
/// place of another type is new (`cL+++…`, counted as created), a special in place of a
/// special is a change (`cSc…`); an item in a directory's way is backed up with `--backup`;
/// `--existing` takes a directory in a file's way as existing; a dry run lists what a
/// directory replacing a symlink would hold.
#[test]
fn items_of_every_type_replace_every_type_as_rsync() {
    let kinds = ["f", "d", "e", "l", "p"];
    let make = |root: &Path, name: &str, kind: &str, n: u8| {
        let p = root.join(name);
        match kind {
            "f" => std::fs::write(&p, [b'0' + n; 3]).unwrap(),
            "d" => {
                std::fs::create_dir(&p).unwrap();
                std::fs::write(p.join("in"), b"in").unwrap();
            }
            "e" => std::fs::create_dir(&p).unwrap(),
            "l" => std::os::unix::fs::symlink(format!("target{n}"), &p).unwrap(),
            _ => mkfifo(&p, 0o644),
        }
    };
    for args in [
        &["-rlDi", "--stats"][..],
        &["-rlDit", "--existing"],
        &["-rlDi", "-b", "--info=backup"],
        &["-rlDi", "--backup-dir=BK"],
        &["-rlDi", "-n"],
    ] {
        let t = Twin::new(|w| {
            let (src, dst) = (w.join("src"), w.join("dst"));
            std::fs::create_dir_all(&src).unwrap();
            std::fs::create_dir_all(&dst).unwrap();
            for s in kinds {
                for d in kinds {
                    make(&src, &format!("{s}{d}"), s, 1);
                    make(&dst, &format!("{s}{d}"), d, 2);
                }
            }
            let tm = filetime::FileTime::from_unix_time(1_600_000_000, 0);
            for root in [&src, &dst] {
                for ent in std::fs::read_dir(root).unwrap() {
                    filetime::set_symlink_file_times(ent.unwrap().path(), tm, tm).unwrap();
                }
            }
        });
        let mut all = args.to_vec();
        all.extend(["src/", "dst/"]);
        // rsync's generator says "backed up" for an item in a directory's way as it passes
        // the parent's list, parasync where the directory's own line is (README): those lines
        // are compared as a set, the rest in order.
        let split = |s: &str| {
            let (backups, rest) = split_lines(s, "backed up ");
            format!("{}\n--- backups ---\n{}", mask(&rest), backups.concat())
        };
        t.run(&all).assert_same_by(&format!("{args:?}"), split);
        t.assert_trees("dst", Cmp::ALL.no_root().no_times());
    }
}
