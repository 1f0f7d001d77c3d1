//! Bad command lines (rsync-cli.md §1.3.14): each conflicting or malformed combination prints
//! rsync's message as `rsync: <msg>`, then the `rsync error: syntax or usage error (code 1)` line,
//! exits 1, and touches no file. When `/usr/bin/rsync` is installed its exit code and first line
//! are compared too (the oracle).

use crate::fault_kit::{parasync, rsync_oracle, Tree};

/// (arguments before the operands, rsync's message).
const CASES: &[(&str, &str)] = &[
    (
        "--delete",
        "--delete does not work without --recursive (-r) or --dirs (-d).",
    ),
    (
        "-r --inplace --partial-dir=pd",
        "--inplace cannot be used with --partial-dir",
    ),
    (
        "-r --inplace --delay-updates",
        "--inplace cannot be used with --delay-updates",
    ),
    ("--append -W", "--append cannot be used with --whole-file"),
    (
        "-W --append-verify",
        "--append cannot be used with --whole-file",
    ),
    (
        "-r --delete-before --delete-after",
        "You may not combine multiple --delete-WHEN options.",
    ),
    (
        "-s --old-args",
        "--secluded-args conflicts with --old-args.",
    ),
    ("-b --suffix=x/y", "--suffix cannot contain slashes: x/y"),
    (
        "--chown=u:g --usermap=x:y",
        "--usermap conflicts with prior --chown.",
    ),
    (
        "--usermap=a:b --chown=u:g",
        "--chown conflicts with prior --usermap.",
    ),
    (
        "--usermap=a:b --usermap=c:d",
        "You can only specify --usermap once.",
    ),
    (
        "--write-batch=wb --read-batch=rb",
        "--write-batch and --read-batch can not be used together",
    ),
    (
        "--copy-dest=c --link-dest=l",
        "ERROR: the --link-dest option conflicts with the --copy-dest option",
    ),
    ("--no-such-option", "--no-such-option: unknown option"),
    ("--block-size=abc", "--block-size=abc is invalid"),
    ("--max-size=zz", "--max-size=zz is invalid"),
    ("--bwlimit=x", "--bwlimit=x is invalid"),
    ("--timeout=x", "--timeout=x: invalid numeric value"),
    ("--max-delete=x", "--max-delete=x: invalid numeric value"),
    (
        "--modify-window=x",
        "--modify-window=x: invalid numeric value",
    ),
    ("--info=bogus", "Unknown --info item: \"bogus\""),
    // popt lists each negation: these switches have none in rsync 3.5.
    ("-r --no-delete", "--no-delete: unknown option"),
    ("--no-update", "--no-update: unknown option"),
    ("--no-archive", "--no-archive: unknown option"),
    ("--no-b", "--no-b: unknown option"),
    ("--no-0", "--no-0: unknown option"),
    ("--no-P", "--no-P: unknown option"),
    ("--no-rsh", "--no-rsh: unknown option"),
    ("--no-info", "--no-info: unknown option"),
    (
        "--password-file=pw",
        "The --password-file option may only be used when accessing an rsync daemon.",
    ),
    (
        "--contimeout=5",
        "The --contimeout option may only be used when connecting to an rsync daemon.",
    ),
];

fn check(extra: &str, want: &str) {
    let t = Tree::new();
    t.write("src/a", b"data");
    let mut args: Vec<String> = extra.split(' ').map(String::from).collect();
    args.push("src/".into());
    args.push("dst/".into());
    let before = t.snapshot();
    let out = parasync(&t.root, &args);
    assert_eq!(out.code, 1, "{extra}: exit {} ({})", out.code, out.stderr);
    let first = out.stderr.lines().next().unwrap_or_default();
    let bare = want.starts_with("Unknown --info") || want.starts_with("The --");
    let shown = if bare {
        want.to_string()
    } else {
        format!("rsync: {want}")
    };
    assert_eq!(first, shown, "{extra}");
    assert!(
        out.stderr
            .contains("rsync error: syntax or usage error (code 1)"),
        "{extra}: {}",
        out.stderr
    );
    assert_eq!(t.snapshot(), before, "{extra}: files were touched");
    if let Some(o) = rsync_oracle(&t.root, &args) {
        assert_eq!(o.code, 1, "{extra}: rsync exits {}", o.code);
        assert_eq!(
            o.stderr.lines().next().unwrap_or_default(),
            first,
            "{extra}"
        );
    }
}

#[test]
fn option_conflicts_exit_1_like_rsync() {
    for (extra, want) in CASES {
        check(extra, want);
    }
}

#[test]
fn too_many_link_dests() {
    let extra = (1..=21)
        .map(|i| format!("--link-dest=l{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    check(
        &extra,
        "ERROR: at most 20 --link-dest args may be specified",
    );
}

/// Options that only matter for a daemon connection but that rsync accepts (and ignores) on
/// a remote-shell or local transfer: a script that keeps `--port=873` still runs.
#[test]
fn daemon_socket_options_are_ignored_like_rsync() {
    for extra in [
        "--port=873",
        "--address=127.0.0.1",
        "--sockopts=SO_KEEPALIVE",
        "--early-input=/dev/null",
    ] {
        let t = Tree::new();
        t.write("src/a", b"data");
        let args: Vec<String> = vec!["-a".into(), extra.into(), "src/".into(), "dst/".into()];
        let out = parasync(&t.root, &args);
        assert_eq!(out.code, 0, "{extra}: {}", out.stderr);
        assert_eq!(std::fs::read(t.root.join("dst/a")).unwrap(), b"data");
        if let Some(o) = rsync_oracle(&t.root, &args) {
            assert_eq!(o.code, 0, "{extra}: rsync exits {}", o.code);
        }
    }
}

/// The negations rsync 3.5 does list: switches (short forms where it has them) and three value
/// options, which they reset.
#[test]
fn listed_negations_are_accepted_like_rsync() {
    for extra in [
        "--no-backup",
        "--no-from0",
        "--no-v",
        "--no-i-r",
        "--no-D",
        "--no-h",
        "--bwlimit=1 --no-bwlimit",
        "--timeout=1 --no-timeout",
        "--no-iconv",
    ] {
        let t = Tree::new();
        t.write("src/a", b"data");
        let mut args: Vec<String> = vec!["-a".into()];
        args.extend(extra.split(' ').map(String::from));
        args.extend(["src/".into(), "dst/".into()]);
        let out = parasync(&t.root, &args);
        assert_eq!(out.code, 0, "{extra}: {}", out.stderr);
        assert_eq!(std::fs::read(t.root.join("dst/a")).unwrap(), b"data");
        if let Some(o) = rsync_oracle(&t.root, &args) {
            assert_eq!(o.code, 0, "{extra}: rsync exits {}", o.code);
        }
    }
}
