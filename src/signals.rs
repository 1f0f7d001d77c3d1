//! SIGINT/SIGTERM/SIGHUP: rsync removes its temp files (or keeps them with `--partial`), prints
//! `rsync error: received SIGINT, SIGTERM, or SIGHUP (code 20)` and exits 20. The signals are
//! blocked in every thread and taken by one `sigwait` thread, so the cleanup runs in normal
//! thread context (no async-signal-safety traps). Children (the remote shell) get them unblocked.

use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

fn set() -> libc::sigset_t {
    unsafe {
        let mut s: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut s);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut s, sig);
        }
        s
    }
}

/// Install the handler thread; `server` suppresses the message (the client prints it).
pub fn install(server: bool) {
    QUIET.store(server, Ordering::Relaxed);
    let s = set();
    unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, &s, std::ptr::null_mut());
    }
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            let mut sig: libc::c_int = 0;
            if unsafe { libc::sigwait(&s, &mut sig) } != 0 {
                continue;
            }
            crate::recon::cleanup();
            crate::streams::cleanup();
            if !QUIET.load(Ordering::Relaxed) {
                crate::client::print_exit(crate::error::RERR_SIGNAL, "client");
            }
            unsafe { libc::_exit(crate::error::RERR_SIGNAL) };
        })
        .expect("spawn signal thread");
}

/// For `Command::pre_exec`: give the child a normal signal mask.
pub fn unblock_in_child() -> std::io::Result<()> {
    let s = set();
    unsafe {
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &s, std::ptr::null_mut());
    }
    Ok(())
}
