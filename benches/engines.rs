//! Throughput of the shared hashes and of each engine's phases on the papers' "insert" pair
//! (old = N random bytes, new = old with N/12.5 bytes inserted in the middle — 100 MiB + 8 MiB at
//! full scale). N = `PARASYNC_BENCH_MIB` MiB (default 16 so a run stays short).
//!
//! Run: `cargo bench --bench engines` (add `-- hash`, `-- cdc` or `-- engine` to filter).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use parasync::engine::hash::{crc, CrcKind, RollSum, RollingCrc, StrongKind};
use parasync::engine::{
    apply_ops, receiver_half, run_local, sender_half, EngineId, EngineParams, Op, Shared,
};

mod common;
use common::random;

fn size() -> usize {
    std::env::var("PARASYNC_BENCH_MIB")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(16)
        << 20
}

fn hashes(c: &mut Criterion) {
    let data = random(size(), 1);
    let mut g = c.benchmark_group("hash");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("crc32", |b| b.iter(|| crc::crc32(black_box(&data))));
    g.bench_function("crc32c_hw", |b| b.iter(|| crc::crc32c(black_box(&data))));
    g.bench_function("crc32c_sw", |b| {
        b.iter(|| CrcKind::Crc32c.update_sw(0, black_box(&data)))
    });
    g.bench_function("rollsum_block", |b| {
        b.iter(|| RollSum::new(black_box(&data)).digest())
    });
    g.bench_function("rollsum_roll_1k", |b| {
        b.iter(|| {
            let w = 1024;
            let mut s = RollSum::new(&data[..w]);
            let mut acc = 0u32;
            for i in 0..data.len() - w {
                s.roll(data[i], data[i + w]);
                acc ^= s.digest();
            }
            acc
        })
    });
    let r = RollingCrc::new(CrcKind::Crc32, 8192);
    g.bench_function("rolling_crc32_8k", |b| {
        b.iter(|| {
            let w = r.window();
            let mut c = r.init(&data[..w]);
            let mut acc = 0u32;
            for i in 0..data.len() - w {
                c = r.roll(c, data[i], data[i + w]);
                acc ^= c;
            }
            acc
        })
    });
    g.bench_function("md4_x8_4k_blocks", |b| {
        b.iter(|| parasync::engine::hash::md4x::md4_blocks(black_box(&data), 4096))
    });
    g.bench_function("librsync_sum_4k_blocks", |b| {
        b.iter(|| {
            data.chunks(4096)
                .map(|c| parasync::engine::rdiff::LibSum::new(c).digest())
                .fold(0, |a, x| a ^ x)
        })
    });
    let cdc = parasync::engine::chunker::Config::PARASYNC;
    g.bench_function("cdc_parasync", |b| {
        b.iter(|| parasync::engine::chunker::chunk(&cdc, black_box(&data)).len())
    });
    // The dedupe planner's case on a tree of small files: many inputs of a few KiB each.
    g.bench_function("cdc_parasync_small_files", |b| {
        const SIZES: [usize; 10] = [700, 2000, 3500, 4096, 4100, 5000, 7000, 9000, 15000, 30000];
        b.iter(|| {
            let (mut off, mut n) = (0, 0);
            for sz in SIZES.iter().cycle() {
                if off + sz > data.len() {
                    break;
                }
                n += parasync::engine::chunker::chunk(&cdc, black_box(&data[off..off + sz])).len();
                off += sz;
            }
            n
        })
    });
    for k in StrongKind::ALL.into_iter().filter(|k| !k.is_none()) {
        g.bench_with_input(BenchmarkId::new("strong", k.name()), &k, |b, k| {
            b.iter(|| k.digest(black_box(&data)))
        });
    }
    g.finish();
}

/// Receiver start → sender handle/poll → ops, as separate phases (one-round engines).
fn signature(id: EngineId, p: &EngineParams, old: &Shared) -> Vec<Vec<u8>> {
    receiver_half(id, p, old.clone()).start().unwrap().msgs
}

fn delta(id: EngineId, p: &EngineParams, new: &Shared, msgs: &[Vec<u8>]) -> Vec<Op> {
    let mut s = sender_half(id, p, new.clone());
    let mut ops = s.start().unwrap().ops;
    for m in msgs {
        ops.extend(s.handle(m).unwrap().ops);
    }
    while let Some(st) = s.poll().unwrap() {
        ops.extend(st.ops);
        if st.done {
            break;
        }
    }
    ops
}

fn engines(c: &mut Criterion) {
    let n = size();
    let old = random(n, 2);
    let mut new = old.clone();
    new.splice(n / 2..n / 2, random(n * 2 / 25, 3));
    let (old_s, new_s): (Shared, Shared) = (Arc::new(old.clone()), Arc::new(new.clone()));
    let mut g = c.benchmark_group("engine");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Bytes(n as u64));
    for threads in [1usize, 0] {
        let p = EngineParams {
            threads,
            ..EngineParams::default()
        };
        let t = if threads == 1 { "1t" } else { "all" };
        for id in EngineId::ALL {
            let name = format!("{}/{t}", id.name());
            g.bench_function(format!("{name}/total"), |b| {
                b.iter(|| run_local(id, &p, old_s.clone(), new_s.clone()).unwrap())
            });
            if matches!(id, EngineId::Rsync | EngineId::SkysyncF) {
                g.bench_function(format!("{name}/signature"), |b| {
                    b.iter(|| signature(id, &p, &old_s))
                });
                // Inputs are prepared inside the closures so filtered-out phases cost nothing.
                g.bench_function(format!("{name}/delta"), |b| {
                    let msgs = signature(id, &p, &old_s);
                    b.iter(|| delta(id, &p, &new_s, &msgs))
                });
                g.bench_function(format!("{name}/patch"), |b| {
                    let ops = delta(id, &p, &new_s, &signature(id, &p, &old_s));
                    b.iter(|| apply_ops(&old, &ops, new.len() as u64).unwrap())
                });
            }
        }
    }
    g.finish();
}

criterion_group!(benches, hashes, engines);
criterion_main!(benches);
