//! Every Hub route.

use axum::Router;
use tessera_api::AppState;

/// The Hub routes.
pub fn router() -> Router<AppState> {
    Router::new()
}
