//! Literal refinement: one extra round trip per delta file that turns the edges of literal runs
//! back into copies, for every engine.
//!
//! Why: a content-defined chunk that straddles an edit (or the seam between two moved blocks) is
//! lost whole, although most of its bytes are unchanged — on the `scatter` workload a 1 KiB edit
//! costs a whole 8–12 KiB chunk, on `shuffle` every block seam costs about two chunks. rsync's
//! fixed blocks have the same loss at a different granularity. The sender knows, for each literal
//! run, which old offset the copy before it ended at and which old offset the copy after it starts
//! at; the new data very often continues the old data there. So the sender asks the receiver for
//! xxh3 hashes of the old bytes right after / right before those offsets in [`BLOCK`]-byte blocks
//! (`Msg::Probe`), compares them with its own new bytes, and extends the neighbouring copies block
//! by block (`Msg::Probed` answers). Only the middle of each literal run is then sent.
//!
//! The probe answer costs 8 bytes per 256 bytes probed (~3 %) and at most [`MAX_PROBE`] bytes are
//! probed per side, so a run of truly new data costs little extra. A wrong extension (a hash
//! collision, a hostile peer) is caught by the whole-file BLAKE3 and redone, as for any op.

use crate::engine::Op;
use std::collections::HashMap;

/// Probe granularity in bytes.
pub const BLOCK: u64 = 256;
/// Bytes probed at most on each side of a literal run.
pub const MAX_PROBE: u64 = 64 << 10;
/// Limits a receiver enforces on a probe request (hostile peers).
pub const MAX_PROBE_RANGES: usize = 1 << 20;

/// Hash of one block (seeded so an adversary cannot precompute collisions across runs
/// is not needed: a collision only costs a redo).
pub fn block_hash(b: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(b)
}

/// Hashes of the full blocks of `data`.
pub fn block_hashes(data: &[u8], block: usize) -> Vec<u64> {
    data.chunks_exact(block).map(block_hash).collect()
}

struct Probe {
    lit: usize,
    forward: bool,
    old: u64,
    len: u64,
}

/// Extra copies, and the literal (offset, length) ranges still to send.
pub type Resolved = (Vec<Op>, Vec<(u64, u64)>);

/// The copies and literal runs of one file as the engine produced them (literals as ranges only:
/// their bytes are re-read from the source when sent).
#[derive(Default)]
pub struct Gaps {
    lits: Vec<(u64, u64)>,
    /// new end offset of a copy → old end offset
    ends: HashMap<u64, u64>,
    /// new start offset of a copy → old start offset
    starts: HashMap<u64, u64>,
    probes: Vec<Probe>,
    /// Per literal run: the middle already sent by [`Gaps::take_unreachable`] (empty: none).
    sent: Vec<(u64, u64)>,
}

impl Gaps {
    pub fn copy(&mut self, dst: u64, src: u64, len: u64) {
        self.ends.insert(dst + len, src + len);
        self.starts.insert(dst, src);
    }

    pub fn literal(&mut self, dst: u64, len: u64) {
        self.lits.push((dst, len));
    }

    /// Sorted, merged literal runs (also what to send when there is nothing to probe).
    fn merge(&mut self) {
        self.lits.sort_unstable();
        let mut out: Vec<(u64, u64)> = Vec::with_capacity(self.lits.len());
        for &(a, l) in &self.lits {
            match out.last_mut() {
                Some(last) if last.0 + last.1 == a => last.1 += l,
                _ => out.push((a, l)),
            }
        }
        self.lits = out;
    }

    /// The old ranges to hash: (offset, length), lengths multiples of [`BLOCK`]. Empty when no
    /// literal run borders a copy.
    pub fn plan(&mut self) -> Vec<(u64, u64)> {
        self.merge();
        self.probes.clear();
        self.sent.clear();
        for (i, &(a, len)) in self.lits.iter().enumerate() {
            let want = len.min(MAX_PROBE) / BLOCK * BLOCK;
            if want == 0 {
                continue;
            }
            // Without a neighbouring copy, guess that the data did not move (an in-place edit of a
            // small file, which is often a single chunk).
            let fwd = self.ends.get(&a).copied().unwrap_or(a);
            self.probes.push(Probe {
                lit: i,
                forward: true,
                old: fwd,
                len: want,
            });
            let old = self.starts.get(&(a + len)).copied().unwrap_or(a + len);
            let l = want.min(old / BLOCK * BLOCK);
            if l > 0 {
                self.probes.push(Probe {
                    lit: i,
                    forward: false,
                    old: old - l,
                    len: l,
                });
            }
        }
        self.probes.iter().map(|p| (p.old, p.len)).collect()
    }

    /// After [`Gaps::plan`]: the middles of literal runs that no probe can reach (more than
    /// [`MAX_PROBE`] from both ends). They are literal whatever the answers say, so the sender
    /// streams them while the probe round trip is in flight; [`Gaps::resolve`] leaves them out.
    pub fn take_unreachable(&mut self) -> Vec<(u64, u64)> {
        let reach = MAX_PROBE / BLOCK * BLOCK;
        self.sent = self
            .lits
            .iter()
            .map(|&(a, len)| {
                if len > 2 * reach {
                    (a + reach, len - 2 * reach)
                } else {
                    (a, 0)
                }
            })
            .collect();
        self.sent.iter().copied().filter(|m| m.1 > 0).collect()
    }

    /// The literal runs as they stand (no probing done).
    pub fn literals(&self) -> &[(u64, u64)] {
        &self.lits
    }

    /// Extend copies over the blocks whose hashes match `new`; returns the extra copies and the
    /// literal ranges still to send. `answers` holds one hash list per planned probe.
    pub fn resolve(&self, new: &[u8], answers: &[Vec<u64>]) -> Result<Resolved, String> {
        if answers.len() != self.probes.len() {
            return Err("probe answer count mismatch".into());
        }
        // Per literal run: the probed blocks whose hashes match, as (new offset, old offset).
        let mut fwd: Vec<Vec<(u64, u64)>> = self.lits.iter().map(|_| Vec::new()).collect();
        let mut bwd: Vec<Vec<(u64, u64)>> = self.lits.iter().map(|_| Vec::new()).collect();
        // Probes read `new` in increasing order: drop its mapped pages behind them.
        let mut behind = crate::engine::filemap::Behind::new(0);
        for (p, hs) in self.probes.iter().zip(answers) {
            behind.advance(new, self.lits[p.lit].0 as usize);
            if hs.len() as u64 > p.len / BLOCK {
                return Err("probe answer longer than asked".into());
            }
            let (a, len) = self.lits[p.lit];
            let b = a + len;
            let block = |at: u64| -> Option<u64> {
                let s = usize::try_from(at).ok()?;
                new.get(s..s + BLOCK as usize).map(block_hash)
            };
            // Every matching block counts, not only the unbroken run next to the copy: a
            // literal run that spans two nearby edits keeps the unchanged bytes between them
            // (the data continues at the same shift, as on `scatter`).
            if p.forward {
                for (k, h) in hs.iter().enumerate() {
                    let at = k as u64 * BLOCK;
                    if at + BLOCK <= len && block(a + at) == Some(*h) {
                        fwd[p.lit].push((a + at, p.old + at));
                    }
                }
            } else {
                let n = hs.len() as u64;
                for j in 0..n {
                    let back = (j + 1) * BLOCK;
                    if back <= len && block(b - back) == Some(hs[(n - 1 - j) as usize]) {
                        bwd[p.lit].push((b - back, p.old + p.len - back));
                    }
                }
            }
        }
        behind.flush(new, new.len());
        let mut copies = Vec::new();
        let mut lits = Vec::new();
        for (i, &(a, len)) in self.lits.iter().enumerate() {
            // Forward blocks first; of a backward block, the bytes no forward block covers.
            let f = std::mem::take(&mut fwd[i]);
            let mut got: Vec<(u64, u64, u64)> = f.iter().map(|&(d, src)| (d, src, BLOCK)).collect();
            for &(d, src) in &bwd[i] {
                let mut at = d;
                let end = d + BLOCK;
                let mut k = f.partition_point(|x| x.0 + BLOCK <= d);
                while at < end {
                    let next = f.get(k).map_or(end, |x| x.0.clamp(at, end));
                    if next > at {
                        got.push((at, src + (at - d), next - at));
                    }
                    at = f.get(k).map_or(end, |x| (x.0 + BLOCK).min(end).max(next));
                    k += 1;
                }
            }
            got.sort_unstable();
            // Coalesce neighbours that continue the same old run into one copy.
            let mut runs: Vec<(u64, u64, u64)> = Vec::new();
            for (d, src, l) in got {
                match runs.last_mut() {
                    Some(r) if r.0 + r.2 == d && r.1 + r.2 == src => r.2 += l,
                    _ => runs.push((d, src, l)),
                }
            }
            // What is left is literal, except the middle already sent early.
            let middle = self.sent.get(i).copied().filter(|m| m.1 > 0);
            let mut gap = |from: u64, to: u64| {
                if to <= from {
                    return;
                }
                match middle {
                    // Probes reach at most MAX_PROBE into the run: the middle lies inside.
                    Some((m0, ml)) if from <= m0 && m0 + ml <= to => {
                        if m0 > from {
                            lits.push((from, m0 - from));
                        }
                        if to > m0 + ml {
                            lits.push((m0 + ml, to - m0 - ml));
                        }
                    }
                    _ => lits.push((from, to - from)),
                }
            };
            let mut at = a;
            for &(d, src, l) in &runs {
                gap(at, d);
                copies.push(Op::Copy {
                    dst: d,
                    src,
                    len: l,
                });
                at = d + l;
            }
            gap(at, a + len);
        }
        Ok((copies, lits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rnd(n: usize, seed: u64) -> Vec<u8> {
        crate::testkit::pseudo_random(n, seed)
    }

    /// The receiver's answers to `probes`: hashes of the old file's blocks.
    fn answer(old: &[u8], probes: &[(u64, u64)]) -> Vec<Vec<u64>> {
        probes
            .iter()
            .map(|&(o, l)| block_hashes(&old[o as usize..(o + l) as usize], BLOCK as usize))
            .collect()
    }

    /// Apply `copies` plus the `lits` ranges of `new` as literals to `old`.
    fn rebuild(old: &[u8], new: &[u8], mut copies: Vec<Op>, lits: &[(u64, u64)]) -> Vec<u8> {
        copies.extend(lits.iter().map(|&(a, l)| Op::Literal {
            dst: a,
            data: new[a as usize..(a + l) as usize].to_vec(),
        }));
        crate::engine::apply_ops(old, &copies, new.len() as u64).unwrap()
    }

    /// old = A B, new = A x B where the engine matched only the inner parts of A and B.
    #[test]
    fn edges_of_a_literal_run_become_copies() {
        let old = rnd(40_000, 7);
        let mut new = old[..20_000].to_vec();
        new.extend(rnd(1000, 9));
        new.extend(&old[20_000..]);
        let mut g = Gaps::default();
        // The engine lost 4,000 unchanged bytes on each side of the insert.
        g.copy(0, 0, 16_000);
        g.literal(16_000, 9_000);
        g.copy(25_000, 24_000, 16_000);
        let probes = g.plan();
        assert_eq!(probes.len(), 2);
        let answers = answer(&old, &probes);
        let (copies, lits) = g.resolve(&new, &answers).unwrap();
        let lit: u64 = lits.iter().map(|l| l.1).sum();
        assert!(lit < 1000 + 2 * BLOCK, "{lits:?}");
        // Applying everything rebuilds the new file.
        let mut ops = vec![
            Op::Copy {
                dst: 0,
                src: 0,
                len: 16_000,
            },
            Op::Copy {
                dst: 25_000,
                src: 24_000,
                len: 16_000,
            },
        ];
        ops.extend(copies);
        assert_eq!(rebuild(&old, &new, ops, &lits), new);
    }

    /// A long run of new data: its middle goes before the answers, the ends after; together
    /// they tile the run exactly once.
    #[test]
    fn unreachable_middles_are_sent_early_and_not_again() {
        let old = rnd(400_000, 11);
        let mut new = old[..100_000].to_vec();
        new.extend(rnd(300_000, 12));
        new.extend(&old[100_000..]);
        let mut g = Gaps::default();
        g.copy(0, 0, 96_000);
        g.literal(96_000, 308_000);
        g.copy(404_000, 104_000, 296_000);
        let probes = g.plan();
        let early = g.take_unreachable();
        let reach = MAX_PROBE / BLOCK * BLOCK;
        assert_eq!(early, vec![(96_000 + reach, 308_000 - 2 * reach)]);
        let answers = answer(&old, &probes);
        let (copies, lits) = g.resolve(&new, &answers).unwrap();
        let mut ops = vec![
            Op::Copy {
                dst: 0,
                src: 0,
                len: 96_000,
            },
            Op::Copy {
                dst: 404_000,
                src: 104_000,
                len: 296_000,
            },
        ];
        ops.extend(copies);
        let all: Vec<(u64, u64)> = lits.into_iter().chain(early).collect();
        assert_eq!(rebuild(&old, &new, ops, &all), new);
        let lit: u64 = all.iter().map(|l| l.1).sum();
        assert!(lit < 300_000 + 2 * BLOCK, "{lit}");
    }

    #[test]
    fn unchanged_bytes_between_two_edits_of_one_run_become_copies() {
        // Two 64-byte edits 4 KB apart fall into one literal run of the engine.
        let old = rnd(40_000, 11);
        let mut new = old.clone();
        new[10_000..10_064].copy_from_slice(&rnd(64, 12));
        new[14_000..14_064].copy_from_slice(&rnd(64, 13));
        let mut g = Gaps::default();
        g.copy(0, 0, 8_000);
        g.literal(8_000, 12_000);
        g.copy(20_000, 20_000, 20_000);
        let probes = g.plan();
        let answers = answer(&old, &probes);
        let (copies, lits) = g.resolve(&new, &answers).unwrap();
        let lit: u64 = lits.iter().map(|l| l.1).sum();
        assert!(lit <= 2 * (64 + 2 * BLOCK), "{lits:?}");
        let mut ops = copies;
        ops.push(Op::Copy {
            dst: 0,
            src: 0,
            len: 8_000,
        });
        ops.push(Op::Copy {
            dst: 20_000,
            src: 20_000,
            len: 20_000,
        });
        assert_eq!(rebuild(&old, &new, ops, &lits), new);
    }

    #[test]
    fn a_lone_literal_run_is_probed_in_place() {
        // A 64-byte edit inside a 5,000-byte file that the engine sent whole.
        let old = rnd(5000, 3);
        let mut new = old.clone();
        new[2000..2064].copy_from_slice(&rnd(64, 4));
        let mut g = Gaps::default();
        g.literal(0, 5000);
        let probes = g.plan();
        assert_eq!(probes, vec![(0, 4864), (136, 4864)]);
        let answers = answer(&old, &probes);
        let (copies, lits) = g.resolve(&new, &answers).unwrap();
        let lit: u64 = lits.iter().map(|l| l.1).sum();
        assert!(lit <= 64 + 2 * BLOCK, "{lits:?}");
        assert_eq!(rebuild(&old, &new, copies, &lits), new);
        assert!(g.resolve(&[], &[vec![1]]).is_err());
    }

    #[test]
    fn hostile_answers_are_refused() {
        let mut g = Gaps::default();
        g.copy(0, 0, 1000);
        g.literal(1000, 1024);
        assert_eq!(g.plan().len(), 2);
        assert!(g.resolve(&[0; 2024], &[vec![0; 5], vec![]]).is_err());
        assert!(g.resolve(&[0; 2024], &[vec![]]).is_err());
    }
}
