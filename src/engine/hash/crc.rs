//! CRC-32 (IEEE/zlib) and CRC-32C (Castagnoli) with the GF(2) algebra the engines need.
//!
//! Why here: every CDC engine uses CRC-32 as its chunk weak hash and skysync-f rolls a CRC-32 over
//! 8 KiB windows (algorithms.md §1.1, §4.1); skysync-c and parasync derive chunk CRCs from other
//! CRCs instead of re-reading data, which needs *combine* (zlib `crc32_combine`), appending and
//! removing zero bytes (multiplication by x^(±8n) mod P — x is invertible because P has a constant
//! term) and a window-parameterised rolling table (§1.1 "rolling CRC over window W").
//!
//! Conventions: both polynomials are used reflected with init = xorout = 0xFFFFFFFF, so
//! `Crc32.checksum(b"123456789") == 0xCBF43926` and `Crc32c.checksum(..) == 0xE3069283`; every
//! function takes and returns *finished* CRC values (what zlib returns), never raw registers.
//! CRC-32 bulk hashing goes through `crc32fast` (PCLMULQDQ folding); CRC-32C uses the SSE4.2
//! `crc32` instruction when the CPU has it (runtime detection; that is all the reference's `hw=1`
//! meant, algorithms.md §4.1) and a slicing-by-8 table otherwise.

/// Reflected CRC-32 (IEEE 802.3, zlib, gzip) polynomial.
pub const POLY_CRC32: u32 = 0xEDB8_8320;
/// Reflected CRC-32C (Castagnoli, iSCSI, SSE4.2 `crc32`) polynomial.
pub const POLY_CRC32C: u32 = 0x82F6_3B78;

/// x^0 in the reflected representation (bit 31 holds the x^0 coefficient).
const ONE: u32 = 1 << 31;

const fn slice8(poly: u32) -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ poly } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut s = 1;
    while s < 8 {
        let mut i = 0;
        while i < 256 {
            let p = t[s - 1][i];
            t[s][i] = (p >> 8) ^ t[0][(p & 0xff) as usize];
            i += 1;
        }
        s += 1;
    }
    t
}

/// a·b mod P in GF(2), reflected (zlib's `multmodp`).
const fn multmodp(poly: u32, a: u32, mut b: u32) -> u32 {
    if a == 0 {
        return 0;
    }
    let mut m = ONE;
    let mut p = 0u32;
    loop {
        if a & m != 0 {
            p ^= b;
            if a & (m - 1) == 0 {
                break;
            }
        }
        m >>= 1;
        b = if b & 1 != 0 { (b >> 1) ^ poly } else { b >> 1 };
    }
    p
}

/// `t[k] = base^(2^k) mod P` for k < 68 (enough for x^(8n) with any u64 n).
const fn pow2_table(poly: u32, base: u32) -> [u32; 68] {
    let mut t = [0u32; 68];
    t[0] = base;
    let mut k = 1;
    while k < 68 {
        t[k] = multmodp(poly, t[k - 1], t[k - 1]);
        k += 1;
    }
    t
}

/// x^-1 mod P: P = x^32 + L(x) with L(0) = 1, so x·(x^31 + (L − 1)/x) = P − 1 ≡ 1.
const fn x_inverse(poly: u32) -> u32 {
    (poly << 1) | 1
}

/// Per-polynomial constant tables.
struct Tables {
    poly: u32,
    slice: [[u32; 256]; 8],
    /// x^(2^k)
    xpow: [u32; 68],
    /// x^(-2^k)
    xinv: [u32; 68],
}

const fn tables(poly: u32) -> Tables {
    Tables {
        poly,
        slice: slice8(poly),
        xpow: pow2_table(poly, ONE >> 1),
        xinv: pow2_table(poly, x_inverse(poly)),
    }
}

static T_CRC32: Tables = tables(POLY_CRC32);
static T_CRC32C: Tables = tables(POLY_CRC32C);

impl Tables {
    /// x^(8n) (or x^(-8n) when `inverse`) mod P.
    fn xpow8n(&self, n: u64, inverse: bool) -> u32 {
        let t = if inverse { &self.xinv } else { &self.xpow };
        let mut p = ONE;
        let mut n = n;
        let mut k = 3;
        while n != 0 {
            if n & 1 != 0 {
                p = multmodp(self.poly, t[k], p);
            }
            n >>= 1;
            k += 1;
        }
        p
    }
    /// Software register update (slicing-by-8).
    fn sw(&self, mut r: u32, data: &[u8]) -> u32 {
        let t = &self.slice;
        let mut chunks = data.chunks_exact(8);
        for c in &mut chunks {
            let lo = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) ^ r;
            let hi = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
            r = t[7][(lo & 0xff) as usize]
                ^ t[6][((lo >> 8) & 0xff) as usize]
                ^ t[5][((lo >> 16) & 0xff) as usize]
                ^ t[4][(lo >> 24) as usize]
                ^ t[3][(hi & 0xff) as usize]
                ^ t[2][((hi >> 8) & 0xff) as usize]
                ^ t[1][((hi >> 16) & 0xff) as usize]
                ^ t[0][(hi >> 24) as usize];
        }
        for &b in chunks.remainder() {
            r = (r >> 8) ^ t[0][((r ^ b as u32) & 0xff) as usize];
        }
        r
    }
}

/// Which CRC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CrcKind {
    /// IEEE/zlib CRC-32, the weak hash of every reference CDC engine and of skysync-f.
    Crc32,
    /// Castagnoli CRC-32C (dsync with `--hw`).
    Crc32c,
}

impl CrcKind {
    fn tables(self) -> &'static Tables {
        match self {
            CrcKind::Crc32 => &T_CRC32,
            CrcKind::Crc32c => &T_CRC32C,
        }
    }
    /// The reflected polynomial.
    pub fn poly(self) -> u32 {
        self.tables().poly
    }
    /// CRC of `data`.
    pub fn checksum(self, data: &[u8]) -> u32 {
        self.update(0, data)
    }
    /// CRC of A‖data given `crc` = CRC of A (continue a running CRC).
    pub fn update(self, crc: u32, data: &[u8]) -> u32 {
        match self {
            CrcKind::Crc32 => {
                let mut h = crc32fast::Hasher::new_with_initial(crc);
                h.update(data);
                h.finalize()
            }
            CrcKind::Crc32c => crc32c_update(crc, data),
        }
    }
    /// CRC of `data` with the portable table code only (benchmarks and cross-checks).
    pub fn update_sw(self, crc: u32, data: &[u8]) -> u32 {
        !self.tables().sw(!crc, data)
    }
    /// CRC(A‖B) from CRC(A), CRC(B) and |B| (zlib `crc32_combine`), O(log len_b).
    pub fn combine(self, crc_a: u32, crc_b: u32, len_b: u64) -> u32 {
        let t = self.tables();
        multmodp(t.poly, t.xpow8n(len_b, false), crc_a) ^ crc_b
    }
    /// CRC(A‖0ⁿ) from CRC(A).
    pub fn add0(self, crc: u32, n: u64) -> u32 {
        let t = self.tables();
        multmodp(t.poly, t.xpow8n(n, false), !crc) ^ !0
    }
    /// CRC(A) from CRC(A‖0ⁿ): strips n trailing zero bytes (the inverse of [`CrcKind::add0`]).
    pub fn remove0(self, crc: u32, n: u64) -> u32 {
        let t = self.tables();
        multmodp(t.poly, t.xpow8n(n, true), !crc) ^ !0
    }
    /// CRC of n zero bytes.
    pub fn zeros(self, n: u64) -> u32 {
        self.add0(0, n)
    }
    /// The byte-at-a-time register table.
    #[inline(always)]
    fn step_table(self) -> &'static [u32; 256] {
        &self.tables().slice[0]
    }
}

/// CRC-32 (IEEE) of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}
/// CRC-32 (IEEE) of A‖data from CRC-32(A).
pub fn crc32_update(crc: u32, data: &[u8]) -> u32 {
    CrcKind::Crc32.update(crc, data)
}
/// CRC-32(A‖B) from CRC-32(A), CRC-32(B), |B|.
pub fn crc32_combine(crc_a: u32, crc_b: u32, len_b: u64) -> u32 {
    CrcKind::Crc32.combine(crc_a, crc_b, len_b)
}
/// CRC-32C of `data` (hardware when available).
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c_update(0, data)
}

/// True when the CPU computes CRC-32C in hardware (SSE4.2).
pub fn crc32c_hw_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("sse4.2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// CRC-32C of A‖data from CRC-32C(A) (hardware when available).
pub fn crc32c_update(crc: u32, data: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if crc32c_hw_available() {
            // SAFETY: the CPU supports SSE4.2 (checked just above).
            return !unsafe { crc32c_sse42(!crc, data) };
        }
    }
    CrcKind::Crc32c.update_sw(crc, data)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
unsafe fn crc32c_sse42(r: u32, data: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_crc32_u64, _mm_crc32_u8};
    let mut chunks = data.chunks_exact(8);
    let mut r64 = r as u64;
    for c in &mut chunks {
        let v = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        r64 = _mm_crc32_u64(r64, v);
    }
    let mut r = r64 as u32;
    for &b in chunks.remainder() {
        r = _mm_crc32_u8(r, b);
    }
    r
}

/// A CRC rolled over a fixed window of `W` bytes: `roll(crc(x[i..i+W]), x[i], x[i+W]) ==
/// crc(x[i+1..i+W+1])`. The out-table holds the contribution of a byte leaving at distance W
/// (plus the init/xorout constants), derived with the zero-byte algebra instead of W·256 steps.
#[derive(Clone)]
pub struct RollingCrc {
    kind: CrcKind,
    window: usize,
    /// The byte table indexed by `index ^ 0xff`, so the inversion of finished CRC values costs
    /// nothing on the rolling dependency chain.
    step: Box<[u32; 256]>,
    out: Box<[u32; 256]>,
}

impl std::fmt::Debug for RollingCrc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RollingCrc")
            .field("kind", &self.kind)
            .field("window", &self.window)
            .finish()
    }
}

impl RollingCrc {
    /// Tables for windows of `window` (≥ 1) bytes.
    pub fn new(kind: CrcKind, window: usize) -> RollingCrc {
        assert!(window >= 1, "rolling CRC window must be at least one byte");
        let plain = kind.step_table();
        let mut step = Box::new([0u32; 256]);
        for (i, t) in step.iter_mut().enumerate() {
            *t = plain[i ^ 0xff];
        }
        let w = window as u64;
        // Window [b, 0^(W-1)] rolled by a 0 byte must give crc(0^W); the difference between the
        // plain byte step and that target depends only on b.
        let target = kind.zeros(w);
        let mut out = Box::new([0u32; 256]);
        for (b, o) in out.iter_mut().enumerate() {
            let c = kind.combine(kind.checksum(&[b as u8]), kind.zeros(w - 1), w - 1);
            *o = target ^ (c >> 8) ^ plain[((c ^ 0xff) & 0xff) as usize];
        }
        RollingCrc {
            kind,
            window,
            step,
            out,
        }
    }
    pub fn kind(&self) -> CrcKind {
        self.kind
    }
    pub fn window(&self) -> usize {
        self.window
    }
    /// CRC of a full window (`data.len()` should equal [`RollingCrc::window`]).
    pub fn init(&self, data: &[u8]) -> u32 {
        self.kind.checksum(data)
    }
    /// Slide the window one byte: `out` leaves at the front, `inb` enters at the back.
    #[inline(always)]
    pub fn roll(&self, crc: u32, out: u8, inb: u8) -> u32 {
        (crc >> 8) ^ self.step[((crc ^ inb as u32) & 0xff) as usize] ^ self.out[out as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u64) -> Vec<u8> {
        crate::testkit::pseudo_random(n, seed)
    }

    #[test]
    fn known_vectors() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(CrcKind::Crc32.update_sw(0, b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(CrcKind::Crc32c.update_sw(0, b"123456789"), 0xE306_9283);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32c(b""), 0);
        // RFC 3720 B.4: 32 bytes of zeros.
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
    }

    #[test]
    fn hw_and_sw_agree_and_update_continues() {
        let d = data(10_007, 3);
        for k in [CrcKind::Crc32, CrcKind::Crc32c] {
            for cut in [0, 1, 7, 8, 4096, 10_007] {
                let a = k.checksum(&d[..cut]);
                assert_eq!(k.update(a, &d[cut..]), k.checksum(&d));
                assert_eq!(k.update_sw(a, &d[cut..]), k.checksum(&d));
            }
        }
    }

    #[test]
    fn inverse_of_x() {
        for k in [CrcKind::Crc32, CrcKind::Crc32c] {
            let p = k.poly();
            assert_eq!(multmodp(p, x_inverse(p), ONE >> 1), ONE);
        }
    }

    #[test]
    fn combine_equals_concatenation() {
        let d = data(70_001, 9);
        for k in [CrcKind::Crc32, CrcKind::Crc32c] {
            for cut in [0, 1, 100, 8192, 69_999, 70_001] {
                let (a, b) = d.split_at(cut);
                let c = k.combine(k.checksum(a), k.checksum(b), b.len() as u64);
                assert_eq!(c, k.checksum(&d), "{k:?} cut {cut}");
            }
        }
        // Agrees with crc32fast's own combine.
        let (a, b) = d.split_at(12_345);
        let mut ha = crc32fast::Hasher::new();
        ha.update(a);
        let mut hb = crc32fast::Hasher::new();
        hb.update(b);
        ha.combine(&hb);
        assert_eq!(
            ha.finalize(),
            crc32_combine(crc32(a), crc32(b), b.len() as u64)
        );
    }

    #[test]
    fn zero_bytes_algebra() {
        let d = data(5000, 5);
        for k in [CrcKind::Crc32, CrcKind::Crc32c] {
            for n in [0u64, 1, 3, 64, 4096, 100_000] {
                let mut z = d.clone();
                z.resize(d.len() + n as usize, 0);
                let c = k.checksum(&d);
                let cz = k.checksum(&z);
                assert_eq!(k.add0(c, n), cz);
                assert_eq!(k.remove0(cz, n), c);
                assert_eq!(k.zeros(n), k.checksum(&vec![0u8; n as usize]));
            }
            // Huge n round-trips.
            let c = k.checksum(&d);
            assert_eq!(k.remove0(k.add0(c, 1 << 40), 1 << 40), c);
        }
    }

    #[test]
    fn linearity() {
        let a = data(3000, 1);
        let b = data(3000, 2);
        let x: Vec<u8> = a.iter().zip(&b).map(|(p, q)| p ^ q).collect();
        for k in [CrcKind::Crc32, CrcKind::Crc32c] {
            assert_eq!(
                k.checksum(&x),
                k.checksum(&a) ^ k.checksum(&b) ^ k.zeros(3000)
            );
        }
    }

    #[test]
    fn rolled_equals_recomputed() {
        let d = data(300_000, 11);
        let sqrt_sizes = [1usize, 2, 3232, 10_240];
        for k in [CrcKind::Crc32, CrcKind::Crc32c] {
            for w in [700usize, 4096, 8192].into_iter().chain(sqrt_sizes) {
                let r = RollingCrc::new(k, w);
                let mut c = r.init(&d[..w]);
                for i in 0..d.len() - w {
                    c = r.roll(c, d[i], d[i + w]);
                    if i > 3000 && i % 997 != 0 && i != d.len() - w - 1 {
                        continue;
                    }
                    assert_eq!(c, k.checksum(&d[i + 1..i + 1 + w]), "{k:?} w {w} i {i}");
                }
            }
        }
    }
}
