//! The generator half (rsync's generator.c): per entry of the file list decide what to do —
//! create a directory, symlink or device, fix attributes, skip, or request the file over an engine
//! session with the best basis (the old file, or an alternate dest dir's copy).

use super::delete::Del;
use super::*;

impl Receiver {
    pub(super) fn process(&mut self, idx: u32, e: &Entry) -> Result<()> {
        if self.opts.debug.get("GENR") > 0 {
            self.gen_line(format!("recv_generator({},{idx})", report::escape(&e.name)));
        }
        if e.fmt() == 0 {
            return self.process_missing(e);
        }
        if self.opts.list_only {
            return self.list_row(e);
        }
        if e.is_symlink() {
            self.safe_parent = None; // it may replace a verified directory
        }
        // A dry run's directory that replaces a non-directory: its contents are all new.
        let below_replaced = !self.dry_replaced.is_empty() && self.below_dry_replaced(&e.name);
        if let Some(link) = self.symlink_in_path(&e.name).filter(|_| !below_replaced) {
            return self.fail(format!(
                "rsync: [receiver] refusing to write \"{}\" through the symlink \"{}\"",
                report::escape(&e.name),
                crate::flist::walk::full_name(&link)
            ));
        }
        let path = self.target(e);
        if !self.meta.perms {
            let dir = if e.is_dot() {
                Some(path.as_path())
            } else {
                path.parent()
            };
            if self.gen_dflt.as_ref().map(|(d, _)| d.as_path()) != dir {
                let umask = self.dflt_umask(dir);
                self.gen_dflt = dir.map(|d| (d.to_path_buf(), umask));
            }
        }
        if self.opts.relative && !self.opts.implied_dirs {
            self.make_parents(&path);
        }
        let mut old = self.old_meta(idx, &path).filter(|_| !below_replaced);
        self.made_way = false;
        // generator.c: --ignore-existing skips anything already present (attributes, links and
        // type changes included) unless both sides are directories.
        if self.opts.ignore_existing {
            if let Some(m) = &old {
                if !(e.is_dir() && m.is_dir()) {
                    if self.opts.info.skip > 0 || self.opts.verbose > 1 {
                        self.gen_line(format!("{} exists", report::escape(&e.name)));
                    }
                    return Ok(());
                }
            }
        }
        if self.opts.existing && old.is_none() && !e.is_dot() {
            // --existing creates nothing, directories included; what lies below an uncreated
            // directory is skipped silently (rsync generator.c skip_dir).
            let parent_missing = path.parent().is_some_and(|p| {
                !p.as_os_str().is_empty() && std::fs::symlink_metadata(p).is_err()
            });
            if parent_missing {
                return Ok(());
            }
            // A regular file's skip is reported with the other transfer rules (decide::skip_reason);
            // links, devices and specials are not created either.
            if !e.is_file() {
                if self.opts.info.skip > 0 || self.opts.verbose > 1 {
                    let what = if e.is_dir() {
                        "not creating new directory"
                    } else {
                        "not creating new file"
                    };
                    self.gen_line(decide::skip_line(&report::escape(&e.name), what));
                }
                return Ok(());
            }
        }
        // generator.c: types not being preserved are skipped with a note (after the two
        // existence rules); devices are made by a super-user only, and not at all with
        // --drop-D (rsync 3.5: the receiver refuses devices and specials).
        if (e.is_symlink() && !self.opts.links)
            || (e.is_device() && !(self.opts.devices && self.meta.am_root && !self.opts.drop_d))
            || (e.is_special() && (!self.opts.specials || self.opts.drop_d))
        {
            if self.opts.info.nonreg > 0 {
                let name = report::escape(&e.name);
                self.gen_line(format!("skipping non-regular file \"{name}\""));
            }
            return Ok(());
        }
        if e.is_dir() {
            return self.process_dir(idx, e, &path, old);
        }
        if old.as_ref().is_some_and(|m| m.is_dir()) {
            // A file skipped by the size limits leaves the directory in its way alone.
            if e.is_file() && self.skipped_by_rules(e, old.as_ref()) {
                return Ok(());
            }
            if !self.make_way(e, &path)? {
                return Ok(());
            }
            old = None;
            self.made_way = true;
        }
        if e.is_symlink() {
            return self.process_symlink(idx, e, &path, old);
        }
        if e.is_device() || e.is_special() {
            return self.process_special(idx, e, &path, old);
        }
        self.process_file(idx, e, &path, old)
    }

    /// A directory is in the way of a non-directory (rsync generator.c `delete_item` with
    /// DEL_MAKE_ROOM): an empty one goes silently; a non-empty one goes with its contents reported
    /// as deletions under --delete/--force, otherwise rsync says "cannot delete non-empty
    /// directory" and "could not make way for new …" and the item fails (exit 23). A dry run only
    /// reports. Returns whether the item may now be created.
    /// A directory is in the way of a non-directory: rsync removes it when it is empty, or with
    /// `--delete`/`--force` deletes its contents (protect rules still hold inside, rsync's
    /// delete_item DEL_FOR_FILE); otherwise "cannot delete non-empty directory".
    pub(super) fn make_way(&mut self, e: &Entry, path: &Path) -> Result<bool> {
        let name = report::escape(&e.name);
        let what = match () {
            _ if e.is_symlink() => "symlink",
            _ if e.is_device() => "device file",
            _ if e.is_special() => "special file",
            _ => "regular file",
        };
        let no_way = format!("could not make way for new {what}: {name}");
        let empty = std::fs::read_dir(path).is_ok_and(|mut rd| rd.next().is_none());
        if !(empty || self.opts.delete || self.opts.force) {
            self.gen_line(format!("cannot delete non-empty directory: {name}"));
            self.fail(no_way)?;
            return Ok(false);
        }
        if !self.delete_tree(path, &e.name, Del::MakeWay)? {
            self.fail(no_way)?;
            return Ok(false);
        }
        Ok(true)
    }

    /// Whether `name` lies below a directory that replaces a non-directory in this dry run.
    fn below_dry_replaced(&self, name: &[u8]) -> bool {
        self.dry_replaced
            .iter()
            .any(|d| name.len() > d.len() && name.starts_with(d) && name[d.len()] == b'/')
    }

    pub(super) fn new_counts(&mut self, e: &Entry) {
        self.stats.created[type_slot(e)] += 1;
    }

    pub(super) fn process_dir(
        &mut self,
        idx: u32,
        e: &Entry,
        path: &Path,
        old: Option<Stat>,
    ) -> Result<()> {
        let (uid, gid) = self.want_ids(e);
        let old = if e.is_dot() && std::mem::take(&mut self.root_created) {
            None
        } else {
            old
        };
        let old = match old {
            Some(m) if !m.is_dir() => {
                if self.opts.dry_run {
                    // What lies below is new, whatever the item in its way leads to.
                    self.dry_replaced.push(e.name.to_vec());
                    return self.process_dir(idx, e, path, None);
                }
                // generator.c delete_item: a backup is made of it with `--backup`.
                let rel = self.rel_name(e);
                match self.make_backup(path, &rel, false) {
                    Ok(true) => {}
                    Ok(false) => {
                        if let Err(err) = std::fs::remove_file(path) {
                            return self.fail(format!(
                                "rsync: [generator] delete_file: unlink \"{}\" failed: {}",
                                crate::flist::walk::full_name(path),
                                io_text(&err)
                            ));
                        }
                    }
                    Err(err) => return self.fail(super::backup::backup_failed(path, &err)),
                }
                None
            }
            x => x,
        };
        let mode = self.gen_mode_for(e, old.as_ref().map(|m| m.mode()), path);
        let mut change = match &old {
            None => {
                if !self.opts.dry_run {
                    let made = std::fs::create_dir(path).or_else(|err| {
                        // Made meanwhile (or a symlink to one, kept as rsync keeps it).
                        match err.kind() {
                            std::io::ErrorKind::AlreadyExists if path.is_dir() => Ok(()),
                            _ => Err(err),
                        }
                    });
                    if let Err(err) = made {
                        return self.fail(format!(
                            "rsync: [generator] recv_generator: mkdir \"{}\" failed: {}",
                            crate::flist::walk::full_name(path),
                            io_text(&err)
                        ));
                    }
                }
                // rsync itemizes a new directory against its copy in an alternate dest dir.
                match self.alt_dir_meta(e) {
                    // Created here: shown as a local change ("cd") when it differs from the
                    // copy (rsync's local-change flag alone does not make an item significant).
                    Some(m) => {
                        let c = decide::attr_change(e, &m, &self.opts, uid, gid, mode);
                        if !c.significant() {
                            self.is_uptodate_line(e);
                        }
                        Change {
                            local: c.significant(),
                            matched: true,
                            ..c
                        }
                    }
                    None => {
                        self.new_counts(e);
                        Change {
                            new: true,
                            ..Default::default()
                        }
                    }
                }
            }
            Some(m) => {
                let mut c = decide::attr_change(e, m, &self.opts, uid, gid, mode);
                if self.emptied_dirs.contains(path)
                    && self.opts.times
                    && !self.opts.omits_dir_times()
                {
                    // The deletion (still to come) gives the directory the current time.
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default();
                    let now = (now.as_secs() as i64, now.subsec_nanos());
                    c.time = !crate::decide::same_time((e.mtime, e.mtime_ns), now, 0);
                }
                c
            }
        };
        self.xattr_change(e, path, Some(mode), &mut change);
        self.log_item(idx, e, &change, false, None);
        if !self.opts.dry_run {
            // Mode now (so we can write into it), times at the end.
            // An ACL change rewrites the group bits: the mode is set again after it.
            let mode_now = if old.is_none() || change.perms || change.acl {
                Some(mode | if self.meta.am_root { 0 } else { 0o700 })
            } else {
                None
            };
            // An existing directory whose owner/group already match is left alone (rsync sets
            // only what differs; a chown per directory costs a syscall each on big trees).
            let fresh = old.is_none();
            if let Err(err) = meta::apply(
                path,
                e,
                (fresh || change.owner).then_some(uid),
                (fresh || change.group).then_some(gid),
                mode_now,
                &MetaOpts {
                    times: false,
                    ..self.meta
                },
            ) {
                self.fail(meta::attrs_failed_line("generator", path, &err))?;
            }
            // The final mode is due only where it was touched now (u+rwx added for writing, or
            // a mode/ACL change); an untouched directory keeps the mode it has.
            self.dir_times
                .push((path.to_path_buf(), idx, mode_now.map(|_| mode)));
        }
        Ok(())
    }

    pub(super) fn process_symlink(
        &mut self,
        idx: u32,
        e: &Entry,
        path: &Path,
        old: Option<Stat>,
    ) -> Result<()> {
        let target = e.x().link.clone().unwrap_or_default();
        if self.opts.safe_links && is_unsafe(&e.name, &target) {
            if self.opts.info.symsafe > 0 || self.opts.verbose > 0 {
                self.conn.info(&format!(
                    "ignoring unsafe symlink \"{}\" -> \"{}\"",
                    report::escape(&e.name),
                    report::escape(&target)
                ))?;
            }
            return Ok(());
        }
        if old.is_none() && self.opts.alt_dest.is_some() && self.alt_nonreg(idx, e, path)? {
            return self.delivered(idx);
        }
        // An alternate dir's symlink of that name with another target: the new link is
        // itemized against it, as a changed link (generator.c try_dests_non, match level 1).
        let basis = match &old {
            None => self.alt_symlink_basis(e),
            Some(m) => Some(m.clone()),
        };
        let (uid, gid) = self.want_ids(e);
        // (With --fake-super a symlink is a regular file that holds its target, and a real
        // symlink is made into one: syscall.c do_readlink gives the receiver no target for it.)
        let same = old
            .as_ref()
            .filter(|m| m.is_symlink() && !(self.meta.fake && m.real().file_type().is_symlink()))
            .and_then(|m| m.read_link(path).ok())
            .is_some_and(|t| t == *target);
        let mut change = if same {
            decide::attr_change(e, old.as_ref().unwrap(), &self.opts, uid, gid, 0)
        } else if let Some(m) = basis.as_ref().filter(|m| m.file_type().is_symlink()) {
            // A retargeted link also reports its owner/group changes ("cLc...og...").
            Change {
                local: true,
                checksum: true,
                ..decide::attr_change(e, m, &self.opts, uid, gid, 0)
            }
        } else {
            // Nothing here, or an item of another type in its way: new (generator.c sets
            // statret = -1 for an old item that is not a symlink).
            self.new_counts(e);
            Change {
                new: true,
                ..Default::default()
            }
        };
        if !same && !change.new {
            if let Some(m) = &basis {
                // generator.c itemize: a replaced link reports its time when link times are
                // kept and differ, and always when they are not kept (-J: it gets the time of
                // its creation).
                change.time = self.opts.times
                    && (self.opts.omit_link_times
                        || !decide::same_time(
                            (e.mtime, e.mtime_ns),
                            (m.mtime(), m.mtime_nsec() as u32),
                            self.opts.modify_window,
                        ));
            }
        }
        if same {
            self.uptodate_line(e, &change);
        }
        self.xattr_change(e, path, None, &mut change);
        self.log_item(idx, e, &change, false, None);
        if self.opts.dry_run {
            return Ok(());
        }
        if same && !change.significant() {
            return self.delivered(idx);
        }
        if !same {
            if old.is_some() && !self.clear_for(e, path)? {
                return Ok(());
            }
            let made = if self.meta.fake {
                // --fake-super: a file holding the target (syscall.c do_symlink).
                meta::fake::make_file(path, &target)
            } else {
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), path)
            };
            if let Err(err) = made {
                return self.fail(format!(
                    "rsync: [receiver] symlink \"{}\" -> \"{}\" failed: {}",
                    crate::flist::walk::full_name(path),
                    report::escape(&target),
                    io_text(&err)
                ));
            }
        }
        self.set_attrs(path, e, (uid, gid), None, !same || change.time)?;
        self.delivered(idx)
    }

    /// `--remove-source-files`: an item in place (a written or up-to-date file, a link, device
    /// or special: generator.c `return_with_success`) counts as delivered, so the sender
    /// removes its source — except in a dry run, which delivers nothing.
    pub(super) fn delivered(&mut self, idx: u32) -> Result<()> {
        if self.opts.remove_source_files && !self.opts.dry_run {
            self.conn.send(&Msg::Ack { idx })?;
        }
        Ok(())
    }

    /// Owner, group, mode and times of a created or updated non-file item; a failure is reported
    /// by the generator, which makes these items in rsync, and the run goes on. `time`: whether the mtime is due (an item
    /// kept as it was gets it only where it differs beyond --modify-window, as in rsync's
    /// set_file_attrs).
    pub(super) fn set_attrs(
        &mut self,
        path: &Path,
        e: &Entry,
        ids: (u32, u32),
        mode: Option<u32>,
        time: bool,
    ) -> Result<()> {
        let o = MetaOpts {
            times: self.meta.times && time,
            ..self.meta
        };
        if let Err(err) = meta::apply(path, e, Some(ids.0), Some(ids.1), mode, &o) {
            self.fail(meta::attrs_failed_line("generator", path, &err))?;
        }
        Ok(())
    }

    pub(super) fn process_special(
        &mut self,
        idx: u32,
        e: &Entry,
        path: &Path,
        old: Option<Stat>,
    ) -> Result<()> {
        if old.is_none() && self.opts.alt_dest.is_some() && self.alt_nonreg(idx, e, path)? {
            return self.delivered(idx);
        }
        let (uid, gid) = self.want_ids(e);
        let mode = self.gen_mode_for(e, old.as_ref().map(|m| m.mode()), path);
        let same = old
            .as_ref()
            .map(|m| (m.mode() & S_IFMT) == e.fmt() && (!e.is_device() || m.rdev() == e.x().rdev))
            .unwrap_or(false);
        // generator.c: a device in place of a device, or a special in place of a special, is
        // replaced as a change ("c"); an item of another type in its way makes it new.
        let kin = old.as_ref().is_some_and(|m| {
            let f = m.mode() & S_IFMT;
            if e.is_device() {
                f == S_IFCHR || f == S_IFBLK
            } else {
                f == S_IFIFO || f == S_IFSOCK
            }
        });
        let mut change = if same {
            decide::attr_change(e, old.as_ref().unwrap(), &self.opts, uid, gid, mode)
        } else if kin {
            Change {
                local: true,
                checksum: true,
                ..Default::default()
            }
        } else {
            self.new_counts(e);
            Change {
                new: true,
                ..Default::default()
            }
        };
        if same {
            self.uptodate_line(e, &change);
        }
        self.xattr_change(e, path, Some(mode), &mut change);
        self.log_item(idx, e, &change, false, None);
        if self.opts.dry_run {
            return Ok(());
        }
        if same && !change.significant() {
            return self.delivered(idx);
        }
        if !same {
            if old.is_some() && !self.clear_for(e, path)? {
                return Ok(());
            }
            let made = if self.meta.fake {
                // --fake-super: an empty file stands for it (syscall.c do_mknod).
                meta::fake::make_file(path, b"")
            } else {
                meta::mknod(path, e)
            };
            if let Err(err) = made {
                return self.fail(format!(
                    "rsync: [receiver] mknod \"{}\" failed: {}",
                    crate::flist::walk::full_name(path),
                    io_text(&err)
                ));
            }
        }
        self.set_attrs(path, e, (uid, gid), Some(mode), !same || change.time)?;
        self.delivered(idx)
    }

    /// The mode an item gets (meta::target_mode). Without `-p` a new one takes its directory's
    /// default permissions: from the directory's default ACL where it has one, else the umask's
    /// (rsync's receiver, acls.c default_perms_for_dir), and no special bits, but a new
    /// directory keeps the set-group-id bit the kernel gives it in such a directory (rsync.c
    /// set_file_attrs keeps a directory's S_ISGID without `-p`).
    pub(super) fn mode_for(&self, e: &Entry, old: Option<u32>, path: &Path) -> u32 {
        self.mode_with(e, old, path, None)
    }

    /// [`Self::mode_for`] for an item the generator makes itself: the default permissions are
    /// those it read on entering the item's directory (`gen_dflt`).
    pub(super) fn gen_mode_for(&self, e: &Entry, old: Option<u32>, path: &Path) -> u32 {
        let known = self
            .gen_dflt
            .as_ref()
            .filter(|(d, _)| Some(d.as_path()) == path.parent())
            .map(|&(_, umask)| umask);
        self.mode_with(e, old, path, known)
    }

    fn mode_with(&self, e: &Entry, old: Option<u32>, path: &Path, umask: Option<u32>) -> u32 {
        if self.meta.perms || old.is_some() {
            return meta::target_mode(e, old, &self.meta);
        }
        let parent = path.parent();
        let umask = umask.unwrap_or_else(|| self.dflt_umask(parent));
        let inherited = match parent.filter(|_| e.is_dir()).map(std::fs::metadata) {
            Some(Ok(m)) => m.mode() & 0o2000,
            _ => 0,
        };
        meta::target_mode(e, None, &MetaOpts { umask, ..self.meta }) | inherited
    }

    fn dflt_umask(&self, dir: Option<&Path>) -> u32 {
        dir.and_then(meta::xattr::default_acl_perms)
            .map_or(self.meta.umask, |p| 0o777 & !p)
    }

    /// generator.c: --max-size/--min-size, -u and --existing skip a regular file before its
    /// quick check and before anything in its way is removed, so a skipped up-to-date file
    /// keeps its attributes too (and -u never sets an older time). True when `e` is skipped
    /// (the -vv line is out).
    pub(super) fn skipped_by_rules(&mut self, e: &Entry, old: Option<&Stat>) -> bool {
        if old.is_none() && self.made_way {
            // Asked already, of the directory that was in its way (generator.c: --existing
            // takes any item there as existing).
            return false;
        }
        let Some(reason) = decide::skip_reason(e, old, &self.opts) else {
            return false;
        };
        if self.opts.info.skip > 0 || self.opts.verbose > 1 {
            self.gen_line(decide::skip_line(&report::escape(&e.name), reason));
        }
        true
    }

    /// rsync.c set_file_attrs (ATTRS_REPORT): at `-vv` without an itemizing format, an item left
    /// as it is — file, symlink, device or special — says so.
    pub(super) fn uptodate_line(&mut self, e: &Entry, change: &Change) {
        if !change.significant() {
            self.is_uptodate_line(e);
        }
    }

    /// "X is uptodate" (a directory with its '/') at `-vv` unless the stdout format itemizes
    /// (rsync's maybe_ATTRS_REPORT).
    pub(super) fn is_uptodate_line(&mut self, e: &Entry) {
        if self.opts.info.name >= 2 && !self.opts.stdout_format_has_i() {
            let slash = if e.is_dir() { "/" } else { "" };
            self.gen_line(format!("{}{slash} is uptodate", report::escape(&e.name)));
        }
    }

    /// Clear the way for a new item at `path` (not a directory): the old one is backed up with
    /// `--backup` (rsync's atomic_create makes a backup of a replaced link, device or file) or
    /// removed. False when its backup failed: that was reported and the item is skipped.
    fn clear_for(&mut self, e: &Entry, path: &Path) -> Result<bool> {
        let rel = self.rel_name(e);
        match self.make_backup(path, &rel, false) {
            Ok(true) => Ok(true),
            Ok(false) => {
                let _ = std::fs::remove_file(path);
                Ok(true)
            }
            Err(err) => {
                self.fail(super::backup::backup_failed(path, &err))?;
                Ok(false)
            }
        }
    }

    pub(super) fn process_file(
        &mut self,
        idx: u32,
        e: &Entry,
        path: &Path,
        old: Option<Stat>,
    ) -> Result<()> {
        if e.x().hlink != 0 && self.opts.hard_links {
            // --existing comes before the hard-link check (generator.c): a member that is not
            // here is not made, not even as a link.
            if self.opts.existing && old.is_none() && !self.made_way {
                self.skipped_by_rules(e, None);
                return Ok(());
            }
            return self.hl_process(idx, e, path, old);
        }
        self.process_file_plain(idx, e, path, old)
    }

    /// A regular file on its own (or as the leader of its hard-link group).
    pub(super) fn process_file_plain(
        &mut self,
        idx: u32,
        e: &Entry,
        path: &Path,
        old: Option<Stat>,
    ) -> Result<()> {
        // generator.c: the size limits and -u come before anything in the way is removed and
        // before the alternate dirs are searched (-u looks at the destination only).
        if self.skipped_by_rules(e, old.as_ref()) {
            return Ok(());
        }
        let (uid, gid) = self.want_ids(e);
        // --write-devices: an existing device is written into, as if it were the file.
        let keep = |m: &Metadata| m.is_file() || (self.opts.write_devices && meta::is_device(m));
        let old = match old {
            Some(m) if !keep(&m) => {
                // A non-regular item is replaced.
                if !self.opts.dry_run && !self.clear_for(e, path)? {
                    return Ok(());
                }
                None
            }
            old => old,
        };
        let mut mode = self.gen_mode_for(e, old.as_ref().map(|m| m.mode()), path);
        let new_here = old.is_none();
        let mut basis_path = old.as_ref().map(|_| path.to_path_buf());
        // An earlier interrupted transfer left a partial file: it is the better basis (rsync).
        if let Some(Ok(pp)) =
            crate::recon::partial_path(path).filter(|p| p.as_ref().is_ok_and(|p| p.is_file()))
        {
            basis_path = Some(pp);
        }
        let mut old = old;
        if let Some(m) = old.as_ref().filter(|_| self.opts.alt_dest.is_some()) {
            if self.alt_replaces_existing(idx, e, path, mode, m)? {
                return self.delivered(idx);
            }
        }
        if new_here && self.opts.alt_dest.is_some() {
            match self.alt_lookup(idx, e, path, mode)? {
                // generator.c try_dests_reg -2: with --remove-source-files, a success.
                altdest::Alt::Done => return self.delivered(idx),
                altdest::Alt::Basis(p, m) => {
                    // Without -p the new file takes the basis's mode (receiver.c dest_mode).
                    mode = meta::target_mode(e, Some(m.mode()), &self.meta);
                    basis_path = Some(p);
                    old = Some(*m);
                }
                altdest::Alt::None => {}
            }
        }
        if new_here && basis_path.is_none() && self.opts.fuzzy > 0 {
            basis_path = self.fuzzy_basis(e, path);
        }
        let uptodate = match &old {
            Some(m) => {
                let mut ahead = self.ahead.take_sum(idx, m);
                let mut sum = || {
                    ahead
                        .take()
                        .unwrap_or_else(|| ahead::dest_digest(path, m.len()))
                };
                decide::quick_check_ok(e, m, &self.opts, &mut sum)
            }
            None => false,
        };
        if uptodate {
            let m = old.as_ref().unwrap();
            let mut change = decide::attr_change(e, m, &self.opts, uid, gid, mode);
            self.uptodate_line(e, &change);
            self.xattr_change(e, path, Some(mode), &mut change);
            self.log_item(idx, e, &change, false, None);
            // `--fake-super`: rsync's set_file_attrs stores the record of every item it looks
            // at, so an unchanged file with set-id bits still gets its safe mode and record.
            if !self.opts.dry_run && (change.significant() || self.meta.fake) {
                // The time only where it differs beyond --modify-window (rsync's
                // set_file_attrs asks mtime_differs first).
                if let Err(err) = meta::apply(
                    path,
                    e,
                    Some(uid),
                    Some(gid),
                    (change.perms || change.acl).then_some(mode),
                    &MetaOpts {
                        times: self.meta.times && change.time,
                        ..self.meta
                    },
                ) {
                    self.fail(meta::attrs_failed_line("generator", path, &err))?;
                }
            }
            // An up-to-date file counts as delivered (rsync's generator answers it with
            // MSG_SUCCESS).
            return self.delivered(idx);
        }
        // generator.c: with --append a file no shorter than the sender's is left alone entirely.
        if self.opts.append > 0
            && basis_path.as_deref() == Some(path)
            && old.as_ref().is_some_and(|m| m.len() >= e.size)
        {
            self.not_placed = Some(idx);
            return Ok(());
        }
        let mut change = match &old {
            None => Change {
                new: true,
                transfer: true,
                ..Default::default()
            },
            Some(m) => {
                let mut c = decide::attr_change(e, m, &self.opts, uid, gid, mode);
                c.transfer = true;
                c.size = m.len() != e.size;
                c.checksum = self.opts.checksum;
                if !self.opts.times {
                    c.time = false;
                }
                c
            }
        };
        // rsync counts what it itemizes as new: not a file made from an alternate dir's basis.
        if change.new {
            self.new_counts(e);
        }
        if self.opts.checksum && !change.new {
            change.checksum = true;
        }
        self.stats.xferred_files += 1;
        self.stats.xferred_size += e.size;
        self.xattr_change(e, path, Some(mode), &mut change);
        self.log_item(idx, e, &change, !self.opts.dry_run, None);
        if self.opts.dry_run {
            return Ok(());
        }
        self.request(idx, e, path, basis_path, false)
    }
}
