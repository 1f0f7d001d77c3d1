//! The man page and shell completions, generated from the flag table ([`super::defs::DEFS`]) so
//! they cannot drift from what the parser accepts. `tests/it` fails when the checked-in copies in
//! `man/` and `completions/` are stale; regenerate with `PARASYNC_UPDATE_DOCS=1 cargo test docs`.

use super::defs::{Arg, Support, DEFS};
use super::help::VERSION;

fn visible() -> impl Iterator<Item = &'static super::defs::Def> {
    DEFS.iter().filter(|d| {
        !matches!(
            d.long,
            "server" | "sender" | "local-server" | "source-operand"
        ) && d.support != Support::Daemon
    })
}

fn roff(s: &str) -> String {
    s.replace('\\', "\\e").replace('-', "\\-")
}

/// `man/parasync.1`.
pub fn man_page() -> String {
    let mut m = String::new();
    m.push_str(&format!(
        ".TH PARASYNC 1 \"\" \"parasync {VERSION}\" \"User Commands\"\n"
    ));
    m.push_str(".SH NAME\nparasync \\- a fast, rsync\\-compatible file synchronizer over SSH\n");
    m.push_str(".SH SYNOPSIS\n.B parasync\n[\\fIOPTION\\fR]... \\fISRC\\fR... [\\fIUSER\\fR@]\\fIHOST\\fR:\\fIDEST\\fR\n.br\n");
    m.push_str(".B parasync\n[\\fIOPTION\\fR]... [\\fIUSER\\fR@]\\fIHOST\\fR:\\fISRC\\fR... \\fIDEST\\fR\n.br\n");
    m.push_str(".B parasync\n[\\fIOPTION\\fR]... \\fISRC\\fR... \\fIDEST\\fR\n");
    m.push_str(".SH DESCRIPTION\nparasync is a drop\\-in replacement for \\fBrsync\\fR(1) over a remote shell: the same options, \
output and exit codes, with parallel content\\-defined delta engines, transfer\\-wide deduplication and \
in\\-place reconstruction that keeps backward matches. The remote side runs \\fBparasync \\-\\-server\\fR \
through the remote shell (default \\fBssh\\fR); \\fB\\-\\-rsync\\-path\\fR names the remote program (a plain \
\\fBrsync\\fR there is taken to mean the remote parasync).\n");
    m.push_str(".SH OPTIONS\n");
    for d in visible() {
        let mut head = if d.long.len() == 1 {
            format!("\\-{}", d.long)
        } else {
            format!("\\-\\-{}", roff(d.long))
        };
        if d.arg == Arg::Required {
            head.push_str(&format!("=\\fI{}\\fR", roff(d.meta)));
        }
        if let (Some(c), true) = (d.short, d.long.len() > 1) {
            head.push_str(&format!(", \\-{c}"));
        }
        let note = match d.support {
            Support::No => " (accepted for compatibility; refused with exit code 4)",
            Support::Ignored => " (accepted; has no effect)",
            _ => "",
        };
        m.push_str(&format!(".TP\n.B {head}\n{}{}\n", roff(d.help), note));
    }
    m.push_str(".SH ENGINES\nparasync (default), rsync, dsync, skysync\\-f, skysync\\-c (alias skysync), pdsync; see \\fB\\-\\-engine\\fR.\n");
    m.push_str(".SH EXIT STATUS\nAs rsync: 0 success, 1 syntax, 2 protocol incompatibility, 3 file selection, 4 unsupported, \
5 client\\-server start, 10 socket I/O, 11 file I/O, 12 protocol data stream, 14 IPC, 20 signal, \
23 partial transfer, 24 vanished source files, 25 \\-\\-max\\-delete limit, 30 timeout; 255 and 124\\-127 are \
passed through from the remote shell.\n");
    m.push_str(".SH SEE ALSO\n\\fBrsync\\fR(1), \\fBssh\\fR(1)\n");
    m
}

fn longs() -> Vec<String> {
    let mut v = Vec::new();
    for d in visible() {
        if d.long.len() > 1 {
            v.push(format!(
                "--{}{}",
                d.long,
                if d.arg == Arg::Required { "=" } else { "" }
            ));
            for a in d.aliases {
                v.push(format!(
                    "--{a}{}",
                    if d.arg == Arg::Required { "=" } else { "" }
                ));
            }
        }
    }
    v
}

/// `completions/parasync.bash`.
pub fn bash() -> String {
    let shorts: Vec<String> = visible()
        .filter_map(|d| d.short.map(|c| format!("-{c}")))
        .collect();
    format!(
        "# bash completion for parasync (generated from the flag table)\n\
         _parasync() {{\n    local cur=\"${{COMP_WORDS[COMP_CWORD]}}\"\n    \
         if [[ \"$cur\" == -* ]]; then\n        \
         COMPREPLY=( $(compgen -W \"{} {}\" -- \"$cur\") )\n        \
         [[ ${{#COMPREPLY[@]}} == 1 && ${{COMPREPLY[0]}} == *= ]] && compopt -o nospace\n    \
         else\n        COMPREPLY=( $(compgen -f -- \"$cur\") )\n    fi\n}}\ncomplete -o default -F _parasync parasync\n",
        longs().join(" "),
        shorts.join(" ")
    )
}

fn squote(s: &str) -> String {
    s.replace('\'', "'\\''")
}

/// `completions/_parasync` (zsh).
pub fn zsh() -> String {
    let mut s = String::from("#compdef parasync\n# zsh completion for parasync (generated from the flag table)\n_arguments -s \\\n");
    for d in visible() {
        let help = squote(
            &d.help
                .replace('[', "(")
                .replace(']', ")")
                .replace(':', "\\:"),
        );
        let val = if d.arg == Arg::Required {
            format!(
                ":{}:_files",
                d.meta.to_lowercase().replace(['|', ':', '[', ']'], "_")
            )
        } else {
            String::new()
        };
        if d.long.len() > 1 {
            let eq = if d.arg == Arg::Required { "=" } else { "" };
            s.push_str(&format!("  '--{}{eq}[{help}]{val}' \\\n", d.long));
        }
        if let Some(c) = d.short {
            s.push_str(&format!("  '-{c}[{help}]{val}' \\\n"));
        }
    }
    s.push_str("  '*:file:_files'\n");
    s
}

/// `completions/parasync.fish`.
pub fn fish() -> String {
    let mut s = String::from("# fish completion for parasync (generated from the flag table)\n");
    for d in visible() {
        let mut line = String::from("complete -c parasync");
        if d.long.len() > 1 {
            line.push_str(&format!(" -l {}", d.long));
        }
        if let Some(c) = d.short {
            line.push_str(&format!(" -s {c}"));
        }
        if d.arg == Arg::Required {
            line.push_str(" -r");
        }
        line.push_str(&format!(" -d '{}'\n", squote(d.help)));
        s.push_str(&line);
    }
    s
}

/// (relative path, content) of every generated file.
pub fn all() -> Vec<(&'static str, String)> {
    vec![
        ("man/parasync.1", man_page()),
        ("completions/parasync.bash", bash()),
        ("completions/_parasync", zsh()),
        ("completions/parasync.fish", fish()),
    ]
}
