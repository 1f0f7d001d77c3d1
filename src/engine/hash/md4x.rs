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

#[inline(always)]
fn md4_8(msgs: [&[u8]; LANES]) -> [[u8; 16]; LANES] {
    let n = msgs[0].len();
    let mut st: [V; 4] = INIT.map(|v| [v; LANES]);
    let full = n / 64;
    for blk in 0..full {
        compress(&mut st, &load(msgs.map(|m| &m[blk * 64..blk * 64 + 64])));
    }
    // Padding: 0x80, zeros to 56 mod 64, bit length (LE u64) — the same for every lane.
    let rest = n - full * 64;
    let tail_blocks = if rest < 56 { 1 } else { 2 };
    let mut tails = [[0u8; 128]; LANES];
    for (t, m) in tails.iter_mut().zip(msgs) {
        t[..rest].copy_from_slice(&m[full * 64..]);
        t[rest] = 0x80;
        let end = tail_blocks * 64;
        t[end - 8..end].copy_from_slice(&((n as u64) * 8).to_le_bytes());
    }
    for blk in 0..tail_blocks {
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

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn md4_8_avx2(msgs: [&[u8]; LANES]) -> [[u8; 16]; LANES] {
    md4_8(msgs)
}

/// MD4 of every message; equal-length runs of eight go through the lane-parallel code.
pub fn md4_many(msgs: &[&[u8]]) -> Vec<[u8; 16]> {
    use md4::Digest as _;
    let mut out = Vec::with_capacity(msgs.len());
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    let avx2 = std::is_x86_feature_detected!("avx2");
    while i < msgs.len() {
        if i + LANES <= msgs.len() && msgs[i..i + LANES].iter().all(|m| m.len() == msgs[i].len()) {
            let group: [&[u8]; LANES] = msgs[i..i + LANES].try_into().expect("eight messages");
            #[cfg(target_arch = "x86_64")]
            {
                if avx2 {
                    // SAFETY: the CPU supports AVX2 (checked above).
                    out.extend(unsafe { md4_8_avx2(group) });
                    i += LANES;
                    continue;
                }
            }
            out.extend(md4_8(group));
            i += LANES;
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
