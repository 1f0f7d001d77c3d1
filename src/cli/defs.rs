//! The one flag table: every rsync 3.5 option, parasync's own additions, and how each is handled.
//!
//! Why one table: `--help`, the man page, the shell completions, the popt-style lexer and the
//! "unsupported" answers all derive from it, so they cannot drift apart (ripgrep's `flags/defs.rs`
//! idea). Rows follow the order of `rsync --help` (3.5.0).

/// Does the option take a value?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// A switch (`-v`); `--no-NAME` negates it when `neg` is set.
    None,
    /// A required value (`--rsh=CMD`, `-e CMD`, `-eCMD`).
    Required,
}

/// How parasync treats an option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// Implemented.
    Yes,
    /// Accepted and ignored on purpose (documented no-op, e.g. `--blocking-io`).
    Ignored,
    /// Parsed, then refused with "requested action not supported" (exit 4).
    No,
    /// rsync daemon feature: refused with the daemon-mode message (exit 4).
    Daemon,
}

/// One option.
#[derive(Clone, Copy, Debug)]
pub struct Def {
    pub long: &'static str,
    pub short: Option<char>,
    pub arg: Arg,
    /// `--no-LONG` (and `--no-SHORT`) accepted.
    pub neg: bool,
    /// Value placeholder for help (`DIR`, `SIZE`, ...).
    pub meta: &'static str,
    pub help: &'static str,
    pub support: Support,
    /// Extra long spellings (`--del`, `--log-format`, `--cc`, ...).
    pub aliases: &'static [&'static str],
}

const fn d(long: &'static str, short: Option<char>, arg: Arg, help: &'static str) -> Def {
    Def {
        long,
        short,
        arg,
        neg: false,
        meta: "",
        help,
        support: Support::Yes,
        aliases: &[],
    }
}
const fn flag(long: &'static str, short: char, help: &'static str) -> Def {
    Def {
        neg: true,
        ..d(long, Some(short), Arg::None, help)
    }
}
const fn lflag(long: &'static str, help: &'static str) -> Def {
    Def {
        neg: true,
        ..d(long, None, Arg::None, help)
    }
}
const fn val(long: &'static str, meta: &'static str, help: &'static str) -> Def {
    Def {
        meta,
        ..d(long, None, Arg::Required, help)
    }
}
const fn sval(long: &'static str, short: char, meta: &'static str, help: &'static str) -> Def {
    Def {
        meta,
        ..d(long, Some(short), Arg::Required, help)
    }
}
const fn no(def: Def) -> Def {
    Def {
        support: Support::No,
        ..def
    }
}
const fn daemon(def: Def) -> Def {
    Def {
        support: Support::Daemon,
        ..def
    }
}
const fn ign(def: Def) -> Def {
    Def {
        support: Support::Ignored,
        ..def
    }
}
/// A switch rsync 3.5 has no `--no-` form of (`--no-delete`, `--no-update`, ... are "unknown
/// option" there; popt lists every negation explicitly).
const fn noneg(def: Def) -> Def {
    Def { neg: false, ..def }
}
const fn al(def: Def, aliases: &'static [&'static str]) -> Def {
    Def { aliases, ..def }
}

/// The table. Order = `--help` order.
pub static DEFS: &[Def] = &[
    flag("verbose", 'v', "increase verbosity"),
    val("info", "FLAGS", "fine-grained informational verbosity"),
    val("debug", "FLAGS", "fine-grained debug verbosity"),
    val(
        "stderr",
        "e|a|c",
        "change stderr output mode (default: errors)",
    ),
    noneg(flag("quiet", 'q', "suppress non-error messages")),
    ign(lflag("motd", "suppress daemon-mode MOTD")),
    flag(
        "checksum",
        'c',
        "skip based on checksum, not mod-time & size",
    ),
    noneg(flag(
        "archive",
        'a',
        "archive mode is -rlptgoD (no -A,-X,-U,-N,-H)",
    )),
    flag("recursive", 'r', "recurse into directories"),
    al(lflag("inc-recursive", "enable incremental recursion"), &["i-r"]),
    flag("relative", 'R', "use relative path names"),
    lflag(
        "implied-dirs",
        "don't send implied directories with --relative",
    ),
    flag("backup", 'b', "make backups (see --suffix & --backup-dir)"),
    val(
        "backup-dir",
        "DIR",
        "make backups into hierarchy based in DIR",
    ),
    val(
        "suffix",
        "SUFFIX",
        "backup suffix (default ~ w/o --backup-dir)",
    ),
    noneg(flag("update", 'u', "skip files that are newer on the receiver")),
    lflag("inplace", "update destination files in-place"),
    lflag("append", "append data onto shorter files"),
    noneg(lflag("append-verify", "--append w/old data in file checksum")),
    flag("dirs", 'd', "transfer directories without recursing"),
    al(
        noneg(lflag(
            "old-dirs",
            "works like --dirs when talking to old rsync",
        )),
        &["old-d"],
    ),
    lflag("mkpath", "create destination's missing path components"),
    flag("links", 'l', "copy symlinks as symlinks"),
    noneg(flag(
        "copy-links",
        'L',
        "transform symlink into referent file/directory",
    )),
    noneg(lflag(
        "copy-unsafe-links",
        "only \"unsafe\" symlinks are transformed",
    )),
    noneg(lflag("safe-links", "ignore symlinks that point outside the tree")),
    lflag(
        "insecure-links",
        "follow attacker-owned symlinks in operator paths",
    ),
    no(val(
        "confine-root",
        "DIR",
        "refuse operator paths resolving outside DIR",
    )),
    lflag(
        "munge-links",
        "munge symlinks to make them safe & unusable",
    ),
    noneg(flag(
        "copy-dirlinks",
        'k',
        "transform symlink to directory into referent directory",
    )),
    noneg(flag(
        "keep-dirlinks",
        'K',
        "treat symlinked directory on receiver as directory",
    )),
    flag("hard-links", 'H', "preserve hard links"),
    flag("perms", 'p', "preserve permissions"),
    noneg(flag("executability", 'E', "preserve executability")),
    val("chmod", "CHMOD", "affect file and/or directory permissions"),
    flag("acls", 'A', "preserve ACLs (implies --perms)"),
    flag("xattrs", 'X', "preserve extended attributes"),
    flag("owner", 'o', "preserve owner (super-user only)"),
    flag("group", 'g', "preserve group"),
    lflag("devices", "preserve device files (super-user only)"),
    noneg(lflag("copy-devices", "copy device contents as a regular file")),
    lflag(
        "write-devices",
        "write to devices as files (implies --inplace)",
    ),
    lflag("specials", "preserve special files"),
    lflag("drop-D", "receiver refuses to create devices/specials"),
    Def {
        neg: true,
        ..d("D", Some('D'), Arg::None, "same as --devices --specials")
    },
    flag("times", 't', "preserve modification times"),
    flag("atimes", 'U', "preserve access (use) times"),
    ign(lflag(
        "open-noatime",
        "avoid changing the atime on opened files",
    )),
    flag("crtimes", 'N', "preserve create times (newness)"),
    flag("omit-dir-times", 'O', "omit directories from --times"),
    flag("omit-link-times", 'J', "omit symlinks from --times"),
    lflag("super", "receiver attempts super-user activities"),
    noneg(lflag(
        "fake-super",
        "store/recover privileged attrs using xattrs",
    )),
    flag("sparse", 'S', "turn sequences of nulls into sparse blocks"),
    ign(noneg(lflag(
        "preallocate",
        "allocate dest files before writing them",
    ))),
    noneg(flag("dry-run", 'n', "perform a trial run with no changes made")),
    flag(
        "whole-file",
        'W',
        "copy files whole (w/o delta-xfer algorithm)",
    ),
    al(
        val(
            "checksum-choice",
            "STR",
            "choose the checksum algorithm (aka --cc)",
        ),
        &["cc"],
    ),
    flag("one-file-system", 'x', "don't cross filesystem boundaries"),
    sval(
        "block-size",
        'B',
        "SIZE",
        "force a fixed checksum block-size",
    ),
    sval("rsh", 'e', "COMMAND", "specify the remote shell to use"),
    val(
        "rsync-path",
        "PROGRAM",
        "specify the rsync to run on remote machine",
    ),
    al(
        noneg(lflag("existing", "skip creating new files on receiver")),
        &["ignore-non-existing"],
    ),
    noneg(lflag(
        "ignore-existing",
        "skip updating files that exist on receiver",
    )),
    noneg(lflag(
        "remove-source-files",
        "sender removes synchronized files (non-directory)",
    )),
    noneg(lflag("del", "an alias for --delete-during")),
    noneg(lflag("delete", "delete extraneous files from dest directories")),
    noneg(lflag("delete-before", "receiver deletes before xfer, not during")),
    noneg(lflag("delete-during", "receiver deletes during the transfer")),
    noneg(lflag("delete-delay", "find deletions during, delete after")),
    noneg(lflag(
        "delete-after",
        "receiver deletes after transfer, not during",
    )),
    noneg(lflag(
        "delete-excluded",
        "also delete excluded files from dest directories",
    )),
    noneg(lflag(
        "ignore-missing-args",
        "ignore missing source arguments without error",
    )),
    noneg(lflag(
        "delete-missing-args",
        "delete missing source arguments from destination",
    )),
    lflag("ignore-errors", "delete even if there are I/O errors"),
    lflag("force", "force deletion of directories even if not empty"),
    val("max-delete", "NUM", "don't delete more than NUM files"),
    val(
        "max-size",
        "SIZE",
        "don't transfer any file larger than SIZE",
    ),
    val(
        "min-size",
        "SIZE",
        "don't transfer any file smaller than SIZE",
    ),
    val(
        "max-alloc",
        "SIZE",
        "change a limit relating to memory alloc",
    ),
    lflag("partial", "keep partially transferred files"),
    val(
        "partial-dir",
        "DIR",
        "put a partially transferred file into DIR",
    ),
    lflag("delay-updates", "put all updated files into place at end"),
    flag(
        "prune-empty-dirs",
        'm',
        "prune empty directory chains from file-list",
    ),
    lflag("numeric-ids", "don't map uid/gid values by user/group name"),
    val("usermap", "STRING", "custom username mapping"),
    val("groupmap", "STRING", "custom groupname mapping"),
    val("chown", "USER:GROUP", "simple username/groupname mapping"),
    val("timeout", "SECONDS", "set I/O timeout in seconds"),
    daemon(val(
        "contimeout",
        "SECONDS",
        "set daemon connection timeout in seconds",
    )),
    noneg(flag(
        "ignore-times",
        'I',
        "don't skip files that match size and time",
    )),
    noneg(lflag("size-only", "skip files that match in size")),
    sval(
        "modify-window",
        '@',
        "NUM",
        "set the accuracy for mod-time comparisons",
    ),
    sval(
        "temp-dir",
        'T',
        "DIR",
        "create temporary files in directory DIR",
    ),
    flag("fuzzy", 'y', "find similar file for basis if no dest file"),
    (val(
        "compare-dest",
        "DIR",
        "also compare destination files relative to DIR",
    )),
    (val(
        "copy-dest",
        "DIR",
        "... and include copies of unchanged files",
    )),
    (val(
        "link-dest",
        "DIR",
        "hardlink to files in DIR when unchanged",
    )),
    flag("compress", 'z', "compress file data during the transfer"),
    al(
        val(
            "compress-choice",
            "STR",
            "choose the compression algorithm (aka --zc)",
        ),
        &["zc"],
    ),
    al(
        val(
            "compress-level",
            "NUM",
            "explicitly set compression level (aka --zl)",
        ),
        &["zl"],
    ),
    al(
        ign(val(
            "compress-threads",
            "NUM",
            "explicitly set compression threads (aka --zt)",
        )),
        &["zt"],
    ),
    ign(val(
        "skip-compress",
        "LIST",
        "skip compressing files with suffix in LIST",
    )),
    noneg(flag(
        "cvs-exclude",
        'C',
        "auto-ignore files in the same way CVS does",
    )),
    sval("filter", 'f', "RULE", "add a file-filtering RULE"),
    d(
        "F",
        Some('F'),
        Arg::None,
        "same as --filter='dir-merge /.rsync-filter'",
    ),
    val("exclude", "PATTERN", "exclude files matching PATTERN"),
    val("exclude-from", "FILE", "read exclude patterns from FILE"),
    val("include", "PATTERN", "don't exclude files matching PATTERN"),
    val("include-from", "FILE", "read include patterns from FILE"),
    val(
        "files-from",
        "FILE",
        "read list of source-file names from FILE",
    ),
    flag("from0", '0', "all *-from/filter files are delimited by 0s"),
    lflag("old-args", "disable the modern argument-protection idiom"),
    al(
        flag(
            "secluded-args",
            's',
            "use the protocol to safely send the arguments",
        ),
        &["protect-args"],
    ),
    ign(noneg(lflag("trust-sender", "trust the remote sender's file list"))),
    val(
        "copy-as",
        "USER[:GROUP]",
        "specify user & optional group for the copy",
    ),
    ign(val(
        "address",
        "ADDRESS",
        "bind address for outgoing socket to daemon",
    )),
    ign(val(
        "port",
        "PORT",
        "specify double-colon alternate port number",
    )),
    ign(val("sockopts", "OPTIONS", "specify custom TCP options")),
    ign(lflag(
        "blocking-io",
        "use blocking I/O for the remote shell",
    )),
    ign(val(
        "outbuf",
        "N|L|B",
        "set out buffering to None, Line, or Block",
    )),
    noneg(lflag("stats", "give some file-transfer stats")),
    flag(
        "8-bit-output",
        '8',
        "leave high-bit chars unescaped in output",
    ),
    flag(
        "human-readable",
        'h',
        "output numbers in a human-readable format",
    ),
    lflag("progress", "show progress during transfer"),
    d("P", Some('P'), Arg::None, "same as --partial --progress"),
    flag(
        "itemize-changes",
        'i',
        "output a change-summary for all updates",
    ),
    sval(
        "remote-option",
        'M',
        "OPT",
        "send OPTION to the remote side only",
    ),
    al(
        val(
            "out-format",
            "FORMAT",
            "output updates using the specified FORMAT",
        ),
        &["log-format"],
    ),
    val(
        "log-file",
        "FILE",
        "log what we're doing to the specified FILE",
    ),
    val(
        "log-file-format",
        "FMT",
        "log updates using the specified FMT",
    ),
    daemon(val(
        "password-file",
        "FILE",
        "read daemon-access password from FILE",
    )),
    ign(val(
        "early-input",
        "FILE",
        "use FILE for daemon's early exec input",
    )),
    noneg(lflag("list-only", "list the files instead of copying them")),
    val("bwlimit", "RATE", "limit socket I/O bandwidth"),
    al(
        val(
            "stop-after",
            "MINS",
            "Stop rsync after MINS minutes have elapsed",
        ),
        &["time-limit"],
    ),
    val(
        "stop-at",
        "y-m-dTh:m",
        "Stop rsync at the specified point in time",
    ),
    noneg(lflag("fsync", "fsync every written file")),
    no(val("write-batch", "FILE", "write a batched update to FILE")),
    no(val(
        "only-write-batch",
        "FILE",
        "like --write-batch but w/o updating dest",
    )),
    no(val("read-batch", "FILE", "read a batched update from FILE")),
    no(val(
        "protocol",
        "NUM",
        "force an older protocol version to be used",
    )),
    no(val(
        "iconv",
        "CONVERT_SPEC",
        "request charset conversion of filenames",
    )),
    ign(val(
        "checksum-seed",
        "NUM",
        "set block/file checksum seed (advanced)",
    )),
    d("ipv4", Some('4'), Arg::None, "prefer IPv4"),
    d("ipv6", Some('6'), Arg::None, "prefer IPv6"),
    d(
        "version",
        Some('V'),
        Arg::None,
        "print the version + other info and exit",
    ),
    d(
        "help",
        None,
        Arg::None,
        "show this help (* -h is help only on its own)",
    ),
    daemon(d("daemon", None, Arg::None, "run as an rsync daemon")),
    daemon(val("config", "FILE", "specify alternate rsyncd.conf file")),
    daemon(val(
        "dparam",
        "OVERRIDE",
        "override global daemon config parameter",
    )),
    daemon(lflag("detach", "detach from the parent")),
    // parasync's own options.
    val(
        "engine",
        "NAME",
        "delta engine: parasync (default), rsync, dsync, skysync-f, skysync-c, pdsync",
    ),
    val(
        "threads",
        "N",
        "worker threads for the delta engines (default: all cores)",
    ),
    lflag(
        "hw",
        "engines use the papers' hw=1 variants (CRC-32C, PCLMUL CRC, MD4); --no-hw: hw=0 (software)",
    ),
    lflag(
        "dedupe",
        "send each piece of content once, copy it on the receiver (default on)",
    ),
    val(
        "inplace-policy",
        "POLICY",
        "in-place cycle breaking: trim (default), localmin, delete",
    ),
    val(
        "inplace-buffer",
        "SIZE",
        "receiver memory for in-place cycle data (default 8M)",
    ),
    val(
        "pipeline",
        "MODE",
        "parasync engine pipeline: stream (default), batch, v3, graph",
    ),
    val(
        "streams",
        "N",
        "parallel sessions over one ssh connection (default 1; auto)",
    ),
    lflag(
        "remote-install",
        "copy this parasync to ~/.cache/parasync on a remote that lacks it, then retry",
    ),
    val(
        "fallback",
        "PROGRAM",
        "when the remote has no parasync: rsync re-runs the transfer with the local rsync",
    ),
    // Internal: the remote half.
    d(
        "server",
        None,
        Arg::None,
        "(internal) run as the remote half",
    ),
    d(
        "sender",
        None,
        Arg::None,
        "(internal) the remote half sends",
    ),
    d(
        "local-server",
        None,
        Arg::None,
        "(internal) the server half of a local transfer",
    ),
    d(
        "source-operand",
        None,
        Arg::Required,
        "(internal) a source as the client named it, for %f",
    ),
];

/// Find an option by its long name or alias.
pub fn by_long(name: &str) -> Option<&'static Def> {
    DEFS.iter()
        .find(|d| d.long == name || d.aliases.contains(&name))
}

/// Find an option by its short letter.
pub fn by_short(c: char) -> Option<&'static Def> {
    DEFS.iter().find(|d| d.short == Some(c))
}
