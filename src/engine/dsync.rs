//! Engine `dsync` (He, Xiang, Xia et al., MSST'20; algorithms.md §3, design.md §4).
//!
//! Why this shape: dsync replaces rsync's byte-wise window search with CDC on both files and
//! splits matching: the new-file side sends only its *distinct* CRC-32 chunk hashes, the basis side
//! strong-hashes only its chunks whose CRC was received, and the new-file side confirms (2 round
//! trips). The flow itself lives in [`super::cdc`]; this file only picks the pieces:
//! normalized Gear 4/8/12 KiB (Dsync "method 4"), CRC-32 weak, SHA-1 strong — CRC-32C (SSE4.2)
//! and SHA-256 with `--hw`,
//! as the reference harness does (§6.6). Everything runs on one thread, like the reference.

use super::cdc::{Profile, Rec, Strong};
use super::chunker::{self, Config};
use super::hash::CrcKind;
use super::{EngineParams, Shared};

/// Chunk serially with `cfg` and CRC every chunk (CRC-32, or CRC-32C with `--hw`).
pub fn chunk_crc(cfg: &Config, data: &[u8], kind: CrcKind) -> Vec<Rec> {
    chunker::chunk(cfg, data)
        .into_iter()
        .map(|c| Rec {
            off: c.off,
            len: c.len,
            weak: kind.checksum(&data[c.off as usize..(c.off + c.len as u64) as usize]),
        })
        .collect()
}

fn chunk(data: &Shared, p: &EngineParams) -> Vec<Rec> {
    let kind = if p.hw == Some(true) {
        CrcKind::Crc32c
    } else {
        CrcKind::Crc32
    };
    chunk_crc(&Config::DSYNC_NC, (**data).as_ref(), kind)
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
