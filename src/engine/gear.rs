//! Gear hash table and cut masks (FastCDC; algorithms.md §1.1, §1.3).
//!
//! Why a generated table: the Gear hash only needs 256 independent, uniformly random 64-bit values;
//! we derive ours from a fixed splitmix64 seed at compile time, so boundaries are stable across
//! builds and platforms (golden files in tests/data pin them) without shipping a literal table.
//!
//! Why masks only in bits 16..47: `fp ← (fp << 1) + G[b]` forgets a byte after 64 steps, and a
//! mask whose lowest set bit is 16 and highest is 47 makes the cut decision at position i depend on
//! bytes i−47..i only. That bounded memory is what lets segments be scanned in parallel after a
//! 64-byte warm-up (algorithms.md §6.2, defect D2).

/// splitmix64 step, usable in const context.
const fn splitmix(state: u64) -> (u64, u64) {
    let s = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = s;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (s, z ^ (z >> 31))
}

const fn make_table() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut state = 0x7061_7261_7379_6e63; // "parasync"
    let mut i = 0;
    while i < 256 {
        let (s, v) = splitmix(state);
        state = s;
        t[i] = v;
        i += 1;
    }
    t
}

/// The Gear table.
pub static GEAR: [u64; 256] = make_table();

/// Bytes after which the Gear state no longer depends on older input (u64 shifted left per byte).
pub const MEMORY: usize = 64;

/// Positions (in bits 16..47) from which masks are built, most significant first; taking the first
/// n positions gives nested masks, so a position that passes a harder mask passes every easier one
/// (needed by the parallel scan with normalized chunking, which records candidates of the easiest
/// mask and marks the ones that also pass the harder one).
const BIT_ORDER: [u32; 32] = [
    47, 31, 39, 23, 43, 27, 35, 19, 45, 29, 37, 21, 41, 25, 33, 17, 46, 30, 38, 22, 42, 26, 34, 18,
    44, 28, 36, 20, 40, 24, 32, 16,
];

/// A mask with `bits` set bits (1..=32) in positions 16..47; average candidate gap is 2^bits.
pub const fn mask(bits: u32) -> u64 {
    let mut m = 0u64;
    let mut i = 0;
    while i < bits as usize && i < 32 {
        m |= 1u64 << BIT_ORDER[i];
        i += 1;
    }
    m
}

/// One Gear step.
#[inline(always)]
pub fn step(fp: u64, b: u8) -> u64 {
    (fp << 1).wrapping_add(GEAR[b as usize])
}

/// Gear state after hashing `bytes` from state 0 (only the last [`MEMORY`] bytes matter).
pub fn warm(bytes: &[u8]) -> u64 {
    let tail = &bytes[bytes.len().saturating_sub(MEMORY)..];
    tail.iter().fold(0, |fp, &b| step(fp, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_are_nested_and_sized() {
        for b in 1..=32 {
            assert_eq!(mask(b).count_ones(), b);
            assert_eq!(mask(b) & mask(b - 1), mask(b - 1));
            assert_eq!(mask(b) & 0xffff, 0);
            assert_eq!(mask(b) >> 48, 0);
        }
    }

    #[test]
    fn warm_equals_long_scan() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let full = data.iter().fold(0u64, |fp, &b| step(fp, b));
        assert_eq!(warm(&data), full);
        assert_eq!(warm(&data[900..]), full);
    }

    #[test]
    fn table_is_distinct() {
        let mut v = GEAR.to_vec();
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), 256);
    }
}
