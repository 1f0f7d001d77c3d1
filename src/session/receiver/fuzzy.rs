//! `-y`/`--fuzzy` (rsync generator.c `find_fuzzy`, util1.c `fuzzy_distance`): a file missing on
//! the receiver gets as delta basis a file of the same directory with the same size and mtime, or
//! else the one with the most similar name.
//!
//! rsync's scoring, reimplemented from its documented behaviour: candidates are the regular,
//! non-empty files of the destination directory in name order; a size+mtime match wins at once;
//! otherwise the score is a Levenshtein distance in units of 2^16 where a substitution also costs
//! the difference of the two bytes and an insertion/deletion the byte's value, plus ten times the
//! same distance between the two names' suffixes (the last extension, skipping `.bak`, `.old`,
//! `.orig`, `~` and `.~N~` backup endings); a length difference larger than the best score so far
//! disqualifies early. The lowest score under 25 units wins, later names winning ties. With
//! `-yy` the alternate destination directories are searched too.

use super::*;

const UNIT: u32 = 1 << 16;
const CUTOFF: u32 = 0xFFFF * UNIT + 1;

/// rsync's weighted edit distance between two names (`limit`: give up above it).
pub(super) fn distance(s1: &[u8], s2: &[u8], limit: u32) -> u32 {
    let (l1, l2) = (s1.len() as u32, s2.len() as u32);
    if l1.abs_diff(l2).saturating_mul(UNIT) > limit {
        return CUTOFF;
    }
    if s1.is_empty() || s2.is_empty() {
        let s = if s1.is_empty() { s2 } else { s1 };
        return s.len() as u32 * UNIT + s.iter().map(|b| *b as u32).sum::<u32>();
    }
    let mut row: Vec<u32> = (1..=l2).map(|i| i * UNIT).collect();
    for (i1, &c1) in s1.iter().enumerate() {
        let mut diag = i1 as u32 * UNIT;
        let mut above = (i1 as u32 + 1) * UNIT;
        for (i2, &c2) in s2.iter().enumerate() {
            let left = row[i2];
            let cost = match (c1 as i32) - (c2 as i32) {
                0 => 0,
                d => UNIT + d.unsigned_abs(),
            };
            let diag_inc = diag + cost;
            let left_inc = left + UNIT + c1 as u32;
            let above_inc = above + UNIT + c2 as u32;
            above = if left < above {
                left_inc.min(diag_inc)
            } else {
                above_inc.min(diag_inc)
            };
            row[i2] = above;
            diag = left;
        }
    }
    row[l2 as usize - 1]
}

/// The significant suffix of a name (with its dot), as rsync's `find_filename_suffix`.
pub(super) fn suffix(name: &[u8]) -> &[u8] {
    let start = name.iter().take_while(|b| **b == b'.').count();
    let fn_ = &name[start..];
    let (mut len, tilde) = match fn_ {
        [.., b'~'] if fn_.len() > 1 => (fn_.len() - 1, true),
        _ => (fn_.len(), false),
    };
    let mut suf: &[u8] = b"";
    while len > 1 {
        let Some(dot) = fn_[..len]
            .iter()
            .rposition(|b| *b == b'.')
            .filter(|d| *d > 0)
        else {
            break;
        };
        let s = &fn_[dot..len];
        len = dot;
        let rest = &s[1..];
        if matches!(rest, b"bak" | b"old" | b"orig")
            || (s.len() > 2 && tilde && rest[0] == b'~' && rest[1].is_ascii_digit())
        {
            continue;
        }
        suf = s;
        if s.len() == 1 || !rest.iter().all(u8::is_ascii_digit) {
            break;
        }
        // An all-digit suffix is not that significant: keep looking.
    }
    suf
}

/// One candidate: (name, size, mtime seconds).
pub(super) type Candidate = (Vec<u8>, u64, i64);

/// The index of the best basis among `cands` for a file `name` of `size` and `mtime`, and for
/// `--debug=fuzzy` the scores seen.
/// `dir` prefixes the names in the notes (rsync shows them relative to the transfer root).
pub(super) fn choose(
    cands: &[Candidate],
    name: &[u8],
    size: u64,
    mtime: i64,
    dir: &str,
    notes: &mut Vec<String>,
) -> Option<usize> {
    let suf = suffix(name);
    let mut lowest = 25 * UNIT;
    let mut best = None;
    for (j, (n, len, t)) in cands.iter().enumerate() {
        if *len == 0 {
            continue;
        }
        if *len == size && *t == mtime {
            notes.push(format!(
                "fuzzy size/modtime match for {dir}{}",
                report::escape(n)
            ));
            return Some(j);
        }
        let mut dist = distance(n, name, lowest);
        if dist < 0xFFFF_0000 {
            dist += distance(suffix(n), suf, 0xFFFF_0000) * 10;
        }
        notes.push(format!(
            "fuzzy distance for {dir}{} = {}.{:05}",
            report::escape(n),
            dist >> 16,
            dist & 0xFFFF
        ));
        if dist <= lowest {
            lowest = dist;
            best = Some(j);
        }
    }
    best
}

impl Receiver {
    /// A fuzzy basis for the missing file `e` at `path`.
    pub(super) fn fuzzy_basis(&mut self, e: &Entry, path: &Path) -> Option<PathBuf> {
        let dir = path.parent()?.to_path_buf();
        let mut dirs = vec![dir.clone()];
        if self.opts.fuzzy > 1 {
            let rel_dir = Path::new(OsStr::from_bytes(&e.name))
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            for alt in self.opts.alt_dirs.clone() {
                let base = Path::new(&alt);
                let base = if base.is_absolute() {
                    base.to_path_buf()
                } else {
                    self.root_dir().join(base)
                };
                dirs.push(base.join(&rel_dir));
            }
        }
        let name = path.file_name()?.as_bytes().to_vec();
        let shown_dir = match e.name.iter().rposition(|b| *b == b'/') {
            Some(i) => format!("{}/", report::escape(&e.name[..i])),
            None => String::new(),
        };
        for d in dirs {
            let cands = self.fuzzy_dir(&d);
            let mut notes = Vec::new();
            let pick = choose(&cands, &name, e.size, e.mtime, &shown_dir, &mut notes);
            if self.opts.debug.get("FUZZY") > 1 {
                for n in notes {
                    self.gen_line(n);
                }
            }
            if let Some(j) = pick {
                if self.opts.debug.get("FUZZY") > 0 {
                    self.gen_line(format!(
                        "fuzzy basis selected for {}: {shown_dir}{}",
                        report::escape(&e.name),
                        report::escape(&cands[j].0)
                    ));
                }
                return Some(d.join(OsStr::from_bytes(&cands[j].0)));
            }
        }
        None
    }

    /// The regular files of `dir` as they were when it was first looked at (rsync reads the
    /// directory once), in name order.
    fn fuzzy_dir(&mut self, dir: &Path) -> Vec<Candidate> {
        if let Some(c) = self.fuzzy_dirs.get(dir) {
            return c.clone();
        }
        // Extraneous files already deleted (their unlink may wait for the end of the run) are
        // gone for rsync's fuzzy scan too.
        let gone: std::collections::HashSet<&Path> = self
            .late_deletes
            .iter()
            .map(|(p, _)| p.as_path())
            .filter(|p| p.parent() == Some(dir))
            .collect();
        let mut v: Vec<Candidate> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|ent| {
                    let ent = ent.ok()?;
                    if gone.contains(ent.path().as_path()) {
                        return None;
                    }
                    let m = ent.metadata().ok()?;
                    m.is_file()
                        .then(|| (ent.file_name().as_bytes().to_vec(), m.len(), m.mtime()))
                })
                .collect()
            })
            .unwrap_or_default();
        v.sort();
        self.fuzzy_dirs.insert(dir.to_path_buf(), v.clone());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    /// Scores printed by rsync 3.5 `--debug=fuzzy2` for the same names.
    #[test]
    fn scores_match_rsync() {
        let name = b"report-2024.txt";
        let cands: Vec<Candidate> = [
            &b"other.bin"[..],
            b"report-2023.bak",
            b"report-2023.txt",
            b"zzz.txt",
        ]
        .iter()
        .map(|n| (n.to_vec(), 10, 0))
        .collect();
        let mut notes = Vec::new();
        assert_eq!(choose(&cands, name, 99, 1, "", &mut notes), Some(2));
        assert_eq!(
            notes,
            [
                "fuzzy distance for other.bin = 42.00803",
                "fuzzy distance for report-2023.bak = 44.04031",
                "fuzzy distance for report-2023.txt = 1.00001",
                "fuzzy distance for zzz.txt = 65535.00001",
            ]
        );
        notes.clear();
        assert_eq!(choose(&cands, name, 10, 0, "d/", &mut notes), Some(0));
        assert_eq!(notes, ["fuzzy size/modtime match for d/other.bin"]);
    }
    #[test]
    fn suffixes() {
        assert_eq!(suffix(b"a.txt"), b".txt");
        assert_eq!(suffix(b"a.txt.bak"), b".txt");
        assert_eq!(suffix(b"a.tar.gz~"), b".gz");
        assert_eq!(suffix(b"a.c.~1~"), b".c");
        assert_eq!(suffix(b".bashrc"), b"");
        assert_eq!(suffix(b"log.txt.1"), b".txt");
        assert_eq!(suffix(b"noext"), b"");
    }
}
