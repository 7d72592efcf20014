//! Opening the metadata and blob stores the settings name.

use std::sync::Arc;

use anyhow::Context as _;
use tessera_db::{MetadataStore, SqlStore};
use tessera_storage::{BlobStore, LocalBlobStore, S3BlobStore};

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

/// Opens (and migrates) the stores: blobs in S3 when a bucket is configured,
/// else under `<data dir>/blobs`.
pub async fn open(settings: &Settings) -> anyhow::Result<Stores> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    let db = SqlStore::connect(&settings.database_url).await.context("opening the metadata database")?;
    let db_backend = db.backend();
    let blobs: Arc<dyn BlobStore> = match &settings.s3 {
        Some(s3) => Arc::new(
            S3BlobStore::connect(s3)
                .await
                .with_context(|| format!("opening the S3 blob store (bucket {})", s3.bucket))?,
        ),
        None => Arc::new(
            LocalBlobStore::open(settings.data_dir.join("blobs")).await.context("opening the local blob store")?,
        ),
    };
    Ok(Stores { db: Arc::new(db), blobs, db_backend })
}
