//! Typed messages. One frame = one message; the tag byte selects the type.

use super::codec::{put_bytes, put_uv, Cur};
use crate::engine::Op;
use crate::error::{Error, Result};
use crate::flist::entry::Entry;

/// Log levels carried by [`Msg::Log`] (printed by the client with rsync's prefixes).
pub const LOG_INFO: u8 = 0;
pub const LOG_ERROR: u8 = 1;
pub const LOG_WARNING: u8 = 2;
/// A `--log-file` line (written by the client, never printed).
pub const LOG_FILE: u8 = 3;
/// An `--info=progress2` update (see report::progress::overall).
pub const LOG_PROGRESS2: u8 = 4;

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Stats {
    pub num_files: u64,
    pub num_reg: u64,
    pub num_dir: u64,
    pub num_link: u64,
    pub num_dev: u64,
    pub num_special: u64,
    pub created: [u64; 5],
    pub deleted: [u64; 5],
    pub xferred_files: u64,
    pub total_size: u64,
    pub xferred_size: u64,
    pub literal: u64,
    pub matched: u64,
    pub flist_size: u64,
    pub flist_gen_ms: u64,
    pub deduped: u64,
    pub engine_msgs: u64,
    pub inplace_lost: u64,
    pub problems: u8,
    pub dedup_files: u64,
    pub inplace_kept: u64,
    pub inplace_converted: u64,
    pub inplace_stash_peak: u64,
    /// Microseconds spent inside the engine halves (this side).
    pub engine_us: u64,
    /// Bytes of literal-refinement answers (session::refine).
    pub probe_bytes: u64,
    /// Filled by the client from the sender's stats (not needed on the wire, harmless there).
    pub sender_engine_msgs: u64,
    pub sender_engine_us: u64,
    /// Copy operations sent (rsync's -vv "matches").
    pub copy_ops: u64,
    /// Of `deduped`: bytes copied as chunks (the rest were whole files), and whole files copied
    /// from a file already under the destination (renamed or moved).
    pub dedup_chunk_bytes: u64,
    pub renamed: u64,
    /// Engine time per phase in µs and engine message bytes per kind, this side
    /// (engine::phase); the sender's copies are filled by the client.
    pub phase_us: [u64; 5],
    pub msg_bytes: [u64; 3],
    pub sender_phase_us: [u64; 5],
    pub sender_msg_bytes: [u64; 3],
}

impl Stats {
    /// Record this side's engine phase totals.
    pub fn set_phases(&mut self, t: &crate::engine::phase::PhaseTotals) {
        self.phase_us = t.micros();
        self.msg_bytes = t.bytes;
    }

    fn fields(&self) -> Vec<u64> {
        let mut v = vec![
            self.num_files,
            self.num_reg,
            self.num_dir,
            self.num_link,
            self.num_dev,
            self.num_special,
        ];
        v.extend(self.created);
        v.extend(self.deleted);
        v.extend([
            self.xferred_files,
            self.total_size,
            self.xferred_size,
            self.literal,
            self.matched,
            self.flist_size,
            self.flist_gen_ms,
            self.deduped,
            self.engine_msgs,
            self.inplace_lost,
            self.problems as u64,
            self.dedup_files,
            self.inplace_kept,
            self.inplace_converted,
            self.inplace_stash_peak,
            self.engine_us,
            self.probe_bytes,
            self.sender_engine_msgs,
            self.sender_engine_us,
            self.copy_ops,
            self.dedup_chunk_bytes,
            self.renamed,
        ]);
        v.extend(self.phase_us);
        v.extend(self.msg_bytes);
        v
    }
    fn from_fields(f: &[u64]) -> Stats {
        let g = |i: usize| f.get(i).copied().unwrap_or(0);
        let arr = |s: usize| [g(s), g(s + 1), g(s + 2), g(s + 3), g(s + 4)];
        Stats {
            num_files: g(0),
            num_reg: g(1),
            num_dir: g(2),
            num_link: g(3),
            num_dev: g(4),
            num_special: g(5),
            created: arr(6),
            deleted: arr(11),
            xferred_files: g(16),
            total_size: g(17),
            xferred_size: g(18),
            literal: g(19),
            matched: g(20),
            flist_size: g(21),
            flist_gen_ms: g(22),
            deduped: g(23),
            engine_msgs: g(24),
            inplace_lost: g(25),
            problems: g(26) as u8,
            dedup_files: g(27),
            inplace_kept: g(28),
            inplace_converted: g(29),
            inplace_stash_peak: g(30),
            engine_us: g(31),
            probe_bytes: g(32),
            sender_engine_msgs: g(33),
            sender_engine_us: g(34),
            copy_ops: g(35),
            dedup_chunk_bytes: g(36),
            renamed: g(37),
            phase_us: [g(38), g(39), g(40), g(41), g(42)],
            msg_bytes: [g(43), g(44), g(45)],
            sender_phase_us: [0; 5],
            sender_msg_bytes: [0; 3],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    /// Filter rules (client → server, before anything else when the server is the sender).
    Filters(Vec<u8>),
    /// A segment of the file list: the children of entry `parent` (u32::MAX for the top level).
    Segment { parent: u32, entries: Vec<Entry> },
    /// End of the file list; `io_error` disables deletions (rsync's IO-error guard).
    FlistEnd { io_error: bool },
    /// (Protocol 3) The sender could not read part of its sources: the list segments after this
    /// one may lack entries, so the receiver deletes nothing more (unless --ignore-errors).
    IoError,
    /// Receiver asks for file `idx`; `delta` = the receiver has a basis and runs `engine`;
    /// `plain` = no dedupe for this file (the redo after a failed verification).
    Request {
        idx: u32,
        delta: bool,
        engine: u8,
        plain: bool,
    },
    /// Dedupe: the receiver already holds content with BLAKE3 `digest` (size equal to file
    /// `idx`'s) as local file `id`; sent before the `Request` for `idx`.
    Have { idx: u32, id: u32, digest: [u8; 32] },
    /// `--append`/`--append-verify`: the receiver keeps the first `offset` bytes of its copy of
    /// `idx`; sent before that file's `Request` (which then asks for a whole-file send).
    Append { idx: u32, offset: u64 },
    /// In-place: every copy op of `idx` has been sent (literals follow on demand).
    CopiesEnd { idx: u32 },
    /// In-place: the receiver needs these (offset, length) ranges of `idx` as literals.
    Need { idx: u32, ranges: Vec<(u64, u64)> },
    /// Literal refinement: hash these (offset, length) ranges of the basis of `idx` in
    /// `block`-byte blocks (session::refine).
    Probe {
        idx: u32,
        block: u32,
        ranges: Vec<(u64, u64)>,
    },
    /// The block hashes, one list per probed range.
    Probed { idx: u32, hashes: Vec<Vec<u64>> },
    /// An engine message for file `idx`.
    Engine { idx: u32, data: Vec<u8> },
    /// Reconstruction ops for file `idx`.
    Ops { idx: u32, ops: Vec<Op> },
    /// All ops of `idx` sent; BLAKE3 of the source content.
    FileEnd {
        idx: u32,
        digest: [u8; 32],
        literal: u64,
        matched: u64,
    },
    /// The sender could not read `idx`.
    FileFailed { idx: u32, vanished: bool },
    /// The receiver finished `idx` (for --remove-source-files).
    Ack { idx: u32 },
    /// Text for the client to print.
    Log { level: u8, text: Vec<u8> },
    /// Receiver: everything done; its stats (boxed: every message moves through channels by
    /// value, and the stats would make each one 440 bytes).
    Done(Box<Stats>),
    /// Sender's stats in answer to Done; the last message.
    Goodbye(Box<Stats>),
    /// The peer hit a fatal error: its message and rsync exit code; nothing follows.
    Fatal { code: u8, text: Vec<u8> },
    /// `--streams`: the primary receiver hands file `idx` to helper session `stream` (streams).
    Delegate { idx: u32, stream: u32 },
    /// `--streams`: receiver → sender "no more delegations, finish the helpers"; the sender's
    /// answer says they finished (the primary then deletes and sets directory times).
    Barrier,
    /// `--streams`: the data of delegated file `idx` began (its item line may go out); a
    /// delegated file the helper could not read comes back as `FileFailed`.
    Started { idx: u32 },
    /// Protocol 5. Receiver → sender: every file is finished, deletions and directory times are
    /// next; the sender prints its `-vv` "total: matches=…" line and answers with the same
    /// message. rsync's sender prints that line before the generator's `--delete-after` pass.
    Tally,
}

const T_FILTERS: u8 = 1;
const T_SEGMENT: u8 = 2;
const T_FLIST_END: u8 = 3;
const T_REQUEST: u8 = 4;
const T_ENGINE: u8 = 5;
const T_OPS: u8 = 6;
const T_OPS_ZSTD: u8 = 7;
const T_OPS_LZ4: u8 = 8;
const T_FILE_END: u8 = 9;
const T_FILE_FAILED: u8 = 10;
const T_ACK: u8 = 11;
const T_LOG: u8 = 12;
const T_DONE: u8 = 13;
const T_GOODBYE: u8 = 14;
const T_FATAL: u8 = 15;
const T_HAVE: u8 = 16;
const T_COPIES_END: u8 = 17;
const T_NEED: u8 = 18;
const T_PROBE: u8 = 19;
const T_PROBED: u8 = 20;
const T_APPEND: u8 = 40;
const T_DELEGATE: u8 = 21;
const T_BARRIER: u8 = 22;
const T_STARTED: u8 = 23;
const T_IO_ERROR: u8 = 24;
const T_TALLY: u8 = 25;

/// Compression of literal-bearing frames (`-z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compress {
    None,
    Zstd(i32),
    Lz4,
}

fn encode_ops(idx: u32, ops: &[Op]) -> Vec<u8> {
    // Sized up front (varints take at most 10 bytes): a batch of literals is up to 256 KiB,
    // and growing the buffer by doubling copied it over and over.
    let cap = 20
        + ops
            .iter()
            .map(|op| match op {
                Op::Literal { data, .. } => 21 + data.len(),
                _ => 41,
            })
            .sum::<usize>();
    let mut b = Vec::with_capacity(cap);
    put_uv(&mut b, idx as u64);
    put_uv(&mut b, ops.len() as u64);
    for op in ops {
        match op {
            Op::Copy { dst, src, len } => {
                b.push(0);
                put_uv(&mut b, *dst);
                put_uv(&mut b, *src);
                put_uv(&mut b, *len);
            }
            Op::Literal { dst, data } => {
                b.push(1);
                put_uv(&mut b, *dst);
                put_bytes(&mut b, data);
            }
            Op::CopyFrom {
                dst,
                file,
                src,
                len,
            } => {
                b.push(2);
                put_uv(&mut b, *dst);
                put_uv(&mut b, *file as u64);
                put_uv(&mut b, *src);
                put_uv(&mut b, *len);
            }
        }
    }
    b
}

fn decode_ops(c: &mut Cur) -> Result<(u32, Vec<Op>)> {
    let idx = c.u32()?;
    let n = c.uv()?;
    let mut ops = Vec::with_capacity(n.min(4096) as usize);
    for _ in 0..n {
        ops.push(match c.u8()? {
            0 => Op::Copy {
                dst: c.uv()?,
                src: c.uv()?,
                len: c.uv()?,
            },
            1 => Op::Literal {
                dst: c.uv()?,
                data: c.bytes()?.to_vec(),
            },
            2 => Op::CopyFrom {
                dst: c.uv()?,
                file: c.u32()?,
                src: c.uv()?,
                len: c.uv()?,
            },
            t => return Err(Error::protocol(format!("protocol error: unknown op {t}"))),
        });
    }
    Ok((idx, ops))
}

impl Msg {
    /// Encode to (tag, payload).
    pub fn encode(&self, comp: Compress) -> (u8, Vec<u8>) {
        let mut b = Vec::new();
        let tag = match self {
            Msg::Filters(r) => {
                b.extend_from_slice(r);
                T_FILTERS
            }
            Msg::Segment { parent, entries } => {
                put_uv(&mut b, *parent as u64);
                put_uv(&mut b, entries.len() as u64);
                let mut prev = None;
                for e in entries {
                    e.encode_after(prev, &mut b);
                    prev = Some(e);
                }
                T_SEGMENT
            }
            Msg::FlistEnd { io_error } => {
                b.push(*io_error as u8);
                T_FLIST_END
            }
            Msg::IoError => T_IO_ERROR,
            Msg::Request {
                idx,
                delta,
                engine,
                plain,
            } => {
                put_uv(&mut b, *idx as u64);
                b.push(*delta as u8 | (*plain as u8) << 1);
                b.push(*engine);
                T_REQUEST
            }
            Msg::Have { idx, id, digest } => {
                put_uv(&mut b, *idx as u64);
                put_uv(&mut b, *id as u64);
                b.extend_from_slice(digest);
                T_HAVE
            }
            Msg::CopiesEnd { idx } => {
                put_uv(&mut b, *idx as u64);
                T_COPIES_END
            }
            Msg::Append { idx, offset } => {
                put_uv(&mut b, *idx as u64);
                put_uv(&mut b, *offset);
                T_APPEND
            }
            Msg::Probe { idx, block, ranges } => {
                put_uv(&mut b, *idx as u64);
                put_uv(&mut b, *block as u64);
                put_uv(&mut b, ranges.len() as u64);
                for (o, l) in ranges {
                    put_uv(&mut b, *o);
                    put_uv(&mut b, *l);
                }
                T_PROBE
            }
            Msg::Probed { idx, hashes } => {
                put_uv(&mut b, *idx as u64);
                put_uv(&mut b, hashes.len() as u64);
                for h in hashes {
                    put_uv(&mut b, h.len() as u64);
                    for x in h {
                        b.extend_from_slice(&x.to_le_bytes());
                    }
                }
                T_PROBED
            }
            Msg::Need { idx, ranges } => {
                put_uv(&mut b, *idx as u64);
                put_uv(&mut b, ranges.len() as u64);
                for (o, l) in ranges {
                    put_uv(&mut b, *o);
                    put_uv(&mut b, *l);
                }
                T_NEED
            }
            Msg::Engine { idx, data } => {
                put_uv(&mut b, *idx as u64);
                b.extend_from_slice(data);
                T_ENGINE
            }
            Msg::Ops { idx, ops } => {
                let raw = encode_ops(*idx, ops);
                let has_lit = ops.iter().any(|o| matches!(o, Op::Literal { .. }));
                match comp {
                    Compress::Zstd(level) if has_lit => {
                        if let Ok(z) = zstd::bulk::compress(&raw, level) {
                            if z.len() < raw.len() {
                                return (T_OPS_ZSTD, z);
                            }
                        }
                    }
                    Compress::Lz4 if has_lit => {
                        let z = lz4_flex::compress_prepend_size(&raw);
                        if z.len() < raw.len() {
                            return (T_OPS_LZ4, z);
                        }
                    }
                    _ => {}
                }
                return (T_OPS, raw);
            }
            Msg::FileEnd {
                idx,
                digest,
                literal,
                matched,
            } => {
                put_uv(&mut b, *idx as u64);
                b.extend_from_slice(digest);
                put_uv(&mut b, *literal);
                put_uv(&mut b, *matched);
                T_FILE_END
            }
            Msg::FileFailed { idx, vanished } => {
                put_uv(&mut b, *idx as u64);
                b.push(*vanished as u8);
                T_FILE_FAILED
            }
            Msg::Ack { idx } => {
                put_uv(&mut b, *idx as u64);
                T_ACK
            }
            Msg::Log { level, text } => {
                b.push(*level);
                b.extend_from_slice(text);
                T_LOG
            }
            Msg::Fatal { code, text } => {
                b.push(*code);
                b.extend_from_slice(text);
                T_FATAL
            }
            Msg::Delegate { idx, stream } => {
                put_uv(&mut b, *idx as u64);
                put_uv(&mut b, *stream as u64);
                T_DELEGATE
            }
            Msg::Barrier => T_BARRIER,
            Msg::Tally => T_TALLY,
            Msg::Started { idx } => {
                put_uv(&mut b, *idx as u64);
                T_STARTED
            }
            Msg::Done(s) | Msg::Goodbye(s) => {
                let f = s.fields();
                put_uv(&mut b, f.len() as u64);
                for x in f {
                    put_uv(&mut b, x);
                }
                if matches!(self, Msg::Done(_)) {
                    T_DONE
                } else {
                    T_GOODBYE
                }
            }
        };
        (tag, b)
    }

    pub fn decode(tag: u8, payload: &[u8]) -> Result<Msg> {
        let mut c = Cur::new(payload);
        let m = match tag {
            T_FILTERS => return Ok(Msg::Filters(payload.to_vec())),
            T_SEGMENT => {
                let parent = c.u32()?;
                let n = c.uv()?;
                let mut entries = Vec::with_capacity(n.min(1024) as usize);
                for _ in 0..n {
                    let e = Entry::decode_after(entries.last(), &mut c)?;
                    entries.push(e);
                }
                Msg::Segment { parent, entries }
            }
            T_IO_ERROR => Msg::IoError,
            T_FLIST_END => Msg::FlistEnd {
                io_error: c.u8()? != 0,
            },
            T_REQUEST => {
                let idx = c.u32()?;
                let f = c.u8()?;
                Msg::Request {
                    idx,
                    delta: f & 1 != 0,
                    plain: f & 2 != 0,
                    engine: c.u8()?,
                }
            }
            T_HAVE => Msg::Have {
                idx: c.u32()?,
                id: c.u32()?,
                digest: c.take(32)?.try_into().unwrap(),
            },
            T_COPIES_END => Msg::CopiesEnd { idx: c.u32()? },
            T_APPEND => Msg::Append {
                idx: c.u32()?,
                offset: c.uv()?,
            },
            T_PROBE => {
                let idx = c.u32()?;
                let block = c.u32()?;
                let n = c.uv()?;
                let mut ranges = Vec::with_capacity(n.min(4096) as usize);
                for _ in 0..n {
                    ranges.push((c.uv()?, c.uv()?));
                }
                Msg::Probe { idx, block, ranges }
            }
            T_PROBED => {
                let idx = c.u32()?;
                let n = c.uv()?;
                let mut hashes = Vec::with_capacity(n.min(4096) as usize);
                for _ in 0..n {
                    let k = c.uv()?;
                    let mut h = Vec::with_capacity(k.min(4096) as usize);
                    for _ in 0..k {
                        h.push(u64::from_le_bytes(c.take(8)?.try_into().unwrap()));
                    }
                    hashes.push(h);
                }
                Msg::Probed { idx, hashes }
            }
            T_NEED => {
                let idx = c.u32()?;
                let n = c.uv()?;
                let mut ranges = Vec::with_capacity(n.min(4096) as usize);
                for _ in 0..n {
                    ranges.push((c.uv()?, c.uv()?));
                }
                Msg::Need { idx, ranges }
            }
            T_ENGINE => Msg::Engine {
                idx: c.u32()?,
                data: c.rest().to_vec(),
            },
            T_OPS => {
                let (idx, ops) = decode_ops(&mut c)?;
                Msg::Ops { idx, ops }
            }
            T_OPS_ZSTD | T_OPS_LZ4 => {
                let raw = if tag == T_OPS_ZSTD {
                    zstd::bulk::decompress(payload, super::MAX_FRAME)
                        .map_err(|_| Error::protocol("protocol error: bad compressed frame"))?
                } else {
                    let ok = payload.len() >= 4
                        && u32::from_le_bytes(payload[..4].try_into().unwrap()) as usize
                            <= super::MAX_FRAME;
                    ok.then(|| lz4_flex::decompress_size_prepended(payload).ok())
                        .flatten()
                        .ok_or_else(|| Error::protocol("protocol error: bad compressed frame"))?
                };
                let (idx, ops) = decode_ops(&mut Cur::new(&raw))?;
                return Ok(Msg::Ops { idx, ops });
            }
            T_FILE_END => {
                let idx = c.u32()?;
                let digest: [u8; 32] = c.take(32)?.try_into().unwrap();
                Msg::FileEnd {
                    idx,
                    digest,
                    literal: c.uv()?,
                    matched: c.uv()?,
                }
            }
            T_DELEGATE => Msg::Delegate {
                idx: c.u32()?,
                stream: c.u32()?,
            },
            T_BARRIER => Msg::Barrier,
            T_TALLY => Msg::Tally,
            T_STARTED => Msg::Started { idx: c.u32()? },
            T_FILE_FAILED => Msg::FileFailed {
                idx: c.u32()?,
                vanished: c.u8()? != 0,
            },
            T_ACK => Msg::Ack { idx: c.u32()? },
            T_LOG => Msg::Log {
                level: c.u8()?,
                text: c.rest().to_vec(),
            },
            T_FATAL => Msg::Fatal {
                code: c.u8()?,
                text: c.rest().to_vec(),
            },
            T_DONE | T_GOODBYE => {
                let n = c.uv()?.min(64);
                let mut f = Vec::new();
                for _ in 0..n {
                    f.push(c.uv()?);
                }
                let s = Box::new(Stats::from_fields(&f));
                if tag == T_DONE {
                    Msg::Done(s)
                } else {
                    Msg::Goodbye(s)
                }
            }
            t => {
                return Err(Error::protocol(format!(
                    "protocol error: unknown message type {t}"
                )))
            }
        };
        if !c.is_empty() {
            return Err(Error::protocol("protocol error: trailing bytes in message"));
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn messages_stay_small() {
        // Every message crosses a channel by value, several per file.
        assert!(std::mem::size_of::<Msg>() <= 64);
    }

    #[test]
    fn roundtrip_all_and_truncations_fail() {
        let msgs = vec![
            Msg::Filters(b"- *.o\n".to_vec()),
            Msg::Segment {
                parent: u32::MAX,
                entries: vec![Entry {
                    name: b"a".to_vec().into(),
                    mode: 0o100644,
                    ..Default::default()
                }],
            },
            Msg::FlistEnd { io_error: true },
            Msg::IoError,
            Msg::Request {
                idx: 3,
                delta: true,
                engine: 5,
                plain: true,
            },
            Msg::Have {
                idx: 3,
                id: 1 << 31,
                digest: [9; 32],
            },
            Msg::CopiesEnd { idx: 4 },
            Msg::Append {
                idx: 4,
                offset: 1 << 33,
            },
            Msg::Probe {
                idx: 4,
                block: 256,
                ranges: vec![(0, 512), (1 << 33, 256)],
            },
            Msg::Probed {
                idx: 4,
                hashes: vec![vec![1, u64::MAX], vec![]],
            },
            Msg::Need {
                idx: 4,
                ranges: vec![(0, 5), (1 << 40, 7)],
            },
            Msg::Engine {
                idx: 3,
                data: vec![1, 2, 3],
            },
            Msg::Ops {
                idx: 3,
                ops: vec![
                    Op::Copy {
                        dst: 0,
                        src: 5,
                        len: 9,
                    },
                    Op::Literal {
                        dst: 9,
                        data: vec![7; 3000],
                    },
                ],
            },
            Msg::FileEnd {
                idx: 3,
                digest: [9; 32],
                literal: 1,
                matched: 2,
            },
            Msg::FileFailed {
                idx: 1,
                vanished: true,
            },
            Msg::Ack { idx: 2 },
            Msg::Log {
                level: LOG_ERROR,
                text: b"x".to_vec(),
            },
            Msg::Done(Box::new(Stats {
                num_files: 4,
                literal: 7,
                phase_us: [1, 2, 3, 4, 5],
                msg_bytes: [6, 7, 8],
                ..Default::default()
            })),
            Msg::Goodbye(Box::default()),
            Msg::Tally,
            Msg::Fatal {
                code: 11,
                text: b"boom".to_vec(),
            },
        ];
        for comp in [Compress::None, Compress::Zstd(3), Compress::Lz4] {
            for m in &msgs {
                let (t, p) = m.encode(comp);
                assert_eq!(
                    &Msg::decode(t, &p).unwrap_or_else(|e| panic!("{m:?}: {e:?}")),
                    m
                );
            }
        }
        let (t, p) = msgs[5].encode(Compress::None);
        for cut in 0..p.len() {
            assert!(Msg::decode(t, &p[..cut]).is_err());
        }
        assert!(Msg::decode(200, &[]).is_err());
        // A huge declared count must not allocate.
        let mut b = Vec::new();
        put_uv(&mut b, 1);
        put_uv(&mut b, u64::MAX);
        assert!(Msg::decode(T_OPS, &b).is_err());
    }
}
