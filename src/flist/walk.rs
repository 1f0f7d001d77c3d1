//! The sender's walk: operands → segments of entries in rsync order (see the module doc of
//! `flist`). Runs on its own thread so the first segment is on the wire while deeper directories
//! are still being read.

use super::entry::*;
use super::names::NameCache;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What the walk needs from the options.
#[derive(Clone, Debug, Default)]
pub struct WalkOpts {
    pub recursive: bool,
    pub dirs: bool,
    pub links: bool,
    pub copy_links: bool,
    pub copy_dirlinks: bool,
    pub devices: bool,
    pub specials: bool,
    pub one_file_system: u8,
    pub numeric_ids: bool,
    pub owner: bool,
    pub group: bool,
    pub hard_links: bool,
    pub relative: bool,
    pub implied_dirs: bool,
    pub copy_unsafe_links: bool,
    /// Print "skipping non-regular file" notes (info=nonreg).
    pub nonreg: bool,
}

/// One unit of the walk's output.
pub enum WalkEvent {
    /// Children of `parent` (u32::MAX: top level). `paths[i]` is the on-disk path of `entries[i]`.
    Segment {
        parent: u32,
        entries: Vec<Entry>,
        paths: Vec<PathBuf>,
    },
    /// A message for the user: (is_error, text, vanished).
    Note {
        error: bool,
        text: String,
        vanished: bool,
    },
    /// Walk finished; `io_error` = some source could not be read (disables deletions).
    End { io_error: bool },
}

/// rsync's display of a sender path: relative paths are shown from the working directory.
pub fn full_name(p: &Path) -> String {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|c| c.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    let s = abs.as_os_str().as_bytes();
    // Drop "/./" and a trailing "/." like rsync's clean_fname.
    let mut out: Vec<u8> = Vec::new();
    for comp in s.split(|b| *b == b'/') {
        if comp.is_empty() || comp == b"." {
            continue;
        }
        out.push(b'/');
        out.extend_from_slice(comp);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// rsync's order of names within one directory: non-dirs, then dirs, each bytewise.
pub fn sort_children(v: &mut [(Entry, PathBuf)]) {
    // "." (a `dir/` operand among others) leads the top level, as in rsync's f_name_cmp.
    v.sort_by(|a, b| {
        let key = |e: &Entry| (e.name != b".", e.is_dir());
        (key(&a.0), &a.0.name).cmp(&(key(&b.0), &b.0.name))
    });
}

pub struct Walker<'a> {
    pub opts: WalkOpts,
    pub names: NameCache,
    /// Returns true when the path (relative to the transfer root) is excluded.
    pub excluded: &'a mut dyn FnMut(&[u8], bool) -> bool,
    pub emit: &'a mut dyn FnMut(WalkEvent) -> bool,
    next_idx: u32,
    io_error: bool,
    hlinks: HashMap<(u64, u64), u64>,
    stopped: bool,
}

fn join_name(prefix: &[u8], name: &[u8]) -> Vec<u8> {
    if prefix.is_empty() || prefix == b"." {
        name.to_vec()
    } else {
        let mut v = prefix.to_vec();
        v.push(b'/');
        v.extend_from_slice(name);
        v
    }
}

impl<'a> Walker<'a> {
    pub fn new(
        opts: WalkOpts,
        excluded: &'a mut dyn FnMut(&[u8], bool) -> bool,
        emit: &'a mut dyn FnMut(WalkEvent) -> bool,
    ) -> Self {
        Walker {
            opts,
            names: NameCache::default(),
            excluded,
            emit,
            next_idx: 0,
            io_error: false,
            hlinks: HashMap::new(),
            stopped: false,
        }
    }

    fn note(&mut self, error: bool, text: String, vanished: bool) {
        if error {
            self.io_error = true;
        }
        if !(self.emit)(WalkEvent::Note {
            error,
            text,
            vanished,
        }) {
            self.stopped = true;
        }
    }

    fn stat(&self, p: &Path, _top: bool) -> std::io::Result<Metadata> {
        if self.opts.copy_links {
            std::fs::metadata(p)
        } else {
            let m = std::fs::symlink_metadata(p)?;
            if m.file_type().is_symlink() && self.opts.copy_dirlinks {
                if let Ok(t) = std::fs::metadata(p) {
                    if t.is_dir() {
                        return Ok(t);
                    }
                }
            }
            Ok(m)
        }
    }

    /// Build an entry, or None if the type is not transferred (with rsync's note).
    fn make_entry(&mut self, name: Vec<u8>, path: &Path, m: &Metadata) -> Option<Entry> {
        let mode = m.mode();
        let fmt = mode & S_IFMT;
        let shown = String::from_utf8_lossy(&name).into_owned();
        // Links, devices and specials are listed even when they will not be recreated: rsync's
        // generator skips them with "skipping non-regular file", and they count in --stats.
        let _ = &shown;
        let mut e = Entry {
            name,
            mode,
            // Directories carry their st_size too: `--list-only` and `%l` show it (rsync flist.c).
            size: if fmt == S_IFREG || fmt == S_IFDIR {
                m.size()
            } else {
                0
            },
            mtime: m.mtime(),
            mtime_ns: m.mtime_nsec() as u32,
            uid: m.uid(),
            gid: m.gid(),
            rdev: if matches!(fmt, S_IFCHR | S_IFBLK) {
                m.rdev()
            } else {
                0
            },
            ..Default::default()
        };
        if fmt == S_IFLNK {
            match std::fs::read_link(path) {
                Ok(t) => {
                    let t = t.as_os_str().as_bytes().to_vec();
                    e.size = t.len() as u64;
                    e.link = Some(t);
                }
                Err(err) => {
                    self.note(
                        true,
                        format!(
                            "rsync: [sender] readlink_stat \"{}\" failed: {}",
                            full_name(path),
                            crate::error::io_text(&err)
                        ),
                        false,
                    );
                    return None;
                }
            }
        }
        if !self.opts.numeric_ids {
            if self.opts.owner {
                e.user = self.names.user(e.uid);
            }
            if self.opts.group {
                e.group = self.names.group(e.gid);
            }
        }
        if self.opts.hard_links && fmt != S_IFDIR && m.nlink() > 1 {
            let key = (m.dev(), m.ino());
            let next = self.hlinks.len() as u64 + 1;
            let id = *self.hlinks.entry(key).or_insert(next);
            if id == next {
                e.flags |= F_HLINK_FIRST;
            }
            e.hlink = id;
        }
        Some(e)
    }

    fn alloc(&mut self, n: usize) -> u32 {
        let first = self.next_idx;
        self.next_idx += n as u32;
        first
    }

    /// Walk the operands (already split into (base dir, name-or-".") pairs by the caller).
    pub fn run(&mut self, sources: &[Source]) {
        let mut top: Vec<(Entry, PathBuf)> = Vec::new();
        for s in sources {
            let m = match self.stat(&s.path, true) {
                Ok(m) => m,
                Err(err) => {
                    let vanished = err.kind() == std::io::ErrorKind::NotFound;
                    let _ = vanished;
                    self.note(
                        true,
                        format!(
                            "rsync: [sender] link_stat \"{}\" failed: {}",
                            full_name(&s.path),
                            crate::error::io_text(&err)
                        ),
                        false,
                    );
                    continue;
                }
            };
            if m.is_dir() && !self.opts.recursive && !self.opts.dirs {
                self.note(
                    false,
                    format!("skipping directory {}", crate::report::escape(&s.name)),
                    false,
                );
                continue;
            }
            if s.contents && !m.is_dir() {
                // "file/" as a source: rsync treats it as the file itself.
            }
            if let Some(mut e) = self.make_entry(s.name.clone(), &s.path, &m) {
                if e.is_dir() && (self.opts.recursive || s.contents) {
                    e.flags |= F_TOP_DIR;
                }
                top.push((e, s.path.clone()));
            }
        }
        sort_children(&mut top);
        top.dedup_by(|a, b| a.0.name == b.0.name);
        let first = self.alloc(top.len());
        let dirs: Vec<(u32, Vec<u8>, PathBuf, u64)> = top
            .iter()
            .enumerate()
            .filter(|(_, (e, _))| e.flags & F_TOP_DIR != 0)
            .map(|(i, (e, p))| (first + i as u32, e.name.clone(), p.clone(), 0))
            .collect();
        let (entries, paths) = top.into_iter().unzip();
        if !(self.emit)(WalkEvent::Segment {
            parent: u32::MAX,
            entries,
            paths,
        }) {
            return;
        }
        for (idx, name, path, _) in dirs {
            let dev = std::fs::metadata(&path).map(|m| m.dev()).unwrap_or(0);
            self.dir(idx, &name, &path, dev, true);
            if self.stopped {
                return;
            }
        }
        let io_error = self.io_error;
        (self.emit)(WalkEvent::End { io_error });
    }

    fn dir(&mut self, idx: u32, name: &[u8], path: &Path, dev: u64, first_level: bool) {
        let rd = match std::fs::read_dir(path) {
            Ok(rd) => rd,
            Err(err) => {
                self.note(
                    true,
                    format!(
                        "rsync: [sender] opendir \"{}\" failed: {}",
                        full_name(path),
                        crate::error::io_text(&err)
                    ),
                    false,
                );
                let _ = (self.emit)(WalkEvent::Segment {
                    parent: idx,
                    entries: vec![],
                    paths: vec![],
                });
                return;
            }
        };
        let mut kids: Vec<(Entry, PathBuf)> = Vec::new();
        for de in rd {
            let de = match de {
                Ok(d) => d,
                Err(err) => {
                    self.note(
                        true,
                        format!(
                            "rsync: [sender] readdir \"{}\" failed: {}",
                            full_name(path),
                            crate::error::io_text(&err)
                        ),
                        false,
                    );
                    continue;
                }
            };
            let fname = de.file_name();
            let child_name = join_name(name, fname.as_bytes());
            let cpath = path.join(&fname);
            let m = match self.stat(&cpath, false) {
                Ok(m) => m,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    self.note(
                        false,
                        format!("file has vanished: \"{}\"", full_name(&cpath)),
                        true,
                    );
                    continue;
                }
                Err(err) => {
                    self.note(
                        true,
                        format!(
                            "rsync: [sender] readlink_stat \"{}\" failed: {}",
                            full_name(&cpath),
                            crate::error::io_text(&err)
                        ),
                        false,
                    );
                    continue;
                }
            };
            if (self.excluded)(&child_name, m.is_dir()) {
                continue;
            }
            if m.is_dir() && self.opts.one_file_system > 1 && m.dev() != dev {
                continue;
            }
            if let Some(mut e) = self.make_entry(child_name, &cpath, &m) {
                if e.is_dir()
                    && self.opts.recursive
                    && !(self.opts.one_file_system > 0 && m.dev() != dev)
                {
                    e.flags |= F_TOP_DIR;
                }
                kids.push((e, cpath));
            }
        }
        let _ = first_level;
        sort_children(&mut kids);
        let first = self.alloc(kids.len());
        let subdirs: Vec<(u32, Vec<u8>, PathBuf)> = kids
            .iter()
            .enumerate()
            .filter(|(_, (e, _))| e.flags & F_TOP_DIR != 0)
            .map(|(i, (e, p))| (first + i as u32, e.name.clone(), p.clone()))
            .collect();
        let (entries, paths) = kids.into_iter().unzip();
        if !(self.emit)(WalkEvent::Segment {
            parent: idx,
            entries,
            paths,
        }) {
            self.stopped = true;
            return;
        }
        for (i, n, p) in subdirs {
            self.dir(i, &n, &p, dev, false);
            if self.stopped {
                return;
            }
        }
    }
}

/// One source operand, resolved: `path` on disk, `name` in the transfer ("." for `src/`).
#[derive(Clone, Debug)]
pub struct Source {
    pub path: PathBuf,
    pub name: Vec<u8>,
    /// Trailing slash or `/.`: transfer the directory's contents.
    pub contents: bool,
}

impl Source {
    /// rsync's trailing-slash rule (rsync-cli.md §1.3.1).
    pub fn from_operand(op: &[u8]) -> Source {
        let contents = op.ends_with(b"/") || op.ends_with(b"/.") || op == b".";
        let trimmed: &[u8] = {
            let mut t = op;
            while t.len() > 1 && t.ends_with(b"/") {
                t = &t[..t.len() - 1];
            }
            t
        };
        let path = PathBuf::from(OsStr::from_bytes(if op.is_empty() { b"." } else { op }));
        let name = if contents {
            b".".to_vec()
        } else {
            let base = trimmed.rsplit(|b| *b == b'/').next().unwrap_or(trimmed);
            if base.is_empty() || base == b".." {
                b".".to_vec()
            } else {
                base.to_vec()
            }
        };
        Source {
            path,
            name,
            contents: contents || name_is_dot(trimmed),
        }
    }
}

fn name_is_dot(t: &[u8]) -> bool {
    t == b"." || t == b"/" || t.ends_with(b"/..") || t == b".."
}
