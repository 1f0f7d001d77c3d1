//! `--fake-super` against the installed rsync (rsync xattrs.c, syscall.c): the receiving side
//! stores owner, group, set-id bits and device numbers in `user.rsync.%stat` and makes symlinks,
//! devices and specials as regular files; a sending side with the option reads such a tree back
//! as it was. Same trees, same stored attributes (byte for byte, rsync's format) and same item
//! lines, locally, for a re-run after an owner change, and for a restore over ssh into a real
//! tree. Needs root (owners, a device node) and user xattrs on the temp file system.

use crate::util::*;
use crate::xattrs::{acl, assert_same_attrs, set, supported, U};
use std::path::Path;

fn privileged_tree(w: &Path) {
    use std::os::unix::fs::{chown, symlink, PermissionsExt};
    let src = w.join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("setuid"), b"s").unwrap();
    chown(src.join("setuid"), Some(1234), Some(4321)).unwrap();
    std::fs::set_permissions(src.join("setuid"), PermissionsExt::from_mode(0o4755)).unwrap();
    std::fs::write(src.join("plain"), b"p").unwrap();
    symlink("../elsewhere", src.join("link")).unwrap();
    let node = |name: &str, mode: u32, dev| {
        let c = std::ffi::CString::new(src.join(name).as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mknod(c.as_ptr(), mode, dev) }, 0);
    };
    node("null", libc::S_IFCHR | 0o644, libc::makedev(1, 3));
    node("fifo", libc::S_IFIFO | 0o600, 0);
    chown(src.join("d"), Some(1), Some(1)).unwrap();
    std::fs::set_permissions(src.join("d"), PermissionsExt::from_mode(0o1777)).unwrap();
    let t = filetime::FileTime::from_unix_time(1_600_000_000, 0);
    for p in ["setuid", "plain", "link", "null", "fifo", "d", ""] {
        filetime::set_symlink_file_times(src.join(p), t, t).unwrap();
    }
}

#[test]
fn fake_super_matches_rsync() {
    if !supported() || !is_root() {
        return;
    }
    let s = crate::need_sshd!();
    let t = Twin::new(privileged_tree);
    let out = t.same(&["-ai", "--fake-super", "src/", "fake/"]).p;
    out.expect(0, "--fake-super");
    assert!(out.stdout.contains("cD+++++++++ null\n"), "{}", out.stdout);
    t.assert_trees("fake", Cmp::ALL.no_root());
    assert_same_attrs(&t, "fake");
    // What is stored, and where: the real items are plain files owned by this side.
    let link = t.p.join("fake/link");
    assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
    assert_eq!(std::fs::read(&link).unwrap(), b"../elsewhere");
    // Nothing to do; then an owner change is itemized from the stored owner.
    assert!(t
        .same(&["-ai", "--fake-super", "src/", "fake/"])
        .p
        .stdout
        .is_empty());
    for ws in [&t.r, &t.p] {
        std::os::unix::fs::chown(ws.join("src/plain"), Some(2), Some(2)).unwrap();
    }
    let out = t.same(&["-ai", "--fake-super", "src/", "fake/"]).p;
    assert_eq!(out.stdout, ".f....og... plain\n");
    assert_same_attrs(&t, "fake");
    // A snapshot of it: --link-dest finds every stored item unchanged and links it (symlinks,
    // devices and specials included), as it does for real devices and specials.
    for (dst, args) in [
        (
            "snap",
            &[
                "-ai",
                "--fake-super",
                "--link-dest=../fake",
                "src/",
                "snap/",
            ][..],
        ),
        ("linked", &["-ai", "--link-dest=../src", "src/", "linked/"]),
    ] {
        let out = t.same(args).p;
        assert_eq!(out.stdout, format!("created directory {dst}\n"));
        use std::os::unix::fs::MetadataExt;
        for name in ["setuid", "link", "null", "fifo"] {
            let m = std::fs::symlink_metadata(t.p.join(dst).join(name)).unwrap();
            assert!(m.nlink() >= 2, "{dst}/{name} is not linked");
        }
    }
    // A restore: the sending side reads the stored attributes back, the receiver is real.
    t.over_ssh(
        s,
        &["-ai", "--fake-super", "fake/", "127.0.0.1:{WS}/restored/"],
    )
    .assert_same("restore");
    t.assert_trees("restored", Cmp::ALL.no_root());
    let m = std::fs::symlink_metadata(t.p.join("restored/null")).unwrap();
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    assert!(m.file_type().is_char_device() && m.rdev() == libc::makedev(1, 3));
    // The remote side can be the fake one too (-M).
    t.over_ssh(
        s,
        &["-ai", "-M--fake-super", "src/", "127.0.0.1:{WS}/remote/"],
    )
    .assert_same("-M--fake-super");
    t.assert_trees("remote", Cmp::ALL.no_root());
    assert_same_attrs(&t, "remote");
}

/// `-A` with `--fake-super`: a fake receiver keeps ACLs as rsync's `user.rsync.%aacl` / `%dacl`
/// records (byte for byte), a fake sender gives them back, and a restore into a real tree has
/// the original ACLs. (Locally both sides are fake and rsync's sender reads records the source
/// does not have: ACLs are lost there, by both tools alike.)
#[test]
fn fake_super_keeps_acls_as_rsync() {
    if !supported() || !is_root() {
        return;
    }
    let s = crate::need_sshd!();
    let t = Twin::new(|w| {
        privileged_tree(w);
        let src = w.join("src");
        let ext = acl(&[
            (1, 6, U),
            (2, 4, 1),
            (4, 4, U),
            (8, 6, 2),
            (0x10, 6, U),
            (0x20, 4, U),
        ]);
        assert!(set(&src.join("plain"), "system.posix_acl_access", &ext));
        let masked = acl(&[(1, 6, U), (2, 7, 1), (4, 4, U), (0x10, 4, U), (0x20, 4, U)]);
        assert!(set(&src.join("setuid"), "system.posix_acl_access", &masked));
        let dflt = acl(&[(1, 7, U), (2, 5, 1), (4, 5, U), (0x10, 5, U), (0x20, 5, U)]);
        assert!(set(&src.join("d"), "system.posix_acl_default", &dflt));
    });
    let ssh = |args: &[&str], what: &str| {
        t.over_ssh(s, args).assert_same(what);
    };
    ssh(
        &["-aAi", "-M--fake-super", "src/", "127.0.0.1:{WS}/kept/"],
        "keep",
    );
    t.assert_trees("kept", Cmp::ALL.no_root());
    assert_same_attrs(&t, "kept");
    assert!(crate::xattrs::all(&t.p.join("kept/plain"))
        .iter()
        .any(|(n, _)| n == b"user.rsync.%aacl"));
    // Nothing to do on a second run.
    let again = t.over_ssh(
        s,
        &["-aAi", "-M--fake-super", "src/", "127.0.0.1:{WS}/kept/"],
    );
    assert!(again.p.stdout.is_empty(), "{}", again.p.stdout);
    ssh(
        &["-aAi", "--fake-super", "kept/", "127.0.0.1:{WS}/back/"],
        "restore",
    );
    t.assert_trees("back", Cmp::ALL.no_root());
    assert_same_attrs(&t, "back");
    for f in ["plain", "setuid", "d"] {
        assert_eq!(
            crate::xattrs::all(&t.p.join("back").join(f)),
            crate::xattrs::all(&t.p.join("src").join(f)),
            "{f}"
        );
    }
    t.same(&["-aAi", "--fake-super", "src/", "local/"]);
    assert_same_attrs(&t, "local");
}

/// `-X` with `--fake-super` as root: an attribute a fake receiver may not set (`trusted.*`) is
/// kept as `user.rsync.trusted.*`, as rsync keeps it, and a fake sender gives it back.
#[test]
fn fake_super_keeps_other_namespaces_as_rsync() {
    if !supported() || !is_root() {
        return;
    }
    let s = crate::need_sshd!();
    let t = Twin::new(|w| {
        privileged_tree(w);
        let f = w.join("src/plain");
        assert!(set(&f, "trusted.t", b"1"));
        assert!(set(&f, "user.u", b"2"));
    });
    t.same(&["-aXi", "--fake-super", "src/", "kept/"])
        .p
        .expect(0, "-X");
    assert_same_attrs(&t, "kept");
    let names: Vec<Vec<u8>> = crate::xattrs::all(&t.p.join("kept/plain"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(
        names.contains(&b"user.rsync.trusted.t".to_vec()),
        "{names:?}"
    );
    t.over_ssh(
        s,
        &["-aXi", "--fake-super", "kept/", "127.0.0.1:{WS}/back/"],
    )
    .assert_same("restore");
    assert_same_attrs(&t, "back");
    assert_eq!(
        crate::xattrs::all(&t.p.join("back/plain")),
        crate::xattrs::all(&t.p.join("src/plain"))
    );
}

#[test]
fn the_last_of_super_no_super_and_fake_super_wins() {
    // options.c: all three set am_root, so `--fake-super --no-super` is a plain copy and
    // `--fake-super --super` a real one (the owner is set, nothing is stored).
    if !supported() || !is_root() {
        return;
    }
    for order in [
        &["--fake-super", "--no-super"][..],
        &["--fake-super", "--super"],
        &["--no-super", "--fake-super"],
        &["--super", "--fake-super"],
    ] {
        let t = Twin::new(privileged_tree);
        let mut a = vec!["-ai", "--chown=2:2"];
        a.extend_from_slice(order);
        a.extend(["src/", "dst/"]);
        t.same(&a);
        t.assert_trees("dst", Cmp::ALL.no_root());
        assert_same_attrs(&t, "dst");
    }
}

/// A record that cannot be stored (a real fifo in the destination holds no user xattrs): rsync
/// says "failed to write xattr user.rsync.%stat for …" (xattrs.c set_stat_xattr) from the
/// process that set the item's attributes, sets the rest, and exits 23.
#[test]
fn an_unwritable_record_is_reported_as_rsync() {
    if !supported() || !is_root() {
        return;
    }
    let t = Twin::new(|w| {
        for top in ["src", "dst"] {
            std::fs::create_dir_all(w.join(top)).unwrap();
            mkfifo(&w.join(top).join("fifo"), 0o644);
            let t = filetime::FileTime::from_unix_time(1_600_000_000, 0);
            filetime::set_symlink_file_times(w.join(top).join("fifo"), t, t).unwrap();
        }
    });
    let p = t.same(&["-a", "--fake-super", "--chown=daemon", "src/", "dst/"]);
    p.p.expect(23, "unwritable record");
    assert!(
        p.p.stderr
            .contains("failed to write xattr user.rsync.%stat for"),
        "{}",
        p.p
    );
}

/// An up-to-date file already at the destination as a real set-uid file: rsync's
/// set_file_attrs stores the record of every item it looks at, so the file gets its safe mode
/// (no set-id bits) and a record of the wanted one, though nothing is itemized.
#[test]
fn an_unchanged_set_id_file_gets_its_record() {
    if !supported() || !is_root() {
        return;
    }
    let t = Twin::new(|w| {
        for side in ["src", "fake"] {
            let mut s = Tree::new(&w.join(side));
            s.file("setuid", b"s").mode("setuid", 0o4755);
            s.file("plain", b"p").mode("plain", 0o644);
            s.finish();
        }
    });
    let out = t.same(&["-rti", "--fake-super", "src/", "fake/"]).p;
    assert_eq!(out.stdout, "");
    t.assert_trees("fake", Cmp::ALL.no_root());
    assert_same_attrs(&t, "fake");
    use std::os::unix::fs::PermissionsExt;
    let m = std::fs::metadata(t.p.join("fake/setuid")).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o755);
    let stored = crate::xattrs::all(&t.p.join("fake/setuid"));
    assert_eq!(
        stored,
        vec![(b"user.rsync.%stat".to_vec(), b"104755 0,0 0:0".to_vec())]
    );
}
