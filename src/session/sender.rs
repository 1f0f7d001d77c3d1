//! The sender role: walks the sources (on a walker thread), streams the file list, and answers the
//! receiver's requests — whole files as literal pieces, or an engine session per file — ending
//! each file with the BLAKE3 of exactly the bytes it described.

use super::Conn;
use crate::cli::Options;
use crate::dedupe::chunks::{ChunkIndex, Planner};
use crate::engine::{self, EngineId, EngineParams, Op, SenderHalf, Shared};
use crate::error::{Error, Problems, Result};
use crate::flist::walk::{full_name, Source, WalkEvent, WalkOpts, Walker};
use crate::flist::Entry;
use crate::wire::msg::{Msg, Stats};
use crossbeam_channel::{bounded, select};
use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::time::Instant;

/// Literal piece size for whole-file sends.
pub(super) const PIECE: usize = 256 << 10;
/// Literal op size when sending ranges (rsync's token pieces are at most 32 KiB).
const LITERAL_PIECE: usize = 32 << 10;

mod literal;
mod paths;

pub struct Sender {
    pub opts: Options,
    pub conn: Conn,
    pub sources: Vec<Source>,
    pub filters: super::filters::Filters,
    flist: Vec<Entry>,
    paths: paths::SourcePaths,
    sessions: HashMap<u32, (Box<dyn SenderHalf>, Shared)>,
    /// Dedupe: files completed in this transfer (by digest and by chunk), receiver candidates per
    /// file, and the chunk planners of delta files whose literals are still to be sent.
    sent: crate::dedupe::SentIndex,
    chunks: ChunkIndex,
    haves: HashMap<u32, Vec<(u32, [u8; 32])>>,
    planners: HashMap<u32, Planner>,
    /// `--inplace` delta files waiting for the receiver's `Need` (the source stays mapped; no
    /// literal bytes are held).
    inplace_src: HashMap<u32, Shared>,
    /// Literal refinement (session::refine): gaps of engine sessions in progress, and files
    /// waiting for the receiver's probe answers.
    gaps: HashMap<u32, super::refine::Gaps>,
    probing: HashMap<u32, (Shared, super::refine::Gaps)>,
    /// Whole-file BLAKE3 of large delta sources, computed on a thread while the engine runs
    /// (it used to be a serial pass after the last literal).
    digesting: HashMap<u32, Digesting>,
    /// `--append`: where the receiver's copy of a file ends (sent before its `Request`).
    appends: HashMap<u32, u64>,
    /// Files answered with `FileFailed`: engine messages the receiver sent before it learnt so
    /// are dropped (rsync's sender skips the rest of a file it could not open).
    failed: std::collections::HashSet<u32>,
    stats: Stats,
    pub problems: Problems,
    io_error: bool,
    /// `--streams` (crate::streams): the file list comes from this channel instead of a walk
    /// (a helper session of a push), or from the receiver's `Segment`s resolved against these
    /// sources (a helper session of a pull); the primary of a push hands delegated files here.
    pub feed: Option<crossbeam_channel::Receiver<WalkEvent>>,
    pub serve_from: Option<Vec<Source>>,
    /// The file list of a walk started before the connection was up ([`start_walk`]).
    pub early: Option<crossbeam_channel::Receiver<WalkEvent>>,
    pub helpers: Option<Box<dyn crate::streams::Helpers>>,
    /// A push helper: the receiver's start/failure reports, passed on to the primary.
    pub on_start: Option<crate::streams::Relay>,
}

fn open_shared(path: &std::path::Path) -> std::io::Result<(Shared, u64)> {
    let f = File::open(path)?;
    let len = f.metadata()?.len();
    Ok((engine::filemap::shared(&f, len)?, len))
}

impl Sender {
    pub fn new(
        mut opts: Options,
        conn: Conn,
        sources: Vec<Source>,
        filters: super::filters::Filters,
    ) -> Sender {
        opts.engine_params.phases = crate::engine::phase::Phases::enabled();
        Sender {
            opts,
            conn,
            sources,
            filters,
            flist: Vec::new(),
            paths: Default::default(),
            sessions: HashMap::new(),
            sent: Default::default(),
            chunks: ChunkIndex::default(),
            haves: HashMap::new(),
            planners: HashMap::new(),
            inplace_src: HashMap::new(),
            gaps: HashMap::new(),
            probing: HashMap::new(),
            digesting: HashMap::new(),
            appends: HashMap::new(),
            failed: Default::default(),
            stats: Stats::default(),
            problems: Problems::default(),
            io_error: false,
            feed: None,
            serve_from: None,
            early: None,
            helpers: None,
            on_start: None,
        }
    }

    /// Run the sender until the receiver says Done; returns the merged stats.
    pub fn run(mut self) -> Result<(Stats, Stats, Problems)> {
        super::prefetch::stop();
        let started = Instant::now();
        let fed = self.feed.is_some() || self.serve_from.is_some();
        let (tx, walk_rx) = bounded::<WalkEvent>(64);
        let walk_rx = match (self.feed.take(), self.early.take()) {
            (Some(rx), _) | (None, Some(rx)) => rx,
            (None, None) => {
                if !fed {
                    start_walk(&self.opts, self.sources.clone(), &self.filters, tx, None);
                }
                walk_rx
            }
        };
        let mut walking = self.serve_from.is_none();
        let mut receiver_stats = None;
        while receiver_stats.is_none() {
            if walking {
                select! {
                    recv(walk_rx) -> ev => match ev {
                        Ok(ev) => walking = self.on_walk(ev, started)?,
                        Err(_) => walking = false,
                    },
                    recv(self.conn.rx) -> m => {
                        let m = m.unwrap_or_else(|_| Err(Error::new(12, "connection unexpectedly closed")));
                        let m = m.map_err(|e| self.conn.closed(e))?;
                        receiver_stats = self.on_msg(m)?;
                    }
                }
                // A fed list trickles in: send what there is before waiting for more.
                if !walking || (fed && walk_rx.is_empty()) {
                    self.conn.flush()?;
                }
            } else {
                let m = self.conn.recv()?;
                receiver_stats = self.on_msg(m)?;
            }
        }
        self.stats.problems = crate::client::encode_problems(&self.problems);
        self.stats
            .set_phases(&self.opts.engine_params.phases.snapshot());
        self.conn
            .send(&Msg::Goodbye(Box::new(self.stats.clone())))?;
        self.conn.flush()?;
        Ok((self.stats, receiver_stats.unwrap(), self.problems))
    }

    fn on_walk(&mut self, ev: WalkEvent, started: Instant) -> Result<bool> {
        match ev {
            WalkEvent::Segment {
                parent,
                entries,
                paths,
            } => {
                for e in &entries {
                    self.count(e);
                }
                let mut entries = entries;
                if self.conn.version < 4 {
                    // Protocol 3 and older have no ACL names in the file list.
                    for x in entries.iter_mut().filter_map(Entry::x_existing) {
                        x.acl_names.clear();
                    }
                }
                let msg = Msg::Segment { parent, entries };
                let (_, payload) = msg.encode(self.conn.comp);
                self.stats.flist_size += payload.len() as u64;
                self.conn.send(&msg)?;
                let Msg::Segment { entries, .. } = msg else {
                    unreachable!()
                };
                self.flist.extend(entries);
                self.paths.add(parent, paths, &self.flist);
                Ok(true)
            }
            WalkEvent::Note {
                error,
                text,
                vanished,
            } => {
                if error {
                    self.problems.partial = true;
                    // The segments from here on may lack what could not be read: the receiver
                    // must stop deleting now, not at the end of the list (rsync sends its
                    // io_error with every segment).
                    if !std::mem::replace(&mut self.io_error, true) && self.conn.version >= 3 {
                        self.conn.send(&Msg::IoError)?;
                    }
                    self.conn.error(&text)?;
                } else if vanished {
                    self.problems.vanished = true;
                    self.conn.warning(&text)?;
                } else {
                    self.conn.info(&text)?;
                }
                Ok(true)
            }
            WalkEvent::Duplicate(e) => {
                self.count(&e);
                Ok(true)
            }
            WalkEvent::Fatal { code, text } => Err(Error::new(code, text)),
            WalkEvent::End { io_error } => {
                crate::report::set_list_line_open(false);
                self.stats.flist_gen_ms = started.elapsed().as_millis() as u64;
                self.conn.send(&Msg::FlistEnd {
                    io_error: io_error || self.io_error,
                })?;
                Ok(false)
            }
        }
    }

    /// The list statistics of one entry.
    fn count(&mut self, e: &Entry) {
        self.stats.num_files += 1;
        match () {
            // A --delete-missing-args entry (mode 0) counts as regular, as in rsync.
            _ if e.is_file() || e.fmt() == 0 => self.stats.num_reg += 1,
            _ if e.is_dir() => self.stats.num_dir += 1,
            _ if e.is_symlink() => self.stats.num_link += 1,
            _ if e.is_device() => self.stats.num_dev += 1,
            _ => self.stats.num_special += 1,
        }
        if e.is_file() || e.is_symlink() {
            self.stats.total_size += e.size;
        }
    }

    fn params(&self) -> EngineParams {
        self.opts.engine_params.clone()
    }

    fn on_msg(&mut self, m: Msg) -> Result<Option<Stats>> {
        match m {
            Msg::Request {
                idx,
                delta,
                engine,
                plain,
            } => self.on_request(idx, delta, engine, plain)?,
            Msg::Need { idx, ranges } => self.on_need(idx, ranges)?,
            Msg::Probed { idx, hashes } => self.on_probed(idx, hashes)?,
            Msg::Append { idx, offset } => {
                self.appends.insert(idx, offset);
            }
            Msg::Have { idx, id, digest } => {
                let v = self.haves.entry(idx).or_default();
                if v.len() < 64 {
                    v.push((id, digest));
                }
            }
            Msg::Engine { idx, .. } if self.failed.contains(&idx) => {}
            Msg::Engine { idx, data } => {
                let (half, _) = self.sessions.get_mut(&idx).ok_or_else(|| {
                    Error::protocol("protocol error: engine message for an unknown file")
                })?;
                let t = Instant::now();
                let step = half
                    .handle(&data)
                    .map_err(|e| Error::protocol(format!("protocol error: {e}")))?;
                self.stats.engine_us += t.elapsed().as_micros() as u64;
                self.emit_step(idx, step)?;
                self.drain(idx)?;
            }
            Msg::Ack { idx } => self.remove_source(idx)?,
            Msg::Delegate { idx, stream } => {
                let (path, e) = self.entry_path(idx)?;
                let e = e.clone();
                let h = self.helpers.as_mut().ok_or_else(|| {
                    Error::protocol("protocol error: delegation without helper sessions")
                })?;
                h.take(stream, idx, e, path)?;
            }
            Msg::Started { idx } if self.on_start.is_some() => {
                (self.on_start.as_mut().unwrap())(idx, true)?
            }
            Msg::FileFailed { idx, .. } if self.on_start.is_some() => {
                (self.on_start.as_mut().unwrap())(idx, false)?
            }
            Msg::Barrier => {
                if let Some(h) = self.helpers.as_mut() {
                    h.finish()?;
                }
                self.conn.send(&Msg::Barrier)?;
            }
            Msg::Segment { entries, .. } if self.serve_from.is_some() => {
                let src = self.serve_from.as_ref().unwrap();
                let paths = entries
                    .iter()
                    .map(|e| crate::streams::source_path(src, e))
                    .collect::<Result<Vec<_>>>()?;
                let ev = WalkEvent::Segment {
                    parent: u32::MAX,
                    entries,
                    paths,
                };
                self.on_walk(ev, Instant::now())?;
            }
            Msg::FlistEnd { io_error } if self.serve_from.is_some() => {
                self.on_walk(WalkEvent::End { io_error }, Instant::now())?;
            }
            Msg::Log { level, text } => self.conn.relay(level, &text)?,
            Msg::Tally => {
                let line = crate::client::match_report(&self.stats);
                self.conn.info(&line)?;
                self.conn.send(&Msg::Tally)?;
                self.conn.flush()?;
            }
            Msg::Done(s) => return Ok(Some(*s)),
            other => {
                return Err(Error::protocol(format!(
                    "protocol error: unexpected message {:?} at the sender",
                    msg_name(&other)
                )))
            }
        }
        Ok(None)
    }

    fn entry_path(&self, idx: u32) -> Result<(PathBuf, &Entry)> {
        let e = self.flist.get(idx as usize).filter(|e| e.is_file());
        e.zip(self.paths.get(&self.flist, idx))
            .map(|(e, path)| (path, e))
            .ok_or_else(|| Error::protocol("protocol error: request for a file not in the list"))
    }

    fn vanished(&mut self, idx: u32, path: &std::path::Path, err: std::io::Error) -> Result<()> {
        self.failed.insert(idx);
        if err.kind() == std::io::ErrorKind::NotFound {
            self.problems.vanished = true;
            self.conn
                .warning(&format!("file has vanished: \"{}\"", full_name(path)))?;
            self.conn.send(&Msg::FileFailed {
                idx,
                vanished: true,
            })
        } else {
            self.problems.partial = true;
            self.conn.error(&format!(
                "rsync: [sender] send_files failed to open \"{}\": {}",
                full_name(path),
                crate::error::io_text(&err)
            ))?;
            self.conn.send(&Msg::FileFailed {
                idx,
                vanished: false,
            })
        }
    }

    fn on_request(&mut self, idx: u32, delta: bool, engine: u8, plain: bool) -> Result<()> {
        let (path, e) = self.entry_path(idx)?;
        let size = e.size;
        let haves = self.haves.remove(&idx).unwrap_or_default();
        // `plain`: the redo after a failed verification sends data only.
        let dedupe = self.opts.dedupe && !plain && size >= crate::dedupe::MIN_SIZE;
        if !delta {
            return self.send_whole(idx, &path, size, dedupe, haves);
        }
        let data = match open_shared(&path) {
            Ok((data, _)) => data,
            Err(e) => return self.vanished(idx, &path, e),
        };
        if dedupe {
            // The literals left after the engine and refinement are planned against the chunks.
            let p = self.planner(idx, LITERAL_PIECE);
            self.planners.insert(idx, p);
        }
        let id = EngineId::from_u8(engine)
            .ok_or_else(|| Error::protocol("protocol error: unknown engine"))?;
        // Prepared while ssh was connecting (session::prefetch): table and digest are ready.
        let prepared = (id == EngineId::Parasync && size >= super::STREAM_SIZE)
            .then(|| super::prefetch::take(&path))
            .flatten();
        let t = Instant::now();
        let mut half: Box<dyn SenderHalf> = match prepared {
            Some(r) => {
                self.digesting.insert(idx, Digesting::Ready(r.digest));
                Box::new(engine::parasync::Sender::prepared(
                    &self.params(),
                    data.clone(),
                    r.table,
                ))
            }
            None => {
                if size >= super::STREAM_SIZE {
                    let d = data.clone();
                    if let Ok(h) = std::thread::Builder::new()
                        .name("digest".into())
                        .spawn(move || digest_released((*d).as_ref()))
                    {
                        self.digesting.insert(idx, Digesting::Thread(h));
                    }
                }
                engine::sender_half(id, &self.params(), data.clone())
            }
        };
        let step = half
            .start()
            .map_err(|e| Error::protocol(format!("engine error: {e}")))?;
        self.stats.engine_us += t.elapsed().as_micros() as u64;
        self.sessions.insert(idx, (half, data));
        self.emit_step(idx, step)?;
        self.drain(idx)
    }

    /// Forward whatever a streaming engine half produces without new input.
    fn drain(&mut self, idx: u32) -> Result<()> {
        loop {
            let Some((half, _)) = self.sessions.get_mut(&idx) else {
                return Ok(());
            };
            let t = Instant::now();
            let step = half
                .poll()
                .map_err(|e| Error::protocol(format!("engine error: {e}")))?;
            self.stats.engine_us += t.elapsed().as_micros() as u64;
            match step {
                Some(step) => self.emit_step(idx, step)?,
                None => return Ok(()),
            }
        }
    }

    fn emit_step(&mut self, idx: u32, step: engine::Step) -> Result<()> {
        for m in step.msgs {
            self.stats.engine_msgs += m.len() as u64;
            self.conn.send(&Msg::Engine { idx, data: m })?;
        }
        let mut batch: Vec<Op> = Vec::new();
        let inplace = self.opts.inplace;
        for op in step.ops {
            // Literals wait for refinement (and, in place, for the receiver's `Need`); copies go
            // now and are remembered as neighbours.
            let g = self.gaps.entry(idx).or_default();
            match &op {
                Op::Literal { dst, data } => {
                    g.literal(*dst, data.len() as u64);
                    continue;
                }
                Op::Copy { dst, src, len } => g.copy(*dst, *src, *len),
                Op::CopyFrom { .. } => {}
            }
            self.stats.matched += op.len();
            self.stats.copy_ops += 1;
            batch.push(op);
        }
        self.send_ops(idx, batch)?;
        if step.done {
            if let Some((_, data)) = self.sessions.remove(&idx) {
                let mut gaps = self.gaps.remove(&idx).unwrap_or_default();
                if inplace && gaps.literals().is_empty() {
                    self.inplace_src.insert(idx, data);
                    return self.conn.send(&Msg::CopiesEnd { idx });
                }
                let probes = gaps.plan();
                if !probes.is_empty() {
                    // Literal runs too long for the probes to reach their middles: those
                    // middles stream while the receiver answers.
                    let early = if inplace {
                        Vec::new()
                    } else {
                        gaps.take_unreachable()
                    };
                    self.conn.send(&Msg::Probe {
                        idx,
                        block: super::refine::BLOCK as u32,
                        ranges: probes,
                    })?;
                    self.conn.flush()?;
                    self.send_literals(idx, (*data).as_ref(), early)?;
                    self.probing.insert(idx, (data, gaps));
                    return Ok(());
                }
                if inplace {
                    self.inplace_src.insert(idx, data);
                    return self.conn.send(&Msg::CopiesEnd { idx });
                }
                let lits = gaps.literals().to_vec();
                return self.send_ranges(idx, data, lits);
            }
        }
        Ok(())
    }

    /// In place: send the ranges the receiver could not build from copies, then `FileEnd`.
    fn on_need(&mut self, idx: u32, ranges: Vec<(u64, u64)>) -> Result<()> {
        let data = self.inplace_src.remove(&idx).ok_or_else(|| {
            Error::protocol("protocol error: literal request for an unknown file")
        })?;
        self.send_ranges(idx, data, ranges)
    }

    /// The receiver's probe answers: extend copies into the literal runs, send the rest.
    fn on_probed(&mut self, idx: u32, hashes: Vec<Vec<u64>>) -> Result<()> {
        let (data, gaps) = self
            .probing
            .remove(&idx)
            .ok_or_else(|| Error::protocol("protocol error: probe answer for an unknown file"))?;
        let (copies, lits) = gaps
            .resolve((*data).as_ref(), &hashes)
            .map_err(|e| Error::protocol(format!("protocol error: {e}")))?;
        engine::filemap::release_all((*data).as_ref());
        self.stats.matched += copies.iter().map(|c| c.len()).sum::<u64>();
        self.stats.copy_ops += copies.len() as u64;
        if !copies.is_empty() {
            self.conn.send(&Msg::Ops { idx, ops: copies })?;
        }
        if self.opts.inplace {
            // The receiver now orders all copies and asks for what they do not produce.
            self.inplace_src.insert(idx, data);
            return self.conn.send(&Msg::CopiesEnd { idx });
        }
        self.send_ranges(idx, data, lits)
    }

    fn remove_source(&mut self, idx: u32) -> Result<()> {
        // A dry run removes nothing, whatever the peer acknowledges.
        if !self.opts.remove_source_files || self.opts.dry_run {
            return Ok(());
        }
        let Some(e) = self.flist.get(idx as usize) else {
            return Ok(());
        };
        if e.is_dir() {
            return Ok(());
        }
        let Some(path) = self.paths.get(&self.flist, idx) else {
            return Ok(());
        };
        let e = e.clone();
        use std::os::unix::fs::MetadataExt;
        // sender.c successful_send: a regular file must still be what was sent (size and
        // mtime, its nanoseconds where the list has them); links, devices and specials need not.
        // Its messages name the item as listed, like the item lines.
        let unchanged = |m: &std::fs::Metadata| {
            !e.is_file()
                || (m.len() == e.size
                    && m.mtime() == e.mtime
                    && (e.mtime_ns == 0 || m.mtime_nsec() as u32 == e.mtime_ns))
        };
        let name = crate::report::escape(&e.name);
        let st = if self.opts.copy_links {
            std::fs::metadata(&path)
        } else {
            std::fs::symlink_metadata(&path)
        };
        let (op, err) = match st {
            Ok(m) if !unchanged(&m) => {
                self.problems.partial = true;
                return self.conn.error(&format!(
                    "ERROR: Skipping sender remove for changed file: {name}"
                ));
            }
            Ok(_) => match std::fs::remove_file(&path) {
                Ok(()) if self.opts.info.remove > 0 => {
                    return self.conn.info(&format!("sender removed {name}"))
                }
                Ok(()) => return Ok(()),
                Err(err) => ("remove", err),
            },
            Err(err) => ("re-lstat", err),
        };
        // One that is gone already is only noted.
        if err.kind() == std::io::ErrorKind::NotFound {
            return self
                .conn
                .info(&format!("sender file already removed: {name}"));
        }
        self.problems.partial = true;
        self.conn.error(&format!(
            "rsync: [sender] sender failed to {op} {name}: {}",
            crate::error::io_text(&err)
        ))
    }
}

/// A whole-file digest being computed on a thread, or already known.
enum Digesting {
    Thread(std::thread::JoinHandle<[u8; 32]>),
    Ready([u8; 32]),
}

/// BLAKE3 of a (mapped) source, hashed in pieces whose pages are dropped behind (bounded RSS).
pub(super) fn digest_released(bytes: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    engine::filemap::in_windows(bytes, 1 << 20, |r| {
        h.update(&bytes[r]);
    });
    *h.finalize().as_bytes()
}

fn checksum_entries(entries: &mut [Entry], paths: &[PathBuf]) {
    use rayon::prelude::*;
    entries
        .par_iter_mut()
        .zip(paths.par_iter())
        .for_each(|(e, p)| {
            if e.is_file() {
                if let Ok(f) = File::open(p) {
                    e.x_mut().sum = crate::recon::tempfile::digest_file(&f, e.size).ok();
                }
            }
        });
}

pub fn msg_name(m: &Msg) -> &'static str {
    match m {
        Msg::Filters(_) => "Filters",
        Msg::Segment { .. } => "Segment",
        Msg::FlistEnd { .. } => "FlistEnd",
        Msg::IoError => "IoError",
        Msg::Request { .. } => "Request",
        Msg::Have { .. } => "Have",
        Msg::CopiesEnd { .. } => "CopiesEnd",
        Msg::Append { .. } => "Append",
        Msg::Need { .. } => "Need",
        Msg::Probe { .. } => "Probe",
        Msg::Probed { .. } => "Probed",
        Msg::Engine { .. } => "Engine",
        Msg::Ops { .. } => "Ops",
        Msg::FileEnd { .. } => "FileEnd",
        Msg::FileFailed { .. } => "FileFailed",
        Msg::Ack { .. } => "Ack",
        Msg::Log { .. } => "Log",
        Msg::Done(_) => "Done",
        Msg::Goodbye(_) => "Goodbye",
        Msg::Fatal { .. } => "Fatal",
        Msg::Delegate { .. } => "Delegate",
        Msg::Barrier => "Barrier",
        Msg::Tally => "Tally",
        Msg::Started { .. } => "Started",
    }
}

fn walk_opts(o: &Options) -> WalkOpts {
    WalkOpts {
        recursive: o.recursive,
        dirs: o.dirs || o.list_only,
        links: o.links || o.list_only,
        copy_links: o.copy_links,
        copy_dirlinks: o.copy_dirlinks,
        devices: o.devices || o.list_only,
        specials: o.specials || o.list_only,
        one_file_system: o.one_file_system,
        numeric_ids: o.numeric_ids,
        owner: o.owner,
        group: o.group,
        hard_links: o.hard_links,
        relative: o.relative,
        implied_dirs: o.implied_dirs,
        copy_unsafe_links: o.copy_unsafe_links,
        symsafe: o.info.symsafe > 0 || o.verbose > 0,
        ignore_missing: o.ignore_missing_args,
        delete_missing: o.delete_missing_args,
        nonreg: o.info.nonreg > 0,
        chmod: o.chmod_rules.clone(),
        atimes: o.atimes,
        copy_devices: o.copy_devices,
        xattrs: crate::meta::xattr::Select::of(o, true),
        munge_links: o.munge_links,
        dup_notes: ((o.verbose > 1 || o.debug.get("DUP") > 0) && !o.quiet)
            .then_some(o.inc_recurse() as u32),
    }
}

/// Walk `sources` on a thread of its own, sending the file list to `tx` in segments. With
/// `prefetch`, the regular files large enough for [`super::prefetch`] are offered to it as the
/// walk finds them (a push starts walking while the remote shell is still connecting).
pub fn start_walk(
    opts: &Options,
    sources: Vec<Source>,
    filters: &super::filters::Filters,
    tx: crossbeam_channel::Sender<WalkEvent>,
    prefetch: Option<crossbeam_channel::Sender<PathBuf>>,
) {
    let wopts = walk_opts(opts);
    let mut filters = filters.clone();
    let checksum = opts.checksum;
    let prune = opts.prune_empty_dirs;
    let mut prune_filters = filters.clone();
    std::thread::Builder::new()
        .name("walker".into())
        .spawn(move || {
            let mut emit = |mut ev: WalkEvent| {
                if let WalkEvent::Segment { entries, paths, .. } = &mut ev {
                    if checksum {
                        checksum_entries(entries, paths);
                    }
                    if let Some(pf) = &prefetch {
                        for (e, p) in entries.iter().zip(paths.iter()) {
                            if e.is_file() && e.size >= super::STREAM_SIZE {
                                let _ = pf.try_send(p.clone());
                            }
                        }
                    }
                }
                tx.send(ev).is_ok()
            };
            if prune {
                let protected = |n: &[u8], p: &std::path::Path| prune_filters.protected_dir(n, p);
                let mut pruner = crate::filter::prune::Pruner::new(protected, &mut emit);
                Walker::new(wopts, &mut filters, &mut |ev| pruner.push(ev)).run(&sources);
            } else {
                Walker::new(wopts, &mut filters, &mut emit).run(&sources);
            }
        })
        .expect("spawn walker");
}
