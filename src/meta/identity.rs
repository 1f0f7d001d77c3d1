//! Who this process is, for the rules that depend on it: the effective uid (rsync's am_root,
//! which `--super`/`--no-super` override per side, cli::options), the groups a file may be given,
//! and `--copy-as=USER[:GROUP]`, which makes this side that user after the remote shell is
//! started (rsync main.c become_copy_as_user): a root-run backup that reads or writes only what
//! USER may.

use crate::error::{Error, Result, RERR_SYNTAX};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::RwLock;

/// 0 = not asked yet, 1 = no, 2 = yes (asked once: the quick check asks per file; asked again
/// after `--copy-as`).
static ROOT: AtomicU8 = AtomicU8::new(0);
static GROUPS: RwLock<Option<Vec<u32>>> = RwLock::new(None);

/// The effective uid is 0.
pub fn is_root() -> bool {
    match ROOT.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: geteuid has no preconditions.
            let root = unsafe { libc::geteuid() } == 0;
            ROOT.store(1 + root as u8, Ordering::Relaxed);
            root
        }
        v => v == 2,
    }
}

/// Whether this process may give a file group `gid`: as super-user any, otherwise only its own
/// groups (rsync's uidlist.c skips — neither sets nor reports — a group it cannot set; with
/// `--no-super` that holds for root too).
pub fn can_set_group(gid: u32, am_root: bool) -> bool {
    if am_root {
        return true;
    }
    if let Some(g) = GROUPS.read().unwrap().as_ref() {
        return g.contains(&gid);
    }
    // SAFETY: getgroups with a buffer of the size it reported.
    let mut v = vec![unsafe { libc::getegid() }];
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    if n > 0 {
        let mut g = vec![0 as libc::gid_t; n as usize];
        let n = unsafe { libc::getgroups(n, g.as_mut_ptr()) };
        g.truncate(n.max(0) as usize);
        v.extend(g);
    }
    let ok = v.contains(&gid);
    *GROUPS.write().unwrap() = Some(v);
    ok
}

/// `--copy-as=USER[:GROUP]`: become USER (a name or a number) with GROUP, or with USER's primary
/// and supplementary groups. A name that does not resolve is rsync's usage error (exit 1); a
/// switch the kernel refuses (not root) is too.
pub fn become_copy_as(spec: &str) -> Result<()> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let names = crate::flist::names::NameCache::default();
    let uid = names
        .uid_of(user.as_bytes())
        .or_else(|| user.parse().ok())
        .ok_or_else(|| Error::new(RERR_SYNTAX, format!("Invalid copy-as user: {user}")))?;
    let gid = match group {
        Some(g) => names
            .gid_of(g.as_bytes())
            .or_else(|| g.parse().ok())
            .ok_or_else(|| Error::new(RERR_SYNTAX, format!("Invalid copy-as group: {g}")))?,
        None => primary_gid(uid)
            .ok_or_else(|| Error::new(RERR_SYNTAX, "rsync: getpwuid failed".to_string()))?,
    };
    let fail = |what: &str| {
        let e = std::io::Error::last_os_error();
        Error::new(
            RERR_SYNTAX,
            format!("rsync: {what} failed: {}", crate::error::io_text(&e)),
        )
    };
    // SAFETY: plain credential calls; glibc applies them to every thread of the process.
    unsafe {
        if libc::setgid(gid) < 0 {
            return Err(fail("setgid"));
        }
        if libc::setgroups(1, &gid) < 0 {
            return Err(fail("setgroups"));
        }
        if group.is_none() {
            let cu = std::ffi::CString::new(user).map_err(|_| fail("initgroups"))?;
            if libc::initgroups(cu.as_ptr(), gid) < 0 {
                return Err(fail("initgroups"));
            }
        }
        if libc::setuid(uid) < 0 || libc::seteuid(uid) < 0 {
            return Err(fail("setuid"));
        }
    }
    ROOT.store(0, Ordering::Relaxed);
    *GROUPS.write().unwrap() = None;
    Ok(())
}

fn primary_gid(uid: u32) -> Option<u32> {
    // SAFETY: getpwuid_r writes into `pw` and `buf` only.
    unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut out = std::ptr::null_mut();
        let mut buf = vec![0 as libc::c_char; 16384];
        (libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut out) == 0
            && !out.is_null())
        .then_some(pw.pw_gid)
    }
}
