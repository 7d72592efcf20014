//! The Hugging Face Hub API surface (`/api/...` and `/{repo}/resolve/...`),
//! as `huggingface_hub` 2.4.0 and `hf_xet` 1.8.0 call it.
//!
//! Handlers are grouped by resource: [`repos`], [`files`] (tree,
//! paths-info, resolve), [`commits`] (commit, preupload, history), [`refs`],
//! [`tokens`] (Xet CAS tokens), [`gating`] (access requests of gated repos),
//! [`users`], [`orgs`], [`access_tokens`] (the caller's own tokens),
//! [`admin`] (the admin API) and [`misc`]. Who may do what is decided by
//! `tessera_api::access`, the one access rule. The git logic they
//! share lives in [`repo_model`]; every route is declared in [`router`].

pub mod access_tokens;
pub mod admin;
pub mod commits;
pub mod extract;
pub mod files;
pub mod gating;
pub mod misc;
pub mod orgs;
pub mod refs;
pub mod repo_model;
pub mod repos;
pub mod router;
pub mod tokens;
pub mod users;

pub use router::router;
