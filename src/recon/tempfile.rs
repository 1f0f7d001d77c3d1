//! The temp-file writer (see the module doc of `recon`).

use super::digest::TreeDigest;
use crate::engine::Op;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Open a new temp file `.name.XXXXXX` in `dir` (or in `temp_dir`), mode 0600, O_EXCL, and
/// register it for removal on interruption (atomically, see `recon::create_registered`).
pub fn create_temp(target: &Path, temp_dir: Option<&Path>) -> io::Result<(File, PathBuf)> {
    super::create_registered(target, || create_unregistered(target, temp_dir))
}

/// A fresh seed for a temp name: the time and process id once per process (a `getpid` per file
/// showed up as a syscall per file on trees), then a step per name, so names differ even when
/// files are created within one clock tick.
fn name_seed() -> u64 {
    use std::sync::atomic::AtomicU64;
    static BASE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let base = *BASE.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7)
            ^ (std::process::id() as u64) << 32
    });
    // Xorshift (below) maps 0 to 0.
    (base
        ^ COUNT
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15))
    .max(1)
}

fn create_unregistered(target: &Path, temp_dir: Option<&Path>) -> io::Result<(File, PathBuf)> {
    if let Some(t) = temp_dir {
        // `-T DIR` is an operator path (plan::trusted), looked at for every file as rsync does.
        crate::plan::trusted::check_quietly(t)?;
    }
    let dir = temp_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| target.parent().map(Path::to_path_buf).unwrap_or_default());
    let base = target
        .file_name()
        .map(|n| n.as_bytes().to_vec())
        .unwrap_or_default();
    let mut base = base;
    base.truncate(200);
    let mut seed = name_seed();
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

/// Files at least this large are written by a background thread: the session thread keeps
/// answering the peer (probes, engine messages) while copies of many megabytes are applied.
pub const BACKGROUND: u64 = 4 << 20;
/// Ops queued for the background thread (literal pieces are at most 256 KiB).
const QUEUE: usize = 64;
const BUF: usize = 256 << 10;
/// `CopyFrom` ranges at least this long go through the kernel (reflink or copy_file_range); the
/// blocks they cover are then hashed by reading them back at the end ([`TreeDigest::skip`]),
/// which only pays off for larger ranges.
const KERNEL_MIN: u64 = 64 << 10;

/// The output and its running digest: owned by whichever thread applies the ops.
struct Sink {
    digest: TreeDigest,
    sparse: bool,
    /// A copy-from source could not be read: the digest must fail (the file is redone).
    poisoned: bool,
    buf: Vec<u8>,
}

impl Sink {
    fn put(&mut self, file: &File, dst: u64, data: &[u8]) -> io::Result<()> {
        self.digest.write(dst, data);
        if self.sparse {
            return put_sparse(file, dst, data);
        }
        file.write_all_at(data, dst)
    }

    fn copy_range(
        &mut self,
        file: &File,
        from: &File,
        src: u64,
        dst: u64,
        len: u64,
    ) -> io::Result<()> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(BUF.min(len as usize), 0);
        let mut done = 0u64;
        let mut res = Ok(());
        while done < len {
            let n = ((len - done) as usize).min(buf.len());
            if let Err(e) = from.read_exact_at(&mut buf[..n], src + done) {
                res = Err(if e.kind() == io::ErrorKind::UnexpectedEof {
                    io::Error::other("copy op beyond the end of its source")
                } else {
                    e
                });
                break;
            }
            if let Err(e) = self.put(file, dst + done, &buf[..n]) {
                res = Err(e);
                break;
            }
            done += n as u64;
        }
        self.buf = buf;
        res
    }

    fn run(&mut self, file: &File, t: Task) -> io::Result<()> {
        match t {
            Task::Literal { dst, data } => self.put(file, dst, &data),
            Task::Copy {
                from,
                src,
                dst,
                len,
            } => self.copy_range(file, &from, src, dst, len),
            Task::CopyFrom {
                from,
                src,
                dst,
                len,
                method,
            } => {
                // The dedupe source went bad: the digest check fails and the file is redone.
                if self.copy_from(file, &from, src, dst, len, method).is_err() {
                    self.poisoned = true;
                }
                Ok(())
            }
        }
    }

    /// A `CopyFrom`: through the kernel (reflink, copy_file_range) when the range is long enough,
    /// the rest (or all of it) through the buffer.
    fn copy_from(
        &mut self,
        file: &File,
        from: &File,
        src: u64,
        dst: u64,
        len: u64,
        method: super::copy::Method,
    ) -> io::Result<()> {
        let mut done = 0;
        if !self.sparse && len >= KERNEL_MIN {
            done = super::copy::kernel_copy(from, src, file, dst, len, method)?;
            self.digest.skip(dst, done);
        }
        self.copy_range(file, from, src + done, dst + done, len - done)
    }
}

/// `--sparse`: write `data` at `dst` leaving out every all-zero filesystem block (aligned to
/// the file's offsets), so the holes are as fine as rsync's (its write_sparse skips zero runs
/// in 1 KiB steps; a block is the smallest hole there is). The file is new, so what is left
/// out reads as zeros; its length is set at the end.
fn put_sparse(file: &File, dst: u64, data: &[u8]) -> io::Result<()> {
    const BLOCK: u64 = 4096;
    let mut run: Option<usize> = None;
    let mut pos = 0;
    while pos < data.len() {
        let next = (dst + pos as u64) / BLOCK * BLOCK + BLOCK;
        let end = ((next - dst) as usize).min(data.len());
        let zero = data[pos..end].iter().all(|b| *b == 0);
        match (zero, run) {
            (true, Some(start)) => {
                file.write_all_at(&data[start..pos], dst + start as u64)?;
                run = None;
            }
            (false, None) => run = Some(pos),
            _ => {}
        }
        pos = end;
    }
    match run {
        Some(start) => file.write_all_at(&data[start..], dst + start as u64),
        None => Ok(()),
    }
}

enum Task {
    Literal {
        dst: u64,
        data: Vec<u8>,
    },
    Copy {
        from: Arc<File>,
        src: u64,
        dst: u64,
        len: u64,
    },
    CopyFrom {
        from: File,
        src: u64,
        dst: u64,
        len: u64,
        method: super::copy::Method,
    },
}

struct Worker {
    tx: crossbeam_channel::Sender<Task>,
    thread: std::thread::JoinHandle<(Sink, io::Result<()>)>,
    failed: Arc<AtomicBool>,
}

/// Writes ops into `file` with positional writes, hashing as it goes ([`TreeDigest`]); large
/// files are written by a background thread whose errors surface at the next `apply` or at
/// `finish`.
pub struct Writer {
    pub file: File,
    sink: Option<Sink>,
    worker: Option<Worker>,
    /// The basis as the background thread holds it (a duplicate handle, made once).
    basis: Option<Arc<File>>,
    pub written: u64,
    poisoned: bool,
    /// How a `CopyFrom` may be executed (recon::copy); tests force the fallbacks.
    pub copy_method: super::copy::Method,
    /// `--append`: the digest covers only the bytes from this offset on.
    tail: Option<u64>,
    /// The file's `fstat` at [`Writer::finish`] (None if its length was set after it): the
    /// attributes are compared with it (`meta::apply_open`) instead of a second `fstat`.
    pub stat: Option<std::fs::Metadata>,
}

impl Writer {
    /// A writer for a file that will be `len` bytes long.
    pub fn new(file: File, sparse: bool, len: u64) -> Self {
        let sink = || Sink {
            digest: TreeDigest::new(len),
            sparse,
            poisoned: false,
            buf: Vec::new(),
        };
        let worker = (len >= BACKGROUND)
            .then(|| file.try_clone().ok())
            .flatten()
            .and_then(|dup| {
                let (tx, rx) = crossbeam_channel::bounded::<Task>(QUEUE);
                let failed = Arc::new(AtomicBool::new(false));
                let flag = failed.clone();
                let mut s = sink();
                std::thread::Builder::new()
                    .name("writer".into())
                    .spawn(move || {
                        for t in rx {
                            if let Err(e) = s.run(&dup, t) {
                                flag.store(true, Ordering::Relaxed);
                                return (s, Err(e));
                            }
                        }
                        (s, Ok(()))
                    })
                    .ok()
                    .map(|thread| Worker { tx, thread, failed })
            });
        let sink = match worker {
            Some(_) => None,
            None => Some(sink()),
        };
        Writer {
            file,
            sink,
            worker,
            basis: None,
            written: 0,
            poisoned: false,
            copy_method: super::copy::Method::Clone,
            tail: None,
            stat: None,
        }
    }

    /// Hash only what lies from `offset` on (the bytes before it are kept, not sent: --append).
    pub fn hashing_from(mut self, offset: u64) -> Self {
        self.tail = Some(offset);
        self
    }

    /// Wait until every op handed over so far is written; the first write error, if any.
    pub fn wait(&mut self) -> io::Result<()> {
        self.join()
    }

    /// Wait for the background thread; its first error, if any.
    fn join(&mut self) -> io::Result<()> {
        let Some(w) = self.worker.take() else {
            return Ok(());
        };
        drop(w.tx);
        let (sink, res) = w
            .thread
            .join()
            .map_err(|_| io::Error::other("writer thread panicked"))?;
        self.sink = Some(sink);
        res
    }

    fn submit(&mut self, t: Task) -> io::Result<()> {
        if let Some(w) = &self.worker {
            if !w.failed.load(Ordering::Relaxed) && w.tx.send(t).is_ok() {
                return Ok(());
            }
            self.join()?;
            return Err(io::Error::other("writer thread stopped"));
        }
        let sink = self.sink.as_mut().expect("a sink without a worker");
        sink.run(&self.file, t)
    }

    /// Apply one op. `basis` is the old file for `Copy`; `other` opens the source of a `CopyFrom`;
    /// a `CopyFrom` of file `own` (this file) copies bytes written earlier into this file (ops
    /// are applied in order, by one thread, so those bytes are on disk when it runs).
    pub fn apply(
        &mut self,
        op: Op,
        basis: Option<&File>,
        other: &dyn Fn(u32) -> Option<File>,
        own: u32,
    ) -> io::Result<()> {
        self.written += op.len();
        match op {
            Op::Literal { dst, data } => self.submit(Task::Literal { dst, data }),
            Op::Copy { dst, src, len } => {
                let from = match &self.basis {
                    Some(b) => b.clone(),
                    None => {
                        let b = basis
                            .ok_or_else(|| io::Error::other("copy op without a basis file"))?;
                        let b = Arc::new(b.try_clone()?);
                        self.basis = Some(b.clone());
                        b
                    }
                };
                self.submit(Task::Copy {
                    from,
                    src,
                    dst,
                    len,
                })
            }
            Op::CopyFrom {
                dst,
                file,
                src,
                len,
            } => {
                let from = if file == own {
                    if src + len > dst {
                        return Err(io::Error::other("copy within a file overlaps its target"));
                    }
                    self.file.try_clone()?
                } else {
                    other(file)
                        .ok_or_else(|| io::Error::other("copy-from source is not available"))?
                };
                self.submit(Task::CopyFrom {
                    from,
                    src,
                    dst,
                    len,
                    method: self.copy_method,
                })
            }
        }
    }

    /// Bytes were written into the file directly (in place): hash the file at the end instead.
    pub fn mark_unordered(&mut self, written: u64) {
        // In-place transfers write through `file` before any op reaches this writer.
        if self.join().is_err() {
            self.poisoned = true;
        }
        if let Some(s) = self.sink.as_mut() {
            s.digest.invalidate();
        }
        self.written += written;
    }

    /// Make the final digest fail (an op could not be applied; the caller redoes the file).
    pub fn poison(&mut self) {
        self.poisoned = true;
    }

    /// Wait for every write, set the final length and return the BLAKE3 of the content.
    pub fn finish(&mut self, len: u64) -> io::Result<[u8; 32]> {
        self.join()?;
        // A device written into (--write-devices) has no length to set; a file written up to
        // its end (every new file) needs no truncate, which costs a journaled inode update
        // each (9 % of the receiver on a 200,000-file copy).
        let m = self.file.metadata()?;
        if m.is_file() && m.len() != len {
            self.file.set_len(len)?;
        } else {
            self.stat = Some(m);
        }
        let sink = self.sink.take().expect("joined above");
        if self.poisoned || sink.poisoned {
            return Ok([0; 32]);
        }
        if let Some(from) = self.tail {
            return digest_range(&self.file, from, len);
        }
        sink.digest.finish(&self.file, len)
    }
}

/// BLAKE3 of bytes `from..len` of a file, read in pieces (the appended part of an --append).
fn digest_range(f: &File, from: u64, len: u64) -> io::Result<[u8; 32]> {
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; BUF];
    let mut at = from;
    while at < len {
        let n = ((len - at) as usize).min(BUF);
        f.read_exact_at(&mut buf[..n], at)?;
        h.update(&buf[..n]);
        at += n as u64;
    }
    Ok(*h.finalize().as_bytes())
}

/// BLAKE3 of the first `len` bytes of a file (read in blocks, in parallel; nothing mapped).
pub fn digest_file(f: &File, len: u64) -> io::Result<[u8; 32]> {
    super::digest::digest_file(f, len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn basis_file(data: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(data).unwrap();
        f
    }

    /// Sparse writes leave out exactly the all-zero blocks: islands of data at unaligned
    /// offsets read back as written, with holes between them.
    #[test]
    fn sparse_writes_skip_zero_blocks_only() {
        let f = tempfile::tempfile().unwrap();
        let mut want = vec![0u8; 1 << 20];
        want[10..1000].fill(1);
        want[300_001..303_500].fill(2);
        want[(1 << 20) - 5..].fill(3);
        // Written in pieces that cut blocks in two.
        for (i, piece) in want.chunks(70_001).enumerate() {
            put_sparse(&f, (i * 70_001) as u64, piece).unwrap();
        }
        f.set_len(want.len() as u64).unwrap();
        let mut got = vec![0u8; want.len()];
        f.read_exact_at(&mut got, 0).unwrap();
        assert!(got == want);
        // 1 block + 2 blocks + 1 block (in 512-byte units), not the whole MiB.
        use std::os::unix::fs::MetadataExt;
        assert!(
            f.metadata().unwrap().blocks() <= 4 * 8,
            "{:?}",
            f.metadata()
        );
    }

    /// Ops in a scrambled order, small and large (background) files: the content and the digest
    /// are those of the new file.
    #[test]
    fn out_of_order_ops_give_the_file_and_its_blake3() {
        for n in [5000usize, 3 << 20, (BACKGROUND as usize) + 777_777] {
            let old = crate::testkit::pseudo_random(n, 1);
            let mut new = old.clone();
            let lit = crate::testkit::pseudo_random(n / 3, 2);
            new[n / 3..n / 3 + lit.len()].copy_from_slice(&lit);
            let ops = vec![
                Op::Copy {
                    dst: (n / 3 + lit.len()) as u64,
                    src: (n / 3 + lit.len()) as u64,
                    len: (n - n / 3 - lit.len()) as u64,
                },
                Op::Literal {
                    dst: (n / 3) as u64,
                    data: lit.clone(),
                },
                Op::Copy {
                    dst: 0,
                    src: 0,
                    len: (n / 3) as u64,
                },
            ];
            let basis = basis_file(&old);
            let out = tempfile::tempfile().unwrap();
            let mut w = Writer::new(out.try_clone().unwrap(), false, n as u64);
            for op in ops {
                w.apply(op, Some(&basis), &|_| None, u32::MAX).unwrap();
            }
            let d = w.finish(n as u64).unwrap();
            assert_eq!(d, *blake3::hash(&new).as_bytes(), "{n}");
            let mut got = vec![0u8; n];
            out.read_exact_at(&mut got, 0).unwrap();
            assert_eq!(got, new);
        }
    }

    /// A failing copy on the background thread surfaces as an error, not as a good digest.
    #[test]
    fn background_errors_surface() {
        let n = BACKGROUND as usize * 2;
        let basis = basis_file(&[1u8; 1000]);
        let out = tempfile::tempfile().unwrap();
        let mut w = Writer::new(out, false, n as u64);
        let bad = Op::Copy {
            dst: 0,
            src: 0,
            len: n as u64,
        };
        let first = w.apply(bad, Some(&basis), &|_| None, u32::MAX);
        let done = w.finish(n as u64);
        assert!(first.is_err() || done.is_err());
    }
}
