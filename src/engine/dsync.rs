//! Engine `dsync` (He, Xiang, Xia et al., MSST'20; algorithms.md §3, design.md §4).
//!
//! Why this shape: dsync replaces rsync's byte-wise window search with CDC on both files and
//! splits matching: the new-file side sends only its *distinct* CRC-32 chunk hashes, the basis side
//! strong-hashes only its chunks whose CRC was received, and the new-file side confirms (2 round
//! trips). The flow itself lives in [`super::cdc`]; this file only picks the pieces:
//! normalized Gear 4/8/12 KiB (Dsync "method 4"), CRC-32 weak, SHA-1 strong — CRC-32C (SSE4.2)
//! and SHA-256 with `--hw`, table-driven CRC-32 with `--no-hw`, as the reference harness does
//! (§6.6). Everything runs on one thread, like the reference.

use super::cdc::{Profile, Rec, Strong};
use super::chunker::{self, Config};
use super::hash::CrcKind;
use super::{EngineParams, Shared};

/// Chunk serially with `cfg` and CRC every chunk (CRC-32, or CRC-32C with `--hw`).
pub fn chunk_crc(cfg: &Config, data: &[u8], kind: CrcKind) -> Vec<Rec> {
    chunk_with(cfg, data, |b| kind.checksum(b))
}

/// One pass: each chunk is CRCed as soon as it is cut, and the mapped pages behind are dropped
/// ([`chunker::chunk_map`]).
fn chunk_with(cfg: &Config, data: &[u8], crc: impl Fn(&[u8]) -> u32) -> Vec<Rec> {
    chunker::chunk_map(cfg, data, |c| Rec {
        off: c.off,
        len: c.len,
        weak: crc(&data[c.off as usize..(c.off + c.len as u64) as usize]),
    })
}

/// hw=1: CRC-32C (SSE4.2); hw=0: CRC-32 by the portable table code; default: PCLMUL CRC-32.
fn chunk(data: &Shared, p: &EngineParams) -> Vec<Rec> {
    let (cfg, data) = (&Config::DSYNC_NC, (**data).as_ref());
    match p.hw {
        Some(true) => chunk_crc(cfg, data, CrcKind::Crc32c),
        Some(false) => chunk_with(cfg, data, |b| CrcKind::Crc32.update_sw(0, b)),
        None => chunk_crc(cfg, data, CrcKind::Crc32),
    }
}

fn strong(p: &EngineParams) -> Strong {
    if p.hw == Some(true) {
        Strong::Sha256
    } else {
        Strong::Sha1
    }
}

pub const PROFILE: Profile = Profile {
    chunk,
    strong,
    parallel: false,
};
