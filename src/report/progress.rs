//! `--progress` lines exactly as rsync prints them when stdout is not a terminal
//! (`\r%15s %3d%% %7.2f%s %s%s`, rsync-cli.md §4.4).

/// One progress line (without the leading `\r`). `done` = Some((xfr#, files left, total files)).
pub fn line(
    bytes: u64,
    total: u64,
    rate: f64,
    secs: f64,
    done: Option<(u64, u64, u64)>,
    h: u8,
) -> String {
    let pct = if total == 0 {
        100
    } else {
        (bytes as u128 * 100 / total as u128) as u64
    };
    let mut r = rate / 1024.0;
    let mut unit = "kB/s";
    if r > 1024.0 {
        r /= 1024.0;
        unit = "MB/s";
        if r > 1024.0 {
            r /= 1024.0;
            unit = "GB/s";
        }
    }
    let s = secs.max(0.0) as u64;
    let time = format!("{:4}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
    let mut out = format!(
        "{:>15} {:3}% {:7.2}{} {}",
        super::num(bytes, h),
        pct,
        r,
        unit,
        time
    );
    match done {
        Some((xfr, left, tot)) => out.push_str(&format!(" (xfr#{xfr}, to-chk={left}/{tot})")),
        None => out.push_str("  "),
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn shape() {
        assert_eq!(
            super::line(6, 6, 0.0, 0.0, Some((1, 6, 8)), 1),
            "              6 100%    0.00kB/s    0:00:00 (xfr#1, to-chk=6/8)"
        );
        assert_eq!(
            super::line(32768, 200000, 31.25 * 1048576.0, 0.0, None, 1),
            "         32,768  16%   31.25MB/s    0:00:00  "
        );
    }
}

/// `--info=progress2` on the client: rsync's whole-transfer line when stdout is not a terminal,
/// an indicatif bar (bytes, rate, ETA) when it is. The receiver (which may be remote) sends
/// `bytes total\t<rsync line>` as a `LOG_PROGRESS2` message; `<rsync line>` ends in `\n` for the
/// final update.
pub mod overall {
    use std::io::{IsTerminal, Write};
    use std::sync::Mutex;

    static BAR: Mutex<Option<indicatif::ProgressBar>> = Mutex::new(None);

    pub fn show(msg: &[u8]) {
        let text = String::from_utf8_lossy(msg);
        let (nums, line) = text.split_once('\t').unwrap_or(("0 0", &text));
        let mut it = nums.split(' ').map(|x| x.parse::<u64>().unwrap_or(0));
        let (bytes, total) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
        let last = line.ends_with('\n');
        if !std::io::stdout().is_terminal() {
            let mut o = std::io::stdout().lock();
            let _ = write!(o, "\r{line}");
            let _ = o.flush();
            return;
        }
        let Ok(mut g) = BAR.lock() else { return };
        let bar = g.get_or_insert_with(|| {
            let b = indicatif::ProgressBar::new(total);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bytes:>12}/{total_bytes} {wide_bar} {percent:>3}% {binary_bytes_per_sec} ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b
        });
        bar.set_length(total);
        bar.set_position(bytes);
        if last {
            bar.finish();
            *g = None;
        }
    }
}
