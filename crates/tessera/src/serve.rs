//! `tessera serve`: one process serving the Hub API and the Xet CAS, plus the
//! operational routes: `GET /health` (the Hub's: the process serves),
//! `GET /ready` (the database and the blob store answer) and `GET /metrics`
//! (Prometheus text; the metrics are declared in `tessera_api::metrics`).
//!
//! Every request passes, outermost first: the request id (set if absent,
//! echoed in the response), a tracing span, and the HTTP metrics.
//!
//! What reaches the logs: the span records only the method, the matched
//! route *template* and the request id, never the URI, so the query strings
//! of signed data URLs (`/v1/xorb-data/{hash}?…&sig=…`) and any presigned
//! store URL stay out; no layer records headers, so `Authorization` tokens
//! stay out too (`request_logs_hold_no_signatures_or_tokens` checks both).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tessera_api::{AppState, metrics};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::Settings;
use crate::stores;

/// Server secret name in the settings table.
const SIGNING_SECRET: &str = "signing_secret";

/// The request id header.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Blob key `/ready` asks the size of: it need not exist, the store only has to answer.
const READY_PROBE_KEY: &str = "health/ready";

/// How long `/ready` waits for each store.
const READY_TIMEOUT: Duration = Duration::from_secs(3);

/// How often the Prometheus recorder drains its histogram buffers.
const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Runs the server until interrupted.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let stores = stores::open(&settings).await?;
    let secret = stores.db.setting_or_insert(SIGNING_SECRET, rand::random::<[u8; 32]>().to_vec()).await?;
    let listener =
        tokio::net::TcpListener::bind(settings.listen).await.with_context(|| format!("binding {}", settings.listen))?;
    let address = listener.local_addr()?;
    let public_url = settings.public_url.clone().unwrap_or_else(|| format!("http://{address}"));

    tracing::info!(
        db.backend = stores.db_backend,
        blobs = %stores.blobs.describe(),
        data_dir = %settings.data_dir.display(),
        xorb_uploads.max_concurrent = settings.max_concurrent_xorb_uploads,
        "stores open"
    );
    if stores.db.user_count().await? == 0 {
        println!(
            "No users yet. Create the first admin and its token with:\n  tessera admin user create <name> --admin{}",
            if settings.data_dir.as_os_str() == "data" {
                String::new()
            } else {
                format!(" --data-dir {}", settings.data_dir.display())
            }
        );
    }

    let state = AppState::new(
        stores.db,
        Arc::new(tessera_api::metrics::MeteredBlobStore::new(stores.blobs)),
        public_url.clone(),
        &secret,
        settings.max_concurrent_xorb_uploads,
    )
    .with_signup(settings.signup);
    // Uploads from before xorbs knew their first file (migration 0006), for the storage panel.
    let attributing = state.clone();
    tokio::spawn(async move {
        match attributing.db.attribute_earlier_uploads().await {
            Ok(0) => {}
            Ok(files) => tracing::info!(xet.files = files, "storage of earlier uploads attributed"),
            Err(error) => tracing::warn!(error = %error, "attributing earlier uploads failed; retried at next start"),
        }
    });
    let metrics_handle = metrics::install();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(METRICS_UPKEEP_INTERVAL);
        loop {
            ticks.tick().await;
            metrics_handle.run_upkeep();
        }
    });
    let git_cache = tessera_git::RepoCache::new(settings.data_dir.join("cache").join("git"));
    let git_version = git_cache.git_version().await?;
    tracing::info!(git.version = %git_version, "git found");
    let app = router(state, git_cache);

    // The first stdout line tests read to find the port.
    println!("tessera listening on {public_url}");
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    Ok(())
}

/// Every route of the server with its layers (see the module docs).
fn router(state: AppState, git_cache: tessera_git::RepoCache) -> Router {
    let prometheus = metrics::install();
    let pack_jobs = std::thread::available_parallelism().map_or(2, |cores| cores.get() * 2);
    tessera_hub::router()
        .merge(tessera_cas::router())
        .merge(tessera_lfs::router())
        .merge(tessera_git::router(git_cache, pack_jobs))
        .merge(tessera_web::router())
        .route("/ready", get(ready))
        .route(
            "/metrics",
            get(move || {
                let text = prometheus.render();
                async move { ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text) }
            }),
        )
        .fallback(|| async { tessera_api::ApiError::NotFound("No such route".into()) })
        .with_state(state)
        .layer(middleware::from_fn(tessera_api::access::locate_moved_repos))
        .layer(middleware::from_fn(record_http_metrics))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// The route template a request matched, or [`metrics::UNMATCHED_ROUTE`].
fn route_of(request: &Request) -> &str {
    request.extensions().get::<MatchedPath>().map_or(metrics::UNMATCHED_ROUTE, MatchedPath::as_str)
}

/// The span of one request: method, matched route template and request id
/// only. Never the URI (signed query strings) nor headers (tokens).
fn request_span(request: &Request) -> tracing::Span {
    let id = request.headers().get(REQUEST_ID).and_then(|value| value.to_str().ok()).unwrap_or("-");
    tracing::info_span!("request", http.method = %request.method(), http.route = route_of(request), request.id = id)
}

/// Records the HTTP metrics of one request: count and duration once the
/// response head is ready, body bytes in and out as they stream.
async fn record_http_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = metrics::method_label(request.method());
    let route = route_of(&request).to_owned();
    let received = metrics::http_request_bytes(method, &route);
    let request = request.map(|body| count_bytes(body, move |n| received.increment(n)));
    let response = next.run(request).await;
    metrics::http_request(method, &route, response.status().as_u16(), started.elapsed());
    let sent = metrics::http_response_bytes(method, &route);
    response.map(|body| count_bytes(body, move |n| sent.increment(n)))
}

/// `body`, unchanged (size hint included, so `Content-Length` survives),
/// calling `count` with the length of each data frame.
fn count_bytes(body: Body, count: impl Fn(u64) + Send + Sync + Unpin + 'static) -> Body {
    Body::new(Counted { inner: body, count })
}

/// A body that reports the length of each data frame as it passes.
struct Counted<F> {
    inner: Body,
    count: F,
}

impl<F: Fn(u64) + Unpin> http_body::Body for Counted<F> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            (this.count)(data.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// `GET /ready`: 200 when the database and the blob store both answer, else
/// 503; the JSON body says which failed (the cause is logged, not sent).
async fn ready(State(state): State<AppState>) -> Response {
    let database = async {
        match tokio::time::timeout(READY_TIMEOUT, state.db.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("timed out".to_owned()),
        }
    };
    let blob_store = async {
        match tokio::time::timeout(READY_TIMEOUT, state.blobs.size(READY_PROBE_KEY)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("timed out".to_owned()),
        }
    };
    let (database, blob_store) = tokio::join!(database, blob_store);
    let mut body = json!({});
    for (name, outcome) in [("database", &database), ("blob_store", &blob_store)] {
        body[name] = json!(if outcome.is_ok() { "ok" } else { "failed" });
        if let Err(cause) = outcome {
            tracing::warn!(check = name, error.cause = %cause, "not ready");
        }
    }
    let ready = database.is_ok() && blob_store.is_ok();
    body["status"] = json!(if ready { "ready" } else { "unavailable" });
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json::<Value>(body)).into_response()
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Mutex;

    use axum::http::Request;
    use http_body_util::BodyExt as _;
    use tessera_db::SqlStore;
    use tessera_storage::LocalBlobStore;
    use tower::ServiceExt as _;

    use super::*;

    /// A xorb hash that must never appear as a label.
    const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    async fn state(dir: &std::path::Path) -> AppState {
        let db = SqlStore::connect(&format!("sqlite://{}?mode=rwc", dir.join("t.db").display())).await.unwrap();
        let blobs = LocalBlobStore::open(dir.join("blobs")).await.unwrap();
        AppState::new(Arc::new(db), Arc::new(blobs), "http://127.0.0.1:9".into(), b"test secret", 1)
    }

    async fn send(app: &Router, request: Request<Body>) -> (StatusCode, String) {
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    fn get(uri: &str) -> Request<Body> {
        Request::builder().uri(uri).body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn metrics_are_labelled_by_route_template() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(state(dir.path()).await, tessera_git::RepoCache::new(dir.path().join("git")));
        let upload = Request::builder()
            .method("POST")
            .uri(format!("/v1/xorbs/default/{HASH}"))
            .body(Body::from(vec![0u8; 1000]))
            .unwrap();
        let (status, _) = send(&app, upload).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, body) = send(&app, get(&format!("/no/such/{HASH}"))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, r#"{"error":"No such route"}"#);

        let (status, text) = send(&app, get("/metrics")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            text.contains(r#"http_requests_total{method="POST",route="/v1/xorbs/{prefix}/{hash}",status="401"} "#),
            "{text}"
        );
        assert!(text.contains(r#"route="unmatched""#), "{text}");
        assert!(text.contains("http_request_duration_seconds_bucket{"), "{text}");
        assert!(
            text.contains(r#"http_response_bytes_total{method="POST",route="/v1/xorbs/{prefix}/{hash}"}"#),
            "{text}"
        );
        assert!(text.contains("# HELP http_requests_total"), "{text}");
        assert!(!text.contains(HASH), "a raw path leaked into a label: {text}");
    }

    #[tokio::test]
    async fn ready_names_the_store_that_fails() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(state(dir.path()).await, tessera_git::RepoCache::new(dir.path().join("git")));
        let (status, body) = send(&app, get("/ready")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body, json!({ "status": "ready", "database": "ok", "blob_store": "ok" }));
        let (status, body) = send(&app, get("/health")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
        // Counting body bytes keeps the exact size hint hyper derives Content-Length from.
        let response = app.clone().oneshot(get("/health")).await.unwrap();
        assert_eq!(http_body::Body::size_hint(response.body()).exact(), Some(2));

        // A file where the blob root should be: every lookup fails.
        std::fs::remove_dir_all(dir.path().join("blobs")).unwrap();
        std::fs::write(dir.path().join("blobs"), b"not a directory").unwrap();
        let (status, body) = send(&app, get("/ready")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body, json!({ "status": "unavailable", "database": "ok", "blob_store": "failed" }));
    }

    /// Log output collected in memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn request_logs_hold_no_signatures_or_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(state(dir.path()).await, tessera_git::RepoCache::new(dir.path().join("git")));
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let data_url = Request::builder()
            .uri(format!("/v1/xorb-data/{HASH}?start=0&end=9&exp=1&sig=SECRET-SIGNATURE"))
            .header("authorization", "Bearer hf_SECRET-TOKEN")
            .body(Body::empty())
            .unwrap();
        let (status, _) = send(&app, data_url).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let upload = Request::builder()
            .method("POST")
            .uri(format!("/v1/xorbs/default/{HASH}?token=SECRET-QUERY"))
            .header("authorization", "Bearer hf_SECRET-TOKEN")
            .body(Body::empty())
            .unwrap();
        send(&app, upload).await;

        let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(logs.contains(r#"http.route="/v1/xorb-data/{hash}""#), "the span is not logged: {logs}");
        assert!(!logs.contains("SECRET"), "a secret reached the logs: {logs}");
        assert!(!logs.contains(HASH), "a raw path reached the logs: {logs}");
    }
}
