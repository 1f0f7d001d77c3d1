//! `-y`/`--fuzzy` against the installed rsync: for each missing file the same basis is chosen
//! (rsync's `--debug=fuzzy2` scores and choices are compared line by line), the trees end equal,
//! and the basis really serves the delta (little literal data).

use crate::util::*;
use std::path::Path;

const NEW: [&str; 5] = [
    "report-2024.txt",
    "same.dat",
    "d/archive.tar.gz",
    "d/notes.md",
    "d/photo_0012.jpeg",
];

fn fuzzy_tree(w: &Path) {
    let (src, dst) = (w.join("src"), w.join("dst"));
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::create_dir_all(dst.join("d")).unwrap();
    let data = pseudo_random(11, 120_000);
    for (i, n) in NEW.iter().enumerate() {
        let mut v = data.clone();
        v.extend(format!("tail {i}").as_bytes());
        std::fs::write(src.join(n), &v).unwrap();
    }
    for n in [
        "report-2023.txt",
        "report-2023.bak",
        "zzz.txt",
        "d/archive.tar.gz~",
        "d/archive.zip",
        "d/notes.md.orig",
        "d/notes.txt",
        "d/photo_0011.jpeg",
        "d/photo_0011.jpg",
        "d/empty",
    ] {
        let body = if n.ends_with("empty") {
            Vec::new()
        } else {
            data.clone()
        };
        std::fs::write(dst.join(n), body).unwrap();
    }
    // A size+mtime twin under an unrelated name.
    std::fs::write(src.join("same.dat"), &data[..5000]).unwrap();
    std::fs::write(dst.join("other.bin"), &data[..5000]).unwrap();
    // Fixed times everywhere: the trees are compared with their mtimes.
    let t = filetime::FileTime::from_unix_time(1_600_000_000, 0);
    let later = filetime::FileTime::from_unix_time(1_700_000_000, 0);
    for top in ["src", "dst"] {
        let mut stack = vec![w.join(top)];
        while let Some(d) = stack.pop() {
            for ent in std::fs::read_dir(&d).unwrap() {
                let p = ent.unwrap().path();
                if p.is_dir() {
                    stack.push(p.clone());
                }
                let same = p.ends_with("same.dat") || p.ends_with("other.bin");
                filetime::set_file_mtime(&p, if same { t } else { later }).unwrap();
            }
            filetime::set_file_mtime(&d, t).unwrap();
        }
    }
}

fn fuzzy_lines(s: &str) -> Vec<String> {
    s.lines()
        .filter(|l| l.starts_with("fuzzy"))
        .map(str::to_string)
        .collect()
}

fn literal(s: &str) -> u64 {
    s.lines()
        .find_map(|l| l.strip_prefix("Literal data: "))
        .map(|v| {
            v.trim_end_matches(" bytes")
                .replace(',', "")
                .parse()
                .unwrap()
        })
        .unwrap()
}

#[test]
fn fuzzy_basis_matches_rsync() {
    let t = Twin::new(fuzzy_tree);
    let pair = t.run(&["-ay", "--no-W", "--debug=fuzzy2", "--stats", "src/", "dst/"]);
    assert_eq!(pair.r.code, 0, "{}", pair.r);
    assert_eq!(pair.p.code, 0, "{}", pair.p);
    let (mut r, mut p) = (
        fuzzy_lines(&format!("{}{}", pair.r.stdout, pair.r.stderr)),
        fuzzy_lines(&format!("{}{}", pair.p.stdout, pair.p.stderr)),
    );
    // The two tools may walk directories in a different interleaving; the choices are per file.
    r.sort();
    p.sort();
    assert_eq!(r, p);
    assert_eq!(
        p.iter().filter(|l| l.contains("basis selected")).count(),
        NEW.len()
    );
    t.assert_trees("dst", Cmp::ALL);
    let lit = literal(&pair.p.stdout);
    assert!(
        lit < 50_000,
        "the fuzzy basis was not used: {lit} literal bytes"
    );
}

#[test]
fn fuzzy_without_delta_is_a_plain_copy() {
    let t = Twin::new(fuzzy_tree);
    t.same(&["-aiy", "src/", "dst/"]);
    t.assert_trees("dst", Cmp::ALL);
}

#[test]
fn fuzzy_after_delete_during_finds_no_deleted_basis() {
    // rsync(1): --delete(-during) removes extraneous files before the fuzzy scan sees them;
    // --delete-after keeps them available as bases.
    for (del, chosen) in [("--delete", 0), ("--delete-after", NEW.len())] {
        let t = Twin::new(fuzzy_tree);
        let pair = t.run(&["-ay", "--no-W", del, "--debug=fuzzy", "src/", "dst/"]);
        let (mut r, mut p) = (fuzzy_lines(&pair.r.stdout), fuzzy_lines(&pair.p.stdout));
        r.sort();
        p.sort();
        assert_eq!(r, p, "{del}");
        assert_eq!(p.len(), chosen, "{del}: {p:?}");
        t.assert_trees("dst", Cmp::ALL);
    }
}
