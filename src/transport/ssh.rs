//! Spawning the remote half through the remote shell (`-e`, `RSYNC_RSH`, default `ssh`) and
//! mapping the shell's exit status the way rsync does (255 from ssh, 127 command not found, …).

use super::Stream;
use crate::error::{Error, Result};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

pub struct Remote {
    pub child: Child,
}

/// Spawn `argv` (already complete) and return the stream to its stdio.
pub fn spawn(argv: &[String]) -> Result<(Remote, Stream)> {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    unsafe {
        cmd.pre_exec(crate::signals::unblock_in_child);
    }
    let mut child = cmd.spawn().map_err(|e| {
        Error::new(
            14,
            format!(
                "rsync: Failed to exec {}: {}\nrsync error: error in IPC code (code 14)",
                argv[0],
                crate::error::io_text(&e)
            ),
        )
    })?;
    let w = child.stdin.take().unwrap();
    let r = child.stdout.take().unwrap();
    super::grow_pipe(w.as_raw_fd());
    super::grow_pipe(r.as_raw_fd());
    Ok((
        Remote { child },
        Stream {
            r: Box::new(r),
            w: Box::new(w),
        },
    ))
}

impl Remote {
    /// Wait for the remote shell and return its exit status (or 255 when killed by a signal).
    pub fn wait(&mut self) -> i32 {
        match self.child.wait() {
            Ok(s) => s.code().unwrap_or(255),
            Err(_) => 255,
        }
    }
    /// Wait up to `secs` for the child to exit on its own, then kill it.
    pub fn wait_or_kill(&mut self, secs: u64) -> i32 {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            match self.child.try_wait() {
                Ok(Some(s)) => return s.code().unwrap_or(255),
                Ok(None) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                _ => {
                    let _ = self.child.kill();
                    return self.wait();
                }
            }
        }
    }
}
