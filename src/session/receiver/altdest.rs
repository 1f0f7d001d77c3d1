//! `--compare-dest`, `--copy-dest`, `--link-dest` (rsync-cli.md §1.3.10): up to 20 extra
//! directories searched for a file missing from the destination (and, for compare and link,
//! for an exact copy of one it has: see [`Receiver::alt_replaces_existing`]). The backbone of snapshot backups:
//! `--link-dest=../yesterday` makes every unchanged file a hard link to yesterday's copy.
//!
//! rsync's rules: a relative DIR is relative to the destination directory; the first DIR holding
//! an up-to-date copy (the same quick check as for the destination itself) wins — compare-dest then
//! skips the file, copy-dest copies it locally, link-dest hard-links it (only when the attributes
//! that are preserved — xattrs and ACLs with `-X`/`-A` included — also match, since a link shares
//! them); otherwise the first DIR holding a
//! regular file of that name serves as the basis for the delta transfer, and the item is itemized
//! against it.

use super::Receiver;
use crate::cli::options::AltDest;
use crate::flist::entry::Entry;
use crate::meta::fake::Stat;
use std::ffi::OsStr;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub(super) enum Alt {
    /// No alternate copy.
    None,
    /// Handled (linked, copied or skipped): nothing to transfer.
    Done,
    /// Transfer with this file as the basis.
    Basis(PathBuf, Box<Stat>),
}

impl Receiver {
    fn alt_dirs(&self) -> Vec<PathBuf> {
        self.opts.alt_dirs.iter().map(|d| self.alt_dir(d)).collect()
    }

    /// Where DIR is: relative to the destination directory; in a dry run whose destination
    /// does not exist yet, one leading `../` is taken off, as rsync's check_alt_basis_dirs does,
    /// so that DIR is found where it would be in a real run.
    fn alt_dir(&self, d: &str) -> PathBuf {
        let p = Path::new(d);
        let root = self.root_dir();
        if p.is_absolute() {
            return p.to_path_buf();
        }
        if self.opts.dry_run && !root.is_dir() {
            if let (Some(rest), Some(parent)) = (d.strip_prefix("../"), root.parent()) {
                return parent.join(rest);
            }
        }
        root.join(p)
    }

    /// `e`'s name in each alternate dir, in order, with what `stat` says of it as this side
    /// sees it (`--fake-super`: through its stored attributes; names that are not there are
    /// left out).
    fn alt_items<'a>(
        &'a self,
        e: &Entry,
        stat: impl Fn(&Path) -> std::io::Result<Metadata> + 'a,
    ) -> impl Iterator<Item = (PathBuf, Stat)> + 'a {
        let rel = self.rel_name(e);
        let fake = self.meta.fake;
        self.alt_dirs().into_iter().filter_map(move |dir| {
            let p = dir.join(OsStr::from_bytes(&rel));
            let m = stat(&p).ok()?;
            let m = Stat::of(m, &p, fake);
            Some((p, m))
        })
    }

    /// `e`'s regular files in the alternate dirs (symlinks not followed).
    fn alt_files<'a>(&'a self, e: &Entry) -> impl Iterator<Item = (PathBuf, Stat)> + 'a {
        self.alt_items(e, |p| std::fs::symlink_metadata(p))
            .filter(|(_, m)| m.is_file())
    }

    /// main.c check_alt_basis_dirs: a warning for each DIR that does not exist or is not a
    /// directory (the run goes on without it).
    pub(super) fn check_alt_dirs(&mut self) -> crate::error::Result<()> {
        let Some(kind) = self.opts.alt_dest else {
            return Ok(());
        };
        let opt = match kind {
            AltDest::Compare => "--compare-dest",
            AltDest::Copy => "--copy-dest",
            AltDest::Link => "--link-dest",
        };
        let root = self.root_dir();
        // An operator path reached through a planted symlink is not looked in (plan::trusted;
        // rsync 3.5 says so and goes on without it).
        for d in std::mem::take(&mut self.opts.alt_dirs) {
            if crate::plan::trusted::check_quietly(&self.alt_dir(&d)).is_ok() {
                self.opts.alt_dirs.push(d);
            } else {
                self.conn.warning(crate::plan::trusted::NOTICE)?;
            }
        }
        for d in self.opts.alt_dirs.clone() {
            let p = self.alt_dir(&d);
            let what = match std::fs::metadata(&p) {
                Err(_) => "does not exist",
                Ok(m) if !m.is_dir() => "is not a dir",
                Ok(_) => continue,
            };
            // Named as rsync names it, below its working directory (the destination).
            let shown = std::fs::canonicalize(&root)
                .map(|r| r.join(&d))
                .unwrap_or(p);
            self.conn
                .warning(&format!("{opt} arg {what}: {}", shown.display()))?;
        }
        Ok(())
    }

    /// Look for `e` in the alternate directories; `path` is its destination. rsync's
    /// try_dests_reg: the best match over the directories wins (level 3, exact, stops the
    /// search): an exact copy is linked (link-dest) or left where it is (compare-dest); one that
    /// passes the quick check only, or any with copy-dest, is copied here; otherwise the first
    /// regular file is the basis.
    pub(super) fn alt_lookup(
        &mut self,
        idx: u32,
        e: &Entry,
        path: &Path,
        mode: u32,
    ) -> crate::error::Result<Alt> {
        let Some(kind) = self.opts.alt_dest else {
            return Ok(Alt::None);
        };
        let mut best: Option<(u8, PathBuf, Stat)> = None;
        for (p, m) in self.alt_files(e) {
            let (same, attrs_match) = self.alt_match(e, &p, &m, mode);
            let level = 1 + same as u8 + (same && attrs_match) as u8;
            if best.as_ref().is_none_or(|b| level > b.0) {
                best = Some((level, p, m));
            }
            if level == 3 {
                break;
            }
        }
        match best {
            Some((3, p, m)) if kind != AltDest::Copy => {
                self.alt_exact(idx, kind, &p, &m, path, e, mode)
            }
            Some((level @ (2 | 3), p, m)) => self.alt_copy(idx, &p, &m, path, e, mode, level == 3),
            Some((_, p, m)) => Ok(Alt::Basis(p, Box::new(m))),
            None => Ok(Alt::None),
        }
    }

    /// An exact alternate copy `p` of `e`: link-dest hard-links it (a link that cannot be made
    /// becomes a copy), compare-dest leaves it where it is. Itemized unchanged (`hf`/`.f`, from
    /// `-ii` on) and "is uptodate" at `-vv`, as rsync's try_dests_reg.
    #[allow(clippy::too_many_arguments)]
    fn alt_exact(
        &mut self,
        idx: u32,
        kind: AltDest,
        p: &Path,
        m: &Stat,
        path: &Path,
        e: &Entry,
        mode: u32,
    ) -> crate::error::Result<Alt> {
        if kind == AltDest::Link && !self.opts.dry_run && std::fs::hard_link(p, path).is_err() {
            return self.alt_copy(idx, p, m, path, e, mode, true);
        }
        if kind == AltDest::Compare && !self.opts.dry_run {
            self.not_placed = Some(idx);
        }
        let c = crate::report::itemize::Change {
            linked: kind == AltDest::Link,
            ..Default::default()
        };
        self.log_item(idx, e, &c, false, None);
        self.is_uptodate_line(e);
        Ok(Alt::Done)
    }

    /// Copy the alternate file `p` here (rsync's copy_altdest_file), itemized as a local change
    /// against it; `exact` (its attributes match too) also says "is uptodate" at `-vv`. A copy
    /// that fails leaves the file to the transfer.
    #[allow(clippy::too_many_arguments)]
    fn alt_copy(
        &mut self,
        idx: u32,
        p: &Path,
        m: &Stat,
        path: &Path,
        e: &Entry,
        mode: u32,
        exact: bool,
    ) -> crate::error::Result<Alt> {
        if !self.opts.dry_run && self.copy_local(p, path, e, mode).is_err() {
            return Ok(Alt::None);
        }
        let (uid, gid) = self.want_ids(e);
        let mut c = crate::decide::attr_change(e, m, &self.opts, uid, gid, mode);
        self.xattr_change(e, p, Some(mode), &mut c);
        c.local = c.significant();
        c.matched = true;
        self.log_item(idx, e, &c, false, None);
        if exact {
            self.is_uptodate_line(e);
        }
        Ok(Alt::Done)
    }

    /// Whether the alternate file `p` (`m`) passes the quick check against `e`, and whether its
    /// preserved attributes match too (rsync's match levels 2 and 3).
    fn alt_match(&self, e: &Entry, p: &Path, m: &Stat, mode: u32) -> (bool, bool) {
        let mut sum = || {
            std::fs::File::open(p)
                .ok()
                .and_then(|f| crate::recon::tempfile::digest_file(&f, m.len()).ok())
        };
        let same = crate::decide::quick_check_ok(e, m, &self.opts, &mut sum);
        let (uid, gid) = self.want_ids(e);
        let xattrs_match = match e.x().xattrs.as_deref() {
            Some(want) if self.meta.xattrs.any() => {
                crate::meta::xattr::differs(p, want, self.meta.xattrs, mode) == (false, false)
            }
            _ => true,
        };
        // rsync's unchanged_attrs: the time too (with -c the quick check did not look at it).
        let time_match = !self.opts.times
            || crate::decide::same_time(
                (e.mtime, e.mtime_ns),
                (m.mtime(), m.mtime_nsec() as u32),
                self.opts.modify_window,
            );
        // -E without -p: only whether it is executable (unchanged_attrs).
        let exec_match = self.opts.perms
            || !self.opts.executability
            || (m.mode() & 0o111 != 0) == (e.mode & 0o111 != 0);
        let attrs_match = time_match
            && exec_match
            && (!self.opts.perms || m.mode() & 0o7777 == mode & 0o7777)
            && (!self.opts.owner || m.uid() == uid)
            && (!self.opts.group || m.gid() == gid)
            && xattrs_match;
        (same, attrs_match)
    }

    /// `--compare-dest`/`--link-dest` with the file already in the destination: an alternate
    /// copy that matches it exactly (content and attributes) makes the destination file go —
    /// compare-dest leaves it removed, link-dest puts a hard link in its place — whether or not
    /// the destination's own copy was up to date (rsync's try_dests_reg with
    /// find_exact_for_existing). True when that happened (the file is done).
    pub(super) fn alt_replaces_existing(
        &mut self,
        idx: u32,
        e: &Entry,
        path: &Path,
        mode: u32,
        dest: &Metadata,
    ) -> crate::error::Result<bool> {
        let Some(kind @ (AltDest::Compare | AltDest::Link)) = self.opts.alt_dest else {
            return Ok(false);
        };
        let exact = self
            .alt_files(e)
            .find(|(p, m)| self.alt_match(e, p, m, mode) == (true, true));
        let Some((p, m)) = exact else {
            return Ok(false);
        };
        if kind == AltDest::Link && (m.dev(), m.ino()) == (dest.dev(), dest.ino()) {
            // Already that link: the usual up-to-date path.
            return Ok(false);
        }
        if !self.opts.dry_run {
            if let Err(err) = std::fs::remove_file(path) {
                if err.kind() != std::io::ErrorKind::NotFound {
                    return Ok(false);
                }
            }
        }
        // The exact copy just found (not a rescan, which could stop at an earlier directory
        // whose copy only passes the quick check).
        let done = self.alt_exact(idx, kind, &p, &m, path, e, mode)?;
        Ok(matches!(done, Alt::Done))
    }

    /// Whether an alternate directory holds an up-to-date copy of regular file `e` (the quick
    /// check; attributes aside). With `-H` such a member counts as present: it may lead its
    /// group, and a member linked to the leader is not a new item (hlink.c hard_link_check).
    pub(super) fn alt_has_copy(&self, e: &Entry) -> bool {
        if self.opts.alt_dest.is_none() || !e.is_file() {
            return false;
        }
        let mode = crate::meta::target_mode(e, None, &self.meta);
        self.alt_files(e)
            .any(|(p, m)| self.alt_match(e, &p, &m, mode).0)
    }

    /// A new symlink, device or special whose twin sits in an alternate directory (generator.c
    /// try_dests_non: a symlink with the same target; a device of the same type and number, or
    /// a special of the same type, whose preserved attributes match): `--link-dest` hard-links
    /// it, `--compare-dest` creates nothing, `--copy-dest` makes it here; all three as an
    /// unchanged item (shown from `-ii` on). False when no alternate directory has it.
    pub(super) fn alt_nonreg(
        &mut self,
        idx: u32,
        e: &Entry,
        path: &Path,
    ) -> crate::error::Result<bool> {
        let Some(kind) = self.opts.alt_dest else {
            return Ok(false);
        };
        let target = e.x().link.clone().unwrap_or_default();
        let (uid, gid) = self.want_ids(e);
        let mode = crate::meta::target_mode(e, None, &self.meta);
        let twin = |p: &Path, m: &Stat| {
            if e.is_symlink() {
                return m.is_symlink() && m.read_link(p).is_ok_and(|t| t == target);
            }
            m.mode() & crate::flist::entry::S_IFMT == e.fmt()
                && (!e.is_device() || m.rdev() == e.x().rdev)
                && crate::report::itemize::Change {
                    // rsync's unchanged_attrs: permissions, owner, group; not the time.
                    time: false,
                    ..crate::decide::attr_change(e, m, &self.opts, uid, gid, mode)
                } == Default::default()
        };
        let found = self
            .alt_items(e, |p| std::fs::symlink_metadata(p))
            .find(|(p, m)| twin(p, m));
        let Some((p, _)) = found else {
            return Ok(false);
        };
        let c = crate::report::itemize::Change {
            linked: kind == AltDest::Link,
            matched: kind == AltDest::Copy,
            ..Default::default()
        };
        if self.opts.itemize_unchanged() {
            self.log_item(idx, e, &c, false, None);
        }
        self.is_uptodate_line(e);
        if self.opts.dry_run || kind == AltDest::Compare {
            return Ok(true);
        }
        let r = match kind {
            // A hard link to the item itself (linkat without following a symlink).
            AltDest::Link => std::fs::hard_link(&p, path),
            _ if self.meta.fake => crate::meta::fake::make_file(path, &target),
            _ if e.is_symlink() => std::os::unix::fs::symlink(OsStr::from_bytes(&target), path),
            _ => crate::meta::mknod(path, e),
        };
        if r.is_err() {
            // As rsync: fall back to making the link here.
            return Ok(false);
        }
        if kind == AltDest::Copy {
            self.set_attrs(path, e, (uid, gid), (!e.is_symlink()).then_some(mode), true)?;
        }
        Ok(true)
    }

    /// The first alternate dir's symlink named as `e`, whatever its target.
    pub(super) fn alt_symlink_basis(&self, e: &Entry) -> Option<Stat> {
        self.alt_first(e, |p| std::fs::symlink_metadata(p), Stat::is_symlink)
    }

    /// The first alternate dest dir's copy of directory `e`, if any.
    pub(super) fn alt_dir_meta(&self, e: &Entry) -> Option<Stat> {
        self.alt_first(e, |p| std::fs::metadata(p), Stat::is_dir)
    }

    /// The first alternate dir's item named as `e` (looked at by `stat`) that `wanted` accepts.
    fn alt_first(
        &self,
        e: &Entry,
        stat: impl Fn(&Path) -> std::io::Result<Metadata>,
        wanted: impl Fn(&Stat) -> bool,
    ) -> Option<Stat> {
        self.opts.alt_dest?;
        self.alt_items(e, stat).map(|(_, m)| m).find(|m| wanted(m))
    }

    /// copy-dest: a local copy through a temp file, with the entry's attributes.
    fn copy_local(&self, from: &Path, to: &Path, e: &Entry, mode: u32) -> std::io::Result<()> {
        let (mut f, temp) = crate::recon::tempfile::create_temp(to, None)?;
        let r = (|| {
            let mut src = std::fs::File::open(from)?;
            std::io::copy(&mut src, &mut f)?;
            let (uid, gid) = self.want_ids(e);
            crate::meta::apply(&temp, e, Some(uid), Some(gid), Some(mode), &self.meta)?;
            std::fs::rename(&temp, to)
        })();
        if r.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        r
    }
}
