//! What runs where: operand classification (`host:path`, `user@host:path`, `[v6]:path`, local
//! paths with colons, daemon syntax refused) per rsync's options.c check_for_hostspec rules
//! (rsync-cli.md §1.3.3), and the remote command line (rsync's main.c do_cmd shape).

pub mod operand;
pub mod remote;
pub mod sources;
pub mod trusted;

pub use operand::{parse_operand, Loc};
