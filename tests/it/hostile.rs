//! A hostile remote. The rsh wrapper (`-e`) ignores the command it is asked to run and replays a
//! byte stream built here with the crate's own wire encoders: a well-formed handshake followed by
//! malicious frames — names with `..`, absolute names, a symlink out of the destination followed
//! by writes and deletions through it, huge length fields, wrong digests, an early EOF. rsync's
//! CVE-2024-12087/12088 class of attacks is the model. Every case must be refused with a clear
//! message and an error exit, leave the tree outside the destination untouched, leave no temp
//! file, and stay within a small memory budget.

use crate::fault_kit::{args, hello, parasync_rss, snapshot, temp_files, Out, Tree};
use parasync::engine::Op;
use parasync::flist::entry::{Entry, Extra, F_TOP_DIR, S_IFDIR, S_IFLNK, S_IFREG};
use parasync::wire::codec::put_uv;
use parasync::wire::msg::{Compress, Msg};

const OLD: &[u8] = b"old content\n";
/// Peak RSS allowed for the client, KiB.
const RSS_LIMIT_KB: i64 = 200 << 10;

fn frame(tag: u8, payload: &[u8]) -> Vec<u8> {
    let mut b = vec![tag];
    put_uv(&mut b, payload.len() as u64);
    b.extend_from_slice(payload);
    b
}

fn stream(msgs: &[Msg]) -> Vec<u8> {
    let mut b = hello();
    for m in msgs {
        let (t, p) = m.encode(Compress::None);
        b.extend(frame(t, &p));
    }
    b
}

fn ent(name: &str, mode: u32, size: u64) -> Entry {
    Entry {
        name: name.as_bytes().to_vec().into(),
        mode,
        size,
        mtime: 1_700_000_000,
        ..Default::default()
    }
}
fn root() -> Entry {
    Entry {
        flags: F_TOP_DIR,
        ..ent(".", S_IFDIR | 0o755, 0)
    }
}
fn file(name: &str, size: u64) -> Entry {
    ent(name, S_IFREG | 0o644, size)
}
fn link(name: &str, to: &str) -> Entry {
    ent(name, S_IFLNK | 0o777, to.len() as u64).with(Extra {
        link: Some(to.as_bytes().to_vec()),
        ..Default::default()
    })
}
fn top(entries: Vec<Entry>) -> Msg {
    Msg::Segment {
        parent: u32::MAX,
        entries,
    }
}
fn seg(parent: u32, entries: Vec<Entry>) -> Msg {
    Msg::Segment { parent, entries }
}
fn lit(idx: u32, data: &[u8]) -> Msg {
    Msg::Ops {
        idx,
        ops: vec![Op::Literal {
            dst: 0,
            data: data.to_vec(),
        }],
    }
}
fn end(idx: u32, digest: [u8; 32]) -> Msg {
    Msg::FileEnd {
        idx,
        digest,
        literal: 0,
        matched: 0,
    }
}
fn flist_end() -> Msg {
    Msg::FlistEnd { io_error: false }
}
fn bye() -> Msg {
    Msg::Goodbye(Box::default())
}

/// Run one case: the peer replays `bytes`; `push` makes the peer the receiver.
fn run_case(name: &str, bytes: Vec<u8>, push: bool, extra: &[&str]) -> (Out, Tree) {
    let t = Tree::new();
    t.write("dst/f", OLD);
    t.write("src/f", OLD);
    t.write("outside/victim", b"precious\n");
    t.write("outside/d/keep", b"keep me\n");
    std::fs::write(t.path("stream.bin"), &bytes).unwrap();
    // Drain what the client sends (so it never sees EPIPE), replay the stream, close.
    let rsh = t.script(
        "evil-rsh",
        &format!(
            "exec 3<&0\ncat <&3 >/dev/null 3<&- &\nexec cat '{}' 3<&-",
            t.path("stream.bin").display()
        ),
    );
    let before = snapshot(&t.path("outside"));
    let mut a = args(&["-r", "-e"]);
    a.push(rsh.display().to_string());
    a.extend(extra.iter().map(|s| s.to_string()));
    if push {
        a.extend(args(&["src/", "h:dst/"]));
    } else {
        a.extend(args(&["h:src/", "dst/"]));
    }
    let out = parasync_rss(&t.root, &a);
    assert_eq!(
        snapshot(&t.path("outside")),
        before,
        "{name}: outside changed"
    );
    assert!(!out.stderr.contains("panicked"), "{name}: {}", out.stderr);
    assert!(
        temp_files(&t.path("dst")).is_empty(),
        "{name}: temp files left"
    );
    assert!(
        out.maxrss_kb < RSS_LIMIT_KB,
        "{name}: peak RSS {} KiB",
        out.maxrss_kb
    );
    assert_ne!(out.code, 0, "{name}: a hostile stream was accepted");
    eprintln!(
        "hostile case {name:?}: exit {}, peak RSS {} KiB",
        out.code, out.maxrss_kb
    );
    (out, t)
}

fn expect(name: &str, bytes: Vec<u8>, code: i32, text: &str) -> Tree {
    let (out, t) = run_case(name, bytes, false, &[]);
    assert_eq!(out.code, code, "{name}: {}", out.stderr);
    assert!(out.stderr.contains(text), "{name}: {}", out.stderr);
    assert_eq!(std::fs::read(t.path("dst/f")).unwrap(), OLD, "{name}");
    t
}

#[test]
fn unsafe_names_are_refused() {
    for bad in [
        "../escape",
        "/tmp/parasync-abs-escape",
        "a/../../escape",
        "x/./y",
        "a//b",
    ] {
        expect(
            bad,
            stream(&[top(vec![root()]), seg(0, vec![file(bad, 5)]), flist_end()]),
            12,
            "unsafe file name",
        );
    }
    assert!(!std::path::Path::new("/tmp/parasync-abs-escape").exists());
}

#[test]
fn no_write_through_a_symlink_sent_earlier() {
    let data = b"PWNED";
    // dst/l -> ../outside is the case's own "outside" directory.
    for target in ["../outside", "../outside/."] {
        let s = stream(&[
            top(vec![root()]),
            seg(
                0,
                vec![link("l", target), file("l/victim", 5), file("l/new", 5)],
            ),
            flist_end(),
            lit(2, data),
            end(2, *blake3::hash(data).as_bytes()),
            lit(3, data),
            end(3, *blake3::hash(data).as_bytes()),
            bye(),
        ]);
        // -l: without it the receiver does not create the link at all (rsync skips it).
        let (out, _t) = run_case(target, s, false, &["-l"]);
        assert!(out.stderr.contains("through the symlink"), "{}", out.stderr);
    }
}

#[test]
fn no_delete_through_a_symlink_sent_earlier() {
    let mut d = ent("l/d", S_IFDIR | 0o755, 0);
    d.flags = F_TOP_DIR;
    let s = stream(&[
        top(vec![root()]),
        seg(0, vec![link("l", "../outside"), d]),
        seg(2, vec![]),
        flist_end(),
        bye(),
    ]);
    let (out, _t) = run_case("delete", s, false, &["--delete", "-l"]);
    assert!(out.stderr.contains("through the symlink"), "{}", out.stderr);
}

#[test]
fn huge_lengths_are_refused_without_allocating() {
    let mut b = hello();
    b.push(2);
    put_uv(&mut b, 1 << 40);
    expect("frame length", b, 12, "exceeds the limit");

    // A segment claiming 2^62 entries in a few bytes.
    let mut p = Vec::new();
    put_uv(&mut p, u32::MAX as u64);
    put_uv(&mut p, 1 << 62);
    let mut b = hello();
    b.extend(frame(2, &p));
    expect("entry count", b, 12, "truncated");

    // An op list claiming 2^62 ops.
    let mut s = stream(&[top(vec![root()]), seg(0, vec![file("f", 5)]), flist_end()]);
    let mut p = Vec::new();
    put_uv(&mut p, 1);
    put_uv(&mut p, 1 << 62);
    s.extend(frame(6, &p));
    expect("op count", s, 12, "truncated");

    // A literal written past the announced size.
    let s = stream(&[
        top(vec![root()]),
        seg(0, vec![file("f", 5)]),
        flist_end(),
        Msg::Ops {
            idx: 1,
            ops: vec![Op::Literal {
                dst: u64::MAX - 2,
                data: b"12345".to_vec(),
            }],
        },
    ]);
    expect("op offset", s, 12, "beyond the end");
}

#[test]
fn wrong_digest_is_never_written() {
    let s = stream(&[
        top(vec![root()]),
        seg(0, vec![file("f", 5)]),
        flist_end(),
        lit(1, b"EVIL!"),
        end(1, [7; 32]),
        lit(1, b"EVIL!"),
        end(1, [7; 32]),
        bye(),
    ]);
    expect("digest", s, 23, "failed verification -- update discarded.");
}

#[test]
fn early_eof_keeps_the_old_file() {
    let mut s = stream(&[
        top(vec![root()]),
        seg(0, vec![file("f", 100_000)]),
        flist_end(),
        lit(1, &[b'x'; 100_000]),
    ]);
    s.truncate(s.len() - 50_000);
    expect("eof", s, 12, "connection unexpectedly closed");
}

#[test]
fn protocol_violations_are_refused() {
    let cases: Vec<(&str, Vec<Msg>, &str)> = vec![
        (
            "unrequested data",
            vec![
                top(vec![root()]),
                seg(0, vec![file("f", 5)]),
                flist_end(),
                lit(7, b"x"),
            ],
            "not requested",
        ),
        (
            "unknown parent",
            vec![top(vec![root()]), seg(9, vec![file("f", 1)])],
            "unknown directory",
        ),
        (
            "parent not a dir",
            vec![
                top(vec![root()]),
                seg(0, vec![file("f", 1)]),
                seg(1, vec![]),
            ],
            "not a directory",
        ),
    ];
    for (name, msgs, text) in cases {
        expect(name, stream(&msgs), 12, text);
    }
    expect(
        "garbage greeting",
        b"Welcome to my shell!\n".to_vec(),
        2,
        "is your shell clean?",
    );
}

#[test]
fn peer_fatal_with_code_zero_is_still_an_error() {
    let s = stream(&[Msg::Fatal {
        code: 0,
        text: b"bye".to_vec(),
    }]);
    let (out, _t) = run_case("fatal 0", s, false, &[]);
    assert_ne!(out.code, 0);
}

#[test]
fn hostile_receiver_cannot_crash_the_sender() {
    let cases: Vec<(&str, Vec<Msg>)> = vec![
        (
            "request out of range",
            vec![Msg::Request {
                idx: 999_999,
                delta: false,
                engine: 0,
                plain: false,
            }],
        ),
        (
            "engine data for nothing",
            vec![Msg::Engine {
                idx: 3,
                data: vec![1, 2, 3],
            }],
        ),
        (
            "delta request with garbage",
            vec![
                Msg::Request {
                    idx: 1,
                    delta: true,
                    engine: 250,
                    plain: false,
                },
                Msg::Engine {
                    idx: 1,
                    data: vec![0xff; 64],
                },
            ],
        ),
    ];
    for (name, msgs) in cases {
        let (out, _t) = run_case(name, stream(&msgs), true, &[]);
        assert!(
            out.code == 12 || out.code == 2 || out.code == 23,
            "{name}: exit {} {}",
            out.code,
            out.stderr
        );
    }
}
