//! The file list: entries ([`entry`]), the sender's walk ([`walk`]) and rsync's ordering.
//!
//! Order (verified against rsync 3.5 `-v` output): inside a directory, non-directories first, then
//! directories, each group sorted bytewise; every directory's own contents follow it depth-first.
//! The list streams as one segment per directory, so the receiver starts work before the walk ends
//! (rsync 3's incremental recursion).
//!
//! Top-level items ([`source`]) follow the same order as one tree (rsync's f_name_cmp, compared
//! component by component): with `-R` an item such as `src/x/y` is sent right after its implied
//! directory `src/x`, and items inside a directory whose contents are sent join that directory's
//! segment. Top-level items go out in several parent-less segments, cut after each directory that
//! has something to follow it, so the receiver still sees rsync's depth-first order.

pub mod entry;
pub mod names;
pub mod order;
pub mod owner;
pub mod probe;
pub mod source;
pub mod walk;

pub use entry::Entry;
