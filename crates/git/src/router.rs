//! Every git smart HTTP route, for models at the root and for the
//! `datasets/` and `spaces/` prefixes (the repo name may end in `.git`).

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Extension, Router};
use tessera_api::AppState;
use tokio::sync::Semaphore;

use crate::cache::RepoCache;
use crate::{receive, upload};

/// What the git handlers share beyond the app state.
#[derive(Debug)]
pub struct GitService {
    /// The local repo copies git serves from.
    pub cache: RepoCache,
    /// Permits for `git upload-pack` processes (pack generation is CPU-heavy).
    pub pack_jobs: Arc<Semaphore>,
}

/// The git routes, serving from a cache under `cache`, with at most
/// `max_pack_jobs` upload-pack processes at once.
pub fn router(cache: RepoCache, max_pack_jobs: usize) -> Router<AppState> {
    let service = Arc::new(GitService { cache, pack_jobs: Arc::new(Semaphore::new(max_pack_jobs.max(1))) });
    let mut router = Router::new();
    for prefix in ["", "/datasets", "/spaces"] {
        router = router
            .route(&format!("{prefix}/{{namespace}}/{{repo}}/info/refs"), get(upload::info_refs))
            .route(
                &format!("{prefix}/{{namespace}}/{{repo}}/git-upload-pack"),
                post(upload::upload_pack).layer(DefaultBodyLimit::max(upload::MAX_REQUEST_BYTES as usize)),
            )
            .route(
                &format!("{prefix}/{{namespace}}/{{repo}}/git-receive-pack"),
                post(receive::receive_pack).layer(DefaultBodyLimit::max(receive::MAX_PUSH_BYTES as usize)),
            );
    }
    router.layer(Extension(service))
}
