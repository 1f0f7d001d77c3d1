//! The OpenSSH master connection that carries every session of `--streams`: `ssh -M -N` with a
//! `ControlPath` in a private temp dir (mode 0700, so no other user can attach to it), and
//! sessions started with `-o ControlMaster=no -o ControlPath=…`. Torn down when dropped (normal
//! end and error paths) and by the signal handler: `ssh -O exit`, the child killed if still there,
//! the directory removed.

use crate::error::Result;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// (temp dir, master pid) of live masters.
static LIVE: Mutex<Vec<(PathBuf, u32)>> = Mutex::new(Vec::new());

pub struct Master {
    dir: PathBuf,
    socket: PathBuf,
    child: Child,
    /// The remote shell words up to and including the host, for `-O exit`.
    base: Vec<String>,
}

/// Does `rsh` (already split) run OpenSSH? `ssh -V` prints "OpenSSH_…" on stderr; a wrapper
/// script that execs ssh with options passes it through.
pub fn is_openssh(rsh: &[String]) -> bool {
    let Some((prog, args)) = rsh.split_first() else {
        return false;
    };
    Command::new(prog)
        .args(args)
        .arg("-V")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map(|o| {
            let text = [o.stdout, o.stderr].concat();
            String::from_utf8_lossy(&text).contains("OpenSSH")
        })
        .unwrap_or(false)
}

/// The `-o` words a session adds to the remote shell to ride on the master.
pub fn session_words(socket: &Path) -> String {
    format!(
        " -o ControlMaster=no -o ControlPath={}",
        socket.to_string_lossy()
    )
}

/// A new directory only we can enter (the socket path must also stay short: 108 bytes).
fn private_dir() -> Result<PathBuf> {
    let base = std::env::temp_dir();
    let mut last = None;
    for i in 0..100u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = base.join(format!(
            "parasync-cm-{}-{:x}",
            std::process::id(),
            nanos ^ i
        ));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) => last = Some(e),
        }
    }
    Err(crate::error::Error::new(
        14,
        format!(
            "parasync: cannot create a control directory: {}",
            last.unwrap()
        ),
    ))
}

impl Master {
    /// Start a master for `base` (remote shell words up to and including the host, with the
    /// user and -4/-6) and wait until its socket answers. `insert` is where the master's own
    /// options go (before `-l user` and the host).
    pub fn start(base: Vec<String>, insert: usize) -> Result<Master> {
        let dir = private_dir()?;
        let socket = dir.join("cm");
        let mut argv = base.clone();
        let opts = [
            "-o".to_string(),
            "ControlMaster=yes".into(),
            "-o".into(),
            format!("ControlPath={}", socket.to_string_lossy()),
            "-o".into(),
            "ControlPersist=no".into(),
            "-N".into(),
        ];
        argv.splice(insert..insert, opts);
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        unsafe {
            cmd.pre_exec(crate::signals::unblock_in_child);
        }
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(crate::error::Error::new(
                    14,
                    format!("rsync: Failed to exec {}: {e}", argv[0]),
                ));
            }
        };
        if let Ok(mut l) = LIVE.lock() {
            l.push((dir.clone(), child.id()));
        }
        let mut m = Master {
            dir,
            socket,
            child,
            base,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !m.socket.exists() {
            let exited = matches!(m.child.try_wait(), Ok(Some(_)));
            if exited || Instant::now() > deadline {
                return Err(crate::error::Error::new(
                    255,
                    "parasync: the ssh master connection for --streams did not come up",
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(m)
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        // Ask the master to exit (closing its connection); kill it if it does not.
        let (prog, rest) = self.base.split_first().expect("remote shell words");
        let host_at = rest.len().saturating_sub(1);
        let _ = Command::new(prog)
            .args(&rest[..host_at])
            .arg("-o")
            .arg(format!("ControlPath={}", self.socket.to_string_lossy()))
            .args(["-O", "exit"])
            .args(&rest[host_at..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(2);
        while !matches!(self.child.try_wait(), Ok(Some(_))) {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Ok(mut l) = LIVE.lock() {
            l.retain(|(d, _)| *d != self.dir);
        }
    }
}

/// Signal path: kill live masters and remove their directories.
pub fn cleanup_all() {
    let list = match LIVE.lock() {
        Ok(mut l) => std::mem::take(&mut *l),
        Err(_) => return,
    };
    for (dir, pid) in list {
        // SAFETY: signalling the master this process started, by the pid it was given.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        let _ = std::fs::remove_dir_all(dir);
    }
}
