//! Fixed-block signatures: one (weak u32, truncated strong) record per basis block, and their
//! message encoding.
//!
//! Why shared: the rsync engine (rolling checksum + `--checksum-choice` sum truncated to s2length,
//! algorithms.md §2) and skysync-f (CRC-32 + SHA-256 per 8 KiB block, §4.1) differ only in the
//! weak function, the block length rule and the strong kind, so both send the same header
//! {weak kind, strong kind, s2length, block length, file length} followed by batches of records.
//! Records are cut into batches so no message approaches the frame limit even for 700-byte blocks
//! of a huge file; the decoder grows its tables only with records actually received, so a header
//! announcing a huge file costs nothing until the data arrives.

use rayon::prelude::*;

use super::super::hash::{crc32, md4x, rollsum, CrcKind, StrongKind};
use super::super::ops::{bad, put_uv, MsgReader};
use super::super::EngineError;

/// Largest block length accepted from a peer (rsync's MAX_BLOCK_SIZE is 2^17; we allow slack).
pub const MAX_BLOCK_LEN: u32 = 1 << 24;
/// Records per signature batch message.
const BATCH: usize = 32 * 1024;
/// Blocks per hashing task.
const GROUP: usize = 32;
/// Basis files at least this large hash their blocks on all cores.
const PAR_MIN: usize = 1 << 20;
/// Bytes of basis hashed between drops of its mapped pages (at least one group per thread).
const WINDOW: usize = 4 << 20;

const TAG_HEADER: u8 = 1;
const TAG_BATCH: u8 = 2;

/// The weak function of a fixed-block engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum WeakKind {
    /// rsync's rolling checksum (`get_checksum1`).
    RollSum = 1,
    /// CRC-32 (IEEE) over the block, rolled with a window table (skysync-f).
    Crc32 = 2,
    /// librsync's rollsum (rdiff signatures, [`crate::engine::rdiff`]).
    Librsync = 3,
}

impl WeakKind {
    fn from_u8(v: u8) -> Option<WeakKind> {
        match v {
            1 => Some(WeakKind::RollSum),
            2 => Some(WeakKind::Crc32),
            3 => Some(WeakKind::Librsync),
            _ => None,
        }
    }
    /// Weak value of a whole block; `soft` picks the portable byte-loop / table code (the
    /// papers' hw=0) over the vectorized rolling sum and the PCLMUL CRC. Same value either way.
    pub fn of_with(self, block: &[u8], soft: bool) -> u32 {
        match (self, soft) {
            (WeakKind::RollSum, false) => rollsum::checksum1(block),
            (WeakKind::RollSum, true) => rollsum::RollSum::new_scalar(block).digest(),
            (WeakKind::Crc32, false) => crc32(block),
            (WeakKind::Crc32, true) => CrcKind::Crc32.update_sw(0, block),
            (WeakKind::Librsync, _) => crate::engine::rdiff::LibSum::new(block).digest(),
        }
    }
}

/// Everything both halves must agree on for one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigParams {
    pub weak: WeakKind,
    pub strong: StrongKind,
    /// Bytes of the strong digest kept per block (rsync's s2length).
    pub slen: u8,
    pub block_len: u32,
}

/// The block records of one basis file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub params: SigParams,
    pub file_len: u64,
    pub weak: Vec<u32>,
    /// `slen` bytes per block, concatenated.
    pub strong: Vec<u8>,
}

/// Number of blocks of a file.
fn block_count(file_len: u64, block_len: u32) -> u64 {
    file_len.div_ceil(block_len as u64)
}

impl Signature {
    /// Hash every block of `basis` (on all cores when `parallel` and the file is large), writing
    /// the records in place so no per-block temporaries are held, a window at a time whose mapped
    /// pages are dropped behind ([`crate::engine::filemap`]).
    #[cfg(test)]
    pub fn compute(basis: &[u8], params: SigParams, parallel: bool) -> Signature {
        Signature::compute_with(basis, params, parallel, false)
    }

    /// [`Signature::compute`] with the weak sums by the portable code when `soft`.
    pub fn compute_with(basis: &[u8], params: SigParams, parallel: bool, soft: bool) -> Signature {
        let b = params.block_len as usize;
        let slen = params.slen as usize;
        // A stride of at least one byte keeps the record slots zippable when slen is 0.
        let stride = slen.max(1);
        let count = basis.len().div_ceil(b);
        let mut weak = vec![0u32; count];
        let mut strong = vec![0u8; count * stride];
        // Blocks are hashed in groups so MD4 can take eight blocks at once (multi-buffer).
        let group = |(data, (w, s)): (&[u8], (&mut [u32], &mut [u8]))| {
            for (blk, wv) in data.chunks(b).zip(w.iter_mut()) {
                *wv = params.weak.of_with(blk, soft);
            }
            let slots = s.chunks_mut(stride);
            if params.strong == StrongKind::Md4 {
                for (d, sl) in md4x::md4_blocks(data, b).iter().zip(slots) {
                    sl[..slen].copy_from_slice(&d[..slen]);
                }
            } else {
                for (blk, sl) in data.chunks(b).zip(slots) {
                    sl[..slen].copy_from_slice(&params.strong.digest(blk).as_bytes()[..slen]);
                }
            }
        };
        let (gb, gs) = (b * GROUP, GROUP * stride);
        let parallel = parallel && basis.len() >= PAR_MIN;
        // A window of whole groups at a time, its mapped pages dropped once hashed (bounded
        // resident set); wide enough to give every thread groups of its own.
        let groups = (WINDOW / gb).max(if parallel {
            rayon::current_num_threads()
        } else {
            1
        });
        crate::engine::filemap::in_windows(basis, gb * groups, |r| {
            let first = r.start / b;
            let blocks = r.len().div_ceil(b);
            let data = &basis[r];
            let w = &mut weak[first..first + blocks];
            let s = &mut strong[first * stride..(first + blocks) * stride];
            if parallel {
                data.par_chunks(gb)
                    .zip(w.par_chunks_mut(GROUP).zip(s.par_chunks_mut(gs)))
                    .for_each(group);
            } else {
                data.chunks(gb)
                    .zip(w.chunks_mut(GROUP).zip(s.chunks_mut(gs)))
                    .for_each(group);
            }
        });
        if slen == 0 {
            strong.clear();
        }
        Signature {
            params,
            file_len: basis.len() as u64,
            weak,
            strong,
        }
    }

    pub fn count(&self) -> usize {
        self.weak.len()
    }

    /// Length of block `i` (the last one may be short).
    pub fn block_len_of(&self, i: usize) -> usize {
        let b = self.params.block_len as u64;
        (self.file_len - i as u64 * b).min(b) as usize
    }

    /// Truncated strong sum of block `i`.
    pub fn strong_of(&self, i: usize) -> &[u8] {
        let s = self.params.slen as usize;
        &self.strong[i * s..i * s + s]
    }

    /// Header message followed by record batches.
    pub fn encode(&self) -> Vec<Vec<u8>> {
        let p = &self.params;
        let mut h = vec![TAG_HEADER, p.weak as u8, p.strong as u8, p.slen];
        put_uv(&mut h, p.block_len as u64);
        put_uv(&mut h, self.file_len);
        let mut msgs = vec![h];
        let s = p.slen as usize;
        for first in (0..self.count()).step_by(BATCH) {
            let n = BATCH.min(self.count() - first);
            let mut m = Vec::with_capacity(12 + n * (4 + s));
            m.push(TAG_BATCH);
            put_uv(&mut m, first as u64);
            put_uv(&mut m, n as u64);
            for i in first..first + n {
                m.extend_from_slice(&self.weak[i].to_le_bytes());
                m.extend_from_slice(self.strong_of(i));
            }
            msgs.push(m);
        }
        msgs
    }
}

/// Incremental, defensive decoder of [`Signature::encode`] output.
#[derive(Debug, Default)]
pub struct SigDecoder {
    sig: Option<Signature>,
    count: u64,
}

impl SigDecoder {
    pub fn new() -> SigDecoder {
        SigDecoder::default()
    }

    /// Feed one message; `Ok(true)` once every record has arrived. `expect` checks the weak and
    /// strong kinds against what this side was configured with.
    pub fn feed(
        &mut self,
        msg: &[u8],
        expect: (WeakKind, StrongKind),
    ) -> Result<bool, EngineError> {
        let mut r = MsgReader::new(msg);
        match (r.u8()?, self.sig.as_mut()) {
            (TAG_HEADER, None) => {
                let weak = WeakKind::from_u8(r.u8()?).ok_or_else(|| bad("weak kind"))?;
                let strong = StrongKind::from_u8(r.u8()?).ok_or_else(|| bad("strong kind"))?;
                if (weak, strong) != expect {
                    return Err(bad("signature kinds differ from this side's settings"));
                }
                let slen = r.u8()?;
                if slen as usize > strong.digest_len() {
                    return Err(bad("strong length"));
                }
                let block_len = r.uv_max(MAX_BLOCK_LEN as u64, "block length")? as u32;
                let file_len = r.uv_max(1 << 62, "file length")?;
                if block_len == 0 {
                    return Err(bad("block length"));
                }
                r.end()?;
                self.count = block_count(file_len, block_len);
                self.sig = Some(Signature {
                    params: SigParams {
                        weak,
                        strong,
                        slen,
                        block_len,
                    },
                    file_len,
                    weak: Vec::new(),
                    strong: Vec::new(),
                });
            }
            (TAG_BATCH, Some(sig)) => {
                let first = r.uv()?;
                let s = sig.params.slen as usize;
                let n = r.count(4 + s)?;
                if first != sig.weak.len() as u64 || first + n as u64 > self.count {
                    return Err(bad("signature batch out of sequence"));
                }
                sig.weak.reserve(n);
                sig.strong.reserve(n * s);
                for _ in 0..n {
                    sig.weak.push(r.u32_le()?);
                    sig.strong.extend_from_slice(r.take(s)?);
                }
                r.end()?;
            }
            _ => return Err(bad("unexpected signature message")),
        }
        Ok(self.is_complete())
    }

    pub fn is_complete(&self) -> bool {
        self.sig
            .as_ref()
            .is_some_and(|s| s.weak.len() as u64 == self.count)
    }

    /// The complete signature (None until [`SigDecoder::is_complete`]).
    pub fn take(&mut self) -> Option<Signature> {
        if self.is_complete() {
            self.sig.take()
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> SigParams {
        SigParams {
            weak: WeakKind::RollSum,
            strong: StrongKind::Md5,
            slen: 3,
            block_len: 7,
        }
    }

    #[test]
    fn roundtrip_in_batches() {
        let data: Vec<u8> = (0..(BATCH * 7 + 5) as u32)
            .map(|i| (i * 31) as u8)
            .collect();
        let sig = Signature::compute(&data, params(), true);
        assert_eq!(sig.count(), BATCH + 1);
        assert_eq!(sig.block_len_of(BATCH), 5);
        assert_eq!(sig, Signature::compute(&data, params(), false));
        let msgs = sig.encode();
        assert_eq!(msgs.len(), 3);
        let mut d = SigDecoder::new();
        let expect = (WeakKind::RollSum, StrongKind::Md5);
        assert!(!d.feed(&msgs[0], expect).unwrap());
        assert!(!d.feed(&msgs[1], expect).unwrap());
        assert!(d.feed(&msgs[2], expect).unwrap());
        assert_eq!(d.take().unwrap(), sig);
    }

    #[test]
    fn mapped_basis_gives_the_same_signature_and_is_released() {
        use crate::engine::filemap::testing::{map, rss_kib};
        let data = crate::testkit::pseudo_random((9 << 20) + 333, 12);
        let m = map(&data);
        let mapped: &[u8] = m.as_ref();
        for (b, strong) in [(700, StrongKind::Md5), (10_240, StrongKind::Md4)] {
            let p = SigParams {
                weak: WeakKind::RollSum,
                strong,
                slen: 4,
                block_len: b,
            };
            for parallel in [false, true] {
                let sig = Signature::compute(mapped, p, parallel);
                assert_eq!(sig, Signature::compute(&data, p, false));
                assert_eq!(rss_kib(mapped), 0);
            }
        }
    }

    #[test]
    fn empty_basis_is_complete_after_header() {
        let sig = Signature::compute(&[], params(), false);
        let msgs = sig.encode();
        assert_eq!(msgs.len(), 1);
        let mut d = SigDecoder::new();
        assert!(d
            .feed(&msgs[0], (WeakKind::RollSum, StrongKind::Md5))
            .unwrap());
    }

    #[test]
    fn hostile_messages_are_errors() {
        let expect = (WeakKind::RollSum, StrongKind::Md5);
        let sig = Signature::compute(&[1u8; 100], params(), false);
        let msgs = sig.encode();
        // Batch before header, wrong kinds, truncation, duplicated batch, garbage.
        assert!(SigDecoder::new().feed(&msgs[1], expect).is_err());
        assert!(SigDecoder::new()
            .feed(&msgs[0], (WeakKind::Crc32, StrongKind::Md5))
            .is_err());
        for cut in 0..msgs[0].len() {
            assert!(SigDecoder::new().feed(&msgs[0][..cut], expect).is_err());
        }
        let mut d = SigDecoder::new();
        d.feed(&msgs[0], expect).unwrap();
        for cut in 0..msgs[1].len() {
            assert!(SigDecoder::new().feed(&msgs[1][..cut], expect).is_err());
        }
        d.feed(&msgs[1], expect).unwrap();
        assert!(d.feed(&msgs[1], expect).is_err());
        // A header announcing an enormous file allocates nothing and then rejects bad batches.
        let mut h = vec![TAG_HEADER, 1, StrongKind::Md5 as u8, 3];
        put_uv(&mut h, 1);
        put_uv(&mut h, 1 << 62);
        let mut d = SigDecoder::new();
        assert!(!d.feed(&h, expect).unwrap());
        let mut b = vec![TAG_BATCH];
        put_uv(&mut b, 0);
        put_uv(&mut b, u64::MAX / 2);
        assert!(d.feed(&b, expect).is_err());
        // slen longer than the digest; zero block length.
        let mut h = vec![TAG_HEADER, 1, StrongKind::Md5 as u8, 17];
        put_uv(&mut h, 1);
        put_uv(&mut h, 1);
        assert!(SigDecoder::new().feed(&h, expect).is_err());
        let mut h = vec![TAG_HEADER, 1, StrongKind::Md5 as u8, 3];
        put_uv(&mut h, 0);
        put_uv(&mut h, 1);
        assert!(SigDecoder::new().feed(&h, expect).is_err());
    }
}
