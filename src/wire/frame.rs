//! Framing: `[tag u8][len varint][payload]`. The writer counts bytes for the "sent … bytes" summary
//! and optionally applies `--bwlimit`; the reader enforces [`super::MAX_FRAME`].

use super::codec::put_uv;
use super::MAX_FRAME;
use crate::error::{Error, Result};
use std::io::{BufReader, BufWriter, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Writes frames; `bytes` is shared so the summary can read it at the end.
pub struct FrameWriter {
    w: Arc<Mutex<BufWriter<Box<dyn Write + Send>>>>,
    pub bytes: Arc<AtomicU64>,
    bwlimit: u64,
    started: Instant,
}

impl FrameWriter {
    pub fn new(w: Box<dyn Write + Send>, bytes: Arc<AtomicU64>) -> Self {
        FrameWriter {
            w: Arc::new(Mutex::new(BufWriter::with_capacity(256 << 10, w))),
            bytes,
            bwlimit: 0,
            started: Instant::now(),
        }
    }
    /// `--bwlimit` in bytes per second (0 = unlimited).
    pub fn set_bwlimit(&mut self, bps: u64) {
        self.bwlimit = bps;
        self.started = Instant::now();
    }
    pub fn raw(&mut self, b: &[u8]) -> Result<()> {
        self.w
            .lock()
            .unwrap()
            .write_all(b)
            .map_err(|e| Error::new(12, format!("write error: {}", crate::error::io_text(&e))))?;
        self.bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
        Ok(())
    }
    /// A second handle on the same stream, used to report a fatal error after the owner failed.
    pub fn clone_handle(&self) -> FatalHandle {
        FatalHandle { w: self.w.clone() }
    }

    /// A second writer on the same stream (`--streams`: the primary feeds a helper's peer while
    /// the helper's own role writes too). Frames are written whole under the lock, so writers
    /// never interleave inside a frame.
    pub fn share(&self) -> FrameWriter {
        FrameWriter {
            w: self.w.clone(),
            bytes: self.bytes.clone(),
            bwlimit: self.bwlimit,
            started: self.started,
        }
    }

    pub fn frame(&mut self, tag: u8, payload: &[u8]) -> Result<()> {
        let mut head = Vec::with_capacity(11);
        head.push(tag);
        put_uv(&mut head, payload.len() as u64);
        {
            let mut w = self.w.lock().unwrap();
            w.write_all(&head)
                .and_then(|()| w.write_all(payload))
                .map_err(|e| {
                    Error::new(12, format!("write error: {}", crate::error::io_text(&e)))
                })?;
        }
        self.bytes
            .fetch_add((head.len() + payload.len()) as u64, Ordering::Relaxed);
        if self.bwlimit > 0 {
            let sent = self.bytes.load(Ordering::Relaxed);
            let due = Duration::from_secs_f64(sent as f64 / self.bwlimit as f64);
            let el = self.started.elapsed();
            if due > el {
                self.flush()?;
                std::thread::sleep(due - el);
            }
        }
        Ok(())
    }
    /// Bytes written into the buffer and not yet flushed.
    pub fn pending(&self) -> usize {
        self.w.lock().map(|w| w.buffer().len()).unwrap_or(0)
    }

    pub fn flush(&mut self) -> Result<()> {
        self.w
            .lock()
            .unwrap()
            .flush()
            .map_err(|e| Error::new(12, format!("write error: {}", crate::error::io_text(&e))))
    }
}

/// See [`FrameWriter::clone_handle`].
pub struct FatalHandle {
    w: Arc<Mutex<BufWriter<Box<dyn Write + Send>>>>,
}

impl FatalHandle {
    /// Best effort: send a `Fatal` message and flush.
    pub fn fatal(&self, code: i32, msg: &str) {
        let (tag, payload) = crate::wire::Msg::Fatal {
            code: code.clamp(0, 255) as u8,
            text: msg.as_bytes().to_vec(),
        }
        .encode(crate::wire::msg::Compress::None);
        let mut head = vec![tag];
        put_uv(&mut head, payload.len() as u64);
        if let Ok(mut w) = self.w.lock() {
            let _ = w.write_all(&head);
            let _ = w.write_all(&payload);
            let _ = w.flush();
        }
    }
}

/// Reads frames into one buffer that is reused for every frame (a fresh `Vec` per frame was
/// an allocation and a page-fault pass per frame on the receiver's hottest path).
pub struct FrameReader {
    r: BufReader<Box<dyn Read + Send>>,
    pub bytes: Arc<AtomicU64>,
    buf: Vec<u8>,
}

impl FrameReader {
    pub fn new(r: Box<dyn Read + Send>, bytes: Arc<AtomicU64>) -> Self {
        FrameReader {
            r: BufReader::with_capacity(256 << 10, r),
            bytes,
            buf: Vec::new(),
        }
    }
    pub fn raw(&mut self, n: usize) -> std::io::Result<Vec<u8>> {
        let mut b = vec![0u8; n];
        let mut got = 0;
        while got < n {
            let k = self.r.read(&mut b[got..])?;
            if k == 0 {
                b.truncate(got);
                break;
            }
            got += k;
        }
        self.bytes.fetch_add(got as u64, Ordering::Relaxed);
        Ok(b)
    }
    fn byte(&mut self) -> Result<Option<u8>> {
        let mut b = [0u8];
        match self.r.read(&mut b) {
            Ok(0) => Ok(None),
            Ok(_) => {
                self.bytes.fetch_add(1, Ordering::Relaxed);
                Ok(Some(b[0]))
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => self.byte(),
            Err(e) => Err(Error::new(
                12,
                format!("read error: {}", crate::error::io_text(&e)),
            )),
        }
    }
    /// Next frame, or None at a clean end of stream (between frames). The payload is valid
    /// until the next call.
    pub fn frame(&mut self) -> Result<Option<(u8, &[u8])>> {
        let Some(tag) = self.byte()? else {
            return Ok(None);
        };
        let mut len = 0u64;
        let mut shift = 0;
        loop {
            let b = self.byte()?.ok_or_else(eof)?;
            len |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return Err(Error::protocol("protocol error: bad frame length"));
            }
        }
        if len as usize > MAX_FRAME {
            return Err(Error::protocol(format!(
                "protocol error: frame of {len} bytes exceeds the limit"
            )));
        }
        // Into reserved, unzeroed capacity. A buffer grown for one large frame is given back
        // once smaller frames follow, so an idle connection does not keep megabytes.
        if self.buf.capacity() > KEEP && len as usize <= KEEP {
            self.buf = Vec::new();
        }
        self.buf.clear();
        let got = (&mut self.r).take(len).read_to_end(&mut self.buf);
        if got.map_or(true, |n| n as u64 != len) {
            return Err(eof());
        }
        self.bytes.fetch_add(len, Ordering::Relaxed);
        Ok(Some((tag, &self.buf)))
    }
}

/// The frame buffer kept between frames (the sender's literal batches are up to 1 MiB).
const KEEP: usize = 2 << 20;

fn eof() -> Error {
    Error::protocol("connection unexpectedly closed")
}
