//! Executing a `CopyFrom` (dedupe, design.md §6) with the cheapest copy the filesystem offers.
//!
//! Why: a deduplicated range already exists on the receiver, so it should cost as little disk work
//! as possible. In order of preference:
//! 1. `FICLONERANGE` (ioctl_ficlonerange(2)): the destination shares the source's blocks (btrfs,
//!    XFS with reflink, bcachefs…); no data is written. Offsets and length must be multiples of the
//!    filesystem block size.
//! 2. `copy_file_range(2)`: the kernel copies without a round trip through user space (and may
//!    reflink or offload to the server on NFS/CIFS).
//! 3. `pread`/`pwrite` in the caller.
//!
//! Each step falls back silently to the next on the errors that mean "not here" (`EXDEV`,
//! `EOPNOTSUPP`, `EINVAL`, `ENOTTY`, `ENOSYS`, …); the bytes that land are the same whichever step
//! ran (tested below), and the whole-file BLAKE3 still checks the result.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// The cheapest method that may be tried (tests force the others).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Method {
    /// Read and write through user space only.
    Plain,
    /// `copy_file_range`, then plain.
    Kernel,
    /// `FICLONERANGE` when aligned, then `copy_file_range`, then plain.
    Clone,
}

/// Errors after which the next method is tried instead of failing the copy.
fn unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::EXDEV
                | libc::EOPNOTSUPP
                | libc::EINVAL
                | libc::ENOTTY
                | libc::ENOSYS
                | libc::EBADF
                | libc::EPERM
                | libc::ETXTBSY
        )
    )
}

/// Copy up to `len` bytes from `src` of `from` to `dst` of `to` inside the kernel, with at most
/// `method`. Returns how many bytes were copied from the start of the range; the caller copies the
/// rest itself (0 when the kernel cannot help). Real I/O errors are returned.
pub fn kernel_copy(
    from: &File,
    src: u64,
    to: &File,
    dst: u64,
    len: u64,
    method: Method,
) -> io::Result<u64> {
    if method >= Method::Clone && clone_range(from, src, to, dst, len)? {
        return Ok(len);
    }
    if method < Method::Kernel {
        return Ok(0);
    }
    let mut done = 0u64;
    while done < len {
        let mut off_in = (src + done) as libc::loff_t;
        let mut off_out = (dst + done) as libc::loff_t;
        let want = (len - done).min(1 << 30) as usize;
        // SAFETY: both descriptors are open for the lifetime of the borrows; the offsets are
        // passed by pointer to locals, so the files' own positions are not used.
        let n = unsafe {
            libc::copy_file_range(
                from.as_raw_fd(),
                &mut off_in,
                to.as_raw_fd(),
                &mut off_out,
                want,
                0,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            if unsupported(&e) {
                return Ok(done);
            }
            return Err(e);
        }
        if n == 0 {
            // Source shorter than expected: the caller's read reports it.
            return Ok(done);
        }
        done += n as u64;
    }
    Ok(done)
}

/// `FICLONERANGE` when the range is block-aligned; Ok(false) when it cannot be used.
fn clone_range(from: &File, src: u64, to: &File, dst: u64, len: u64) -> io::Result<bool> {
    let blk = match to.metadata() {
        Ok(m) => std::os::unix::fs::MetadataExt::blksize(&m).max(512),
        Err(_) => return Ok(false),
    };
    if len == 0 || [src, dst, len].iter().any(|x| !x.is_multiple_of(blk)) {
        return Ok(false);
    }
    let arg = libc::file_clone_range {
        src_fd: from.as_raw_fd() as i64,
        src_offset: src,
        src_length: len,
        dest_offset: dst,
    };
    // SAFETY: FICLONERANGE reads a `file_clone_range` from the pointer; both fds are open.
    let r = unsafe { libc::ioctl(to.as_raw_fd(), libc::FICLONERANGE, &arg) };
    if r == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if unsupported(&e) {
        Ok(false)
    } else {
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Op;
    use crate::recon::tempfile::Writer;
    use std::os::unix::fs::FileExt;

    /// One file built from literals, copies of another file (aligned and not, small and large)
    /// and a copy of its own earlier bytes: identical bytes and digest with every method.
    #[test]
    fn every_method_gives_the_same_file() {
        let t = tempfile::tempdir().unwrap();
        let src_bytes = crate::testkit::pseudo_random(1 << 20, 7);
        let src_path = t.path().join("src");
        std::fs::write(&src_path, &src_bytes).unwrap();
        let len = (1 << 20) + 3 * 4096 + 100;
        let ops = [
            Op::Literal {
                dst: 0,
                data: vec![5u8; 4096],
            },
            Op::CopyFrom {
                dst: 4096,
                file: 1,
                src: 8192,
                len: 512 << 10,
            },
            Op::CopyFrom {
                dst: 4096 + (512 << 10),
                file: 1,
                src: 3,
                len: 100_000,
            },
            Op::Literal {
                dst: 4096 + (512 << 10) + 100_000,
                data: vec![9u8; 1000],
            },
            // Within the file: an earlier range, not overlapping.
            Op::CopyFrom {
                dst: 4096 + (512 << 10) + 101_000,
                file: 0,
                src: 0,
                len: len - (4096 + (512 << 10) + 101_000),
            },
        ];
        let mut results = Vec::new();
        for m in [Method::Plain, Method::Kernel, Method::Clone] {
            let out = t.path().join(format!("out-{m:?}"));
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&out)
                .unwrap();
            let mut w = Writer::new(f, false, len);
            w.copy_method = m;
            for op in ops.iter().cloned() {
                let other = |i: u32| (i == 1).then(|| File::open(&src_path).unwrap());
                w.apply(op, None, &other, 0).unwrap();
            }
            let d = w.finish(len).unwrap();
            let bytes = std::fs::read(&out).unwrap();
            results.push((bytes, d));
        }
        let mut want = vec![0u8; len as usize];
        want[..4096].fill(5);
        want[4096..4096 + (512 << 10)].copy_from_slice(&src_bytes[8192..8192 + (512 << 10)]);
        let a = 4096 + (512 << 10);
        want[a..a + 100_000].copy_from_slice(&src_bytes[3..100_003]);
        want[a + 100_000..a + 101_000].fill(9);
        let b = a + 101_000;
        let n = len as usize - b;
        let head = want[..n].to_vec();
        want[b..].copy_from_slice(&head);
        for (bytes, d) in &results {
            assert!(bytes == &want);
            assert_eq!(*d, crate::dedupe::digest(&want));
        }
    }

    #[test]
    fn a_short_source_is_an_error_whatever_the_method() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("a");
        std::fs::write(&a, vec![1u8; 10_000]).unwrap();
        for m in [Method::Plain, Method::Kernel, Method::Clone] {
            let f = tempfile::tempfile_in(t.path()).unwrap();
            let mut w = Writer::new(f, false, 200_000);
            w.copy_method = m;
            let op = Op::CopyFrom {
                dst: 0,
                file: 1,
                src: 0,
                len: 200_000,
            };
            let other = |_: u32| Some(File::open(&a).unwrap());
            // The copy fails on the writer's side: the file's digest can no longer verify.
            w.apply(op, None, &other, 0).unwrap();
            assert_eq!(w.finish(200_000).unwrap(), [0u8; 32], "{m:?}");
        }
        // And the kernel path alone reports the short count rather than inventing bytes.
        let to = tempfile::tempfile_in(t.path()).unwrap();
        let n = kernel_copy(&File::open(&a).unwrap(), 0, &to, 0, 200_000, Method::Kernel).unwrap();
        assert!(n <= 10_000);
        let mut buf = vec![0u8; n as usize];
        to.read_exact_at(&mut buf, 0).unwrap();
        assert!(buf.iter().all(|b| *b == 1));
    }
}
