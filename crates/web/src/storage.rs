//! The storage panel: what a repo's or a file's large files (Xet and LFS)
//! hold against what their uploads added to the store, and the share
//! deduplicated; and the admin page `/admin` with the whole store's figures.
//!
//! An upload added the xorbs its file was the first to use (the database
//! keeps each xorb's first file). Xorbs packed by one upload session with
//! chunks of several files count for the first of those files, so per-file
//! figures are approximate and per-repo sums exact for the files they cover.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_api::access::require_site_admin;
use tessera_api::{ApiError, AppState};
use tessera_db::MetadataStore;
use tessera_formats::MerkleHash;

use crate::error::WebResult;
use crate::render::{decimal_size, render};
use crate::session::Visitor;

/// What a set of Xet files holds and what their uploads added.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StoragePanel {
    /// Distinct Xet files.
    pub files: usize,
    /// Σ of their sizes.
    pub logical: String,
    /// Serialized bytes their uploads added to the store.
    pub added: String,
    /// The same before compression.
    pub added_uncompressed: String,
    /// The share of the logical bytes that was already stored (or repeated within the upload), in percent.
    pub deduplicated_percent: String,
    /// Logical bytes per byte added.
    pub ratio: String,
}

/// `part` of `whole` in percent, one decimal.
fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0".to_owned();
    }
    format!("{:.1}", part as f64 * 100.0 / whole as f64)
}

/// `numerator / denominator` as `N.N×`, or `—` when nothing was added.
fn times(numerator: u64, denominator: u64) -> String {
    if denominator == 0 {
        return "—".to_owned();
    }
    format!("{:.1}×", numerator as f64 / denominator as f64)
}

/// The panel of Xet files `files` (hash → size; duplicates are counted once).
pub async fn panel(db: &dyn MetadataStore, files: &BTreeMap<MerkleHash, u64>) -> WebResult<Option<StoragePanel>> {
    if files.is_empty() {
        return Ok(None);
    }
    let hashes: Vec<MerkleHash> = files.keys().copied().collect();
    let stored = db.stored_by_files(&hashes).await?;
    let logical: u64 = files.values().sum();
    let added: u64 = stored.iter().map(|bytes| bytes.serialized).sum();
    let added_uncompressed: u64 = stored.iter().map(|bytes| bytes.uncompressed).sum();
    Ok(Some(StoragePanel {
        files: files.len(),
        logical: decimal_size(logical),
        added: decimal_size(added),
        added_uncompressed: decimal_size(added_uncompressed),
        deduplicated_percent: percent(logical.saturating_sub(added_uncompressed), logical),
        ratio: times(logical, added),
    }))
}

/// The whole store, for site admins.
#[derive(Debug, Serialize)]
struct AdminPage {
    users: i64,
    repos: i64,
    git_objects: i64,
    xet_files: i64,
    xorbs: i64,
    logical: String,
    unique: String,
    stored: String,
    deduplicated_percent: String,
    compression: String,
    ratio: String,
}

/// `GET /admin`: the store's figures (site admins; a 404 page for everyone else).
pub async fn admin(State(state): State<AppState>, visitor: Visitor) -> WebResult<Response> {
    if require_site_admin(&visitor.0).is_err() {
        return Err(ApiError::NotFound("No such page".into()).into());
    }
    let stats = state.db.stats().await?;
    let (logical, unique, stored) =
        (stats.xet_file_bytes as u64, stats.xorb_uncompressed_bytes as u64, stats.xorb_bytes as u64);
    let page = AdminPage {
        users: stats.users,
        repos: stats.repos,
        git_objects: stats.git_objects,
        xet_files: stats.xet_files,
        xorbs: stats.xorbs,
        logical: decimal_size(logical),
        unique: decimal_size(unique),
        stored: decimal_size(stored),
        deduplicated_percent: percent(logical.saturating_sub(unique), logical),
        compression: times(unique, stored),
        ratio: times(logical, stored),
    };
    Ok(render(&visitor, "admin.html", &page)?.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_ratios_read_well() {
        assert_eq!(percent(250, 1000), "25.0");
        assert_eq!(percent(0, 0), "0");
        assert_eq!(times(5_000, 1_000), "5.0×");
        assert_eq!(times(5, 0), "—");
    }
}
