//! report (see design.md §7).
