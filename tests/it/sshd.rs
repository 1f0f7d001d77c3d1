//! A throwaway OpenSSH server on 127.0.0.1 for the remote tests (design.md §8): keys, config, pid
//! file and log live in a temp dir; nothing in the system config or `~/.ssh` is touched. One server
//! serves the whole test binary; it is killed (by its pid file) when the process exits.
//!
//! Under `CI=true` a missing or broken sshd fails the tests; elsewhere remote tests are skipped with a
//! note, so a developer without OpenSSH can still run the local suite.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The running test server.
pub struct Sshd {
    /// Temp dir with keys, config, log and the client wrapper.
    pub dir: PathBuf,
    pub port: u16,
    /// Executable script usable as `-e`: runs ssh with all the options below.
    pub wrapper: PathBuf,
}

impl Sshd {
    /// The client options of design.md §8, with the given identity file.
    pub fn ssh_words(&self, key: &Path) -> Vec<String> {
        ssh_words(self.port, key)
    }
    pub fn user_key(&self) -> PathBuf {
        self.dir.join("userkey")
    }
}

fn ssh_words(port: u16, key: &Path) -> Vec<String> {
    let mut v = vec![
        "ssh".to_string(),
        "-p".into(),
        port.to_string(),
        "-i".into(),
        key.display().to_string(),
    ];
    for o in [
        "StrictHostKeyChecking=no",
        "UserKnownHostsFile=/dev/null",
        "BatchMode=yes",
        "LogLevel=ERROR",
    ] {
        v.push("-o".into());
        v.push(o.into());
    }
    v
}

static SSHD: OnceLock<Option<Sshd>> = OnceLock::new();
static PIDFILE: OnceLock<PathBuf> = OnceLock::new();

fn kill_by_pidfile(pf: &Path) {
    if let Some(pid) = std::fs::read_to_string(pf)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    {
        // SAFETY: signalling the daemon this process started, by the pid it recorded.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
}

extern "C" fn stop_sshd() {
    if let Some(pf) = PIDFILE.get() {
        kill_by_pidfile(pf);
        if let Some(dir) = pf.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The shared server, or `None` (after printing why) when OpenSSH is not installed outside CI.
pub fn sshd() -> Option<&'static Sshd> {
    SSHD.get_or_init(|| {
        let missing: Vec<_> = ["/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/ssh-keygen"]
            .into_iter()
            .filter(|p| !Path::new(p).exists())
            .collect();
        if !missing.is_empty() {
            let msg = format!("OpenSSH not installed ({missing:?} missing)");
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{msg}: remote tests cannot run under CI=true");
            }
            eprintln!("note: {msg}; skipping remote tests");
            return None;
        }
        Some(start())
    })
    .as_ref()
}

/// Get the server or return from the calling test (skip) when there is none.
#[macro_export]
macro_rules! need_sshd {
    () => {
        match $crate::sshd::sshd() {
            Some(s) => s,
            None => return,
        }
    };
}

fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "parasync-test", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen");
    assert!(st.success(), "ssh-keygen failed");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start() -> Sshd {
    let dir = tempfile::Builder::new()
        .prefix("parasync-sshd")
        .tempdir()
        .unwrap()
        .keep();
    keygen(&dir.join("hostkey"));
    keygen(&dir.join("userkey"));
    keygen(&dir.join("otherkey"));
    std::fs::copy(dir.join("userkey.pub"), dir.join("authorized_keys")).unwrap();
    std::fs::create_dir_all("/run/sshd").unwrap();
    let pidfile = dir.join("sshd.pid");
    PIDFILE.set(pidfile.clone()).unwrap();
    // SAFETY: registering a plain extern "C" function with no captured state.
    unsafe { libc::atexit(stop_sshd) };
    let mut last_err = String::new();
    for _attempt in 0..5 {
        let port = free_port();
        let config = format!(
            "ListenAddress 127.0.0.1\nPort {port}\nHostKey {d}/hostkey\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin yes\n\
             MaxStartups 100:30:200\nMaxSessions 100\nAcceptEnv XDG_CACHE_HOME\n",
            d = dir.display()
        );
        std::fs::write(dir.join("sshd_config"), config).unwrap();
        let _ = std::fs::remove_file(&pidfile);
        let st = Command::new("/usr/sbin/sshd")
            .arg("-f")
            .arg(dir.join("sshd_config"))
            .arg("-E")
            .arg(dir.join("sshd.log"))
            .status()
            .expect("run sshd");
        if !st.success() {
            last_err = format!("sshd exited with {st}");
            continue;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline
            && !(pidfile.exists() && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok())
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        let wrapper = dir.join("ssh-wrap");
        let words = ssh_words(port, &dir.join("userkey"));
        std::fs::write(
            &wrapper,
            format!("#!/bin/sh\nexec {} \"$@\"\n", words.join(" ")),
        )
        .unwrap();
        std::fs::set_permissions(
            &wrapper,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let probe = Command::new(&wrapper)
            .args(["127.0.0.1", "true"])
            .output()
            .unwrap();
        if probe.status.success() {
            return Sshd { dir, port, wrapper };
        }
        last_err = format!(
            "ssh probe failed: {}",
            String::from_utf8_lossy(&probe.stderr)
        );
        kill_by_pidfile(&pidfile);
    }
    let log = std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default();
    panic!("could not start the test sshd: {last_err}\nsshd.log:\n{log}");
}
