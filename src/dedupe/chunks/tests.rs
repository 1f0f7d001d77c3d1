use super::*;
use proptest::prelude::*;

fn rnd(seed: u64, n: usize) -> Vec<u8> {
    crate::testkit::pseudo_random(n, seed)
}

/// Apply `ops` for file `idx` the way the receiver does (in order), checking the ordering rules:
/// other files are complete, a copy within the file reads only bytes already written and never
/// overlaps its destination.
fn rebuild(idx: u32, len: usize, ops: &[Op], done: &HashMap<u32, Vec<u8>>) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let mut written = vec![false; len];
    for op in ops {
        match op {
            Op::Literal { dst, data } => {
                let d = *dst as usize;
                out[d..d + data.len()].copy_from_slice(data);
                written[d..d + data.len()]
                    .iter_mut()
                    .for_each(|w| *w = true);
            }
            Op::CopyFrom {
                dst,
                file,
                src,
                len,
            } => {
                let (d, s, n) = (*dst as usize, *src as usize, *len as usize);
                let bytes = if *file == idx {
                    assert!(
                        s + n <= d,
                        "a copy within the file overlaps its destination"
                    );
                    assert!(
                        written[s..s + n].iter().all(|w| *w),
                        "copy of unwritten bytes"
                    );
                    out[s..s + n].to_vec()
                } else {
                    done.get(file).expect("copy from an incomplete file")[s..s + n].to_vec()
                };
                out[d..d + n].copy_from_slice(&bytes);
                written[d..d + n].iter_mut().for_each(|w| *w = true);
            }
            Op::Copy { .. } => panic!("basis copy from the planner"),
        }
    }
    assert!(written.iter().all(|w| *w), "ops do not tile the file");
    out
}

/// The sender's view of completed files and of the file being sent (`cur`).
fn reader<'a>(
    done: &'a HashMap<u32, Vec<u8>>,
    cur: (u32, &'a [u8]),
) -> impl FnMut(u32, u64, usize) -> Option<Vec<u8>> + 'a {
    move |f, off, len| {
        let b = if f == cur.0 { cur.1 } else { done.get(&f)? };
        let s = (off as usize).min(b.len());
        Some(b[s..(s + len).min(b.len())].to_vec())
    }
}

fn no_reads(_: u32, _: u64, _: usize) -> Option<Vec<u8>> {
    None
}

/// Plan `files` in order as one transfer (streaming in `piece`-byte reads); returns the ops and
/// tallies per file, asserting exact reconstruction.
fn transfer(files: &[Vec<u8>], piece: usize, self_copies: bool) -> Vec<(Vec<Op>, Tally)> {
    let mut ix = ChunkIndex::default();
    let mut done = HashMap::new();
    let mut res = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let idx = i as u32;
        let mut p = Planner::new(idx, self_copies, 32 << 10);
        let mut ops = Vec::new();
        let mut rd = reader(&done, (idx, f));
        for part in f.chunks(piece.max(1)) {
            p.push(&ix, part, &mut ops, &mut rd);
        }
        p.finish(&ix, &mut ops, &mut rd);
        drop(rd);
        assert_eq!(rebuild(idx, f.len(), &ops, &done), *f, "file {i}");
        let t = p.tally;
        assert_eq!(t.literal + t.copied, f.len() as u64);
        ix.commit(p.into_chunks());
        done.insert(idx, f.clone());
        res.push((ops, t));
    }
    res
}

#[test]
fn a_duplicate_file_is_one_copy() {
    let a = rnd(1, 200_000);
    let r = transfer(&[a.clone(), rnd(2, 5000), a.clone()], 65536, true);
    assert_eq!(r[0].1.copied, 0);
    assert_eq!(
        r[2].0,
        vec![Op::CopyFrom {
            dst: 0,
            file: 0,
            src: 0,
            len: 200_000
        }]
    );
}

#[test]
fn a_shared_run_inside_other_files_is_copied() {
    // A 100 KiB "library" embedded at different offsets of two files.
    let lib = rnd(3, 100_000);
    let mut a = rnd(4, 30_000);
    a.extend_from_slice(&lib);
    a.extend(rnd(5, 20_000));
    let mut b = rnd(6, 7_777);
    b.extend_from_slice(&lib);
    b.extend(rnd(7, 50_000));
    let r = transfer(&[a, b], 1 << 20, true);
    // The library is copied whole: the chunks straddling its edges are extended byte by byte
    // (only a few bytes that happen to agree by chance may join the copy).
    assert!(r[1].1.copied >= 100_000, "{:?}", r[1].1);
    assert!(r[1].1.literal > 7_777 + 50_000 - 16, "{:?}", r[1].1);
    assert_eq!(
        r[1].1.copies,
        1,
        "{:?}",
        r[1].0
            .iter()
            .filter(|o| !matches!(o, Op::Literal { .. }))
            .collect::<Vec<_>>()
    );
}

#[test]
fn repeats_within_a_file_copy_earlier_bytes_only_when_allowed() {
    let blk = rnd(8, 64 << 10);
    let mut f = Vec::new();
    for _ in 0..4 {
        f.extend_from_slice(&blk);
        f.extend(rnd(f.len() as u64, 10_000));
    }
    let with = transfer(std::slice::from_ref(&f), 100_000, true);
    // Each repeat loses at most the two chunks straddling its edges.
    assert!(with[0].1.copied > 3 * 30_000, "{:?}", with[0].1);
    assert!(with[0]
        .0
        .iter()
        .all(|o| !matches!(o, Op::CopyFrom { file, .. } if *file != 0)));
    let without = transfer(std::slice::from_ref(&f), 100_000, false);
    assert_eq!(without[0].1.copied, 0);
    assert_eq!(without[0].1.literal, f.len() as u64);
}

#[test]
fn a_constant_file_copies_from_itself_without_overlap() {
    // Every max-size chunk of a run of zeros is equal: each copies an earlier one, and merged
    // copies still never read their own destination (checked by `rebuild`).
    let f = vec![0u8; 1 << 20];
    let r = transfer(std::slice::from_ref(&f), 300_000, true);
    assert!(r[0].1.literal <= 64 << 10, "{:?}", r[0].1);
}

#[test]
fn streaming_and_whole_range_planning_agree() {
    let lib = rnd(9, 150_000);
    let mut f = rnd(10, 40_000);
    f.extend_from_slice(&lib);
    f.extend_from_slice(&lib[..90_000]);
    let whole = {
        let mut p = Planner::new(0, true, 32 << 10);
        let mut ops = Vec::new();
        let none = HashMap::new();
        p.range(
            &ChunkIndex::default(),
            &f,
            0,
            &mut ops,
            &mut reader(&none, (0, &f)),
        );
        ops
    };
    // The same chunks and copies (literal runs may be split differently).
    let shape = |ops: &[Op]| {
        let mut v: Vec<(u64, u64, bool)> = Vec::new();
        for o in ops {
            let lit = matches!(o, Op::Literal { .. });
            match v.last_mut() {
                Some(l) if lit && l.2 && l.0 + l.1 == o.dst() => l.1 += o.len(),
                _ => v.push((o.dst(), o.len(), lit)),
            }
        }
        v
    };
    for piece in [1000, 4096, 65_536, 1 << 20] {
        let got = transfer(std::slice::from_ref(&f), piece, true);
        assert_eq!(shape(&got[0].0), shape(&whole), "piece {piece}");
    }
}

#[test]
fn literal_ranges_at_offsets_copy_from_completed_files() {
    let lib = rnd(11, 80_000);
    let mut ix = ChunkIndex::default();
    let mut p = Planner::new(0, true, 32 << 10);
    let mut ops = Vec::new();
    p.range(&ix, &lib, 0, &mut ops, &mut no_reads);
    ix.commit(p.into_chunks());
    // File 1 gets the same bytes as a literal range at offset 5000 (a delta file's gap).
    let mut p = Planner::new(1, true, 32 << 10);
    let mut ops = Vec::new();
    p.range(&ix, &lib, 5000, &mut ops, &mut no_reads);
    assert_eq!(
        ops,
        vec![Op::CopyFrom {
            dst: 5000,
            file: 0,
            src: 0,
            len: 80_000
        }]
    );
}

#[test]
fn the_index_is_bounded_and_keeps_the_first_location() {
    let mut ix = ChunkIndex::default();
    let l = |file| Loc {
        file,
        off: 0,
        len: 9,
    };
    ix.commit(vec![(1, l(1)), (1, l(2))]);
    assert_eq!(ix.get(1, 9), Some(l(1)));
    assert_eq!(ix.get(1, 8), None);
    assert_eq!(ix.len(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Files assembled from a small pool of blocks (so content repeats across and within files,
    /// at arbitrary offsets) are rebuilt exactly, whatever the read size.
    #[test]
    fn exact_reconstruction(
        picks in prop::collection::vec(prop::collection::vec((0usize..6, 0usize..3000), 0..8), 1..6),
        piece in 1usize..200_000,
        self_copies: bool,
    ) {
        let pool: Vec<Vec<u8>> = (0..6).map(|i| rnd(100 + i, 20_000 + 9_000 * i as usize)).collect();
        let files: Vec<Vec<u8>> = picks
            .iter()
            .map(|f| {
                let mut v = Vec::new();
                for (b, cut) in f {
                    v.extend_from_slice(&pool[*b][*cut..]);
                }
                v
            })
            .collect();
        let total: usize = files.iter().map(Vec::len).sum();
        let r = transfer(&files, piece, self_copies);
        let lit: u64 = r.iter().map(|x| x.1.literal).sum();
        // Exact (checked in `transfer`) and never more literal bytes than the data.
        prop_assert!(lit <= total as u64);
    }
}

#[test]
fn long_ranges_plan_in_windows_with_one_pass_chunks_and_bounded_holdings() {
    // 3.5 windows of fresh bytes, then a repeat of a run that straddles a window edge.
    let mut f = rnd(21, WINDOW * 7 / 2);
    f.extend_from_within(WINDOW - 50_000..WINDOW + 150_000);
    let none = HashMap::new();
    // Stepped the way the sender does it: `out` is drained between steps (its last op stays).
    let mut p = Planner::new(0, true, 32 << 10);
    let (mut ops, mut out) = (Vec::new(), Vec::new());
    let mut rd = reader(&none, (0, &f));
    let mut at = 0;
    while at < f.len() {
        at = p.range_step(&ChunkIndex::default(), &f, 0, at, &mut out, &mut rd);
        let lit: usize = out.iter().map(|o| o.len() as usize).sum();
        assert!(lit <= WINDOW + (64 << 10), "{lit} bytes of ops held");
        assert!(p.lit.len() < (32 << 10) + CHUNKER.max + WINDOW);
        let keep = (at < f.len()).then(|| out.pop()).flatten();
        ops.append(&mut out);
        out.extend(keep);
    }
    ops.append(&mut out);
    drop(rd);
    assert_eq!(rebuild(0, f.len(), &ops, &none), f);
    assert!(p.tally.copied >= 190_000, "{:?}", p.tally);
    // The same chunks as one pass over the range; literal pieces are whole except at a copy.
    let one_pass: Vec<(u64, u32)> = chunk(&CHUNKER, &f).iter().map(|c| (c.off, c.len)).collect();
    let seen: Vec<(u64, u32)> = p.into_chunks().iter().map(|c| (c.1.off, c.1.len)).collect();
    assert!(seen.iter().all(|c| one_pass.contains(c)));
    assert!(seen.len() > one_pass.len() - 30);
    let short = ops
        .iter()
        .filter(|o| matches!(o, Op::Literal { data, .. } if data.len() < 32 << 10))
        .count();
    assert!(short <= 2, "{short} short literal pieces");
    // A single call plans the same ops.
    let mut p = Planner::new(0, true, 32 << 10);
    let mut whole = Vec::new();
    p.range(
        &ChunkIndex::default(),
        &f,
        0,
        &mut whole,
        &mut reader(&none, (0, &f)),
    );
    assert_eq!(whole, ops);
}
