//! The man page and completions are generated from the flag table; fail when the checked-in copies
//! are stale (regenerate with `PARASYNC_UPDATE_DOCS=1 cargo test --test it docs`).

#[test]
fn docs_are_up_to_date() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let update = std::env::var_os("PARASYNC_UPDATE_DOCS").is_some();
    for (rel, want) in parasync::cli::doc::all() {
        let p = root.join(rel);
        if update {
            std::fs::write(&p, &want).unwrap();
        }
        let have = std::fs::read_to_string(&p).unwrap_or_default();
        assert!(have == want, "{rel} is out of date with the flag table; run PARASYNC_UPDATE_DOCS=1 cargo test --test it docs");
    }
}

#[test]
fn every_documented_option_parses() {
    // Each long option in the generated bash completion must be accepted by the lexer.
    for d in parasync::cli::defs::DEFS {
        if d.long.len() == 1 {
            continue;
        }
        let arg = match d.arg {
            parasync::cli::defs::Arg::None => format!("--{}", d.long),
            parasync::cli::defs::Arg::Required => format!("--{}=1", d.long),
        };
        let r = parasync::cli::lex::lex(std::slice::from_ref(&arg));
        assert!(r.is_ok(), "{arg} rejected by the lexer");
    }
}

#[test]
fn bash_completion_completes_long_options() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/completions/parasync.bash");
    let cmd = format!(
        "source {script}; COMP_WORDS=(parasync --eng); COMP_CWORD=1; _parasync; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &cmd])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "--engine=");
}

#[test]
fn man_page_renders() {
    let page = concat!(env!("CARGO_MANIFEST_DIR"), "/man/parasync.1");
    // groff is what `man -l` runs; without it (a minimal CI image) check the roff header instead.
    match std::process::Command::new("groff")
        .args(["-man", "-Tutf8", page])
        .output()
    {
        Ok(out) => {
            assert!(out.status.success());
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains("skysync") && text.contains("engine"),
                "{text}"
            );
        }
        Err(_) => {
            let src = std::fs::read_to_string(page).unwrap();
            assert!(src.starts_with(".TH PARASYNC 1"));
        }
    }
}

#[test]
fn info_and_debug_help_list_their_flags() {
    let run = |a: &str| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_parasync"))
            .arg(a)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, out, _) = run("--info=help");
    assert_eq!(code, Some(0));
    for f in ["PROGRESS", "NAME", "STATS", "ALL", "NONE"] {
        assert!(out.lines().any(|l| l.starts_with(f)), "{f} missing:\n{out}");
    }
    let (code, out, _) = run("--debug=help");
    assert_eq!(code, Some(0));
    assert!(out.lines().any(|l| l.starts_with("FILTER")), "{out}");
    // rsync: an unknown item is a usage error.
    let (code, _, err) = run("--debug=bogus");
    assert_eq!(code, Some(1));
    assert!(err.starts_with("Unknown --debug item: \"bogus\""), "{err}");
}
