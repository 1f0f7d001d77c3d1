//! Faults during a transfer. rsync's guarantees (receiver.c / cleanup.c) are the model: without
//! `--partial`/`--inplace` a destination file is replaced by rename only after its content is
//! complete and verified, so whatever happens a file is the old or the new version, never torn.
//! - SIGINT/SIGTERM/SIGHUP to the client: temp files removed, exit 20.
//! - kill -9 of the client or of the server process ("remote" via a local rsh wrapper): finished
//!   renames are intact, leftovers are only dot-temp files, a re-run with --delete converges.
//! - Disk full (a 2 MiB tmpfs): "No space left on device", exit 11 as rsync, completed files
//!   intact, no temp file.
//! - A source file that vanishes after the file list: exit 24 with "file has vanished".
//! - `--timeout` with a peer that never answers: exit 30 within the timeout plus a second.

use crate::fault_kit::{args, command, hello, parasync, run_cmd, snapshot, temp_files, Tree, BIN};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Deterministic pseudo-random content.
fn content(seed: u64, len: usize) -> Vec<u8> {
    crate::util::pseudo_random(seed, len)
}

/// src with `n` files of `size` bytes (new versions), dst with old versions of most of them.
fn fixture(n: usize, size: usize) -> Tree {
    let t = Tree::new();
    for i in 0..n {
        t.write(&format!("src/f{i:02}"), &content(i as u64 + 1, size));
        if i % 4 != 3 {
            t.write(&format!("dst/f{i:02}"), &content(i as u64 + 1000, size / 2));
        }
    }
    t
}

/// Each destination file is its old or its new version (or absent if it had no old version);
/// nothing else but dot-temp files exists.
fn old_or_new(old: &BTreeMap<String, String>, t: &Tree) {
    let new = snapshot(&t.path("src"));
    let temps = temp_files(&t.path("dst"));
    for (k, v) in snapshot(&t.path("dst")) {
        if temps.contains(&k) {
            continue;
        }
        assert!(
            old.get(&k) == Some(&v) || new.get(&k) == Some(&v),
            "{k} is torn or foreign"
        );
    }
}

fn spawn(t: &Tree, a: &[String]) -> Child {
    command(BIN, &t.root, a)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait(mut c: Child) -> (i32, String) {
    let mut err = String::new();
    std::io::Read::read_to_string(c.stderr.as_mut().unwrap(), &mut err).unwrap();
    let st = c.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    (st.code().unwrap_or(128 + st.signal().unwrap_or(0)), err)
}

/// Wait until a temp file shows up in `dir` (the transfer is mid-file), at most `limit`.
fn wait_for_temp(dir: &Path, limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit && temp_files(dir).is_empty() {
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn signals_remove_temp_files_and_exit_20() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let t = fixture(8, 1 << 20);
        let old = snapshot(&t.path("dst"));
        let c = spawn(&t, &args(&["-r", "--bwlimit=2000", "src/", "dst/"]));
        wait_for_temp(&t.path("dst"), Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(300));
        unsafe { libc::kill(c.id() as i32, sig) };
        let (code, err) = wait(c);
        assert_eq!(code, 20, "signal {sig}: {err}");
        assert!(
            err.contains("received SIGINT, SIGTERM, or SIGHUP (code 20)"),
            "{err}"
        );
        assert!(
            temp_files(&t.path("dst")).is_empty(),
            "signal {sig}: temp left"
        );
        old_or_new(&old, &t);
    }
}

/// The rsh wrapper records the server's pid (the shell execs into the server).
fn pid_rsh(t: &Tree) -> std::path::PathBuf {
    let pidfile = t.path("server.pid");
    t.script(
        "pid-rsh",
        &format!(
            "echo $$ > '{}'\nshift\nexec sh -c \"exec $*\"",
            pidfile.display()
        ),
    )
}

fn server_pid(t: &Tree, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(p) = std::fs::read_to_string(t.path("server.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return Some(p);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

#[test]
fn kill_9_at_random_points_then_converge() {
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut tried = 0;
    let mut mid_file = 0;
    for push in [false, true] {
        for kill_server in [false, true] {
            for _ in 0..4 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let delay = Duration::from_millis(20 + seed % 1500);
                let t = fixture(6, 1 << 20);
                let old = snapshot(&t.path("dst"));
                let rsh = pid_rsh(&t).display().to_string();
                let mut a = args(&["-r", "--bwlimit=3000", "-e", &rsh]);
                a.extend(if push {
                    args(&["src/", "h:dst/"])
                } else {
                    args(&["h:src/", "dst/"])
                });
                let c = spawn(&t, &a);
                let start = Instant::now();
                let spid = server_pid(&t, Duration::from_secs(5)).expect("server started");
                std::thread::sleep(delay.saturating_sub(start.elapsed()));
                if !temp_files(&t.path("dst")).is_empty() {
                    mid_file += 1;
                }
                let victim = if kill_server { spid } else { c.id() as i32 };
                unsafe { libc::kill(victim, libc::SIGKILL) };
                if !kill_server {
                    // The orphaned server ends on EOF; give it a moment to clean up.
                    let _ = wait(c);
                    let deadline = Instant::now() + Duration::from_secs(5);
                    while Instant::now() < deadline && unsafe { libc::kill(spid, 0) } == 0 {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                } else {
                    let (code, err) = wait(c);
                    // Exit 0 only if the transfer had already completed.
                    if code == 0 {
                        assert_eq!(
                            snapshot(&t.path("dst")),
                            snapshot(&t.path("src")),
                            "killed server went unnoticed: {err}"
                        );
                    }
                }
                tried += 1;
                old_or_new(&old, &t);
                // Re-run: converges, and --delete removes stale temp files.
                let out = parasync(&t.root, &args(&["-r", "--delete", "src/", "dst/"]));
                assert_eq!(out.code, 0, "{}", out.stderr);
                assert_eq!(snapshot(&t.path("dst")), snapshot(&t.path("src")));
            }
        }
    }
    eprintln!("kill -9 points tried: {tried} ({mid_file} while a temp file existed)");
}

#[test]
fn disk_full_reports_enospc_and_leaves_no_temp() {
    let t = Tree::new();
    let small = 400 << 10;
    t.write("src/a", &content(1, small));
    t.write("src/b_big", &content(2, 3 << 20));
    t.write("src/c", &content(3, small));
    t.write("src/d", &content(4, small));
    std::fs::create_dir(t.path("dst")).unwrap();
    let mnt = t.path("dst");
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "cannot mount a tmpfs in CI"
        );
        eprintln!("disk-full test skipped: mounting a tmpfs failed (not root?)");
        return;
    }
    let out = parasync(&t.root, &args(&["-r", "src/", "dst/"]));
    let snap = snapshot(&mnt);
    let temps = temp_files(&mnt);
    let _ = std::process::Command::new("umount").arg(&mnt).status();
    // rsync's receiver.c: a failed write is fatal (exit 11); files completed before it stay.
    assert_eq!(out.code, 11, "{}", out.stderr);
    assert!(
        out.stderr.contains("write failed on \"")
            && out.stderr.contains("b_big\": No space left on device (28)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("error in file IO (code 11)"),
        "{}",
        out.stderr
    );
    assert!(temps.is_empty(), "temp files left: {temps:?}");
    let src = snapshot(&t.path("src"));
    assert_eq!(snap.get("a"), src.get("a"), "a fitted before the big file");
    for k in ["c", "d"] {
        assert!(
            snap.get(k).is_none_or(|v| src.get(k) == Some(v)),
            "{k} torn"
        );
    }
    assert!(!snap.contains_key("b_big"), "partial big file left");
}

#[test]
fn vanished_source_exits_24() {
    let t = fixture(20, 200 << 10);
    let c = spawn(&t, &args(&["-r", "--bwlimit=1000", "src/", "dst/"]));
    wait_for_temp(&t.path("dst"), Duration::from_secs(5));
    std::fs::remove_file(t.path("src/f19")).unwrap();
    let (code, err) = wait(c);
    assert_eq!(code, 24, "{err}");
    assert!(err.contains("file has vanished: \""), "{err}");
    assert!(err.contains("f19\""), "{err}");
    assert!(
        err.contains(
            "rsync warning: some files vanished before they could be transferred (code 24)"
        ),
        "{err}"
    );
    assert!(!t.path("dst/f19").exists());
    assert_eq!(
        snapshot(&t.path("dst")).get("f18"),
        snapshot(&t.path("src")).get("f18")
    );
}

#[test]
fn source_changing_while_read_is_never_torn() {
    // A big file is rewritten in place while the (rate-limited) sender reads it: the result is
    // one whole version, never a mix — the sender notices the change, the digest check fails,
    // the receiver retries; a shrunk file ends in a reported verification failure.
    for shrink in [false, true] {
        let t = Tree::new();
        let size = 3 << 20;
        let orig = content(1, size);
        let old = content(2, size / 2);
        t.write("src/big", &orig);
        t.write("dst/big", &old);
        let c = spawn(&t, &args(&["-r", "--bwlimit=1500", "src/", "dst/"]));
        wait_for_temp(&t.path("dst"), Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(200));
        let v1 = content(3, size);
        let v2 = content(4, if shrink { size / 3 } else { size });
        std::fs::OpenOptions::new()
            .write(true)
            .open(t.path("src/big"))
            .and_then(|mut f| std::io::Write::write_all(&mut f, &v1))
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        std::fs::write(t.path("src/big"), &v2).unwrap();
        let (code, err) = wait(c);
        let got = std::fs::read(t.path("dst/big")).unwrap();
        let whole = [&orig, &old, &v1, &v2].iter().any(|v| **v == got);
        assert!(whole, "torn dst/big (exit {code}): {err}");
        if shrink {
            assert!(got == old && code == 23, "exit {code}: {err}");
            assert!(
                err.contains("big failed verification -- update discarded."),
                "{err}"
            );
        } else {
            assert_eq!(code, 0, "{err}");
        }
        assert!(temp_files(&t.path("dst")).is_empty());
    }
}

#[test]
fn timeout_with_a_stalled_peer_exits_30() {
    let t = Tree::new();
    t.write("src/a", b"x");
    let rsh = t
        .script("stall-rsh", "exec sleep 100 2>/dev/null")
        .display()
        .to_string();
    // A peer that greets, then goes silent (the stall comes after the handshake).
    std::fs::write(t.path("hello.bin"), hello()).unwrap();
    let greet = t
        .script(
            "greet-stall-rsh",
            &format!(
                "exec 3<&0\ncat <&3 >/dev/null 3<&- &\ncat '{}'\nexec sleep 100 2>/dev/null 3<&-",
                t.path("hello.bin").display()
            ),
        )
        .display()
        .to_string();
    for a in [
        args(&["--timeout=2", "-e", &rsh, "h:src/a", "dst/"]),
        args(&["--timeout=2", "-e", &rsh, "src/a", "h:dst/"]),
        args(&["--timeout=2", "-e", &greet, "h:src/a", "dst/"]),
        args(&["--timeout=2", "-e", &greet, "src/a", "h:dst/"]),
    ] {
        let out = run_cmd(command(BIN, &t.root, &a), Duration::from_secs(20));
        assert_eq!(out.code, 30, "{}", out.stderr);
        assert!(
            out.elapsed < Duration::from_secs(3),
            "took {:?}",
            out.elapsed
        );
        assert!(
            out.stderr.contains("io timeout after 2 seconds -- exiting"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains("timeout in data send/receive (code 30)"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn signals_to_the_server_remove_its_temp_files() {
    // Push: the server process is the receiver; a signal makes it clean up and exit 20 quietly,
    // and the client reports the lost connection with an error exit.
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let t = fixture(6, 1 << 20);
        let old = snapshot(&t.path("dst"));
        let rsh = pid_rsh(&t).display().to_string();
        let c = spawn(
            &t,
            &args(&["-r", "--bwlimit=2000", "-e", &rsh, "src/", "h:dst/"]),
        );
        let spid = server_pid(&t, Duration::from_secs(5)).expect("server started");
        wait_for_temp(&t.path("dst"), Duration::from_secs(5));
        unsafe { libc::kill(spid, sig) };
        let (code, err) = wait(c);
        assert_ne!(code, 0, "signal {sig}: {err}");
        assert!(
            temp_files(&t.path("dst")).is_empty(),
            "signal {sig}: temp left"
        );
        old_or_new(&old, &t);
    }
}

/// `--stop-at` (and `--stop-after`, the same deadline in minutes) ends a transfer that is still
/// running at that time as rsync does: "stopping at requested limit", exit 30, no temp file
/// left; with `--partial` the part received so far is kept. rsync runs alongside on the same
/// input as the oracle. The deadline is the next minute boundary at least 5 s away, so this
/// test takes 5–65 s; `--bwlimit` keeps both transfers running past it.
#[test]
fn stop_at_ends_the_run_like_rsync() {
    let t = Tree::new();
    t.write("src/big", &content(7, 8 << 20));
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let at = (secs + 5) / 60 * 60 + 60;
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe { libc::localtime_r(&(at as libc::time_t), &mut tm) };
    let when = format!("{}:{:02}", tm.tm_hour, tm.tm_min);
    let runs: Vec<_> = [
        ("rsync", ""),
        (BIN, ""),
        ("rsync", "--partial"),
        (BIN, "--partial"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (prog, extra))| {
        let mut a = args(&["-a", "--bwlimit=100", &format!("--stop-at={when}")]);
        if !extra.is_empty() {
            a.push(extra.into());
        }
        a.extend(args(&["src/", &format!("dst{i}/")]));
        let c = command(prog, &t.root, &a)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        (i, prog, c)
    })
    .collect();
    for (i, prog, c) in runs {
        let (code, err) = wait(c);
        assert_eq!(code, 30, "{prog} {i}: {err}");
        assert!(
            err.starts_with("stopping at requested limit\n"),
            "{prog} {i}: {err}"
        );
        assert!(
            err.contains("timeout in data send/receive (code 30)"),
            "{err}"
        );
        let dst = t.path(&format!("dst{i}"));
        assert!(temp_files(&dst).is_empty(), "{prog} {i}: temp files left");
        let kept = std::fs::metadata(dst.join("big")).map(|m| m.len()).ok();
        if i < 2 {
            assert_eq!(kept, None, "{prog} {i}");
        } else {
            assert!(
                kept.is_some_and(|n| n > 0 && n < 8 << 20),
                "{prog} {i}: {kept:?}"
            );
        }
    }
}
