//! Timeline tracing for performance work: with `PARASYNC_TRACE=1` in the environment (of the
//! client, or of the remote side through `--rsync-path='env PARASYNC_TRACE=1 parasync'`), each
//! trace point prints one line to stderr with wall-clock milliseconds (comparable between the two
//! processes of a transfer on one machine), the process id and the event. Off by default; the
//! check is one relaxed atomic load.

use std::sync::atomic::{AtomicU8, Ordering};

static STATE: AtomicU8 = AtomicU8::new(0);

/// Whether tracing is on (reads the environment once).
pub fn enabled() -> bool {
    match STATE.load(Ordering::Relaxed) {
        0 => {
            let on = std::env::var_os("PARASYNC_TRACE").is_some_and(|v| v != "0");
            STATE.store(if on { 2 } else { 1 }, Ordering::Relaxed);
            on
        }
        s => s == 2,
    }
}

/// Print a trace line built by `what` when tracing is on.
pub fn point(what: impl FnOnce() -> String) {
    if !enabled() {
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let ms = (now.as_micros() % 100_000_000) as f64 / 1000.0;
    eprintln!(
        "[trace {ms:.1} {}] {} {}",
        std::process::id(),
        what(),
        rss()
    );
}

/// Resident set of this process: anonymous and file-backed KiB (from /proc/self/status).
fn rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_string()
    };
    format!(
        "(anon {} file {} hwm {})",
        field("RssAnon:"),
        field("RssFile:"),
        field("VmHWM:")
    )
}
