//! librsync `rdiff` file formats for the rsync engine (issue 12): signatures (MD4 and BLAKE2
//! variants with librsync's classic rolling sum) and deltas, so files interoperate with `rdiff`.
//!
//! Formats, from librsync's documentation (`doc/format.md`, `prototab`); all integers big-endian:
//! * signature: magic (`rs\x01\x36` MD4, `rs\x01\x37` BLAKE2), block length, strong-sum length,
//!   then per basis block its weak sum (u32) and the first `strong length` bytes of its strong
//!   sum (MD4, or BLAKE2b with a 32-byte output). The file length is not stored: the last block
//!   may be short. The RabinKarp magics (`rs\x01\x46`/`\x47`, rdiff 2.2+'s default; generate
//!   with `rdiff signature -R rollsum` instead) are refused with a clear error.
//! * weak sum: librsync's rollsum — unsigned bytes plus 31 (`RS_CHAR_OFFSET`), s1 = Σ, s2 = Σ s1,
//!   each kept to 16 bits, `s2 << 16 | s1` (rsync's differs: signed bytes, offset 0).
//! * delta: magic `rs\x02\x36`, then commands: 0 = end; 1–64 = literal of that many bytes;
//!   0x41–0x44 = literal whose length follows in 1/2/4/8 bytes; 0x45–0x54 = copy with the basis
//!   offset and the length each in 1/2/4/8 bytes (offset width major). Output offsets are implicit.
//!
//! The delta search is the rsync engine's own ([`super::rsync::halves`]: parallel signature
//! hashing, segment-parallel search equal to the serial scan) run with librsync's weak sum; a
//! short last block is treated as a full one (unknown length), so it can only match through a
//! full-window weak and strong collision, which the strong sum makes negligible — and a patch
//! that would read past the basis fails instead of writing wrong data.

use std::io::{self, Read, Write};

use super::hash::StrongKind;
use super::rsync::halves::{BlockSender, Flavor};
use super::rsync::search::Weak;
use super::rsync::sig::{SigParams, Signature, WeakKind};
use super::{EngineParams, Op, SenderHalf, Shared};

/// Signature magic, MD4 strong sums, classic rollsum.
pub const MD4_SIG_MAGIC: u32 = 0x7273_0136;
/// Signature magic, BLAKE2 strong sums, classic rollsum.
pub const BLAKE2_SIG_MAGIC: u32 = 0x7273_0137;
/// RabinKarp-rollsum signature magics (not supported).
pub const RK_MD4_SIG_MAGIC: u32 = 0x7273_0146;
pub const RK_BLAKE2_SIG_MAGIC: u32 = 0x7273_0147;
/// Delta magic.
pub const DELTA_MAGIC: u32 = 0x7273_0236;
/// librsync's RS_CHAR_OFFSET.
const CHAR_OFFSET: u32 = 31;
/// Largest block length accepted from a file.
const MAX_BLOCK: u32 = 1 << 24;

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// librsync's rollsum state over a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LibSum {
    s1: u32,
    s2: u32,
    len: u32,
}

/// (Σ x_i, Σ i·x_i) over 64-byte chunks whose fixed-size inner sums vectorize.
#[inline(always)]
fn raw_sums(w: &[u8]) -> (u32, u32) {
    const CHUNK: usize = 64;
    let (mut s, mut t, mut base) = (0u32, 0u32, 0u32);
    let mut chunks = w.chunks_exact(CHUNK);
    for c in &mut chunks {
        let (mut cs, mut ct) = (0u32, 0u32);
        for (j, &x) in c.iter().enumerate() {
            cs += x as u32;
            ct += j as u32 * x as u32;
        }
        t = t.wrapping_add(base.wrapping_mul(cs)).wrapping_add(ct);
        s = s.wrapping_add(cs);
        base = base.wrapping_add(CHUNK as u32);
    }
    for (j, &x) in chunks.remainder().iter().enumerate() {
        s = s.wrapping_add(x as u32);
        t = t.wrapping_add(base.wrapping_add(j as u32).wrapping_mul(x as u32));
    }
    (s, t)
}

/// [`raw_sums`] with AVX2 in the manner of SIMD Adler-32: per 32-byte chunk, `vpsadbw` adds
/// the bytes and `vpmaddubsw` the bytes times their offsets 0..31; the chunk bases are folded in
/// through a running sum of the chunk sums seen so far (Σ_c c·cs_c = (C−1)·Σ cs − Σ_c prefix_c).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn raw_sums_avx2(w: &[u8]) -> (u32, u32) {
    use std::arch::x86_64::*;
    let chunks = w.len() / 32;
    let weights = _mm256_setr_epi8(
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
        25, 26, 27, 28, 29, 30, 31,
    );
    let ones = _mm256_set1_epi16(1);
    let zero = _mm256_setzero_si256();
    let (mut vs, mut vps, mut vt) = (zero, zero, zero);
    for c in 0..chunks {
        // SAFETY: c·32 + 32 ≤ len.
        let x = _mm256_loadu_si256(w.as_ptr().add(c * 32) as *const __m256i);
        vps = _mm256_add_epi64(vps, vs);
        vs = _mm256_add_epi64(vs, _mm256_sad_epu8(x, zero));
        vt = _mm256_add_epi32(
            vt,
            _mm256_madd_epi16(_mm256_maddubs_epi16(x, weights), ones),
        );
    }
    let mut a64 = [0u64; 4];
    let mut b64 = [0u64; 4];
    let mut t32 = [0u32; 8];
    _mm256_storeu_si256(a64.as_mut_ptr() as *mut __m256i, vs);
    _mm256_storeu_si256(b64.as_mut_ptr() as *mut __m256i, vps);
    _mm256_storeu_si256(t32.as_mut_ptr() as *mut __m256i, vt);
    let s = a64.iter().fold(0u64, |a, x| a.wrapping_add(*x)) as u32;
    let ps = b64.iter().fold(0u64, |a, x| a.wrapping_add(*x)) as u32;
    let inner = t32.iter().fold(0u32, |a, x| a.wrapping_add(*x));
    let c = chunks as u32;
    let mut t = c
        .wrapping_sub(1)
        .wrapping_mul(s)
        .wrapping_sub(ps)
        .wrapping_mul(32)
        .wrapping_add(inner);
    let mut s = s;
    let base = c.wrapping_mul(32);
    for (j, &x) in w[chunks * 32..].iter().enumerate() {
        s = s.wrapping_add(x as u32);
        t = t.wrapping_add(base.wrapping_add(j as u32).wrapping_mul(x as u32));
    }
    (s, t)
}

impl LibSum {
    /// s1 = Σ(x + 31) = Σx + 31n; s2 = Σ (n − i)(x_i + 31) = n·Σx − Σ i·x_i + 31·n(n+1)/2.
    pub fn new(window: &[u8]) -> LibSum {
        #[cfg(target_arch = "x86_64")]
        let (s, t) = if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { raw_sums_avx2(window) }
        } else {
            raw_sums(window)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let (s, t) = raw_sums(window);
        let n = window.len() as u64;
        let tri = (n * (n + 1) / 2) as u32;
        let n = n as u32;
        LibSum {
            s1: s.wrapping_add(CHAR_OFFSET.wrapping_mul(n)),
            s2: n
                .wrapping_mul(s)
                .wrapping_sub(t)
                .wrapping_add(CHAR_OFFSET.wrapping_mul(tri)),
            len: n,
        }
    }
    #[inline(always)]
    pub fn roll(&mut self, out: u8, inb: u8) {
        let o = out as u32 + CHAR_OFFSET;
        self.s1 = self
            .s1
            .wrapping_sub(o)
            .wrapping_add(inb as u32 + CHAR_OFFSET);
        self.s2 = self
            .s2
            .wrapping_sub(self.len.wrapping_mul(o))
            .wrapping_add(self.s1);
    }
    #[inline(always)]
    pub fn digest(&self) -> u32 {
        (self.s2 & 0xffff) << 16 | (self.s1 & 0xffff)
    }
}

/// librsync's weak sum as a search [`Weak`].
pub struct LibWeak;
impl Weak for LibWeak {
    type State = LibSum;
    fn init(&self, window: &[u8]) -> LibSum {
        LibSum::new(window)
    }
    #[inline(always)]
    fn roll(&self, st: &mut LibSum, out: u8, inb: u8) {
        st.roll(out, inb)
    }
    #[inline(always)]
    fn value(&self, st: &LibSum) -> u32 {
        st.digest()
    }
}

/// The strong sum of an rdiff signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RdiffHash {
    Md4,
    Blake2,
}

impl RdiffHash {
    fn kind(self) -> StrongKind {
        match self {
            RdiffHash::Md4 => StrongKind::Md4,
            RdiffHash::Blake2 => StrongKind::Blake2,
        }
    }
    fn magic(self) -> u32 {
        match self {
            RdiffHash::Md4 => MD4_SIG_MAGIC,
            RdiffHash::Blake2 => BLAKE2_SIG_MAGIC,
        }
    }
}

/// librsync's recommended block length: √len rounded down to a multiple of 128, at least 256.
pub fn default_block_len(len: u64) -> u32 {
    let r = (len as f64).sqrt() as u64 / 128 * 128;
    r.clamp(256, MAX_BLOCK as u64) as u32
}

/// An rdiff signature: the block records of a basis file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RdiffSignature {
    pub hash: RdiffHash,
    pub block_len: u32,
    pub strong_len: u32,
    pub weak: Vec<u32>,
    /// `strong_len` bytes per block, concatenated.
    pub strong: Vec<u8>,
}

impl RdiffSignature {
    /// Signature of `basis` (blocks hashed on all cores). `block_len` None = librsync's
    /// recommendation; `strong_len` None = the full digest (rdiff's default).
    pub fn compute(
        basis: &[u8],
        hash: RdiffHash,
        block_len: Option<u32>,
        strong_len: Option<u32>,
    ) -> RdiffSignature {
        let b = block_len
            .unwrap_or_else(|| default_block_len(basis.len() as u64))
            .clamp(1, MAX_BLOCK);
        let full = hash.kind().digest_len() as u32;
        let slen = strong_len.unwrap_or(full).clamp(1, full);
        let sig = Signature::compute_with(
            basis,
            SigParams {
                weak: WeakKind::Librsync,
                strong: hash.kind(),
                slen: slen as u8,
                block_len: b,
            },
            true,
            false,
        );
        RdiffSignature {
            hash,
            block_len: b,
            strong_len: slen,
            weak: sig.weak,
            strong: sig.strong,
        }
    }

    /// Write in rdiff's signature format.
    pub fn write_to(&self, mut w: impl Write) -> io::Result<()> {
        let mut head = Vec::with_capacity(12);
        for v in [self.hash.magic(), self.block_len, self.strong_len] {
            head.extend_from_slice(&v.to_be_bytes());
        }
        w.write_all(&head)?;
        let s = self.strong_len as usize;
        let mut buf = Vec::with_capacity(64 << 10);
        for (i, weak) in self.weak.iter().enumerate() {
            buf.extend_from_slice(&weak.to_be_bytes());
            buf.extend_from_slice(&self.strong[i * s..i * s + s]);
            if buf.len() >= 60 << 10 {
                w.write_all(&buf)?;
                buf.clear();
            }
        }
        w.write_all(&buf)
    }

    /// Read rdiff's signature format.
    pub fn read_from(mut r: impl Read) -> io::Result<RdiffSignature> {
        let mut head = [0u8; 12];
        r.read_exact(&mut head)?;
        let word = |i: usize| u32::from_be_bytes(head[i..i + 4].try_into().expect("4 bytes"));
        let hash = match word(0) {
            MD4_SIG_MAGIC => RdiffHash::Md4,
            BLAKE2_SIG_MAGIC => RdiffHash::Blake2,
            RK_MD4_SIG_MAGIC | RK_BLAKE2_SIG_MAGIC => return Err(invalid(
                "RabinKarp rdiff signatures are not supported; use `rdiff signature -R rollsum`",
            )),
            m => return Err(invalid(format!("not an rdiff signature (magic {m:#010x})"))),
        };
        let (block_len, strong_len) = (word(4), word(8));
        if block_len == 0 || block_len > MAX_BLOCK {
            return Err(invalid("bad signature block length"));
        }
        if strong_len == 0 || strong_len as usize > hash.kind().digest_len() {
            return Err(invalid("bad signature strong-sum length"));
        }
        let mut body = Vec::new();
        r.read_to_end(&mut body)?;
        let rec = 4 + strong_len as usize;
        if body.len() % rec != 0 {
            return Err(invalid("truncated rdiff signature"));
        }
        let mut weak = Vec::with_capacity(body.len() / rec);
        let mut strong = Vec::with_capacity(body.len() / rec * strong_len as usize);
        for c in body.chunks_exact(rec) {
            weak.push(u32::from_be_bytes(c[..4].try_into().expect("4 bytes")));
            strong.extend_from_slice(&c[4..]);
        }
        Ok(RdiffSignature {
            hash,
            block_len,
            strong_len,
            weak,
            strong,
        })
    }

    /// The rsync engine's view of these records (every block taken as full-length).
    fn engine_signature(&self) -> Signature {
        Signature {
            params: SigParams {
                weak: WeakKind::Librsync,
                strong: self.hash.kind(),
                slen: self.strong_len as u8,
                block_len: self.block_len,
            },
            file_len: self.weak.len() as u64 * self.block_len as u64,
            weak: self.weak.clone(),
            strong: self.strong.clone(),
        }
    }
}

fn unused_sizes(_: u64, _: &EngineParams, _: StrongKind) -> (u32, u8) {
    (0, 0)
}

/// Ops that rebuild `new` from the basis `sig` describes, found by the rsync engine's search.
pub fn diff(sig: &RdiffSignature, new: Shared, params: &EngineParams) -> io::Result<Vec<Op>> {
    let flavor = Flavor {
        weak: WeakKind::Librsync,
        strong: sig.hash.kind(),
        sizes: unused_sizes,
        prefix_skip: false,
    };
    let mut s = BlockSender::new(flavor, params, new);
    s.start().map_err(invalid)?;
    for m in sig.engine_signature().encode() {
        s.handle(&m).map_err(invalid)?;
    }
    let mut ops = Vec::new();
    while let Some(st) = s.poll().map_err(invalid)? {
        ops.extend(st.ops);
        if st.done {
            return Ok(ops);
        }
    }
    Err(invalid("delta search did not finish"))
}

/// Smallest of 1, 2, 4, 8 bytes that holds `v`, as librsync's `rs_int_len`.
fn int_len(v: u64) -> usize {
    match v {
        0..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xffff_ffff => 4,
        _ => 8,
    }
}

fn width_code(n: usize) -> u8 {
    match n {
        1 => 0,
        2 => 1,
        4 => 2,
        _ => 3,
    }
}

fn put_be(out: &mut Vec<u8>, v: u64, n: usize) {
    out.extend_from_slice(&v.to_be_bytes()[8 - n..]);
}

/// Write `ops` (in destination order, tiling the new file; no `CopyFrom`) as an rdiff delta.
pub fn write_delta(ops: &[Op], mut w: impl Write) -> io::Result<u64> {
    let mut out = DELTA_MAGIC.to_be_bytes().to_vec();
    let mut written = 0u64;
    let mut at = 0u64;
    for op in ops {
        if op.dst() != at {
            return Err(invalid("ops do not tile the new file in order"));
        }
        at += op.len();
        match op {
            Op::Literal { data, .. } if data.is_empty() => {}
            Op::Literal { data, .. } if data.len() <= 64 => {
                out.push(data.len() as u8);
                out.extend_from_slice(data);
            }
            Op::Literal { data, .. } => {
                let n = int_len(data.len() as u64);
                out.push(0x41 + width_code(n));
                put_be(&mut out, data.len() as u64, n);
                out.extend_from_slice(data);
            }
            Op::Copy { src, len, .. } => {
                let (a, b) = (int_len(*src), int_len(*len));
                out.push(0x45 + width_code(a) * 4 + width_code(b));
                put_be(&mut out, *src, a);
                put_be(&mut out, *len, b);
            }
            Op::CopyFrom { .. } => return Err(invalid("CopyFrom has no rdiff encoding")),
        }
        if out.len() >= 1 << 16 {
            w.write_all(&out)?;
            written += out.len() as u64;
            out.clear();
        }
    }
    out.push(0);
    w.write_all(&out)?;
    Ok(written + out.len() as u64)
}

/// Size of `ops` as an rdiff delta, without writing it.
pub fn delta_len(ops: &[Op]) -> u64 {
    write_delta(ops, io::sink()).unwrap_or(0)
}

/// One delta command.
enum Cmd<'a> {
    Literal(&'a [u8]),
    Copy { src: u64, len: u64 },
}

/// Walk the commands of a whole delta, checking the magic, the end command and that nothing
/// follows it.
fn commands<'a>(b: &'a [u8], mut each: impl FnMut(Cmd<'a>) -> io::Result<()>) -> io::Result<()> {
    let mut p = 0usize;
    let mut take = |n: usize| -> io::Result<&'a [u8]> {
        let s = p
            .checked_add(n)
            .and_then(|e| b.get(p..e))
            .ok_or_else(|| invalid("truncated rdiff delta"))?;
        p += n;
        Ok(s)
    };
    if take(4)? != DELTA_MAGIC.to_be_bytes() {
        return Err(invalid("not an rdiff delta"));
    }
    let be = |s: &[u8]| s.iter().fold(0u64, |a, x| a << 8 | *x as u64);
    let width = |c: u8| 1usize << c;
    loop {
        let cmd = take(1)?[0];
        match cmd {
            0 => break,
            1..=0x40 => each(Cmd::Literal(take(cmd as usize)?))?,
            0x41..=0x44 => {
                let n = be(take(width(cmd - 0x41))?);
                let n = usize::try_from(n).map_err(|_| invalid("literal too long"))?;
                each(Cmd::Literal(take(n)?))?
            }
            0x45..=0x54 => {
                let c = cmd - 0x45;
                let src = be(take(width(c / 4))?);
                let len = be(take(width(c % 4))?);
                src.checked_add(len)
                    .ok_or_else(|| invalid("copy beyond any basis"))?;
                each(Cmd::Copy { src, len })?
            }
            c => return Err(invalid(format!("unknown rdiff delta command {c:#04x}"))),
        }
    }
    if p != b.len() {
        return Err(invalid("trailing bytes after the rdiff delta"));
    }
    Ok(())
}

/// Read an rdiff delta into ops with absolute destinations.
pub fn read_delta(mut r: impl Read) -> io::Result<Vec<Op>> {
    let mut b = Vec::new();
    r.read_to_end(&mut b)?;
    let mut ops = Vec::new();
    let mut dst = 0u64;
    commands(&b, |c| {
        let op = match c {
            Cmd::Literal(data) => Op::Literal {
                dst,
                data: data.to_vec(),
            },
            Cmd::Copy { src, len } => Op::Copy { dst, src, len },
        };
        dst = dst
            .checked_add(op.len())
            .ok_or_else(|| invalid("delta output too long"))?;
        ops.push(op);
        Ok(())
    })?;
    Ok(ops)
}

/// Apply an rdiff delta held in memory to a basis in memory, writing the new file straight from
/// both (what `rdiff patch` does; no ops are built).
pub fn patch(basis: &[u8], delta: &[u8], mut out: impl Write) -> io::Result<()> {
    commands(delta, |c| match c {
        Cmd::Literal(data) => out.write_all(data),
        Cmd::Copy { src, len } => {
            let s = usize::try_from(src).ok();
            let e = s
                .zip(usize::try_from(len).ok())
                .and_then(|(s, l)| s.checked_add(l));
            match (s, e) {
                (Some(s), Some(e)) if e <= basis.len() => out.write_all(&basis[s..e]),
                _ => Err(invalid("copy beyond the end of the basis")),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::pseudo_random;
    use std::path::Path;
    use std::process::Command;
    use std::sync::Arc;

    fn pair(n: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
        let old = pseudo_random(n, seed);
        let mut new = old.clone();
        new.splice(n / 3..n / 3, pseudo_random(777, seed + 1));
        new.drain(n / 2..n / 2 + 100.min(n / 4));
        new.extend_from_slice(&old[..n / 5]);
        (old, new)
    }

    fn apply(old: &[u8], ops: &[Op]) -> Vec<u8> {
        let mut out = Vec::new();
        crate::engine::api::apply(io::Cursor::new(old), ops, &mut out).unwrap();
        out
    }

    #[test]
    fn simd_sums_equal_portable_sums() {
        let d = pseudo_random(70_000, 4);
        for n in [0, 1, 31, 32, 33, 64, 700, 4096, 65_537, 70_000] {
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 checked just above.
                assert_eq!(unsafe { raw_sums_avx2(&d[..n]) }, raw_sums(&d[..n]), "{n}");
            }
        }
        assert_eq!(raw_sums(&[255; 3]), (765, 255 + 2 * 255));
    }

    #[test]
    fn weak_sum_rolls_and_matches_the_definition() {
        let d = pseudo_random(5000, 3);
        // librsync: s1 = Σ(x + 31), s2 = Σ_i (n − i)(x_i + 31), 16 bits each.
        let (mut s1, mut s2) = (0u64, 0u64);
        for (i, &x) in d[..700].iter().enumerate() {
            s1 += x as u64 + 31;
            s2 += (700 - i as u64) * (x as u64 + 31);
        }
        assert_eq!(
            LibSum::new(&d[..700]).digest(),
            ((s2 & 0xffff) << 16 | (s1 & 0xffff)) as u32
        );
        let mut s = LibSum::new(&d[..700]);
        for i in 0..4000 {
            s.roll(d[i], d[i + 700]);
            assert_eq!(s.digest(), LibSum::new(&d[i + 1..i + 701]).digest());
        }
    }

    #[test]
    fn signature_and_delta_round_trip() {
        let p = EngineParams::default();
        for (n, hash, bl, sl) in [
            (0, RdiffHash::Md4, None, None),
            (1, RdiffHash::Blake2, None, Some(8)),
            (100_000, RdiffHash::Md4, Some(700), Some(4)),
            (300_001, RdiffHash::Blake2, None, None),
        ] {
            let (old, new) = pair(n, n as u64 + 9);
            let sig = RdiffSignature::compute(&old, hash, bl, sl);
            let mut bytes = Vec::new();
            sig.write_to(&mut bytes).unwrap();
            assert_eq!(RdiffSignature::read_from(&bytes[..]).unwrap(), sig);
            assert!(RdiffSignature::read_from(&bytes[..bytes.len().saturating_sub(1)]).is_err());
            let ops = diff(&sig, Arc::new(new.clone()), &p).unwrap();
            if n > 1000 {
                assert!(crate::engine::api::literal_bytes(&ops) < 20_000, "n {n}");
            }
            let mut delta = Vec::new();
            let len = write_delta(&ops, &mut delta).unwrap();
            assert_eq!(len, delta.len() as u64);
            assert_eq!(delta_len(&ops), len);
            let back = read_delta(&delta[..]).unwrap();
            assert_eq!(apply(&old, &back), new);
            let mut direct = Vec::new();
            super::patch(&old, &delta, &mut direct).unwrap();
            assert_eq!(direct, new);
            assert!(super::patch(&old[..old.len() / 2], &delta, io::sink()).is_err() || n < 1000);
            for cut in [4, delta.len() / 2, delta.len() - 1] {
                assert!(read_delta(&delta[..cut]).is_err());
            }
        }
        let mut rk = RK_BLAKE2_SIG_MAGIC.to_be_bytes().to_vec();
        rk.extend([0, 0, 8, 0, 0, 0, 0, 32]);
        let e = RdiffSignature::read_from(&rk[..]).unwrap_err();
        assert!(e.to_string().contains("-R rollsum"), "{e}");
    }

    #[test]
    fn every_command_width_decodes() {
        let ops = vec![
            Op::Literal {
                dst: 0,
                data: vec![7; 64],
            },
            Op::Literal {
                dst: 64,
                data: vec![8; 300],
            },
            Op::Copy {
                dst: 364,
                src: 5,
                len: 70_000,
            },
            Op::Copy {
                dst: 70_364,
                src: 1 << 33,
                len: 2,
            },
        ];
        let mut d = Vec::new();
        write_delta(&ops, &mut d).unwrap();
        assert_eq!(read_delta(&d[..]).unwrap(), ops);
        // 64-byte literal = command 0x40; 300 = 0x42 + 2 bytes; copies 0x47 and 0x51.
        assert_eq!(d[4], 0x40);
        assert_eq!(d[4 + 65], 0x42);
        assert_eq!(d[4 + 65 + 3 + 300], 0x47);
        assert_eq!(d[4 + 65 + 3 + 300 + 1 + 1 + 4], 0x51);
    }

    /// `rdiff` from librsync-tools (Debian package `rdiff`); under CI=true its absence fails.
    fn rdiff() -> Option<&'static str> {
        let ok = Command::new("rdiff").arg("--version").output().is_ok();
        if !ok && std::env::var("CI").as_deref() == Ok("true") {
            panic!("rdiff is not installed (Debian package `rdiff`); CI requires it");
        }
        ok.then_some("rdiff")
    }

    fn run(args: &[&Path]) {
        let st = Command::new("rdiff").arg("-f").args(args).status().unwrap();
        assert!(st.success(), "rdiff {args:?}");
    }

    #[test]
    fn interoperates_with_rdiff() {
        let Some(_) = rdiff() else {
            eprintln!("skipping: rdiff not installed");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let f = |n: &str| dir.path().join(n);
        let (old, new) = pair(1 << 20, 42);
        std::fs::write(f("old"), &old).unwrap();
        std::fs::write(f("new"), &new).unwrap();
        let p = EngineParams::default();
        for (hash, name) in [(RdiffHash::Md4, "md4"), (RdiffHash::Blake2, "blake2")] {
            // rdiff's signature is byte-identical to ours.
            let st = Command::new("rdiff")
                .args(["-f", "-R", "rollsum", "-H", name, "signature"])
                .args([f("old"), f("sig")])
                .status()
                .unwrap();
            assert!(st.success());
            let theirs = std::fs::read(f("sig")).unwrap();
            let ours = RdiffSignature::compute(&old, hash, None, None);
            let mut bytes = Vec::new();
            ours.write_to(&mut bytes).unwrap();
            assert!(bytes == theirs, "{name} signature differs from rdiff's");
            // Our delta, patched by rdiff.
            let ops = diff(&ours, Arc::new(new.clone()), &p).unwrap();
            assert!(crate::engine::api::literal_bytes(&ops) < 10_000);
            write_delta(&ops, std::fs::File::create(f("delta")).unwrap()).unwrap();
            run(&[Path::new("patch"), &f("old"), &f("delta"), &f("out")]);
            assert!(
                std::fs::read(f("out")).unwrap() == new,
                "{name}: rdiff patch"
            );
            // rdiff's delta, read and applied here.
            run(&[Path::new("delta"), &f("sig"), &f("new"), &f("delta2")]);
            let ops = read_delta(std::fs::File::open(f("delta2")).unwrap()).unwrap();
            assert!(apply(&old, &ops) == new, "{name}: rdiff delta");
            let delta2 = std::fs::read(f("delta2")).unwrap();
            let mut direct = Vec::new();
            super::patch(&old, &delta2, &mut direct).unwrap();
            assert!(direct == new, "{name}: rdiff delta, direct patch");
        }
    }
}
