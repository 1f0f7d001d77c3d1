//! transport (see design.md §7).
