//! Errors that carry rsync's exit codes (errcode.h). Fatal errors end the run with their code;
//! per-file problems accumulate in [`Problems`] and decide 23 vs 24 at the end (23 > 24 > 25, as
//! rsync's cleanup.c does).

use std::fmt;

pub const RERR_SYNTAX: i32 = 1;
pub const RERR_PROTOCOL: i32 = 2;
pub const RERR_FILESELECT: i32 = 3;
pub const RERR_UNSUPPORTED: i32 = 4;
pub const RERR_STARTCLIENT: i32 = 5;
pub const RERR_SOCKETIO: i32 = 10;
pub const RERR_FILEIO: i32 = 11;
pub const RERR_STREAMIO: i32 = 12;
pub const RERR_IPC: i32 = 14;
pub const RERR_SIGNAL: i32 = 20;
pub const RERR_PARTIAL: i32 = 23;
pub const RERR_VANISHED: i32 = 24;
pub const RERR_DEL_LIMIT: i32 = 25;
pub const RERR_TIMEOUT: i32 = 30;

/// rsync's text for an exit code (log.c rerr_names, 3.5.0 wording).
pub fn code_text(code: i32) -> &'static str {
    match code {
        1 => "syntax or usage error",
        2 => "protocol incompatibility",
        3 => "errors selecting input/output files, dirs",
        4 => "requested action not supported",
        5 => "error starting client-server protocol",
        10 => "error in socket IO",
        11 => "error in file IO",
        12 => "error in rsync protocol data stream",
        13 => "errors with program diagnostics",
        14 => "error in IPC code",
        20 => "received SIGINT, SIGTERM, or SIGHUP",
        22 => "error allocating core memory buffers",
        23 => "some files/attrs were not transferred (see previous errors)",
        24 => "some files vanished before they could be transferred",
        25 => "the --max-delete limit stopped deletions",
        30 => "timeout in data send/receive",
        124 => "remote shell failed",
        125 => "remote shell killed",
        126 => "remote command could not be run",
        127 => "remote command not found",
        _ => "unexplained error",
    }
}

/// A fatal error: message lines already formatted for stderr (may be empty) and the exit code.
#[derive(Debug, Clone)]
pub struct Error {
    pub code: i32,
    pub msg: String,
    /// The role named in the final `rsync error: … [ROLE=VERSION]` line when it is not the
    /// client's own: rsync's pre-fork receiver ends a run it fails with `[Receiver=…]`.
    pub role: Option<&'static str>,
}

impl Error {
    pub fn new(code: i32, msg: impl Into<String>) -> Error {
        let msg = msg.into();
        Error {
            code,
            role: role_of(&msg),
            msg,
        }
    }
    pub fn syntax(msg: impl Into<String>) -> Error {
        Error::new(RERR_SYNTAX, msg)
    }
    pub fn protocol(msg: impl Into<String>) -> Error {
        Error::new(RERR_STREAMIO, msg)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}
impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::new(
            RERR_STREAMIO,
            format!("connection error: {}", crate::error::io_text(&e)),
        )
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// The process role that reports a fatal message, from its `rsync: [ROLE] …` prefix, when that
/// role names itself in the final line (only the pre-fork `Receiver`).
pub fn role_of(text: &str) -> Option<&'static str> {
    // uidlist.c's --usermap/--groupmap parse errors also end the pre-fork receiver.
    let map_error = ["No colon found in --", "Invalid number in --"]
        .iter()
        .any(|p| text.starts_with(p) && text.contains("map: "));
    // main.c get_local_name() and do_recv(): a destination in the way and a missing temp-dir
    // are refused by the receiver too.
    let not_a_dir = text.starts_with("ERROR: destination must be a directory")
        || text.starts_with("The temp-dir does not exist: ")
        || text.starts_with("The backup-dir is not a directory: ")
        || (text.starts_with("Failed to stat ") && !text.contains('\n'));
    // A destination behind a planted symlink (plan::trusted): the notice, then change_dir's line.
    let planted = text.starts_with(crate::plan::trusted::NOTICE);
    (text.starts_with("rsync: [Receiver] ") || map_error || not_a_dir || planted)
        .then_some("Receiver")
}

/// rsync's `STRERROR (ERRNO)` rendering of an I/O error.
pub fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let s = e.to_string();
            let s = s.split(" (os error").next().unwrap_or(&s).to_string();
            format!("{s} ({n})")
        }
        None => e.to_string(),
    }
}

/// Non-fatal problems met during a run; decides the final exit code.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Problems {
    pub partial: bool,
    pub vanished: bool,
    pub del_limit: bool,
}

impl Problems {
    pub fn merge(&mut self, o: Problems) {
        self.partial |= o.partial;
        self.vanished |= o.vanished;
        self.del_limit |= o.del_limit;
    }
    /// cleanup.c: start at 25, override with 24, then 23.
    pub fn exit_code(&self) -> i32 {
        if self.partial {
            RERR_PARTIAL
        } else if self.vanished {
            RERR_VANISHED
        } else if self.del_limit {
            RERR_DEL_LIMIT
        } else {
            0
        }
    }
}
