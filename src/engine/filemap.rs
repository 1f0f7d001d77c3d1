//! Read-only file mappings whose resident pages are dropped as soon as a pass is done with them.
//!
//! Why: the engines read their inputs through a mapping (no copy, random access for strong hashes
//! and literals), but every touched page of a mapping counts in the resident set, so a 100 MiB
//! pair cost ~110 MiB of RSS per side (issue 6 asks for ≤ 64 MiB, independent of the file size).
//! `MADV_DONTNEED` on a shared, read-only file mapping only removes our page-table entries: the
//! pages stay in the page cache, and the next touch is a minor fault that maps them again, so the
//! bytes seen never change and dropping is always safe — it costs a fault if a range is read again.
//!
//! [`release`] works on any `&[u8]`: ranges inside a live [`FileMap`] are dropped, anything else
//! (a `Vec` in tests or in the library API, where `MADV_DONTNEED` would zero the memory) is left
//! alone. The live mappings are found in a small registry keyed by address.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::sync::Mutex;

/// Address ranges of the live mappings: start → end (`[start, end)`), ordered so a release finds
/// its mapping in O(log n) however many files are mapped at once.
static LIVE: Mutex<BTreeMap<usize, usize>> = Mutex::new(BTreeMap::new());

fn page() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *PAGE.get_or_init(|| {
        let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if p > 0 {
            p as usize
        } else {
            4096
        }
    })
}

/// Files up to this size are read into memory by [`shared`] instead of mapped.
pub const READ_MAX: u64 = 16 << 10;

/// The first `len` bytes of `f` as engine input: read into memory up to [`READ_MAX`] bytes,
/// mapped beyond. Why: a tree's delta files are mostly a few KiB, and a mapping costs `mmap`, a
/// page fault, the passes' `madvise` calls and `munmap` for what one `read` gets (4,000 changed
/// small files on a 200,000-file update: 17,000 syscalls); a larger file is mapped so its pages
/// can be dropped behind each pass ([`release`]).
pub fn shared(f: &File, len: u64) -> io::Result<super::Shared> {
    if len <= READ_MAX {
        return Ok(std::sync::Arc::new(read_prefix(f, len)?));
    }
    Ok(std::sync::Arc::new(FileMap::new(f)?))
}

/// The first `len` bytes of `f` in memory, read from offset 0 whatever the descriptor's
/// position (positional reads); fewer if the file shrank meanwhile (a whole-file digest
/// decides what that means).
pub fn read_prefix(f: &File, len: u64) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut v = vec![0u8; len as usize];
    let mut n = 0;
    while n < v.len() {
        match f.read_at(&mut v[n..], n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    v.truncate(n);
    Ok(v)
}

/// A read-only shared mapping of a whole file, registered for [`release`].
pub struct FileMap {
    map: memmap2::Mmap,
}

impl FileMap {
    /// Map `f` (must not be empty).
    pub fn new(f: &File) -> io::Result<FileMap> {
        // Safety: read-only shared mapping; a file truncated underneath is the same hazard every
        // mapping reader (rsync's map_file included) accepts.
        let map = unsafe { memmap2::Mmap::map(f)? };
        let start = map.as_ptr() as usize;
        lock().insert(start, start + map.len());
        Ok(FileMap { map })
    }
}

fn lock() -> std::sync::MutexGuard<'static, BTreeMap<usize, usize>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

impl AsRef<[u8]> for FileMap {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

impl Drop for FileMap {
    fn drop(&mut self) {
        let start = self.map.as_ptr() as usize;
        lock().remove(&start);
    }
}

/// Drop the resident pages under `data[off..off + len]` (rounded out to whole pages, clipped to
/// the mapping) when `data` lies in a [`FileMap`]; otherwise do nothing.
pub fn release(data: &[u8], off: usize, len: usize) {
    let len = len.min(data.len().saturating_sub(off));
    if len == 0 {
        return;
    }
    let a = data.as_ptr() as usize + off;
    let b = a + len;
    let Some((ms, me)) = lock()
        .range(..=a)
        .next_back()
        .map(|(&s, &e)| (s, e))
        .filter(|&(_, e)| b <= e)
    else {
        return;
    };
    let p = page();
    let start = (a / p * p).max(ms);
    let end = b.div_ceil(p) * p;
    // The mapping's last page is whole in the address space even when the file ends inside it.
    let end = end.min(me.div_ceil(p) * p);
    if end > start {
        // Safety: the range lies inside a live read-only file mapping (checked above, and the
        // mapping cannot be dropped while `data` borrows it); DONTNEED only unmaps its pages.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

/// Release granularity of [`Behind`], and how far around its range it reaches: a fault maps a
/// whole page-cache folio (up to 2 MiB), so touching one byte can map pages before and after it
/// (a scattered reader without this slack kept ~65 MiB of a 100 MiB file mapped).
const STEP: usize = 2 << 20;
const SLACK: usize = 2 << 20;

/// Drops the pages behind a reader that moves forward through `data` (a chunking pass, a digest,
/// the strong hashes of one batch in file order, a literal run).
#[derive(Clone, Copy, Debug, Default)]
pub struct Behind {
    /// Everything before this offset was released (up to the slack).
    done: usize,
}

impl Behind {
    /// A reader starting at `start`.
    pub fn new(start: usize) -> Behind {
        Behind { done: start }
    }

    /// The reader of `data` needs nothing before `pos` any more.
    pub fn advance(&mut self, data: &[u8], pos: usize) {
        if pos >= self.done + STEP {
            let from = self.done.saturating_sub(SLACK);
            release(data, from, pos - from);
            self.done = pos;
        }
    }

    /// The pass ended at `pos`: release what it touched, including the folio it may have mapped
    /// beyond `pos`.
    pub fn flush(&mut self, data: &[u8], pos: usize) {
        let from = self.done.saturating_sub(SLACK);
        let to = pos.max(self.done).saturating_add(SLACK);
        release(data, from, to - from);
        self.done = self.done.max(pos);
    }
}

/// A whole pass over `data` front to back: `f` gets consecutive windows of `window` bytes (the
/// last one shorter) and the pages behind each window are dropped once it returns — the shape of
/// every full-file pass over a mapping (a block signature, block CRCs, a whole-file digest).
pub fn in_windows(data: &[u8], window: usize, mut f: impl FnMut(std::ops::Range<usize>)) {
    let window = window.max(1);
    let mut behind = Behind::new(0);
    let mut at = 0;
    while at < data.len() {
        let end = data.len().min(at + window);
        f(at..end);
        behind.advance(data, end);
        at = end;
    }
    behind.flush(data, data.len());
}

/// Drop every resident page of `data` if it is a [`FileMap`] (see [`release`]).
pub fn release_all(data: &[u8]) {
    release(data, 0, data.len());
}

/// Test helpers: a mapped copy of some bytes, and how much of a mapping is resident.
#[cfg(test)]
pub(crate) mod testing {
    use super::FileMap;
    use std::io::Write;

    /// A [`FileMap`] of a temporary file holding `content`.
    pub fn map(content: &[u8]) -> FileMap {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(content).unwrap();
        FileMap::new(&f).unwrap()
    }

    /// Resident KiB of the mapping that starts at `data` (from /proc/self/smaps).
    pub fn rss_kib(data: &[u8]) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let start = format!("{:x}-", data.as_ptr() as usize);
        let mut lines = smaps.lines().skip_while(|l| !l.starts_with(&start));
        assert!(lines.next().is_some(), "mapping not found");
        let rss = lines.find(|l| l.starts_with("Rss:")).unwrap();
        rss.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::rss_kib;
    use super::*;
    use std::io::Write;

    #[test]
    fn small_inputs_are_read_and_large_ones_mapped() {
        for len in [0, 1, READ_MAX as usize, READ_MAX as usize + 1, 1 << 20] {
            let content = crate::testkit::pseudo_random(len, 9);
            let mut f = tempfile::tempfile().unwrap();
            f.write_all(&content).unwrap();
            let s = shared(&f, len as u64).unwrap();
            let data = (*s).as_ref();
            assert_eq!(data, &content[..], "{len}");
            let mapped = lock().contains_key(&(data.as_ptr() as usize));
            assert_eq!(mapped, len as u64 > READ_MAX, "{len}");
        }
    }

    #[test]
    fn released_pages_leave_the_resident_set_and_read_back_unchanged() {
        let mut f = tempfile::tempfile().unwrap();
        let content = crate::testkit::pseudo_random(3 << 20, 5);
        f.write_all(&content).unwrap();
        let m = FileMap::new(&f).unwrap();
        let data = m.as_ref();
        assert_eq!(data, &content[..]);
        assert!(rss_kib(data) >= 3 << 10);
        release(data, 1000, 1 << 20);
        // At least the range (a large page-cache folio may go whole).
        let after = rss_kib(data);
        assert!(after <= (2 << 10) + 4, "{after}");
        release_all(data);
        assert_eq!(rss_kib(data), 0);
        assert_eq!(data, &content[..]);
    }

    #[test]
    fn small_releases_behind_a_reader_keep_the_resident_set_small() {
        let mut f = tempfile::tempfile().unwrap();
        let content = crate::testkit::pseudo_random(16 << 20, 6);
        f.write_all(&content).unwrap();
        let m = FileMap::new(&f).unwrap();
        let data = m.as_ref();
        let mut sum = 0u64;
        let mut peak = 0;
        let mut behind = Behind::new(0);
        for (i, c) in data.chunks(12_345).enumerate() {
            sum = sum.wrapping_add(c.iter().map(|b| *b as u64).sum::<u64>());
            behind.advance(data, i * 12_345 + c.len());
            if i % 64 == 0 {
                peak = peak.max(rss_kib(data));
            }
        }
        behind.flush(data, data.len());
        assert!(sum > 0);
        assert!(peak <= 7 << 10, "{peak} KiB resident");
        assert_eq!(rss_kib(data), 0);
    }

    #[test]
    fn windowed_passes_see_every_byte_once_and_leave_nothing_resident() {
        let mut f = tempfile::tempfile().unwrap();
        let content = crate::testkit::pseudo_random((9 << 20) + 77, 8);
        f.write_all(&content).unwrap();
        let m = FileMap::new(&f).unwrap();
        let data = m.as_ref();
        let (mut next, mut peak, mut sum) = (0, 0, 0u64);
        in_windows(data, 1 << 20, |r| {
            assert_eq!(r.start, next);
            assert!(r.len() <= 1 << 20 && !r.is_empty());
            next = r.end;
            sum = data[r].iter().fold(sum, |a, b| a.wrapping_add(*b as u64));
            peak = peak.max(rss_kib(data));
        });
        assert_eq!(next, data.len());
        assert_eq!(
            sum,
            content.iter().fold(0u64, |a, b| a.wrapping_add(*b as u64))
        );
        assert!(peak <= 7 << 10, "{peak} KiB resident");
        assert_eq!(rss_kib(data), 0);
        in_windows(&[], 4096, |_| panic!("no window of an empty input"));
    }

    #[test]
    fn other_memory_is_left_alone() {
        let v = vec![7u8; 1 << 20];
        release_all(&v);
        release(&v, 4096, 8192);
        assert!(v.iter().all(|b| *b == 7));
    }
}
