//! Byte streams only: a local pipe pair (two threads in one process) or a remote shell child.
//! Neither knows anything about the protocol.

pub mod ssh;

use std::io::{Read, Write};

/// The two halves of a byte stream.
pub struct Stream {
    pub r: Box<dyn Read + Send>,
    pub w: Box<dyn Write + Send>,
}

/// A connected pair of streams for local→local (client end, server end).
pub fn pipe_pair() -> std::io::Result<(Stream, Stream)> {
    let (r1, w1) = std::io::pipe()?;
    let (r2, w2) = std::io::pipe()?;
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
