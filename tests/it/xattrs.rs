//! `-X`, `-A` and `-U` against the installed rsync: extended attributes (user.* and, as root,
//! trusted.*), POSIX ACLs (access and default, written as the kernel's system.posix_acl_* values),
//! extraneous attributes removed, access times — same trees, attributes and item lines, locally
//! and over the test sshd. Skipped where the filesystem of the temp dir has no xattr support.

use crate::util::*;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub(crate) fn set(p: &Path, name: &str, val: &[u8]) -> bool {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    let n = CString::new(name).unwrap();
    unsafe { libc::lsetxattr(c.as_ptr(), n.as_ptr(), val.as_ptr().cast(), val.len(), 0) == 0 }
}

/// Every attribute of `p` (any namespace), sorted.
pub(crate) fn all(p: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    let mut names = vec![0u8; 65536];
    let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    let mut out = Vec::new();
    for name in names[..n.max(0) as usize]
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
    {
        let cn = CString::new(name).unwrap();
        let mut v = vec![0u8; 65536];
        let k = unsafe { libc::lgetxattr(c.as_ptr(), cn.as_ptr(), v.as_mut_ptr().cast(), v.len()) };
        v.truncate(k.max(0) as usize);
        out.push((name.to_vec(), v));
    }
    out.sort();
    out
}

/// A POSIX ACL in the kernel's xattr encoding: (tag, perm, id) entries.
pub(crate) fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
    let mut b = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in entries {
        b.extend(tag.to_le_bytes());
        b.extend(perm.to_le_bytes());
        b.extend(id.to_le_bytes());
    }
    b
}

pub(crate) const U: u32 = u32::MAX;

/// A file at `f` holding `data`, with `mode`, mtime `secs` and, if given, that access ACL.
fn acl_file(f: &Path, data: &[u8], mode: u32, secs: i64, access: Option<&[u8]>) {
    std::fs::write(f, data).unwrap();
    std::fs::set_permissions(f, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    if let Some(a) = access {
        assert!(set(f, "system.posix_acl_access", a));
    }
    let t = filetime::FileTime::from_unix_time(secs, 0);
    filetime::set_file_times(f, t, t).unwrap();
}

pub(crate) fn supported() -> bool {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("probe");
    std::fs::write(&f, b"").unwrap();
    set(&f, "user.probe", b"1")
}

fn xattr_tree(w: &Path) {
    let (src, dst) = (w.join("src"), w.join("dst"));
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::create_dir_all(dst.join("d")).unwrap();
    for f in ["a", "b", "d/c", "plain"] {
        std::fs::write(src.join(f), f).unwrap();
    }
    std::os::unix::fs::symlink("a", src.join("l")).unwrap();
    assert!(set(&src.join("a"), "user.one", b"1"));
    assert!(set(&src.join("a"), "user.two", b"\0\xff"));
    if is_root() {
        assert!(set(&src.join("a"), "trusted.t", b"tt"));
    }
    assert!(set(&src.join("d"), "user.dir", b"dd"));
    let access = acl(&[(1, 6, U), (2, 4, 1), (4, 4, U), (0x10, 6, U), (0x20, 4, U)]);
    let default = acl(&[(1, 7, U), (2, 5, 2), (4, 5, U), (0x10, 7, U), (0x20, 5, U)]);
    assert!(set(&src.join("b"), "system.posix_acl_access", &access));
    assert!(set(&src.join("d"), "system.posix_acl_default", &default));
    // The destination holds older copies: one with an attribute the source lacks, one with an
    // extended ACL the source lacks.
    for f in ["a", "b", "plain"] {
        std::fs::write(dst.join(f), f).unwrap();
    }
    assert!(set(&dst.join("a"), "user.extra", b"x"));
    assert!(set(&dst.join("plain"), "system.posix_acl_access", &access));
    let t = filetime::FileTime::from_unix_time(1_000_000_000, 0);
    for p in [
        "src/a",
        "src/b",
        "src/d/c",
        "src/plain",
        "src/d",
        "src",
        "dst/a",
        "dst/b",
    ] {
        filetime::set_file_times(w.join(p), t, t).unwrap();
    }
    for p in ["dst/plain", "dst/d", "src/l"] {
        filetime::set_symlink_file_times(w.join(p), t, t).unwrap();
    }
    std::fs::set_permissions(
        dst.join("b"),
        std::os::unix::fs::PermissionsExt::from_mode(0o664),
    )
    .unwrap();
}

pub(crate) fn assert_same_attrs(t: &Twin, rel: &str) {
    let mut stack = vec![String::new()];
    while let Some(d) = stack.pop() {
        for ent in std::fs::read_dir(t.r.join(rel).join(&d)).unwrap() {
            let name = format!("{d}{}", ent.unwrap().file_name().to_string_lossy());
            let (a, b) = (t.r.join(rel).join(&name), t.p.join(rel).join(&name));
            assert_eq!(all(&a), all(&b), "attributes of {name}");
            if a.is_dir() && !a.is_symlink() {
                stack.push(format!("{name}/"));
            }
        }
    }
}

#[test]
fn xattrs_and_acls_match_rsync() {
    if !supported() {
        return;
    }
    let t = Twin::new(xattr_tree);
    t.same(&["-aiX", "src/", "dst/"]).p.expect(0, "-X");
    t.assert_trees("dst", Cmp::ALL);
    assert_same_attrs(&t, "dst");
    assert_eq!(
        all(&t.p.join("dst/a"))
            .iter()
            .filter(|(n, _)| n.starts_with(b"user."))
            .count(),
        2,
        "user.extra is removed"
    );
    t.same(&["-aiXA", "src/", "dst/"]).p.expect(0, "-XA");
    t.assert_trees("dst", Cmp::ALL);
    assert_same_attrs(&t, "dst");
    // Nothing left to do.
    assert!(t.same(&["-aiXA", "src/", "dst/"]).p.stdout.is_empty());
    // -A alone, into a new tree: implies -p, copies no plain xattrs.
    t.same(&["-rtiA", "src/", "new/"]);
    t.assert_trees("new", Cmp::ALL.no_root());
    assert_same_attrs(&t, "new");
    // -p comes on where -A stands: `-A --no-perms` applies the named entries with the modes
    // made without -p (new items masked, existing ones kept), `--no-perms -A` keeps -p.
    for (args, dir) in [
        (&["-rtiA", "--no-perms"][..], "noperms/"),
        (&["-rtiA", "--no-perms"], "dst/"),
        (&["-rti", "--no-perms", "-A"], "permsback/"),
    ] {
        let mut a = args.to_vec();
        a.extend(["src/", dir]);
        t.same(&a);
        t.assert_trees(dir, Cmp::ALL.no_root());
        assert_same_attrs(&t, dir);
    }
}

/// A destination file with an extended access ACL shows the ACL's mask as its group bits. Left in
/// place, rsync compares its permissions through the ACL (no `p`); transferred, by the plain mode
/// (`p`).
#[test]
fn acl_item_flags_of_kept_and_transferred_files() {
    if !supported() {
        return;
    }
    let t = Twin::new(|w| {
        let (src, dst) = (w.join("src"), w.join("dst"));
        std::fs::create_dir_all(&src).unwrap();
        std::fs::create_dir_all(&dst).unwrap();
        let extended = acl(&[
            (1, 7, U),
            (2, 6, 1234),
            (4, 5, U),
            (0x10, 7, U),
            (0x20, 5, U),
        ]);
        for (f, old) in [("kept", 1_000_000_000), ("sent", 900_000_000)] {
            acl_file(&src.join(f), b"same size", 0o755, 1_000_000_000, None);
            acl_file(&dst.join(f), b"same size", 0o755, old, Some(&extended));
        }
    });
    let out = t.same(&["-rtiA", "src/", "dst/"]).p.stdout;
    assert!(out.contains(".f.......a. kept\n"), "{out}");
    assert!(out.contains(">f..tp...a. sent\n"), "{out}");
    t.assert_trees("dst", Cmp::ALL.no_root());
    assert_same_attrs(&t, "dst");
}

#[test]
fn xattrs_over_ssh() {
    if !supported() {
        return;
    }
    let s = crate::need_sshd!();
    let t = Twin::new(xattr_tree);
    t.over_ssh(s, &["-aiXA", "src/", "127.0.0.1:{WS}/dst/"])
        .assert_same("-XA push");
    t.assert_trees("dst", Cmp::ALL);
    assert_same_attrs(&t, "dst");
}

#[test]
fn atimes_match_rsync() {
    let t = Twin::new(|w| {
        let src = w.join("src");
        std::fs::create_dir_all(src.join("d")).unwrap();
        std::fs::write(src.join("a"), b"a").unwrap();
        std::fs::write(src.join("d/b"), b"b").unwrap();
        std::os::unix::fs::symlink("a", src.join("l")).unwrap();
        let m = filetime::FileTime::from_unix_time(1_262_304_000, 0);
        let a = filetime::FileTime::from_unix_time(978_307_200, 5);
        for p in ["a", "d/b", "d", "l", ""] {
            filetime::set_symlink_file_times(src.join(p), a, m).unwrap();
        }
    });
    let atimes = |w: &Path| -> Vec<(String, i64, i64)> {
        ["a", "d/b"]
            .iter()
            .map(|p| {
                let m = std::fs::symlink_metadata(w.join("dst").join(p)).unwrap();
                use std::os::unix::fs::MetadataExt;
                (p.to_string(), m.atime(), m.atime_nsec())
            })
            .collect()
    };
    t.same(&["-aiU", "src/", "dst/"]).p.expect(0, "-U");
    // Before anything reads the copies (reading moves an old atime forward).
    assert_eq!(atimes(&t.r), atimes(&t.p));
    assert_eq!(atimes(&t.p)[0].1, 978_307_200);
    t.assert_trees("dst", Cmp::ALL);
    let later = filetime::FileTime::from_unix_time(1_041_379_200, 0);
    // Reads since the first run moved the other atimes: make them agree again.
    let a0 = filetime::FileTime::from_unix_time(978_307_200, 0);
    for w in [&t.r, &t.p] {
        filetime::set_file_atime(w.join("src/a"), later).unwrap();
        for p in ["src/d/b", "dst/d/b", "dst/a"] {
            filetime::set_file_atime(w.join(p), a0).unwrap();
        }
    }
    t.same(&["-aiU", "src/", "dst/"]);
    assert_eq!(atimes(&t.r), atimes(&t.p));
    assert_eq!(atimes(&t.p)[0].1, 1_041_379_200);
}

#[test]
fn link_dest_does_not_link_files_whose_xattrs_differ() {
    if !supported() {
        return;
    }
    let t = Twin::new(|w| {
        std::fs::create_dir_all(w.join("src")).unwrap();
        std::fs::create_dir_all(w.join("old")).unwrap();
        for f in ["a", "b"] {
            std::fs::write(w.join("src").join(f), f).unwrap();
            std::fs::write(w.join("old").join(f), f).unwrap();
        }
        assert!(set(&w.join("src/a"), "user.x", b"1"));
        let t = filetime::FileTime::from_unix_time(1_600_000_000, 0);
        for p in ["src/a", "src/b", "old/a", "old/b", "src", "old"] {
            filetime::set_file_mtime(w.join(p), t).unwrap();
        }
    });
    t.same(&["-aiX", "--link-dest=../old", "src/", "new/"]);
    t.assert_trees("new", Cmp::ALL.no_root());
    assert_same_attrs(&t, "new");
    use std::os::unix::fs::MetadataExt;
    let nlink = |f: &str| std::fs::metadata(t.p.join("new").join(f)).unwrap().nlink();
    assert_eq!((nlink("a"), nlink("b")), (1, 2));
}

/// The ids an ACL names are mapped by the names the sender sent with them, as owners are (rsync
/// acls.c): a remote sender whose "daemon" is uid 4242 and "bin" gid 4343 gives an ACL naming
/// this machine's daemon and bin. With `--numeric-ids` the ids stay as sent.
#[test]
fn acl_ids_are_mapped_by_name() {
    use crate::fault_kit::{args, hello, parasync, Tree};
    use parasync::flist::entry::{Entry, Extra, F_TOP_DIR, S_IFDIR};
    use parasync::wire::codec::put_uv;
    use parasync::wire::msg::{Compress, Msg};
    if !supported() || !is_root() {
        return;
    }
    let dir = |name: &str, acl: Option<Vec<u8>>, names| {
        Entry {
            name: name.as_bytes().to_vec().into(),
            mode: S_IFDIR | 0o755,
            mtime: 1_700_000_000,
            ..Default::default()
        }
        .with(Extra {
            xattrs: Some(
                acl.map(|a| (b"system.posix_acl_access".to_vec(), a))
                    .into_iter()
                    .collect(),
            ),
            acl_names: names,
            ..Default::default()
        })
    };
    let access = acl(&[
        (1, 7, U),
        (2, 5, 4242),
        (4, 5, U),
        (8, 5, 4343),
        (0x10, 5, U),
        (0x20, 5, U),
    ]);
    let names = vec![
        (true, 4242, b"daemon".to_vec()),
        (false, 4343, b"bin".to_vec()),
    ];
    let msgs = [
        Msg::Segment {
            parent: u32::MAX,
            entries: vec![
                Entry {
                    flags: F_TOP_DIR,
                    ..dir(".", None, vec![])
                },
                dir("d", Some(access.clone()), names),
            ],
        },
        Msg::FlistEnd { io_error: false },
        Msg::Goodbye(Box::default()),
    ];
    let mut bytes = hello();
    for m in &msgs {
        let (t, p) = m.encode(Compress::None);
        bytes.push(t);
        put_uv(&mut bytes, p.len() as u64);
        bytes.extend_from_slice(&p);
    }
    for (numeric, want) in [
        (
            false,
            acl(&[
                (1, 7, U),
                (2, 5, 1),
                (4, 5, U),
                (8, 5, 2),
                (0x10, 5, U),
                (0x20, 5, U),
            ]),
        ),
        (true, access.clone()),
    ] {
        let t = Tree::new();
        std::fs::write(t.path("stream.bin"), &bytes).unwrap();
        let rsh = t.script(
            "replay-rsh",
            &format!(
                "exec 3<&0\ncat <&3 >/dev/null 3<&- &\nexec cat '{}' 3<&-",
                t.path("stream.bin").display()
            ),
        );
        let mut a = args(&["-rA", "-e", rsh.to_str().unwrap()]);
        if numeric {
            a.push("--numeric-ids".into());
        }
        a.extend(args(&["h:src/", "dst/"]));
        let out = parasync(&t.root, &a);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let got = all(&t.path("dst/d"));
        let got = &got
            .iter()
            .find(|(n, _)| n == b"system.posix_acl_access")
            .unwrap()
            .1;
        assert_eq!(got, &want, "--numeric-ids {numeric}");
    }
}

/// `--usermap`, `--groupmap` and `--chown` map the ids an ACL names as they map owners (two users
/// mapped to one give two entries, as with rsync); `--numeric-ids` leaves them alone.
#[test]
fn acl_ids_follow_the_id_maps_as_rsync() {
    if !supported() || !is_root() {
        return;
    }
    let t = Twin::new(|w| {
        let src = w.join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("f"), b"f").unwrap();
        let access = acl(&[
            (1, 6, U),
            (2, 4, 1),
            (2, 4, 1234),
            (4, 4, U),
            (8, 6, 1),
            (0x10, 6, U),
            (0x20, 4, U),
        ]);
        assert!(set(&src.join("f"), "system.posix_acl_access", &access));
        let tm = filetime::FileTime::from_unix_time(1_600_000_000, 0);
        filetime::set_file_times(src.join("f"), tm, tm).unwrap();
    });
    for (i, opts) in [
        &["--usermap=*:nobody"][..],
        &["--groupmap=daemon:nogroup"],
        &["--chown=bin:bin"],
        &["--usermap=1234:2,daemon:5"],
        &["--numeric-ids", "--usermap=1:bin"],
    ]
    .into_iter()
    .enumerate()
    {
        let dst = format!("dst{i}/");
        let mut a = vec!["-aA"];
        a.extend(opts);
        a.extend(["src/", &dst]);
        t.same(&a).p.expect(0, "map");
        t.assert_trees(&dst, Cmp::ALL.no_root());
        assert_same_attrs(&t, &dst);
    }
}

/// Without `-p`, a new item takes the default permissions of the directory it is made in: from
/// the directory's default ACL where it has one (rsync's default_perms_for_dir), else from the
/// umask.
#[test]
fn default_acl_sets_new_modes_without_p() {
    if !supported() {
        return;
    }
    let t = Twin::new(|w| {
        let (src, dst) = (w.join("src"), w.join("dst"));
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::create_dir_all(&dst).unwrap();
        std::fs::write(src.join("f"), b"f").unwrap();
        std::fs::write(src.join("sub/g"), b"g").unwrap();
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(src.join("f"), mode).unwrap();
        let tm = filetime::FileTime::from_unix_time(1_600_000_000, 0);
        for p in ["f", "sub/g", "sub"] {
            filetime::set_file_times(src.join(p), tm, tm).unwrap();
        }
        // Default ACL: group r--, other ---.
        let default = acl(&[(1, 7, U), (4, 4, U), (0x20, 0, U)]);
        assert!(set(&dst, "system.posix_acl_default", &default));
    });
    t.same(&["-rti", "src/", "dst/"]).p.expect(0, "-rt");
    t.assert_trees("dst", Cmp::ALL.no_root());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(t.p.join("dst/f"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o740);
}

/// rsync compares an access ACL by what the mode does not hold (acls.c
/// rsync_acl_equal_enough): a destination ACL that differs only in its mask is left alone and
/// the mode difference is a `p`; one whose named entries or owning group differ is replaced
/// (`a`), and then the group bits are not a `p` of their own.
#[test]
fn acls_are_compared_as_rsync_compares_them() {
    if !supported() {
        return;
    }
    let t = Twin::new(|w| {
        let (src, dst) = (w.join("src"), w.join("dst"));
        std::fs::create_dir_all(&src).unwrap();
        std::fs::create_dir_all(&dst).unwrap();
        let named_r = acl(&[(1, 6, U), (2, 4, 1), (4, 4, U), (0x10, 4, U), (0x20, 4, U)]);
        // (name, source mode, source ACL, destination mode, destination ACL)
        type Case<'a> = (&'a str, u32, Option<Vec<u8>>, u32, Vec<u8>);
        let cases: [Case; 4] = [
            // Source without an extended ACL, destination with one: a.
            (
                "minimal",
                0o644,
                None,
                0o664,
                acl(&[(1, 6, U), (2, 4, 1), (4, 4, U), (0x10, 6, U), (0x20, 4, U)]),
            ),
            // The same named entries, another mask: p.
            (
                "mask",
                0o644,
                Some(named_r.clone()),
                0o664,
                acl(&[(1, 6, U), (2, 4, 1), (4, 4, U), (0x10, 6, U), (0x20, 4, U)]),
            ),
            // Another owning-group entry: a.
            (
                "group",
                0o644,
                Some(named_r.clone()),
                0o644,
                acl(&[(1, 6, U), (2, 4, 1), (4, 0, U), (0x10, 4, U), (0x20, 4, U)]),
            ),
            // Masks that hide everything, modes that differ: p.
            (
                "hidden",
                0o600,
                Some(acl(&[
                    (1, 6, U),
                    (2, 0, 1),
                    (4, 0, U),
                    (0x10, 0, U),
                    (0x20, 0, U),
                ])),
                0o640,
                acl(&[(1, 6, U), (2, 0, 1), (4, 0, U), (0x10, 4, U), (0x20, 0, U)]),
            ),
        ];
        for (name, smode, sacl, dmode, dacl) in cases {
            acl_file(
                &src.join(name),
                b"same",
                smode,
                1_600_000_000,
                sacl.as_deref(),
            );
            acl_file(&dst.join(name), b"same", dmode, 1_600_000_000, Some(&dacl));
        }
        // A directory whose ACL is replaced shows its mode difference too.
        for (d, mode) in [(&src, 0o755), (&dst, 0o775)] {
            std::fs::create_dir(d.join("dir")).unwrap();
            let m = std::os::unix::fs::PermissionsExt::from_mode(mode);
            std::fs::set_permissions(d.join("dir"), m).unwrap();
        }
        let ext = acl(&[(1, 7, U), (2, 4, 1), (4, 5, U), (0x10, 7, U), (0x20, 5, U)]);
        assert!(set(&dst.join("dir"), "system.posix_acl_access", &ext));
        let tm = filetime::FileTime::from_unix_time(1_600_000_000, 0);
        for d in [&src, &dst] {
            filetime::set_file_times(d.join("dir"), tm, tm).unwrap();
        }
    });
    let out = t.same(&["-riA", "src/", "dst/"]).p.stdout;
    for line in [
        ".f.......a. minimal\n",
        ".f...p..... mask\n",
        ".f.......a. group\n",
        ".f...p..... hidden\n",
        ".d...p...a. dir/\n",
    ] {
        assert!(out.contains(line), "{line}{out}");
    }
    assert_same_attrs(&t, "dst");
    assert!(t
        .same(&["-riA", "src/", "dst/"])
        .p
        .stdout
        .lines()
        .all(|l| !l.starts_with(".f")));
}

/// A `--backup-dir` directory made for a replaced file gets the mode and ACL of the directory
/// it mirrors but not its other extended attributes (rsync's copy_valid_path sets attributes
/// with no file to copy xattrs from).
#[test]
fn backup_dirs_take_acls_not_xattrs() {
    if !supported() {
        return;
    }
    let setup = |w: &Path| {
        for top in ["src", "dst"] {
            std::fs::create_dir_all(w.join(top).join("d")).unwrap();
            let d = w.join(top).join("d");
            assert!(set(&d, "user.tag", top.as_bytes()));
            let access = acl(&[(1, 7, U), (2, 7, 1), (4, 5, U), (0x10, 7, U), (0x20, 5, U)]);
            assert!(set(&d, "system.posix_acl_access", &access));
        }
        std::fs::write(w.join("src/d/f"), b"new").unwrap();
        std::fs::write(w.join("dst/d/f"), b"old!").unwrap();
        let t = filetime::FileTime::from_unix_time(1_000_000_000, 0);
        for p in ["src/d/f", "src/d", "dst/d/f", "dst/d"] {
            filetime::set_file_times(w.join(p), t, t).unwrap();
        }
    };
    for args in [
        &["-aiX", "--backup-dir=../bk"][..],
        &["-aiXA", "--backup-dir=../bk"],
    ] {
        let t = Twin::new(setup);
        let mut a = args.to_vec();
        a.extend(["src/", "dst/"]);
        t.same(&a);
        let bk = &args[1]["--backup-dir=../".len()..];
        assert_same_attrs(&t, bk);
        t.assert_trees(bk, Cmp::ALL.no_root().no_times());
    }
}

/// Without `-p` (and with `-E`) rsync makes the ACL entries a mode holds from the mode the
/// item keeps: the owning group's entry follows it where the sender's equalled the mask
/// (acls.c rsync_acl_strip_perms, change_sacl_perms). `-E` gives x bits only to a regular file
/// that has none (rsync dest_mode). And the top directory's new items take its default ACL as
/// it was before its own entry changed it (the generator reads it on entering a directory).
#[test]
fn acl_entries_follow_the_mode_an_item_keeps() {
    if !supported() {
        return;
    }
    let t = Twin::new(|w| {
        let (src, dst) = (w.join("src"), w.join("dst"));
        let mut s = Tree::new(&src);
        s.dir("newdir").mode("newdir", 0o755);
        s.file("f", b"same")
            .file("x", b"new x")
            .dir("sd")
            .mode("sd", 0o755);
        s.mode("f", 0o664).mode("x", 0o755);
        s.finish();
        let mut d = Tree::new(&dst);
        d.file("f", b"same").file("x", b"old").dir("sd");
        d.mode("f", 0o640).mode("x", 0o741).mode("sd", 0o740);
        d.mtime("x", 1_500_000_000, 0);
        d.finish();
        // The owning group's entry equals the mask (rw-).
        let named = acl(&[(1, 6, U), (2, 6, 1), (4, 6, U), (0x10, 6, U), (0x20, 4, U)]);
        assert!(set(&src.join("f"), "system.posix_acl_access", &named));
        // The source's top directory gives other r-x by default, the destination's ---.
        let d_src = acl(&[(1, 7, U), (4, 5, U), (0x20, 5, U)]);
        let d_dst = acl(&[(1, 7, U), (4, 5, U), (0x20, 0, U)]);
        assert!(set(&src, "system.posix_acl_default", &d_src));
        assert!(set(&dst, "system.posix_acl_default", &d_dst));
        for p in [&src, &dst] {
            let tm = filetime::FileTime::from_unix_time(1_600_000_000, 0);
            filetime::set_file_times(p.join("f"), tm, tm).unwrap();
        }
    });
    let out = t.same(&["-rtiA", "--no-p", "-E", "src/", "dst/"]).p;
    out.expect(0, "-A --no-p -E");
    t.assert_trees("dst", Cmp::ALL.no_root());
    assert_same_attrs(&t, "dst");
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &str| {
        let m = std::fs::metadata(t.p.join("dst").join(p)).unwrap();
        m.permissions().mode() & 0o7777
    };
    assert_eq!(
        (mode("newdir"), mode("x"), mode("sd")),
        (0o750, 0o741, 0o740)
    );
    let f = all(&t.p.join("dst/f"));
    let access = &f
        .iter()
        .find(|(n, _)| n == b"system.posix_acl_access")
        .unwrap()
        .1;
    assert_eq!(
        *access,
        acl(&[(1, 6, U), (2, 6, 1), (4, 4, U), (0x10, 4, U), (0x20, 0, U)])
    );
}
