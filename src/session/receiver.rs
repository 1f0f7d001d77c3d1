//! The receiver role: the generator half (decides per entry: create, fix attributes, skip, or
//! request the file with an engine session over the basis) and the writer half (applies ops into a
//! temp file, verifies the whole-file BLAKE3, renames, sets metadata). Requests are pipelined —
//! the generator never waits for a file to finish before asking for the next one.

use super::filters::Filters;
use super::Conn;
use crate::cli::options::DeleteWhen;
use crate::cli::Options;
use crate::decide;
use crate::engine::{self, EngineId, ReceiverHalf, Shared};
use crate::error::{io_text, Error, Problems, Result};
use crate::flist::entry::*;
use crate::flist::names::NameCache;
use crate::meta::{self, MetaOpts};
use crate::recon::tempfile::{create_temp, Writer};
use crate::report::format::{expand, Item};
use crate::report::itemize::{itemize, Change};
use crate::report::{self, progress};
use crate::wire::msg::{Msg, Stats};
use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

mod altdest;
mod backup;
mod inplace;
mod missing;

struct Job {
    writer: Writer,
    /// `--inplace`: `temp` is the target itself (no rename, never removed on failure).
    in_place: bool,
    /// `--inplace` delta: copy ops collected until `CopiesEnd` (None once literals are due).
    copies: Option<Vec<(u64, u64, u64)>>,
    temp: PathBuf,
    target: PathBuf,
    basis: Option<File>,
    half: Option<Box<dyn ReceiverHalf>>,
    started: Instant,
    last_progress: Instant,
    redo: bool,
}

/// Where the transfer lands.
enum Root {
    Unresolved,
    /// Entries go below this directory.
    Dir(PathBuf),
    /// Single-file rename rule: the one top entry is written to this path.
    File(PathBuf),
}

pub struct Receiver {
    opts: Options,
    pub conn: Conn,
    dest: String,
    root: Root,
    filters: Filters,
    flist: Vec<Entry>,
    jobs: HashMap<u32, Job>,
    /// Output lines in flist order; a line may wait for its file's data to start (progress mode).
    lines: VecDeque<(Option<u32>, String)>,
    /// Where messages of rsync's generator (deletions, make-room failures, skipped types) enter
    /// `lines`: rsync prints them ahead of the item lines its sender logs for the same directory,
    /// but after those of earlier directories.
    gen_at: usize,
    /// The top-level "." already itemized with the operands (not again when its contents come).
    dot_done: Option<u32>,
    /// Names of the top-level entries (operands), kept by deletions in ".".
    top_names: Vec<Vec<u8>>,
    started_files: std::collections::HashSet<u32>,
    /// Directories to finish at the end: (path, flist index, intended mode).
    dir_times: Vec<(PathBuf, u32, u32)>,
    hardlinks: Vec<(u32, u64)>,
    hl_first: HashMap<u64, u32>,
    stats: Stats,
    problems: Problems,
    flist_done: bool,
    io_error: bool,
    deferred: Vec<Msg>,
    meta: MetaOpts,
    names: NameCache,
    y: char,
    xfr: u64,
    deletes_done: u64,
    del_limit_hit: bool,
    engine: EngineId,
    redone: std::collections::HashSet<u32>,
    root_created: bool,
    /// Dedupe: files completed (verified and renamed) in this run, and what the destination held.
    done: HashMap<u32, PathBuf>,
    local: Option<crate::dedupe::LocalIndex>,
    /// Deletions whose unlink waits until the end (a dedupe copy may still read them).
    late_deletes: Vec<(PathBuf, bool)>,
    io_error_announced: bool,
    /// Deleting extraneous files (may be deferred for dedupe), not making room for a new item.
    in_extraneous: bool,
    /// `--info=progress2`: bytes of files done, when the last line went out, transfer start.
    p2_bytes: u64,
    p2_last: Option<Instant>,
    p2_start: Instant,
    /// Deletions not done because `--max-delete` was reached.
    del_skipped: u64,
    /// Last parent directory (entry name) verified free of symlinks; see `symlink_in_path`.
    safe_parent: Option<Vec<u8>>,
}

fn path_of(root: &Path, name: &[u8]) -> PathBuf {
    if name == b"." {
        root.to_path_buf()
    } else {
        root.join(OsStr::from_bytes(name))
    }
}

fn type_slot(e: &Entry) -> usize {
    match () {
        _ if e.is_file() => 0,
        _ if e.is_dir() => 1,
        _ if e.is_symlink() => 2,
        _ if e.is_device() => 3,
        _ => 4,
    }
}

fn type_slot_meta(m: &Metadata) -> usize {
    let ft = m.file_type();
    use std::os::unix::fs::FileTypeExt;
    match () {
        _ if ft.is_file() => 0,
        _ if ft.is_dir() => 1,
        _ if ft.is_symlink() => 2,
        _ if ft.is_block_device() || ft.is_char_device() => 3,
        _ => 4,
    }
}

impl Receiver {
    pub fn new(opts: Options, conn: Conn, dest: String, filters: Filters, push: bool) -> Receiver {
        let meta = MetaOpts {
            perms: opts.perms,
            executability: opts.executability,
            owner: opts.owner,
            group: opts.group,
            times: opts.times,
            omit_dir_times: opts.omit_dir_times,
            omit_link_times: opts.omit_link_times,
            am_root: meta::is_root(),
            umask: meta::umask(),
        };
        let engine = opts.engine.unwrap_or(EngineId::Parasync);
        crate::recon::set_keep_partial(opts.partial);
        Receiver {
            opts,
            conn,
            dest,
            root: Root::Unresolved,
            filters,
            flist: Vec::new(),
            jobs: HashMap::new(),
            lines: VecDeque::new(),
            gen_at: 0,
            dot_done: None,
            top_names: Vec::new(),
            started_files: Default::default(),
            dir_times: Vec::new(),
            hardlinks: Vec::new(),
            hl_first: HashMap::new(),
            stats: Stats::default(),
            problems: Problems::default(),
            flist_done: false,
            io_error: false,
            deferred: Vec::new(),
            meta,
            names: NameCache::default(),
            y: if push { '<' } else { '>' },
            xfr: 0,
            deletes_done: 0,
            del_limit_hit: false,
            engine,
            redone: Default::default(),
            root_created: false,
            done: HashMap::new(),
            local: None,
            late_deletes: Vec::new(),
            io_error_announced: false,
            in_extraneous: false,
            p2_bytes: 0,
            p2_last: None,
            p2_start: Instant::now(),
            del_skipped: 0,
            safe_parent: None,
        }
    }

    fn fail(&mut self, text: String) -> Result<()> {
        self.problems.partial = true;
        self.conn.error(&text)
    }

    /// Run until the transfer is complete; returns (receiver stats, sender stats, problems).
    pub fn run(mut self) -> Result<(Stats, Stats, Problems)> {
        let delay_all = self.opts.delete && self.opts.delete_when == DeleteWhen::Before;
        loop {
            let m = self.conn.recv()?;
            match m {
                Msg::Segment { .. } | Msg::FlistEnd { .. } if delay_all && !self.flist_done => {
                    let end = matches!(m, Msg::FlistEnd { .. });
                    if let Msg::Segment { parent, entries } = &m {
                        // Record the list now so deletions know every name.
                        self.resolve_root(*parent, entries)?;
                        self.flist.extend(entries.iter().cloned());
                    }
                    if let Msg::FlistEnd { io_error } = m {
                        self.io_error |= io_error;
                    }
                    self.deferred.push(m);
                    if end {
                        self.delete_all_top_dirs()?;
                        let msgs = std::mem::take(&mut self.deferred);
                        let mut base = 0u32;
                        for m in msgs {
                            match m {
                                Msg::Segment { parent, entries } => {
                                    let n = entries.len() as u32;
                                    self.on_segment(parent, base, &entries)?;
                                    base += n;
                                }
                                Msg::FlistEnd { .. } => self.flist_done = true,
                                _ => {}
                            }
                        }
                    }
                }
                Msg::Segment { parent, entries } => {
                    self.resolve_root(parent, &entries)?;
                    let base = self.flist.len() as u32;
                    self.flist.extend(entries.iter().cloned());
                    self.on_segment(parent, base, &entries)?;
                }
                Msg::FlistEnd { io_error } => {
                    self.io_error |= io_error;
                    self.flist_done = true;
                    if matches!(self.root, Root::Unresolved) {
                        self.resolve_root(u32::MAX, &[])?;
                    }
                }
                Msg::Engine { idx, data } => self.on_engine(idx, &data)?,
                Msg::Ops { idx, ops } => self.on_ops(idx, ops)?,
                Msg::FileEnd { idx, digest, .. } => self.on_file_end(idx, digest)?,
                Msg::CopiesEnd { idx } => self.on_copies_end(idx)?,
                Msg::Probe { idx, block, ranges } => self.on_probe(idx, block, ranges)?,
                Msg::FileFailed { idx, .. } => {
                    if let Some(job) = self.jobs.remove(&idx) {
                        discard(&job);
                    }
                    self.lines.retain(|(w, _)| *w != Some(idx));
                    self.started_files.insert(idx);
                    self.flush_lines()?;
                }
                Msg::Log { level, text } => {
                    let t = String::from_utf8_lossy(&text).into_owned();
                    self.conn.say(level, &t)?;
                }
                other => {
                    return Err(Error::protocol(format!(
                        "protocol error: unexpected {} at the receiver",
                        super::sender::msg_name(&other)
                    )))
                }
            }
            if self.flist_done && self.jobs.is_empty() {
                break;
            }
        }
        self.finish_up()?;
        self.stats.problems = crate::client::encode_problems(&self.problems);
        self.conn.send(&Msg::Done(self.stats.clone()))?;
        self.conn.flush()?;
        let sender_stats = loop {
            match self.conn.recv()? {
                Msg::Goodbye(s) => break s,
                Msg::Log { level, text } => {
                    let t = String::from_utf8_lossy(&text).into_owned();
                    self.conn.say(level, &t)?;
                }
                other => {
                    return Err(Error::protocol(format!(
                        "protocol error: unexpected {} after Done",
                        super::sender::msg_name(&other)
                    )))
                }
            }
        };
        Ok((self.stats, sender_stats, self.problems))
    }

    fn root_dir(&self) -> PathBuf {
        match &self.root {
            Root::Dir(p) => p.clone(),
            Root::File(p) => p.parent().map(Path::to_path_buf).unwrap_or_default(),
            Root::Unresolved => PathBuf::from(&self.dest),
        }
    }

    /// The entry's path relative to the destination root (its name, or the new name under the
    /// single-file rename rule).
    fn rel_name(&self, e: &Entry) -> Vec<u8> {
        match &self.root {
            Root::File(p) => p
                .file_name()
                .map(|n| n.as_bytes().to_vec())
                .unwrap_or_default(),
            _ => e.name.clone(),
        }
    }

    fn target(&self, e: &Entry) -> PathBuf {
        match &self.root {
            Root::File(p) => p.clone(),
            _ => path_of(&self.root_dir(), &e.name),
        }
    }

    /// Destination rules (rsync-cli.md §1.3.2): the single-item rename rule, creating the last
    /// component (or all with --mkpath), "created directory".
    fn resolve_root(&mut self, parent: u32, top: &[Entry]) -> Result<()> {
        if !matches!(self.root, Root::Unresolved) || parent != u32::MAX {
            return Ok(());
        }
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
        if single && !is_dir && !slash && top[0].name != b"." && !top[0].name.contains(&b'/') {
            if self.opts.mkpath {
                if let Some(p) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
                    let _ = self.make_path(p);
                }
            }
            self.root = Root::File(dest);
            return Ok(());
        }
        if !is_dir {
            if std::fs::symlink_metadata(&dest).is_ok() {
                return Err(Error::new(
                    3,
                    format!(
                        "rsync: [Receiver] mkdir \"{}\" failed: File exists (17)",
                        crate::flist::walk::full_name(&dest)
                    ),
                ));
            }
            if self.opts.mkpath {
                // main.c make_path(): the root then counts as existing, not as created.
                if let Err(e) = self.make_path(&dest) {
                    let shown = crate::flist::walk::full_name(&dest);
                    return Err(Error::new(
                        11,
                        format!(
                            "rsync: [Receiver] mkdir \"{shown}\" failed: {}",
                            io_text(&e)
                        ),
                    ));
                }
                self.root = Root::Dir(dest);
                return Ok(());
            }
            if !self.opts.dry_run {
                let r = std::fs::create_dir(&dest);
                if let Err(e) = r {
                    let shown = crate::flist::walk::full_name(&dest);
                    return Err(Error::new(
                        11,
                        format!(
                            "rsync: [Receiver] mkdir \"{shown}\" failed: {}",
                            io_text(&e)
                        ),
                    ));
                }
            }
            self.root_created = true;
            // main.c: INFO_GTE(NAME, 1) || stdout_format_has_i.
            if self.opts.info.name > 0
                || self.opts.verbose > 0
                || self.opts.itemize > 0
                || self.opts.stdout_format_has_i()
            {
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

    /// `--mkpath`: create the missing components of `p` (rsync's `make_path`) and report
    /// "created N director(y|ies) for P" as rsync does.
    fn make_path(&mut self, p: &std::path::Path) -> std::io::Result<()> {
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

    fn on_segment(&mut self, parent: u32, base: u32, entries: &[Entry]) -> Result<()> {
        // The lines held back for "." (see below) belong to the same directory as its contents.
        self.gen_at = if self.dot_done == Some(parent) {
            0
        } else {
            self.lines.len()
        };
        if parent != u32::MAX {
            let pe = self.flist.get(parent as usize).cloned().ok_or_else(|| {
                Error::protocol("protocol error: segment for an unknown directory")
            })?;
            if !pe.is_dir() {
                return Err(Error::protocol(
                    "protocol error: segment parent is not a directory",
                ));
            }
            // generator.c: the directory is itemized (and created) first, then its extraneous
            // entries are deleted, so deletions do not show up as a change of the directory.
            if self.dot_done != Some(parent) {
                self.process(parent, &pe)?;
            }
            if self.opts.delete
                && self.opts.delete_when == DeleteWhen::During
                && !self.opts.list_only
            {
                self.delete_extraneous(&pe, entries)?;
            }
        }
        if parent == u32::MAX {
            self.top_names
                .extend(entries.iter().map(|e| e.name.clone()));
        }
        for (i, e) in entries.iter().enumerate() {
            if parent == u32::MAX && e.name == b"." && e.is_dir() {
                // "." sorts first among the operands and rsync itemizes it there.
                self.dot_done = Some(base + i as u32);
            } else if e.is_dir() && e.flags & F_TOP_DIR != 0 {
                continue; // processed when its own segment arrives (rsync's depth-first order)
            }
            self.process(base + i as u32, e)?;
        }
        if parent == u32::MAX && self.dot_done.is_some() {
            // rsync deletes in "." before naming the operands; hold the lines until "."'s
            // contents (and its deletions) arrive.
            return Ok(());
        }
        self.flush_lines()
    }

    fn gen_line(&mut self, s: String) {
        let at = self.gen_at.min(self.lines.len());
        self.lines.insert(at, (None, s));
        self.gen_at = at + 1;
    }

    fn push_line(&mut self, wait: Option<u32>, s: String) {
        self.lines.push_back((wait, s));
    }

    fn flush_lines(&mut self) -> Result<()> {
        while let Some((wait, _)) = self.lines.front() {
            if let Some(i) = wait {
                if !self.started_files.contains(i) {
                    break;
                }
            }
            let (_, s) = self.lines.pop_front().unwrap();
            self.gen_at = self.gen_at.saturating_sub(1);
            self.conn.info(&s)?;
        }
        Ok(())
    }

    fn log_item(&mut self, idx: u32, e: &Entry, c: &Change, wait: bool, hlink_to: Option<Vec<u8>>) {
        let x = match () {
            _ if e.is_file() => 'f',
            _ if e.is_dir() => 'd',
            _ if e.is_symlink() => 'L',
            _ if e.is_device() => 'D',
            _ => 'S',
        };
        // Without %i rsync (sender.c maybe_log_item) names only transfers, new items, local
        // changes (symlink retargeted, …) and directories with any change; a file whose only
        // change is its attributes stays silent.
        let named = c.significant() && (c.transfer || c.new || c.local || c.hlink || e.is_dir());
        let show = match &self.opts.out_format {
            Some(f) if f.contains("%i") => c.significant() || self.opts.itemize_unchanged(),
            Some(_) => named,
            None => self.opts.info.name > 0 && named,
        };
        let log_fmt = self.log_format();
        if !show && (log_fmt.is_none() || !c.significant()) {
            return;
        }
        let fmt = self
            .opts
            .out_format
            .clone()
            .unwrap_or_else(|| "%n%L".into());
        let mut c = *c;
        c.time_now = !self.opts.times && !c.new && (c.transfer || c.local);
        let it = itemize(self.y, x, &c);
        // rsync names the item by its file-list name even when it is stored under another name
        // (`rsync -v src/a.txt b.txt` prints "a.txt").
        // Locally rsync's sender prints the items, so %o reads "send" there too, and %f is the
        // sender's name (with its source directory).
        let sends = self.y == '<' || self.opts.local_server;
        let full = self.sender_name(e);
        // rsync shows an absolute -R name with its '/' except on a pulling client.
        let abs;
        let e = if e.flags & F_ABS_NAME != 0 && !self.conn.is_client {
            abs = Entry {
                name: [&b"/"[..], &e.name].concat(),
                ..e.clone()
            };
            &abs
        } else {
            e
        };
        let line = expand(
            &fmt,
            &Item {
                entry: e,
                itemize: &it,
                op: if sends { "send" } else { "recv" },
                bytes: 0,
                hlink_to: hlink_to.as_deref(),
                full: full.as_deref(),
                human: self.opts.human,
            },
        );
        if let Some(lf) = log_fmt {
            let l = expand(
                &lf,
                &Item {
                    entry: e,
                    itemize: &it,
                    op: if self.y == '<' { "send" } else { "recv" },
                    bytes: 0,
                    hlink_to: hlink_to.as_deref(),
                    full: None,
                    human: 0,
                },
            );
            let _ = self.conn.say(crate::wire::msg::LOG_FILE, &l);
        }
        if !show {
            return;
        }
        // A transferred file is named once its sender has opened it (rsync logs on the sender):
        // a file that fails there is reported by its error only.
        let wait = wait.then_some(idx);
        self.push_line(wait, line);
    }

    /// One `--info=progress2` update (rate-limited unless `last`); rsync's line shape.
    fn progress2(&mut self, done: Option<u32>, last: bool) -> Result<()> {
        self.progress2_at(done, last, 0)
    }

    fn progress2_at(&mut self, done: Option<u32>, last: bool, partial: u64) -> Result<()> {
        if self.opts.info.progress < 2 {
            return Ok(());
        }
        if !last && self.p2_last.is_some_and(|t| t.elapsed().as_millis() < 500) && done.is_none() {
            return Ok(());
        }
        self.p2_last = Some(Instant::now());
        let total: u64 = self
            .flist
            .iter()
            .filter(|e| e.is_file())
            .map(|e| e.size)
            .sum();
        let el = self.p2_start.elapsed().as_secs_f64();
        let bytes = self.p2_bytes + partial;
        let rate = bytes as f64 / el.max(1e-3);
        let nfiles = self.flist.len() as u64;
        let left = done
            .map(|i| nfiles.saturating_sub(i as u64 + 1))
            .unwrap_or(0);
        let mut l = progress::line(
            bytes,
            total,
            rate,
            el,
            Some((self.xfr, left, nfiles)),
            self.opts.human,
        );
        if !self.flist_done {
            l = l.replace("to-chk", "ir-chk");
        }
        if last {
            l.push('\n');
        }
        self.conn.say(
            crate::wire::msg::LOG_PROGRESS2,
            &format!("{bytes} {total}\t{l}"),
        )
    }

    /// The `--log-file-format` when item lines go to a log file (the server learns it from the
    /// client's argv; a receiving client from its own options).
    fn log_format(&self) -> Option<String> {
        if self.opts.log_file.is_none()
            && !(self.opts.server && self.opts.log_file_format.is_some())
        {
            return None;
        }
        Some(
            self.opts
                .log_file_format
                .clone()
                .unwrap_or_else(|| "%i %n%L".into()),
        )
    }

    /// In a local transfer, the item's name as rsync's sender shows it in `%f`: the source
    /// operand's directory, then the file-list name (`src/a.txt`, `src/.` for `src/`).
    fn sender_name(&self, e: &Entry) -> Option<Vec<u8>> {
        if !self.opts.local_server || self.opts.local_sources.is_empty() {
            return None;
        }
        let top = e.name.split(|b| *b == b'/').next().unwrap_or(&e.name);
        // An operand named like the first component, else the `dir/` operand whose contents
        // make up the top level.
        let named = |want: &[u8]| {
            self.opts
                .local_sources
                .iter()
                .find(|op| crate::flist::walk::Source::from_operand(op.as_bytes()).name == want)
        };
        let op = named(top).or_else(|| named(b"."))?;
        let src = crate::flist::walk::Source::from_operand(op.as_bytes());
        let mut base = op.as_bytes();
        while base.len() > 1 && base.ends_with(b"/") {
            base = &base[..base.len() - 1];
        }
        if !src.contents {
            base = match base.iter().rposition(|b| *b == b'/') {
                Some(i) => &base[..i],
                None => b"",
            };
        }
        if base.is_empty() || base == b"." && !src.contents {
            return None;
        }
        Some([base, b"/", &e.name].concat())
    }

    fn want_ids(&self, e: &Entry) -> (u32, u32) {
        let uid = match (&e.user, self.opts.numeric_ids) {
            (Some(n), false) => self.names.uid_of(n).unwrap_or(e.uid),
            _ => e.uid,
        };
        let gid = match (&e.group, self.opts.numeric_ids) {
            (Some(n), false) => self.names.gid_of(n).unwrap_or(e.gid),
            _ => e.gid,
        };
        (uid, gid)
    }

    fn list_row(&mut self, e: &Entry) -> Result<()> {
        let mut e = e.clone();
        if !self.opts.links {
            e.link = None;
        }
        let row = report::list_row(&e, self.opts.human);
        self.conn.info(&row)
    }

    fn process(&mut self, idx: u32, e: &Entry) -> Result<()> {
        if e.fmt() == 0 {
            return self.process_missing(e);
        }
        if self.opts.list_only {
            return self.list_row(e);
        }
        // generator.c: types not being preserved are skipped with a note.
        if (e.is_symlink() && !self.opts.links)
            || (e.is_device() && !self.opts.devices)
            || (e.is_special() && !self.opts.specials)
        {
            if self.opts.info.nonreg > 0 {
                let name = report::escape(&e.name);
                self.gen_line(format!("skipping non-regular file \"{name}\""));
            }
            return Ok(());
        }
        if e.is_symlink() {
            self.safe_parent = None; // it may replace a verified directory
        }
        if let Some(link) = self.symlink_in_path(&e.name) {
            return self.fail(format!(
                "rsync: [receiver] refusing to write \"{}\" through the symlink \"{}\"",
                report::escape(&e.name),
                crate::flist::walk::full_name(&link)
            ));
        }
        let path = self.target(e);
        if self.opts.relative && !self.opts.implied_dirs {
            self.make_parents(&path);
        }
        let mut old = std::fs::symlink_metadata(&path).ok();
        // generator.c: --ignore-existing skips anything already present (attributes, links and
        // type changes included) unless both sides are directories.
        if self.opts.ignore_existing {
            if let Some(m) = &old {
                if !(e.is_dir() && m.is_dir()) {
                    if self.opts.info.skip > 0 || self.opts.verbose > 1 {
                        self.push_line(None, format!("{} exists", report::escape(&e.name)));
                    }
                    return Ok(());
                }
            }
        }
        if self.opts.existing && old.is_none() && e.name != b"." {
            // --existing creates nothing, directories included; what lies below an uncreated
            // directory is skipped silently (rsync generator.c skip_dir).
            let parent_missing = path.parent().is_some_and(|p| {
                !p.as_os_str().is_empty() && std::fs::symlink_metadata(p).is_err()
            });
            if e.is_dir() && !parent_missing && (self.opts.info.skip > 0 || self.opts.verbose > 1) {
                let line =
                    decide::skip_line(&report::escape(&e.name), "not creating new directory");
                self.push_line(None, line);
            }
            if e.is_dir() || parent_missing {
                return Ok(());
            }
        }
        if e.is_dir() {
            return self.process_dir(idx, e, &path, old);
        }
        if old.as_ref().is_some_and(|m| m.is_dir()) {
            if !self.make_way(e, &path)? {
                return Ok(());
            }
            old = None;
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
    fn make_way(&mut self, e: &Entry, path: &Path) -> Result<bool> {
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

    fn new_counts(&mut self, e: &Entry) {
        self.stats.created[type_slot(e)] += 1;
    }

    fn process_dir(
        &mut self,
        idx: u32,
        e: &Entry,
        path: &Path,
        old: Option<Metadata>,
    ) -> Result<()> {
        let (uid, gid) = self.want_ids(e);
        let old = if e.name == b"." && std::mem::take(&mut self.root_created) {
            None
        } else {
            old
        };
        let old = match old {
            Some(m) if !m.is_dir() => {
                if !self.opts.dry_run {
                    if let Err(err) = std::fs::remove_file(path) {
                        return self.fail(format!(
                            "rsync: [generator] delete_file: unlink \"{}\" failed: {}",
                            crate::flist::walk::full_name(path),
                            io_text(&err)
                        ));
                    }
                }
                None
            }
            x => x,
        };
        let mode = meta::target_mode(e, old.as_ref().map(|m| m.mode()), &self.meta);
        let change = match &old {
            None => {
                self.new_counts(e);
                if !self.opts.dry_run && !path.is_dir() {
                    if let Err(err) = std::fs::create_dir(path) {
                        return self.fail(format!(
                            "rsync: [generator] recv_generator: mkdir \"{}\" failed: {}",
                            crate::flist::walk::full_name(path),
                            io_text(&err)
                        ));
                    }
                }
                // rsync itemizes a new directory against its copy in an alternate dest dir.
                match self.alt_dir_meta(e) {
                    Some(m) => decide::attr_change(e, &m, &self.opts, uid, gid, mode),
                    None => Change {
                        new: true,
                        ..Default::default()
                    },
                }
            }
            Some(m) => decide::attr_change(e, m, &self.opts, uid, gid, mode),
        };
        self.log_item(idx, e, &change, false, None);
        if !self.opts.dry_run {
            // Mode now (so we can write into it), times at the end.
            let mode_now = if old.is_none() || change.perms {
                Some(mode | if self.meta.am_root { 0 } else { 0o700 })
            } else {
                None
            };
            if let Err(err) = meta::apply(
                path,
                e,
                Some(uid),
                Some(gid),
                mode_now,
                &MetaOpts {
                    times: false,
                    ..self.meta
                },
            ) {
                self.fail(format!(
                    "rsync: [generator] set attributes of \"{}\" failed: {}",
                    crate::flist::walk::full_name(path),
                    io_text(&err)
                ))?;
            }
            self.dir_times.push((path.to_path_buf(), idx, mode));
        }
        Ok(())
    }

    fn process_symlink(
        &mut self,
        idx: u32,
        e: &Entry,
        path: &Path,
        old: Option<Metadata>,
    ) -> Result<()> {
        let target = e.link.clone().unwrap_or_default();
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
        let (uid, gid) = self.want_ids(e);
        let same = old
            .as_ref()
            .filter(|m| m.file_type().is_symlink())
            .and_then(|_| std::fs::read_link(path).ok())
            .map(|t| t.as_os_str().as_bytes() == target.as_slice())
            .unwrap_or(false);
        let mut change = if same {
            decide::attr_change(e, old.as_ref().unwrap(), &self.opts, uid, gid, 0)
        } else if let Some(m) = old.as_ref().filter(|m| m.file_type().is_symlink()) {
            // A retargeted link also reports its owner/group changes ("cLc...og...").
            Change {
                local: true,
                checksum: true,
                ..decide::attr_change(e, m, &self.opts, uid, gid, 0)
            }
        } else if old.is_some() {
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
        if !same {
            if let Some(m) = &old {
                change.time = self.opts.times && !self.opts.omit_link_times && m.mtime() != e.mtime;
            }
        }
        self.log_item(idx, e, &change, false, None);
        if self.opts.dry_run || (same && !change.significant()) {
            return Ok(());
        }
        if !same {
            if old.is_some() {
                let _ = std::fs::remove_file(path);
            }
            if let Err(err) = std::os::unix::fs::symlink(OsStr::from_bytes(&target), path) {
                return self.fail(format!(
                    "rsync: [receiver] symlink \"{}\" -> \"{}\" failed: {}",
                    crate::flist::walk::full_name(path),
                    report::escape(&target),
                    io_text(&err)
                ));
            }
        }
        if let Err(err) = meta::apply(path, e, Some(uid), Some(gid), None, &self.meta) {
            self.fail(format!(
                "rsync: [receiver] set attributes of \"{}\" failed: {}",
                crate::flist::walk::full_name(path),
                io_text(&err)
            ))?;
        }
        Ok(())
    }

    fn process_special(
        &mut self,
        idx: u32,
        e: &Entry,
        path: &Path,
        old: Option<Metadata>,
    ) -> Result<()> {
        if self.opts.drop_d || (e.is_device() && !self.meta.am_root) {
            return Ok(());
        }
        let (uid, gid) = self.want_ids(e);
        let mode = meta::target_mode(e, old.as_ref().map(|m| m.mode()), &self.meta);
        let same = old
            .as_ref()
            .map(|m| (m.mode() & S_IFMT) == e.fmt() && (!e.is_device() || m.rdev() == e.rdev))
            .unwrap_or(false);
        let change = if same {
            decide::attr_change(e, old.as_ref().unwrap(), &self.opts, uid, gid, mode)
        } else if old.is_some() {
            Change {
                local: true,
                ..Default::default()
            }
        } else {
            self.new_counts(e);
            Change {
                new: true,
                ..Default::default()
            }
        };
        self.log_item(idx, e, &change, false, None);
        if self.opts.dry_run || (same && !change.significant()) {
            return Ok(());
        }
        if !same {
            if old.is_some() {
                let _ = std::fs::remove_file(path);
            }
            if let Err(err) = meta::mknod(path, e) {
                return self.fail(format!(
                    "rsync: [receiver] mknod \"{}\" failed: {}",
                    crate::flist::walk::full_name(path),
                    io_text(&err)
                ));
            }
        }
        if let Err(err) = meta::apply(path, e, Some(uid), Some(gid), Some(mode), &self.meta) {
            self.fail(format!(
                "rsync: [receiver] set attributes of \"{}\" failed: {}",
                crate::flist::walk::full_name(path),
                io_text(&err)
            ))?;
        }
        Ok(())
    }

    fn process_file(
        &mut self,
        idx: u32,
        e: &Entry,
        path: &Path,
        old: Option<Metadata>,
    ) -> Result<()> {
        let (uid, gid) = self.want_ids(e);
        if e.hlink != 0 && self.opts.hard_links {
            if let Some(first) = self.hl_first.get(&e.hlink).copied() {
                let first_name = self.flist[first as usize].name.clone();
                let change = Change {
                    new: old.is_none(),
                    hlink: true,
                    ..Default::default()
                };
                self.log_item(idx, e, &change, false, Some(first_name));
                self.hardlinks.push((idx, e.hlink));
                return Ok(());
            }
            self.hl_first.insert(e.hlink, idx);
        }
        let old = old.filter(|m| {
            m.is_file() || {
                // A non-regular item is replaced.
                if !self.opts.dry_run {
                    let _ = std::fs::remove_file(path);
                }
                false
            }
        });
        let mode = meta::target_mode(e, old.as_ref().map(|m| m.mode()), &self.meta);
        let new_here = old.is_none();
        let mut basis_path = old.as_ref().map(|_| path.to_path_buf());
        let mut old = old;
        if new_here && self.opts.alt_dest.is_some() {
            match self.alt_lookup(e, path, mode)? {
                altdest::Alt::Done => return Ok(()),
                altdest::Alt::Basis(p, m) => {
                    basis_path = Some(p);
                    old = Some(m);
                }
                altdest::Alt::None => {}
            }
        }
        let uptodate = match &old {
            Some(m) => {
                let mut sum = || {
                    File::open(path)
                        .ok()
                        .and_then(|f| crate::recon::tempfile::digest_file(&f, m.len()).ok())
                };
                decide::quick_check_ok(e, m, &self.opts, &mut sum)
            }
            None => false,
        };
        if uptodate {
            let m = old.as_ref().unwrap();
            let change = decide::attr_change(e, m, &self.opts, uid, gid, mode);
            if self.opts.info.name >= 2 && !change.significant() && self.opts.out_format.is_none() {
                self.push_line(None, format!("{} is uptodate", report::escape(&e.name)));
            }
            self.log_item(idx, e, &change, false, None);
            if !self.opts.dry_run && change.significant() {
                if let Err(err) = meta::apply(
                    path,
                    e,
                    Some(uid),
                    Some(gid),
                    change.perms.then_some(mode),
                    &self.meta,
                ) {
                    self.fail(format!(
                        "rsync: [generator] set attributes of \"{}\" failed: {}",
                        crate::flist::walk::full_name(path),
                        io_text(&err)
                    ))?;
                }
            }
            if self.opts.remove_source_files {
                self.conn.send(&Msg::Ack { idx })?;
            }
            return Ok(());
        }
        if let Some(reason) = decide::skip_reason(e, old.as_ref(), &self.opts) {
            if self.opts.info.skip > 0 || self.opts.verbose > 1 {
                self.push_line(None, decide::skip_line(&report::escape(&e.name), reason));
            }
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
        if new_here {
            self.new_counts(e);
        }
        if self.opts.checksum && !change.new {
            change.checksum = true;
        }
        self.stats.xferred_files += 1;
        self.stats.xferred_size += e.size;
        self.log_item(idx, e, &change, !self.opts.dry_run, None);
        if self.opts.dry_run {
            return Ok(());
        }
        self.request(idx, e, path, basis_path, false)
    }

    fn request(
        &mut self,
        idx: u32,
        e: &Entry,
        path: &Path,
        basis_path: Option<PathBuf>,
        redo: bool,
    ) -> Result<()> {
        let has_basis = basis_path.is_some();
        let temp_dir = self.opts.temp_dir.as_ref().map(PathBuf::from);
        if self.opts.inplace && has_basis && !redo {
            let rel = self.rel_name(e);
            if let Err(err) = self.make_backup(path, &rel, true) {
                return self.fail(format!(
                    "rsync: [receiver] backup of \"{}\" failed: {}",
                    crate::flist::walk::full_name(path),
                    io_text(&err)
                ));
            }
        }
        let opened = if self.opts.inplace {
            inplace::open_target(path).map(|f| (f, path.to_path_buf()))
        } else {
            create_temp(path, temp_dir.as_deref())
        };
        let (file, temp) = match opened {
            Ok(x) => x,
            Err(err) => {
                self.started_files.insert(idx);
                let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                return self.fail(format!(
                    "rsync: [receiver] mkstemp \"{}\" failed: {}",
                    crate::flist::walk::full_name(&dir.join(format!(
                            ".{}.XXXXXX",
                            path.file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_default()
                        ))),
                    io_text(&err)
                ));
            }
        };
        let whole = self.opts.whole_file.unwrap_or(false) || redo || e.size == 0;
        let basis = match &basis_path {
            // In place, copies read the target itself: another basis cannot be used.
            Some(b) if !whole && (!self.opts.inplace || b == path) => File::open(b).ok(),
            _ => None,
        };
        let mut half = None;
        let delta = basis.is_some();
        if self.opts.dedupe && !redo && !delta && e.size >= crate::dedupe::MIN_SIZE {
            let root = self.root_dir();
            let local = self
                .local
                .get_or_insert_with(|| crate::dedupe::LocalIndex::new(root));
            for (id, digest) in local.candidates(e.size, path) {
                self.conn.send(&Msg::Have { idx, id, digest })?;
            }
        }
        self.conn.send(&Msg::Request {
            idx,
            delta,
            engine: self.engine as u8,
            plain: redo,
        })?;
        if let Some(b) = &basis {
            let shared: Shared = match b.metadata().map(|m| m.len()) {
                Ok(0) | Err(_) => std::sync::Arc::new(Vec::<u8>::new()),
                Ok(_) => match unsafe { memmap2::Mmap::map(b) } {
                    Ok(m) => std::sync::Arc::new(m),
                    Err(_) => std::sync::Arc::new(Vec::<u8>::new()),
                },
            };
            let mut h = engine::receiver_half(self.engine, &self.opts.engine_params, shared);
            let step = h
                .start()
                .map_err(|e| Error::protocol(format!("engine error: {e}")))?;
            let mut step = step;
            loop {
                for m in std::mem::take(&mut step.msgs) {
                    self.stats.engine_msgs += m.len() as u64;
                    self.conn.send(&Msg::Engine { idx, data: m })?;
                }
                if step.done {
                    break;
                }
                match h.poll() {
                    Ok(Some(s)) => step = s,
                    Ok(None) => {
                        half = Some(h);
                        break;
                    }
                    Err(e) => return Err(Error::protocol(format!("engine error: {e}"))),
                }
            }
        }
        let now = Instant::now();
        let in_place = self.opts.inplace;
        if !in_place {
            crate::recon::register(temp.clone(), path.to_path_buf());
        }
        self.jobs.insert(
            idx,
            Job {
                in_place,
                copies: (in_place && delta).then(Vec::new),
                writer: Writer::new(file, self.opts.sparse && !in_place),
                temp,
                target: path.to_path_buf(),
                basis,
                half,
                started: now,
                last_progress: now,
                redo,
            },
        );
        Ok(())
    }

    fn on_engine(&mut self, idx: u32, data: &[u8]) -> Result<()> {
        let job = self
            .jobs
            .get_mut(&idx)
            .ok_or_else(|| Error::protocol("protocol error: engine message for an unknown file"))?;
        let half = job
            .half
            .as_mut()
            .ok_or_else(|| Error::protocol("protocol error: unexpected engine message"))?;
        let mut step = half
            .handle(data)
            .map_err(|e| Error::protocol(format!("protocol error: {e}")))?;
        loop {
            for m in std::mem::take(&mut step.msgs) {
                self.stats.engine_msgs += m.len() as u64;
                self.conn.send(&Msg::Engine { idx, data: m })?;
            }
            if step.done {
                job.half = None;
                return Ok(());
            }
            match half.poll() {
                Ok(Some(s)) => step = s,
                Ok(None) => return Ok(()),
                Err(e) => return Err(Error::protocol(format!("engine error: {e}"))),
            }
        }
    }

    fn on_ops(&mut self, idx: u32, ops: Vec<engine::Op>) -> Result<()> {
        if self.started_files.insert(idx) {
            self.flush_lines()?;
        }
        let Some(job) = self.jobs.get_mut(&idx) else {
            return Err(Error::protocol(
                "protocol error: data for a file that was not requested",
            ));
        };
        let len = self.flist.get(idx as usize).map(|e| e.size).unwrap_or(0);
        for op in &ops {
            if op.dst().checked_add(op.len()).is_none_or(|end| end > len) {
                return Err(Error::protocol(
                    "protocol error: op beyond the end of the file",
                ));
            }
            let (done, local) = (&self.done, &self.local);
            let other = |file: u32| -> Option<File> {
                if file & crate::dedupe::LOCAL != 0 {
                    local.as_ref()?.open(file)
                } else {
                    File::open(done.get(&file)?).ok()
                }
            };
            if let (Some(copies), engine::Op::Copy { dst, src, len }) = (job.copies.as_mut(), op) {
                copies.push((*dst, *src, *len));
                continue;
            }
            if let Err(err) = job.writer.apply(op, job.basis.as_ref(), &other) {
                if matches!(op, engine::Op::CopyFrom { .. }) {
                    // The dedupe source is gone: the digest check fails and the file is redone
                    // without dedupe.
                    job.writer.poison();
                    continue;
                }
                let target = job.target.clone();
                if let Some(job) = self.jobs.remove(&idx) {
                    discard(&job);
                }
                // receiver.c: a failed write (ENOSPC, EIO, ...) ends the run with exit 11; the
                // rest of this file's data is still in flight, so there is no skipping it.
                return Err(Error::new(
                    crate::error::RERR_FILEIO,
                    format!(
                        "rsync: [receiver] write failed on \"{}\": {}",
                        crate::flist::walk::full_name(&target),
                        io_text(&err)
                    ),
                ));
            }
        }
        if self.opts.info.progress == 2 {
            let w = self.jobs.get(&idx).map(|j| j.writer.written).unwrap_or(0);
            self.progress2_at(None, false, w)?;
        }
        if self.opts.info.progress == 1 {
            let job = self.jobs.get_mut(&idx).unwrap();
            if job.last_progress.elapsed().as_secs_f64() >= 1.0 {
                job.last_progress = Instant::now();
                let el = job.started.elapsed().as_secs_f64();
                let w = job.writer.written;
                let rate = w as f64 / el.max(1e-6);
                let eta = if w > 0 {
                    (len.saturating_sub(w)) as f64 / rate
                } else {
                    0.0
                };
                let l = progress::line(w, len, rate, eta, None, self.opts.human);
                self.conn.info(&format!("\r{l}"))?;
            }
        }
        Ok(())
    }

    fn on_file_end(&mut self, idx: u32, digest: [u8; 32]) -> Result<()> {
        let Some(mut job) = self.jobs.remove(&idx) else {
            return Err(Error::protocol(
                "protocol error: end of a file that was not requested",
            ));
        };
        if self.started_files.insert(idx) {
            self.flush_lines()?;
        }
        let e = self.flist[idx as usize].clone();
        let got = job.writer.finish(e.size);
        let ok = matches!(&got, Ok(d) if *d == digest) && job.copies.is_none();
        if !ok {
            discard(&job);
            if let Err(err) = got {
                return self.fail(format!(
                    "rsync: [receiver] write failed on \"{}\": {}",
                    crate::flist::walk::full_name(&job.target),
                    io_text(&err)
                ));
            }
            if job.redo || !self.redone.insert(idx) {
                return self.fail(format!(
                    "ERROR: {} failed verification -- update discarded.",
                    report::escape(&e.name)
                ));
            }
            if self.opts.verbose > 0 {
                self.conn.warning(&format!(
                    "WARNING: {} failed verification -- update discarded (will try again).",
                    report::escape(&e.name)
                ))?;
            }
            let target = job.target.clone();
            return self.request(idx, &e, &target, Some(target.clone()), true);
        }
        if self.opts.fsync {
            let _ = job.writer.file.sync_all();
        }
        let (uid, gid) = self.want_ids(&e);
        let old_mode = std::fs::metadata(&job.target).ok().map(|m| m.mode());
        let mode = meta::target_mode(&e, old_mode, &self.meta);
        if let Err(err) = meta::apply(&job.temp, &e, Some(uid), Some(gid), Some(mode), &self.meta) {
            self.fail(format!(
                "rsync: [receiver] set attributes of \"{}\" failed: {}",
                crate::flist::walk::full_name(&job.temp),
                io_text(&err)
            ))?;
        }
        drop(job.basis.take());
        crate::recon::unregister(&job.temp);
        if !job.in_place {
            let rel = self.rel_name(&e);
            if let Err(err) = self.make_backup(&job.target, &rel, false) {
                discard(&job);
                return self.fail(format!(
                    "rsync: [receiver] backup of \"{}\" failed: {}",
                    crate::flist::walk::full_name(&job.target),
                    io_text(&err)
                ));
            }
        }
        if job.in_place {
            // Written in place: nothing to rename.
        } else if let Err(err) = std::fs::rename(&job.temp, &job.target) {
            let _ = std::fs::remove_file(&job.temp);
            return self.fail(format!(
                "rsync: [receiver] rename \"{}\" -> \"{}\": {}",
                crate::flist::walk::full_name(&job.temp),
                report::escape(&e.name),
                io_text(&err)
            ));
        }
        self.xfr += 1;
        self.p2_bytes += e.size;
        self.progress2(Some(idx), false)?;
        if self.opts.dedupe {
            self.done.insert(idx, job.target.clone());
            if let Some(l) = self.local.as_mut() {
                l.add(&job.target, e.size);
            }
        }
        if self.opts.info.progress == 1 {
            let el = job.started.elapsed().as_secs_f64();
            let rate = e.size as f64 / el.max(1e-6);
            let total = self.flist.len() as u64;
            let left = total.saturating_sub(idx as u64 + 1);
            let l1 = progress::line(e.size, e.size, rate, 0.0, None, self.opts.human);
            let l2 = progress::line(
                e.size,
                e.size,
                rate,
                el,
                Some((self.xfr, left, total)),
                self.opts.human,
            );
            let l2 = if self.flist_done {
                l2
            } else {
                l2.replace("to-chk", "ir-chk")
            };
            self.conn.info(&format!("\r{l1}\r{l2}\n"))?;
        }
        if self.opts.remove_source_files {
            self.conn.send(&Msg::Ack { idx })?;
        }
        Ok(())
    }

    /// Delete what is in `dir` on the receiver but not among `children` (rsync: deepest first,
    /// names in reverse order).
    fn delete_extraneous(&mut self, dir: &Entry, children: &[Entry]) -> Result<()> {
        if self.io_error && !self.opts.ignore_errors {
            if !self.deleted_warned() {
                self.conn
                    .error("IO error encountered -- skipping file deletion")?;
            }
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
        let top: &[Vec<u8>] = if dir.name == b"." {
            &self.top_names
        } else {
            &[]
        };
        let temps = self.jobs.values().filter_map(|j| j.temp.file_name());
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
            .chain(temps.map(|n| n.as_bytes().to_vec()))
            .collect();
        for (n, protected) in self.scan_for_delete(&path, &dir.name, false) {
            if protected || keep.contains(&n) {
                continue;
            }
            let rel = if dir.name == b"." {
                n.clone()
            } else {
                [dir.name.as_slice(), b"/", &n].concat()
            };
            self.in_extraneous = true;
            let r = self.delete_path(&path.join(OsStr::from_bytes(&n)), &rel);
            self.in_extraneous = false;
            r?;
        }
        Ok(())
    }

    /// rsync: after an I/O error on the sending side, deletions are skipped (once announced)
    /// unless `--ignore-errors`. Returns whether the announcement was already made.
    fn deleted_warned(&mut self) -> bool {
        std::mem::replace(&mut self.io_error_announced, true)
    }

    fn delete_path(&mut self, p: &Path, rel: &[u8]) -> Result<()> {
        self.delete_tree(p, rel, Del::Top).map(|_| ())
    }

    /// Delete `p` and what is inside; returns whether it is gone. Inside a directory being
    /// deleted, non-perishable protect rules still keep items, and then the directory stays
    /// ("cannot delete non-empty directory", printed twice for nested ones as rsync does).
    /// A destination directory's items as deletion sees them: (name, protected), in
    /// rsync's deletion order (reverse file-list order: directories, which sort last, first).
    /// Like rsync's get_dirlist, every item is checked against the rules — and its `-vv` line
    /// printed — in readdir order first.
    fn scan_for_delete(
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
                self.push_line(None, note);
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

    fn delete_tree(&mut self, p: &Path, rel: &[u8], how: Del) -> Result<bool> {
        let Ok(m) = std::fs::symlink_metadata(p) else {
            return Ok(true);
        };
        if m.is_dir() {
            let mut kept = false;
            for (k, protected) in self.scan_for_delete(p, rel, true) {
                if protected {
                    kept = true;
                    continue;
                }
                let r = [rel, b"/", &k].concat();
                kept |= !self.delete_tree(&p.join(OsStr::from_bytes(&k)), &r, Del::Nested)?;
            }
            if kept {
                let msg = format!("cannot delete non-empty directory: {}", report::escape(rel));
                if how == Del::Nested {
                    self.push_line(None, msg.clone());
                }
                self.push_line(None, msg);
                return Ok(false);
            }
        }
        if let Some(max) = self.opts.max_delete {
            if self.deletes_done as i64 >= max {
                self.del_limit_hit = true;
                self.problems.del_limit = true;
                self.del_skipped += 1;
                return Ok(false);
            }
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
                        name: rel.to_vec(),
                        mode: m.mode(),
                        ..Default::default()
                    };
                    let line = expand(
                        &f,
                        &Item {
                            entry: &gone,
                            itemize: "*deleting  ",
                            op: "del.",
                            bytes: 0,
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
        } else if !self.opts.dry_run
            && self.in_extraneous
            && self.opts.dedupe
            && self.opts.delete_when != DeleteWhen::After
        {
            // Dedupe may still copy from it (a moved file): unlink at the end of the run.
            self.late_deletes.push((p.to_path_buf(), m.is_dir()));
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

    fn delete_all_top_dirs(&mut self) -> Result<()> {
        if !self.opts.delete || self.opts.list_only {
            return Ok(());
        }
        // Map each directory to its children in the list.
        let mut kids: HashMap<Vec<u8>, Vec<Entry>> = HashMap::new();
        for e in &self.flist {
            if e.name == b"." {
                continue;
            }
            let parent = match e.name.iter().rposition(|b| *b == b'/') {
                Some(p) => e.name[..p].to_vec(),
                None => b".".to_vec(),
            };
            kids.entry(parent).or_default().push(e.clone());
        }
        let dirs: Vec<Entry> = self
            .flist
            .iter()
            .filter(|e| e.is_dir() && e.flags & F_TOP_DIR != 0)
            .cloned()
            .collect();
        for d in dirs {
            let k = kids.remove(&d.name).unwrap_or_default();
            self.delete_extraneous(&d, &k)?;
        }
        self.flush_lines()
    }

    fn finish_up(&mut self) -> Result<()> {
        self.gen_at = self.lines.len();
        if self.p2_last.is_some() {
            self.progress2(None, true)?;
        }
        if matches!(self.opts.delete_when, DeleteWhen::After | DeleteWhen::Delay)
            && self.opts.delete
        {
            self.delete_all_top_dirs()?;
        }
        // Deferred deletions, in the order they were decided (children before their directory).
        for (p, is_dir) in std::mem::take(&mut self.late_deletes) {
            let r = if is_dir {
                std::fs::remove_dir(&p)
            } else {
                std::fs::remove_file(&p)
            };
            if let Err(err) = r {
                let what = if is_dir { "rmdir" } else { "unlink" };
                self.fail(format!(
                    "rsync: [generator] delete_file: {what}({}) failed: {}",
                    crate::flist::walk::full_name(&p),
                    io_text(&err)
                ))?;
            }
        }
        // Hard links (-H): link later members of each group to the first.
        for (idx, group) in std::mem::take(&mut self.hardlinks) {
            let Some(&first) = self.hl_first.get(&group) else {
                continue;
            };
            let fe = self.flist[first as usize].clone();
            let e = self.flist[idx as usize].clone();
            let (fp, p) = (self.target(&fe), self.target(&e));
            if self.opts.dry_run {
                continue;
            }
            let same = match (std::fs::metadata(&fp), std::fs::symlink_metadata(&p)) {
                (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                _ => false,
            };
            if !same {
                let _ = std::fs::remove_file(&p);
                if let Err(err) = std::fs::hard_link(&fp, &p) {
                    self.fail(format!(
                        "rsync: [receiver] link \"{}\" => {} failed: {}",
                        crate::flist::walk::full_name(&p),
                        report::escape(&fe.name),
                        io_text(&err)
                    ))?;
                }
            }
        }
        self.flush_lines()?;
        if !self.opts.dry_run {
            for (p, idx, want) in std::mem::take(&mut self.dir_times).into_iter().rev() {
                let e = self.flist[idx as usize].clone();
                let mode = if self.opts.perms {
                    Some(e.perms())
                } else {
                    None
                };
                let o = MetaOpts {
                    owner: false,
                    group: false,
                    ..self.meta
                };
                // New dirs were created with u+rwx for us; restore the intended mode (an
                // existing directory keeps its own without -p, as in rsync).
                let mode = mode.or(Some(want));
                if let Err(err) = meta::apply(&p, &e, None, None, mode, &o) {
                    self.fail(format!(
                        "rsync: [generator] failed to set times on \"{}\": {}",
                        crate::flist::walk::full_name(&p),
                        io_text(&err)
                    ))?;
                }
            }
        }
        if self.del_limit_hit {
            let skipped = self.del_skipped;
            self.conn.warning(&format!(
                "Deletions stopped due to --max-delete limit ({skipped} skipped)"
            ))?;
        }
        Ok(())
    }
}

impl Receiver {
    /// Literal refinement: hash the asked ranges of the basis (session::refine).
    fn on_probe(&mut self, idx: u32, block: u32, ranges: Vec<(u64, u64)>) -> Result<()> {
        use super::refine;
        let bad = || Error::protocol("protocol error: bad probe request");
        if !(64..=(1 << 20)).contains(&block) || ranges.len() > refine::MAX_PROBE_RANGES {
            return Err(bad());
        }
        let job = self.jobs.get(&idx).ok_or_else(bad)?;
        let mut hashes = Vec::with_capacity(ranges.len());
        let mut buf = Vec::new();
        for (off, len) in ranges {
            if len > 1 << 20 {
                return Err(bad());
            }
            buf.resize(len as usize, 0);
            let ok = match &job.basis {
                Some(f) => std::os::unix::fs::FileExt::read_exact_at(f, &mut buf, off).is_ok(),
                None => false,
            };
            hashes.push(if ok {
                refine::block_hashes(&buf, block as usize)
            } else {
                Vec::new()
            });
        }
        self.conn.send(&Msg::Probed { idx, hashes })
    }
}

/// Drop a failed job's output: a temp file is removed; an in-place target stays as it is
/// (partially updated, as rsync's `--inplace` leaves it; a re-run converges).
fn discard(job: &Job) {
    crate::recon::unregister(&job.temp);
    if !job.in_place {
        let _ = std::fs::remove_file(&job.temp);
    }
}

impl Receiver {
    /// The first ancestor of `name` below the destination root that is a symlink, if any
    /// (rsync 3.4's CVE-2024-12087 rule: names from the sender never traverse symlinks on the
    /// receiver, so a symlink sent earlier cannot redirect a later write outside the
    /// destination). `-K` trusts directory symlinks as rsync's --keep-dirlinks does.
    /// The verdict for a parent is cached until the next symlink entry, so a directory's files
    /// cost one walk up, not one each.
    fn symlink_in_path(&mut self, name: &[u8]) -> Option<PathBuf> {
        if self.opts.keep_dirlinks || !matches!(self.root, Root::Dir(_)) {
            return None;
        }
        let parent = &name[..name.iter().rposition(|b| *b == b'/')?];
        if self.safe_parent.as_deref() == Some(parent) {
            return None;
        }
        let root = self.root_dir();
        // --no-implied-dirs follows an existing in-tree symlink (rsync(1)); one that is
        // absolute or climbs out of the destination is still refused.
        let follow_safe = self.opts.relative && !self.opts.implied_dirs;
        let found = name
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'/')
            .map(|(i, _)| (i, root.join(OsStr::from_bytes(&name[..i]))))
            .find(|(i, p)| {
                std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
                    && !(follow_safe
                        && std::fs::read_link(p)
                            .is_ok_and(|t| !is_unsafe(&name[..*i], t.as_os_str().as_bytes())))
            })
            .map(|(_, p)| p);
        if found.is_none() {
            self.safe_parent = Some(parent.to_vec());
        }
        found
    }
}

/// rsync's unsafe-symlink test: absolute, empty, or climbing above the transfer root.
pub fn is_unsafe(name: &[u8], target: &[u8]) -> bool {
    if target.is_empty() || target[0] == b'/' {
        return true;
    }
    let mut depth: i64 = name.iter().filter(|b| **b == b'/').count() as i64;
    for comp in target.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

/// How `delete_tree` was reached (changes only what is reported).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Del {
    /// An extraneous item of a directory being synchronised.
    Top,
    /// Inside a directory being deleted.
    Nested,
    /// A directory in the way of a new non-directory.
    MakeWay,
}
