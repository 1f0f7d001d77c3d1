//! Integration tests.
mod docs;
