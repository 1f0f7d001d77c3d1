//! Shared helpers of the fault-injection tests: scratch trees, running the binary (optionally
//! with a deadline and its peak memory), tree snapshots, and rsh wrapper scripts that make a
//! "remote" transfer without sshd.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_parasync");

/// A scratch directory.
pub struct Tree {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
}

impl Tree {
    pub fn new() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        Tree { _dir: dir, root }
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
    pub fn write(&self, rel: &str, data: &[u8]) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        snapshot(&self.root)
    }
    /// An executable script in the tree.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }
}

/// Every path below `root` → type and content (files), target (symlinks).
pub fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    fn walk(root: &Path, p: &Path, m: &mut BTreeMap<String, String>) {
        let Ok(rd) = std::fs::read_dir(p) else { return };
        for d in rd.flatten() {
            let q = d.path();
            let rel = q.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            // A transfer may still be running: an entry listed a moment ago can be gone.
            let Ok(md) = std::fs::symlink_metadata(&q) else {
                continue;
            };
            if md.file_type().is_symlink() {
                m.insert(rel, format!("link {:?}", std::fs::read_link(&q).unwrap()));
            } else if md.is_dir() {
                m.insert(rel, "dir".into());
                walk(root, &q, m);
            } else {
                let data = std::fs::read(&q).unwrap_or_default();
                m.insert(rel, format!("file {}", blake3::hash(&data).to_hex()));
            }
        }
    }
    walk(root, root, &mut m);
    m
}

/// Dot-temp files (`.name.XXXXXX`) left below `root`.
pub fn temp_files(root: &Path) -> Vec<String> {
    snapshot(root)
        .keys()
        .filter(|k| {
            let base = k.rsplit('/').next().unwrap();
            base.starts_with('.') && base.len() > 8 && base.as_bytes()[base.len() - 7] == b'.'
        })
        .cloned()
        .collect()
}

pub struct Out {
    pub code: i32,
    pub stderr: String,
    pub elapsed: Duration,
    /// Peak resident set of the process, KiB.
    pub maxrss_kb: i64,
}

/// `cmd` with PATH extended so that `parasync --server` resolves to the binary under test.
pub fn command(prog: &str, cwd: &Path, args: &[String]) -> Command {
    let mut c = Command::new(prog);
    c.args(args).current_dir(cwd);
    let dir = Path::new(BIN).parent().unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    c.env("PATH", format!("{}:{path}", dir.display()));
    c.env_remove("RSYNC_RSH");
    c
}

/// Run to completion (killed after `limit`), measuring time and peak memory.
pub fn run_cmd(mut c: Command, limit: Duration) -> Out {
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = c.spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let mut so = child.stdout.take().unwrap();
    // Drain stdout so the child never blocks on a full pipe.
    let mut se = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t2 = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let (code, maxrss_kb) = loop {
        let mut status = 0;
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
        if r == pid {
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            };
            break (code, ru.ru_maxrss);
        }
        if start.elapsed() > limit {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = start.elapsed();
    let _ = t1.join();
    std::mem::forget(child);
    Out {
        code,
        stderr: t2.join().unwrap(),
        elapsed,
        maxrss_kb,
    }
}

pub fn parasync(cwd: &Path, args: &[String]) -> Out {
    run_cmd(command(BIN, cwd, args), Duration::from_secs(60))
}

/// [`parasync`] with its own peak memory: run from a small wrapper process
/// (tests/data/rss_rsh.py), since a child forked from this test process starts from the test
/// process's peak, which other tests running alongside raise (the rss tests hold 100 MiB files).
pub fn parasync_rss(cwd: &Path, args: &[String]) -> Out {
    let wrapper = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rss_rsh.py");
    let rss = tempfile::NamedTempFile::new().unwrap();
    let mut a = vec![
        wrapper.to_string(),
        rss.path().display().to_string(),
        "--".into(),
        BIN.into(),
    ];
    a.extend(args.iter().cloned());
    let mut out = run_cmd(command("python3", cwd, &a), Duration::from_secs(60));
    out.maxrss_kb = std::fs::read_to_string(rss.path())
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(i64::MAX);
    out
}

/// The installed rsync's answer, when there is one.
pub fn rsync_oracle(cwd: &Path, args: &[String]) -> Option<Out> {
    Path::new("/usr/bin/rsync").exists().then(|| {
        run_cmd(
            command("/usr/bin/rsync", cwd, args),
            Duration::from_secs(60),
        )
    })
}

pub fn args(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

/// A well-formed handshake greeting, as the crate's `wire::handshake` writes it.
pub fn hello() -> Vec<u8> {
    use parasync::wire::codec::put_uv;
    let c = parasync::wire::Caps::ours();
    let mut h = parasync::wire::MAGIC.to_vec();
    put_uv(&mut h, c.version as u64);
    put_uv(&mut h, parasync::wire::MIN_PROTOCOL_VERSION as u64);
    put_uv(&mut h, c.features);
    put_uv(&mut h, c.engines);
    let mut out = vec![h.len() as u8];
    out.extend_from_slice(&h);
    out
}
