//! Accounts in the browser: sign-up at `/join`, as the server's sign-up
//! policy allows (off, open, or with an invitation), and the signed-in
//! user's profile and password at `/settings/profile`.
//!
//! The name and password rules are the API's (`tessera_api::accounts`).
//! A password change checks the current password (failures count towards
//! the sign-in lockout) and ends every other session of the user.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tessera_api::accounts::sign_up;
use tessera_api::auth::Principal;
use tessera_api::passwords::{hash_password, verify_password};
use tessera_api::time::now_ms;
use tessera_api::{ApiError, AppState, Signup};

use crate::error::{WebResult, form_refusal};
use crate::render::{Page, render};
use crate::session::{LOCK_MS, MAX_FAILED_LOGINS, Visitor, form_fields, session_id_hash, sign_in_first, start_session};

/// Where the profile page lives.
const PROFILE_PATH: &str = "/settings/profile";

/// Longest full name accepted.
const MAX_FULL_NAME_CHARS: usize = 100;

#[derive(Debug, Serialize)]
struct JoinPage {
    /// `off`, `open` or `invite`.
    signup: &'static str,
    username: String,
    invite: String,
    error: Option<String>,
}

/// The query of `/join`: an invitation link's code.
#[derive(Debug, Deserialize)]
pub struct JoinQuery {
    invite: Option<String>,
}

fn signup_name(policy: Signup) -> &'static str {
    match policy {
        Signup::Off => "off",
        Signup::Open => "open",
        Signup::Invite => "invite",
    }
}

/// `GET /join[?invite=CODE]`: the sign-up form, or why sign-up is closed.
pub async fn join_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<JoinQuery>,
) -> WebResult<Page> {
    let page = JoinPage {
        signup: signup_name(state.signup),
        username: String::new(),
        invite: query.invite.unwrap_or_default(),
        error: None,
    };
    render(&visitor, "join.html", &page)
}

/// `POST /join` with `username`, `password`, `password_confirm` (and
/// `invite`): a new account, signed in at once.
pub async fn join(State(state): State<AppState>, visitor: Visitor, body: Bytes) -> WebResult<Response> {
    let form = form_fields(&body);
    let field = |key: &str| form.get(key).cloned().unwrap_or_default();
    let username = field("username").trim().to_owned();
    let (password, invite) = (field("password"), field("invite"));
    let outcome = if password != field("password_confirm") {
        Err(ApiError::BadRequest("The two passwords differ".into()))
    } else {
        sign_up(state.db.as_ref(), state.signup, &username, &password, Some(invite.as_str())).await
    };
    match outcome {
        Ok(user) => start_session(&state, &user, &format!("/{}", user.name)).await,
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            let page = JoinPage { signup: signup_name(state.signup), username, invite, error: Some(message) };
            Ok(render(&visitor, "join.html", &page)?.with_status(status).into_response())
        }
    }
}

/// One organization on the profile page.
#[derive(Debug, Serialize)]
struct OrgRow {
    name: String,
    role: &'static str,
    manage: bool,
}

#[derive(Debug, Serialize)]
struct ProfilePage {
    name: String,
    full_name: String,
    orgs: Vec<OrgRow>,
    notice: Option<String>,
    error: Option<String>,
}

async fn profile_page(
    state: &AppState,
    visitor: &Visitor,
    principal: &Principal,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> WebResult<Response> {
    let user = &principal.user;
    let orgs = state
        .db
        .user_orgs(user.id)
        .await?
        .into_iter()
        .map(|membership| OrgRow {
            manage: membership.role == tessera_db::OrgRole::Admin || user.is_admin,
            name: membership.org.name,
            role: membership.role.as_str(),
        })
        .collect();
    let page = ProfilePage {
        name: user.name.clone(),
        full_name: state.db.full_name(user.id).await?.unwrap_or_default(),
        orgs,
        notice,
        error,
    };
    let mut response = render(visitor, "settings_profile.html", &page)?.with_status(status).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /settings/profile`: the full name, the password, the organizations.
pub async fn profile(State(state): State<AppState>, visitor: Visitor) -> WebResult<Response> {
    let Some(principal) = visitor.0.0.as_ref() else { return Ok(sign_in_first(PROFILE_PATH)) };
    profile_page(&state, &visitor, principal, StatusCode::OK, None, None).await
}

/// Why `full_name` cannot be shown on a profile, if it cannot.
fn full_name_problem(full_name: &str) -> Option<String> {
    if full_name.chars().count() > MAX_FULL_NAME_CHARS {
        return Some(format!("A full name may have at most {MAX_FULL_NAME_CHARS} characters"));
    }
    full_name.chars().any(char::is_control).then(|| "A full name may not hold control characters".to_owned())
}

/// `POST /settings/profile` with `full_name`.
pub async fn update_profile(State(state): State<AppState>, visitor: Visitor, body: Bytes) -> WebResult<Response> {
    let Some(principal) = visitor.0.0.as_ref() else { return Ok(sign_in_first(PROFILE_PATH)) };
    visitor.0.require_full_write()?;
    let form = form_fields(&body);
    let full_name = form.get("full_name").map(|name| name.trim().to_owned()).unwrap_or_default();
    if let Some(problem) = full_name_problem(&full_name) {
        return profile_page(&state, &visitor, principal, StatusCode::BAD_REQUEST, None, Some(problem)).await;
    }
    let stored = (!full_name.is_empty()).then_some(full_name.as_str());
    state.db.set_full_name(principal.user.id, stored).await?;
    tracing::info!(user.id = principal.user.id, "profile updated");
    profile_page(&state, &visitor, principal, StatusCode::OK, Some("Profile saved.".into()), None).await
}

/// `POST /settings/password` with `current`, `password` and
/// `password_confirm`: a new password; every other session ends.
pub async fn change_password(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    body: Bytes,
) -> WebResult<Response> {
    let Some(principal) = visitor.0.0.as_ref() else { return Ok(sign_in_first(PROFILE_PATH)) };
    visitor.0.require_full_write()?;
    let user = &principal.user;
    let form = form_fields(&body);
    let field = |key: &str| form.get(key).cloned().unwrap_or_default();
    let refuse =
        |status, message: &str| profile_page(&state, &visitor, principal, status, None, Some(message.to_owned()));
    let now = now_ms();
    let login = state.db.login_state(user.id).await?.ok_or(ApiError::Unauthorized("Sign in again".into()))?;
    let current_ok = match login.password_hash {
        Some(hash) if login.locked_until <= now => verify_password(field("current"), hash).await?,
        // An account without a password (made by an admin) proves itself by its session.
        None => true,
        Some(_) => false,
    };
    if !current_ok {
        state.db.record_login_failure(user.id, now, MAX_FAILED_LOGINS, LOCK_MS).await?;
        return refuse(StatusCode::FORBIDDEN, "The current password is not right.").await;
    }
    let password = field("password");
    if password != field("password_confirm") {
        return refuse(StatusCode::BAD_REQUEST, "The two new passwords differ.").await;
    }
    let hash = match hash_password(password).await {
        Ok(hash) => hash,
        Err(ApiError::BadRequest(problem)) => return refuse(StatusCode::BAD_REQUEST, &problem).await,
        Err(other) => return Err(other.into()),
    };
    state.db.set_password_hash(user.id, Some(&hash)).await?;
    let keep = session_id_hash(&headers).unwrap_or_default();
    state.db.delete_other_sessions(user.id, &keep).await?;
    tracing::info!(user.id = user.id, "password changed; other sessions ended");
    profile_page(
        &state,
        &visitor,
        principal,
        StatusCode::OK,
        Some("Password changed; your other sessions are signed out.".into()),
        None,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_names_are_short_printable_text() {
        assert_eq!(full_name_problem("Ada Lovelace"), None);
        assert_eq!(full_name_problem("Zoë 🚀"), None);
        assert!(full_name_problem(&"x".repeat(101)).is_some());
        assert!(full_name_problem("two\nlines").is_some());
    }
}
