//! `--delay-updates`, `--append` and `--append-verify` against the installed rsync: the same
//! command on the same trees gives the same files, metadata, item lines and exit code, locally and
//! over the test sshd.

use crate::util::*;
use std::path::Path;

/// Destination files shorter, longer, equal and with a wrong prefix, so every `--append` rule
/// shows up: only files longer on the sender grow; nothing else is touched.
fn append_tree(w: &Path) {
    let (src, dst) = (w.join("src"), w.join("dst"));
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::create_dir_all(dst.join("sub")).unwrap();
    let big = pseudo_random(7, 300_000);
    for (name, s, d) in [
        ("grow", &b"hello world\n"[..], Some(&b"hello"[..])),
        ("shorter_src", b"short", Some(b"longer content")),
        ("bad_prefix", b"hello world\n", Some(b"XXXXX")),
        ("same_size", b"same", Some(b"SAME")),
        ("sub/new", b"new\n", None),
        ("big", &big[..], Some(&big[..100_000])),
    ] {
        std::fs::write(src.join(name), s).unwrap();
        if let Some(d) = d {
            std::fs::write(dst.join(name), d).unwrap();
        }
    }
    let old = filetime::FileTime::from_unix_time(1_577_836_800, 0);
    for p in [
        "grow",
        "shorter_src",
        "bad_prefix",
        "same_size",
        "sub/new",
        "big",
    ] {
        std::fs::set_permissions(
            src.join(p),
            std::os::unix::fs::PermissionsExt::from_mode(0o640),
        )
        .unwrap();
        filetime::set_file_mtime(src.join(p), old).unwrap();
    }
    for d in ["sub", ""] {
        filetime::set_file_mtime(src.join(d), old).unwrap();
    }
    let dst_t = filetime::FileTime::from_unix_time(1_600_000_000, 0);
    for p in [
        "grow",
        "shorter_src",
        "bad_prefix",
        "same_size",
        "big",
        "sub",
    ] {
        filetime::set_file_mtime(dst.join(p), dst_t).unwrap();
    }
}

#[test]
fn append_grows_only_shorter_files() {
    let t = Twin::new(append_tree);
    t.same(&["-ai", "--append", "src/", "dst/"])
        .p
        .expect(0, "append");
    t.assert_trees("dst", Cmp::ALL);
    // The wrong prefix is kept: plain --append never looks at the old data.
    assert_eq!(
        std::fs::read(t.p.join("dst/bad_prefix")).unwrap(),
        b"XXXXX world\n"
    );
    assert_eq!(
        std::fs::read(t.p.join("dst/shorter_src")).unwrap(),
        b"longer content"
    );
}

/// Output lines in order: where rsync prints a redone file's line depends on timing (its redo
/// phase overlaps the rest of the list), so redo tests compare the set of lines.
fn sorted(s: &str) -> String {
    let mut v: Vec<String> = mask(s).lines().map(str::to_string).collect();
    v.sort();
    v.join("\n")
}

#[test]
fn append_verify_redoes_a_file_whose_old_data_differs() {
    let t = Twin::new(append_tree);
    for args in [
        &["-ai", "--append-verify", "src/", "dst/"][..],
        &["-a", "--append-verify", "src/", "dst/"],
    ] {
        let pair = t.run(args);
        pair.assert_same_by(&format!("{args:?}"), sorted);
        pair.p.expect(0, "append-verify");
        t.assert_trees("dst", Cmp::ALL);
        for w in [&t.r, &t.p] {
            std::fs::write(w.join("dst/bad_prefix"), b"XXXXX").unwrap();
        }
    }
    t.run(&["-av", "--append-verify", "src/", "dst/"])
        .assert_same_by("-av --append-verify", sorted);
    t.assert_trees("dst", Cmp::ALL);
    assert_eq!(
        std::fs::read(t.p.join("dst/bad_prefix")).unwrap(),
        b"hello world\n"
    );
}

#[test]
fn append_over_ssh() {
    let s = crate::need_sshd!();
    let t = Twin::new(append_tree);
    let w = s.wrapper.to_str().unwrap();
    let pair = t.run_with(
        &["-ai", "--append-verify", "src/", "127.0.0.1:{WS}/dst/"],
        &["-e", w],
        &["-e", w, "--rsync-path={BIN}"],
    );
    pair.assert_same_by("append-verify push", sorted);
    t.assert_trees("dst", Cmp::ALL);
}

#[test]
fn delay_updates_puts_files_in_place_at_the_end() {
    let t = Twin::new(changed_tree);
    t.same(&["-ai", "--delay-updates", "--delete", "src/", "dst/"])
        .p
        .expect(0, "delay-updates");
    t.assert_trees("dst", Cmp::ALL);
    t.same(&["-ai", "--delay-updates", "src/", "dst/"]);
    // With backups, and with a leftover of an interrupted run in a partial dir: it is the basis
    // of the next transfer and goes away with it.
    let fixed = filetime::FileTime::from_unix_time(1_600_000_000, 0);
    for w in [&t.r, &t.p] {
        std::fs::write(w.join("src/a.txt"), b"changed again\n").unwrap();
        std::fs::create_dir_all(w.join("dst/.~tmp~")).unwrap();
        std::fs::write(w.join("dst/.~tmp~/a.txt"), b"changed ag").unwrap();
        for d in ["src", "dst", "src/a.txt"] {
            filetime::set_file_mtime(w.join(d), fixed).unwrap();
        }
    }
    t.same(&["-aib", "--delay-updates", "--delete", "src/", "dst/"]);
    // Removing the emptied partial dir touches the root afterwards, in both tools.
    t.assert_trees("dst", Cmp::ALL.no_root());
    assert!(!t.p.join("dst/.~tmp~").exists());
    assert_eq!(std::fs::read(t.p.join("dst/a.txt~")).unwrap(), b"HELLO\n");
}

#[test]
fn delay_updates_with_own_partial_dir() {
    let t = Twin::new(changed_tree);
    t.same(&[
        "-ai",
        "--delay-updates",
        "--partial-dir=.part",
        "src/",
        "dst/",
    ]);
    t.assert_trees("dst", Cmp::ALL);
}

#[test]
fn update_mode_conflicts_match_rsync() {
    let t = Twin::standard();
    for bad in [
        &["--append", "--delay-updates"][..],
        &["--inplace", "--delay-updates"],
        &["--append", "--partial-dir=x"],
        &["--append-verify", "-W"],
        &["-N"],
        &["--crtimes"],
    ] {
        let mut a = bad.to_vec();
        a.extend(["-a", "src/", "dst/"]);
        t.same(&a).p.expect(1, "usage error");
    }
}

#[test]
fn delay_updates_over_ssh() {
    let s = crate::need_sshd!();
    let t = Twin::new(changed_tree);
    let w = s.wrapper.to_str().unwrap();
    for dst in ["127.0.0.1:{WS}/dst/", "dst/"] {
        let src = if dst == "dst/" {
            "127.0.0.1:{WS}/src/"
        } else {
            "src/"
        };
        let pair = t.run_with(
            &["-ai", "--delay-updates", "--delete", src, dst],
            &["-e", w],
            &["-e", w, "--rsync-path={BIN}"],
        );
        pair.assert_same_by("delay-updates over ssh", mask_delta);
        t.assert_trees("dst", Cmp::ALL);
        assert!(!t.p.join("dst/.~tmp~").exists());
    }
}
