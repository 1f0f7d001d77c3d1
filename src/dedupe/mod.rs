//! dedupe (see design.md §7).
