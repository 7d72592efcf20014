//! The Git LFS batch API (`{repo}.git/info/lfs/objects/batch`, basic
//! transfer), bridged to Xet as huggingface.co does: an object uploaded
//! through LFS is chunked server-side into xorbs and registered as a Xet file
//! of the repo under its sha256, so commits can reference it with `lfsFile`
//! and Xet clients download it through the CAS; downloads through LFS are
//! reconstructed server-side.
//!
//! The upload, download and verify hrefs are signed, expiring capabilities
//! for one object of one repo, because clients send no credentials to them.

pub mod batch;
pub mod objects;
pub mod router;

pub use router::router;
