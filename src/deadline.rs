//! Deadlines that end a run from a thread of their own, as rsync's io.c does from its I/O loop:
//! `--timeout` while the handshake has not answered (after it, the connection's reads time out
//! themselves, session::Conn), and `--stop-after`/`--stop-at`. Either way: the message, temp
//! files removed (a `--partial` file kept), exit 30.

use crate::client::print_exit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `--timeout` before the first message: a peer that never answers the handshake (a stalled
/// remote shell) blocks a plain read, so a watchdog ends the process the way rsync's io.c
/// check_timeout does — message, temp files removed, exit 30.
pub struct HandshakeWatchdog(Arc<AtomicBool>);

impl HandshakeWatchdog {
    pub fn arm(t: Duration, role: &'static str, is_client: bool) -> HandshakeWatchdog {
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let start = Instant::now();
        let _ = std::thread::Builder::new()
            .name("timeout".into())
            .spawn(move || {
                while start.elapsed() < t {
                    std::thread::sleep(Duration::from_millis(50));
                    if d.load(Ordering::Relaxed) {
                        return;
                    }
                }
                let text = format!(
                    "[{role}] io timeout after {} seconds -- exiting",
                    t.as_secs()
                );
                exit_timed_out(&text, role, is_client);
            });
        HandshakeWatchdog(done)
    }
}

impl Drop for HandshakeWatchdog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// End the process from a watchdog the way rsync's exit_cleanup(RERR_TIMEOUT) does: the
/// message, temp files removed (a `--partial` file kept), exit 30.
fn exit_timed_out(text: &str, role: &str, is_client: bool) -> ! {
    eprintln!("{text}");
    crate::recon::cleanup();
    if is_client {
        print_exit(crate::error::RERR_TIMEOUT, role);
    }
    std::process::exit(crate::error::RERR_TIMEOUT);
}

/// `--stop-after` / `--stop-at` (rsync io.c): at that time the transfer stops wherever it is,
/// exit 30. A wall-clock deadline (a clock set forward ends the run sooner, as in rsync).
pub fn stop_at(at: i64, role: &'static str, is_client: bool) {
    let _ = std::thread::Builder::new()
        .name("stop-at".into())
        .spawn(move || loop {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            let left = Duration::from_secs(at.max(0) as u64).saturating_sub(now);
            if left.is_zero() {
                exit_timed_out("stopping at requested limit", role, is_client);
            }
            std::thread::sleep(left.min(Duration::from_secs(1)));
        });
}
