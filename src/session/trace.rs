//! Timeline tracing for performance work: with `PARASYNC_TRACE=1` in the environment (of the
//! client, or of the remote side through `--rsync-path='env PARASYNC_TRACE=1 parasync'`), each
//! trace point prints one line to stderr with wall-clock milliseconds (comparable between the two
//! processes of a transfer on one machine), the process id and the event. Off by default; the
//! check is one relaxed atomic load. `PARASYNC_TRACE=cpu` prints only the CPU time of each thread
//! at the end of a run.

use std::sync::atomic::{AtomicU8, Ordering};

static STATE: AtomicU8 = AtomicU8::new(0);

/// 1 = off, 2 = every trace point, 3 = only the per-thread CPU times at the end
/// (`PARASYNC_TRACE=cpu`: the timeline's one line per message slows a run of many files).
fn state() -> u8 {
    match STATE.load(Ordering::Relaxed) {
        0 => {
            let s = match std::env::var_os("PARASYNC_TRACE") {
                Some(v) if v == "cpu" => 3,
                Some(v) if v != "0" => 2,
                _ => 1,
            };
            STATE.store(s, Ordering::Relaxed);
            s
        }
        s => s,
    }
}

/// Whether tracing is on (reads the environment once).
pub fn enabled() -> bool {
    state() == 2
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

/// Print the CPU time of each live thread of this process (from /proc/self/task), when tracing:
/// which thread of a side is the busy one.
pub fn threads() {
    if state() < 2 {
        return;
    }
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return;
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let mut lines = Vec::new();
    for t in tasks.flatten() {
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // "tid (comm) state ...": utime and stime are fields 14 and 15, counted after the ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let comm = head.split_once('(').map_or("?", |(_, c)| c);
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        if f.len() > 12 {
            lines.push(format!(
                "{comm} user {} ms sys {} ms",
                f[11] * 1000 / hz,
                f[12] * 1000 / hz
            ));
        }
    }
    eprintln!(
        "[trace {}] threads: {}",
        std::process::id(),
        lines.join(", ")
    );
}
