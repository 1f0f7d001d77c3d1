//! Output masking for the rsync comparisons: only what legitimately differs is hidden — timings,
//! rates and the byte counts of parasync's own wire protocol (rsync-cli.md §4.2/§4.3), the
//! build-specific `at FILE(LINE) [ROLE=VERSION]` tail of `rsync error:` lines (§4.9), and the
//! extra `--stats` lines parasync prints after rsync's (issue 10).
#![allow(dead_code)]

/// Replace every whitespace-separated token that starts with a digit by `#`, keeping the spacing.
fn mask_numbers(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut tok = String::new();
    let flush = |tok: &mut String, out: &mut String| {
        if tok.starts_with(|c: char| c.is_ascii_digit()) {
            out.push('#');
        } else {
            out.push_str(tok);
        }
        tok.clear();
    };
    for c in s.chars() {
        if c == ' ' {
            flush(&mut tok, &mut out);
            out.push(c);
        } else {
            tok.push(c);
        }
    }
    flush(&mut tok, &mut out);
    out
}

/// Mask one line of rsync/parasync output (see the module docs for what is masked and why).
fn mask_line(line: &str) -> String {
    const NUMERIC: [&str; 5] = [
        "File list size: ",
        "File list generation time: ",
        "File list transfer time: ",
        "Total bytes sent: ",
        "Total bytes received: ",
    ];
    if NUMERIC.iter().any(|p| line.starts_with(p)) {
        return mask_numbers(line);
    }
    // "sent X bytes  received Y bytes  Z bytes/sec"
    if line.starts_with("sent ") && line.contains(" bytes/sec") {
        return mask_numbers(line);
    }
    // "total size is N  speedup is S": the speedup is total/(sent+received), so it follows the
    // protocol's byte counts; the total size itself must match.
    if let Some(i) = line.find("  speedup is ") {
        let (head, tail) = line.split_at(i);
        return format!("{head}{}", mask_numbers(tail));
    }
    // -vv's remote shell command: the server's options are each tool's own.
    if line.starts_with("opening connection using: ") {
        return "opening connection using: …".into();
    }
    // "rsync error: TEXT (code N) at FILE(LINE) [ROLE=VERSION]": FILE(LINE) and VERSION are build
    // specific; the text, code and role are compared.
    if line.starts_with("rsync error: ") || line.starts_with("rsync warning: ") {
        if let Some(i) = line.find(") at ") {
            let (head, tail) = line.split_at(i + 1);
            let role = tail
                .find('[')
                .and_then(|a| tail[a..].find('=').map(|b| &tail[a..a + b]));
            return format!("{head} at LOC {}=VER]", role.unwrap_or("["));
        }
    }
    line.to_string()
}

/// parasync's own `--stats` lines, printed after rsync's when non-empty (issue 10: a parser of
/// rsync's lines keeps working); they have no rsync counterpart and are left out of comparisons.
const OWN_STATS: [&str; 5] = [
    "Delta engine: ",
    "Engine messages: ",
    "Engine phases ",
    "Deduplicated data: ",
    "In-place: ",
];

/// Mask timing, rate and protocol byte-count figures in a whole output.
pub fn mask(s: &str) -> String {
    let mut out: String = s
        .split('\n')
        .filter(|l| !OWN_STATS.iter().any(|p| l.starts_with(p)))
        .map(mask_line)
        .collect::<Vec<_>>()
        .join("\n");
    if !s.ends_with('\n') && out.ends_with('\n') {
        out.pop();
    }
    out
}

/// Additionally mask the `Literal data`/`Matched data` figures, which depend on the delta engine's
/// block boundaries; only for comparisons of delta transfers where the engines legitimately differ.
/// [`mask`], with the lines in order. rsync's generator notes ("not creating new …", "IO error
/// encountered …") and its sender's item lines reach the output through different pipes, and
/// where one falls among the others varies from run to run of rsync itself (see
/// output_order.rs for the orders that are fixed).
pub fn mask_sorted(s: &str) -> String {
    let mut l: Vec<String> = mask(s).lines().map(String::from).collect();
    l.sort();
    l.join("\n")
}

pub fn mask_delta(s: &str) -> String {
    mask(s)
        .split('\n')
        .map(|l| {
            if l.starts_with("Literal data: ") || l.starts_with("Matched data: ") {
                mask_numbers(l)
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Remove what the remote login shell's startup files print on a developer machine (a pyenv
/// rehash racing between concurrent ssh sessions); CI machines print nothing of the kind.
pub fn drop_shell_noise(s: &str) -> String {
    s.split_inclusive('\n')
        .filter(|l| !(l.starts_with("pyenv: ") || l.contains("/.pyenv/")))
        .collect()
}

/// Split out the lines starting with `prefix` (sorted) from the rest: for messages whose position
/// relative to the item lines is a race in rsync itself (its generator and sender print
/// independently), such as "skipping non-regular file".
pub fn split_lines(s: &str, prefix: &str) -> (Vec<String>, String) {
    let (mut picked, mut rest) = (Vec::new(), String::new());
    for l in s.split_inclusive('\n') {
        if l.starts_with(prefix) {
            picked.push(l.to_string());
        } else {
            rest.push_str(l);
        }
    }
    picked.sort();
    (picked, rest)
}

/// Line-by-line difference, for failure messages.
pub fn diff(a: &str, b: &str) -> String {
    let (la, lb): (Vec<_>, Vec<_>) = (a.lines().collect(), b.lines().collect());
    let mut s = String::new();
    for i in 0..la.len().max(lb.len()) {
        let (x, y) = (la.get(i).copied(), lb.get(i).copied());
        if x != y {
            s += &format!(
                "line {}:\n  rsync:    {:?}\n  parasync: {:?}\n",
                i + 1,
                x,
                y
            );
        }
    }
    s
}

#[test]
fn masker_masks_only_figures() {
    let a = "sent 1,234 bytes  received 56 bytes  2,580.00 bytes/sec\ntotal size is 9  speedup is 0.01\n";
    let b = "sent 99 bytes  received 7 bytes  212.00 bytes/sec\ntotal size is 9  speedup is 0.08\n";
    assert_eq!(mask(a), mask(b));
    assert_ne!(
        mask("total size is 9  speedup is 1.00"),
        mask("total size is 8  speedup is 1.00")
    );
    assert_eq!(
        mask("File list size: 0\nFile list generation time: 0.001 seconds"),
        mask("File list size: 161\nFile list generation time: 0.000 seconds")
    );
    assert_ne!(mask("Literal data: 5 bytes"), mask("Literal data: 6 bytes"));
    assert_eq!(
        mask_delta("Literal data: 5 bytes"),
        mask_delta("Literal data: 6 bytes")
    );
    assert_eq!(
        mask("rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.5.0]"),
        mask("rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1) [sender=0.1.0]")
    );
    assert_ne!(
        mask("rsync error: x (code 23) at main.c(1) [sender=1]"),
        mask("rsync error: x (code 23) at main.c(1) [client=1]")
    );
    assert_ne!(mask("a.txt"), mask("b.txt"));
}
