//! `--log-file` (rsync-cli.md §4.6): every line is `YYYY/MM/DD HH:MM:SS [PID] text`, local time,
//! appended to the file. Items use `--log-file-format` (default `%i %n%L`) and are logged whatever
//! the verbosity, like rsync's log; the last line is the transfer total.
//!
//! Item lines are produced by the receiver, which may run remotely: it sends them to the client as
//! `Msg::Log` with level [`crate::wire::msg::LOG_FILE`], and only the client process writes the file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::Mutex;

static LOG: Mutex<Option<File>> = Mutex::new(None);

/// Open (append) the log file; an error is reported like rsync's and the transfer goes on.
pub fn open(path: &str) -> std::io::Result<()> {
    // An operator path (plan::trusted).
    crate::plan::trusted::check_str(path)?;
    let f = OpenOptions::new().create(true).append(true).open(path)?;
    if let Ok(mut l) = LOG.lock() {
        *l = Some(f);
    }
    Ok(())
}

pub fn close() {
    if let Ok(mut l) = LOG.lock() {
        *l = None;
    }
}

/// Local time now, as rsync's log prints it.
fn stamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    super::local_time(now)
}

/// Append one line (no-op when no log file is open).
pub fn line(text: &[u8]) {
    let Ok(mut l) = LOG.lock() else { return };
    if let Some(f) = l.as_mut() {
        let mut b = format!("{} [{}] ", stamp(), std::process::id()).into_bytes();
        b.extend_from_slice(text);
        b.push(b'\n');
        let _ = f.write_all(&b);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stamp_shape() {
        let s = super::stamp();
        assert_eq!(s.len(), 19);
        assert_eq!(&s[4..5], "/");
        assert_eq!(&s[13..14], ":");
    }
}
