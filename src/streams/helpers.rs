//! Helper sessions (see the module doc of `streams`): started on first use, fed delegated files,
//! finished at the primary's barrier; their byte counts, literal/matched data and problems are
//! added to the primary's totals.

use super::{Delegate, Helpers, Split, Totals};
use crate::cli::Options;
use crate::error::{Error, Problems, Result};
use crate::flist::walk::WalkEvent;
use crate::flist::Entry;
use crate::session::filters::Filters;
use crate::session::receiver::Receiver;
use crate::session::sender::Sender;
use crate::session::Conn;
use crate::transport::ssh::Remote;
use crate::wire::msg::{Compress, Msg, Stats};
use crate::wire::FrameWriter;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Opens helper session `k`: the remote half started over the master, handshake and filters
/// done.
pub type Spawn = Box<dyn FnMut(usize) -> Result<(Conn, Remote)> + Send>;

type Outcome = Result<(Stats, Stats, Problems)>;

/// Most helper sessions a peer may ask for.
const MAX_STREAMS: usize = 64;

struct Session<F> {
    feed: F,
    thread: JoinHandle<Outcome>,
    remote: Remote,
    sent: Arc<AtomicU64>,
    recvd: Arc<AtomicU64>,
}

/// Shared by both directions: join a helper and add what it did to the totals.
fn settle<F>(s: Session<F>, totals: &Mutex<Totals>, sender_first: bool) -> Result<()> {
    let Session {
        feed,
        thread,
        mut remote,
        sent,
        recvd,
    } = s;
    drop(feed);
    let out = thread
        .join()
        .unwrap_or_else(|_| Err(Error::new(12, "helper session panicked")));
    let code = match &out {
        Ok(_) => remote.wait(),
        Err(_) => remote.wait_or_kill(5),
    };
    let (a, b, p) = out?;
    if code != 0 {
        return Err(Error::new(code, String::new()));
    }
    let (snd, rcv) = if sender_first { (a, b) } else { (b, a) };
    let mut t = totals.lock().unwrap();
    t.add(&snd, &rcv, &p);
    t.sent += sent.load(Ordering::Relaxed);
    t.recvd += recvd.load(Ordering::Relaxed);
    Ok(())
}

fn slot<T>(live: &mut Vec<Option<T>>, k: usize) -> Result<()> {
    if k == 0 || k > MAX_STREAMS {
        return Err(Error::protocol("protocol error: bad stream number"));
    }
    if live.len() <= k {
        live.resize_with(k + 1, || None);
    }
    Ok(())
}

/// Push: the local sender's helpers (sender here, receiver on the remote).
pub struct PushHelpers {
    spawn: Spawn,
    opts: Options,
    filters: Filters,
    live: Vec<Option<Session<crossbeam_channel::Sender<WalkEvent>>>>,
    totals: Arc<Mutex<Totals>>,
}

impl PushHelpers {
    pub fn new(spawn: Spawn, opts: Options, filters: Filters, totals: Arc<Mutex<Totals>>) -> Self {
        PushHelpers {
            spawn,
            opts,
            filters,
            live: Vec::new(),
            totals,
        }
    }
}

impl Helpers for PushHelpers {
    fn take(&mut self, stream: u32, e: Entry, path: PathBuf) -> Result<()> {
        let k = stream as usize;
        slot(&mut self.live, k)?;
        if self.live[k].is_none() {
            let (conn, remote) = (self.spawn)(k)?;
            let (sent, recvd) = (conn.sent.clone(), conn.recvd.clone());
            let (tx, rx) = crossbeam_channel::unbounded();
            let mut s = Sender::new(self.opts.clone(), conn, Vec::new(), self.filters.clone());
            s.feed = Some(rx);
            let thread = std::thread::Builder::new()
                .name(format!("stream-{k}"))
                .spawn(move || s.run())
                .map_err(|e| Error::new(14, format!("spawn: {e}")))?;
            self.live[k] = Some(Session {
                feed: tx,
                thread,
                remote,
                sent,
                recvd,
            });
        }
        let s = self.live[k].as_ref().unwrap();
        let ev = WalkEvent::Segment {
            parent: u32::MAX,
            entries: vec![e],
            paths: vec![path],
        };
        if s.feed.send(ev).is_err() {
            // The helper ended early: its error is the one to report.
            let s = self.live[k].take().unwrap();
            settle(s, &self.totals, true)?;
            return Err(Error::new(12, "helper session ended early"));
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        for s in std::mem::take(&mut self.live).into_iter().flatten() {
            let _ = s.feed.send(WalkEvent::End { io_error: false });
            settle(s, &self.totals, true)?;
        }
        Ok(())
    }
}

/// Pull: the local primary receiver's helpers (receiver here, sender on the remote).
pub struct PullHelpers {
    split: Split,
    spawn: Spawn,
    opts: Options,
    filters: Filters,
    dest: String,
    live: Vec<Option<Session<(FrameWriter, Vec<Entry>)>>>,
    totals: Arc<Mutex<Totals>>,
}

/// Delegated names travel in batches (one frame, one flush each).
const BATCH: usize = 16;

impl PullHelpers {
    pub fn new(
        streams: usize,
        spawn: Spawn,
        opts: Options,
        filters: Filters,
        dest: String,
        totals: Arc<Mutex<Totals>>,
    ) -> Self {
        PullHelpers {
            split: Split::new(streams),
            spawn,
            opts,
            filters,
            dest,
            live: Vec::new(),
            totals,
        }
    }
}

fn send_batch(w: &mut FrameWriter, batch: &mut Vec<Entry>) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let (tag, payload) = Msg::Segment {
        parent: u32::MAX,
        entries: std::mem::take(batch),
    }
    .encode(Compress::None);
    w.frame(tag, &payload)?;
    w.flush()
}

impl Delegate for PullHelpers {
    fn take(&mut self, _idx: u32, e: &Entry, _conn: &mut Conn) -> Result<bool> {
        let k = self.split.pick(e.size);
        if k == 0 {
            return Ok(false);
        }
        slot(&mut self.live, k)?;
        if self.live[k].is_none() {
            let (conn, remote) = (self.spawn)(k)?;
            let (sent, recvd) = (conn.sent.clone(), conn.recvd.clone());
            let w = conn.w.share();
            let r = Receiver::new(
                self.opts.clone(),
                conn,
                self.dest.clone(),
                self.filters.clone(),
                false,
            );
            let thread = std::thread::Builder::new()
                .name(format!("stream-{k}"))
                .spawn(move || r.run())
                .map_err(|e| Error::new(14, format!("spawn: {e}")))?;
            self.live[k] = Some(Session {
                feed: (w, Vec::new()),
                thread,
                remote,
                sent,
                recvd,
            });
        }
        let s = self.live[k].as_mut().unwrap();
        let (w, batch) = &mut s.feed;
        batch.push(e.clone());
        if batch.len() >= BATCH {
            send_batch(w, batch)?;
        }
        Ok(true)
    }

    fn finish(&mut self, _conn: &mut Conn) -> Result<()> {
        for mut s in std::mem::take(&mut self.live).into_iter().flatten() {
            let (w, batch) = &mut s.feed;
            let sent = send_batch(w, batch).and_then(|()| {
                let (tag, payload) = Msg::FlistEnd { io_error: false }.encode(Compress::None);
                w.frame(tag, &payload)?;
                w.flush()
            });
            // A failed write means the helper already ended; its own error explains why.
            let settled = settle(s, &self.totals, false);
            settled?;
            sent?;
        }
        Ok(())
    }
}
