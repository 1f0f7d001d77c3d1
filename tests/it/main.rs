//! Integration tests.
mod docs;
mod filters;
