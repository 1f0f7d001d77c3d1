//! `-b`/`--backup`, `--suffix`, `--backup-dir` (rsync-cli.md §1.3.9): a file about to be replaced
//! or deleted is renamed to `name~` (or moved into the backup hierarchy) instead of being lost.
//!
//! rsync's rules followed here: the suffix defaults to `~`, or to nothing with `--backup-dir`; a
//! relative `--backup-dir` is relative to the destination directory; the backup tree mirrors the
//! destination's relative paths, creating directories as needed; without `--backup-dir`, `--delete`
//! does not delete earlier backups (rsync's implicit protect rule `P *SUFFIX`, added with the other
//! automatic filter rules in filter/). Directories
//! are never backed up, only the non-directories inside them.

use super::Receiver;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

impl Receiver {
    fn backup_suffix(&self) -> &str {
        match (&self.opts.suffix, &self.opts.backup_dir) {
            (Some(s), _) => s,
            (None, Some(_)) => "",
            (None, None) => "~",
        }
    }

    /// Where the backup of `rel` (relative to the destination root) goes.
    fn backup_path(&self, rel: &[u8]) -> PathBuf {
        let mut name = rel.to_vec();
        name.extend_from_slice(self.backup_suffix().as_bytes());
        self.backup_base()
            .unwrap_or_else(|| self.root_dir())
            .join(OsStr::from_bytes(&name))
    }

    /// `--backup-dir` (relative to the destination root unless absolute).
    fn backup_base(&self) -> Option<PathBuf> {
        let d = Path::new(self.opts.backup_dir.as_deref()?);
        Some(if d.is_absolute() {
            d.to_path_buf()
        } else {
            self.root_dir().join(d)
        })
    }

    /// Create the directories of `rel`'s backup path below `--backup-dir` that are missing, each
    /// with the mode of the destination directory it mirrors, and its owner, group and ACL as
    /// `-o`, `-g` and `-A` say (rsync's backup.c copy_valid_path); its other extended
    /// attributes stay behind, as in rsync.
    fn make_backup_dirs(&self, rel: &[u8]) -> std::io::Result<()> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let root = self.root_dir();
        let mut at = 0;
        while let Some(i) = rel[at..].iter().position(|b| *b == b'/') {
            let dir = &rel[..at + i];
            at += i + 1;
            let bak = self.backup_path(dir);
            let bak = bak.with_file_name(
                Path::new(OsStr::from_bytes(dir))
                    .file_name()
                    .unwrap_or_default(),
            );
            if bak.is_dir() {
                continue;
            }
            if let Some(base) = bak.parent() {
                std::fs::create_dir_all(base)?;
            }
            match std::fs::create_dir(&bak) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
            let orig = root.join(OsStr::from_bytes(dir));
            if let Ok(m) = std::fs::metadata(&orig) {
                // ACLs (and a --fake-super record), not other extended attributes: rsync's
                // copy_valid_path sets the directory's attributes with no file to copy
                // xattrs from (set_file_attrs with fnamecmp NULL).
                let sel = self.meta.xattrs;
                if sel.any() {
                    if let Ok(mut x) = crate::meta::xattr::read(&orig, sel) {
                        x.retain(|(n, _)| sel.is_acl_here(n) || n == crate::meta::fake::XSTAT);
                        let _ = crate::meta::xattr::apply(&bak, &x, sel);
                    }
                }
                let _ = std::fs::set_permissions(
                    &bak,
                    std::fs::Permissions::from_mode(m.mode() & 0o7777),
                );
                let uid = (self.meta.owner && self.meta.am_root).then_some(m.uid());
                let gid = self.meta.group.then_some(m.gid());
                if uid.is_some() || gid.is_some() {
                    let _ = std::os::unix::fs::chown(&bak, uid, gid);
                }
            }
        }
        Ok(())
    }

    /// Back up `path` (a non-directory; `rel` is its name relative to the destination root) before
    /// it is replaced or deleted. `keep` copies instead of renaming (in-place updates).
    pub(super) fn make_backup(
        &mut self,
        path: &Path,
        rel: &[u8],
        keep: bool,
    ) -> std::io::Result<bool> {
        if !self.opts.backup {
            return Ok(false);
        }
        match std::fs::symlink_metadata(path) {
            Ok(m) if !m.is_dir() => {}
            _ => return Ok(false),
        }
        let dst = self.backup_path(rel);
        if let Some(base) = self.backup_base() {
            // An operator path (plan::trusted), looked at for every backup as rsync does.
            if let Err(e) = crate::plan::trusted::check_quietly(&base) {
                let _ = self.conn.warning(crate::plan::trusted::NOTICE);
                return Err(e);
            }
        }
        if let Some(parent) = dst.parent() {
            if self.opts.backup_dir.is_some() && !parent.is_dir() {
                self.make_backup_dirs(rel)?;
            }
            std::fs::create_dir_all(parent)?;
        }
        // An older backup of the name is replaced (a rename does that by itself).
        let copy_over = |from: &Path| match std::fs::remove_file(&dst) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => crate::meta::copy_item(from, &dst),
        };
        if keep {
            copy_over(path)?;
        } else if std::fs::rename(path, &dst).is_err() {
            // Across file systems (a --backup-dir elsewhere): copy, then remove.
            copy_over(path)?;
            std::fs::remove_file(path)?;
        }
        if self.opts.info.backup > 0 {
            let shown = crate::report::escape(rel);
            // Named as rsync names it: below the --backup-dir as given, else by its own name.
            let dir = match self.opts.backup_dir.as_deref() {
                Some(d) if d.ends_with('/') => d.to_string(),
                Some(d) => format!("{d}/"),
                None => String::new(),
            };
            let suffix = self.backup_suffix();
            self.gen_line(format!("backed up {shown} to {dir}{shown}{suffix}"));
        }
        Ok(true)
    }
}

/// The receiver's line for a backup that could not be made (the file is then not replaced).
pub(super) fn backup_failed(path: &Path, err: &std::io::Error) -> String {
    format!(
        "rsync: [receiver] backup of \"{}\" failed: {}",
        crate::flist::walk::full_name(path),
        crate::error::io_text(err)
    )
}
