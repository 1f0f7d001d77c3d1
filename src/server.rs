//! `--server` entry.
