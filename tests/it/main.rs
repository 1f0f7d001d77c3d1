//! Integration tests.
mod altdest;
mod bootstrap;
mod docs;
mod progress;
