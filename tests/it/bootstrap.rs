//! Remotes without parasync: `--remote-install`, `--fallback=rsync`, and the error without them.
//! The "remote" is a local shell reached through an rsh wrapper (drops the host, runs the command
//! with a private $HOME), so the remote program lookup fails for real.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn rsh(dir: &Path) -> String {
    let p = dir.join("rsh");
    std::fs::write(&p, "#!/bin/sh\nshift\nexec sh -c \"$*\"\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.to_str().unwrap().to_string()
}

fn run(home: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_parasync"))
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_CACHE_HOME")
        // The remote lookup of `parasync` must fail: keep it off PATH.
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn without_flags_the_error_names_both_options() {
    let t = tempfile::tempdir().unwrap();
    let e = rsh(t.path());
    std::fs::create_dir(t.path().join("s")).unwrap();
    std::fs::write(t.path().join("s/a"), b"x").unwrap();
    let src = format!("{}/s/", t.path().display());
    let dst = format!("h:{}/d/", t.path().display());
    let (code, err) = run(t.path(), &["-a", "-e", &e, &src, &dst]);
    assert_eq!(code, 127, "{err}");
    assert!(
        err.contains("--remote-install") && err.contains("--fallback=rsync"),
        "{err}"
    );
    assert!(!t.path().join("d").exists());
}

#[test]
fn remote_install_places_a_verified_copy_and_reuses_it() {
    let t = tempfile::tempdir().unwrap();
    let e = rsh(t.path());
    std::fs::create_dir(t.path().join("s")).unwrap();
    std::fs::write(t.path().join("s/a"), b"hello").unwrap();
    let src = format!("{}/s/", t.path().display());
    for d in ["d1", "d2"] {
        let dst = format!("h:{}/{d}/", t.path().display());
        let (code, err) = run(t.path(), &["-a", "--remote-install", "-e", &e, &src, &dst]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(std::fs::read(t.path().join(d).join("a")).unwrap(), b"hello");
        // Installed once, reused the second time.
        assert_eq!(err.contains("installed parasync"), d == "d1", "{err}");
    }
    let installed = t
        .path()
        .join(".cache/parasync")
        .join(parasync::cli::help::VERSION)
        .join("parasync");
    assert_eq!(
        std::fs::read(installed).unwrap(),
        std::fs::read(env!("CARGO_BIN_EXE_parasync")).unwrap()
    );
}

#[test]
fn fallback_runs_rsync_and_says_so() {
    if !crate::util::installed("rsync") {
        eprintln!("rsync not installed; skipped");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let e = rsh(t.path());
    std::fs::create_dir(t.path().join("s")).unwrap();
    std::fs::write(t.path().join("s/a"), b"hello").unwrap();
    let src = format!("{}/s/", t.path().display());
    let dst = format!("h:{}/d/", t.path().display());
    let (code, err) = run(
        t.path(),
        &[
            "-a",
            "--fallback=rsync",
            "--engine=dsync",
            "-e",
            &e,
            &src,
            &dst,
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("with rsync instead"), "{err}");
    assert_eq!(std::fs::read(t.path().join("d/a")).unwrap(), b"hello");
}

/// Through the real test sshd: a `--rsync-path` that does not exist there, `--remote-install`
/// places the copy in the remote user's cache directory (`XDG_CACHE_HOME`, passed through ssh so
/// the test does not touch the account's own cache) and the second run reuses it.
#[test]
fn remote_install_over_sshd_then_reuse() {
    let s = crate::need_sshd!();
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("cache");
    let e = format!(
        "{} -o SetEnv=XDG_CACHE_HOME={}",
        s.wrapper.display(),
        cache.display()
    );
    std::fs::create_dir(t.path().join("s")).unwrap();
    std::fs::write(t.path().join("s/a"), b"over ssh").unwrap();
    let src = format!("{}/s/", t.path().display());
    for d in ["d1", "d2"] {
        let dst = format!("127.0.0.1:{}/{d}/", t.path().display());
        let out = Command::new(env!("CARGO_BIN_EXE_parasync"))
            .args([
                "-a",
                "--remote-install",
                "--rsync-path=/nonexistent/parasync",
            ])
            .args(["-e", &e, &src, &dst])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert_eq!(
            std::fs::read(t.path().join(d).join("a")).unwrap(),
            b"over ssh"
        );
        assert_eq!(err.contains("installed parasync"), d == "d1", "{err}");
    }
    let installed = cache
        .join("parasync")
        .join(parasync::cli::help::VERSION)
        .join("parasync");
    assert_eq!(
        std::fs::read(installed).unwrap(),
        std::fs::read(env!("CARGO_BIN_EXE_parasync")).unwrap()
    );
    // Without the flag the same command fails with the remote shell's 127.
    let out = Command::new(env!("CARGO_BIN_EXE_parasync"))
        .args(["-a", "--rsync-path=/nonexistent/parasync", "-e", &e, &src])
        .arg(format!("127.0.0.1:{}/d3/", t.path().display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
    assert!(!t.path().join("d3").exists());
}
