//! `-m`/`--prune-empty-dirs` (rsync.1): directories that end up holding no non-directory are
//! left out of the file list. rsync prunes the complete (non-incremental) list; a directory that
//! matches a receiver-side exclude (e.g. `--filter 'protect emptydir/'`) is kept, and so are
//! the directories leading to it. The transfer root (`.`) is never pruned.
//!
//! The walk emits segments whose entry indexes are implicit (allocation order = emission order),
//! so the pruner buffers the whole walk, drops pruned entries and renumbers the parents.

use crate::flist::entry::Entry;
use crate::flist::walk::WalkEvent;
use std::path::{Path, PathBuf};

pub struct Pruner<'a, P: FnMut(&[u8], &Path) -> bool> {
    /// Is this directory (name, on-disk path) protected on the receiver side?
    protected: P,
    emit: &'a mut dyn FnMut(WalkEvent) -> bool,
    segs: Vec<(u32, Vec<Entry>, Vec<PathBuf>)>,
}

impl<'a, P: FnMut(&[u8], &Path) -> bool> Pruner<'a, P> {
    pub fn new(protected: P, emit: &'a mut dyn FnMut(WalkEvent) -> bool) -> Self {
        Pruner {
            protected,
            emit,
            segs: Vec::new(),
        }
    }

    /// The walker's emit: segments are held until the end of the walk.
    pub fn push(&mut self, ev: WalkEvent) -> bool {
        match ev {
            WalkEvent::Segment {
                parent,
                entries,
                paths,
            } => {
                self.segs.push((parent, entries, paths));
                true
            }
            WalkEvent::End { .. } => self.flush() && (self.emit)(ev),
            ev => (self.emit)(ev),
        }
    }

    fn flush(&mut self) -> bool {
        // Flatten: idx → (parent idx, is dir).
        let mut parent_of: Vec<Option<usize>> = Vec::new();
        let mut keep: Vec<bool> = Vec::new();
        for (parent, entries, paths) in &self.segs {
            for (e, p) in entries.iter().zip(paths) {
                let par = (*parent != u32::MAX).then_some(*parent as usize);
                let is_root = e.is_dot();
                let protected = e.is_dir() && !is_root && (self.protected)(&e.name, p);
                parent_of.push(par);
                keep.push(!e.is_dir() || is_root || protected);
            }
        }
        // Everything kept keeps its ancestors (a parent's index is below its children's).
        for i in (0..keep.len()).rev() {
            if let (true, Some(j)) = (keep[i], parent_of[i]) {
                keep[j] = true;
            }
        }
        let mut new_idx = vec![u32::MAX; keep.len()];
        let mut next = 0u32;
        for (i, k) in keep.iter().enumerate() {
            if *k {
                new_idx[i] = next;
                next += 1;
            }
        }
        let mut base = 0usize;
        for (parent, entries, paths) in std::mem::take(&mut self.segs) {
            let n = entries.len();
            let ok = parent == u32::MAX || keep[parent as usize];
            if ok {
                let (entries, paths): (Vec<Entry>, Vec<PathBuf>) = entries
                    .into_iter()
                    .zip(paths)
                    .enumerate()
                    .filter(|(i, _)| keep[base + i])
                    .map(|(_, x)| x)
                    .unzip();
                let parent = if parent == u32::MAX {
                    parent
                } else {
                    new_idx[parent as usize]
                };
                if !(self.emit)(WalkEvent::Segment {
                    parent,
                    entries,
                    paths,
                }) {
                    return false;
                }
            }
            base += n;
        }
        true
    }
}
