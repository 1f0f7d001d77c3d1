//! `--info=progress2`: rsync's text when piped, an indicatif bar on a terminal (a pty from
//! util-linux `script`).

use std::process::Command;

fn tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("s")).unwrap();
    std::fs::write(t.path().join("s/a"), vec![1u8; 3_000_000]).unwrap();
    std::fs::write(t.path().join("s/b"), vec![2u8; 1000]).unwrap();
    t
}

#[test]
fn progress2_piped_is_rsync_text() {
    let t = tree();
    let out = Command::new(env!("CARGO_BIN_EXE_parasync"))
        .args(["-a", "--info=progress2"])
        .arg(t.path().join("s/"))
        .arg(t.path().join("d"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.starts_with('\r'), "{s:?}");
    assert!(s.ends_with(")\n"), "{s:?}");
    let last = s.trim_end().rsplit('\r').next().unwrap();
    // "      3,001,000 100%  ...MB/s    0:00:00 (xfr#2, to-chk=0/3)"
    assert!(last.trim_start().starts_with("3,001,000 100% "), "{last:?}");
    assert!(last.ends_with("(xfr#2, to-chk=0/3)"), "{last:?}");
}

#[test]
fn progress2_on_a_tty_draws_a_bar() {
    if !crate::util::installed("script") {
        return;
    }
    let t = tree();
    let cmd = format!(
        "{} -a --info=progress2 {}/s/ {}/d",
        env!("CARGO_BIN_EXE_parasync"),
        t.path().display(),
        t.path().display()
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("100%") && s.contains("ETA"), "{s:?}");
    assert!(!s.contains("to-chk"), "{s:?}");
    assert_eq!(
        std::fs::read(t.path().join("d/a")).unwrap().len(),
        3_000_000
    );
}

/// `--progress` text with the rate and elapsed fields blanked (they are timings): each number
/// before `B/s` and each `h:mm:ss`, and the padding around them (the columns are right-aligned,
/// so a shorter rate has more spaces before it).
fn mask_rates(s: &str) -> String {
    s.split('\n')
        .map(|line| {
            line.split('\r')
                .map(|seg| {
                    seg.split_whitespace()
                        .map(|w| {
                            if w.ends_with("B/s") {
                                "RATE"
                            } else if w.len() >= 7 && w.matches(':').count() == 2 {
                                "TIME"
                            } else {
                                w
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect::<Vec<_>>()
                .join("\r")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `--progress` on small and empty files is rsync's text: one progress line per file (two
/// fields, `\r`-separated, the last with `xfr#`/`to-chk`), and an empty file gets only the last.
#[test]
fn progress_lines_are_rsyncs() {
    use crate::util::*;
    let t = Twin::new(|w| {
        Tree::new(&w.join("src"))
            .file("a.txt", b"hello\n")
            .file("empty", b"")
            .file("sub/b.dat", &pseudo_random(3, 20_000))
            .finish();
    });
    for args in [&["-a", "--progress"][..], &["-av", "--progress", "-h"]] {
        let mut a = args.to_vec();
        a.extend_from_slice(&["src/", "dst/"]);
        let pair = t.run(&a);
        pair.assert_same_by(&format!("{a:?}"), |s| mask_rates(&mask(s)));
        assert!(
            pair.p.stdout.contains("\r              0 100%"),
            "{}",
            pair.p
        );
        std::fs::remove_dir_all(t.r.join("dst")).unwrap();
        std::fs::remove_dir_all(t.p.join("dst")).unwrap();
    }
}
