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
use crate::meta::{self, fake::Stat, MetaOpts};
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

mod ahead;
mod altdest;
mod backup;
mod delayed;
mod delete;
mod early;
mod fuzzy;
mod generator;
mod hlink;
mod ids;
mod inplace;
mod missing;
mod output;
mod root;
mod writer;
mod xattrs;

use writer::discard;

struct Job {
    /// None until the temp file exists. A file requested while [`DEFER_AT`] others wait for
    /// their data gets its temp file when its data comes, as rsync's receiver creates it: a
    /// generator far ahead of the sender holds neither a descriptor nor a file in the
    /// destination for it, and the file is opened once (creating it, closing it and opening it
    /// again cost two more syscalls for most files of a large tree).
    writer: Option<Writer>,
    /// How to make the writer once the temp file exists.
    spec: WriterSpec,
    /// `--inplace`: `temp` is the target itself (no rename, never removed on failure).
    in_place: bool,
    /// `--inplace` made the target: its mode is not an old one to keep (without `-p`).
    made_target: bool,
    /// The mode of the basis a new file is made from (kept without `-p`, as rsync keeps it).
    basis_mode: Option<u32>,
    /// `--inplace` delta: copy ops collected until `CopiesEnd` (None once literals are due).
    copies: Option<Vec<(u64, u64, u64)>>,
    /// The temp file (or the target in place); empty until created (see `writer`).
    temp: PathBuf,
    /// Creating the deferred temp file failed: that was reported, the file's data is dropped.
    failed: bool,
    target: PathBuf,
    basis: Option<File>,
    half: Option<Box<dyn ReceiverHalf>>,
    /// The engine streams (a large basis): its messages are flushed as they come.
    streaming: bool,
    started: Instant,
    last_progress: Instant,
    redo: bool,
}

/// Requests beyond this many files in flight create their temp file when their data comes
/// ([`Job::writer`]).
const DEFER_AT: usize = 256;
/// The generator decides no further while this many requested files wait for their data:
/// list segments that arrive meanwhile wait ([`Receiver::waiting`]). Why: each requested file
/// holds a job (temp file, writer, digest state: ~1 KiB) and an entry in the sender's request
/// queue, so deciding a 200,000-file initial copy far ahead of its data cost ~200 MiB on each
/// side and put 200,000 temp files in the destination at once; rsync's receiver opens a temp
/// file only when its data comes. Enough to keep the sender busy: a few MiB of small files, and
/// a large file streams on its own.
const MAX_JOBS: usize = 1024;

impl Job {
    /// The writer ([`Receiver::ready_temp`] creates a deferred one first).
    fn w(&mut self) -> std::io::Result<&mut Writer> {
        self.writer
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the temp file was not created"))
    }
    fn written(&self) -> u64 {
        self.writer.as_ref().map_or(0, |w| w.written)
    }
}

/// What a job's writer is made of (kept while its temp file is parked).
#[derive(Clone, Copy)]
struct WriterSpec {
    sparse: bool,
    /// The file's final length.
    size: u64,
    /// `--append`: hash only from this offset.
    hash_from: Option<u64>,
}

impl WriterSpec {
    fn writer(&self, f: std::fs::File) -> Writer {
        let w = Writer::new(f, self.sparse, self.size);
        match self.hash_from {
            Some(off) => w.hashing_from(off),
            None => w,
        }
    }
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
    /// `lines[..gen_at]` are released; messages of rsync's generator (deletions, skip notes)
    /// enter there, ahead of the held item lines (see `output`).
    gen_at: usize,
    /// List entries generated since the held lines were last released.
    held_entries: usize,
    /// `--progress`: the file whose name is out and whose transfer holds the next lines.
    progress_hold: Option<u32>,
    /// The top-level "." already itemized with the operands (not again when its contents come).
    dot_done: Option<u32>,
    /// Names of the top-level entries (operands), kept by deletions in ".".
    top_names: Vec<Vec<u8>>,
    /// The operand directories (rsync's FLAG_TOP_DIR): `-vv` says "deleting in" for each in a
    /// --delete-before/--delete-after pass.
    top_dirs: std::collections::HashSet<Vec<u8>>,
    started_files: std::collections::HashSet<u32>,
    /// Directories to finish at the end: (path, flist index, intended mode).
    dir_times: Vec<(PathBuf, u32, Option<u32>)>,
    /// `-H` groups: leaders, skipped and waiting members.
    hl: hlink::Groups,
    stats: Stats,
    problems: Problems,
    flist_done: bool,
    io_error: bool,
    /// Item lines waiting for their file's byte counts (`%b`, `%c`), and those counts.
    byte_items: HashMap<u32, output::ByteItem>,
    file_bytes: HashMap<u32, (u64, u64)>,
    /// The sender flagged its I/O error while listing (`Msg::IoError`), not only at the end.
    io_error_early: bool,
    /// `--delete-delay`: directories listed after the sender's I/O error, whose deletions
    /// (made at the end) are skipped; those listed before it are still cleaned (rsync decides
    /// each directory's deletions when it lists it).
    delay_blocked: std::collections::HashSet<Vec<u8>>,
    deferred: Vec<Msg>,
    /// List messages not decided yet: [`MAX_JOBS`] files are in flight.
    waiting: std::collections::VecDeque<Msg>,
    /// File messages that arrived before their file was requested (see `early.rs`).
    early: Vec<Msg>,
    meta: MetaOpts,
    names: NameCache,
    y: char,
    xfr: u64,
    deletes_done: u64,
    /// Deleted items backed up next to themselves (`-b` without `--backup-dir`): their
    /// directory keeps the backups, so it cannot be deleted (delete.rs).
    backups_in_place: u64,
    /// The file just decided is not placed here: left as it is though it differs (`--append`
    /// with a longer destination) or left out (`--compare-dest`). It cannot lead its hard-link
    /// group.
    not_placed: Option<u32>,
    del_limit_hit: bool,
    engine: EngineId,
    redone: std::collections::HashSet<u32>,
    root_created: bool,
    /// Dedupe: files completed (verified and renamed) in this run (their path is their entry's
    /// target), and what the destination held.
    done: std::collections::HashSet<u32>,
    local: Option<crate::dedupe::LocalIndex>,
    /// Deletions whose unlink waits until the end (a dedupe copy may still read them).
    late_deletes: Vec<(PathBuf, bool)>,
    io_error_announced: bool,
    /// Deleting extraneous files (may be deferred for dedupe), not making room for a new item.
    in_extraneous: bool,
    /// `--delete-before`: directories whose extraneous entries wait for the late unlink.
    emptied_dirs: std::collections::HashSet<PathBuf>,
    /// `--info=progress2`: bytes of files done, when the last line went out, transfer start.
    p2_bytes: u64,
    p2_last: Option<Instant>,
    p2_start: Instant,
    /// Total size of the regular files listed so far, and how many list entries it covers.
    p2_total: (u64, usize),
    /// Deletions not done because `--max-delete` was reached.
    del_skipped: u64,
    /// Last parent directory (entry name) verified free of symlinks; see `symlink_in_path`.
    safe_parent: Option<Vec<u8>>,
    /// Without `-p`: the directory the generator last moved into and the umask its default
    /// ACL stands for (generator.c reads default_perms_for_dir only when an entry's directory
    /// differs from the previous entry's, so the top directory's items get its permissions as
    /// they were before its own entry changed them).
    gen_dflt: Option<(PathBuf, u32)>,
    /// The item being processed had a directory in its way, now removed (so `--existing`
    /// takes it as existing).
    made_way: bool,
    /// Dry run: directories that replace a non-directory (their contents are all new).
    dry_replaced: Vec<Vec<u8>>,
    /// `--delay-updates`: finished files waiting in their partial dirs.
    delayed: Vec<delayed::Delayed>,
    /// `--usermap`/`--groupmap`/`--chown`.
    idmaps: meta::idmap::Maps,
    /// `--fuzzy`: destination directory listings, read once each.
    fuzzy_dirs: HashMap<PathBuf, Vec<fuzzy::Candidate>>,
    /// `--streams`: where files needing transfer may be handed to helper sessions (streams).
    pub delegate: Option<Box<dyn crate::streams::Delegate>>,
    /// `--streams` helper: told when a file's data starts (true) or the sender failed it.
    pub starts: Option<crate::streams::Starts>,
    /// The destination looked at ahead for the segment being decided.
    ahead: ahead::Ahead,
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
    pub fn new(
        mut opts: Options,
        conn: Conn,
        dest: String,
        filters: Filters,
        push: bool,
    ) -> Receiver {
        opts.engine_params.phases = crate::engine::phase::Phases::enabled();
        let meta = MetaOpts {
            perms: opts.perms,
            executability: opts.executability,
            owner: opts.owner,
            group: opts.group,
            times: opts.times,
            omit_dir_times: opts.omits_dir_times(),
            omit_link_times: opts.omit_link_times,
            am_root: opts.am_root(),
            fake: opts.fake_super,
            umask: meta::umask(),
            atimes: opts.atimes,
            xattrs: meta::xattr::Select::of(&opts, false),
        };
        let engine = opts.engine.unwrap_or(EngineId::Parasync);
        report::set_eight_bit(opts.eight_bit);
        crate::recon::set_keep_partial(opts.partial || opts.partial_dir.is_some());
        crate::recon::set_partial_dir(opts.partial_dir.as_deref());
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
            held_entries: 0,
            progress_hold: None,
            dot_done: None,
            top_names: Vec::new(),
            top_dirs: Default::default(),
            started_files: Default::default(),
            dir_times: Vec::new(),
            hl: Default::default(),
            stats: Stats::default(),
            problems: Problems::default(),
            flist_done: false,
            io_error: false,
            byte_items: HashMap::new(),
            file_bytes: HashMap::new(),
            io_error_early: false,
            delay_blocked: Default::default(),
            deferred: Vec::new(),
            waiting: Default::default(),
            early: Vec::new(),
            meta,
            names: NameCache::default(),
            y: if push { '<' } else { '>' },
            xfr: 0,
            deletes_done: 0,
            backups_in_place: 0,
            not_placed: None,
            del_limit_hit: false,
            engine,
            redone: Default::default(),
            root_created: false,
            done: Default::default(),
            local: None,
            late_deletes: Vec::new(),
            io_error_announced: false,
            in_extraneous: false,
            emptied_dirs: Default::default(),
            p2_bytes: 0,
            p2_last: None,
            p2_start: Instant::now(),
            p2_total: (0, 0),
            del_skipped: 0,
            safe_parent: None,
            gen_dflt: None,
            made_way: false,
            dry_replaced: Vec::new(),
            delayed: Vec::new(),
            idmaps: Default::default(),
            fuzzy_dirs: HashMap::new(),
            delegate: None,
            starts: None,
            ahead: Default::default(),
        }
    }

    fn fail(&mut self, text: String) -> Result<()> {
        self.problems.partial = true;
        self.conn.error(&text)
    }

    /// Run until the transfer is complete; returns (receiver stats, sender stats, problems).
    pub fn run(mut self) -> Result<(Stats, Stats, Problems)> {
        self.load_id_maps()?;
        let delay_all = self.opts.delete && self.opts.delete_when == DeleteWhen::Before;
        loop {
            let m = self.conn.recv()?;
            // A file's messages can overtake the list (the urgent channel); one whose request
            // has not been made yet waits for its segment.
            let Some(m) = self.hold_early(m) else {
                continue;
            };
            match m {
                Msg::IoError if delay_all && !self.flist_done => {
                    self.io_error = true;
                    self.io_error_early = true;
                }
                Msg::Segment { .. } | Msg::FlistEnd { .. } if delay_all && !self.flist_done => {
                    let end = matches!(m, Msg::FlistEnd { .. });
                    if let Msg::Segment { parent, entries } = &m {
                        // Record the list now so deletions know every name.
                        self.resolve_root(*parent, entries)?;
                        self.note_top_dirs(*parent, entries);
                        self.flist.extend(entries.iter().cloned());
                    }
                    if let Msg::FlistEnd { io_error } = m {
                        self.io_error |= io_error;
                    }
                    self.deferred.push(m);
                    if end {
                        self.delete_all_top_dirs()?;
                        self.delta_line()?;
                        let msgs = std::mem::take(&mut self.deferred);
                        let mut base = 0u32;
                        for m in msgs {
                            match m {
                                Msg::Segment { parent, entries } => {
                                    let n = entries.len() as u32;
                                    self.on_segment(parent, base, &entries)?;
                                    base += n;
                                }
                                Msg::FlistEnd { .. } => {
                                    self.flist_done = true;
                                    crate::report::set_list_line_open(false);
                                }
                                _ => {}
                            }
                        }
                        self.hl_resolve()?;
                        self.release_all();
                        self.flush_lines()?;
                        self.replay_early(true)?;
                    }
                }
                m @ (Msg::Segment { .. } | Msg::FlistEnd { .. } | Msg::IoError) => {
                    if self.waiting.is_empty() && self.jobs.len() < MAX_JOBS {
                        self.on_list(m)?;
                    } else {
                        if self.waiting.is_empty() {
                            let n = self.jobs.len();
                            crate::session::trace::point(|| format!("list waits ({n} in flight)"));
                        }
                        self.waiting.push_back(m);
                    }
                }
                m @ (Msg::Engine { .. }
                | Msg::Ops { .. }
                | Msg::FileEnd { .. }
                | Msg::CopiesEnd { .. }
                | Msg::Probe { .. }) => self.on_file_msg(m)?,
                Msg::FileFailed { idx, .. } => {
                    if let Some(job) = self.jobs.remove(&idx) {
                        discard(&job);
                    }
                    self.drop_lines_of(idx);
                    self.mark_started(idx, false)?;
                    self.flush_lines()?;
                }
                Msg::Started { idx } => self.delegated_started(idx, true)?,
                Msg::Log { level, text } => self.conn.relay(level, &text)?,
                other => {
                    return Err(Error::protocol(format!(
                        "protocol error: unexpected {} at the receiver",
                        super::sender::msg_name(&other)
                    )))
                }
            }
            if let Some(d) = self.delegate.as_mut() {
                for (idx, ok) in d.poll() {
                    self.delegated_started(idx, ok)?;
                }
            }
            while self.jobs.len() < MAX_JOBS {
                let Some(m) = self.waiting.pop_front() else {
                    break;
                };
                self.on_list(m)?;
            }
            if self.flist_done && self.jobs.is_empty() {
                break;
            }
        }
        // Delegated files are complete before deletions, hard links and directory times.
        if let Some(mut d) = self.delegate.take() {
            for (idx, ok) in d.finish(&mut self.conn)? {
                self.delegated_started(idx, ok)?;
            }
        }
        self.finish_up()?;
        self.stats.problems = crate::client::encode_problems(&self.problems);
        self.stats
            .set_phases(&self.opts.engine_params.phases.snapshot());
        self.conn.send(&Msg::Done(Box::new(self.stats.clone())))?;
        self.conn.flush()?;
        let Msg::Goodbye(sender_stats) =
            self.await_sender("after Done", |m| matches!(m, Msg::Goodbye(_)))?
        else {
            unreachable!()
        };
        let sender_stats = *sender_stats;
        Ok((self.stats, sender_stats, self.problems))
    }

    /// A file's data started (its line may go out); tells a `--streams` primary when this is a
    /// helper. Returns whether it had not started before.
    fn mark_started(&mut self, idx: u32, ok: bool) -> Result<bool> {
        let new = self.started_files.insert(idx);
        if new {
            if let Some(s) = self.starts.as_mut() {
                s(idx, ok, &mut self.conn)?;
            }
        }
        Ok(new)
    }

    /// `--streams` primary: a delegated file started (or its sender failed it, which drops its
    /// line as for a file of this session).
    fn delegated_started(&mut self, idx: u32, ok: bool) -> Result<()> {
        if !ok {
            self.drop_lines_of(idx);
        }
        self.started_files.insert(idx);
        self.flush_lines()
    }

    fn on_segment(&mut self, parent: u32, base: u32, entries: &[Entry]) -> Result<()> {
        if self.opts.debug.get("FLIST") > 1 {
            let dir = match self.flist.get(parent as usize) {
                Some(p) => report::escape(&p.name),
                None => "(top)".into(),
            };
            let n = entries.len();
            self.gen_line(format!("[receiver] recv_file_list({dir}): {n} entries"));
        }
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
            if self.opts.delete && self.opts.delete_when == DeleteWhen::Delay {
                self.delay_decide(&pe);
            }
            if self.dot_done == Some(parent) && !self.opts.inc_recurse() {
                // Without incremental recursion rsync's "./" line goes out once "." is done
                // (after its own deletions), ahead of the generator's next messages: a deletion
                // making way for a file below prints after it.
                self.release_all();
            }
        }
        if parent == u32::MAX {
            self.top_names
                .extend(entries.iter().map(|e| e.name.to_vec()));
        }
        self.note_top_dirs(parent, entries);
        self.look_ahead(parent, base, entries);
        for (i, e) in entries.iter().enumerate() {
            if parent == u32::MAX && e.is_dot() && e.is_dir() {
                // "." sorts first among the operands and rsync itemizes it there.
                self.dot_done = Some(base + i as u32);
            } else if e.is_dir() && e.flags & F_TOP_DIR != 0 {
                continue; // processed when its own segment arrives (rsync's depth-first order)
            }
            self.process(base + i as u32, e)?;
        }
        self.end_look_ahead();
        self.generated(entries.len());
        if self.opts.hard_links {
            self.hl_resolve_behind()?;
        }
        // The first list is done (the top directory's contents, or the operands without one).
        // With -H rsync reads the whole list ahead first and does not stop there.
        if !self.opts.hard_links && self.dot_done.map_or(parent == u32::MAX, |d| d == parent) {
            self.release_all();
        }
        self.flush_lines()
    }

    fn list_row(&mut self, e: &Entry) -> Result<()> {
        let mut e = e.clone();
        if !self.opts.links {
            if let Some(x) = e.x_existing() {
                x.link = None;
            }
        }
        let row = report::list_row(&e, self.opts.human);
        self.conn.info(&row)
    }

    /// `-vv`: the sender prints its totals now, before deletions (rsync's sender prints them
    /// at its end of files, before the generator's `--delete-after` pass); its text reaches the
    /// client ahead of the answer.
    fn tally(&mut self) -> Result<()> {
        if !super::tallies(&self.opts, self.conn.version) {
            return Ok(());
        }
        self.flush_lines()?;
        self.conn.send(&Msg::Tally)?;
        self.conn.flush()?;
        self.await_sender("awaiting the totals", |m| matches!(m, Msg::Tally))?;
        Ok(())
    }

    /// The sender's next message that `want`s, its text printed on the way; anything else
    /// there is a protocol error ("unexpected X {stage}").
    fn await_sender(&mut self, stage: &str, want: impl Fn(&Msg) -> bool) -> Result<Msg> {
        loop {
            match self.conn.recv()? {
                m if want(&m) => return Ok(m),
                Msg::Log { level, text } => self.conn.relay(level, &text)?,
                other => {
                    return Err(Error::protocol(format!(
                        "protocol error: unexpected {} {stage}",
                        super::sender::msg_name(&other)
                    )))
                }
            }
        }
    }

    fn finish_up(&mut self) -> Result<()> {
        // Lines still waiting for byte counts (a file another --streams session wrote) go out
        // with what this session saw of it.
        let waiting: Vec<u32> = self.byte_items.keys().copied().collect();
        for idx in waiting {
            self.finish_byte_item(idx);
        }
        self.release_all();
        if self.p2_last.is_some() {
            self.progress2(None, true)?;
        }
        // --delay-updates: the finished files move into place first (the links below point at
        // them).
        self.finish_delayed()?;
        // -H: members of transferred leaders, before --delete-after's deletions (rsync).
        self.hl_finish_all()?;
        self.release_all();
        self.tally()?;
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
        self.release_all();
        self.flush_lines()?;
        if !self.opts.dry_run {
            for (p, idx, want) in std::mem::take(&mut self.dir_times).into_iter().rev() {
                let e = self.flist[idx as usize].clone();
                if self.opts.debug.get("TIME") > 1 {
                    let name = report::escape(&e.name);
                    self.conn.info(&format!("touch_up_dirs: {name} ({idx})"))?;
                }
                // New dirs were created with u+rwx for us; restore the intended mode (an
                // existing directory keeps its own without -p, as in rsync). A directory whose
                // mode was not touched in this run needs no chmod.
                let mode = want.map(|w| if self.opts.perms { e.perms() } else { w });
                // Times only where they differ, as rsync's touch_up_dirs: an unchanged
                // directory is left alone (a stat, not a journaled inode update).
                let times = self.meta.times
                    && !self.meta.omit_dir_times
                    && std::fs::metadata(&p).map_or(true, |m| {
                        let now = (m.mtime(), m.mtime_nsec() as u32);
                        !crate::decide::same_time(
                            now,
                            (e.mtime, e.mtime_ns),
                            self.opts.modify_window,
                        )
                    });
                if mode.is_none() && !times {
                    continue;
                }
                let o = MetaOpts {
                    owner: false,
                    group: false,
                    times,
                    ..self.meta
                };
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
    /// A list segment or the list's end, decided now.
    fn on_list(&mut self, m: Msg) -> Result<()> {
        match m {
            Msg::Segment {
                parent,
                mut entries,
            } => {
                for e in &mut entries {
                    self.map_acl_ids(e);
                    if self.meta.fake {
                        meta::fake::to_stored(e);
                    }
                    // --munge-links on the receiving side (flist.c recv_file_entry), before any
                    // rule looks at the target. A local transfer's receiver is never given it.
                    if self.opts.munge_links {
                        if let Some(t) = e.x_existing().and_then(|x| x.link.as_mut()) {
                            t.splice(0..0, crate::flist::walk::MUNGE_PREFIX.iter().copied());
                        }
                    }
                }
                self.resolve_root(parent, &entries)?;
                let base = self.flist.len() as u32;
                self.flist.extend(entries.iter().cloned());
                self.on_segment(parent, base, &entries)?;
                self.replay_early(false)
            }
            // In order with the segments (it may wait with them in `waiting`).
            Msg::IoError => {
                self.io_error = true;
                self.io_error_early = true;
                Ok(())
            }
            Msg::FlistEnd { io_error } => {
                self.io_error |= io_error;
                self.flist_done = true;
                crate::report::set_list_line_open(false);
                if matches!(self.root, Root::Unresolved) {
                    self.resolve_root(u32::MAX, &[])?;
                }
                self.hl_resolve()?;
                self.release_all();
                self.flush_lines()?;
                if let Some(l) = &self.local {
                    // Every file is decided: a scan nobody asked for can stop.
                    l.stop_if_unused();
                }
                self.replay_early(true)
            }
            _ => Ok(()),
        }
    }

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
