//! git smart HTTP for Tessera repos: `git clone`, `fetch` and `push` at
//! `/{ns}/{name}[.git]` (and under `datasets/` and `spaces/`).
//!
//! The metadata DB holds every git object and ref; nothing here is durable.
//! Clones and fetches are served by `git upload-pack --stateless-rpc`
//! (protocol v0 and v2) over a bare repository under the cache dir that
//! [`cache::RepoCache`] brings up to date from the DB before each request
//! and that may be deleted at any time. Pushes are received in-process
//! ([`receive`]): the pack is parsed and checked against the push rules of
//! `tessera_api::policy`, its objects are stored in the DB, and each ref
//! moves by compare-and-swap, so a push racing an API commit on the same
//! branch either wins or is rejected as stale.

mod access;
mod body;
pub mod cache;
pub mod error;
mod receive;
mod router;
mod upload;

pub use cache::RepoCache;
pub use error::GitError;
pub use router::router;
