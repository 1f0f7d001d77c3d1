//! Everything the user reads, in rsync 3.5's exact formats (rsync-cli.md §4): name escaping,
//! number formatting per `-h` level, the two summary lines, `--stats`, `--list-only` rows,
//! itemize strings and `--progress` lines. Only this module formats user-facing text.

pub mod format;
pub mod itemize;
pub mod logfile;
pub mod progress;

use crate::wire::msg::Stats;

/// `-8` (`--8-bit-output`): bytes that are not valid UTF-8 are shown as they are, not as `\#ooo`.
static EIGHT_BIT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Such a byte travels inside the output text as one private-use character (this base plus
/// the byte) and is turned back into the byte where the text is written ([`localize`]).
const RAW_BASE: u32 = 0x10_FF00;

pub fn set_eight_bit(on: bool) {
    EIGHT_BIT.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Set in a remote server: names go to the client unescaped for the locale (valid UTF-8 as
/// is, other high bytes as [`RAW_BASE`] characters), and the client escapes them for *its*
/// locale where it prints them ([`localize`]). rsync does the same: a server passes its messages
/// on in the native charset and only the side that writes them filters them (log.c `rwrite`),
/// so `ünï.txt` shows as itself on a UTF-8 terminal even when the remote shell runs in the C
/// locale (sshd passes no `LANG` by default).
static DEFERRED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// rsync shows "building file list ... " and adds "done" when the list is complete; an error
/// printed meanwhile first ends that line with a newline on stderr (log.c `progress_is_active`).
/// parasync prints the whole line at once, and keeps the newline: set while the list is built.
static LIST_LINE_OPEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn set_list_line_open(on: bool) {
    LIST_LINE_OPEN.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Whether an error now must first end rsync's open list line (once).
pub fn take_list_line_open() -> bool {
    LIST_LINE_OPEN.swap(false, std::sync::atomic::Ordering::Relaxed)
}

pub fn set_deferred_escapes(on: bool) {
    DEFERRED.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Output text as the bytes to write on this side: what a server left for the printing side
/// (see [`set_deferred_escapes`]) escaped for this locale, the raw bytes `-8` kept restored.
/// Text formatted on this side passes unchanged: its names were escaped for this locale already.
pub fn localize(text: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    localize_for(
        text,
        EIGHT_BIT.load(std::sync::atomic::Ordering::Relaxed),
        utf8_locale(),
    )
}

/// [`localize`] with `-8` (`raw`) and the locale given.
fn localize_for(text: &[u8], raw: bool, utf8: bool) -> std::borrow::Cow<'_, [u8]> {
    if text.is_ascii() {
        return std::borrow::Cow::Borrowed(text);
    }
    let keep = raw || utf8;
    let s = String::from_utf8_lossy(text);
    let mut out = Vec::with_capacity(text.len());
    for ch in s.chars() {
        let mut buf = [0; 4];
        match (ch as u32).checked_sub(RAW_BASE) {
            Some(b) if b < 0x100 && raw => out.push(b as u8),
            Some(b) if b < 0x100 => out.extend_from_slice(format!("\\#{b:03o}").as_bytes()),
            _ if keep || ch.is_ascii() => {
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes())
            }
            _ => {
                for b in ch.encode_utf8(&mut buf).bytes() {
                    out.extend_from_slice(format!("\\#{b:03o}").as_bytes());
                }
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Escape a name for display: control bytes (and, without `-8`, high-bit bytes that are not valid
/// UTF-8) as `\#ooo` (rsync log.c).
pub fn escape(name: &[u8]) -> String {
    escape_for(
        name,
        EIGHT_BIT.load(std::sync::atomic::Ordering::Relaxed)
            || DEFERRED.load(std::sync::atomic::Ordering::Relaxed),
        utf8_locale(),
    )
}

/// [`escape`] with `-8` or deferral (`raw`) and the locale given.
fn escape_for(name: &[u8], raw: bool, utf8: bool) -> String {
    if !raw && !utf8 && !name.is_ascii() {
        // rsync escapes what the locale cannot print: in the C locale every high-bit byte.
        let mut out = String::new();
        for &b in name {
            if b >= 0x80 {
                out.push_str(&format!("\\#{b:03o}"));
            } else {
                push_clean(&mut out, std::str::from_utf8(&[b]).unwrap_or(""));
            }
        }
        return out;
    }
    let mut out = String::new();
    let mut rest = name;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                push_clean(&mut out, s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                push_clean(&mut out, std::str::from_utf8(good).unwrap());
                let n = e.error_len().unwrap_or(bad.len());
                for b in &bad[..n] {
                    match char::from_u32(RAW_BASE + *b as u32).filter(|_| raw) {
                        Some(c) => out.push(c),
                        None => out.push_str(&format!("\\#{:03o}", b)),
                    }
                }
                rest = &bad[n..];
            }
        }
    }
    out
}

/// Whether the locale (LC_ALL, LC_CTYPE, LANG, first set wins) is a UTF-8 one, in which rsync
/// prints valid multi-byte characters as they are.
fn utf8_locale() -> bool {
    static UTF8: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *UTF8.get_or_init(|| {
        let v = ["LC_ALL", "LC_CTYPE", "LANG"]
            .iter()
            .filter_map(|k| std::env::var(k).ok())
            .find(|v| !v.is_empty())
            .unwrap_or_default()
            .to_ascii_lowercase();
        v.contains("utf-8") || v.contains("utf8")
    })
}

/// rsync's filtered output (log.c) escapes control bytes below 0x20 except the tab; DEL and
/// printable text pass as they are.
fn push_clean(out: &mut String, s: &str) {
    for ch in s.chars() {
        if (ch as u32) < 0x20 && ch != '\t' {
            out.push_str(&format!("\\#{:03o}", ch as u32));
        } else {
            out.push(ch);
        }
    }
}

/// Digits with thousands separators (`-h` level 1).
fn commas(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// rsync's human_num for an integer at `-h` level `h` (0 raw, 1 separators, 2 K=1000, 3 K=1024).
pub fn num(n: u64, h: u8) -> String {
    match h {
        0 => n.to_string(),
        1 => commas(n),
        _ => {
            let unit = if h == 2 { 1000.0 } else { 1024.0 };
            let mut v = n as f64;
            if v < unit {
                return n.to_string();
            }
            let mut suffix = ' ';
            for s in ['K', 'M', 'G', 'T', 'P', 'E'] {
                v /= unit;
                suffix = s;
                if v < unit {
                    break;
                }
            }
            format!("{v:.2}{suffix}")
        }
    }
}

/// rsync's human_dnum for a rate with 2 decimals.
pub fn dnum(v: f64, h: u8) -> String {
    if h >= 2 {
        let unit = if h == 2 { 1000.0 } else { 1024.0 };
        if v >= unit {
            return num(v as u64, h);
        }
        return format!("{v:.2}");
    }
    let whole = v.trunc() as u64;
    let frac = format!("{:.2}", v - v.trunc());
    let frac = if frac.starts_with("1.") {
        "00".to_string()
    } else {
        frac[2..].to_string()
    };
    let whole = if format!("{:.2}", v - v.trunc()).starts_with("1.") {
        whole + 1
    } else {
        whole
    };
    if h == 0 {
        format!("{whole}.{frac}")
    } else {
        format!("{}.{frac}", commas(whole))
    }
}

/// The two summary lines printed with `-v` / `--stats`.
pub fn summary(
    sent: u64,
    recv: u64,
    total_size: u64,
    elapsed: f64,
    h: u8,
    dry_run: bool,
) -> String {
    let rate = (sent + recv) as f64 / (elapsed + 0.5);
    let speedup = if sent + recv > 0 {
        total_size as f64 / (sent + recv) as f64
    } else {
        0.0
    };
    format!(
        "sent {} bytes  received {} bytes  {} bytes/sec\ntotal size is {}  speedup is {:.2}{}\n",
        num(sent, h),
        num(recv, h),
        dnum(rate, h),
        num(total_size, h),
        speedup,
        if dry_run { " (DRY RUN)" } else { "" }
    )
}

fn breakdown(counts: &[u64; 5]) -> String {
    let labels = ["reg", "dir", "link", "dev", "special"];
    let parts: Vec<String> = labels
        .iter()
        .zip(counts)
        .filter(|(_, c)| **c > 0)
        .map(|(l, c)| format!("{l}: {}", commas(*c)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// `--stats` block (before the summary), rsync 3.5 lines followed by parasync's own lines when
/// they carry information.
pub fn stats_block(
    s: &Stats,
    sent: u64,
    recv: u64,
    h: u8,
    flist_xfer_secs: f64,
    engine: &str,
) -> String {
    let files = [s.num_reg, s.num_dir, s.num_link, s.num_dev, s.num_special];
    let mut o = String::new();
    o.push('\n');
    o.push_str(&format!(
        "Number of files: {}{}\n",
        num(s.num_files, h),
        breakdown(&files)
    ));
    let created: u64 = s.created.iter().sum();
    o.push_str(&format!(
        "Number of created files: {}{}\n",
        num(created, h),
        breakdown(&s.created)
    ));
    let deleted: u64 = s.deleted.iter().sum();
    o.push_str(&format!(
        "Number of deleted files: {}{}\n",
        num(deleted, h),
        breakdown(&s.deleted)
    ));
    o.push_str(&format!(
        "Number of regular files transferred: {}\n",
        num(s.xferred_files, h)
    ));
    o.push_str(&format!(
        "Total file size: {} bytes\n",
        num(s.total_size, h)
    ));
    o.push_str(&format!(
        "Total transferred file size: {} bytes\n",
        num(s.xferred_size, h)
    ));
    o.push_str(&format!("Literal data: {} bytes\n", num(s.literal, h)));
    o.push_str(&format!("Matched data: {} bytes\n", num(s.matched, h)));
    o.push_str(&format!("File list size: {}\n", num(s.flist_size, h)));
    o.push_str(&format!(
        "File list generation time: {:.3} seconds\n",
        s.flist_gen_ms as f64 / 1000.0
    ));
    o.push_str(&format!(
        "File list transfer time: {flist_xfer_secs:.3} seconds\n"
    ));
    o.push_str(&format!("Total bytes sent: {}\n", num(sent, h)));
    o.push_str(&format!("Total bytes received: {}\n", num(recv, h)));
    if s.xferred_files > 0 && (s.matched > 0 || s.engine_msgs + s.sender_engine_msgs > 0) {
        o.push_str(&format!(
            "Delta engine: {engine} (receiver messages: {} bytes, sender messages: {} bytes, refinement: {} bytes; engine time: receiver {:.3} s, sender {:.3} s)\n",
            num(s.engine_msgs, h),
            num(s.sender_engine_msgs, h),
            num(s.probe_bytes, h),
            s.engine_us as f64 / 1e6,
            s.sender_engine_us as f64 / 1e6
        ));
    }
    o.push_str(&engine_lines(s, h));
    if s.deduped > 0 {
        o.push_str(&format!(
            "Deduplicated data: {} bytes (files: {} bytes in {} files, {} renamed or moved; chunks: {} bytes)\n",
            num(s.deduped, h),
            num(s.deduped.saturating_sub(s.dedup_chunk_bytes), h),
            num(s.dedup_files, h),
            num(s.renamed, h),
            num(s.dedup_chunk_bytes, h)
        ));
    }
    if s.inplace_kept + s.inplace_converted > 0 {
        let base = s.matched.max(1) as f64;
        o.push_str(&format!(
            "In-place: {} copies kept, {} converted, {} bytes lost to cycles ({:.2}% of matched), peak stash {} bytes\n",
            num(s.inplace_kept, h),
            num(s.inplace_converted, h),
            num(s.inplace_lost, h),
            s.inplace_lost as f64 * 100.0 / base,
            num(s.inplace_stash_peak, h)
        ));
    }
    o.push('\n');
    o
}

/// parasync's per-engine `--stats` lines (issue 5): engine message bytes by kind (both sides
/// summed) and each side's time per phase, each line only when it has a non-zero figure.
fn engine_lines(s: &Stats, h: u8) -> String {
    use crate::engine::phase::{Phase, MSG_KINDS};
    let mut o = String::new();
    let bytes: Vec<u64> = (0..MSG_KINDS)
        .map(|k| s.msg_bytes[k] + s.sender_msg_bytes[k])
        .collect();
    if bytes.iter().any(|b| *b > 0) {
        o.push_str(&format!(
            "Engine messages: signature {} bytes, weak {} bytes, strong {} bytes\n",
            num(bytes[0], h),
            num(bytes[1], h),
            num(bytes[2], h)
        ));
    }
    for (side, us) in [("receiver", &s.phase_us), ("sender", &s.sender_phase_us)] {
        let parts: Vec<String> = Phase::ALL
            .iter()
            .filter(|p| us[**p as usize] > 0)
            .map(|p| format!("{} {:.3} s", p.name(), us[*p as usize] as f64 / 1e6))
            .collect();
        if !parts.is_empty() {
            o.push_str(&format!("Engine phases ({side}): {}\n", parts.join(", ")));
        }
    }
    o
}

/// 10-character permission string (`drwxr-xr-x`).
pub fn perm_string(mode: u32) -> String {
    use crate::flist::entry::*;
    let t = match mode & S_IFMT {
        S_IFDIR => 'd',
        S_IFLNK => 'l',
        S_IFBLK => 'b',
        S_IFCHR => 'c',
        S_IFSOCK => 's',
        S_IFIFO => 'p',
        _ => '-',
    };
    let mut s = String::from(t);
    let bits = [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o40, 'r'),
        (0o20, 'w'),
        (0o10, 'x'),
        (0o4, 'r'),
        (0o2, 'w'),
        (0o1, 'x'),
    ];
    for (i, (b, c)) in bits.iter().enumerate() {
        let on = mode & b != 0;
        let ch = match i {
            2 if mode & 0o4000 != 0 => {
                if on {
                    's'
                } else {
                    'S'
                }
            }
            5 if mode & 0o2000 != 0 => {
                if on {
                    's'
                } else {
                    'S'
                }
            }
            8 if mode & 0o1000 != 0 => {
                if on {
                    't'
                } else {
                    'T'
                }
            }
            _ => {
                if on {
                    *c
                } else {
                    '-'
                }
            }
        };
        s.push(ch);
    }
    s
}

/// Local time as `YYYY/MM/DD HH:MM:SS`.
pub fn local_time(secs: i64) -> String {
    unsafe {
        let t: libc::time_t = secs as libc::time_t;
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        format!(
            "{:04}/{:02}/{:02} {:02}:{:02}:{:02}",
            tm.tm_year + 1900,
            tm.tm_mon + 1,
            tm.tm_mday,
            tm.tm_hour,
            tm.tm_min,
            tm.tm_sec
        )
    }
}

/// A `--list-only` row.
pub fn list_row(e: &crate::flist::Entry, h: u8) -> String {
    let size = e.size;
    let size_s = num(size, h);
    let width = if h == 0 { 11 } else { 14 };
    let mut line = format!(
        "{} {:>width$} {} {}",
        perm_string(e.mode),
        size_s,
        local_time(e.mtime),
        escape(&e.name)
    );
    if let Some(t) = &e.x().link {
        line.push_str(" -> ");
        line.push_str(&escape(t));
    }
    line
}

/// Write transfer output to stdout. A closed stdout (`parasync -av src/ dst/ | head -1`) does not
/// stop the transfer: rsync ignores SIGPIPE and write errors on its output and still exits 0.
pub fn out(s: &str) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

/// Write `--help`/`--version` text. rsync prints those before it installs its signal handlers,
/// so a closed pipe kills it with SIGPIPE (exit status 141 in a shell); parasync does the same.
pub fn out_or_die(s: &str) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    let r = o.write_all(s.as_bytes()).and_then(|_| o.flush());
    if r.is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
        // SAFETY: restoring the default action and raising a signal on ourselves.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::raise(libc::SIGPIPE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn numbers() {
        assert_eq!(num(200458, 1), "200,458");
        assert_eq!(num(200458, 0), "200458");
        assert_eq!(num(200024, 2), "200.02K");
        assert_eq!(num(114, 2), "114");
        assert_eq!(num(4096, 3), "4.00K");
        assert_eq!(dnum(401196.0, 1), "401,196.00");
        assert_eq!(dnum(1112.0, 1), "1,112.00");
        assert_eq!(dnum(0.999, 1), "1.00");
    }
    #[test]
    fn summary_shape() {
        assert_eq!(
            summary(404, 152, 0, 0.0, 1, false),
            "sent 404 bytes  received 152 bytes  1,112.00 bytes/sec\ntotal size is 0  speedup is 0.00\n"
        );
    }
    #[test]
    fn escapes() {
        assert_eq!(escape(b"a\nb"), "a\\#012b");
        assert_eq!(escape(b"x\xffy"), "x\\#377y");
        if utf8_locale() {
            assert_eq!(escape("é".as_bytes()), "é");
        } else {
            assert_eq!(escape("é".as_bytes()), "\\#303\\#251");
        }
        // rsync leaves tabs, DEL and "\#" in names as they are.
        assert_eq!(escape(b"a\tb\x7fc\\#d\x1b"), "a\tb\x7fc\\#d\\#033");
    }
    /// A name a server formats unescaped (deferred) and the client localizes prints exactly as
    /// the client would have formatted it itself, for either locale and with or without `-8`.
    #[test]
    fn deferred_escapes_print_as_local_ones() {
        let names: [&[u8]; 6] = [
            b"plain",
            "sub/\u{fc}n\u{ef}.txt".as_bytes(),
            b"bad\xff\xfe byte",
            b"ctl\nname\t",
            "mixed \u{263a}\x01".as_bytes(),
            b"\\#303 literal",
        ];
        for name in names {
            for raw in [false, true] {
                for utf8 in [false, true] {
                    let local = escape_for(name, raw, utf8);
                    let deferred = escape_for(name, true, true);
                    assert_eq!(
                        localize_for(deferred.as_bytes(), raw, utf8),
                        localize_for(local.as_bytes(), raw, utf8),
                        "{name:?} raw={raw} utf8={utf8}"
                    );
                }
            }
        }
        // In the C locale a UTF-8 name is escaped byte by byte, as rsync shows it there.
        assert_eq!(
            &*localize_for(
                escape_for("\u{fc}".as_bytes(), true, true).as_bytes(),
                false,
                false
            ),
            b"\\#303\\#274"
        );
        assert_eq!(
            &*localize_for("\u{fc}".as_bytes(), false, true),
            "\u{fc}".as_bytes()
        );
    }
    #[test]
    fn perms() {
        assert_eq!(perm_string(0o40755), "drwxr-xr-x");
        assert_eq!(perm_string(0o104755), "-rwsr-xr-x");
        assert_eq!(perm_string(0o41777), "drwxrwxrwt");
    }
}
