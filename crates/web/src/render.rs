//! The templates (embedded from the top-level `templates/`), the page
//! response with the UI's security headers, and the embedded stylesheet.

use std::sync::LazyLock;

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tera::{Context, Tera};

use crate::error::WebResult;
use crate::session::Visitor;

/// Every template, by name, embedded at build time.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../../templates/base.html")),
    ("error.html", include_str!("../../../templates/error.html")),
    ("home.html", include_str!("../../../templates/home.html")),
    ("listing.html", include_str!("../../../templates/listing.html")),
    ("profile.html", include_str!("../../../templates/profile.html")),
    ("repo.html", include_str!("../../../templates/repo.html")),
    ("tree.html", include_str!("../../../templates/tree.html")),
    ("blob.html", include_str!("../../../templates/blob.html")),
    ("macros.html", include_str!("../../../templates/macros.html")),
    ("commits.html", include_str!("../../../templates/commits.html")),
    ("commit.html", include_str!("../../../templates/commit.html")),
    ("login.html", include_str!("../../../templates/login.html")),
    ("tokens.html", include_str!("../../../templates/tokens.html")),
    ("new_repo.html", include_str!("../../../templates/new_repo.html")),
    ("repo_settings.html", include_str!("../../../templates/repo_settings.html")),
    ("join.html", include_str!("../../../templates/join.html")),
    ("settings_profile.html", include_str!("../../../templates/settings_profile.html")),
    ("new_org.html", include_str!("../../../templates/new_org.html")),
    ("org_members.html", include_str!("../../../templates/org_members.html")),
    ("admin.html", include_str!("../../../templates/admin.html")),
];

/// The stylesheet, served at [`STYLESHEET_PATH`].
pub const STYLESHEET: &str = include_str!("../../../templates/static/tessera.css");

/// Where the stylesheet is served.
pub const STYLESHEET_PATH: &str = "/static/tessera.css";

/// Pages may load only this server's styles, scripts and images, and may not be framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     script-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

static TERA: LazyLock<Tera> = LazyLock::new(|| {
    let mut tera = Tera::default();
    tera.add_raw_templates(TEMPLATES.to_vec()).expect("the embedded templates parse");
    tera.autoescape_on(vec![".html"]);
    tera
});

/// A rendered HTML page (or plain text) with the UI's headers.
#[derive(Debug)]
pub struct Page {
    status: StatusCode,
    content_type: &'static str,
    body: String,
}

impl Page {
    /// This page with another status (a form shown again with its error).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// A plain-text page, when even the error template failed.
    pub fn plain(status: StatusCode, body: String) -> Self {
        Self { status, content_type: "text/plain; charset=utf-8", body }
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let headers = [
            (header::CONTENT_TYPE, HeaderValue::from_static(self.content_type)),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin")),
            (HeaderName::from_static("x-frame-options"), HeaderValue::from_static("DENY")),
        ];
        (self.status, headers, self.body).into_response()
    }
}

/// Renders `template` with `context` for `visitor` (whose name the header shows) as a 200 page.
pub fn render(visitor: &Visitor, template: &str, context: &impl Serialize) -> WebResult<Page> {
    render_with_status(StatusCode::OK, visitor.name(), template, context)
}

/// Renders `template` with `context` and the layout's shared values.
pub(crate) fn render_with_status(
    status: StatusCode,
    viewer_name: Option<&str>,
    template: &str,
    context: &impl Serialize,
) -> WebResult<Page> {
    let mut context = Context::from_serialize(context)?;
    context.insert("stylesheet", STYLESHEET_PATH);
    context.insert("viewer_name", &viewer_name);
    let body = TERA.render(template, &context)?;
    Ok(Page { status, content_type: "text/html; charset=utf-8", body })
}

/// The error page.
pub fn render_error(status: StatusCode, title: &str, message: &str) -> WebResult<Page> {
    #[derive(Serialize)]
    struct ErrorPage<'a> {
        title: &'a str,
        status: u16,
        message: &'a str,
    }
    render_with_status(status, None, "error.html", &ErrorPage { title, status: status.as_u16(), message })
}

/// `GET /static/tessera.css`.
pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        STYLESHEET,
    )
}

/// A size in decimal units, as huggingface.co shows sizes: `907 Bytes`, `1.52 kB`, `548 MB`.
pub fn decimal_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes < 1000 {
        return format!("{bytes} Bytes");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.digits$} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_decimal() {
        assert_eq!(decimal_size(907), "907 Bytes");
        assert_eq!(decimal_size(1_520), "1.52 kB");
        assert_eq!(decimal_size(548_105_171), "548 MB");
        assert_eq!(decimal_size(32_600_000_000), "32.6 GB");
    }

    #[test]
    fn templates_parse() {
        LazyLock::force(&TERA);
    }
}
