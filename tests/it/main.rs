//! Integration tests.
mod altdest;
mod bootstrap;
mod cli_errors;
mod docs;
mod engines;
mod exit_codes;
mod fault_kit;
mod fuzz;
mod hashes;
mod hostile;
mod local;
mod output;
mod progress;
mod reliability;
mod remote;
mod sshd;
mod util;
