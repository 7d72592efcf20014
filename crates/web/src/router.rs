//! Every web UI route, at huggingface.co's URL shapes. Static segments
//! (`/api`, `/models`, `/static`, …) win over the `/{namespace}` pages, and
//! those names are reserved for accounts (`tessera_api::names`).

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use tessera_api::{ApiError, AppState};

use crate::{accounts, files, history, home, orgs, profiles, render, repos, session, settings, storage};

/// The web UI routes.
pub fn router() -> Router<AppState> {
    let mut router = Router::new()
        .route("/", get(home::home))
        .route("/models", get(home::listing))
        .route("/datasets", get(home::listing))
        .route("/spaces", get(home::listing))
        .route(render::STYLESHEET_PATH, get(render::stylesheet))
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", post(session::logout))
        .route("/admin", get(storage::admin))
        .route("/join", get(accounts::join_form).post(accounts::join))
        .route("/settings/profile", get(accounts::profile).post(accounts::update_profile))
        .route("/settings/password", post(accounts::change_password))
        .route("/organizations/new", get(orgs::new_form).post(orgs::create))
        .route("/organizations/{org}/settings/members", get(orgs::members).post(orgs::update_members))
        .route("/settings/tokens", get(settings::tokens).post(settings::create))
        .route("/settings/tokens/{id}/delete", post(settings::revoke))
        .route("/new", get(repos::new_form).post(repos::create))
        .route("/new-dataset", get(repos::new_form).post(repos::create))
        .route("/new-space", get(repos::new_form).post(repos::create))
        .route("/{namespace}", get(profiles::show));
    for prefix in ["", "/datasets", "/spaces"] {
        let repo = format!("{prefix}/{{namespace}}/{{name}}");
        router = router
            .route(&repo, get(repos::show))
            .route(&format!("{repo}/tree/{{rev}}"), get(files::tree))
            .route(&format!("{repo}/tree/{{rev}}/{{*path}}"), get(files::tree))
            .route(&format!("{repo}/blob/{{rev}}/{{*path}}"), get(files::blob))
            .route(&format!("{repo}/raw/{{rev}}/{{*path}}"), get(files::raw))
            .route(&format!("{repo}/commits/{{rev}}"), get(history::commits))
            .route(&format!("{repo}/commits/{{rev}}/{{*path}}"), get(history::commits))
            .route(&format!("{repo}/commit/{{sha}}"), get(history::commit))
            .route(&format!("{repo}/settings"), get(repos::settings).post(repos::update_settings));
    }
    // `/datasets/{x}` names no repo (a dataset id has two parts).
    router
        .route("/datasets/{namespace}", get(|| async { crate::WebError::from(ApiError::RepoNotFound) }))
        .route("/spaces/{namespace}", get(|| async { crate::WebError::from(ApiError::RepoNotFound) }))
        .route_layer(middleware::from_fn(session::same_origin_posts))
}
