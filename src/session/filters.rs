//! The filter rules as the roles use them: parsed once from the options on the client (merge
//! files, `--exclude-from` and `-C` are read there, as rsync does), sent to the server in the
//! `Filters` message, consulted by the walker (sender side: hide/show) and by deletions
//! (receiver side: protect/risk). See `crate::filter` for the rule semantics.

use crate::cli::Options;
use crate::error::{Error, Result};
use crate::filter::rule::Side;
use crate::filter::FilterList;
use crate::flist::walk::WalkFilter;
use std::path::Path;

#[derive(Clone, Debug, Default)]
pub struct Filters {
    list: FilterList,
    /// `-vv` (rsync's debug FILTER level 1): say which rule hid/protected what.
    debug: bool,
    notes: Vec<String>,
}

const F_FROM0: u8 = 1;
const F_DELETE_EXCLUDED: u8 = 2;
const F_DEBUG: u8 = 4;

impl Filters {
    /// Rules in `-f` syntax, no options.
    pub fn from_rules(rules: &[String]) -> Result<Filters> {
        Ok(Filters {
            list: FilterList::parse(rules, false, false)?,
            ..Default::default()
        })
    }

    /// The run's rules: the ordered `--filter`/`--exclude`/... list, then the rules rsync.1
    /// appends after all others: `-C`'s (wherever `-C` was given), a perishable exclude of a
    /// relative `--partial-dir`, and `P *SUFFIX` for `--backup --delete` without `--backup-dir`.
    pub fn from_options(o: &Options) -> Result<Filters> {
        let mut rules = o.filters.clone();
        if o.cvs_exclude {
            rules.push(":C".into());
            rules.push("-C".into());
        }
        if let Some(dir) = o.partial_dir.as_deref().filter(|d| !d.starts_with('/')) {
            rules.push(format!("-p {}/", dir.trim_end_matches('/')));
        }
        if o.backup && o.delete && !o.delete_excluded && o.backup_dir.is_none() {
            rules.push(format!("P *{}", o.suffix.as_deref().unwrap_or("~")));
        }
        Ok(Filters {
            list: FilterList::parse(&rules, o.from0, o.delete_excluded)?,
            debug: o.verbose > 1 || o.debug.get("FILTER") > 0,
            notes: Vec::new(),
        })
    }

    /// One flag byte, then the rule texts, NUL-terminated.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut v = vec![
            (if self.list.from0 { F_FROM0 } else { 0 })
                | (if self.list.delete_excluded {
                    F_DELETE_EXCLUDED
                } else {
                    0
                })
                | (if self.debug { F_DEBUG } else { 0 }),
        ];
        for t in self.list.to_texts() {
            v.extend_from_slice(&t);
            v.push(0);
        }
        v
    }

    pub fn from_wire(b: &[u8]) -> Result<Filters> {
        let Some((&flags, rest)) = b.split_first() else {
            return Ok(Filters::default());
        };
        let mut rules = Vec::new();
        for t in rest.split(|c| *c == 0).filter(|t| !t.is_empty()) {
            rules.push(
                String::from_utf8(t.to_vec())
                    .map_err(|_| Error::protocol("filter rule is not valid UTF-8"))?,
            );
        }
        Ok(Filters {
            list: FilterList::parse(&rules, flags & F_FROM0 != 0, flags & F_DELETE_EXCLUDED != 0)?,
            debug: flags & F_DEBUG != 0,
            notes: Vec::new(),
        })
    }

    /// The children of directory `name` (transfer-relative, "." = root) at `path` are about to
    /// be checked: load its per-directory merge files (`-F`, `:C`, `dir-merge`).
    pub fn enter_dir(&mut self, name: &[u8], path: &Path) {
        self.list.enter_dir(name, path);
    }

    /// Sender side: is `name` (relative to the transfer root) excluded?
    pub fn excluded(&mut self, name: &[u8], is_dir: bool) -> bool {
        self.ask(name, is_dir, Side::Sender, false)
    }

    /// Receiver side: is `name` protected from deletion?
    pub fn protected(&mut self, name: &[u8], is_dir: bool) -> bool {
        self.ask(name, is_dir, Side::Receiver, false)
    }

    /// The `-vv` line about the last decision, if any.
    pub fn take_note(&mut self) -> Option<String> {
        self.notes.pop()
    }

    fn ask(&mut self, name: &[u8], is_dir: bool, side: Side, ignore_perishable: bool) -> bool {
        let Some(hit) = self.list.lookup(name, is_dir, side, ignore_perishable) else {
            return false;
        };
        let excluded = !hit.rule.include;
        if self.debug {
            // exclude.c report_filter_result wording.
            let (who, verb) = match (side, excluded) {
                (Side::Sender, false) => ("sender", "showing"),
                (Side::Sender, true) => ("sender", "hiding"),
                (Side::Receiver, false) => ("generator", "risking"),
                (Side::Receiver, true) => ("generator", "protecting"),
            };
            let pattern = if hit.rule.from_file {
                "<rule from a file read earlier>".to_string()
            } else {
                String::from_utf8_lossy(&hit.rule.text).into_owned()
            };
            let origin = match hit.per_dir {
                Some(f) => format!(" [per-dir {}]", String::from_utf8_lossy(f)),
                None if hit.rule.global_cvs => " [global CVS]".to_string(),
                None => String::new(),
            };
            self.notes.push(format!(
                "[{who}] {verb} {} {} because of pattern {pattern}{origin}",
                if is_dir { "directory" } else { "file" },
                crate::report::escape(name),
            ));
        }
        excluded
    }

    /// `-m`: is directory `name` at `path` protected (so not pruned)? Loads the per-directory
    /// rules of its parent first.
    pub fn protected_dir(&mut self, name: &[u8], path: &Path) -> bool {
        if let Some(pp) = path.parent() {
            let parent = match name.iter().rposition(|b| *b == b'/') {
                Some(i) => &name[..i],
                None => b".",
            };
            self.list.enter_dir(parent, pp);
        }
        self.protected(name, true)
    }

    /// Receiver side, inside a directory that is itself being deleted: perishable rules
    /// (`p`, `-C`'s defaults) no longer protect.
    pub fn protected_in_deleted_dir(&mut self, name: &[u8], is_dir: bool) -> bool {
        self.ask(name, is_dir, Side::Receiver, true)
    }
}

impl WalkFilter for Filters {
    fn enter_dir(&mut self, name: &[u8], path: &Path) {
        Filters::enter_dir(self, name, path)
    }
    fn excluded(&mut self, name: &[u8], is_dir: bool) -> bool {
        Filters::excluded(self, name, is_dir)
    }
    fn take_note(&mut self) -> Option<String> {
        Filters::take_note(self)
    }
    fn take_fatal(&mut self) -> Option<(i32, String)> {
        self.list.error.take().map(|e| (e.code, e.msg))
    }
}
