//! Looking at the destination ahead of the generator for `-c`: when a directory's segment of
//! the file list arrives, the `lstat` of each of its names in the destination and the whole-file
//! digest of each destination file that the quick check will hash are done together on the rayon
//! pool, before the entries are decided one by one (issue 13: "checksum computation in
//! parallel"). Hashing is the receiver's main cost under `-c` (200,000-file re-run over ssh:
//! 4.7 s → 3.7 s); without `-c` the receiver of a re-run mostly waits for the sender, and looking
//! ahead at the `lstat` calls alone was measured to change nothing, so it is not done.
//!
//! Why it is safe: rsync's generator (generator.c `recv_generator`) stats and hashes each name
//! just before deciding on it, and deciding on one name only changes that name, so the answers
//! for a directory's other names are the same when asked earlier. The exceptions are kept out:
//! - only segments of one directory (not the top-level list, whose names can nest: creating
//!   `a` changes what `a/b` is);
//! - not with `-H` (a follower is linked to its leader, a sibling) nor with backups (making way
//!   for a name renames it to a sibling's name);
//! - a non-directory with several links is asked again when decided: changing a sibling that
//!   shares its inode (a mode, a time) changes its answer too;
//! - a digest is used only for the same file (device, inode, size, change time) the decision
//!   looks at, else the file is hashed again then.
//!
//! Everything that decides or prints stays on the generator's thread in list order, so the output
//! is the serial one. Small directories are looked at serially (`flist::probe::PARALLEL_MIN`).

use super::Receiver;
use crate::flist::entry::{Entry, F_TOP_DIR};
use crate::meta::fake::Stat;
use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What identifies a hashed file: (device, inode, size, ctime s, ctime ns).
type Stamp = (u64, u64, u64, i64, i64);

fn stamp(m: &Metadata) -> Stamp {
    (m.dev(), m.ino(), m.len(), m.ctime(), m.ctime_nsec())
}

/// Answers gathered for the current segment, by flist index.
#[derive(Default)]
pub(super) struct Ahead {
    metas: HashMap<u32, Option<Metadata>>,
    sums: HashMap<u32, (Stamp, Option<[u8; 32]>)>,
}

impl Ahead {
    /// The digest hashed ahead for entry `idx`, if it was of the same file as `m` (None: hash
    /// it now).
    pub(super) fn take_sum(&mut self, idx: u32, m: &Metadata) -> Option<Option<[u8; 32]>> {
        match self.sums.remove(&idx) {
            Some((s, sum)) if s == stamp(m) => Some(sum),
            _ => None,
        }
    }
}

/// The destination's whole-file digest of `path` (rsync's `file_checksum` for `-c`).
pub(super) fn dest_digest(path: &Path, len: u64) -> Option<[u8; 32]> {
    File::open(path)
        .ok()
        .and_then(|f| crate::recon::tempfile::digest_file(&f, len).ok())
}

impl Receiver {
    /// Forget what was looked at for the segment just decided.
    pub(super) fn end_look_ahead(&mut self) {
        self.ahead = Ahead::default();
    }

    /// Look at the destination of a directory's entries (`base` is the index of the first).
    pub(super) fn look_ahead(&mut self, parent: u32, base: u32, entries: &[Entry]) {
        self.ahead = Ahead::default();
        let o = &self.opts;
        if !o.checksum || parent == u32::MAX || o.list_only {
            return;
        }
        if o.hard_links || o.backup {
            return;
        }
        // The entries `process` will stat: not missing ones, nor directories decided when their
        // own segment comes.
        let wanted: Vec<(u32, PathBuf)> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.fmt() != 0 && !(e.is_dir() && e.flags & F_TOP_DIR != 0))
            .map(|(i, e)| (base + i as u32, self.target(e)))
            .collect();
        use rayon::prelude::*;
        let lstat = |(_, p): &(u32, PathBuf)| std::fs::symlink_metadata(p).ok();
        let metas: Vec<Option<Metadata>> = if wanted.len() < crate::flist::probe::PARALLEL_MIN {
            wanted.iter().map(lstat).collect()
        } else {
            wanted.par_iter().with_min_len(8).map(lstat).collect()
        };
        // The files the quick check will hash: same size as the sender's, with its digest. One
        // such file is left to the generator (its blocks are hashed in parallel anyway).
        let todo: Vec<(u32, &Path, &Metadata)> = wanted
            .iter()
            .zip(&metas)
            .filter_map(|((idx, p), m)| {
                let m = m.as_ref()?;
                let e = &entries[(idx - base) as usize];
                (e.is_file() && e.x().sum.is_some() && m.is_file() && m.len() == e.size)
                    .then_some((*idx, p.as_path(), m))
            })
            .collect();
        if todo.len() < 2 {
            return;
        }
        self.ahead.sums = todo
            .par_iter()
            .map(|(idx, p, m)| (*idx, (stamp(m), dest_digest(p, m.len()))))
            .collect();
        self.ahead.metas = wanted
            .into_iter()
            .zip(metas)
            .filter(|(_, m)| m.as_ref().is_none_or(|m| m.is_dir() || m.nlink() == 1))
            .map(|((idx, _), m)| (idx, m))
            .collect();
    }

    /// The destination's metadata for entry `idx` at `path`, looked at ahead or now, as this side
    /// sees it (`--fake-super`: through its stored attributes).
    pub(super) fn old_meta(&mut self, idx: u32, path: &Path) -> Option<Stat> {
        match self.ahead.metas.remove(&idx) {
            Some(m) => Some(Stat::of(m?, path, self.meta.fake)),
            None => self.dest_stat(path),
        }
    }

    /// The item at `path` as this side sees it, looked at now.
    pub(super) fn dest_stat(&self, path: &Path) -> Option<Stat> {
        let m = std::fs::symlink_metadata(path).ok()?;
        Some(Stat::of(m, path, self.meta.fake))
    }
}
