//! Shared core of the CDC engines (dsync, skysync-c, pdsync, parasync; algorithms.md §3–§6).
//!
//! Why one core: the four engines differ only in how chunks and their weak hashes are produced
//! (serial normalized/regression Gear, CRC derived from block CRCs, parallel bitmap, parallel CRC
//! combination), which strong hash confirms a weak hit (SHA-1/SHA-256/BLAKE3), and how much runs in
//! parallel. The records, the weak/strong tables, the defensive message codec, the op builder and the
//! batch protocol of the dsync family live here once.
//!
//! Batch protocol (dsync §3 "new reference", reused by skysync-c §4.2 and pdsync §5):
//! 1. sender (new file): chunk + weak hash, send the **distinct** weak hashes;
//! 2. receiver (basis): chunk + weak hash, strong-hash only the basis chunks whose weak hash was
//!    received, deduplicated by digest, answer `{index, [(digest, off, len)]}`;
//! 3. sender: strong-hash only new chunks whose weak hash got an answer, confirm, emit ops with
//!    absolute destinations (copies merged when contiguous, literals in ≤ 32 KiB pieces), in
//!    steps of about 1 MiB of literal bytes ([`Emit`]; issue 6's sender memory bound).
//!
//! Defect D5 of the reference (sentinel values that collide with legal ones) is avoided by explicit
//! counts and tags; every length read from the peer is bounds-checked ([`Reader`]).

use super::phase::{MsgKind, Phase};
use super::{EngineError, Op};
use std::collections::HashMap;

// ---- hashes (one implementation in `hash`) ----

pub use super::hash::crc::{crc32, crc32_combine};
pub use super::hash::{Digest, StrongKind as Strong};

/// `a` multiplied by x^(8·n) mod P: combine with n bytes whose CRC contribution is 0. Used to cancel
/// a known prefix: CRC(B) = CRC(A‖B) ⊕ shift(CRC(A), |B|).
pub fn crc32_shift(a: u32, n: u64) -> u32 {
    crc32_combine(a, 0, n)
}

// ---- records and tables ----

/// One chunk: offset, length, weak hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rec {
    pub off: u64,
    pub len: u32,
    pub weak: u32,
}

/// Multimap weak key → record indices, as a head map plus a `next` chain (no per-key Vec).
#[derive(Default)]
pub struct Index {
    head: HashMap<u64, u32>,
    next: Vec<u32>,
}

const NIL: u32 = u32::MAX;

impl Index {
    pub fn with_capacity(n: usize) -> Index {
        Index {
            head: HashMap::with_capacity(n),
            next: Vec::with_capacity(n),
        }
    }
    /// Insert the next record index (indices are dense, in insertion order) under `key`.
    /// Returns true if the key was new.
    pub fn push(&mut self, key: u64) -> bool {
        let i = self.next.len() as u32;
        let prev = self.head.insert(key, i);
        self.next.push(prev.unwrap_or(NIL));
        prev.is_none()
    }
    /// Record indices under `key`, most recent first.
    pub fn get(&self, key: u64) -> impl Iterator<Item = usize> + '_ {
        let mut cur = self.head.get(&key).copied().unwrap_or(NIL);
        std::iter::from_fn(move || {
            (cur != NIL).then(|| {
                let i = cur;
                cur = self.next[i as usize];
                i as usize
            })
        })
    }
    pub fn contains(&self, key: u64) -> bool {
        self.head.contains_key(&key)
    }
}

/// Weak key that also carries the length (parasync): a CRC collision with a different length is
/// filtered before any strong hash (§9).
pub fn key_len(weak: u32, len: u32) -> u64 {
    weak as u64 | (len as u64) << 32
}

// ---- message codec ----

pub use super::ops::MsgReader as Reader;

/// Message writer: a tag byte, then varints (the wire codec's LEB128) and little-endian fields.
#[derive(Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    pub fn new(tag: u8) -> Writer {
        Writer(vec![tag])
    }
    pub fn var(&mut self, v: u64) -> &mut Self {
        super::ops::put_uv(&mut self.0, v);
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    pub fn finish(self) -> Vec<u8> {
        self.0
    }
}

pub fn err(s: impl Into<String>) -> EngineError {
    EngineError(s.into())
}

// ---- op building (ops::OpBuilder merges copies and splits literals) ----

pub use super::ops::OpBuilder;

/// Ops for a whole file: matched chunks (`src[k]` = basis offset) become copies, unmatched ones
/// literals (all steps of an [`Emit`] at once).
pub fn ops_for_file(source: &[u8], chunks: &[(u64, u32)], src: &[Option<u64>]) -> Vec<Op> {
    let mut e = Emit::new(chunks.to_vec(), src.to_vec(), true, OpBuilder::new());
    let mut ops = Vec::new();
    while let Some((step, _)) = e.step(source) {
        ops.extend(step);
    }
    ops
}

/// Literal bytes one [`Emit::step`] gathers (a few wire messages' worth).
pub const STEP_LITERAL: u64 = 1 << 20;

/// A file's closing ops built from its chunks in destination order, over several steps of at
/// most about [`STEP_LITERAL`] literal bytes each.
///
/// Why in steps: a literal op carries its bytes, so building a whole file's ops at once holds
/// every unmatched byte on the heap — all of the file when nothing matches (issue 6 bounds the
/// sender at 64 MiB for any content). Steps reach the session one by one (the halves' `poll`),
/// which keeps only the ranges of literals and sends their bytes from the mapping later; the
/// steps' ops together equal a one-step build (the builder keeps its last op back between steps
/// so it can still merge).
pub struct Emit {
    spans: Vec<(u64, u32)>,
    src: Vec<Option<u64>>,
    next: usize,
    /// Copies for matched chunks too (the dsync family); parasync sent those already.
    copies: bool,
    b: OpBuilder,
    behind: super::filemap::Behind,
    done: bool,
}

impl Emit {
    /// Emit `chunks` (`src[k]`: basis offset of a matched chunk) after what `b` holds.
    pub fn new(spans: Vec<(u64, u32)>, src: Vec<Option<u64>>, copies: bool, b: OpBuilder) -> Emit {
        Emit {
            spans,
            src,
            next: 0,
            copies,
            b,
            behind: super::filemap::Behind::new(0),
            done: false,
        }
    }

    /// The next step of the emitter in `slot` as a sender step (timed as delta generation);
    /// the slot empties with the last one.
    pub fn poll(
        slot: &mut Option<Emit>,
        source: &super::Shared,
        phases: &super::phase::Phases,
    ) -> Option<super::Step> {
        let _t = phases.time(Phase::Delta);
        let (ops, done) = slot.as_mut()?.step((**source).as_ref())?;
        if done {
            *slot = None;
        }
        Some(super::Step {
            msgs: vec![],
            ops,
            done,
        })
    }

    /// The next ops and whether they are the last (`None` after the last step). Literal chunks
    /// are read from `source` in file order and its mapped pages are dropped behind them.
    pub fn step(&mut self, source: &[u8]) -> Option<(Vec<Op>, bool)> {
        if self.done {
            return None;
        }
        let limit = self.b.literal_bytes() + STEP_LITERAL;
        while self.next < self.spans.len() && self.b.literal_bytes() < limit {
            let (off, len) = self.spans[self.next];
            match self.src[self.next] {
                Some(s) if self.copies => self.b.copy(off, s, len as u64),
                None => {
                    let end = off + len as u64;
                    self.b.literal(off, &source[off as usize..end as usize]);
                    self.behind.advance(source, end as usize);
                }
                _ => {}
            }
            self.next += 1;
        }
        if self.next < self.spans.len() {
            return Some((self.b.take_settled(), false));
        }
        self.done = true;
        self.behind.flush(source, source.len());
        Some((self.b.finish(), true))
    }
}

/// Thread count for `--threads` (0 = available cores).
pub fn threads(requested: usize) -> usize {
    // Asked once: `available_parallelism` reads the cgroup CPU quota files on every call, and
    // engines ask per file.
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    if requested > 0 {
        requested
    } else {
        *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

/// A shared rayon pool of `n` threads. Pools are cached per size: engines run once per file, and
/// spawning threads for every small file would cost more than the file's delta.
pub fn pool(n: usize) -> std::sync::Arc<rayon::ThreadPool> {
    use std::sync::{Arc, Mutex, OnceLock};
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    pools
        .entry(n)
        .or_insert_with(|| {
            let p = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .thread_name(|i| format!("cdc-{i}"))
                .build()
                .or_else(|_| rayon::ThreadPoolBuilder::new().num_threads(1).build())
                .expect("a one-thread pool");
            Arc::new(p)
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_combine_and_shift() {
        let a = b"hello, ";
        let b = b"world of chunks";
        let ab = [&a[..], &b[..]].concat();
        assert_eq!(
            crc32_combine(crc32(a), crc32(b), b.len() as u64),
            crc32(&ab)
        );
        // Cancel the prefix.
        let rest = crc32(&ab) ^ crc32_shift(crc32(a), b.len() as u64);
        assert_eq!(rest, crc32(b));
        assert_eq!(crc32_combine(0, crc32(b), b.len() as u64), crc32(b));
    }

    #[test]
    fn ops_come_in_bounded_steps_that_add_up_to_one_build() {
        use super::super::ops::MAX_LITERAL;
        // Nothing matched but a few chunks: almost the whole file is literal.
        let source = crate::testkit::pseudo_random(5 << 20, 9);
        let spans: Vec<(u64, u32)> = (0..(5u64 << 20) / 10_000)
            .map(|i| (i * 10_000, 10_000))
            .chain([(
                (5u64 << 20) / 10_000 * 10_000,
                ((5u64 << 20) % 10_000) as u32,
            )])
            .collect();
        let src: Vec<Option<u64>> = (0..spans.len())
            .map(|k| (k % 97 == 3 || k == 4).then_some(k as u64 * 10_000 + 5))
            .collect();
        let mut one = OpBuilder::new();
        for (&(off, len), s) in spans.iter().zip(&src) {
            match s {
                Some(s) => one.copy(off, *s, len as u64),
                None => one.literal(off, &source[off as usize..(off + len as u64) as usize]),
            }
        }
        let one = one.finish();
        let mut e = Emit::new(spans.clone(), src.clone(), true, OpBuilder::new());
        let (mut all, mut steps, mut last) = (Vec::new(), 0, false);
        while let Some((ops, done)) = e.step(&source) {
            assert!(!last, "a step after the last");
            let lit: u64 = ops
                .iter()
                .filter(|o| matches!(o, Op::Literal { .. }))
                .map(Op::len)
                .sum();
            assert!(lit <= STEP_LITERAL + 2 * MAX_LITERAL as u64, "{lit}");
            all.extend(ops);
            (steps, last) = (steps + 1, done);
        }
        assert!(last && steps >= 5, "{steps} steps");
        assert_eq!(all, one);
        assert_eq!(ops_for_file(&source, &spans, &src), one);
        // Only copies (parasync sent them already): literals alone, still bounded.
        let mut e = Emit::new(spans, src, false, OpBuilder::new());
        let mut lits = 0;
        while let Some((ops, _)) = e.step(&source) {
            assert!(ops.iter().all(|o| matches!(o, Op::Literal { .. })));
            lits += ops.iter().map(Op::len).sum::<u64>();
        }
        let want: u64 = one
            .iter()
            .filter(|o| matches!(o, Op::Literal { .. }))
            .map(Op::len)
            .sum();
        assert_eq!(lits, want);
    }

    #[test]
    fn span_digests_come_back_in_the_order_asked_and_release_the_map() {
        use crate::engine::filemap::testing::{map, rss_kib};
        let data = crate::testkit::pseudo_random(20 << 20, 4);
        let m = map(&data);
        let mapped: &[u8] = m.as_ref();
        // Scattered over the file, in no particular order, one listed twice.
        let mut spans: Vec<(u64, u32)> = (0..400u64)
            .map(|i| ((i * 7_919_993) % (19 << 20), 1000 + (i % 7) as u32 * 1000))
            .collect();
        spans.push(spans[3]);
        let p = pool(2);
        for pool in [None, Some(&*p)] {
            let got = digest_spans(Strong::Xxh128, mapped, &spans, pool);
            let want: Vec<Digest> = spans
                .iter()
                .map(|&(o, l)| Strong::Xxh128.digest(&data[o as usize..o as usize + l as usize]))
                .collect();
            assert!(got == want);
            assert_eq!(rss_kib(mapped), 0);
        }
        assert!(digest_spans(Strong::Xxh128, mapped, &[], None).is_empty());
    }

    #[test]
    fn builder_merges_and_splits() {
        let src: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let chunks = [(0, 10), (10, 20), (30, 40_000), (40_030, 5), (40_035, 5)];
        let m = [Some(100), Some(110), None, Some(7), Some(500)];
        let ops = ops_for_file(&src, &chunks, &m);
        assert_eq!(
            ops[0],
            Op::Copy {
                dst: 0,
                src: 100,
                len: 30
            }
        );
        assert!(
            matches!(&ops[1], Op::Literal { dst: 30, data } if data.len() == super::super::ops::MAX_LITERAL)
        );
        assert!(
            matches!(&ops[2], Op::Literal { dst, data } if *dst == 30 + 32768 && data.len() == 40_000 - 32768)
        );
        assert_eq!(ops.len(), 5);
    }
}

// ---- the dsync-family batch protocol ----

/// What distinguishes dsync, skysync-c and pdsync.
#[derive(Clone, Copy)]
pub struct Profile {
    /// Chunk a whole file and weak-hash every chunk.
    pub chunk: fn(&super::Shared, &super::EngineParams) -> Vec<Rec>,
    pub strong: fn(&super::EngineParams) -> Strong,
    /// Strong-hash weak hits with a thread pool (pdsync's `parallel_for`) instead of serially.
    pub parallel: bool,
}

/// Basis chunks strong-hashed per weak hash at most: a bucket of thousands of equal CRCs (a zero
/// run) or of colliding CRCs must not turn one weak hit into a scan of the file.
pub const MAX_BUCKET: usize = 64;

const TAG_WEAKS: u8 = 1;
const TAG_ITEMS: u8 = 2;

/// Bytes of spans below which [`digest_spans`] does not use its pool.
const PAR_MIN: u64 = 256 << 10;

/// Strong digests of `spans` (offset, length) of `data`, returned in the order given. They are
/// computed in file order a window of a few MiB at a time (in `pool` when given), and each
/// window's mapped pages are dropped once hashed ([`super::filemap`]): the resident set stays
/// bounded however many chunks hit, and a list in peer order (the basis side answers weak hashes
/// in the order the new side sent them) does not fault pages back in all over the file.
pub fn digest_spans(
    strong: Strong,
    data: &[u8],
    spans: &[(u64, u32)],
    pool: Option<&rayon::ThreadPool>,
) -> Vec<Digest> {
    const WINDOW: u64 = 4 << 20;
    let mut todo: Vec<(usize, (u64, u32))> = spans.iter().copied().enumerate().collect();
    todo.sort_by_key(|t| t.1 .0);
    let one = |&(i, (off, len)): &(usize, (u64, u32))| {
        (
            i,
            strong.digest(&data[off as usize..off as usize + len as usize]),
        )
    };
    let mut out: Vec<Option<Digest>> = vec![None; spans.len()];
    let mut behind = super::filemap::Behind::new(todo.first().map_or(0, |t| t.1 .0 as usize));
    let mut rest = &todo[..];
    while let Some(&(_, (first, _))) = rest.first() {
        let n = rest
            .iter()
            .position(|t| t.1 .0 >= first.saturating_add(WINDOW))
            .unwrap_or(rest.len())
            .max(1);
        let (win, tail) = rest.split_at(n);
        // A few KiB hash faster than the pool wakes up: a small file's spans (a tree's delta
        // files, one chunk each) stay on this thread. Through the pool, each cost a futex wake
        // and the workers' spinning (57,000 sched_yield calls on a 200,000-file update).
        let bytes: u64 = win.iter().map(|t| u64::from(t.1 .1)).sum();
        let done: Vec<(usize, Digest)> = match pool.filter(|_| bytes >= PAR_MIN) {
            Some(p) => {
                use rayon::prelude::*;
                p.install(|| win.par_iter().map(one).collect())
            }
            None => win.iter().map(one).collect(),
        };
        for (i, d) in done {
            out[i] = Some(d);
        }
        let end = win.iter().map(|t| t.1 .0 + t.1 .1 as u64).max();
        behind.advance(data, end.unwrap_or(first) as usize);
        rest = tail;
    }
    let last = todo.iter().map(|t| t.1 .0 + t.1 .1 as u64).max();
    behind.flush(data, last.unwrap_or(0) as usize);
    out.into_iter()
        .map(|d| d.expect("every span hashed"))
        .collect()
}

/// (offset, length) of `recs[i]` for every i in `which`.
fn spans_of(recs: &[Rec], which: &[usize]) -> Vec<(u64, u32)> {
    which.iter().map(|&i| (recs[i].off, recs[i].len)).collect()
}

fn index_weak(recs: &[Rec]) -> Index {
    let mut ix = Index::with_capacity(recs.len());
    for r in recs {
        ix.push(r.weak as u64);
    }
    ix
}

/// Receiver (basis) half of the batch protocol.
pub struct BatchReceiver {
    profile: Profile,
    params: super::EngineParams,
    basis: super::Shared,
    done: bool,
}

impl BatchReceiver {
    pub fn new(profile: Profile, params: &super::EngineParams, basis: super::Shared) -> Self {
        BatchReceiver {
            profile,
            params: params.clone(),
            basis,
            done: false,
        }
    }
}

impl super::ReceiverHalf for BatchReceiver {
    fn start(&mut self) -> Result<super::Step, EngineError> {
        Ok(super::Step::default())
    }
    fn handle(&mut self, msg: &[u8]) -> Result<super::Step, EngineError> {
        let mut r = Reader::new(msg);
        if self.done || r.u8()? != TAG_WEAKS {
            return Err(err("unexpected engine message"));
        }
        let n = r.count(4)?;
        let weaks = (0..n).map(|_| r.u32_le()).collect::<Result<Vec<_>, _>>()?;
        r.end()?;
        let ph = &self.params.phases;
        let recs = ph.run(Phase::Signature, || {
            (self.profile.chunk)(&self.basis, &self.params)
        });
        let weak_t = ph.time(Phase::Weak);
        let ix = index_weak(&recs);
        let strong = (self.profile.strong)(&self.params);
        // Basis chunks whose weak hash the sender has: strong-hash only those.
        let mut which = Vec::new();
        let mut spans = Vec::new(); // (weak index, range in `which`)
        for (i, w) in weaks.iter().enumerate() {
            let a = which.len();
            which.extend(ix.get(*w as u64).take(MAX_BUCKET));
            if which.len() > a {
                spans.push((i, a..which.len()));
            }
        }
        let pool = self
            .profile
            .parallel
            .then(|| pool(threads(self.params.threads)));
        let data: &[u8] = (*self.basis).as_ref();
        drop(weak_t);
        let _strong_t = ph.time(Phase::Strong);
        let ds = digest_spans(strong, data, &spans_of(&recs, &which), pool.as_deref());
        let mut w = Writer::new(TAG_ITEMS);
        w.var(spans.len() as u64);
        for (i, range) in spans {
            let mut seen: Vec<(Digest, u32)> = Vec::new();
            let mut item = Vec::new();
            // Chains are most-recent-first: walk backwards to prefer the earliest basis chunk.
            for j in range.rev() {
                let rec = recs[which[j]];
                if !seen.contains(&(ds[j], rec.len)) {
                    seen.push((ds[j], rec.len));
                    item.push((ds[j], rec));
                }
            }
            w.var(i as u64).var(item.len() as u64);
            for (d, rec) in item {
                w.bytes(d.as_bytes()).var(rec.off).var(rec.len as u64);
            }
        }
        self.done = true;
        let msgs = vec![w.finish()];
        ph.msgs(MsgKind::Strong, &msgs);
        Ok(super::Step {
            msgs,
            ops: vec![],
            done: true,
        })
    }
}

/// Sender (new file) half of the batch protocol.
pub struct BatchSender {
    profile: Profile,
    params: super::EngineParams,
    source: super::Shared,
    recs: Vec<Rec>,
    distinct: Vec<u32>,
    done: bool,
    /// After the confirmation: the ops, handed out in steps by `poll`.
    emit: Option<Emit>,
}

impl BatchSender {
    pub fn new(profile: Profile, params: &super::EngineParams, source: super::Shared) -> Self {
        BatchSender {
            profile,
            params: params.clone(),
            source,
            recs: Vec::new(),
            distinct: Vec::new(),
            done: false,
            emit: None,
        }
    }

    fn emit_step(&mut self) -> Option<super::Step> {
        Emit::poll(&mut self.emit, &self.source, &self.params.phases)
    }
}

impl super::SenderHalf for BatchSender {
    fn start(&mut self) -> Result<super::Step, EngineError> {
        let ph = &self.params.phases;
        self.recs = ph.run(Phase::Signature, || {
            (self.profile.chunk)(&self.source, &self.params)
        });
        let _t = ph.time(Phase::Weak);
        let mut seen = std::collections::HashSet::with_capacity(self.recs.len());
        self.distinct = self
            .recs
            .iter()
            .map(|r| r.weak)
            .filter(|w| seen.insert(*w))
            .collect();
        let mut w = Writer::new(TAG_WEAKS);
        w.var(self.distinct.len() as u64);
        for d in &self.distinct {
            w.u32(*d);
        }
        let msgs = vec![w.finish()];
        ph.msgs(MsgKind::Weak, &msgs);
        Ok(super::Step {
            msgs,
            ..Default::default()
        })
    }

    fn handle(&mut self, msg: &[u8]) -> Result<super::Step, EngineError> {
        let ph = self.params.phases.clone();
        let weak_t = ph.time(Phase::Weak);
        let strong = (self.profile.strong)(&self.params);
        let mut r = Reader::new(msg);
        if self.done || r.u8()? != TAG_ITEMS {
            return Err(err("unexpected engine message"));
        }
        // Per distinct weak hash: the basis candidates (digest, off, len).
        let mut items: Vec<Vec<(Digest, u64, u32)>> = vec![Vec::new(); self.distinct.len()];
        let n = r.count(2)?;
        for _ in 0..n {
            let i = r.uv()? as usize;
            let slot = items
                .get_mut(i)
                .ok_or_else(|| err("weak index out of range"))?;
            let k = r.count(strong.digest_len() + 2)?;
            for _ in 0..k {
                let d = Digest::new(r.take(strong.digest_len())?);
                let off = r.uv()?;
                let len = u32::try_from(r.uv()?).map_err(|_| err("chunk length out of range"))?;
                off.checked_add(len as u64)
                    .ok_or_else(|| err("chunk offset out of range"))?;
                slot.push((d, off, len));
            }
        }
        r.end()?;
        let item_of: HashMap<u32, usize> = self
            .distinct
            .iter()
            .enumerate()
            .map(|(i, w)| (*w, i))
            .collect();
        // New chunks whose weak hash got an answer: only these are strong-hashed.
        let which: Vec<usize> = (0..self.recs.len())
            .filter(|&k| !items[item_of[&self.recs[k].weak]].is_empty())
            .collect();
        let pool = self
            .profile
            .parallel
            .then(|| pool(threads(self.params.threads)));
        let data: &[u8] = (*self.source).as_ref();
        drop(weak_t);
        let strong_t = ph.time(Phase::Strong);
        let ds = digest_spans(strong, data, &spans_of(&self.recs, &which), pool.as_deref());
        let mut src: Vec<Option<u64>> = vec![None; self.recs.len()];
        for (j, &k) in which.iter().enumerate() {
            let rec = self.recs[k];
            // Locality: after new k−1 ↔ basis m, try basis m+1 (the contiguous source) first.
            let predicted = (k > 0)
                .then(|| src[k - 1].map(|s| s + self.recs[k - 1].len as u64))
                .flatten();
            let cands = items[item_of[&rec.weak]]
                .iter()
                .filter(|(d, _, len)| *len == rec.len && *d == ds[j]);
            let mut first = None;
            for &(_, off, _) in cands {
                if Some(off) == predicted {
                    first = Some(off);
                    break;
                }
                first.get_or_insert(off);
            }
            src[k] = first;
        }
        drop(strong_t);
        let spans: Vec<(u64, u32)> = self.recs.iter().map(|r| (r.off, r.len)).collect();
        self.done = true;
        self.emit = Some(Emit::new(spans, src, true, OpBuilder::new()));
        Ok(self.emit_step().unwrap_or_default())
    }

    fn poll(&mut self) -> Result<Option<super::Step>, EngineError> {
        Ok(self.emit_step())
    }
}
