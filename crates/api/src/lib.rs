//! What every HTTP surface (CAS, Hub, git, web) shares: the application
//! state, the one API error type with HF's `X-Error-Code`/`X-Error-Message`
//! headers, authentication of users, access rules for repos, the signed
//! tokens and URLs of the Xet CAS, the rules every commit obeys ([`policy`]), and the one declaration of every metric.

pub mod access;
pub mod accounts;
pub mod auth;
pub mod error;
pub mod metrics;
pub mod names;
pub mod passwords;
pub mod policy;
pub mod range;
pub mod repo_url;
pub mod signing;
pub mod state;
pub mod time;
pub mod xet_token;

pub use error::{ApiError, ApiResult};
pub use state::{App, AppState, Signup};
