//! Xet hashes: the 32-byte [`MerkleHash`], its "xet hex" string form, and the
//! keyed blake3 hashes built on it (chunk, merkle node, xorb, file, term
//! verification, dedup HMAC) plus the sha256 byte order used inside shards.
//!
//! The raw form is the 32 blake3 output bytes. The string form reads each
//! 8-byte group as a little-endian `u64` and prints it as 16 lowercase hex
//! digits, so it is *not* plain hex of the raw bytes.

use std::fmt;
use std::str::FromStr;

use crate::error::FormatError;

/// Key for chunk hashes (`keyed_hash(DATA_KEY, chunk_bytes)`), also used for shard hashes.
pub const DATA_KEY: [u8; 32] = [
    102, 151, 245, 119, 91, 149, 80, 222, 49, 53, 203, 172, 165, 151, 24, 28, 157, 228, 33, 16, 155, 235, 43, 88, 180,
    208, 176, 75, 147, 173, 242, 41,
];

/// Key for internal merkle nodes.
pub const INTERNAL_NODE_KEY: [u8; 32] = [
    1, 126, 197, 199, 165, 71, 41, 150, 253, 148, 102, 102, 180, 138, 2, 230, 93, 221, 83, 111, 55, 199, 109, 210, 248,
    99, 82, 230, 74, 83, 113, 63,
];

/// Key for term verification ("range") hashes.
pub const VERIFICATION_KEY: [u8; 32] = [
    127, 24, 87, 214, 206, 86, 237, 102, 18, 127, 249, 19, 231, 165, 195, 243, 164, 205, 38, 213, 181, 219, 73, 230,
    65, 36, 152, 127, 40, 251, 148, 195,
];

/// Key for file hashes without a salt.
pub const FILE_HASH_KEY: [u8; 32] = [0; 32];

/// Chunks whose hash is divisible by this are eligible for the global dedup index.
pub const GLOBAL_DEDUP_CHUNK_MODULUS: u64 = 1024;

/// A 32-byte Xet hash in raw (blake3 output) byte order.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct MerkleHash([u8; 32]);

impl MerkleHash {
    /// All zero bytes: the hash of an empty file and of an empty merkle tree.
    pub const ZERO: Self = Self([0; 32]);
    /// All `0xFF` bytes: the bookend marker in shards.
    pub const MARKER: Self = Self([0xFF; 32]);

    /// Wraps raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The `i`-th little-endian `u64` word (0..4).
    pub fn word(&self, i: usize) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&self.0[i * 8..i * 8 + 8]);
        u64::from_le_bytes(w)
    }

    /// The four words, as xet-core stores a hash.
    pub fn words(&self) -> [u64; 4] {
        [self.word(0), self.word(1), self.word(2), self.word(3)]
    }

    /// The first word, used as the key of shard lookup tables.
    pub fn truncated(&self) -> u64 {
        self.word(0)
    }

    /// A hash built from big-endian digest bytes, as xet-core stores sha256
    /// digests: each 8-byte group is reversed, so that [`fmt::Display`] prints
    /// the familiar digest hex.
    pub fn from_be_digest(digest: [u8; 32]) -> Self {
        let mut raw = digest;
        for group in raw.chunks_exact_mut(8) {
            group.reverse();
        }
        Self(raw)
    }

    /// The inverse of [`MerkleHash::from_be_digest`].
    pub fn to_be_digest(&self) -> [u8; 32] {
        let mut digest = self.0;
        for group in digest.chunks_exact_mut(8) {
            group.reverse();
        }
        digest
    }

    /// `keyed_hash(self, chunk_hash)`: the blake3-keyed "HMAC" of global dedup answers.
    pub fn hmac(&self, key: &MerkleHash) -> MerkleHash {
        MerkleHash(*blake3::keyed_hash(&key.0, &self.0).as_bytes())
    }

    /// Whether a chunk with this hash belongs in the global dedup index by hash alone.
    pub fn is_global_dedup_eligible(&self) -> bool {
        self.word(3).is_multiple_of(GLOBAL_DEDUP_CHUNK_MODULUS)
    }

    /// Writes the xet hex form into a 64-byte buffer.
    fn encode_hex(&self, out: &mut [u8; 64]) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        for (group_index, group) in self.0.chunks_exact(8).enumerate() {
            for (k, byte) in group.iter().rev().enumerate() {
                let at = group_index * 16 + k * 2;
                out[at] = DIGITS[usize::from(byte >> 4)];
                out[at + 1] = DIGITS[usize::from(byte & 0x0F)];
            }
        }
    }

    /// The xet hex string form.
    pub fn hex(&self) -> String {
        self.to_string()
    }

    /// Parses the xet hex string form (64 hex digits, either case).
    pub fn from_hex(text: &str) -> Result<Self, FormatError> {
        let invalid = || FormatError::InvalidHashString { got: text.chars().take(80).collect() };
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return Err(invalid());
        }
        let mut raw = [0u8; 32];
        for (group_index, group) in raw.chunks_exact_mut(8).enumerate() {
            for (k, slot) in group.iter_mut().rev().enumerate() {
                let at = group_index * 16 + k * 2;
                let high = hex_value(bytes[at]).ok_or_else(invalid)?;
                let low = hex_value(bytes[at + 1]).ok_or_else(invalid)?;
                *slot = (high << 4) | low;
            }
        }
        Ok(Self(raw))
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

impl Ord for MerkleHash {
    /// Orders by the four little-endian words, as xet-core's `[u64; 4]` does;
    /// shard lookup tables rely on this order.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.words().cmp(&other.words())
    }
}

impl PartialOrd for MerkleHash {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for MerkleHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = [0u8; 64];
        self.encode_hex(&mut out);
        // The buffer holds only ASCII hex digits.
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for MerkleHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MerkleHash({self})")
    }
}

impl FromStr for MerkleHash {
    type Err = FormatError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_hex(text)
    }
}

impl From<[u8; 32]> for MerkleHash {
    fn from(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

fn keyed(key: &[u8; 32], message: &[u8]) -> MerkleHash {
    MerkleHash(*blake3::keyed_hash(key, message).as_bytes())
}

/// The hash of one uncompressed chunk.
pub fn chunk_hash(data: &[u8]) -> MerkleHash {
    keyed(&DATA_KEY, data)
}

/// Where the next merkle group ends within `level`: the group is `level[..cut]`.
fn next_merge_cut(level: &[(MerkleHash, u64)]) -> usize {
    if level.len() <= 2 {
        return level.len();
    }
    let end = level.len().min(9);
    (2..end).find(|&i| level[i].0.word(3).is_multiple_of(4)).map_or(end, |i| i + 1)
}

/// The parent of a group of merkle nodes.
fn merge_group(group: &[(MerkleHash, u64)]) -> (MerkleHash, u64) {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(group.len() * 88);
    let mut size = 0u64;
    for (hash, node_size) in group {
        // Writing into a String cannot fail.
        let _ = writeln!(text, "{hash} : {node_size}");
        size += node_size;
    }
    (keyed(&INTERNAL_NODE_KEY, text.as_bytes()), size)
}

/// The aggregated merkle hash of `(hash, size)` leaves: zero for no leaves,
/// the leaf itself for one, otherwise the root of xet-core's variable-fanout tree.
pub fn aggregated_hash(leaves: &[(MerkleHash, u64)]) -> MerkleHash {
    match leaves {
        [] => return MerkleHash::ZERO,
        [(only, _)] => return *only,
        _ => {}
    }
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        let mut parents = Vec::with_capacity(level.len() / 2 + 1);
        let mut rest = level.as_slice();
        while !rest.is_empty() {
            let cut = next_merge_cut(rest);
            parents.push(merge_group(&rest[..cut]));
            rest = &rest[cut..];
        }
        level = parents;
    }
    level[0].0
}

/// The hash of a xorb from its chunks' `(hash, uncompressed size)` in xorb order.
pub fn xorb_hash(chunks: &[(MerkleHash, u64)]) -> MerkleHash {
    aggregated_hash(chunks)
}

/// The hash of a file from its chunks' `(hash, size)` in file order.
pub fn file_hash(chunks: &[(MerkleHash, u64)]) -> MerkleHash {
    file_hash_with_salt(chunks, &FILE_HASH_KEY)
}

/// The file hash under another 32-byte key; the empty file is always zero.
pub fn file_hash_with_salt(chunks: &[(MerkleHash, u64)], salt: &[u8; 32]) -> MerkleHash {
    if chunks.is_empty() {
        return MerkleHash::ZERO;
    }
    keyed(salt, aggregated_hash(chunks).as_bytes())
}

/// The verification hash of a term: the keyed hash of the raw chunk hashes of
/// the term's chunk range, concatenated.
pub fn range_hash(chunk_hashes: &[MerkleHash]) -> MerkleHash {
    let mut hasher = blake3::Hasher::new_keyed(&VERIFICATION_KEY);
    for hash in chunk_hashes {
        hasher.update(hash.as_bytes());
    }
    MerkleHash(*hasher.finalize().as_bytes())
}

/// The hash of a whole shard's bytes (informational; names cached shards).
pub fn shard_hash(shard_bytes: &[u8]) -> MerkleHash {
    keyed(&DATA_KEY, shard_bytes)
}

/// A sha256 digest as a [`MerkleHash`] in the byte order shards store it.
pub fn sha256_hash(data: &[u8]) -> MerkleHash {
    use sha2::Digest as _;
    MerkleHash::from_be_digest(sha2::Sha256::digest(data).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_counting() -> MerkleHash {
        let mut raw = [0u8; 32];
        for (i, byte) in raw.iter_mut().enumerate() {
            *byte = i as u8;
        }
        MerkleHash::from_bytes(raw)
    }

    #[test]
    fn hex_reverses_each_word() {
        assert_eq!(
            raw_counting().hex(),
            "0706050403020100\
             0f0e0d0c0b0a0908\
             1716151413121110\
             1f1e1d1c1b1a1918"
        );
        let raw = [
            0x16, 0xaf, 0x3a, 0x84, 0x04, 0x4b, 0x83, 0xd6, 0xbe, 0x99, 0x8a, 0x42, 0xe2, 0x03, 0x99, 0xf2, 0xcc, 0x56,
            0x50, 0xea, 0xf9, 0x99, 0x50, 0x63, 0x9f, 0x50, 0x41, 0x8a, 0xec, 0xe7, 0x95, 0x4e,
        ];
        let hash = MerkleHash::from_bytes(raw);
        assert_eq!(hash.hex(), "d6834b04843aaf16f29903e2428a99be635099f9ea5056cc4e95e7ec8a41509f");
        assert_eq!(MerkleHash::from_hex(&hash.hex()).unwrap(), hash);
        assert_eq!(MerkleHash::from_hex(&hash.hex().to_uppercase()).unwrap(), hash);
    }

    #[test]
    fn hex_parse_rejects_bad_input() {
        for bad in ["", "00", &"g".repeat(64), &"0".repeat(63), &"0".repeat(65), &"é".repeat(32)] {
            assert!(matches!(MerkleHash::from_hex(bad), Err(FormatError::InvalidHashString { .. })), "{bad}");
        }
    }

    #[test]
    fn sha256_in_shard_byte_order() {
        assert_eq!(sha256_hash(b"some data").hex(), "1307990e6ba5ca145eb35e99182a9bec46531bc54ddf656a602c780fa0240dee");
    }

    #[test]
    fn hello_world_hashes() {
        let chunk = chunk_hash(b"hello world");
        assert_eq!(chunk.hex(), "4e39378b9d359f118190557a1f44130219a54e5fcfa07bd96cf50b466fe651b1");
        let leaves = [(chunk, 11)];
        assert_eq!(xorb_hash(&leaves), chunk);
        assert_eq!(file_hash(&leaves).hex(), "f15edd43b7e85cfd25e2758ffe13b99fdd09dfa817e8d9f6548722a7a126db7f");
        assert_eq!(range_hash(&[chunk]).hex(), "22ef2fdcff5cea306e42ad7e15ed8a0c5e789e7d2ec34658c10d2758946847da");
    }

    #[test]
    fn empty_inputs() {
        assert_eq!(aggregated_hash(&[]), MerkleHash::ZERO);
        assert_eq!(file_hash(&[]), MerkleHash::ZERO);
        assert_eq!(chunk_hash(b"").hex()[..8], *"e0f2cf78");
    }
}
