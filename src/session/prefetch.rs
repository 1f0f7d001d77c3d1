//! Push transfers: prepare large source files while the remote shell is still connecting.
//!
//! Why: starting ssh (key exchange, authentication, starting the remote binary) takes about a
//! third of a second, and the client has nothing to do meanwhile — the receiver's requests only
//! arrive once the remote side runs. For the parasync engine the sender's work on a file (chunking
//! it and hashing it whole, algorithms.md §6) does not depend on the receiver, so it can be done in
//! that idle time; when the request comes, the table and the digest are ready and the file's
//! engine session starts answering at once. If the transfer has not started by then, the strong
//! digests of all the file's chunks are computed too: during the transfer ParaSync hashes only
//! chunks with weak hits, on demand, on cores that the receiver's chunking then needs (on
//! `insert`, 33 ms of 566 in a 10-run A/B on 2 cores). rsync cannot do this: its sender's work depends on
//! the receiver's block checksums.
//!
//! The files come from the file-list walk itself (started before the connection, see
//! `client::run_transfer`), so no second walk of the sources competes with ssh's start.
//!
//! Bounded and safe: only regular files of at least [`STREAM_SIZE`](super::STREAM_SIZE) bytes,
//! at most `MAX_FILES` files and `MAX_BYTES` in total, and no new file once the transfer runs
//! ([`stop`]); a prepared file is used only if its identity and change times are unchanged when
//! it is requested (otherwise the sender works as usual), and the whole-file digest still
//! verifies every reconstruction.

use crate::engine::parasync::Prepared;
use crate::engine::{EngineParams, FileMap, Shared};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

/// Files prepared at most.
const MAX_FILES: usize = 64;
/// Bytes prepared at most.
const MAX_BYTES: u64 = 4 << 30;

/// What a prepared file looked like: (dev, ino) → (size, mtime, ctime in ns).
type Stamp = (u64, i128, i128);

fn identity(m: &std::fs::Metadata) -> ((u64, u64), Stamp) {
    let ns = |s: i64, n: i64| s as i128 * 1_000_000_000 + n as i128;
    (
        (m.dev(), m.ino()),
        (
            m.len(),
            ns(m.mtime(), m.mtime_nsec()),
            ns(m.ctime(), m.ctime_nsec()),
        ),
    )
}

/// A prepared source: the engine table and the whole-file BLAKE3 of the same bytes.
pub struct Ready {
    pub table: Prepared,
    pub digest: [u8; 32],
}

#[derive(Default)]
struct State {
    stopped: bool,
    /// The file being prepared now.
    busy: Option<(u64, u64)>,
    done: HashMap<(u64, u64), (Stamp, Ready)>,
}

fn state() -> &'static (Mutex<State>, Condvar) {
    static S: std::sync::OnceLock<(Mutex<State>, Condvar)> = std::sync::OnceLock::new();
    S.get_or_init(Default::default)
}

fn lock() -> std::sync::MutexGuard<'static, State> {
    state().0.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether a push with `opts` uses what this module prepares: the parasync engine doing deltas.
pub fn wanted(opts: &crate::cli::Options) -> bool {
    matches!(opts.engine, None | Some(crate::engine::EngineId::Parasync))
        && opts.whole_file != Some(true)
        && !opts.dry_run
        && !opts.list_only
}

/// Start preparing, on a background thread, the large regular files the file-list walk offers on
/// `files` (in list order, so the first files to be requested are prepared first).
pub fn start(params: &EngineParams, files: crossbeam_channel::Receiver<PathBuf>) {
    lock().stopped = false;
    let params = params.clone();
    let _ = std::thread::Builder::new()
        .name("prefetch".into())
        .spawn(move || run(&params, files.iter().take(MAX_FILES)));
}

/// A channel for [`start`] (bounded: files beyond [`MAX_FILES`] are not wanted).
pub fn channel() -> (
    crossbeam_channel::Sender<PathBuf>,
    crossbeam_channel::Receiver<PathBuf>,
) {
    crossbeam_channel::bounded(MAX_FILES)
}

/// The transfer runs: prepare no further file (the one in progress completes).
pub fn stop() {
    lock().stopped = true;
}

fn run(params: &EngineParams, files: impl Iterator<Item = PathBuf>) {
    let mut total = 0u64;
    for p in files {
        if lock().stopped {
            return;
        }
        let Ok(f) = std::fs::File::open(&p) else {
            continue;
        };
        let Ok(m) = f.metadata() else { continue };
        if !m.is_file() || m.len() < super::STREAM_SIZE {
            continue;
        }
        total += m.len();
        if total > MAX_BYTES {
            return;
        }
        let (key, stamp) = identity(&m);
        {
            let mut st = lock();
            if st.stopped {
                return;
            }
            st.busy = Some(key);
        }
        let ready = FileMap::new(&f).ok().map(|map| {
            let data: Shared = Arc::new(map);
            let d = data.clone();
            let digest = std::thread::scope(|s| {
                let h = s.spawn(|| super::sender::digest_released((*d).as_ref()));
                let table = crate::engine::parasync::prepare(params, data.clone());
                (table, h.join())
            });
            match digest {
                // Still idle: the strong digests of the chunks too (ParaSync hashes only weak
                // hits, on demand, while the transfer runs; here it costs nothing).
                (table, Ok(digest)) if !lock().stopped => Some(Ready {
                    table: table.with_strong(params, &data),
                    digest,
                }),
                (table, Ok(digest)) => Some(Ready { table, digest }),
                _ => None,
            }
        });
        super::trace::point(|| format!("prefetched {}", p.display()));
        let mut st = lock();
        st.busy = None;
        if let Some(Some(r)) = ready {
            st.done.insert(key, (stamp, r));
        }
        state().1.notify_all();
    }
}

/// The prepared table and digest of `path` if it was prepared and has not changed since (waits
/// for it if it is being prepared right now).
pub fn take(path: &Path) -> Option<Ready> {
    let m = std::fs::metadata(path).ok()?;
    let (key, stamp) = identity(&m);
    let mut st = lock();
    while st.busy == Some(key) {
        st = state().1.wait(st).unwrap_or_else(|e| e.into_inner());
    }
    match st.done.remove(&key) {
        Some((s, r)) if s == stamp => Some(r),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn prepared_files_are_handed_out_once_and_only_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        let data = crate::testkit::pseudo_random((super::super::STREAM_SIZE + 12345) as usize, 3);
        std::fs::write(&big, &data).unwrap();
        std::fs::write(dir.path().join("small"), b"tiny").unwrap();
        let changed = dir.path().join("changed");
        std::fs::write(&changed, &data).unwrap();
        lock().stopped = false;
        let names = ["big", "changed", "small"].map(|n| dir.path().join(n));
        run(&EngineParams::default(), names.into_iter());
        assert!(take(&dir.path().join("small")).is_none());
        let r = take(&big).expect("prepared");
        assert_eq!(r.digest, *blake3::hash(&data).as_bytes());
        assert!(take(&big).is_none(), "handed out once");
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::OpenOptions::new()
            .append(true)
            .open(&changed)
            .unwrap()
            .write_all(b"x")
            .unwrap();
        assert!(take(&changed).is_none(), "changed since");
    }
}
