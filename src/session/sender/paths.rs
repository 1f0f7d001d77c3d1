//! Where each listed entry is on the sender's disk, for the whole run. A path per entry cost
//! about 80 bytes per file of a tree; but an entry below a listed directory is that directory's
//! path plus its own last name component (the walker builds it so: `dir.join(name)`, flist/walk.rs),
//! so only the entries of the top-level segments (operands, `--files-from` lines, `-R`'s implied
//! directories, a `--streams` helper's list) keep a path, and the rest keep their directory's
//! index (4 bytes).

use crate::flist::Entry;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// `parent` value of an entry whose path is kept.
const OWN: u32 = u32::MAX;

#[derive(Default)]
pub(super) struct SourcePaths {
    own: HashMap<u32, PathBuf>,
    /// Per list index: the directory it was listed under, or [`OWN`].
    parent: Vec<u32>,
}

impl SourcePaths {
    /// The paths of the segment that continues the list, listed under `parent` (`u32::MAX`: the
    /// top level); `flist` already holds the segment's entries. A path that is not its
    /// directory's path plus its last name component (an operand listed in "."'s segment) is
    /// kept as it is.
    pub(super) fn add(&mut self, parent: u32, paths: Vec<PathBuf>, flist: &[Entry]) {
        let base = self.parent.len() as u32;
        let dir = (parent != u32::MAX)
            .then(|| self.get(flist, parent))
            .flatten();
        for (i, p) in (base..).zip(paths) {
            let derived = dir.as_ref().is_some_and(|d| {
                let name = flist.get(i as usize).map_or(&[][..], |e| &e.name[..]);
                d.join(OsStr::from_bytes(last(name))).as_os_str() == p.as_os_str()
            });
            if derived {
                self.parent.push(parent);
            } else {
                self.own.insert(i, p);
                self.parent.push(OWN);
            }
        }
    }

    /// The path of entry `idx` of `flist` (the list these paths were added along with).
    pub(super) fn get(&self, flist: &[Entry], idx: u32) -> Option<PathBuf> {
        let mut below = Vec::new();
        let mut at = idx;
        loop {
            match *self.parent.get(at as usize)? {
                OWN => break,
                p if p < at => {
                    below.push(at);
                    at = p;
                }
                // A directory is always listed before its contents.
                _ => return None,
            }
        }
        let mut path = self.own.get(&at)?.clone();
        for i in below.into_iter().rev() {
            path.push(OsStr::from_bytes(last(&flist.get(i as usize)?.name)));
        }
        Some(path)
    }
}

fn last(name: &[u8]) -> &[u8] {
    name.rsplit(|b| *b == b'/').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn rebuilds_the_walkers_paths() {
        let e = |n: &str| Entry {
            name: n.as_bytes().to_vec().into(),
            ..Default::default()
        };
        // "." is /s/; "top" an operand from elsewhere listed in "."'s segment.
        let flist = ["."; 1]
            .into_iter()
            .chain(["a", "b", "top", "a/x", "a/y", "a/x/z"])
            .map(e)
            .collect::<Vec<_>>();
        let mut p = SourcePaths::default();
        p.add(u32::MAX, vec!["/s/".into()], &flist);
        let top = vec!["/s/a".into(), "/s/b".into(), "/elsewhere/top".into()];
        p.add(0, top, &flist);
        p.add(1, vec!["/s/a/x".into(), "/s/a/y".into()], &flist);
        p.add(4, vec!["/s/a/x/z".into()], &flist);
        assert_eq!(p.own.len(), 2);
        let want = [
            "/s/",
            "/s/a",
            "/s/b",
            "/elsewhere/top",
            "/s/a/x",
            "/s/a/y",
            "/s/a/x/z",
        ];
        for (i, w) in want.iter().enumerate() {
            assert_eq!(p.get(&flist, i as u32), Some(PathBuf::from(w)), "{i}");
        }
        assert_eq!(p.get(&flist, 7), None);
    }
}
