//! The Git LFS API under each repo's LFS URL (`{repo}.git/info/lfs`): the
//! batch API and the file locking API. The batch API is bridged to Xet as
//! huggingface.co does: an object uploaded through LFS is chunked
//! server-side into xorbs and registered as a Xet file of the repo under its
//! sha256, so commits can reference it with `lfsFile` and Xet clients
//! download it through the CAS; downloads through LFS are reconstructed
//! server-side.
//!
//! The upload, download and verify hrefs are signed, expiring capabilities
//! for one object of one repo, because clients send no credentials to them.
//! Uploads may instead go straight to the Xet CAS (the `xet` transfer).
//! Locks live in the metadata DB, one per path of a repo.

pub mod batch;
pub mod error;
pub mod locks;
pub mod objects;
pub mod repo;
pub mod router;

pub use router::router;

/// The media type of every LFS API body.
pub const LFS_MEDIA_TYPE: &str = "application/vnd.git-lfs+json";
