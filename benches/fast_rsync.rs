//! parasync's rsync engine side by side with the `fast_rsync` crate (issue 12): signature, diff
//! and apply throughput on the same inputs, generated in-process and deterministic:
//! * `4MiB-edit`: 4 MiB random, a 64 KiB block overwritten at 1 MB (fast_rsync's own bench case);
//! * `100MiB-insert`: 100 MiB random, 8 MiB inserted in the middle (the papers' insert pair).
//!
//! Contenders per operation:
//! * `fast_rsync` — `Signature::calculate` / `diff` / `apply`, 4 KiB blocks, 8-byte MD4 sums
//!   (its benchmark settings);
//! * `parasync-rdiff` — [`parasync::engine::rdiff`] with the same blocks and sums, producing the
//!   same librsync-format bytes (asserted below) through the rsync engine's parallel
//!   signature and segment-parallel search;
//! * `parasync-rsync` — the library API's rsync engine with its defaults (√len blocks, xxh128),
//!   on shared (mapped-style) buffers like the others' slices.
//!
//! Run: `cargo bench --bench fast_rsync` (`PARASYNC_BENCH_BIG=0` skips the 100 MiB pair).

use std::hint::black_box;
use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fast_rsync::{Signature as FrSignature, SignatureOptions};
use parasync::engine::api;
use parasync::engine::rdiff::{self, RdiffHash, RdiffSignature};
use parasync::engine::{EngineId, EngineParams};

mod common;
use common::random;

const BLOCK: u32 = 4096;
const SUM: u32 = 8;

fn inputs() -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
    let old = random(4 << 20, 1);
    let mut new = old.clone();
    new[1_000_000..1_065_536].copy_from_slice(&random(65536, 2));
    let mut v = vec![("4MiB-edit", old, new)];
    if std::env::var("PARASYNC_BENCH_BIG").as_deref() != Ok("0") {
        let old = random(100 << 20, 3);
        let mid = old.len() / 2;
        let new = [&old[..mid], &random(8 << 20, 4), &old[mid..]].concat();
        v.push(("100MiB-insert", old, new));
    }
    v
}

fn fr_options() -> SignatureOptions {
    SignatureOptions {
        block_size: BLOCK,
        crypto_hash_size: SUM,
    }
}

fn ours_rdiff(old: &[u8]) -> RdiffSignature {
    RdiffSignature::compute(old, RdiffHash::Md4, Some(BLOCK), Some(SUM))
}

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
    bytes: usize,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Bytes(bytes as u64));
    g
}

fn compare(c: &mut Criterion) {
    let params = EngineParams::default();
    for (case, old, new) in inputs() {
        // Same format, same bytes: the comparison is like for like.
        let fr_sig = FrSignature::calculate(&old, fr_options());
        let mut our_bytes = Vec::new();
        ours_rdiff(&old).write_to(&mut our_bytes).unwrap();
        assert!(our_bytes == fr_sig.serialized(), "signature bytes differ");

        let mut g = group(c, "signature", old.len());
        g.bench_function(BenchmarkId::new("fast_rsync", case), |b| {
            b.iter(|| FrSignature::calculate(black_box(&old), fr_options()))
        });
        g.bench_function(BenchmarkId::new("parasync-rdiff", case), |b| {
            b.iter(|| ours_rdiff(black_box(&old)))
        });
        let shared_old: parasync::engine::Shared = Arc::new(old.clone());
        g.bench_function(BenchmarkId::new("parasync-rsync", case), |b| {
            b.iter(|| api::signature_shared(EngineId::Rsync, &params, shared_old.clone()).unwrap())
        });
        g.finish();

        let fr_index = fr_sig.index();
        let shared_new: parasync::engine::Shared = Arc::new(new.clone());
        let our_sig = ours_rdiff(&old);
        let rsync_sig = api::signature(EngineId::Rsync, &params, &old[..]).unwrap();
        let mut g = group(c, "diff", new.len());
        g.bench_function(BenchmarkId::new("fast_rsync", case), |b| {
            b.iter(|| {
                let mut out = Vec::new();
                fast_rsync::diff(&fr_index, black_box(&new), &mut out).unwrap();
                out
            })
        });
        g.bench_function(BenchmarkId::new("parasync-rdiff", case), |b| {
            b.iter(|| {
                let ops = rdiff::diff(&our_sig, shared_new.clone(), &params).unwrap();
                let mut out = Vec::new();
                rdiff::write_delta(&ops, &mut out).unwrap();
                out
            })
        });
        g.bench_function(BenchmarkId::new("parasync-rsync", case), |b| {
            b.iter(|| api::diff_shared(&rsync_sig, shared_new.clone()).unwrap())
        });
        g.finish();

        // Deltas in both directions apply to NEW with the other side's code.
        let mut fr_delta = Vec::new();
        fast_rsync::diff(&fr_index, &new, &mut fr_delta).unwrap();
        let mut our_delta = Vec::new();
        let ops = rdiff::diff(&our_sig, shared_new.clone(), &params).unwrap();
        rdiff::write_delta(&ops, &mut our_delta).unwrap();
        let mut out = Vec::new();
        fast_rsync::apply(&old, &our_delta, &mut out).unwrap();
        assert!(out == new, "fast_rsync applied our delta wrongly");
        let mut out = Vec::new();
        api::apply(
            Cursor::new(&old),
            &rdiff::read_delta(&fr_delta[..]).unwrap(),
            &mut out,
        )
        .unwrap();
        assert!(out == new, "fast_rsync's delta read wrongly");

        let mut g = group(c, "apply", new.len());
        g.bench_function(BenchmarkId::new("fast_rsync", case), |b| {
            b.iter(|| {
                let mut out = Vec::with_capacity(new.len());
                fast_rsync::apply(&old, black_box(&fr_delta), &mut out).unwrap();
                out
            })
        });
        g.bench_function(BenchmarkId::new("parasync-rdiff", case), |b| {
            b.iter(|| {
                let mut out = Vec::with_capacity(new.len());
                rdiff::patch(&old, black_box(&fr_delta), &mut out).unwrap();
                out
            })
        });
        g.finish();
    }
}

criterion_group!(benches, compare);
criterion_main!(benches);
