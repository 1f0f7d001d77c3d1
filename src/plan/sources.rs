//! Source operands → walk sources, and `--files-from` → source operands.
//!
//! `--files-from` (rsync(1), rsync-cli.md §1.3.8) names items relative to the single SRC
//! directory. Each line becomes the operand `SRC/./LINE` (or `SRC/LINE` with `--no-relative`), so
//! the `/./` cut point of `-R` gives exactly rsync's names, implied directories and trailing-slash
//! "contents" rule, and the same operands work for a local walk and, as arguments, for a remote
//! sender. Lines: NL/CR (or NUL with `-0`) separated; blank lines and, without `-0`, lines starting
//! with `#` or `;` are ignored; leading `/` is dropped and `..` is collapsed so a line cannot climb
//! above SRC ("../foo" is "foo").
//!
//! Where the list is read: a local list (or `-` = stdin) by the client, whichever side sends; a
//! remote list (`host:FILE`, `:FILE`) on a pull by the remote sender itself (it gets
//! `--files-from=FILE`), on a push fetched once over the remote shell (`cat FILE`), since rsync
//! reads it on the remote end too. A local list on a pull travels as the remote sender's
//! arguments, so it is bounded by the remote command-line length.

use crate::cli::Options;
use crate::error::{io_text, Error, Result};
use crate::flist::walk::{full_name, Source};
use crate::plan::operand::{parse_operand, Loc, Plan};

/// Largest local list a pull passes on the remote command line.
const ARGV_LIMIT: usize = 100_000;

/// Operands → what the walk starts from (with `-R`: rsync's relative names).
pub fn sources(opts: &Options, operands: &[String]) -> Result<Vec<Source>> {
    operands
        .iter()
        .map(|s| Source::parse(s.as_bytes(), opts.relative).map_err(Error::syntax))
        .collect()
}

/// Replace the plan's single SRC by one operand per `--files-from` line. Returns the path of a
/// list that the remote sender must read itself (`host:FILE` / `:FILE` on a pull); the caller
/// passes it on as the server's `--files-from`. `fetch` reads a remote list on a push (the list
/// is on the receiving host).
pub fn expand_files_from(
    opts: &Options,
    p: &mut Plan,
    fetch: &dyn Fn(&str) -> std::io::Result<Vec<u8>>,
) -> Result<Option<String>> {
    let Some(ff) = &opts.files_from else {
        return Ok(None);
    };
    // rsync wants exactly one SRC and a DEST (no listing mode) with --files-from.
    if p.sources.len() != 1 || p.dest.is_none() {
        let help = crate::cli::help::help_text();
        return Err(Error::syntax(help.trim_end().to_string()));
    }
    let mut remote_list = None;
    if ff != "-" {
        if let Loc::Remote { host, path, .. } = parse_operand(ff)? {
            match &p.remote {
                None => {
                    return Err(Error::syntax(
                        "--files-from cannot be remote when the transfer is local",
                    ))
                }
                Some((_, h)) if !host.is_empty() && host != *h => {
                    return Err(Error::syntax(
                        "--files-from hostname is not the same as the transfer hostname",
                    ))
                }
                Some(_) if p.local_sends => remote_list = Some(path),
                Some(_) => return Ok(Some(path)),
            }
        }
    }
    let data = if let Some(path) = &remote_list {
        fetch(path)
    } else if ff == "-" {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut v).map(|_| v)
    } else {
        // An operator path (plan::trusted).
        crate::plan::trusted::check_str(ff).and_then(|_| std::fs::read(ff))
    }
    .map_err(|e| {
        let text = io_text(&e);
        let text = text.rsplit_once(" (").map_or(text.as_str(), |t| t.0);
        let shown = remote_list.as_deref().unwrap_or(ff);
        Error::syntax(format!(
            "rsync: failed to open files-from file {shown}: {text}"
        ))
    })?;
    let src = p.sources[0].clone();
    if p.local_sends {
        check_dir(&src)?;
    }
    let base = base_of(&src);
    let mut ops = Vec::new();
    for line in split_lines(&data, opts.from0) {
        let Some(name) = clean_line(line)? else {
            continue;
        };
        let name = String::from_utf8_lossy(&name).into_owned();
        ops.push(if opts.relative && !name.contains("/./") {
            format!("{base}/./{name}")
        } else {
            format!("{base}/{name}")
        });
    }
    // A pull passes the names as the remote sender's arguments: one `sh -c` string there, which
    // Linux caps at 128 KiB (MAX_ARG_STRLEN).
    let bytes: usize = ops.iter().map(|o| o.len() + 1).sum();
    if p.remote.is_some() && !p.local_sends && bytes > ARGV_LIMIT {
        return Err(Error::syntax(format!(
            "--files-from={ff}: the list is too long to pass to the remote sender ({bytes} bytes); put it on the remote host and use --files-from=:FILE"
        )));
    }
    p.sources = ops;
    p.literal = true;
    Ok(None)
}

/// rsync changes into SRC first: anything but a directory is an error (exit 3).
fn check_dir(src: &str) -> Result<()> {
    let err = match std::fs::metadata(src) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => std::io::Error::from_raw_os_error(libc::ENOTDIR),
        Err(e) => e,
    };
    Err(Error::new(
        3,
        format!(
            "rsync: [sender] change_dir \"{}\" failed: {}",
            full_name(std::path::Path::new(src)),
            io_text(&err)
        ),
    ))
}

/// SRC without trailing slashes or `/./` markers (only a list line may cut the path).
fn base_of(src: &str) -> String {
    let mut b = src.to_string();
    while b.contains("/./") {
        b = b.replace("/./", "/");
    }
    while b.len() > 1 && b.ends_with('/') {
        b.pop();
    }
    if b == "/" {
        b.clear();
    }
    b
}

fn split_lines(data: &[u8], from0: bool) -> impl Iterator<Item = &[u8]> {
    data.split(move |c| {
        if from0 {
            *c == 0
        } else {
            *c == b'\n' || *c == b'\r'
        }
    })
    .filter(move |l| !l.is_empty() && (from0 || !matches!(l[0], b'#' | b';')))
}

/// One list line → its cleaned name (None: nothing to send). A trailing slash is kept (it means
/// "the directory's contents"), as is a `/./` cut point; `..` collapses within each side of it.
fn clean_line(line: &[u8]) -> Result<Option<Vec<u8>>> {
    let contents = line.ends_with(b"/") || line.ends_with(b"/.");
    let (pre, rest) = match line.windows(3).position(|w| w == b"/./") {
        Some(i) => (&line[..i], Some(&line[i + 3..])),
        None => (line, None),
    };
    fn collapse<'a>(line: &[u8], part: &'a [u8], may_climb: bool) -> Result<Vec<&'a [u8]>> {
        let mut v: Vec<&'a [u8]> = Vec::new();
        for c in part.split(|b| *b == b'/') {
            match c {
                b"" | b"." => {}
                b".." => {
                    if v.pop().is_none() && !may_climb {
                        return Err(Error::syntax(format!(
                            "found \"..\" dir in relative path: {}",
                            String::from_utf8_lossy(line)
                        )));
                    }
                }
                c => v.push(c),
            }
        }
        Ok(v)
    }
    let pre = collapse(line, pre, true)?.join(&b'/');
    let mut name = match rest {
        Some(r) => {
            let r = collapse(line, r, false)?.join(&b'/');
            [&pre[..], b"/./", &r[..]].concat()
        }
        None => pre,
    };
    if name.is_empty() {
        return Ok(None);
    }
    if contents {
        name.push(b'/');
    }
    Ok(Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(l: &str) -> Option<String> {
        clean_line(l.as_bytes())
            .unwrap()
            .map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn lines_are_cleaned() {
        assert_eq!(c("a/b/g").as_deref(), Some("a/b/g"));
        assert_eq!(c("/x/").as_deref(), Some("x/"));
        assert_eq!(c("../a/z").as_deref(), Some("a/z"));
        assert_eq!(c("a/../x/y").as_deref(), Some("x/y"));
        assert_eq!(c("a/./b/g").as_deref(), Some("a/./b/g"));
        assert_eq!(c("./a").as_deref(), Some("a"));
        assert_eq!(c("/"), None);
        assert!(clean_line(b"a/./../b").is_err());
    }

    #[test]
    fn splitting() {
        let v: Vec<&[u8]> = split_lines(b"a\r\n#c\n;d\n\nb", false).collect();
        assert_eq!(v, [&b"a"[..], b"b"]);
        let v: Vec<&[u8]> = split_lines(b"#a\0b\n c\0\0", true).collect();
        assert_eq!(v, [&b"#a"[..], b"b\n c"]);
        assert_eq!(base_of("src/./x//"), "src/x");
        assert_eq!(base_of("/"), "");
    }
}
