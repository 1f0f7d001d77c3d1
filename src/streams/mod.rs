//! `--streams N|auto`: several parasync sessions over one OpenSSH connection.
//!
//! Why: on a tree of many small files one session is bound by one receiver thread creating,
//! writing and renaming files one after another (and one sender reading them); a second and third
//! session on other cores move other files meanwhile. One OpenSSH master connection
//! (`ControlMaster`, see [`master`]) carries every session, so the extra sessions cost no new
//! TCP connection or authentication.
//!
//! How the output stays exactly that of one session: the *primary* session is an ordinary
//! transfer. Its receiver (the generator, as in rsync) owns the file list and decides every
//! item — item lines, `--stats` counts, deletions, hard links and directory times stay with it —
//! but when a regular file needs its content moved it may hand the file to a *helper* session
//! instead of requesting it ([`Delegate`]). A helper is a plain sender/receiver pair whose file
//! list is the delegated files only (one top-level entry each, under the same destination root
//! the primary already resolved); its receiver re-checks and writes the file with the same
//! options, quietly (errors still print and count for the exit code). Before deleting after the
//! transfer, linking hard links and setting directory times the primary waits for every helper
//! (`Barrier`), so those happen last, as with one session. Item lines of delegated files are
//! released in file-list order, as their data would have started.
//!
//! Which session moves a file ([`Split`]): least loaded first, a file costing its size plus a
//! fixed per-file cost, the primary's share counted double (it also walks the list and decides),
//! so big files and runs of small files proceed side by side. `auto` runs one session per two
//! cores (at most 8; one on a 2-core machine, where a second session was measured to cost time)
//! and opens helpers only while moving files is most of the work ([`Split::pick`]).
//!
//! Roles: in a push the primary receiver is remote and sends `Delegate{idx, stream}` to the
//! local sender, which feeds helper senders ([`Helpers`]); in a pull the primary receiver is
//! local and feeds helper receivers whose remote senders serve the names they are sent
//! ([`source_path`]).

pub mod helpers;
pub mod master;

use crate::error::{Error, Result};
use crate::flist::walk::Source;
use crate::flist::Entry;
use crate::session::Conn;
use crate::wire::msg::{Msg, Stats};
use std::path::PathBuf;

/// `--streams=helper` (server side only): a helper sender that serves the names it is sent.
pub const HELPER: usize = usize::MAX;

/// The primary receiver's side of delegation. Delegated files report back when their data
/// starts or their sender failed them — `(idx, started)` — so item lines go out exactly when
/// they would in one session (a file that cannot be read is not named).
pub trait Delegate: Send {
    /// Hand file `idx` (regular, needing transfer) to a helper; `false` = move it here.
    fn take(&mut self, idx: u32, e: &Entry, conn: &mut Conn) -> Result<bool>;
    /// Reports that arrived meanwhile.
    fn poll(&mut self) -> Vec<(u32, bool)> {
        Vec::new()
    }
    /// Return once every delegated file is finished, with the reports not yet polled.
    fn finish(&mut self, conn: &mut Conn) -> Result<Vec<(u32, bool)>>;
}

/// The primary sender's side of a push: start helper sessions and feed them files.
pub trait Helpers: Send {
    fn take(&mut self, stream: u32, idx: u32, e: Entry, path: PathBuf) -> Result<()>;
    fn finish(&mut self) -> Result<()>;
}

/// A push helper's sender passing its receiver's reports on (helper file number, started).
pub type Relay = Box<dyn FnMut(u32, bool) -> Result<()> + Send>;

/// A helper receiver's report of a file's start (true) or failure at the sender (false).
pub type Starts = Box<dyn FnMut(u32, bool, &mut Conn) -> Result<()> + Send>;

/// The report of a helper receiver whose primary is the remote client's sender: a message back.
pub fn starts_to_peer() -> Starts {
    Box::new(|idx, ok, conn| {
        conn.send(&if ok {
            Msg::Started { idx }
        } else {
            Msg::FileFailed {
                idx,
                vanished: false,
            }
        })
    })
}

/// Whether this transfer can run several sessions; says why not (rsync-style warning) when
/// `--streams` asked for more than one and they cannot be had.
pub fn usable(o: &crate::cli::Options, p: &crate::plan::operand::Plan, rsh: &[String]) -> bool {
    if o.streams == 1 || o.list_only || o.dry_run || resolve(o.streams) == 1 {
        return false;
    }
    if o.copy_as.is_some() {
        // The extra sessions start after this side became that user, who may not use the
        // master's socket or the caller's ssh keys.
        eprintln!("parasync: warning: --streams does not go with --copy-as; using one stream");
        return false;
    }
    let why = if p.remote.is_none() {
        Some("the transfer is local")
    } else if !p.local_sends && (p.sources.len() != 1 || o.relative || o.files_from.is_some()) {
        Some("a pull with several sources, -R or --files-from")
    } else if !master::is_openssh(rsh) {
        Some("the remote shell (-e) is not OpenSSH")
    } else {
        None
    };
    if let Some(why) = why {
        eprintln!(
            "parasync: warning: --streams needs OpenSSH to a remote host ({why}); using one stream"
        );
        return false;
    }
    true
}

/// How many sessions `--streams` asks for (0 = auto).
///
/// `auto` is one session per two cores (at most 8): one session already keeps about two cores
/// busy (the sender, the receiver, and the ssh client and server encrypting), so on 2 cores
/// extra sessions only add processes. Measured on the 200,000-file tree, 2 cores: initial copy
/// one session 1.10× rsync's time, 4 sessions 1.47×; update 1.13× and 1.47×.
pub fn resolve(n: usize) -> usize {
    if n == 0 {
        (crate::engine::cdc::threads(0) / 2).clamp(1, 8)
    } else {
        n.max(1)
    }
}

/// Fixed cost of a file in bytes-equivalent (create, rename, metadata, a round of messages).
const PER_FILE: u64 = 64 << 10;
/// `auto`: helper k opens once this many files times k need moving.
const AUTO_STEP: u64 = 256;

/// The assignment of files to sessions (0 = primary).
pub struct Split {
    load: Vec<u64>,
    auto: bool,
    seen: u64,
}

impl Split {
    pub fn new(streams: usize) -> Split {
        Split::sized(resolve(streams), streams == 0)
    }

    /// `sessions` sessions, opened as `auto` does or all from the start.
    fn sized(sessions: usize, auto: bool) -> Split {
        Split {
            load: vec![0; sessions.max(1)],
            auto,
            seen: 0,
        }
    }

    /// The session to move file `idx` (its file-list index) of `size` bytes.
    ///
    /// `auto` opens helpers only while moving files is most of the work: once at least
    /// `AUTO_STEP` files per helper need moving *and* they are at least half of the entries
    /// decided so far. A helper takes data off the primary, but the primary still decides
    /// every entry; where most entries are only compared (an update of a large tree), extra
    /// sessions only add processes on the same cores (200,000-file update on 2 cores: auto
    /// 1.25x rsync's time, one stream 1.09x), while an initial copy moves everything.
    pub fn pick(&mut self, size: u64, idx: u32) -> usize {
        self.seen += 1;
        let open = if self.auto {
            let moving = self.seen.saturating_mul(2) > u64::from(idx);
            let opened = self.load.iter().skip(1).filter(|l| **l > 0).count();
            let want = if moving {
                1 + (self.seen / AUTO_STEP) as usize
            } else {
                1 + opened
            };
            want.max(1 + opened).min(self.load.len())
        } else {
            self.load.len()
        };
        let weight = |k: usize, l: u64| if k == 0 { l.saturating_mul(2) } else { l };
        let k = (0..open)
            .min_by_key(|&k| weight(k, self.load[k]))
            .unwrap_or(0);
        self.load[k] = self.load[k].saturating_add(size.saturating_add(PER_FILE));
        k
    }
}

/// The primary receiver of a push (remote): delegations go to the local sender.
pub struct RemoteDelegate {
    split: Split,
    used: bool,
}

impl RemoteDelegate {
    pub fn new(streams: usize) -> RemoteDelegate {
        RemoteDelegate {
            split: Split::new(streams),
            used: false,
        }
    }
}

impl Delegate for RemoteDelegate {
    fn take(&mut self, idx: u32, e: &Entry, conn: &mut Conn) -> Result<bool> {
        let k = self.split.pick(e.size, idx);
        if k == 0 {
            return Ok(false);
        }
        self.used = true;
        conn.send(&Msg::Delegate {
            idx,
            stream: k as u32,
        })?;
        Ok(true)
    }

    fn finish(&mut self, conn: &mut Conn) -> Result<Vec<(u32, bool)>> {
        let mut reports = Vec::new();
        if !self.used {
            return Ok(reports);
        }
        conn.send(&Msg::Barrier)?;
        loop {
            match conn.recv()? {
                Msg::Barrier => return Ok(reports),
                Msg::Started { idx } => reports.push((idx, true)),
                Msg::FileFailed { idx, .. } => reports.push((idx, false)),
                Msg::Log { level, text } => conn.relay(level, &text)?,
                other => {
                    return Err(Error::protocol(format!(
                        "protocol error: unexpected {} while waiting for helper sessions",
                        crate::session::sender::msg_name(&other)
                    )))
                }
            }
        }
    }
}

/// What the helper sessions add to the primary's totals.
#[derive(Default)]
pub struct Totals {
    pub sender: Stats,
    pub receiver: Stats,
    pub problems: crate::error::Problems,
    pub sent: u64,
    pub recvd: u64,
}

impl Totals {
    pub fn add(&mut self, sender: &Stats, receiver: &Stats, p: &crate::error::Problems) {
        add_stats(&mut self.sender, sender);
        add_stats(&mut self.receiver, receiver);
        self.problems.merge(*p);
    }
}

/// Add a helper's data figures (not its file counts: the primary counted every file).
pub fn add_stats(t: &mut Stats, s: &Stats) {
    t.literal += s.literal;
    t.matched += s.matched;
    t.copy_ops += s.copy_ops;
    t.deduped += s.deduped;
    t.dedup_files += s.dedup_files;
    t.engine_msgs += s.engine_msgs;
    t.engine_us += s.engine_us;
    t.probe_bytes += s.probe_bytes;
    t.inplace_lost += s.inplace_lost;
    t.inplace_kept += s.inplace_kept;
    t.inplace_converted += s.inplace_converted;
    t.inplace_stash_peak = t.inplace_stash_peak.max(s.inplace_stash_peak);
}

/// A helper sender of a pull: the on-disk path of a name the client sent. Only the plain
/// single-source case streams (the client checks), and a name may not leave the source.
pub fn source_path(sources: &[Source], e: &Entry) -> Result<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let bad = || Error::protocol("protocol error: bad name for a helper session");
    let [src] = sources else {
        return Err(bad());
    };
    let name = std::path::Path::new(std::ffi::OsStr::from_bytes(&e.name));
    let clean = name
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !clean || e.name.is_empty() || !e.is_file() {
        return Err(bad());
    }
    let base = if src.contents {
        src.path.clone()
    } else {
        src.path
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default()
    };
    Ok(base.join(name))
}

/// Options of a helper session: the same transfer, without item output, deletions or stats
/// (the primary prints and counts those).
pub fn helper_options(o: &crate::cli::Options) -> crate::cli::Options {
    let mut h = o.clone();
    h.verbose = 0;
    h.itemize = 0;
    h.quiet = true;
    h.info.name = 0;
    h.info.progress = 0;
    h.info.stats = 0;
    h.info.skip = 0;
    h.info.flist = 0;
    h.stats = false;
    h.out_format = None;
    h.log_file = None;
    h.log_file_format = None;
    h.delete = false;
    h.delete_excluded = false;
    h.max_delete = None;
    h.mkpath = false;
    h.streams = 1;
    h.files_from = None;
    h
}

/// Temp dirs of live master connections, removed by the signal handler too.
pub fn cleanup() {
    master::cleanup_all();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `auto` opens helpers as files to move accumulate on an initial copy, none where only a
    /// few entries need moving, and keeps using the ones it opened.
    #[test]
    fn auto_opens_helpers_only_while_moving_dominates() {
        // Initial copy: every entry moves.
        let mut s = Split::sized(4, true);
        let used: std::collections::BTreeSet<usize> =
            (0..4 * AUTO_STEP as u32).map(|i| s.pick(4096, i)).collect();
        assert!(used.len() > 1, "{used:?}");
        assert!(used.iter().all(|k| *k < 4));
        // Update: one entry in 30 moves.
        let mut s = Split::sized(4, true);
        let used: std::collections::BTreeSet<usize> = (0..200 * AUTO_STEP as u32)
            .step_by(30)
            .map(|i| s.pick(4096, i))
            .collect();
        assert_eq!(used, [0].into());
        // A fixed count uses every session from the start.
        let mut s = Split::new(3);
        let used: std::collections::BTreeSet<usize> = (0..6).map(|i| s.pick(1 << 20, i)).collect();
        assert_eq!(used, [0, 1, 2].into());
        // auto: one session per two cores.
        let cores = crate::engine::cdc::threads(0);
        assert_eq!(resolve(0), (cores / 2).clamp(1, 8));
    }
}
