//! Strong (collision-resistant or at least collision-unlikely) digests used to confirm weak hits.
//!
//! Why an enum: the rsync engine lets the user pick its block sum with `--checksum-choice`, spelled
//! as rsync spells it (`xxh128 xxh3 xxh64 md5 md4 sha1 none`, plus `auto`), and the other engines
//! have fixed choices (skysync: SHA-256, dsync: SHA-1 / SHA-256, parasync: BLAKE3 — algorithms.md
//! §1.2). BLAKE2b-256 is librsync's default strong sum (the papers' rsync baseline with hw=0, and
//! rdiff's BLAKE2 signatures). Digest byte order follows rsync: xxh64/xxh3 little-endian u64, xxh128 low 64 bits then
//! high 64 bits, each little-endian (rsync `SIVAL64(sum, 0, low); SIVAL64(sum, 8, high)`).

use blake2::Blake2b256;
use md4::Md4;
use md5::Md5;
use sha1::Sha1;
use sha2::digest::Digest as _;
use sha2::Sha256;

/// A digest of up to 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest {
    buf: [u8; 32],
    len: u8,
}

impl Digest {
    pub fn new(bytes: &[u8]) -> Digest {
        let mut buf = [0u8; 32];
        let len = bytes.len().min(32);
        buf[..len].copy_from_slice(&bytes[..len]);
        Digest {
            buf,
            len: len as u8,
        }
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
    pub fn len(&self) -> usize {
        self.len as usize
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl AsRef<[u8]> for Digest {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Strong hash algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum StrongKind {
    /// No strong sum (rsync `--checksum-choice=none`): weak matches are trusted and the
    /// whole-file digest catches mistakes.
    None = 0,
    Md4 = 1,
    Md5 = 2,
    Sha1 = 3,
    Sha256 = 4,
    Xxh64 = 5,
    Xxh3 = 6,
    Xxh128 = 7,
    Blake3 = 8,
    /// BLAKE2b with a 32-byte output (librsync's `RS_BLAKE2_SIG_MAGIC` sum).
    Blake2 = 9,
}

impl StrongKind {
    pub const ALL: [StrongKind; 10] = [
        StrongKind::None,
        StrongKind::Md4,
        StrongKind::Md5,
        StrongKind::Sha1,
        StrongKind::Sha256,
        StrongKind::Xxh64,
        StrongKind::Xxh3,
        StrongKind::Xxh128,
        StrongKind::Blake3,
        StrongKind::Blake2,
    ];

    /// What rsync 3.2+ negotiates by default, and the rsync engine's default.
    pub const DEFAULT: StrongKind = StrongKind::Xxh128;

    /// Parse one `--checksum-choice` name as rsync spells it (`auto` = the default).
    pub fn parse(name: &str) -> Option<StrongKind> {
        Some(match name.to_ascii_lowercase().as_str() {
            "auto" => StrongKind::DEFAULT,
            "xxh128" => StrongKind::Xxh128,
            "xxh3" => StrongKind::Xxh3,
            "xxh64" | "xxhash" => StrongKind::Xxh64,
            "md5" => StrongKind::Md5,
            "md4" => StrongKind::Md4,
            "sha1" => StrongKind::Sha1,
            "sha256" => StrongKind::Sha256,
            "blake3" => StrongKind::Blake3,
            "blake2" => StrongKind::Blake2,
            "none" => StrongKind::None,
            _ => return None,
        })
    }

    /// Parse a full `--checksum-choice` value: `STR` or `STR1,STR2` (transfer sum, file sum);
    /// returns the transfer (block) choice, which is what the rsync engine uses.
    pub fn parse_choice(value: &str) -> Option<StrongKind> {
        let mut parts = value.splitn(2, ',');
        let first = parts.next()?;
        if let Some(second) = parts.next() {
            StrongKind::parse(second)?;
        }
        StrongKind::parse(first)
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            StrongKind::None => "none",
            StrongKind::Md4 => "md4",
            StrongKind::Md5 => "md5",
            StrongKind::Sha1 => "sha1",
            StrongKind::Sha256 => "sha256",
            StrongKind::Xxh64 => "xxh64",
            StrongKind::Xxh3 => "xxh3",
            StrongKind::Xxh128 => "xxh128",
            StrongKind::Blake3 => "blake3",
            StrongKind::Blake2 => "blake2",
        }
    }

    /// Wire id.
    pub fn from_u8(v: u8) -> Option<StrongKind> {
        StrongKind::ALL.iter().copied().find(|k| *k as u8 == v)
    }

    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            StrongKind::None => 0,
            StrongKind::Md4 | StrongKind::Md5 | StrongKind::Xxh128 => 16,
            StrongKind::Sha1 => 20,
            StrongKind::Sha256 | StrongKind::Blake3 | StrongKind::Blake2 => 32,
            StrongKind::Xxh64 | StrongKind::Xxh3 => 8,
        }
    }

    pub fn is_none(self) -> bool {
        self == StrongKind::None
    }

    /// Digest of `data`.
    pub fn digest(self, data: &[u8]) -> Digest {
        match self {
            StrongKind::None => Digest::new(&[]),
            StrongKind::Md4 => Digest::new(&Md4::digest(data)),
            StrongKind::Md5 => Digest::new(&Md5::digest(data)),
            StrongKind::Sha1 => Digest::new(&Sha1::digest(data)),
            StrongKind::Sha256 => Digest::new(&Sha256::digest(data)),
            StrongKind::Xxh64 => Digest::new(&xxhash_rust::xxh64::xxh64(data, 0).to_le_bytes()),
            StrongKind::Xxh3 => Digest::new(&xxhash_rust::xxh3::xxh3_64(data).to_le_bytes()),
            StrongKind::Xxh128 => Digest::new(&xxhash_rust::xxh3::xxh3_128(data).to_le_bytes()),
            StrongKind::Blake3 => Digest::new(blake3::hash(data).as_bytes()),
            StrongKind::Blake2 => Digest::new(&Blake2b256::digest(data)),
        }
    }
}

impl std::fmt::Display for StrongKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(d: Digest) -> String {
        format!("{d:?}")
    }

    #[test]
    fn known_vectors() {
        let abc = b"abc";
        assert_eq!(
            hex(StrongKind::Md4.digest(abc)),
            "a448017aaf21d8525fc10ae87aa6729d"
        );
        assert_eq!(
            hex(StrongKind::Md5.digest(abc)),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            hex(StrongKind::Sha1.digest(abc)),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex(StrongKind::Sha256.digest(abc)),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(StrongKind::Blake3.digest(b"")),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        // XXH64("") = 0xEF46DB3751D8E999, XXH3_64("") = 0x2D06800538D394C2, little-endian.
        assert_eq!(hex(StrongKind::Xxh64.digest(b"")), "99e9d85137db46ef");
        assert_eq!(hex(StrongKind::Xxh3.digest(b"")), "c294d3380580062d");
        // XXH128("") = 0x99aa06d3014798d86001c324468d497f: low half first.
        assert_eq!(
            hex(StrongKind::Xxh128.digest(b"")),
            "7f498d4624c30160d8984701d306aa99"
        );
        // RFC 7693-style BLAKE2b with a 32-byte output (parameter block outlen = 32).
        assert_eq!(
            hex(StrongKind::Blake2.digest(b"")),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"
        );
        assert!(StrongKind::None.digest(abc).is_empty());
        for k in StrongKind::ALL {
            assert_eq!(k.digest(abc).len(), k.digest_len(), "{k}");
            assert_eq!(StrongKind::from_u8(k as u8), Some(k));
            assert_eq!(StrongKind::parse(k.name()), Some(k));
        }
    }

    #[test]
    fn rsync_spellings() {
        assert_eq!(StrongKind::parse("auto"), Some(StrongKind::Xxh128));
        assert_eq!(StrongKind::parse("xxhash"), Some(StrongKind::Xxh64));
        assert_eq!(StrongKind::parse("MD5"), Some(StrongKind::Md5));
        assert_eq!(StrongKind::parse("crc"), None);
        assert_eq!(
            StrongKind::parse_choice("md5,xxh128"),
            Some(StrongKind::Md5)
        );
        assert_eq!(StrongKind::parse_choice("xxh3"), Some(StrongKind::Xxh3));
        assert_eq!(StrongKind::parse_choice("md5,bogus"), None);
        assert_eq!(StrongKind::from_u8(200), None);
    }
}
