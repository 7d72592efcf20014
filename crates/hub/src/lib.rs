//! The Hugging Face Hub API surface (`/api/...` and `/{repo}/resolve/...`).

pub mod router;

pub use router::router;
