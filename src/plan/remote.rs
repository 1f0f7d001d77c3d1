//! The remote command line: `<rsh words…> [-l user] [-4|-6] host <rsync-path> --server [--sender]
//! <options the server needs> . <paths>` (rsync main.c do_cmd, options.c server_options).

use crate::cli::options::DeleteWhen;
use crate::cli::Options;
use crate::error::{Error, Result};

/// Split `-e`/`RSYNC_RSH` like rsync: spaces separate words, `'` and `"` group, a doubled quote
/// inside quotes is a literal quote, no backslash escapes.
pub fn split_rsh(cmd: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut have = false;
    let mut chars = cmd.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if have {
                    words.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            '\'' | '"' => {
                have = true;
                loop {
                    match chars.next() {
                        None => {
                            return Err(Error::syntax(format!(
                                "Missing trailing-{c} in remote-shell command."
                            )))
                        }
                        Some(d) if d == c => {
                            if chars.peek() == Some(&c) {
                                chars.next();
                                cur.push(c);
                            } else {
                                break;
                            }
                        }
                        Some(d) => cur.push(d),
                    }
                }
            }
            _ => {
                have = true;
                cur.push(c);
            }
        }
    }
    if have {
        words.push(cur);
    }
    Ok(words)
}

/// Backslash-escape an argument for the remote shell (rsync 3.2.4+ argument protection).
/// `wild` leaves `* ? [ ]` unescaped (file names, so remote globs still expand).
pub fn escape_arg(s: &str, wild: bool) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let special = matches!(
            c,
            ' ' | '\t'
                | '\r'
                | '\n'
                | '\\'
                | '!'
                | '#'
                | '$'
                | '&'
                | ';'
                | '|'
                | '<'
                | '>'
                | '('
                | ')'
                | '{'
                | '}'
                | '"'
                | '\''
                | '`'
        ) || (!wild && matches!(c, '*' | '?' | '[' | ']'));
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Options the server half needs, as argv words (after `--server [--sender]`).
pub fn server_options(o: &Options, local: bool) -> Vec<String> {
    let mut letters = String::from("-");
    for _ in 0..o.verbose {
        letters.push('v');
    }
    let flags = [
        (o.quiet, 'q'),
        (o.backup, 'b'),
        (o.update, 'u'),
        (o.dry_run, 'n'),
        (o.links, 'l'),
        (o.dirs, 'd'),
        (o.copy_links, 'L'),
        (o.copy_dirlinks, 'k'),
        (o.keep_dirlinks, 'K'),
        (o.prune_empty_dirs, 'm'),
        (o.omit_dir_times, 'O'),
        (o.omit_link_times, 'J'),
        (o.hard_links, 'H'),
        (o.owner, 'o'),
        (o.group, 'g'),
        (o.times, 't'),
        (o.perms, 'p'),
        (o.executability, 'E'),
        (o.recursive, 'r'),
        (o.checksum, 'c'),
        (o.ignore_times, 'I'),
        (o.relative, 'R'),
        (o.sparse, 'S'),
        (o.compress, 'z'),
    ];
    for (on, c) in flags {
        if on {
            letters.push(c);
        }
    }
    for _ in 0..o.one_file_system {
        letters.push('x');
    }
    let mut v = Vec::new();
    if letters.len() > 1 {
        v.push(letters);
    }
    let mut long = |s: String| v.push(s);
    if o.devices {
        long("--devices".into());
    }
    if o.specials {
        long("--specials".into());
    }
    match o.whole_file {
        // --append conflicts with --whole-file (and never runs a delta anyway).
        _ if o.append > 0 => {}
        Some(true) => long("--whole-file".into()),
        Some(false) => long("--no-whole-file".into()),
        None if local => long("--whole-file".into()),
        None => {}
    }
    if o.delete {
        long(
            match o.delete_when {
                DeleteWhen::During => "--delete-during",
                DeleteWhen::Before => "--delete-before",
                DeleteWhen::Delay => "--delete-delay",
                DeleteWhen::After => "--delete-after",
            }
            .into(),
        );
    }
    let bools = [
        (o.delete_excluded, "--delete-excluded"),
        (o.ignore_errors, "--ignore-errors"),
        (o.force, "--force"),
        (o.numeric_ids, "--numeric-ids"),
        (o.size_only, "--size-only"),
        (o.existing, "--existing"),
        (o.ignore_existing, "--ignore-existing"),
        (o.remove_source_files, "--remove-source-files"),
        (o.inplace, "--inplace"),
        (o.partial, "--partial"),
        (o.mkpath, "--mkpath"),
        (o.safe_links, "--safe-links"),
        (o.copy_unsafe_links, "--copy-unsafe-links"),
        (o.fsync, "--fsync"),
        (o.list_only, "--list-only"),
        (o.stats, "--stats"),
        (o.ignore_missing_args, "--ignore-missing-args"),
        (o.from0, "--from0"),
        (o.delete_missing_args, "--delete-missing-args"),
        (o.eight_bit, "-8"),
        (o.engine_params.hw == Some(true), "--hw"),
        (o.engine_params.hw == Some(false), "--no-hw"),
        (!o.dedupe, "--no-dedupe"),
        (!o.implied_dirs, "--no-implied-dirs"),
        (o.delay_updates, "--delay-updates"),
        (o.no_inc_recursive, "--no-inc-recursive"),
        (o.atimes, "--atimes"),
        (o.xattrs > 0, "--xattrs"),
        (o.acls, "--acls"),
        // `-A --no-perms`: --acls turns -p on where it stands, so the server is told after it.
        (o.acls && !o.perms, "--no-perms"),
        (o.copy_devices, "--copy-devices"),
        (o.write_devices, "--write-devices"),
        (o.fuzzy > 0, "--fuzzy"),
        (o.fuzzy > 1, "--fuzzy"),
        (o.append == 1, "--append"),
        (o.append > 1, "--append-verify"),
    ];
    for (on, s) in bools {
        if on {
            long(s.into());
        }
    }
    let vals: [(&str, Option<String>); 16] = [
        (
            "--modify-window",
            (o.modify_window != 0).then(|| o.modify_window.to_string()),
        ),
        ("--max-delete", o.max_delete.map(|x| x.to_string())),
        ("--max-size", o.max_size.map(|x| x.to_string())),
        ("--min-size", o.min_size.map(|x| x.to_string())),
        ("--timeout", (o.timeout > 0).then(|| o.timeout.to_string())),
        ("--partial-dir", o.partial_dir.clone()),
        ("--temp-dir", o.temp_dir.clone()),
        ("--block-size", o.block_size.map(|x| x.to_string())),
        ("--checksum-choice", o.checksum_choice.clone()),
        ("--compress-choice", o.compress_choice.clone()),
        ("--compress-level", o.compress_level.map(|x| x.to_string())),
        ("--engine", o.engine.map(|e| e.name().to_string())),
        (
            "--threads",
            (o.engine_params.threads > 0).then(|| o.engine_params.threads.to_string()),
        ),
        ("--backup-dir", o.backup_dir.clone()),
        ("--suffix", o.suffix.clone()),
        ("--files-from", o.files_from.clone()),
    ];
    for (k, val) in vals {
        if let Some(x) = val {
            long(format!("{k}={x}"));
        }
    }
    // A map that a later --no-o / --no-g turned off stays here (rsync's server then maps the
    // owners it was never sent to root).
    for (k, m, on) in [
        ("usermap", &o.usermap, o.owner),
        ("groupmap", &o.groupmap, o.group),
    ] {
        if let (Some(m), true) = (m, on) {
            long(format!("--{k}={m}"));
        }
    }
    for c in &o.chmod {
        long(format!("--chmod={c}"));
    }
    if let Some(kind) = o.alt_dest {
        let name = match kind {
            crate::cli::options::AltDest::Compare => "compare-dest",
            crate::cli::options::AltDest::Copy => "copy-dest",
            crate::cli::options::AltDest::Link => "link-dest",
        };
        for d in &o.alt_dirs {
            long(format!("--{name}={d}"));
        }
    }
    if o.inplace_policy != "trim" {
        long(format!("--inplace-policy={}", o.inplace_policy));
    }
    if o.inplace_buffer != 8 << 20 {
        long(format!("--inplace-buffer={}", o.inplace_buffer));
    }
    if o.pipeline != "stream" {
        long(format!("--pipeline={}", o.pipeline));
    }
    if o.streams != 1 {
        long(match o.streams {
            0 => "--streams=auto".into(),
            crate::streams::HELPER => "--streams=helper".into(),
            n => format!("--streams={n}"),
        });
    }
    if let Some(f) = &o.out_format {
        long(format!("--out-format={f}"));
    }
    // A remote receiver names items by the sender's paths in %f (see client::run_transfer).
    if !local {
        for s in &o.local_sources {
            long(format!("--source-operand={s}"));
        }
    }
    // The receiver produces the log's item lines; the client writes the file.
    if o.log_file.is_some() {
        let f = o.log_file_format.as_deref().unwrap_or("%i %n%L");
        long(format!("--log-file-format={f}"));
    }
    if o.itemize > 0 {
        for _ in 0..o.itemize {
            long("-i".into());
        }
    }
    let info = &o.info;
    let mut words = Vec::new();
    for (n, l) in [
        ("progress", info.progress),
        ("name", info.name),
        ("skip", info.skip),
        ("del", info.del),
        ("symsafe", info.symsafe),
        ("misc", info.misc),
        ("nonreg", info.nonreg),
        ("flist", info.flist),
        ("stats", info.stats),
        ("backup", info.backup),
    ] {
        words.push(format!("{n}{l}"));
    }
    long(format!("--info={}", words.join(",")));
    if let Some(d) = o.debug.to_spec() {
        long(format!("--debug={d}"));
    }
    for h in 0..o.human.min(3) {
        let _ = h;
    }
    match o.human {
        0 => long("--no-h".into()),
        2 => long("-h".into()),
        3 => long("-hh".into()),
        _ => {}
    }
    for r in &o.remote_options {
        long(r.clone());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn rsh_split() {
        assert_eq!(split_rsh("ssh -p 2222").unwrap(), ["ssh", "-p", "2222"]);
        assert_eq!(
            split_rsh("ssh -o \"ProxyCommand nohup ssh fw nc -w1 %h %p\"").unwrap(),
            ["ssh", "-o", "ProxyCommand nohup ssh fw nc -w1 %h %p"]
        );
        assert_eq!(split_rsh("a 'b ''c'' d'").unwrap(), ["a", "b 'c' d"]);
        assert_eq!(split_rsh("a ''").unwrap(), ["a", ""]);
        assert_eq!(
            split_rsh("ssh \"x").unwrap_err().msg,
            "Missing trailing-\" in remote-shell command."
        );
    }
    #[test]
    fn escaping() {
        assert_eq!(escape_arg("my dir/$x*.txt", true), "my\\ dir/\\$x*.txt");
        assert_eq!(escape_arg("a*b", false), "a\\*b");
        assert_eq!(escape_arg("~/x", true), "~/x");
    }
}
