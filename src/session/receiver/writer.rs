//! The writer half (rsync's receiver.c): requests a file, runs the engine's receiver half, applies
//! ops into a temp file (or the target itself with `--inplace`), verifies the whole-file BLAKE3,
//! backs up, renames, sets metadata; redoes a file once without delta when verification fails.

use super::*;
use crate::engine::phase::Phase;

impl Receiver {
    pub(super) fn request(
        &mut self,
        idx: u32,
        e: &Entry,
        path: &Path,
        basis_path: Option<PathBuf>,
        redo: bool,
    ) -> Result<()> {
        let has_basis = basis_path.is_some();
        // Hard-link leaders stay with this session: their group links to them once they are
        // written (receiver/hlink.rs), which a helper session would not report.
        let leader = self.opts.hard_links && e.x().hlink != 0;
        if !redo && !leader && matches!(self.root, Root::Dir(_)) {
            if let Some(d) = self.delegate.as_mut() {
                if d.take(idx, e, &mut self.conn)? {
                    // Its line waits for the helper's word that its data started.
                    return Ok(());
                }
            }
        }
        let temp_dir = self.opts.temp_dir.as_ref().map(PathBuf::from);
        if self.opts.inplace && has_basis && !redo {
            let rel = self.rel_name(e);
            if let Err(err) = self.make_backup(path, &rel, true) {
                return self.fail(super::backup::backup_failed(path, &err));
            }
        }
        // Far ahead of the data, the temp file waits for it (Job::writer).
        let defer = !self.opts.inplace && self.jobs.len() >= DEFER_AT;
        let made_target = self.opts.inplace && std::fs::symlink_metadata(path).is_err();
        let opened = if self.opts.inplace {
            inplace::open_target(path).map(|f| (Some(f), path.to_path_buf()))
        } else if defer {
            Ok((None, PathBuf::new()))
        } else {
            create_temp(path, temp_dir.as_deref()).map(|(f, p)| (Some(f), p))
        };
        let (file, temp) = match opened {
            Ok(x) => x,
            Err(err) => {
                self.mark_started(idx, true)?;
                return self.temp_failed(path, temp_dir.as_deref(), &err);
            }
        };
        // --append: keep what the receiver has and ask only for the rest (never a delta).
        let append_from = basis_path
            .as_deref()
            .filter(|b| self.opts.append > 0 && !redo && *b == path)
            .and_then(|b| std::fs::metadata(b).ok())
            .map(|m| m.len())
            .filter(|l| *l > 0 && *l < e.size);
        // A device written into (--write-devices) is never a delta basis.
        let into_device =
            self.opts.write_devices && std::fs::metadata(path).is_ok_and(|m| meta::is_device(&m));
        let whole = self.opts.whole_file.unwrap_or(false)
            || redo
            || e.size == 0
            || append_from.is_some()
            || into_device;
        // Only needed without -p (a stat per file otherwise spent for nothing).
        let basis_mode = basis_path
            .as_ref()
            .filter(|_| !self.meta.perms)
            .and_then(|b| std::fs::metadata(b).ok())
            .map(|m| m.mode());
        let basis = match &basis_path {
            // In place, copies read the target itself: another basis cannot be used.
            Some(b) if !whole && (!self.opts.inplace || b == path) => File::open(b).ok(),
            _ => None,
        };
        let mut half = None;
        let mut streaming = false;
        let delta = basis.is_some();
        if self.opts.dedupe
            && !redo
            && !delta
            && append_from.is_none()
            && e.size >= crate::dedupe::MIN_SIZE
        {
            // What the destination already holds is scanned from the first new file on, while
            // the list goes on being decided (dedupe::LocalIndex::ask_now).
            let root = self.root_dir();
            let local = self
                .local
                .get_or_insert_with(|| crate::dedupe::LocalIndex::spawn(root));
            if local.ask_now(e.size) {
                for (id, digest) in local.candidates(e.size, path) {
                    self.conn.send(&Msg::Have { idx, id, digest })?;
                }
            }
        }
        if let Some(offset) = append_from {
            self.conn.send(&Msg::Append { idx, offset })?;
        }
        self.conn.send(&Msg::Request {
            idx,
            delta,
            engine: self.engine as u8,
            plain: redo || append_from.is_some(),
        })?;
        if let Some(b) = &basis {
            let shared: Shared = b
                .metadata()
                .and_then(|m| crate::engine::filemap::shared(b, m.len()))
                .unwrap_or_else(|_| std::sync::Arc::new(Vec::<u8>::new()));
            // A large basis streams: the sender should start on its side now, not after this
            // side's first engine step (which may be a whole chunking pass).
            streaming = (*shared).as_ref().len() as u64 >= super::super::STREAM_SIZE;
            if streaming {
                self.conn.flush()?;
            }
            let t = Instant::now();
            let mut h = engine::receiver_half(self.engine, &self.opts.engine_params, shared);
            if streaming {
                // Its background output wakes the session instead of being waited for, so the
                // peer's answers (and the copies they confirm) flow while it still works.
                h.set_waker(self.conn.waker(idx));
            }
            let step = h
                .start()
                .map_err(|e| Error::protocol(format!("engine error: {e}")))?;
            self.stats.engine_us += t.elapsed().as_micros() as u64;
            let mut step = step;
            loop {
                let sent = !step.msgs.is_empty();
                for m in std::mem::take(&mut step.msgs) {
                    self.stats.engine_msgs += m.len() as u64;
                    self.conn.send(&Msg::Engine { idx, data: m })?;
                }
                if step.done {
                    break;
                }
                // `poll` may block for the next batch: what is ready goes out first.
                if sent && streaming {
                    self.conn.flush()?;
                }
                let t = Instant::now();
                let polled = h.poll();
                self.stats.engine_us += t.elapsed().as_micros() as u64;
                match polled {
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
        // --append (not -verify) checks only the appended part, as rsync does.
        let hash_from = append_from.filter(|_| self.opts.append == 1);
        let sparse = self.opts.sparse && !in_place && hash_from.is_none();
        let spec = super::WriterSpec {
            sparse,
            size: e.size,
            hash_from,
        };
        let writer = file.map(|f| spec.writer(f));
        self.jobs.insert(
            idx,
            Job {
                in_place,
                made_target,
                basis_mode,
                copies: (in_place && delta).then(Vec::new),
                writer,
                spec,
                temp,
                failed: false,
                target: path.to_path_buf(),
                basis,
                half,
                streaming,
                started: now,
                last_progress: now,
                redo,
            },
        );
        Ok(())
    }

    /// An engine message from the peer, or (no data) this side's engine woke up
    /// ([`crate::session::Conn::waker`]; a wake-up for a file already done is stale).
    pub(super) fn on_engine(&mut self, idx: u32, data: &[u8]) -> Result<()> {
        let wake = data.is_empty();
        let job = match self.jobs.get_mut(&idx) {
            Some(j) => j,
            None if wake => return Ok(()),
            None => {
                return Err(Error::protocol(
                    "protocol error: engine message for an unknown file",
                ))
            }
        };
        let half = match job.half.as_mut() {
            Some(h) => h,
            None if wake => return Ok(()),
            None => return Err(Error::protocol("protocol error: unexpected engine message")),
        };
        let t = Instant::now();
        let mut step = if wake {
            engine::Step::default()
        } else {
            half.handle(data)
                .map_err(|e| Error::protocol(format!("protocol error: {e}")))?
        };
        self.stats.engine_us += t.elapsed().as_micros() as u64;
        loop {
            let sent = !step.msgs.is_empty();
            for m in std::mem::take(&mut step.msgs) {
                self.stats.engine_msgs += m.len() as u64;
                self.conn.send(&Msg::Engine { idx, data: m })?;
            }
            if step.done {
                job.half = None;
                return Ok(());
            }
            if sent && job.streaming {
                self.conn.flush()?;
            }
            let t = Instant::now();
            let polled = half.poll();
            self.stats.engine_us += t.elapsed().as_micros() as u64;
            match polled {
                Ok(Some(s)) => step = s,
                Ok(None) => return Ok(()),
                Err(e) => return Err(Error::protocol(format!("engine error: {e}"))),
            }
        }
    }

    pub(super) fn on_ops(&mut self, idx: u32, ops: Vec<engine::Op>) -> Result<()> {
        if self.mark_started(idx, true)? {
            self.release_file(idx);
            self.flush_lines()?;
        }
        if !self.ready_temp(idx)? {
            return Ok(());
        }
        let Some(job) = self.jobs.get_mut(&idx) else {
            return Err(Error::protocol(
                "protocol error: data for a file that was not requested",
            ));
        };
        let len = self.flist.get(idx as usize).map(|e| e.size).unwrap_or(0);
        let phases = self.opts.engine_params.phases.clone();
        let _patch = job.basis.is_some().then(|| phases.time(Phase::Patch));
        for op in ops {
            if op.dst().checked_add(op.len()).is_none_or(|end| end > len) {
                return Err(Error::protocol(
                    "protocol error: op beyond the end of the file",
                ));
            }
            let (done, local, flist) = (&self.done, &self.local, &self.flist);
            let (root, dest) = (&self.root, &self.dest);
            let other = |file: u32| -> Option<File> {
                if file & crate::dedupe::LOCAL != 0 {
                    local.as_ref()?.open(file)
                } else if done.contains(&file) {
                    File::open(super::root::target(root, dest, flist.get(file as usize)?)).ok()
                } else {
                    None
                }
            };
            if let (Some(copies), engine::Op::Copy { dst, src, len }) = (job.copies.as_mut(), &op) {
                copies.push((*dst, *src, *len));
                continue;
            }
            let copy_from = matches!(op, engine::Op::CopyFrom { .. });
            let applied = job.w().map(|_| ()).and_then(|()| {
                let w = job.writer.as_mut().expect("opened above");
                w.apply(op, job.basis.as_ref(), &other, idx)
            });
            if let Err(err) = applied {
                if copy_from {
                    // The dedupe source is gone: the digest check fails and the file is redone
                    // without dedupe.
                    if let Some(w) = job.writer.as_mut() {
                        w.poison();
                    }
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
            let w = self.jobs.get(&idx).map(|j| j.written()).unwrap_or(0);
            self.progress2_at(None, false, w)?;
        }
        if self.opts.info.progress == 1 {
            let job = self.jobs.get_mut(&idx).unwrap();
            if job.last_progress.elapsed().as_secs_f64() >= 1.0 {
                job.last_progress = Instant::now();
                let el = job.started.elapsed().as_secs_f64();
                let w = job.written();
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

    pub(super) fn on_file_end(&mut self, idx: u32, digest: [u8; 32]) -> Result<()> {
        if !self.jobs.contains_key(&idx) {
            return Err(Error::protocol(
                "protocol error: end of a file that was not requested",
            ));
        }
        if self.mark_started(idx, true)? {
            self.release_file(idx);
            self.flush_lines()?;
        }
        // A file without data (empty) creates its deferred temp file only now.
        let made = self.ready_temp(idx)?;
        let mut job = self.jobs.remove(&idx).expect("checked above");
        if !made {
            return Ok(());
        }
        let e = self.flist[idx as usize].clone();
        crate::session::trace::point(|| format!("finish {idx}"));
        // A write that failed on the background writer is what on_ops reports: exit 11.
        if let Err(err) = job.w().and_then(|w| w.wait()) {
            discard(&job);
            return Err(Error::new(
                crate::error::RERR_FILEIO,
                format!(
                    "rsync: [receiver] write failed on \"{}\": {}",
                    crate::flist::walk::full_name(&job.target),
                    io_text(&err)
                ),
            ));
        }
        let got = job.w().and_then(|w| w.finish(e.size));
        crate::session::trace::point(|| format!("digest done {idx}"));
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
            if self.opts.verbose > 0 || (job.in_place && self.opts.stdout_format_has_i()) {
                self.conn.warning(&format!(
                    "WARNING: {} failed verification -- update {} (will try again).",
                    report::escape(&e.name),
                    if job.in_place {
                        "retained"
                    } else {
                        "discarded"
                    }
                ))?;
            }
            if self.opts.append > 0 {
                // The retained first attempt already has its permissions (as rsync's does); the
                // redo of an --append-verify file is itemized again (rsync's redo phase).
                if self.meta.perms {
                    let _ = std::fs::set_permissions(
                        &job.target,
                        std::os::unix::fs::PermissionsExt::from_mode(e.perms()),
                    );
                }
                self.log_redo(idx, &e, &job.target);
            }
            let target = job.target.clone();
            return self.request(idx, &e, &target, Some(target.clone()), true);
        }
        if self.opts.fsync {
            if let Some(w) = job.writer.as_ref() {
                let _ = w.file.sync_all();
            }
        }
        if self.opts.temp_dir.is_some() && !job.in_place {
            if let Err(err) = bring_temp_over(&mut job) {
                discard(&job);
                return self.fail(format!(
                    "rsync: [receiver] copy \"{}\" -> \"{}\": {}",
                    crate::flist::walk::full_name(&job.temp),
                    report::escape(&e.name),
                    io_text(&err)
                ));
            }
        }
        let (uid, gid) = self.want_ids(&e);
        // The old file's mode matters only without -p (target_mode).
        // receiver.c dest_mode(): the mode of what was there, or of the basis a new file was
        // made from (an alternate dir's or fuzzy match, a partial file).
        let old_mode = (!self.meta.perms && !job.made_target)
            .then(|| {
                std::fs::metadata(&job.target)
                    .ok()
                    .map(|m| m.mode())
                    .or(job.basis_mode)
            })
            .flatten();
        if job.in_place && !self.meta.times {
            // Its mtime was set to the epoch while it was written (inplace::open_target): the
            // time of this update it is, as a write would have left it.
            if let Some(w) = job.writer.as_ref() {
                let _ =
                    filetime::set_file_handle_times(&w.file, None, Some(filetime::FileTime::now()));
            }
        }
        let mode = self.mode_for(&e, old_mode, &job.target);
        let (uid, gid, mode) = (Some(uid), Some(gid), Some(mode));
        let set = match job.writer.as_ref() {
            Some(w) => {
                let open = meta::Open {
                    file: &w.file,
                    path: &job.temp,
                    stat: w.stat.as_ref(),
                };
                meta::apply_open(open, &e, uid, gid, mode, &self.meta)
            }
            None => meta::apply(&job.temp, &e, uid, gid, mode, &self.meta),
        };
        if let Err(err) = set {
            self.fail(meta::attrs_failed_line("receiver", &job.temp, &err))?;
        }
        drop(job.basis.take());
        drop(job.writer.take());
        crate::recon::unregister(&job.temp);
        if self.opts.delay_updates && !job.in_place {
            let rel = self.rel_name(&e);
            self.delay_update(&job.temp, &job.target, rel)?;
        } else if !job.in_place {
            let rel = self.rel_name(&e);
            if let Err(err) = self.make_backup(&job.target, &rel, false) {
                discard(&job);
                return self.fail(super::backup::backup_failed(&job.target, &err));
            }
        }
        if self.opts.debug.get("RECV") > 0 {
            let name = report::escape(&e.name);
            self.gen_line(format!("recv_files({name})"));
            if !job.in_place && !self.opts.delay_updates {
                let temp = job.temp.file_name().unwrap_or_default().as_bytes();
                let dir = e
                    .name
                    .iter()
                    .rposition(|b| *b == b'/')
                    .map(|i| &e.name[..i]);
                let shown = match dir {
                    Some(d) => [d, b"/", temp].concat(),
                    None => temp.to_vec(),
                };
                self.gen_line(format!("renaming {} to {name}", report::escape(&shown)));
            }
        }
        if job.in_place || self.opts.delay_updates {
            // Written in place, or renamed at the end: nothing to rename now.
        } else if let Err(err) = std::fs::rename(&job.temp, &job.target) {
            let _ = std::fs::remove_file(&job.temp);
            return self.fail(format!(
                "rsync: [receiver] rename \"{}\" -> \"{}\": {}",
                crate::flist::walk::full_name(&job.temp),
                report::escape(&e.name),
                io_text(&err)
            ));
        }
        crate::session::trace::point(|| format!("renamed {idx}"));
        self.xfr += 1;
        if let Some(Ok(pp)) =
            crate::recon::partial_path(&job.target).filter(|_| !self.opts.delay_updates)
        {
            // The partial file served as basis; the partial dir goes when empty (rsync).
            if std::fs::remove_file(&pp).is_ok() {
                if let Some(d) = pp.parent() {
                    let _ = std::fs::remove_dir(d);
                }
            }
        }
        self.p2_bytes += e.size;
        self.progress2(Some(idx), false)?;
        if self.opts.dedupe {
            self.done.insert(idx);
            if let Some(l) = self.local.as_mut() {
                l.written(&job.target);
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
            // An empty file had no data to show progress for: only its final line (rsync).
            if e.size == 0 {
                self.conn.info(&format!("\r{l2}\n"))?;
            } else {
                self.conn.info(&format!("\r{l1}\r{l2}\n"))?;
            }
            self.flush_lines()?;
        }
        self.delivered(idx)
    }

    /// Literal refinement: hash the asked ranges of the basis (session::refine).
    pub(super) fn on_probe(&mut self, idx: u32, block: u32, ranges: Vec<(u64, u64)>) -> Result<()> {
        use crate::session::refine;
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
        self.stats.probe_bytes += hashes.iter().map(|h| 8 * h.len() as u64).sum::<u64>();
        self.conn.send(&Msg::Probed { idx, hashes })
    }
}

impl Receiver {
    /// Create the temp file of a job whose creation was deferred ([`Job::writer`]). False when
    /// the job has no output: creating it failed, now or earlier; rsync's mkstemp error was
    /// reported (exit 23) and the file's data is dropped, as rsync's receiver discards it.
    fn ready_temp(&mut self, idx: u32) -> Result<bool> {
        let temp_dir = self.opts.temp_dir.as_ref().map(PathBuf::from);
        let Some(job) = self.jobs.get_mut(&idx) else {
            return Ok(true);
        };
        if job.failed {
            return Ok(false);
        }
        if job.writer.is_some() {
            return Ok(true);
        }
        match create_temp(&job.target, temp_dir.as_deref()) {
            Ok((f, p)) => {
                job.temp = p;
                job.writer = Some(job.spec.writer(f));
                Ok(true)
            }
            Err(err) => {
                job.failed = true;
                let target = job.target.clone();
                self.temp_failed(&target, temp_dir.as_deref(), &err)?;
                Ok(false)
            }
        }
    }

    /// A temp file for `target` could not be made: rsync's mkstemp error (exit 23), after rsync
    /// 3.5's notice when a `-T DIR` behind a planted symlink was the reason.
    fn temp_failed(
        &mut self,
        target: &Path,
        temp_dir: Option<&Path>,
        err: &std::io::Error,
    ) -> Result<()> {
        if temp_dir.is_some_and(|t| crate::plan::trusted::refused(t, err)) {
            self.conn.warning(crate::plan::trusted::NOTICE)?;
        }
        self.fail(mkstemp_failed(target, temp_dir, err))
    }

    /// The item line of a file sent again, itemized against what the first attempt left.
    fn log_redo(&mut self, idx: u32, e: &Entry, target: &Path) {
        let Ok(m) = std::fs::metadata(target) else {
            return;
        };
        let (uid, gid) = self.want_ids(e);
        let mode = meta::target_mode(e, Some(m.mode()), &self.meta);
        let mut c = decide::attr_change(e, &m, &self.opts, uid, gid, mode);
        c.transfer = true;
        c.size = m.len() != e.size;
        self.log_item(idx, e, &c, false, None);
    }
}

/// rsync's message for a temp file that cannot be created next to `target` (or in `-T DIR`,
/// where the name has no leading dot).
fn mkstemp_failed(target: &Path, temp_dir: Option<&Path>, err: &std::io::Error) -> String {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = match temp_dir {
        Some(t) => t.join(format!("{name}.XXXXXX")),
        None => target
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
            .join(format!(".{name}.XXXXXX")),
    };
    format!(
        "rsync: [receiver] mkstemp \"{}\" failed: {}",
        crate::flist::walk::full_name(&temp),
        io_text(err)
    )
}

/// `-T` on another filesystem: a rename cannot cross devices, so the finished file is copied
/// over (rsync's robust_rename copies it too), into a new temp file beside the target: the
/// target is still replaced by one rename, after the attributes are set.
fn bring_temp_over(job: &mut Job) -> std::io::Result<()> {
    let dir = match job.target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if std::fs::metadata(&job.temp)?.dev() == std::fs::metadata(dir)?.dev() {
        return Ok(());
    }
    let (mut to, near) = crate::recon::tempfile::create_temp(&job.target, None)?;
    let copied =
        std::fs::File::open(&job.temp).and_then(|mut from| std::io::copy(&mut from, &mut to));
    let old = std::mem::replace(&mut job.temp, near);
    crate::recon::unregister(&old);
    let _ = std::fs::remove_file(&old);
    job.writer = None;
    copied.map(|_| ())
}

/// Drop a failed job's output: a temp file is removed; an in-place target stays as it is
/// (partially updated, as rsync's `--inplace` leaves it; a re-run converges).
pub(super) fn discard(job: &Job) {
    if job.temp.as_os_str().is_empty() {
        // Its temp file was never created.
        return;
    }
    crate::recon::unregister(&job.temp);
    if !job.in_place {
        let _ = std::fs::remove_file(&job.temp);
    }
}
