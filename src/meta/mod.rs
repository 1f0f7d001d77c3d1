//! Applying metadata on the receiver: permissions, owner/group, mtimes (ns), and creating
//! symlinks, devices and specials. rsync rules: owner only as super-user, group only to groups we
//! are in (the kernel decides), mtimes on directories after their contents, symlink times via
//! `lutimes`, `-p` off ⇒ new files get the source mode masked by the umask and lose special bits.

pub mod chmod;
pub mod fake;
pub mod identity;
pub mod idmap;
pub mod xattr;

pub use identity::{can_set_group, is_root};

use crate::flist::entry::*;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Which attributes to preserve.
#[derive(Clone, Copy, Debug, Default)]
pub struct MetaOpts {
    pub perms: bool,
    pub executability: bool,
    pub owner: bool,
    pub group: bool,
    pub times: bool,
    pub omit_dir_times: bool,
    pub omit_link_times: bool,
    pub am_root: bool,
    pub umask: u32,
    /// `-U`: set access times too.
    pub atimes: bool,
    /// `-X` / `-A`.
    pub xattrs: xattr::Select,
    /// `--fake-super`: owner, group, privileged mode bits and device numbers are stored in an
    /// extended attribute instead (meta::fake).
    pub fake: bool,
}

pub fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn check(r: libc::c_int) -> io::Result<()> {
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The owner and group to set: the owner only as super-user with `-o`, the group with `-g`
/// (rsync: a group we are not in is refused by the kernel, see [`chown_ok`]).
fn wanted_ids(uid: Option<u32>, gid: Option<u32>, o: &MetaOpts) -> (Option<u32>, Option<u32>) {
    (
        uid.filter(|_| o.owner && o.am_root),
        gid.filter(|&g| o.group && can_set_group(g, o.am_root)),
    )
}

/// A chown's return value: refused (EPERM) is not an error — owner only as super-user, group
/// only to groups we are in, as rsync does.
fn chown_ok(r: libc::c_int) -> io::Result<()> {
    if r == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EPERM) {
        Ok(())
    } else {
        Err(err)
    }
}

pub fn umask() -> u32 {
    unsafe {
        let m = libc::umask(0o022);
        libc::umask(m);
        m as u32
    }
}

/// Mode a new item gets (rsync: with -p the source's; without, masked source bits for new files).
pub fn target_mode(e: &Entry, old: Option<u32>, o: &MetaOpts) -> u32 {
    if o.perms {
        return e.perms();
    }
    match old {
        Some(m) if !o.executability || !e.is_file() => m & 0o7777,
        Some(m) => {
            // -E (rsync dest_mode): a regular file loses its x bits when the source has none,
            // and gains one per read bit when the source has some and it has none.
            let m = m & 0o7777;
            if e.perms() & 0o111 == 0 {
                m & !0o111
            } else if m & 0o111 == 0 {
                m | ((m & 0o444) >> 2)
            } else {
                m
            }
        }
        None => e.perms() & !o.umask & 0o777,
    }
}

/// Set owner/group (lchown), mode (not on symlinks) and mtime of `path` after creation/update.
pub fn apply(
    path: &Path,
    e: &Entry,
    uid: Option<u32>,
    gid: Option<u32>,
    mode: Option<u32>,
    o: &MetaOpts,
) -> io::Result<()> {
    let c = cpath(path)?;
    if let Some(x) = e.x().xattrs.as_deref().filter(|_| o.xattrs.any()) {
        // Before the mode: an ACL sets the group bits from its mask (the chmod below then agrees).
        // Its entries the mode holds are made from the mode this item gets, as rsync's are.
        let fitted = if o.xattrs.acls && !o.fake && !e.is_symlink() {
            use std::os::unix::fs::MetadataExt;
            let on_disk = || Ok(std::fs::symlink_metadata(path)?.mode() & 0o7777);
            xattr::access_acl_for_mode(x, e.perms(), mode, on_disk, e.is_dir())?
        } else {
            None
        };
        xattr::apply(path, fitted.as_deref().unwrap_or(x), o.xattrs)?;
    }
    // A record that cannot be written is reported on its own and the rest still applies
    // (rsync's set_file_attrs does not look at set_stat_xattr's result).
    let mut record = Ok(());
    if o.fake {
        // rsync set_file_attrs with am_root < 0: no chown or chmod, set_stat_xattr instead.
        let now = fake::Stat::of(std::fs::symlink_metadata(path)?, path, true);
        record = fake::store(
            path,
            &now,
            fake::Fake {
                mode: e.fmt()
                    | mode.unwrap_or(if e.is_symlink() {
                        e.perms()
                    } else {
                        now.mode() & 0o7777
                    }),
                rdev: e.x().rdev,
                uid: uid.filter(|_| o.owner).unwrap_or(now.uid()),
                gid: gid.filter(|_| o.group).unwrap_or(now.gid()),
            },
        )
        .map_err(|e| io::Error::other(RecordFailed(e)));
    }
    let (want_uid, want_gid) = wanted_ids(uid, gid, o);
    if !o.fake && (want_uid.is_some() || want_gid.is_some()) {
        chown_ok(unsafe {
            libc::lchown(
                c.as_ptr(),
                want_uid.unwrap_or(u32::MAX),
                want_gid.unwrap_or(u32::MAX),
            )
        })?;
    }
    if let Some(m) = mode.filter(|_| !o.fake) {
        if !e.is_symlink() {
            check(unsafe { libc::chmod(c.as_ptr(), m as libc::mode_t) })?;
        }
    }
    let atime = e.x().atime.filter(|_| o.atimes && !e.is_dir());
    if o.times && !(e.is_dir() && o.omit_dir_times) && !(e.is_symlink() && o.omit_link_times) {
        set_times(path, atime, Some((e.mtime, e.mtime_ns)), e.is_symlink())?;
    } else if atime.is_some() {
        set_times(path, atime, None, e.is_symlink())?;
    }
    record
}

/// `--fake-super`: the `user.rsync.%stat` record could not be written (wrapped in the
/// `io::Error` [`apply`] returns; rsync says "failed to write xattr …" for it).
#[derive(Debug)]
pub struct RecordFailed(pub io::Error);

impl std::fmt::Display for RecordFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for RecordFailed {}

/// rsync's line for attributes of `path` that could not be set, by `role` ("generator" for
/// items kept or made in place, "receiver" for transferred files).
pub fn attrs_failed_line(role: &str, path: &Path, err: &io::Error) -> String {
    let name = crate::flist::walk::full_name(path);
    match err.get_ref().and_then(|e| e.downcast_ref::<RecordFailed>()) {
        // xattrs.c set_stat_xattr.
        Some(RecordFailed(inner)) => format!(
            "rsync: [{role}] failed to write xattr {} for \"{name}\": {}",
            String::from_utf8_lossy(fake::XSTAT),
            crate::error::io_text(inner)
        ),
        None => format!(
            "rsync: [{role}] set attributes of \"{name}\" failed: {}",
            crate::error::io_text(err)
        ),
    }
}

pub fn set_mtime(path: &Path, secs: i64, ns: u32, nofollow: bool) -> io::Result<()> {
    set_times(path, None, Some((secs, ns)), nofollow)
}

/// The times argument of utimensat/futimens: either time left alone when `None`.
fn timespecs(atime: Option<(i64, u32)>, mtime: Option<(i64, u32)>) -> [libc::timespec; 2] {
    let spec = |t: Option<(i64, u32)>| match t {
        Some((secs, ns)) => libc::timespec {
            tv_sec: secs as libc::time_t,
            tv_nsec: ns as _,
        },
        None => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
    };
    [spec(atime), spec(mtime)]
}

/// utimensat with either time left alone when `None`.
pub fn set_times(
    path: &Path,
    atime: Option<(i64, u32)>,
    mtime: Option<(i64, u32)>,
    nofollow: bool,
) -> io::Result<()> {
    let c = cpath(path)?;
    let ts = timespecs(atime, mtime);
    let flags = if nofollow {
        libc::AT_SYMLINK_NOFOLLOW
    } else {
        0
    };
    check(unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), ts.as_ptr(), flags) })
}

/// A regular file still open, for [`apply_open`].
#[derive(Clone, Copy)]
pub struct Open<'a> {
    pub file: &'a std::fs::File,
    /// Its path (for attributes only a path can set).
    pub path: &'a Path,
    /// Its `fstat` if the caller has one (the writer took one at its end: not taken again).
    pub stat: Option<&'a std::fs::Metadata>,
}

/// [`apply`] for a regular file still open as `f` (a temp file before its rename): fchown,
/// fchmod and futimens need no path lookup, and owner and mode are set only where they differ
/// from the file's (rsync's set_file_attrs compares with the temp file's stat too): no path
/// lookups, and as root copying root's files no chown at all. With extended attributes or ACLs
/// to apply, the path route as before (an ACL's mask changes the mode the comparison would
/// need).
pub fn apply_open(
    f: Open,
    e: &Entry,
    uid: Option<u32>,
    gid: Option<u32>,
    mode: Option<u32>,
    o: &MetaOpts,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    if (e.x().xattrs.is_some() && o.xattrs.any()) || o.fake {
        return apply(f.path, e, uid, gid, mode, o);
    }
    let fresh;
    let st = match f.stat {
        Some(st) => st,
        None => {
            fresh = f.file.metadata()?;
            &fresh
        }
    };
    let fd = f.file.as_raw_fd();
    let (want_uid, want_gid) = wanted_ids(uid, gid, o);
    let want_uid = want_uid.filter(|u| *u != st.uid());
    let want_gid = want_gid.filter(|g| *g != st.gid());
    let mut chowned = false;
    if want_uid.is_some() || want_gid.is_some() {
        chown_ok(unsafe {
            libc::fchown(
                fd,
                want_uid.unwrap_or(u32::MAX),
                want_gid.unwrap_or(u32::MAX),
            )
        })?;
        // A chown clears set-id bits: the mode is set again below.
        chowned = true;
    }
    if let Some(m) = mode.filter(|m| chowned || st.mode() & 0o7777 != m & 0o7777) {
        check(unsafe { libc::fchmod(fd, m as libc::mode_t) })?;
    }
    let atime = e.x().atime.filter(|_| o.atimes);
    let mtime = o.times.then_some((e.mtime, e.mtime_ns));
    if atime.is_some() || mtime.is_some() {
        let ts = timespecs(atime, mtime);
        check(unsafe { libc::futimens(fd, ts.as_ptr()) })?;
    }
    Ok(())
}

/// Create a device or special file.
pub fn mknod(path: &Path, e: &Entry) -> io::Result<()> {
    let c = cpath(path)?;
    if e.fmt() == S_IFIFO {
        return check(unsafe { libc::mkfifo(c.as_ptr(), (e.perms() & 0o777) as libc::mode_t) });
    }
    if e.fmt() == S_IFSOCK {
        // Like rsync, a socket is recreated as a special file node.
        return check(unsafe {
            libc::mknod(
                c.as_ptr(),
                (S_IFSOCK | (e.perms() & 0o777)) as libc::mode_t,
                0,
            )
        });
    }
    check(unsafe {
        libc::mknod(
            c.as_ptr(),
            e.mode as libc::mode_t,
            e.x().rdev as libc::dev_t,
        )
    })
}

/// Copy the item at `from` (any type but a directory) to the new name `to` with its mode,
/// owner (when this process may set it) and times: a rename across file systems, as rsync's
/// robust_move does for a `--backup-dir` elsewhere. The copy of a FIFO, socket or device is a
/// new node (its "content" is never read).
pub fn copy_item(from: &Path, to: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(from)?;
    let ft = m.file_type();
    if ft.is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(from)?, to)?;
    } else if ft.is_file() {
        std::fs::copy(from, to)?;
    } else {
        let c = cpath(to)?;
        check(unsafe {
            libc::mknod(
                c.as_ptr(),
                m.mode() as libc::mode_t,
                m.rdev() as libc::dev_t,
            )
        })?;
    }
    let c = cpath(to)?;
    // Not root: a file this process may not give away keeps our ids (as rsync's copy does).
    let _ = unsafe { libc::lchown(c.as_ptr(), m.uid(), m.gid()) };
    if !ft.is_symlink() {
        check(unsafe { libc::chmod(c.as_ptr(), (m.mode() & 0o7777) as libc::mode_t) })?;
    }
    let t = |s: i64, ns: i64| filetime::FileTime::from_unix_time(s, ns as u32);
    filetime::set_symlink_file_times(
        to,
        t(m.atime(), m.atime_nsec()),
        t(m.mtime(), m.mtime_nsec()),
    )
}

/// The size of a device as a seek to its end reports it (0 when it cannot be opened or seeked,
/// as for most character devices).
pub fn device_size(path: &Path) -> u64 {
    use std::io::Seek;
    std::fs::File::open(path)
        .and_then(|mut f| f.seek(io::SeekFrom::End(0)))
        .unwrap_or(0)
}

/// Is `m` a block or character device?
pub fn is_device(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    m.file_type().is_block_device() || m.file_type().is_char_device()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    /// Through the open file: mode and times land as the path route sets them, set-id bits
    /// survive a group change (the chown clears them, the mode is set again after it), and a
    /// file that already has the wanted owner and mode is left alone.
    #[test]
    fn open_file_route_sets_what_the_path_route_sets() {
        let t = tempfile::tempdir().unwrap();
        let o = MetaOpts {
            perms: true,
            owner: true,
            group: true,
            times: true,
            am_root: is_root(),
            ..Default::default()
        };
        let e = Entry {
            name: b"f".to_vec().into(),
            mode: S_IFREG | 0o2755,
            mtime: 1_000_000_007,
            mtime_ns: 123,
            ..Default::default()
        };
        let (by_fd, by_path) = (t.path().join("a"), t.path().join("b"));
        for p in [&by_fd, &by_path] {
            std::fs::write(p, b"x").unwrap();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let me = std::fs::metadata(&by_fd).unwrap();
        // A group other than the file's when root may give it, else the file's own.
        let gid = if is_root() { me.gid() + 1 } else { me.gid() };
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&by_fd)
            .unwrap();
        let mode = Some(0o2755);
        let open = Open {
            file: &f,
            path: &by_fd,
            stat: None,
        };
        apply_open(open, &e, Some(me.uid()), Some(gid), mode, &o).unwrap();
        apply(&by_path, &e, Some(me.uid()), Some(gid), mode, &o).unwrap();
        let (a, b) = (
            std::fs::metadata(&by_fd).unwrap(),
            std::fs::metadata(&by_path).unwrap(),
        );
        assert_eq!(a.mode() & 0o7777, 0o2755);
        let fields =
            |m: &std::fs::Metadata| (m.mode(), m.uid(), m.gid(), m.mtime(), m.mtime_nsec());
        assert_eq!(fields(&a), fields(&b));
        assert_eq!((a.mtime(), a.mtime_nsec()), (1_000_000_007, 123));
        assert_eq!(a.gid(), gid);
        // Already right: nothing to change, and no error (also with the caller's stat).
        let st = f.metadata().unwrap();
        let known = Open {
            stat: Some(&st),
            ..open
        };
        apply_open(known, &e, Some(me.uid()), Some(gid), mode, &o).unwrap();
        assert_eq!(std::fs::metadata(&by_fd).unwrap().mode(), a.mode());
        if is_root() {
            // The mode is already the wanted one but the group changes: the chown clears the
            // set-gid bit, so the mode is set again.
            apply_open(known, &e, Some(me.uid()), Some(gid + 1), mode, &o).unwrap();
            let m = std::fs::metadata(&by_fd).unwrap();
            assert_eq!((m.gid(), m.mode() & 0o7777), (gid + 1, 0o2755));
        }
    }
}
