//! Deletion (`--delete*`, make-way): rsync's order (deepest first, names last to first), protect
//! rules, `--max-delete`, backups of deleted files, and deferral to the end of the run when dedupe
//! may still read a file.

use super::*;

impl Receiver {
    /// rsync's note (once) that the sender's I/O error stops deletions; generator.c prints it as
    /// information (stdout), not as an error.
    fn io_error_note(&mut self) {
        if !self.deleted_warned() {
            self.gen_line("IO error encountered -- skipping file deletion".into());
        }
    }

    /// `--delete-delay` decides a directory's deletions when it is listed and makes them at the
    /// end: one listed after the sender's I/O error is blocked now (see `delay_blocked`).
    pub(super) fn delay_decide(&mut self, dir: &Entry) {
        if self.io_error && !self.opts.ignore_errors {
            self.io_error_note();
            self.delay_blocked.insert(dir.name.to_vec());
        }
    }

    /// Delete what is in `dir` on the receiver but not among `children` (rsync: deepest first,
    /// names in reverse order).
    pub(super) fn delete_extraneous(&mut self, dir: &Entry, children: &[Entry]) -> Result<()> {
        // --delete-delay decided each directory when it was listed (see `delay_blocked`); a
        // peer that flags the error only at the end of the list blocks them all.
        let blocked = if self.opts.delete_when == DeleteWhen::Delay && self.io_error_early {
            self.delay_blocked.contains(&dir.name[..])
        } else {
            self.io_error
        };
        if blocked && !self.opts.ignore_errors {
            self.io_error_note();
            return Ok(());
        }
        let path = self.target(dir);
        // Never list (and delete in) a directory reached through a symlink: the symlink itself
        // is what gets replaced, the tree it points to is not ours.
        let real_dir = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        if !real_dir || self.symlink_in_path(&dir.name).is_some() {
            return Ok(());
        }
        // The top-level "." also holds the other operands (`a.txt sub/ dst/`), and files of the
        // top level may already be in flight (their temp files are ours, not extraneous).
        let top: &[Vec<u8>] = if dir.is_dot() { &self.top_names } else { &[] };
        let keep: std::collections::HashSet<Vec<u8>> = children
            .iter()
            .map(|c| {
                c.name
                    .rsplit(|b| *b == b'/')
                    .next()
                    .unwrap_or(&c.name)
                    .to_vec()
            })
            .chain(top.iter().cloned())
            .collect();
        if self.opts.debug.get("DEL") > 1 {
            self.gen_line(format!("delete_in_dir({})", report::escape(&dir.name)));
        }
        for (n, protected) in self.scan_for_delete(&path, &dir.name, false) {
            if protected || keep.contains(&n) || self.is_our_temp(&path, &n) {
                continue;
            }
            let rel = if dir.is_dot() {
                n.clone()
            } else {
                [&dir.name[..], b"/", &n].concat()
            };
            self.in_extraneous = true;
            let r = self.delete_path(&path.join(OsStr::from_bytes(&n)), &rel);
            self.in_extraneous = false;
            r?;
        }
        Ok(())
    }

    /// Is `dir/name` the temp file of a transfer in flight? Only dot-names are looked up (every
    /// temp name starts with '.'), so the common case costs no walk over the jobs.
    fn is_our_temp(&self, dir: &Path, name: &[u8]) -> bool {
        name.first() == Some(&b'.')
            && self.jobs.values().any(|j| {
                j.temp.file_name().map(|n| n.as_bytes()) == Some(name)
                    && j.temp.parent() == Some(dir)
            })
    }

    /// rsync: after an I/O error on the sending side, deletions are skipped (once announced)
    /// unless `--ignore-errors`. Returns whether the announcement was already made.
    pub(super) fn deleted_warned(&mut self) -> bool {
        std::mem::replace(&mut self.io_error_announced, true)
    }

    pub(super) fn delete_path(&mut self, p: &Path, rel: &[u8]) -> Result<()> {
        self.delete_tree(p, rel, Del::Top).map(|_| ())
    }

    /// Delete `p` and what is inside; returns whether it is gone. Inside a directory being
    /// deleted, non-perishable protect rules still keep items, and then the directory stays
    /// ("cannot delete non-empty directory", printed twice for nested ones as rsync does).
    /// A destination directory's items as deletion sees them: (name, protected), in
    /// rsync's deletion order (reverse file-list order: directories, which sort last, first).
    /// Like rsync's get_dirlist, every item is checked against the rules — and its `-vv` line
    /// printed — in readdir order first.
    pub(super) fn scan_for_delete(
        &mut self,
        p: &Path,
        rel_dir: &[u8],
        in_deleted_dir: bool,
    ) -> Vec<(Vec<u8>, bool)> {
        let Ok(rd) = std::fs::read_dir(p) else {
            return Vec::new();
        };
        self.filters.enter_dir(rel_dir, p);
        let mut v = Vec::new();
        for d in rd.flatten() {
            let name = d.file_name().as_bytes().to_vec();
            let is_dir = d.file_type().is_ok_and(|t| t.is_dir());
            let rel = if rel_dir == b"." {
                name.clone()
            } else {
                [rel_dir, b"/", &name].concat()
            };
            let protected = if in_deleted_dir {
                self.filters.protected_in_deleted_dir(&rel, is_dir)
            } else {
                self.filters.protected(&rel, is_dir)
            };
            if let Some(note) = self.filters.take_note() {
                self.gen_line(note);
            }
            let key = crate::flist::walk::sort_key(&name, is_dir);
            v.push((is_dir, key, name, protected));
        }
        v.sort();
        v.into_iter()
            .rev()
            .map(|(_, _, n, protected)| (n, protected))
            .collect()
    }

    pub(super) fn delete_tree(&mut self, p: &Path, rel: &[u8], how: Del) -> Result<bool> {
        let Ok(m) = std::fs::symlink_metadata(p) else {
            return Ok(true);
        };
        // rsync names a nested directory once its contents are gone, others first.
        let nested_dir = how == Del::Nested && m.is_dir();
        if !nested_dir {
            self.debug_del(rel, &m, how);
        }
        if m.is_dir() {
            let mut kept = false;
            let backups = self.backups_in_place;
            for (k, protected) in self.scan_for_delete(p, rel, true) {
                if protected {
                    kept = true;
                    continue;
                }
                let r = [rel, b"/", &k].concat();
                kept |= !self.delete_tree(&p.join(OsStr::from_bytes(&k)), &r, Del::Nested)?;
            }
            if nested_dir {
                self.debug_del(rel, &m, how);
            }
            let msg = format!("cannot delete non-empty directory: {}", report::escape(rel));
            if kept {
                // rsync (delete.c): the contents failed ("cannot delete non-empty directory");
                // a nested directory is then still tried itself — stopped by --max-delete
                // (counted as skipped) or failing with the same message again.
                self.gen_line(msg.clone());
                if how == Del::Nested && !self.at_delete_limit() {
                    self.gen_line(msg);
                }
                return Ok(false);
            }
            // Backups made in it stay in it: the contents went, but rsync's rmdir then fails
            // with ENOTEMPTY, reported once with the same words.
            if self.backups_in_place > backups {
                if !self.at_delete_limit() {
                    self.gen_line(msg);
                }
                return Ok(false);
            }
        }
        if self.at_delete_limit() {
            return Ok(false);
        }
        let shown = if m.is_dir() {
            format!("{}/", report::escape(rel))
        } else {
            report::escape(rel)
        };
        if self.log_format().is_some() && how != Del::MakeWay {
            let _ = self
                .conn
                .say(crate::wire::msg::LOG_FILE, &format!("*deleting   {shown}"));
        }
        // Making way for a non-directory reports only the contents.
        if how != Del::MakeWay {
            // log.c log_delete(): an out-format with %i or %o is used for deletions too (itemized as
            // "*deleting", operation "del.", length 0); otherwise "deleting NAME".
            match self.opts.out_format.clone() {
                Some(f) if f.contains("%i") || f.contains("%o") => {
                    let gone = Entry {
                        name: rel.to_vec().into(),
                        // rsync logs a deletion with the type only (%B reads "---------").
                        mode: m.mode() & libc::S_IFMT,
                        ..Default::default()
                    };
                    let line = expand(
                        &f,
                        &Item {
                            entry: &gone,
                            itemize: "*deleting  ",
                            op: "del.",
                            bytes: 0,
                            sums: 0,
                            hlink_to: None,
                            full: None,
                            human: self.opts.human,
                        },
                    );
                    self.gen_line(line);
                }
                f if self.opts.info.del > 0 || f.is_some() => {
                    self.gen_line(format!("deleting {shown}"))
                }
                _ => {}
            }
        }
        let backed_up = !self.opts.dry_run && !m.is_dir() && {
            match self.make_backup(p, rel, false) {
                Ok(b) => b,
                Err(err) => {
                    self.fail(format!(
                        "rsync: [generator] backup of \"{}\" failed: {}",
                        report::escape(rel),
                        io_text(&err)
                    ))?;
                    return Ok(false);
                }
            }
        };
        if backed_up {
            // Moved into the backup: nothing left to delete.
            if self.opts.backup_dir.is_none() {
                self.backups_in_place += 1;
            }
        } else if !self.opts.dry_run
            && self.in_extraneous
            && self.opts.dedupe
            && self.opts.delete_when != DeleteWhen::After
        {
            // Dedupe may still copy from it (a moved file): unlink at the end of the run.
            self.late_deletes.push((p.to_path_buf(), m.is_dir()));
            if self.opts.delete_when == DeleteWhen::Before && how == Del::Top {
                // rsync has deleted it before itemizing the directory, whose mtime then
                // differs (`.d..t......`); the late unlink must look the same.
                if let Some(parent) = p.parent() {
                    self.emptied_dirs.insert(parent.to_path_buf());
                }
            }
        } else if !self.opts.dry_run {
            let r = if m.is_dir() {
                std::fs::remove_dir(p)
            } else {
                std::fs::remove_file(p)
            };
            if let Err(err) = r {
                let what = if m.is_dir() { "rmdir" } else { "unlink" };
                self.fail(format!(
                    "rsync: [generator] delete_file: {what}({}) failed: {}",
                    report::escape(rel),
                    io_text(&err)
                ))?;
                return Ok(false);
            }
        }
        if how != Del::MakeWay {
            // rsync counts the contents of a directory in the way, not the directory.
            self.deletes_done += 1;
            self.stats.deleted[type_slot_meta(&m)] += 1;
        }
        Ok(true)
    }

    /// `--debug=DEL2`: rsync's delete_item line. Its flags: DEL_RECURSE (2) for an extraneous
    /// item, DEL_DIR_IS_EMPTY (4) inside a directory being deleted, DEL_MAKE_ROOM (16) for an
    /// item in the way.
    fn debug_del(&mut self, rel: &[u8], m: &Metadata, how: Del) {
        if self.opts.debug.get("DEL") > 1 {
            let flags = match how {
                Del::Top => 2,
                Del::Nested => 4,
                Del::MakeWay => 16,
            };
            let (name, mode) = (report::escape(rel), m.mode());
            self.gen_line(format!("delete_item({name}) mode={mode:o} flags={flags}"));
        }
    }

    /// `--max-delete` reached: the deletion is skipped (and counted).
    fn at_delete_limit(&mut self) -> bool {
        let Some(max) = self.opts.max_delete else {
            return false;
        };
        if (self.deletes_done as i64) < max {
            return false;
        }
        self.del_limit_hit = true;
        self.problems.del_limit = true;
        self.del_skipped += 1;
        true
    }

    /// Record the operand directories among a top-level segment's entries.
    pub(super) fn note_top_dirs(&mut self, parent: u32, entries: &[Entry]) {
        if parent == u32::MAX {
            let dirs = entries
                .iter()
                .filter(|e| e.is_dir() && e.flags & F_TOP_DIR != 0);
            self.top_dirs.extend(dirs.map(|e| e.name.to_vec()));
        }
    }

    pub(super) fn delete_all_top_dirs(&mut self) -> Result<()> {
        if !self.opts.delete || self.opts.list_only {
            return Ok(());
        }
        // Map each directory to its children in the list.
        let mut kids: HashMap<Vec<u8>, Vec<Entry>> = HashMap::new();
        for e in &self.flist {
            if e.is_dot() {
                continue;
            }
            let parent = match e.name.iter().rposition(|b| *b == b'/') {
                Some(p) => e.name[..p].to_vec(),
                None => b".".to_vec(),
            };
            kids.entry(parent).or_default().push(e.clone());
        }
        let mut dirs: Vec<Entry> = self
            .flist
            .iter()
            .filter(|e| e.is_dir() && e.flags & F_TOP_DIR != 0)
            .cloned()
            .collect();
        // rsync walks the directories depth first, each one's subdirectories in name order
        // (its sorted file list): a, a/b, a/b/c, m — not in the order they were listed.
        dirs.sort_by(|a, b| dir_order(&a.name).cmp(&dir_order(&b.name)));
        // generator.c do_delete_pass (--delete-before/--delete-after; --delete-delay deletes
        // what it recorded): "deleting in" for each operand directory, whether the destination
        // has it or not.
        let pass = matches!(
            self.opts.delete_when,
            DeleteWhen::Before | DeleteWhen::After
        ) && (self.opts.verbose > 1 || self.opts.debug.get("DEL") > 0);
        for d in dirs {
            if pass && self.top_dirs.contains(&d.name[..]) {
                self.gen_line(format!("deleting in {}", report::escape(&d.name)));
            }
            let k = kids.remove(&d.name[..]).unwrap_or_default();
            self.delete_extraneous(&d, &k)?;
        }
        self.flush_lines()
    }
}

/// How `delete_tree` was reached (changes only what is reported).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Del {
    /// An extraneous item of a directory being synchronised.
    Top,
    /// Inside a directory being deleted.
    Nested,
    /// A directory in the way of a new non-directory.
    MakeWay,
}

/// Sort key giving rsync's depth-first directory order: "." first, then by path components.
fn dir_order(name: &[u8]) -> Vec<&[u8]> {
    if name == b"." {
        return Vec::new();
    }
    name.split(|b| *b == b'/').collect()
}
