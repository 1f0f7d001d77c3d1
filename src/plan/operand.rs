//! Operand parsing (rsync-cli.md §1.3.3).

use crate::error::{Error, Result, RERR_SYNTAX};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Loc {
    Local(String),
    Remote {
        user: Option<String>,
        host: String,
        path: String,
    },
}

/// Daemon operands are a usage error for parasync (exit 1): scripts get a precise message.
fn daemon(arg: &str) -> Error {
    Error::new(
        RERR_SYNTAX,
        format!("{arg}: rsync daemon mode (host::module, rsync://) is not supported by parasync; use host:path over a remote shell"),
    )
}

/// Classify one operand.
pub fn parse_operand(arg: &str) -> Result<Loc> {
    if arg.len() >= 8 && arg[..8].eq_ignore_ascii_case("rsync://") {
        return Err(daemon(arg));
    }
    let b = arg.as_bytes();
    let mut user_end: Option<usize> = None;
    let mut i = 0;
    let mut host_start = 0;
    let mut bracket = false;
    while i < b.len() {
        match b[i] {
            b'/' if !bracket => return Ok(Loc::Local(arg.to_string())),
            b'@' if !bracket => {
                user_end = Some(i);
                host_start = i + 1;
            }
            b'[' if i == host_start => bracket = true,
            b']' if bracket => bracket = false,
            b':' if !bracket => {
                let host_raw = &arg[host_start..i];
                let host = host_raw
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .unwrap_or(host_raw);
                let rest = &arg[i + 1..];
                if rest.starts_with(':') {
                    return Err(daemon(arg));
                }
                if host.starts_with('-') {
                    return Err(Error::syntax(format!(
                        "The remote host name may not start with a dash: {host}"
                    )));
                }
                if host.is_empty() && user_end.is_none() {
                    // ":path" — a continuation of a remote source list.
                    return Ok(Loc::Remote {
                        user: None,
                        host: String::new(),
                        path: rest.to_string(),
                    });
                }
                let user = user_end.map(|e| arg[..e].to_string());
                return Ok(Loc::Remote {
                    user,
                    host: host.to_string(),
                    path: rest.to_string(),
                });
            }
            _ => {}
        }
        i += 1;
    }
    Ok(Loc::Local(arg.to_string()))
}

/// The resolved direction of a transfer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Remote host spec (user, host) if any.
    pub remote: Option<(Option<String>, String)>,
    /// Local role is the sender (push or local→local).
    pub local_sends: bool,
    pub sources: Vec<String>,
    pub dest: Option<String>,
    /// Sources are literal names (from `--files-from`): a remote shell must not glob them.
    pub literal: bool,
}

/// Classify all operands (sources + dest; one operand = listing mode).
pub fn plan(operands: &[String]) -> Result<Plan> {
    if operands.is_empty() {
        return Err(Error::syntax(""));
    }
    let (srcs, dest) = if operands.len() == 1 {
        (operands, None)
    } else {
        (&operands[..operands.len() - 1], operands.last())
    };
    let mut locs = Vec::new();
    for s in srcs {
        if s.is_empty() {
            return Err(Error::syntax("Empty source arg specified."));
        }
        locs.push(parse_operand(s)?);
    }
    if let Some(d) = dest {
        if d.is_empty() {
            return Err(Error::syntax(
                "Empty destination arg specified (use \".\" or see --old-args).",
            ));
        }
    }
    let dest_loc = dest.map(|d| parse_operand(d)).transpose()?;
    match &locs[0] {
        Loc::Remote { user, host, .. } => {
            if host.is_empty() {
                return Err(Error::syntax(format!("Unexpected remote arg: {}", srcs[0])));
            }
            if let Some(Loc::Remote { .. }) = dest_loc {
                // rsync reports this from its receiver-side check: "[Receiver=VERSION]".
                let mut e = Error::syntax("The source and destination cannot both be remote.");
                e.role = Some("Receiver");
                return Err(e);
            }
            let mut paths = Vec::new();
            for (l, raw) in locs.iter().zip(srcs) {
                match l {
                    Loc::Remote { host: h, path, .. } if h.is_empty() || h == host => {
                        paths.push(if path.is_empty() { ".".to_string() } else { path.clone() })
                    }
                    Loc::Remote { .. } => return Err(Error::syntax("All source args must come from the same machine.")),
                    Loc::Local(_) => {
                        return Err(Error::syntax(format!(
                            "Unexpected local arg: {raw}\nIf arg is a remote file/dir, prefix it with a colon (:)."
                        )))
                    }
                }
            }
            Ok(Plan {
                remote: Some((user.clone(), host.clone())),
                local_sends: false,
                sources: paths,
                dest: dest.cloned(),
                literal: false,
            })
        }
        Loc::Local(_) => {
            for (l, raw) in locs.iter().zip(srcs) {
                if let Loc::Remote { .. } = l {
                    return Err(Error::syntax(format!("Unexpected remote arg: {raw}")));
                }
            }
            let sources = srcs.to_vec();
            match dest_loc {
                Some(Loc::Remote { user, host, path }) => {
                    if host.is_empty() {
                        return Ok(Plan {
                            remote: None,
                            local_sends: true,
                            sources,
                            dest: dest.cloned(),
                            literal: false,
                        });
                    }
                    Ok(Plan {
                        remote: Some((user, host)),
                        local_sends: true,
                        sources,
                        dest: Some(if path.is_empty() { ".".into() } else { path }),
                        literal: false,
                    })
                }
                _ => Ok(Plan {
                    remote: None,
                    local_sends: true,
                    sources,
                    dest: dest.cloned(),
                    literal: false,
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn r(u: Option<&str>, h: &str, p: &str) -> Loc {
        Loc::Remote {
            user: u.map(str::to_string),
            host: h.to_string(),
            path: p.to_string(),
        }
    }
    #[test]
    fn hostspecs() {
        assert_eq!(parse_operand("host:path").unwrap(), r(None, "host", "path"));
        assert_eq!(
            parse_operand("u@host:p/q").unwrap(),
            r(Some("u"), "host", "p/q")
        );
        assert_eq!(
            parse_operand("a@b@host:x").unwrap(),
            r(Some("a@b"), "host", "x")
        );
        assert_eq!(parse_operand("[::1]:x").unwrap(), r(None, "::1", "x"));
        assert_eq!(
            parse_operand("u@[fe80::1]:").unwrap(),
            r(Some("u"), "fe80::1", "")
        );
        assert_eq!(parse_operand("./a:b").unwrap(), Loc::Local("./a:b".into()));
        assert_eq!(
            parse_operand("dir/x:y").unwrap(),
            Loc::Local("dir/x:y".into())
        );
        assert_eq!(parse_operand("plain").unwrap(), Loc::Local("plain".into()));
        assert_eq!(parse_operand(":more").unwrap(), r(None, "", "more"));
        assert_eq!(parse_operand("h::mod").unwrap_err().code, 1);
        assert_eq!(parse_operand("rsync://h/m").unwrap_err().code, 1);
        assert_eq!(parse_operand("RSYNC://h/m").unwrap_err().code, 1);
    }
    #[test]
    fn plans() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let p = plan(&s(&["h:a", ":b", "d"])).unwrap();
        assert_eq!(p.sources, ["a", "b"]);
        assert!(!p.local_sends);
        assert!(plan(&s(&["h:a", "b", "d"]))
            .unwrap_err()
            .msg
            .starts_with("Unexpected local arg: b"));
        assert!(plan(&s(&["h:a", "g:b", "d"])).is_err());
        assert!(plan(&s(&["h:a", "g:b"]))
            .unwrap_err()
            .msg
            .contains("both be remote"));
        let p = plan(&s(&["a", "u@h:"])).unwrap();
        assert_eq!(p.dest.as_deref(), Some("."));
        assert_eq!(p.remote, Some((Some("u".into()), "h".into())));
        assert_eq!(
            plan(&s(&["", "d"])).unwrap_err().msg,
            "Empty source arg specified."
        );
    }
}
