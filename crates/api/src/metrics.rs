//! Every Prometheus metric the server exports, declared here and nowhere
//! else: each has a name constant with its doc comment (also sent as the
//! `# HELP` text), and code records it only through the functions below.
//!
//! All metrics are per process (instance metrics): counters start at zero
//! when the process starts, so sum over instances in Prometheus. HTTP metrics
//! are labelled by the matched route *template* (`/v1/xorbs/{prefix}/{hash}`),
//! never the raw path, so repo names and hashes cannot explode cardinality;
//! requests that match no route share the label [`UNMATCHED_ROUTE`].
//!
//! [`install`] sets up the process-wide recorder once; until it is called
//! (in library tests, say) recording is a no-op.

use std::ops::Range;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use tessera_storage::{BlobStore, Result as StorageResult};

use metrics::{Counter, Unit, counter, describe_counter, describe_histogram, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests answered, by `method`, `route` template and `status` code.
pub const HTTP_REQUESTS_TOTAL: &str = "http_requests_total";
/// Time from receiving a request to its response head being ready, seconds,
/// by `method` and `route` template (streamed bodies continue after it).
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "http_request_duration_seconds";
/// Request body bytes received, by `method` and `route` template, counted as
/// the body is read.
pub const HTTP_REQUEST_BYTES_TOTAL: &str = "http_request_bytes_total";
/// Response body bytes sent, by `method` and `route` template, counted as
/// the body is written.
pub const HTTP_RESPONSE_BYTES_TOTAL: &str = "http_response_bytes_total";
/// Xorbs newly stored (uploads of a xorb the CAS already held are not counted).
pub const XORBS_STORED_TOTAL: &str = "xorbs_stored_total";
/// Serialized bytes of newly stored xorbs.
pub const XORB_BYTES_STORED_TOTAL: &str = "xorb_bytes_stored_total";
/// File bytes registered by shards without being uploaded: the bytes of
/// file terms that reference xorbs not uploaded in the same shard, i.e.
/// content deduplicated against what the CAS already held.
pub const DEDUP_BYTES_SAVED_TOTAL: &str = "dedup_bytes_saved_total";
/// Xorb uploads refused with 503 because the per-process cap on concurrent
/// uploads (`TESSERA_MAX_CONCURRENT_XORB_UPLOADS`) was reached.
pub const XORB_UPLOADS_REJECTED_BUSY_TOTAL: &str = "xorb_uploads_rejected_busy_total";

/// Bytes this process read from the blob store (server-side reads such as
/// plain `resolve` downloads of Xet files; presigned downloads bypass it).
/// Against response bytes it gives the read amplification of range reads.
pub const BLOB_READ_BYTES_TOTAL: &str = "blob_read_bytes_total";

/// The `route` label of requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Upper bounds of the request duration histogram, seconds.
const DURATION_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide Prometheus recorder and describes every metric;
/// later calls return the same handle. The caller should run
/// [`PrometheusHandle::run_upkeep`] periodically.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(HTTP_REQUEST_DURATION_SECONDS.to_owned()), DURATION_BUCKETS)
                .expect("duration buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            if let Err(error) = metrics::set_global_recorder(recorder) {
                tracing::warn!(error = %error, "another metrics recorder is installed; /metrics will stay empty");
            }
            describe();
            handle
        })
        .clone()
}

/// Registers the help text and unit of every metric.
fn describe() {
    describe_counter!(HTTP_REQUESTS_TOTAL, Unit::Count, "Requests answered, by method, route template and status.");
    describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Time until the response head is ready, by method and route template."
    );
    describe_counter!(
        HTTP_REQUEST_BYTES_TOTAL,
        Unit::Bytes,
        "Request body bytes received, by method and route template."
    );
    describe_counter!(
        HTTP_RESPONSE_BYTES_TOTAL,
        Unit::Bytes,
        "Response body bytes sent, by method and route template."
    );
    describe_counter!(XORBS_STORED_TOTAL, Unit::Count, "Xorbs newly stored.");
    describe_counter!(BLOB_READ_BYTES_TOTAL, Unit::Bytes, "Bytes read from the blob store by this process.");
    describe_counter!(XORB_BYTES_STORED_TOTAL, Unit::Bytes, "Serialized bytes of newly stored xorbs.");
    describe_counter!(
        DEDUP_BYTES_SAVED_TOTAL,
        Unit::Bytes,
        "File bytes registered by shards that referenced already stored xorbs instead of uploading them."
    );
    describe_counter!(
        XORB_UPLOADS_REJECTED_BUSY_TOTAL,
        Unit::Count,
        "Xorb uploads refused with 503 because the concurrent upload cap was reached."
    );
}

/// The `method` label: standard methods by name, anything else as `other`
/// (methods are client-chosen and must not grow the label set).
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Records one answered request.
pub fn http_request(method: &'static str, route: &str, status: u16, elapsed: Duration) {
    counter!(HTTP_REQUESTS_TOTAL, "method" => method, "route" => route.to_owned(), "status" => status.to_string())
        .increment(1);
    histogram!(HTTP_REQUEST_DURATION_SECONDS, "method" => method, "route" => route.to_owned())
        .record(elapsed.as_secs_f64());
}

/// The counter of request body bytes for `method` and `route`.
pub fn http_request_bytes(method: &'static str, route: &str) -> Counter {
    counter!(HTTP_REQUEST_BYTES_TOTAL, "method" => method, "route" => route.to_owned())
}

/// The counter of response body bytes for `method` and `route`.
pub fn http_response_bytes(method: &'static str, route: &str) -> Counter {
    counter!(HTTP_RESPONSE_BYTES_TOTAL, "method" => method, "route" => route.to_owned())
}

/// Records a newly stored xorb of `bytes` serialized bytes.
pub fn xorb_stored(bytes: u64) {
    counter!(XORBS_STORED_TOTAL).increment(1);
    counter!(XORB_BYTES_STORED_TOTAL).increment(bytes);
}

/// Records file bytes a shard registered without uploading them.
pub fn dedup_bytes_saved(bytes: u64) {
    counter!(DEDUP_BYTES_SAVED_TOTAL).increment(bytes);
}

/// Records a xorb upload refused because the server was busy.
pub fn xorb_upload_rejected_busy() {
    counter!(XORB_UPLOADS_REJECTED_BUSY_TOTAL).increment(1);
}

/// A blob store that counts the bytes read through it ([`BLOB_READ_BYTES_TOTAL`]).
pub struct MeteredBlobStore {
    inner: std::sync::Arc<dyn BlobStore>,
}

impl MeteredBlobStore {
    /// Counts the reads of `inner`.
    pub fn new(inner: std::sync::Arc<dyn BlobStore>) -> Self {
        Self { inner }
    }
}

#[async_trait::async_trait]
impl BlobStore for MeteredBlobStore {
    async fn put(&self, key: &str, data: Bytes) -> StorageResult<()> {
        self.inner.put(key, data).await
    }

    async fn put_stream(&self, key: &str, stream: BoxStream<'static, std::io::Result<Bytes>>) -> StorageResult<u64> {
        self.inner.put_stream(key, stream).await
    }

    async fn get(&self, key: &str, range: Option<Range<u64>>) -> StorageResult<Bytes> {
        let bytes = self.inner.get(key, range).await?;
        counter!(BLOB_READ_BYTES_TOTAL).increment(bytes.len() as u64);
        Ok(bytes)
    }

    async fn get_stream(
        &self,
        key: &str,
        range: Range<u64>,
    ) -> StorageResult<BoxStream<'static, std::io::Result<Bytes>>> {
        let read = counter!(BLOB_READ_BYTES_TOTAL);
        let stream = self.inner.get_stream(key, range).await?;
        Ok(stream
            .inspect(move |piece| {
                if let Ok(piece) = piece {
                    read.increment(piece.len() as u64);
                }
            })
            .boxed())
    }

    async fn size(&self, key: &str) -> StorageResult<Option<u64>> {
        self.inner.size(key).await
    }

    async fn delete(&self, key: &str) -> StorageResult<()> {
        self.inner.delete(key).await
    }

    async fn presigned_get(&self, key: &str, expires_in: Duration) -> StorageResult<Option<String>> {
        self.inner.presigned_get(key, expires_in).await
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn blob_reads_are_counted() {
        let handle = install();
        let dir = tempfile::tempdir().unwrap();
        let local = tessera_storage::LocalBlobStore::open(dir.path()).await.unwrap();
        let store = MeteredBlobStore::new(Arc::new(local));
        store.put("k", Bytes::from_static(b"0123456789")).await.unwrap();
        assert_eq!(store.get("k", Some(2..7)).await.unwrap(), Bytes::from_static(b"23456"));
        let streamed: Vec<_> = store.get_stream("k", 0..10).await.unwrap().collect().await;
        assert_eq!(streamed.iter().map(|piece| piece.as_ref().unwrap().len()).sum::<usize>(), 10);
        let text = handle.render();
        assert!(text.contains("blob_read_bytes_total 15"), "{text}");
    }
}
