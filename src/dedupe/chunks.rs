//! Chunk-level dedupe (design.md §6 "CDC chunks"): literal data is cut into content-defined chunks;
//! a chunk whose bytes already sit in a completed file on the receiver becomes a `CopyFrom` of
//! that range instead of being sent.
//!
//! Why content-defined: a repeated library inside an archive, a VM image sharing blocks with
//! another, or a file that repeats a block at shifted offsets share *chunks*, not aligned blocks;
//! CDC boundaries follow the content (the ParaSync chunker, algorithms.md §6.1), so the shared runs
//! are found wherever they lie. Chunks are keyed by xxh3-128 (the strong hash the parasync engine
//! uses to confirm matches, §6.3); a false match is caught by the whole-file BLAKE3 on the receiver
//! and the file is redone without dedupe, so the key never decides correctness.
//!
//! Ordering rules (the safety rules):
//! * The transfer-wide [`ChunkIndex`] only receives a file's chunks when its transfer has been
//!   completely sent ([`ChunkIndex::commit`] from `finish_file`), so the receiver — which applies
//!   messages in order — has renamed that file into place before any copy reads it.
//! * Within one file ([`Planner`] with `self_copies`), a chunk may be copied from an earlier
//!   *literal* chunk of the same file: the literal is written before the copy is applied, and a
//!   copy never overlaps its own destination (source end ≤ destination start). In place (the
//!   receiver reorders writes) and with `--sparse` (zero runs are not written) this is off.
//! * Copies of other files only read their final, verified content; a source that differs
//!   anyway (changed underneath) fails the digest and the file is sent again as plain data.
//!
//! Chunk edges: a shared run rarely starts or ends on a chunk boundary, so the chunks straddling
//! its edges would be sent although most of their bytes are shared. A copy is therefore extended
//! byte by byte over the pending literal before it and into the chunk after it, comparing with
//! the sender's copy of its source file (a bounded positional read of at most one chunk per edge;
//! the index never holds data); within one file only as far as the source still ends before the
//! destination. If the source changed since it was sent, the extension is wrong and the
//! whole-file digest makes the receiver redo the file as data.

use crate::engine::chunker::{chunk, Config};
use crate::engine::Op;
use std::collections::HashMap;
use xxhash_rust::xxh3::xxh3_128;

/// The chunker: ParaSync's continuous Gear (4 KiB min, ~12 KiB average, 64 KiB max). Its cut
/// points depend only on the 64 bytes before them, so chunking a stream piece by piece (with the
/// unfinished last chunk carried over) finds the same chunks as one pass over the whole file.
pub const CHUNKER: Config = Config::PARASYNC;
/// Files shorter than this are not chunk-planned: they hold at most two chunks (one cut after
/// the 4 KiB minimum), so a duplicate of one is a duplicate of the whole file, which the
/// whole-file digest ([`super::SentIndex`]) finds. Planning them cost a chunking pass, a hash
/// and an index entry per small file (on a 200,000-file tree, most files).
pub const PLAN_MIN: u64 = 2 * CHUNKER.min as u64;
/// A chunk shorter than this starts no copy (a `CopyFrom` costs about 20 bytes on the wire); it
/// only extends a copy that it continues in the same source.
pub const MIN_CHUNK: usize = 512;
/// At most this many chunks are indexed (≈ 40 bytes each: 80 MiB, 24 GiB of distinct content at
/// the average chunk size); later chunks are still deduped against the index, just not entered.
pub const MAX_ENTRIES: usize = 1 << 21;
/// How much of a literal range one [`Planner::range_step`] plans (many chunks, a few pieces).
pub const WINDOW: usize = 1 << 20;

/// Reads `len` bytes at an offset of a completed file of this transfer, as the sender has them
/// (fewer at its end; `None` when unreadable).
pub type ReadSrc<'a> = dyn FnMut(u32, u64, usize) -> Option<Vec<u8>> + 'a;

/// Where a chunk's bytes are: `file` (file-list index) at `off`, `len` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loc {
    pub file: u32,
    pub off: u64,
    pub len: u32,
}

/// Sender: chunks of completed files of this transfer, keyed by 64 of their key's 128 bits
/// (24-byte entries, not 32: a quarter less for the biggest table the sender holds on a tree).
/// A false match is harmless: the receiver verifies every file whole and redoes one that fails.
#[derive(Default)]
pub struct ChunkIndex {
    map: HashMap<u64, Loc>,
}

impl ChunkIndex {
    fn get(&self, key: u128, len: u32) -> Option<Loc> {
        self.map
            .get(&(key as u64))
            .copied()
            .filter(|l| l.len == len)
    }

    /// Enter the chunks of a file whose transfer is complete (the first location of a content
    /// wins: it is the oldest, and copies from it merge with their neighbours).
    pub fn commit(&mut self, chunks: Vec<(u128, Loc)>) {
        for (k, l) in chunks {
            if self.map.len() >= MAX_ENTRIES {
                return;
            }
            self.map.entry(k as u64).or_insert(l);
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// What planning one file produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Literal bytes emitted.
    pub literal: u64,
    /// Bytes turned into copies, and the number of copy ops.
    pub copied: u64,
    pub copies: u64,
}

/// Turns one file's literal data into `Literal` and `CopyFrom` ops.
pub struct Planner {
    idx: u32,
    self_copies: bool,
    piece: usize,
    /// This file's literal chunks so far (for copies within the file).
    own: HashMap<u128, Loc>,
    /// Chunks to enter into the index once the file is complete.
    new: Vec<(u128, Loc)>,
    /// Streaming: the unfinished last chunk, and its file offset.
    carry: Vec<u8>,
    carry_at: u64,
    /// Literal bytes not yet emitted, starting at `lit_at`.
    lit: Vec<u8>,
    lit_at: u64,
    pub tally: Tally,
}

impl Planner {
    /// `idx` is the file being sent; `piece` the largest literal op.
    pub fn new(idx: u32, self_copies: bool, piece: usize) -> Planner {
        Planner {
            idx,
            self_copies,
            piece: piece.max(1),
            own: HashMap::new(),
            new: Vec::new(),
            carry: Vec::new(),
            carry_at: 0,
            lit: Vec::new(),
            lit_at: 0,
            tally: Tally::default(),
        }
    }

    /// Plan a complete range `data` that lands at `dst` of the file.
    pub fn range(
        &mut self,
        ix: &ChunkIndex,
        data: &[u8],
        dst: u64,
        out: &mut Vec<Op>,
        rd: &mut ReadSrc,
    ) {
        let mut at = 0;
        while at < data.len() {
            at = self.range_step(ix, data, dst, at, out, rd);
        }
    }

    /// Plan about [`WINDOW`] bytes of the complete range `data` (landing at `dst`) from `from`,
    /// which is 0 or what the previous step returned; returns where the next step starts,
    /// `data.len()` once the range is planned and its pending literal emitted. Long literal runs
    /// are emitted in whole pieces as they grow, so a caller that sends `out` between steps
    /// holds about a window of a range of any length (the pages behind `from` are not read
    /// again). The chunks are those of one pass over the range: only the last cut of a window,
    /// which its end may have forced, is left to the next step.
    pub fn range_step(
        &mut self,
        ix: &ChunkIndex,
        data: &[u8],
        dst: u64,
        from: usize,
        out: &mut Vec<Op>,
        rd: &mut ReadSrc,
    ) -> usize {
        let end = data.len().min(from + WINDOW);
        let window = &data[from..end];
        let cuts = chunk(&CHUNKER, window);
        let take = if end == data.len() {
            cuts.len()
        } else {
            cuts.len().saturating_sub(1).max(1)
        };
        let mut next = from;
        for c in &cuts[..take] {
            let s = c.off as usize;
            let at = dst + (from as u64) + c.off;
            self.one(ix, &window[s..s + c.len as usize], at, out, rd);
            next = from + s + c.len as usize;
        }
        if next >= data.len() {
            self.flush(out);
            return data.len();
        }
        // Whole pieces only (the ops equal a one-pass plan's), keeping a chunk's worth for a
        // backward extension.
        let pending = self.lit.len().saturating_sub(CHUNKER.max);
        if pending >= self.piece {
            let keep = self.lit.len() - pending / self.piece * self.piece;
            self.flush_keep(out, keep);
        }
        next
    }

    /// Streaming: the next `data` of a file sent from offset 0; the last (possibly unfinished)
    /// chunk waits for more. [`Planner::finish`] plans the rest.
    pub fn push(&mut self, ix: &ChunkIndex, data: &[u8], out: &mut Vec<Op>, rd: &mut ReadSrc) {
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(data);
        let cuts = chunk(&CHUNKER, &buf);
        let Some((last, done)) = cuts.split_last() else {
            return;
        };
        for c in done {
            let s = c.off as usize;
            self.one(
                ix,
                &buf[s..s + c.len as usize],
                self.carry_at + c.off,
                out,
                rd,
            );
        }
        let at = self.carry_at + last.off;
        buf.drain(..last.off as usize);
        self.carry = buf;
        self.carry_at = at;
        // Emit long literal runs, keeping one chunk's worth for a backward extension.
        if self.lit.len() >= self.piece + CHUNKER.max {
            self.flush_keep(out, CHUNKER.max);
        }
    }

    /// Streaming: plan what is left.
    pub fn finish(&mut self, ix: &ChunkIndex, out: &mut Vec<Op>, rd: &mut ReadSrc) {
        let rest = std::mem::take(&mut self.carry);
        let at = self.carry_at;
        self.range(ix, &rest, at, out, rd);
    }

    /// The chunks to enter into the index once the file is complete.
    pub fn into_chunks(self) -> Vec<(u128, Loc)> {
        self.new
    }

    fn one(
        &mut self,
        ix: &ChunkIndex,
        bytes: &[u8],
        dst: u64,
        out: &mut Vec<Op>,
        rd: &mut ReadSrc,
    ) {
        let key = xxh3_128(bytes);
        let len = bytes.len() as u32;
        let own = if self.self_copies {
            self.own.get(&key).copied().filter(|l| l.len == len)
        } else {
            None
        };
        let theirs = ix.get(key, len).filter(|l| l.file != self.idx);
        let found = [theirs, own].into_iter().flatten();
        // A copy that continues the last op merges into it; otherwise the first candidate.
        let prev = self.lit.is_empty().then(|| out.last()).flatten();
        let mut pick = None;
        for l in found {
            if let Some(Op::CopyFrom {
                dst: d,
                file,
                src,
                len: n,
            }) = prev
            {
                if *file == l.file && src + n == l.off && d + n == dst {
                    pick = Some(l);
                    break;
                }
            }
            if pick.is_none() && bytes.len() >= MIN_CHUNK {
                pick = Some(l);
            }
        }
        let loc = Loc {
            file: self.idx,
            off: dst,
            len,
        };
        match pick {
            Some(l) => {
                // Extend backwards over the pending literal where it equals the source.
                // Within the file the extended source must still end before its destination.
                let room = if l.file == self.idx {
                    (dst - l.off - u64::from(len)) as usize
                } else {
                    usize::MAX
                };
                let mut q = 0;
                if !self.lit.is_empty() && l.off > 0 {
                    let k = self
                        .lit
                        .len()
                        .min(l.off as usize)
                        .min(CHUNKER.max)
                        .min(room);
                    if let Some(b) = rd(l.file, l.off - k as u64, k).filter(|b| b.len() == k) {
                        let tail = &self.lit[self.lit.len() - k..];
                        q = b
                            .iter()
                            .rev()
                            .zip(tail.iter().rev())
                            .take_while(|(x, y)| x == y)
                            .count();
                    }
                }
                self.lit.truncate(self.lit.len() - q);
                self.flush(out);
                let q = q as u64;
                self.copy(out, l.file, l.off - q, dst - q, u64::from(len) + q);
            }
            None => {
                // Extend the copy just made forwards into this chunk.
                let mut p = 0;
                if let (
                    true,
                    Some(Op::CopyFrom {
                        file,
                        src,
                        len: n,
                        dst: d,
                    }),
                ) = (self.lit.is_empty(), out.last())
                {
                    let room = if *file == self.idx {
                        (d - src - n) as usize
                    } else {
                        usize::MAX
                    };
                    let k = bytes.len().min(room);
                    if k > 0 {
                        if let Some(b) = rd(*file, src + n, k) {
                            p = b.iter().zip(bytes).take_while(|(x, y)| x == y).count();
                        }
                    }
                }
                if p > 0 {
                    if let Some(Op::CopyFrom { len: n, .. }) = out.last_mut() {
                        *n += p as u64;
                    }
                    self.tally.copied += p as u64;
                }
                if p < bytes.len() {
                    if self.lit.is_empty() {
                        self.lit_at = dst + p as u64;
                    }
                    self.lit.extend_from_slice(&bytes[p..]);
                }
                // The chunk's final bytes are at `dst` of this file however they got there.
                if self.new.len() < MAX_ENTRIES {
                    self.new.push((key, loc));
                    if self.self_copies && p == 0 {
                        self.own.entry(key).or_insert(loc);
                    }
                }
            }
        }
    }

    /// Append a copy, merged into the previous op when it continues it (a copy within the file
    /// only while its source still ends before its destination).
    fn copy(&mut self, out: &mut Vec<Op>, file: u32, src: u64, dst: u64, len: u64) {
        self.tally.copied += len;
        if let Some(Op::CopyFrom {
            dst: d,
            file: f,
            src: s,
            len: n,
        }) = out.last_mut()
        {
            let fits = file != self.idx || *s + *n + len <= *d;
            if *f == file && *s + *n == src && *d + *n == dst && fits {
                *n += len;
                return;
            }
        }
        self.tally.copies += 1;
        out.push(Op::CopyFrom {
            dst,
            file,
            src,
            len,
        });
    }

    /// Emit the pending literal bytes in pieces of at most `piece`.
    fn flush(&mut self, out: &mut Vec<Op>) {
        self.flush_keep(out, 0);
    }

    /// Emit all but the last `keep` pending literal bytes (the first piece is moved, not copied).
    fn flush_keep(&mut self, out: &mut Vec<Op>, keep: usize) {
        let n = self.lit.len().saturating_sub(keep);
        if n == 0 {
            return;
        }
        self.tally.literal += n as u64;
        let rest = self.lit.split_off(n);
        let mut head = std::mem::replace(&mut self.lit, rest);
        let more = if head.len() > self.piece {
            head.split_off(self.piece)
        } else {
            Vec::new()
        };
        let at = self.lit_at;
        self.lit_at += head.len() as u64;
        out.push(Op::Literal {
            dst: at,
            data: head,
        });
        for p in more.chunks(self.piece) {
            out.push(Op::Literal {
                dst: self.lit_at,
                data: p.to_vec(),
            });
            self.lit_at += p.len() as u64;
        }
    }
}

#[cfg(test)]
mod tests;
