//! The sender's literal path: whole files and the literal ranges of delta files, planned against
//! the dedupe indexes (design.md §6, `crate::dedupe`) unless `--no-dedupe` or a redo (`plain`).
//!
//! Every source byte is read once: a file sent whole streams through the chunk planner (small
//! files, and files the receiver announced same-size candidates for, are loaded first so the same
//! read gives the whole-file digest that decides a whole-file copy, and are then planned in one
//! pass like a literal range); a delta file's literal ranges come from the mapping the engine
//! already used. A file changed while being read gets a digest that cannot verify, so the
//! receiver redoes it (rsync's redo pass) and it never enters an index.

use super::{digest_released, Digesting, Sender, LITERAL_PIECE, PIECE};
use crate::dedupe::chunks::{Loc, Planner, Tally};
use crate::engine::{Op, Shared};
use crate::error::{Error, Result};
use crate::flist::walk::full_name;
use crate::wire::msg::Msg;
use std::fs::File;
use std::io::Read;

/// Files up to this size are read into memory before a dedupe send (one read serves the digest
/// and the data).
const PRELOAD: u64 = 2 << 20;

/// What identifies a file's version: size, mtime and ctime.
fn stamp(f: &File) -> Option<(u64, i64, i64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    f.metadata()
        .map(|m| {
            (
                m.len(),
                m.mtime(),
                m.mtime_nsec(),
                m.ctime(),
                m.ctime_nsec(),
            )
        })
        .ok()
}

/// The first `size` bytes of `f`: read into memory when small, else mapped.
fn load(f: &File, size: u64) -> std::io::Result<Shared> {
    if size <= PRELOAD {
        return Ok(std::sync::Arc::new(crate::engine::filemap::read_prefix(
            f, size,
        )?));
    }
    let map = unsafe { memmap2::Mmap::map(f)? };
    Ok(std::sync::Arc::new(map))
}

/// Positional reads of completed source files for extending copies at chunk edges (the last
/// file opened stays open: consecutive edges usually read the same one).
fn source_reader<'a>(
    paths: &'a super::paths::SourcePaths,
    flist: &'a [crate::flist::Entry],
    open: &'a mut Option<(u32, File)>,
) -> impl FnMut(u32, u64, usize) -> Option<Vec<u8>> + 'a {
    move |file, off, len| {
        use std::os::unix::fs::FileExt;
        if open.as_ref().is_none_or(|(f, _)| *f != file) {
            *open = Some((file, File::open(paths.get(flist, file)?).ok()?));
        }
        let f = &open.as_ref()?.1;
        let mut buf = vec![0u8; len];
        let mut n = 0;
        while n < len {
            match f.read_at(&mut buf[n..], off + n as u64) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        buf.truncate(n);
        Some(buf)
    }
}

impl Sender {
    /// Send at most the listed `size` bytes: a file that grew since the walk is sent as the
    /// prefix the receiver expects (the digest covers exactly what was sent), one that shrank
    /// fails the receiver's whole-file verification and is reported — never a torn write.
    ///
    /// With dedupe the file is read once: small files (and files the receiver holds same-size
    /// candidates for, whose digest must decide before any byte is sent) are loaded first, so one
    /// read yields the digest for the whole-file match and the data; larger files stream through
    /// the chunk planner, whose merged copies also find whole-file duplicates.
    pub(super) fn send_whole(
        &mut self,
        idx: u32,
        path: &std::path::Path,
        size: u64,
        dedupe: bool,
        haves: Vec<(u32, [u8; 32])>,
    ) -> Result<()> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => return self.vanished(idx, path, e),
        };
        let before = stamp(&file);
        // --append sends only what lies beyond the receiver's copy (no dedupe: the receiver
        // extends its file in place).
        let append = self.appends.remove(&idx).filter(|o| *o <= size);
        let dedupe = dedupe && append.is_none();
        if dedupe && (size <= PRELOAD || !haves.is_empty()) {
            let m = match load(&file, size) {
                Ok(m) => m,
                Err(e) => return self.read_failed(idx, path, e),
            };
            let bytes = (*m).as_ref();
            let bytes = &bytes[..bytes.len().min(size as usize)];
            let d = crate::dedupe::digest(bytes);
            let changed = before.is_none() || stamp(&file) != before;
            if !changed {
                let from = (self
                    .sent
                    .lookup(&d)
                    .filter(|j| *j != idx)
                    .map(|j| (j, false)))
                .or_else(|| haves.iter().find(|h| h.1 == d).map(|h| (h.0, true)));
                if let Some((from, local)) = from {
                    return self.send_copy_whole(idx, from, bytes.len() as u64, d, local);
                }
            }
            // In memory: plan it as one range (one chunking pass, nothing copied into pieces).
            let mut planner =
                (size >= crate::dedupe::chunks::PLAN_MIN).then(|| self.planner(idx, PIECE));
            self.plan_ranges(idx, bytes, vec![(0, bytes.len() as u64)], &mut planner)?;
            // Read into memory, what is sent cannot change after the check above; mapped, it can.
            let changed = changed || (size > PRELOAD && stamp(&file) != before);
            return self.end_whole(idx, changed, d, planner);
        }
        let mut h = blake3::Hasher::new();
        let mut off = 0u64;
        let mut reader: Box<dyn Read + '_> = match append {
            Some(from) => {
                // The digest covers the sent part, or with --append-verify the whole file
                // (rsync's append_mode 1 and 2).
                let skipped = if self.opts.append > 1 {
                    std::io::copy(&mut Read::take(&file, from), &mut h).map(|_| ())
                } else {
                    std::io::Seek::seek(&mut &file, std::io::SeekFrom::Start(from)).map(|_| ())
                };
                if let Err(e) = skipped {
                    return self.vanished(idx, path, e);
                }
                off = from;
                Box::new(Read::take(&file, size - from))
            }
            None => Box::new(Read::take(&file, size)),
        };
        let mut planner = dedupe.then(|| self.planner(idx, PIECE));
        let mut open = None;
        loop {
            // No bigger than what is left: a small file costs no piece-sized zeroed buffer.
            let mut buf = vec![0u8; PIECE.min((size - off) as usize)];
            let mut n = 0;
            while n < buf.len() {
                match reader.read(&mut buf[n..]) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        drop(reader);
                        return self.read_failed(idx, path, e);
                    }
                }
            }
            if n == 0 {
                break;
            }
            buf.truncate(n);
            h.update(&buf);
            match planner.as_mut() {
                Some(p) => {
                    let mut ops = Vec::new();
                    p.push(
                        &self.chunks,
                        &buf,
                        &mut ops,
                        &mut source_reader(&self.paths, &self.flist, &mut open),
                    );
                    self.send_ops(idx, ops)?;
                }
                None => {
                    self.stats.literal += n as u64;
                    self.conn.send(&Msg::Ops {
                        idx,
                        ops: vec![Op::Literal {
                            dst: off,
                            data: buf,
                        }],
                    })?;
                }
            }
            off += n as u64;
            if n < PIECE {
                break;
            }
        }
        drop(reader);
        if let Some(p) = planner.as_mut() {
            let mut ops = Vec::new();
            p.finish(
                &self.chunks,
                &mut ops,
                &mut source_reader(&self.paths, &self.flist, &mut open),
            );
            self.send_ops(idx, ops)?;
        }
        let changed = before.is_none() || stamp(&file) != before;
        self.end_whole(idx, changed, *h.finalize().as_bytes(), planner)
    }

    /// The end of a file sent whole: its stats and `FileEnd`. `changed` while being read (its
    /// [`stamp`] moved): what was sent may mix versions, so make the receiver's whole-file
    /// verification fail; it discards the update and asks once more. Such a file never enters
    /// the indexes.
    fn end_whole(
        &mut self,
        idx: u32,
        changed: bool,
        mut digest: [u8; 32],
        planner: Option<Planner>,
    ) -> Result<()> {
        let chunks = planner.map(|p| {
            self.account(p.tally, true);
            p.into_chunks()
        });
        if changed {
            digest.iter_mut().for_each(|b| *b = !*b);
            return self.conn.send(&Msg::FileEnd {
                idx,
                digest,
                literal: 0,
                matched: 0,
            });
        }
        self.finish_file(idx, digest, chunks)
    }

    fn read_failed(&mut self, idx: u32, path: &std::path::Path, e: std::io::Error) -> Result<()> {
        self.problems.partial = true;
        self.conn.error(&format!(
            "rsync: [sender] read errors mapping \"{}\": {}",
            full_name(path),
            crate::error::io_text(&e)
        ))?;
        self.conn.send(&Msg::FileFailed {
            idx,
            vanished: false,
        })
    }

    /// The whole file equals `from` (a completed file of this transfer, or with the
    /// [`crate::dedupe::LOCAL`] bit a file already under the destination): one copy.
    fn send_copy_whole(
        &mut self,
        idx: u32,
        from: u32,
        len: u64,
        digest: [u8; 32],
        local: bool,
    ) -> Result<()> {
        self.stats.deduped += len;
        self.stats.dedup_files += 1;
        self.stats.renamed += u64::from(local);
        self.stats.matched += len;
        self.stats.copy_ops += 1;
        self.conn.send(&Msg::Ops {
            idx,
            ops: vec![Op::CopyFrom {
                dst: 0,
                file: from,
                src: 0,
                len,
            }],
        })?;
        self.conn.send(&Msg::FileEnd {
            idx,
            digest,
            literal: 0,
            matched: len,
        })
    }

    /// A chunk planner for `idx`: copies within the file only where the receiver writes in order
    /// and writes every byte (not in place, not `--sparse`).
    pub(super) fn planner(&self, idx: u32, piece: usize) -> Planner {
        Planner::new(idx, !self.opts.inplace && !self.opts.sparse, piece)
    }

    /// Stats of a planned file; `whole`: the planner saw all of it, so a single copy and no
    /// literal is a whole-file duplicate.
    fn account(&mut self, t: Tally, whole: bool) {
        self.stats.literal += t.literal;
        self.stats.matched += t.copied;
        self.stats.copy_ops += t.copies;
        self.stats.deduped += t.copied;
        if whole && t.literal == 0 && t.copies == 1 {
            self.stats.dedup_files += 1;
        } else {
            self.stats.dedup_chunk_bytes += t.copied;
        }
    }

    /// Send planned ops in messages of about [`PIECE`] literal bytes.
    pub(super) fn send_ops(&mut self, idx: u32, ops: Vec<Op>) -> Result<()> {
        let mut batch = Vec::new();
        let mut bytes = 0usize;
        for op in ops {
            if let Op::Literal { data, .. } = &op {
                bytes += data.len();
            }
            batch.push(op);
            if bytes >= PIECE || batch.len() >= 4096 {
                self.conn.send(&Msg::Ops {
                    idx,
                    ops: std::mem::take(&mut batch),
                })?;
                bytes = 0;
            }
        }
        if !batch.is_empty() {
            self.conn.send(&Msg::Ops { idx, ops: batch })?;
        }
        Ok(())
    }

    /// Send `ranges` of the source as literals (re-read from the mapping; with dedupe, chunks
    /// already on the receiver become copies), then `FileEnd`.
    pub(super) fn send_ranges(
        &mut self,
        idx: u32,
        data: Shared,
        ranges: Vec<(u64, u64)>,
    ) -> Result<()> {
        let bytes = (*data).as_ref();
        self.send_literals(idx, bytes, ranges)?;
        crate::session::trace::point(|| format!("literals sent {idx}"));
        let chunks = self.planners.remove(&idx).map(|p| {
            self.account(p.tally, false);
            p.into_chunks()
        });
        let digest = match self.digesting.remove(&idx) {
            Some(Digesting::Ready(d)) => d,
            Some(Digesting::Thread(h)) => h.join().unwrap_or_else(|_| digest_released(bytes)),
            None => crate::dedupe::digest(bytes),
        };
        crate::session::trace::point(|| format!("digest done {idx}"));
        self.finish_file(idx, digest, chunks)
    }

    /// Send `ranges` of `bytes` as literal ops (through the file's dedupe planner, if any) in
    /// messages of about [`PIECE`] bytes, dropping the mapped pages behind (bounded RSS). A long
    /// range goes in steps of about a piece (a planner window), so nothing here holds more than
    /// that whatever the range's length — a file that shares nothing with its basis is one range
    /// of its whole length. May be called more than once per file (the middles of long runs
    /// leave early, engine/refine.rs).
    pub(super) fn send_literals(
        &mut self,
        idx: u32,
        bytes: &[u8],
        ranges: Vec<(u64, u64)>,
    ) -> Result<()> {
        let mut planner = self.planners.remove(&idx);
        let sent = self.plan_ranges(idx, bytes, ranges, &mut planner);
        if let Some(p) = planner {
            // Pending chunks of the planner are flushed by the final `send_ranges`.
            self.planners.insert(idx, p);
        }
        sent
    }

    /// [`Sender::send_literals`] with the file's `planner` (`None`: plain literals).
    fn plan_ranges(
        &mut self,
        idx: u32,
        bytes: &[u8],
        ranges: Vec<(u64, u64)>,
        planner: &mut Option<Planner>,
    ) -> Result<()> {
        let mut open = None;
        let mut ops = Vec::new();
        let mut size = 0usize;
        let mut behind = crate::engine::filemap::Behind::new(0);
        for (off, len) in ranges {
            let end = off
                .checked_add(len)
                .filter(|e| *e <= bytes.len() as u64)
                .ok_or_else(|| {
                    Error::protocol("protocol error: literal request beyond the end of the file")
                })?;
            let range = &bytes[off as usize..end as usize];
            let mut at = 0;
            while at < range.len() {
                let next = match planner.as_mut() {
                    Some(p) => p.range_step(
                        &self.chunks,
                        range,
                        off,
                        at,
                        &mut ops,
                        &mut source_reader(&self.paths, &self.flist, &mut open),
                    ),
                    None => {
                        let next = range.len().min(at + PIECE);
                        self.stats.literal += (next - at) as u64;
                        ops.extend(
                            range[at..next]
                                .chunks(LITERAL_PIECE)
                                .zip((off + at as u64..).step_by(LITERAL_PIECE))
                                .map(|(piece, at)| Op::Literal {
                                    dst: at,
                                    data: piece.to_vec(),
                                }),
                        );
                        next
                    }
                };
                size += next - at;
                at = next;
                behind.advance(bytes, off as usize + at);
                if size >= PIECE {
                    // Inside a planned range the last op stays: the next chunk may extend it.
                    let keep = (planner.is_some() && at < range.len())
                        .then(|| ops.pop())
                        .flatten();
                    self.send_ops(idx, std::mem::take(&mut ops))?;
                    ops.extend(keep);
                    size = 0;
                }
            }
        }
        behind.flush(bytes, bytes.len());
        self.send_ops(idx, ops)
    }

    /// `FileEnd` for a completely sent file; from now on later files may copy it (as a whole, or
    /// the `chunks` its planner saw).
    fn finish_file(
        &mut self,
        idx: u32,
        digest: [u8; 32],
        chunks: Option<Vec<(u128, Loc)>>,
    ) -> Result<()> {
        if self.opts.dedupe
            && self
                .flist
                .get(idx as usize)
                .is_some_and(|e| e.size >= crate::dedupe::MIN_SIZE)
        {
            self.sent.insert(digest, idx);
            if let Some(c) = chunks {
                self.chunks.commit(c);
            }
        }
        self.conn.send(&Msg::FileEnd {
            idx,
            digest,
            literal: 0,
            matched: 0,
        })
    }
}
