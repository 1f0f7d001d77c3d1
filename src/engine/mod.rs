//! Delta engines behind one two-sided session interface.
//!
//! Why a session and not a `diff(old, new)` function: the CDC engines (dsync, skysync, parasync) are
//! multi-round — weak hashes go one way, weak hits come back, strong confirmation happens on the other
//! side (algorithms.md §3–§6). Each engine is therefore a [`ReceiverHalf`] (holds the basis, i.e. the
//! old file on the receiver) and a [`SenderHalf`] (holds the new source file) that exchange opaque
//! engine messages. The wire layer carries those messages tagged with the file index; the halves never
//! see a socket or a file descriptor, so every engine is unit-testable and benchmarkable from byte slices
//! (see [`run_local`]).
//!
//! Every engine produces the same [`Op`]s with explicit destination offsets (ParaSync §6.5, ip-rsync
//! §8.1), so the receiver writes out of order, in-place ordering (recon::inplace) and dedupe
//! (CopyFrom) work identically for every engine.

use std::sync::Arc;

pub mod api;
pub mod cdc;
pub mod chunker;
pub mod dsync;
pub mod filemap;
pub mod gear;
pub mod hash;
pub mod ops;
pub mod parasync;
pub mod pdsync;
pub mod phase;
pub mod rdiff;
pub mod rsync;
pub mod skysync_c;
pub mod skysync_f;

/// Read-only bytes shared between threads (an mmap or a Vec).
pub type Shared = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// Called from a streaming engine's background work whenever its `poll` has new output
/// ([`ReceiverHalf::set_waker`]).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

pub use filemap::FileMap;

/// One reconstruction operation. `dst` is the absolute offset in the new file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Copy `len` bytes from offset `src` of the basis (old file) to `dst` of the new file.
    Copy { dst: u64, src: u64, len: u64 },
    /// Write `data` at `dst`.
    Literal { dst: u64, data: Vec<u8> },
    /// Copy `len` bytes from offset `src` of another, already completed file of this transfer
    /// (`file` is its index in the file list) to `dst` — produced by dedupe, never by an engine.
    CopyFrom {
        dst: u64,
        file: u32,
        src: u64,
        len: u64,
    },
}

impl Op {
    pub fn dst(&self) -> u64 {
        match self {
            Op::Copy { dst, .. } | Op::Literal { dst, .. } | Op::CopyFrom { dst, .. } => *dst,
        }
    }
    pub fn len(&self) -> u64 {
        match self {
            Op::Copy { len, .. } | Op::CopyFrom { len, .. } => *len,
            Op::Literal { data, .. } => data.len() as u64,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Engine identifiers; the numeric value is what travels in the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EngineId {
    Rsync = 1,
    Dsync = 2,
    SkysyncF = 3,
    SkysyncC = 4,
    Parasync = 5,
    Pdsync = 6,
}

impl EngineId {
    pub const ALL: [EngineId; 6] = [
        EngineId::Rsync,
        EngineId::Dsync,
        EngineId::SkysyncF,
        EngineId::SkysyncC,
        EngineId::Parasync,
        EngineId::Pdsync,
    ];
    pub fn name(self) -> &'static str {
        match self {
            EngineId::Rsync => "rsync",
            EngineId::Dsync => "dsync",
            EngineId::SkysyncF => "skysync-f",
            EngineId::SkysyncC => "skysync-c",
            EngineId::Parasync => "parasync",
            EngineId::Pdsync => "pdsync",
        }
    }
    pub fn parse(s: &str) -> Option<EngineId> {
        Some(match s {
            "rsync" => EngineId::Rsync,
            "dsync" => EngineId::Dsync,
            "skysync-f" => EngineId::SkysyncF,
            "skysync-c" | "skysync" => EngineId::SkysyncC,
            "parasync" => EngineId::Parasync,
            "pdsync" => EngineId::Pdsync,
            _ => return None,
        })
    }
    pub fn from_u8(v: u8) -> Option<EngineId> {
        EngineId::ALL.iter().copied().find(|e| *e as u8 == v)
    }
}

/// Tunables shared by every engine; both halves must be built with equal params (they travel in
/// the handshake / server argv).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineParams {
    /// `--block-size` (rsync engine); None = √len rule.
    pub block_size: Option<u32>,
    /// `--checksum-choice` for the rsync engine's block strong sum ("xxh128", "md5", "md4", "blake3", ...).
    pub checksum_choice: Option<String>,
    /// `--threads`; 0 = available cores.
    pub threads: usize,
    /// The papers' `hw` switch (algorithms.md §6.6): `Some(false)` = the software variants they
    /// call hw=0, `Some(true)` = the hardware ones (`--hw`: CRC-32C / PCLMUL CRC, SHA-NI-capable
    /// SHA-256, MD4 for the rsync engine as librsync's baseline); `None` = the fastest correct
    /// choice for this CPU.
    pub hw: Option<bool>,
    /// Per-phase timing and message accounting (disabled unless a caller enables it).
    pub phases: phase::Phases,
    /// `--pipeline`: barrier placement of the parasync engine (stream by default).
    pub pipeline: parasync::Pipeline,
}

impl Default for EngineParams {
    fn default() -> Self {
        EngineParams {
            block_size: None,
            checksum_choice: None,
            threads: 0,
            hw: None,
            phases: phase::Phases::default(),
            pipeline: parasync::Pipeline::Stream,
        }
    }
}

/// What one call of a half produced: messages for the peer half, ops (sender only), and whether this
/// half has finished (sender: all ops for the file emitted; receiver: expects no more messages).
#[derive(Debug, Default)]
pub struct Step {
    pub msgs: Vec<Vec<u8>>,
    pub ops: Vec<Op>,
    pub done: bool,
}

/// Error from a malformed or out-of-sequence engine message (a hostile or broken peer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineError(pub String);

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for EngineError {}

/// The receiver's half: owns the basis (old file).
pub trait ReceiverHalf: Send {
    fn start(&mut self) -> Result<Step, EngineError>;
    fn handle(&mut self, msg: &[u8]) -> Result<Step, EngineError>;
    /// Streaming engines: more output that became ready without new input (e.g. the next batch
    /// from background threads). The session calls this after `start`/`handle` until it returns
    /// `None`; it may block until the next batch is ready, and must return `None` when nothing
    /// more can be produced before the next peer message.
    fn poll(&mut self) -> Result<Option<Step>, EngineError> {
        Ok(None)
    }
    /// From now on `poll` must not block: it returns `None` when nothing is ready, and the
    /// engine calls `waker` whenever output becomes ready, so the session serves the peer's
    /// messages meanwhile. Engines whose `poll` never waits ignore it.
    fn set_waker(&mut self, _waker: Waker) {}
}

/// The sender's half: owns the source (new file), emits ops.
pub trait SenderHalf: Send {
    fn start(&mut self) -> Result<Step, EngineError>;
    fn handle(&mut self, msg: &[u8]) -> Result<Step, EngineError>;
    /// See [`ReceiverHalf::poll`].
    fn poll(&mut self) -> Result<Option<Step>, EngineError> {
        Ok(None)
    }
}

/// Build the receiver half of engine `id` over `basis`.
pub fn receiver_half(id: EngineId, params: &EngineParams, basis: Shared) -> Box<dyn ReceiverHalf> {
    let batch = |p| Box::new(cdc::BatchReceiver::new(p, params, basis.clone()));
    match id {
        EngineId::Dsync => batch(dsync::PROFILE),
        EngineId::SkysyncC => batch(skysync_c::PROFILE),
        EngineId::Pdsync => batch(pdsync::PROFILE),
        EngineId::Parasync => Box::new(parasync::Receiver::new(params, params.pipeline, basis)),
        EngineId::Rsync => rsync::receiver(params, basis),
        EngineId::SkysyncF => skysync_f::receiver(params, basis),
    }
}

/// Build the sender half of engine `id` over `source`.
pub fn sender_half(id: EngineId, params: &EngineParams, source: Shared) -> Box<dyn SenderHalf> {
    let batch = |p| Box::new(cdc::BatchSender::new(p, params, source.clone()));
    match id {
        EngineId::Dsync => batch(dsync::PROFILE),
        EngineId::SkysyncC => batch(skysync_c::PROFILE),
        EngineId::Pdsync => batch(pdsync::PROFILE),
        EngineId::Parasync => Box::new(parasync::Sender::new(params, source)),
        EngineId::Rsync => rsync::sender(params, source),
        EngineId::SkysyncF => skysync_f::sender(params, source),
    }
}

/// Run both halves in one process over byte slices, returning the ops and the bytes exchanged
/// between the halves (engine messages only). Used by tests, benches and the `*_test`-style tools.
pub fn run_local(
    id: EngineId,
    params: &EngineParams,
    basis: Shared,
    source: Shared,
) -> Result<(Vec<Op>, u64), EngineError> {
    run_pair(
        receiver_half(id, params, basis),
        sender_half(id, params, source),
    )
}

/// [`run_local`] with the two halves given (a sender made some other way, e.g. prepared).
pub fn run_pair(
    mut r: Box<dyn ReceiverHalf>,
    mut s: Box<dyn SenderHalf>,
) -> Result<(Vec<Op>, u64), EngineError> {
    use std::collections::VecDeque;
    let mut ops = Vec::new();
    let mut wire = 0u64;
    let mut to_s: VecDeque<Vec<u8>> = VecDeque::new();
    let mut to_r: VecDeque<Vec<u8>> = VecDeque::new();
    // A step, then whatever `poll` yields, into the peer's queue (and ops); returns `done`.
    fn drain(
        first: Step,
        poll: &mut dyn FnMut() -> Result<Option<Step>, EngineError>,
        q: &mut VecDeque<Vec<u8>>,
        ops: &mut Vec<Op>,
    ) -> Result<bool, EngineError> {
        let mut st = Some(first);
        while let Some(x) = st {
            q.extend(x.msgs);
            ops.extend(x.ops);
            if x.done {
                return Ok(true);
            }
            st = poll()?;
        }
        Ok(false)
    }
    let mut no_ops = Vec::new();
    let first = r.start()?;
    let mut r_done = drain(first, &mut || r.poll(), &mut to_s, &mut no_ops)?;
    let first = s.start()?;
    let mut s_done = drain(first, &mut || s.poll(), &mut to_r, &mut ops)?;
    while !(to_s.is_empty() && to_r.is_empty()) {
        if let Some(m) = to_s.pop_front() {
            wire += m.len() as u64;
            if s_done {
                return Err(EngineError("message after sender finished".into()));
            }
            let first = s.handle(&m)?;
            s_done = drain(first, &mut || s.poll(), &mut to_r, &mut ops)?;
        }
        if let Some(m) = to_r.pop_front() {
            wire += m.len() as u64;
            if r_done {
                return Err(EngineError("message after receiver finished".into()));
            }
            let first = r.handle(&m)?;
            r_done = drain(first, &mut || r.poll(), &mut to_s, &mut no_ops)?;
        }
    }
    if !s_done {
        return Err(EngineError("sender half did not finish".into()));
    }
    Ok((ops, wire))
}

/// Apply ops to produce the new file in memory (test and bench helper; the real writer is recon).
pub fn apply_ops(basis: &[u8], ops: &[Op], new_len: u64) -> Result<Vec<u8>, EngineError> {
    let mut out = vec![0u8; new_len as usize];
    for op in ops {
        let end = op.dst().checked_add(op.len()).filter(|e| *e <= new_len);
        let end = end.ok_or_else(|| EngineError("op beyond end of file".into()))? as usize;
        let d = op.dst() as usize;
        match op {
            Op::Copy { src, len, .. } => {
                let s = *src as usize;
                let se = s.checked_add(*len as usize).filter(|e| *e <= basis.len());
                let se = se.ok_or_else(|| EngineError("copy beyond end of basis".into()))?;
                out[d..end].copy_from_slice(&basis[s..se]);
            }
            Op::Literal { data, .. } => out[d..end].copy_from_slice(data),
            Op::CopyFrom { .. } => return Err(EngineError("CopyFrom in apply_ops".into())),
        }
    }
    Ok(out)
}
