//! Filter rules and file selection against the oracle: each case runs `parasync` and the
//! installed `rsync` with the same arguments on the same tree into two destinations and asserts
//! the same resulting file sets, exit codes and `-v` listings (rsync.1 "FILTER RULES" examples).

use std::path::{Path, PathBuf};
use std::process::Command;

const RSYNC: &str = "/usr/bin/rsync";

fn parasync() -> &'static str {
    env!("CARGO_BIN_EXE_parasync")
}

/// A scratch directory with a source tree. Paths ending in `/` are directories.
struct Tree {
    dir: tempfile::TempDir,
    /// Extra environment for both tools (e.g. CVSIGNORE).
    env: std::cell::RefCell<Vec<(String, String)>>,
}

impl Tree {
    fn new(items: &[&str]) -> Tree {
        assert!(
            Path::new(RSYNC).exists(),
            "{RSYNC} is the behavioural oracle for these tests; install rsync"
        );
        let t = Tree {
            dir: tempfile::tempdir().unwrap(),
            env: Default::default(),
        };
        t.add(items);
        t
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn add(&self, items: &[&str]) {
        for it in items {
            let p = self.path().join(it.trim_end_matches('/'));
            if it.ends_with('/') {
                std::fs::create_dir_all(&p).unwrap();
            } else {
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, format!("content of {it}\n")).unwrap();
            }
        }
    }
    fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    fn clear_dests(&self) {
        for d in ["d1", "d2"] {
            std::fs::remove_dir_all(self.path().join(d)).ok();
        }
    }
    /// Populate both destinations `d1` (rsync) and `d2` (parasync) with the same items.
    fn dests(&self, items: &[&str]) {
        for d in ["d1", "d2"] {
            for it in items {
                if it.ends_with('/') {
                    std::fs::create_dir_all(self.path().join(d).join(it)).unwrap();
                } else {
                    self.write(&format!("{d}/{it}"), &format!("old {it}\n"));
                }
            }
        }
    }

    fn run(&self, prog: &str, args: &[&str], dest: &str, stdin: Option<&str>) -> Run {
        let mut c = Command::new(prog);
        c.args(args)
            .arg(dest)
            .current_dir(self.path())
            .env("HOME", self.path())
            .env_remove("CVSIGNORE")
            .env_remove("RSYNC_RSH")
            .envs(self.env.borrow().iter().cloned());
        let path = std::env::var("PATH").unwrap_or_default();
        let bin = Path::new(parasync()).parent().unwrap();
        c.env("PATH", format!("{}:{path}", bin.display()));
        let out = if let Some(input) = stdin {
            use std::io::Write;
            let mut ch = c
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            ch.stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
            ch.wait_with_output().unwrap()
        } else {
            c.output().unwrap()
        };
        let dest_dir = self.path().join(dest.rsplit(':').next().unwrap());
        Run {
            code: out.status.code().unwrap_or(-1),
            files: listing(&dest_dir),
            stdout: normalize(&String::from_utf8_lossy(&out.stdout), dest),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

#[derive(Debug)]
struct Run {
    code: i32,
    files: Vec<String>,
    stdout: Vec<String>,
    stderr: String,
}

/// Every path under `root` with a type marker and, for files, the content.
fn listing(root: &Path) -> Vec<String> {
    fn walk(root: &Path, p: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(p) else {
            return;
        };
        for e in rd.flatten() {
            let path: PathBuf = e.path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let m = std::fs::symlink_metadata(&path).unwrap();
            if m.is_dir() {
                out.push(format!("{rel}/"));
                walk(root, &path, out);
            } else {
                let c = std::fs::read(&path).unwrap_or_default();
                out.push(format!("{rel} {}", String::from_utf8_lossy(&c).trim_end()));
            }
        }
    }
    let mut v = Vec::new();
    walk(root, root, &mut v);
    v.sort();
    v
}

/// The `-v` lines that depend on the selection (no byte counts, no destination name).
fn normalize(s: &str, dest: &str) -> Vec<String> {
    s.lines()
        .filter(|l| !l.is_empty() && !l.starts_with("sent ") && !l.starts_with("total size"))
        .map(|l| l.replace(dest.trim_end_matches('/'), "DEST"))
        .collect()
}

/// Run both tools; assert the same outcome. `ordered`: compare the listing line by line
/// (otherwise as sets: deletions may be reported at a different point of the transfer).
fn same_with(t: &Tree, args: &[&str], ordered: bool, stdin: Option<&str>) -> Run {
    let want = t.run(RSYNC, args, "d1/", stdin);
    let have = t.run(parasync(), args, "d2/", stdin);
    assert_eq!(
        have.code, want.code,
        "exit code for {args:?}\nrsync stderr: {}\nparasync stderr: {}",
        want.stderr, have.stderr
    );
    assert_eq!(have.files, want.files, "file set for {args:?}");
    if ordered {
        assert_eq!(have.stdout, want.stdout, "-v listing for {args:?}");
    } else {
        let (mut a, mut b) = (have.stdout.clone(), want.stdout.clone());
        a.sort();
        b.sort();
        assert_eq!(a, b, "-v lines for {args:?}");
    }
    have
}

/// Fresh destinations, ordered comparison.
fn same(t: &Tree, args: &[&str]) -> Run {
    t.clear_dests();
    same_with(t, args, true, None)
}

const SRC: &[&str] = &[
    "src/a.c",
    "src/a.o",
    "src/keep",
    "src/foo",
    "src/sub/b.c",
    "src/sub/b.o",
    "src/sub/foo/",
    "src/sub/foo/inner.c",
    "src/sub/deep/c.c",
    "src/sub/deep/zzz.txt",
    "src/x/file.txt",
    "src/x/y/file.txt",
    "src/x/y/zzz.txt",
    "src/x/z/file.txt",
    "src/empty/",
    "src/empty/e2/",
    "src/onlyo/deeper/q.o",
];

#[test]
fn exclude_patterns() {
    let t = Tree::new(SRC);
    for args in [
        &["-rv", "--exclude=*.o", "src/"][..],
        &["-rv", "-f- *.o", "src/"],
        &["-rv", "-f", "exclude *.o", "src/"],
        &["-rv", "-f-_*.o", "src/"],
        &["-rv", "--exclude=/foo", "src/"],
        &["-rv", "--exclude=foo", "src/"],
        &["-rv", "--exclude=foo/", "src/"],
        &["-rv", "--exclude=/sub/foo/", "src/"],
        &["-rv", "--exclude=x/*/file.txt", "src/"],
        &["-rv", "--exclude=/x/**/zzz.txt", "src/"],
        &["-rv", "--exclude=**/zzz.txt", "src/"],
        &["-rv", "--exclude=sub/***", "src/"],
        &["-rv", "--exclude=/x/***", "src/"],
        &["-rv", "--exclude=*.[co]", "src/"],
        &["-rv", "--exclude=[[:alpha:]].?", "src/"],
        &["-rv", "--exclude=[!a]*", "src/"],
        &["-rv", "-f-! */", "src/"],
        &["-rv", "--exclude=/src/sub", "src"],
        &["-rv", "--exclude=/sub", "src"],
        &["-rv", "--exclude=src", "src"],
        &["-rv", "--exclude=*.o", "src/a.o", "src/keep"],
        // Old-style prefixes inside --exclude/--include values, and a lone "!" clearing.
        &["-rv", "--exclude=+ a.c", "--exclude=*.c", "src/"],
        &["-rv", "--include=- a.c", "src/"],
        &["-rv", "--exclude=*.c", "--exclude=!", "src/"],
    ] {
        same(&t, args);
    }
}

#[test]
fn include_before_exclude() {
    let t = Tree::new(SRC);
    // rsync.1: "+ */" "+ *.c" "- *" keeps all directories and only .c files.
    let r = same(&t, &["-rv", "-f+ */", "-f+ *.c", "-f- *", "src/"]);
    assert!(r
        .files
        .contains(&"sub/deep/c.c content of src/sub/deep/c.c".to_string()));
    assert!(!r.files.iter().any(|f| f.starts_with("keep")));
    same(
        &t,
        &[
            "-rv",
            "--include=*/",
            "--include=*.c",
            "--exclude=*",
            "src/",
        ],
    );
    // The first match wins: the later include has no effect.
    same(&t, &["-rv", "--exclude=*.c", "--include=a.c", "src/"]);
    // rsync.1 SIMPLE INCLUDE/EXCLUDE EXAMPLE.
    same(
        &t,
        &[
            "-rv",
            "-f+ x/",
            "-f+ x/y/",
            "-f+ x/y/file.txt",
            "-f- *",
            "src/x",
        ],
    );
    same(&t, &["-rv", "-f+ file.txt", "-f- *", "src/x/"]);
    same(&t, &["-rv", "-f- zzz.txt", "src/x"]);
    // An excluded directory is not descended into, whatever comes later.
    same(&t, &["-rv", "-f+ *.c", "-f- *", "src/"]);
    same(
        &t,
        &["-rv", "-f+ foo/", "-f+ foo/inner.c", "-f- *", "src/sub/"],
    );
}

#[test]
fn sides_and_delete() {
    let t = Tree::new(SRC);
    let old = &[
        "gone/x.o",
        "gone/y",
        "gone/sub/z.o",
        "top.o",
        "t",
        "sub/old.o",
        "sub/old",
    ];
    for args in [
        &["-rv", "--delete", "--exclude=*.o", "src/"][..],
        &["-rv", "--delete", "-f-p *.o", "src/"],
        &[
            "-rv",
            "--delete",
            "--delete-excluded",
            "--exclude=*.o",
            "src/",
        ],
        &[
            "-rv",
            "--delete",
            "--delete-excluded",
            "-fP top.o",
            "--exclude=*.o",
            "src/",
        ],
        &["-rv", "--delete", "-fP *.o", "src/"],
        &["-rv", "--delete", "-fH *.o", "src/"],
        &["-rv", "--delete", "-f-s *.o", "src/"],
        &["-rv", "--delete", "-f-r *.o", "src/"],
        &["-rv", "--delete", "-fprotect *", "-frisk old", "src/"],
        &["-rv", "--delete", "-fS a.o", "-f- *.o", "src/"],
        &["-rv", "--delete", "-f- sub/", "src/"],
        &["-rv", "--delete-after", "--exclude=*.o", "src/"],
    ] {
        t.clear_dests();
        t.dests(old);
        same_with(&t, args, false, None);
    }
}

#[test]
fn per_directory_files() {
    let t = Tree::new(SRC);
    t.write("src/.rsync-filter", "- *.o\n+ keep\n# comment\n");
    t.write("src/sub/.rsync-filter", "- /b.c\n- deep/c.c\n");
    t.write("src/x/.rsync-filter", "!\n- file.txt\n");
    t.write("src/x/y/.rules", "- zzz.txt\n");
    t.write("src/.rules", "- foo\n");
    // `e` excludes the file itself before its own rules can include it.
    t.write("src/.plus", "+ .plus\n+ plus\n");
    t.write("plus", "+ plus\n");
    t.write("src/plus", "x\n");
    t.write("src/x/.words", "-_file.txt +_z*  -_*.txt\n");
    for args in [
        &["-rv", "-f:w .words", "src/"][..],
        &["-rv", "-f:w- .words", "src/"],
        &["-rv", "-F", "src/"],
        &["-rv", "-F", "src"],
        &["-rv", "-FF", "src/"],
        &["-rv", "-f: .rsync-filter", "src/"],
        &["-rv", "-f:n .rsync-filter", "src/"],
        &["-rv", "-f:e .rsync-filter", "src/"],
        &["-rv", "-f:e .plus", "src/"],
        &["-rv", "-f.e plus", "src/"],
        &["-rv", "-fdir-merge .rules", "src/"],
        &["-rv", "-f:n- .rules", "src/"],
        &["-rv", "--exclude=*.c", "-F", "src/"],
        &["-rv", "-F", "--exclude=*.c", "src/"],
    ] {
        same(&t, args);
    }
    // Receiver-side: the destination's own per-directory files protect on delete.
    for args in [
        &["-rv", "-F", "--delete", "src/"][..],
        &["-rv", "-FF", "--delete", "src/"],
        &["-rv", "-F", "--delete-after", "src/"],
    ] {
        t.clear_dests();
        t.dests(&["sub/old", "sub/old.o", "gone/q"]);
        for d in ["d1", "d2"] {
            t.write(&format!("{d}/sub/.rsync-filter"), "- old\n");
        }
        same_with(&t, args, false, None);
    }
}

#[test]
fn merge_files() {
    let t = Tree::new(SRC);
    t.write("ex.txt", "- keep\n# comment\n; another\n\n+ a.c\n- a.*\n");
    t.write("ex2.txt", "a.c\r\n*.o\n+ zzz.txt\n");
    t.write("ex0.txt", "a.c\0sub\0");
    t.write("rules", "merge ex2.txt\n- *.txt\n:n- .never\n");
    for args in [
        &["-rv", "--exclude-from=ex.txt", "src/"][..],
        &["-rv", "--exclude-from=ex2.txt", "src/"],
        &["-rv", "--include-from=ex2.txt", "--exclude=*", "src/"],
        &["-rv", "-f. ex.txt", "src/"],
        &["-rv", "-fmerge,- ex2.txt", "src/"],
        &["-rv", "-f. rules", "src/"],
        &["-rv", "--from0", "--exclude-from=ex0.txt", "src/"],
    ] {
        same(&t, args);
    }
    t.clear_dests();
    same_with(
        &t,
        &["-rv", "--exclude-from=-", "src/"],
        true,
        Some("*.c\nx\n"),
    );
    // Fresh destinations again: the copies above carry the copy time (no -t), and whether a
    // quick check sees them as changed would depend on a second boundary falling in between.
    t.clear_dests();
    same_with(
        &t,
        &["-rv", "-f. -", "src/"],
        true,
        Some("+ sub/\n- */\n- *.o\n"),
    );
}

#[test]
fn cvs_exclude() {
    let t = Tree::new(SRC);
    t.add(&[
        "src/core",
        "src/x.bak",
        "src/CVS/",
        "src/CVS/Entries",
        "src/.git/",
        "src/.git/HEAD",
        "src/ok~",
        "src/sub/mine.tmp",
    ]);
    t.write("src/sub/.cvsignore", "*.tmp b.c\n");
    t.write(".cvsignore", "keep\n");
    for args in [
        &["-rv", "-C", "src/"][..],
        &["-rv", "-C", "--include=core", "src/"],
        &["-rv", "-f:C", "src/"],
        &["-rv", "-f-C", "src/"],
        &["-rv", "-f:C", "-f-C", "src/"],
    ] {
        same(&t, args);
    }
    t.env
        .borrow_mut()
        .push(("CVSIGNORE".into(), "a.c  *.txt".into()));
    let r = same(&t, &["-rv", "-C", "src/"]);
    let names: Vec<&str> = r
        .files
        .iter()
        .map(|f| f.split(' ').next().unwrap())
        .collect();
    assert!(
        !names.iter().any(|n| *n == "a.c" || n.ends_with(".txt")),
        "{names:?}"
    );
    assert!(names.contains(&"sub/foo/inner.c"), "{names:?}");
    t.env.borrow_mut().clear();
    // CVS defaults are perishable: a directory gone from the source is deleted whole.
    t.clear_dests();
    t.dests(&["gone/x.o", "gone/y", "top.o"]);
    same_with(&t, &["-rv", "--delete", "-C", "src/"], false, None);
}

#[test]
fn prune_empty_dirs() {
    let t = Tree::new(SRC);
    for args in [
        &["-rv", "-m", "src/"][..],
        &["-rv", "-m", "--exclude=*.o", "src/"],
        &[
            "-rv",
            "-m",
            "--include=*/",
            "--include=*.c",
            "--exclude=*",
            "src/",
        ],
        &["-rv", "-m", "-fprotect empty/", "--exclude=*.o", "src/"],
        &["-rv", "-m", "src"],
        &["-rv", "-m", "src/empty"],
    ] {
        same(&t, args);
    }
}

#[test]
fn rule_errors() {
    let t = Tree::new(SRC);
    t.write("bad1", "- a\nx foo\n");
    t.write("bad2", "# c\n-q foo\n");
    t.write("src/sub/.rsync-filter", "- ok\nx foo\n");
    t.write("src/.words", "- a.c + b.c\n");
    t.write("loop", ". loop\n");
    t.write("src/x/.loop", ". .loop\n");
    for args in [
        &["-r", "-f. loop", "src/"][..],
        &["-r", "-f: .loop", "src/"],
        &["-r", "-f:w .words", "src/"],
        &["-r", "-F", "src/"],
        &["-r", "-f. bad1", "src/"],
        &["-r", "-f. bad2", "src/"],
        &["-r", "-fx foo", "src/"],
        &["-r", "-f-q foo", "src/"],
        &["-r", "-f- ", "src/"],
        &["-r", "-f! foo", "src/"],
        &["-r", "--exclude-from=nonexistent", "src/"],
        &["-r", "-f. nonexistent", "src/"],
    ] {
        let want = t.run(RSYNC, args, "d1/", None);
        let have = t.run(parasync(), args, "d2/", None);
        assert_eq!(have.code, want.code, "{args:?}: {}", have.stderr);
        assert_eq!(
            have.stderr.lines().next(),
            want.stderr.lines().next(),
            "{args:?}"
        );
    }
}

/// Rules travel to a remote side: a remote sender walks with them (pull, per-directory files
/// read there) and a remote receiver protects with them (push with --delete).
#[test]
fn rules_reach_the_server() {
    let t = Tree::new(SRC);
    t.write("src/.rsync-filter", "- *.o\n");
    t.write("src/sub/.rsync-filter", "- /b.c\n");
    let fake = t.path().join("fakessh");
    std::fs::write(
        &fake,
        "#!/bin/sh\nwhile [ $# -gt 0 ]; do case \"$1\" in -l) shift 2;; -*) shift;; *) shift; break;; esac; done\nexec sh -c \"$*\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let rsh = fake.display().to_string();
    let root = t.path().display().to_string();
    let cases: Vec<(Vec<String>, Vec<String>)> = vec![
        (
            vec!["-rv".into(), "-F".into(), "src/".into()],
            vec![
                "-rv".into(),
                "-F".into(),
                "-e".into(),
                rsh.clone(),
                format!("localhost:{root}/src/"),
            ],
        ),
        (
            vec!["-rv".into(), "--exclude=sub/".into(), "src/".into()],
            vec![
                "-rv".into(),
                "--exclude=sub/".into(),
                "-e".into(),
                rsh.clone(),
                format!("localhost:{root}/src/"),
            ],
        ),
    ];
    for (local, remote) in cases {
        t.clear_dests();
        let l: Vec<&str> = local.iter().map(String::as_str).collect();
        let r: Vec<&str> = remote.iter().map(String::as_str).collect();
        let want = t.run(RSYNC, &l, "d1/", None);
        let have = t.run(parasync(), &r, "d2/", None);
        assert_eq!(have.code, 0, "{}", have.stderr);
        assert_eq!(have.files, want.files, "pull {r:?}");
    }
    // Push with --delete: the remote receiver protects excluded files.
    t.clear_dests();
    t.dests(&["old.o", "old", "gone/x.o"]);
    let want = t.run(
        RSYNC,
        &["-r", "--delete", "--exclude=*.o", "src/"],
        "d1/",
        None,
    );
    let dest = format!("localhost:{root}/d2/");
    let have = t.run(
        parasync(),
        &["-r", "--delete", "--exclude=*.o", "-e", &rsh, "src/"],
        &dest,
        None,
    );
    assert_eq!(have.code, 0, "{}", have.stderr);
    assert_eq!(have.files, want.files, "push --delete --exclude");
}

/// Transfer rules (rsync.1 "TRANSFER RULES"): they decide per file without touching the list.
#[test]
fn transfer_rules() {
    let t = Tree::new(&["src/sub/c", "src/a"]);
    t.write("src/big", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n");
    t.write("src/n", "new\n");
    let set_mtime = |p: &Path, secs: i64| {
        let ok = Command::new("touch")
            .arg("-d")
            .arg(format!("@{secs}"))
            .arg(p)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    };
    set_mtime(&t.path().join("src/n"), 1_577_836_800);
    for args in [
        &["-rv", "--existing", "src/"][..],
        &["-rv", "--existing", "--delete", "src/"],
        &["-rv", "--ignore-existing", "src/"],
        &["-rv", "-u", "src/"],
        &["-rvt", "-u", "src/"],
        &["-rv", "--max-size=10", "src/"],
        &["-rv", "--min-size=10", "src/"],
        &["-rv", "--max-size=1k", "src/"],
        &["-rv", "--min-size=1.5kb-1", "src/"],
    ] {
        t.clear_dests();
        t.dests(&["a", "n", "gone"]);
        for d in ["d1", "d2"] {
            set_mtime(&t.path().join(d).join("n"), 1_704_067_200);
        }
        same_with(&t, args, true, None);
    }
}

/// `-vv` names the rule behind each decision ("[sender] hiding file a.o because of pattern
/// *.o"), and `/` rules match the absolute path.
#[test]
fn debug_lines_and_absolute_rules() {
    let t = Tree::new(SRC);
    t.write("src/sub/.rsync-filter", "- /b.c\n+ b.o\n");
    let args = [
        "-rvv",
        "-F",
        "--exclude=*.o",
        "--exclude=foo/",
        "-fS keep",
        "src/",
    ];
    let pick = |r: &Run| -> Vec<String> {
        r.stdout
            .iter()
            .filter(|l| l.starts_with("[sender]"))
            .cloned()
            .collect()
    };
    t.write("src/x/.cvsignore", "file.txt\n");
    for args in [&args[..], &["-rvv", "-C", "src/"]] {
        t.clear_dests();
        let want = t.run(RSYNC, args, "d1/", None);
        let have = t.run(parasync(), args, "d2/", None);
        assert!(pick(&want).len() >= 3, "{:?}", want.stdout);
        assert_eq!(pick(&have), pick(&want));
        assert_eq!(have.files, want.files);
    }
    // Receiver side: "[generator] protecting/risking ..." for every destination item checked.
    t.clear_dests();
    t.dests(&["keep2", "other", "sub/zz", "gone/in/q"]);
    let args = ["-rvv", "--delete", "-fR keep*", "-fP *", "-fH *.o", "src/"];
    let gen = |r: &Run| -> Vec<String> {
        let mut v: Vec<String> = r
            .stdout
            .iter()
            .filter(|l| l.starts_with("[generator]"))
            .cloned()
            .collect();
        v.sort();
        v
    };
    let want = t.run(RSYNC, &args, "d1/", None);
    let have = t.run(parasync(), &args, "d2/", None);
    assert!(gen(&want).len() >= 3, "{:?}", want.stdout);
    assert_eq!(gen(&have), gen(&want));
    assert_eq!(have.files, want.files);
    let abs = t.path().join("src/sub").display().to_string();
    for rule in [
        format!("-f-/ {abs}"),
        "-f-/ src/sub/*.c".to_string(),
        format!("-f-/ {}/src/x/***", t.path().display()),
    ] {
        same(&t, &["-rv", &rule, "src/"]);
    }
}

/// Rules rsync appends by itself: a relative `--partial-dir` is a perishable exclude, and
/// `--backup --delete` without `--backup-dir` protects `*SUFFIX`.
#[test]
fn automatic_rules() {
    let t = Tree::new(&["src/a", "src/.rsync-partial/p"]);
    for args in [
        &["-r", "--delete", "--partial-dir=.rsync-partial", "src/"][..],
        &[
            "-r",
            "--delete",
            "--partial-dir=.rsync-partial",
            "--delete-excluded",
            "src/",
        ],
    ] {
        t.clear_dests();
        t.dests(&[".rsync-partial/q", "zz"]);
        same_with(&t, args, false, None);
    }
    t.clear_dests();
    t.dests(&["old~", "zz"]);
    let r = t.run(parasync(), &["-r", "--delete", "-b", "src/"], "d2/", None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.files.iter().any(|f| f.starts_with("old~ ")),
        "{:?}",
        r.files
    );
}

/// A destination directory in the way of a new file is emptied with --delete, but what
/// protect rules cover stays, and then the file cannot be put there (exit 23).
#[test]
fn protected_items_block_making_way() {
    let t = Tree::new(&["src/ab"]);
    for args in [
        &["-rv", "--delete", "src/"][..],
        &["-rv", "--delete", "--exclude=*.o", "src/"],
        &["-rv", "--delete", "-f-p *.o", "src/"],
        &["-rv", "src/"],
    ] {
        t.clear_dests();
        t.dests(&["ab/f", "ab/sub/g", "ab/k.o"]);
        same_with(&t, args, false, None);
    }
}

/// Listing order follows rsync's name comparison, where a directory name ends in '/'.
#[test]
fn listing_order_with_similar_names() {
    let t = Tree::new(&["src/a b/f", "src/a/f", "src/a-b", "src/a.c", "src/a0/g"]);
    same(&t, &["-rv", "src/"]);
    same(&t, &["-rv", "--exclude=f", "src/"]);
}

/// `-F` (`: /.rsync-filter`) also reads the file in every parent of the transfer root; an
/// anchored rule there is anchored at that parent, and top-level arguments are not subject to
/// per-directory rules.
#[test]
fn parent_directory_scan() {
    let t = Tree::new(SRC);
    t.write(
        ".rsync-filter",
        "- /src/sub/b.c\n- /keep\n- src\n- zzz.txt\n",
    );
    for args in [
        &["-rv", "-F", "src/"][..],
        &["-rv", "-F", "src"],
        &["-rv", "-f: .rsync-filter", "src/"],
        &["-rv", "-f: .rsync-filter", "src"],
    ] {
        same(&t, args);
    }
}
