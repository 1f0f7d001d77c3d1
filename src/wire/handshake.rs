//! Handshake: both sides write `MAGIC, version, min_version, features, engines` at once (no round
//! trip), then read the peer's. The highest common version wins and capabilities are intersected.
//! Garbage instead of the magic (a shell banner, `command not found`) is reported the way rsync
//! reports an unclean shell (exit 2).

use super::codec::{put_uv, Cur};
use super::{FrameReader, FrameWriter, MAGIC, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION};
use crate::engine::EngineId;
use crate::error::{Error, Result, RERR_PROTOCOL};

pub const FEAT_ZSTD: u64 = 1;
pub const FEAT_LZ4: u64 = 2;
pub const FEAT_INPLACE: u64 = 4;
pub const FEAT_DEDUPE: u64 = 8;
/// `Msg::Append`, file-list atime/xattr extension (protocol 2).
pub const FEAT_XMETA: u64 = 16;

/// What a peer announced (or, after [`handshake`], what both share).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caps {
    pub version: u32,
    pub features: u64,
    pub engines: u64,
}

impl Caps {
    pub fn ours() -> Caps {
        let engines = EngineId::ALL.iter().fold(0u64, |m, e| m | 1 << (*e as u8));
        Caps {
            version: PROTOCOL_VERSION,
            features: FEAT_ZSTD | FEAT_LZ4 | FEAT_INPLACE | FEAT_DEDUPE | FEAT_XMETA,
            engines,
        }
    }
    pub fn has_engine(&self, e: EngineId) -> bool {
        self.engines & (1 << (e as u8)) != 0
    }
}

fn render_garbage(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim_end().to_string()
}

/// Exchange hellos. `ours` lets tests announce other versions.
pub fn handshake(w: &mut FrameWriter, r: &mut FrameReader, ours: &Caps) -> Result<Caps> {
    let mut hello = MAGIC.to_vec();
    put_uv(&mut hello, ours.version as u64);
    put_uv(&mut hello, MIN_PROTOCOL_VERSION.min(ours.version) as u64);
    put_uv(&mut hello, ours.features);
    put_uv(&mut hello, ours.engines);
    let mut framed = Vec::new();
    put_uv(&mut framed, hello.len() as u64);
    framed.extend_from_slice(&hello);
    w.raw(&framed)?;
    w.flush()?;
    let first = r
        .raw(1)
        .map_err(|e| Error::new(12, format!("read error: {e}")))?;
    if first.is_empty() {
        return Err(Error::new(
            12,
            "connection unexpectedly closed (0 bytes received so far)",
        ));
    }
    let len = first[0] as usize;
    let body = r
        .raw(len)
        .map_err(|e| Error::new(12, format!("read error: {e}")))?;
    if len < MAGIC.len() || body.len() < MAGIC.len() || &body[..MAGIC.len()] != MAGIC {
        let mut all = first.clone();
        all.extend_from_slice(&body);
        return Err(Error::new(
            RERR_PROTOCOL,
            format!(
                "protocol version mismatch -- is your shell clean?\n\
                 (the remote printed {:?} instead of a parasync greeting; \
                 see the parasync manpage)",
                render_garbage(&all)
            ),
        ));
    }
    let mut c = Cur::new(&body[MAGIC.len()..]);
    let peer_ver = c.u32()?;
    let peer_min = c.u32()?;
    let features = c.uv()?;
    let engines = c.uv()?;
    let common = ours.version.min(peer_ver);
    let floor = MIN_PROTOCOL_VERSION.max(peer_min);
    if common < floor {
        return Err(Error::new(
            RERR_PROTOCOL,
            format!(
                "protocol incompatibility: this parasync speaks protocol {}..{}, the remote parasync speaks {}..{}",
                MIN_PROTOCOL_VERSION, ours.version, peer_min, peer_ver
            ),
        ));
    }
    Ok(Caps {
        version: common,
        features: features & ours.features,
        engines: engines & ours.engines,
    })
}
