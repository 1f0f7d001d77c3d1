//! Property tests of the shared hashes through the public API.

use parasync::engine::hash::{crc, CrcKind, RollSum, RollingCrc, StrongKind};
use proptest::prelude::*;

const KINDS: [CrcKind; 2] = [CrcKind::Crc32, CrcKind::Crc32c];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn combine_is_concatenation(a in proptest::collection::vec(any::<u8>(), 0..3000),
                                b in proptest::collection::vec(any::<u8>(), 0..3000)) {
        let mut ab = a.clone();
        ab.extend_from_slice(&b);
        for k in KINDS {
            prop_assert_eq!(k.combine(k.checksum(&a), k.checksum(&b), b.len() as u64), k.checksum(&ab));
            prop_assert_eq!(k.update(k.checksum(&a), &b), k.checksum(&ab));
        }
        prop_assert_eq!(crc::crc32_combine(crc::crc32(&a), crc::crc32(&b), b.len() as u64), crc::crc32(&ab));
    }

    #[test]
    fn zero_bytes_add_and_remove(a in proptest::collection::vec(any::<u8>(), 0..2000), n in 0u64..5000) {
        let mut z = a.clone();
        z.resize(a.len() + n as usize, 0);
        for k in KINDS {
            prop_assert_eq!(k.add0(k.checksum(&a), n), k.checksum(&z));
            prop_assert_eq!(k.remove0(k.checksum(&z), n), k.checksum(&a));
        }
    }

    #[test]
    fn rolling_crc_and_rollsum_equal_recomputation(
        data in proptest::collection::vec(any::<u8>(), 1..6000),
        w_frac in 0.0f64..1.0,
    ) {
        let w = ((data.len() as f64 * w_frac) as usize).max(1);
        for k in KINDS {
            let r = RollingCrc::new(k, w);
            let mut c = r.init(&data[..w]);
            let mut s = RollSum::new(&data[..w]);
            for i in 0..data.len() - w {
                c = r.roll(c, data[i], data[i + w]);
                s.roll(data[i], data[i + w]);
            }
            let last = &data[data.len() - w..];
            prop_assert_eq!(c, k.checksum(last));
            prop_assert_eq!(s.digest(), RollSum::new(last).digest());
        }
    }
}

#[test]
fn rolling_windows_of_sqrt_sizes() {
    // Windows the rsync √len rule produces, and the skysync-f block.
    let data: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for w in [700usize, 1024, 3232, 4096, 8192, 10_240] {
        let r = RollingCrc::new(CrcKind::Crc32, w);
        let mut c = r.init(&data[..w]);
        for i in 0..data.len() - w {
            c = r.roll(c, data[i], data[i + w]);
        }
        assert_eq!(c, crc::crc32(&data[data.len() - w..]), "window {w}");
    }
}

#[test]
fn strong_digests_have_their_lengths() {
    for k in StrongKind::ALL {
        assert_eq!(k.digest(b"parasync").len(), k.digest_len());
        if !k.is_none() {
            assert_ne!(k.digest(b"a"), k.digest(b"b"), "{k}");
        }
    }
}
