//! Property-driven fuzzing of every decoder that sees untrusted bytes: the frame reader, the
//! handshake, each message type (`Msg::decode`), the file-list entry decoder, the filter list, and
//! the argument parser (`cli::lex` + `Options::parse`). The wire module promises totality
//! (src/wire/mod.rs): malformed input yields an error, never a panic, and no allocation grows
//! beyond what one frame may carry. A tracking global allocator checks the second half: while a
//! fuzz case runs on this thread, no single allocation may exceed `MAX_FRAME` plus slack.
//!
//! Case count: `PARASYNC_FUZZ_CASES` (default 256 for CI; the 1,000,000-input runs are done with
//! `PARASYNC_FUZZ_CASES=1000000 cargo test --release --test it fuzz`).

use parasync::cli::defs::{Arg, DEFS};
use parasync::engine::Op;
use parasync::flist::entry::{check_name, Entry, Extra};
use parasync::wire::codec::Cur;
use parasync::wire::msg::{Compress, Msg, Stats};
use parasync::wire::{handshake, Caps, FrameReader, FrameWriter, MAX_FRAME};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Cursor;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Largest allocation a decoder may make for one input.
const ALLOC_LIMIT: usize = MAX_FRAME + (1 << 20);

struct Tracking;

thread_local! {
    static TRACK: Cell<bool> = const { Cell::new(false) };
    static BIGGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = TRACK.try_with(|t| {
        if t.get() {
            let _ = BIGGEST.try_with(|b| b.set(b.get().max(size)));
        }
    });
}

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note(l.size());
        System.alloc(l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note(l.size());
        System.alloc_zeroed(l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        note(n);
        System.realloc(p, l, n)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
}

#[global_allocator]
static ALLOC: Tracking = Tracking;

/// Run `f` with allocation tracking on; fail the case if it allocated too much at once.
fn bounded<T>(f: impl FnOnce() -> T) -> std::result::Result<T, TestCaseError> {
    BIGGEST.with(|b| b.set(0));
    TRACK.with(|t| t.set(true));
    let r = f();
    TRACK.with(|t| t.set(false));
    let big = BIGGEST.with(|b| b.get());
    prop_assert!(big <= ALLOC_LIMIT, "a single allocation of {big} bytes");
    Ok(r)
}

fn cases() -> u32 {
    std::env::var("PARASYNC_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn run<S: Strategy>(
    name: &str,
    s: S,
    f: impl Fn(S::Value) -> std::result::Result<(), TestCaseError>,
) {
    let n = cases();
    let mut r = TestRunner::new(Config {
        cases: n,
        failure_persistence: None,
        ..Config::default()
    });
    let t = std::time::Instant::now();
    r.run(&s, f).unwrap();
    eprintln!("fuzz {name}: {n} inputs in {:.1?}", t.elapsed());
}

fn reader(b: Vec<u8>) -> FrameReader {
    FrameReader::new(Box::new(Cursor::new(b)), Arc::new(AtomicU64::new(0)))
}

/// Valid encodings of every message type, the seeds that mutations start from.
fn seeds() -> Vec<(u8, Vec<u8>)> {
    let entry = Entry {
        name: b"d/f".to_vec().into(),
        mode: 0o100644,
        size: 10,
        user: Some(parasync::flist::entry::OwnerName::new(b"u")),
        ..Default::default()
    }
    .with(Extra {
        sum: Some([1; 32]),
        ..Default::default()
    });
    let link = Entry {
        name: b"l".to_vec().into(),
        mode: 0o120777,
        ..Default::default()
    }
    .with(Extra {
        link: Some(b"../x".to_vec()),
        ..Default::default()
    });
    let ops = vec![
        Op::Copy {
            dst: 0,
            src: 3,
            len: 4,
        },
        Op::Literal {
            dst: 4,
            data: b"hello hello hello hello".to_vec(),
        },
        Op::CopyFrom {
            dst: 9,
            file: 1,
            src: 0,
            len: 2,
        },
    ];
    let msgs = vec![
        Msg::Filters(b"- *.o".to_vec()),
        Msg::Segment {
            parent: u32::MAX,
            entries: vec![entry, link],
        },
        Msg::FlistEnd { io_error: false },
        Msg::Request {
            idx: 1,
            delta: true,
            engine: 0,
            plain: false,
        },
        Msg::Engine {
            idx: 1,
            data: vec![1, 2, 3],
        },
        Msg::Ops {
            idx: 1,
            ops: ops.clone(),
        },
        Msg::FileEnd {
            idx: 1,
            digest: [2; 32],
            literal: 5,
            matched: 6,
        },
        Msg::FileFailed {
            idx: 1,
            vanished: true,
        },
        Msg::Ack { idx: 1 },
        Msg::Log {
            level: 1,
            text: b"x".to_vec(),
        },
        Msg::Done(Box::new(Stats {
            num_files: 3,
            ..Default::default()
        })),
        Msg::Goodbye(Box::default()),
        Msg::Fatal {
            code: 11,
            text: b"y".to_vec(),
        },
    ];
    let mut out: Vec<(u8, Vec<u8>)> = msgs.iter().map(|m| m.encode(Compress::None)).collect();
    for c in [Compress::Zstd(1), Compress::Lz4] {
        out.push(
            Msg::Ops {
                idx: 2,
                ops: ops.clone(),
            }
            .encode(c),
        );
    }
    out
}

/// A seed with random byte edits (overwrite, insert, delete, truncate).
fn mutated() -> impl Strategy<Value = (u8, Vec<u8>)> {
    let s = seeds();
    (
        0..s.len(),
        proptest::collection::vec((any::<u16>(), any::<u8>(), 0u8..4), 0..6),
        any::<u16>(),
    )
        .prop_map(move |(i, edits, cut)| {
            let (tag, mut p) = s[i].clone();
            for (pos, byte, kind) in edits {
                let at = pos as usize % (p.len() + 1);
                match kind {
                    0 if at < p.len() => p[at] = byte,
                    1 => p.insert(at, byte),
                    2 if at < p.len() => {
                        p.remove(at);
                    }
                    _ => {}
                }
            }
            if cut % 5 == 0 {
                p.truncate(cut as usize % (p.len() + 1));
            }
            (tag, p)
        })
}

fn check_msg(m: &Msg) -> std::result::Result<(), TestCaseError> {
    if let Msg::Segment { entries, .. } = m {
        for e in entries {
            prop_assert!(check_name(&e.name).is_ok(), "unsafe name accepted");
        }
    }
    Ok(())
}

#[test]
fn fuzz_msg_decode_arbitrary() {
    run(
        "Msg::decode(arbitrary)",
        (0u8..20, proptest::collection::vec(any::<u8>(), 0..300)),
        |(tag, p)| {
            if let Ok(m) = bounded(|| Msg::decode(tag, &p))? {
                check_msg(&m)?;
            }
            Ok(())
        },
    );
}

#[test]
fn fuzz_msg_decode_mutated() {
    run("Msg::decode(mutated)", mutated(), |(tag, p)| {
        if let Ok(m) = bounded(|| Msg::decode(tag, &p))? {
            check_msg(&m)?;
            // What decodes must re-encode to something that decodes to the same message.
            let (t2, p2) = m.encode(Compress::None);
            prop_assert_eq!(Msg::decode(t2, &p2).ok(), Some(m));
        }
        Ok(())
    });
}

#[test]
fn fuzz_frame_reader() {
    run(
        "FrameReader",
        proptest::collection::vec(any::<u8>(), 0..400),
        |b| {
            bounded(|| {
                let mut r = reader(b);
                for _ in 0..1000 {
                    match r.frame() {
                        Ok(Some((tag, p))) => {
                            let _ = Msg::decode(tag, p);
                        }
                        _ => break,
                    }
                }
            })
        },
    );
}

#[test]
fn fuzz_frame_reader_huge_lengths() {
    // A length varint of any size followed by a little data: refused or read, never allocated
    // beyond the frame limit.
    run(
        "FrameReader(lengths)",
        (
            any::<u8>(),
            any::<u64>(),
            proptest::collection::vec(any::<u8>(), 0..16),
        ),
        |(tag, len, data)| {
            let mut b = vec![tag];
            parasync::wire::codec::put_uv(&mut b, len);
            b.extend_from_slice(&data);
            let r = bounded(|| reader(b).frame().map(|f| f.map(|(t, p)| (t, p.to_vec()))))?;
            if len as usize > data.len() {
                prop_assert!(r.is_err());
            }
            Ok(())
        },
    );
}

#[test]
fn fuzz_entry_decode() {
    run(
        "Entry::decode",
        proptest::collection::vec(any::<u8>(), 0..200),
        |b| {
            if let Ok(e) = bounded(|| Entry::decode(&mut Cur::new(&b)))? {
                prop_assert!(check_name(&e.name).is_ok());
                prop_assert!(!e.is_symlink() || e.x().link.is_some());
            }
            Ok(())
        },
    );
}

#[test]
fn fuzz_entry_names() {
    // Names built from path-ish pieces: whatever the decoder accepts stays inside the root.
    let piece = prop_oneof![
        Just(b"..".to_vec()),
        Just(b".".to_vec()),
        Just(b"/".to_vec()),
        Just(b"a".to_vec()),
        Just(vec![0u8]),
        Just(b"".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..3),
    ];
    run(
        "Entry names",
        proptest::collection::vec(piece, 0..6),
        |parts| {
            let name = parts.concat();
            let mut b = Vec::new();
            Entry {
                name: name.clone().into(),
                mode: 0o100644,
                ..Default::default()
            }
            .encode(&mut b);
            if let Ok(e) = Entry::decode(&mut Cur::new(&b)) {
                let p = std::path::Path::new("/root").join(std::ffi::OsStr::new(
                    std::str::from_utf8(&e.name).unwrap_or("x"),
                ));
                prop_assert!(!e.name.starts_with(b"/"));
                prop_assert!(!e.name.split(|c| *c == b'/').any(|c| c == b".."));
                prop_assert!(p.starts_with("/root"));
            }
            Ok(())
        },
    );
}

#[test]
fn fuzz_handshake() {
    run(
        "handshake",
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            // Correct magic, garbage after it.
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(|t| {
                let mut b = vec![(8 + t.len()) as u8];
                b.extend_from_slice(parasync::wire::MAGIC);
                b.extend_from_slice(&t);
                b
            }),
        ],
        |b| {
            bounded(|| {
                let mut w =
                    FrameWriter::new(Box::new(std::io::sink()), Arc::new(AtomicU64::new(0)));
                let mut r = reader(b);
                let _ = handshake(&mut w, &mut r, &Caps::ours());
            })
        },
    );
}

#[test]
fn fuzz_filter_list() {
    run(
        "Filters::from_wire",
        proptest::collection::vec(any::<u8>(), 0..200),
        |b| {
            bounded(|| {
                let _ = parasync::session::filters::Filters::from_wire(&b);
            })
        },
    );
}

/// Arguments built from real option spellings, values and junk.
fn argv() -> impl Strategy<Value = Vec<String>> {
    let names: Vec<String> = DEFS
        .iter()
        .flat_map(|d| {
            let mut v = vec![format!("--{}", d.long), format!("--no-{}", d.long)];
            if let Some(c) = d.short {
                v.push(format!("-{c}"));
            }
            if d.arg == Arg::Required {
                v.push(format!("--{}=", d.long));
            }
            v
        })
        .collect();
    let word = prop_oneof![
        proptest::sample::select(names.clone()),
        (proptest::sample::select(names), "[a-z0-9:=.,/+-]{0,8}")
            .prop_map(|(n, v)| format!("{n}={v}")),
        "-[a-zA-Z0-9]{1,6}",
        "[ -~]{0,12}",
        Just("--".to_string()),
        Just("-".to_string()),
        any::<String>(),
    ];
    proptest::collection::vec(word, 0..8)
}

#[test]
fn fuzz_cli() {
    run("cli::lex + Options::parse", argv(), |args| {
        bounded(|| {
            let _ = parasync::cli::lex::lex(&args);
            if let Err(e) = parasync::cli::Options::parse(&args) {
                assert!(e.code == 1 || e.code == 4, "exit {} for {args:?}", e.code);
            }
        })
    });
}

#[test]
fn seeds_roundtrip_under_every_compression() {
    for (tag, p) in seeds() {
        let m = Msg::decode(tag, &p).unwrap_or_else(|e| panic!("seed tag {tag}: {e}"));
        for c in [Compress::None, Compress::Zstd(3), Compress::Lz4] {
            let (t, q) = m.encode(c);
            assert_eq!(
                Msg::decode(t, &q).ok().as_ref(),
                Some(&m),
                "{m:?} with {c:?}"
            );
        }
    }
}
