//! A popt-compatible lexer (rsync-cli.md §1.1): short bundles (`-avz`), a value-taking short option
//! consumes the rest of its bundle (`-e'ssh -p 2222'`, `-M--fake-super`) or the next argument,
//! `--opt=v` and `--opt v`, `--no-OPT` / `--no-X`, no abbreviations, `--` ends options, and `-h`
//! means `--help` only when it is the sole argument. Options may follow operands, as with popt.

use super::defs::{by_long, by_short, Arg, Def};
use crate::error::{Error, Result};

/// One lexed item, in argv order.
#[derive(Debug, Clone)]
pub enum Item {
    Opt {
        def: &'static Def,
        negated: bool,
        value: Option<String>,
    },
    Operand(String),
}

fn unknown(name: &str) -> Error {
    Error::syntax(format!("{name}: unknown option"))
}

/// Lex `args` (without argv[0]).
pub fn lex(args: &[String]) -> Result<Vec<Item>> {
    let mut out = Vec::new();
    if args.len() == 1 && args[0] == "-h" {
        out.push(Item::Opt {
            def: by_long("help").unwrap(),
            negated: false,
            value: None,
        });
        return Ok(out);
    }
    let mut i = 0;
    let mut ended = false;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if ended || a == "-" || !a.starts_with('-') {
            out.push(Item::Operand(a.clone()));
            continue;
        }
        if a == "--" {
            ended = true;
            continue;
        }
        if let Some(body) = a.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let (def, negated) = match lookup_long(name) {
                Some(x) => x,
                // popt names the whole argument, value included (`--bogus=3: unknown option`).
                None => return Err(unknown(a)),
            };
            let value = match def.arg {
                Arg::None => {
                    if inline.is_some() {
                        return Err(Error::syntax(format!(
                            "--{name}: option does not take an argument"
                        )));
                    }
                    None
                }
                Arg::Required if negated => None,
                Arg::Required => match inline {
                    Some(v) => Some(v),
                    None if i < args.len() => {
                        i += 1;
                        Some(args[i - 1].clone())
                    }
                    None => {
                        return Err(Error::syntax(format!("--{name}: missing argument")));
                    }
                },
            };
            out.push(Item::Opt {
                def,
                negated,
                value,
            });
            continue;
        }
        // Short bundle.
        let chars: Vec<char> = a[1..].chars().collect();
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            j += 1;
            let def = by_short(c).ok_or_else(|| unknown(&format!("-{c}")))?;
            if def.arg == Arg::Required {
                let rest: String = chars[j..].iter().collect();
                let value = if !rest.is_empty() {
                    rest.strip_prefix('=').map(str::to_string).unwrap_or(rest)
                } else if i < args.len() {
                    i += 1;
                    args[i - 1].clone()
                } else {
                    return Err(Error::syntax(format!("-{c}: missing argument")));
                };
                out.push(Item::Opt {
                    def,
                    negated: false,
                    value: Some(value),
                });
                break;
            }
            out.push(Item::Opt {
                def,
                negated: false,
                value: None,
            });
        }
    }
    Ok(out)
}

fn lookup_long(name: &str) -> Option<(&'static Def, bool)> {
    if let Some(def) = by_long(name).filter(|d| d.long.len() > 1 || d.aliases.contains(&name)) {
        return Some((def, false));
    }
    let neg = name.strip_prefix("no-")?;
    let def = by_long(neg).filter(|d| d.long.len() > 1).or_else(|| {
        let mut cs = neg.chars();
        match (cs.next(), cs.next()) {
            (Some(c), None) => by_short(c),
            _ => None,
        }
    })?;
    // Value options rsync 3.5 lists a negation of (popt: "no-timeout", "no-bwlimit",
    // "no-iconv"); of the switches it lists --no-backup and --no-from0 but not --no-b or --no-0.
    let value_neg = matches!(def.long, "timeout" | "bwlimit" | "iconv");
    let short_form = neg.len() == 1 && def.long.len() > 1;
    let ok = if short_form {
        def.neg && !matches!(neg, "b" | "0")
    } else {
        def.neg || value_neg
    };
    ok.then_some((def, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    fn names(args: &[&str]) -> Vec<String> {
        let a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        lex(&a)
            .unwrap()
            .into_iter()
            .map(|i| match i {
                Item::Opt {
                    def,
                    negated,
                    value,
                } => {
                    format!(
                        "{}{}{}",
                        if negated { "no-" } else { "" },
                        def.long,
                        value.map(|v| format!("={v}")).unwrap_or_default()
                    )
                }
                Item::Operand(s) => format!("[{s}]"),
            })
            .collect()
    }
    #[test]
    fn bundles_and_values() {
        assert_eq!(
            names(&["-avz", "a", "b"]),
            ["archive", "verbose", "compress", "[a]", "[b]"]
        );
        assert_eq!(names(&["-e'ssh -p 2222'"]), ["rsh='ssh -p 2222'"]);
        assert_eq!(names(&["-essh -p 2"]), ["rsh=ssh -p 2"]);
        assert_eq!(names(&["-ae", "ssh", "x"]), ["archive", "rsh=ssh", "[x]"]);
        assert_eq!(names(&["--rsh=ssh", "--rsh", "x"]), ["rsh=ssh", "rsh=x"]);
        assert_eq!(
            names(&["--no-perms", "--no-p", "--no-D"]),
            ["no-perms", "no-perms", "no-D"]
        );
        assert_eq!(names(&["--", "-a"]), ["[-a]"]);
        assert_eq!(names(&["-h"]), ["help"]);
        assert_eq!(
            names(&["-hh", "x"]),
            ["human-readable", "human-readable", "[x]"]
        );
        assert_eq!(
            names(&["--del", "--log-format=%n"]),
            ["del", "out-format=%n"]
        );
        assert_eq!(names(&["-M--fake-super"]), ["remote-option=--fake-super"]);
    }
    #[test]
    fn rejects() {
        for bad in [
            &["--recurs"][..],
            &["-Z"],
            &["--D"],
            &["--no-rsync-path"],
            &["--verbose=1"],
        ] {
            let a: Vec<String> = bad.iter().map(|s| s.to_string()).collect();
            assert_eq!(lex(&a).unwrap_err().code, 1, "{bad:?}");
        }
        let a = vec!["--recurs".to_string()];
        assert_eq!(lex(&a).unwrap_err().msg, "--recurs: unknown option");
    }
}
