//! uid/gid ↔ user/group name mapping (rsync maps by name unless `--numeric-ids`; id 0 is never
//! mapped by name). Lookups are cached per run.

use super::entry::OwnerName;
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::sync::Mutex;

#[derive(Default)]
pub struct NameCache {
    users: Mutex<HashMap<u32, Option<OwnerName>>>,
    groups: Mutex<HashMap<u32, Option<OwnerName>>>,
    uids: Mutex<HashMap<Vec<u8>, Option<u32>>>,
    gids: Mutex<HashMap<Vec<u8>, Option<u32>>>,
}

fn buf() -> Vec<libc::c_char> {
    vec![0; 16384]
}

impl NameCache {
    pub fn user(&self, uid: u32) -> Option<OwnerName> {
        if uid == 0 {
            return None;
        }
        self.local_user(uid)
    }
    /// The local name of `uid`, 0 included (for `--usermap` matching).
    pub fn local_user(&self, uid: u32) -> Option<OwnerName> {
        *self
            .users
            .lock()
            .unwrap()
            .entry(uid)
            .or_insert_with(|| unsafe {
                let mut pw: libc::passwd = std::mem::zeroed();
                let mut out = std::ptr::null_mut();
                let mut b = buf();
                (libc::getpwuid_r(uid, &mut pw, b.as_mut_ptr(), b.len(), &mut out) == 0
                    && !out.is_null())
                .then(|| OwnerName::new(CStr::from_ptr(pw.pw_name).to_bytes()))
            })
    }
    pub fn group(&self, gid: u32) -> Option<OwnerName> {
        if gid == 0 {
            return None;
        }
        self.local_group(gid)
    }
    /// The local name of `gid`, 0 included (for `--groupmap` matching).
    pub fn local_group(&self, gid: u32) -> Option<OwnerName> {
        *self
            .groups
            .lock()
            .unwrap()
            .entry(gid)
            .or_insert_with(|| unsafe {
                let mut gr: libc::group = std::mem::zeroed();
                let mut out = std::ptr::null_mut();
                let mut b = buf();
                (libc::getgrgid_r(gid, &mut gr, b.as_mut_ptr(), b.len(), &mut out) == 0
                    && !out.is_null())
                .then(|| OwnerName::new(CStr::from_ptr(gr.gr_name).to_bytes()))
            })
    }
    pub fn uid_of(&self, name: &[u8]) -> Option<u32> {
        *self
            .uids
            .lock()
            .unwrap()
            .entry(name.to_vec())
            .or_insert_with(|| unsafe {
                let c = CString::new(name).ok()?;
                let mut pw: libc::passwd = std::mem::zeroed();
                let mut out = std::ptr::null_mut();
                let mut b = buf();
                (libc::getpwnam_r(c.as_ptr(), &mut pw, b.as_mut_ptr(), b.len(), &mut out) == 0
                    && !out.is_null())
                .then_some(pw.pw_uid)
            })
    }
    pub fn gid_of(&self, name: &[u8]) -> Option<u32> {
        *self
            .gids
            .lock()
            .unwrap()
            .entry(name.to_vec())
            .or_insert_with(|| unsafe {
                let c = CString::new(name).ok()?;
                let mut gr: libc::group = std::mem::zeroed();
                let mut out = std::ptr::null_mut();
                let mut b = buf();
                (libc::getgrnam_r(c.as_ptr(), &mut gr, b.as_mut_ptr(), b.len(), &mut out) == 0
                    && !out.is_null())
                .then_some(gr.gr_gid)
            })
    }
}
