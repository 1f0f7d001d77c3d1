//! What the receiver prints: item lines (`-v`, `-i`, `--out-format`), the `--log-file` item
//! lines, `--info=progress2`. Lines are queued in file-list order and released when the item's
//! data starts (rsync prints a file's name when its transfer begins).

use super::*;

impl Receiver {
    pub(super) fn gen_line(&mut self, s: String) {
        let at = self.gen_at.min(self.lines.len());
        self.lines.insert(at, (None, s));
        self.gen_at = at + 1;
    }

    pub(super) fn push_line(&mut self, wait: Option<u32>, s: String) {
        self.lines.push_back((wait, s));
    }

    pub(super) fn flush_lines(&mut self) -> Result<()> {
        while let Some((wait, _)) = self.lines.front() {
            if let Some(i) = wait {
                if !self.started_files.contains(i) {
                    break;
                }
            }
            let (_, s) = self.lines.pop_front().unwrap();
            self.gen_at = self.gen_at.saturating_sub(1);
            self.conn.info(&s)?;
        }
        Ok(())
    }

    pub(super) fn log_item(
        &mut self,
        idx: u32,
        e: &Entry,
        c: &Change,
        wait: bool,
        hlink_to: Option<Vec<u8>>,
    ) {
        let x = match () {
            _ if e.is_file() => 'f',
            _ if e.is_dir() => 'd',
            _ if e.is_symlink() => 'L',
            _ if e.is_device() => 'D',
            _ => 'S',
        };
        // Without %i rsync (sender.c maybe_log_item) names only transfers, new items, local
        // changes (symlink retargeted, …) and directories with any change; a file whose only
        // change is its attributes stays silent.
        let named = c.significant() && (c.transfer || c.new || c.local || c.hlink || e.is_dir());
        let show = match &self.opts.out_format {
            Some(f) if f.contains("%i") => c.significant() || self.opts.itemize_unchanged(),
            Some(_) => named,
            None => self.opts.info.name > 0 && named,
        };
        let log_fmt = self.log_format();
        if !show && (log_fmt.is_none() || !c.significant()) {
            return;
        }
        let fmt = self
            .opts
            .out_format
            .clone()
            .unwrap_or_else(|| "%n%L".into());
        let mut c = *c;
        c.time_now = !self.opts.times && !c.new && (c.transfer || c.local);
        let it = itemize(self.y, x, &c);
        // rsync names the item by its file-list name even when it is stored under another name
        // (`rsync -v src/a.txt b.txt` prints "a.txt").
        // Locally rsync's sender prints the items, so %o reads "send" there too, and %f is the
        // sender's name (with its source directory).
        let sends = self.y == '<' || self.opts.local_server;
        let full = self.sender_name(e);
        // rsync shows an absolute -R name with its '/' except on a pulling client.
        let abs;
        let e = if e.flags & F_ABS_NAME != 0 && !self.conn.is_client {
            abs = Entry {
                name: [&b"/"[..], &e.name].concat(),
                ..e.clone()
            };
            &abs
        } else {
            e
        };
        let line = expand(
            &fmt,
            &Item {
                entry: e,
                itemize: &it,
                op: if sends { "send" } else { "recv" },
                bytes: 0,
                hlink_to: hlink_to.as_deref(),
                full: full.as_deref(),
                human: self.opts.human,
            },
        );
        if let Some(lf) = log_fmt {
            let l = expand(
                &lf,
                &Item {
                    entry: e,
                    itemize: &it,
                    op: if self.y == '<' { "send" } else { "recv" },
                    bytes: 0,
                    hlink_to: hlink_to.as_deref(),
                    full: None,
                    human: 0,
                },
            );
            let _ = self.conn.say(crate::wire::msg::LOG_FILE, &l);
        }
        if !show {
            return;
        }
        // A transferred file is named once its sender has opened it (rsync logs on the sender):
        // a file that fails there is reported by its error only.
        let wait = wait.then_some(idx);
        self.push_line(wait, line);
    }

    /// One `--info=progress2` update (rate-limited unless `last`); rsync's line shape.
    pub(super) fn progress2(&mut self, done: Option<u32>, last: bool) -> Result<()> {
        self.progress2_at(done, last, 0)
    }

    pub(super) fn progress2_at(
        &mut self,
        done: Option<u32>,
        last: bool,
        partial: u64,
    ) -> Result<()> {
        if self.opts.info.progress < 2 {
            return Ok(());
        }
        if !last && self.p2_last.is_some_and(|t| t.elapsed().as_millis() < 500) && done.is_none() {
            return Ok(());
        }
        self.p2_last = Some(Instant::now());
        // Sizes of the entries listed since the last update are added to the running total
        // (summing the whole list each time would be quadratic in the number of files).
        let seen = self.p2_total.1;
        self.p2_total.0 += self.flist[seen..]
            .iter()
            .filter(|e| e.is_file())
            .map(|e| e.size)
            .sum::<u64>();
        self.p2_total.1 = self.flist.len();
        let total = self.p2_total.0;
        let el = self.p2_start.elapsed().as_secs_f64();
        let bytes = self.p2_bytes + partial;
        let rate = bytes as f64 / el.max(1e-3);
        let nfiles = self.flist.len() as u64;
        let left = done
            .map(|i| nfiles.saturating_sub(i as u64 + 1))
            .unwrap_or(0);
        let mut l = progress::line(
            bytes,
            total,
            rate,
            el,
            Some((self.xfr, left, nfiles)),
            self.opts.human,
        );
        if !self.flist_done {
            l = l.replace("to-chk", "ir-chk");
        }
        if last {
            l.push('\n');
        }
        self.conn.say(
            crate::wire::msg::LOG_PROGRESS2,
            &format!("{bytes} {total}\t{l}"),
        )
    }

    /// The `--log-file-format` when item lines go to a log file (the server learns it from the
    /// client's argv; a receiving client from its own options).
    pub(super) fn log_format(&self) -> Option<String> {
        if self.opts.log_file.is_none()
            && !(self.opts.server && self.opts.log_file_format.is_some())
        {
            return None;
        }
        Some(
            self.opts
                .log_file_format
                .clone()
                .unwrap_or_else(|| "%i %n%L".into()),
        )
    }

    /// In a local transfer, the item's name as rsync's sender shows it in `%f`: the source
    /// operand's directory, then the file-list name (`src/a.txt`, `src/.` for `src/`).
    pub(super) fn sender_name(&self, e: &Entry) -> Option<Vec<u8>> {
        if !self.opts.local_server || self.opts.local_sources.is_empty() {
            return None;
        }
        let top = e.name.split(|b| *b == b'/').next().unwrap_or(&e.name);
        // An operand named like the first component, else the `dir/` operand whose contents
        // make up the top level.
        let named = |want: &[u8]| {
            self.opts
                .local_sources
                .iter()
                .find(|op| crate::flist::walk::Source::from_operand(op.as_bytes()).name == want)
        };
        let op = named(top).or_else(|| named(b"."))?;
        let src = crate::flist::walk::Source::from_operand(op.as_bytes());
        let mut base = op.as_bytes();
        while base.len() > 1 && base.ends_with(b"/") {
            base = &base[..base.len() - 1];
        }
        if !src.contents {
            base = match base.iter().rposition(|b| *b == b'/') {
                Some(i) => &base[..i],
                None => b"",
            };
        }
        if base.is_empty() || base == b"." && !src.contents {
            return None;
        }
        Some([base, b"/", &e.name].concat())
    }
}
