//! Test helpers shared by the unit tests of several modules.

/// Deterministic pseudo-random bytes (xorshift64): the same `seed` gives the same data.
pub(crate) fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
