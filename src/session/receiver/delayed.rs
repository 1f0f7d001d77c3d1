//! `--delay-updates` (rsync receiver.c `handle_delayed_updates`): a finished file is not renamed
//! over its destination but into the partial dir (`.~tmp~` by default, per directory) with its
//! attributes already set; when every file has arrived, all of them are backed up and renamed into
//! place in one sweep, so the destination changes as close to atomically as rsync manages. The
//! partial dirs left empty are removed.

use super::*;

/// A file waiting in the partial dir: where it waits, where it goes, its name for messages.
pub(super) struct Delayed {
    pub(super) waiting: PathBuf,
    pub(super) target: PathBuf,
    pub(super) rel: Vec<u8>,
}

impl Receiver {
    /// Move a finished temp file into the partial dir of `target` (creating it).
    pub(super) fn delay_update(&mut self, temp: &Path, target: &Path, rel: Vec<u8>) -> Result<()> {
        let (waiting, moved) = match crate::recon::partial_path(target) {
            None => return Ok(()),
            Some(Ok(w)) => {
                let moved = w
                    .parent()
                    .map_or(Ok(()), |d| match std::fs::create_dir(d) {
                        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
                        _ => Ok(()),
                    })
                    .and_then(|_| std::fs::rename(temp, &w));
                (w, moved)
            }
            // A planted symlink on the way: the move fails as the kernel fails a loop.
            Some(Err(e)) => (
                target.parent().unwrap_or(Path::new(".")).to_path_buf(),
                Err(e),
            ),
        };
        if let Err(err) = moved {
            let _ = std::fs::remove_file(temp);
            return self.fail(format!(
                "rsync: [receiver] rename \"{}\" -> \"{}\": {}",
                crate::flist::walk::full_name(temp),
                crate::flist::walk::full_name(&waiting),
                io_text(&err)
            ));
        }
        self.delayed.push(Delayed {
            waiting,
            target: target.to_path_buf(),
            rel,
        });
        Ok(())
    }

    /// Put every delayed file into place (called once all files are done).
    pub(super) fn finish_delayed(&mut self) -> Result<()> {
        for d in std::mem::take(&mut self.delayed) {
            if let Err(err) = self.make_backup(&d.target, &d.rel, false) {
                self.fail(super::backup::backup_failed(&d.target, &err))?;
                continue;
            }
            if let Err(err) = std::fs::rename(&d.waiting, &d.target) {
                self.fail(format!(
                    "rsync: [receiver] rename \"{}\" -> \"{}\": {}",
                    crate::flist::walk::full_name(&d.waiting),
                    report::escape(&d.rel),
                    io_text(&err)
                ))?;
                continue;
            }
            if let Some(dir) = d.waiting.parent() {
                let _ = std::fs::remove_dir(dir);
            }
        }
        Ok(())
    }
}
