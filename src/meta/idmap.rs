//! `--usermap`, `--groupmap` and `--chown` (rsync uidlist.c, rsync(1) "--usermap"): the receiver
//! maps each sender (id, name) to a local id with the first matching rule.
//!
//! rsync's rules followed here: the value is a comma-separated list of `FROM:TO`; FROM is a name,
//! a wildcard pattern (`*`, `?`, `[` — matched with rsync's wildmatch against the sender's name),
//! a number or a `LOW-HIGH` range of numbers (matched against the sender's id); TO is a number or
//! a name looked up on the receiver. A TO name unknown here is reported ("Unknown --usermap name on
//! receiver") and its rule dropped; a rule without a colon or with a bad number is a usage error.
//! rsync parses the list from its end, so the last bad rule is the one reported. With
//! `--numeric-ids` no names are compared. An id the sender sent without a name (0 is never sent by
//! name) is matched by the receiver's name for it, as rsync's receiver does.

use crate::error::{Error, Result};
use crate::filter::wildmatch::{has_wildcard, wildmatch};

#[derive(Clone, Debug, PartialEq, Eq)]
enum From {
    Ids(u32, u32),
    Name(Vec<u8>),
    Wild(Vec<u8>),
}

#[derive(Clone, Debug, Default)]
pub struct IdMap {
    rules: Vec<(From, u32)>,
}

fn number(s: &str) -> Option<u32> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

impl IdMap {
    /// Parse `spec` for `kind` ("usermap" or "groupmap"); `lookup` resolves a TO name here,
    /// `warn` receives the "Unknown … name" notes.
    pub fn parse(
        kind: &str,
        spec: &str,
        lookup: &dyn Fn(&[u8]) -> Option<u32>,
        warn: &mut dyn FnMut(String),
    ) -> Result<IdMap> {
        let mut rules = Vec::new();
        for item in spec.split(',').rev().filter(|i| !i.is_empty()) {
            let Some((from, to)) = item.split_once(':') else {
                return Err(Error::syntax(format!("No colon found in --{kind}: {item}")));
            };
            let bad = || Error::syntax(format!("Invalid number in --{kind}: {from}"));
            let from = if has_wildcard(from.as_bytes()) {
                From::Wild(from.as_bytes().to_vec())
            } else if from.starts_with(|c: char| c.is_ascii_digit()) {
                match from.split_once('-') {
                    Some((lo, hi)) => {
                        From::Ids(number(lo).ok_or_else(bad)?, number(hi).ok_or_else(bad)?)
                    }
                    None => {
                        let id = number(from).ok_or_else(bad)?;
                        From::Ids(id, id)
                    }
                }
            } else {
                From::Name(from.as_bytes().to_vec())
            };
            let to = match number(to) {
                Some(id) => id,
                None => match lookup(to.as_bytes()) {
                    Some(id) => id,
                    None => {
                        warn(format!("Unknown --{kind} name on receiver: {to}"));
                        continue;
                    }
                },
            };
            rules.push((from, to));
        }
        rules.reverse();
        Ok(IdMap { rules })
    }

    /// The mapped id of the sender's (`id`, `name`), if a rule matches.
    /// `name` is empty when the id has none (or with `--numeric-ids`).
    pub fn map(&self, id: u32, name: &[u8]) -> Option<u32> {
        self.rules.iter().find_map(|(from, to)| {
            let hit = match from {
                From::Ids(lo, hi) => (*lo..=*hi).contains(&id),
                From::Name(n) => n == name,
                From::Wild(p) => wildmatch(p, name),
            };
            hit.then_some(*to)
        })
    }
}

/// The run's user and group maps.
#[derive(Clone, Debug, Default)]
pub struct Maps {
    pub user: Option<IdMap>,
    pub group: Option<IdMap>,
}

impl Maps {
    /// Parse `--usermap`/`--groupmap` (also set by `--chown`) with local names from `names`.
    pub fn load(
        o: &crate::cli::Options,
        names: &crate::flist::names::NameCache,
        warn: &mut dyn FnMut(String),
    ) -> Result<Maps> {
        let user = match &o.usermap {
            Some(s) => Some(IdMap::parse("usermap", s, &|n| names.uid_of(n), warn)?),
            None => None,
        };
        let group = match &o.groupmap {
            Some(s) => Some(IdMap::parse("groupmap", s, &|n| names.gid_of(n), warn)?),
            None => None,
        };
        Ok(Maps { user, group })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn lookup(n: &[u8]) -> Option<u32> {
        match n {
            b"bin" => Some(2),
            b"adm" => Some(4),
            _ => None,
        }
    }
    #[test]
    fn rules_in_order_first_match_wins() {
        let mut notes = Vec::new();
        let m = IdMap::parse(
            "usermap",
            "roo?:bin,0:7,1000-1999:adm,nobody:nosuch,*:99",
            &lookup,
            &mut |s| notes.push(s),
        )
        .unwrap();
        assert_eq!(notes, ["Unknown --usermap name on receiver: nosuch"]);
        assert_eq!(m.map(0, b"root"), Some(2));
        assert_eq!(m.map(0, b""), Some(7));
        assert_eq!(m.map(1500, b"x"), Some(4));
        assert_eq!(m.map(5, b"nobody"), Some(99));
        assert_eq!(m.map(5, b""), Some(99), "* matches an id without a name");
        let m = IdMap::parse("usermap", "nobody:bin", &lookup, &mut |_| {}).unwrap();
        assert_eq!(m.map(5, b""), None);
    }
    #[test]
    fn errors_report_the_last_bad_rule() {
        let err = |s: &str| {
            IdMap::parse("groupmap", s, &lookup, &mut |_| {})
                .unwrap_err()
                .msg
        };
        assert_eq!(err("bin"), "No colon found in --groupmap: bin");
        assert_eq!(err("1-:2,zz"), "No colon found in --groupmap: zz");
        assert_eq!(err("zz:2,1-:2"), "Invalid number in --groupmap: 1-");
        assert_eq!(err("5x:2"), "Invalid number in --groupmap: 5x");
    }
}
