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
