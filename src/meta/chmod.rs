//! `--chmod=CHMOD` (rsync-cli.md §1.3.8): comma-separated rules applied by the sender to the
//! permissions in the file list, as rsync does — `[D|F][ugoa]*[-+=][rwxXst]*` (several operator
//! groups may follow one `who`, e.g. `u=rwx,go=rx`, `Da+x`) or an octal mode (`644`, `D755`).
//! `D` limits a rule to directories, `F` to everything else; `X` sets execute only for
//! directories and files that already have an execute bit.

use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Octal(u32),
    /// (who mask, [(op, perms)])
    Sym(u32, Vec<(char, String)>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    dirs: bool,
    files: bool,
    kind: Kind,
}

fn bad(spec: &str) -> Error {
    Error::syntax(format!("Invalid argument passed to --chmod ({spec})"))
}

/// Parse every `--chmod` value (each may hold several comma-separated rules).
pub fn parse(specs: &[String]) -> Result<Vec<Rule>> {
    let mut out = Vec::new();
    for spec in specs {
        for item in spec.split(',') {
            let (dirs, files, rest) = match item.as_bytes().first() {
                Some(b'D') => (true, false, &item[1..]),
                Some(b'F') => (false, true, &item[1..]),
                _ => (true, true, item),
            };
            if rest.is_empty() {
                return Err(bad(spec));
            }
            let kind = if rest.bytes().all(|b| b.is_ascii_digit()) {
                Kind::Octal(u32::from_str_radix(rest, 8).map_err(|_| bad(spec))? & 0o7777)
            } else {
                let who_end = rest.find(|c| !"ugoa".contains(c)).unwrap_or(rest.len());
                let mut who = 0u32;
                for c in rest[..who_end].chars() {
                    who |= match c {
                        'u' => 0o4700,
                        'g' => 0o2070,
                        'o' => 0o1007,
                        _ => 0o7777,
                    };
                }
                if who == 0 {
                    who = 0o7777;
                }
                let mut ops = Vec::new();
                let mut chars = rest[who_end..].chars().peekable();
                while let Some(op) = chars.next() {
                    if !"+-=".contains(op) {
                        return Err(bad(spec));
                    }
                    let mut perms = String::new();
                    while let Some(&c) = chars.peek() {
                        if "+-=".contains(c) {
                            break;
                        }
                        if !"rwxXst".contains(c) {
                            return Err(bad(spec));
                        }
                        perms.push(c);
                        chars.next();
                    }
                    ops.push((op, perms));
                }
                if ops.is_empty() {
                    return Err(bad(spec));
                }
                Kind::Sym(who, ops)
            };
            out.push(Rule { dirs, files, kind });
        }
    }
    Ok(out)
}

/// Apply the rules to the permission bits of `mode` (file type bits are kept).
pub fn apply(rules: &[Rule], mode: u32, is_dir: bool) -> u32 {
    let mut m = mode;
    for r in rules {
        if (is_dir && !r.dirs) || (!is_dir && !r.files) {
            continue;
        }
        match &r.kind {
            Kind::Octal(v) => m = (m & !0o7777) | v,
            Kind::Sym(who, ops) => {
                for (op, perms) in ops {
                    let mut bits = 0u32;
                    for c in perms.chars() {
                        bits |= match c {
                            'r' => 0o444,
                            'w' => 0o222,
                            'x' => 0o111,
                            'X' if is_dir || m & 0o111 != 0 => 0o111,
                            's' => 0o6000,
                            't' => 0o1000,
                            _ => 0,
                        };
                    }
                    let bits = bits & who;
                    match op {
                        '+' => m |= bits,
                        '-' => m &= !bits,
                        _ => m = (m & !who) | bits,
                    }
                }
            }
        }
    }
    m
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
    }

    #[test]
    fn bad_rules_are_usage_errors() {
        for s in ["zz", "u", "u+q", "", "D", "9"] {
            assert_eq!(
                parse(&[s.to_string()]).map(|_| ()).unwrap_err().code,
                1,
                "{s}"
            );
        }
    }
}
