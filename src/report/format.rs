//! `--out-format` / `--log-file-format` escapes (rsync-cli.md §4.6) for one item.

use super::{escape, local_time, num, perm_string};
use crate::flist::Entry;

/// Context of one logged item.
pub struct Item<'a> {
    pub entry: &'a Entry,
    pub itemize: &'a str,
    /// `send`, `recv` or `del.`
    pub op: &'a str,
    /// Bytes transferred for this item (`%b`).
    pub bytes: u64,
    /// Bytes of its checksum exchange (`%c`).
    pub sums: u64,
    /// Hard-link target name (`%L` with `=>`).
    pub hlink_to: Option<&'a [u8]>,
    /// The name as the sender knows it (`%f`: source dir included), when it differs from the
    /// file-list name.
    pub full: Option<&'a [u8]>,
    pub human: u8,
}

/// Expand a format string.
pub fn expand(fmt: &str, it: &Item) -> String {
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut flags = String::new();
        while let Some(&d) = chars.peek() {
            if d == '-' || d == '\'' || d.is_ascii_digit() {
                flags.push(d);
                chars.next();
            } else {
                break;
            }
        }
        let Some(k) = chars.next() else {
            out.push('%');
            break;
        };
        let humanize = flags.chars().filter(|c| *c == '\'').count() as u8;
        let width_spec: String = flags.chars().filter(|c| *c != '\'').collect();
        let e = it.entry;
        let name = || {
            let mut n = escape(&e.name);
            if e.is_dir() && n != "." {
                n.push('/');
            } else if n == "." {
                n = "./".into();
            }
            n
        };
        let val = match k {
            '%' => "%".to_string(),
            'i' => it.itemize.to_string(),
            'n' => name(),
            // log.c: the sender's full path, without a leading slash.
            'f' => {
                let full = it.full.unwrap_or(&e.name);
                let start = full.iter().position(|&b| b != b'/').unwrap_or(full.len());
                escape(&full[start..])
            }
            'L' => match (&e.x().link, it.hlink_to) {
                (Some(t), _) => format!(" -> {}", escape(t)),
                (None, Some(h)) => format!(" => {}", escape(h)),
                _ => String::new(),
            },
            'l' => num(e.size, if humanize > 0 { humanize + 1 } else { 0 }),
            'b' => num(it.bytes, if humanize > 0 { humanize + 1 } else { 0 }),
            'c' => num(it.sums, if humanize > 0 { humanize + 1 } else { 0 }),
            'o' => it.op.to_string(),
            'B' => perm_string(e.mode)[1..].to_string(),
            'M' => local_time(e.mtime).replace(' ', "-"),
            't' => local_time(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0),
            ),
            'U' => e.uid.to_string(),
            'G' => e.gid.to_string(),
            'p' => std::process::id().to_string(),
            'm' | 'P' | 'a' | 'h' | 'u' => String::new(),
            other => format!("%{other}"),
        };
        let _ = it.human;
        if width_spec.is_empty() {
            out.push_str(&val);
        } else {
            let left = width_spec.starts_with('-');
            let w: usize = width_spec.trim_start_matches('-').parse().unwrap_or(0);
            if left {
                out.push_str(&format!("{val:<w$}"));
            } else {
                out.push_str(&format!("{val:>w$}"));
            }
        }
    }
    out
}
