//! rsync's order of the file list (flist.c `f_name_cmp`), see the module doc of `flist`.
//!
//! Why on its own: the comparison runs n·log n times per directory, so it allocates nothing, and
//! its test spells the order out with built keys to check that.

use super::entry::Entry;
use std::path::PathBuf;

/// rsync's order of names within one directory: non-dirs, then dirs, each bytewise, a
/// directory's name compared as if it ended in '/' (so "a b/" sorts before "a/", as in rsync's
/// f_name_cmp). Sorts positions and moves each item once (items are large).
///
/// Children of one directory share everything up to their last '/', so where they do (checked
/// once, in one pass) only the last components are compared: splitting every name into
/// components on every comparison was 14 % of a 200,000-file walk.
pub fn sort_children(v: &mut Vec<(Entry, PathBuf)>) {
    let mut order: Vec<usize> = (0..v.len()).collect();
    let base = |e: &Entry| e.name.iter().rposition(|c| *c == b'/').map_or(0, |i| i + 1);
    let one_dir = v.first().is_some_and(|(first, _)| {
        let prefix = &first.name[..base(first)];
        v.iter()
            .all(|(e, _)| !e.is_dot() && e.name[..base(e)] == *prefix)
    });
    if one_dir {
        let keys: Vec<(bool, &[u8])> = v
            .iter()
            .map(|(e, _)| (e.is_dir(), &e.name[base(e)..]))
            .collect();
        order.sort_by(|&a, &b| {
            let ((ad, an), (bd, bn)) = (keys[a], keys[b]);
            ad.cmp(&bd).then_with(|| cmp_component(an, bn, ad))
        });
    } else {
        order.sort_by(|&a, &b| cmp_entries(&v[a].0, &v[b].0));
    }
    let mut items: Vec<Option<(Entry, PathBuf)>> =
        std::mem::take(v).into_iter().map(Some).collect();
    v.extend(order.into_iter().filter_map(|i| items[i].take()));
}

/// The byte string rsync compares for a name: directories get a trailing '/'.
pub fn sort_key(name: &[u8], is_dir: bool) -> Vec<u8> {
    let mut k = name.to_vec();
    if is_dir {
        k.push(b'/');
    }
    k
}

/// rsync's file-list order (flist.c f_name_cmp): `.` first; then component by component, and at
/// each level non-directories before directories, each bytewise. Allocates nothing: it runs
/// n·log n times per directory.
pub fn cmp_entries(a: &Entry, b: &Entry) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (ad, bd) = (a.is_dot(), b.is_dot());
    if ad || bd {
        return bd.cmp(&ad);
    }
    let mut ac = a.name.split(|c| *c == b'/').peekable();
    let mut bc = b.name.split(|c| *c == b'/').peekable();
    loop {
        match (ac.next(), bc.next()) {
            (None, None) => return Ordering::Equal,
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let xd = ac.peek().is_some() || a.is_dir();
                let yd = bc.peek().is_some() || b.is_dir();
                if xd != yd {
                    return xd.cmp(&yd);
                }
                match cmp_component(x, y, xd) {
                    Ordering::Equal => continue,
                    o => return o,
                }
            }
        }
    }
}

/// `sort_key(x, dir).cmp(&sort_key(y, dir))` without building the keys: directory names compare
/// as if they ended in '/' (rsync f_name_cmp), which decides only where one name is a prefix of
/// the other ('/' never occurs inside a component).
fn cmp_component(x: &[u8], y: &[u8], dir: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let n = x.len().min(y.len());
    match x[..n].cmp(&y[..n]) {
        Ordering::Equal if dir && x.len() != y.len() => {
            if x.len() < y.len() {
                b'/'.cmp(&y[n])
            } else {
                x[n].cmp(&b'/')
            }
        }
        Ordering::Equal => x.len().cmp(&y.len()),
        o => o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flist::entry::{S_IFDIR, S_IFREG};

    /// The order rsync's f_name_cmp defines, spelled out with built keys (component by
    /// component; non-directories first; directory names compared with a trailing '/').
    fn reference(a: &Entry, b: &Entry) -> std::cmp::Ordering {
        let (ad, bd) = (a.is_dot(), b.is_dot());
        if ad || bd {
            return bd.cmp(&ad);
        }
        let ac: Vec<&[u8]> = a.name.split(|c| *c == b'/').collect();
        let bc: Vec<&[u8]> = b.name.split(|c| *c == b'/').collect();
        for i in 0..ac.len().max(bc.len()) {
            let (Some(x), Some(y)) = (ac.get(i), bc.get(i)) else {
                return ac.len().cmp(&bc.len());
            };
            let xd = i + 1 < ac.len() || a.is_dir();
            let yd = i + 1 < bc.len() || b.is_dir();
            let o = xd
                .cmp(&yd)
                .then_with(|| sort_key(x, xd).cmp(&sort_key(y, yd)));
            if o.is_ne() {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    }

    #[test]
    fn entry_order_matches_rsyncs_keys() {
        let names = [
            ".", "a", "a b", "a.b", "a-", "a0", "ab", "b", "a/b", "a/b c", "a b/c", "a/a", "A",
            "~", "a~", "\u{e9}",
        ];
        let mut entries = Vec::new();
        for n in names {
            for mode in [S_IFREG, S_IFDIR] {
                entries.push(Entry {
                    name: n.as_bytes().to_vec().into(),
                    mode: mode | 0o644,
                    ..Default::default()
                });
            }
        }
        for a in &entries {
            for b in &entries {
                let (x, y) = (
                    String::from_utf8_lossy(&a.name),
                    String::from_utf8_lossy(&b.name),
                );
                assert_eq!(
                    cmp_entries(a, b),
                    reference(a, b),
                    "{x} ({:o}) vs {y} ({:o})",
                    a.mode,
                    b.mode
                );
            }
        }
        // Children of one directory (the fast path) and a mixed list sort as cmp_entries says.
        for prefix in ["", "d/sub/"] {
            let kids: Vec<(Entry, PathBuf)> = entries
                .iter()
                .filter(|e| !e.is_dot() && !e.name.contains(&b'/'))
                .rev()
                .map(|e| {
                    let mut e = e.clone();
                    e.name = [prefix.as_bytes(), &e.name].concat().into();
                    (e, PathBuf::new())
                })
                .collect();
            for list in [
                kids.clone(),
                [kids, vec![(entries[0].clone(), PathBuf::new())]].concat(),
            ] {
                let mut got = list.clone();
                sort_children(&mut got);
                let mut want: Vec<Entry> = list.into_iter().map(|x| x.0).collect();
                want.sort_by(cmp_entries);
                let names = |v: &[Entry]| {
                    v.iter()
                        .map(|e| (e.name.clone(), e.mode))
                        .collect::<Vec<_>>()
                };
                let got: Vec<Entry> = got.into_iter().map(|x| x.0).collect();
                assert_eq!(names(&got), names(&want), "{prefix}");
            }
        }
        // A directory "a" sorts after the file "a b" and after the directory "a b" ('/' > ' ').
        let dir_a = &entries[3];
        let dir_ab = &entries[5];
        assert_eq!(cmp_entries(dir_ab, dir_a), std::cmp::Ordering::Less);
    }
}
