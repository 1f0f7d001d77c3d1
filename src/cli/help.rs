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
        if matches!(
            d.long,
            "server" | "sender" | "local-server" | "source-operand"
        ) || d.support == Support::Daemon && d.long == "daemon"
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

/// `--info` flags and what each reports (rsync's names and levels, parasync's wording).
pub const INFO_FLAGS: &[(&str, &str)] = &[
    ("BACKUP", "files that were backed up"),
    ("COPY", "files copied locally on the receiver"),
    ("DEL", "deletions on the receiver"),
    ("FLIST", "sending/receiving the file list (levels 1-2)"),
    ("MISC", "other information (levels 1-2)"),
    ("MOUNT", "mount points found or skipped"),
    ("NAME", "1) names of updated items, 2) unchanged names too"),
    (
        "NONREG",
        "skipped non-regular files (on by default; 0 turns it off)",
    ),
    (
        "PROGRESS",
        "1) progress per file, 2) progress of the whole transfer",
    ),
    ("REMOVE", "files removed on the sending side"),
    ("SKIP", "files skipped by transfer rules (levels 1-2)"),
    ("STATS", "statistics at the end (levels 1-3)"),
    ("SYMSAFE", "unsafe symlinks"),
];

/// `--debug` flags (rsync's names). Those parasync prints for come first in each description;
/// the others are accepted (rsync's command lines keep working) and print nothing, because the
/// machinery they trace (ACLs, iconv, daemons, rsync's hash tables and I/O buffers) is not
/// parasync's.
pub const DEBUG_FLAGS: &[(&str, &str)] = &[
    ("ACL", "accepted, prints nothing (no ACL support)"),
    ("BACKUP", "accepted, prints nothing"),
    ("BIND", "accepted, prints nothing (no daemon)"),
    ("CHDIR", "accepted, prints nothing"),
    ("CONNECT", "accepted, prints nothing"),
    ("CMD", "1) the remote shell command, 2) each of its words"),
    (
        "DEL",
        "1) \"deleting in\" per operand dir of a before/after pass, 2) delete_in_dir/delete_item",
    ),
    ("DELTASUM", "1) match totals at the end"),
    ("DUP", "accepted, prints nothing"),
    (
        "EXIT",
        "1) exit code and role at the end, 2) also when entered",
    ),
    ("FILTER", "1) which rule hid, showed or protected what"),
    (
        "FLIST",
        "1) file-list notes, 2) one line per file-list segment received",
    ),
    ("FUZZY", "Debug fuzzy scoring (levels 1-2)"),
    ("GENR", "1) the generator's decision per entry"),
    ("HASH", "accepted, prints nothing"),
    ("HLINK", "1) hard-link leaders and the names linked to them"),
    ("ICONV", "accepted, prints nothing (no --iconv)"),
    ("IO", "accepted, prints nothing"),
    ("NSTR", "accepted, prints nothing"),
    ("OWN", "accepted, prints nothing"),
    ("PROTO", "accepted, prints nothing"),
    (
        "RECV",
        "1) receiver: each file received and renamed into place",
    ),
    ("SEND", "accepted, prints nothing"),
    ("TIME", "2) directory times set at the end (touch_up_dirs)"),
];

/// The `--info=help` / `--debug=help` text: every flag, the level syntax, ALL/NONE/HELP.
pub fn flag_help(kind: &str) -> String {
    let flags = if kind == "info" {
        INFO_FLAGS
    } else {
        DEBUG_FLAGS
    };
    let mut s = String::from(
        "Use FLAG or FLAG1 for level 1, FLAG2 for level 2, and so on; FLAG0 turns it off.\n\n",
    );
    for (n, d) in flags {
        s.push_str(&format!("{n:<10} {}\n", d));
    }
    s.push_str(&format!(
        "\n{:<10} set every --{kind} flag (e.g. all4)\n",
        "ALL"
    ));
    s.push_str(&format!(
        "{:<10} turn every --{kind} flag off (same as all0)\n",
        "NONE"
    ));
    s.push_str(&format!("{:<10} print this list\n", "HELP"));
    if kind == "info" {
        s.push_str("\nFlags each -v level adds:\n0) NONREG\n1) COPY,DEL,FLIST,MISC,NAME,STATS,SYMSAFE\n2) BACKUP,MISC2,MOUNT,NAME2,REMOVE,SKIP\n");
    }
    s
}
