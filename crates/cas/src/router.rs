//! Every CAS route.

use axum::Router;
use tessera_api::AppState;

/// The CAS routes.
pub fn router() -> Router<AppState> {
    Router::new()
}
