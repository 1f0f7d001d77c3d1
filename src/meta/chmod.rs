//! `--chmod=CHMOD` (rsync-cli.md §1.3.8): comma-separated rules applied by the sender to the
//! permissions in the file list, with rsync's own semantics (chmod.c), which differ from
//! chmod(1)'s for the special bits:
//! - a rule is `[DF]*[ugoa]*` then one operator `+`, `-` or `=` then `[rwxXst]*`, or `[DF]*`
//!   then an octal mode up to 07777; `D` limits it to directories, `F` to everything else (both
//!   may stand among the who letters); anything else (a second operator, `u+x-w`) is an error;
//! - `s` means the set-id bits of the named classes: `u` setuid, `g` setgid, `a` both (rsync
//!   3.5), and setuid when no `u`/`g`/`a` is named (`+s`, `o+s`); `t` is the sticky bit whoever
//!   is named;
//! - `=` clears only the permission bits of the named classes, and the set-id bits only when
//!   `s` is among the new ones: `go=rx` keeps a setgid or sticky bit;
//! - without `ugoa` the bits are masked by the umask (`+w` adds `u+w` under umask 022);
//! - `X` adds execute to directories and to files that had an execute bit before any rule.
//!
//! Each rule becomes an AND and an OR mask at parse time, as rsync's parse_chmod does.

use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    dirs: bool,
    files: bool,
    and: u32,
    or: u32,
    /// `X`: the execute bits of `or` apply only to directories and executable files.
    x_keep: bool,
}

fn bad(spec: &str) -> Error {
    Error::syntax(format!("Invalid argument passed to --chmod ({spec})"))
}

/// Parse every `--chmod` value (each may hold several comma-separated rules).
pub fn parse(specs: &[String]) -> Result<Vec<Rule>> {
    let umask = crate::meta::umask();
    let mut out = Vec::new();
    for spec in specs {
        for item in spec.split(',') {
            out.push(parse_one(item, umask).ok_or_else(|| bad(spec))?);
        }
    }
    Ok(out)
}

fn parse_one(item: &str, umask: u32) -> Option<Rule> {
    let (mut dirs, mut files) = (true, true);
    let (mut who, mut top) = (0u32, 0u32);
    let mut chars = item.chars().peekable();
    // [DF]* and the who letters, in any order.
    let op = loop {
        match chars.next()? {
            'D' if dirs => files = false,
            'F' if files => dirs = false,
            'u' => (who, top) = (who | 0o100, top | 0o4000),
            'g' => (who, top) = (who | 0o010, top | 0o2000),
            'o' => who |= 0o001,
            'a' => (who, top) = (who | 0o111, top | 0o6000),
            c @ ('+' | '-' | '=') => break c,
            d @ '0'..='7' if who == 0 => {
                // An octal mode: the permission bits become exactly that.
                let mut v = d.to_digit(8)?;
                for d in chars {
                    v = v * 8 + d.to_digit(8)?;
                    if v > 0o7777 {
                        return None;
                    }
                }
                return Some(Rule {
                    dirs,
                    files,
                    and: 0,
                    or: v,
                    x_keep: false,
                });
            }
            _ => return None,
        }
    };
    let (mut what, mut special, mut x_keep) = (0u32, 0u32, false);
    for c in chars {
        match c {
            'r' => what |= 4,
            'w' => what |= 2,
            'x' => what |= 1,
            'X' => (what, x_keep) = (what | 1, true),
            's' => special |= if top != 0 { top } else { 0o4000 },
            't' => special |= 0o1000,
            _ => return None,
        }
    }
    let bits = if who != 0 {
        who * what
    } else {
        who = 0o111;
        (who * what) & !umask
    };
    let (and, or) = match op {
        '+' => (0o7777, bits | special),
        '-' => (0o7777 & !(bits | special), 0),
        _ => {
            let set_ids = if special != 0 { top } else { 0 };
            (0o7777 & !(who * 7) & !set_ids, bits | special)
        }
    };
    Some(Rule {
        dirs,
        files,
        and,
        or,
        x_keep,
    })
}

/// Apply the rules to the permission bits of `mode` (file type bits are kept), as rsync's
/// tweak_mode: `X` looks at the execute bits `mode` had before the first rule.
pub fn apply(rules: &[Rule], mode: u32, is_dir: bool) -> u32 {
    let had_x = mode & 0o111 != 0;
    let kind = mode & !0o7777;
    let mut m = mode & 0o7777;
    for r in rules {
        if (is_dir && !r.dirs) || (!is_dir && !r.files) {
            continue;
        }
        m &= r.and;
        m |= if r.x_keep && !had_x && !is_dir {
            r.or & !0o111
        } else {
            r.or
        };
    }
    m | kind
}
#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str, mode: u32, dir: bool) -> u32 {
        apply(&parse(&[s.to_string()]).unwrap(), mode, dir)
    }

    #[test]
    fn symbolic_and_octal_rules() {
        assert_eq!(one("u+x,g-r", 0o100644, false), 0o100704);
        assert_eq!(one("go=rx", 0o100600, false), 0o100655);
        assert_eq!(one("a-w", 0o100666, false), 0o100444);
        assert_eq!(one("D755,F644", 0o40700, true), 0o40755);
        assert_eq!(one("D755,F644", 0o100600, false), 0o100644);
        assert_eq!(one("a+X", 0o100644, false), 0o100644);
        assert_eq!(one("a+X", 0o100744, false), 0o100755);
        assert_eq!(one("Fu=rw,Dg+s", 0o40755, true), 0o42755);
        assert_eq!(one("u=rwx,go=", 0o100644, false), 0o100700);
        // Measured with rsync 3.5: its special-bit rules.
        assert_eq!(one("o+s", 0o100644, false), 0o104644);
        assert_eq!(one("a+s", 0o100644, false), 0o106644);
        assert_eq!(one("go=", 0o43775, true), 0o43700);
        assert_eq!(one("a=s", 0o43775, true), 0o47000);
        assert_eq!(one("ug=t", 0o100644, false), 0o101004);
        assert_eq!(one("a=X", 0o106755, false), 0o106111);
        assert_eq!(one("a+X,a-x", 0o100744, false), 0o100644);
    }

    #[test]
    fn bad_rules_are_usage_errors() {
        for s in [
            "zz", "u", "u+q", "", "D", "9", "u+x-w", "17777", "DF+x", "u7",
        ] {
            assert_eq!(
                parse(&[s.to_string()]).map(|_| ()).unwrap_err().code,
                1,
                "{s}"
            );
        }
    }
}
