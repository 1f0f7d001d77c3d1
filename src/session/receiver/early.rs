//! File messages that overtook the file list.
//!
//! The receiver serves a file's round-trip messages (engine exchanges, probes) before the ordered
//! ones (`session` module doc), so they are answered while a long list is still being decided. A
//! sender only sends them after the file's request, which follows the file's segment — but a
//! replayed or hostile stream need not wait, and a message about a file whose segment has not
//! been processed must not be judged yet: it is held (with every file message after it, to keep
//! the arrival order) until the segments that follow are processed. Whatever is still held when
//! the list ends is handled then (and refused there if its file was never requested).

use super::*;

/// The file a per-file message is about.
fn file_of(m: &Msg) -> Option<u32> {
    match m {
        Msg::Engine { idx, .. }
        | Msg::Ops { idx, .. }
        | Msg::FileEnd { idx, .. }
        | Msg::CopiesEnd { idx }
        | Msg::Probe { idx, .. } => Some(*idx),
        _ => None,
    }
}

impl Receiver {
    /// `Some(m)` to handle now; `None` when `m` is about a file whose segment has not been
    /// processed and the list is still coming (kept for [`Receiver::replay_early`]).
    pub(super) fn hold_early(&mut self, m: Msg) -> Option<Msg> {
        match file_of(&m) {
            Some(idx)
                if !self.flist_done
                    && (idx as usize >= self.flist.len() || !self.early.is_empty()) =>
            {
                // Behind an earlier held message of any file: keep the arrival order.
                self.early.push(m);
                None
            }
            _ => Some(m),
        }
    }

    /// Handle the held messages whose files are decided now (`all`: the list has ended, handle
    /// every one), in arrival order.
    pub(super) fn replay_early(&mut self, all: bool) -> Result<()> {
        while let Some(m) = self.early.first() {
            let ready = all || file_of(m).is_some_and(|i| (i as usize) < self.flist.len());
            if !ready {
                break;
            }
            let m = self.early.remove(0);
            self.on_file_msg(m)?;
        }
        Ok(())
    }

    /// One per-file message.
    pub(super) fn on_file_msg(&mut self, m: Msg) -> Result<()> {
        self.count_file_msg(&m);
        match m {
            Msg::Engine { idx, data } => self.on_engine(idx, &data),
            Msg::Ops { idx, ops } => self.on_ops(idx, ops),
            Msg::FileEnd { idx, digest, .. } => {
                self.on_file_end(idx, digest)?;
                // Done unless it is being redone: its line gets the byte counts.
                if !self.jobs.contains_key(&idx) {
                    self.finish_byte_item(idx);
                    self.flush_lines()?;
                }
                Ok(())
            }
            Msg::CopiesEnd { idx } => self.on_copies_end(idx),
            Msg::Probe { idx, block, ranges } => self.on_probe(idx, block, ranges),
            other => Err(Error::protocol(format!(
                "protocol error: unexpected {} at the receiver",
                super::super::sender::msg_name(&other)
            ))),
        }
    }
}
