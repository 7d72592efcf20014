//! Who the caller is: `GET /api/whoami-v2`.

use axum::Json;
use serde_json::{Value, json};
use tessera_api::ApiResult;
use tessera_api::auth::Caller;

/// `GET /api/whoami-v2`: the token's user and the token's name and role; 401 without a valid token.
pub async fn whoami(caller: Caller) -> ApiResult<Json<Value>> {
    let principal = caller.require()?;
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
                "displayName": principal.token_name,
                "role": principal.scope.as_str(),
            },
        },
    })))
}
