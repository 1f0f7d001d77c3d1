//! The `a` and `x` item flags (`-A`, `-X`): an existing item whose ACL or extended attributes
//! differ from the sender's is itemized with them, and its attributes are then updated like any
//! other (meta::apply, meta::xattr).

use super::*;

impl Receiver {
    pub(super) fn xattr_change(&self, e: &Entry, path: &Path, c: &mut Change) {
        if c.new || !self.meta.xattrs.any() {
            return;
        }
        if let Some(want) = &e.xattrs {
            let (x, a) = meta::xattr::differs(path, want, self.meta.xattrs);
            c.xattr |= x;
            c.acl |= a;
        }
    }
}
