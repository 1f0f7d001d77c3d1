//! The two roles — sender and receiver — and the connection they share. A role only sees a
//! [`Conn`]: a frame writer and a channel of decoded messages fed by a reader thread. The same
//! role code runs in the client and in `--server`, over a local pipe pair or ssh's stdio.
//!
//! Flow control: the receiver's inbound file data is bounded (back-pressure on file data); the
//! sender's channel is unbounded but only carries requests and engine messages, whose volume is
//! bounded by the file list. A reader thread on each side always drains the stream, so neither
//! side can block the other's writes indefinitely (no deadlock on full pipes).
//!
//! The receiver reads the file list ahead: a push sends the whole list first (it is walked while
//! ssh connects), and the answers to the receiver's first requests — engine round trips, data —
//! would otherwise wait behind thousands of segments still to be decided, so every delta round
//! trip of a tree stalled until the list was done. The reader therefore puts a file's round-trip
//! messages (engine exchanges, probes) on an *urgent* channel that the receiver serves first, and
//! everything whose order matters (segments, file data, the list's end, log lines, a file's
//! failure, the end of the run) on the ordered channel, which may hold [`LIST_AHEAD`] messages.
//! A file's messages only follow its request, which follows its segment, so serving them first
//! never sees a file undecided (`receiver/early.rs` holds those of a stream that does not wait).
//! In place (`--inplace`) probes read the file the ops rewrite, so there everything stays in order.

pub mod filters;
pub mod prefetch;
pub mod receiver;
pub mod refine;
pub mod sender;
pub mod trace;

use crate::error::{Error, Result};
use crate::wire::msg::{Compress, Msg, LOG_ERROR, LOG_INFO, LOG_WARNING};
use crate::wire::{FrameReader, FrameWriter};
use crossbeam_channel::{bounded, unbounded, Receiver};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Files at least this large run their engine as a stream: each engine message is flushed as
/// soon as it is produced (the peer works on it while this side computes the next one), and the
/// request for such a file is flushed before its engine starts. Smaller files leave flushing to
/// the buffer, so a tree of small files costs no extra writes.
pub const STREAM_SIZE: u64 = 4 << 20;

/// One end of a connection.
pub struct Conn {
    pub w: FrameWriter,
    pub rx: Receiver<Result<Msg>>,
    /// Receiver role: a file's round-trip messages (engine, probes), served before `rx` (see
    /// the module doc).
    pub urgent: Option<Receiver<Result<Msg>>>,
    /// When the writer was last flushed.
    pub flushed: std::time::Instant,
    /// Split reader: what it holds ahead of this receiver ([`Ahead`]).
    pub queued: Option<Arc<Ahead>>,
    pub comp: Compress,
    /// This process prints what the user sees (the client); otherwise text is forwarded.
    pub is_client: bool,
    pub sent: Arc<AtomicU64>,
    pub recvd: Arc<AtomicU64>,
    pub timeout: Option<Duration>,
    pub quiet: bool,
    /// Role name for messages (`sender`, `receiver`, `generator`).
    pub role: &'static str,
    /// Wake-ups from this side's own background work ([`Conn::waker`]), served after the
    /// urgent channel and before the ordered one.
    pub wake: (crossbeam_channel::Sender<u32>, Receiver<u32>),
    /// The protocol version both sides speak (wire::handshake).
    pub version: u32,
}

/// Ordered messages the receiver's reader may hold ahead of the receiver (file-list segments of
/// ~20 entries: some 80,000 entries).
pub const LIST_AHEAD: usize = 4096;

/// How long a busy receiver may keep written messages in its buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(2);

/// The messages a receiver serves before the ordered ones: a file's round trips (engine
/// exchanges, literal-refinement probes). Its data (ops, end) stays in order: when a file's item
/// line appears depends on it, and that order is rsync's.
fn urgent(m: &Msg) -> bool {
    matches!(m, Msg::Engine { .. } | Msg::Probe { .. })
}

/// What [`spawn_reader`] returns: the ordered channel, the urgent channel (split readers) and
/// the read-ahead account shared with the reader thread.
pub type Inbound = (
    Receiver<Result<Msg>>,
    Option<Receiver<Result<Msg>>>,
    Option<Arc<Ahead>>,
);

/// A split reader's read-ahead: the weight of ordered messages not yet taken, and the reader
/// thread to wake when the receiver has taken enough.
pub struct Ahead {
    queued: std::sync::atomic::AtomicUsize,
    reader: std::sync::OnceLock<std::thread::Thread>,
}

impl Ahead {
    /// The receiver took `m`.
    fn taken(&self, m: &Msg) {
        let w = weight(m);
        let before = self.queued.fetch_sub(w, Ordering::AcqRel);
        if before > AHEAD_BYTES && before - w <= AHEAD_BYTES {
            if let Some(t) = self.reader.get() {
                t.unpark();
            }
        }
    }
}

/// Bytes of ordered messages a split reader may hold ahead (file data among the segments): the
/// receiver's memory stays bounded however far ahead the list is read.
const AHEAD_BYTES: usize = 8 << 20;

/// The memory an ordered message holds, as the reader and the receiver both count it (round-trip
/// messages, on their own bounded channel, count nothing).
fn weight(m: &Msg) -> usize {
    match m {
        Msg::Engine { .. } | Msg::Probe { .. } => 0,
        Msg::Ops { ops, .. } => ops
            .iter()
            .map(|op| match op {
                crate::engine::Op::Literal { data, .. } => data.len() + 32,
                _ => 32,
            })
            .sum(),
        // An entry in memory: the struct, its name and its on-disk path.
        Msg::Segment { entries, .. } => 256 * entries.len() + 64,
        _ => 64,
    }
}

/// Start the reader thread. `cap` = receiver role: inbound data is bounded to `cap` messages;
/// with `split`, round-trip messages go to a second channel (returned second), served first.
pub fn spawn_reader(mut r: FrameReader, cap: Option<usize>, split: bool) -> Inbound {
    let (tx, rx) = match cap {
        Some(_) if split => bounded(LIST_AHEAD),
        Some(c) => bounded(c),
        None => unbounded(),
    };
    let (utx, urx) = match cap {
        Some(c) if split => {
            let (a, b) = bounded(c);
            (Some(a), Some(b))
        }
        _ => (None, None),
    };
    let queued = urx.as_ref().map(|_| {
        Arc::new(Ahead {
            queued: Default::default(),
            reader: Default::default(),
        })
    });
    let held = queued.clone();
    let handle = std::thread::Builder::new()
        .name("net-reader".into())
        .spawn(move || loop {
            match r.frame() {
                Ok(Some((tag, payload))) => {
                    let m = Msg::decode(tag, payload);
                    trace::point(|| format!("in {} {}", msg_label(&m), payload.len()));
                    let stop =
                        m.is_err() || matches!(m, Ok(Msg::Goodbye(_)) | Ok(Msg::Fatal { .. }));
                    let sent = match (&utx, &m) {
                        (Some(u), Ok(msg)) if urgent(msg) => u.send(m).is_ok(),
                        _ => {
                            if let (Some(q), Ok(msg)) = (&held, &m) {
                                // Wait while the receiver holds enough ahead (it wakes us).
                                while q.queued.load(Ordering::Acquire) > AHEAD_BYTES {
                                    std::thread::park_timeout(Duration::from_millis(20));
                                }
                                q.queued.fetch_add(weight(msg), Ordering::AcqRel);
                            }
                            tx.send(m).is_ok()
                        }
                    };
                    if !sent || stop {
                        return;
                    }
                }
                Ok(None) => {
                    let _ = tx.send(Err(Error::new(12, "connection unexpectedly closed")));
                    return;
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        })
        .expect("spawn reader");
    if let Some(q) = &queued {
        let _ = q.reader.set(handle.thread().clone());
    }
    (rx, urx, queued)
}

impl Conn {
    /// A waker for file `idx`'s streaming engine (`engine::Waker`): it makes [`Conn::recv`]
    /// return an `Engine` message for `idx` with no data, on which the role polls that engine.
    /// Why: an engine whose background thread produces output (the parasync receiver's weak
    /// batches) must not be waited for with the peer's answers queued behind it — its hit
    /// bitmaps would wait for the whole chunking pass, and so would every copy they confirm.
    pub fn waker(&self, idx: u32) -> crate::engine::Waker {
        let tx = self.wake.0.clone();
        Arc::new(move || {
            let _ = tx.send(idx);
        })
    }

    pub fn send(&mut self, m: &Msg) -> Result<()> {
        let (tag, payload) = m.encode(self.comp);
        trace::point(|| format!("out {} {}", sender::msg_name(m), payload.len()));
        self.w.frame(tag, &payload).map_err(|e| self.peer_reason(e))
    }

    pub fn flush(&mut self) -> Result<()> {
        self.flushed = std::time::Instant::now();
        trace::point(|| "flush".into());
        self.w.flush().map_err(|e| self.peer_reason(e))
    }

    /// A write failed because the peer went away. If the peer said why (a `Fatal` still in
    /// flight, e.g. the receiver's "write failed … No space left on device"), that message and
    /// its exit code win over our "Broken pipe", as in rsync where the receiver's code is final.
    fn peer_reason(&self, e: Error) -> Error {
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while let Ok(m) = self.rx.recv_deadline(deadline) {
            match m {
                Ok(Msg::Fatal { code, text }) => {
                    if !text.is_empty() {
                        print_line(LOG_ERROR, &text, false);
                    }
                    return Error::new(if code == 0 { 12 } else { code as i32 }, String::new());
                }
                Ok(_) => continue,
                Err(_) => break,
            }
        }
        e
    }

    /// Next message, honouring `--timeout` (exit 30).
    pub fn recv(&mut self) -> Result<Msg> {
        // Flush only before waiting: while requests are queued, their answers accumulate in the
        // buffer and leave in one write (one ssh packet) instead of one write per small file.
        // A receiver deciding a long list ahead never waits, so its requests would sit in the
        // buffer until the list is done: send what is pending every few milliseconds.
        if self.urgent.is_some() && self.flushed.elapsed() >= FLUSH_EVERY && self.w.pending() > 0 {
            self.flush()?;
        }
        let r = match self.try_next() {
            Ok(m) => m,
            Err(_) => {
                self.flush()?;
                self.recv_blocking()?
            }
        };
        if let (Some(q), Ok(m)) = (&self.queued, &r) {
            q.taken(m);
        }
        match r {
            Ok(Msg::Fatal { code, text }) => {
                // The peer already explained itself; print its message and stop with its code.
                if !text.is_empty() {
                    print_line(LOG_ERROR, &text, false);
                }
                // A peer cannot turn its failure into success: code 0 means a protocol error.
                let code = if code == 0 { 12 } else { code as i32 };
                let mut e = Error::new(code, String::new());
                e.role = crate::error::role_of(&String::from_utf8_lossy(&text));
                Err(e)
            }
            Ok(m) => Ok(m),
            Err(e) => Err(self.closed(e)),
        }
    }

    /// `--timeout` expired without a message (rsync's io timeout, exit 30).
    fn timed_out(&self, t: Duration) -> Error {
        Error::new(
            crate::error::RERR_TIMEOUT,
            format!(
                "[{}] io timeout after {} seconds -- exiting",
                self.role,
                t.as_secs()
            ),
        )
    }

    /// The next message if one is ready, in priority order: the urgent channel first (also
    /// when several became ready at once), then this side's own wake-ups, then the ordered
    /// channel. `Disconnected` once the ordered channel has ended and holds nothing more.
    fn try_next(&mut self) -> std::result::Result<Result<Msg>, crossbeam_channel::TryRecvError> {
        use crossbeam_channel::TryRecvError;
        if let Some(u) = &self.urgent {
            match u.try_recv() {
                Ok(m) => return Ok(m),
                // The reader has ended; what is left is on the ordered channel.
                Err(TryRecvError::Disconnected) => self.urgent = None,
                Err(TryRecvError::Empty) => {}
            }
        }
        if let Ok(idx) = self.wake.1.try_recv() {
            return Ok(Ok(Msg::Engine { idx, data: vec![] }));
        }
        self.rx.try_recv()
    }

    fn recv_blocking(&mut self) -> Result<Result<Msg>> {
        use crossbeam_channel::TryRecvError;
        let deadline = self.timeout.map(|t| (std::time::Instant::now() + t, t));
        loop {
            match self.try_next() {
                Ok(m) => return Ok(m),
                Err(TryRecvError::Disconnected) => {
                    return Ok(Err(Error::new(12, "connection unexpectedly closed")))
                }
                Err(TryRecvError::Empty) => {}
            }
            let mut sel = crossbeam_channel::Select::new();
            if let Some(u) = &self.urgent {
                sel.recv(u);
            }
            sel.recv(&self.wake.1);
            sel.recv(&self.rx);
            match deadline {
                Some((at, t)) => {
                    if sel.ready_deadline(at).is_err() {
                        return Err(self.timed_out(t));
                    }
                }
                None => {
                    sel.ready();
                }
            }
        }
    }

    pub fn closed(&self, e: Error) -> Error {
        if e.msg == "connection unexpectedly closed" {
            Error::new(
                12,
                format!(
                    "rsync: connection unexpectedly closed ({} bytes received so far) [{}]",
                    self.recvd.load(Ordering::Relaxed),
                    self.role
                ),
            )
        } else {
            e
        }
    }

    /// Print (client) or forward (server) a line of text. Info goes to stdout, the rest to stderr.
    pub fn say(&mut self, level: u8, text: &str) -> Result<()> {
        if self.is_client {
            print_line(level, text.as_bytes(), self.quiet);
            Ok(())
        } else {
            self.send(&Msg::Log {
                level,
                text: text.as_bytes().to_vec(),
            })
        }
    }
    /// The peer's text (`Msg::Log`), printed or passed on.
    pub fn relay(&mut self, level: u8, text: &[u8]) -> Result<()> {
        self.say(level, &String::from_utf8_lossy(text))
    }
    pub fn info(&mut self, text: &str) -> Result<()> {
        self.say(LOG_INFO, text)
    }
    pub fn error(&mut self, text: &str) -> Result<()> {
        self.say(LOG_ERROR, text)
    }
    pub fn warning(&mut self, text: &str) -> Result<()> {
        self.say(LOG_WARNING, text)
    }
}

fn msg_label(m: &Result<Msg>) -> &'static str {
    match m {
        Ok(m) => sender::msg_name(m),
        Err(_) => "error",
    }
}

/// Does this session stop at the receiver's "files done" point for the sender's `-vv` totals
/// (`Msg::Tally`)? Not with --streams: the client adds up the sessions' totals at the end.
pub fn tallies(opts: &crate::cli::Options, version: u32) -> bool {
    version >= 5 && opts.streams == 1 && opts.match_report()
}

/// Client-side printing of a log line.
pub fn print_line(level: u8, text: &[u8], quiet: bool) {
    if level == crate::wire::msg::LOG_FILE {
        crate::report::logfile::line(text);
        return;
    }
    if level == crate::wire::msg::LOG_PROGRESS2 {
        if !quiet {
            crate::report::progress::overall::show(text);
        }
        return;
    }
    if level == LOG_INFO {
        if quiet {
            return;
        }
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(&crate::report::localize(text));
        // Progress text starts with '\r' and carries its own line ends.
        if !text.starts_with(b"\r") {
            let _ = o.write_all(b"\n");
        }
        let _ = o.flush();
    } else {
        let _ = std::io::stdout().flush();
        let mut o = std::io::stderr().lock();
        if crate::report::take_list_line_open() {
            let _ = o.write_all(b"\n");
        }
        let _ = o.write_all(&crate::report::localize(text));
        let _ = o.write_all(b"\n");
    }
}
