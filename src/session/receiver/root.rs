//! Where the transfer lands (rsync-cli.md §1.3.2): the destination root, the single-item
//! rename rule, creating the last path component (or all of them with `--mkpath`) and the
//! "created directory" line, and the paths of list entries below the root.

use super::*;

impl Receiver {
    pub(super) fn root_dir(&self) -> PathBuf {
        root_dir(&self.root, &self.dest)
    }

    /// The entry's path relative to the destination root (its name, or the new name under the
    /// single-file rename rule).
    pub(super) fn rel_name(&self, e: &Entry) -> Vec<u8> {
        match &self.root {
            Root::File(p) => p
                .file_name()
                .map(|n| n.as_bytes().to_vec())
                .unwrap_or_default(),
            _ => e.name.to_vec(),
        }
    }

    pub(super) fn target(&self, e: &Entry) -> PathBuf {
        target(&self.root, &self.dest, e)
    }

    /// Destination rules (rsync-cli.md §1.3.2): the single-item rename rule, creating the last
    /// component (or all with --mkpath), "created directory".
    pub(super) fn resolve_root(&mut self, parent: u32, top: &[Entry]) -> Result<()> {
        if !matches!(self.root, Root::Unresolved) || parent != u32::MAX {
            return Ok(());
        }
        self.resolve_root_now(top)?;
        self.resolve_temp_dir()?;
        self.check_backup_dir()?;
        if !self.opts.list_only {
            self.check_alt_dirs()?;
        }
        // After --delete-before's pass, which comes first.
        if !(self.opts.delete && self.opts.delete_when == DeleteWhen::Before) {
            self.delta_line()?;
        }
        Ok(())
    }

    /// generator.c generate_files: with -vv the generator says once whether it computes
    /// deltas, as it starts on the list (after a --delete-before pass).
    pub(super) fn delta_line(&mut self) -> Result<()> {
        let flist = self.opts.verbose > 1 || self.opts.debug.get("FLIST") > 0;
        if flist {
            self.conn.info(if self.opts.whole_file == Some(true) {
                "delta-transmission disabled for local transfer or --whole-file"
            } else {
                "delta-transmission enabled"
            })?;
        }
        Ok(())
    }

    /// `--backup-dir` at the start (main.c do_recv): something else in its place ends the run
    /// (exit 1, or 11 when it cannot be looked at), and `--info=backup` names it, "(new)" when
    /// it is yet to be made.
    fn check_backup_dir(&mut self) -> Result<()> {
        let Some(d) = self.opts.backup_dir.clone() else {
            return Ok(());
        };
        if self.opts.list_only {
            return Ok(());
        }
        let shown = if d.len() > 1 {
            d.trim_end_matches('/')
        } else {
            &d
        };
        let p = self.root_dir().join(shown);
        let new = match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => "",
            Ok(_) => {
                return Err(Error::syntax(format!(
                    "The backup-dir is not a directory: {shown}"
                )))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "(new) ",
            Err(e) => {
                let text = io_text(&e);
                let text = text.rsplit_once(" (").map_or(text.as_str(), |t| t.0);
                return Err(Error::new(11, format!("Failed to stat {shown}: {text}")));
            }
        };
        if self.opts.info.backup > 0 {
            self.conn.info(&format!("{new}backup_dir is {shown}"))?;
        }
        Ok(())
    }

    /// `-T DIR`: relative to the destination directory, where rsync works; one that does not
    /// exist ends the run before anything is transferred (main.c do_recv), with exit 1.
    fn resolve_temp_dir(&mut self) -> Result<()> {
        let Some(t) = self.opts.temp_dir.clone() else {
            return Ok(());
        };
        let root = self.root_dir();
        if self.opts.list_only || (self.opts.dry_run && !root.is_dir()) {
            return Ok(());
        }
        let p = root.join(&t);
        if !p.is_dir() {
            return Err(Error::new(
                crate::error::RERR_SYNTAX,
                format!("The temp-dir does not exist: {t}"),
            ));
        }
        self.opts.temp_dir = Some(p.to_string_lossy().into_owned());
        Ok(())
    }

    pub(super) fn resolve_root_now(&mut self, top: &[Entry]) -> Result<()> {
        if self.opts.list_only {
            self.root = Root::Dir(PathBuf::from("."));
            return Ok(());
        }
        let dest = PathBuf::from(OsStr::from_bytes(self.dest.as_bytes()));
        let slash = self.dest.ends_with('/');
        let is_dir = std::fs::metadata(&dest)
            .map(|m| m.is_dir())
            .unwrap_or(false);
        let single = top.len() == 1 && (!top[0].is_dir() || top[0].flags & F_TOP_DIR == 0);
        // A -R name with a directory part always lands below the destination directory.
        if single && !is_dir && !slash && !top[0].is_dot() && !top[0].name.contains(&b'/') {
            // main.c get_local_name(): rsync changes into the name's directory part.
            if let Some(cut) = self.dest.rfind('/') {
                let dir = &self.dest[..cut.max(1)];
                let made = std::fs::metadata(dir).is_err();
                trusted_dir(dir, 3, self.mkpath_shown().filter(|_| made))?;
            }
            if self.opts.mkpath {
                if let Some(p) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
                    let _ = self.make_path(p);
                }
            }
            self.root = Root::File(dest);
            return Ok(());
        }
        if is_dir {
            trusted_dir(&self.dest, 1, None)?;
        } else {
            // What will be made below must not be reached through a planted symlink either.
            let bare = self.dest.trim_end_matches('/');
            trusted_dir(
                if bare.is_empty() { "/" } else { bare },
                2,
                self.mkpath_shown(),
            )?;
        }
        if !is_dir {
            // main.c get_local_name(): something that is not a directory is in the way.
            let bare = Path::new(OsStr::from_bytes(
                self.dest.trim_end_matches('/').as_bytes(),
            ));
            if !bare.as_os_str().is_empty() && std::fs::symlink_metadata(bare).is_ok() {
                return Err(Error::new(
                    3,
                    if slash {
                        format!(
                            "rsync: [Receiver] ERROR: cannot stat destination \"{}/\": Not a directory (20)",
                            crate::flist::walk::full_name(bare)
                        )
                    } else {
                        "ERROR: destination must be a directory when copying more than 1 file"
                            .to_string()
                    },
                ));
            }
            if self.opts.mkpath {
                // main.c make_path(): the root then counts as existing, not as created.
                if let Err(e) = self.make_path(&dest) {
                    return Err(mkdir_failed(&dest, &e));
                }
                self.root = Root::Dir(dest);
                return Ok(());
            }
            if !self.opts.dry_run {
                let r = std::fs::create_dir(&dest);
                if let Err(e) = r {
                    return Err(mkdir_failed(&dest, &e));
                }
            }
            self.root_created = true;
            // main.c: INFO_GTE(NAME, 1) || stdout_format_has_i.
            // (`-i` overridden by an --out-format without %i does not count.)
            if self.opts.info.name > 0 || self.opts.verbose > 0 || self.opts.stdout_format_has_i() {
                let shown = self.dest.trim_end_matches('/').to_string();
                self.conn.info(&format!(
                    "created directory {}",
                    if shown.is_empty() { "/" } else { &shown }
                ))?;
            }
        }
        self.root = Root::Dir(dest);
        Ok(())
    }

    /// The destination as a failed `--mkpath` names it, or None without `--mkpath`.
    fn mkpath_shown(&self) -> Option<&str> {
        self.opts.mkpath.then_some(self.dest.as_str())
    }

    /// `--mkpath`: create the missing components of `p` (rsync's `make_path`) and report
    /// "created N director(y|ies) for P" as rsync does.
    pub(super) fn make_path(&mut self, p: &std::path::Path) -> std::io::Result<()> {
        let missing = p
            .ancestors()
            .take_while(|a| !a.as_os_str().is_empty() && std::fs::symlink_metadata(a).is_err())
            .count();
        if missing == 0 {
            return Ok(());
        }
        if !self.opts.dry_run {
            std::fs::create_dir_all(p)?;
        }
        if self.opts.info.name > 0 || self.opts.verbose > 0 || self.opts.stdout_format_has_i() {
            let shown = p.as_os_str().as_bytes().to_vec();
            let shown = String::from_utf8_lossy(&shown);
            let shown = shown.trim_end_matches('/');
            let what = if missing == 1 {
                "directory"
            } else {
                "directories"
            };
            let _ = self
                .conn
                .info(&format!("created {missing} {what} for {shown}"));
        }
        Ok(())
    }
}

/// The destination directory is an operator path (plan::trusted): a planted symlink on the way
/// fails as rsync 3.5's change_dir does, with exit 3 and the number of the change_dir call
/// (1: an existing directory, 2: one to be made, 3: the directory of a single renamed item) —
/// before anything is created, where rsync has already made the directory through the link.
/// With `--mkpath` it is the making that fails, as rsync's make_path: exit 11, no notice, the
/// whole destination named (`mkpath`).
fn trusted_dir(raw: &str, which: u8, mkpath: Option<&str>) -> Result<()> {
    let p = Path::new(OsStr::from_bytes(raw.as_bytes()));
    // rsync names a directory as given, after the working directory when relative.
    let shown = |raw: &str| match std::env::current_dir() {
        Ok(cwd) if !raw.starts_with('/') => format!("{}/{raw}", cwd.display()),
        _ => raw.to_string(),
    };
    if let Some(dest) = mkpath {
        return crate::plan::trusted::check_quietly(p).map_err(|e| {
            Error::new(
                11,
                format!(
                    "rsync: [Receiver] mkdir \"{}\" failed: {}",
                    shown(dest),
                    io_text(&e)
                ),
            )
        });
    }
    crate::plan::trusted::check_quietly(p).map_err(|e| {
        let shown = shown(raw);
        Error::new(
            3,
            format!(
                "{}\nrsync: [Receiver] change_dir#{which} \"{shown}\" failed: {}",
                crate::plan::trusted::NOTICE,
                io_text(&e)
            ),
        )
    })
}

/// main.c: the destination root cannot be made (exit 11).
fn mkdir_failed(dest: &Path, e: &std::io::Error) -> Error {
    let shown = crate::flist::walk::full_name(dest);
    Error::new(
        11,
        format!("rsync: [Receiver] mkdir \"{shown}\" failed: {}", io_text(e)),
    )
}

fn root_dir(root: &Root, dest: &str) -> PathBuf {
    match root {
        Root::Dir(p) => p.clone(),
        Root::File(p) => p.parent().map(Path::to_path_buf).unwrap_or_default(),
        Root::Unresolved => PathBuf::from(dest),
    }
}

/// Where entry `e` lands ([`Receiver::target`], for callers holding other fields borrowed).
pub(super) fn target(root: &Root, dest: &str, e: &Entry) -> PathBuf {
    match root {
        Root::File(p) => p.clone(),
        _ => path_of(&root_dir(root, dest), &e.name),
    }
}
