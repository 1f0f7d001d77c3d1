//! Source selection options (`-R`, `/./`, `--no-implied-dirs`, `--files-from`, `-0`, `-d`, `-x`,
//! `--ignore-missing-args`, `--delete-missing-args`) against the installed rsync: the same
//! command runs with both programs on the same tree into two destinations; exit codes, `-v`/`-i`
//! output (transfer figures masked) and the resulting trees (names, types, modes, sizes, content)
//! must be identical. Remote cases go through an rsh wrapper that runs the "remote" command
//! locally, with each program as its own remote side.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

const RSYNC: &str = "/usr/bin/rsync";
const PARASYNC: &str = env!("CARGO_BIN_EXE_parasync");

fn have_rsync() -> bool {
    let ok = Path::new(RSYNC).exists();
    if !ok {
        assert!(std::env::var("CI").is_err(), "rsync missing under CI");
    }
    ok
}

/// src/{a/{z, b/{g, c/f, e/}}, x/y}; a is 0750 and a/b 0705 so implied dirs show their modes.
fn tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let s = t.path().join("src");
    for d in ["a/b/c", "a/b/e", "x"] {
        std::fs::create_dir_all(s.join(d)).unwrap();
    }
    for (f, body) in [
        ("a/z", "z\n"),
        ("a/b/g", "g\n"),
        ("a/b/c/f", "ff\n"),
        ("x/y", "yy\n"),
    ] {
        std::fs::write(s.join(f), body).unwrap();
    }
    for (d, m) in [("a", 0o750), ("a/b", 0o705)] {
        std::fs::set_permissions(s.join(d), std::fs::Permissions::from_mode(m)).unwrap();
    }
    t
}

fn rsh(dir: &Path) -> String {
    let p = dir.join("rsh");
    std::fs::write(&p, "#!/bin/sh\nshift\nexec sh -c \"$*\"\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.to_str().unwrap().to_string()
}

#[derive(Debug, PartialEq)]
struct Outcome {
    code: i32,
    stdout: Vec<String>,
    /// `rsync: [sender] ...` lines of stderr (the final "rsync error" line names the version).
    errors: Vec<String>,
    tree: Vec<String>,
}

/// Every path under `root`: "type mode size name [content|target]", sorted.
fn snapshot(root: &Path) -> Vec<String> {
    fn walk(root: &Path, p: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(p) else {
            return;
        };
        for d in rd {
            let d = d.unwrap();
            let m = std::fs::symlink_metadata(d.path()).unwrap();
            let rel = d.path().strip_prefix(root).unwrap().display().to_string();
            let ft = m.file_type();
            let extra = if ft.is_file() {
                String::from_utf8_lossy(&std::fs::read(d.path()).unwrap()).into_owned()
            } else if ft.is_symlink() {
                std::fs::read_link(d.path()).unwrap().display().to_string()
            } else {
                String::new()
            };
            let kind = if ft.is_dir() {
                'd'
            } else if ft.is_symlink() {
                'l'
            } else {
                'f'
            };
            let size = if ft.is_file() { m.size() } else { 0 };
            out.push(format!(
                "{kind} {:o} {size} {rel} {extra:?}",
                m.mode() & 0o7777
            ));
            if ft.is_dir() {
                walk(root, &d.path(), out);
            }
        }
    }
    let mut v = Vec::new();
    walk(root, root, &mut v);
    v.sort();
    v
}

/// Run `prog` in `dir` with `args` ("DEST" → `dest`, "RSH=CMD" → `-e CMD` and `prog` as the
/// remote program).
fn run(prog: &str, dir: &Path, args: &[&str], dest: &str, stdin: Option<&[u8]>) -> Outcome {
    let mut argv: Vec<String> = Vec::new();
    for a in args {
        if let Some(cmd) = a.strip_prefix("RSH=") {
            argv.push("-e".into());
            argv.push(cmd.to_string());
            argv.push(format!("--rsync-path={prog}"));
        } else {
            argv.push(a.replace("DEST", dest));
        }
    }
    let mut child = Command::new(prog)
        .args(&argv)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut w, stdin.unwrap_or_default()).unwrap();
    drop(w);
    let out = child.wait_with_output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).replace(dest, "DEST");
    let stdout = text(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with("sent ") && !l.starts_with("total size "))
        .map(str::to_string)
        .collect();
    let errors = text(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("rsync: [sender]") || l.starts_with("found \"..\""))
        .map(str::to_string)
        .collect();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout,
        errors,
        tree: snapshot(&dir.join(dest)),
    }
}

/// Run both programs (after `setup(dest)` for each) and compare everything.
fn same_with(t: &Path, args: &[&str], stdin: Option<&[u8]>, setup: &dyn Fn(&Path)) -> Outcome {
    setup(&t.join("d_rsync"));
    setup(&t.join("d_parasync"));
    let r = run(RSYNC, t, args, "d_rsync", stdin);
    let p = run(PARASYNC, t, args, "d_parasync", stdin);
    assert_eq!(r, p, "args {args:?}: rsync (left) vs parasync (right)");
    std::fs::remove_dir_all(t.join("d_rsync")).ok();
    std::fs::remove_dir_all(t.join("d_parasync")).ok();
    p
}

fn same(t: &Path, args: &[&str]) -> Outcome {
    same_with(t, args, None, &|_| {})
}

#[test]
fn relative_keeps_the_full_path() {
    if !have_rsync() {
        return;
    }
    let t = tree();
    let o = same(t.path(), &["-rv", "-R", "src/a/b/c/f", "src/x/y", "DEST/"]);
    assert!(o.stdout.contains(&"src/a/b/c/f".to_string()), "{o:?}");
    same(
        t.path(),
        &[
            "-rv",
            "-R",
            "src/a/b/g",
            "src/x/y",
            "src/a/z",
            "src/a/b/c",
            "DEST/",
        ],
    );
    // Without -r: the directory operand is skipped, implied dirs still sent.
    same(
        t.path(),
        &["-v", "-R", "src/a/b/g", "src/x/y", "src/a/b/c", "DEST/"],
    );
    // -d: directories without their contents; a nested operand is sent once.
    same(t.path(), &["-dv", "-R", "src/a/b/c", "src/./a", "DEST/"]);
    same(t.path(), &["-rv", "-R", "src/a", "src/a/b", "DEST/"]);
    same(t.path(), &["-rv", "-R", "src/a/b/", "DEST/"]);
    same(t.path(), &["-rv", "-R", "./src/a/b/g", "DEST/"]);
    // A file named with a trailing slash is the file itself.
    same(t.path(), &["-rv", "-R", "src/x/y/", "DEST/"]);
    same(t.path(), &["-rvi", "-R", "src//a/b/g", "src/x/", "DEST/"]);
    // Existing implied directories keep their own mode without -p (new ones get the source's).
    let pre = |d: &Path| std::fs::create_dir_all(d.join("src/a/b")).unwrap();
    let o = same_with(t.path(), &["-rv", "-R", "src/a/b/c", "DEST/"], None, &pre);
    assert!(
        !o.tree.iter().any(|l| l.starts_with("d 750 0 src/a ")),
        "{o:?}"
    );
    // A single file with a directory part still lands below a new destination directory.
    let o = same(
        t.path(),
        &["-v", "-R", "--no-implied-dirs", "src/x/y", "DEST"],
    );
    assert!(o.tree.iter().any(|l| l.contains(" src/x/y ")), "{o:?}");
}

#[test]
fn dot_slash_cuts_the_implied_path() {
    if !have_rsync() {
        return;
    }
    let t = tree();
    let o = same(t.path(), &["-rv", "-R", "src/./a/b", "DEST/"]);
    assert!(
        o.tree.iter().any(|l| l.starts_with("d 705 0 a/b ")),
        "{o:?}"
    );
    same(t.path(), &["-rv", "-R", "src/a/./b/./c", "DEST/"]);
    same(t.path(), &["-rv", "-R", "src/./", "DEST/"]);
    same(t.path(), &["-rv", "-R", "src/a/b/c/.", "DEST/"]);
    // An absolute source: the name keeps the whole path (shown with its '/').
    let abs = format!("{}/src/./a/b/g", t.path().display());
    same(t.path(), &["-rvi", "-R", &abs, "DEST/"]);
    // `..` in a relative name is refused (exit 1) and nothing is created.
    let o = same(t.path(), &["-rv", "-R", "src/x/../a", "DEST/"]);
    assert_eq!(o.code, 1);
    assert!(o.tree.is_empty());
}

#[test]
fn absolute_relative_names() {
    if !have_rsync() {
        return;
    }
    let t = tree();
    let abs = format!("{}/src/x/y", t.path().display());
    for dest in ["d_rsync", "d_parasync"] {
        let prog = if dest == "d_rsync" { RSYNC } else { PARASYNC };
        let o = run(prog, t.path(), &["-rv", "-R", &abs, "DEST/"], dest, None);
        assert_eq!(o.code, 0, "{o:?}");
        // Shown as "/tmp/.../src/x/y", stored below the destination.
        assert!(o.stdout.contains(&abs), "{prog}: {o:?}");
        let stored = t.path().join(dest).join(abs.trim_start_matches('/'));
        assert_eq!(std::fs::read(stored).unwrap(), b"yy\n");
    }
}

#[test]
fn no_implied_dirs() {
    if !have_rsync() {
        return;
    }
    let t = tree();
    same(
        t.path(),
        &["-rv", "-R", "--no-implied-dirs", "src/a/b/c", "DEST/"],
    );
    same(
        t.path(),
        &[
            "-rv",
            "-R",
            "--no-implied-dirs",
            "src/./a/b/g",
            "src/x/y",
            "DEST/",
        ],
    );
    // An existing symlink in place of an implied directory is followed with --no-implied-dirs
    // and replaced by a real directory without it.
    let link = |d: &Path| {
        std::fs::create_dir_all(d.join("real/b")).unwrap();
        std::os::unix::fs::symlink("real", d.join("a")).unwrap();
    };
    let o = same_with(
        t.path(),
        &["-rv", "-R", "--no-implied-dirs", "src/./a/b/g", "DEST/"],
        None,
        &link,
    );
    assert!(o.tree.iter().any(|l| l.contains(" real/b/g ")), "{o:?}");
    let o = same_with(
        t.path(),
        &["-rv", "-R", "src/./a/b/g", "DEST/"],
        None,
        &link,
    );
    assert!(o.tree.iter().any(|l| l.starts_with("d 750 0 a ")), "{o:?}");
}

const LIST: &[u8] = b"a/b/g\n# a comment\n\n/x/\n../a/z\na/b/c\n";

#[test]
fn files_from_lists_files_and_dirs() {
    if !have_rsync() {
        return;
    }
    let t = tree();
    std::fs::write(t.path().join("list"), LIST).unwrap();
    // Implies -R and -d but not -r (even with -a).
    let o = same(t.path(), &["-v", "--files-from=list", "src", "DEST/"]);
    assert!(!o.tree.iter().any(|l| l.contains("a/b/c/f")), "{o:?}");
    let o = same(t.path(), &["-rv", "--files-from=list", "src", "DEST/"]);
    assert!(o.tree.iter().any(|l| l.contains("a/b/c/f")), "{o:?}");
    same(t.path(), &["-av", "--files-from=list", "src/", "DEST/"]);
    same(
        t.path(),
        &["-av", "--no-R", "--files-from=list", "src", "DEST/"],
    );
    same(
        t.path(),
        &["-i", "--files-from=list", "--no-d", "src", "DEST/"],
    );
    // From stdin, NUL-separated.
    same_with(
        t.path(),
        &["-v0", "--files-from=-", "src", "DEST/"],
        Some(b"a/b/g\0x\0a/./b/c/\0"),
        &|_| {},
    );
    same_with(
        t.path(),
        &["-rv", "--from0", "--files-from=-", "src", "DEST/"],
        Some(b"a/b\0"),
        &|_| {},
    );
}

#[test]
fn files_from_errors() {
    if !have_rsync() {
        return;
    }
    let t = tree();
    std::fs::write(t.path().join("list"), b"a/z\nnope\n").unwrap();
    let o = same(t.path(), &["-v", "--files-from=list", "src", "DEST/"]);
    assert_eq!(o.code, 23);
    assert_eq!(o.errors.len(), 1, "{o:?}");
    let o = same(
        t.path(),
        &[
            "-v",
            "--ignore-missing-args",
            "--files-from=list",
            "src",
            "DEST/",
        ],
    );
    assert_eq!(o.code, 0);
    // SRC must be a directory (exit 3); exactly one SRC (exit 1); the list must exist (exit 1).
    let o = run(
        PARASYNC,
        t.path(),
        &["--files-from=list", "src/a/z", "DEST/"],
        "d",
        None,
    );
    assert_eq!(o.code, 3);
    let o = run(
        PARASYNC,
        t.path(),
        &["--files-from=list", "src", "src", "DEST/"],
        "d",
        None,
    );
    assert_eq!(o.code, 1);
    same(t.path(), &["--files-from=missing-list", "src", "DEST/"]);
    // No listing mode with --files-from: a DEST is required (usage, exit 1).
    let o = run(PARASYNC, t.path(), &["--files-from=list", "src"], "d", None);
    assert_eq!(o.code, 1);
}

#[test]
fn missing_args() {
    if !have_rsync() {
        return;
    }
    let t = tree();
    let o = same(t.path(), &["-v", "gone", "src/x/y", "DEST/"]);
    assert_eq!(o.code, 23);
    let o = same(
        t.path(),
        &["-v", "--ignore-missing-args", "gone", "src/x/y", "DEST/"],
    );
    assert_eq!(o.code, 0);
    let o = same(
        t.path(),
        &["-v", "--ignore-missing-args", "-R", "src/nope", "DEST/"],
    );
    assert!(o.tree.is_empty());
    let pre = |d: &Path| {
        std::fs::create_dir_all(d.join("gone/sub")).unwrap();
        std::fs::create_dir_all(d.join("nd")).unwrap();
        std::fs::create_dir_all(d.join("src/x")).unwrap();
        std::fs::write(d.join("gone/sub/k"), b"k").unwrap();
        std::fs::write(d.join("f2"), b"").unwrap();
        std::fs::write(d.join("src/x/old"), b"").unwrap();
    };
    let o = same_with(
        t.path(),
        &["-rv", "--delete-missing-args", "gone", "f2", "nd", "DEST/"],
        None,
        &pre,
    );
    assert!(o.stdout.contains(&"deleting f2".to_string()), "{o:?}");
    assert!(o.tree.iter().any(|l| l.contains(" gone/sub/k ")), "{o:?}");
    let o = same_with(
        t.path(),
        &[
            "-ri",
            "--force",
            "--delete-missing-args",
            "gone",
            "f2",
            "nd",
            "src/x/y",
            "DEST/",
        ],
        None,
        &pre,
    );
    assert!(!o.tree.iter().any(|l| l.contains(" gone")), "{o:?}");
    same_with(
        t.path(),
        &[
            "-v",
            "--delete-missing-args",
            "-R",
            "src/x/y",
            "src/nope",
            "nope2",
            "DEST/",
        ],
        None,
        &pre,
    );
    same_with(
        t.path(),
        &[
            "-rv",
            "--delete",
            "--delete-missing-args",
            "gone",
            "src/x",
            "DEST/",
        ],
        None,
        &pre,
    );
    same(
        t.path(),
        &["--list-only", "--delete-missing-args", "gone2", "src/x/y"],
    );
}

#[test]
fn dirs_without_recursion() {
    if !have_rsync() {
        return;
    }
    let t = tree();
    same(t.path(), &["-dv", "src/", "DEST/"]);
    same(t.path(), &["-dv", "src/a", "src/x/y", "DEST/"]);
    same(t.path(), &["-v", "src/a", "src/x/y", "DEST/"]);
}

#[test]
fn remote_relative_and_files_from() {
    if !have_rsync() {
        return;
    }
    let t = tree();
    let e = format!("RSH={}", rsh(t.path()));
    remote_cases(&t, &e, "h");
}

#[test]
fn remote_relative_and_files_from_over_sshd() {
    if !have_rsync() {
        return;
    }
    let s = crate::need_sshd!();
    let t = tree();
    let e = format!("RSH={}", s.wrapper.display());
    remote_cases(&t, &e, "127.0.0.1");
}

/// -R, --files-from (local and remote lists) and --delete-missing-args, pushed and pulled.
fn remote_cases(t: &tempfile::TempDir, e: &str, host: &str) {
    std::fs::write(t.path().join("list"), b"a/b/g\nx/\na/b/c\n").unwrap();
    let root = t.path().display().to_string();
    let rsrc = |p: &str| format!("{host}:{root}/{p}");
    let (a, b, c) = (rsrc("src/./a/b"), rsrc("src"), rsrc("DEST/"));
    same(t.path(), &[e, "-rv", "-R", &a, "DEST/"]);
    same(t.path(), &[e, "-rv", "-R", "src/./a/b", &c]);
    same(
        t.path(),
        &[e, "-rv", "-R", "--no-implied-dirs", "src/./a/b", &c],
    );
    same(t.path(), &[e, "-rv", "--files-from=list", &b, "DEST/"]);
    same(t.path(), &[e, "-v", "--files-from=list", "src", &c]);
    // A list on the remote host: read by the remote sender (pull) or fetched (push).
    let (rl, hl) = (
        format!("--files-from=:{root}/list"),
        format!("--files-from={host}:{root}/list"),
    );
    same(t.path(), &[e, "-rv", &rl, &b, "DEST/"]);
    same(t.path(), &[e, "-v", &hl, "src", &c]);
    std::fs::write(t.path().join("list0"), b"a/b/g\0x/\0").unwrap();
    let rl0 = format!("--files-from=:{root}/list0");
    same(t.path(), &[e, "-v0", &rl0, &b, "DEST/"]);
    // (Through `/./`: an implied /tmp would show a sticky-bit difference unrelated to -R.)
    let (y, nope) = (rsrc("./src/x/y"), rsrc("./src/nope"));
    same(
        t.path(),
        &[e, "-v", "--delete-missing-args", "-R", &y, &nope, "DEST/"],
    );
}

#[test]
fn one_file_system_stops_at_mount_points() {
    if !have_rsync() {
        return;
    }
    // /dev/shm is a separate filesystem on most Linux systems; skip where it is not.
    let dev = |p: &str| std::fs::metadata(p).map(|m| m.dev()).ok();
    if dev("/dev").is_none() || dev("/dev") == dev("/dev/shm") {
        return;
    }
    for x in ["-rx", "-rxx"] {
        let names = |prog: &str| -> Vec<String> {
            let out = Command::new(prog)
                .args([x, "--list-only", "/dev/"])
                .output()
                .unwrap();
            let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.rsplit(' ').next().map(str::to_string))
                .filter(|n| !n.starts_with("pts/"))
                .collect();
            v.sort();
            v
        };
        let (r, p) = (names(RSYNC), names(PARASYNC));
        assert_eq!(r, p, "{x}");
        assert_eq!(p.iter().any(|n| n == "shm"), x == "-rx");
    }
}
