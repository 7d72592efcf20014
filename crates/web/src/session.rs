//! Browser sign-in: `GET|POST /login`, `POST /logout`, the session cookie,
//! and who a page's visitor is ([`Visitor`]).
//!
//! A session id is 32 random bytes in an `HttpOnly; SameSite=Lax` cookie
//! (`Secure` when the public URL is https); the database keeps only its
//! sha256, so sessions survive restarts and work on every process. The
//! cookie is accepted by web pages only: the API, CAS, git and LFS take
//! tokens only. Ten failed sign-ins in a row lock an account for fifteen
//! minutes, and every failure gets the same message. State changes are
//! POSTs, and [`same_origin_posts`] refuses cross-origin ones.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use serde::Serialize;
use sha2::Digest as _;
use tessera_api::auth::{Caller, Principal};
use tessera_api::passwords::verify_password;
use tessera_api::time::now_ms;
use tessera_api::{ApiError, AppState, Signup};
use tessera_db::{Token, TokenScope, User};
use tokio::sync::Semaphore;

use crate::error::WebResult;
use crate::render::{Page, render_with_status};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "tessera_session";

/// How long a session lives, in milliseconds (30 days).
const SESSION_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

/// Failed sign-ins in a row that lock an account.
pub(crate) const MAX_FAILED_LOGINS: i64 = 10;

/// How long a locked account stays locked, in milliseconds.
pub(crate) const LOCK_MS: i64 = 15 * 60 * 1000;

/// The one answer to a failed sign-in, whatever failed.
const LOGIN_FAILED: &str = "Invalid username or password.";

/// Password checks in flight at once (each takes about 19 MiB and a core for a moment).
static PASSWORD_CHECKS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(4));

/// A page's visitor: a token in `Authorization` (scripts), a browser
/// session, or nobody. Pages ask the access rule with it.
#[derive(Debug, Clone)]
pub struct Visitor(pub Caller);

impl Visitor {
    /// The signed-in user's name.
    pub fn name(&self) -> Option<&str> {
        self.0.0.as_ref().map(|principal| principal.user.name.as_str())
    }
}

/// The stand-in token of a browser session: what the user may do, nothing
/// more; never used to mint CAS tokens or links.
fn session_token(user: &User) -> Token {
    Token {
        id: 0,
        user_id: user.id,
        name: "browser session".into(),
        scope: TokenScope::Write,
        grants: Vec::new(),
        created_at: 0,
    }
}

fn hash_session_id(id: &str) -> Vec<u8> {
    sha2::Sha256::digest(id.as_bytes()).to_vec()
}

/// The value of the session cookie, if the request has one.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|value| value.to_str().ok()).find_map(|cookies| {
        cookies.split(';').find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE && !value.is_empty()).then(|| value.to_owned())
        })
    })
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = crate::WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            return Ok(Self(Caller::from_request_parts(parts, state).await?));
        }
        let Some(id) = session_cookie(&parts.headers) else { return Ok(Self(Caller(None))) };
        match state.db.session_user(&hash_session_id(&id), now_ms()).await? {
            Some(user) => {
                let token = session_token(&user);
                Ok(Self(Caller(Some(Principal { user, token }))))
            }
            None => Ok(Self(Caller(None))),
        }
    }
}

/// The cookie attributes: `Secure` when the server is reached over https.
fn cookie(state: &AppState, value: &str, max_age_secs: i64) -> WebResult<HeaderValue> {
    let secure = if state.public_url.starts_with("https://") { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    ))
    .map_err(|error| ApiError::internal(error).into())
}

/// The fields of a submitted form (the last value of a repeated field).
pub fn form_fields(body: &[u8]) -> HashMap<String, String> {
    tessera_hub::extract::form_pairs(body).into_iter().collect()
}

/// To the sign-in page, which comes back to `path` (a page for signed-in users).
pub fn sign_in_first(path: &str) -> Response {
    Redirect::to(&format!("/login?next={path}")).into_response()
}

/// A local path to go to after signing in (never another site).
pub fn local_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => path.to_owned(),
        _ => "/".to_owned(),
    }
}

#[derive(Debug, Serialize)]
struct LoginPage<'a> {
    next: String,
    username: String,
    error: Option<&'a str>,
    /// Whether `/join` takes sign-ups.
    join: bool,
}

fn login_page(
    state: &AppState,
    status: StatusCode,
    next: String,
    username: String,
    error: Option<&str>,
) -> WebResult<Page> {
    let join = state.signup != Signup::Off;
    render_with_status(status, None, "login.html", &LoginPage { next, username, error, join })
}

/// `GET /login[?next=/path]`: the sign-in form.
pub async fn login_form(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> WebResult<Page> {
    login_page(&state, StatusCode::OK, local_next(query.get("next").map(String::as_str)), String::new(), None)
}

/// `POST /login` with `username`, `password` and `next`: a new session on
/// success; the same refusal for an unknown user, a wrong password, a
/// disabled or locked account.
pub async fn login(State(state): State<AppState>, body: Bytes) -> WebResult<Response> {
    let form = form_fields(&body);
    let username = form.get("username").map(|name| name.trim().to_owned()).unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    let next = local_next(form.get("next").map(String::as_str));
    let now = now_ms();
    let user = match state.db.user_by_name(&username).await? {
        Some(user) if !user.is_org() && !user.disabled => Some(user),
        _ => None,
    };
    let mut signed_in = None;
    if let Some(user) = user
        && let Some(login) = state.db.login_state(user.id).await?
        && login.locked_until <= now
        && let Some(hash) = login.password_hash
    {
        let _permit = PASSWORD_CHECKS.acquire().await.map_err(ApiError::internal)?;
        if verify_password(password, hash).await? {
            signed_in = Some(user);
        } else {
            state.db.record_login_failure(user.id, now, MAX_FAILED_LOGINS, LOCK_MS).await?;
        }
    }
    let Some(user) = signed_in else {
        tracing::info!(login.outcome = "refused", "sign-in refused");
        return Ok(login_page(&state, StatusCode::UNAUTHORIZED, next, username, Some(LOGIN_FAILED))?.into_response());
    };
    start_session(&state, &user, &next).await
}

/// A new session for `user` (a new id at every sign-in, so a planted
/// cookie never becomes a session), answered by a redirect to `next`
/// that sets its cookie.
pub async fn start_session(state: &AppState, user: &User, next: &str) -> WebResult<Response> {
    let now = now_ms();
    let id = URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 32]>());
    state.db.create_session(&hash_session_id(&id), user.id, now, now + SESSION_TTL_MS).await?;
    tracing::info!(user.id = user.id, login.outcome = "signed-in", "signed in");
    let mut response = Redirect::to(next).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie(state, &id, SESSION_TTL_MS / 1000)?);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The hash of the request's session id, if it has a session cookie.
pub fn session_id_hash(headers: &HeaderMap) -> Option<Vec<u8>> {
    session_cookie(headers).map(|id| hash_session_id(&id))
}

/// `POST /logout`: ends the session and clears the cookie.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> WebResult<Response> {
    if let Some(id) = session_cookie(&headers) {
        state.db.delete_session(&hash_session_id(&id)).await?;
    }
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie(&state, "", 0)?);
    Ok(response)
}

/// Refuses (403) a state-changing request to a web page that a browser
/// sent from another site: its `Sec-Fetch-Site` says so, or its `Origin`
/// names another host than its `Host`. Requests with neither header (not
/// from a browser) pass.
pub async fn same_origin_posts(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let text = |name: header::HeaderName| headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let fetch_site = text(header::HeaderName::from_static("sec-fetch-site"));
    let origin = text(header::ORIGIN);
    let host = text(header::HOST);
    let same_origin = match (fetch_site.as_deref(), origin.as_deref()) {
        (Some("same-origin" | "none"), _) => true,
        (Some(_), _) => false,
        (None, Some(origin)) => host.is_some_and(|host| origin.split_once("://").is_some_and(|(_, rest)| rest == host)),
        (None, None) => true,
    };
    if same_origin {
        return next.run(request).await;
    }
    tracing::info!(request.origin = origin.as_deref().unwrap_or("-"), "cross-origin form refused");
    match crate::render::render_error(StatusCode::FORBIDDEN, "Not allowed", "Forms are accepted from this site only.") {
        Ok(page) => page.into_response(),
        Err(_) => StatusCode::FORBIDDEN.into_response(),
    }
}
