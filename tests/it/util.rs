//! Shared harness for the behavioural tests: the built binary, a deterministic tree builder, a tree
//! comparison, a process runner and the output masker.
//!
//! parasync is a drop-in for rsync, so almost every test runs the same command line with `rsync` (the
//! oracle) and with `parasync` in two identical workspaces, then requires identical exit codes,
//! identical stdout/stderr after masking, and identical destination trees. Workspaces are entered with
//! the same relative paths, so names printed by either tool ("created directory dst") match; absolute
//! workspace paths are replaced by `WS` in captured output.
//!
//! Masking removes only what legitimately differs: timings, rates and the byte counts of the wire
//! protocol (parasync's protocol is its own, rsync-cli.md §4.2/§4.3), plus the `at FILE(LINE)
//! [ROLE=VERSION]` tail of `rsync error:` lines, which rsync-cli.md §4.9 says is build-specific.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub use crate::mask::*;

/// The freshly built `parasync` binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_parasync"))
}

/// The oracle.
pub const RSYNC: &str = "/usr/bin/rsync";

/// Every `--engine` name, for tests that run each one.
pub const ENGINES: [&str; 6] = [
    "rsync",
    "dsync",
    "skysync-f",
    "skysync-c",
    "pdsync",
    "parasync",
];

/// True when the tests run as root (owner preservation and permission tests depend on it).
/// Whether `prog` runs (`prog --version`); a missing tool fails the test under `CI=true` and
/// skips it elsewhere.
pub fn installed(prog: &str) -> bool {
    let ok = Command::new(prog).arg("--version").output().is_ok();
    assert!(
        ok || std::env::var("CI").is_err(),
        "{prog} missing under CI"
    );
    ok
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Make a fifo at `p` (not opened: opening one waits for a writer).
pub fn mkfifo(p: &Path, mode: u32) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), mode) }, 0, "mkfifo {p:?}");
}

/// How long any single command may run before the test fails instead of hanging CI.
const TIMEOUT: Duration = Duration::from_secs(300);

/// Captured result of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Out {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Out {
    /// Panic with the whole output unless the exit code is `code`.
    pub fn expect(&self, code: i32, what: &str) -> &Self {
        assert_eq!(self.code, code, "{what}: exit code\n{self}");
        self
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- exit {} ---\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Run `prog args…` in `cwd` with a neutral environment; a command that runs longer than
/// [`TIMEOUT`] is killed and the test fails.
pub fn run<I, S>(prog: impl AsRef<OsStr>, args: I, cwd: &Path) -> Out
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(prog.as_ref());
    cmd.args(args).current_dir(cwd);
    run_cmd(cmd)
}

/// Run a prepared command (see [`run`]).
pub fn run_cmd(mut cmd: Command) -> Out {
    cmd.env_remove("RSYNC_RSH")
        .env_remove("RSYNC_PROTECT_ARGS")
        .env_remove("RSYNC_OLD_ARGS")
        .env("TZ", "UTC")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let desc = format!("{cmd:?}");
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {desc}: {e}"));
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t2 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("timed out after {TIMEOUT:?}: {desc}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = String::from_utf8_lossy(&t1.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&t2.join().unwrap()).into_owned();
    let code = status.code().unwrap_or_else(|| {
        128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)
    });
    Out {
        stdout,
        stderr,
        code,
    }
}

// ---------------------------------------------------------------------------------------------
// Tree building
// ---------------------------------------------------------------------------------------------

/// The `Total bytes sent` figure of a `--stats` output (rsync's and parasync's alike).
pub fn bytes_sent(stdout: &str) -> Option<u64> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("Total bytes sent: "))
        .map(|v| v.replace(',', "").parse().unwrap())
}

/// A deterministic pseudo-random byte generator (xorshift64*), so both workspaces get equal bytes.
pub fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Path of a raw (possibly non-UTF-8) relative name under `root`.
pub fn at(root: &Path, rel: &[u8]) -> PathBuf {
    root.join(OsStr::from_bytes(rel))
}

/// Builds a tree under a root; [`Tree::finish`] stamps every entry with a deterministic mtime
/// (derived from its name, with nanoseconds) unless one was set explicitly.
pub struct Tree {
    root: PathBuf,
    times: BTreeMap<Vec<u8>, (i64, u32)>,
}

impl Tree {
    pub fn new(root: &Path) -> Tree {
        std::fs::create_dir_all(root).unwrap();
        Tree {
            root: root.to_path_buf(),
            times: BTreeMap::new(),
        }
    }
    fn p(&self, rel: &[u8]) -> PathBuf {
        at(&self.root, rel)
    }
    fn parent(&self, rel: &[u8]) {
        if let Some(parent) = self.p(rel).parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
    }
    pub fn file(&mut self, rel: impl AsRef<[u8]>, data: &[u8]) -> &mut Self {
        let rel = rel.as_ref();
        self.parent(rel);
        std::fs::write(self.p(rel), data).unwrap();
        self.mode(rel, 0o644)
    }
    pub fn dir(&mut self, rel: impl AsRef<[u8]>) -> &mut Self {
        std::fs::create_dir_all(self.p(rel.as_ref())).unwrap();
        self
    }
    pub fn symlink(&mut self, rel: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> &mut Self {
        let rel = rel.as_ref();
        self.parent(rel);
        std::os::unix::fs::symlink(OsStr::from_bytes(target.as_ref()), self.p(rel)).unwrap();
        self
    }
    pub fn hardlink(&mut self, rel: impl AsRef<[u8]>, existing: impl AsRef<[u8]>) -> &mut Self {
        let rel = rel.as_ref();
        self.parent(rel);
        std::fs::hard_link(self.p(existing.as_ref()), self.p(rel)).unwrap();
        self
    }
    pub fn mode(&mut self, rel: impl AsRef<[u8]>, mode: u32) -> &mut Self {
        std::fs::set_permissions(self.p(rel.as_ref()), std::fs::Permissions::from_mode(mode))
            .unwrap();
        self
    }
    pub fn owner(&mut self, rel: impl AsRef<[u8]>, uid: u32, gid: u32) -> &mut Self {
        std::os::unix::fs::lchown(self.p(rel.as_ref()), Some(uid), Some(gid)).unwrap();
        self
    }
    pub fn mtime(&mut self, rel: impl AsRef<[u8]>, sec: i64, ns: u32) -> &mut Self {
        self.times.insert(rel.as_ref().to_vec(), (sec, ns));
        self
    }
    /// Stamp mtimes on every entry (children before their directory, so nothing disturbs them).
    pub fn finish(&mut self) {
        let mut all = Vec::new();
        walk(&self.root, &self.root, &mut all);
        for (rel, path) in all.into_iter().rev() {
            let (s, ns) = self
                .times
                .get(&rel)
                .copied()
                .unwrap_or_else(|| default_time(&rel));
            let t = filetime::FileTime::from_unix_time(s, ns);
            filetime::set_symlink_file_times(&path, t, t).unwrap();
        }
    }
}

/// A name-derived mtime in 2023 with a non-zero nanosecond part.
fn default_time(rel: &[u8]) -> (i64, u32) {
    let h = rel.iter().fold(1469598103934665603u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(1099511628211)
    });
    (
        1_690_000_000 + (h % 10_000_000) as i64,
        (h >> 32) as u32 % 1_000_000_000,
    )
}

/// All entries under `root` (root itself as the empty name), pre-order, sorted by name bytes.
fn walk(root: &Path, dir: &Path, out: &mut Vec<(Vec<u8>, PathBuf)>) {
    if dir == root {
        out.push((Vec::new(), root.to_path_buf()));
        if !std::fs::symlink_metadata(root).unwrap().is_dir() {
            return;
        }
    }
    let mut names: Vec<OsString> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    for n in names {
        let p = dir.join(&n);
        let rel = p
            .strip_prefix(root)
            .unwrap()
            .as_os_str()
            .as_bytes()
            .to_vec();
        let is_dir = std::fs::symlink_metadata(&p).unwrap().is_dir();
        out.push((rel, p.clone()));
        if is_dir {
            walk(root, &p, out);
        }
    }
}

/// The standard source tree: every file type rsync -a handles without extra options, modes, ns
/// mtimes, empty files and dirs, odd names (space, newline, non-UTF-8), relative, absolute-looking
/// and dangling symlinks, a hard-link pair and (as root) a foreign owner.
pub fn standard_tree(root: &Path) {
    let mut t = Tree::new(root);
    t.file("a.txt", b"hello\n")
        .file("empty", b"")
        .file("exec.sh", b"#!/bin/sh\necho hi\n")
        .mode("exec.sh", 0o755)
        .file("private", b"secret\n")
        .mode("private", 0o600)
        .file("big.bin", &pseudo_random(1, 300_000))
        .file("name with spaces.txt", b"spaces\n")
        .file(b"new\nline".as_slice(), b"newline in name\n")
        .file(b"bad\xffname".as_slice(), b"non-utf8 name\n")
        .file("sub/deep/c.txt", b"deep\n")
        .file("sub/medium.dat", &pseudo_random(2, 70_000))
        .dir("sub/deep/empty_dir")
        .dir("emptydir")
        .mode("sub", 0o750)
        .symlink("link", "a.txt")
        .symlink("dangling", "no/such/target")
        .symlink("sub/uplink", "../a.txt")
        .symlink("dirlink", "sub")
        .symlink("abslink", "/etc/hostname")
        .file("hard1", b"linked\n")
        .hardlink("hard2", "hard1")
        .mtime("a.txt", 1_600_000_000, 123_456_789)
        .mtime("empty", 946_684_800, 0);
    if is_root() {
        t.owner("private", 65534, 65534).owner("link", 65534, 65534);
    }
    t.finish();
}

/// Copy a tree (as `cp -a` would) — used to give the rsync and parasync runs identical inputs.
pub fn copy_tree(src: &Path, dst: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(src)
        .arg(dst)
        .status()
        .unwrap();
    assert!(st.success(), "cp -a {src:?} {dst:?}");
}

// ---------------------------------------------------------------------------------------------
// Tree comparison
// ---------------------------------------------------------------------------------------------

/// What a comparison checks besides names, types, content and link targets.
#[derive(Clone, Copy, Debug)]
pub struct Cmp {
    /// Permission bits (files, dirs; symlinks have none on Linux).
    pub perms: bool,
    /// mtimes of files, dirs and symlinks (to the nanosecond).
    pub times: bool,
    /// The root directory's own mtime and mode (not wanted when the root was created by the run).
    pub root_meta: bool,
    /// uid/gid.
    pub owner: bool,
    /// Which names share an inode.
    pub hardlinks: bool,
}

impl Cmp {
    /// Everything `rsync -a` preserves.
    pub const ALL: Cmp = Cmp {
        perms: true,
        times: true,
        root_meta: true,
        owner: true,
        hardlinks: true,
    };
    pub fn no_root(self) -> Cmp {
        Cmp {
            root_meta: false,
            ..self
        }
    }
    pub fn no_hardlinks(self) -> Cmp {
        Cmp {
            hardlinks: false,
            ..self
        }
    }
    pub fn no_times(self) -> Cmp {
        Cmp {
            times: false,
            ..self
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Entry {
    kind: &'static str,
    perms: Option<u32>,
    mtime: Option<(i64, i64)>,
    owner: Option<(u32, u32)>,
    content: Option<String>,
    target: Option<Vec<u8>>,
    link_group: Option<Vec<u8>>,
}

fn scan(root: &Path, cmp: Cmp) -> BTreeMap<Vec<u8>, Entry> {
    let mut all = Vec::new();
    walk(root, root, &mut all);
    let mut first_of_inode: BTreeMap<(u64, u64), Vec<u8>> = BTreeMap::new();
    let mut map = BTreeMap::new();
    for (rel, path) in all {
        let md = std::fs::symlink_metadata(&path).unwrap();
        let ft = md.file_type();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_file() {
            "file"
        } else {
            "special"
        };
        let is_root = rel.is_empty();
        let meta = !is_root || cmp.root_meta;
        let link_group = (cmp.hardlinks && ft.is_file() && md.nlink() > 1).then(|| {
            first_of_inode
                .entry((md.dev(), md.ino()))
                .or_insert_with(|| rel.clone())
                .clone()
        });
        map.insert(
            rel,
            Entry {
                kind,
                perms: (cmp.perms && meta && !ft.is_symlink()).then_some(md.mode() & 0o7777),
                mtime: (cmp.times && meta).then_some((md.mtime(), md.mtime_nsec())),
                owner: (cmp.owner && meta).then_some((md.uid(), md.gid())),
                content: ft.is_file().then(|| {
                    blake3::hash(&std::fs::read(&path).unwrap())
                        .to_hex()
                        .to_string()
                }),
                target: ft.is_symlink().then(|| {
                    std::fs::read_link(&path)
                        .unwrap()
                        .as_os_str()
                        .as_bytes()
                        .to_vec()
                }),
                link_group,
            },
        );
    }
    map
}

/// Differences between two trees (empty when equal), names shown escaped.
pub fn tree_diff(a: &Path, b: &Path, cmp: Cmp) -> String {
    let (ma, mb) = (scan(a, cmp), scan(b, cmp));
    let mut s = String::new();
    let show = |k: &[u8]| format!("{:?}", String::from_utf8_lossy(k));
    for (k, ea) in &ma {
        match mb.get(k) {
            None => s += &format!("only in {a:?}: {}\n", show(k)),
            Some(eb) if ea != eb => s += &format!("{}:\n  {ea:?}\n  {eb:?}\n", show(k)),
            _ => {}
        }
    }
    for k in mb.keys().filter(|k| !ma.contains_key(*k)) {
        s += &format!("only in {b:?}: {}\n", show(k));
    }
    s
}

/// Panic unless the two trees are equal under `cmp`.
pub fn assert_same_tree(a: &Path, b: &Path, cmp: Cmp) {
    let d = tree_diff(a, b, cmp);
    assert!(d.is_empty(), "trees differ ({a:?} vs {b:?}):\n{d}");
}

/// A digest of everything under `root` (names, types, content, metadata): for "nothing changed".
pub fn snapshot(root: &Path) -> String {
    format!("{:?}", scan(root, Cmp::ALL))
}

// ---------------------------------------------------------------------------------------------
// rsync vs parasync in twin workspaces
// ---------------------------------------------------------------------------------------------

/// Two identical workspaces, one per tool. Arguments may contain `{WS}` (the workspace's absolute
/// path) and `{BIN}` (the parasync binary).
pub struct Twin {
    _tmp: tempfile::TempDir,
    pub r: PathBuf,
    pub p: PathBuf,
}

/// Both tools' results for one command line.
pub struct Pair {
    pub r: Out,
    pub p: Out,
}

impl Twin {
    /// Build the workspaces with `setup` run on each (it must be deterministic).
    pub fn new(setup: impl Fn(&Path)) -> Twin {
        let tmp = tempfile::Builder::new()
            .prefix("parasync-it")
            .tempdir()
            .unwrap();
        // Readable by other users, for tests that drop privileges.
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let (r, p) = (tmp.path().join("r"), tmp.path().join("p"));
        for w in [&r, &p] {
            std::fs::create_dir(w).unwrap();
            setup(w);
        }
        Twin { _tmp: tmp, r, p }
    }

    /// Twin workspaces holding the standard tree in `src`.
    pub fn standard() -> Twin {
        Twin::new(|w| standard_tree(&w.join("src")))
    }

    fn expand(ws: &Path, args: &[&str]) -> Vec<String> {
        let w = ws.to_str().unwrap();
        let b = bin();
        args.iter()
            .map(|a| a.replace("{WS}", w).replace("{BIN}", b.to_str().unwrap()))
            .collect()
    }

    fn clean(ws: &Path, o: Out) -> Out {
        let w = ws.to_str().unwrap();
        Out {
            stdout: o.stdout.replace(w, "WS"),
            stderr: drop_shell_noise(&o.stderr).replace(w, "WS"),
            code: o.code,
        }
    }

    /// Run `rsync common… rsync_extra…` and `parasync common… para_extra…` (extras go first).
    /// Run both tools over the test sshd: the same `-e`, parasync's remote half the built binary.
    pub fn over_ssh(&self, s: &crate::sshd::Sshd, args: &[&str]) -> Pair {
        let w = s.wrapper.to_str().unwrap();
        self.run_with(args, &["-e", w], &["-e", w, "--rsync-path={BIN}"])
    }

    pub fn run_with(&self, common: &[&str], rsync_extra: &[&str], para_extra: &[&str]) -> Pair {
        self.run_under(&[], common, rsync_extra, para_extra)
    }

    /// As [`Twin::run_with`], with each tool started through `prefix` (e.g. `setpriv …`).
    pub fn run_under(
        &self,
        prefix: &[&str],
        common: &[&str],
        rsync_extra: &[&str],
        para_extra: &[&str],
    ) -> Pair {
        let one = |ws: &Path, tool: PathBuf, extra: &[&str]| {
            let mut a: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
            a.push(tool.to_str().unwrap().to_string());
            a.extend(Twin::expand(ws, extra));
            a.extend(Twin::expand(ws, common));
            Twin::clean(ws, run(&a[0], &a[1..], ws))
        };
        Pair {
            r: one(&self.r, PathBuf::from(RSYNC), rsync_extra),
            p: one(&self.p, bin(), para_extra),
        }
    }

    /// Run the same command line with both tools.
    pub fn run(&self, args: &[&str]) -> Pair {
        self.run_with(args, &[], &[])
    }

    /// Run both and require equal exit codes and equal masked output.
    pub fn same(&self, args: &[&str]) -> Pair {
        let pair = self.run(args);
        pair.assert_same(&format!("{args:?}"));
        pair
    }

    /// Panic unless `rel` in both workspaces holds equal trees.
    pub fn assert_trees(&self, rel: &str, cmp: Cmp) {
        assert_same_tree(&self.r.join(rel), &self.p.join(rel), cmp);
    }
}

impl Pair {
    /// Equal exit codes and equal output after [`mask`].
    pub fn assert_same(&self, what: &str) {
        self.assert_same_by(what, mask)
    }

    /// Equal exit codes and equal output after the given masker.
    pub fn assert_same_by(&self, what: &str, m: fn(&str) -> String) {
        assert_eq!(
            self.r.code, self.p.code,
            "{what}: exit codes differ\nrsync:\n{}\nparasync:\n{}",
            self.r, self.p
        );
        let (ro, po) = (m(&self.r.stdout), m(&self.p.stdout));
        assert!(
            ro == po,
            "{what}: stdout differs\n{}\nrsync:\n{}\nparasync:\n{}",
            diff(&ro, &po),
            self.r,
            self.p
        );
        let (re, pe) = (m(&self.r.stderr), m(&self.p.stderr));
        assert!(
            re == pe,
            "{what}: stderr differs\n{}\nrsync:\n{}\nparasync:\n{}",
            diff(&re, &pe),
            self.r,
            self.p
        );
    }
}

#[test]
fn tree_comparison_detects_differences() {
    let t = Twin::standard();
    t.assert_trees("src", Cmp::ALL);
    let (a, b) = (t.r.join("src"), t.p.join("src"));
    let touch = |p: &Path| {
        filetime::set_symlink_file_times(
            p,
            filetime::FileTime::from_unix_time(5, 1),
            filetime::FileTime::from_unix_time(5, 1),
        )
        .unwrap()
    };
    touch(&b.join("link"));
    assert!(tree_diff(&a, &b, Cmp::ALL).contains("link"));
    assert!(tree_diff(&a, &b, Cmp::ALL.no_times()).is_empty());
    std::fs::write(b.join("a.txt"), b"hellO\n").unwrap();
    assert!(tree_diff(&a, &b, Cmp::ALL.no_times()).contains("a.txt"));
    std::fs::remove_file(b.join("hard2")).unwrap();
    std::fs::write(b.join("hard2"), b"linked\n").unwrap();
    assert!(tree_diff(&a, &b, Cmp::ALL.no_times()).contains("hard"));
}

/// `src` = the standard tree and `dst` = an earlier, diverged copy of it: every kind of change the
/// receiver has to detect (content with and without size/mtime change, perms only, times only,
/// symlink retargeted, missing entries, extraneous entries for `--delete`, a type change).
pub fn changed_tree(w: &Path) {
    let (src, dst) = (w.join("src"), w.join("dst"));
    standard_tree(&src);
    copy_tree(&src, &dst);
    let mut t = Tree {
        root: dst.clone(),
        times: BTreeMap::new(),
    };
    let keep = |p: &str| {
        let md = std::fs::symlink_metadata(src.join(p)).unwrap();
        (md.mtime(), md.mtime_nsec() as u32)
    };
    // Same size and mtime, other bytes: only -c / -I notice.
    let (s, ns) = keep("a.txt");
    t.file("a.txt", b"HELLO\n").mtime("a.txt", s, ns);
    // A few changed bytes in the middle, newer mtime: a delta transfer.
    let mut big = std::fs::read(src.join("big.bin")).unwrap();
    big[150_000..150_100].copy_from_slice(&pseudo_random(9, 100));
    t.file("big.bin", &big).mtime("big.bin", 1_700_000_000, 5);
    // Permissions only.
    t.mode("exec.sh", 0o644);
    let (s, ns) = keep("exec.sh");
    t.mtime("exec.sh", s, ns);
    // Times only.
    t.mtime("sub/medium.dat", 1_500_000_000, 0);
    // Size changed.
    t.file("sub/deep/c.txt", b"deeper and longer\n");
    // Missing on the receiver.
    std::fs::remove_file(dst.join("empty")).unwrap();
    // Symlink retargeted.
    std::fs::remove_file(dst.join("link")).unwrap();
    t.symlink("link", "exec.sh");
    // Extraneous entries.
    t.file("extra_file", b"x\n")
        .file("extra_dir/inner", b"y\n")
        .symlink("extra_link", "nowhere");
    // Type change: a directory in place of a file.
    std::fs::remove_file(dst.join("name with spaces.txt")).unwrap();
    t.file("name with spaces.txt/inside", b"z\n");
    // Everything else keeps the source's times (cp -a preserved them; stamp the rest).
    for rel in ["", "sub", "sub/deep", "name with spaces.txt", "extra_dir"] {
        let (s, ns) = default_time(rel.as_bytes());
        t.mtime(rel, s, ns);
    }
    let (s, ns) = keep("sub/deep/c.txt");
    t.mtime("sub/deep/c.txt", s, ns + 1);
    let untouched: Vec<Vec<u8>> = {
        let mut all = Vec::new();
        walk(&dst, &dst, &mut all);
        all.into_iter()
            .map(|(r, _)| r)
            .filter(|r| !t.times.contains_key(r))
            .collect()
    };
    for rel in untouched {
        let md = std::fs::symlink_metadata(at(&src, &rel)).ok();
        let (s, ns) = md
            .map(|m| (m.mtime(), m.mtime_nsec() as u32))
            .unwrap_or_else(|| default_time(&rel));
        t.mtime(rel, s, ns);
    }
    t.finish();
}

/// The operands of a push (`src/` to the test sshd) or a pull (from it to `dst/`), `{WS}` being
/// the workspace.
pub fn push_pull(push: bool) -> [&'static str; 2] {
    if push {
        ["src/", "127.0.0.1:{WS}/dst/"]
    } else {
        ["127.0.0.1:{WS}/src/", "dst/"]
    }
}

/// Runs the command after it as `nobody`.
pub const NOBODY: [&str; 4] = [
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
];

/// The prefix that runs a tool as nobody (root reads everything; root only arranges the files),
/// or None when that is not possible here.
pub fn unprivileged() -> Option<&'static [&'static str]> {
    if !is_root() {
        return Some(&[]);
    }
    if !Path::new("/usr/bin/setpriv").exists() {
        eprintln!("note: running as root without setpriv; skipped");
        return None;
    }
    Some(&NOBODY)
}

/// `--rsync-path` that runs the remote half `prog` as `nobody`.
pub fn as_nobody(prog: &Path) -> String {
    format!("--rsync-path={} {}", NOBODY.join(" "), prog.display())
}
