//! recon (see design.md §7).
