//! Remotes without parasync (issue: "any remote"): `--remote-install` and `--fallback=rsync`.
//!
//! Rolling out a new tool across a fleet should not require installing it everywhere first. When
//! the remote shell reports that the remote program does not exist (exit 127) or it does not
//! answer parasync's handshake, the client can:
//!
//! * `--remote-install`: reuse or place a copy of its own binary at
//!   `$XDG_CACHE_HOME/parasync/<version>/parasync` (`$HOME/.cache/...` when unset, the XDG base
//!   directory convention) on the remote — only after checking that `uname -sm`
//!   there equals ours (a binary for another OS or CPU would not run) — verify the copy by reading it
//!   back and comparing BLAKE3 digests, and retry with that path as `--rsync-path`. Off by default:
//!   it writes to the remote account.
//! * `--fallback=rsync`: re-run the same command line with the local `rsync` (parasync's own options
//!   removed), saying so on stderr. rsync then speaks rsync's protocol to a remote rsync.
//!
//! Without either flag the error names both options.

use crate::cli::help::VERSION;
use crate::error::{Error, Result};
use std::io::Write;
use std::process::{Command, Stdio};

/// Where an installed copy lives on the remote, as its shell expands it (the user's cache
/// directory: `$XDG_CACHE_HOME`, else `$HOME/.cache`).
pub fn remote_rel_path() -> String {
    format!("${{XDG_CACHE_HOME:-$HOME/.cache}}/parasync/{VERSION}/parasync")
}

fn run_remote(base: &[String], cmd: &str, input: Option<&[u8]>) -> Result<(i32, Vec<u8>)> {
    let mut c = Command::new(&base[0]);
    c.args(&base[1..]).arg(cmd);
    c.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    c.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = c
        .spawn()
        .map_err(|e| Error::new(14, format!("rsync: failed to exec {}: {e}", base[0])))?;
    if let (Some(data), Some(mut w)) = (input, child.stdin.take()) {
        w.write_all(data)
            .map_err(|e| Error::new(14, format!("rsync: writing to the remote shell: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::new(14, format!("rsync: waiting for the remote shell: {e}")))?;
    Ok((out.status.code().unwrap_or(255), out.stdout))
}

/// `uname -sm` of this machine, as the shell command prints it.
fn local_uname() -> String {
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return String::new();
    }
    let f = |a: &[libc::c_char]| {
        let b: Vec<u8> = a
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&b).into_owned()
    };
    format!("{} {}", f(&u.sysname), f(&u.machine))
}

/// Make sure the remote has this parasync; returns the `--rsync-path` to use. `base` is the remote
/// shell command up to and including the host.
pub fn install(base: &[String]) -> Result<String> {
    let rel = remote_rel_path();
    let path = rel.clone();
    let me = std::env::current_exe()
        .and_then(std::fs::read)
        .map_err(|e| {
            Error::new(
                5,
                format!("rsync: --remote-install: cannot read own binary: {e}"),
            )
        })?;
    let want = blake3::hash(&me);
    // Reuse an installed copy when its digest matches.
    let (code, out) = run_remote(base, &format!("cat {rel} 2>/dev/null"), None)?;
    if code == 0 && blake3::hash(&out) == want {
        return Ok(path);
    }
    let (_, uname) = run_remote(base, "uname -sm", None)?;
    let theirs = String::from_utf8_lossy(&uname).trim().to_string();
    let ours = local_uname();
    if theirs != ours {
        return Err(Error::new(
            5,
            format!("rsync: --remote-install: the remote is \"{theirs}\", this parasync is built for \"{ours}\""),
        ));
    }
    let dir = rel.rsplit_once('/').map(|x| x.0).unwrap_or(".");
    let cmd = format!(
        "mkdir -p {dir} && cat > {rel}.tmp && chmod 755 {rel}.tmp && mv -f {rel}.tmp {rel}"
    );
    let (code, _) = run_remote(base, &cmd, Some(&me))?;
    let (_, back) = run_remote(base, &format!("cat {rel}"), None)?;
    if code != 0 || blake3::hash(&back) != want {
        return Err(Error::new(
            5,
            "rsync: --remote-install: the copy on the remote does not verify".to_string(),
        ));
    }
    eprintln!("parasync: installed parasync {VERSION} on the remote as {path}");
    Ok(path)
}

/// parasync's own options (with values) that the local rsync would not understand.
const OWN: &[&str] = &[
    "--engine",
    "--threads",
    "--hw",
    "--no-hw",
    "--dedupe",
    "--no-dedupe",
    "--inplace-policy",
    "--inplace-buffer",
    "--pipeline",
    "--streams",
    "--remote-install",
    "--no-remote-install",
    "--fallback",
];

/// The command line for rsync: `args` without parasync's own options.
pub fn rsync_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip_value = false;
    for a in args {
        if std::mem::take(&mut skip_value) {
            continue;
        }
        let name = a.split('=').next().unwrap_or(a);
        if OWN.contains(&name) {
            let takes_value = !matches!(
                name,
                "--hw"
                    | "--no-hw"
                    | "--dedupe"
                    | "--no-dedupe"
                    | "--remote-install"
                    | "--no-remote-install"
            );
            skip_value = takes_value && !a.contains('=');
            continue;
        }
        out.push(a.clone());
    }
    out
}

/// Re-run the transfer with the local rsync; returns its exit code.
pub fn fallback_rsync(args: &[String]) -> i32 {
    eprintln!("parasync: the remote has no parasync; running the transfer with rsync instead (--fallback=rsync)");
    match Command::new("rsync").args(rsync_args(args)).status() {
        Ok(s) => s.code().unwrap_or(20),
        Err(e) => {
            eprintln!("rsync: failed to exec rsync: {e}");
            127
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_options_are_removed() {
        let a: Vec<String> = [
            "-av",
            "--engine",
            "dsync",
            "--threads=2",
            "--no-dedupe",
            "--fallback=rsync",
            "--delete",
            "src/",
            "h:dst/",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(rsync_args(&a), ["-av", "--delete", "src/", "h:dst/"]);
    }

    #[test]
    fn uname_has_two_words() {
        assert_eq!(local_uname().split(' ').count(), 2);
    }
}
