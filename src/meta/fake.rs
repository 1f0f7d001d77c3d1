//! `--fake-super` (rsync xattrs.c get_stat_xattr / set_stat_xattr, syscall.c do_symlink /
//! do_mknod): a side that may not own files by others, make devices or keep set-id bits stores
//! those privileged attributes in the `user.rsync.%stat` extended attribute of each item, as
//! "MODE MAJOR,MINOR UID:GID" (octal mode with its type, decimal rest), only where they differ
//! from the real item. Symlinks become regular files holding the target and devices and
//! specials empty regular files (Linux keeps no user xattrs on symlinks or device nodes); the
//! real mode keeps the permission bits without set-id/sticky bits and always gives the owner
//! read and write (and search, for directories). A sending side with the option reads the items
//! back as they were; a receiving side compares against them. The format is rsync's, so trees
//! written by either tool can be read back by the other. With `-A`, ACLs are kept the same way,
//! as rsync's `user.rsync.%aacl` / `%dacl` records ([`acl_record`]).

use super::cpath;
use super::xattr::Acl;
use crate::flist::entry::{S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
use std::fs::Metadata;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

pub const XSTAT: &[u8] = b"user.rsync.%stat";
/// Where a fake super-user keeps an item's access and default ACL (rsync xattrs.c).
pub const XACL_ACCESS: &[u8] = b"user.rsync.%aacl";
pub const XACL_DEFAULT: &[u8] = b"user.rsync.%dacl";

/// rsync's "no such entry" in its ACL records.
const NO_ENTRY: u32 = 0x80;
/// rsync's flag on a named entry's access word that names a user (not a group).
const NAME_IS_USER: u32 = 1 << 31;

/// A POSIX ACL in the kernel's encoding as rsync's `--fake-super` record (acls.c set_rsync_acl):
/// four little-endian words — owner, owning group, mask, other, 0x80 for an entry left out — then
/// (id, permissions | NAME_IS_USER for a user) per named entry. An access ACL leaves out what
/// `mode` holds, as rsync's sender does (the owner and other entries; the owning group's when the
/// mode's group bits equal it; without a mask, the owning group's always); a minimal access ACL
/// is no record at all. A default ACL is kept whole.
pub fn acl_record(kernel: &[u8], mode: u32, access: bool) -> Option<Vec<u8>> {
    let acl = Acl::parse(kernel)?;
    let field = |v: Option<u32>| v.map_or(NO_ENTRY, |p| p & 7);
    let mut obj = [acl.user, acl.group, acl.mask, acl.other].map(field);
    if access {
        if acl.named.is_empty() && acl.mask.is_none() {
            return None;
        }
        if acl.mask.is_none() || obj[1] == (mode >> 3) & 7 {
            obj[1] = NO_ENTRY;
        }
        obj[0] = NO_ENTRY;
        obj[3] = NO_ENTRY;
    }
    let named = acl
        .named
        .iter()
        .flat_map(|&(user, id, p)| [id, p & 7 | if user { NAME_IS_USER } else { 0 }]);
    let mut out = Vec::with_capacity(16 + 8 * acl.named.len());
    for w in obj.into_iter().chain(named) {
        out.extend_from_slice(&w.to_le_bytes());
    }
    Some(out)
}

/// Where a fake super-user keeps an attribute outside the user namespace (`trusted.*`,
/// `security.*`): under this prefix (rsync xattrs.c receive_xattr).
const RSYNC_PREFIX: &[u8] = b"user.rsync.";

/// A receiving fake super-user keeps what it may not set as user attributes (rsync xattrs.c):
/// the kernel-encoded ACLs among `e`'s attributes become `user.rsync.%aacl` / `%dacl` records
/// (none for a minimal access ACL), an attribute of another namespace `user.rsync.NAME`.
pub fn to_stored(e: &mut crate::flist::entry::Entry) {
    use super::xattr::{ACL_ACCESS, ACL_DEFAULT};
    let mode = e.mode;
    let Some(x) = e.x_existing().and_then(|x| x.xattrs.as_mut()) else {
        return;
    };
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(x.len());
    for (n, v) in x.drain(..) {
        if n == ACL_ACCESS || n == ACL_DEFAULT {
            let access = n == ACL_ACCESS;
            if let Some(r) = acl_record(&v, mode, access) {
                let name = if access { XACL_ACCESS } else { XACL_DEFAULT };
                out.push((name.to_vec(), r));
            }
        } else if n.starts_with(b"user.") {
            out.push((n, v));
        } else {
            out.push(([RSYNC_PREFIX, &n].concat(), v));
        }
    }
    out.sort();
    *x = out;
}

/// A sending fake super-user lists what it keeps as what it stands for: ACL records as the ACLs
/// (their left-out entries taken from the item's stored mode), `user.rsync.NAME` as NAME when
/// NAME is of another namespace.
pub fn from_stored(e: &mut crate::flist::entry::Entry) {
    use super::xattr::{ACL_ACCESS, ACL_DEFAULT};
    let mode = e.mode;
    let Some(x) = e.x_existing().and_then(|x| x.xattrs.as_mut()) else {
        return;
    };
    for (n, v) in x.iter_mut() {
        if n == XACL_ACCESS || n == XACL_DEFAULT {
            let access = n == XACL_ACCESS;
            match acl_from_record(v, mode, access) {
                Some(k) => (*n, *v) = ((if access { ACL_ACCESS } else { ACL_DEFAULT }).to_vec(), k),
                None => n.clear(),
            }
        } else if let Some(rest) = n.strip_prefix(RSYNC_PREFIX) {
            if rest.starts_with(b"trusted.") || rest.starts_with(b"security.") {
                *n = rest.to_vec();
            }
        }
    }
    x.retain(|(n, _)| !n.is_empty());
    x.sort();
}

/// The kernel's encoding of an ACL kept by [`acl_record`], what it leaves out taken from `mode`
/// (rsync's change_sacl_perms): entries in the kernel's order.
pub fn acl_from_record(rec: &[u8], mode: u32, access: bool) -> Option<Vec<u8>> {
    if rec.len() < 16 || !rec.len().is_multiple_of(8) {
        return None;
    }
    let w = |i: usize| u32::from_le_bytes(rec[i..i + 4].try_into().unwrap());
    let field = |i: usize| (w(i) != NO_ENTRY).then(|| w(i) & 7);
    let bits = |shift: u32| (mode >> shift) & 7;
    let named: Vec<(bool, u32, u32)> = (16..rec.len())
        .step_by(8)
        .map(|i| (w(i + 4) & NAME_IS_USER != 0, w(i), w(i + 4) & 7))
        .collect();
    let acl = if access {
        let mask = (field(8).is_some() || !named.is_empty()).then(|| field(8).unwrap_or(bits(3)));
        Acl {
            user: Some(bits(6)),
            group: Some(field(4).unwrap_or(bits(3))),
            mask,
            other: Some(bits(0)),
            named,
        }
    } else {
        field(0)?;
        Acl {
            user: field(0),
            group: Some(w(4) & 7),
            mask: field(8),
            other: Some(w(12) & 7),
            named,
        }
    };
    Some(acl.encode())
}
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
/// says it all. `now` is the item as just looked at (real and stored).
pub fn store(path: &Path, now: &Stat, want: Fake) -> io::Result<()> {
    let real = &now.real;
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
    let stored = now.fake;
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

    /// A kernel ACL as (tag, perm, id) entries.
    fn kernel(entries: &[(u16, u16, u32)]) -> Vec<u8> {
        let mut b = 2u32.to_le_bytes().to_vec();
        for (tag, perm, id) in entries {
            b.extend(tag.to_le_bytes());
            b.extend(perm.to_le_bytes());
            b.extend(id.to_le_bytes());
        }
        b
    }

    #[test]
    fn acl_records_are_rsyncs() {
        const U: u32 = u32::MAX;
        // user::rw- user:1:r-- group::r-- group:2:rw- mask::rw- other::r--, mode 0664: the
        // bytes rsync 3.5 stored for it.
        let ext = kernel(&[
            (1, 6, U),
            (2, 4, 1),
            (4, 4, U),
            (8, 6, 2),
            (0x10, 6, U),
            (0x20, 4, U),
        ]);
        let rec = acl_record(&ext, 0o100664, true).unwrap();
        let want = "8000000004000000060000008000000001000000040000800200000006000000";
        let hex: String = rec.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, want);
        assert_eq!(acl_from_record(&rec, 0o100664, true).unwrap(), ext);
        // A default ACL is kept whole; a minimal access ACL is no record.
        let dflt = kernel(&[(1, 7, U), (2, 5, 1), (4, 5, U), (0x10, 5, U), (0x20, 5, U)]);
        let rec = acl_record(&dflt, 0o40755, false).unwrap();
        assert_eq!(acl_from_record(&rec, 0o40755, false).unwrap(), dflt);
        let minimal = kernel(&[(1, 6, U), (4, 4, U), (0x20, 4, U)]);
        assert_eq!(acl_record(&minimal, 0o100644, true), None);
    }
}
