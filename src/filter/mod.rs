//! filter (see design.md §7).
