//! Integration tests.
mod docs;
mod exit_codes;
mod local;
mod output;
mod remote;
mod sshd;
mod util;
