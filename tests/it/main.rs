//! Integration tests.
mod docs;
mod util;
mod local;
