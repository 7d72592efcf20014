//! The one error type of the formats crate: every malformed, truncated or
//! oversized input maps to a variant that says what is wrong and where.

use crate::hash::MerkleHash;

/// Why a Xet object (hash string, xorb, chunk, shard) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// A hash string was not exactly 64 hexadecimal digits.
    #[error("invalid xet hash string: expected 64 hex digits, got {got:?}")]
    InvalidHashString {
        /// The offending text, truncated to 80 characters.
        got: String,
    },

    /// The input ended before a complete structure could be read.
    #[error("truncated {what} at byte {offset}: needed {needed} more bytes")]
    Truncated {
        /// Which structure was being read.
        what: &'static str,
        /// Byte offset where reading started.
        offset: u64,
        /// Bytes missing.
        needed: u64,
    },

    /// A xorb chunk header is not valid.
    #[error("invalid chunk header at byte {offset} (chunk {index}): {reason}")]
    InvalidChunkHeader {
        /// Byte offset of the header within the xorb.
        offset: u64,
        /// Index of the chunk within the xorb.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },

    /// A chunk payload did not decompress to the length its header declares.
    #[error("chunk {index} at byte {offset} is corrupt: {reason}")]
    CorruptChunk {
        /// Byte offset of the chunk header.
        offset: u64,
        /// Index of the chunk within the xorb.
        index: usize,
        /// What went wrong while decoding.
        reason: String,
    },

    /// A xorb (or a chunk within it) exceeds a protocol limit.
    #[error("xorb too large: {reason}")]
    XorbTooLarge {
        /// Which limit was exceeded.
        reason: String,
    },

    /// A xorb contains no chunks.
    #[error("xorb is empty")]
    EmptyXorb,

    /// The hash computed from a xorb's content differs from the one it was uploaded under.
    #[error("xorb hash mismatch: content hashes to {computed}, expected {expected}")]
    XorbHashMismatch {
        /// The hash the object was named by.
        expected: MerkleHash,
        /// The hash of its content.
        computed: MerkleHash,
    },

    /// A shard is not valid.
    #[error("invalid shard at byte {offset}: {reason}")]
    InvalidShard {
        /// Byte offset where the problem was found.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },

    /// A shard exceeds a size limit.
    #[error("shard too large: {reason}")]
    ShardTooLarge {
        /// Which limit was exceeded.
        reason: String,
    },

    /// A git object's bytes do not follow git's format.
    #[error("invalid git {kind}: {reason}")]
    InvalidGitObject {
        /// `blob`, `tree`, `commit` or `object id`.
        kind: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// A git packfile is not valid.
    #[error("invalid git pack at byte {offset}: {reason}")]
    InvalidPack {
        /// Byte offset of the entry (or structure) at fault.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },

    /// Compressing a chunk failed (an internal error of the LZ4 encoder).
    #[error("compression failed: {reason}")]
    Compression {
        /// The encoder's message.
        reason: String,
    },
}

/// Short-hand result for this crate.
pub type Result<T, E = FormatError> = std::result::Result<T, E>;
