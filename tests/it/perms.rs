//! Modes against rsync: `--chmod` rules, and what items get without `-p`.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

#[test]
fn chmod_rules_match_rsync() {
    if !crate::util::installed("rsync") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let s = t.path().join("src");
    std::fs::create_dir_all(s.join("d")).unwrap();
    std::fs::write(s.join("f"), b"x").unwrap();
    std::fs::write(s.join("d/run"), b"y").unwrap();
    std::fs::create_dir_all(s.join("shared")).unwrap();
    std::fs::write(s.join("setid"), b"z").unwrap();
    let set = |p: &str, m: u32| {
        std::fs::set_permissions(s.join(p), std::fs::Permissions::from_mode(m)).unwrap()
    };
    set("d/run", 0o744);
    set("setid", 0o6755);
    set("shared", 0o3775);
    // rsync's own special-bit rules (chmod.c), where chmod(1) differs: `s` without u/g/a is
    // setuid, `a+s` both set-id bits, `=` keeps set-id and sticky bits unless `s` is named,
    // `t` whoever is named, D/F among the who letters.
    for spec in [
        "u+x,g-r",
        "D700,F600",
        "go=",
        "a+X",
        "Fo-r,Dg+s",
        "640",
        "+s",
        "o+s",
        "a+s",
        "-s",
        "o=s",
        "=",
        "a=X",
        "ug+t",
        "ug=t",
        "go=s",
        "uo=rs",
        "u=rwx,go=rx",
        "-rs",
        "uD+x",
        "a+X,a-x",
        "4755",
        "D3775,F=r",
    ] {
        let mut modes = Vec::new();
        for (prog, dst) in [("rsync", "r"), (env!("CARGO_BIN_EXE_parasync"), "p")] {
            let _ = std::fs::remove_dir_all(t.path().join(dst));
            let st = Command::new(prog)
                .args(["-a", &format!("--chmod={spec}"), "src/", &format!("{dst}/")])
                .current_dir(t.path())
                .status()
                .unwrap();
            assert!(st.success(), "{prog} {spec}");
            let m = |p: &str| {
                std::fs::metadata(t.path().join(dst).join(p))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o7777
            };
            modes.push([m("."), m("f"), m("d"), m("d/run"), m("setid"), m("shared")]);
        }
        assert_eq!(modes[0], modes[1], "--chmod={spec}: rsync vs parasync");
    }
}

/// Rules rsync refuses (one operator per rule, octal up to 07777, D and F exclusive) are usage
/// errors with rsync's message; rules it takes are taken.
#[test]
fn chmod_syntax_is_rsyncs() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("src")).unwrap();
    for (spec, ok) in [
        ("u+x-w", false),
        ("17777", false),
        ("DF+x", false),
        ("u644", false),
        ("u+x,", false),
        ("a+q", false),
        ("u", false),
        ("uD+x", true),
        ("DD+x", true),
        ("00000644", true),
        ("u+,g-", true),
        ("+", true),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_parasync"))
            .args(["-r", &format!("--chmod={spec}"), "src/", "dst/"])
            .current_dir(t.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if ok {
            assert!(out.status.success(), "--chmod={spec}: {err}");
        } else {
            assert_eq!(out.status.code(), Some(1), "--chmod={spec}");
            assert!(
                err.starts_with(&format!(
                    "rsync: Invalid argument passed to --chmod ({spec})\n"
                )),
                "{err}"
            );
        }
    }
}

/// Without `-p` a new directory loses the source's set-id and sticky bits (rsync dest_mode
/// masks with the default permissions) but keeps the set-group-id bit the kernel gives it in a
/// set-group-id directory (rsync.c set_file_attrs); an existing one keeps its mode.
#[test]
fn new_directories_without_p_take_rsyncs_special_bits() {
    use crate::util::*;
    let t = Twin::new(|w| {
        let mut s = Tree::new(&w.join("src"));
        s.dir("sgid").dir("sticky").dir("p/d").dir("old");
        s.mode("sgid", 0o2750)
            .mode("sticky", 0o1777)
            .mode("p", 0o755);
        s.mode("p/d", 0o4700).mode("old", 0o1755);
        s.finish();
        let mut d = Tree::new(&w.join("dst"));
        d.dir("p").mode("p", 0o2755).dir("old").mode("old", 0o2700);
        d.finish();
    });
    for args in [&["-rt", "src/", "dst/"][..], &["-rt", "-E", "src/", "dst/"]] {
        t.same(args).p.expect(0, "no -p");
        t.assert_trees("dst", Cmp::ALL.no_root());
    }
    let mode = |p: &str| {
        let m = std::fs::metadata(t.p.join("dst").join(p)).unwrap();
        m.permissions().mode() & 0o7777
    };
    assert_eq!(
        (mode("sgid"), mode("sticky"), mode("p/d"), mode("old")),
        (0o750, 0o755, 0o2700, 0o2700)
    );
}
