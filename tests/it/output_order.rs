//! Where lines land, compared with rsync (rsync-cli.md §4.2, §4.5, §1.3.7): deletions in nested
//! directories for every `--delete-*` timing, generator messages (`is uptodate`, `exists`) among
//! the item lines, and `-H` groups (which link is sent, when `a => b` lines appear).
//!
//! rsync's order is partly a race between its generator's out-of-band messages and its buffered
//! item lines: whether the top directory's item lines are flushed before the messages of the
//! directories below depends on whether its sender had sent the next file lists yet. Those lines
//! are compared apart from the others ([`hoist_top_items`]); everything else must be in rsync's
//! order. A case passes when parasync's output equals one of a few rsync runs on fresh copies of
//! the same input.

use crate::util::*;
use std::path::Path;

/// rsync runs tried before parasync's output is declared different from all of them.
const TRIES: usize = 12;

/// Run `args` with parasync once and with rsync until one run's masked output (and exit code)
/// equals parasync's; `setup` builds the workspace.
fn same_as_an_rsync_run(setup: fn(&Path), args: &[&str]) -> Twin {
    let t = Twin::new(setup);
    let pair = t.run(args);
    let norm = |o: &Out| (o.code, hoist_top_items(&mask(&o.stdout)), mask(&o.stderr));
    let p = norm(&pair.p);
    let mut seen = Vec::new();
    let mut r = pair.r;
    for _ in 0..TRIES {
        if norm(&r) == p {
            return t;
        }
        seen.push(r.to_string());
        let again = Twin::new(setup);
        r = run(RSYNC, args, &again.r);
    }
    panic!(
        "{args:?}: no rsync run printed what parasync printed\nparasync:\n{}\nrsync runs:\n{}",
        pair.p,
        seen.join("\n----\n")
    );
}

/// Move the item lines of top-level names (and other lines without a '/' in the name, such as
/// the summary) after the rest, keeping their order: the one place where rsync's own order is a
/// coin toss (see the module doc).
fn hoist_top_items(s: &str) -> String {
    let message = |l: &str| {
        ["*deleting", "deleting ", "cannot delete ", "del. "]
            .iter()
            .any(|p| l.starts_with(p))
            || l.ends_with(" is uptodate")
            || l.ends_with(" exists")
    };
    let top = |l: &str| {
        // An itemized line: 11 flag characters and a space before the name.
        let name = match l.char_indices().nth(11) {
            Some((i, ' ' | '|')) if l[..i].starts_with(['>', '<', 'c', 'h', '.', '*']) => {
                &l[i + 1..]
            }
            _ => l,
        };
        let name = name.split([' ', '|']).next().unwrap_or(name);
        !message(l) && !name.trim_end_matches('/').contains('/')
    };
    let (mut rest, mut hoisted) = (String::new(), String::new());
    for l in s.split_inclusive('\n') {
        if top(l.trim_end_matches('\n')) {
            hoisted.push_str(l);
        } else {
            rest.push_str(l);
        }
    }
    rest + "--- top-level items ---\n" + &hoisted
}

/// A nested tree and a destination with extraneous files at every level, an extraneous
/// directory tree, and new/changed/perms-only/symlink items next to them.
fn nested(w: &Path) {
    let mut s = Tree::new(&w.join("src"));
    for f in ["f1", "a/f2", "a/b/f3", "a/b/c/f4", "x/f5", "x/y/f6", "m/f7"] {
        s.file(f, f.as_bytes());
    }
    s.finish();
    copy_tree(&w.join("src"), &w.join("dst"));
    let mut d = Tree::new(&w.join("dst"));
    for f in ["g0", "a/g1", "a/b/g2", "a/b/c/g3", "x/y/g4", "m/g5"] {
        d.file(f, b"extraneous");
    }
    d.file("a/gone/deep/q", b"1").file("zz/r", b"2");
    d.finish();
    let mut s = Tree::new(&w.join("src"));
    s.file("a/b/new", b"new")
        .file("x/newx", b"new")
        .file("a/f2", b"changed content")
        .mode("f1", 0o600)
        .mode("a/b", 0o700)
        .symlink("sl", "f1")
        .symlink("a/b/sl2", "f2");
    s.finish();
    // Directory times equal on both sides, so only what the run does shows up.
    let mut d = Tree::new(&w.join("dst"));
    d.finish();
}

#[test]
fn deletions_in_nested_directories() {
    for when in [
        "--delete",
        "--delete-before",
        "--delete-during",
        "--delete-delay",
        "--delete-after",
    ] {
        for fmt in [
            &["-i"][..],
            &["-v"],
            &["-ii"],
            &["--out-format=%o %n"],
            &["--out-format=%i|%n|%l|%o|%M|%B|%U"],
        ] {
            for dry in [false, true] {
                let mut a = vec!["-a", when];
                a.extend_from_slice(fmt);
                if dry {
                    a.push("-n");
                }
                a.extend_from_slice(&["src/", "dst/"]);
                let t = same_as_an_rsync_run(nested, &a);
                if !dry {
                    t.assert_trees("dst", Cmp::ALL);
                }
            }
        }
    }
}

#[test]
fn generator_messages_among_items() {
    // `-vv` adds "x is uptodate"; --ignore-existing adds "x exists"; both are rsync generator
    // messages, printed ahead of the item lines still held in its data stream.
    same_as_an_rsync_run(nested, &["-avv", "src/", "dst/"]);
    // -vv names attribute-only changes as generator messages too, and up-to-date links.
    same_as_an_rsync_run(nested, &["-aHvv", "src/", "dst/"]);
    same_as_an_rsync_run(partial_groups, &["-aHvv", "src/", "dst/"]);
    same_as_an_rsync_run(nested, &["-ai", "-vv", "--ignore-existing", "src/", "dst/"]);
    same_as_an_rsync_run(
        nested,
        &["-aii", "--delete", "--max-delete=3", "src/", "dst/"],
    );
}

/// Hard-link groups of every shape: within one directory and across directories, all names new
/// (the last name is sent, the others follow as `a => b` at the end), and a destination holding
/// some names — up to date (it leads at once), changed (it is sent and leads), already linked,
/// separate copies, different permissions — plus extraneous files for the deletion modes.
fn link_groups(w: &Path) {
    let mut s = Tree::new(&w.join("src"));
    s.file("a", b"a")
        .file("hard1", b"h")
        .hardlink("hard2", "hard1")
        .hardlink("d1/h3", "hard1")
        .file("zz", b"z")
        .hardlink("d2/z2", "zz")
        .hardlink("d1/z3", "zz")
        .file("d1/x", b"x")
        .hardlink("d2/x2", "d1/x")
        .file("q1", b"q")
        .hardlink("q2", "q1")
        .hardlink("q3", "q1");
    s.finish();
}

/// The destination already holds part of each group (see [`link_groups`]).
fn partial_groups(w: &Path) {
    link_groups(w);
    copy_tree(&w.join("src"), &w.join("dst"));
    let dst = w.join("dst");
    for gone in ["hard2", "d2/z2", "q3"] {
        std::fs::remove_file(dst.join(gone)).unwrap();
    }
    // q1 and q2 are still one inode, with other content; d1/x and d2/x2 become separate copies.
    std::fs::write(dst.join("q1"), b"other").unwrap();
    std::fs::remove_file(dst.join("d2/x2")).unwrap();
    std::fs::copy(dst.join("d1/x"), dst.join("d2/x2")).unwrap();
    let mut d = Tree::new(&dst);
    d.mode("d2/x2", 0o600)
        .file("extra", b"e")
        .file("d1/extra", b"e");
    d.finish();
}

fn fresh_groups(w: &Path) {
    link_groups(w);
}

#[test]
fn hard_link_groups() {
    for setup in [fresh_groups as fn(&Path), partial_groups] {
        for fmt in [&["-i"][..], &["-ii"], &["-v"], &["--out-format=%i %n%L"]] {
            for extra in [
                &[][..],
                &["-n"],
                &["--delete"],
                &["--delete-after"],
                &["-n", "--delete"],
            ] {
                let mut a = vec!["-aH"];
                a.extend_from_slice(fmt);
                a.extend_from_slice(extra);
                a.extend_from_slice(&["src/", "dst/"]);
                let t = same_as_an_rsync_run(setup, &a);
                if !extra.contains(&"-n") {
                    t.assert_trees("dst", Cmp::ALL);
                }
            }
        }
    }
}

/// `--debug`: DEL2's lines are rsync's (in rsync's order among the deletions); EXIT's line has
/// rsync's shape; every flag of rsync's `--debug=help` is accepted, and parasync's help says
/// which ones print nothing.
#[test]
fn debug_flags() {
    same_as_an_rsync_run(nested, &["-a", "--delete", "--debug=DEL2", "src/", "dst/"]);
    let t = Twin::new(nested);
    let pair = t.run(&["-a", "--debug=EXIT", "src/", "dst/"]);
    let line = |s: &str| {
        s.lines()
            .find(|l| l.contains("_exit_cleanup"))
            .map(|l| {
                let i = l.find("line=").unwrap();
                let j = l[i..].find(')').unwrap();
                format!("{}line=L{}", &l[..i], &l[i + j..])
            })
            .unwrap_or_default()
    };
    assert_eq!(
        line(&pair.r.stdout),
        line(&pair.p.stdout),
        "{}\n{}",
        pair.r,
        pair.p
    );
    assert!(!line(&pair.p.stdout).is_empty());
    let help = run(bin(), ["--debug=help"], &t.p);
    help.expect(0, "--debug=help");
    let rsync_help = run(RSYNC, ["--debug=help"], &t.r);
    for l in rsync_help.stdout.lines() {
        let Some(flag) = l.split_whitespace().next() else {
            continue;
        };
        if flag.chars().all(|c| c.is_ascii_uppercase()) && flag.len() > 1 {
            assert!(
                help.stdout
                    .lines()
                    .any(|h| h.starts_with(&format!("{flag} "))),
                "--debug=help lacks {flag}"
            );
            let p = run(
                bin(),
                ["-a", &format!("--debug={flag}2"), "src/", "x/"],
                &t.p,
            );
            p.expect(0, flag);
        }
    }
    assert!(help.stdout.contains("accepted, prints nothing"));
}

/// A group whose other names come more than rsync's file-list look-ahead later: rsync sends the
/// first name (the last one it knows of) and links the later ones to it.
#[test]
fn hard_links_beyond_the_lookahead() {
    fn far_links(w: &Path) {
        let mut t = Tree::new(&w.join("src"));
        for i in 0..1201 {
            t.file(format!("d1/f{i}"), format!("{i}").as_bytes())
                .file(format!("d2/f{i}"), b"filler");
        }
        for i in 0..1201 {
            t.hardlink(format!("d3/l{i}"), format!("d1/f{i}"));
        }
        t.finish();
    }
    let t = same_as_an_rsync_run(far_links, &["-aHv", "src/", "dst/"]);
    t.assert_trees("dst", Cmp::ALL);
}
