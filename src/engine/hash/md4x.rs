//! Multi-buffer MD4: eight equal-length messages hashed side by side, one message per SIMD lane.
//!
//! Why: MD4 is librsync's block sum (rdiff signatures, the papers' hw=1 rsync baseline,
//! algorithms.md §2.1) and a single MD4 is a serial chain of 48 dependent steps per 64 bytes, so
//! one core hashes a few hundred MB/s. A signature hashes thousands of blocks of the same length,
//! which is exactly the shape a lane-parallel MD4 wants: the eight states live in `[u32; 8]`
//! arrays whose element-wise operations the compiler turns into AVX2 instructions (the function
//! is compiled a second time with AVX2 enabled and picked at run time). The result equals MD4
//! (RFC 1320) of each message; tests compare with the `md4` crate.

const LANES: usize = 8;
type V = [u32; LANES];

const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

#[inline(always)]
fn map3(a: &V, b: &V, c: &V, f: impl Fn(u32, u32, u32) -> u32) -> V {
    std::array::from_fn(|i| f(a[i], b[i], c[i]))
}

#[inline(always)]
fn step(a: &mut V, f: &V, x: &V, k: u32, s: u32) {
    for i in 0..LANES {
        a[i] = a[i]
            .wrapping_add(f[i])
            .wrapping_add(x[i])
            .wrapping_add(k)
            .rotate_left(s);
    }
}

/// One 64-byte block per lane; `x[w][lane]` is word w of the lane's block.
#[inline(always)]
fn compress(st: &mut [V; 4], x: &[V; 16]) {
    let [mut a, mut b, mut c, mut d] = *st;
    const R1: [u32; 4] = [3, 7, 11, 19];
    for k in 0..16 {
        let f = map3(&b, &c, &d, |x, y, z| (x & y) | (!x & z));
        step(&mut a, &f, &x[k], 0, R1[k % 4]);
        (a, b, c, d) = (d, a, b, c);
    }
    const O2: [usize; 16] = [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15];
    const R2: [u32; 4] = [3, 5, 9, 13];
    for (j, &k) in O2.iter().enumerate() {
        let g = map3(&b, &c, &d, |x, y, z| (x & y) | (x & z) | (y & z));
        step(&mut a, &g, &x[k], 0x5A82_7999, R2[j % 4]);
        (a, b, c, d) = (d, a, b, c);
    }
    const O3: [usize; 16] = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15];
    const R3: [u32; 4] = [3, 9, 11, 15];
    for (j, &k) in O3.iter().enumerate() {
        let h = map3(&b, &c, &d, |x, y, z| x ^ y ^ z);
        step(&mut a, &h, &x[k], 0x6ED9_EBA1, R3[j % 4]);
        (a, b, c, d) = (d, a, b, c);
    }
    for (s, v) in st.iter_mut().zip([a, b, c, d]) {
        for i in 0..LANES {
            s[i] = s[i].wrapping_add(v[i]);
        }
    }
}

#[inline(always)]
fn load(blocks: [&[u8]; LANES]) -> [V; 16] {
    std::array::from_fn(|w| {
        std::array::from_fn(|l| {
            u32::from_le_bytes(blocks[l][w * 4..w * 4 + 4].try_into().expect("4 bytes"))
        })
    })
}

/// Final 64-byte blocks after the last full one: 1 or 2, the same for every lane.
fn tail_blocks(n: usize) -> usize {
    if n % 64 < 56 {
        1
    } else {
        2
    }
}

/// Each lane's padded tail: rest of the message, 0x80, zeros, bit length (LE u64).
fn tails(msgs: [&[u8]; LANES]) -> [[u8; 128]; LANES] {
    let n = msgs[0].len();
    let (full, end) = (n / 64 * 64, tail_blocks(n) * 64);
    let mut tails = [[0u8; 128]; LANES];
    for (t, m) in tails.iter_mut().zip(msgs) {
        t[..n - full].copy_from_slice(&m[full..]);
        t[n - full] = 0x80;
        t[end - 8..end].copy_from_slice(&((n as u64) * 8).to_le_bytes());
    }
    tails
}

#[inline(always)]
fn md4_8(msgs: [&[u8]; LANES]) -> [[u8; 16]; LANES] {
    let n = msgs[0].len();
    let mut st: [V; 4] = INIT.map(|v| [v; LANES]);
    let full = n / 64;
    for blk in 0..full {
        compress(&mut st, &load(msgs.map(|m| &m[blk * 64..blk * 64 + 64])));
    }
    let tails = tails(msgs);
    for blk in 0..tail_blocks(n) {
        compress(
            &mut st,
            &load(tails.each_ref().map(|t| &t[blk * 64..blk * 64 + 64])),
        );
    }
    std::array::from_fn(|l| {
        let mut d = [0u8; 16];
        for (w, s) in st.iter().enumerate() {
            d[w * 4..w * 4 + 4].copy_from_slice(&s[l].to_le_bytes());
        }
        d
    })
}

/// The same eight-lane MD4 with explicit AVX2 intrinsics (the portable version above does not
/// vectorize well enough: the rotations and the lane gathers stay scalar).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{INIT, LANES};
    use std::arch::x86_64::*;

    macro_rules! rotl {
        ($x:expr, $s:literal) => {
            _mm256_or_si256(
                _mm256_slli_epi32::<$s>($x),
                _mm256_srli_epi32::<{ 32 - $s }>($x),
            )
        };
    }

    #[inline(always)]
    unsafe fn f(x: __m256i, y: __m256i, z: __m256i) -> __m256i {
        _mm256_or_si256(_mm256_and_si256(x, y), _mm256_andnot_si256(x, z))
    }
    #[inline(always)]
    unsafe fn g(x: __m256i, y: __m256i, z: __m256i) -> __m256i {
        _mm256_or_si256(
            _mm256_and_si256(x, _mm256_or_si256(y, z)),
            _mm256_and_si256(y, z),
        )
    }
    #[inline(always)]
    unsafe fn h(x: __m256i, y: __m256i, z: __m256i) -> __m256i {
        _mm256_xor_si256(_mm256_xor_si256(x, y), z)
    }

    /// Words `first..first + 8` of every lane's block, one vector per word: eight row loads and
    /// an 8×8 transpose of 32-bit elements (unpack 32, unpack 64, swap 128-bit halves).
    #[inline(always)]
    unsafe fn words8(blocks: &[*const u8; LANES], first: usize, x: &mut [__m256i; 16]) {
        macro_rules! row {
            ($i:literal) => {
                _mm256_loadu_si256(blocks[$i].add(first * 4) as *const __m256i)
            };
        }
        let (r0, r1, r2, r3) = (row!(0), row!(1), row!(2), row!(3));
        let (r4, r5, r6, r7) = (row!(4), row!(5), row!(6), row!(7));
        let t0 = _mm256_unpacklo_epi32(r0, r1);
        let t1 = _mm256_unpackhi_epi32(r0, r1);
        let t2 = _mm256_unpacklo_epi32(r2, r3);
        let t3 = _mm256_unpackhi_epi32(r2, r3);
        let t4 = _mm256_unpacklo_epi32(r4, r5);
        let t5 = _mm256_unpackhi_epi32(r4, r5);
        let t6 = _mm256_unpacklo_epi32(r6, r7);
        let t7 = _mm256_unpackhi_epi32(r6, r7);
        let u0 = _mm256_unpacklo_epi64(t0, t2);
        let u1 = _mm256_unpackhi_epi64(t0, t2);
        let u2 = _mm256_unpacklo_epi64(t1, t3);
        let u3 = _mm256_unpackhi_epi64(t1, t3);
        let u4 = _mm256_unpacklo_epi64(t4, t6);
        let u5 = _mm256_unpackhi_epi64(t4, t6);
        let u6 = _mm256_unpacklo_epi64(t5, t7);
        let u7 = _mm256_unpackhi_epi64(t5, t7);
        x[first] = _mm256_permute2x128_si256::<0x20>(u0, u4);
        x[first + 1] = _mm256_permute2x128_si256::<0x20>(u1, u5);
        x[first + 2] = _mm256_permute2x128_si256::<0x20>(u2, u6);
        x[first + 3] = _mm256_permute2x128_si256::<0x20>(u3, u7);
        x[first + 4] = _mm256_permute2x128_si256::<0x31>(u0, u4);
        x[first + 5] = _mm256_permute2x128_si256::<0x31>(u1, u5);
        x[first + 6] = _mm256_permute2x128_si256::<0x31>(u2, u6);
        x[first + 7] = _mm256_permute2x128_si256::<0x31>(u3, u7);
    }

    /// One 64-byte block per lane for `G` independent groups of eight lanes. MD4's steps form
    /// one long dependency chain, so a single group is latency-bound; interleaving two groups
    /// fills the vector ports.
    #[inline(always)]
    unsafe fn compress<const G: usize>(
        st: &mut [[__m256i; 4]; G],
        blocks: &[[*const u8; LANES]; G],
    ) {
        // No closures around intrinsics: a closure does not inherit AVX2 and would not inline.
        let mut x = [[_mm256_setzero_si256(); 16]; G];
        for q in 0..G {
            words8(&blocks[q], 0, &mut x[q]);
            words8(&blocks[q], 8, &mut x[q]);
        }
        let mut a = [_mm256_setzero_si256(); G];
        let (mut b, mut c, mut d) = (a, a, a);
        for q in 0..G {
            [a[q], b[q], c[q], d[q]] = st[q];
        }
        let k2 = _mm256_set1_epi32(0x5A82_7999);
        let k3 = _mm256_set1_epi32(0x6ED9_EBA1);
        macro_rules! r {
            ($fun:ident, $k:expr, $a:ident, $b:ident, $c:ident, $d:ident, $w:expr, $s:literal) => {
                for q in 0..G {
                    let t = _mm256_add_epi32(
                        _mm256_add_epi32($a[q], $fun($b[q], $c[q], $d[q])),
                        _mm256_add_epi32(x[q][$w], $k),
                    );
                    $a[q] = rotl!(t, $s);
                }
            };
        }
        let z = _mm256_setzero_si256();
        for i in 0..4 {
            r!(f, z, a, b, c, d, 4 * i, 3);
            r!(f, z, d, a, b, c, 4 * i + 1, 7);
            r!(f, z, c, d, a, b, 4 * i + 2, 11);
            r!(f, z, b, c, d, a, 4 * i + 3, 19);
        }
        for i in 0..4 {
            r!(g, k2, a, b, c, d, i, 3);
            r!(g, k2, d, a, b, c, i + 4, 5);
            r!(g, k2, c, d, a, b, i + 8, 9);
            r!(g, k2, b, c, d, a, i + 12, 13);
        }
        for i in [0, 2, 1, 3] {
            r!(h, k3, a, b, c, d, i, 3);
            r!(h, k3, d, a, b, c, i + 8, 9);
            r!(h, k3, c, d, a, b, i + 4, 11);
            r!(h, k3, b, c, d, a, i + 12, 15);
        }
        for q in 0..G {
            st[q][0] = _mm256_add_epi32(st[q][0], a[q]);
            st[q][1] = _mm256_add_epi32(st[q][1], b[q]);
            st[q][2] = _mm256_add_epi32(st[q][2], c[q]);
            st[q][3] = _mm256_add_epi32(st[q][3], d[q]);
        }
    }

    /// MD4 of `G`·8 equal-length messages, appended to `out`.
    ///
    /// # Safety
    /// The CPU must support AVX2; `msgs` must hold `G`·8 messages of the same length.
    #[target_feature(enable = "avx2")]
    pub unsafe fn md4_lanes<const G: usize>(msgs: &[&[u8]], out: &mut Vec<[u8; 16]>) {
        let n = msgs[0].len();
        let groups: [[&[u8]; LANES]; G] =
            std::array::from_fn(|q| std::array::from_fn(|l| msgs[q * LANES + l]));
        let mut st = [[_mm256_setzero_si256(); 4]; G];
        for sq in st.iter_mut() {
            for (v, i) in sq.iter_mut().zip(INIT) {
                *v = _mm256_set1_epi32(i as i32);
            }
        }
        for blk in 0..n / 64 {
            let ptrs = groups.map(|g| g.map(|m| m.as_ptr().add(blk * 64)));
            compress(&mut st, &ptrs);
        }
        let tails = groups.map(super::tails);
        for blk in 0..super::tail_blocks(n) {
            let ptrs: [[*const u8; LANES]; G] = std::array::from_fn(|q| {
                std::array::from_fn(|l| tails[q][l].as_ptr().add(blk * 64))
            });
            compress(&mut st, &ptrs);
        }
        for sq in st {
            let mut words = [[0u32; LANES]; 4];
            for (w, s) in words.iter_mut().zip(sq) {
                _mm256_storeu_si256(w.as_mut_ptr() as *mut __m256i, s);
            }
            for l in 0..LANES {
                let mut d = [0u8; 16];
                for (w, s) in words.iter().enumerate() {
                    d[w * 4..w * 4 + 4].copy_from_slice(&s[l].to_le_bytes());
                }
                out.push(d);
            }
        }
    }
}

/// MD4 of every message; runs of equal-length messages go through the lane-parallel code.
pub fn md4_many(msgs: &[&[u8]]) -> Vec<[u8; 16]> {
    use md4::Digest as _;
    let mut out = Vec::with_capacity(msgs.len() + 2 * LANES);
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    let avx2 = std::is_x86_feature_detected!("avx2");
    while i < msgs.len() {
        // A run of 2–16 equal-length messages fills the lanes (a short run repeats its last).
        let run = msgs[i..]
            .iter()
            .take(2 * LANES)
            .take_while(|m| m.len() == msgs[i].len())
            .count();
        if run >= 2 {
            let width = if run > LANES { 2 * LANES } else { LANES };
            let group: Vec<&[u8]> = (0..width).map(|l| msgs[i + l.min(run - 1)]).collect();
            let at = out.len();
            #[cfg(target_arch = "x86_64")]
            if avx2 {
                // SAFETY: the CPU supports AVX2 (checked above); `group` holds `width`
                // messages of one length.
                unsafe {
                    if width > LANES {
                        avx2::md4_lanes::<2>(&group, &mut out);
                    } else {
                        avx2::md4_lanes::<1>(&group, &mut out);
                    }
                }
                out.truncate(at + run);
                i += run;
                continue;
            }
            for g in group.chunks(LANES) {
                out.extend(md4_8(g.try_into().expect("eight messages")));
            }
            out.truncate(at + run);
            i += run;
            continue;
        }
        out.push(md4::Md4::digest(msgs[i]).into());
        i += 1;
    }
    out
}

/// MD4 of each `block`-byte piece of `data` (the last may be shorter).
pub fn md4_blocks(data: &[u8], block: usize) -> Vec<[u8; 16]> {
    let pieces: Vec<&[u8]> = data.chunks(block.max(1)).collect();
    md4_many(&pieces)
}

#[cfg(test)]
mod tests {
    use super::*;
    use md4::Digest as _;

    #[test]
    fn equals_md4_for_every_tail_length() {
        let data = crate::testkit::pseudo_random(3100, 5);
        for n in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 700, 2048, 2999] {
            let msgs: Vec<&[u8]> = (0..19).map(|k| &data[k..k + n]).collect();
            let got = md4_many(&msgs);
            for (m, d) in msgs.iter().zip(&got) {
                assert_eq!(&d[..], &md4::Md4::digest(m)[..], "len {n}");
            }
        }
        let blocks = md4_blocks(&data, 256);
        assert_eq!(blocks.len(), 13);
        assert_eq!(&blocks[12][..], &md4::Md4::digest(&data[3072..])[..]);
    }
}
