//! Side routes: health, client-side stubs the Python client calls, and the
//! admin statistics.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use tessera_api::access::require_site_admin;
use tessera_api::auth::Caller;
use tessera_api::{ApiResult, AppState};

/// `GET /health`: `ok` while the process serves.
pub async fn health() -> &'static str {
    "ok"
}

/// `POST /api/validate-yaml`: README metadata is accepted as is.
pub async fn validate_yaml() -> Json<Value> {
    Json(json!({ "errors": [], "warnings": [] }))
}

/// `GET /api/agent-harnesses`: no agent registry.
pub async fn agent_harnesses() -> Json<Value> {
    Json(json!({ "standardEnvVars": [], "harnesses": {} }))
}

/// `HEAD|GET /api/telemetry/{*topic}`: accepted and dropped.
pub async fn telemetry() -> &'static str {
    ""
}

/// `GET /api/admin/stats`: store totals, for admins only.
pub async fn stats(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    require_site_admin(&caller)?;
    let stats = state.db.stats().await?;
    Ok(Json(json!({
        "users": stats.users,
        "repos": stats.repos,
        "xorbs": stats.xorbs,
        "xorbBytes": stats.xorb_bytes,
        "xorbUncompressedBytes": stats.xorb_uncompressed_bytes,
        "xetFiles": stats.xet_files,
        "xetFileBytes": stats.xet_file_bytes,
        "gitObjects": stats.git_objects,
    })))
}
