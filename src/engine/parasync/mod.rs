//! Engine `parasync` — the flagship (ParaSync, FAST'26; algorithms.md §6, design.md §4).
//!
//! Why it is fast: (1) chunking is parallel and checksumming is a cheap combination step —
//! threads find Gear candidates and CRC the pieces between them, a serial join applies min/max and
//! combines piece CRCs ([`super::chunker::parallel`]); (2) matching streams — the receiver sends
//! weak-hash batches (~4096 chunks) while it is still chunking, the sender answers each batch with a
//! hit bitmap, the receiver strong-hashes (xxh3-128) only the hit chunks, and the sender emits copy ops with absolute
//! destinations as soon as a batch is confirmed; literals for what never matched follow at the end.
//! No all-or-nothing barrier on either side (§6.4 mode 3).
//!
//! Direction: unlike dsync (new side first), the *basis* side streams first, because its chunk list
//! arrives in file order with implicit offsets (Σ of lengths), so a weak record costs 4 B of CRC +
//! a varint length, and the new side can apply locality prediction (after new k ↔ old m, basis
//! chunk m+1 is the preferred source for new k+1 — contiguous sources merge into one copy).
//!
//! `--pipeline` reproduces the reference's four strong-matcher modes as barrier placements over the
//! same protocol (§13.5): `batch` (mode 0) = chunk everything, then one batch; `v3` and `graph`
//! (modes 1–2) = chunk everything, then 4096-chunk batches; `stream` (mode 3, default) = batches
//! leave while chunking runs. The wire format is the same for all, so the two ends need not agree.
//!
//! Memory is bounded by the chunk metadata (tens of bytes per ~12 KiB chunk), at most
//! [`IN_FLIGHT`] batches queued between the chunking thread and the session, and the inputs are
//! mmaps shared by reference ([`super::Shared`]) whose pages every pass drops behind itself
//! ([`super::filemap`]: the chunker per region, strong hashes per few-MiB window, literals per
//! chunk), so the resident set does not grow with the file; no file data is copied except
//! literal bytes.
//!
//! Stream mode sends its first weak batch after [`FIRST_BATCH`] chunks and doubles up to
//! [`STREAM_BATCH`], and the sender emits a long held-back copy without waiting for its extension: the
//! receiver's writes start while most of the basis is still being chunked.

mod receiver;
mod sender;

pub use receiver::Receiver;
pub use sender::{prepare, Prepared, Sender};

use super::cdc::{err, Digest, Reader, Writer};
use super::chunker::Config;
use super::EngineError;

/// Strong hash of weak hits. xxh3-128 rather than BLAKE3: it only confirms a weak (CRC-32) match
/// between chunks of known length, where a 128-bit non-cryptographic hash is what rsync 3.2+
/// itself uses for its block sums; the whole-file BLAKE3 still verifies every reconstructed file,
/// and a mismatch redoes the file without delta. Profiling showed BLAKE3 of every matched chunk on
/// both sides at ~30 % of the engine's time.
pub(crate) const STRONG: super::cdc::Strong = super::cdc::Strong::Xxh128;

/// Strong digests of `spans` in `pool`, a window of a few MiB at a time whose mapped pages are
/// dropped once hashed ([`super::cdc::digest_spans`]).
fn strong_digests(pool: &rayon::ThreadPool, data: &[u8], spans: &[(u64, u32)]) -> Vec<Digest> {
    super::cdc::digest_spans(STRONG, data, spans, Some(pool))
}

/// The `--pipeline` modes (§6.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pipeline {
    Batch,
    V3,
    Graph,
    #[default]
    Stream,
}

impl Pipeline {
    pub fn parse(s: &str) -> Option<Pipeline> {
        Some(match s {
            "batch" => Pipeline::Batch,
            "v3" => Pipeline::V3,
            "graph" => Pipeline::Graph,
            "stream" => Pipeline::Stream,
            _ => return None,
        })
    }
}

/// Chunks per weak-hash batch (reference BATCH_SIZE).
pub const BATCH: usize = 4096;
/// Chunks in the first batch of the stream mode; each later batch doubles, up to
/// [`STREAM_BATCH`].
pub const FIRST_BATCH: usize = 256;
/// Largest stream-mode batch (~12 MiB of basis): the session thread waits for the next batch
/// while copies already confirmed queue up, so batches stay short.
pub const STREAM_BATCH: usize = 1024;
/// Batches queued between the chunking thread and the session (reference NUM_TOKENS).
pub const IN_FLIGHT: usize = 4;
/// Files up to this size are chunked on the calling thread (no background thread per small file).
pub const INLINE: usize = 4 << 20;
/// The chunker: continuous 13-bit Gear, min 4 KiB, max 64 KiB.
pub const CHUNKER: Config = Config::PARASYNC;
/// Strong digests (xxh3-128) travel in full.
const DIGEST: usize = 16;

const TAG_WEAK: u8 = 1;
const TAG_END: u8 = 2;
const TAG_HITS: u8 = 3;
const TAG_STRONG: u8 = 4;

/// Engine messages.
#[derive(Debug, PartialEq, Eq)]
enum Msg {
    /// Receiver → sender: the next basis chunks in file order as (CRC-32, length).
    Weak { id: u64, chunks: Vec<(u32, u32)> },
    /// Receiver → sender: no more batches; `batches` were sent.
    End { batches: u64 },
    /// Sender → receiver: which chunks of batch `id` have a weak hit.
    Hits { id: u64, hits: Vec<bool> },
    /// Receiver → sender: strong digest (xxh3-128) of every hit chunk of batch `id`, in order.
    Strong { id: u64, digests: Vec<Digest> },
}

impl Msg {
    fn encode(&self) -> Vec<u8> {
        let mut w;
        match self {
            Msg::Weak { id, chunks } => {
                w = Writer::new(TAG_WEAK);
                w.var(*id).var(chunks.len() as u64);
                for (crc, len) in chunks {
                    w.u32(*crc).var(*len as u64);
                }
            }
            Msg::End { batches } => {
                w = Writer::new(TAG_END);
                w.var(*batches);
            }
            Msg::Hits { id, hits } => {
                w = Writer::new(TAG_HITS);
                w.var(*id).var(hits.len() as u64);
                for byte in hits.chunks(8) {
                    let b = byte
                        .iter()
                        .enumerate()
                        .fold(0u8, |a, (i, h)| a | (*h as u8) << i);
                    w.bytes(&[b]);
                }
            }
            Msg::Strong { id, digests } => {
                w = Writer::new(TAG_STRONG);
                w.var(*id).var(digests.len() as u64);
                for d in digests {
                    w.bytes(d.as_bytes());
                }
            }
        }
        w.finish()
    }

    fn decode(buf: &[u8]) -> Result<Msg, EngineError> {
        let mut r = Reader::new(buf);
        let m = match r.u8()? {
            TAG_WEAK => {
                let id = r.uv()?;
                let n = r.count(5)?;
                let mut chunks = Vec::with_capacity(n);
                for _ in 0..n {
                    let crc = r.u32_le()?;
                    let len = r.uv()?;
                    if len == 0 || len > CHUNKER.max as u64 {
                        return Err(err("chunk length out of range"));
                    }
                    chunks.push((crc, len as u32));
                }
                Msg::Weak { id, chunks }
            }
            TAG_END => Msg::End { batches: r.uv()? },
            TAG_HITS => {
                let id = r.uv()?;
                let n = r.uv()?;
                let bytes = r.take(n.div_ceil(8).try_into().map_err(|_| err("bad count"))?)?;
                let hits = (0..n as usize)
                    .map(|i| bytes[i / 8] >> (i % 8) & 1 == 1)
                    .collect();
                Msg::Hits { id, hits }
            }
            TAG_STRONG => {
                let id = r.uv()?;
                let n = r.count(DIGEST)?;
                let digests = (0..n)
                    .map(|_| r.take(DIGEST).map(Digest::new))
                    .collect::<Result<_, _>>()?;
                Msg::Strong { id, digests }
            }
            _ => return Err(err("unknown parasync message")),
        };
        r.end()?;
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let msgs = [
            Msg::Weak {
                id: 3,
                chunks: vec![(0, 1), (u32::MAX, 65536), (7, 4096)],
            },
            Msg::End { batches: 9 },
            Msg::Hits {
                id: 1,
                hits: vec![true, false, false, true, true, false, true, false, true],
            },
            Msg::Strong {
                id: 0,
                digests: vec![Digest::new(&[7; 16]), Digest::new(&[9; 16])],
            },
        ];
        for m in msgs {
            assert_eq!(Msg::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn hostile_messages_are_errors() {
        for bad in [
            &[][..],
            &[9],
            &[TAG_WEAK, 0, 200, 1],
            &[TAG_WEAK, 0, 1, 0, 0, 0, 0, 0],
            &[TAG_HITS, 0, 0xff, 0xff, 0xff, 0xff, 0x0f],
            &[TAG_STRONG, 0, 2, 1, 2, 3],
            &[TAG_END, 1, 1],
        ] {
            assert!(Msg::decode(bad).is_err(), "{bad:?}");
        }
    }

    /// The receiver's weak batches in order, polled as the session polls them: blocking, or
    /// (with a waker) only after a wake-up, never waiting inside `poll`.
    fn weak_batches(basis: &[u8], pipeline: Pipeline, woken: bool) -> (Vec<Msg>, usize) {
        use crate::engine::{EngineParams, ReceiverHalf};
        let params = EngineParams {
            threads: 2,
            ..Default::default()
        };
        let mut r = Receiver::new(&params, pipeline, std::sync::Arc::new(basis.to_vec()));
        let (tx, rx) = crossbeam_channel::unbounded();
        if woken {
            r.set_waker(std::sync::Arc::new(move || {
                let _ = tx.send(());
            }));
        }
        let mut out = Vec::new();
        let mut wakes = 0;
        let mut step = Some(r.start().unwrap());
        loop {
            while let Some(s) = step {
                out.extend(s.msgs.iter().map(|m| Msg::decode(m).unwrap()));
                step = r.poll().unwrap();
            }
            if matches!(out.last(), Some(Msg::End { .. })) {
                // The chunking thread was joined before the end was returned.
                return (out, wakes + rx.try_iter().count());
            }
            assert!(woken, "a blocking poll returned before the end");
            rx.recv_timeout(std::time::Duration::from_secs(30))
                .expect("the chunking thread never woke the session");
            wakes += 1;
            step = r.poll().unwrap();
        }
    }

    /// A sender prepared ahead (table only, or with every chunk's strong digest already
    /// computed in idle time) produces the same ops as one that does it all on demand.
    #[test]
    fn prepared_senders_give_the_same_ops() {
        use crate::engine::{run_pair, EngineParams, Shared};
        let params = EngineParams {
            threads: 2,
            ..Default::default()
        };
        let old: Vec<u8> = crate::testkit::pseudo_random(3 << 20, 11);
        let mut new = old.clone();
        new.splice(
            1_000_000..1_000_000,
            crate::testkit::pseudo_random(50_000, 12),
        );
        new[2_500_000..2_500_100].fill(7);
        let (old_bytes, new_bytes) = (old.clone(), new.clone());
        let (old, new): (Shared, Shared) = (std::sync::Arc::new(old), std::sync::Arc::new(new));
        let rx = || -> Box<dyn crate::engine::ReceiverHalf> {
            Box::new(Receiver::new(&params, Pipeline::Stream, old.clone()))
        };
        let plain = run_pair(rx(), Box::new(Sender::new(&params, new.clone()))).unwrap();
        let table = prepare(&params, new.clone());
        let prepared = run_pair(
            rx(),
            Box::new(Sender::prepared(&params, new.clone(), table)),
        )
        .unwrap();
        let strong = prepare(&params, new.clone()).with_strong(&params, &new);
        assert!(strong.1.is_some());
        let with_strong = run_pair(
            rx(),
            Box::new(Sender::prepared(&params, new.clone(), strong)),
        )
        .unwrap();
        assert_eq!(prepared.0, plain.0);
        assert_eq!(with_strong.0, plain.0);
        let out = crate::engine::apply_ops(&old_bytes, &plain.0, new_bytes.len() as u64).unwrap();
        assert_eq!(out, new_bytes);
    }

    #[test]
    fn a_woken_receiver_sends_the_same_batches_without_waiting_in_poll() {
        // Larger than INLINE, so a chunking thread produces the batches.
        let basis: Vec<u8> = (0..INLINE as u64 * 2 + 12_345)
            .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 29) as u8)
            .collect();
        for pipeline in [Pipeline::Stream, Pipeline::Batch, Pipeline::V3] {
            let (blocking, _) = weak_batches(&basis, pipeline, false);
            let (woken, wakes) = weak_batches(&basis, pipeline, true);
            assert_eq!(woken, blocking, "{pipeline:?}");
            // One wake-up per batch and one when the channel closed (the end).
            assert_eq!(wakes, woken.len(), "{pipeline:?}");
            let covered: u64 = woken
                .iter()
                .map(|m| match m {
                    Msg::Weak { chunks, .. } => chunks.iter().map(|c| c.1 as u64).sum(),
                    _ => 0,
                })
                .sum();
            assert_eq!(covered, basis.len() as u64, "{pipeline:?}");
        }
    }
}
