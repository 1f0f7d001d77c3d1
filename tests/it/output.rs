//! Output formats compared line for line with rsync (rsync-cli.md §4): `-i` (§4.5), `-v` (§4.2),
//! `--stats` (§4.3), `--out-format` (§4.6) and `--list-only` (§4.7), over a fresh copy and over a
//! diverged destination (new, changed, deleted, symlink, dir, perms-only and times-only items), real
//! and dry runs, locally and pushed/pulled over ssh. Only timings and protocol byte counts are masked.

use crate::util::*;

/// Output options exercised by every scenario.
const FORMATS: &[&[&str]] = &[
    &["-i"],
    &["-ii"],
    &["-v"],
    &["-vi"],
    &["--stats"],
    &["--stats", "-h"],
    &["--stats", "--no-h"],
    &["--out-format=%i %n%L %l"],
    &["--out-format=%n %M %B %U:%G %l"],
];

/// Run `rsync -a FORMAT extra… src/ dst/` (and parasync) in fresh workspaces built by `setup`.
fn check(setup: fn(&std::path::Path), extra: &[&str], masker: fn(&str) -> String) {
    check_cmp(setup, extra, masker, Cmp::ALL)
}

/// As [`check`], comparing the destinations under `cmp`.
fn check_cmp(setup: fn(&std::path::Path), extra: &[&str], masker: fn(&str) -> String, cmp: Cmp) {
    for fmt in FORMATS {
        let t = Twin::new(setup);
        let mut a = vec!["-a"];
        a.extend_from_slice(fmt);
        a.extend_from_slice(extra);
        a.extend_from_slice(&["src/", "dst/"]);
        t.run(&a).assert_same_by(&format!("{a:?}"), masker);
        if !extra.contains(&"-n") {
            t.assert_trees("dst", cmp);
        }
    }
}

fn standard(w: &std::path::Path) {
    standard_tree(&w.join("src"))
}

#[test]
fn fresh_copy() {
    check(standard, &[], mask);
}

#[test]
fn diverged_destination() {
    check(changed_tree, &[], mask);
}

#[test]
fn diverged_destination_with_delete() {
    check(changed_tree, &["--delete"], mask);
}

#[test]
fn diverged_destination_dry_run() {
    check(changed_tree, &["-n", "--delete"], mask);
}

#[test]
fn checksum_and_no_times() {
    check(changed_tree, &["-c"], mask);
    // Without -t transferred items get the current time (itemized `T`).
    check_cmp(changed_tree, &["--no-t"], mask, Cmp::ALL.no_times());
    check(changed_tree, &["--no-p"], mask);
}

#[test]
fn sender_side_escapes() {
    // Locally rsync logs items on its sender: %o is "send" and %f the source path ("src/a.txt").
    // (%b counts protocol bytes, which differ by design, so it is not compared.)
    let t = Twin::new(standard);
    t.same(&["-a", "--out-format=%o %f %n", "src/", "dst/"]);
}

#[test]
fn list_only() {
    let t = Twin::standard();
    for args in [
        &["--list-only", "src/"][..],
        &["--list-only", "-r", "src/"],
        &["-a", "--list-only", "src"],
        &["src/"],
        &["-a", "src/sub/"],
        &["--list-only", "--no-h", "-r", "src/"],
        &["--list-only", "-hh", "-r", "src/"],
        &["--list-only", "src/a.txt", "src/big.bin"],
        // -vv: the generator's "delta-transmission …" and the sender's "total: matches=…"
        // lines print in a listing too.
        &["--list-only", "-vv", "-r", "src/"],
        &["-vv", "-r", "src/"],
        &["--list-only", "-vv", "-r", "src/", "dst/"],
    ] {
        t.same(args).p.expect(0, "list");
    }
}

#[test]
fn over_ssh() {
    let s = crate::need_sshd!();
    let w = s.wrapper.to_str().unwrap();
    for (setup, dir) in [
        (standard as fn(&std::path::Path), "push"),
        (changed_tree, "push"),
        (changed_tree, "pull"),
    ] {
        for fmt in [
            &["-i"][..],
            &["-v"],
            &["--stats"],
            &["--out-format=%i %n%L %l"],
            &["-i", "-n", "--delete"],
        ] {
            let t = Twin::new(setup);
            let mut a = vec!["-a"];
            a.extend_from_slice(fmt);
            a.extend_from_slice(&push_pull(dir == "push"));
            t.run_with(&a, &["-e", w], &["-e", w, "--rsync-path={BIN}"])
                .assert_same_by(&format!("{a:?}"), mask_delta);
        }
    }
    let t = Twin::standard();
    t.run_with(
        &["--list-only", "-r", "127.0.0.1:{WS}/src/"],
        &["-e", w],
        &["-e", w, "--rsync-path={BIN}"],
    )
    .assert_same("remote list");
}

/// `-vv --delete-after`: the sender's "total: matches=…" comes before the after-pass's
/// deletions whichever side the sender runs on (rsync's sender prints it at its end of files;
/// parasync's receiver asks for it there, `Msg::Tally`). The match counts are the engine's, and
/// rsync's "is uptodate" notes race with its item lines, so those two are masked.
#[test]
fn vv_totals_precede_after_deletions_over_ssh() {
    let s = crate::need_sshd!();
    let w = s.wrapper.to_str().unwrap();
    let m = |s: &str| {
        mask(s)
            .lines()
            .filter(|l| !l.ends_with(" is uptodate"))
            .map(|l| {
                if l.starts_with("total: matches=") {
                    mask_digits(l)
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    for push in [true, false] {
        for when in ["--delete-after", "--delete-delay"] {
            let t = Twin::new(changed_tree);
            let mut a = vec!["-avv", when];
            a.extend_from_slice(&push_pull(push));
            let p = t.run_with(&a, &["-e", w], &["-e", w, "--rsync-path={BIN}"]);
            let out = &p.p.stdout;
            let (total, del) = (out.find("total: matches="), out.find("deleting extra_file"));
            assert!(total.is_some() && total < del, "{a:?}: {out}");
            p.assert_same_by(&format!("{a:?}"), m);
        }
    }
}

/// `parasync -av src/ dst/ | head -1`: rsync keeps going when its stdout is closed (SIGPIPE is
/// ignored, write errors on the output are dropped) and exits 0 with the transfer complete; so
/// does parasync, for item lines, the summary and `--list-only` rows alike.
#[test]
fn closed_stdout_is_not_an_error() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    // Well over a pipe buffer (64 KiB) of item lines.
    for i in 0..3000 {
        let name = format!("a-fairly-long-file-name-to-fill-the-pipe-{i:05}");
        std::fs::write(src.join(name), b"x").unwrap();
    }
    for args in [
        &["-av", "--stats", "src/", "dst/"][..],
        &["--list-only", "-r", "src/"],
    ] {
        let mut child = Command::new(bin())
            .args(args)
            .current_dir(tmp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        // The reader is gone now (as `head -1` exits).
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
        assert!(!first.is_empty(), "{args:?}");
    }
    assert_eq!(
        std::fs::read_dir(tmp.path().join("dst")).unwrap().count(),
        3000
    );
}

/// Names with control bytes, a tab, DEL, "\#", UTF-8 and invalid UTF-8, with and without `-8`:
/// rsync escapes control bytes except the tab, leaves DEL, and with `-8` prints bytes that are not
/// UTF-8 as they are.
#[test]
fn name_escaping_and_8_bit() {
    fn odd_names(w: &std::path::Path) {
        let mut t = Tree::new(&w.join("src"));
        for n in [
            &b"tab\tname"[..],
            b"del\x7fname",
            b"back\\#slash",
            b"esc\x1bname",
            "caf\u{e9}".as_bytes(),
            b"bad\xffname",
            b"new\nline",
        ] {
            t.file(n, b"x");
        }
        t.finish();
    }
    for args in [
        &["-av", "src/", "dst/"][..],
        &["-av8", "src/", "dst/"],
        &["-ai8", "src/", "dst/"],
        &["--list-only", "-r", "-8", "src/"],
        &["--list-only", "-r", "src/"],
    ] {
        let t = Twin::new(odd_names);
        let pair = t.run(args);
        assert_eq!(pair.r.code, pair.p.code, "{args:?}");
        // Compared as bytes: -8 output is not UTF-8.
        assert_eq!(
            mask(&pair.r.stdout),
            mask(&pair.p.stdout),
            "{args:?}\n{}\n{}",
            pair.r,
            pair.p
        );
    }
}

/// `%b` (and `%c`) count a transferred file's bytes, as rsync's do once the file is done: the
/// lines come in rsync's order, with a count for every transfer and 0 for items that moved no
/// data. The counts themselves are each protocol's own, so only their presence is compared.
#[test]
fn byte_counts_in_out_format() {
    fn counts(s: &str) -> String {
        mask_delta(s)
            .lines()
            .map(|l| match l.rsplit_once('|') {
                Some((head, n)) if n.chars().all(|c| c.is_ascii_digit() || c == ',') => {
                    format!("{head}|{}", if n == "0" { "0" } else { "N" })
                }
                _ => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
    for extra in [&["--delete"][..], &["-v", "--stats", "--no-W"]] {
        let t = Twin::new(changed_tree);
        let mut a = vec!["-a", "--out-format=%i|%n|%b"];
        a.extend_from_slice(extra);
        a.extend_from_slice(&["src/", "dst/"]);
        let pair = t.run(&a);
        pair.assert_same_by(&format!("{a:?}"), counts);
        // A real count, not a placeholder: big.bin goes whole (a local copy), or as a delta
        // far below its 300,000 bytes.
        let big = pair
            .p
            .stdout
            .lines()
            .find(|l| l.contains("|big.bin|"))
            .unwrap();
        let n: u64 = big.rsplit('|').next().unwrap().parse().unwrap();
        if extra.contains(&"--no-W") {
            assert!(n > 100 && n < 300_000, "{big}");
        } else {
            assert!((300_000..310_000).contains(&n), "{big}");
        }
    }
}

/// Every run of digits as one `#`.
fn mask_digits(l: &str) -> String {
    let mut out = String::new();
    for c in l.chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('#') {
            out.push('#');
        }
    }
    out
}
