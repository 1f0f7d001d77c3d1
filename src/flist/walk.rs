//! The sender's walk: operands → segments of entries in rsync order (see the module doc of
//! `flist`). Runs on its own thread so the first segment is on the wire while deeper directories
//! are still being read.

use super::entry::*;
use super::names::NameCache;
pub use super::order::{cmp_entries, sort_children, sort_key};
use super::probe::{Follow, Probe};
pub use super::source::Source;
use std::collections::{HashMap, HashSet};

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Names of one directory read before they are looked at together (bounds the memory a huge
/// directory takes beyond its entries).
const PROBE_BATCH: usize = 4096;

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
    /// Say "copying unsafe symlink" (info=symsafe, `-v`).
    pub symsafe: bool,
    /// `--ignore-missing-args`: a missing operand is skipped silently.
    pub ignore_missing: bool,
    /// `--delete-missing-args`: a missing operand becomes a "missing" entry (mode 0).
    pub delete_missing: bool,
    /// Print "skipping non-regular file" notes (info=nonreg).
    pub nonreg: bool,
    /// `--chmod` rules, applied to the listed permissions (rsync applies them on the sender).
    pub chmod: Vec<crate::meta::chmod::Rule>,
    /// `-U`: list access times (not of directories).
    pub atimes: bool,
    /// `--copy-devices`: send devices as regular files with their contents.
    pub copy_devices: bool,
    /// `-X` / `-A`: list extended attributes / ACLs.
    pub xattrs: crate::meta::xattr::Select,
    /// `--munge-links`: send munged symlink targets unmunged.
    pub munge_links: bool,
    /// Say "removing duplicate name …" (`-vv`, `--debug=DUP`), numbering from 1 with
    /// incremental recursion (rsync's first list starts at index 1 then).
    pub dup_notes: Option<u32>,
}

/// What `--munge-links` puts before a received symlink's target (rsync's SYMLINK_PREFIX): the
/// link points nowhere on disk, and a sender with the option gives back the original.
pub const MUNGE_PREFIX: &[u8] = b"/rsyncd-munged/";

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
    /// An operand named again (rsync's clean_flist drops it, after counting it in the
    /// statistics: "Number of files", "total size").
    Duplicate(Entry),
    /// Walk finished; `io_error` = some source could not be read (disables deletions).
    End { io_error: bool },
    /// The walk cannot go on (e.g. a bad rule in a per-directory filter file): exit `code`.
    Fatal { code: i32, text: String },
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

/// What the walk asks the filter rules (rsync.1 "FILTER RULES"): `enter_dir` before a
/// directory's children are checked, so per-directory merge files can be read.
pub trait WalkFilter {
    fn enter_dir(&mut self, _name: &[u8], _path: &Path) {}
    /// True when the path (relative to the transfer root) is excluded.
    fn excluded(&mut self, name: &[u8], is_dir: bool) -> bool;
    /// A line to show about the last decision (`-vv`: which rule matched).
    fn take_note(&mut self) -> Option<String> {
        None
    }
    /// An error that must end the run (exit code, message).
    fn take_fatal(&mut self) -> Option<(i32, String)> {
        None
    }
}

impl<F: FnMut(&[u8], bool) -> bool> WalkFilter for F {
    fn excluded(&mut self, name: &[u8], is_dir: bool) -> bool {
        self(name, is_dir)
    }
}

pub struct Walker<'a> {
    pub opts: WalkOpts,
    pub names: NameCache,
    pub filter: &'a mut dyn WalkFilter,
    pub emit: &'a mut dyn FnMut(WalkEvent) -> bool,
    next_idx: u32,
    io_error: bool,
    hlinks: HashMap<(u64, u64), u64>,
    stopped: bool,
    /// Top-level items not sent yet, by the directory they follow (see `run`).
    extras: HashMap<Vec<u8>, Vec<(Entry, PathBuf)>>,
}

fn join_name(prefix: &[u8], name: &[u8]) -> Vec<u8> {
    if prefix.is_empty() || prefix == b"." {
        name.to_vec()
    } else {
        let mut v = Vec::with_capacity(prefix.len() + 1 + name.len());
        v.extend_from_slice(prefix);
        v.push(b'/');
        v.extend_from_slice(name);
        v
    }
}

impl<'a> Walker<'a> {
    pub fn new(
        opts: WalkOpts,
        filter: &'a mut dyn WalkFilter,
        emit: &'a mut dyn FnMut(WalkEvent) -> bool,
    ) -> Self {
        Walker {
            opts,
            names: NameCache::default(),
            filter,
            emit,
            next_idx: 0,
            io_error: false,
            hlinks: HashMap::new(),
            stopped: false,
            extras: HashMap::new(),
        }
    }

    fn filter_note(&mut self) {
        if let Some(text) = self.filter.take_note() {
            self.note(false, text, false);
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

    fn follow(&self) -> Follow {
        Follow {
            copy_links: self.opts.copy_links,
            copy_dirlinks: self.opts.copy_dirlinks,
            copy_unsafe_links: self.opts.copy_unsafe_links,
        }
    }

    /// Look at one name (see `probe`), saying so when an unsafe symlink is followed.
    fn probe(&mut self, name: &[u8], p: &Path) -> Probe {
        let probe = super::probe::probe(name, p, self.follow());
        self.unsafe_note(name, &probe);
        probe
    }

    /// rsync flist.c `readlink_stat`: with `-v`, "copying unsafe symlink".
    fn unsafe_note(&mut self, name: &[u8], probe: &Probe) {
        if let (Some(t), true) = (&probe.unsafe_target, self.opts.symsafe) {
            let text = format!(
                "copying unsafe symlink \"{}\" -> \"{}\"",
                crate::report::escape(name),
                crate::report::escape(t)
            );
            self.note(false, text, false);
        }
    }

    /// rsync flist.c make_file: a name that could not be looked at (exit 23).
    fn readlink_stat_failed(&mut self, path: &Path, err: &std::io::Error) {
        let text = format!(
            "rsync: [sender] readlink_stat(\"{}\") failed: {}",
            full_name(path),
            crate::error::io_text(err)
        );
        self.note(true, text, false);
    }

    /// rsync flist.c make_file: a followed symlink that points nowhere (exit 23).
    fn no_referent(&mut self, path: &Path) {
        let text = format!("symlink has no referent: \"{}\"", full_name(path));
        self.note(true, text, false);
    }

    /// Build an entry, or None if the type is not transferred (with rsync's note). `link` is a
    /// symlink's target when it was read already (see `probe`).
    fn make_entry(
        &mut self,
        name: Vec<u8>,
        path: &Path,
        m: &super::probe::Stat,
        link: Option<std::io::Result<PathBuf>>,
    ) -> Option<Entry> {
        // --fake-super: a regular file or directory stands for what its user.rsync.%stat says
        // (rsync's x_lstat): a symlink holding its target, a device or special, other
        // permissions, owner, group.
        let fake = (self.opts.xattrs.fake && matches!(m.mode() & S_IFMT, S_IFREG | S_IFDIR))
            .then(|| crate::meta::fake::read(path))
            .flatten();
        let mut mode = fake.map_or(m.mode(), |f| f.mode);
        let mut fmt = mode & S_IFMT;
        // --copy-devices: a device is listed as a regular file of the device's size (rsync
        // flist.c: the size is where a seek to the end lands, 0 for most character devices).
        let mut dev_size = None;
        if self.opts.copy_devices && matches!(fmt, S_IFCHR | S_IFBLK) {
            fmt = S_IFREG;
            mode = S_IFREG | (mode & 0o7777);
            dev_size = Some(crate::meta::device_size(path));
        }
        if fmt != S_IFLNK && !self.opts.chmod.is_empty() {
            mode = crate::meta::chmod::apply(&self.opts.chmod, mode, fmt == S_IFDIR);
        }
        let shown = String::from_utf8_lossy(&name).into_owned();
        // Links, devices and specials are listed even when they will not be recreated: rsync's
        // generator skips them with "skipping non-regular file", and they count in --stats.
        let _ = &shown;
        let mut e = Entry {
            name: name.into(),
            mode,
            // Directories carry their st_size too: `--list-only` and `%l` show it (rsync flist.c).
            size: if let Some(n) = dev_size {
                n
            } else if fmt == S_IFREG || fmt == S_IFDIR {
                m.size()
            } else {
                0
            },
            mtime: m.mtime(),
            mtime_ns: m.mtime_nsec() as u32,
            uid: fake.map_or(m.uid(), |f| f.uid),
            gid: fake.map_or(m.gid(), |f| f.gid),
            ..Default::default()
        };
        if matches!(fmt, S_IFCHR | S_IFBLK) {
            e.x_mut().rdev = fake.map_or(m.rdev(), |f| f.rdev);
        }
        if dev_size.is_some() {
            // rsync lists a copied device with the current time (whole seconds) as its mtime,
            // so the copy is sent again on every run.
            e.mtime = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            e.mtime_ns = 0;
        }
        if fmt == S_IFLNK {
            let target = match fake {
                Some(_) => std::fs::read(path),
                None => link
                    .unwrap_or_else(|| std::fs::read_link(path))
                    .map(|t| t.as_os_str().as_bytes().to_vec()),
            };
            match target {
                Ok(mut t) => {
                    e.size = t.len() as u64;
                    // --munge-links on the sending side: a munged target goes out as it was
                    // (flist.c; the listed size stays the link's own).
                    if self.opts.munge_links && t.len() > MUNGE_PREFIX.len() {
                        if let Some(rest) = t.strip_prefix(MUNGE_PREFIX) {
                            t = rest.to_vec();
                        }
                    }
                    e.x_mut().link = Some(t);
                }
                Err(err) => {
                    self.readlink_stat_failed(path, &err);
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
        if self.opts.atimes && fmt != S_IFDIR {
            // rsync's file list carries whole seconds of atime.
            e.x_mut().atime = Some((m.atime(), 0));
        }
        if self.opts.xattrs.any() {
            // An unreadable attribute list is sent as empty, not as a failed entry.
            e.x_mut().xattrs =
                Some(crate::meta::xattr::read(path, self.opts.xattrs).unwrap_or_default());
            if self.opts.xattrs.fake {
                crate::meta::fake::from_stored(&mut e);
            }
            if self.opts.xattrs.acls && !self.opts.numeric_ids {
                let names = crate::meta::xattr::acl_names(e.x().xattrs.as_deref(), &self.names);
                e.x_mut().acl_names = names;
            }
        }
        if self.opts.hard_links && fmt != S_IFDIR && m.nlink() > 1 {
            let key = (m.dev(), m.ino());
            let next = self.hlinks.len() as u64 + 1;
            let id = *self.hlinks.entry(key).or_insert(next);
            if id == next {
                e.flags |= F_HLINK_FIRST;
            }
            e.x_mut().hlink = id;
        }
        Some(e)
    }

    fn alloc(&mut self, n: usize) -> u32 {
        let first = self.next_idx;
        self.next_idx += n as u32;
        first
    }

    /// Walk the operands: the top-level items (with `-R` their implied directories, with
    /// `--delete-missing-args` the missing ones), then every directory whose contents are sent.
    pub fn run(&mut self, sources: &[Source]) {
        let top = self.top_entries(sources);
        // Each item waits in the group of its nearest listed ancestor, so it is sent right after
        // that directory, in rsync's depth-first order ("" = the root of the list).
        let names: HashSet<Vec<u8>> = top.iter().map(|(e, _)| e.name.to_vec()).collect();
        for item in top {
            let key = group_key(&item.0.name, &names);
            self.extras.entry(key).or_default().push(item);
        }
        let mut root = self.extras.remove(&b""[..]).unwrap_or_default();
        if !root.iter().any(|(e, _)| e.flags & F_TOP_DIR != 0) {
            root.extend(self.extras.remove(&b"."[..]).unwrap_or_default());
        }
        self.group(u32::MAX, root, 0);
        // Items under a directory that was never walked (it could not be read): send them anyway.
        let mut rest: Vec<_> = self.extras.drain().collect();
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, v) in rest {
            if self.stopped {
                return;
            }
            self.group(u32::MAX, v, 0);
        }
        if self.stopped {
            return;
        }
        let io_error = self.io_error;
        (self.emit)(WalkEvent::End { io_error });
    }

    /// The command-line items, deduplicated by name (a directory named twice, or both named and
    /// implied, is sent once and recursed into if either says so).
    fn top_entries(&mut self, sources: &[Source]) -> Vec<(Entry, PathBuf)> {
        let mut out: Vec<(Entry, PathBuf)> = Vec::new();
        let mut dups: Vec<Entry> = Vec::new();
        let mut at: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut add =
            |out: &mut Vec<(Entry, PathBuf)>, e: Entry, p: PathBuf| match at.get(&e.name[..]) {
                Some(&i) => {
                    out[i].0.flags |= e.flags & F_TOP_DIR;
                    dups.push(e);
                }
                None => {
                    at.insert(e.name.to_vec(), out.len());
                    out.push((e, p));
                }
            };
        for s in sources {
            let abs = if s.absolute { F_ABS_NAME } else { 0 };
            let mut s = s.clone();
            let mut probe = self.probe(&s.name, &s.path);
            if s.contents
                && probe
                    .meta
                    .as_ref()
                    .is_err_and(|e| e.raw_os_error() == Some(libc::ENOTDIR))
            {
                // `-R dir/file/`: rsync sends the file itself.
                let b = s.path.as_os_str().as_bytes();
                let end = b
                    .iter()
                    .rposition(|c| *c != b'/' && *c != b'.')
                    .map_or(0, |i| i + 1);
                if end > 0 && s.name != b"." {
                    s.path = PathBuf::from(std::ffi::OsStr::from_bytes(&b[..end]));
                    s.contents = false;
                    probe = self.probe(&s.name, &s.path);
                }
            }
            let Probe {
                meta,
                link,
                unsafe_target,
            } = probe;
            let e = match meta {
                Ok(m) => {
                    if m.is_dir() && !self.opts.recursive && !self.opts.dirs {
                        self.note(
                            false,
                            format!("skipping directory {}", crate::report::escape(&s.name)),
                            false,
                        );
                        continue;
                    }
                    // Operands are filtered like any name (rsync: `--exclude=/src/x` drops the
                    // operand `src/x` under -R); implied directories are not.
                    if s.name != b"." {
                        let hidden = self.filter.excluded(&s.name, m.is_dir());
                        self.filter_note();
                        if hidden {
                            continue;
                        }
                    }
                    let Some(mut e) = self.make_entry(s.name.clone(), &s.path, &m, link) else {
                        continue;
                    };
                    if e.is_dir() && (self.opts.recursive || s.contents) {
                        e.flags |= F_TOP_DIR;
                    }
                    e
                }
                Err(err)
                    if err.kind() == std::io::ErrorKind::NotFound && unsafe_target.is_some() =>
                {
                    self.no_referent(&s.path);
                    continue;
                }
                Err(err)
                    if err.kind() == std::io::ErrorKind::NotFound && self.opts.delete_missing =>
                {
                    // rsync's "missing" entry: the receiver deletes the name.
                    Entry {
                        name: s.name.clone().into(),
                        ..Default::default()
                    }
                }
                Err(err)
                    if err.kind() == std::io::ErrorKind::NotFound && self.opts.ignore_missing =>
                {
                    continue
                }
                Err(err) => {
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
            if self.opts.relative && self.opts.implied_dirs {
                for (name, path) in s.implied() {
                    // Implied directories are always real directories (rsync(1) --relative).
                    let Ok(m) = std::fs::metadata(&path).map(|m| super::probe::Stat::from(&m))
                    else {
                        continue;
                    };
                    if let Some(mut d) = m
                        .is_dir()
                        .then(|| self.make_entry(name, &path, &m, None))
                        .flatten()
                    {
                        d.flags |= abs;
                        add(&mut out, d, path);
                    }
                }
            }
            let mut e = e;
            e.flags |= abs;
            add(&mut out, e, s.path.clone());
        }
        self.duplicates(&out, dups);
        out
    }

    /// rsync lists a name given twice twice, sorts, then drops the later one (flist.c
    /// clean_flist), saying so with its index in the sorted list; the statistics count both.
    fn duplicates(&mut self, kept: &[(Entry, PathBuf)], dups: Vec<Entry>) {
        if dups.is_empty() {
            return;
        }
        if let Some(first) = self.opts.dup_notes {
            let mut all: Vec<&Entry> = kept.iter().map(|(e, _)| e).chain(&dups).collect();
            all.sort_by(|a, b| super::order::cmp_entries(a, b));
            let notes: Vec<String> = (1..all.len())
                .filter(|&i| all[i].name == all[i - 1].name)
                .map(|i| {
                    format!(
                        "removing duplicate name {} from file list ({})",
                        crate::report::escape(&all[i].name),
                        i as u32 + first
                    )
                })
                .collect();
            for text in notes {
                self.note(false, text, false);
            }
        }
        for e in dups {
            if !(self.emit)(WalkEvent::Duplicate(e)) {
                self.stopped = true;
            }
        }
    }

    /// Send one group of siblings: a directory's segment, or top-level items (`parent` MAX),
    /// which are cut after each directory that has something to follow it.
    fn group(&mut self, parent: u32, mut list: Vec<(Entry, PathBuf)>, dev: u64) {
        sort_children(&mut list);
        if parent != u32::MAX {
            return self.segment(parent, list, dev);
        }
        let mut run = Vec::new();
        for item in list {
            let follows = item.0.is_dir()
                && (item.0.flags & F_TOP_DIR != 0 || self.extras.contains_key(&item.0.name[..]));
            run.push(item);
            if follows {
                self.segment(u32::MAX, std::mem::take(&mut run), dev);
                if self.stopped {
                    return;
                }
            }
        }
        if !run.is_empty() {
            self.segment(u32::MAX, run, dev);
        }
    }

    fn segment(&mut self, parent: u32, list: Vec<(Entry, PathBuf)>, dev: u64) {
        let first = self.alloc(list.len());
        let follow: Vec<(u32, Box<[u8]>, PathBuf, u8)> = list
            .iter()
            .enumerate()
            .filter(|(_, (e, _))| {
                e.is_dir() && (e.flags & F_TOP_DIR != 0 || self.extras.contains_key(&e.name[..]))
            })
            .map(|(i, (e, p))| (first + i as u32, e.name.clone(), p.clone(), e.flags))
            .collect();
        let (entries, paths) = list.into_iter().unzip();
        if !(self.emit)(WalkEvent::Segment {
            parent,
            entries,
            paths,
        }) {
            self.stopped = true;
            return;
        }
        for (idx, name, path, flags) in follow {
            if flags & F_TOP_DIR != 0 {
                // -x compares against the device of the top-level directory being walked.
                let d = if parent == u32::MAX {
                    std::fs::metadata(&path).map(|m| m.dev()).unwrap_or(0)
                } else {
                    dev
                };
                self.dir(idx, &name, &path, d, flags & F_ABS_NAME);
            } else if let Some(x) = self.extras.remove(&name[..]) {
                self.group(u32::MAX, x, dev);
            }
            if self.stopped {
                return;
            }
        }
    }

    /// One name of a directory, with what `probe` found: its entry, or None when it vanished,
    /// cannot be read (with rsync's notes), is excluded or lies on another file system (`-xx`).
    fn child(
        &mut self,
        child_name: Vec<u8>,
        cpath: PathBuf,
        probe: Probe,
        dev: u64,
    ) -> Option<(Entry, PathBuf)> {
        self.unsafe_note(&child_name, &probe);
        let m = match probe.meta {
            Ok(m) => m,
            Err(err) => {
                // rsync flist.c make_file: a name that cannot be looked at is reported only if it
                // is not excluded (as a file or as a directory).
                for is_dir in [false, true] {
                    let hidden = self.filter.excluded(&child_name, is_dir);
                    self.filter_note();
                    if hidden {
                        return None;
                    }
                }
                let lstat = || std::fs::symlink_metadata(&cpath);
                if err.kind() != std::io::ErrorKind::NotFound {
                    self.readlink_stat_failed(&cpath, &err);
                } else if self.follow().any() && lstat().is_ok_and(|m| m.file_type().is_symlink()) {
                    self.no_referent(&cpath);
                } else {
                    let text = format!("file has vanished: \"{}\"", full_name(&cpath));
                    self.note(false, text, true);
                }
                return None;
            }
        };
        let hidden = self.filter.excluded(&child_name, m.is_dir());
        self.filter_note();
        if hidden || (m.is_dir() && self.opts.one_file_system > 1 && m.dev() != dev) {
            return None;
        }
        let mut e = self.make_entry(child_name, &cpath, &m, probe.link)?;
        if e.is_dir() && self.opts.recursive && !(self.opts.one_file_system > 0 && m.dev() != dev) {
            e.flags |= F_TOP_DIR;
        }
        Some((e, cpath))
    }

    fn dir(&mut self, idx: u32, name: &[u8], path: &Path, dev: u64, inherit: u8) {
        self.filter.enter_dir(name, path);
        if let Some((code, text)) = self.filter.take_fatal() {
            let _ = (self.emit)(WalkEvent::Fatal { code, text });
            self.stopped = true;
            return;
        }
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
        // Names are read a batch at a time and then looked at (in parallel when there are many,
        // see `probe`); decisions and notes follow in readdir order.
        // The directory open for `fstatat` (one lookup per name instead of the whole path).
        let at = std::fs::File::open(path).ok();
        let mut rd = rd.map(|de| de.map(|d| d.file_name())).peekable();
        let mut kids: Vec<(Entry, PathBuf)> = Vec::new();
        while rd.peek().is_some() {
            let listed: Vec<std::io::Result<std::ffi::OsString>> =
                rd.by_ref().take(PROBE_BATCH).collect();
            let named: Vec<(Vec<u8>, PathBuf)> = listed
                .iter()
                .flatten()
                .map(|f| (join_name(name, f.as_bytes()), path.join(f)))
                .collect();
            let probes = super::probe::probe_all(&named, at.as_ref(), self.follow());
            let mut looked = named.into_iter().zip(probes);
            for de in listed {
                if let Err(err) = de {
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
                let ((child_name, cpath), probe) = looked.next().expect("one probe per name");
                if let Some(mut kid) = self.child(child_name, cpath, probe, dev) {
                    kid.0.flags |= inherit;
                    kids.push(kid);
                }
            }
        }
        // Command-line items inside this directory join its segment (their own path and flags
        // win; a recursion flag from either side is kept).
        if let Some(extra) = self.extras.remove(name) {
            let mut extra = extra;
            kids.retain(
                |(k, _)| match extra.iter_mut().find(|(x, _)| x.name == k.name) {
                    Some((x, _)) => {
                        if x.is_dir() {
                            x.flags |= k.flags & F_TOP_DIR;
                        }
                        false
                    }
                    None => true,
                },
            );
            kids.extend(extra);
        }
        self.group(idx, kids, dev);
    }
}

/// The group key of a top-level item: its nearest ancestor in the list, `.` at the root, and
/// `""` for the root `.` itself.
fn group_key(name: &[u8], names: &HashSet<Vec<u8>>) -> Vec<u8> {
    if name == b"." {
        return Vec::new();
    }
    let mut end = name.len();
    while let Some(i) = name[..end].iter().rposition(|b| *b == b'/') {
        if names.contains(&name[..i]) {
            return name[..i].to_vec();
        }
        end = i;
    }
    b".".to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A note as the walk emits it: (error, vanished, text).
    type Note = (bool, bool, String);

    /// What a name that could not be looked at becomes (rsync flist.c make_file): vanished (a
    /// warning, exit 24), a followed symlink without referent or another failure (errors, exit
    /// 23), or nothing at all when the name is excluded.
    #[test]
    fn names_that_cannot_be_looked_at() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::os::unix::fs::symlink("nowhere", d.join("dangling")).unwrap();
        let gone = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let cases: Vec<(bool, &str, std::io::Error, Option<Note>)> = vec![
            (false, "gone", gone(), Some((false, true, "file has vanished: \"{}\"".into()))),
            (false, "excl-gone", gone(), None),
            // Not followed: a dangling symlink that cannot be stat'ed vanished.
            (false, "dangling", gone(), Some((false, true, "file has vanished: \"{}\"".into()))),
            (true, "dangling", gone(), Some((true, false, "symlink has no referent: \"{}\"".into()))),
            (
                true,
                "loop",
                std::io::Error::from_raw_os_error(libc::ELOOP),
                Some((
                    true,
                    false,
                    "rsync: [sender] readlink_stat(\"{}\") failed: Too many levels of symbolic links (40)"
                        .into(),
                )),
            ),
        ];
        for (copy_links, name, err, want) in cases {
            let mut events = Vec::new();
            let mut filter = |n: &[u8], _dir: bool| n.starts_with(b"excl-");
            let mut emit = |ev: WalkEvent| {
                if let WalkEvent::Note {
                    error,
                    text,
                    vanished,
                } = ev
                {
                    events.push((error, vanished, text));
                }
                true
            };
            let opts = WalkOpts {
                copy_links,
                ..Default::default()
            };
            let mut w = Walker::new(opts, &mut filter, &mut emit);
            let probe = Probe {
                meta: Err(err),
                link: None,
                unsafe_target: None,
            };
            let path = d.join(name);
            assert!(w
                .child(name.as_bytes().to_vec(), path.clone(), probe, 0)
                .is_none());
            let io_error = w.io_error;
            let want = want.map(|(e, v, t)| (e, v, t.replace("{}", &full_name(&path))));
            assert_eq!(events.pop(), want, "{name}");
            assert!(events.is_empty());
            assert_eq!(io_error, want_error(&want), "{name}");
        }
    }

    fn want_error(w: &Option<Note>) -> bool {
        w.as_ref().is_some_and(|(e, _, _)| *e)
    }
}
