//! Integration tests.
mod altdest;
mod bootstrap;
mod docs;
mod exit_codes;
mod local;
mod output;
mod progress;
mod remote;
mod sshd;
mod util;
