//! Every Git LFS route.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tessera_api::AppState;

use crate::{batch, locks, objects};

/// Largest batch or locking request body.
const API_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// The Git LFS routes: the batch and locking endpoints under each repo's LFS
/// URL (models at the root, `datasets/` and `spaces/` prefixed; `{repo}` may
/// end in `.git`), and the signed object hrefs.
pub fn router() -> Router<AppState> {
    let mut router = Router::new();
    for prefix in ["", "/datasets", "/spaces"] {
        let lfs = format!("{prefix}/{{namespace}}/{{repo}}/info/lfs");
        router = router
            .route(&format!("{lfs}/objects/batch"), post(batch::batch))
            .route(&format!("{lfs}/locks"), get(locks::list).post(locks::create))
            .route(&format!("{lfs}/locks/verify"), post(locks::verify))
            .route(&format!("{lfs}/locks/{{id}}/unlock"), post(locks::unlock));
    }
    router
        .layer(DefaultBodyLimit::max(API_BODY_LIMIT))
        .route(
            "/api/lfs/objects/{repo_id}/{oid}",
            get(objects::download).put(objects::upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/lfs/verify/{repo_id}/{oid}", post(objects::verify))
}
