//! `--copy-devices` and `--write-devices` against the installed rsync (needs root for mknod):
//! devices sent as regular files with their contents, and data written into an existing device
//! on the receiver instead of replacing it.

use crate::util::*;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

fn mknod(p: &Path, major: u32, minor: u32) {
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    let dev = libc::makedev(major, minor);
    assert_eq!(
        unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o644, dev) },
        0,
        "mknod {p:?}"
    );
}

fn device_tree(w: &Path) {
    let (src, dst) = (w.join("src"), w.join("dst"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&dst).unwrap();
    mknod(&src.join("null"), 1, 3);
    mknod(&src.join("zero"), 1, 5);
    std::fs::write(src.join("f"), b"data\n").unwrap();
    mknod(&dst.join("f"), 1, 3);
    let t = filetime::FileTime::from_unix_time(1_577_836_800, 0);
    for p in ["src/null", "src/zero", "src/f", "dst/f", "src", "dst"] {
        filetime::set_file_mtime(w.join(p), t).unwrap();
    }
}

#[test]
fn copy_devices_sends_contents() {
    if !is_root() {
        return;
    }
    let t = Twin::new(device_tree);
    for (args, dst) in [
        (&["-ai", "--copy-devices", "src/", "d1/"][..], "d1"),
        (&["-aiD", "--copy-devices", "src/", "d2/"], "d2"),
    ] {
        t.same(args).p.expect(0, "copy-devices");
        // rsync stamps copied devices with the time of the run: compare without times.
        t.assert_trees(dst, Cmp::ALL.no_times());
        assert!(std::fs::symlink_metadata(t.p.join(dst).join("null"))
            .unwrap()
            .is_file());
    }
}

#[test]
fn write_devices_writes_into_the_device() {
    if !is_root() {
        return;
    }
    let t = Twin::new(device_tree);
    t.same(&["-ai", "--write-devices", "src/", "dst/"])
        .p
        .expect(0, "write-devices");
    t.assert_trees("dst", Cmp::ALL.no_root());
    let m = std::fs::symlink_metadata(t.p.join("dst/f")).unwrap();
    assert!(m.file_type().is_char_device(), "the device stays");
    // Without the option the device is replaced by the file.
    t.same(&["-ai", "src/", "dst/"]);
    t.assert_trees("dst", Cmp::ALL.no_root());
    assert!(std::fs::symlink_metadata(t.p.join("dst/f"))
        .unwrap()
        .is_file());
}

/// `--drop-D` (rsync 3.5): the receiver makes no devices or specials and says "skipping
/// non-regular file" for each; it is not sent to a remote receiver, so a push still makes them
/// there, as rsync's does.
#[test]
fn drop_d_matches_rsync() {
    let s = crate::need_sshd!();
    let t = Twin::new(|w| {
        let src = w.join("src");
        std::fs::create_dir_all(&src).unwrap();
        mkfifo(&src.join("fifo"), 0o644);
        if is_root() {
            mknod(&src.join("null"), 1, 3);
        }
        std::fs::write(src.join("f"), b"data\n").unwrap();
        let t = filetime::FileTime::from_unix_time(1_577_836_800, 0);
        for p in ["src/fifo", "src/null", "src/f", "src"] {
            // Without opening: opening a fifo waits for a writer.
            if w.join(p).symlink_metadata().is_ok() {
                filetime::set_symlink_file_times(w.join(p), t, t).unwrap();
            }
        }
    });
    for (i, remote) in [false, true, true].into_iter().enumerate() {
        let dst = format!("d{i}/");
        let args: Vec<&str> = match i {
            0 => vec!["-ai", "--drop-D", "src/", &dst],
            1 => vec!["-ai", "--drop-D", "src/", "127.0.0.1:{WS}/d1/"],
            _ => vec!["-ai", "--drop-D", "127.0.0.1:{WS}/src/", &dst],
        };
        let pair = if remote {
            t.over_ssh(s, &args)
        } else {
            t.run(&args)
        };
        pair.assert_same(&format!("{args:?}"));
        pair.p.expect(0, "--drop-D");
        t.assert_trees(&dst, Cmp::ALL.no_root());
        let made = t.p.join(&dst).join("fifo").exists();
        assert_eq!(made, i == 1, "{args:?}: fifo made: {made}");
    }
}

/// `--remove-source-files` leaves a source that no longer matches its list entry (a device sent
/// with `--copy-devices` is listed as a file) and says so naming it as listed, relative to the
/// transfer root (sender.c successful_send), exit 23.
#[test]
fn remove_source_files_names_a_changed_source_as_listed() {
    if !is_root() {
        return;
    }
    let t = Twin::new(|w| {
        std::fs::create_dir_all(w.join("src/sub")).unwrap();
        mknod(&w.join("src/sub/null"), 1, 3);
        std::fs::write(w.join("src/sub/f"), b"data\n").unwrap();
        let t = filetime::FileTime::from_unix_time(1_577_836_800, 0);
        for p in ["src/sub/null", "src/sub/f", "src/sub", "src"] {
            filetime::set_file_mtime(w.join(p), t).unwrap();
        }
    });
    let p = t.same(&[
        "-rlt",
        "--copy-devices",
        "--remove-source-files",
        "src/",
        "dst/",
    ]);
    p.p.expect(23, "changed source kept");
    assert!(p.p.stderr.contains("changed file: sub/null\n"), "{}", p.p);
    t.assert_trees("src", Cmp::ALL.no_times());
}
