//! Integration tests.
mod chunker;
mod docs;
mod engines;
mod hashes;
