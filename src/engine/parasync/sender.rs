//! Sender (new file) half of parasync: chunks the new file on a background thread, answers each
//! weak batch with a hit bitmap, confirms hits with BLAKE3 when the digests arrive and emits copies
//! at once; literals for never-matched chunks close the file.

use super::{Msg, BATCH, CHUNKER, INLINE};
use crate::engine::cdc::{self, err, key_len, Digest, Index, OpBuilder};
use crate::engine::chunker::parallel::{chunk_all, Chunk};
use crate::engine::phase::{MsgKind, Phase, Phases};
use crate::engine::{EngineError, EngineParams, Op, SenderHalf, Shared, Step};
use std::collections::HashMap;
use std::sync::Arc;

/// The new file's chunks, indexed by (CRC, length).
struct Table {
    chunks: Vec<Chunk>,
    index: Index,
}

/// Chunk the new file and index it by (CRC, length).
fn build_table(source: Shared, pool: &rayon::ThreadPool, phases: &Phases) -> Table {
    let _t = phases.time(Phase::Signature);
    let chunks = chunk_all(CHUNKER, source, pool.current_num_threads(), pool);
    let mut index = Index::with_capacity(chunks.len().max(BATCH));
    for c in &chunks {
        index.push(key_len(c.crc, c.len));
    }
    Table { chunks, index }
}

/// A held-back copy at least this long is emitted without waiting for its extension.
const RELEASE_COPY: u64 = 8 << 20;

/// The new file's chunk table, built ahead of its transfer (while the connection is set up),
/// and the strong digests of all its chunks when there was time for them too.
pub struct Prepared(Table, pub(super) Option<Vec<Digest>>);

impl Prepared {
    /// Strong-hash every chunk now. Only worth it in idle time (the remote half is still
    /// starting): the transfer itself hashes just the chunks with weak hits, on demand.
    pub fn with_strong(self, params: &EngineParams, source: &Shared) -> Prepared {
        let spans: Vec<(u64, u32)> = self.0.chunks.iter().map(|c| (c.off, c.len)).collect();
        let pool = cdc::pool(cdc::threads(params.threads));
        let digests = super::strong_digests(&pool, (**source).as_ref(), &spans);
        Prepared(self.0, Some(digests))
    }
}

/// Chunk `source` now with the engine's parameters (see [`Sender::prepared`]).
pub fn prepare(params: &EngineParams, source: Shared) -> Prepared {
    Prepared(
        build_table(
            source,
            &cdc::pool(cdc::threads(params.threads)),
            &params.phases,
        ),
        None,
    )
}

/// Basis chunks of one batch with one digest: the first offset and all of them.
struct Sources {
    first: u64,
    all: std::collections::HashSet<u64>,
}

/// A basis chunk with a weak hit: offset, length, CRC.
type Hit = (u64, u32, u32);

pub struct Sender {
    source: Shared,
    pool: Arc<rayon::ThreadPool>,
    worker: Option<std::thread::JoinHandle<Table>>,
    table: Option<Table>,
    /// Basis offset of the next chunk of the next weak batch (offsets are implicit).
    old_pos: u64,
    batches: u64,
    /// Batches whose digests are awaited.
    pending: HashMap<u64, Vec<Hit>>,
    end: bool,
    /// Per new chunk: its basis source once confirmed, and its digest once computed.
    src: Vec<Option<u64>>,
    digest: Vec<Option<Digest>>,
    ops: OpBuilder,
    /// Weak keys whose new chunks all have a source: later basis chunks with them are no hit.
    settled: std::collections::HashSet<u64>,
    done: bool,
    /// After the last batch: the literals of never-matched chunks, handed out in steps by `poll`.
    emit: Option<cdc::Emit>,
    phases: Phases,
}

impl Sender {
    pub fn new(params: &EngineParams, source: Shared) -> Sender {
        Sender {
            source,
            pool: cdc::pool(cdc::threads(params.threads)),
            worker: None,
            table: None,
            old_pos: 0,
            batches: 0,
            pending: HashMap::new(),
            end: false,
            src: Vec::new(),
            digest: Vec::new(),
            ops: OpBuilder::new(),
            settled: Default::default(),
            done: false,
            emit: None,
            phases: params.phases.clone(),
        }
    }

    /// A sender whose table was built by [`prepare`] over the same bytes as `source`.
    pub fn prepared(params: &EngineParams, source: Shared, table: Prepared) -> Sender {
        let mut s = Sender::new(params, source);
        s.set_table(table.0);
        if let Some(d) = table.1.filter(|d| d.len() == s.digest.len()) {
            s.digest = d.into_iter().map(Some).collect();
        }
        s
    }

    fn table(&mut self) -> Result<&Table, EngineError> {
        if let Some(w) = self.worker.take() {
            let t = w.join().map_err(|_| err("chunking thread panicked"))?;
            self.set_table(t);
        }
        self.table
            .as_ref()
            .ok_or_else(|| err("parasync message before start"))
    }

    fn set_table(&mut self, t: Table) {
        self.src = vec![None; t.chunks.len()];
        self.digest = vec![None; t.chunks.len()];
        self.table = Some(t);
    }

    fn on_weak(&mut self, id: u64, chunks: Vec<(u32, u32)>) -> Result<Step, EngineError> {
        if id != self.batches || self.end {
            return Err(err("weak batch out of order"));
        }
        self.batches += 1;
        let mut pos = self.old_pos;
        self.table()?;
        let _t = self.phases.time(Phase::Weak);
        let table = self.table.as_ref().expect("table joined above");
        let mut hits = Vec::with_capacity(chunks.len());
        let mut list = Vec::new();
        for (crc, len) in chunks {
            let key = key_len(crc, len);
            let hit = table.index.contains(key) && !self.settled.contains(&key);
            if hit {
                list.push((pos, len, crc));
            }
            hits.push(hit);
            pos = pos
                .checked_add(len as u64)
                .ok_or_else(|| err("basis offset overflow"))?;
        }
        self.old_pos = pos;
        if !list.is_empty() {
            self.pending.insert(id, list);
        }
        let msgs = vec![Msg::Hits { id, hits }.encode()];
        self.phases.msgs(MsgKind::Weak, &msgs);
        Ok(Step {
            msgs,
            ..Default::default()
        })
    }

    fn on_strong(&mut self, id: u64, digests: Vec<Digest>) -> Result<Step, EngineError> {
        let hits = self
            .pending
            .remove(&id)
            .ok_or_else(|| err("digests for an unknown batch"))?;
        if hits.len() != digests.len() {
            return Err(err("digest count does not match the hits"));
        }
        self.table()?;
        let strong_t = self.phases.time(Phase::Strong);
        let table = self.table.as_ref().expect("table joined above");
        // This batch's confirmed basis chunks per weak key and digest: the first offset and the
        // set of all (for the locality lookup), so a long run of equal chunks stays linear.
        let mut by_key: HashMap<u64, HashMap<Digest, Sources>> = HashMap::new();
        for (&(off, len, crc), d) in hits.iter().zip(&digests) {
            let e = by_key.entry(key_len(crc, len)).or_default();
            e.entry(*d)
                .or_insert_with(|| Sources {
                    first: off,
                    all: Default::default(),
                })
                .all
                .insert(off);
        }
        // Unmatched new chunks on those keys' chains: one walk per key and batch.
        let mut todo: Vec<(usize, u64)> = Vec::new();
        for key in by_key.keys() {
            todo.extend(
                table
                    .index
                    .get(*key)
                    .filter(|&k| self.src[k].is_none())
                    .map(|k| (k, *key)),
            );
        }
        todo.sort_unstable();
        let need: Vec<usize> = todo
            .iter()
            .map(|t| t.0)
            .filter(|&k| self.digest[k].is_none())
            .collect();
        let data: &[u8] = (*self.source).as_ref();
        let chunks = &table.chunks;
        let spans: Vec<(u64, u32)> = need
            .iter()
            .map(|&k| (chunks[k].off, chunks[k].len))
            .collect();
        let computed = super::strong_digests(&self.pool, data, &spans);
        for (k, d) in need.into_iter().zip(computed) {
            self.digest[k] = Some(d);
        }
        let mut newly: Vec<usize> = Vec::new();
        for (k, key) in todo {
            let Some(srcs) = self.digest[k].and_then(|d| by_key[&key].get(&d)) else {
                continue;
            };
            // Locality: after new k−1 ↔ basis m, the basis chunk right after m is preferred.
            let predicted = (k > 0)
                .then(|| self.src[k - 1].map(|s| s + chunks[k - 1].len as u64))
                .flatten();
            self.src[k] = Some(match predicted {
                Some(p) if srcs.all.contains(&p) => p,
                _ => srcs.first,
            });
            newly.push(k);
        }
        // Keys whose every new chunk has a source need no more digests from the receiver.
        for key in by_key.keys() {
            if table.index.get(*key).all(|k| self.src[k].is_some()) {
                self.settled.insert(*key);
            }
        }
        drop(strong_t);
        let delta_t = self.phases.clone();
        let delta_t = delta_t.time(Phase::Delta);
        for k in newly {
            let c = chunks[k];
            self.ops
                .copy(c.off, self.src[k].expect("just set"), c.len as u64);
        }
        // Copies flow now; the last op is held back so the next batch can still extend it —
        // unless it is already long: the receiver should start writing it (a later extension
        // becomes a copy of its own).
        let mut settled = self.ops.take_settled();
        for op in self.ops.finish() {
            match op {
                Op::Copy { len, .. } if len >= RELEASE_COPY => settled.push(op),
                Op::Copy { dst, src, len } => self.ops.copy(dst, src, len),
                Op::Literal { dst, data } => self.ops.literal(dst, &data),
                Op::CopyFrom { .. } => settled.push(op),
            }
        }
        drop(delta_t);
        let mut step = self.maybe_finish();
        step.ops.splice(0..0, settled);
        Ok(step)
    }

    /// After the last batch is settled: literals for every chunk that found no source.
    fn maybe_finish(&mut self) -> Step {
        if !self.end || !self.pending.is_empty() || self.done {
            return Step::default();
        }
        self.done = true;
        let Some(table) = self.table.as_ref() else {
            return Step {
                done: true,
                ..Default::default()
            };
        };
        let spans: Vec<(u64, u32)> = table.chunks.iter().map(|c| (c.off, c.len)).collect();
        let (src, ops) = (std::mem::take(&mut self.src), std::mem::take(&mut self.ops));
        self.emit = Some(cdc::Emit::new(spans, src, false, ops));
        cdc::Emit::poll(&mut self.emit, &self.source, &self.phases).unwrap_or_default()
    }
}

impl SenderHalf for Sender {
    fn start(&mut self) -> Result<Step, EngineError> {
        if self.table.is_some() {
            return Ok(Step::default());
        }
        let (source, pool) = (self.source.clone(), self.pool.clone());
        let phases = self.phases.clone();
        if (*self.source).as_ref().len() <= INLINE {
            self.set_table(build_table(source, &pool, &phases));
            return Ok(Step::default());
        }
        let worker = std::thread::Builder::new()
            .name("parasync-chunk".into())
            .spawn(move || build_table(source, &pool, &phases))
            .map_err(|e| err(format!("cannot start chunking thread: {e}")))?;
        self.worker = Some(worker);
        Ok(Step::default())
    }

    fn handle(&mut self, msg: &[u8]) -> Result<Step, EngineError> {
        if self.done {
            return Err(err("parasync message after the file was finished"));
        }
        match Msg::decode(msg)? {
            Msg::Weak { id, chunks } => self.on_weak(id, chunks),
            Msg::Strong { id, digests } => self.on_strong(id, digests),
            Msg::End { batches } => {
                if batches != self.batches || self.end {
                    return Err(err("end of batches does not match"));
                }
                self.end = true;
                self.table()?;
                Ok(self.maybe_finish())
            }
            Msg::Hits { .. } => Err(err("unexpected parasync message")),
        }
    }

    fn poll(&mut self) -> Result<Option<Step>, EngineError> {
        Ok(cdc::Emit::poll(&mut self.emit, &self.source, &self.phases))
    }
}
