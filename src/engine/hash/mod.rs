//! Hashes shared by every engine: the rsync rolling checksum, CRC-32/CRC-32C with the combine /
//! zero-byte / rolling-window algebra, and the strong digests (algorithms.md §1.1–§1.2).
//!
//! One implementation of each, so all engines agree on values and the CDC engines can derive
//! chunk CRCs from other CRCs (skysync-c, parasync) with the same conventions.

pub mod crc;
pub mod md4x;
pub mod rollsum;
pub mod strong;

pub use crc::{crc32, crc32_combine, crc32_update, crc32c, crc32c_update, CrcKind, RollingCrc};
pub use rollsum::RollSum;
pub use strong::{Digest, StrongKind};
