//! `--streams N` over the test sshd (see the `streams` module doc): helper sessions on one OpenSSH
//! master connection give rsync's tree, item lines and exit codes, the same `--stats` data lines
//! as one stream, correct `--delete`, hard links and directory times; the control directory is
//! gone afterwards; a remote shell that is not OpenSSH, or a local transfer, falls back to one
//! stream with a warning.

use crate::sshd::Sshd;
use crate::util::*;
use std::path::{Path, PathBuf};

/// Enough files that every helper gets some: small files in three directories, a larger file
/// each, a hard-link pair, a symlink, an empty directory; the destination is a diverged earlier
/// copy (changed, missing and extraneous entries, a large file with a small edit).
fn many_files(w: &Path) {
    let mut t = Tree::new(&w.join("src"));
    for d in 0..3u64 {
        for f in 0..40u64 {
            let data = pseudo_random(d * 100 + f, 100 + 37 * f as usize);
            t.file(format!("d{d}/s{f:02}.txt"), &data);
        }
        t.file(format!("d{d}/big.bin"), &pseudo_random(d + 7, 300_000));
    }
    t.file("top.txt", b"top\n")
        .hardlink("d1/hard", "top.txt")
        .symlink("link", "top.txt")
        .dir("empty/inner");
    t.finish();
    let mut old = pseudo_random(9, 300_000);
    old[150_000..150_100].copy_from_slice(&[0u8; 100]);
    let mut t = Tree::new(&w.join("dst"));
    for f in 0..20u64 {
        t.file(format!("d0/s{f:02}.txt"), b"old\n");
    }
    t.file("d2/big.bin", &old)
        .mtime("d2/big.bin", 1_600_000_000, 0)
        .file("gone/x.txt", b"x\n")
        .file("d1/extra.txt", b"e\n");
    t.finish();
}

/// A `--rsync-path` that records each remote start in `log`, then runs the built binary.
fn counting_path(dir: &Path) -> (String, PathBuf) {
    let log = dir.join("starts.log");
    let script = dir.join("counting-parasync");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho start >> {}\nexec {} \"$@\"\n",
            log.display(),
            bin().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    (format!("--rsync-path={}", script.display()), log)
}

fn starts(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .count()
}

/// Against rsync: same item lines and tree; several remote halves were started. (-H with
/// --delete orders a few lines differently from rsync in one stream too; the comparison of one
/// stream with several covers it.)
fn same_as_rsync(s: &Sshd, push: bool) {
    // A deletion inside a subdirectory is itemized at another place than rsync's in one stream
    // too; `gone/` still covers --delete here, the comparison with one stream covers the rest.
    let t = Twin::new(|w| {
        many_files(w);
        std::fs::remove_file(w.join("dst/d1/extra.txt")).unwrap();
    });
    let w = s.wrapper.to_str().unwrap();
    let (path, log) = counting_path(&t.p);
    let [from, to] = push_pull(push);
    let args = ["-ai", "--delete", "--stats", from, to];
    let pair = t.run_with(&args, &["-e", w], &["-e", w, &path, "--streams", "4"]);
    pair.assert_same_by(&format!("--streams 4 {args:?}"), mask_delta);
    pair.p.expect(0, "streams");
    t.assert_trees("dst", Cmp::ALL.no_hardlinks());
    assert!(starts(&log) >= 2, "helper sessions were started");
}

#[test]
fn push_with_four_streams_matches_rsync() {
    let s = crate::need_sshd!();
    same_as_rsync(s, true);
}

#[test]
fn pull_with_four_streams_matches_rsync() {
    let s = crate::need_sshd!();
    same_as_rsync(s, false);
}

/// parasync (not rsync) in workspace `ws` with `--streams n`, over the test sshd.
fn para(s: &Sshd, ws: &Path, path: &str, n: &str, args: &[&str]) -> Out {
    let w = s.wrapper.to_str().unwrap();
    let a: Vec<String> = ["-e", w, path, "--streams", n]
        .iter()
        .chain(args)
        .map(|x| {
            x.replace("{WS}", ws.to_str().unwrap())
                .replace("{BIN}", bin().to_str().unwrap())
        })
        .collect();
    let o = run(bin(), &a, ws);
    let w = ws.to_str().unwrap();
    Out {
        stdout: o.stdout.replace(w, "WS"),
        stderr: o.stderr.replace(w, "WS"),
        code: o.code,
    }
}

/// parasync with `--streams 1` and `--streams N` in two identical workspaces: identical output
/// (data figures of --stats included; only wire byte counts and timings are masked) and trees,
/// hard links included.
#[test]
fn streams_report_what_one_stream_reports() {
    let s = crate::need_sshd!();
    for push in [true, false] {
        let t = Twin::new(many_files);
        let [from, to] = push_pull(push);
        let out = |ws: &Path, n: &str| {
            let args = ["-aiH", "--delete", "--stats", from, to];
            let o = para(s, ws, "--rsync-path={BIN}", n, &args);
            o.expect(0, n);
            mask(&o.stdout)
        };
        let (one, three) = (out(&t.r, "1"), out(&t.p, "3"));
        assert!(
            one == three,
            "push={push}: --streams 3 differs from one stream\n{}",
            diff(&one, &three)
        );
        assert!(one.contains("Number of regular files transferred"));
        t.assert_trees("dst", Cmp::ALL);
        t.assert_trees("src", Cmp::ALL);
    }
}

/// An out-format with byte counts holds a transfer's line until its file is done; files that
/// other sessions wrote still get their lines, the same lines as with one stream (counts
/// aside).
#[test]
fn streams_keep_every_line_of_a_byte_count_format() {
    let s = crate::need_sshd!();
    let t = Twin::new(many_files);
    let [from, to] = push_pull(true);
    let names = |ws: &Path, n: &str| {
        let args = ["-a", "--out-format=%n|%b", from, to];
        let o = para(s, ws, "--rsync-path={BIN}", n, &args);
        o.expect(0, n);
        let mut v: Vec<String> = o
            .stdout
            .lines()
            .map(|l| l.rsplit_once('|').map_or(l, |x| x.0).to_string())
            .collect();
        v.sort();
        v
    };
    let (one, three) = (names(&t.r, "1"), names(&t.p, "3"));
    assert!(one.len() > 10, "{one:?}");
    assert_eq!(one, three);
}

/// Files that cannot be read (the remote sender runs as nobody): exit 23 and the same output as
/// one stream, whichever session met them (such a file is not named, as in rsync).
#[test]
fn failing_files_keep_the_exit_code() {
    let s = crate::need_sshd!();
    if !is_root() || !Path::new("/usr/bin/setpriv").exists() {
        eprintln!("note: needs root and setpriv; skipped");
        return;
    }
    let t = Twin::new(|w| {
        many_files(w);
        // New files only: an unreadable file with a basis ends the run with exit 12 in one
        // stream as well (the receiver's engine messages reach a sender that dropped the file).
        for d in 1..3 {
            for f in [3, 17, 29] {
                let p = w.join(format!("src/d{d}/s{f:02}.txt"));
                std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o000))
                    .unwrap();
            }
        }
    });
    let nobody = format!(
        "--rsync-path=setpriv --reuid=65534 --regid=65534 --clear-groups {}",
        bin().display()
    );
    let args = ["-rtv", "--delete", "127.0.0.1:{WS}/src/", "dst/"];
    let one = para(s, &t.r, &nobody, "1", &args);
    let four = para(s, &t.p, &nobody, "4", &args);
    one.expect(23, "one stream");
    four.expect(23, "four streams");
    assert!(!one.stdout.contains("d1/s03.txt"), "{one}");
    assert_eq!(mask(&one.stdout), mask(&four.stdout));
    // Errors of different sessions may interleave differently: compare them as sets.
    let (e1, _) = split_lines(&mask(&one.stderr), "rsync: ");
    let (e4, _) = split_lines(&mask(&four.stderr), "rsync: ");
    assert_eq!(e1, e4);
    assert_eq!(e4.len(), 6, "{four}");
    t.assert_trees("dst", Cmp::ALL);
}

fn control_dirs(tmp: &Path) -> Vec<String> {
    std::fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("parasync-cm-"))
        .collect()
}

/// The master's private directory is gone after a run, a failed run included.
#[test]
fn control_directory_is_removed() {
    let s = crate::need_sshd!();
    let t = Twin::new(many_files);
    let tmp = t.p.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let w = s.wrapper.to_str().unwrap();
    let go = |args: &[&str]| {
        let mut cmd = std::process::Command::new(bin());
        cmd.env("TMPDIR", &tmp)
            .args(["-e", w, &format!("--rsync-path={}", bin().display())])
            .args(["--streams", "3"])
            .args(args)
            .current_dir(&t.p);
        run_cmd(cmd)
    };
    let dst = format!("127.0.0.1:{}/dst/", t.p.display());
    go(&["-a", "src/", &dst]).expect(0, "push");
    assert_eq!(control_dirs(&tmp), Vec::<String>::new());
    let missing = format!("127.0.0.1:{}/nosuch/", t.p.display());
    let o = go(&["-a", &missing, "dst2/"]);
    assert_eq!(o.code, 23, "{o}");
    assert_eq!(control_dirs(&tmp), Vec::<String>::new());
}

/// `-e` that is not OpenSSH, and a local transfer: a warning, one stream, the same result.
#[test]
fn without_openssh_one_stream_with_a_warning() {
    let s = crate::need_sshd!();
    let t = Twin::new(many_files);
    // A remote shell of another kind: runs the command through the OpenSSH wrapper but answers
    // `-V` itself, as rsh or a custom transport would.
    let rsh = t.p.join("other-rsh");
    std::fs::write(
        &rsh,
        format!(
            "#!/bin/sh\n[ \"$1\" = -V ] && {{ echo 'other-rsh 1.0' >&2; exit 0; }}\nexec {} \"$@\"\n",
            s.wrapper.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&rsh, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (path, log) = counting_path(&t.p);
    let dst = format!("127.0.0.1:{}/dst/", t.p.display());
    let args = ["-e", rsh.to_str().unwrap(), &path, "--streams", "4"];
    let o = run(
        bin(),
        [&args[..], &["-aH", "--delete", "src/", &dst]].concat(),
        &t.p,
    );
    o.expect(0, "other rsh");
    assert_eq!(
        o.stderr,
        "parasync: warning: --streams needs OpenSSH to a remote host (the remote shell (-e) is not OpenSSH); using one stream\n"
    );
    assert_eq!(starts(&log), 1, "one session only");
    assert_same_tree(&t.p.join("src"), &t.p.join("dst"), Cmp::ALL.no_root());
    let o = run(bin(), ["--streams", "2", "-aH", "src/", "local/"], &t.p);
    o.expect(0, "local");
    assert!(
        o.stderr
            .contains("(the transfer is local); using one stream"),
        "{o}"
    );
    assert_same_tree(&t.p.join("src"), &t.p.join("local"), Cmp::ALL.no_root());
    // --copy-as: the extra sessions would start as that user, who may not use the connection.
    if is_root() {
        let w = s.wrapper.to_str().unwrap();
        let dst = format!("127.0.0.1:{}/as_root/", t.p.display());
        let args = ["-e", w, &path, "--streams", "3", "--copy-as=root"];
        let o = run(bin(), [&args[..], &["-aH", "src/", &dst]].concat(), &t.p);
        o.expect(0, "--copy-as");
        assert_eq!(
            o.stderr,
            "parasync: warning: --streams does not go with --copy-as; using one stream\n"
        );
        assert_same_tree(&t.p.join("src"), &t.p.join("as_root"), Cmp::ALL.no_root());
    }
}
