//! Receiver-side reconstruction. Default: a temp file beside the target (`.name.XXXXXX`), written
//! with positional writes (ops carry absolute offsets, so order does not matter), verified by the
//! whole-file BLAKE3, then renamed over the target — a failed or interrupted file leaves the old
//! version untouched (rsync's receiver.c behaviour).

pub mod tempfile;
