//! A small library API over the engines: signature of a basis, delta of a new file against a
//! signature, and patching — the librsync-shaped calls (issue 12) for programs that want delta
//! encoding without parasync's transfer machinery — plus librsync's `rdiff` signature and delta
//! files for the rsync engine ([`rdiff_signature`], [`rdiff_diff`], [`write_rdiff_delta`],
//! [`read_rdiff_delta`]; formats in [`super::rdiff`]), which interoperate with `rdiff`.
//!
//! Why signatures are only offered for rsync and skysync-f: those engines are single-round (the
//! basis side speaks once, algorithms.md §2, §4.1), so a signature can be stored and diffed later.
//! The CDC engines are multi-round; for them (and for any engine) [`delta`] runs both halves over
//! two in-memory files.
//!
//! ```
//! use parasync::engine::{api, EngineId, EngineParams};
//!
//! let old = b"the quick brown fox jumps over the lazy dog. ".repeat(200);
//! let mut new = old.clone();
//! new.splice(1000..1000, b"NEW TEXT".iter().copied());
//!
//! let params = EngineParams::default();
//! let sig = api::signature(EngineId::Rsync, &params, &old[..]).unwrap();
//! let stored = sig.to_bytes();                       // keep it anywhere
//! let sig = api::Signature::from_bytes(&stored).unwrap();
//! let ops = api::diff(&sig, &new[..]).unwrap();
//! assert!(api::literal_bytes(&ops) < 2000);
//!
//! let mut out = Vec::new();
//! api::apply(std::io::Cursor::new(&old), &ops, &mut out).unwrap();
//! assert_eq!(out, new);
//! ```

use std::io::{self, Read, Seek, SeekFrom, Write};

pub use super::rdiff::{RdiffHash, RdiffSignature};
use std::sync::Arc;

use super::ops::{put_uv, MsgReader};
use super::{receiver_half, run_local, sender_half, EngineId, EngineParams, Op, Shared};

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

fn read_all(mut r: impl Read) -> io::Result<Shared> {
    let mut v = Vec::new();
    r.read_to_end(&mut v)?;
    Ok(Arc::new(v))
}

/// A stored signature of a basis file for a single-round engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    engine: EngineId,
    params: EngineParams,
    msgs: Vec<Vec<u8>>,
}

impl Signature {
    pub fn engine(&self) -> EngineId {
        self.engine
    }
    /// Serialized form: engine id, then the engine's messages (length-prefixed). The params other
    /// than the engine are not stored; [`Signature::from_bytes`] uses the defaults, which is what
    /// the messages were built with unless the caller chose otherwise (then use
    /// [`Signature::from_bytes_with`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.engine as u8];
        put_uv(&mut out, self.msgs.len() as u64);
        for m in &self.msgs {
            put_uv(&mut out, m.len() as u64);
            out.extend_from_slice(m);
        }
        out
    }
    pub fn from_bytes(b: &[u8]) -> io::Result<Signature> {
        Signature::from_bytes_with(b, &EngineParams::default())
    }
    pub fn from_bytes_with(b: &[u8], params: &EngineParams) -> io::Result<Signature> {
        let mut r = MsgReader::new(b);
        let engine =
            EngineId::from_u8(r.u8().map_err(invalid)?).ok_or_else(|| invalid("unknown engine"))?;
        let n = r.count(1).map_err(invalid)?;
        let mut msgs = Vec::with_capacity(n);
        for _ in 0..n {
            let len = r.count(1).map_err(invalid)?;
            msgs.push(r.take(len).map_err(invalid)?.to_vec());
        }
        r.end().map_err(invalid)?;
        Ok(Signature {
            engine,
            params: params.clone(),
            msgs,
        })
    }
}

fn single_round(id: EngineId) -> bool {
    matches!(id, EngineId::Rsync | EngineId::SkysyncF)
}

/// Signature of `basis` for engine `id` (rsync or skysync-f).
pub fn signature(id: EngineId, params: &EngineParams, basis: impl Read) -> io::Result<Signature> {
    signature_shared(id, params, read_all(basis)?)
}

/// [`signature`] of bytes already in memory or mapped (no copy).
pub fn signature_shared(
    id: EngineId,
    params: &EngineParams,
    basis: Shared,
) -> io::Result<Signature> {
    if !single_round(id) {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{} is multi-round; use api::delta", id.name()),
        ));
    }
    let step = receiver_half(id, params, basis).start().map_err(invalid)?;
    Ok(Signature {
        engine: id,
        params: params.clone(),
        msgs: step.msgs,
    })
}

/// Ops that rebuild `new` from the basis `sig` was made of.
pub fn diff(sig: &Signature, new: impl Read) -> io::Result<Vec<Op>> {
    diff_shared(sig, read_all(new)?)
}

/// [`diff`] of bytes already in memory or mapped (no copy).
pub fn diff_shared(sig: &Signature, new: Shared) -> io::Result<Vec<Op>> {
    let mut s = sender_half(sig.engine, &sig.params, new);
    let mut ops = s.start().map_err(invalid)?.ops;
    let mut done = false;
    for m in &sig.msgs {
        let st = s.handle(m).map_err(invalid)?;
        ops.extend(st.ops);
        done |= st.done;
    }
    while !done {
        match s.poll().map_err(invalid)? {
            Some(st) => {
                ops.extend(st.ops);
                done = st.done;
            }
            None => return Err(invalid("signature incomplete")),
        }
    }
    Ok(ops)
}

/// Ops that rebuild `new` from `old` with any engine (both halves run here).
///
/// ```
/// use parasync::engine::{api, EngineId, EngineParams};
/// let old = vec![5u8; 100_000];
/// let new = [&old[..50_000], b"x", &old[50_000..]].concat();
/// for id in EngineId::ALL {
///     let ops = api::delta(id, &EngineParams::default(), &old, &new).unwrap();
///     let mut out = Vec::new();
///     api::apply(std::io::Cursor::new(&old), &ops, &mut out).unwrap();
///     assert_eq!(out, new);
/// }
/// ```
pub fn delta(id: EngineId, params: &EngineParams, old: &[u8], new: &[u8]) -> io::Result<Vec<Op>> {
    let (ops, _) =
        run_local(id, params, Arc::new(old.to_vec()), Arc::new(new.to_vec())).map_err(invalid)?;
    Ok(ops)
}

/// librsync `rdiff` signature of `basis` (block length and strong length as rdiff picks them
/// by default), for [`RdiffSignature::write_to`] or [`rdiff_diff`].
///
/// ```
/// use parasync::engine::{api, EngineParams};
/// let old = b"0123456789abcdef".repeat(4096);
/// let mut new = old.clone();
/// new.splice(30_000..30_000, *b"inserted");
///
/// let sig = api::rdiff_signature(&old[..], api::RdiffHash::Blake2).unwrap();
/// let mut sig_file = Vec::new();
/// sig.write_to(&mut sig_file).unwrap();                 // what `rdiff signature` writes
/// let sig = api::RdiffSignature::read_from(&sig_file[..]).unwrap();
/// let ops = api::rdiff_diff(&sig, &new[..], &EngineParams::default()).unwrap();
/// let mut delta = Vec::new();
/// api::write_rdiff_delta(&ops, &mut delta).unwrap();   // `rdiff patch` applies this
/// let ops = api::read_rdiff_delta(&delta[..]).unwrap();
/// let mut out = Vec::new();
/// api::apply(std::io::Cursor::new(&old), &ops, &mut out).unwrap();
/// assert_eq!(out, new);
/// ```
pub fn rdiff_signature(basis: impl Read, hash: RdiffHash) -> io::Result<RdiffSignature> {
    let basis = read_all(basis)?;
    Ok(RdiffSignature::compute((*basis).as_ref(), hash, None, None))
}

/// Ops rebuilding `new` from the basis of an rdiff signature (the rsync engine's parallel search
/// with librsync's weak sum; `params.threads` applies).
pub fn rdiff_diff(
    sig: &RdiffSignature,
    new: impl Read,
    params: &EngineParams,
) -> io::Result<Vec<Op>> {
    super::rdiff::diff(sig, read_all(new)?, params)
}

/// Write ops (in destination order) as an rdiff delta; returns its length.
pub fn write_rdiff_delta(ops: &[Op], out: impl Write) -> io::Result<u64> {
    super::rdiff::write_delta(ops, out)
}

/// Apply an rdiff delta in memory to a basis in memory (no intermediate ops), as `rdiff patch`.
pub fn patch_rdiff(basis: &[u8], delta: &[u8], out: impl Write) -> io::Result<()> {
    super::rdiff::patch(basis, delta, out)
}

/// Read an rdiff delta (from `rdiff delta` or [`write_rdiff_delta`]) as ops for [`apply`].
pub fn read_rdiff_delta(input: impl Read) -> io::Result<Vec<Op>> {
    super::rdiff::read_delta(input)
}

/// Literal bytes in `ops` (what a transfer would send besides op headers).
pub fn literal_bytes(ops: &[Op]) -> u64 {
    ops.iter()
        .filter(|o| matches!(o, Op::Literal { .. }))
        .map(Op::len)
        .sum()
}

/// Write the new file to `out`, reading copies from `basis`. The ops may come in any order but
/// must tile the new file exactly (as every engine's do); `CopyFrom` is not supported here.
pub fn apply(mut basis: impl Read + Seek, ops: &[Op], mut out: impl Write) -> io::Result<()> {
    let mut order: Vec<&Op> = ops.iter().collect();
    order.sort_by_key(|o| o.dst());
    let mut at = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    for op in order {
        if op.dst() != at {
            return Err(invalid("ops do not tile the new file"));
        }
        match op {
            Op::Literal { data, .. } => out.write_all(data)?,
            Op::Copy { src, len, .. } => {
                basis.seek(SeekFrom::Start(*src))?;
                let mut left = *len;
                while left > 0 {
                    let n = left.min(buf.len() as u64) as usize;
                    basis.read_exact(&mut buf[..n])?;
                    out.write_all(&buf[..n])?;
                    left -= n as u64;
                }
            }
            Op::CopyFrom { .. } => return Err(invalid("CopyFrom needs the transfer's file list")),
        }
        at += op.len();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_bytes_roundtrip_and_reject_garbage() {
        let old = vec![1u8; 5000];
        let p = EngineParams::default();
        for id in [EngineId::Rsync, EngineId::SkysyncF] {
            let sig = signature(id, &p, &old[..]).unwrap();
            let b = sig.to_bytes();
            assert_eq!(Signature::from_bytes(&b).unwrap(), sig);
            for cut in 0..b.len() {
                assert!(Signature::from_bytes(&b[..cut]).is_err());
            }
            let ops = diff(&sig, &old[..]).unwrap();
            assert_eq!(literal_bytes(&ops), 0);
        }
        assert!(signature(EngineId::Dsync, &p, &old[..]).is_err());
        let ops = [Op::Literal {
            dst: 1,
            data: vec![1],
        }];
        assert!(apply(io::Cursor::new(&old), &ops, Vec::new()).is_err());
    }
}
