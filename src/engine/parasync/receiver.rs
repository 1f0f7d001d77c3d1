//! Receiver (basis) half of parasync: a chunking thread streams weak-hash batches; hit chunks are
//! BLAKE3'd in the pool when the sender's bitmap comes back.

use super::{Msg, Pipeline, BATCH, CHUNKER, FIRST_BATCH, INLINE, IN_FLIGHT, STREAM_BATCH};
use crate::engine::cdc::{self, err};
use crate::engine::chunker::parallel::{Chunk, Parallel};
use crate::engine::phase::{MsgKind, Phase, Phases};
use crate::engine::{EngineError, EngineParams, ReceiverHalf, Shared, Step, Waker};
use std::collections::HashMap;
use std::sync::Arc;

pub struct Receiver {
    params: EngineParams,
    pipeline: Pipeline,
    basis: Shared,
    pool: Arc<rayon::ThreadPool>,
    rx: Option<crossbeam_channel::Receiver<Vec<Chunk>>>,
    worker: Option<std::thread::JoinHandle<()>>,
    next_id: u64,
    /// Batches sent and not yet answered by a hit bitmap.
    sent: HashMap<u64, Vec<Chunk>>,
    end_sent: bool,
    /// Set by the session: `poll` does not wait, the chunking thread wakes the session.
    waker: Option<Waker>,
}

impl Receiver {
    pub fn new(params: &EngineParams, pipeline: Pipeline, basis: Shared) -> Receiver {
        let threads = cdc::threads(params.threads);
        Receiver {
            params: params.clone(),
            pipeline,
            basis,
            pool: cdc::pool(threads),
            rx: None,
            worker: None,
            next_id: 0,
            sent: HashMap::new(),
            end_sent: false,
            waker: None,
        }
    }

    fn done(&self) -> bool {
        self.end_sent && self.sent.is_empty()
    }
}

/// The chunking thread: scan region by region and hand over batches of `BATCH` chunks, either as
/// they fill (stream) or after the whole file is chunked (the barrier modes).
fn produce(
    basis: Shared,
    threads: usize,
    pipeline: Pipeline,
    pool: Arc<rayon::ThreadPool>,
    tx: crossbeam_channel::Sender<Vec<Chunk>>,
    phases: Phases,
    waker: Option<Waker>,
) {
    let wake = || {
        if let Some(w) = &waker {
            w()
        }
    };
    let mut p = Parallel::new(CHUNKER, basis, threads);
    // Stream: the first batches are small so the sender's answers, and the copies they confirm,
    // start while most of the file is still being chunked; later ones grow to STREAM_BATCH.
    let mut batch = match pipeline {
        Pipeline::Batch => usize::MAX,
        Pipeline::Stream => FIRST_BATCH,
        _ => BATCH,
    };
    let mut held: Vec<Vec<Chunk>> = Vec::new();
    let mut cur = Vec::new();
    let flush = |cur: &mut Vec<Chunk>, held: &mut Vec<Vec<Chunk>>| -> bool {
        let b = std::mem::take(cur);
        if pipeline == Pipeline::Stream {
            let sent = tx.send(b).is_ok();
            wake();
            sent
        } else {
            held.push(b);
            true
        }
    };
    while let Some(v) = phases.run(Phase::Signature, || p.next_region(&pool)) {
        for c in v {
            cur.push(c);
            if cur.len() >= batch {
                if !flush(&mut cur, &mut held) {
                    return;
                }
                batch = (batch * 2).min(STREAM_BATCH.max(batch));
            }
        }
    }
    if !cur.is_empty() && !flush(&mut cur, &mut held) {
        return;
    }
    for b in held {
        if tx.send(b).is_err() {
            return;
        }
        wake();
    }
    // The end shows as a closed channel: wake the session once it is closed.
    drop(tx);
    wake();
}

impl ReceiverHalf for Receiver {
    fn start(&mut self) -> Result<Step, EngineError> {
        let (basis, pool, pipeline) = (self.basis.clone(), self.pool.clone(), self.pipeline);
        let threads = cdc::threads(self.params.threads);
        let phases = self.params.phases.clone();
        if (*self.basis).as_ref().len() <= INLINE {
            // Small basis: chunk right here; a thread would cost more than the work.
            let (tx, rx) = crossbeam_channel::unbounded();
            produce(basis, threads, pipeline, pool, tx, phases, None);
            self.rx = Some(rx);
            return Ok(Step::default());
        }
        let (tx, rx) = crossbeam_channel::bounded(IN_FLIGHT);
        let waker = self.waker.clone();
        let worker = std::thread::Builder::new()
            .name("parasync-chunk".into())
            .spawn(move || produce(basis, threads, pipeline, pool, tx, phases, waker))
            .map_err(|e| err(format!("cannot start chunking thread: {e}")))?;
        self.rx = Some(rx);
        self.worker = Some(worker);
        Ok(Step::default())
    }

    fn poll(&mut self) -> Result<Option<Step>, EngineError> {
        let Some(rx) = &self.rx else {
            return Ok(None);
        };
        let next = if self.waker.is_some() {
            match rx.try_recv() {
                Ok(c) => Ok(c),
                Err(crossbeam_channel::TryRecvError::Empty) => return Ok(None),
                Err(crossbeam_channel::TryRecvError::Disconnected) => Err(()),
            }
        } else {
            rx.recv().map_err(|_| ())
        };
        match next {
            Ok(chunks) => {
                let id = self.next_id;
                self.next_id += 1;
                let msg = Msg::Weak {
                    id,
                    chunks: chunks.iter().map(|c| (c.crc, c.len)).collect(),
                };
                self.sent.insert(id, chunks);
                let msgs = vec![msg.encode()];
                self.params.phases.msgs(MsgKind::Weak, &msgs);
                Ok(Some(Step {
                    msgs,
                    ..Default::default()
                }))
            }
            Err(_) => {
                self.rx = None;
                if let Some(w) = self.worker.take() {
                    w.join().map_err(|_| err("chunking thread panicked"))?;
                }
                self.end_sent = true;
                let msg = Msg::End {
                    batches: self.next_id,
                };
                Ok(Some(Step {
                    msgs: vec![msg.encode()],
                    ops: vec![],
                    done: self.done(),
                }))
            }
        }
    }

    fn set_waker(&mut self, waker: Waker) {
        self.waker = Some(waker);
    }

    fn handle(&mut self, msg: &[u8]) -> Result<Step, EngineError> {
        let Msg::Hits { id, hits } = Msg::decode(msg)? else {
            return Err(err("unexpected parasync message"));
        };
        let chunks = self
            .sent
            .remove(&id)
            .ok_or_else(|| err("hits for an unknown batch"))?;
        if hits.len() != chunks.len() {
            return Err(err("hit bitmap does not match its batch"));
        }
        let which: Vec<Chunk> = chunks
            .iter()
            .zip(&hits)
            .filter(|(_, h)| **h)
            .map(|(c, _)| *c)
            .collect();
        let mut msgs = Vec::new();
        let _t = self.params.phases.time(Phase::Strong);
        if !which.is_empty() {
            let data: &[u8] = (*self.basis).as_ref();
            let spans: Vec<(u64, u32)> = which.iter().map(|c| (c.off, c.len)).collect();
            let digests = super::strong_digests(&self.pool, data, &spans);
            msgs.push(Msg::Strong { id, digests }.encode());
            self.params.phases.msgs(MsgKind::Strong, &msgs);
        }
        Ok(Step {
            msgs,
            ops: vec![],
            done: self.done(),
        })
    }
}
