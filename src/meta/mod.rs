//! meta (see design.md §7).
