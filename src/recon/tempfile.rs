//! The temp-file writer (see the module doc of `recon`).

use crate::engine::Op;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Open a new temp file `.name.XXXXXX` in `dir` (or in `temp_dir`), mode 0600, O_EXCL, and
/// register it for removal on interruption (atomically, see `recon::create_registered`).
pub fn create_temp(target: &Path, temp_dir: Option<&Path>) -> io::Result<(File, PathBuf)> {
    super::create_registered(target, || create_unregistered(target, temp_dir))
}

fn create_unregistered(target: &Path, temp_dir: Option<&Path>) -> io::Result<(File, PathBuf)> {
    let dir = temp_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| target.parent().map(Path::to_path_buf).unwrap_or_default());
    let base = target
        .file_name()
        .map(|n| n.as_bytes().to_vec())
        .unwrap_or_default();
    let mut base = base;
    base.truncate(200);
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7)
        ^ (std::process::id() as u64) << 32;
    for _ in 0..100 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut name = if temp_dir.is_some() {
            Vec::new()
        } else {
            b".".to_vec()
        };
        name.extend_from_slice(&base);
        name.push(b'.');
        const CH: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut s = seed;
        for _ in 0..6 {
            name.push(CH[(s % CH.len() as u64) as usize]);
            s /= CH.len() as u64;
        }
        let p = if dir.as_os_str().is_empty() {
            PathBuf::from(std::ffi::OsStr::from_bytes(&name))
        } else {
            dir.join(std::ffi::OsStr::from_bytes(&name))
        };
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&p)
        {
            Ok(f) => return Ok((f, p)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "could not create a unique temp file",
    ))
}

/// Writes ops into `file`, hashing inline while writes stay sequential.
pub struct Writer {
    pub file: File,
    hasher: blake3::Hasher,
    next: u64,
    sequential: bool,
    sparse: bool,
    pub written: u64,
    poisoned: bool,
}

const BUF: usize = 256 << 10;

impl Writer {
    pub fn new(file: File, sparse: bool) -> Self {
        Writer {
            file,
            hasher: blake3::Hasher::new(),
            next: 0,
            sequential: true,
            sparse,
            written: 0,
            poisoned: false,
        }
    }

    /// Hash only what is written from `offset` on (the bytes before it are kept, not sent).
    pub fn hashing_from(mut self, offset: u64) -> Self {
        self.next = offset;
        self
    }

    fn put(&mut self, dst: u64, data: &[u8]) -> io::Result<()> {
        if self.sequential && dst == self.next {
            self.hasher.update(data);
            self.next += data.len() as u64;
        } else {
            self.sequential = false;
        }
        self.written += data.len() as u64;
        if self.sparse && data.iter().all(|b| *b == 0) {
            return Ok(());
        }
        self.file.write_all_at(data, dst)
    }

    /// Apply one op. `basis` is the old file for `Copy`; `other` opens the source of a `CopyFrom`.
    pub fn apply(
        &mut self,
        op: &Op,
        basis: Option<&File>,
        other: &dyn Fn(u32) -> Option<File>,
    ) -> io::Result<()> {
        match op {
            Op::Literal { dst, data } => self.put(*dst, data),
            Op::Copy { dst, src, len } => {
                let b = basis.ok_or_else(|| io::Error::other("copy op without a basis file"))?;
                self.copy_range(b, *src, *dst, *len)
            }
            Op::CopyFrom {
                dst,
                file,
                src,
                len,
            } => {
                let f = other(*file)
                    .ok_or_else(|| io::Error::other("copy-from source is not available"))?;
                self.copy_range(&f, *src, *dst, *len)
            }
        }
    }

    fn copy_range(&mut self, from: &File, src: u64, dst: u64, len: u64) -> io::Result<()> {
        let mut buf = vec![0u8; BUF.min(len as usize)];
        let mut done = 0u64;
        while done < len {
            let n = ((len - done) as usize).min(buf.len());
            from.read_exact_at(&mut buf[..n], src + done).map_err(|e| {
                if e.kind() == io::ErrorKind::UnexpectedEof {
                    io::Error::other("copy op beyond the end of its source")
                } else {
                    e
                }
            })?;
            self.put(dst + done, &buf[..n])?;
            done += n as u64;
        }
        Ok(())
    }

    /// Later writes are not in file order (in-place): hash the file at the end instead of inline.
    pub fn mark_unordered(&mut self, written: u64) {
        self.sequential = false;
        self.written += written;
    }

    /// Make the final digest fail (an op could not be applied; the caller redoes the file).
    pub fn poison(&mut self) {
        self.poisoned = true;
    }

    /// Set the final length and return the BLAKE3 of the content.
    pub fn finish(&mut self, len: u64) -> io::Result<[u8; 32]> {
        // A device written into (--write-devices) has no length to set.
        if self.file.metadata().map_or(true, |m| m.is_file()) {
            self.file.set_len(len)?;
        }
        if self.poisoned {
            return Ok([0; 32]);
        }
        if self.sequential && self.next == len {
            return Ok(*self.hasher.finalize().as_bytes());
        }
        digest_file(&self.file, len)
    }
}

/// BLAKE3 of the first `len` bytes of a file.
pub fn digest_file(f: &File, len: u64) -> io::Result<[u8; 32]> {
    let mut h = blake3::Hasher::new();
    if len == 0 {
        return Ok(*h.finalize().as_bytes());
    }
    if len >= 1 << 20 {
        let map = unsafe { memmap2::MmapOptions::new().len(len as usize).map(f)? };
        if len >= 8 << 20 {
            h.update_rayon(&map);
        } else {
            h.update(&map);
        }
        return Ok(*h.finalize().as_bytes());
    }
    let mut buf = vec![0u8; len as usize];
    f.read_exact_at(&mut buf, 0)?;
    h.update(&buf);
    Ok(*h.finalize().as_bytes())
}
