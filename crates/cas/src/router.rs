//! Every CAS route, with the body limits of the protocol.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use tessera_api::AppState;
use tessera_formats::shard::MAX_SHARD_BYTES;
use tessera_formats::xorb::MAX_XORB_SERIALIZED_BYTES;

use crate::{data, dedup, reconstructions, shards, xorbs};

/// The CAS routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/xorbs/{prefix}/{hash}",
            post(xorbs::upload).head(xorbs::head).layer(DefaultBodyLimit::max(MAX_XORB_SERIALIZED_BYTES as usize)),
        )
        // Grants (presigned direct uploads) are not offered: 404 makes hf_xet upload directly.
        .route("/v1/xorb-grants/{prefix}/{hash}", post(|| async { StatusCode::NOT_FOUND }))
        .route("/v1/shards", post(shards::upload_v1).layer(DefaultBodyLimit::max(MAX_SHARD_BYTES)))
        .route("/v2/shards", post(shards::upload_v2).layer(DefaultBodyLimit::max(MAX_SHARD_BYTES)))
        .route("/v1/reconstructions/{file}", get(reconstructions::get_v1))
        .route("/v2/reconstructions/{file}", get(reconstructions::get_v2))
        .route("/v1/chunks/{prefix}/{hash}", get(dedup::query))
        .route("/v1/xorb-data/{hash}", get(data::get))
        .route("/v1/telemetry", post(|| async { StatusCode::OK }))
}
