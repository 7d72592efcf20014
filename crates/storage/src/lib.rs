//! Blob stores: where xorbs and other large objects live.
//!
//! [`BlobStore`] is the one trait of this backend family. [`LocalBlobStore`]
//! keeps objects as files under a directory (the embedded default);
//! [`S3BlobStore`] keeps them in an S3 bucket (AWS or any S3-compatible
//! server) and hands out presigned URLs so clients read xorbs straight from
//! the bucket. Keys are `/`-separated relative names such as `xorbs/<hash>`,
//! checked the same way by every backend. Writes are atomic on both: a reader
//! never sees half an object, and a failed streamed write leaves nothing.
//!
//! One story test (`tests/story.rs`) runs against every backend.

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};

mod s3;

pub use s3::{S3BlobStore, S3Config};

/// Size of the pieces streamed reads yield and streamed writes batch into.
const STREAM_PIECE_LEN: usize = 1 << 20;

/// Why a blob operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// No object under that key.
    #[error("blob {key} not found")]
    NotFound {
        /// The key asked for.
        key: String,
    },
    /// The key is not a valid relative name.
    #[error("invalid blob key {key:?}")]
    InvalidKey {
        /// The key given.
        key: String,
    },
    /// The requested range lies outside the object.
    #[error("range {start}..{end} is outside blob {key} of {size} bytes")]
    InvalidRange {
        /// The key asked for.
        key: String,
        /// Range start.
        start: u64,
        /// Range end (exclusive).
        end: u64,
        /// Object size.
        size: u64,
    },
    /// The backend failed.
    #[error("blob store I/O on {key}: {source}")]
    Io {
        /// The key being accessed.
        key: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A remote backend (S3) refused or failed a request; `message` is the
    /// backend's error chain (never credentials or signed URLs).
    #[error("blob store backend failed on {key}: {message}")]
    Backend {
        /// The key being accessed (the bucket, for bucket-wide requests).
        key: String,
        /// What the backend reported.
        message: String,
    },
}

/// Short-hand result for this crate.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// A store of immutable, named byte objects.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores `data` under `key`, replacing any previous object atomically.
    async fn put(&self, key: &str, data: Bytes) -> Result<()>;

    /// Stores the bytes of `stream` under `key` as they arrive; the object
    /// appears (atomically) only if the stream ends without an error, and the
    /// stream's error is returned otherwise. Returns the bytes written.
    async fn put_stream(&self, key: &str, stream: BoxStream<'static, std::io::Result<Bytes>>) -> Result<u64>;

    /// Reads the whole object, or the end-exclusive `range` of it.
    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Bytes>;

    /// Streams the end-exclusive `range` of the object, so a large read never
    /// sits in memory whole. Fails up front if the object or range is invalid.
    async fn get_stream(&self, key: &str, range: Range<u64>) -> Result<BoxStream<'static, std::io::Result<Bytes>>>;

    /// The object's size, or `None` if there is no such object.
    async fn size(&self, key: &str) -> Result<Option<u64>>;

    /// Removes the object; removing a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<()>;

    /// A URL from which anyone may GET the object (with `Range`) until it
    /// expires, for stores that can sign one (S3); `None` otherwise, and the
    /// server then serves the bytes itself behind its own signed URL.
    async fn presigned_get(&self, key: &str, expires_in: Duration) -> Result<Option<String>>;

    /// A short description for logs (no secrets).
    fn describe(&self) -> String;
}

/// Objects as files under a root directory.
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    /// A store rooted at `root`, created if missing.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let tmp = root.join(".tmp");
        tokio::fs::create_dir_all(&tmp)
            .await
            .map_err(|source| StorageError::Io { key: tmp.display().to_string(), source })?;
        Ok(Self { root })
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        check_key(key)?;
        Ok(self.root.join(key))
    }
}

/// Accepts only relative `/`-separated names without empty, `.`, `..` or
/// `.tmp…` parts or backslashes, so no key escapes a directory or collides
/// with a store's own temporary names, on any backend.
fn check_key(key: &str) -> Result<()> {
    let valid = !key.is_empty()
        && !key.starts_with('/')
        && key.split('/').all(|part| !part.is_empty() && part != "." && part != ".." && !part.starts_with(".tmp"))
        && !key.contains('\\');
    if valid { Ok(()) } else { Err(StorageError::InvalidKey { key: key.to_owned() }) }
}

fn io(key: &str) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            StorageError::NotFound { key: key.to_owned() }
        } else {
            StorageError::Io { key: key.to_owned(), source }
        }
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        let path = self.path(key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io(key))?;
        }
        let temporary = self.root.join(".tmp").join(format!("{:016x}", rand::random::<u64>()));
        let mut file = tokio::fs::File::create(&temporary).await.map_err(io(key))?;
        file.write_all(&data).await.map_err(io(key))?;
        file.sync_all().await.map_err(io(key))?;
        drop(file);
        tokio::fs::rename(&temporary, &path).await.map_err(io(key))?;
        Ok(())
    }

    async fn put_stream(&self, key: &str, mut stream: BoxStream<'static, std::io::Result<Bytes>>) -> Result<u64> {
        let path = self.path(key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io(key))?;
        }
        let temporary = self.root.join(".tmp").join(format!("{:016x}", rand::random::<u64>()));
        let written = async {
            // Request bodies arrive in small pieces; batch them into large writes.
            let mut file =
                tokio::io::BufWriter::with_capacity(STREAM_PIECE_LEN, tokio::fs::File::create(&temporary).await?);
            let mut written = 0u64;
            while let Some(piece) = stream.next().await {
                let piece = piece?;
                file.write_all(&piece).await?;
                written += piece.len() as u64;
            }
            file.flush().await?;
            file.get_ref().sync_all().await?;
            Ok::<u64, std::io::Error>(written)
        }
        .await;
        match written {
            Ok(written) => {
                tokio::fs::rename(&temporary, &path).await.map_err(io(key))?;
                Ok(written)
            }
            Err(source) => {
                // The partial object is garbage either way; nothing to report if removal fails.
                let _ = tokio::fs::remove_file(&temporary).await;
                Err(StorageError::Io { key: key.to_owned(), source })
            }
        }
    }

    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Bytes> {
        let path = self.path(key)?;
        let Some(range) = range else {
            return tokio::fs::read(&path).await.map(Bytes::from).map_err(io(key));
        };
        let mut file = tokio::fs::File::open(&path).await.map_err(io(key))?;
        let size = file.metadata().await.map_err(io(key))?.len();
        if range.start > range.end || range.end > size {
            return Err(StorageError::InvalidRange { key: key.to_owned(), start: range.start, end: range.end, size });
        }
        file.seek(std::io::SeekFrom::Start(range.start)).await.map_err(io(key))?;
        let mut buffer = vec![0u8; (range.end - range.start) as usize];
        file.read_exact(&mut buffer).await.map_err(io(key))?;
        Ok(Bytes::from(buffer))
    }

    async fn get_stream(&self, key: &str, range: Range<u64>) -> Result<BoxStream<'static, std::io::Result<Bytes>>> {
        let mut file = tokio::fs::File::open(self.path(key)?).await.map_err(io(key))?;
        let size = file.metadata().await.map_err(io(key))?.len();
        if range.start > range.end || range.end > size {
            return Err(StorageError::InvalidRange { key: key.to_owned(), start: range.start, end: range.end, size });
        }
        file.seek(std::io::SeekFrom::Start(range.start)).await.map_err(io(key))?;
        let reader = file.take(range.end - range.start);
        Ok(tokio_util::io::ReaderStream::with_capacity(reader, STREAM_PIECE_LEN).boxed())
    }

    async fn size(&self, key: &str) -> Result<Option<u64>> {
        match tokio::fs::metadata(self.path(key)?).await {
            Ok(metadata) => Ok(Some(metadata.len())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StorageError::Io { key: key.to_owned(), source }),
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StorageError::Io { key: key.to_owned(), source }),
        }
    }

    async fn presigned_get(&self, _key: &str, _expires_in: Duration) -> Result<Option<String>> {
        Ok(None)
    }

    fn describe(&self) -> String {
        format!("local disk at {}", self.root.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The behaviour every backend shares is in `tests/story.rs`; this is
    // what only the local store has: its temporary directory.
    #[tokio::test]
    async fn failed_streams_leave_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).await.unwrap();
        let failing = vec![Ok(Bytes::from_static(b"abc")), Err(std::io::Error::other("client went away"))];
        assert!(store.put_stream("s/bad", futures::stream::iter(failing).boxed()).await.is_err());
        assert_eq!(std::fs::read_dir(dir.path().join(".tmp")).unwrap().count(), 0);
    }
}
