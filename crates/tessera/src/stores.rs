//! Opening the metadata and blob stores the settings name.

use std::sync::Arc;

use anyhow::Context as _;
use tessera_db::{MetadataStore, SqlStore};
use tessera_storage::{BlobStore, LocalBlobStore};

use crate::config::Settings;

/// The two durable stores.
pub struct Stores {
    /// Metadata.
    pub db: Arc<dyn MetadataStore>,
    /// Blobs.
    pub blobs: Arc<dyn BlobStore>,
    /// `sqlite` or `postgres`.
    pub db_backend: &'static str,
}

/// Opens (and migrates) the stores.
pub async fn open(settings: &Settings) -> anyhow::Result<Stores> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    let db = SqlStore::connect(&settings.database_url).await.context("opening the metadata database")?;
    let db_backend = db.backend();
    let blobs = LocalBlobStore::open(settings.data_dir.join("blobs")).await.context("opening the blob store")?;
    Ok(Stores { db: Arc::new(db), blobs: Arc::new(blobs), db_backend })
}
