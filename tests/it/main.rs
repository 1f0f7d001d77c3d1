//! Integration tests.
mod chunker;
mod docs;
