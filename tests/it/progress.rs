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
