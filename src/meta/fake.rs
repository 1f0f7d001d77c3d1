//! `--fake-super` (rsync xattrs.c get_stat_xattr / set_stat_xattr, syscall.c do_symlink /
//! do_mknod): a side that may not own files by others, make devices or keep set-id bits stores
//! those privileged attributes in the `user.rsync.%stat` extended attribute of each item, as
//! "MODE MAJOR,MINOR UID:GID" (octal mode with its type, decimal rest), only where they differ
//! from the real item. Symlinks become regular files holding the target and devices and
//! specials empty regular files (Linux keeps no user xattrs on symlinks or device nodes); the
//! real mode keeps the permission bits without set-id/sticky bits and always gives the owner
//! read and write (and search, for directories). A sending side with the option reads the items
//! back as they were; a receiving side compares against them. The format is rsync's, so trees
//! written by either tool can be read back by the other.

use super::cpath;
use crate::flist::entry::{S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
use std::fs::Metadata;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

pub const XSTAT: &[u8] = b"user.rsync.%stat";
const XSTAT_C: &std::ffi::CStr = c"user.rsync.%stat";

/// The attributes an item stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fake {
    pub mode: u32,
    pub rdev: u64,
    pub uid: u32,
    pub gid: u32,
}

impl Fake {
    fn parse(s: &[u8]) -> Option<Fake> {
        let s = std::str::from_utf8(s).ok()?;
        let (mode, rest) = s.split_once(' ')?;
        let (dev, ids) = rest.split_once(' ')?;
        let (major, minor) = dev.split_once(',')?;
        let (uid, gid) = ids.trim_end().split_once(':')?;
        Some(Fake {
            mode: u32::from_str_radix(mode, 8).ok()?,
            rdev: libc::makedev(major.parse().ok()?, minor.parse().ok()?),
            uid: uid.parse().ok()?,
            gid: gid.parse().ok()?,
        })
    }

    fn format(&self) -> String {
        format!(
            "{:o} {},{} {}:{}",
            self.mode,
            libc::major(self.rdev),
            libc::minor(self.rdev),
            self.uid,
            self.gid
        )
    }
}

/// The stored attributes of a regular file or directory, if it has them.
pub fn read(path: &Path) -> Option<Fake> {
    Fake::parse(&super::xattr::get_one(path, XSTAT_C, 256)?)
}

/// An item as a `--fake-super` side sees it: the real metadata, with mode, owner, group and
/// device number from `user.rsync.%stat` where it has one. Size and times are the real ones.
#[derive(Clone, Debug)]
pub struct Stat {
    real: Metadata,
    fake: Option<Fake>,
}

impl std::ops::Deref for Stat {
    type Target = Metadata;
    fn deref(&self) -> &Metadata {
        &self.real
    }
}

impl Stat {
    /// `real`, read through its stored attributes when `fake` (regular files and directories
    /// only: other types cannot hold them).
    pub fn of(real: Metadata, path: &Path, fake: bool) -> Stat {
        let fake = (fake && (real.is_file() || real.is_dir()))
            .then(|| read(path))
            .flatten();
        Stat { real, fake }
    }
    pub fn mode(&self) -> u32 {
        self.fake.map_or(self.real.mode(), |f| f.mode)
    }
    pub fn uid(&self) -> u32 {
        self.fake.map_or(self.real.uid(), |f| f.uid)
    }
    pub fn gid(&self) -> u32 {
        self.fake.map_or(self.real.gid(), |f| f.gid)
    }
    pub fn rdev(&self) -> u64 {
        self.fake.map_or(self.real.rdev(), |f| f.rdev)
    }
    pub fn is_dir(&self) -> bool {
        self.mode() & S_IFMT == S_IFDIR
    }
    pub fn is_file(&self) -> bool {
        self.mode() & S_IFMT == S_IFREG
    }
    pub fn is_symlink(&self) -> bool {
        self.mode() & S_IFMT == S_IFLNK
    }
    /// The metadata on disk.
    pub fn real(&self) -> &Metadata {
        &self.real
    }
    /// A symlink's target: a stored symlink holds it as its content.
    pub fn read_link(&self, path: &Path) -> io::Result<Vec<u8>> {
        use std::os::unix::ffi::OsStrExt;
        if self.real.is_file() {
            return std::fs::read(path);
        }
        Ok(std::fs::read_link(path)?.as_os_str().as_bytes().to_vec())
    }
}

/// Metadata as a side sees it: a [`Stat`] through its stored attributes, plain metadata as it is.
pub trait Seen {
    fn seen(&self) -> (u32, u32, u32);
    fn meta(&self) -> &Metadata;
}

impl Seen for Metadata {
    fn seen(&self) -> (u32, u32, u32) {
        (self.mode(), self.uid(), self.gid())
    }
    fn meta(&self) -> &Metadata {
        self
    }
}

impl Seen for Stat {
    fn seen(&self) -> (u32, u32, u32) {
        (self.mode(), self.uid(), self.gid())
    }
    fn meta(&self) -> &Metadata {
        &self.real
    }
}

/// Make the stand-in for a symlink (holding `target`), device or special: a new regular file,
/// owner read-write only until its attributes are stored.
pub fn make_file(path: &Path, content: &[u8]) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(content)
}

/// Store what `path` stands for — `mode` (with its type), `rdev`, `uid`, `gid` — as rsync's
/// set_stat_xattr does: the real mode becomes the permission bits without set-id/sticky bits,
/// plus owner read-write (and search for a directory); the attribute is written where it
/// differs from the real item and from what is stored already, and removed where the real item
/// says it all.
pub fn store(path: &Path, want: Fake) -> io::Result<()> {
    let real = std::fs::symlink_metadata(path)?;
    if real.file_type().is_symlink() {
        // Not made by this side (Linux keeps no user xattrs on symlinks): left as it is.
        return Ok(());
    }
    let c = cpath(path)?;
    let fmt = real.mode() & S_IFMT;
    let safe = fmt | (want.mode & 0o777) | if fmt == S_IFDIR { 0o700 } else { 0o600 };
    if real.mode() & (S_IFMT | 0o7777) != safe {
        // SAFETY: chmod of a path we hold as a C string.
        super::check(unsafe { libc::chmod(c.as_ptr(), (safe & 0o7777) as libc::mode_t) })?;
    }
    let want_mode = want.mode & (S_IFMT | 0o7777);
    let real_rdev = if matches!(fmt, S_IFCHR | S_IFBLK) {
        real.rdev()
    } else {
        0
    };
    let stored = read(path);
    if safe == want_mode
        && real_rdev == want.rdev
        && real.uid() == want.uid
        && real.gid() == want.gid
    {
        if stored.is_some() {
            // SAFETY: lremovexattr of a path we hold as a C string.
            super::check(unsafe { libc::lremovexattr(c.as_ptr(), XSTAT_C.as_ptr()) })?;
        }
        return Ok(());
    }
    let want = Fake {
        mode: want_mode,
        ..want
    };
    if stored != Some(want) {
        let v = want.format();
        // SAFETY: lsetxattr with a value buffer of the given length.
        super::check(unsafe {
            libc::lsetxattr(c.as_ptr(), XSTAT_C.as_ptr(), v.as_ptr().cast(), v.len(), 0)
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_attribute_round_trips_in_rsyncs_format() {
        let f = Fake {
            mode: 0o20644,
            rdev: libc::makedev(1, 3),
            uid: 1234,
            gid: 65534,
        };
        assert_eq!(f.format(), "20644 1,3 1234:65534");
        assert_eq!(Fake::parse(f.format().as_bytes()), Some(f));
        assert_eq!(Fake::parse(b"120777 0,0 0:0").unwrap().mode, 0o120777);
        assert!(Fake::parse(b"garbage").is_none());
    }
}
