//! The fixed-block match search (rsync's `hash_search`), serial and segment-parallel.
//!
//! Serial rule (algorithms.md §2, rsync match.c): at each position of the new file take the weak
//! sum of the B-byte window; if the block that follows the previous match ("want_i = i+1") has
//! that weak sum and strong sum it wins (locality, and the aligned probe right behind a match);
//! otherwise walk the weak sum's bucket — at most [`WALK_CAP`] entries — computing the window's
//! strong sum once, and take the first block whose strong sum equals. On a match jump by B and
//! recompute the sum from scratch; otherwise roll one byte. The short last block can only match
//! the window that ends at end of file (rsync shrinks the window there).
//!
//! The state of that scan is just (position, want); `want` only matters right after a match.
//! That makes a parallel scan exact (issue 12): segments are scanned independently from a fresh
//! state, then merged left to right by running the serial scanner from the merged state until it
//! reaches a state the next segment's scan passed through — from there both scans are the same
//! deterministic function, so the segment's matches are adopted. Typically this costs less than
//! one block of extra serial work per segment; in the worst case (data that keeps the two out of
//! phase) the merge degrades to the serial scan, never to a different answer.

use rayon::prelude::*;

use super::super::hash::{RollSum, RollingCrc, StrongKind};
use super::sig::Signature;

/// Most bucket entries inspected per position (a hostile basis with one weak sum everywhere
/// must not make the scan quadratic).
pub const WALK_CAP: usize = 64;

/// A rolling weak function over windows of the block length.
pub trait Weak: Sync {
    type State: Copy + Send;
    fn init(&self, window: &[u8]) -> Self::State;
    fn roll(&self, st: &mut Self::State, out: u8, inb: u8);
    fn value(&self, st: &Self::State) -> u32;
}

/// rsync's rolling checksum; `soft` recomputes windows with the portable byte loop (hw=0).
#[derive(Default)]
pub struct SumWeak(pub bool);
impl Weak for SumWeak {
    type State = RollSum;
    fn init(&self, window: &[u8]) -> RollSum {
        if self.0 {
            RollSum::new_scalar(window)
        } else {
            RollSum::new(window)
        }
    }
    #[inline(always)]
    fn roll(&self, st: &mut RollSum, out: u8, inb: u8) {
        st.roll(out, inb)
    }
    #[inline(always)]
    fn value(&self, st: &RollSum) -> u32 {
        st.digest()
    }
}

/// CRC-32 rolled over a window of the block length (skysync-f); `soft` recomputes windows
/// after a match with the table code instead of PCLMUL (the reference's hw=0).
pub struct CrcWeak(pub RollingCrc, pub bool);
impl Weak for CrcWeak {
    type State = u32;
    fn init(&self, window: &[u8]) -> u32 {
        if self.1 {
            self.0.kind().update_sw(0, window)
        } else {
            self.0.init(window)
        }
    }
    #[inline(always)]
    fn roll(&self, st: &mut u32, out: u8, inb: u8) {
        *st = self.0.roll(*st, out, inb)
    }
    #[inline(always)]
    fn value(&self, st: &u32) -> u32 {
        *st
    }
}

/// A match: new-file offset `dst` equals basis block `block`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match {
    pub dst: u64,
    pub block: u32,
}

/// Hash table over the full-length blocks of a signature (CSR layout: `order[heads[b]..heads[b+1]]`
/// are the (weak, block) entries of bucket b, ascending; duplicate (weak, strong) records keep the
/// first block). A bit filter with ~16 bits per block answers "no candidate" for most windows with
/// one load (the role of rsync's 16-bit tag table), so rolling through unmatched data stays cheap.
pub struct Index {
    pub sig: Signature,
    block_len: usize,
    nfull: u32,
    tail: Option<(u32, usize)>,
    shift: u32,
    heads: Vec<u32>,
    order: Vec<(u32, u32)>,
    fshift: u32,
    filter: Vec<u64>,
}

const BUCKET_MUL: u32 = 0x9E37_79B1;
const FILTER_MUL: u32 = 0x85EB_CA77;

impl Index {
    pub fn new(sig: Signature) -> Index {
        let sig_owned = sig;
        let block_len = sig_owned.params.block_len as usize;
        let count = sig_owned.count();
        let rem = (sig_owned.file_len % block_len as u64) as usize;
        let (nfull, tail) = if rem != 0 {
            (count - 1, Some(((count - 1) as u32, rem)))
        } else {
            (count, None)
        };
        let bits = (usize::BITS - (nfull * 2).leading_zeros()).clamp(4, 30);
        let shift = 32 - bits;
        let bucket = |w: u32| (w.wrapping_mul(BUCKET_MUL) >> shift) as usize;
        let sig = &sig_owned;
        let mut order: Vec<u32> = (0..nfull as u32).collect();
        order.sort_unstable_by(|&a, &b| {
            let (wa, wb) = (sig.weak[a as usize], sig.weak[b as usize]);
            (bucket(wa), wa, sig.strong_of(a as usize), a).cmp(&(
                bucket(wb),
                wb,
                sig.strong_of(b as usize),
                b,
            ))
        });
        order.dedup_by(|b, a| {
            sig.weak[*a as usize] == sig.weak[*b as usize]
                && sig.strong_of(*a as usize) == sig.strong_of(*b as usize)
        });
        let mut heads = vec![0u32; (1usize << bits) + 1];
        for &i in &order {
            heads[bucket(sig.weak[i as usize]) + 1] += 1;
        }
        for k in 1..heads.len() {
            heads[k] += heads[k - 1];
        }
        let fbits = (usize::BITS - (nfull * 16).leading_zeros()).clamp(12, 28);
        let fshift = 32 - fbits;
        let mut filter = vec![0u64; 1usize << (fbits - 6)];
        for &i in &order {
            let f = (sig.weak[i as usize].wrapping_mul(FILTER_MUL) as u64) >> fshift;
            filter[(f >> 6) as usize] |= 1 << (f & 63);
        }
        let order = order.iter().map(|&i| (sig.weak[i as usize], i)).collect();
        Index {
            sig: sig_owned,
            block_len,
            nfull: nfull as u32,
            tail,
            shift,
            heads,
            order,
            fshift,
            filter,
        }
    }

    #[inline(always)]
    fn bucket(&self, w: u32) -> &[(u32, u32)] {
        let b = (w.wrapping_mul(BUCKET_MUL) >> self.shift) as usize;
        &self.order[self.heads[b] as usize..self.heads[b + 1] as usize]
    }

    /// Whether the capped bucket walk for `w` meets an equal weak sum (`find` without a want
    /// can only match then).
    #[inline(always)]
    fn has_weak(&self, w: u32) -> bool {
        let f = (w.wrapping_mul(FILTER_MUL) as u64) >> self.fshift;
        self.filter[(f >> 6) as usize] & (1 << (f & 63)) != 0
            && self.bucket(w).iter().take(WALK_CAP).any(|&(x, _)| x == w)
    }

    fn len_of(&self, block: u32) -> usize {
        match self.tail {
            Some((t, l)) if t == block => l,
            _ => self.block_len,
        }
    }

    /// The want after matching `block`: the next full block, if any.
    fn next_want(&self, block: u32) -> Option<u32> {
        (block + 1 < self.nfull).then_some(block + 1)
    }
}

/// The serial scanner; its state is (pos, want) plus a cached rolling sum.
pub struct Scanner<'a, W: Weak> {
    ix: &'a Index,
    weak: &'a W,
    src: &'a [u8],
    strong: StrongKind,
    slen: usize,
    pub pos: usize,
    pub want: Option<u32>,
    st: Option<W::State>,
    /// Measure strong hashing (phase accounting) into `strong_ns`.
    pub timed: bool,
    pub strong_ns: u64,
    /// Thread time of the parallel segment scans (0 when the scan ran serially).
    pub busy_ns: u64,
}

impl<'a, W: Weak> Scanner<'a, W> {
    pub fn new(ix: &'a Index, weak: &'a W, src: &'a [u8], pos: usize, want: Option<u32>) -> Self {
        Scanner {
            ix,
            weak,
            src,
            strong: ix.sig.params.strong,
            slen: ix.sig.params.slen as usize,
            pos,
            want,
            st: None,
            timed: false,
            strong_ns: 0,
            busy_ns: 0,
        }
    }

    fn strong_eq(&self, block: u32, d: &[u8]) -> bool {
        self.ix.sig.strong_of(block as usize) == &d[..self.slen]
    }

    /// The block matching the full window at `pos` with weak value `wv`.
    fn find(&mut self, pos: usize, wv: u32) -> Option<u32> {
        let t = self.timed.then(std::time::Instant::now);
        let found = self.find_untimed(pos, wv);
        if let Some(t) = t {
            self.strong_ns += t.elapsed().as_nanos() as u64;
        }
        found
    }

    fn find_untimed(&self, pos: usize, wv: u32) -> Option<u32> {
        let window = &self.src[pos..pos + self.ix.block_len];
        let mut digest = None;
        let mut check = |block: u32| {
            let d = digest.get_or_insert_with(|| self.strong.digest(window));
            self.strong_eq(block, d.as_bytes())
        };
        if let Some(w) = self.want {
            if self.ix.sig.weak[w as usize] == wv && check(w) {
                return Some(w);
            }
        }
        self.ix
            .bucket(wv)
            .iter()
            .take(WALK_CAP)
            .find(|&&(x, i)| x == wv && check(i))
            .map(|&(_, i)| i)
    }

    /// Right after a match, with MD4 block sums: verify the windows at pos, pos+B, … against
    /// the wanted blocks w, w+1, … eight at a time with the multi-buffer MD4, and take the run
    /// of consecutive matches. Each accepted window is exactly what `step` would match (the
    /// want is tried first there too); the first window that fails is left to `step`.
    fn chain(&mut self, w: u32, out: &mut Vec<Match>) -> bool {
        const K: usize = 8;
        let (b, n, pos) = (self.ix.block_len, self.src.len(), self.pos);
        let max = (0..K)
            .take_while(|&k| w as usize + k < self.ix.nfull as usize && pos + (k + 1) * b <= n)
            .count();
        if max < 2 {
            return false;
        }
        let windows: Vec<&[u8]> = (0..max)
            .map(|k| &self.src[pos + k * b..pos + (k + 1) * b])
            .collect();
        let weak_ok = windows
            .iter()
            .enumerate()
            .take_while(|(k, win)| {
                self.weak.value(&self.weak.init(win)) == self.ix.sig.weak[w as usize + k]
            })
            .count();
        if weak_ok < 2 {
            return false;
        }
        let t = self.timed.then(std::time::Instant::now);
        let digests = super::super::hash::md4x::md4_many(&windows[..weak_ok]);
        if let Some(t) = t {
            self.strong_ns += t.elapsed().as_nanos() as u64;
        }
        let run = digests
            .iter()
            .enumerate()
            .take_while(|(k, d)| self.strong_eq(w + *k as u32, &d[..]))
            .count();
        for k in 0..run {
            out.push(Match {
                dst: (pos + k * b) as u64,
                block: w + k as u32,
            });
        }
        if run > 0 {
            self.pos = pos + run * b;
            self.want = self.ix.next_want(w + run as u32 - 1);
            self.st = None;
        }
        run > 0
    }

    /// One decision at `pos`: a match (pushed to `out`, jump) or a one-byte roll.
    pub fn step(&mut self, out: &mut Vec<Match>) {
        if let Some(w) = self.want {
            if self.strong == StrongKind::Md4 && self.slen > 0 && self.chain(w, out) {
                return;
            }
        }
        let n = self.src.len();
        let b = self.ix.block_len;
        if self.pos + b > n {
            // Only the short last block can still match, and only at end of file.
            self.st = None;
            self.want = None;
            if let Some((t, tl)) = self.ix.tail {
                let tpos = n.saturating_sub(tl);
                if tl <= n && self.pos < tpos {
                    self.pos = tpos;
                    return;
                }
                if tl <= n && self.pos == tpos {
                    let w = &self.src[tpos..];
                    if self.weak.value(&self.weak.init(w)) == self.ix.sig.weak[t as usize]
                        && self.strong_eq(t, self.strong.digest(w).as_bytes())
                    {
                        out.push(Match {
                            dst: tpos as u64,
                            block: t,
                        });
                    }
                }
            }
            self.pos = n;
            return;
        }
        let pos = self.pos;
        let mut st = match self.st {
            Some(s) => s,
            None => self.weak.init(&self.src[pos..pos + b]),
        };
        if let Some(block) = self.find(pos, self.weak.value(&st)) {
            out.push(Match {
                dst: pos as u64,
                block,
            });
            self.pos += b;
            self.want = self.ix.next_want(block);
            self.st = None;
            return;
        }
        self.want = None;
        self.st = if pos + b < n {
            self.weak.roll(&mut st, self.src[pos], self.src[pos + b]);
            Some(st)
        } else {
            None
        };
        self.pos += 1;
    }

    /// Step while `pos < to`.
    pub fn run(&mut self, to: usize, out: &mut Vec<Match>) {
        let b = self.ix.block_len;
        let src = self.src;
        while self.pos < to {
            // Fast path, identical to `step` without a want: roll past windows whose weak sum
            // has no equal entry within the capped bucket walk.
            if let (None, Some(mut st)) = (self.want, self.st) {
                let limit = to.min(src.len().saturating_sub(b));
                let mut pos = self.pos;
                while pos < limit && !self.ix.has_weak(self.weak.value(&st)) {
                    self.weak.roll(&mut st, src[pos], src[pos + b]);
                    pos += 1;
                }
                self.pos = pos;
                self.st = Some(st);
                if pos >= to {
                    break;
                }
            }
            self.step(out);
        }
    }
}

/// One segment's independent scan.
struct Segment {
    start: usize,
    matches: Vec<Match>,
    end_pos: usize,
    end_want: Option<u32>,
    strong_ns: u64,
    busy_ns: u64,
}

impl Segment {
    /// `Some(want)` if this segment's scan passed through position `p` (p ≥ start) with `want`.
    fn state_at(&self, ix: &Index, p: usize) -> Option<Option<u32>> {
        debug_assert!(p >= self.start);
        let k = self.matches.partition_point(|m| (m.dst as usize) < p);
        let Some(m) = k.checked_sub(1).map(|k| self.matches[k]) else {
            return Some(None);
        };
        let end = m.dst as usize + ix.len_of(m.block);
        match end.cmp(&p) {
            std::cmp::Ordering::Greater => None,
            std::cmp::Ordering::Equal => Some(ix.next_want(m.block)),
            std::cmp::Ordering::Less => Some(None),
        }
    }
}

/// Scan match positions `[from, to)` starting in state (from, want) with `segments` independent
/// pieces scanned in parallel; the result equals `Scanner::run` from the same state.
pub fn scan<W: Weak>(sc: &mut Scanner<'_, W>, to: usize, segments: usize, out: &mut Vec<Match>) {
    let from = sc.pos;
    if segments <= 1 || to <= from {
        return sc.run(to, out);
    }
    let span = to - from;
    let bounds: Vec<usize> = (0..=segments).map(|j| from + span * j / segments).collect();
    let (ix, weak, src, timed) = (sc.ix, sc.weak, sc.src, sc.timed);
    let segs: Vec<Segment> = (0..segments)
        .into_par_iter()
        .map(|j| {
            let t = timed.then(std::time::Instant::now);
            let mut s = Scanner::new(ix, weak, src, bounds[j], None);
            s.timed = timed;
            let mut matches = Vec::new();
            s.run(bounds[j + 1], &mut matches);
            Segment {
                start: bounds[j],
                matches,
                end_pos: s.pos,
                end_want: s.want,
                strong_ns: s.strong_ns,
                busy_ns: t.map_or(0, |t| t.elapsed().as_nanos() as u64),
            }
        })
        .collect();
    sc.strong_ns += segs.iter().map(|s| s.strong_ns).sum::<u64>();
    sc.busy_ns += segs.iter().map(|s| s.busy_ns).sum::<u64>();
    for (j, seg) in segs.iter().enumerate() {
        while sc.pos < bounds[j + 1] {
            if seg.state_at(ix, sc.pos) == Some(sc.want) {
                let p = sc.pos as u64;
                out.extend(seg.matches.iter().filter(|m| m.dst >= p));
                sc.pos = seg.end_pos;
                sc.want = seg.end_want;
                sc.st = None;
                break;
            }
            sc.step(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::sig::{SigParams, WeakKind};
    use super::*;

    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    fn sig(basis: &[u8], b: u32) -> Signature {
        sig_with(basis, b, StrongKind::Md5)
    }

    fn sig_with(basis: &[u8], b: u32, strong: StrongKind) -> Signature {
        let p = SigParams {
            weak: WeakKind::RollSum,
            strong,
            slen: 16,
            block_len: b,
        };
        Signature::compute(basis, p, false)
    }

    fn serial_and_parallel(basis: &[u8], new: &[u8], b: u32, segs: usize) {
        let md5 = serial_and_parallel_with(basis, new, b, segs, StrongKind::Md5);
        // MD4 takes the multi-buffer chain after matches; the decisions must not change.
        let md4 = serial_and_parallel_with(basis, new, b, segs, StrongKind::Md4);
        assert_eq!(md5, md4, "b {b} segs {segs}: MD4 chain differs");
    }

    fn serial_and_parallel_with(
        basis: &[u8],
        new: &[u8],
        b: u32,
        segs: usize,
        strong: StrongKind,
    ) -> Vec<Match> {
        let s = sig_with(basis, b, strong);
        let ix = Index::new(s.clone());
        let mut a = Vec::new();
        let mut sc = Scanner::new(&ix, &SumWeak(false), new, 0, None);
        sc.run(new.len(), &mut a);
        let mut p = Vec::new();
        let mut sc2 = Scanner::new(&ix, &SumWeak(false), new, 0, None);
        scan(&mut sc2, new.len(), segs, &mut p);
        assert_eq!(a, p, "b {b} segs {segs}");
        assert_eq!(sc.pos, sc2.pos);
        // Every match is a real one.
        for m in &a {
            let l = s.block_len_of(m.block as usize);
            let o = m.block as usize * b as usize;
            assert_eq!(&new[m.dst as usize..m.dst as usize + l], &basis[o..o + l]);
        }
        a
    }

    #[test]
    fn identical_file_matches_every_block() {
        let mut r = rng(1);
        let basis: Vec<u8> = (0..10_000).map(|_| r() as u8).collect();
        let s = sig(&basis, 700);
        let ix = Index::new(s.clone());
        let mut m = Vec::new();
        Scanner::new(&ix, &SumWeak(false), &basis, 0, None).run(basis.len(), &mut m);
        assert_eq!(m.len(), s.count());
        assert!(m.iter().enumerate().all(|(i, m)| m.block == i as u32));
    }

    #[test]
    fn parallel_equals_serial_on_edits_and_repeats() {
        let mut r = rng(7);
        for round in 0..40 {
            let n = (r() % 20_000) as usize + 1;
            let mut basis: Vec<u8> = (0..n).map(|_| (r() % 4) as u8).collect();
            if round % 3 == 0 {
                // Highly repetitive content keeps scans out of phase.
                basis.iter_mut().for_each(|x| *x = 0);
            }
            let mut new = basis.clone();
            for _ in 0..(r() % 5) {
                let at = (r() as usize) % (new.len() + 1);
                let len = (r() % 300) as usize;
                match r() % 3 {
                    0 => {
                        let ins: Vec<u8> = (0..len).map(|_| r() as u8).collect();
                        new.splice(at..at, ins);
                    }
                    1 => {
                        let end = (at + len).min(new.len());
                        new.drain(at..end);
                    }
                    _ => {
                        let src = (r() as usize) % (basis.len() + 1);
                        let end = (src + len).min(basis.len());
                        new.splice(at..at, basis[src..end].iter().copied());
                    }
                }
            }
            for b in [1u32, 5, 64, 700] {
                for segs in [2, 3, 7, 16] {
                    serial_and_parallel(&basis, &new, b, segs);
                }
            }
        }
    }
}
