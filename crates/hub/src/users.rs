//! Who the caller is: `GET /api/whoami-v2`.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use serde_json::{Value, json};
use tessera_api::auth::{Caller, hash_token, token_from_header};
use tessera_api::{ApiResult, AppState};

/// `GET /api/whoami-v2`: the token's user and the token's name and role; 401 without a valid token.
pub async fn whoami(State(state): State<AppState>, caller: Caller, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let principal = caller.require()?;
    // The caller extractor keeps the user and scope; the token's display name needs one more look-up.
    let secret = headers.get(AUTHORIZATION).and_then(|value| value.to_str().ok()).and_then(token_from_header);
    let display_name = match secret {
        Some(secret) => state.db.token_by_hash(&hash_token(&secret)).await?.map(|(_, token)| token.name),
        None => None,
    };
    let user = &principal.user;
    Ok(Json(json!({
        "type": "user",
        "id": format!("{:024x}", user.id),
        "name": user.name,
        "fullname": user.name,
        "email": null,
        "emailVerified": false,
        "isPro": false,
        "orgs": [],
        "auth": {
            "type": "access_token",
            "accessToken": {
                "displayName": display_name.unwrap_or_else(|| "token".to_owned()),
                "role": principal.scope.as_str(),
            },
        },
    })))
}
