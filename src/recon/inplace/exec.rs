//! Executing a [`Plan`] inside the file (algorithms.md §8.1, §8.5).
//!
//! Why chunked memmove: a copy may overlap itself (a shift by a few bytes), and the receiver must not
//! hold a second copy of the file. Moving a copy through a bounded buffer in the safe direction —
//! front to back when the data moves towards the start, back to front otherwise — never overwrites a
//! byte of the same copy before reading it. Positional I/O (pread/pwrite) keeps the file offset out
//! of it, so the caller may write literals concurrently afterwards.

use super::Plan;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Size of the bounce buffer for moving one copy.
const CHUNK: usize = 256 * 1024;

/// What [`execute`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecReport {
    /// Copy pieces run (no-ops excluded).
    pub copies: u64,
    /// Bytes moved by them.
    pub bytes_moved: u64,
    /// Bytes read into memory first and written after the copies.
    pub bytes_stashed: u64,
}

/// Run `plan` on `f`, which holds the old file (`old_len` bytes). Extends the file first when it
/// grows; does not truncate — write the literals of [`Plan::missing`], then call [`finish`].
pub fn execute(f: &File, plan: &Plan, old_len: u64, new_len: u64) -> io::Result<ExecReport> {
    execute_with_buffer(f, plan, old_len, new_len, CHUNK)
}

/// [`execute`] with a bounce buffer of `buffer` bytes (tests use tiny ones to exercise chunking).
pub fn execute_with_buffer(
    f: &File,
    plan: &Plan,
    old_len: u64,
    new_len: u64,
    buffer: usize,
) -> io::Result<ExecReport> {
    if new_len > old_len {
        f.set_len(new_len)?;
    }
    let mut report = ExecReport::default();
    // Stashed sources are read before anything is written: their bytes may be overwritten by any
    // step (that is why they were stashed).
    let mut stashed = Vec::with_capacity(plan.stash.len());
    for s in &plan.stash {
        let mut data = vec![0u8; usize::try_from(s.len).map_err(io::Error::other)?];
        f.read_exact_at(&mut data, s.src)?;
        report.bytes_stashed += s.len;
        stashed.push(data);
    }
    let mut buf = vec![0u8; buffer.max(1)];
    for c in &plan.steps {
        move_range(f, c.src, c.dst, c.len, &mut buf)?;
        report.copies += 1;
        report.bytes_moved += c.len;
    }
    // After every step: nobody reads a stashed destination any more (the steps that did ran).
    for (s, data) in plan.stash.iter().zip(stashed) {
        f.write_all_at(&data, s.dst)?;
    }
    Ok(report)
}

/// Cut the file to its new length once the literals are written.
pub fn finish(f: &File, new_len: u64) -> io::Result<()> {
    if f.metadata()?.len() != new_len {
        f.set_len(new_len)?;
    }
    Ok(())
}

/// memmove inside a file: `len` bytes from `src` to `dst`, in chunks of `buf.len()`.
fn move_range(f: &File, src: u64, dst: u64, len: u64, buf: &mut [u8]) -> io::Result<()> {
    if src == dst || len == 0 {
        return Ok(());
    }
    let chunk = buf.len() as u64;
    let mut done = 0u64;
    while done < len {
        let n = chunk.min(len - done);
        // Towards the start: front to back; towards the end: back to front.
        let off = if dst < src { done } else { len - done - n };
        let b = &mut buf[..n as usize];
        f.read_exact_at(b, src + off)?;
        f.write_all_at(b, dst + off)?;
        done += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(data: &[u8]) -> File {
        let f = tempfile::tempfile().unwrap();
        f.write_all_at(data, 0).unwrap();
        f
    }

    fn contents(f: &File) -> Vec<u8> {
        let mut v = vec![0u8; f.metadata().unwrap().len() as usize];
        f.read_exact_at(&mut v, 0).unwrap();
        v
    }

    #[test]
    fn move_range_handles_self_overlap_in_both_directions() {
        let data: Vec<u8> = (0..100u8).collect();
        for (src, dst, len) in [(10u64, 13u64, 50u64), (13, 10, 50), (0, 1, 99), (1, 0, 99)] {
            let f = file_with(&data);
            let mut buf = [0u8; 4]; // tiny chunks to exercise the direction rule
            move_range(&f, src, dst, len, &mut buf).unwrap();
            let mut want = data.clone();
            want.copy_within(src as usize..(src + len) as usize, dst as usize);
            assert_eq!(contents(&f), want, "src {src} dst {dst}");
        }
    }

    #[test]
    fn execute_extends_and_finish_truncates() {
        let old: Vec<u8> = (0..50u8).collect();
        let f = file_with(&old);
        let copies = [super::super::Copy {
            dst: 60,
            src: 0,
            len: 10,
        }];
        let p = super::super::plan(&copies, 50, 70, super::super::Policy::Trim, 0);
        execute(&f, &p, 50, 70).unwrap();
        assert_eq!(f.metadata().unwrap().len(), 70);
        assert_eq!(&contents(&f)[60..70], &old[0..10]);
        finish(&f, 65).unwrap();
        assert_eq!(f.metadata().unwrap().len(), 65);
    }
}
