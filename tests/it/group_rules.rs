//! Rules a randomized run of rsync and parasync on the same trees found apart, each now
//! compared with the installed rsync: hard-link groups under the transfer rules (`--existing`,
//! `--min-size`, `--backup`, `--remove-source-files`), the order of the existence rules and the
//! "skipping non-regular file" note, `-E` with an alternate dir, the mode a new file takes from
//! the basis it is made of without `-p`, `--inplace` files that are new, and how often a
//! directory that keeps backups of its deleted files is "non-empty".

use crate::util::*;
use std::path::Path;

/// A group of three names for one file in `src`, two of them (changed) in `dst`, plus a plain
/// file, a symlink, a file a symlink stands in for in `dst`, and the alternate dir `alt` with
/// the group and a copy of `z.txt` that differs in mode.
fn groups(w: &Path) {
    let mut t = Tree::new(w);
    t.file("src/a", b"shared\n")
        .hardlink("src/d/b", "src/a")
        .hardlink("src/c", "src/a")
        .file("src/plain", b"plain\n")
        .file("src/fuzzy.txt", b"")
        .mode("src/fuzzy.txt", 0o755)
        .file("src/z.txt", b"z\n")
        .symlink("src/link", "plain")
        .file("dst/a", b"old a\n")
        .file("dst/d/b", b"old b\n")
        .file("dst/fuzzy.tmp", b"similar\n")
        .mode("dst/fuzzy.tmp", 0o640)
        .symlink("dst/link", "elsewhere")
        .file("alt/z.txt", b"z\n")
        .mode("alt/z.txt", 0o600)
        // The group as it is, in the alternate dir too.
        .file("alt/a", b"shared\n")
        .hardlink("alt/d/b", "alt/a")
        .hardlink("alt/c", "alt/a")
        // A file whose place a symlink holds.
        .file("src/small", b"s\n")
        .symlink("dst/small", "x");
    for n in ["a", "d/b", "c"] {
        for top in ["src", "alt"] {
            t.mtime(format!("{top}/{n}"), 1_650_000_000, 0);
        }
    }
    t.finish();
}

/// Run `args` (with `{WS}` for the workspace) on both and compare output, exit code, the
/// destination, the sources and the backups.
fn same_everywhere(t: &Twin, args: &[&str]) {
    let pair = t.run(args);
    pair.assert_same_by(&format!("{args:?}"), mask_sorted);
    // Without -t the files have the time of the run.
    let cmp = if args[0].starts_with("-r") && !args[0].contains('t') || args.contains(&"--no-t") {
        Cmp::ALL.no_root().no_times()
    } else {
        Cmp::ALL.no_root()
    };
    t.assert_trees("dst", cmp);
    t.assert_trees("src", Cmp::ALL.no_root().no_times());
    if t.r.join("bk").exists() || t.p.join("bk").exists() {
        t.assert_trees("bk", Cmp::ALL.no_root().no_times());
    }
}

#[test]
fn hard_link_groups_under_the_transfer_rules() {
    for args in [
        // A member that is not there is not made, not even as a link.
        &["-aHi", "--existing", "src/", "dst/"][..],
        // A group whose members are all under the limit is skipped: none is linked to a file
        // that was not updated.
        &["-aHi", "-I", "--min-size=100", "src/", "dst/"],
        // Each replaced member is backed up.
        &["-aHi", "--backup-dir={WS}/bk", "src/", "dst/"],
        // Members linked in place count as delivered: their sources go.
        &["-aHi", "--remove-source-files", "src/", "dst/"],
        // --compare-dest takes the leader away: no member is linked to it.
        &["-aHi", "--compare-dest=../alt", "src/", "dst/"],
        // Without -t a member linked anew shows `T` (log.c itemize: a local change with its
        // target named), one already linked does not.
        &["-aHi", "--no-t", "src/", "dst/"],
    ] {
        let t = Twin::new(groups);
        same_everywhere(&t, args);
    }
    // --append leaves a longer destination file alone: it cannot lead, the next member does
    // (the others were linked to that file, with its content).
    let t = Twin::new(|w| {
        groups(w);
        std::fs::write(w.join("dst/a"), b"longer than the source\n").unwrap();
        let t = filetime::FileTime::from_unix_time(1_600_000_000, 0);
        filetime::set_file_mtime(w.join("dst/a"), t).unwrap();
    });
    same_everywhere(&t, &["-aHi", "--size-only", "--append", "src/", "dst/"]);
}

#[test]
fn existence_rules_come_before_the_type_note() {
    for args in [
        &["-ri", "--ignore-existing", "src/", "dst/"][..],
        &["-rvv", "--existing", "src/", "dst/"],
        &["-ri", "--existing", "--max-size=1", "src/", "dst/"],
    ] {
        let t = Twin::new(groups);
        same_everywhere(&t, args);
    }
}

#[test]
fn modes_without_p_come_from_the_basis() {
    for args in [
        // A new file made from a fuzzy match keeps that file's mode (receiver.c dest_mode).
        &["-rti", "--fuzzy", "src/", "dst/"][..],
        // -E: an alternate copy that is not executable is no exact match.
        &["-rtEi", "--compare-dest=../alt", "src/", "dst/"],
        // Made from an alternate dir: with --remove-source-files that is a delivery.
        &[
            "-ai",
            "--copy-dest=../alt",
            "--remove-source-files",
            "src/",
            "dst/",
        ],
        &[
            "-ai",
            "--compare-dest=../alt",
            "--remove-source-files",
            "src/",
            "dst/",
        ],
        // --inplace: a new file gets the mode a new file gets, and the time of its writing.
        &["-r", "--inplace", "src/", "dst/"],
    ] {
        let t = Twin::new(groups);
        same_everywhere(&t, args);
        if args.contains(&"--inplace") {
            use std::os::unix::fs::MetadataExt;
            let m = std::fs::metadata(t.p.join("dst/fuzzy.txt")).unwrap();
            assert!(
                m.mtime() > 1_700_000_000,
                "an empty in-place file got {}",
                m.mtime()
            );
        }
    }
}

/// Deleting a directory tree with `-b`: the files become backups beside themselves, so each
/// directory stays; a nested one is named once (its rmdir fails), not twice as a directory whose
/// contents could not go.
#[test]
fn deleted_trees_with_backups_are_named_once() {
    let t = Twin::new(|w| {
        let mut tr = Tree::new(w);
        tr.file("src/keep", b"k\n")
            .file("dst/gone/a", b"a\n")
            .file("dst/gone/deeper/b", b"b\n")
            .file("dst/gone/deeper/deepest/c", b"c\n");
        tr.finish();
    });
    same_everywhere(&t, &["-rv", "--delete", "-b", "src/", "dst/"]);
}
