//! One content-defined chunker for every CDC engine (algorithms.md §1.3, §13.4).
//!
//! Why one parameterised chunker: the reference code has five near-identical Gear loops (origin,
//! normalized, "2 bytes" variants, regression, ParaSync's parallel scan). They differ only in
//! (min, mask bits before/after the normal point, max, where hashing starts, decision rule), so a
//! [`Config`] covers every row of §1.3 and the presets below name them. The "2 bytes" variants
//! produce boundaries identical to byte-wise Gear (§1.3 notes), so they need no preset of their own.
//!
//! Three scan modes:
//! * [`Mode::Skip`] — FastCDC cut-point skipping: the hash restarts at 0 at chunk offset `min`;
//!   cut after the first byte whose state passes the mask (harder mask before `normal`).
//! * [`Mode::Continuous`] — ParaSync: the hash runs over the whole file without restarts, a cut is
//!   the first candidate at distance ≥ `min` from the chunk start, forced at `max` (defect D3 fix).
//!   Because a candidate depends only on the previous 48 bytes, this mode is parallel
//!   ([`parallel`]) with boundaries identical to the serial scan for any thread count.
//! * [`Mode::Regression`] — dsync's `find_cutpoint_2`: warm over 64 bytes before `min`, cut after
//!   the position in [min, max) whose state has the fewest significant bits (last one on ties, so
//!   constant input is cut at `max`), early exit below 2^18.
//!
//! FastFp (Dsync's weak hash, §1.1) is a by-product: Σ of the running Gear state over *every* byte
//! of the chunk (the reference skipped the first `min` bytes — defect D6 — which we do not copy).

pub mod parallel;

use super::gear;

/// Where the hash runs and how a cut is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Skip,
    Continuous,
    Regression,
}

/// Which fingerprint the chunker yields besides the boundaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    Gear,
    FastFp,
}

/// Chunker parameters. Sizes in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub min: usize,
    pub max: usize,
    /// Mask bits for chunk lengths below `normal` (the harder mask with normalization).
    pub bits_before: u32,
    /// Mask bits for lengths at or above `normal`.
    pub bits_after: u32,
    pub normal: usize,
    pub mode: Mode,
    pub hash: Hash,
}

const KIB: usize = 1024;

impl Config {
    /// Normalized chunking with `level` (FastCDC NC-level): bits+level before `avg`, bits−level after.
    pub const fn normalized(min: usize, bits: u32, level: u32, max: usize, mode: Mode) -> Config {
        Config {
            min,
            max,
            bits_before: bits + level,
            bits_after: bits - level,
            normal: 1 << bits,
            mode,
            hash: Hash::Gear,
        }
    }
    /// `cdc_origin_64_skysync`: 4 KiB / 13 bits / 12 KiB, hash restarts at min.
    pub const ORIGIN: Config = Config::normalized(4 * KIB, 13, 0, 12 * KIB, Mode::Skip);
    /// `cdc_normalized_chunking_2bytes_64` (old skysync-c): 15 bits until 8 KiB, then 11.
    pub const NC2: Config = Config::normalized(4 * KIB, 13, 2, 12 * KIB, Mode::Skip);
    /// `normalized_chunking_2bytes_64` (Dsync method 4): 13 bits until 8 KiB, then 11.
    pub const DSYNC_NC: Config = Config {
        bits_before: 13,
        bits_after: 11,
        ..Config::ORIGIN
    };
    /// `find_cutpoint_2` (newer dsync / skysync-c): regression chunking in [4 KiB, 12 KiB).
    pub const REGRESSION: Config = Config {
        mode: Mode::Regression,
        ..Config::ORIGIN
    };
    /// ParaSync's chunker: continuous 13-bit Gear, join at ≥ 4 KiB, plus a max (defect D3 fix).
    pub const PARASYNC: Config = Config {
        max: 64 * KIB,
        mode: Mode::Continuous,
        ..Config::ORIGIN
    };
    /// Every named configuration, for golden files and tests.
    pub const PRESETS: [(&'static str, Config); 6] = [
        ("origin", Config::ORIGIN),
        ("nc2", Config::NC2),
        ("dsync-nc", Config::DSYNC_NC),
        ("regression", Config::REGRESSION),
        ("parasync", Config::PARASYNC),
        (
            "dsync-fastfp",
            Config {
                hash: Hash::FastFp,
                ..Config::DSYNC_NC
            },
        ),
    ];

    pub fn mask_before(&self) -> u64 {
        gear::mask(self.bits_before)
    }
    pub fn mask_after(&self) -> u64 {
        gear::mask(self.bits_after)
    }
    /// Does a Gear state pass the cut test for a chunk that would be `len` bytes long?
    #[inline(always)]
    fn passes(&self, fp: u64, len: usize, mb: u64, ma: u64) -> bool {
        fp & if len < self.normal { mb } else { ma } == 0
    }
}

/// A chunk of the input: `off` and `len`, and (with [`Hash::FastFp`]) its FastFp, else 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cut {
    pub off: u64,
    pub len: u32,
    pub fastfp: u64,
}

/// FastFp of one chunk: Σ of the running Gear state (from 0 at the chunk start) over all its bytes.
pub fn fastfp(chunk: &[u8]) -> u64 {
    let mut fp = 0u64;
    let mut sum = 0u64;
    for &b in chunk {
        fp = gear::step(fp, b);
        sum = sum.wrapping_add(fp);
    }
    sum
}

/// Serial chunker over a whole buffer.
pub fn chunk(cfg: &Config, data: &[u8]) -> Vec<Cut> {
    let mut out = Vec::with_capacity(data.len() / (cfg.normal.max(1)) + 1);
    each_cut(cfg, data, |c| out.push(c));
    out
}

/// [`chunk`] in one pass over a mapped input: `f` gets each chunk as soon as it is cut (its bytes
/// are still in cache, so a weak hash of the chunk costs no second read of the file), and the
/// mapped pages behind the scan are dropped ([`crate::engine::filemap`]), so the resident set of
/// chunking a large file stays at a few MiB. `f` may read a little around its chunk.
pub fn chunk_map<T>(cfg: &Config, data: &[u8], mut f: impl FnMut(Cut) -> T) -> Vec<T> {
    let mut out = Vec::with_capacity(data.len() / (cfg.normal.max(1)) + 1);
    let mut behind = super::filemap::Behind::new(0);
    each_cut(cfg, data, |c| {
        let end = (c.off + c.len as u64) as usize;
        out.push(f(c));
        behind.advance(data, end);
    });
    behind.flush(data, data.len());
    out
}

/// The chunks of `data` in order, each handed to `f` once cut.
fn each_cut(cfg: &Config, data: &[u8], mut f: impl FnMut(Cut)) {
    let (mb, ma) = (cfg.mask_before(), cfg.mask_after());
    if cfg.mode == Mode::Continuous && cfg.hash == Hash::Gear && mb & ma == ma {
        return chunk_lanes(cfg, data, mb, ma, f);
    }
    let mut s = 0usize;
    while s < data.len() {
        let e = match cfg.mode {
            Mode::Skip => cut_skip(cfg, data, s),
            Mode::Regression => cut_regression(cfg, data, s),
            Mode::Continuous => cut_continuous(cfg, data, s),
        };
        let fastfp = match cfg.hash {
            Hash::FastFp => fastfp(&data[s..e]),
            Hash::Gear => 0,
        };
        f(Cut {
            off: s as u64,
            len: (e - s) as u32,
            fastfp,
        });
        s = e;
    }
}

/// Bytes scanned for candidates at a time by [`chunk_lanes`]: twice the expected distance from
/// a chunk's `min` to its cut (2^13 for [`Config::PARASYNC`]). Smaller blocks waste less beyond
/// a cut but pay the lanes' warm-up and setup more often; measured on random data, 16 KiB beat
/// 8 KiB by 10–15% and matched 32 KiB.
const LANE_SCAN: usize = 16 << 10;

/// The continuous Gear chunker from the lane scan of [`parallel`]: the hash of the continuous
/// scan depends only on the last [`gear::MEMORY`] bytes, so its candidates (positions passing the
/// easy mask, flagged when they also pass the harder one) are the same whatever the chunk start
/// or scan window; the join applies `min`, `normal` and `max` exactly as [`cut_continuous`] does.
/// Same cuts, about twice the speed (independent Gear chains overlap in the CPU). Needs nested
/// masks (`ma` ⊆ `mb`).
///
/// FastCDC's cut-point skipping (Xia et al., USENIX ATC '16, §3.2) applies too: no chunk ends
/// before `min`, so the scan resumes at a chunk's `min` (warmed over the bytes before it) instead
/// of at its start. That skips all of a file no longer than `min` and the head of every small
/// one: a mix of 0.7–30 KiB inputs chunks twice as fast, one large input 15% (what a block scans
/// beyond a cut is partly the next chunk's head). The cuts stay those of the full scan:
/// candidates below a chunk's `min` are never chosen.
fn chunk_lanes(cfg: &Config, data: &[u8], mb: u64, ma: u64, mut f: impl FnMut(Cut)) {
    let n = data.len();
    let mut cands: Vec<(usize, bool)> =
        Vec::with_capacity(LANE_SCAN / (1usize << cfg.bits_after).max(1) + 2);
    // Candidates are known for every end in (scan start, scanned]; those before `i` are used.
    let mut scanned = 0usize;
    let (mut s, mut i) = (0usize, 0usize);
    while s < n {
        let end = n.min(s + cfg.max);
        let shortest = s + cfg.min.max(1);
        let cut = if shortest > end {
            end
        } else {
            loop {
                while i < cands.len() && cands[i].0 < shortest {
                    i += 1;
                }
                let hit = cands[i..]
                    .iter()
                    .take_while(|c| c.0 <= end)
                    .find(|&&(e, hard)| hard || e - s >= cfg.normal);
                if let Some(&(e, _)) = hit {
                    break e;
                }
                if scanned >= end {
                    break end;
                }
                // Every known candidate up to `scanned` (< `end`) is used: scan on, from this
                // chunk's `min` at the earliest.
                cands.clear();
                i = 0;
                let from = scanned.max(shortest - 1);
                scanned = n.min(from + LANE_SCAN);
                parallel::candidates(data, from, scanned, ma, mb, &mut cands);
            }
        };
        f(Cut {
            off: s as u64,
            len: (cut - s) as u32,
            fastfp: 0,
        });
        s = cut;
    }
}

fn cut_skip(cfg: &Config, data: &[u8], s: usize) -> usize {
    let n = data.len();
    if n - s <= cfg.min {
        return n;
    }
    let end = n.min(s + cfg.max);
    let (mb, ma) = (cfg.mask_before(), cfg.mask_after());
    let mut fp = 0u64;
    for (j, &b) in data.iter().enumerate().take(end).skip(s + cfg.min) {
        fp = gear::step(fp, b);
        if cfg.passes(fp, j + 1 - s, mb, ma) {
            return j + 1;
        }
    }
    end
}

fn cut_regression(cfg: &Config, data: &[u8], s: usize) -> usize {
    const EARLY: u64 = 1 << 18;
    let n = data.len();
    if n - s <= cfg.min {
        return n;
    }
    let end = n.min(s + cfg.max);
    let a = s + cfg.min;
    let mut fp = gear::warm(&data[a - gear::MEMORY.min(cfg.min)..a]);
    let (mut best, mut best_bits) = (end, u32::MAX);
    for (j, &b) in data.iter().enumerate().take(end).skip(a) {
        fp = gear::step(fp, b);
        if fp < EARLY {
            return j + 1;
        }
        let bits = 64 - fp.leading_zeros();
        if bits <= best_bits {
            best_bits = bits;
            best = j + 1;
        }
    }
    if end == n {
        // The file ends inside the window: the rest is the tail chunk.
        return n;
    }
    best
}

/// Continuous scan from chunk start `s`.
/// The hash runs over the whole input, but its state at a byte depends only on the [`gear::MEMORY`]
/// bytes ending there, so hashing starts that many bytes before the first byte that may end a
/// chunk (length `min`) instead of at the chunk start: the same cuts, a third fewer steps.
fn cut_continuous(cfg: &Config, data: &[u8], s: usize) -> usize {
    let (mb, ma) = (cfg.mask_before(), cfg.mask_after());
    let end = data.len().min(s + cfg.max);
    let first = s + cfg.min.max(1) - 1;
    if first >= end {
        return end;
    }
    let mut fp = gear::warm(&data[first.saturating_sub(gear::MEMORY - 1)..first]);
    for (j, &b) in data.iter().enumerate().take(end).skip(first) {
        fp = gear::step(fp, b);
        if cfg.passes(fp, j + 1 - s, mb, ma) {
            return j + 1;
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rnd(n: usize, seed: u64) -> Vec<u8> {
        crate::testkit::pseudo_random(n, seed)
    }

    /// The per-byte continuous scan, as the reference for the lane scan.
    fn by_byte(cfg: &Config, data: &[u8]) -> Vec<(u64, u32)> {
        let mut out = Vec::new();
        let mut s = 0;
        while s < data.len() {
            let e = cut_continuous(cfg, data, s);
            out.push((s as u64, (e - s) as u32));
            s = e;
        }
        out
    }

    /// The continuous chunker by its definition: one Gear state over the whole input, every byte
    /// tested, a cut at the first passing end at least `min` after the chunk start, or at `max`.
    fn by_definition(cfg: &Config, data: &[u8]) -> Vec<(u64, u32)> {
        let (mb, ma) = (cfg.mask_before(), cfg.mask_after());
        let (mut out, mut s, mut fp) = (Vec::new(), 0usize, 0u64);
        for (j, &b) in data.iter().enumerate() {
            fp = gear::step(fp, b);
            let len = j + 1 - s;
            if len == cfg.max || (len >= cfg.min.max(1) && cfg.passes(fp, len, mb, ma)) {
                out.push((s as u64, len as u32));
                s = j + 1;
            }
        }
        if s < data.len() {
            out.push((s as u64, (data.len() - s) as u32));
        }
        out
    }

    #[test]
    fn lane_scan_cuts_equal_the_byte_scan() {
        let mut data = rnd(2 << 20, 21);
        data[300_000..700_000].fill(0);
        data[1_000_000..1_000_100].fill(7);
        // Zero runs around the skipped heads: short ones inside a chunk, one ending at a cut.
        for k in 0..40 {
            let at = 1_200_000 + k * 9_000;
            data[at..at + 100 + k * 97].fill(0);
        }
        let normalized = Config::normalized(2 * KIB, 11, 2, 16 * KIB, Mode::Continuous);
        let tiny = |min| Config {
            min,
            ..Config::normalized(min, 7, 1, 4 * KIB, Mode::Continuous)
        };
        let configs = Config::PRESETS.into_iter().chain([
            ("normalized-continuous", normalized),
            ("min-1", tiny(1)),
            ("min-63", tiny(63)),
            ("min-65", tiny(65)),
        ]);
        let mut lens = vec![0, 1, 63, 64, 65, 4095, 4096, 4097, 4160, 70_000, data.len()];
        lens.extend([65_535, 65_536, 65_537, 4096 + 8192, 300_100, 1_250_000]);
        for (name, cfg) in configs {
            if cfg.mode != Mode::Continuous || cfg.hash != Hash::Gear {
                continue;
            }
            for &len in &lens {
                let d = &data[..len];
                let fast: Vec<(u64, u32)> = chunk(&cfg, d).iter().map(|c| (c.off, c.len)).collect();
                let reference = by_definition(&cfg, d);
                assert_eq!(fast, reference, "{name} on {len} bytes");
                assert_eq!(by_byte(&cfg, d), reference, "{name} on {len} bytes");
            }
        }
    }

    #[test]
    fn mapped_chunking_equals_chunk_and_keeps_little_resident() {
        use crate::engine::filemap::testing::{map, rss_kib};
        let mut data = rnd(12 << 20, 22);
        data[(5 << 20)..(6 << 20)].fill(0);
        for (name, cfg) in Config::PRESETS {
            let m = map(&data);
            let mapped: &[u8] = m.as_ref();
            let mut peak = 0;
            let cuts = chunk_map(&cfg, mapped, |c| {
                if c.off % 64 == 0 || c.len as usize == cfg.max {
                    peak = peak.max(rss_kib(mapped));
                }
                c
            });
            assert_eq!(cuts, chunk(&cfg, &data), "{name}");
            assert!(peak <= 8 << 10, "{name}: {peak} KiB resident");
            assert_eq!(rss_kib(mapped), 0, "{name}");
        }
    }

    #[test]
    fn sizes_respect_min_and_max() {
        let data = rnd(3 << 20, 9);
        for (name, cfg) in Config::PRESETS {
            let cuts = chunk(&cfg, &data);
            let total: u64 = cuts.iter().map(|c| c.len as u64).sum();
            assert_eq!(total, data.len() as u64, "{name}");
            for c in &cuts[..cuts.len() - 1] {
                assert!(
                    c.len as usize >= cfg.min && c.len as usize <= cfg.max,
                    "{name} {c:?}"
                );
            }
            let mean = data.len() / cuts.len();
            assert!((5 * KIB..=16 * KIB).contains(&mean), "{name} mean {mean}");
        }
    }

    #[test]
    fn zeros_are_cut_at_max() {
        let data = vec![0u8; 1 << 20];
        for (name, cfg) in Config::PRESETS {
            let cuts = chunk(&cfg, &data);
            for c in &cuts[..cuts.len() - 1] {
                assert_eq!(c.len as usize, cfg.max, "{name}");
            }
        }
    }

    #[test]
    fn boundaries_resynchronise_after_an_insert() {
        let old = rnd(1 << 20, 3);
        let mut new = old.clone();
        new.splice(300_000..300_000, rnd(1000, 4));
        for (name, cfg) in Config::PRESETS {
            let a: std::collections::HashSet<u64> = chunk(&cfg, &old)
                .iter()
                .map(|c| c.off + c.len as u64)
                .collect();
            let b = chunk(&cfg, &new);
            let shifted = b
                .iter()
                .filter(|c| c.off > 400_000 && a.contains(&(c.off + c.len as u64 - 1000)))
                .count();
            let after = b.iter().filter(|c| c.off > 400_000).count();
            assert!(shifted + 2 >= after, "{name}: {shifted} of {after}");
        }
    }
}
