//! Integration tests.
mod docs;
mod engines;
mod hashes;
