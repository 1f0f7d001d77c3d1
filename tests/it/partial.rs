//! `--partial-dir`: an interrupted transfer keeps what arrived in DIR (not over the destination),
//! the next run uses it as the basis and removes it.

use std::process::Command;

#[test]
fn interrupted_transfer_resumes_from_the_partial_dir() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let data = crate::util::pseudo_random(7, 16 << 20);
    std::fs::write(src.join("big"), &data).unwrap();
    let bin = env!("CARGO_BIN_EXE_parasync");
    let mut child = Command::new(bin)
        .args([
            "-a",
            "--partial-dir=.partial",
            "--bwlimit=2000",
            "src/",
            "dst/",
        ])
        .current_dir(t.path())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(20));
    let partial = t.path().join("dst/.partial/big");
    let kept = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
    assert!(kept > 0, "nothing kept in the partial dir");
    assert!(
        !t.path().join("dst/big").exists(),
        "the destination must not be replaced"
    );
    let out = Command::new(bin)
        .args([
            "-a",
            "--no-whole-file",
            "--partial-dir=.partial",
            "--stats",
            "src/",
            "dst/",
        ])
        .current_dir(t.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(std::fs::read(t.path().join("dst/big")).unwrap() == data);
    assert!(
        !t.path().join("dst/.partial").exists(),
        "partial dir removed when done"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let matched: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("Matched data: "))
        .and_then(|v| v.trim_end_matches(" bytes").replace(',', "").parse().ok())
        .unwrap_or(0);
    assert!(
        matched > 0,
        "the partial file was not used as the basis:\n{text}"
    );
}
