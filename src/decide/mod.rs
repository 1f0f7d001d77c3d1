//! decide (see design.md §7).
