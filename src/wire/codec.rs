//! Varints and a bounds-checked byte cursor shared by every message decoder.

use crate::error::{Error, Result};

pub fn put_uv(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn put_iv(out: &mut Vec<u8>, v: i64) {
    put_uv(out, ((v << 1) ^ (v >> 63)) as u64);
}

pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_uv(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// A cursor over a received payload; every read is checked.
pub struct Cur<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

fn short() -> Error {
    Error::protocol("protocol error: truncated message")
}

impl<'a> Cur<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cur { buf, pos: 0 }
    }
    pub fn u8(&mut self) -> Result<u8> {
        let b = *self.buf.get(self.pos).ok_or_else(short)?;
        self.pos += 1;
        Ok(b)
    }
    pub fn uv(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Error::protocol("protocol error: varint too long"))
    }
    pub fn u32(&mut self) -> Result<u32> {
        u32::try_from(self.uv()?).map_err(|_| Error::protocol("protocol error: value out of range"))
    }
    pub fn iv(&mut self) -> Result<i64> {
        let u = self.uv()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(short)?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.uv()?;
        let n = usize::try_from(n).map_err(|_| short())?;
        self.take(n)
    }
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn varints_roundtrip_and_reject_garbage() {
        let mut b = Vec::new();
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            put_uv(&mut b, v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            put_iv(&mut b, v);
        }
        let mut c = Cur::new(&b);
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            assert_eq!(c.uv().unwrap(), v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(c.iv().unwrap(), v);
        }
        assert!(c.is_empty());
        assert!(Cur::new(&[0xff; 11]).uv().is_err());
        assert!(Cur::new(&[0x85]).uv().is_err());
        assert!(Cur::new(&[0xff, 0xff, 0xff, 0x7f]).bytes().is_err());
    }
}
