//! Dedupe on remote (design.md §6): content is sent once per transfer and copied on the receiver.
//!
//! rsync sends every new file in full even when the same bytes were sent a moment ago under another
//! name, or already sit under the destination under an old name (a moved directory). parasync keeps
//! three indexes and rewrites such content into `CopyFrom` ops:
//!
//! * [`SentIndex`] (sender): BLAKE3 of every file whose transfer has *completed* in this run. A file
//!   with the same digest becomes one `CopyFrom` of the earlier file. Only completed files are
//!   entered, so the receiver (which handles messages in order) has renamed the earlier file into
//!   place before it reads the copy.
//! * [`LocalIndex`] (receiver): regular files already under the destination, indexed by name
//!   (and by size once a large file asks) and hashed on demand (cached); scanned on a thread of its
//!   own from the first new file on. Before
//!   requesting a file that has no basis, the receiver announces same-size candidates (same name
//!   only below [`ANY_NAME_MIN`]) with their digests (`Msg::Have`); the sender answers with a
//!   `CopyFrom` of the candidate whose digest equals the source's. This is how a renamed or moved
//!   file costs ~0 bytes; deletions are deferred to the end of the run so a file `--delete`
//!   removes can still be read (design.md §6 "a file about to be deleted stays until its last
//!   reader is done").
//! * [`chunks::ChunkIndex`] (sender): CDC chunks of the literal data of completed files; a chunk
//!   already on the receiver, in another file or earlier in the same one, becomes a `CopyFrom` of
//!   that range (see [`chunks`] for the ordering rules). Whole-file duplicates of large files are
//!   found this way too (their chunk copies merge into one op), without a digest pass before
//!   sending.
//!
//! Safety does not rest on the indexes: every file is still verified by its whole-file BLAKE3, and a
//! mismatch (a candidate changed between hashing and copying, a copy source that failed) re-requests
//! the file without dedupe (`plain`), exactly like rsync's redo pass.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub mod chunks;
mod scan;

use scan::{name_key, Scanned};

/// `CopyFrom.file` values with this bit set name a [`LocalIndex`] entry; others a file-list index.
pub const LOCAL: u32 = 1 << 31;
/// Files smaller than this are not worth a digest round (their literal costs about as much).
pub const MIN_SIZE: u64 = 1024;
/// At most this many same-size candidates are hashed per request (bounds the work on trees of
/// many equally sized files).
const MAX_CANDIDATES: usize = 4;
/// Files smaller than this are matched only with destination files of the same name.
pub const ANY_NAME_MIN: u64 = 64 << 10;
/// Files of the same name looked at (one `stat` each) per request at most: a name common in a
/// big tree (`index.html`, `__init__.py`) must not cost a walk per new file.
const NAME_PROBES: usize = 64;
/// New files sent without local candidates while the destination is still being scanned.
pub const SKIP_BUDGET: u64 = 1 << 20;
/// How long the first new file waits for the scan (a small destination is scanned by then).
const FIRST_WAIT: std::time::Duration = std::time::Duration::from_millis(50);

/// Sender: digests of files completed in this transfer, keyed by their first 16 bytes (a file
/// entry costs 20 bytes of table, not 36, on trees of millions of files). 128 bits of BLAKE3
/// make an accidental match out of reach, and a wrong one could not do harm: the receiver
/// verifies the copy against the full digest, and a mismatch is sent again in full.
#[derive(Default)]
pub struct SentIndex {
    by_digest: HashMap<[u8; 16], u32>,
}

impl SentIndex {
    pub fn lookup(&self, digest: &[u8; 32]) -> Option<u32> {
        self.by_digest.get(&Self::key(digest)).copied()
    }
    pub fn insert(&mut self, digest: [u8; 32], idx: u32) {
        self.by_digest.entry(Self::key(&digest)).or_insert(idx);
    }
    fn key(digest: &[u8; 32]) -> [u8; 16] {
        let mut k = [0; 16];
        k.copy_from_slice(&digest[..16]);
        k
    }
}

/// BLAKE3 of a byte slice, multi-threaded for large inputs.
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    if bytes.len() >= 8 << 20 {
        h.update_rayon(bytes);
    } else {
        h.update(bytes);
    }
    *h.finalize().as_bytes()
}

/// BLAKE3 of a file read in pieces (no mapping: the resident set stays small).
pub fn digest_path(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut h = blake3::Hasher::new();
    h.update_reader(File::open(path)?)?;
    Ok(*h.finalize().as_bytes())
}

/// True for names that look like parasync's (and rsync's) in-flight temp files `.name.XXXXXX`.
fn is_temp_name(n: &[u8]) -> bool {
    n.len() > 8 && n[0] == b'.' && n[n.len() - 7] == b'.'
}

/// Receiver: what already exists under the destination.
pub struct LocalIndex {
    root: PathBuf,
    /// The scan of the destination, running on its own thread until first needed.
    scan: Option<std::thread::JoinHandle<Scanned>>,
    /// Set when the index is dropped unused: the scan stops at its next directory.
    cancel: std::sync::Arc<std::sync::atomic::AtomicBool>,
    built: bool,
    found: Scanned,
    /// The found files of at least [`MIN_SIZE`] bytes by size: stat'ed only when a file of
    /// [`ANY_NAME_MIN`] bytes or more first asks (smaller ones match by name only); sorted
    /// (size, file) pairs, so the files of one size are a run in walk order.
    by_size: Option<Vec<(u64, u32)>>,
    /// Bytes of new files that went without candidates while the scan ran ([`Self::ask_now`]).
    skipped: u64,
    waited: bool,
    digests: HashMap<PathBuf, Option<[u8; 32]>>,
    ids: Vec<PathBuf>,
    id_of: HashMap<PathBuf, u32>,
}

impl LocalIndex {
    /// An index scanned when first needed.
    pub fn new(root: PathBuf) -> LocalIndex {
        LocalIndex {
            root,
            scan: None,
            cancel: Default::default(),
            built: false,
            found: Scanned::default(),
            by_size: None,
            skipped: 0,
            waited: false,
            digests: HashMap::new(),
            ids: Vec::new(),
            id_of: HashMap::new(),
        }
    }

    /// An index whose scan starts now on a background thread, so the receiver does not stop
    /// at the first file it asks about to walk the whole destination (on a 20,000-file tree
    /// that walk was 15 % of the receiver's time, all of it on the critical path). The receiver
    /// spawns it at its first new file: a run with nothing new never walks the destination.
    pub fn spawn(root: PathBuf) -> LocalIndex {
        let mut ix = LocalIndex::new(root.clone());
        let cancel = ix.cancel.clone();
        ix.scan = std::thread::Builder::new()
            .name("dest-index".into())
            .spawn(move || Scanned::scan(&root, &cancel))
            .ok();
        ix
    }

    /// Whether to ask for candidates of a new file of `size` bytes now (which may wait for the
    /// scan). Until the scan is done, new files go without local candidates up to
    /// [`SKIP_BUDGET`] bytes in all (after one short wait, which a small destination's scan
    /// beats); past that, the scan is waited for. So a big destination costs at most that
    /// many bytes of missed copies instead of stopping the generator for its whole walk
    /// (200,000 files: 0.3–0.9 s at the first new file), and a moved directory is still found.
    pub fn ask_now(&mut self, size: u64) -> bool {
        if self.built || self.scan.as_ref().is_none_or(|h| h.is_finished()) {
            return true;
        }
        if !self.waited {
            self.waited = true;
            let until = std::time::Instant::now() + FIRST_WAIT;
            while std::time::Instant::now() < until {
                if self.scan.as_ref().is_none_or(|h| h.is_finished()) {
                    return true;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        if self.skipped + size <= SKIP_BUDGET {
            self.skipped += size;
            return false;
        }
        true
    }

    /// The scan's result, waiting for it if it is still running.
    fn build(&mut self) {
        if self.built {
            return;
        }
        self.built = true;
        crate::session::trace::point(|| "dest index wanted".into());
        self.found = match self.scan.take() {
            Some(h) => h.join().unwrap_or_default(),
            None => Scanned::scan(&self.root, &self.cancel),
        };
        let n = self.found.len();
        crate::session::trace::point(|| format!("dest index ready ({n} files)"));
    }

    /// The first `max` found files of `size` bytes (see [`LocalIndex::by_size`]).
    fn sized(&mut self, size: u64, max: usize) -> Vec<u32> {
        let found = &self.found;
        let all = self.by_size.get_or_insert_with(|| {
            let mut v: Vec<(u64, u32)> = (0..found.len() as u32)
                .filter_map(|i| {
                    let md = std::fs::symlink_metadata(found.path(i)).ok()?;
                    (md.is_file() && md.len() >= MIN_SIZE).then_some((md.len(), i))
                })
                .collect();
            v.sort_unstable();
            v
        });
        let from = all.partition_point(|&(s, _)| s < size);
        all[from..]
            .iter()
            .take_while(|&&(s, _)| s == size)
            .take(max)
            .map(|&(_, i)| i)
            .collect()
    }

    /// Candidates of `size` bytes other than `target`, as (id, digest).
    pub fn candidates(&mut self, size: u64, target: &Path) -> Vec<(u32, [u8; 32])> {
        if size < MIN_SIZE {
            return Vec::new();
        }
        self.build();
        // Same base name first (a moved directory keeps its file names), then any — but a
        // small file only by its name: each candidate is read and hashed, and small sizes
        // collide everywhere in a big tree (a 200,000-file update hashed 4 unrelated files per
        // new 3 KB file: a fifth of its time) for at most a few KiB saved.
        let base = target.file_name().unwrap_or_default();
        let mut pick: Vec<u32> = Vec::new();
        for i in self
            .found
            .named(name_key(base.as_bytes()))
            .take(NAME_PROBES)
        {
            if pick.len() < MAX_CANDIDATES && self.found.name(i) == base.as_bytes() {
                let p = self.found.path(i);
                if p != target
                    && std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_file() && m.len() == size)
                {
                    pick.push(i);
                }
            }
        }
        if size >= ANY_NAME_MIN && pick.len() < MAX_CANDIDATES {
            // Enough to fill the picks past those already made and the target itself.
            let others = self.sized(size, 2 * MAX_CANDIDATES + 1);
            for i in others {
                if pick.len() < MAX_CANDIDATES && !pick.contains(&i) && self.found.path(i) != target
                {
                    pick.push(i);
                }
            }
        }
        let paths: Vec<PathBuf> = pick.into_iter().map(|i| self.found.path(i)).collect();
        let mut out = Vec::new();
        for p in paths {
            let d = *self.digests.entry(p.clone()).or_insert_with(|| {
                let f = File::open(&p).ok()?;
                if f.metadata().ok()?.len() != size {
                    return None;
                }
                crate::recon::tempfile::digest_file(&f, size).ok()
            });
            if let Some(d) = d {
                let id = match self.id_of.get(&p) {
                    Some(&i) => i,
                    None => {
                        let i = self.ids.len() as u32;
                        self.id_of.insert(p.clone(), i);
                        self.ids.push(p);
                        i
                    }
                };
                out.push((LOCAL | id, d));
            }
        }
        out
    }

    /// Open local candidate `id` (with the [`LOCAL`] bit) for reading.
    pub fn open(&self, id: u32) -> Option<File> {
        let p = self.ids.get((id & !LOCAL) as usize)?;
        File::open(p).ok()
    }

    /// A file written by this transfer: a digest cached for its path is stale now. It does not
    /// become a candidate — the sender's content index already offers every file it sent in
    /// this transfer (`SentIndex`, `ChunkIndex`), and offering it here too made every new file
    /// re-read same-size files just written (on a 200,000-file initial copy, most of them).
    pub fn written(&mut self, path: &Path) {
        self.digests.remove(path);
    }

    /// No candidates were asked for so far and none will be: let the scan stop (a run with
    /// nothing new to send does not finish walking the destination). A later question would
    /// still be answered, from what the scan had seen.
    pub fn stop_if_unused(&self) {
        if !self.built {
            self.cancel
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl Drop for LocalIndex {
    fn drop(&mut self) {
        self.cancel
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names() {
        assert!(is_temp_name(b".file.bin.a1B2c3"));
        assert!(!is_temp_name(b"file.bin"));
        assert!(!is_temp_name(b".bashrc"));
    }

    #[test]
    fn local_candidates_by_size_and_digest() {
        let t = tempfile::tempdir().unwrap();
        let big = ANY_NAME_MIN as usize;
        std::fs::create_dir(t.path().join("d")).unwrap();
        std::fs::write(t.path().join("d/a"), vec![7u8; big]).unwrap();
        std::fs::write(t.path().join("b"), vec![8u8; big]).unwrap();
        std::fs::write(t.path().join("c"), vec![8u8; 10]).unwrap();
        // Small files: only a file of the same name is a candidate.
        std::fs::write(t.path().join("d/s"), vec![6u8; 5000]).unwrap();
        std::fs::write(t.path().join("d/other"), vec![6u8; 5000]).unwrap();
        let mut ix = LocalIndex::new(t.path().to_path_buf());
        let c = ix.candidates(big as u64, &t.path().join("b"));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].1, digest(&vec![7u8; big]));
        let mut buf = Vec::new();
        use std::io::Read;
        ix.open(c[0].0).unwrap().read_to_end(&mut buf).unwrap();
        assert_eq!(buf, vec![7u8; big]);
        assert!(ix.candidates(10, Path::new("/x")).is_empty());
        assert!(ix.open(LOCAL | 9).is_none());
        let small = ix.candidates(5000, &t.path().join("moved/s"));
        assert_eq!(small.len(), 1, "{small:?}");
        assert!(ix.candidates(5000, &t.path().join("moved/t")).is_empty());
    }

    #[test]
    fn small_files_match_by_name_without_a_stat_of_the_tree() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("d")).unwrap();
        std::fs::write(t.path().join("d/s"), vec![6u8; 5000]).unwrap();
        std::fs::write(t.path().join("d/other"), vec![6u8; 5000]).unwrap();
        let mut ix = LocalIndex::new(t.path().to_path_buf());
        let c = ix.candidates(5000, &t.path().join("moved/s"));
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].1, digest(&[6u8; 5000]));
        // Same name, other size: no candidate.
        assert!(ix.candidates(4000, &t.path().join("moved/s")).is_empty());
        assert!(ix.candidates(5000, &t.path().join("moved/t")).is_empty());
        assert!(
            ix.by_size.is_none(),
            "sizes are gathered only for large files"
        );
        assert!(ix.candidates(ANY_NAME_MIN, &t.path().join("x")).is_empty());
        assert!(ix.by_size.is_some());
    }

    #[test]
    fn background_scan_and_rewritten_files() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("d")).unwrap();
        std::fs::write(t.path().join("d/a"), vec![7u8; 5000]).unwrap();
        let mut ix = LocalIndex::spawn(t.path().to_path_buf());
        let c = ix.candidates(5000, &t.path().join("e/a"));
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].1, digest(&[7u8; 5000]));
        // Rewritten by this transfer: the cached digest goes, the new content is offered.
        std::fs::write(t.path().join("d/a"), vec![9u8; 5000]).unwrap();
        assert_eq!(
            ix.candidates(5000, &t.path().join("e/a"))[0].1,
            c[0].1,
            "cached"
        );
        ix.written(&t.path().join("d/a"));
        let c = ix.candidates(5000, &t.path().join("e/a"));
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].1, digest(&[9u8; 5000]));
        // A file new in this transfer is not offered (the sender's index knows it).
        std::fs::create_dir(t.path().join("f")).unwrap();
        std::fs::write(t.path().join("f/a"), vec![3u8; 5000]).unwrap();
        ix.written(&t.path().join("f/a"));
        assert_eq!(ix.candidates(5000, &t.path().join("e/a")).len(), 1);
        // An index stopped before anyone asked still answers (from what its scan saw).
        let mut quiet = LocalIndex::spawn(t.path().to_path_buf());
        quiet.stop_if_unused();
        assert!(quiet.candidates(5000, &t.path().join("e/a")).len() <= 2);
    }

    #[test]
    fn new_files_skip_a_running_scan_up_to_the_budget() {
        let t = tempfile::tempdir().unwrap();
        let mut ix = LocalIndex::new(t.path().to_path_buf());
        let (go, wait) = crossbeam_channel::bounded::<()>(0);
        ix.scan = Some(std::thread::spawn(move || {
            let _ = wait.recv();
            Scanned::default()
        }));
        let started = std::time::Instant::now();
        assert!(!ix.ask_now(SKIP_BUDGET / 2));
        assert!(
            started.elapsed() >= FIRST_WAIT,
            "the first new file waits a little"
        );
        let again = std::time::Instant::now();
        assert!(!ix.ask_now(SKIP_BUDGET / 2), "within the budget");
        assert!(again.elapsed() < FIRST_WAIT, "only the first one waits");
        assert!(ix.ask_now(1), "past the budget: wait for the scan");
        drop(go);
        assert!(ix.candidates(5000, &t.path().join("x")).is_empty());
        // A finished scan is always asked.
        let mut done = LocalIndex::spawn(t.path().to_path_buf());
        while done.scan.as_ref().is_some_and(|h| !h.is_finished()) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(done.ask_now(u64::MAX / 2));
    }

    #[test]
    fn sent_index_keeps_first() {
        let mut s = SentIndex::default();
        s.insert([1; 32], 4);
        s.insert([1; 32], 9);
        assert_eq!(s.lookup(&[1; 32]), Some(4));
        assert_eq!(s.lookup(&[2; 32]), None);
    }
}
