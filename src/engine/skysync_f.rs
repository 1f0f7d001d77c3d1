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
//!
//! hw (§6.6): hw=0 (`--no-hw`) computes block CRCs — the signature, the aligned-prefix check and
//! the recomputation after a match — with the portable table code, as the reference's software
//! path; otherwise PCLMUL-folded CRC-32 (crc32fast). SHA-256 either way (sha2 uses SHA-NI when
//! the CPU has it). The values are the same, so the two ends need not agree.

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{apply_ops, run_local, EngineId, Op};
    use std::sync::Arc;

    fn data(n: usize, seed: u64) -> Vec<u8> {
        crate::testkit::pseudo_random(n, seed)
    }

    fn ops(old: &[u8], new: &[u8]) -> Vec<Op> {
        let p = EngineParams::default();
        let (ops, _) = run_local(
            EngineId::SkysyncF,
            &p,
            Arc::new(old.to_vec()),
            Arc::new(new.to_vec()),
        )
        .unwrap();
        assert_eq!(apply_ops(old, &ops, new.len() as u64).unwrap(), new);
        ops
    }

    #[test]
    fn identical_files_are_one_prefix_copy() {
        let old = data(3 * 8192 + 100, 1);
        let len = old.len() as u64;
        assert_eq!(
            ops(&old, &old),
            vec![Op::Copy {
                dst: 0,
                src: 0,
                len
            }]
        );
    }

    #[test]
    fn shifted_file_matches_from_basis_offset_zero_including_the_short_tail() {
        // §10 D1: offset 0 is a real copy source, and the short last block matches at the end.
        let old = data(3 * 8192 + 100, 2);
        let mut new = b"12345".to_vec();
        new.extend_from_slice(&old);
        assert_eq!(
            ops(&old, &new),
            vec![
                Op::Literal {
                    dst: 0,
                    data: b"12345".to_vec()
                },
                Op::Copy {
                    dst: 5,
                    src: 0,
                    len: old.len() as u64
                },
            ]
        );
    }

    #[test]
    fn copies_merge_only_when_basis_offsets_are_contiguous() {
        let old = data(4 * 8192, 3);
        let mut new = old.clone();
        // Swap blocks 1 and 2.
        new[8192..16384].copy_from_slice(&old[16384..24576]);
        new[16384..24576].copy_from_slice(&old[8192..16384]);
        let got = ops(&old, &new);
        let copies: Vec<(u64, u64, u64)> = got
            .iter()
            .map(|o| match o {
                Op::Copy { dst, src, len } => (*dst, *src, *len),
                _ => panic!("unexpected literal {o:?}"),
            })
            .collect();
        assert_eq!(
            copies,
            vec![
                (0, 0, 8192),
                (8192, 16384, 8192),
                (16384, 8192, 8192),
                (24576, 24576, 8192)
            ]
        );
    }
}
