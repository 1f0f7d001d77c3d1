//! What the walk asks the file system about each name of a directory: its metadata (stat or
//! lstat, as the symlink options say) and, for a symlink that is listed as one, its target.
//!
//! Why a module: after `readdir` the names of a directory are known at once, and their `lstat`
//! calls are independent, so a large directory has them done on the rayon pool (issue 13:
//! "stat/lstat of the file list in parallel after readdir"). On a cold cache each call may wait
//! for an inode read, and several outstanding reads overlap; on a warm one the second core shares
//! the system-call time. Everything that decides — filters, the notes for vanished or unreadable
//! names, hard-link numbering, the order of the list — stays on the walk's thread and sees the
//! answers in `readdir` order, so the output is that of a serial walk (rsync's flist.c
//! `send_directory` stats each name as it reads it; only the time of the call moves).
//!
//! Small directories are probed serially: handing a few system calls to another thread costs more
//! than it saves ([`PARALLEL_MIN`]).

use super::entry::S_IFLNK;
use std::fs::Metadata;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Directories with fewer names than this are probed on the walk's own thread.
pub const PARALLEL_MIN: usize = 32;

/// Names handed to one pool task at least (a task switch costs about as much as a few warm
/// `lstat` calls).
const PER_TASK: usize = 8;

/// How names are looked at: rsync's `-L` (`copy_links`) follows every symlink, `-k`
/// (`copy_dirlinks`) follows those that point at directories, otherwise symlinks are listed as
/// such (rsync flist.c `readlink_stat` / `link_stat`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Follow {
    pub copy_links: bool,
    pub copy_dirlinks: bool,
}

/// The answers about one name.
#[derive(Debug)]
pub struct Probe {
    pub meta: io::Result<Metadata>,
    /// The target of a name listed as a symlink (read with the metadata).
    pub link: Option<io::Result<PathBuf>>,
}

/// The metadata the walk lists for `p`.
pub fn stat(p: &Path, follow: Follow) -> io::Result<Metadata> {
    if follow.copy_links {
        return std::fs::metadata(p);
    }
    let m = std::fs::symlink_metadata(p)?;
    if m.file_type().is_symlink() && follow.copy_dirlinks {
        if let Ok(t) = std::fs::metadata(p) {
            if t.is_dir() {
                return Ok(t);
            }
        }
    }
    Ok(m)
}

/// Metadata and, for a symlink, its target.
pub fn probe(p: &Path, follow: Follow) -> Probe {
    let meta = stat(p, follow);
    let link = match &meta {
        Ok(m) if m.mode() & super::entry::S_IFMT == S_IFLNK => Some(std::fs::read_link(p)),
        _ => None,
    };
    Probe { meta, link }
}

/// Probe every path, in parallel when there are at least [`PARALLEL_MIN`]; the answers are in
/// the order of `paths`.
pub fn probe_all(paths: &[PathBuf], follow: Follow) -> Vec<Probe> {
    if paths.len() < PARALLEL_MIN {
        return paths.iter().map(|p| probe(p, follow)).collect();
    }
    use rayon::prelude::*;
    paths
        .par_iter()
        .with_min_len(PER_TASK)
        .map(|p| probe(p, follow))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parallel and serial probing give the same answers in the same order, symlinks followed
    /// or not as asked, and a name that is gone gives NotFound in its own place.
    #[test]
    fn parallel_answers_match_serial_ones_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("sub")).unwrap();
        let mut paths = Vec::new();
        for i in 0..(PARALLEL_MIN * 3) {
            let p = d.join(format!("n{i:03}"));
            match i % 4 {
                0 => std::fs::write(&p, vec![0u8; i]).unwrap(),
                1 => std::os::unix::fs::symlink("sub", &p).unwrap(),
                2 => std::os::unix::fs::symlink(format!("n{:03}", i - 2), &p).unwrap(),
                _ => {} // never created: vanished
            }
            paths.push(p);
        }
        for follow in [
            Follow::default(),
            Follow {
                copy_links: true,
                copy_dirlinks: false,
            },
            Follow {
                copy_links: false,
                copy_dirlinks: true,
            },
        ] {
            let par = probe_all(&paths, follow);
            assert_eq!(par.len(), paths.len());
            for (i, (p, got)) in paths.iter().zip(&par).enumerate() {
                let want = probe(p, follow);
                match (&want.meta, &got.meta) {
                    (Ok(a), Ok(b)) => {
                        assert_eq!((a.ino(), a.mode(), a.size()), (b.ino(), b.mode(), b.size()))
                    }
                    (Err(a), Err(b)) => assert_eq!(a.kind(), b.kind()),
                    _ => panic!("{i}: {want:?} vs {got:?}"),
                }
                let links = |x: &Probe| x.link.as_ref().map(|l| l.as_ref().ok().cloned());
                assert_eq!(links(&want), links(got), "{i}");
            }
            let kinds: Vec<_> = par
                .iter()
                .map(|x| {
                    x.meta
                        .as_ref()
                        .map(|m| m.mode() & super::super::entry::S_IFMT)
                })
                .map(|r| r.map_err(|e| e.kind()))
                .collect();
            use super::super::entry::{S_IFDIR, S_IFREG};
            let sym = if follow.copy_links { S_IFDIR } else { S_IFLNK };
            let sym_file = if follow.copy_links { S_IFREG } else { S_IFLNK };
            let dirlink = if follow.copy_dirlinks { S_IFDIR } else { sym };
            assert_eq!(kinds[0], Ok(S_IFREG));
            assert_eq!(kinds[1], Ok(dirlink));
            assert_eq!(kinds[2], Ok(sym_file));
            assert_eq!(kinds[3], Err(io::ErrorKind::NotFound));
            assert_eq!(
                par[1].link.is_some(),
                !follow.copy_links && !follow.copy_dirlinks
            );
        }
    }
}
