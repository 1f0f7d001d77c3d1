//! Engine `pdsync` — the parallel Dsync baseline of the ParaSync artifact (algorithms.md §5).
//!
//! Why keep it: it is the baseline ParaSync is measured against, so it keeps its *design*
//! bottlenecks — boundary candidates are found in parallel, but the CRC-32 of every final chunk is
//! computed serially afterwards, and matching is batched (the basis side strong-hashes all hits in
//! a thread pool, the new side waits for every answer before confirming in a pool) — while not
//! keeping its bugs: the parallel scan warms each segment's hash and joins open segment tails
//! (boundaries equal the serial chunker's, defect D2) and chunks are bounded by a max (D3).
//! Strong hash BLAKE3; protocol: dsync's ([`super::cdc`]).

use super::cdc::{self, Profile, Rec, Strong};
use super::chunker::{parallel::Parallel, Config};
use super::{EngineParams, Shared};

fn chunk(data: &Shared, p: &EngineParams) -> Vec<Rec> {
    let t = cdc::threads(p.threads);
    let pool = cdc::pool(t);
    let mut chunker = Parallel::new(Config::PARASYNC, data.clone(), t).without_crc();
    let bytes: &[u8] = (**data).as_ref();
    let mut recs = Vec::new();
    // The serial CRC pass, pdsync's known bottleneck: one thread, after the parallel scan of
    // each region. Region by region rather than after the whole file, so its pages are read
    // while recent and dropped behind it (the chunker drops what it scanned as well).
    let mut behind = super::filemap::Behind::new(0);
    while let Some(cuts) = chunker.next_region(&pool) {
        recs.extend(cuts.into_iter().map(|c| Rec {
            off: c.off,
            len: c.len,
            weak: cdc::crc32(&bytes[c.off as usize..(c.off + c.len as u64) as usize]),
        }));
        if let Some(r) = recs.last() {
            behind.advance(bytes, (r.off + r.len as u64) as usize);
        }
    }
    behind.flush(bytes, bytes.len());
    recs
}

fn strong(_: &EngineParams) -> Strong {
    Strong::Blake3
}

pub const PROFILE: Profile = Profile {
    chunk,
    strong,
    parallel: true,
};
