//! Receiver-side reconstruction. Default: a temp file beside the target (`.name.XXXXXX`), written
//! with positional writes (ops carry absolute offsets, so order does not matter), verified by the
//! whole-file BLAKE3, then renamed over the target — a failed or interrupted file leaves the old
//! version untouched (rsync's receiver.c behaviour).
//!
//! Memory: copies read the basis with positional reads through a 256 KiB buffer (dedupe copies
//! from other files go through the kernel, [`copy`]), never through the engine's mapping of the
//! basis, and the whole-file BLAKE3 reads
//! back at most 1 MiB at a time ([`digest`]); the in-place executor moves copies through a
//! 256 KiB buffer plus its stash (≤ `--inplace-buffer`). So reconstruction adds a fixed amount
//! to the receiver's resident set whatever the file size (issue 7's in-place bound; measured in
//! tests/it/rss.rs).

pub mod copy;
pub mod digest;
pub mod inplace;
pub mod tempfile;

/// What an in-place reconstruction of one file did (for `--stats`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InplaceReport {
    /// Copy bytes that had to become literals (cycle breaking beyond the stash budget).
    pub lost: u64,
    /// Copy ops executed.
    pub kept: u64,
    /// Copy ops converted (wholly or partly) to literals.
    pub converted: u64,
    /// Largest number of bytes stashed in memory at once.
    pub stash_peak: u64,
}

/// Execute `copies` (dst, src, len) inside `file` (the old content, `old_len` bytes) so it can
/// become the new file of `new_len` bytes; returns the sorted (offset, length) ranges that still
/// need literal data, and a report. The caller writes those ranges and truncates.
pub fn run_inplace(
    file: &std::fs::File,
    copies: &[(u64, u64, u64)],
    old_len: u64,
    new_len: u64,
    policy: &str,
    budget: u64,
) -> std::io::Result<(Vec<(u64, u64)>, InplaceReport)> {
    let policy: inplace::Policy = policy.parse().map_err(std::io::Error::other)?;
    let copies: Vec<inplace::Copy> = copies
        .iter()
        .map(|&(dst, src, len)| inplace::Copy { dst, src, len })
        .collect();
    let plan = inplace::plan(&copies, old_len, new_len, policy, budget);
    inplace::execute(file, &plan, old_len, new_len)?;
    let st = &plan.stats;
    Ok((
        plan.missing(new_len),
        InplaceReport {
            lost: st.bytes_lost,
            kept: st.copies_kept,
            converted: st.copies_converted,
            stash_peak: st.bytes_stashed,
        },
    ))
}

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex};

/// Temp files in flight (temp path → target path), so an interrupted run can remove them — or,
/// with `--partial`, keep what arrived as the destination file (rsync's partial semantics).
/// A map, not a list: the generator keeps thousands of files in flight on a tree of small files,
/// and a linear scan per register/unregister made the run quadratic in the number of files.
static TEMPS: LazyLock<Mutex<HashMap<PathBuf, PathBuf>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
static KEEP_PARTIAL: AtomicBool = AtomicBool::new(false);
/// Set by [`cleanup`]: the process is ending, no new temp file may appear after the sweep.
static CLOSED: AtomicBool = AtomicBool::new(false);

pub fn set_keep_partial(on: bool) {
    KEEP_PARTIAL.store(on, Ordering::Relaxed);
}

/// `--partial-dir=DIR`: partial files are kept in DIR (relative to each file's directory unless
/// absolute) instead of replacing the destination, and used as the basis of the next attempt.
static PARTIAL_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

pub fn set_partial_dir(dir: Option<&str>) {
    if let Ok(mut d) = PARTIAL_DIR.lock() {
        *d = dir.map(PathBuf::from);
    }
}

/// Where the partial file of `target` lives with `--partial-dir`: None without one, an error
/// (ELOOP) when the dir is reached through a symlink of another user (plan::trusted) — then no
/// partial file is kept there, read or removed.
pub fn partial_path(target: &std::path::Path) -> Option<std::io::Result<PathBuf>> {
    let dir = PARTIAL_DIR.lock().ok()?.clone()?;
    let name = target.file_name()?;
    let base = if dir.is_absolute() {
        dir
    } else {
        target
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join(dir)
    };
    Some(crate::plan::trusted::check_quietly(&base).map(|_| base.join(name)))
}

pub fn register(temp: PathBuf, target: PathBuf) {
    if let Ok(mut t) = TEMPS.lock() {
        t.entry(temp).or_insert(target);
    }
}

/// Create a temp file with `create` and register it in one step under the registry lock, so a
/// signal's [`cleanup`] either sees it or runs first and makes the creation fail — a temp file
/// can never slip in between the sweep and the exit.
pub fn create_registered<F>(
    target: &std::path::Path,
    create: F,
) -> std::io::Result<(std::fs::File, PathBuf)>
where
    F: FnOnce() -> std::io::Result<(std::fs::File, PathBuf)>,
{
    let mut t = TEMPS
        .lock()
        .map_err(|_| std::io::Error::other("temp-file registry poisoned"))?;
    if CLOSED.load(Ordering::Relaxed) {
        return Err(std::io::Error::from(std::io::ErrorKind::Interrupted));
    }
    let (f, p) = create()?;
    t.insert(p.clone(), target.to_path_buf());
    Ok((f, p))
}

pub fn unregister(temp: &std::path::Path) {
    if let Ok(mut t) = TEMPS.lock() {
        t.remove(temp);
    }
}

/// Remove (or keep as partial) every temp file still registered.
pub fn cleanup() {
    let list = match TEMPS.lock() {
        Ok(mut t) => {
            CLOSED.store(true, Ordering::Relaxed);
            std::mem::take(&mut *t)
        }
        Err(_) => return,
    };
    let keep = KEEP_PARTIAL.load(Ordering::Relaxed);
    for (temp, target) in list {
        let has_data = std::fs::metadata(&temp)
            .map(|m| m.len() > 0)
            .unwrap_or(false);
        let dest = match partial_path(&target) {
            None => target,
            Some(Ok(p)) => p,
            Some(Err(_)) => {
                let _ = std::fs::remove_file(&temp);
                continue;
            }
        };
        if keep && has_data {
            if let Some(parent) = dest.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            if std::fs::rename(&temp, &dest).is_ok() {
                continue;
            }
        }
        let _ = std::fs::remove_file(&temp);
    }
}
