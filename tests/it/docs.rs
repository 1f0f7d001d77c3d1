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
