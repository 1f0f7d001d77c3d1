//! Integration tests.
mod docs;
mod inplace;
