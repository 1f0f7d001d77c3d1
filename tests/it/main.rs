//! Integration tests.
mod bootstrap;
mod docs;
