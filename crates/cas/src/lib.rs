//! The Xet CAS surface (`/v1`, `/v2`), as hf_xet 1.8.0 calls it.

pub mod router;

pub use router::router;
