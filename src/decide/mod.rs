//! The receiver's decisions per item (rsync generator.c): quick check (size + mtime, `-c`,
//! `--size-only`, `-I`, `--modify-window`), transfer rules (`-u`, `--existing`,
//! `--ignore-existing`, `--max-size`, `--min-size`) and which attributes differ (for itemize).

use crate::cli::Options;
use crate::flist::Entry;
use crate::report::itemize::Change;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

/// util1.c same_time: whole seconds by default, |Δ| ≤ window, negative window = exact ns.
pub fn same_time(a: (i64, u32), b: (i64, u32), window: i64) -> bool {
    if window < 0 {
        return a == b;
    }
    (a.0 - b.0).abs() <= window
}

/// generator.c quick_check_ok for regular files. `dest_sum` computes the destination's whole-file
/// digest (only called with `-c` when the sizes match).
pub fn quick_check_ok(
    e: &Entry,
    m: &Metadata,
    o: &Options,
    dest_sum: &mut dyn FnMut() -> Option<[u8; 32]>,
) -> bool {
    if m.len() != e.size {
        return false;
    }
    // generator.c quick_check_ok: the checksum, then --size-only, decide before --ignore-times.
    if o.checksum {
        return e.x().sum.is_some() && dest_sum() == e.x().sum;
    }
    if o.size_only {
        return true;
    }
    if o.ignore_times {
        return false;
    }
    same_time(
        (e.mtime, e.mtime_ns),
        (m.mtime(), m.mtime_nsec() as u32),
        o.modify_window,
    )
}

/// Transfer rules applied before the quick check (generator.c order). Returns a reason to skip
/// (for `-vv`).
pub fn skip_reason(
    e: &Entry,
    existing: Option<&crate::meta::fake::Stat>,
    o: &Options,
) -> Option<&'static str> {
    // generator.c recv_generator's order: --existing and --ignore-existing first.
    match existing {
        None if o.existing => return Some("not creating new file"),
        Some(_) if o.ignore_existing => return Some("exists"),
        _ => {}
    }
    if let Some(max) = o.max_size {
        if e.is_file() && e.size > max {
            return Some("is over max-size");
        }
    }
    if let Some(min) = o.min_size {
        if e.is_file() && e.size < min {
            return Some("is under min-size");
        }
    }
    // generator.c: `file->modtime - sx.st.st_mtime < modify_window`, whole seconds. So with a
    // window the source must be newer by at least the window (a copy 1 s older than its source
    // is left alone under --modify-window=2), and with -1 a destination 1 s newer is replaced.
    match existing {
        Some(m)
            if o.update && m.is_file() && e.is_file() && e.mtime - m.mtime() < o.modify_window =>
        {
            Some("is newer")
        }
        _ => None,
    }
}

/// The `-vv` line for a skipped item, worded as rsync's generator.c does.
pub fn skip_line(name: &str, reason: &str) -> String {
    if reason.starts_with("not creating new") {
        format!("{reason} \"{name}\"")
    } else {
        format!("{name} {reason}")
    }
}

/// Attribute differences between the source entry and an existing destination item.
pub fn attr_change(
    e: &Entry,
    seen: &impl crate::meta::fake::Seen,
    o: &Options,
    uid: u32,
    gid: u32,
    wanted_mode: u32,
) -> Change {
    // Mode, owner and group as this side sees them (--fake-super: as stored), times as they are.
    let (m_mode, m_uid, m_gid) = seen.seen();
    let m = seen.meta();
    let time_applies =
        o.times && !(e.is_dir() && o.omits_dir_times()) && !(e.is_symlink() && o.omit_link_times);
    Change {
        time: time_applies
            && !same_time(
                (e.mtime, e.mtime_ns),
                (m.mtime(), m.mtime_nsec() as u32),
                // rsync's mtime_differs: the same window for every type.
                o.modify_window,
            ),
        perms: !e.is_symlink() && (o.perms || o.executability) && (m_mode & 0o7777) != wanted_mode,
        owner: o.owner && o.am_root() && m_uid != uid,
        group: o.group && m_gid != gid && crate::meta::can_set_group(gid, o.am_root()),
        // rsync reports access times of files, devices and specials, not of symlinks.
        atime: o.atimes
            && !e.is_dir()
            && !e.is_symlink()
            && e.x().atime.is_some_and(|(secs, _)| secs != m.atime()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn time_windows() {
        assert!(same_time((10, 5), (10, 900), 0));
        assert!(!same_time((10, 5), (11, 5), 0));
        assert!(same_time((10, 5), (11, 5), 1));
        assert!(!same_time((10, 5), (10, 6), -1));
        assert!(same_time((10, 5), (10, 5), -1));
    }
}
