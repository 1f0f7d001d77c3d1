//! cli (see design.md §7).
