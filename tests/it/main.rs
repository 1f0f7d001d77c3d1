//! Integration tests.
mod bootstrap;
mod docs;
mod progress;
mod selection;
