//! parasync — a drop-in replacement for `rsync` over SSH.
//!
//! ```text
//!                     local process                                   remote process
//! argv ─▶ cli ─▶ Options ─▶ plan ──┬─ transport::local (pipe pair, two threads) ─┐
//!                                  └─ transport::ssh  (spawn `-e` cmd)          ─┴─▶ `parasync --server …`
//!      client half (sender or receiver)  ◀──── wire protocol (framed, versioned) ────▶  server half
//!
//!   sender:   flist::walk ─▶ filter ─▶ wire FileList ─────────────────────────────────────▶
//!   receiver: decide (quick check, deletes) ─▶ request per file ◀──────────────────────────
//!   per file: engine receiver half(basis) ─msgs─▶ engine sender half(source) ─Ops─▶
//!             recon (temp file + BLAKE3 verify + rename | in-place) ─▶ meta ─▶ report
//! ```
//!
//! One code path per role: local→local runs the sender and the receiver as two threads joined by a
//! pipe pair and speaking exactly the protocol that runs over ssh. `--streams` (module `streams`)
//! adds helper sessions of the same roles over one OpenSSH master connection.

pub mod bootstrap;
pub mod cli;
pub mod client;
pub mod deadline;
pub mod decide;
pub mod dedupe;
pub mod engine;
pub mod error;
pub mod filter;
pub mod flist;
pub mod meta;
pub mod plan;
pub mod recon;
pub mod report;
pub mod server;
pub mod session;
pub mod signals;
pub mod streams;
pub mod transport;
pub mod wire;

#[cfg(test)]
pub(crate) mod testkit;

/// Parse argv, run, return the process exit code.
pub fn run_main() -> i32 {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    signals::install(args.iter().any(|a| a == "--server"));
    let code = client::run(args);
    recon::cleanup();
    code
}
