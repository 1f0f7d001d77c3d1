//! `--help` and `--version` text generated from the flag table (rsync-cli.md §4.10): the same
//! first-line shape as rsync's so tools that grep `version X  protocol version N` keep working.

use super::defs::{Arg, Support, DEFS};
use crate::engine::EngineId;
use crate::wire::PROTOCOL_VERSION;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `--version` text.
pub fn version_text() -> String {
    let engines: Vec<&str> = EngineId::ALL.iter().map(|e| e.name()).collect();
    format!(
        "parasync  version {VERSION}  protocol version {PROTOCOL_VERSION}\n\
         License: MIT OR Apache-2.0\n\
         Capabilities:\n    64-bit files, 64-bit timestamps, symlinks, symtimes, hardlinks,\n    \
         inplace (CRWI ordering), dedupe, parallel delta engines\n\
         Engines:\n    {}\n\
         Checksum list:\n    xxh128 xxh3 md5 md4 sha1 sha256 blake3\n\
         Compress list:\n    zstd lz4 none\n\n\
         parasync comes with ABSOLUTELY NO WARRANTY.\n",
        engines.join(" ")
    )
}

/// `-VV`: machine-readable capabilities.
pub fn version_json() -> String {
    let engines: Vec<String> = EngineId::ALL
        .iter()
        .map(|e| format!("\"{}\"", e.name()))
        .collect();
    format!(
        "{{\n  \"program\": \"parasync\",\n  \"version\": \"{VERSION}\",\n  \"protocol\": \"{PROTOCOL_VERSION}.0\",\n  \
         \"capabilities\": {{\"symlinks\": true, \"symtimes\": true, \"hardlinks\": true, \"inplace\": true, \
         \"dedupe\": true, \"ACLs\": false, \"xattrs\": false, \"iconv\": false}},\n  \
         \"engines\": [{}],\n  \"checksum_list\": [\"xxh128\", \"xxh3\", \"md5\", \"md4\", \"sha1\", \"sha256\", \"blake3\"],\n  \
         \"compress_list\": [\"zstd\", \"lz4\", \"none\"],\n  \"license\": \"MIT OR Apache-2.0\"\n}}\n",
        engines.join(", ")
    )
}

/// One help line per option: `--long=META, -s   help`.
pub fn option_lines() -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    for d in DEFS {
        if matches!(d.long, "server" | "sender" | "local-server")
            || d.support == Support::Daemon && d.long == "daemon"
        {
            continue;
        }
        let mut left = if d.long.len() == 1 {
            format!("-{}", d.long)
        } else {
            format!("--{}", d.long)
        };
        if d.arg == Arg::Required {
            left.push('=');
            left.push_str(d.meta);
        }
        if let (Some(c), true) = (d.short, d.long.len() > 1) {
            left.push_str(&format!(", -{c}"));
        }
        out.push((left, d.help));
    }
    out
}

/// The `--help` text.
pub fn help_text() -> String {
    let mut s = version_text();
    s.push_str(
        "\nparasync is a file transfer program compatible with rsync, with parallel\n\
         content-defined delta engines.\n\n\
         Usage: parasync [OPTION]... SRC [SRC]... DEST\n  \
         or   parasync [OPTION]... SRC [SRC]... [USER@]HOST:DEST\n  \
         or   parasync [OPTION]... [USER@]HOST:SRC [DEST]\n\
         The ':' usages connect via remote shell; rsync daemon ('::', rsync://) is not supported.\n\n\
         Options\n",
    );
    for (left, help) in option_lines() {
        s.push_str(&format!("{left:<24} {help}\n"));
    }
    s.push_str("\nSee the parasync(1) manpage for full documentation.\n");
    s
}
