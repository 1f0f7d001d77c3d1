//! Engine `skysync-c` (SkySync, FAST'26, "collaborative delta generation"; algorithms.md §4.2).
//!
//! Why: the storage layer already keeps a CRC per fixed block (Btrfs data checksums), so a chunk's
//! CRC can be *derived* by combining block CRCs and checksumming only the gaps at the chunk's ends,
//! instead of re-reading the whole chunk. Here the per-8 KiB block CRCs are computed once (the
//! artifact's `calc_fsc_hw` emulation of that metadata), in the chunking pass just ahead of the
//! chunk that needs them, so the file is read once; each chunk then CRCs at most half a block
//! at each end, cancelling a longer prefix or suffix of the block with the CRC algebra (combine,
//! and the zero-byte removal of `hash::crc` for a suffix).
//! With `--hw` every chunk CRC is computed directly, as in the artifact. Protocol: dsync's
//! ([`super::cdc`]), strong SHA-256.

use super::cdc::{self, crc32, crc32_combine, crc32_shift, Profile, Rec, Strong};
use super::chunker::{self, Config};
use super::hash::CrcKind;
use super::{EngineParams, Shared};

/// FSC block size of the emulated storage metadata (`DefaultWindowSize` = 8192).
pub const BLOCK: usize = 8192;

/// CRC-32 of `data[s..e]` from the per-block CRCs `blocks` (block i = `data[i·BLOCK..]`, ≤ BLOCK).
pub fn derive_crc(data: &[u8], blocks: &[u32], s: usize, e: usize) -> u32 {
    let mut pos = s;
    let mut crc = 0u32;
    if !s.is_multiple_of(BLOCK) {
        let bs = s - s % BLOCK;
        let be = (bs + BLOCK).min(data.len());
        if e < be {
            return crc32(&data[s..e]);
        }
        crc = if be - s <= BLOCK / 2 {
            crc32(&data[s..be])
        } else {
            // Cancel the (shorter) prefix: CRC(B) = CRC(A‖B) ⊕ shift(CRC(A), |B|).
            blocks[bs / BLOCK] ^ crc32_shift(crc32(&data[bs..s]), (be - s) as u64)
        };
        pos = be;
    }
    while pos + BLOCK <= e {
        crc = crc32_combine(crc, blocks[pos / BLOCK], BLOCK as u64);
        pos += BLOCK;
    }
    if pos < e {
        let be = pos + BLOCK;
        let tail = if e - pos <= BLOCK / 2 || be > data.len() {
            crc32(&data[pos..e])
        } else {
            // Cancel the (shorter) suffix B of the block A‖B: shift(CRC(A), |B|) = CRC(A‖B) ⊕
            // CRC(B), then undo the shift with the x^−8n multiplication behind `remove0`.
            let shifted = blocks[pos / BLOCK] ^ crc32(&data[e..be]);
            !CrcKind::Crc32.remove0(!shifted, (be - e) as u64)
        };
        crc = crc32_combine(crc, tail, (e - pos) as u64);
    }
    crc
}

fn chunk(data: &Shared, p: &EngineParams) -> Vec<Rec> {
    let data: &[u8] = (**data).as_ref();
    if p.hw == Some(true) {
        return super::dsync::chunk_crc(&Config::DSYNC_NC, data, super::hash::CrcKind::Crc32);
    }
    // The block CRCs are computed as far as each chunk needs them, so blocks, chunks and their
    // derived CRCs are one pass over the file whose pages are dropped behind it.
    let mut blocks: Vec<u32> = Vec::with_capacity(data.len().div_ceil(BLOCK));
    chunker::chunk_map(&Config::DSYNC_NC, data, |c| {
        let (s, e) = (c.off as usize, (c.off + c.len as u64) as usize);
        while blocks.len() * BLOCK < e {
            let a = blocks.len() * BLOCK;
            blocks.push(cdc::crc32(&data[a..data.len().min(a + BLOCK)]));
        }
        Rec {
            off: c.off,
            len: c.len,
            weak: derive_crc(data, &blocks, s, e),
        }
    })
}

fn strong(_: &EngineParams) -> Strong {
    Strong::Sha256
}

pub const PROFILE: Profile = Profile {
    chunk,
    strong,
    parallel: false,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_crc_equals_direct() {
        let data: Vec<u8> = (0..50_000u32)
            .map(|i| ((i * 31) ^ (i >> 5)) as u8)
            .collect();
        let blocks: Vec<u32> = data.chunks(BLOCK).map(crc32).collect();
        for (s, e) in [
            (0, 8192),
            (0, 100),
            (100, 9000),
            (5000, 30000),
            (8191, 8193),
            (40000, 50000),
            (3, 49999),
        ] {
            assert_eq!(
                derive_crc(&data, &blocks, s, e),
                crc32(&data[s..e]),
                "{s}..{e}"
            );
        }
    }
}
