//! The web UI: server-rendered pages at huggingface.co's own URLs
//! (`/{ns}/{name}`, `/datasets/…`, `/{ns}/{name}/tree/{rev}/…`, `/{user}`,
//! `/models`, …), from the Tera templates of the top-level `templates/`,
//! embedded in the binary with their stylesheet. Pages work without
//! JavaScript and carry a strict CSP.
//!
//! Who sees what is the one access rule of `tessera_api::access`: a repo a
//! visitor may not see is the same 404 page as a missing one, and listings
//! filter before rendering. Visitors sign in with a password for a
//! session cookie ([`session`]), send a token in `Authorization`
//! (scripts), or are anonymous.
//!
//! Handlers are grouped by resource: [`home`] (front page and listings),
//! [`accounts`] (sign-up, profile, password), [`orgs`] (new organization,
//! members),
//! [`profiles`] (users and organizations), [`repos`] (the repo page) and
//! [`files`] (tree, blob, raw), [`history`] (commits, one commit's diff);
//! [`render`] holds the templates and the page
//! response, [`markdown`] the model-card pipeline (comrak, then ammonia).

pub mod accounts;
pub mod error;
pub mod files;
pub mod history;
pub mod home;
pub mod last_changes;
pub mod markdown;
pub mod orgs;
pub mod profiles;
pub mod render;
pub mod repos;
pub mod router;
pub mod session;
pub mod settings;
pub mod storage;

pub use error::{WebError, WebResult};
pub use router::router;
