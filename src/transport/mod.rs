//! Byte streams only: a local pipe pair (two threads in one process) or a remote shell child.
//! Neither knows anything about the protocol.

pub mod ssh;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};

/// The capacity asked for on every pipe a transfer's bytes go through (1 MiB, the default
/// `/proc/sys/fs/pipe-max-size`).
pub const PIPE_SIZE: i32 = 1 << 20;

/// Ask for a [`PIPE_SIZE`] buffer on `fd` if it is a pipe; anything else, or a refusal, leaves
/// it as it is.
///
/// Why: behind a default 64 KiB pipe, ssh and sshd hand data to the slower end in small writes
/// while megabytes wait in their channel buffer, and OpenSSH's buffer moves its unconsumed bytes
/// to the front (and reallocates) as more arrives. Measured on loopback with the `insert`
/// workload, sshd spent ~150 ms of CPU on 8 MiB of literals, most of it in `memmove` and the page
/// faults of reallocated buffers; with 1 MiB pipes at both ends of the session it spent a third
/// of that, and the transfer took 0.51–0.56 s instead of 0.59–0.66 s.
pub fn grow_pipe(fd: RawFd) {
    // SAFETY: F_SETPIPE_SZ only changes the capacity of the pipe `fd` refers to, if any.
    unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, PIPE_SIZE) };
}

/// The two halves of a byte stream.
pub struct Stream {
    pub r: Box<dyn Read + Send>,
    pub w: Box<dyn Write + Send>,
}

/// A connected pair of streams for local→local (client end, server end).
pub fn pipe_pair() -> std::io::Result<(Stream, Stream)> {
    let (r1, w1) = std::io::pipe()?;
    let (r2, w2) = std::io::pipe()?;
    grow_pipe(r1.as_raw_fd());
    grow_pipe(r2.as_raw_fd());
    Ok((
        Stream {
            r: Box::new(r1),
            w: Box::new(w2),
        },
        Stream {
            r: Box::new(r2),
            w: Box::new(w1),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capacity(fd: RawFd) -> i32 {
        // SAFETY: F_GETPIPE_SZ only reads the capacity.
        unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) }
    }

    #[test]
    fn transfer_pipes_are_grown() {
        let (r, w) = std::io::pipe().unwrap();
        let default = capacity(r.as_raw_fd());
        grow_pipe(w.as_raw_fd());
        assert_eq!(capacity(r.as_raw_fd()), PIPE_SIZE, "default was {default}");
        // Not a pipe: nothing happens, nothing fails.
        let f = std::fs::File::open("/dev/null").unwrap();
        grow_pipe(f.as_raw_fd());
        assert_eq!(capacity(f.as_raw_fd()), -1);
    }
}
