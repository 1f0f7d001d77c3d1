//! Op helpers shared by every engine: building op streams and decoding engine messages.
//!
//! Why shared: all reference encoders merge consecutive matches into one COPY when the basis ranges
//! are contiguous (algorithms.md §1.4), and rsync sends literal data in pieces of at most 32 KiB
//! (§2, CHUNK_SIZE in rsync's token.c), so one builder does both for every engine. Messages between
//! engine halves come from a possibly hostile peer; [`MsgReader`] wraps the wire codec's checked
//! cursor so every engine decodes with bounds checks and reports an [`EngineError`] — never a panic
//! and never an allocation sized by an unchecked length ([`MsgReader::count`]).

use super::{EngineError, Op};
use crate::wire::codec::{self, Cur};

/// Largest literal piece an engine emits (rsync's 32 KiB token chunk).
pub const MAX_LITERAL: usize = 32 * 1024;

/// Accumulates ops for one file in destination order, merging contiguous copies and splitting
/// literals into pieces of at most [`MAX_LITERAL`] bytes.
#[derive(Debug, Default)]
pub struct OpBuilder {
    ops: Vec<Op>,
    literal_bytes: u64,
    copy_bytes: u64,
}

impl OpBuilder {
    pub fn new() -> OpBuilder {
        OpBuilder::default()
    }

    /// Copy `len` basis bytes from `src` to `dst`; merged into the previous op when that is a copy
    /// ending exactly at (`dst`, `src`).
    pub fn copy(&mut self, dst: u64, src: u64, len: u64) {
        if len == 0 {
            return;
        }
        self.copy_bytes += len;
        if let Some(Op::Copy {
            dst: d,
            src: s,
            len: l,
        }) = self.ops.last_mut()
        {
            if *d + *l == dst && *s + *l == src {
                *l += len;
                return;
            }
        }
        self.ops.push(Op::Copy { dst, src, len });
    }

    /// Literal `data` at `dst`, split into pieces of at most [`MAX_LITERAL`]; tops up a previous
    /// contiguous literal piece that is not yet full.
    pub fn literal(&mut self, dst: u64, mut data: &[u8]) {
        self.literal_bytes += data.len() as u64;
        let mut dst = dst;
        if let Some(Op::Literal { dst: d, data: prev }) = self.ops.last_mut() {
            if *d + prev.len() as u64 == dst && prev.len() < MAX_LITERAL {
                let n = (MAX_LITERAL - prev.len()).min(data.len());
                prev.extend_from_slice(&data[..n]);
                data = &data[n..];
                dst += n as u64;
            }
        }
        for piece in data.chunks(MAX_LITERAL) {
            self.ops.push(Op::Literal {
                dst,
                data: piece.to_vec(),
            });
            dst += piece.len() as u64;
        }
    }

    /// Literal bytes added so far.
    pub fn literal_bytes(&self) -> u64 {
        self.literal_bytes
    }
    /// Copied bytes added so far.
    pub fn copy_bytes(&self) -> u64 {
        self.copy_bytes
    }
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Take the ops built so far, keeping the last one back so a later copy or literal can still
    /// merge into it (streaming engines call this between batches, then [`OpBuilder::finish`]).
    pub fn take_settled(&mut self) -> Vec<Op> {
        let keep = self.ops.pop();
        let out = std::mem::take(&mut self.ops);
        self.ops.extend(keep);
        out
    }

    /// All remaining ops.
    pub fn finish(&mut self) -> Vec<Op> {
        std::mem::take(&mut self.ops)
    }
}

/// Merge adjacent copies (dst and src both contiguous) in an op list, in place.
pub fn merge_copies(ops: &mut Vec<Op>) {
    let mut out: Vec<Op> = Vec::with_capacity(ops.len());
    for op in ops.drain(..) {
        if let (
            Some(Op::Copy { dst, src, len }),
            Op::Copy {
                dst: d2,
                src: s2,
                len: l2,
            },
        ) = (out.last_mut(), &op)
        {
            if *dst + *len == *d2 && *src + *len == *s2 {
                *len += *l2;
                continue;
            }
        }
        out.push(op);
    }
    *ops = out;
}

/// Split `data` destined for `dst` into literal ops of at most [`MAX_LITERAL`] bytes.
pub fn split_literal(dst: u64, data: &[u8]) -> Vec<Op> {
    let mut b = OpBuilder::new();
    b.literal(dst, data);
    b.finish()
}

/// Error constructor used by every decoder.
pub fn bad(what: &str) -> EngineError {
    EngineError(format!("malformed engine message: {what}"))
}

/// Append a varint (the wire codec's LEB128).
pub fn put_uv(out: &mut Vec<u8>, v: u64) {
    codec::put_uv(out, v)
}

/// A bounds-checked reader over one engine message.
pub struct MsgReader<'a> {
    cur: Cur<'a>,
}

impl<'a> MsgReader<'a> {
    pub fn new(buf: &'a [u8]) -> MsgReader<'a> {
        MsgReader { cur: Cur::new(buf) }
    }
    pub fn u8(&mut self) -> Result<u8, EngineError> {
        self.cur.u8().map_err(|_| bad("truncated"))
    }
    pub fn uv(&mut self) -> Result<u64, EngineError> {
        self.cur.uv().map_err(|_| bad("bad varint"))
    }
    /// A varint that must fit in `max`.
    pub fn uv_max(&mut self, max: u64, what: &str) -> Result<u64, EngineError> {
        let v = self.uv()?;
        if v > max {
            return Err(bad(what));
        }
        Ok(v)
    }
    pub fn u32_le(&mut self) -> Result<u32, EngineError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], EngineError> {
        self.cur.take(n).map_err(|_| bad("truncated"))
    }
    /// Remaining unread bytes.
    pub fn remaining(&self) -> usize {
        self.cur.buf.len().saturating_sub(self.cur.pos)
    }
    /// A count of items of at least `item_bytes` bytes each that must still be present in this
    /// message — so a caller may allocate `count` items without trusting the peer.
    pub fn count(&mut self, item_bytes: usize) -> Result<usize, EngineError> {
        let n = self.uv()?;
        let need = n.checked_mul(item_bytes.max(1) as u64);
        match need {
            Some(need) if need <= self.remaining() as u64 => Ok(n as usize),
            _ => Err(bad("count exceeds message")),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.cur.is_empty()
    }
    /// Fail unless the whole message was consumed.
    pub fn end(&self) -> Result<(), EngineError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(bad("trailing bytes"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_merge_only_when_both_sides_contiguous() {
        let mut b = OpBuilder::new();
        b.copy(0, 100, 10);
        b.copy(10, 110, 5);
        b.copy(15, 0, 5);
        b.copy(20, 5, 0);
        b.copy(25, 5, 5);
        let ops = b.finish();
        assert_eq!(
            ops,
            vec![
                Op::Copy {
                    dst: 0,
                    src: 100,
                    len: 15
                },
                Op::Copy {
                    dst: 15,
                    src: 0,
                    len: 5
                },
                Op::Copy {
                    dst: 25,
                    src: 5,
                    len: 5
                },
            ]
        );
        let mut v = vec![
            Op::Copy {
                dst: 0,
                src: 7,
                len: 3,
            },
            Op::Copy {
                dst: 3,
                src: 10,
                len: 4,
            },
            Op::Literal {
                dst: 7,
                data: vec![1],
            },
            Op::Copy {
                dst: 8,
                src: 14,
                len: 1,
            },
        ];
        merge_copies(&mut v);
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].len(), 7);
    }

    #[test]
    fn literals_split_at_32k_and_top_up() {
        let data = vec![7u8; MAX_LITERAL * 2 + 5];
        let ops = split_literal(1000, &data);
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[2].dst(), 1000 + 2 * MAX_LITERAL as u64);
        let mut b = OpBuilder::new();
        b.literal(0, &[1; 10]);
        b.literal(10, &vec![2; MAX_LITERAL]);
        let ops = b.finish();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].len(), MAX_LITERAL as u64);
        assert_eq!(ops[1].dst(), MAX_LITERAL as u64);
        assert_eq!(ops[1].len(), 10);
    }

    #[test]
    fn take_settled_keeps_the_last_op_mergeable() {
        let mut b = OpBuilder::new();
        b.copy(0, 0, 4);
        b.literal(4, b"x");
        b.copy(5, 9, 1);
        assert_eq!(b.take_settled().len(), 2);
        b.copy(6, 10, 1);
        let rest = b.finish();
        assert_eq!(
            rest,
            vec![Op::Copy {
                dst: 5,
                src: 9,
                len: 2
            }]
        );
    }

    #[test]
    fn reader_rejects_hostile_counts() {
        let mut m = Vec::new();
        put_uv(&mut m, u64::MAX);
        assert!(MsgReader::new(&m).count(4).is_err());
        let mut m = Vec::new();
        put_uv(&mut m, 3);
        m.extend_from_slice(&[0; 11]);
        assert!(MsgReader::new(&m).count(4).is_err());
        m.push(0);
        let mut r = MsgReader::new(&m);
        assert_eq!(r.count(4).unwrap(), 3);
        assert!(r.end().is_err());
        assert!(MsgReader::new(&[]).u8().is_err());
        assert!(MsgReader::new(&[1, 2]).u32_le().is_err());
    }
}
