//! [`S3BlobStore`]: objects in an S3 bucket, on AWS or any S3-compatible
//! server (path-style addressing for servers without virtual-host DNS).
//!
//! Reads are ranged `GetObject`s streamed as they arrive; streamed writes go
//! up as a multipart upload of [`PART_LEN`] parts (a single `PutObject` when
//! the whole stream fits in one part), so memory stays at two parts, and a
//! failed stream aborts the upload so no object appears. Parts double in
//! size every 1,000, so S3's 10,000-part limit is no practical size limit. Clients read xorbs through presigned `GetObject` URLs.
//!
//! Credentials come from the standard AWS chain (`AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY`, profiles, web identity, container and instance
//! roles); they and presigned URLs are never logged or put in errors. The
//! principal needs `s3:GetObject`, `s3:PutObject`, `s3:DeleteObject`,
//! `s3:AbortMultipartUpload` and `s3:ListBucket` (without the last, S3
//! answers 403 rather than 404 for missing objects). A lifecycle rule that
//! expires incomplete multipart uploads catches parts an abort missed (the
//! process died mid-upload).

use std::ops::Range;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::Region;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use futures::stream::BoxStream;
use tokio::task::JoinHandle;

use crate::{BlobStore, Result, StorageError, check_key};

/// Size of the parts of a multipart upload (S3 wants at least 5 MiB for all
/// but the last). A xorb (at most ~64 MiB) goes up in at most nine.
pub const PART_LEN: usize = 8 << 20;

/// The size of part `index` (from 0): [`PART_LEN`], doubling every 1,000 parts
/// (at most 4 GiB; S3 allows 5).
fn part_len(index: usize) -> usize {
    PART_LEN << (index / 1000).min(9)
}

/// Where an [`S3BlobStore`] keeps its objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// The bucket; it must exist.
    pub bucket: String,
    /// The S3 endpoint URL, for S3-compatible servers (`None`: AWS's own).
    pub endpoint: Option<String>,
    /// The region requests are signed for.
    pub region: String,
    /// Address buckets as `<endpoint>/<bucket>/<key>` rather than
    /// `<bucket>.<endpoint>/<key>` (most self-hosted servers need this).
    pub force_path_style: bool,
}

/// Objects in an S3 bucket.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Client,
    config: S3Config,
}

impl S3BlobStore {
    /// Connects with credentials from the standard AWS chain and checks that
    /// the bucket is reachable.
    pub async fn connect(config: &S3Config) -> Result<Self> {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(Region::new(config.region.clone()))
            .load()
            .await;
        Self::connect_with(config, &sdk).await
    }

    /// Connects with the credentials (and other settings) of `sdk`, the
    /// bucket, endpoint, region and addressing of `config` taking precedence,
    /// and checks that the bucket is reachable.
    pub async fn connect_with(config: &S3Config, sdk: &aws_config::SdkConfig) -> Result<Self> {
        let mut builder = aws_sdk_s3::config::Builder::from(sdk)
            .region(Region::new(config.region.clone()))
            .force_path_style(config.force_path_style);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        let store = Self { client: Client::from_conf(builder.build()), config: config.clone() };
        store
            .client
            .head_bucket()
            .bucket(&store.config.bucket)
            .send()
            .await
            .map_err(|error| backend(&store.config.bucket, &error))?;
        Ok(store)
    }

    /// The object's size, or `None` if there is none (after checking the key).
    async fn head(&self, key: &str) -> Result<Option<u64>> {
        check_key(key)?;
        match self.client.head_object().bucket(&self.config.bucket).key(key).send().await {
            Ok(head) => Ok(Some(head.content_length().unwrap_or(0).max(0) as u64)),
            Err(error) if status(&error) == Some(404) => Ok(None),
            Err(error) => Err(backend(key, &error)),
        }
    }

    /// `InvalidRange` for `range` of an object of `size` bytes (`NotFound` if
    /// there is no object).
    async fn invalid_range(&self, key: &str, range: &Range<u64>) -> StorageError {
        match self.head(key).await {
            Ok(Some(size)) => {
                StorageError::InvalidRange { key: key.to_owned(), start: range.start, end: range.end, size }
            }
            Ok(None) => StorageError::NotFound { key: key.to_owned() },
            Err(error) => error,
        }
    }
}

/// The HTTP status of a failed request, if the service answered.
fn status<E>(error: &SdkError<E>) -> Option<u16> {
    error.raw_response().map(|response| response.status().as_u16())
}

/// A failed request as a [`StorageError`]: 404 is `NotFound`, the rest
/// `Backend` with the SDK's full error chain.
fn backend<E: std::error::Error + Send + Sync + 'static>(key: &str, error: &SdkError<E>) -> StorageError {
    if status(error) == Some(404) {
        return StorageError::NotFound { key: key.to_owned() };
    }
    StorageError::Backend { key: key.to_owned(), message: DisplayErrorContext(error).to_string() }
}

/// The total size in a `Content-Range: bytes a-b/size` header.
fn content_range_size(header: &str) -> Option<u64> {
    header.rsplit_once('/')?.1.parse().ok()
}

/// A multipart upload in progress. Parts go up one at a time in the
/// background while the next one fills; dropping it unfinished (the request
/// was cancelled) aborts the upload in the background.
struct MultipartUpload {
    client: Client,
    bucket: String,
    key: String,
    upload_id: String,
    parts: Vec<CompletedPart>,
    in_flight: Option<JoinHandle<Result<CompletedPart>>>,
    finished: bool,
}

impl MultipartUpload {
    async fn start(store: &S3BlobStore, key: &str) -> Result<Self> {
        let created = store
            .client
            .create_multipart_upload()
            .bucket(&store.config.bucket)
            .key(key)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .send()
            .await
            .map_err(|error| backend(key, &error))?;
        let upload_id = created.upload_id().ok_or_else(|| StorageError::Backend {
            key: key.to_owned(),
            message: "CreateMultipartUpload answered without an upload id".into(),
        })?;
        Ok(Self {
            client: store.client.clone(),
            bucket: store.config.bucket.clone(),
            key: key.to_owned(),
            upload_id: upload_id.to_owned(),
            parts: Vec::new(),
            in_flight: None,
            finished: false,
        })
    }

    /// Parts uploaded or on their way.
    fn started_parts(&self) -> usize {
        self.parts.len() + usize::from(self.in_flight.is_some())
    }

    /// Waits for the part in flight, if any, and records it.
    async fn settle(&mut self) -> Result<()> {
        if let Some(task) = self.in_flight.take() {
            let part = task.await.map_err(|error| StorageError::Backend {
                key: self.key.clone(),
                message: format!("part upload task failed: {error}"),
            })??;
            self.parts.push(part);
        }
        Ok(())
    }

    /// Starts uploading `data` as the next part, once the previous one is up.
    async fn send(&mut self, data: Bytes) -> Result<()> {
        self.settle().await?;
        let number = (self.parts.len() + 1) as i32;
        let request = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(data));
        let key = self.key.clone();
        self.in_flight = Some(tokio::spawn(async move {
            let uploaded = request.send().await.map_err(|error| backend(&key, &error))?;
            Ok(CompletedPart::builder()
                .part_number(number)
                .set_e_tag(uploaded.e_tag().map(str::to_owned))
                .set_checksum_crc32(uploaded.checksum_crc32().map(str::to_owned))
                .build())
        }));
        Ok(())
    }

    async fn complete(mut self) -> Result<()> {
        self.settle().await?;
        let parts = CompletedMultipartUpload::builder().set_parts(Some(std::mem::take(&mut self.parts))).build();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .multipart_upload(parts)
            .send()
            .await
            .map_err(|error| backend(&self.key, &error))?;
        self.finished = true;
        Ok(())
    }

    /// Discards the parts uploaded so far; best effort (a bucket lifecycle
    /// rule for incomplete uploads catches what this misses).
    async fn abort(mut self) {
        if let Some(task) = self.in_flight.take() {
            let _ = task.await;
        }
        self.finished = true;
        let aborted =
            self.client.abort_multipart_upload().bucket(&self.bucket).key(&self.key).upload_id(&self.upload_id).send();
        if let Err(error) = aborted.await {
            tracing::warn!(key = %self.key, error = %DisplayErrorContext(&error), "aborting a multipart upload failed");
        }
    }
}

impl Drop for MultipartUpload {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let aborted =
            self.client.abort_multipart_upload().bucket(&self.bucket).key(&self.key).upload_id(&self.upload_id).send();
        let in_flight = self.in_flight.take();
        runtime.spawn(async move {
            if let Some(task) = in_flight {
                let _ = task.await;
            }
            let _ = aborted.await;
        });
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        check_key(key)?;
        self.client
            .put_object()
            .bucket(&self.config.bucket)
            .key(key)
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(|error| backend(key, &error))?;
        Ok(())
    }

    async fn put_stream(&self, key: &str, mut stream: BoxStream<'static, std::io::Result<Bytes>>) -> Result<u64> {
        check_key(key)?;
        let mut buffer = BytesMut::new();
        let mut upload: Option<MultipartUpload> = None;
        let mut written = 0u64;
        while let Some(piece) = stream.next().await {
            let piece = match piece {
                Ok(piece) => piece,
                Err(source) => {
                    if let Some(upload) = upload {
                        upload.abort().await;
                    }
                    return Err(StorageError::Io { key: key.to_owned(), source });
                }
            };
            written += piece.len() as u64;
            buffer.extend_from_slice(&piece);
            loop {
                let len = part_len(upload.as_ref().map_or(0, MultipartUpload::started_parts));
                if buffer.len() < len {
                    break;
                }
                let part = buffer.split_to(len).freeze();
                let mut current = match upload.take() {
                    Some(current) => current,
                    None => MultipartUpload::start(self, key).await?,
                };
                if let Err(error) = current.send(part).await {
                    current.abort().await;
                    return Err(error);
                }
                upload = Some(current);
            }
        }
        match upload {
            None => self.put(key, buffer.freeze()).await?,
            Some(mut upload) => {
                let last = if buffer.is_empty() { Ok(()) } else { upload.send(buffer.freeze()).await };
                match last {
                    // If completing fails, dropping the upload aborts it.
                    Ok(()) => upload.complete().await?,
                    Err(error) => {
                        upload.abort().await;
                        return Err(error);
                    }
                }
            }
        }
        Ok(written)
    }

    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Bytes> {
        let Some(range) = range else {
            check_key(key)?;
            let object = self
                .client
                .get_object()
                .bucket(&self.config.bucket)
                .key(key)
                .send()
                .await
                .map_err(|error| backend(key, &error))?;
            let body = object.body.collect().await.map_err(|error| StorageError::Backend {
                key: key.to_owned(),
                message: DisplayErrorContext(&error).to_string(),
            })?;
            return Ok(body.into_bytes());
        };
        let mut stream = self.get_stream(key, range.clone()).await?;
        let mut bytes = BytesMut::with_capacity((range.end - range.start) as usize);
        while let Some(piece) = stream.next().await {
            let piece = piece.map_err(|source| StorageError::Io { key: key.to_owned(), source })?;
            bytes.extend_from_slice(&piece);
        }
        Ok(bytes.freeze())
    }

    async fn get_stream(&self, key: &str, range: Range<u64>) -> Result<BoxStream<'static, std::io::Result<Bytes>>> {
        check_key(key)?;
        if range.start >= range.end {
            // HTTP cannot ask for no bytes: check the object and range by hand.
            return match self.head(key).await? {
                None => Err(StorageError::NotFound { key: key.to_owned() }),
                Some(size) if range.start == range.end && range.end <= size => Ok(futures::stream::empty().boxed()),
                Some(size) => {
                    Err(StorageError::InvalidRange { key: key.to_owned(), start: range.start, end: range.end, size })
                }
            };
        }
        let sent = self
            .client
            .get_object()
            .bucket(&self.config.bucket)
            .key(key)
            .range(format!("bytes={}-{}", range.start, range.end - 1))
            .send()
            .await;
        let object = match sent {
            Ok(object) => object,
            Err(error) if status(&error) == Some(416) => return Err(self.invalid_range(key, &range).await),
            Err(error) => return Err(backend(key, &error)),
        };
        // S3 shortens a range that runs past the end; we refuse it instead.
        if object.content_length() != Some((range.end - range.start) as i64) {
            let size = object.content_range().and_then(content_range_size);
            return Err(match size {
                Some(size) => {
                    StorageError::InvalidRange { key: key.to_owned(), start: range.start, end: range.end, size }
                }
                None => self.invalid_range(key, &range).await,
            });
        }
        let body = futures::stream::unfold(object.body, |mut body| async move {
            let piece = body.next().await?;
            Some((piece.map_err(std::io::Error::other), body))
        });
        Ok(body.boxed())
    }

    async fn size(&self, key: &str) -> Result<Option<u64>> {
        self.head(key).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        check_key(key)?;
        match self.client.delete_object().bucket(&self.config.bucket).key(key).send().await {
            Ok(_) => Ok(()),
            Err(error) if status(&error) == Some(404) => Ok(()),
            Err(error) => Err(backend(key, &error)),
        }
    }

    async fn presigned_get(&self, key: &str, expires_in: Duration) -> Result<Option<String>> {
        check_key(key)?;
        let presigning = PresigningConfig::expires_in(expires_in)
            .map_err(|error| StorageError::Backend { key: key.to_owned(), message: error.to_string() })?;
        let request = self
            .client
            .get_object()
            .bucket(&self.config.bucket)
            .key(key)
            .presigned(presigning)
            .await
            .map_err(|error| backend(key, &error))?;
        Ok(Some(request.uri().to_owned()))
    }

    fn describe(&self) -> String {
        let endpoint = self.config.endpoint.as_deref().unwrap_or("AWS");
        let style = if self.config.force_path_style { ", path-style" } else { "" };
        format!("S3 bucket {} at {endpoint} (region {}{style})", self.config.bucket, self.config.region)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_grow_so_objects_fit_in_10000() {
        assert_eq!(part_len(0), 8 << 20);
        assert_eq!(part_len(999), 8 << 20);
        assert_eq!(part_len(1000), 16 << 20);
        let capacity: u64 = (0..10_000).map(|index| part_len(index) as u64).sum();
        assert!(capacity > 5 << 40, "{capacity}");
    }

    #[test]
    fn content_range_gives_the_total_size() {
        assert_eq!(content_range_size("bytes 5-9/10"), Some(10));
        assert_eq!(content_range_size("bytes 5-9/*"), None);
        assert_eq!(content_range_size("nonsense"), None);
    }
}
