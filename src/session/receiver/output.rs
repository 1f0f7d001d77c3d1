//! What the receiver prints: item lines (`-v`, `-i`, `--out-format`), the `--log-file` item
//! lines, `--info=progress2`.
//!
//! The order of the lines follows rsync's two output paths. rsync's generator sends item lines
//! (itemized items, and the names of transferred files, which its sender prints when the file's
//! data starts) through the buffered data stream, but its messages — `deleting x`, `x is
//! uptodate`, `x exists`, skip notes — go out at once as out-of-band messages. The data stream is
//! flushed only when the generator waits for more of the file list: usually once after the
//! first directory (the sender is still sending the next lists), then about every
//! [`LOOKAHEAD`] entries, and at the end of the list. So in a small transfer the top directory's
//! item lines come first, then every later message, then the remaining item lines.
//! Here item lines are *held* ([`Receiver::push_line`]) and messages enter at the end of the
//! *released* lines ([`Receiver::gen_line`]); lines are released after the top directory's
//! contents, at the end of the file list, every [`LOOKAHEAD`] entries, and up to a file's line
//! when its data starts.

use super::*;

/// rsync's generator keeps this many file-list entries ahead (MIN_FILECNT_LOOKAHEAD) and flushes
/// its item lines when it has to wait for more.
pub(super) const LOOKAHEAD: usize = 1000;

/// Bytes of framing per message on the wire (tag and length), counted into `%b`/`%c`.
const FRAME_HEADER: u64 = 4;

/// Whether a log format shows byte counts.
fn has_counts(f: &str) -> bool {
    let mut chars = f.chars();
    while let Some(ch) = chars.next() {
        if ch == '%' {
            // Flags and width may sit between '%' and the letter.
            for k in chars.by_ref() {
                if k.is_ascii_alphabetic() || k == '%' {
                    if k == 'b' || k == 'c' {
                        return true;
                    }
                    break;
                }
            }
        }
    }
    false
}

/// An item's log context, rendered now or, when its format shows byte counts, once the file's
/// transfer is over ([`Receiver::finish_byte_item`]).
pub(super) struct ByteItem {
    entry: Entry,
    itemize: String,
    /// %o reads "send" in the stdout line / in the log line.
    send: bool,
    log_send: bool,
    hlink_to: Option<Vec<u8>>,
    full: Option<Vec<u8>>,
    /// The stdout format, when the item is shown.
    out: Option<String>,
    /// The log-file format, when item lines go to a log file.
    log: Option<String>,
}

impl ByteItem {
    /// (stdout line, log line) with `counts` = (%b, %c).
    fn render(&self, human: u8, counts: (u64, u64)) -> (Option<String>, Option<String>) {
        let line = |f: &str, send: bool, full: Option<&[u8]>, human: u8| {
            expand(
                f,
                &Item {
                    entry: &self.entry,
                    itemize: &self.itemize,
                    op: if send { "send" } else { "recv" },
                    bytes: counts.0,
                    sums: counts.1,
                    hlink_to: self.hlink_to.as_deref(),
                    full,
                    human,
                },
            )
        };
        (
            self.out
                .as_ref()
                .map(|f| line(f, self.send, self.full.as_deref(), human)),
            self.log.as_ref().map(|f| line(f, self.log_send, None, 0)),
        )
    }
}

impl Receiver {
    /// A generator message: out before the held item lines.
    pub(super) fn gen_line(&mut self, s: String) {
        let at = self.gen_at.min(self.lines.len());
        self.lines.insert(at, (None, s));
        self.gen_at = at + 1;
        if let Some(slot) = self.hl.slot.as_mut().filter(|p| at <= **p) {
            *slot += 1;
        }
    }

    /// An item line (or a line that follows one), held until released; with `wait`, it also
    /// waits for that file's data to start.
    pub(super) fn push_line(&mut self, wait: Option<u32>, s: String) {
        // A hard-link leader chosen at the end of the list prints at its list position.
        match self.hl.slot.filter(|p| *p <= self.lines.len()) {
            Some(p) => {
                self.lines.insert(p, (wait, s));
                self.hl.slot = Some(p + 1);
                if p < self.gen_at {
                    self.gen_at += 1;
                }
            }
            None => self.lines.push_back((wait, s)),
        }
    }

    /// Release every held line (end of the file list, end of the run).
    pub(super) fn release_all(&mut self) {
        self.gen_at = self.lines.len();
        self.held_entries = 0;
    }

    /// The file's data started: rsync had flushed its request, and everything before it.
    pub(super) fn release_file(&mut self, idx: u32) {
        if let Some(p) = self.lines.iter().position(|(w, _)| *w == Some(idx)) {
            self.gen_at = self.gen_at.max(p + 1);
        }
    }

    /// Count list entries generated; release the held lines every [`LOOKAHEAD`] entries.
    pub(super) fn generated(&mut self, n: usize) {
        self.held_entries += n;
        if self.held_entries >= LOOKAHEAD {
            self.release_all();
        }
    }

    /// The file's transfer is over: its line waiting for byte counts gets them (and its log
    /// line goes out).
    pub(super) fn finish_byte_item(&mut self, idx: u32) {
        let Some(item) = self.byte_items.remove(&idx) else {
            return;
        };
        let counts = self.file_bytes.remove(&idx).unwrap_or_default();
        let (line, log) = item.render(self.opts.human, counts);
        if let Some(l) = log {
            let _ = self.conn.say(crate::wire::msg::LOG_FILE, &l);
        }
        if let Some(line) = line {
            if let Some(slot) = self
                .lines
                .iter_mut()
                .find(|(w, s)| *w == Some(idx) && s.is_empty())
            {
                slot.1 = line;
            }
        }
    }

    /// Count a file's message toward its `%b` (data) or `%c` (checksum exchange) bytes, when
    /// a line waits for them: its size as framed on the wire, before compression.
    pub(super) fn count_file_msg(&mut self, m: &Msg) {
        if self.byte_items.is_empty() {
            return;
        }
        let (idx, sums) = match m {
            Msg::Engine { idx, .. } | Msg::Probe { idx, .. } => (*idx, true),
            Msg::Ops { idx, .. } | Msg::FileEnd { idx, .. } | Msg::CopiesEnd { idx } => {
                (*idx, false)
            }
            _ => return,
        };
        if !self.byte_items.contains_key(&idx) {
            return;
        }
        let n = m.encode(crate::wire::msg::Compress::None).1.len() as u64 + FRAME_HEADER;
        let e = self.file_bytes.entry(idx).or_default();
        if sums {
            e.1 += n;
        } else {
            e.0 += n;
        }
    }

    /// Drop the lines that wait for `idx` (its sender failed: rsync names it by its error only).
    pub(super) fn drop_lines_of(&mut self, idx: u32) {
        self.byte_items.remove(&idx);
        self.file_bytes.remove(&idx);
        let mut i = 0;
        while i < self.lines.len() {
            if self.lines[i].0 == Some(idx) {
                self.lines.remove(i);
                if i < self.gen_at {
                    self.gen_at -= 1;
                }
            } else {
                i += 1;
            }
        }
    }

    /// Print the released lines, stopping at one whose file has not started — and, with
    /// `--progress`, after a file's name until its transfer (and progress lines) is done, as
    /// rsync's sender names the next item only after sending the file.
    pub(super) fn flush_lines(&mut self) -> Result<()> {
        if let Some(i) = self.progress_hold {
            if self.jobs.contains_key(&i) {
                return Ok(());
            }
            self.progress_hold = None;
        }
        while self.gen_at > 0 {
            let Some(wait) = self.lines.front().map(|(w, _)| *w) else {
                break;
            };
            if wait.is_some_and(|i| {
                !self.started_files.contains(&i) || self.byte_items.contains_key(&i)
            }) {
                break;
            }
            let (_, s) = self.lines.pop_front().unwrap();
            self.gen_at -= 1;
            self.conn.info(&s)?;
            if let Some(i) = wait.filter(|i| self.jobs.contains_key(i)) {
                if self.opts.info.progress == 1 {
                    self.progress_hold = Some(i);
                    break;
                }
            }
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
        // With -vv (name level 2) an attribute change is named too.
        let named = c.significant()
            && (c.transfer
                || c.new
                || c.local
                || c.hlink
                || c.linked
                || e.is_dir()
                || self.opts.info.name > 1);
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
        // log.c itemize: without -t, a transfer or local change shows `T`; a hard link made
        // anew is a local change (its target named), one that already was is not.
        c.time_now =
            !self.opts.times && !c.new && (c.transfer || c.local || (c.hlink && !c.linked));
        let it = itemize(self.y, x, &c);
        // rsync names the item by its file-list name even when it is stored under another name
        // (`rsync -v src/a.txt b.txt` prints "a.txt").
        // Locally rsync's sender prints the items, so %o reads "send" there too, and %f is the
        // sender's name (with its source directory).
        let sends = self.y == '<' || self.opts.local_server;
        let full = self.sender_name(e);
        // A target munged here (--munge-links on the receiving server of a push) is shown as its
        // sender sent it: rsync's client prints the line from its own list.
        let unmunged;
        let e = match &e.x().link {
            Some(t) if self.opts.munge_links && !self.conn.is_client => {
                let mut u = e.clone();
                u.x_mut().link = Some(t[crate::flist::walk::MUNGE_PREFIX.len()..].to_vec());
                unmunged = u;
                &unmunged
            }
            _ => e,
        };
        // rsync shows an absolute -R name with its '/' except on a pulling client.
        let abs;
        let e = if e.flags & F_ABS_NAME != 0 && !self.conn.is_client {
            abs = Entry {
                name: [&b"/"[..], &e.name].concat().into(),
                ..e.clone()
            };
            &abs
        } else {
            e
        };
        let item = ByteItem {
            entry: e.clone(),
            itemize: it,
            send: sends,
            log_send: self.y == '<',
            hlink_to,
            full,
            out: show.then_some(fmt),
            log: log_fmt,
        };
        // rsync logs a transfer once it is done, with its byte counts (%b, %c): such a line
        // waits for the file's end here (not with --progress, whose lines follow the name).
        let counts = |f: &Option<String>| f.as_ref().is_some_and(|f| has_counts(f));
        if wait
            && c.transfer
            && self.opts.info.progress == 0
            && (counts(&item.out) || counts(&item.log))
        {
            if show {
                self.push_line(Some(idx), String::new());
            }
            self.byte_items.insert(idx, item);
            return;
        }
        let (line, log) = item.render(self.opts.human, (0, 0));
        if let Some(l) = log {
            let _ = self.conn.say(crate::wire::msg::LOG_FILE, &l);
        }
        let Some(line) = line else {
            return;
        };
        // A transferred file is named once its sender has opened it (rsync logs on the sender):
        // a file that fails there is reported by its error only.
        let wait = wait.then_some(idx);
        // At -vv without -i rsync's generator names an attribute-only change itself
        // (set_file_attrs), as a message rather than an item line.
        let attrs_only = !(c.transfer || c.new || c.local || c.hlink || c.linked || e.is_dir());
        if self.opts.out_format.is_none() && attrs_only {
            self.gen_line(line);
        } else {
            self.push_line(wait, line);
        }
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
        // rsync adds "(xfr#N, to-chk=…)" once a file has been transferred.
        let counts = (self.xfr > 0).then_some((self.xfr, left, nfiles));
        let mut l = progress::line(bytes, total, rate, el, counts, self.opts.human);
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
        if self.opts.local_sources.is_empty() {
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
