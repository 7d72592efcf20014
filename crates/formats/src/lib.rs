//! Xet data formats, byte-exact with xet-core (the `hf_xet` client).
//!
//! Pure functions and data types, no IO and no async: content-defined
//! chunking ([`chunking`]), the Xet hashes ([`hash`]), whole-file hashing
//! ([`file`]), chunk compression ([`compression`]), xorbs ([`xorb`]) and
//! shards ([`shard`]), plus git objects and LFS pointers ([`git`]), packfiles
//! ([`pack`]) and pkt-line framing ([`pktline`]). Every parser takes untrusted bytes and answers a
//! [`FormatError`] instead of panicking or allocating without bound.

pub mod chunking;
pub mod compression;
pub mod error;
pub mod file;
pub mod git;
pub mod hash;
pub mod pack;
pub mod pktline;
pub mod shard;
pub mod xorb;

pub use error::{FormatError, Result};
pub use hash::MerkleHash;
