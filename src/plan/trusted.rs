//! Operator paths and planted symlinks (rsync 3.5's defence, `--insecure-links`).
//!
//! Why: a root cron job that backs up into, restores from or reads rules out of a directory an
//! unprivileged user can write must not be redirected by a symlink that user plants there — the
//! destination `/home/u/backup/` with `backup -> /etc` would otherwise write into `/etc`. So the
//! paths the operator names — the destination, `--backup-dir`, `--temp-dir`, `--partial-dir`,
//! the `--link-dest`/`--copy-dest`/`--compare-dest` dirs, `--log-file`, `--files-from`,
//! `--exclude-from`/`--include-from` and merge files — are resolved component by component, and a
//! symlink along the way is followed only when root or the running (effective) user owns it;
//! one owned by anybody else is refused with rsync's notice and the operation fails as the
//! kernel would fail a symlink loop (ELOOP), so every caller reports it in its usual words and
//! with its usual exit code. Source operands are not walked: they are the transfer's roots, as
//! rsync treats them. `--insecure-links` (never sent to the peer) turns the walk off.
//!
//! The walk checks; the operation that follows opens the path again. Replacing a checked
//! directory by a symlink in between needs write access to its parent, which the walk cannot
//! take away; rsync's own walk has the same reach.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// rsync 3.5's notice, printed (without a "rsync:" prefix) before the failure it causes.
pub const NOTICE: &str = "refusing to follow a symlink owned by an untrusted user; use --insecure-links locally or \"insecure links = yes\" in a daemon module ONLY if every path component is trusted";

static INSECURE: AtomicBool = AtomicBool::new(false);

/// `--insecure-links`: follow any symlink in operator paths, as rsync before 3.5 did.
pub fn set_insecure(on: bool) {
    INSECURE.store(on, Ordering::Relaxed);
}

/// The kernel's symlink limit: past it the operation itself fails with ELOOP.
const MAX_FOLLOW: usize = 40;

/// Walk `p` (absolute, or relative to the working directory). `Ok` when every symlink on the
/// way is trusted (or the path stops existing before one is met: nothing is there to follow);
/// otherwise the notice is printed on stderr and the error is ELOOP. For the client's own reads;
/// a receiver, which may be a server, says the notice over its connection
/// ([`check_quietly`], [`refused`]) so that it comes before the failure it explains.
pub fn check(p: &Path) -> io::Result<()> {
    let r = check_quietly(p);
    if r.is_err() {
        eprintln!("{NOTICE}");
    }
    r
}

/// [`check`] for a path held as a string.
pub fn check_str(p: &str) -> io::Result<()> {
    check(Path::new(p))
}

/// [`check`] without the notice.
pub fn check_quietly(p: &Path) -> io::Result<()> {
    if INSECURE.load(Ordering::Relaxed) || p.as_os_str().is_empty() || untrusted(p).is_none() {
        return Ok(());
    }
    Err(io::Error::from_raw_os_error(libc::ELOOP))
}

/// Did `err` (from an operation under `p`) come from a refusal of `p`?
pub fn refused(p: &Path, err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::ELOOP) && check_quietly(p).is_err()
}

/// The first symlink on `p`'s resolution that is owned by neither root nor the effective user.
fn untrusted(p: &Path) -> Option<PathBuf> {
    let euid = unsafe { libc::geteuid() };
    // A real (symlink-free) directory to resolve from: the kernel's idea of the cwd.
    let mut cur = if p.is_absolute() {
        PathBuf::from("/")
    } else {
        std::env::current_dir().ok()?
    };
    let mut todo: VecDeque<OsString> = names(p);
    let mut followed = 0;
    while let Some(name) = todo.pop_front() {
        if name == "/" {
            cur = PathBuf::from("/");
            continue;
        }
        if name == ".." {
            cur.pop();
            continue;
        }
        let next = cur.join(&name);
        let md = std::fs::symlink_metadata(&next).ok()?;
        if !md.file_type().is_symlink() {
            cur = next;
            continue;
        }
        if md.uid() != 0 && md.uid() != euid {
            return Some(next);
        }
        followed += 1;
        if followed > MAX_FOLLOW {
            return None;
        }
        let target = std::fs::read_link(&next).ok()?;
        for n in names(&target).into_iter().rev() {
            todo.push_front(n);
        }
    }
    None
}

/// The components of `p` as names, with "/" for the root and without "." entries.
fn names(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::RootDir => Some(OsString::from("/")),
            Component::ParentDir => Some(OsString::from("..")),
            Component::Normal(n) => Some(n.to_os_string()),
            Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// Root can hand a symlink to another user; as anybody else every symlink is one's own.
    fn plant(link: &Path) -> bool {
        let path = std::ffi::CString::new(link.as_os_str().as_encoded_bytes()).unwrap();
        unsafe { libc::geteuid() == 0 && libc::lchown(path.as_ptr(), 65534, 65534) == 0 }
    }

    #[test]
    fn only_symlinks_of_root_or_self_are_followed() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("real");
        std::fs::create_dir_all(real.join("sub")).unwrap();
        symlink(&real, t.path().join("mine")).unwrap();
        symlink("real", t.path().join("rel")).unwrap();
        assert_eq!(untrusted(&t.path().join("mine/sub/new/deeper")), None);
        assert_eq!(untrusted(&t.path().join("rel/../rel/sub")), None);
        symlink(&real, t.path().join("planted")).unwrap();
        if !plant(&t.path().join("planted")) {
            return;
        }
        let bad = Some(t.path().join("planted"));
        assert_eq!(untrusted(&t.path().join("planted")), bad);
        assert_eq!(untrusted(&t.path().join("planted/sub/x")), bad);
        // Reached through a trusted link, and from a relative path.
        symlink("planted", t.path().join("via")).unwrap();
        assert_eq!(untrusted(&t.path().join("via/sub")), bad);
        // `..` is resolved after the link it follows, as the kernel does.
        assert_eq!(untrusted(&t.path().join("planted/..")), bad);
        assert!(check(&t.path().join("mine/sub")).is_ok());
        let e = check(&t.path().join("via")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
    }
}
