//! The file list: entries ([`entry`]), the sender's walk ([`walk`]) and rsync's ordering.
//!
//! Order (verified against rsync 3.5 `-v` output): inside a directory, non-directories first, then
//! directories, each group sorted bytewise; every directory's own contents follow it depth-first.
//! The list streams as one segment per directory, so the receiver starts work before the walk ends
//! (rsync 3's incremental recursion).

pub mod entry;
pub mod names;
pub mod source;
pub mod walk;

pub use entry::Entry;
