//! skysync-f: SkySync's fixed-size-chunking engine (FAST'26; algorithms.md §4.1).
//!
//! The receiver's signature is one {CRC-32, SHA-256} record per 8 KiB basis block — what the
//! paper reads from storage metadata (Btrfs checksums / fs-verity), computed here. The sender
//! first copies the identical aligned prefix by comparing records (no byte search), then runs an
//! rsync-style search with a CRC-32 rolled over an 8 KiB window, recomputing the CRC from scratch
//! after each match and extending a copy only when the basis offset is contiguous.
//!
//! Defects of the reference we do not copy (§10 D1): the rolling table is built for the real
//! window (8192, not 4096), the CRC is recomputed after a match, and copies merge only when both
//! offsets are contiguous — offset 0 is a normal offset, not a "no copy pending" sentinel. The
//! short last block may also match the new file's tail (the reference always sent it literally).
//! The search, segment parallelism and message format are shared with the rsync engine.

use super::hash::StrongKind;
use super::rsync::halves::{BlockReceiver, BlockSender, Flavor};
use super::rsync::sig::WeakKind;
use super::{EngineParams, ReceiverHalf, SenderHalf, Shared};

/// The reference's `DefaultWindowSize` / `CHUNK_SIZE`.
pub const BLOCK: u32 = 8192;

fn sizes(_len: u64, _params: &EngineParams, kind: StrongKind) -> (u32, u8) {
    (BLOCK, kind.digest_len() as u8)
}

const FLAVOR: Flavor = Flavor {
    weak: WeakKind::Crc32,
    strong: StrongKind::Sha256,
    sizes,
    prefix_skip: true,
};

pub fn receiver(params: &EngineParams, basis: Shared) -> Box<dyn ReceiverHalf> {
    Box::new(BlockReceiver::new(FLAVOR, params, basis))
}

pub fn sender(params: &EngineParams, source: Shared) -> Box<dyn SenderHalf> {
    Box::new(BlockSender::new(FLAVOR, params, source))
}
