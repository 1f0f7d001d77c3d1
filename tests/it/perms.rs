//! `--chmod` against rsync: the same rules give the same modes on files and directories.

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
    std::fs::set_permissions(s.join("d/run"), std::fs::Permissions::from_mode(0o744)).unwrap();
    for spec in ["u+x,g-r", "D700,F600", "go=", "a+X", "Fo-r,Dg+s", "640"] {
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
            modes.push([m("."), m("f"), m("d"), m("d/run")]);
        }
        assert_eq!(modes[0], modes[1], "--chmod={spec}: rsync vs parasync");
    }
}
