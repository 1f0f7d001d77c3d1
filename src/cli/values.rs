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
}
