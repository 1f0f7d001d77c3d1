//! In-place reconstruction (`--inplace`): rebuild the new file inside the old one, with no temp file
//! and no second copy of the data.
//!
//! Why an ordering problem: a COPY reads bytes of the old file and writes bytes of the new one at an
//! explicit offset; executed inside a single file, a copy may overwrite bytes another copy has not
//! read yet. Following ip-rsync (Rasch & Burns, USENIX'03) and Burns, Long & Stockmeyer (TKDE'03),
//! algorithms.md §8:
//!
//! * the CRWI digraph has an edge u → v when u reads bytes v writes (u must run first), built from
//!   the copies sorted by destination with an interval search, O(n log n + |E|) (§8.2) — `graph`;
//! * copies with src = dst are no-ops and leave the graph (nothing else writes their interval);
//! * Tarjan SCCs (iterative: the graph can be a chain of millions) isolate the only places where
//!   cycles exist; inside each non-trivial SCC a Kahn peel runs and, when stuck, a backward walk finds
//!   a cycle that is broken by [`Policy`] (§8.3) — `breaker`; minimising the loss is NP-hard
//!   (Burns et al.), so very large components under `trim` use a greedy feedback-arc-set order;
//! * bytes cut out of copies to break cycles are either *stashed* (read into memory before anything
//!   is written, written after every copy — the "informed in-place" scratch buffer of WASMrsync+,
//!   §8.5) while the stash budget lasts, or left for the sender to resend as literals;
//! * execution moves each copy with memmove direction through a bounded buffer, so memory stays
//!   O(ops) + buffer + stash (§8.5) — `exec`.
//!
//! Never rsync's naive rule (drop every match whose source lies before the write offset): a 1-byte
//! insert at offset 0 would lose the whole file (§8.4); here it is a chain and nothing is lost.
//!
//! Protocol use (design.md §5): the sender forwards only copies; the receiver calls [`plan`] then
//! [`execute`], asks the sender for [`Plan::missing`] as literals, writes them, then [`finish`]
//! truncates to the new length before the BLAKE3 check.

mod breaker;
mod exec;
mod graph;

pub use exec::{execute, execute_with_buffer, finish, ExecReport};

use std::fmt;
use std::str::FromStr;

/// One copy command: `len` bytes from offset `src` of the old file to offset `dst` of the new file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Copy {
    pub dst: u64,
    pub src: u64,
    pub len: u64,
}

impl Copy {
    /// The copies of an op list (literals and cross-file copies are not the in-place planner's job).
    pub fn from_ops(ops: &[crate::engine::Op]) -> Vec<Copy> {
        ops.iter()
            .filter_map(|op| match *op {
                crate::engine::Op::Copy { dst, src, len } => Some(Copy { dst, src, len }),
                _ => None,
            })
            .collect()
    }
}

/// How a cycle of the CRWI graph is broken (algorithms.md §8.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    /// ip-rsync trim-node: cut the least-overlapping dependency of the cycle out of the copy that
    /// writes it (splitting the copy when the overlap is interior). Loses the fewest bytes.
    #[default]
    Trim,
    /// Burns' locally-minimum policy: convert the shortest copy of the cycle.
    LocalMin,
    /// ip-rsync delete-node (Burns' constant-time policy): convert the node that closed the cycle.
    Delete,
}

impl FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "trim" => Ok(Policy::Trim),
            "localmin" => Ok(Policy::LocalMin),
            "delete" => Ok(Policy::Delete),
            _ => Err(format!(
                "invalid in-place policy \"{s}\" (expected trim, localmin or delete)"
            )),
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Policy::Trim => "trim",
            Policy::LocalMin => "localmin",
            Policy::Delete => "delete",
        })
    }
}

/// Counters of one plan (reported by `--stats` as in-place compression loss).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Copies given to [`plan`].
    pub copies_in: u64,
    /// Copies with src = dst (nothing to do, kept).
    pub noops: u64,
    /// Copies whose bytes are all produced locally (moved, stashed or no-op).
    pub copies_kept: u64,
    /// Copies that lost at least one byte to literals because of a cycle.
    pub copies_converted: u64,
    /// Copies with at least one stashed byte.
    pub copies_stashed: u64,
    /// Cycles broken (for greedy-ordered components: stuck points resolved).
    pub cycles_broken: u64,
    /// Bytes converted to literals to break cycles (compression loss).
    pub bytes_lost: u64,
    /// Bytes kept in memory to break cycles instead of being resent (= peak stash memory).
    pub bytes_stashed: u64,
    /// Bytes dropped because a copy was malformed (out of either file, or overlapping another
    /// copy's destination); they are resent as literals too.
    pub bytes_invalid: u64,
    /// Edges of the CRWI graph.
    pub edges: u64,
    /// Non-trivial strongly connected components, and the size of the largest one.
    pub nontrivial_sccs: u64,
    pub largest_scc: u64,
}

/// The result of [`plan`]: what to execute, in which order, and what the sender must resend.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Copies to run in this order (a trimmed copy appears as its pieces, in memmove order).
    pub steps: Vec<Copy>,
    /// Pieces read into memory before any write and written after all steps (their dependencies
    /// were cut, so after the last step nothing reads their destination any more).
    pub stash: Vec<Copy>,
    /// No-op copies (src = dst): nothing to run, but their bytes are kept.
    pub noops: Vec<Copy>,
    pub stats: Stats,
}

impl Plan {
    /// Ranges `(offset, len)` of the new file not produced by any kept copy — sorted, merged,
    /// within `[0, new_len)`; the sender must send exactly these as literals.
    pub fn missing(&self, new_len: u64) -> Vec<(u64, u64)> {
        let mut kept: Vec<(u64, u64)> = self
            .steps
            .iter()
            .chain(&self.stash)
            .chain(&self.noops)
            .map(|c| (c.dst, c.dst + c.len))
            .collect();
        kept.sort_unstable();
        let mut out = Vec::new();
        let mut at = 0u64;
        for (a, b) in kept {
            let a = a.min(new_len);
            if a > at {
                out.push((at, a - at));
            }
            at = at.max(b.min(new_len));
        }
        if at < new_len {
            out.push((at, new_len - at));
        }
        out
    }

    /// Bytes the sender must resend (sum of [`Plan::missing`]).
    pub fn missing_bytes(&self, new_len: u64) -> u64 {
        self.missing(new_len).iter().map(|r| r.1).sum()
    }
}

/// Plan the in-place execution of `copies` (whose destinations should tile part of the new file).
///
/// Malformed copies are clipped rather than trusted: a copy reaching past `old_len` or `new_len`, or
/// overlapping the destination of an earlier copy, loses the offending bytes (counted in
/// `bytes_invalid`; they show up in [`Plan::missing`]). `stash_budget` bounds the bytes of cycle
/// sources kept in memory (`--inplace-buffer`).
pub fn plan(
    copies: &[Copy],
    old_len: u64,
    new_len: u64,
    policy: Policy,
    stash_budget: u64,
) -> Plan {
    plan_with(
        copies,
        old_len,
        new_len,
        policy,
        stash_budget,
        breaker::GREEDY_SCC,
    )
}

fn plan_with(
    copies: &[Copy],
    old_len: u64,
    new_len: u64,
    policy: Policy,
    stash_budget: u64,
    greedy_above: usize,
) -> Plan {
    let mut stats = Stats {
        copies_in: copies.len() as u64,
        ..Stats::default()
    };
    let (nodes, noops) = normalize(copies, old_len, new_len, &mut stats);
    let g = graph::Graph::build(&nodes);
    stats.edges = g.edge_count() as u64;
    let comps = graph::sccs(&g);
    let mut b = breaker::Breaker::new(&nodes, &g, &comps.comp, policy, stash_budget);
    b.greedy_above = greedy_above;
    // Tarjan emits components sinks first; an edge u → v means u runs before v, so the execution
    // order is the reverse emission order.
    for c in (0..comps.count()).rev() {
        let members = comps.members(c);
        if members.len() == 1 {
            b.run_single(members[0]);
        } else {
            stats.nontrivial_sccs += 1;
            stats.largest_scc = stats.largest_scc.max(members.len() as u64);
            b.run_scc(members);
        }
    }
    let out = b.finish();
    stats.noops = noops.len() as u64;
    stats.copies_kept = out.kept + stats.noops;
    stats.copies_converted = out.converted;
    stats.copies_stashed = out.stashed_copies;
    stats.cycles_broken = out.cycles;
    stats.bytes_lost = out.lost;
    stats.bytes_stashed = out.stashed;
    Plan {
        steps: out.steps,
        stash: out.stash,
        noops,
        stats,
    }
}

/// Sort by destination, clip to both files, remove destination overlaps and split off no-ops.
fn normalize(
    copies: &[Copy],
    old_len: u64,
    new_len: u64,
    stats: &mut Stats,
) -> (Vec<Copy>, Vec<Copy>) {
    let mut v: Vec<Copy> = copies.iter().copied().filter(|c| c.len > 0).collect();
    v.sort_unstable_by_key(|c| (c.dst, c.src, c.len));
    let mut nodes = Vec::with_capacity(v.len());
    let mut noops = Vec::new();
    let mut written = 0u64; // end of the last accepted destination
    for c in v {
        let mut c = c;
        let orig = c.len;
        if c.dst < written {
            let cut = (written - c.dst).min(c.len);
            c.dst += cut;
            c.src = c.src.saturating_add(cut);
            c.len -= cut;
        }
        let room = new_len
            .saturating_sub(c.dst)
            .min(old_len.saturating_sub(c.src));
        c.len = c.len.min(room);
        stats.bytes_invalid += orig - c.len;
        if c.len == 0 {
            continue;
        }
        written = c.dst + c.len;
        if c.src == c.dst {
            noops.push(c);
        } else {
            nodes.push(c);
        }
    }
    (nodes, noops)
}

/// `ranges` (sorted, disjoint, half-open) minus `holes` shifted by `shift` (sorted, disjoint).
pub(crate) fn subtract(ranges: &mut Vec<(u64, u64)>, holes: &[(u64, u64)], shift: u64) {
    if holes.is_empty() || ranges.is_empty() {
        return;
    }
    let mut out = Vec::with_capacity(ranges.len() + holes.len());
    let mut h = 0;
    for &(mut a, b) in ranges.iter() {
        while h < holes.len() && holes[h].1 + shift <= a {
            h += 1;
        }
        let mut k = h;
        while a < b && k < holes.len() && holes[k].0 + shift < b {
            let (ha, hb) = (holes[k].0 + shift, holes[k].1 + shift);
            if ha > a {
                out.push((a, ha));
            }
            a = a.max(hb);
            k += 1;
        }
        if a < b {
            out.push((a, b));
        }
    }
    *ranges = out;
}

/// Add `add` (any order) to the sorted, disjoint `set`, merging touching ranges.
pub(crate) fn merge_into(set: &mut Vec<(u64, u64)>, add: &[(u64, u64)]) {
    set.extend_from_slice(add);
    set.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(set.len());
    for &(a, b) in set.iter() {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    *set = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(dst: u64, src: u64, len: u64) -> Copy {
        Copy { dst, src, len }
    }

    /// Run `p` on an in-memory copy of `old`, fill the missing ranges from `new`.
    fn simulate(old: &[u8], p: &Plan, new: &[u8]) -> Vec<u8> {
        let r = |c: &Copy| c.src as usize..(c.src + c.len) as usize;
        let mut f = old.to_vec();
        f.resize(f.len().max(new.len()), 0);
        let stashed: Vec<Vec<u8>> = p.stash.iter().map(|c| f[r(c)].to_vec()).collect();
        for c in &p.steps {
            f.copy_within(r(c), c.dst as usize);
        }
        for (c, d) in p.stash.iter().zip(stashed) {
            f[c.dst as usize..(c.dst + c.len) as usize].copy_from_slice(&d);
        }
        for (o, l) in p.missing(new.len() as u64) {
            let (o, l) = (o as usize, l as usize);
            f[o..o + l].copy_from_slice(&new[o..o + l]);
        }
        f.truncate(new.len());
        f
    }

    #[test]
    fn greedy_and_cycle_walk_orders_both_rebuild_permuted_chunks() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n.max(1)
        };
        for _ in 0..200 {
            let old_len = 1 + rnd(20_000);
            let old: Vec<u8> = (0..old_len).map(|_| rnd(256) as u8).collect();
            // Content-defined-like chunks of the old file, permuted, some replaced by fresh data.
            let (lo, span) = (1 + rnd(300), 1 + rnd(600));
            let mut chunks = Vec::new();
            let mut at = 0;
            while at < old_len {
                let n = (lo + rnd(span)).min(old_len - at);
                chunks.push((at, n));
                at += n;
            }
            for i in (1..chunks.len()).rev() {
                chunks.swap(i, rnd(i as u64 + 1) as usize);
            }
            let (mut new, mut copies) = (Vec::new(), Vec::new());
            for (src, len) in chunks {
                if rnd(10) == 0 {
                    new.extend((0..len).map(|_| rnd(256) as u8));
                    continue;
                }
                copies.push(c(new.len() as u64, src, len));
                new.extend_from_slice(&old[src as usize..(src + len) as usize]);
            }
            new.truncate(new.len() - rnd(new.len() as u64 / 4 + 1) as usize);
            let nl = new.len() as u64;
            for greedy_above in [0, usize::MAX] {
                for budget in [0, 4096, 1 << 20] {
                    let p = plan_with(&copies, old_len, nl, Policy::Trim, budget, greedy_above);
                    assert!(
                        simulate(&old, &p, &new) == new,
                        "greedy_above {greedy_above}"
                    );
                    assert!(p.stats.bytes_stashed <= budget);
                }
            }
        }
    }

    #[test]
    fn policy_parses() {
        assert_eq!("trim".parse::<Policy>(), Ok(Policy::Trim));
        assert_eq!("localmin".parse::<Policy>(), Ok(Policy::LocalMin));
        assert_eq!("delete".parse::<Policy>(), Ok(Policy::Delete));
        assert!("Trim".parse::<Policy>().is_err());
        assert_eq!(Policy::default(), Policy::Trim);
        assert_eq!(Policy::LocalMin.to_string(), "localmin");
    }

    #[test]
    fn subtract_and_merge() {
        let mut r = vec![(0, 10), (20, 30)];
        subtract(&mut r, &[(2, 4), (8, 22), (25, 26)], 0);
        assert_eq!(r, vec![(0, 2), (4, 8), (22, 25), (26, 30)]);
        let mut r = vec![(100, 110)];
        subtract(&mut r, &[(0, 5)], 100);
        assert_eq!(r, vec![(105, 110)]);
        let mut s = vec![(0, 2), (10, 12)];
        merge_into(&mut s, &[(2, 5), (11, 20), (30, 31)]);
        assert_eq!(s, vec![(0, 5), (10, 20), (30, 31)]);
    }

    #[test]
    fn normalize_clips_malformed_copies() {
        let mut st = Stats::default();
        let (nodes, noops) = normalize(
            &[
                c(0, 5, 10),
                c(5, 50, 10),
                c(20, 20, 4),
                c(30, 95, 10),
                c(98, 0, 10),
            ],
            100,
            100,
            &mut st,
        );
        // (5,50,10) overlaps the first copy's destination → front cut by 5.
        // (30,95,10) reads past old_len → 5 bytes; (98,0,10) writes past new_len → 2 bytes.
        assert_eq!(
            nodes,
            vec![c(0, 5, 10), c(10, 55, 5), c(30, 95, 5), c(98, 0, 2)]
        );
        assert_eq!(noops, vec![c(20, 20, 4)]);
        assert_eq!(st.bytes_invalid, 5 + 5 + 8);
    }

    #[test]
    fn missing_is_the_complement_of_kept_copies() {
        let p = plan(&[c(0, 10, 10), c(30, 30, 5)], 100, 50, Policy::Trim, 0);
        assert_eq!(p.missing(50), vec![(10, 20), (35, 15)]);
        assert_eq!(p.missing_bytes(50), 35);
        assert_eq!(p.stats.noops, 1);
        assert_eq!(p.stats.copies_kept, 2);
    }

    #[test]
    fn one_byte_insert_at_front_is_a_chain() {
        // new = [x] + old: every block shifts right by one → each copy reads what the next writes.
        let bs = 100u64;
        let copies: Vec<Copy> = (0..50).map(|i| c(1 + i * bs, i * bs, bs)).collect();
        let p = plan(&copies, 50 * bs, 50 * bs + 1, Policy::Trim, 0);
        assert_eq!(p.stats.bytes_lost, 0);
        assert_eq!(p.stats.cycles_broken, 0);
        assert_eq!(p.missing(50 * bs + 1), vec![(0, 1)]);
        // Shifting right: the last block must move first.
        assert_eq!(p.steps.first(), Some(&c(1 + 49 * bs, 49 * bs, bs)));
    }

    #[test]
    fn rotation_loses_one_block_or_nothing_with_stash() {
        let bs = 4096u64;
        let n = 64u64;
        let copies: Vec<Copy> = (0..n).map(|i| c(i * bs, ((i + 1) % n) * bs, bs)).collect();
        for policy in [Policy::Trim, Policy::LocalMin, Policy::Delete] {
            let p = plan(&copies, n * bs, n * bs, policy, 0);
            assert_eq!(p.stats.cycles_broken, 1, "{policy}");
            assert_eq!(p.stats.bytes_lost, bs, "{policy}");
            assert_eq!(p.missing_bytes(n * bs), bs, "{policy}");
            let p = plan(&copies, n * bs, n * bs, policy, bs);
            assert_eq!(p.stats.bytes_lost, 0, "{policy}");
            assert_eq!(p.stats.bytes_stashed, bs, "{policy}");
            assert!(p.missing(n * bs).is_empty(), "{policy}");
        }
    }

    #[test]
    fn half_block_rotation_trims_half_a_block() {
        // Copies of 100 bytes reading 50 bytes off their own grid: each read spans two writes.
        let n = 10u64;
        let len = n * 100;
        let copies: Vec<Copy> = (0..n)
            .map(|i| {
                c(
                    i * 100,
                    (i * 100 + 50) % len,
                    if i == n - 1 { 50 } else { 100 },
                )
            })
            .chain(std::iter::once(c(len - 50, 0, 50)))
            .collect();
        let p = plan(&copies, len, len, Policy::Trim, 0);
        assert!(p.stats.bytes_lost <= 50, "{:?}", p.stats);
        let d = plan(&copies, len, len, Policy::Delete, 0);
        assert!(d.stats.bytes_lost >= p.stats.bytes_lost);
    }
}
