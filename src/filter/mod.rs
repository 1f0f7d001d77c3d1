//! rsync filter rules (design.md §7; rsync.1 "FILTER RULES", "MERGE-FILE FILTER RULES").
//!
//! A [`FilterList`] is the ordered global rule list plus the per-directory merge state. Why the
//! shape:
//! - first match wins, so the list is an ordered `Vec<Item>` and a check walks it front to back;
//! - a `dir-merge` rule is a *slot* in that list: the rules read from the per-directory files
//!   are consulted at the slot's position, deepest directory first ("each subdirectory's rules
//!   are prefixed to the inherited per-directory rules"), a `!` in a file stops inheritance and
//!   an `n` merge applies only in the file's own directory;
//! - `merge` files, `--exclude-from`/`--include-from` and `-C` are expanded where they are read
//!   (the client), so the list that travels to the server holds only rules and dir-merge slots;
//! - the same list answers both sides: the sender asks "hidden?" (skipping receiver-only rules),
//!   the receiver asks "protected?" (skipping sender-only rules, and with `--delete-excluded`
//!   every rule without an explicit side).

pub mod prune;
pub mod rule;
pub mod wildmatch;

use crate::error::{Error, Result, RERR_FILEIO};
use rule::{parse, MergeSpec, Mods, Parsed, Rule, Side, Template};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// rsync.1 `--cvs-exclude`: the default CVS ignore list (perishable).
pub const CVS_DEFAULT: &str = "RCS SCCS CVS CVS.adm RCSLOG cvslog.* tags TAGS .make.state \
     .nse_depinfo *~ #* .#* ,* _$* *$ *.old *.bak *.BAK *.orig *.rej .del-* *.a *.olb *.o \
     *.obj *.so *.exe *.Z *.elc *.ln core .svn/ .git/ .hg/ .bzr/";

#[derive(Clone, Debug)]
enum Item {
    Rule(Rule),
    /// Index into `FilterList::specs`.
    DirMerge(usize),
}

#[derive(Clone, Debug)]
struct PerDir {
    items: Vec<Item>,
    /// The file had a `!`: the parents' rules for this slot are not inherited.
    clear: bool,
}

#[derive(Clone, Debug)]
struct Level {
    /// Transfer-relative name of the directory; None for a parent of the transfer root read by
    /// the `: /name` parent scan.
    key: Option<Vec<u8>>,
    lists: Vec<Option<PerDir>>,
    specs_before: usize,
}

#[derive(Clone, Debug, Default)]
pub struct FilterList {
    items: Vec<Item>,
    specs: Vec<MergeSpec>,
    levels: Vec<Level>,
    abs_root: Vec<u8>,
    pub from0: bool,
    pub delete_excluded: bool,
    /// The first bad rule met in a per-directory file (rsync stops with exit 1).
    pub error: Option<Error>,
    /// Nesting of `merge` files being read, and the outermost rule's place (file, line).
    merge_depth: usize,
    origin: (Vec<u8>, usize),
}

/// rsync's limit on `merge` files naming `merge` files.
const MERGE_DEPTH_LIMIT: usize = 32;

/// Lexically absolute and clean (no `.`, `..` collapsed), as bytes without a trailing slash.
pub fn absolute(p: &Path) -> Vec<u8> {
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut out = PathBuf::from("/");
    for c in full.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out.as_os_str().as_bytes().to_vec()
}

fn components(name: &[u8]) -> usize {
    if name == b"." || name.is_empty() {
        0
    } else {
        name.split(|b| *b == b'/').count()
    }
}

fn parent_name(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|b| *b == b'/') {
        Some(i) => &name[..i],
        None => b".",
    }
}

/// Is directory `key` the same as, or an ancestor of, directory `dir` (both transfer names)?
fn covers(key: &[u8], dir: &[u8]) -> bool {
    key == b"." || key == dir || (dir.starts_with(key) && dir.get(key.len()) == Some(&b'/'))
}

/// Split file content into rule texts with their line numbers: lines (CR stripped, blank and
/// `;`/`#` comment lines dropped), NUL-terminated records with `--from0`, or whitespace-separated
/// words (`w`).
fn split_rules(data: &[u8], word_split: bool, from0: bool) -> Vec<(usize, &[u8])> {
    let sep = if from0 && !word_split { 0u8 } else { b'\n' };
    let mut out = Vec::new();
    for (i, l) in data.split(|b| *b == sep).enumerate() {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        if word_split {
            out.extend(
                l.split(|b| b.is_ascii_whitespace())
                    .filter(|w| !w.is_empty())
                    .map(|w| (i + 1, w)),
            );
        } else if !l.is_empty() && !l.starts_with(b"#") && !l.starts_with(b";") {
            out.push((i + 1, l));
        }
    }
    out
}

/// A merge file named inside a per-directory file cannot be read (rsync: exit 11).
const NO_MERGE: &str = "failed to open exclude file";

/// rsync names a bad rule read from a file by its place: "<rule from FILE line N>" (no line
/// for word-split files, where `line` is 0).
fn in_file(e: Error, source: &[u8], line: usize) -> Error {
    let at = if line == 0 {
        String::new()
    } else {
        format!(" line {line}")
    };
    let place = format!("<rule from {}{at}>", String::from_utf8_lossy(source));
    if e.code == RERR_FILEIO && e.msg == NO_MERGE {
        return Error::new(RERR_FILEIO, format!("{NO_MERGE} {place}"));
    }
    if e.code != crate::error::RERR_SYNTAX || e.msg.contains("<rule from ") {
        return e;
    }
    let what = if e.msg.starts_with("invalid modifier") {
        "invalid modifier in filter rule:"
    } else {
        e.msg.find(": ").map_or(&e.msg[..], |i| &e.msg[..=i])
    };
    Error::syntax(format!("{what} {place}"))
}

fn template(spec: &MergeSpec) -> Template {
    Template {
        no_prefix: spec.no_prefix,
        old_prefix: spec.old_prefix,
        mods: spec.mods,
    }
}

fn read_file(name: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    if name == b"-" {
        // Standard input is read once per process: a local transfer parses the rules in both of
        // its halves, and the second reader would otherwise find it drained (an empty list).
        static STDIN: std::sync::Mutex<Option<Vec<u8>>> = std::sync::Mutex::new(None);
        let mut cached = STDIN.lock().unwrap_or_else(|e| e.into_inner());
        if cached.is_none() {
            let mut all = Vec::new();
            std::io::stdin().read_to_end(&mut all)?;
            *cached = Some(all);
        }
        data.clone_from(cached.as_ref().expect("just read"));
    } else {
        // Rule files are operator paths (plan::trusted).
        let path = Path::new(std::ffi::OsStr::from_bytes(name));
        crate::plan::trusted::check(path)?;
        std::fs::File::open(path)?.read_to_end(&mut data)?;
    }
    Ok(data)
}

impl FilterList {
    /// Build from rule texts (command-line order). `merge` files are read relative to the
    /// working directory; a missing one is rsync's exit-11 error.
    pub fn parse(rules: &[String], from0: bool, delete_excluded: bool) -> Result<FilterList> {
        let mut fl = FilterList {
            from0,
            delete_excluded,
            ..Default::default()
        };
        let mut items = Vec::new();
        for r in rules {
            fl.add_text(&mut items, r.as_bytes(), &Template::default(), None)?;
        }
        fl.items = items;
        Ok(fl)
    }

    /// Parse one rule text into `out`. `dir` is the absolute directory of the per-directory
    /// file being read (None for global rules).
    fn add_text(
        &mut self,
        out: &mut Vec<Item>,
        text: &[u8],
        t: &Template,
        dir: Option<&[u8]>,
    ) -> Result<bool> {
        let mut cleared = false;
        // Internal forms: --exclude-from / --include-from are "\x01- FILE" / "\x01+ FILE"
        // (old-style "- "/"+ " line prefixes allowed, bare lines take the option's kind);
        // --exclude / --include are "\x02- PATTERN" / "\x02+ PATTERN" (same old-style parsing).
        let parsed = match text {
            [1, k, b' ', name @ ..] => Parsed::Merge(MergeSpec {
                name: name.to_vec(),
                old_prefix: Some(*k == b'+'),
                inherit: true,
                ..Default::default()
            }),
            [2, k, b' ', rule @ ..] => parse(
                rule,
                &Template {
                    old_prefix: Some(*k == b'+'),
                    ..Default::default()
                },
            )?,
            [m @ (3 | 4), rule @ ..] => match parse(rule, t)? {
                Parsed::Rule(mut r) => {
                    r.from_file = *m == 3;
                    r.global_cvs = *m == 4;
                    Parsed::Rule(r)
                }
                p => p,
            },
            _ => parse(text, t)?,
        };
        match parsed {
            Parsed::Rule(r) => out.push(Item::Rule(match dir {
                Some(d) => r.anchor_at(d),
                None => r,
            })),
            Parsed::Clear => {
                out.clear();
                cleared = true;
            }
            Parsed::Cvs(mods) => self.add_cvs(out, mods, dir)?,
            Parsed::Merge(spec) => {
                if self.merge_depth >= MERGE_DEPTH_LIMIT - usize::from(dir.is_none()) {
                    let who = if dir.is_some() { "sender" } else { "client" };
                    return Err(Error::new(
                        RERR_FILEIO,
                        format!(
                            "[{who}] merge-file include depth limit ({MERGE_DEPTH_LIMIT}) exceeded \
                             at <rule from {}{} line {}>",
                            "a file named at ".repeat(MERGE_DEPTH_LIMIT - 1),
                            String::from_utf8_lossy(&self.origin.0),
                            self.origin.1
                        ),
                    ));
                }
                // Inside a per-directory file a relative name is taken from the transfer root
                // (rsync's sender works from there), not from the file's directory.
                let path = match dir {
                    Some(_) if !spec.name.starts_with(b"/") => {
                        [&self.abs_root[..], b"/", &spec.name].concat()
                    }
                    _ => spec.name.clone(),
                };
                let data = match read_file(&path) {
                    Ok(d) => d,
                    // Named by `in_file` with the rule's place.
                    Err(_) if dir.is_some() => return Err(Error::new(RERR_FILEIO, NO_MERGE)),
                    Err(e) => {
                        let mut err = Error::new(
                            RERR_FILEIO,
                            format!(
                                "rsync: [client] failed to open {} file {}: {}",
                                if spec.no_prefix.or(spec.old_prefix) == Some(true) {
                                    "include"
                                } else {
                                    "exclude"
                                },
                                String::from_utf8_lossy(&spec.name),
                                crate::error::io_text(&e)
                            ),
                        );
                        // Read while the options are parsed, before rsync has a role.
                        err.role = Some("client");
                        return Err(err);
                    }
                };
                // `e`: the file's own exclude comes first (before its rules), as in rsync.
                if spec.exclude_self {
                    out.push(Item::Rule(Rule::new(
                        false,
                        base(&spec.name),
                        false,
                        spec.mods,
                    )));
                }
                self.merge_depth += 1;
                let r = self.add_content(out, &data, &spec, dir, &path);
                self.merge_depth -= 1;
                cleared |= r?;
            }
            Parsed::DirMerge(spec) => {
                if spec.exclude_self {
                    out.push(Item::Rule(Rule::new(
                        false,
                        base(&spec.name),
                        false,
                        spec.mods,
                    )));
                }
                // rsync drops a dir-merge rule whose file name is already being merged (even
                // from inside a per-directory file): that file keeps its first slot only.
                if !self.specs.iter().any(|s| base(&s.name) == base(&spec.name)) {
                    self.specs.push(spec);
                    out.push(Item::DirMerge(self.specs.len() - 1));
                }
            }
        }
        Ok(cleared)
    }

    /// Rules from a merge file's content (`source` names it in errors); returns whether it
    /// contained a `!`.
    fn add_content(
        &mut self,
        out: &mut Vec<Item>,
        data: &[u8],
        spec: &MergeSpec,
        dir: Option<&[u8]>,
        source: &[u8],
    ) -> Result<bool> {
        // Word-split files: every word is one rule (rsync 3.5 does not join a lone prefix word
        // with the next one; "- foo" there is an "unexpected end of filter rule").
        let words = split_rules(data, spec.word_split, self.from0 && !spec.cvs);
        let t = template(spec);
        let mut cleared = false;
        for (line, text) in words {
            if self.merge_depth == usize::from(dir.is_none()) {
                self.origin = (source.to_vec(), line);
            }
            let before = out.len();
            let line = if spec.word_split { 0 } else { line };
            cleared |= self
                .add_text(out, text, &t, dir)
                .map_err(|e| in_file(e, source, line))?;
            if !source.is_empty() {
                let from = before.min(out.len());
                for it in &mut out[from..] {
                    if let Item::Rule(r) = it {
                        r.from_file = true;
                    }
                }
            }
        }
        Ok(cleared)
    }

    /// `-C` as a rule: the default list (perishable), `$HOME/.cvsignore`, `$CVSIGNORE`.
    fn add_cvs(&mut self, out: &mut Vec<Item>, mods: Mods, dir: Option<&[u8]>) -> Result<()> {
        let before = out.len();
        self.add_cvs_lists(out, mods, dir)?;
        for it in &mut out[before..] {
            if let Item::Rule(r) = it {
                r.global_cvs = true;
                r.from_file = false;
            }
        }
        Ok(())
    }

    fn add_cvs_lists(&mut self, out: &mut Vec<Item>, mods: Mods, dir: Option<&[u8]>) -> Result<()> {
        let spec = |perishable: bool| MergeSpec {
            no_prefix: Some(false),
            word_split: true,
            cvs: true,
            mods: Mods {
                perishable: perishable || mods.perishable,
                ..mods
            },
            ..Default::default()
        };
        self.add_content(out, CVS_DEFAULT.as_bytes(), &spec(true), dir, b"")?;
        if let Some(home) = std::env::var_os("HOME") {
            if let Ok(d) = std::fs::read(Path::new(&home).join(".cvsignore")) {
                self.add_content(out, &d, &spec(false), dir, b".cvsignore")?;
            }
        }
        if let Some(v) = std::env::var_os("CVSIGNORE") {
            self.add_content(out, v.as_bytes(), &spec(false), dir, b"CVSIGNORE")?;
        }
        Ok(())
    }

    /// The global list as rule texts, for the server.
    pub fn to_texts(&self) -> Vec<Vec<u8>> {
        self.items
            .iter()
            .map(|i| match i {
                // "\x03": the rule came from a file, "\x04": from -C's global list (both only
                // change the -vv wording).
                Item::Rule(r) if r.from_file => [b"\x03", &r.to_text()[..]].concat(),
                Item::Rule(r) if r.global_cvs => [b"\x04", &r.to_text()[..]].concat(),
                Item::Rule(r) => r.to_text(),
                Item::DirMerge(s) => self.specs[*s].to_text(),
            })
            .collect()
    }

    /// The walk is about to check the children of directory `name` (transfer name, "." for the
    /// root) found at `path`: load the per-directory merge files down to it.
    pub fn enter_dir(&mut self, name: &[u8], path: &Path) {
        // Only dir-merge slots and absolute-path rules care where the walk is.
        if self.specs.is_empty()
            && !self
                .items
                .iter()
                .any(|i| matches!(i, Item::Rule(r) if r.mods.abs))
        {
            return;
        }
        let abs = absolute(path);
        let mut root: &[u8] = &abs;
        for _ in 0..components(name) {
            root = &root[..root.iter().rposition(|b| *b == b'/').unwrap_or(0)];
        }
        let root = if root.is_empty() {
            b"/".to_vec()
        } else {
            root.to_vec()
        };
        if root != self.abs_root {
            self.reset_levels();
            self.abs_root = root.clone();
            // Parent scan (`: /name`): every directory from "/" down to the transfer root
            // (inclusive unless the root itself is part of the transfer).
            let mut anc: Vec<Vec<u8>> = Vec::new();
            let mut a: &[u8] = &root;
            if name != b"." {
                anc.push(a.to_vec());
            }
            while a.len() > 1 {
                a = &a[..a.iter().rposition(|b| *b == b'/').unwrap_or(0)];
                anc.push(if a.is_empty() {
                    b"/".to_vec()
                } else {
                    a.to_vec()
                });
            }
            for d in anc.into_iter().rev() {
                self.push_level(None, &d);
            }
        }
        if self.specs.is_empty() {
            return;
        }
        while let Some(Level { key: Some(k), .. }) = self.levels.last() {
            if covers(k, name) {
                break;
            }
            self.pop_level();
        }
        let have = self
            .levels
            .iter()
            .rev()
            .find_map(|l| l.key.as_ref().map(|k| components(k)));
        let want = components(name);
        let chain: Vec<Vec<u8>> = if name == b"." {
            vec![b".".to_vec()]
        } else {
            let parts: Vec<&[u8]> = name.split(|b| *b == b'/').collect();
            (1..=want).map(|n| parts[..n].join(&b'/')).collect()
        };
        for key in chain {
            let depth = components(&key);
            if have.is_some_and(|h| depth <= h) {
                continue;
            }
            let mut dir: &[u8] = &abs;
            for _ in depth..want {
                dir = &dir[..dir.iter().rposition(|b| *b == b'/').unwrap_or(0)];
            }
            let dir = dir.to_vec();
            self.push_level(Some(key), &dir);
        }
    }

    fn reset_levels(&mut self) {
        while !self.levels.is_empty() {
            self.pop_level();
        }
    }

    fn pop_level(&mut self) {
        if let Some(l) = self.levels.pop() {
            self.specs.truncate(l.specs_before);
        }
    }

    /// Read every dir-merge file of directory `abs_dir`.
    fn push_level(&mut self, key: Option<Vec<u8>>, abs_dir: &[u8]) {
        let mut level = Level {
            key: key.clone(),
            lists: Vec::new(),
            specs_before: self.specs.len(),
        };
        let mut i = 0;
        while i < self.specs.len() {
            let spec = self.specs[i].clone();
            let scan = spec.name.starts_with(b"/");
            let file = base(&spec.name);
            let loaded = if key.is_none() && !scan {
                None
            } else {
                let p = [abs_dir, if abs_dir == b"/" { b"" } else { b"/" }, file].concat();
                match std::fs::read(std::ffi::OsStr::from_bytes(&p)) {
                    Ok(data) => {
                        let mut items = Vec::new();
                        let clear = self
                            .add_content(&mut items, &data, &spec, Some(abs_dir), &p)
                            .unwrap_or_else(|e| {
                                self.error.get_or_insert(e);
                                false
                            });
                        Some(PerDir { items, clear })
                    }
                    Err(_) => None,
                }
            };
            level.lists.push(loaded);
            i += 1;
        }
        self.levels.push(level);
    }

    /// First matching rule for `name` on `side`: Some(true) = excluded / protected,
    /// Some(false) = included / at risk, None = no rule matched.
    /// `ignore_perishable`: inside a directory being deleted (rsync.1 `p` modifier).
    pub fn check(
        &self,
        name: &[u8],
        is_dir: bool,
        side: Side,
        ignore_perishable: bool,
    ) -> Option<bool> {
        self.lookup(name, is_dir, side, ignore_perishable)
            .map(|h| !h.rule.include)
    }

    /// The first matching rule, and the per-directory file it came from (for `-vv`).
    pub fn lookup(
        &self,
        name: &[u8],
        is_dir: bool,
        side: Side,
        ignore_perishable: bool,
    ) -> Option<Hit<'_>> {
        let parent = parent_name(name);
        // Per-directory rules apply only below a directory the walk has entered.
        let active = self
            .levels
            .iter()
            .any(|l| matches!(&l.key, Some(k) if covers(k, parent)));
        let q = Query {
            name,
            parent,
            is_dir,
            side,
            active,
            ignore_perishable,
        };
        self.check_items(&self.items, &q, &mut Vec::new())
            .map(|(rule, spec)| Hit {
                rule,
                per_dir: spec.map(|s| base(&self.specs[s].name)),
            })
    }

    fn check_items<'s>(
        &'s self,
        items: &'s [Item],
        q: &Query,
        seen: &mut Vec<usize>,
    ) -> Option<(&'s Rule, Option<usize>)> {
        let parent = q.parent;
        for it in items {
            match it {
                Item::Rule(r) => {
                    if r.applies(q.side, self.delete_excluded)
                        && !(q.ignore_perishable && r.mods.perishable)
                        && r.matches(q.name, q.is_dir, &self.abs_root)
                    {
                        return Some((r, seen.last().copied()));
                    }
                }
                Item::DirMerge(s) if q.active && !seen.contains(s) => {
                    seen.push(*s);
                    let spec = &self.specs[*s];
                    for l in self.levels.iter().rev() {
                        if let Some(k) = &l.key {
                            if !covers(k, parent) {
                                continue;
                            }
                        }
                        let Some(pd) = l.lists.get(*s).and_then(|x| x.as_ref()) else {
                            continue;
                        };
                        let here = l.key.as_deref() == Some(parent);
                        if here || spec.inherit {
                            let r = self.check_items(&pd.items, q, seen);
                            if r.is_some() {
                                seen.pop();
                                return r;
                            }
                        }
                        if pd.clear {
                            break;
                        }
                    }
                    seen.pop();
                }
                Item::DirMerge(_) => {}
            }
        }
        None
    }
}

/// A matching rule.
pub struct Hit<'a> {
    pub rule: &'a Rule,
    /// Name of the per-directory merge file the rule came from.
    pub per_dir: Option<&'a [u8]>,
}

struct Query<'a> {
    name: &'a [u8],
    parent: &'a [u8],
    is_dir: bool,
    side: Side,
    active: bool,
    ignore_perishable: bool,
}

fn base(name: &[u8]) -> &[u8] {
    name.rsplit(|b| *b == b'/').next().unwrap_or(name)
}

#[cfg(test)]
mod tests;
