//! The Xet CAS surface (`/v1`, `/v2`), as hf_xet 1.8.0 calls it: xorb and
//! shard upload with full validation, reconstruction (v1 and v2, byte
//! ranges), global dedup answers, and signed data URLs.
//!
//! Every handler follows one pattern: a [`auth::CasAuth`] extractor checks
//! the signed CAS token, the handler validates input with `tessera-formats`,
//! then reads or writes the metadata and blob stores.

pub mod auth;
pub mod data;
pub mod dedup;
pub mod read;
pub mod reconstructions;
pub mod router;
pub mod shards;
pub mod xorbs;

pub use router::router;

/// Blob-store key of a xorb body.
pub fn xorb_key(hash: &tessera_formats::MerkleHash) -> String {
    format!("xorbs/{hash}")
}
