//! One filter rule: its text syntax (rsync.1 "FILTER RULES IN DEPTH", "FILTER RULE MODIFIERS",
//! "MERGE-FILE FILTER RULES") and how its pattern is matched against a path (rsync.1 "PATTERN
//! MATCHING RULES"; the matching mirrors rsync's `exclude.c` so corner cases — patterns with
//! slashes matching the trailing path elements, `**` retrying after every slash, `dir/***` — give
//! the same answers).

use super::wildmatch::{has_wildcard, wildmatch_where};
use crate::error::{Error, Result};
use std::borrow::Cow;

/// Which side asks: the sender hides, the receiver protects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Sender,
    Receiver,
}

/// Modifiers shared by include/exclude rules and by merge rules (as defaults for the rules they
/// read).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mods {
    pub sender: bool,
    pub receiver: bool,
    pub perishable: bool,
    /// `/`: match against the absolute path.
    pub abs: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub include: bool,
    /// The pattern as written (for serialisation).
    pub text: Vec<u8>,
    /// The pattern as matched: no trailing `/`; a leading `/` is kept (anchor).
    pat: Vec<u8>,
    pub negate: bool,
    pub mods: Mods,
    pub xattr: bool,
    /// Read from a file (rsync's `-vv` then says "<rule from a file read earlier>").
    pub from_file: bool,
    /// Part of `-C`'s global list (`-vv` says "[global CVS]").
    pub global_cvs: bool,
    dir_only: bool,
    wild: bool,
    wild2: bool,
    wild2_prefix: bool,
    wild3_suffix: bool,
    slash_cnt: usize,
}

impl Rule {
    pub fn new(include: bool, text: &[u8], negate: bool, mods: Mods) -> Rule {
        let mut pat = text.to_vec();
        let mut dir_only = false;
        if pat.len() > 1 && pat.ends_with(b"/") {
            pat.pop();
            dir_only = true;
        }
        let wild = has_wildcard(&pat);
        let star2 = pat.windows(2).position(|w| w == b"**");
        let wild2 = wild && star2.is_some();
        Rule {
            include,
            text: text.to_vec(),
            negate,
            mods,
            xattr: false,
            from_file: false,
            global_cvs: false,
            dir_only,
            wild,
            wild2,
            wild2_prefix: wild2 && star2 == Some(0),
            wild3_suffix: wild2 && pat.ends_with(b"***"),
            slash_cnt: pat.iter().filter(|b| **b == b'/').count(),
            pat,
        }
    }

    /// A rule read from a per-directory file in `abs_dir` (absolute, no trailing slash): an
    /// anchored pattern matches relative to that directory, which rsync implements by making it
    /// an absolute-path rule rooted there.
    pub fn anchor_at(mut self, abs_dir: &[u8]) -> Rule {
        if self.pat.starts_with(b"/") && !self.mods.abs {
            let mut p = abs_dir.to_vec();
            p.extend_from_slice(&self.pat);
            let text = self.text.clone();
            self = Rule::new(
                self.include,
                &if self.dir_only {
                    [&p[..], b"/"].concat()
                } else {
                    p
                },
                self.negate,
                Mods {
                    abs: true,
                    ..self.mods
                },
            );
            self.text = text;
            self.from_file = true;
        }
        self
    }

    /// Does this rule take part on `side`? (`--delete-excluded` makes plain rules sender-only.)
    pub fn applies(&self, side: Side, delete_excluded: bool) -> bool {
        let (s, r) = (self.mods.sender, self.mods.receiver);
        match side {
            Side::Sender => s || !r,
            Side::Receiver => r || (!s && !delete_excluded),
        }
    }

    /// Match `name` (relative to the transfer root) whose root is `abs_root` (absolute).
    pub fn matches(&self, name: &[u8], is_dir: bool, abs_root: &[u8]) -> bool {
        if self.xattr || name.is_empty() {
            return false;
        }
        if !is_dir && self.dir_only {
            return self.negate;
        }
        // Borrow the name in the common cases; build a new text only when rsync prepends or
        // appends something.
        let text: Cow<[u8]> = if self.slash_cnt == 0 && !self.wild2 {
            Cow::Borrowed(name.rsplit(|b| *b == b'/').next().unwrap_or(name))
        } else if self.mods.abs {
            let mut t = abs_root.strip_prefix(b"/").unwrap_or(abs_root).to_vec();
            if !t.is_empty() {
                t.push(b'/');
            }
            t.extend_from_slice(name);
            Cow::Owned(t)
        } else if self.wild2_prefix {
            Cow::Owned([b"/", name].concat())
        } else {
            Cow::Borrowed(name)
        };
        let text = if is_dir && self.wild3_suffix {
            Cow::Owned([&text[..], b"/"].concat())
        } else {
            text
        };
        let (anchored, pat) = match self.pat.strip_prefix(b"/") {
            Some(p) => (true, p),
            None => (false, &self.pat[..]),
        };
        let hit = if self.wild {
            let where_ = if anchored {
                0
            } else if self.slash_cnt > 0 && !self.wild2 {
                self.slash_cnt as i32 + 1
            } else if self.wild2 && !self.wild2_prefix {
                -1
            } else {
                0
            };
            wildmatch_where(pat, &text, where_)
        } else if anchored {
            text == pat
        } else {
            text.ends_with(pat)
                && (text.len() == pat.len() || text[text.len() - pat.len() - 1] == b'/')
        };
        hit != self.negate
    }

    /// Back to rule syntax (used on the wire).
    pub fn to_text(&self) -> Vec<u8> {
        let mut v = vec![if self.include { b'+' } else { b'-' }];
        push_mods(&mut v, &self.mods);
        if self.negate {
            v.push(b'!');
        }
        if self.xattr {
            v.push(b'x');
        }
        v.push(b' ');
        v.extend_from_slice(&self.text);
        v
    }
}

pub fn push_mods(v: &mut Vec<u8>, m: &Mods) {
    for (on, c) in [
        (m.abs, b'/'),
        (m.sender, b's'),
        (m.receiver, b'r'),
        (m.perishable, b'p'),
    ] {
        if on {
            v.push(c);
        }
    }
}

/// How a merge file's content is read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergeSpec {
    /// As written (a leading `/` on a dir-merge name asks for the parent-directory scan).
    pub name: Vec<u8>,
    /// `-`/`+`: every line is a pattern of that kind (Some(include)).
    pub no_prefix: Option<bool>,
    /// Internal: `--exclude-from`/`--include-from` (lines may still start with "- " / "+ ";
    /// others are rules of the given kind: Some(include)).
    pub old_prefix: Option<bool>,
    pub cvs: bool,
    pub inherit: bool,
    pub word_split: bool,
    pub exclude_self: bool,
    pub mods: Mods,
}

impl MergeSpec {
    pub fn to_text(&self) -> Vec<u8> {
        let mut v = b":".to_vec();
        if !self.inherit {
            v.push(b'n');
        }
        if self.word_split {
            v.push(b'w');
        }
        if self.cvs {
            v.push(b'C');
        }
        match self.no_prefix {
            Some(true) => v.push(b'+'),
            Some(false) => v.push(b'-'),
            None => {}
        }
        push_mods(&mut v, &self.mods);
        v.push(b' ');
        v.extend_from_slice(&self.name);
        v
    }
}

/// One parsed rule token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    Rule(Rule),
    Clear,
    Merge(MergeSpec),
    DirMerge(MergeSpec),
    /// `-C`: the CVS default excludes (with these modifiers).
    Cvs(Mods),
}

/// The context a rule text is parsed in: defaults from the enclosing merge rule.
#[derive(Clone, Debug, Default)]
pub struct Template {
    pub no_prefix: Option<bool>,
    pub old_prefix: Option<bool>,
    pub mods: Mods,
}

fn bad(s: &[u8]) -> Error {
    err("Unknown filter rule:", s)
}

fn err(what: &str, s: &[u8]) -> Error {
    Error::syntax(format!("{what} {}", String::from_utf8_lossy(s)))
}

const LONG: &[(&str, u8)] = &[
    ("exclude", b'-'),
    ("include", b'+'),
    ("hide", b'H'),
    ("show", b'S'),
    ("protect", b'P'),
    ("risk", b'R'),
    ("clear", b'!'),
    ("merge", b'.'),
    ("dir-merge", b':'),
];

/// Parse one rule (a command-line argument or one line/word of a merge file).
pub fn parse(s: &[u8], t: &Template) -> Result<Parsed> {
    if let Some(include) = t.no_prefix {
        if s == b"!" {
            return Ok(Parsed::Clear);
        }
        return Ok(Parsed::Rule(Rule::new(include, s, false, t.mods)));
    }
    if let Some(include) = t.old_prefix {
        return Ok(match s {
            b"!" => Parsed::Clear,
            [b'-', b' ', rest @ ..] => Parsed::Rule(Rule::new(false, rest, false, t.mods)),
            [b'+', b' ', rest @ ..] => Parsed::Rule(Rule::new(true, rest, false, t.mods)),
            _ => Parsed::Rule(Rule::new(include, s, false, t.mods)),
        });
    }
    // Rule name: a long word followed by ',', ' ', '_' or the end; else one character.
    let long = LONG.iter().find(|(w, _)| {
        s.starts_with(w.as_bytes()) && matches!(s.get(w.len()), None | Some(b',' | b' ' | b'_'))
    });
    let (kind, mut rest) = match long {
        Some((w, k)) => {
            let r = &s[w.len()..];
            (*k, r.strip_prefix(b",").unwrap_or(r))
        }
        None => match s.first() {
            Some(c) => (*c, s[1..].strip_prefix(b",").unwrap_or(&s[1..])),
            None => return Err(bad(s)),
        },
    };
    let mut mods = t.mods;
    let mut negate = false;
    let mut xattr = false;
    let mut cvs = false;
    let mut spec = MergeSpec {
        inherit: true,
        ..Default::default()
    };
    let is_merge = matches!(kind, b'.' | b':');
    match kind {
        b'-' | b'+' | b'.' | b':' | b'!' => {}
        b'H' => mods.sender = true,
        b'S' => mods.sender = true,
        b'P' => mods.receiver = true,
        b'R' => mods.receiver = true,
        _ => return Err(bad(s)),
    }
    while let Some(&c) = rest.first() {
        if c == b' ' || c == b'_' {
            break;
        }
        match c {
            b'/' => mods.abs = true,
            b's' => mods.sender = true,
            b'r' => mods.receiver = true,
            b'p' => mods.perishable = true,
            b'C' => cvs = true,
            b'!' if !is_merge && kind != b'!' => negate = true,
            b'x' if !is_merge && kind != b'!' => xattr = true,
            b'-' if is_merge => spec.no_prefix = Some(false),
            b'+' if is_merge => spec.no_prefix = Some(true),
            b'e' if is_merge => spec.exclude_self = true,
            b'n' if is_merge => spec.inherit = false,
            b'w' if is_merge => spec.word_split = true,
            _ => {
                let at = s.len() - rest.len();
                let what = format!(
                    "invalid modifier '{}' at position {at} in filter rule:",
                    c as char
                );
                return Err(err(&what, s));
            }
        }
        rest = &rest[1..];
    }
    let pat = match rest.first() {
        Some(b' ' | b'_') => &rest[1..],
        _ => rest,
    };
    let include = matches!(kind, b'+' | b'S' | b'R');
    Ok(match kind {
        b'!' if pat.is_empty() => Parsed::Clear,
        b'!' => return Err(err("'!' rule has trailing characters:", s)),
        b'.' | b':' => {
            if cvs {
                spec.cvs = true;
                spec.no_prefix = Some(false);
                spec.word_split = true;
                spec.inherit = false;
            }
            spec.name = if pat.is_empty() && cvs {
                b".cvsignore".to_vec()
            } else {
                pat.to_vec()
            };
            if spec.name.is_empty() {
                return Err(err("unexpected end of filter rule:", s));
            }
            spec.mods = mods;
            if kind == b'.' {
                Parsed::Merge(spec)
            } else {
                Parsed::DirMerge(spec)
            }
        }
        _ if cvs && !include => {
            if !pat.is_empty() {
                return Err(bad(s));
            }
            Parsed::Cvs(mods)
        }
        _ if pat.is_empty() => return Err(err("unexpected end of filter rule:", s)),
        _ => {
            let mut r = Rule::new(include, pat, negate, mods);
            r.xattr = xattr;
            Parsed::Rule(r)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> Rule {
        match parse(s.as_bytes(), &Template::default()).unwrap() {
            Parsed::Rule(r) => r,
            p => panic!("{s}: {p:?}"),
        }
    }
    fn m(s: &str, name: &str, dir: bool) -> bool {
        rule(s).matches(name.as_bytes(), dir, b"/home/me/src")
    }

    #[test]
    fn syntax() {
        let r = rule("- *.o");
        assert!(!r.include && r.text == b"*.o");
        assert!(rule("+ foo").include);
        assert!(rule("-_foo").text == b"foo");
        assert_eq!(rule("- foo ").text, b"foo ");
        assert_eq!(rule("-  foo").text, b" foo");
        assert!(rule("exclude foo").text == b"foo");
        assert!(rule("include,s foo").mods.sender);
        assert!(rule("H foo").mods.sender && !rule("H foo").include);
        assert!(rule("S foo").mods.sender && rule("S foo").include);
        assert!(rule("P foo").mods.receiver && !rule("P foo").include);
        assert!(rule("R foo").mods.receiver && rule("R foo").include);
        assert!(rule("-! */").negate);
        assert!(rule("-p foo").mods.perishable);
        assert!(rule("-/ /etc/passwd").mods.abs);
        assert_eq!(parse(b"!", &Template::default()).unwrap(), Parsed::Clear);
        assert_eq!(
            parse(b"clear", &Template::default()).unwrap(),
            Parsed::Clear
        );
        assert!(matches!(
            parse(b"-C", &Template::default()).unwrap(),
            Parsed::Cvs(_)
        ));
        match parse(b":n- .excl", &Template::default()).unwrap() {
            Parsed::DirMerge(s) => {
                assert!(!s.inherit && s.no_prefix == Some(false) && s.name == b".excl")
            }
            p => panic!("{p:?}"),
        }
        match parse(b"dir-merge,e .rules", &Template::default()).unwrap() {
            Parsed::DirMerge(s) => assert!(s.exclude_self && s.inherit),
            p => panic!("{p:?}"),
        }
        match parse(b":C", &Template::default()).unwrap() {
            Parsed::DirMerge(s) => assert!(s.cvs && s.word_split && s.name == b".cvsignore"),
            p => panic!("{p:?}"),
        }
        assert!(matches!(
            parse(b". /etc/rules", &Template::default()).unwrap(),
            Parsed::Merge(_)
        ));
        for bad in ["", "x foo", "-", "-q foo", "! foo", "exclud foo"] {
            assert!(
                parse(bad.as_bytes(), &Template::default()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn matching() {
        assert!(m("- *.o", "a/b/c.o", false));
        assert!(!m("- *.o", "a/b.o/c", false));
        assert!(m("- /foo", "foo", false));
        assert!(!m("- /foo", "x/foo", false));
        assert!(m("- foo", "x/foo", false));
        assert!(m("- foo/", "x/foo", true));
        assert!(!m("- foo/", "x/foo", false));
        assert!(m("- foo/*/bar", "foo/x/bar", false));
        assert!(m("- foo/*/bar", "a/foo/x/bar", false));
        assert!(!m("- foo/*/bar", "foo/bar", false));
        assert!(m("- /foo/**/bar", "foo/x/y/bar", false));
        assert!(!m("- /foo/**/bar", "foo/bar", false));
        assert!(m("- dir/***", "dir", true));
        assert!(m("- dir/***", "dir/a/b", false));
        assert!(m("- dir/***", "x/dir/a", false));
        assert!(!m("- dir/***", "dir", false));
        assert!(m("- sub/file", "a/sub/file", false));
        assert!(!m("- sub/file", "a/xsub/file", false));
        assert!(m("- **/x", "x", false));
        assert!(m("- a**z", "b/a/q/z", false));
        assert!(m("-! */", "f", false));
        assert!(!m("-! */", "d", true));
        assert!(m("-/ /home/me/src/a", "a", false));
        assert!(m("-/ src/a", "a", false));
        assert!(m("- foo\\bar", "foo\\bar", false));
        assert!(m("- foo\\*", "foo*", false));
        assert!(!m("- foo\\*", "foox", false));
    }

    #[test]
    fn per_dir_anchor() {
        let r = rule("- /bar").anchor_at(b"/t/src/sub");
        assert!(r.matches(b"sub/bar", false, b"/t/src"));
        assert!(!r.matches(b"bar", false, b"/t/src"));
        assert!(!r.matches(b"sub/x/bar", false, b"/t/src"));
    }

    #[test]
    fn sides() {
        let plain = rule("- a");
        assert!(plain.applies(Side::Sender, false) && plain.applies(Side::Receiver, false));
        assert!(!plain.applies(Side::Receiver, true));
        let p = rule("P a");
        assert!(!p.applies(Side::Sender, false) && p.applies(Side::Receiver, true));
        let h = rule("H a");
        assert!(h.applies(Side::Sender, false) && !h.applies(Side::Receiver, false));
    }
}
