//! Every Git LFS route.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tessera_api::AppState;

use crate::{batch, objects};

/// The Git LFS routes: the batch endpoint under each repo URL (models at the
/// root, `datasets/` and `spaces/` prefixed), and the signed object hrefs.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{namespace}/{repo}/info/lfs/objects/batch", post(batch::batch))
        .route("/datasets/{namespace}/{repo}/info/lfs/objects/batch", post(batch::batch))
        .route("/spaces/{namespace}/{repo}/info/lfs/objects/batch", post(batch::batch))
        .route(
            "/api/lfs/objects/{repo_id}/{oid}",
            get(objects::download).put(objects::upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/lfs/verify/{repo_id}/{oid}", post(objects::verify))
}
