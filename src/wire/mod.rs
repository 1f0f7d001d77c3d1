//! wire (see design.md §7).
