//! `--inplace` on the receiver: the target file is its own basis and its own output.
//!
//! rsync's `--inplace` keeps only matches that point forward (a copy may not read bytes an earlier
//! write has already replaced), so an insertion near the start of a file loses almost every match.
//! parasync instead collects the file's copy ops (metadata only — the sender withholds literals),
//! orders them with ip-rsync's CRWI graph and breaks cycles (recon::inplace, algorithms.md §8),
//! executes them inside the old file, and only then asks the sender for the byte ranges no kept copy
//! produces (`Msg::Need`). The sender re-reads those from its source, so neither side ever holds a
//! second copy of the file. The whole-file BLAKE3 is checked at the end as for every file; an
//! interrupted in-place update leaves a partially updated file (as rsync's does) and a re-run
//! converges to the new content.

use super::{Receiver, Result};
use crate::error::{io_text, Error};
use crate::wire::msg::Msg;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Open (or create) the target for in-place writing, without truncating it. Its mtime is first
/// set to the epoch: if the update is interrupted, the half-written file can never pass the next
/// run's quick check (same size, same mtime second) and is always transferred again; the real
/// mtime is set once the file has verified.
pub(super) fn open_target(path: &Path) -> std::io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    filetime::set_file_handle_times(&f, None, Some(filetime::FileTime::zero()))?;
    Ok(f)
}

impl Receiver {
    /// All copies of `idx` have arrived: plan, execute in place, ask for the rest.
    pub(super) fn on_copies_end(&mut self, idx: u32) -> Result<()> {
        let new_len = self.flist.get(idx as usize).map(|e| e.size).unwrap_or(0);
        let policy = self.opts.inplace_policy.clone();
        let budget = self.opts.inplace_buffer;
        let Some(job) = self.jobs.get_mut(&idx) else {
            return Err(Error::protocol(
                "protocol error: copies end for a file that was not requested",
            ));
        };
        let Some(copies) = job.copies.take() else {
            return Err(Error::protocol("protocol error: unexpected copies end"));
        };
        let w = match job.w() {
            Ok(w) => w,
            Err(err) => return self.inplace_failed(idx, err),
        };
        let old_len = match w.file.metadata() {
            Ok(m) => m.len(),
            Err(err) => return self.inplace_failed(idx, err),
        };
        let done = crate::recon::run_inplace(&w.file, &copies, old_len, new_len, &policy, budget);
        let (need, report) = match done {
            Ok(x) => x,
            Err(err) => return self.inplace_failed(idx, err),
        };
        if let Some(w) = job.writer.as_mut() {
            w.mark_unordered(new_len - need.iter().map(|r| r.1).sum::<u64>());
        }
        self.stats.inplace_lost += report.lost;
        self.stats.inplace_kept += report.kept;
        self.stats.inplace_converted += report.converted;
        self.stats.inplace_stash_peak = self.stats.inplace_stash_peak.max(report.stash_peak);
        self.conn.send(&Msg::Need { idx, ranges: need })
    }

    fn inplace_failed(&mut self, idx: u32, err: std::io::Error) -> Result<()> {
        let target = self
            .jobs
            .get(&idx)
            .map(|j| j.target.clone())
            .unwrap_or_default();
        // Ask for everything so the protocol stays in step; the digest check then decides.
        if let Some(w) = self.jobs.get_mut(&idx).and_then(|j| j.writer.as_mut()) {
            w.poison();
        }
        self.conn.send(&Msg::Need {
            idx,
            ranges: vec![],
        })?;
        self.fail(format!(
            "rsync: [receiver] write failed on \"{}\": {}",
            crate::flist::walk::full_name(&target),
            io_text(&err)
        ))
    }
}
