//! Receiver and sender halves shared by the fixed-block engines (rsync, skysync-f).
//!
//! Receiver: hash every basis block (in parallel) and send the signature; it then expects
//! nothing more. Sender: collect the signature, optionally copy the aligned identical prefix
//! (skysync-f, algorithms.md §4.1), then search the new file region by region, emitting each
//! region's ops from `poll()` so a huge file never holds more than one region of literal data.
//! Both halves drop the mapped pages behind their passes (the signature per window, the prefix
//! check per step, the search per region; [`crate::engine::filemap`]), so neither keeps more than
//! a few MiB of its file resident.

use super::super::filemap::Behind;
use super::super::ops::OpBuilder;
use super::super::phase::{MsgKind, Phase, Phases};
use super::super::{EngineError, EngineParams, ReceiverHalf, SenderHalf, Shared, Step};
use super::search::{scan, CrcWeak, Index, Match, Scanner, SumWeak};
use super::sig::{SigDecoder, SigParams, Signature, WeakKind};
use crate::engine::hash::{CrcKind, RollingCrc, StrongKind};
use rayon::prelude::*;

/// Match positions searched per `poll()`.
const REGION: usize = 8 << 20;
/// Smallest segment worth a parallel task.
const MIN_SEGMENT: usize = 256 << 10;

/// What distinguishes one fixed-block engine from another.
#[derive(Clone, Copy, Debug)]
pub struct Flavor {
    pub weak: WeakKind,
    pub strong: StrongKind,
    /// Block length and kept strong bytes for a basis of `len` bytes.
    pub sizes: fn(u64, &EngineParams, StrongKind) -> (u32, u8),
    /// Copy the identical aligned prefix before searching (skysync-f).
    pub prefix_skip: bool,
}

/// The papers' hw=0: weak sums by the portable code (algorithms.md §6.6).
fn soft(params: &EngineParams) -> bool {
    params.hw == Some(false)
}

/// Worker threads the params ask for (0 = all of rayon's).
fn threads(params: &EngineParams) -> usize {
    match params.threads {
        0 => rayon::current_num_threads(),
        n => n,
    }
}

pub struct BlockReceiver {
    basis: Shared,
    flavor: Flavor,
    params: EngineParams,
}

impl BlockReceiver {
    pub fn new(flavor: Flavor, params: &EngineParams, basis: Shared) -> BlockReceiver {
        BlockReceiver {
            basis,
            flavor,
            params: params.clone(),
        }
    }
}

impl ReceiverHalf for BlockReceiver {
    fn start(&mut self) -> Result<Step, EngineError> {
        let basis = (*self.basis).as_ref();
        let (block_len, slen) =
            (self.flavor.sizes)(basis.len() as u64, &self.params, self.flavor.strong);
        let p = SigParams {
            weak: self.flavor.weak,
            strong: self.flavor.strong,
            slen,
            block_len,
        };
        let ph = &self.params.phases;
        let parallel = threads(&self.params) != 1;
        let sig = ph.run(Phase::Signature, || {
            Signature::compute_with(basis, p, parallel, soft(&self.params))
        });
        let msgs = sig.encode();
        ph.msgs(MsgKind::Signature, &msgs);
        Ok(Step {
            msgs,
            ops: Vec::new(),
            done: true,
        })
    }
    fn handle(&mut self, _msg: &[u8]) -> Result<Step, EngineError> {
        Err(EngineError(
            "unexpected message for a block engine receiver".into(),
        ))
    }
}

enum WeakImpl {
    Sum(SumWeak),
    Crc(CrcWeak),
    Lib(crate::engine::rdiff::LibWeak),
}

/// Search state between polls.
struct Run {
    ix: Index,
    weak: WeakImpl,
    pos: usize,
    want: Option<u32>,
    /// New-file bytes below this are covered by emitted ops.
    emitted: usize,
    ops: OpBuilder,
    /// Drops the source's pages behind the search.
    behind: Behind,
}

pub struct BlockSender {
    source: Shared,
    flavor: Flavor,
    threads: usize,
    soft: bool,
    phases: Phases,
    dec: SigDecoder,
    run: Option<Run>,
    done: bool,
}

impl BlockSender {
    pub fn new(flavor: Flavor, params: &EngineParams, source: Shared) -> BlockSender {
        BlockSender {
            source,
            flavor,
            threads: threads(params),
            soft: soft(params),
            phases: params.phases.clone(),
            dec: SigDecoder::new(),
            run: None,
            done: false,
        }
    }

    fn begin(&mut self, sig: Signature) {
        let src = (*self.source).as_ref();
        let weak = match sig.params.weak {
            WeakKind::RollSum => WeakImpl::Sum(SumWeak(self.soft)),
            WeakKind::Crc32 => WeakImpl::Crc(CrcWeak(
                RollingCrc::new(CrcKind::Crc32, sig.params.block_len as usize),
                self.soft,
            )),
            WeakKind::Librsync => WeakImpl::Lib(crate::engine::rdiff::LibWeak),
        };
        let mut ops = OpBuilder::new();
        let mut pos = 0;
        if self.flavor.prefix_skip {
            let prefix = self
                .phases
                .run(Phase::Strong, || aligned_prefix(&sig, src, self.soft));
            ops.copy(0, 0, prefix as u64);
            pos = prefix;
        }
        self.run = Some(Run {
            ix: self.phases.run(Phase::Weak, || Index::new(sig)),
            weak,
            pos,
            want: None,
            emitted: pos,
            ops,
            behind: Behind::new(pos),
        });
    }
}

/// Length of the longest prefix of whole aligned blocks (and possibly the short last block)
/// identical in both files by (weak, strong) — skysync-f's metadata comparison.
fn aligned_prefix(sig: &Signature, src: &[u8], soft: bool) -> usize {
    let b = sig.params.block_len as usize;
    let slen = sig.params.slen as usize;
    let same = |i: usize| {
        let start = i * b;
        let blk = &src[start..(start + b).min(src.len())];
        blk.len() == sig.block_len_of(i)
            && sig.params.weak.of_with(blk, soft) == sig.weak[i]
            && &sig.params.strong.digest(blk).as_bytes()[..slen] == sig.strong_of(i)
    };
    let count = sig.count().min(src.len().div_ceil(b));
    let mut i = 0;
    let mut behind = Behind::new(0);
    let prefix = loop {
        if i >= count {
            break (count * b).min(src.len());
        }
        let end = (i + 1024).min(count);
        if let Some(k) = (i..end).into_par_iter().position_first(|k| !same(k)) {
            break (i + k) * b;
        }
        behind.advance(src, end * b);
        i = end;
    };
    behind.flush(src, prefix);
    prefix
}

impl SenderHalf for BlockSender {
    fn start(&mut self) -> Result<Step, EngineError> {
        Ok(Step::default())
    }

    fn handle(&mut self, msg: &[u8]) -> Result<Step, EngineError> {
        if self.run.is_some() || self.done {
            return Err(EngineError(
                "signature message after the signature ended".into(),
            ));
        }
        if self.dec.feed(msg, (self.flavor.weak, self.flavor.strong))? {
            let sig = self.dec.take().expect("complete signature");
            self.begin(sig);
        }
        Ok(Step::default())
    }

    fn poll(&mut self) -> Result<Option<Step>, EngineError> {
        let Some(run) = self.run.as_mut() else {
            return Ok(None);
        };
        let src = (*self.source).as_ref();
        let n = src.len();
        let to = (run.pos + REGION).min(n);
        let mut matches = Vec::new();
        let b = run.ix.sig.params.block_len as usize;
        let segments = if self.threads > 1 {
            let seg_min = MIN_SEGMENT.max(16 * b);
            (self.threads * 2).min(to.saturating_sub(run.pos) / seg_min)
        } else {
            1
        };
        let ph = &self.phases;
        let (pos, want) = match &run.weak {
            WeakImpl::Sum(w) => region(&run.ix, w, src, run, to, segments, &mut matches, ph),
            WeakImpl::Crc(w) => region(&run.ix, w, src, run, to, segments, &mut matches, ph),
            WeakImpl::Lib(w) => region(&run.ix, w, src, run, to, segments, &mut matches, ph),
        };
        run.pos = pos;
        run.want = want;
        let _t = self.phases.time(Phase::Delta);
        for m in matches {
            let (dst, len) = (m.dst as usize, run.ix.sig.block_len_of(m.block as usize));
            run.ops.literal(run.emitted as u64, &src[run.emitted..dst]);
            run.ops.copy(m.dst, m.block as u64 * b as u64, len as u64);
            run.emitted = dst + len;
        }
        let settled = run.pos.min(n);
        if settled > run.emitted {
            run.ops
                .literal(run.emitted as u64, &src[run.emitted..settled]);
            run.emitted = settled;
        }
        // The search never looks back before `emitted`.
        run.behind.advance(src, run.emitted);
        if run.pos >= n {
            run.behind.flush(src, n);
            let ops = run.ops.finish();
            self.run = None;
            self.done = true;
            return Ok(Some(Step {
                msgs: Vec::new(),
                ops,
                done: true,
            }));
        }
        Ok(Some(Step {
            msgs: Vec::new(),
            ops: run.ops.take_settled(),
            done: false,
        }))
    }
}

/// Search one region. Phase accounting: the region's wall time is weak match, except the share
/// spent strong-hashing windows (measured per weak hit; in a parallel scan, the strong share of
/// the segments' thread time applied to the wall time).
#[allow(clippy::too_many_arguments)]
fn region<W: super::search::Weak>(
    ix: &Index,
    weak: &W,
    src: &[u8],
    run: &Run,
    to: usize,
    segments: usize,
    out: &mut Vec<Match>,
    phases: &Phases,
) -> (usize, Option<u32>) {
    let t = phases.is_enabled().then(std::time::Instant::now);
    let mut sc = Scanner::new(ix, weak, src, run.pos, run.want);
    sc.timed = t.is_some();
    scan(&mut sc, to, segments, out);
    if let Some(t) = t {
        let wall = t.elapsed().as_nanos() as u64;
        let strong = match sc.busy_ns {
            0 => sc.strong_ns.min(wall),
            busy => (wall as u128 * sc.strong_ns.min(busy) as u128 / busy as u128) as u64,
        };
        phases.add_ns(Phase::Strong, strong);
        phases.add_ns(Phase::Weak, wall - strong);
    }
    (sc.pos, sc.want)
}
