//! Option values with a grammar of their own: numbers and rsync's SIZE suffixes
//! (rsync-cli.md §1.3.10), shared by `--max-size`, `--min-size`, `--bwlimit`, `--block-size`, ….

use crate::error::{Error, Result};

pub(super) fn parse_num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T> {
    v.trim()
        .parse()
        .map_err(|_| Error::syntax(format!("--{name}={v}: invalid numeric value")))
}

/// rsync's SIZE grammar (rsync-cli.md §1.3.10): `N[.F][K|M|G|T|P][B|iB][+1|-1]`; bare numbers
/// are bytes (`default_unit` is 1024 for --bwlimit, which is in KiB/s).
pub fn parse_size(name: &str, v: &str, default_unit: u64) -> Result<u64> {
    let bad = || Error::syntax(format!("--{name}={v} is invalid"));
    let s = v.trim();
    let (s, adj) = if let Some(p) = s.strip_suffix("+1") {
        (p, 1i64)
    } else if let Some(p) = s.strip_suffix("-1") {
        (p, -1)
    } else {
        (s, 0)
    };
    let num_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(num_end);
    if num.is_empty() {
        return Err(bad());
    }
    let n: f64 = num.parse().map_err(|_| bad())?;
    let lower = suffix.to_ascii_lowercase();
    let mut chars = lower.chars();
    let unit_char = chars.next();
    let rest: String = chars.collect();
    let base: f64 = match rest.as_str() {
        "" | "ib" => 1024.0,
        "b" => 1000.0,
        _ => return Err(bad()),
    };
    let mult = match unit_char {
        None => default_unit as f64,
        Some('b') if rest.is_empty() => 1.0,
        Some('k') => base,
        Some('m') => base * base,
        Some('g') => base.powi(3),
        Some('t') => base.powi(4),
        Some('p') => base.powi(5),
        _ => return Err(bad()),
    };
    let val = (n * mult) as i64 + adj;
    if val < 0 {
        return Err(bad());
    }
    Ok(val as u64)
}

/// `--stop-after=MINS`: now plus MINS minutes, as rsync's options.c reads it (leading digits, as
/// `atol` does; zero or nothing is refused).
pub(super) fn parse_stop_after(v: &str, now: i64) -> Result<i64> {
    let digits: String = v
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    match digits.parse::<i64>().ok().and_then(|m| m.checked_mul(60)) {
        Some(secs) if secs > 0 && now.checked_add(secs).is_some() => Ok(now + secs),
        _ => Err(Error::syntax(format!("invalid --stop-after value: {v}"))),
    }
}

/// `--stop-at=y-m-dTh:m` in local time: the next point in time that matches what is given (rsync
/// options.c parse_time). The date may be cut from the front (`m-d`, `d`) and uses `-` or `/`,
/// a 2-digit year is the next such year; no time is midnight; `:MM` is the next such minute;
/// `Th:m` alone is the next such time of day.
pub(super) fn parse_stop_at(v: &str, now: i64) -> Result<i64> {
    let bad = || Error::syntax(format!("invalid --stop-at format: {v}"));
    let when = stop_at_time(v.as_bytes(), now).ok_or_else(bad)?;
    if when <= now {
        return Err(Error::syntax(format!(
            "--stop-at time is not in the future: {v}"
        )));
    }
    Ok(when)
}

/// The date/time fields given (-1 = not given), in the order rsync's parser fills them.
fn stop_at_time(s: &[u8], now: i64) -> Option<i64> {
    let (mut year, mut mon, mut mday, mut hour, mut min) = (-1i64, -1i64, -1i64, -1i64, -1i64);
    let mut i = 0;
    // 1 = reading the date, 0 = the time, -1 = a time must follow.
    let mut in_date: i32 = match s.first() {
        Some(b'T' | b't') => {
            i = 1;
            -1
        }
        Some(b':') => {
            i = 1;
            0
        }
        _ => 1,
    };
    loop {
        if !s.get(i)?.is_ascii_digit() {
            return None;
        }
        let mut n: i64 = 0;
        while let Some(d) = s.get(i).filter(|d| d.is_ascii_digit()) {
            n = n.checked_mul(10)?.checked_add((d - b'0') as i64)?;
            i += 1;
        }
        let c = s.get(i).copied();
        if c == Some(b':') {
            in_date = 0;
        }
        if in_date > 0 {
            if year != -1 {
                return None;
            }
            (year, mon, mday) = (mon, mday, n);
            match c {
                None => break,
                Some(b'T' | b't') => {
                    if i + 1 == s.len() {
                        break;
                    }
                    in_date = -1;
                }
                Some(b'-' | b'/') => {}
                _ => return None,
            }
            i += 1;
            continue;
        }
        if hour != -1 {
            return None;
        }
        (hour, min) = (min, n);
        match c {
            None if in_date < 0 => return None,
            None => break,
            Some(b':') => {
                in_date = 0;
                i += 1;
            }
            _ => return None,
        }
    }
    let today = local_tm(now)?;
    let mut t: libc::tm = unsafe { std::mem::zeroed() };
    t.tm_isdst = -1;
    // Which field a past result moves forward: 1 the year, 2 the month, 3 the day, 0 none.
    let mut bump = 0;
    t.tm_year = if year < 0 {
        bump = 1;
        today.tm_year
    } else if year < 100 {
        let mut y = year as i32;
        while y < today.tm_year {
            y += 100;
        }
        y
    } else {
        (year - 1900) as i32
    };
    t.tm_mon = if mon < 0 {
        bump = 2;
        today.tm_mon
    } else {
        mon as i32 - 1
    };
    t.tm_mday = if mday < 0 {
        bump = 3;
        today.tm_mday
    } else {
        mday as i32
    };
    let mut step = 0;
    if min < 0 {
        (t.tm_hour, t.tm_min) = (0, 0);
    } else if hour < 0 {
        if bump != 3 {
            return None;
        }
        bump = 0;
        t.tm_hour = today.tm_hour;
        t.tm_min = min as i32;
        step = 3600;
    } else {
        (t.tm_hour, t.tm_min) = (hour as i32, min as i32);
    }
    let mut old_mday = t.tm_mday;
    if t.tm_hour > 23
        || t.tm_min > 59
        || !(0..12).contains(&t.tm_mon)
        || !(1..=31).contains(&t.tm_mday)
    {
        return None;
    }
    let mut val = mktime(&mut t)?;
    while bump != 0 && (val <= now || t.tm_mday < old_mday) {
        match bump {
            3 => {
                t.tm_mday += 1;
                old_mday = t.tm_mday;
            }
            2 => {
                if t.tm_mday < old_mday {
                    // mktime already moved a too-large day into the next month.
                    t.tm_mday = old_mday;
                } else {
                    t.tm_mon += 1;
                    if t.tm_mon == 12 {
                        t.tm_mon = 0;
                        t.tm_year += 1;
                    }
                }
            }
            _ => {
                if t.tm_mday < old_mday {
                    // Feb 29 became Mar 1: only a leap year has it.
                    if t.tm_mon != 2 || old_mday != 29 {
                        return None;
                    }
                    t.tm_mon = 1;
                    t.tm_mday = 29;
                }
                t.tm_year += 1;
            }
        }
        val = match mktime(&mut t) {
            Some(v) => v,
            None if bump == 3 && t.tm_mday > 28 => {
                t.tm_mday = 1;
                old_mday = 1;
                bump = 2;
                continue;
            }
            None => return None,
        };
    }
    if step > 0 {
        while val <= now {
            val += step;
        }
    }
    Some(val)
}

fn local_tm(at: i64) -> Option<libc::tm> {
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let t = at as libc::time_t;
    // SAFETY: localtime_r writes into `tm` only.
    (!unsafe { libc::localtime_r(&t, &mut tm) }.is_null()).then_some(tm)
}

fn mktime(t: &mut libc::tm) -> Option<i64> {
    // SAFETY: mktime normalises the fields of `t` in place.
    let v = unsafe { libc::mktime(t) };
    (v != -1).then_some(v as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn sizes() {
        assert_eq!(parse_size("x", "10M", 1).unwrap(), 10485760);
        assert_eq!(parse_size("x", "1.5mb", 1).unwrap(), 1500000);
        assert_eq!(parse_size("x", "1.5mb-1", 1).unwrap(), 1499999);
        assert_eq!(parse_size("x", "2g+1", 1).unwrap(), 2147483649);
        assert_eq!(parse_size("x", "100", 1024).unwrap(), 102400);
        assert!(parse_size("x", "abc", 1).is_err());
    }

    /// The local time of `t` as (year, month 1-12, day, hour, minute).
    fn local(t: i64) -> (i32, i32, i32, i32, i32) {
        let tm = local_tm(t).unwrap();
        (
            tm.tm_year + 1900,
            tm.tm_mon + 1,
            tm.tm_mday,
            tm.tm_hour,
            tm.tm_min,
        )
    }

    #[test]
    fn stop_times() {
        // 2026-11-28 (a Saturday), mid-morning UTC: the checks hold in any time zone.
        let now = 1_795_860_000;
        let (y, _, _, h, _) = local(now);
        let at = |s: &str| parse_stop_at(s, now).unwrap();
        let two_pm = local(at("14:00"));
        assert_eq!((two_pm.3, two_pm.4), (14, 0));
        assert!(at("14:00") - now <= 86_400);
        assert_eq!(local(at(":59")).4, 59);
        assert!(at(":59") - now <= 3_600);
        let jan30 = local(at("1-30"));
        assert_eq!((jan30.1, jan30.2, jan30.3, jan30.4), (1, 30, 0, 0));
        assert_eq!(jan30.0, y + 1);
        assert_eq!(local(at("2030/6/1T7:05")), (2030, 6, 1, 7, 5));
        assert_eq!(local(at("30-6-1")).0, 2030);
        assert_eq!(local(at("T23:59")).3, 23);
        // The next February 29th is in a leap year.
        assert_eq!(local(at("2-29")).0 % 4, 0);
        // The next 31st of a month.
        assert_eq!(local(at("31")).2, 31);
        assert_eq!(local(at(&format!("{}:30", (h + 1) % 24))).4, 30);
        for bad in [
            "00:00:00", "T14", "1-2-3-4", "25:00", "12:60", "x", "", "13-1", "1-32",
        ] {
            assert!(parse_stop_at(bad, now).is_err(), "{bad}");
        }
        let past = parse_stop_at("2020-01-01T00:00", now).unwrap_err();
        assert_eq!(
            past.msg,
            "--stop-at time is not in the future: 2020-01-01T00:00"
        );
        assert_eq!(parse_stop_after("5", now).unwrap(), now + 300);
        assert_eq!(parse_stop_after("2x", now).unwrap(), now + 120);
        for bad in ["0", "abc", "-3", ""] {
            let e = parse_stop_after(bad, now).unwrap_err();
            assert_eq!(e.msg, format!("invalid --stop-after value: {bad}"));
        }
    }
}
