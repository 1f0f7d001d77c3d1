//! The rsync rolling checksum (Tridgell's weak sum), with rsync 3.x semantics.
//!
//! Over a window x[0..k): s1 = Σ (x_i + CHAR_OFFSET), s2 = Σ (k − i)(x_i + CHAR_OFFSET), both kept
//! modulo 2^32 and reported as `(s1 & 0xffff) | s2 << 16` (rsync `get_checksum1`, algorithms.md
//! §1.1). rsync uses CHAR_OFFSET = 0 and reads the data as *signed* chars (`schar` in checksum.c and
//! match.c), so byte 0xFF contributes −1; we do the same so the values equal rsync's. Rolling by one
//! byte is O(1): s1 −= out; s2 −= k·out; s1 += in; s2 += s1. Near the end of a file rsync shrinks the
//! window instead (roll out without roll in) — [`RollSum::rollout`].

/// rsync's CHAR_OFFSET (0 since protocol 27; librsync uses 31).
pub const CHAR_OFFSET: u32 = 0;

#[inline(always)]
fn v(b: u8) -> u32 {
    (b as i8 as i32 as u32).wrapping_add(CHAR_OFFSET)
}

/// Rolling checksum state over a window of `len` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RollSum {
    s1: u32,
    s2: u32,
    len: u32,
}

impl RollSum {
    /// Checksum state of `window` (rsync `get_checksum1`).
    ///
    /// Computed as s1 = Σ v_i and s2 = k·s1 − Σ i·v_i (exact in wrapping u32 arithmetic), over
    /// 64-byte chunks whose fixed-size inner sums the compiler vectorizes — the rsync engine
    /// recomputes this after every match, so it is on the hot path.
    pub fn new(window: &[u8]) -> RollSum {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2 (checked just above).
                return unsafe { sums_avx2(window) };
            }
        }
        sums(window)
    }
    /// [`RollSum::new`] one byte at a time, as rsync's and librsync's portable C loops do: the
    /// software (hw=0) variant the evaluation harness compares with the vectorized one.
    pub fn new_scalar(window: &[u8]) -> RollSum {
        let (mut s1, mut s2) = (0u32, 0u32);
        for &x in window {
            s1 = s1.wrapping_add(v(x));
            s2 = s2.wrapping_add(s1);
        }
        RollSum {
            s1,
            s2,
            len: window.len() as u32,
        }
    }
    /// The 32-bit weak sum rsync sends (`sum1`).
    #[inline(always)]
    pub fn digest(&self) -> u32 {
        (self.s1 & 0xffff) | (self.s2 << 16)
    }
    /// Current window length.
    pub fn len(&self) -> u32 {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Slide by one byte: `out` leaves the front, `inb` enters the back (window length unchanged).
    #[inline(always)]
    pub fn roll(&mut self, out: u8, inb: u8) {
        let o = v(out);
        self.s1 = self.s1.wrapping_sub(o).wrapping_add(v(inb));
        self.s2 = self
            .s2
            .wrapping_sub(self.len.wrapping_mul(o))
            .wrapping_add(self.s1);
    }
    /// Remove `out` from the front (window shrinks by one, as rsync does at end of file).
    #[inline(always)]
    pub fn rollout(&mut self, out: u8) {
        let o = v(out);
        self.s1 = self.s1.wrapping_sub(o);
        self.s2 = self.s2.wrapping_sub(self.len.wrapping_mul(o));
        self.len -= 1;
    }
    /// Append `inb` at the back (window grows by one).
    #[inline(always)]
    pub fn rollin(&mut self, inb: u8) {
        self.s1 = self.s1.wrapping_add(v(inb));
        self.s2 = self.s2.wrapping_add(self.s1);
        self.len += 1;
    }
}

#[inline(always)]
fn sums(window: &[u8]) -> RollSum {
    const CHUNK: usize = 64;
    let (mut s1, mut t) = (0u32, 0u32);
    let mut base = 0u32;
    let mut chunks = window.chunks_exact(CHUNK);
    for c in &mut chunks {
        let (mut cs, mut ct) = (0i32, 0i32);
        for (j, &x) in c.iter().enumerate() {
            let x = v(x) as i32;
            cs = cs.wrapping_add(x);
            ct = ct.wrapping_add((j as i32).wrapping_mul(x));
        }
        t = t
            .wrapping_add(base.wrapping_mul(cs as u32))
            .wrapping_add(ct as u32);
        s1 = s1.wrapping_add(cs as u32);
        base = base.wrapping_add(CHUNK as u32);
    }
    for (j, &x) in chunks.remainder().iter().enumerate() {
        s1 = s1.wrapping_add(v(x));
        t = t.wrapping_add(base.wrapping_add(j as u32).wrapping_mul(v(x)));
    }
    let k = window.len() as u32;
    RollSum {
        s1,
        s2: k.wrapping_mul(s1).wrapping_sub(t),
        len: k,
    }
}

/// [`sums`] compiled for AVX2 (twice the lanes of the baseline SSE2 build).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sums_avx2(window: &[u8]) -> RollSum {
    sums(window)
}

/// rsync's `get_checksum1` in one call.
pub fn checksum1(window: &[u8]) -> u32 {
    RollSum::new(window).digest()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, term by term.
    fn reference(w: &[u8]) -> u32 {
        let k = w.len() as u32;
        let (mut s1, mut s2) = (0u32, 0u32);
        for (i, &x) in w.iter().enumerate() {
            s1 = s1.wrapping_add(v(x));
            s2 = s2.wrapping_add((k - i as u32).wrapping_mul(v(x)));
        }
        (s1 & 0xffff) | (s2 << 16)
    }

    fn data(n: usize) -> Vec<u8> {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn scalar_equals_vectorized() {
        let d = data(10_000);
        for n in [0, 1, 63, 64, 65, 700, 4096, 8192, 10_000] {
            assert_eq!(RollSum::new_scalar(&d[..n]), RollSum::new(&d[..n]), "{n}");
        }
    }

    #[test]
    fn known_values() {
        assert_eq!(checksum1(b""), 0);
        // s1 = 97+98+99 = 294, s2 = 3*97 + 2*98 + 99 = 586.
        assert_eq!(checksum1(b"abc"), 294 | (586 << 16));
        // Signed chars: 0xFF counts as -1, so s1 = s2 = 0xFFFFFFFF.
        assert_eq!(checksum1(&[0xff]), 0xffff_ffff);
    }

    #[test]
    fn new_matches_definition() {
        let d = data(5000);
        for n in [0, 1, 2, 3, 4, 5, 63, 64, 65, 700, 4999, 5000] {
            assert_eq!(checksum1(&d[..n]), reference(&d[..n]));
            // The portable build agrees with the dispatched (AVX2) one.
            assert_eq!(sums(&d[..n]), RollSum::new(&d[..n]));
        }
        // Long windows wrap the u32 sums.
        for b in [0xffu8, 0x7f, 0x80] {
            let w = vec![b; 300_001];
            assert_eq!(checksum1(&w), reference(&w));
        }
    }

    #[test]
    fn rolled_equals_recomputed() {
        let d = data(200_000);
        for w in [1usize, 700, 4096, 8192, 3232, 10_240] {
            let mut r = RollSum::new(&d[..w]);
            for i in 0..d.len() - w {
                r.roll(d[i], d[i + w]);
                if i < 3000 || i % 499 == 0 {
                    assert_eq!(r.digest(), checksum1(&d[i + 1..i + 1 + w]), "w {w} i {i}");
                }
            }
            // Shrinking at the end of the data.
            let start = d.len() - w;
            let mut r = RollSum::new(&d[start..]);
            for i in start..d.len() {
                r.rollout(d[i]);
                assert_eq!(r.digest(), checksum1(&d[i + 1..]));
            }
            assert!(r.is_empty());
            // Growing.
            let mut r = RollSum::new(&[]);
            for (i, &b) in d[..w].iter().enumerate() {
                r.rollin(b);
                assert_eq!(r.len() as usize, i + 1);
            }
            assert_eq!(r.digest(), checksum1(&d[..w]));
        }
    }
}
