//! Integration tests.
mod cli_errors;
mod docs;
mod fault_kit;
mod fuzz;
mod hostile;
mod reliability;
