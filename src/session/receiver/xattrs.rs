//! The `a` and `x` item flags (`-A`, `-X`): an existing item whose ACL or extended attributes
//! differ from the sender's is itemized with them, and its attributes are then updated like any
//! other (meta::apply, meta::xattr). With `-A`, rsync compares permissions of an item that has an
//! extended access ACL through the ACL: the mode's group bits are the ACL's mask, the group class
//! rsync compares is the ACL's owning-group entry. A file whose content is transferred is compared
//! by its plain mode (rsync 3.5 itemizes `>f..tp...a.` for it, `.f.......a.` for the same file
//! left in place).

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
        let Some(want) = &e.xattrs else {
            return;
        };
        let (x, a) = meta::xattr::differs(path, want, self.meta.xattrs);
        c.xattr |= x;
        c.acl |= a;
        if let (true, Some(want_mode)) =
            (c.perms && !c.transfer && self.meta.xattrs.acls, want_mode)
        {
            if let Some(mode) = meta::xattr::acl_mode(path) {
                c.perms = mode != want_mode;
            }
        }
    }
}
