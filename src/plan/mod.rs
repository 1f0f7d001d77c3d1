//! plan (see design.md §7).
