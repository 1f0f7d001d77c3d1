//! The classic rsync engine (Tridgell & Mackerras; rsync 3.x rules, algorithms.md §2).
//!
//! Receiver: cut the basis into fixed blocks of B bytes (rsync's √len rule, or `--block-size`),
//! send {rolling checksum, strong sum truncated to s2length} per block. Sender: rolling search
//! over the new file (`search`), ops with absolute offsets, literal pieces ≤ 32 KiB.
//! Strong sum: `--checksum-choice` (rsync spellings), default xxh128 as rsync 3.2 negotiates;
//! with an explicit hw setting and no choice, librsync's (hw=0 BLAKE2, hw=1 MD4). hw=0 also
//! computes the weak sums with the portable byte loop.
//! Both halves are multi-threaded: blocks are hashed in parallel and the search runs as
//! overlapping segments merged to exactly the serial result (issue 12).
//!
//! The fixed-block machinery here (`sig`, `search`, `halves`) is shared with skysync-f.

pub(crate) mod halves;
pub(crate) mod search;
pub(crate) mod sig;

use super::hash::StrongKind;
use super::{EngineParams, ReceiverHalf, SenderHalf, Shared};
use halves::{BlockReceiver, BlockSender, Flavor};
use sig::WeakKind;

/// rsync BLOCK_SIZE: the block length of files up to 700² bytes and the rule's minimum.
pub const BLOCK_SIZE: u32 = 700;
/// rsync MAX_BLOCK_SIZE (protocol ≥ 30).
pub const MAX_BLOCK_SIZE: u32 = 1 << 17;
/// rsync SUM_LENGTH: the longest per-block strong sum.
pub const SUM_LENGTH: u8 = 16;
/// rsync SHORT_SUM_LENGTH (csum_length): the shortest per-block strong sum.
pub const SHORT_SUM_LENGTH: u8 = 2;
/// rsync BLOCKSUM_BIAS.
const BLOCKSUM_BIAS: i32 = 10;

/// rsync's `sum_sizes_sqroot` block length: 700 up to 700² bytes, else ≈√len built bit by bit
/// from the top, rounded down to a multiple of 8, within [700, 131072]. `forced` is
/// `--block-size` (clamped to [1, MAX_BLOCK_SIZE]).
pub fn block_len(len: u64, forced: Option<u32>) -> u32 {
    if let Some(b) = forced.filter(|b| *b > 0) {
        return b.min(MAX_BLOCK_SIZE);
    }
    let bs = BLOCK_SIZE as u64;
    if len <= bs * bs {
        return BLOCK_SIZE;
    }
    let mut c: u64 = 1;
    let mut l = len;
    loop {
        l >>= 2;
        if l == 0 {
            break;
        }
        c <<= 1;
    }
    if c >= MAX_BLOCK_SIZE as u64 {
        return MAX_BLOCK_SIZE;
    }
    let mut b: u64 = 0;
    while c >= 8 {
        b |= c;
        if len < b * b {
            b &= !c;
        }
        c >>= 1;
    }
    b.max(bs) as u32
}

/// rsync's s2length: enough strong bytes that a false block match over the whole file stays
/// unlikely — BLOCKSUM_BIAS + 2·log2(len) − log2(B) bits, plus one, minus the 32 weak bits —
/// within [2, 16] and never more than the digest has.
pub fn s2length(len: u64, block_len: u32, kind: StrongKind) -> u8 {
    let mut b = BLOCKSUM_BIAS;
    let mut l = len;
    loop {
        l >>= 1;
        if l == 0 {
            break;
        }
        b += 2;
    }
    let mut c = block_len;
    loop {
        c >>= 1;
        if c == 0 || b == 0 {
            break;
        }
        b -= 1;
    }
    let s = ((b + 1 - 32 + 7) / 8).clamp(SHORT_SUM_LENGTH as i32, SUM_LENGTH as i32);
    (s as usize).min(kind.digest_len()) as u8
}

/// The block strong sum chosen by `--checksum-choice`; without one, the papers' librsync
/// baseline for an explicit hw setting (hw=0 BLAKE2, hw=1 MD4; algorithms.md §2.1, §6.6), else
/// xxh128 as rsync 3.2+ negotiates.
pub fn strong_kind(params: &EngineParams) -> StrongKind {
    let by_hw = match params.hw {
        Some(false) => StrongKind::Blake2,
        Some(true) => StrongKind::Md4,
        None => StrongKind::DEFAULT,
    };
    params
        .checksum_choice
        .as_deref()
        .and_then(StrongKind::parse_choice)
        .unwrap_or(by_hw)
}

fn sizes(len: u64, params: &EngineParams, kind: StrongKind) -> (u32, u8) {
    let b = block_len(len, params.block_size);
    (b, s2length(len, b, kind))
}

fn flavor(params: &EngineParams) -> Flavor {
    Flavor {
        weak: WeakKind::RollSum,
        strong: strong_kind(params),
        sizes,
        prefix_skip: false,
    }
}

pub fn receiver(params: &EngineParams, basis: Shared) -> Box<dyn ReceiverHalf> {
    Box::new(BlockReceiver::new(flavor(params), params, basis))
}

pub fn sender(params: &EngineParams, source: Shared) -> Box<dyn SenderHalf> {
    Box::new(BlockSender::new(flavor(params), params, source))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn block_length_rule_matches_rsync() {
        assert_eq!(block_len(0, None), 700);
        assert_eq!(block_len(490_000, None), 700);
        assert_eq!(block_len(MIB, None), 1024);
        assert_eq!(block_len(10 * MIB, None), 3232);
        assert_eq!(block_len(100 * MIB, None), 10240);
        assert_eq!(block_len(1 << 30, None), 32768);
        assert_eq!(block_len(16 << 30, None), 131072);
        assert_eq!(block_len(1 << 50, None), 131072);
        assert_eq!(block_len(100 * MIB, Some(4096)), 4096);
        assert_eq!(block_len(100 * MIB, Some(1 << 30)), MAX_BLOCK_SIZE);
        assert_eq!(block_len(100 * MIB, Some(0)), 10240);
        for len in [490_001u64, 777_777, 5 * MIB + 3, 999 * MIB] {
            let b = block_len(len, None);
            // Multiples of 8 with b² ≤ len, except where the 700 floor applies.
            assert!(b == 700 || (b.is_multiple_of(8) && (b as u64) * (b as u64) <= len));
        }
    }

    #[test]
    fn strong_length_rule_matches_rsync() {
        let k = StrongKind::Xxh128;
        assert_eq!(s2length(100 * MIB, 10240, k), 3);
        assert_eq!(s2length(16 << 30, 131072, k), 4);
        assert_eq!(s2length(1000, 700, k), 2);
        assert_eq!(s2length(1 << 60, 700, k), 12);
        assert_eq!(s2length(u64::MAX, 1, k), 14);
        assert_eq!(s2length(u64::MAX, 1, StrongKind::Xxh64), 8);
        assert_eq!(s2length(u64::MAX, 1, StrongKind::None), 0);
    }

    #[test]
    fn checksum_choice_selects_the_block_sum() {
        let mut p = EngineParams::default();
        assert_eq!(strong_kind(&p), StrongKind::Xxh128);
        p.checksum_choice = Some("md5,md5".into());
        assert_eq!(strong_kind(&p), StrongKind::Md5);
        p.checksum_choice = Some("blake3".into());
        assert_eq!(strong_kind(&p), StrongKind::Blake3);
        p.hw = Some(true);
        assert_eq!(strong_kind(&p), StrongKind::Blake3);
        p.checksum_choice = None;
        assert_eq!(strong_kind(&p), StrongKind::Md4);
        p.hw = Some(false);
        assert_eq!(strong_kind(&p), StrongKind::Blake2);
    }
}
