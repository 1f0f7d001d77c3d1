//! The whole-file BLAKE3 of a file written out of order, computed while it is written.
//!
//! Why: ops arrive in any order (copies as batches are confirmed, literals last — the parasync
//! engine, algorithms.md §6.5), so a streaming hasher only covers the prefix written in order and
//! the receiver used to hash the whole file again after the last op: a serial pass over the file
//! on the critical path, with the file mapped (its size in the resident set). BLAKE3 is a tree
//! hash (BLAKE3 paper §2.1): the chaining value of every aligned power-of-two subtree can be
//! computed on its own and the root merged from those values at the end. So the file is cut into
//! [`BLOCK`]-byte blocks; a block whose bytes are written front to back (the common case, even
//! when the blocks themselves come in any order) is hashed from the written buffers at once, and
//! only blocks written out of order inside themselves (the seams around a literal run) are read
//! back at the end. The result is the standard BLAKE3 of the file, so the sender's digest (or any
//! `b3sum`) verifies it.

use blake3::hazmat::{
    left_subtree_len, merge_subtrees_non_root, merge_subtrees_root, ChainingValue, HasherExt, Mode,
};
use blake3::Hasher;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Block size: 1 MiB, a power-of-two number of BLAKE3 chunks (so blocks are whole subtrees).
pub const BLOCK: u64 = 1 << 20;

enum State {
    /// Nothing written yet.
    Fresh,
    /// The first `next` bytes were written in order and hashed.
    InOrder(Box<Hasher>, u64),
    /// Complete; its chaining value (or, for a one-block file, the root hash).
    Done([u8; 32]),
    /// Written out of order: read back at the end.
    Dirty,
}

/// Incremental BLAKE3 of a file of known length written in any order.
pub struct TreeDigest {
    len: u64,
    blocks: Vec<State>,
}

impl TreeDigest {
    pub fn new(len: u64) -> TreeDigest {
        let n = len.div_ceil(BLOCK).max(1) as usize;
        TreeDigest {
            len,
            blocks: (0..n).map(|_| State::Fresh).collect(),
        }
    }

    fn block_len(&self, b: usize) -> u64 {
        (self.len - b as u64 * BLOCK).min(BLOCK)
    }

    fn hasher(&self, b: usize) -> Hasher {
        let mut h = Hasher::new();
        if self.len > BLOCK {
            h.set_input_offset(b as u64 * BLOCK);
        }
        h
    }

    fn close(&self, h: &Hasher) -> [u8; 32] {
        if self.len > BLOCK {
            h.finalize_non_root()
        } else {
            *h.finalize().as_bytes()
        }
    }

    /// `data` was written at `dst`.
    pub fn write(&mut self, dst: u64, data: &[u8]) {
        let end = dst.saturating_add(data.len() as u64).min(self.len);
        let mut at = dst;
        while at < end {
            let b = (at / BLOCK) as usize;
            let start = b as u64 * BLOCK;
            let seg_end = end.min(start + self.block_len(b));
            let seg = &data[(at - dst) as usize..(seg_end - dst) as usize];
            let off = at - start;
            let state = std::mem::replace(&mut self.blocks[b], State::Dirty);
            self.blocks[b] = match state {
                State::Fresh if off == 0 => self.advance(b, Box::new(self.hasher(b)), 0, seg),
                State::InOrder(h, next) if off == next => self.advance(b, h, next, seg),
                _ => State::Dirty,
            };
            at = seg_end;
        }
    }

    fn advance(&self, b: usize, mut h: Box<Hasher>, next: u64, seg: &[u8]) -> State {
        h.update(seg);
        let next = next + seg.len() as u64;
        if next == self.block_len(b) {
            State::Done(self.close(&h))
        } else {
            State::InOrder(h, next)
        }
    }

    /// `len` bytes at `dst` were written without passing through this digest (a kernel copy):
    /// the blocks they touch are read back at the end.
    pub fn skip(&mut self, dst: u64, len: u64) {
        if len == 0 || dst >= self.len {
            return;
        }
        let last = ((dst + len).min(self.len) - 1) / BLOCK;
        for b in dst / BLOCK..=last {
            self.blocks[b as usize] = State::Dirty;
        }
    }

    /// Forget everything hashed: the file was changed behind this digest's back.
    pub fn invalidate(&mut self) {
        self.blocks.iter_mut().for_each(|s| *s = State::Dirty);
    }

    /// The BLAKE3 of `file`'s first `len` bytes: blocks not hashed while written are read back
    /// (in parallel). A `len` other than the one announced hashes the whole file.
    pub fn finish(mut self, file: &File, len: u64) -> io::Result<[u8; 32]> {
        if len != self.len {
            self = TreeDigest::new(len);
        }
        if len == 0 {
            return Ok(*Hasher::new().finalize().as_bytes());
        }
        let todo: Vec<usize> = (0..self.blocks.len())
            .filter(|&b| !matches!(self.blocks[b], State::Done(_)))
            .collect();
        let this = &self;
        let read = |b: usize| -> io::Result<[u8; 32]> {
            let mut buf = vec![0u8; this.block_len(b) as usize];
            file.read_exact_at(&mut buf, b as u64 * BLOCK)?;
            let mut h = this.hasher(b);
            h.update(&buf);
            Ok(this.close(&h))
        };
        let redone: Vec<io::Result<[u8; 32]>> = if todo.len() > 1 {
            use rayon::prelude::*;
            todo.par_iter().map(|&b| read(b)).collect()
        } else {
            todo.iter().map(|&b| read(b)).collect()
        };
        for (b, r) in todo.into_iter().zip(redone) {
            self.blocks[b] = State::Done(r?);
        }
        let cvs: Vec<ChainingValue> = self
            .blocks
            .iter()
            .map(|s| match s {
                State::Done(cv) => *cv,
                _ => unreachable!("every block was completed above"),
            })
            .collect();
        if cvs.len() == 1 {
            return Ok(cvs[0]);
        }
        Ok(root(&cvs, len))
    }
}

/// Root hash of a file of `len` > BLOCK bytes from its block chaining values.
fn root(cvs: &[ChainingValue], len: u64) -> [u8; 32] {
    let left = left_subtree_len(len);
    let nl = (left / BLOCK) as usize;
    let l = subtree(&cvs[..nl], left);
    let r = subtree(&cvs[nl..], len - left);
    *merge_subtrees_root(&l, &r, Mode::Hash).as_bytes()
}

/// Chaining value of the subtree over `cvs` (`len` bytes; every left split of a subtree longer
/// than a block is a multiple of the block size, so splits fall on block boundaries).
fn subtree(cvs: &[ChainingValue], len: u64) -> ChainingValue {
    if len <= BLOCK {
        return cvs[0];
    }
    let left = left_subtree_len(len);
    let nl = (left / BLOCK) as usize;
    let l = subtree(&cvs[..nl], left);
    let r = subtree(&cvs[nl..], len - left);
    merge_subtrees_non_root(&l, &r, Mode::Hash)
}

/// BLAKE3 of the first `len` bytes of `file`, read block by block in parallel (bounded memory:
/// no mapping of the whole file).
pub fn digest_file(file: &File, len: u64) -> io::Result<[u8; 32]> {
    TreeDigest::new(len).finish(file, len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(data: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(data).unwrap();
        f
    }

    #[test]
    fn equals_blake3_for_every_shape_and_write_order() {
        let sizes = [
            0,
            1,
            1024,
            1025,
            BLOCK - 1,
            BLOCK,
            BLOCK + 1,
            2 * BLOCK,
            3 * BLOCK + 4097,
            5 * BLOCK - 3,
            8 * BLOCK + 1,
        ];
        for (i, &n) in sizes.iter().enumerate() {
            let data = crate::testkit::pseudo_random(n as usize, i as u64 + 1);
            let want = *blake3::hash(&data).as_bytes();
            let f = file_with(&data);
            assert_eq!(digest_file(&f, n).unwrap(), want, "read back, {n}");
            // In order in uneven pieces.
            let mut d = TreeDigest::new(n);
            for piece in data.chunks(77_777) {
                let at = piece.as_ptr() as usize - data.as_ptr() as usize;
                d.write(at as u64, piece);
            }
            assert_eq!(d.finish(&f, n).unwrap(), want, "in order, {n}");
            // Pieces in a scrambled order: only out-of-order blocks are read back.
            let pieces: Vec<(usize, &[u8])> = data
                .chunks(300_001)
                .enumerate()
                .map(|(k, p)| (k * 300_001, p))
                .collect();
            let mut d = TreeDigest::new(n);
            for (at, p) in pieces.iter().rev() {
                d.write(*at as u64, p);
            }
            assert_eq!(d.finish(&f, n).unwrap(), want, "reversed, {n}");
        }
    }

    #[test]
    fn what_the_file_holds_wins_over_what_was_hashed() {
        let data = crate::testkit::pseudo_random(3 * BLOCK as usize, 9);
        let f = file_with(&data);
        let mut d = TreeDigest::new(data.len() as u64);
        d.write(0, &vec![1u8; data.len()]);
        // The hashed bytes were not what the file holds: an overwrite marks blocks dirty...
        d.write(10, &data[10..20]);
        d.invalidate();
        assert_eq!(
            d.finish(&f, data.len() as u64).unwrap(),
            *blake3::hash(&data).as_bytes()
        );
        // ...and a different final length hashes the file as it is.
        let d = TreeDigest::new(5);
        assert_eq!(
            d.finish(&f, data.len() as u64).unwrap(),
            *blake3::hash(&data).as_bytes()
        );
    }
}
