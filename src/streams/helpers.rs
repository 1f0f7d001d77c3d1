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
    // The remote half's exit status only explains a failure (its problems come in the stats).
    let code = match &out {
        Ok(_) => remote.wait(),
        Err(_) => remote.wait_or_kill(5),
    };
    let (a, b, p) = match out {
        Ok(x) => x,
        Err(e) if e.code == 12 && (code == 255 || (124..=127).contains(&code)) => {
            return Err(Error::new(code, e.msg))
        }
        Err(e) => return Err(e),
    };
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

/// Primary file numbers of each helper's list, by the helper's own numbers.
type Map = Arc<Mutex<Vec<u32>>>;

/// Push: the local sender's helpers (sender here, receiver on the remote).
pub struct PushHelpers {
    spawn: Spawn,
    opts: Options,
    filters: Filters,
    live: Vec<Option<(Session<crossbeam_channel::Sender<WalkEvent>>, Map)>>,
    totals: Arc<Mutex<Totals>>,
    /// The primary connection: helpers' start reports go to the primary receiver.
    primary: FrameWriter,
}

impl PushHelpers {
    pub fn new(
        spawn: Spawn,
        opts: Options,
        filters: Filters,
        totals: Arc<Mutex<Totals>>,
        primary: FrameWriter,
    ) -> Self {
        PushHelpers {
            spawn,
            opts,
            filters,
            live: Vec::new(),
            totals,
            primary,
        }
    }
}

/// Pass a helper's start report on to the primary receiver, in its numbering.
fn relay(map: Map, mut w: FrameWriter) -> super::Relay {
    Box::new(move |h, ok| {
        let idx = *map
            .lock()
            .unwrap()
            .get(h as usize)
            .ok_or_else(|| Error::protocol("protocol error: report for an unknown file"))?;
        let m = if ok {
            Msg::Started { idx }
        } else {
            Msg::FileFailed {
                idx,
                vanished: false,
            }
        };
        let (tag, payload) = m.encode(Compress::None);
        w.frame(tag, &payload)?;
        w.flush()
    })
}

impl Helpers for PushHelpers {
    fn take(&mut self, stream: u32, idx: u32, e: Entry, path: PathBuf) -> Result<()> {
        let k = stream as usize;
        slot(&mut self.live, k)?;
        if self.live[k].is_none() {
            let (conn, remote) = (self.spawn)(k)?;
            let (sent, recvd) = (conn.sent.clone(), conn.recvd.clone());
            let (tx, rx) = crossbeam_channel::unbounded();
            let map: Map = Default::default();
            let mut s = Sender::new(self.opts.clone(), conn, Vec::new(), self.filters.clone());
            s.feed = Some(rx);
            s.on_start = Some(relay(map.clone(), self.primary.share()));
            let thread = std::thread::Builder::new()
                .name(format!("stream-{k}"))
                .spawn(move || s.run())
                .map_err(|e| Error::new(14, format!("spawn: {e}")))?;
            let session = Session {
                feed: tx,
                thread,
                remote,
                sent,
                recvd,
            };
            self.live[k] = Some((session, map));
        }
        let (s, map) = self.live[k].as_ref().unwrap();
        map.lock().unwrap().push(idx);
        let ev = WalkEvent::Segment {
            parent: u32::MAX,
            entries: vec![e],
            paths: vec![path],
        };
        if s.feed.send(ev).is_err() {
            // The helper ended early: its error is the one to report.
            let (s, _) = self.live[k].take().unwrap();
            settle(s, &self.totals, true)?;
            return Err(Error::new(12, "helper session ended early"));
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        for (s, _) in std::mem::take(&mut self.live).into_iter().flatten() {
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
    live: Vec<Option<Session<Batch>>>,
    totals: Arc<Mutex<Totals>>,
    /// Primary numbers by helper numbers, per stream, and the helpers' start reports.
    maps: Vec<Vec<u32>>,
    reports: (
        crossbeam_channel::Sender<Report>,
        crossbeam_channel::Receiver<Report>,
    ),
}

/// A pull helper's writer and the names waiting to go out.
type Batch = (FrameWriter, Vec<Entry>);
/// (stream, helper file number, started).
type Report = (usize, u32, bool);

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
            maps: Vec::new(),
            reports: crossbeam_channel::unbounded(),
        }
    }

    fn drain(&mut self) -> Vec<(u32, bool)> {
        let maps = &self.maps;
        self.reports
            .1
            .try_iter()
            .filter_map(|(k, h, ok)| Some((*maps.get(k)?.get(h as usize)?, ok)))
            .collect()
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
    fn poll(&mut self) -> Vec<(u32, bool)> {
        self.drain()
    }

    fn take(&mut self, idx: u32, e: &Entry, _conn: &mut Conn) -> Result<bool> {
        let k = self.split.pick(e.size, idx);
        if k == 0 {
            return Ok(false);
        }
        slot(&mut self.live, k)?;
        if self.live[k].is_none() {
            let (conn, remote) = (self.spawn)(k)?;
            let (sent, recvd) = (conn.sent.clone(), conn.recvd.clone());
            let w = conn.w.share();
            let mut r = Receiver::new(
                self.opts.clone(),
                conn,
                self.dest.clone(),
                self.filters.clone(),
                false,
            );
            let tx = self.reports.0.clone();
            r.starts = Some(Box::new(move |h, ok, _| {
                let _ = tx.send((k, h, ok));
                Ok(())
            }));
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
        if self.maps.len() <= k {
            self.maps.resize_with(k + 1, Vec::new);
        }
        self.maps[k].push(idx);
        let s = self.live[k].as_mut().unwrap();
        let (w, batch) = &mut s.feed;
        batch.push(e.clone());
        if batch.len() >= BATCH {
            send_batch(w, batch)?;
        }
        Ok(true)
    }

    fn finish(&mut self, _conn: &mut Conn) -> Result<Vec<(u32, bool)>> {
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
        Ok(self.drain())
    }
}
