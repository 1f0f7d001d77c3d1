//! Source operands → where the walk starts: the on-disk path, the name the item gets in the
//! transfer, and (with `-R`) the directories implied by that name.
//!
//! Rules (rsync(1), rsync-cli.md §1.3.1 and the `--relative` entry):
//! - a trailing `/` (or `/.`) means "the directory's contents": the item is named `.`;
//! - without `-R` only the last path component is the name;
//! - with `-R` the whole path is the name, minus a leading `/`; the first `/./` cuts the path:
//!   what precedes it is only the place to read from. Every directory of the name ("implied
//!   directory") is sent too, with its own attributes, unless `--no-implied-dirs`;
//! - a `..` component in a relative name is refused (rsync 3.5: `found ".." dir in relative
//!   path`, exit 1), since the receiver would have to climb out of the destination;
//! - rsync shows an absolute `-R` name with its leading `/` in `-v` lines (the files still land
//!   under the destination), and a name starting with `./` (no `/./` elsewhere) sends `.` as an
//!   implied directory.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// One source operand, resolved: `path` on disk, `name` in the transfer ("." for `src/`).
#[derive(Clone, Debug)]
pub struct Source {
    pub path: PathBuf,
    pub name: Vec<u8>,
    /// Trailing slash or `/.`: transfer the directory's contents.
    pub contents: bool,
    /// `-R`: the directory `name` is relative to (implied directory `p` is `base/p`).
    pub base: PathBuf,
    /// `-R`: `.` itself is an implied directory (operand `./x` without a later `/./`).
    pub implied_dot: bool,
    /// `-R` with an absolute path and no `/./`: shown with a leading `/`.
    pub absolute: bool,
}

fn os(b: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(b))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn is_contents(op: &[u8]) -> bool {
    op.ends_with(b"/") || op.ends_with(b"/.") || op == b"."
}

impl Source {
    /// rsync's trailing-slash rule (rsync-cli.md §1.3.1), without `-R`.
    pub fn from_operand(op: &[u8]) -> Source {
        let contents = is_contents(op);
        let trimmed: &[u8] = {
            let mut t = op;
            while t.len() > 1 && t.ends_with(b"/") {
                t = &t[..t.len() - 1];
            }
            t
        };
        let path = os(if op.is_empty() { b"." } else { op });
        let name = if contents {
            b".".to_vec()
        } else {
            let base = trimmed.rsplit(|b| *b == b'/').next().unwrap_or(trimmed);
            if base.is_empty() || base == b".." {
                b".".to_vec()
            } else {
                base.to_vec()
            }
        };
        Source {
            base: path.clone(),
            path,
            name,
            contents: contents || name_is_dot(trimmed),
            implied_dot: false,
            absolute: false,
        }
    }

    /// `-R`: the full path is the name, cut at the first `/./`.
    pub fn relative(op: &[u8]) -> Result<Source, String> {
        let (base, rest, absolute, dot): (&[u8], &[u8], bool, bool) = match find(op, b"/./") {
            Some(0) => (b"/", &op[3..], false, false),
            Some(i) => (&op[..i], &op[i + 3..], false, false),
            None if op.starts_with(b"/") => (b"/", op, true, false),
            None => (b".", op, false, op.starts_with(b"./")),
        };
        let mut comps: Vec<&[u8]> = Vec::new();
        for c in rest.split(|b| *b == b'/') {
            match c {
                b"" | b"." => {}
                b".." => {
                    let mut shown = op;
                    while shown.len() > 1 && shown.ends_with(b"/") {
                        shown = &shown[..shown.len() - 1];
                    }
                    return Err(format!(
                        "found \"..\" dir in relative path: {}",
                        String::from_utf8_lossy(shown)
                    ));
                }
                c => comps.push(c),
            }
        }
        let name = if comps.is_empty() {
            b".".to_vec()
        } else {
            comps.join(&b'/')
        };
        let is_dot = name == b".";
        Ok(Source {
            path: os(if op.is_empty() { b"." } else { op }),
            contents: is_contents(op) || is_dot,
            base: os(base),
            implied_dot: dot && !is_dot,
            absolute: absolute && !is_dot,
            name,
        })
    }

    /// Parse an operand with or without `-R`.
    pub fn parse(op: &[u8], relative: bool) -> Result<Source, String> {
        if relative {
            Source::relative(op)
        } else {
            Ok(Source::from_operand(op))
        }
    }

    /// The implied directories of a `-R` name, outermost first: (name, path on disk).
    pub fn implied(&self) -> Vec<(Vec<u8>, PathBuf)> {
        let mut v = Vec::new();
        if self.implied_dot {
            v.push((b".".to_vec(), self.base.clone()));
        }
        if self.name == b"." {
            return v;
        }
        let mut at = 0;
        while let Some(i) = self.name[at..].iter().position(|b| *b == b'/') {
            let prefix = &self.name[..at + i];
            v.push((prefix.to_vec(), self.base.join(OsStr::from_bytes(prefix))));
            at += i + 1;
        }
        v
    }
}

fn name_is_dot(t: &[u8]) -> bool {
    t == b"." || t == b"/" || t.ends_with(b"/..") || t == b".."
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(op: &str) -> (String, String, bool, Vec<String>) {
        let s = Source::relative(op.as_bytes()).unwrap();
        (
            String::from_utf8(s.name.clone()).unwrap(),
            s.base.to_string_lossy().into_owned(),
            s.contents,
            s.implied()
                .into_iter()
                .map(|(n, p)| format!("{}={}", String::from_utf8(n).unwrap(), p.display()))
                .collect(),
        )
    }

    #[test]
    fn relative_names() {
        assert_eq!(
            rel("src/a/b"),
            (
                "src/a/b".into(),
                ".".into(),
                false,
                vec!["src=./src".into(), "src/a=./src/a".into()]
            )
        );
        assert_eq!(
            rel("src/./a/b/"),
            ("a/b".into(), "src".into(), true, vec!["a=src/a".into()])
        );
        // Only the first marker cuts; later ones are just cleaned away.
        assert_eq!(rel("s/a/./b/./c").0, "b/c");
        assert_eq!(rel("src/./").0, ".");
        assert!(rel("src/./").2);
        assert_eq!(rel("/tmp/x").3, vec!["tmp=/tmp".to_string()]);
        assert!(Source::relative(b"/tmp/x").unwrap().absolute);
        assert!(!Source::relative(b"/./tmp/x").unwrap().absolute);
        assert_eq!(
            rel("./s/f").3,
            vec!["=.".replace('=', ".="), "s=./s".into()]
        );
        assert_eq!(rel("s//a/f").0, "s/a/f");
        assert_eq!(
            Source::relative(b"s/x/../").unwrap_err(),
            "found \"..\" dir in relative path: s/x/.."
        );
    }

    #[test]
    fn plain_names() {
        let s = Source::from_operand(b"a/b/");
        assert_eq!((s.name.as_slice(), s.contents), (&b"."[..], true));
        let s = Source::from_operand(b"a/b");
        assert_eq!((s.name.as_slice(), s.contents), (&b"b"[..], false));
        assert!(s.implied().is_empty() || !s.implied_dot);
    }
}
