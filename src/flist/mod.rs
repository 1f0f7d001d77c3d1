//! flist (see design.md §7).
