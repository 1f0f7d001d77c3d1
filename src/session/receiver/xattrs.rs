//! The `a` and `x` item flags (`-A`, `-X`): an existing item whose ACL or extended attributes
//! differ from the sender's is itemized with them, and its attributes are then updated like any
//! other (meta::apply, meta::xattr). An access ACL is compared as rsync compares it (only what the
//! mode does not hold: meta::xattr::acl_equal_enough). When it is to be replaced, rsync compares
//! permissions of an item with an extended access ACL through the ACL: the mode's group bits are
//! the ACL's mask, the group class rsync compares is the ACL's owning-group entry; otherwise, for
//! a directory, and for a file whose content is transferred, by the plain mode (rsync 3.5
//! itemizes `>f..tp...a.` for a transferred one, `.f.......a.` for the same file left in place).

use super::*;

impl Receiver {
    pub(super) fn xattr_change(
        &self,
        e: &Entry,
        path: &Path,
        want_mode: Option<u32>,
        c: &mut Change,
    ) {
        if c.new || !self.meta.xattrs.any() {
            return;
        }
        let Some(want) = &e.x().xattrs else {
            return;
        };
        let mode = want_mode.unwrap_or(e.mode);
        let (x, a) = meta::xattr::differs(path, want, self.meta.xattrs, mode);
        c.xattr |= x;
        c.acl |= a;
        // A file's ACL to be replaced: the group bits on disk are its mask, so the owning-group
        // entry stands for them. One that needs no change, and a directory's, leave the plain
        // mode compared (rsync 3.5: `.d...p...a.` where a file shows `.f.......a.`).
        if let (true, Some(want_mode)) = (c.perms && c.acl && !c.transfer && !e.is_dir(), want_mode)
        {
            if let Some(mode) = meta::xattr::acl_mode(path) {
                c.perms = mode != want_mode;
            }
        }
    }
}
