//! Receiver side of the source-selection options.
//!
//! - `--delete-missing-args` (rsync(1)): a source operand that does not exist arrives as a
//!   "missing" entry (mode 0); the receiver deletes that name if it exists. A non-empty directory
//!   goes only with `--force` or `--delete` ("cannot delete non-empty directory: NAME"
//!   otherwise, not an error); `--list-only` shows it as a `*missing` row.
//! - `--no-implied-dirs` (rsync(1)): the path's directories are not in the list, so missing ones
//!   are created with default attributes and existing ones (even symlinks) are left alone.

use super::{Receiver, Result};
use crate::flist::Entry;
use std::path::Path;

impl Receiver {
    pub(super) fn process_missing(&mut self, e: &Entry) -> Result<()> {
        if self.opts.list_only {
            let row = format!("{:<46}{}", "*missing", crate::report::escape(&e.name));
            return self.conn.info(&row);
        }
        let path = self.target(e);
        let Ok(m) = std::fs::symlink_metadata(&path) else {
            return Ok(());
        };
        if m.is_dir() && !(self.opts.force || self.opts.delete) {
            let empty = std::fs::read_dir(&path).is_ok_and(|mut d| d.next().is_none());
            if !empty {
                self.gen_line(format!(
                    "cannot delete non-empty directory: {}",
                    crate::report::escape(&e.name)
                ));
                return self.flush_lines();
            }
        }
        self.delete_path(&path, &e.name)?;
        self.flush_lines()
    }

    /// `--no-implied-dirs`: make the directories above `path` (inside the destination).
    pub(super) fn make_parents(&mut self, path: &Path) {
        if self.opts.dry_run {
            return;
        }
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() && !parent.is_dir() {
                let _ = std::fs::create_dir_all(parent);
            }
        }
    }
}
