//! Pipelining (issue: remote transfers): on a link with latency, a push of many small files must
//! not pay one round trip per file. The `-e` command is a wrapper that runs the remote half locally
//! and delays every byte by 100 ms each way (RTT 200 ms): 400 files with a round trip each would
//! take over 80 s; pipelined they take a few round trips.

use std::process::Command;
use std::time::Instant;

#[test]
fn many_files_over_a_slow_link_do_not_pay_a_round_trip_each() {
    if !crate::util::installed("python3") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir(&src).unwrap();
    for i in 0..400 {
        std::fs::write(src.join(format!("f{i:04}")), format!("file {i}\n")).unwrap();
    }
    let wrapper = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/delay_rsh.py");
    let bin = env!("CARGO_BIN_EXE_parasync");
    let start = Instant::now();
    let out = Command::new(bin)
        .arg("-a")
        .arg("-e")
        .arg(format!("python3 {wrapper} 0.1"))
        .arg(format!("--rsync-path={bin}"))
        .arg(format!("{}/", src.display()))
        .arg(format!("h:{}/dst/", t.path().display()))
        .output()
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_dir(t.path().join("dst")).unwrap().count(),
        400
    );
    assert!(
        secs < 20.0,
        "400 files over a 200 ms RTT link took {secs:.1} s"
    );
}
