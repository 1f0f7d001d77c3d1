//! `-X`/`--xattrs` and `-A`/`--acls` (rsync xattrs.c, acls.c): extended attributes travel in the
//! file list as (name, value) pairs and the receiver makes the destination's set equal to them.
//!
//! Which names take part follows rsync on Linux: `user.*` always; as root also `trusted.*` and
//! `security.*`; `system.*` never as an xattr — the POSIX ACLs, which Linux exposes as
//! `system.posix_acl_access` and `system.posix_acl_default`, travel only with `-A` (carried in
//! the kernel's own portable encoding instead of rsync's ACL records; the receiver hands them back
//! to the kernel, which also derives the mode's group bits from the mask). A file with no
//! `system.posix_acl_access` has a minimal ACL, so an extended ACL on the receiver is removed.
//! Names present on the receiver but not on the sender are removed, as rsync does.

use super::cpath;
use std::io;
use std::path::Path;

pub type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

pub const ACL_ACCESS: &[u8] = b"system.posix_acl_access";
pub const ACL_DEFAULT: &[u8] = b"system.posix_acl_default";

/// Which attributes are copied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Select {
    pub xattrs: bool,
    pub acls: bool,
    pub root: bool,
    /// `--fake-super` on this side (meta::fake): `user.rsync.%stat` is its own, never compared,
    /// copied or removed; ACLs are kept as records; the walk lists items as stored.
    pub fake: bool,
}

impl Select {
    /// What one side copies: `user.*` always, `trusted.*` and `security.*` as super-user. A
    /// fake super-user's receiving side keeps those under `user.rsync.` (meta::fake::to_stored)
    /// and so reads `user.*` only; its sending side lists them when it really is root.
    pub fn of(o: &crate::cli::Options, sending: bool) -> Select {
        Select {
            xattrs: o.xattrs > 0,
            acls: o.acls,
            root: match (o.fake_super, sending) {
                (false, _) => o.am_root(),
                (true, true) => super::is_root(),
                (true, false) => false,
            },
            fake: o.fake_super,
        }
    }
    pub fn any(&self) -> bool {
        self.xattrs || self.acls
    }
    pub fn is_acl(name: &[u8]) -> bool {
        name == ACL_ACCESS || name == ACL_DEFAULT
    }
    /// An ACL as this side keeps it: the kernel's, or a fake super-user's record of it.
    pub fn is_acl_here(&self, name: &[u8]) -> bool {
        if self.fake {
            name == super::fake::XACL_ACCESS || name == super::fake::XACL_DEFAULT
        } else {
            Self::is_acl(name)
        }
    }
    pub fn wants(&self, name: &[u8]) -> bool {
        if self.is_acl_here(name) {
            return self.acls;
        }
        if self.fake && (name == super::fake::XSTAT || Self::is_acl(name)) {
            // A fake super-user's own records, and the real ACLs it does not touch.
            return false;
        }
        self.xattrs
            && (name.starts_with(b"user.")
                || (self.root && (name.starts_with(b"trusted.") || name.starts_with(b"security."))))
    }
}

fn ret(r: isize) -> io::Result<usize> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

fn unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOTSUP) | Some(libc::ENODATA) | Some(libc::EPERM)
    )
}

/// The selected attributes of `path` (not following a symlink), sorted by name.
pub fn read(path: &Path, sel: Select) -> io::Result<Xattrs> {
    let c = cpath(path)?;
    let mut names = vec![0u8; 1024];
    let len = loop {
        let r = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
        match ret(r) {
            Ok(n) => break n,
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) => {
                let need = ret(unsafe { libc::llistxattr(c.as_ptr(), std::ptr::null_mut(), 0) })?;
                names.resize(need.max(names.len() * 2), 0);
            }
            Err(e) if unsupported(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        }
    };
    let mut out = Vec::new();
    for name in names[..len].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        if !sel.wants(name) {
            continue;
        }
        let cn = std::ffi::CString::new(name).map_err(|_| io::Error::from_raw_os_error(22))?;
        let mut val = vec![0u8; 256];
        let got = loop {
            let r = unsafe {
                libc::lgetxattr(c.as_ptr(), cn.as_ptr(), val.as_mut_ptr().cast(), val.len())
            };
            match ret(r) {
                Ok(n) => break Some(n),
                Err(e) if e.raw_os_error() == Some(libc::ERANGE) => {
                    let need = ret(unsafe {
                        libc::lgetxattr(c.as_ptr(), cn.as_ptr(), std::ptr::null_mut(), 0)
                    })?;
                    val.resize(need.max(val.len() * 2), 0);
                }
                Err(e) if e.raw_os_error() == Some(libc::ENODATA) => break None,
                Err(e) => return Err(e),
            }
        };
        if let Some(n) = got {
            val.truncate(n);
            out.push((name.to_vec(), val));
        }
    }
    out.sort();
    Ok(out)
}

/// What differs between the wanted set and `path`'s: (xattrs, ACLs). `mode` is the mode the item
/// is to have: the access ACL is compared as rsync compares it ([`acl_equal_enough`]).
pub fn differs(path: &Path, want: &[(Vec<u8>, Vec<u8>)], sel: Select, mode: u32) -> (bool, bool) {
    let have = read(path, sel).unwrap_or_default();
    let get = |v: &[(Vec<u8>, Vec<u8>)], name: &[u8]| -> Option<Vec<u8>> {
        v.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    };
    let plain = |v: &[(Vec<u8>, Vec<u8>)]| -> Xattrs {
        v.iter()
            .filter(|(n, _)| !sel.is_acl_here(n) && sel.wants(n))
            .cloned()
            .collect()
    };
    if sel.fake {
        // Records (meta::fake) are compared as they are.
        let rec = |v: &[(Vec<u8>, Vec<u8>)]| -> Xattrs {
            v.iter()
                .filter(|(n, _)| sel.is_acl_here(n))
                .cloned()
                .collect()
        };
        return (
            plain(want) != plain(&have),
            sel.acls && rec(want) != rec(&have),
        );
    }
    let acls = sel.acls
        && (get(want, ACL_DEFAULT) != get(&have, ACL_DEFAULT)
            || !acl_equal_enough(
                get(want, ACL_ACCESS).as_deref(),
                get(&have, ACL_ACCESS).as_deref(),
                mode,
            ));
    (plain(want) != plain(&have), acls)
}

/// rsync's test for an access ACL that needs no change (acls.c rsync_acl_equal_enough): the
/// entries the mode does not hold must agree — whether there is a mask, the named users and
/// groups, and, with a mask, the owning group's entry (which the sender leaves out when it equals
/// the mask; then it must equal the group bits of `mode`). The owner, other and mask entries are
/// the mode's business (a difference there is a `p`). No value is a minimal ACL.
pub fn acl_equal_enough(want: Option<&[u8]>, have: Option<&[u8]>, mode: u32) -> bool {
    let parts = |v: Option<&[u8]>| v.and_then(Acl::parse).unwrap_or_default();
    let (w, h) = (parts(want), parts(have));
    if w.mask.is_some() != h.mask.is_some() || w.named != h.named {
        return false;
    }
    if w.mask.is_none() {
        return true;
    }
    let want_group = if w.group == w.mask {
        (mode >> 3) & 7
    } else {
        w.group.unwrap_or(0)
    };
    h.group == Some(want_group)
}

/// Make `path`'s selected attributes equal to `want`.
pub fn apply(path: &Path, want: &[(Vec<u8>, Vec<u8>)], sel: Select) -> io::Result<()> {
    let have = read(path, sel)?;
    let c = cpath(path)?;
    for (name, val) in want.iter().filter(|(n, _)| sel.wants(n)) {
        if have.iter().any(|(n, v)| n == name && v == val) {
            continue;
        }
        let cn = std::ffi::CString::new(name.as_slice())
            .map_err(|_| io::Error::from_raw_os_error(22))?;
        let r =
            unsafe { libc::lsetxattr(c.as_ptr(), cn.as_ptr(), val.as_ptr().cast(), val.len(), 0) };
        ret(r as isize)?;
    }
    for (name, _) in &have {
        if want.iter().any(|(n, _)| n == name) {
            continue;
        }
        let cn = std::ffi::CString::new(name.as_slice())
            .map_err(|_| io::Error::from_raw_os_error(22))?;
        let r = unsafe { libc::lremovexattr(c.as_ptr(), cn.as_ptr()) };
        if let Err(e) = ret(r as isize) {
            if e.raw_os_error() != Some(libc::ENODATA) {
                return Err(e);
            }
        }
    }
    Ok(())
}

/// The access ACL rsync writes for an item whose final mode is `mode` (acls.c: the sender strips
/// what the mode it lists, `sent`, holds — the owner and other entries, the owning group's entry
/// when it equals the group bits; change_sacl_perms fills them from `mode`). The owning group's
/// entry is the sender's only where it differs from `sent`'s group bits; otherwise it follows
/// `mode`, as do owner, mask and other. Only without `-p` (or with `-E`) do `mode` and `sent`
/// differ. When the item on disk (`old`, asked only if there is an access ACL; it is also the
/// final mode when `mode` is None) loses a set-id bit, or a directory gains the sticky bit,
/// rsync fills the entries from `mode` less its group and other bits first (and a chmod
/// restores all but a derived owning-group entry). None when there is no access ACL to adjust.
pub fn access_acl_for_mode(
    x: &[(Vec<u8>, Vec<u8>)],
    sent: u32,
    mode: Option<u32>,
    old: impl FnOnce() -> io::Result<u32>,
    dir: bool,
) -> io::Result<Option<Xattrs>> {
    let Some(at) = x.iter().position(|(n, _)| n == ACL_ACCESS) else {
        return Ok(None);
    };
    let Some(mut acl) = Acl::parse(&x[at].1) else {
        return Ok(None);
    };
    let old = old()?;
    let mode = mode.unwrap_or(old);
    let unsafe_now = if dir {
        mode & 0o1000 != 0 && old & 0o1000 == 0
    } else {
        (old & 0o4000 != 0 && mode & 0o4000 == 0) || (old & 0o2000 != 0 && mode & 0o2000 == 0)
    };
    let filled = if unsafe_now { mode & !0o077 } else { mode };
    let own_group = acl.mask.is_some() && acl.group != Some((sent >> 3) & 7);
    if !own_group {
        acl.group = Some((filled >> 3) & 7);
    }
    acl.user = Some((mode >> 6) & 7);
    acl.other = Some(mode & 7);
    if acl.mask.is_some() {
        acl.mask = Some((mode >> 3) & 7);
    }
    let mut out = x.to_vec();
    out[at].1 = acl.encode();
    Ok(Some(out))
}

/// A POSIX ACL in the kernel's encoding (`system.posix_acl_*`: a 4-byte version, then 8-byte
/// entries — tag, permissions, id; little-endian), taken apart: the entries a mode also holds
/// (owner, owning group, mask, other; absent ones None) and the named users and groups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Acl {
    pub user: Option<u32>,
    pub group: Option<u32>,
    pub mask: Option<u32>,
    pub other: Option<u32>,
    /// (a user, id, permissions), in the order found.
    pub named: Vec<(bool, u32, u32)>,
}

const TAG_USER_OBJ: u16 = 0x01;
const TAG_USER: u16 = 0x02;
const TAG_GROUP_OBJ: u16 = 0x04;
const TAG_GROUP: u16 = 0x08;
const TAG_MASK: u16 = 0x10;
const TAG_OTHER: u16 = 0x20;

impl Acl {
    pub fn parse(v: &[u8]) -> Option<Acl> {
        let body = v.get(4..)?;
        if !body.len().is_multiple_of(8) {
            return None;
        }
        let mut acl = Acl::default();
        for e in body.chunks_exact(8) {
            let perm = u16::from_le_bytes([e[2], e[3]]) as u32;
            let id = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
            match u16::from_le_bytes([e[0], e[1]]) {
                TAG_USER_OBJ => acl.user = Some(perm),
                TAG_GROUP_OBJ => acl.group = Some(perm),
                TAG_MASK => acl.mask = Some(perm),
                TAG_OTHER => acl.other = Some(perm),
                TAG_USER => acl.named.push((true, id, perm)),
                TAG_GROUP => acl.named.push((false, id, perm)),
                _ => {}
            }
        }
        Some(acl)
    }

    /// The kernel's encoding, in libacl's order (by tag, named entries by id), which is what
    /// rsync's acl_set_file writes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = 2u32.to_le_bytes().to_vec();
        let mut put = |tag: u16, perm: u32, id: u32| {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&(perm as u16).to_le_bytes());
            out.extend_from_slice(&id.to_le_bytes());
        };
        let mut named = self.named.clone();
        named.sort_by_key(|&(user, id, _)| (!user, id));
        if let Some(p) = self.user {
            put(TAG_USER_OBJ, p, u32::MAX);
        }
        for &(_, id, p) in named.iter().filter(|n| n.0) {
            put(TAG_USER, p, id);
        }
        if let Some(p) = self.group {
            put(TAG_GROUP_OBJ, p, u32::MAX);
        }
        for &(_, id, p) in named.iter().filter(|n| !n.0) {
            put(TAG_GROUP, p, id);
        }
        if let Some(p) = self.mask {
            put(TAG_MASK, p, u32::MAX);
        }
        if let Some(p) = self.other {
            put(TAG_OTHER, p, u32::MAX);
        }
        out
    }
}

/// The names of the users (`true`) and groups the ACLs among `x` name, by id: rsync's acls.c
/// sends a name with each such id, so the receiver maps them as it maps owners.
pub fn acl_names(
    x: Option<&[(Vec<u8>, Vec<u8>)]>,
    names: &crate::flist::names::NameCache,
) -> Vec<(bool, u32, Vec<u8>)> {
    let mut out: Vec<(bool, u32, Vec<u8>)> = Vec::new();
    for (_, v) in x
        .unwrap_or_default()
        .iter()
        .filter(|(n, _)| Select::is_acl(n))
    {
        for &(user, id, _) in Acl::parse(v).map(|a| a.named).unwrap_or_default().iter() {
            if out.iter().any(|(u, i, _)| (*u, *i) == (user, id)) {
                continue;
            }
            if let Some(name) = if user {
                names.user(id)
            } else {
                names.group(id)
            } {
                out.push((user, id, name.bytes().to_vec()));
            }
        }
    }
    out
}

/// Give an ACL value's named entries the ids `map` says (rsync's receiver maps them as it maps
/// owners), in libacl's order after it ([`Acl::encode`]).
pub fn map_acl_ids(v: &mut Vec<u8>, map: impl Fn(bool, u32) -> u32) {
    let Some(mut acl) = Acl::parse(v) else {
        return;
    };
    for (user, id, _) in &mut acl.named {
        *id = map(*user, *id);
    }
    *v = acl.encode();
}

/// One attribute of `path` (not following a symlink) of at most `max` bytes; None when it has
/// none (or it cannot be read).
pub fn get_one(path: &Path, name: &std::ffi::CStr, max: usize) -> Option<Vec<u8>> {
    let c = cpath(path).ok()?;
    let mut buf = vec![0u8; max];
    // SAFETY: lgetxattr writes at most buf.len() bytes into buf.
    let n = unsafe { libc::lgetxattr(c.as_ptr(), name.as_ptr(), buf.as_mut_ptr().cast(), max) };
    buf.truncate(usize::try_from(n).ok()?);
    Some(buf)
}

/// The permissions a new item in directory `dir` gets from the directory's default ACL (owner,
/// mask or else owning group, other), if it has one (rsync acls.c default_perms_for_dir: they
/// stand in for the umask's).
pub fn default_acl_perms(dir: &Path) -> Option<u32> {
    let acl = Acl::parse(&get_one(dir, c"system.posix_acl_default", 4096)?)?;
    Some((acl.user? & 7) << 6 | (acl.mask.or(acl.group)? & 7) << 3 | acl.other? & 7)
}

/// The mode of `path` with its group bits taken from the owning-group entry of its extended
/// access ACL (None without one): what rsync compares permissions against under `-A`.
pub fn acl_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let sel = Select {
        acls: true,
        ..Default::default()
    };
    let x = read(path, sel).ok()?;
    let group_obj = Acl::parse(&x.iter().find(|(n, _)| n == ACL_ACCESS)?.1)?.group?;
    let mode = std::fs::symlink_metadata(path).ok()?.mode() & 0o7777;
    Some((mode & !0o070) | (group_obj & 7) << 3)
}
