//! rsync's wildcard matcher (rsync.1 "PATTERN MATCHING RULES"; the algorithm of rsync's
//! `lib/wildmatch.c`, written here from its documented behaviour):
//!
//! - `?` one character other than `/`; `*` any run of non-`/` characters;
//! - `**` (two or more stars) any run of characters including `/`;
//! - `[...]` one character (never `/`) from a class: ranges `a-z`, negation `[!...]`/`[^...]`,
//!   POSIX classes `[[:alpha:]]`, a leading `]` is literal, `\` escapes inside;
//! - `\x` matches `x` literally.
//!
//! The matcher returns more than true/false so a failing `*` can tell its callers to stop
//! trying later start positions (the "abort" results), which keeps `*a*b*c` patterns linear in
//! practice instead of exponential.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum M {
    Yes,
    No,
    /// The text ran out: no later start position can match either.
    AbortAll,
    /// A single `*` hit a `/`: only an enclosing `**` may retry further on.
    AbortToStarStar,
}

fn class_ok(name: &[u8], c: u8) -> Option<bool> {
    Some(match name {
        b"alnum" => c.is_ascii_alphanumeric(),
        b"alpha" => c.is_ascii_alphabetic(),
        b"blank" => c == b' ' || c == b'\t',
        b"cntrl" => c.is_ascii_control(),
        b"digit" => c.is_ascii_digit(),
        b"graph" => c.is_ascii_graphic(),
        b"lower" => c.is_ascii_lowercase(),
        b"print" => c.is_ascii_graphic() || c == b' ',
        b"punct" => c.is_ascii_punctuation(),
        b"space" => c.is_ascii_whitespace() || c == 0x0b,
        b"upper" => c.is_ascii_uppercase(),
        b"xdigit" => c.is_ascii_hexdigit(),
        _ => return None,
    })
}

/// Match a bracket expression starting just after `[` at `p[pi]` against `tc`.
/// Returns (matched, index of the closing `]`) or None when the pattern is malformed.
fn bracket(p: &[u8], mut pi: usize, tc: u8) -> Option<(bool, usize)> {
    let at = |i: usize| p.get(i).copied().unwrap_or(0);
    let mut pc = at(pi);
    let negated = pc == b'!' || pc == b'^';
    if negated {
        pi += 1;
        pc = at(pi);
    }
    let mut prev: u8 = 0;
    let mut matched = false;
    loop {
        if pc == 0 {
            return None;
        }
        if pc == b'\\' {
            pi += 1;
            pc = at(pi);
            if pc == 0 {
                return None;
            }
            matched |= tc == pc;
        } else if pc == b'-' && prev != 0 && at(pi + 1) != 0 && at(pi + 1) != b']' {
            pi += 1;
            let mut hi = at(pi);
            if hi == b'\\' {
                pi += 1;
                hi = at(pi);
                if hi == 0 {
                    return None;
                }
            }
            matched |= tc >= prev && tc <= hi;
            pc = 0;
        } else if pc == b'[' && at(pi + 1) == b':' {
            let start = pi + 2;
            let mut end = start;
            while at(end) != 0 && at(end) != b']' {
                end += 1;
            }
            if at(end) == 0 {
                return None;
            }
            if end < start + 1 || at(end - 1) != b':' {
                // No ":]": a plain '[' in the set.
                matched |= tc == b'[';
            } else {
                matched |= class_ok(&p[start..end - 1], tc)?;
                pi = end;
                pc = 0;
            }
        } else {
            matched |= tc == pc;
        }
        prev = pc;
        pi += 1;
        pc = at(pi);
        if pc == b']' {
            break;
        }
    }
    Some((matched != negated && tc != b'/', pi))
}

fn dowild(p: &[u8], t: &[u8]) -> M {
    let (mut pi, mut ti) = (0usize, 0usize);
    while pi < p.len() {
        let pc = p[pi];
        if ti >= t.len() && pc != b'*' {
            return M::AbortAll;
        }
        match pc {
            b'\\' => {
                pi += 1;
                if p.get(pi) != Some(&t[ti]) {
                    return M::No;
                }
            }
            b'?' => {
                if t[ti] == b'/' {
                    return M::No;
                }
            }
            b'*' => {
                let double = p.get(pi + 1) == Some(&b'*');
                while p.get(pi) == Some(&b'*') {
                    pi += 1;
                }
                if pi == p.len() {
                    // Trailing star: a single one may not cross a '/'.
                    return if !double && t[ti..].contains(&b'/') {
                        M::No
                    } else {
                        M::Yes
                    };
                }
                while ti < t.len() {
                    let m = dowild(&p[pi..], &t[ti..]);
                    if m != M::No {
                        if !double || m != M::AbortToStarStar {
                            return m;
                        }
                    } else if !double && t[ti] == b'/' {
                        return M::AbortToStarStar;
                    }
                    ti += 1;
                }
                return M::AbortAll;
            }
            b'[' => match bracket(p, pi + 1, t[ti]) {
                None => return M::AbortAll,
                Some((false, _)) => return M::No,
                Some((true, end)) => pi = end,
            },
            c => {
                if c != t[ti] {
                    return M::No;
                }
            }
        }
        pi += 1;
        ti += 1;
    }
    if ti == t.len() {
        M::Yes
    } else {
        M::No
    }
}

/// Does `pattern` match the whole of `text`?
pub fn wildmatch(pattern: &[u8], text: &[u8]) -> bool {
    dowild(pattern, text) == M::Yes
}

/// rsync's `wildmatch_array` slash handling: `where == 0` matches the whole text, `where > 0`
/// only its last `where` slash-separated elements, `where < 0` the text or any suffix that
/// starts right after a `/`.
pub fn wildmatch_where(pattern: &[u8], text: &[u8], where_: i32) -> bool {
    let mut t = text;
    if where_ > 0 {
        let mut n = where_;
        for i in (0..text.len()).rev() {
            if text[i] == b'/' {
                n -= 1;
                if n == 0 {
                    t = &text[i + 1..];
                    break;
                }
            }
        }
    }
    loop {
        match dowild(pattern, t) {
            M::Yes => return true,
            M::No if where_ < 0 => match t.iter().position(|b| *b == b'/') {
                Some(i) => t = &t[i + 1..],
                None => return false,
            },
            _ => return false,
        }
    }
}

/// Does the pattern use any wildcard (rsync only interprets backslashes when it does)?
pub fn has_wildcard(p: &[u8]) -> bool {
    p.iter().any(|b| matches!(b, b'*' | b'?' | b'['))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        // (pattern, text, expected) — cases from rsync's documented semantics and its
        // wildtest suite's spirit.
        let cases: &[(&str, &str, bool)] = &[
            ("foo", "foo", true),
            ("foo", "bar", false),
            ("", "", true),
            ("???", "foo", true),
            ("??", "foo", false),
            ("*", "foo", true),
            ("f*", "foo", true),
            ("*f", "foo", false),
            ("*foo*", "foo", true),
            ("*ob*a*r*", "foobar", true),
            ("*ab", "aaaaaaabababab", true),
            ("foo\\*", "foo*", true),
            ("foo\\*bar", "foobar", false),
            ("f\\\\oo", "f\\oo", true),
            ("*[al]?", "ball", true),
            ("[ten]", "ten", false),
            ("**[!te]", "ten", true),
            ("**[!ten]", "ten", false),
            ("t[a-g]n", "ten", true),
            ("t[!a-g]n", "ten", false),
            ("t[!a-g]n", "ton", true),
            ("t[^a-g]n", "ton", true),
            ("a[]]b", "a]b", true),
            ("a[]-]b", "a-b", true),
            ("a[]-]b", "a]b", true),
            ("a[]-]b", "aab", false),
            ("a[]a-]b", "aab", true),
            ("]", "]", true),
            // '/' handling
            ("foo*bar", "foo/baz/bar", false),
            ("foo**bar", "foo/baz/bar", true),
            ("foo**bar", "foobazbar", true),
            ("foo/**/bar", "foo/baz/bar", true),
            ("foo/**/bar", "foo/b/a/z/bar", true),
            ("foo/**/bar", "foo/bar", false),
            ("foo?bar", "foo/bar", false),
            ("foo[/]bar", "foo/bar", false),
            ("f[^eiu][^eiu][^eiu][^eiu][^eiu]r", "foo/bar", false),
            ("*/*", "a/b", true),
            ("*", "a/b", false),
            ("**", "a/b", true),
            ("dir/***", "dir/", true),
            ("dir/***", "dir/a/b", true),
            ("dir/***", "dirx", false),
            // classes
            ("[[:alpha:]][[:digit:]][[:upper:]]", "a1B", true),
            ("[[:digit:][:upper:][:space:]]", "a", false),
            ("[[:digit:][:upper:][:space:]]", "A", true),
            ("[[:digit:][:upper:][:space:]]", "1", true),
            ("[[:digit:][:upper:][:space:]]", " ", true),
            ("[[:xdigit:]]", "5", true),
            ("[[:xdigit:]]", "f", true),
            ("[[:xdigit:]]", "g", false),
            ("[a-c[:digit:]x-z]", "5", true),
            ("[a-c[:digit:]x-z]", "y", true),
            ("[a-c[:digit:]x-z]", "q", false),
            ("[[:nope:]]", "a", false),
            ("[\\-_]", "-", true),
            ("[\\]]", "]", true),
            ("[\\\\]", "\\", true),
            ("[!\\\\]", "\\", false),
            ("[A-\\\\]", "G", true),
            ("[", "[", false),
            ("[!", "[!", false),
            (
                "-*-*-*-*-*-*-12-*-*-*-m-*-*-*",
                "-adobe-courier-bold-o-normal--12-120-75-75-m-70-iso8859-1",
                true,
            ),
            (
                "-*-*-*-*-*-*-12-*-*-*-m-*-*-*",
                "-adobe-courier-bold-o-normal--12-120-75-75-X-70-iso8859-1",
                false,
            ),
            (
                "XXX/*/*/*/*/*/*/12/*/*/*/m/*/*/*",
                "XXX/adobe/courier/bold/o/normal//12/120/75/75/m/70/iso8859/1",
                true,
            ),
            (
                "**/*a*b*g*n*t",
                "abcd/abcdefg/abcdefghijk/abcdefghijklmnop.txt",
                true,
            ),
            (
                "**/*a*b*g*n*t",
                "abcd/abcdefg/abcdefghijk/abcdefghijklmnop.txtz",
                false,
            ),
        ];
        for (p, t, want) in cases {
            assert_eq!(
                wildmatch(p.as_bytes(), t.as_bytes()),
                *want,
                "pattern {p:?} text {t:?}"
            );
        }
    }

    #[test]
    fn slash_handling() {
        assert!(wildmatch_where(b"b/*", b"a/b/c", 2));
        assert!(!wildmatch_where(b"b/*", b"a/b/c", 0));
        assert!(wildmatch_where(b"b/**", b"a/b/c/d", -1));
        assert!(!wildmatch_where(b"b/**", b"ab/c/d", -1));
        assert!(wildmatch_where(b"x/*", b"x/y", 2));
    }
}
