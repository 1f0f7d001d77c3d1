//! A file-list entry: what the sender tells the receiver about one path. Names are raw bytes
//! relative to the transfer root (rsync's "." for the root of a `src/` transfer), never UTF-8
//! strings, so any Unix file name round-trips.

use crate::error::{Error, Result};
use crate::wire::codec::{put_bytes, put_iv, put_uv, Cur};

pub const S_IFMT: u32 = 0o170000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFBLK: u32 = 0o060000;
pub const S_IFIFO: u32 = 0o010000;
pub const S_IFSOCK: u32 = 0o140000;

/// Entry flags.
pub const F_TOP_DIR: u8 = 1; // a directory whose contents are part of the transfer (deletes apply)
pub const F_HLINK_FIRST: u8 = 2; // first of a hard-link group
/// `-R` with an absolute source path: rsync shows the name with its leading `/` (display only).
pub const F_ABS_NAME: u8 = 4;

pub use super::owner::OwnerName;

/// One path of the file list. Both sides hold the whole list for the run (the receiver decides
/// deletions, hard links and directory times from it), so a plain file's entry is kept small:
/// what only symlinks, devices, `-H`, `-c`, `-U`, `-X` and `-A` need lives in [`Extra`], boxed
/// and absent for the rest; owner names are interned ids (`flist::owner`) and the name is a
/// boxed slice (256 bytes an entry before, 72 now).
#[derive(Clone, Debug, Default)]
pub struct Entry {
    pub name: Box<[u8]>,
    pub size: u64,
    pub mtime: i64,
    pub mode: u32,
    pub mtime_ns: u32,
    pub uid: u32,
    pub gid: u32,
    pub user: Option<OwnerName>,
    pub group: Option<OwnerName>,
    pub flags: u8,
    pub extra: Option<Box<Extra>>,
}

/// The fields of an [`Entry`] that most entries leave empty.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Extra {
    /// Symlink target.
    pub link: Option<Vec<u8>>,
    /// Device number (character and block devices).
    pub rdev: u64,
    /// Hard-link group id (`-H`), 0 = none.
    pub hlink: u64,
    /// Whole-file BLAKE3 (`-c`).
    pub sum: Option<[u8; 32]>,
    /// Access time (`-U`; not for directories, as in rsync).
    pub atime: Option<(i64, u32)>,
    /// Extended attributes and POSIX ACLs (`-X`, `-A`; meta::xattr), sorted by name.
    pub xattrs: Option<Vec<(Vec<u8>, Vec<u8>)>>,
    /// Names of the users (`true`) and groups its ACLs name, by id (`-A` without
    /// `--numeric-ids`, protocol 4): the receiver maps those ids by name, as it maps owners.
    pub acl_names: Vec<(bool, u32, Vec<u8>)>,
}

/// The previous entry of a list's first one (a boxed name cannot be built in a `static`).
static NO_ENTRY: std::sync::LazyLock<Entry> = std::sync::LazyLock::new(Entry::default);

static NO_EXTRA: Extra = Extra {
    link: None,
    rdev: 0,
    hlink: 0,
    sum: None,
    atime: None,
    xattrs: None,
    acl_names: Vec::new(),
};

impl PartialEq for Entry {
    fn eq(&self, o: &Entry) -> bool {
        self.name == o.name
            && self.size == o.size
            && self.mtime == o.mtime
            && self.mode == o.mode
            && self.mtime_ns == o.mtime_ns
            && self.uid == o.uid
            && self.gid == o.gid
            && self.user == o.user
            && self.group == o.group
            && self.flags == o.flags
            && self.x() == o.x()
    }
}
impl Eq for Entry {}

/// `opt` bit: an extension block follows (atime, xattrs); only set when such data is present,
/// so transfers without `-U`/`-X`/`-A` encode exactly as protocol 1 did.
const OPT_EXT: u8 = 16;
const EXT_ATIME: u64 = 1;
const EXT_XATTRS: u64 = 2;
const EXT_ACL_NAMES: u64 = 4;

impl Entry {
    /// The transfer root itself (rsync's "." entry).
    pub fn is_dot(&self) -> bool {
        *self.name == *b"."
    }

    /// The rarely set fields (all empty when none is set).
    pub fn x(&self) -> &Extra {
        self.extra.as_deref().unwrap_or(&NO_EXTRA)
    }
    /// The rarely set fields, for setting one.
    pub fn x_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Default::default)
    }
    /// The rarely set fields if any is set, for changing them.
    pub fn x_existing(&mut self) -> Option<&mut Extra> {
        self.extra.as_deref_mut()
    }
    /// This entry with `x` as its rare fields.
    pub fn with(mut self, x: Extra) -> Entry {
        self.extra = (x != NO_EXTRA).then(|| Box::new(x));
        self
    }
    pub fn fmt(&self) -> u32 {
        self.mode & S_IFMT
    }
    pub fn is_dir(&self) -> bool {
        self.fmt() == S_IFDIR
    }
    pub fn is_file(&self) -> bool {
        self.fmt() == S_IFREG
    }
    pub fn is_symlink(&self) -> bool {
        self.fmt() == S_IFLNK
    }
    pub fn is_device(&self) -> bool {
        matches!(self.fmt(), S_IFCHR | S_IFBLK)
    }
    pub fn is_special(&self) -> bool {
        matches!(self.fmt(), S_IFIFO | S_IFSOCK)
    }
    pub fn perms(&self) -> u32 {
        self.mode & 0o7777
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_after(None, out)
    }

    /// Encode relative to the previous entry of the same segment (rsync's file list does the
    /// same): the name as (bytes shared with the previous name, rest), and mode, owner, group and
    /// mtime seconds only when they differ — a directory of similar files costs a few bytes per
    /// entry beyond the name's suffix.
    pub fn encode_after(&self, prev: Option<&Entry>, out: &mut Vec<u8>) {
        let shared = prev.map_or(0, |p| {
            p.name
                .iter()
                .zip(&self.name)
                .take_while(|(a, b)| a == b)
                .count()
        });
        put_uv(out, shared as u64);
        put_bytes(out, &self.name[shared..]);
        let mut same = 0u8;
        if let Some(p) = prev {
            same |= (p.mode == self.mode) as u8;
            same |= ((p.uid == self.uid && p.user == self.user) as u8) << 1;
            same |= ((p.gid == self.gid && p.group == self.group) as u8) << 2;
            same |= ((p.mtime == self.mtime) as u8) << 3;
        }
        out.push(same);
        if same & 1 == 0 {
            put_uv(out, self.mode as u64);
        }
        put_uv(out, self.size);
        if same & 8 == 0 {
            put_iv(out, self.mtime);
        }
        put_uv(out, self.mtime_ns as u64);
        let mut opt = 0u8;
        if same & 2 == 0 {
            put_uv(out, self.uid as u64);
            opt |= self.user.is_some() as u8;
        }
        if same & 4 == 0 {
            put_uv(out, self.gid as u64);
            opt |= (self.group.is_some() as u8) << 1;
        }
        let x = self.x();
        opt |= (x.link.is_some() as u8) << 2;
        opt |= (x.sum.is_some() as u8) << 3;
        let ext = if x.atime.is_some() { EXT_ATIME } else { 0 }
            | if x.xattrs.is_some() { EXT_XATTRS } else { 0 }
            | if x.acl_names.is_empty() {
                0
            } else {
                EXT_ACL_NAMES
            };
        if ext != 0 {
            opt |= OPT_EXT;
        }
        out.push(opt);
        let user = self.user.filter(|_| same & 2 == 0).map(OwnerName::bytes);
        let group = self.group.filter(|_| same & 4 == 0).map(OwnerName::bytes);
        for b in [user.as_deref(), group.as_deref(), x.link.as_deref()]
            .into_iter()
            .flatten()
        {
            put_bytes(out, b);
        }
        if let Some(s) = &x.sum {
            out.extend_from_slice(s);
        }
        if ext != 0 {
            put_uv(out, ext);
            if let Some((secs, ns)) = x.atime {
                put_iv(out, secs);
                put_uv(out, ns as u64);
            }
            if let Some(x) = &x.xattrs {
                put_uv(out, x.len() as u64);
                for (n, v) in x {
                    put_bytes(out, n);
                    put_bytes(out, v);
                }
            }
            if !x.acl_names.is_empty() {
                put_uv(out, x.acl_names.len() as u64);
                for (user, id, name) in &x.acl_names {
                    out.push(*user as u8);
                    put_uv(out, *id as u64);
                    put_bytes(out, name);
                }
            }
        }
        put_uv(out, x.rdev);
        put_uv(out, x.hlink);
        out.push(self.flags);
    }

    /// Decode and validate: the name must be a clean relative path (no `..`, no absolute path,
    /// no empty or `.` components except the lone root "."), so a hostile sender cannot make the
    /// receiver write outside the destination.
    pub fn decode(c: &mut Cur) -> Result<Entry> {
        Self::decode_after(None, c)
    }

    /// Decode an entry encoded with [`Entry::encode_after`] after `prev`.
    pub fn decode_after(prev: Option<&Entry>, c: &mut Cur) -> Result<Entry> {
        let shared = c.uv()?;
        let pname: &[u8] = prev.map_or(&[], |p| &p.name);
        if shared > pname.len() as u64 {
            return Err(Error::protocol("protocol error: bad name prefix"));
        }
        let suffix = c.bytes()?;
        let mut name = Vec::with_capacity(shared as usize + suffix.len());
        name.extend_from_slice(&pname[..shared as usize]);
        name.extend_from_slice(suffix);
        check_name(&name)?;
        let same = c.u8()?;
        if same != 0 && prev.is_none() {
            return Err(Error::protocol("protocol error: bad entry"));
        }
        let p = prev.unwrap_or(&*NO_ENTRY);
        let mode = if same & 1 != 0 {
            p.mode
        } else {
            u32::try_from(c.uv()?).map_err(|_| Error::protocol("protocol error: bad mode"))?
        };
        let size = c.uv()?;
        let mtime = if same & 8 != 0 { p.mtime } else { c.iv()? };
        let mtime_ns = c.u32()?;
        let uid = if same & 2 != 0 { p.uid } else { c.u32()? };
        let gid = if same & 4 != 0 { p.gid } else { c.u32()? };
        let opt = c.u8()?;
        let mut take = |bit: u8| -> Result<Option<&[u8]>> {
            Ok(if opt & bit != 0 {
                Some(c.bytes()?)
            } else {
                None
            })
        };
        let user = if same & 2 != 0 {
            p.user
        } else {
            take(1)?.map(OwnerName::new)
        };
        let group = if same & 4 != 0 {
            p.group
        } else {
            take(2)?.map(OwnerName::new)
        };
        let link = take(4)?.map(<[u8]>::to_vec);
        let sum = if opt & 8 != 0 {
            Some(c.take(32)?.try_into().unwrap())
        } else {
            None
        };
        let (mut atime, mut xattrs, mut acl_names) = (None, None, Vec::new());
        if opt & OPT_EXT != 0 {
            let ext = c.uv()?;
            if ext & EXT_ATIME != 0 {
                let secs = c.iv()?;
                let ns = c.u32()?;
                if ns >= 1_000_000_000 {
                    return Err(Error::protocol("protocol error: bad atime"));
                }
                atime = Some((secs, ns));
            }
            if ext & EXT_XATTRS != 0 {
                let n = c.uv()?;
                let mut v = Vec::with_capacity(n.min(64) as usize);
                for _ in 0..n {
                    let name = c.bytes()?.to_vec();
                    v.push((name, c.bytes()?.to_vec()));
                }
                xattrs = Some(v);
            }
            if ext & EXT_ACL_NAMES != 0 {
                let n = c.uv()?;
                for _ in 0..n {
                    let user = c.u8()? != 0;
                    let id = c.u32()?;
                    acl_names.push((user, id, c.bytes()?.to_vec()));
                }
            }
        }
        let rdev = c.uv()?;
        let hlink = c.uv()?;
        let flags = c.u8()?;
        if mtime_ns >= 1_000_000_000 {
            return Err(Error::protocol("protocol error: bad mtime"));
        }
        let e = Entry {
            name: name.into(),
            mode,
            size,
            mtime,
            mtime_ns,
            uid,
            gid,
            user,
            group,
            flags,
            extra: None,
        }
        .with(Extra {
            link,
            rdev,
            hlink,
            sum,
            atime,
            xattrs,
            acl_names,
        });
        if e.is_symlink() && e.x().link.is_none() {
            return Err(Error::protocol("protocol error: symlink without target"));
        }
        Ok(e)
    }
}

/// Reject names that could escape the destination.
pub fn check_name(name: &[u8]) -> Result<()> {
    let bad = || {
        Error::protocol(format!(
            "protocol error: unsafe file name {:?} from the peer",
            String::from_utf8_lossy(name)
        ))
    };
    if name == b"." {
        return Ok(());
    }
    if name.is_empty() || name[0] == b'/' || name.contains(&0) {
        return Err(bad());
    }
    for comp in name.split(|b| *b == b'/') {
        if comp.is_empty() || comp == b"." || comp == b".." {
            return Err(bad());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn names_are_checked() {
        for ok in [&b"."[..], b"a", b"a/b", b"a b/\xff\n"] {
            assert!(check_name(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            &b""[..],
            b"/etc",
            b"../x",
            b"a/../../x",
            b"a//b",
            b"a/./b",
            b"a/",
            b"x\0y",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
    #[test]
    fn roundtrip() {
        let e = Entry {
            name: b"d/l".to_vec().into(),
            mode: S_IFLNK | 0o777,
            size: 3,
            mtime: -5,
            mtime_ns: 7,
            user: Some(OwnerName::new(b"root")),
            ..Default::default()
        }
        .with(Extra {
            link: Some(b"../t".to_vec()),
            ..Default::default()
        });
        let mut b = Vec::new();
        e.encode(&mut b);
        assert_eq!(Entry::decode(&mut Cur::new(&b)).unwrap(), e);
        for cut in 0..b.len() {
            assert!(Entry::decode(&mut Cur::new(&b[..cut])).is_err());
        }
        let x = Entry {
            name: b"f".to_vec().into(),
            mode: S_IFREG | 0o644,
            ..Default::default()
        }
        .with(Extra {
            atime: Some((-3, 999_999_999)),
            xattrs: Some(vec![
                (b"user.a".to_vec(), vec![0, 1]),
                (b"user.b".to_vec(), vec![]),
            ]),
            acl_names: vec![(true, 1000, b"alice".to_vec()), (false, 7, vec![])],
            ..Default::default()
        });
        let mut b = Vec::new();
        x.encode_after(Some(&e), &mut b);
        assert_eq!(Entry::decode_after(Some(&e), &mut Cur::new(&b)).unwrap(), x);
        for cut in 0..b.len() {
            assert!(Entry::decode_after(Some(&e), &mut Cur::new(&b[..cut])).is_err());
        }
    }

    #[test]
    fn plain_entries_stay_small() {
        // Both sides hold the whole list: this is per file, twice.
        assert!(std::mem::size_of::<Entry>() <= 72);
        // Empty rare fields compare equal however they are held.
        let mut a = Entry::default();
        a.x_mut().link = None;
        assert!(a.extra.is_some());
        assert_eq!(a, Entry::default());
        assert!(Entry::default().with(Extra::default()).extra.is_none());
    }
}
