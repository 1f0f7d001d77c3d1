//! Per-phase timing and message accounting shared by every engine.
//!
//! Why one type: the seed programs of the papers (`rsync_test`, `dsync_test`, `skysync_*_test`,
//! algorithms.md §11) report time per phase — signature/chunking, weak match, strong match, delta
//! generation, patch — and issue 5 asks `--stats` for the same figures plus the bytes of the
//! signature, weak and strong messages. Every engine records into one [`Phases`] handle carried
//! in [`super::EngineParams`], so the evaluation harness (`benches/phases.rs`) and the session
//! read the same numbers without per-engine code.
//!
//! Cost: a disabled handle (the default) records nothing and never reads the clock; an enabled
//! one reads it twice per timed region. Engines time whole regions (a file's signature, a batch,
//! a search region), never single blocks, so the overhead is a few clock reads per batch. Handles
//! are shared (`Arc` of atomics) because engines time work on their chunking threads too. Phase
//! times of concurrent work (parasync's streaming chunker and matcher) are summed per region, so
//! phases may add up to more than the wall time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The phases of a delta sync, in the order the seed programs print them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Block signature (fixed-block engines) or chunking + weak hashing (CDC engines).
    Signature = 0,
    /// Weak-hash lookup: index building and the rolling search, or weak-set matching.
    Weak = 1,
    /// Strong hashing of weak hits and their confirmation.
    Strong = 2,
    /// Building the ops (literal gathering, copy merging).
    Delta = 3,
    /// Applying ops to the basis.
    Patch = 4,
}

impl Phase {
    pub const ALL: [Phase; PHASES] = [
        Phase::Signature,
        Phase::Weak,
        Phase::Strong,
        Phase::Delta,
        Phase::Patch,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Phase::Signature => "signature",
            Phase::Weak => "weak match",
            Phase::Strong => "strong match",
            Phase::Delta => "delta",
            Phase::Patch => "patch",
        }
    }
}

/// Number of phases.
pub const PHASES: usize = 5;

/// Kinds of engine messages, by what they carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsgKind {
    /// Block signatures (rsync, skysync-f).
    Signature = 0,
    /// Weak hashes and weak-hit answers (CDC engines).
    Weak = 1,
    /// Strong digests and their answers.
    Strong = 2,
}

/// Number of message kinds.
pub const MSG_KINDS: usize = 3;

#[derive(Debug, Default)]
struct Counters {
    ns: [AtomicU64; PHASES],
    bytes: [AtomicU64; MSG_KINDS],
}

/// A shared, cheaply clonable recorder; disabled by default.
#[derive(Clone, Debug, Default)]
pub struct Phases(Option<Arc<Counters>>);

/// Parameters compare equal whatever their recorders: a recorder is instrumentation, not a
/// setting both halves must agree on.
impl PartialEq for Phases {
    fn eq(&self, _: &Phases) -> bool {
        true
    }
}
impl Eq for Phases {}

/// Times one region; adds the elapsed time to its phase when dropped.
#[must_use = "the region ends when the guard is dropped"]
pub struct Timer<'a> {
    at: Option<(&'a Counters, Instant)>,
    phase: Phase,
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        if let Some((c, t)) = self.at {
            c.ns[self.phase as usize].fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
    }
}

impl Phases {
    /// A recorder that records.
    pub fn enabled() -> Phases {
        Phases(Some(Arc::default()))
    }
    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }
    /// Start timing `phase` until the returned guard is dropped.
    #[inline]
    pub fn time(&self, phase: Phase) -> Timer<'_> {
        Timer {
            at: self.0.as_deref().map(|c| (c, Instant::now())),
            phase,
        }
    }
    /// Run `f` as a region of `phase`.
    #[inline]
    pub fn run<T>(&self, phase: Phase, f: impl FnOnce() -> T) -> T {
        let _t = self.time(phase);
        f()
    }
    /// Add `ns` nanoseconds measured elsewhere (e.g. summed inside a loop) to `phase`.
    pub fn add_ns(&self, phase: Phase, ns: u64) {
        if let Some(c) = &self.0 {
            c.ns[phase as usize].fetch_add(ns, Ordering::Relaxed);
        }
    }
    /// Count the bytes of engine messages of one kind.
    pub fn msgs<'m>(&self, kind: MsgKind, msgs: impl IntoIterator<Item = &'m Vec<u8>>) {
        if let Some(c) = &self.0 {
            let n: usize = msgs.into_iter().map(Vec::len).sum();
            c.bytes[kind as usize].fetch_add(n as u64, Ordering::Relaxed);
        }
    }
    /// What has been recorded so far.
    pub fn snapshot(&self) -> PhaseTotals {
        let mut t = PhaseTotals::default();
        if let Some(c) = &self.0 {
            for (d, s) in t.ns.iter_mut().zip(&c.ns) {
                *d = s.load(Ordering::Relaxed);
            }
            for (d, s) in t.bytes.iter_mut().zip(&c.bytes) {
                *d = s.load(Ordering::Relaxed);
            }
        }
        t
    }
}

/// Recorded totals: nanoseconds per [`Phase`] and bytes per [`MsgKind`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhaseTotals {
    pub ns: [u64; PHASES],
    pub bytes: [u64; MSG_KINDS],
}

impl PhaseTotals {
    pub fn secs(&self, p: Phase) -> f64 {
        self.ns[p as usize] as f64 / 1e9
    }
    pub fn is_empty(&self) -> bool {
        self.ns.iter().chain(&self.bytes).all(|x| *x == 0)
    }
    /// Microseconds per phase (what `--stats` carries on the wire).
    pub fn micros(&self) -> [u64; PHASES] {
        self.ns.map(|n| n / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_records_nothing_enabled_records_regions_and_bytes() {
        let off = Phases::default();
        off.run(Phase::Weak, || {
            std::thread::sleep(std::time::Duration::from_millis(2))
        });
        off.msgs(MsgKind::Weak, &[vec![1, 2, 3]]);
        assert!(off.snapshot().is_empty());

        let on = Phases::enabled();
        let shared = on.clone();
        std::thread::spawn(move || {
            shared.run(Phase::Signature, || {
                std::thread::sleep(std::time::Duration::from_millis(3))
            })
        })
        .join()
        .unwrap();
        on.msgs(MsgKind::Strong, &[vec![0; 10], vec![0; 5]]);
        on.add_ns(Phase::Patch, 7);
        let s = on.snapshot();
        assert!(s.secs(Phase::Signature) >= 0.003);
        assert_eq!(s.ns[Phase::Weak as usize], 0);
        assert_eq!(s.ns[Phase::Patch as usize], 7);
        assert_eq!(s.bytes, [0, 0, 15]);
        assert_eq!(Phases::enabled(), Phases::default());
    }
}
