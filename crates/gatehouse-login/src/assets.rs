//! The stylesheets and the one script, served by the router itself (no static file directory to
//! deploy): `gatehouse.css` (embedded at build time), `brand.css` (generated from the branding
//! configuration) and `passkey.js` (embedded; the passkey buttons, which need WebAuthn's
//! JavaScript API). Pages link them with a content fingerprint (`?v=`), so they are cached for a
//! year and a new build or a new colour is fetched at once.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::secret::KeyedHasher;

use crate::branding::{Branding, brand_css};
use crate::state::LoginState;

const GATEHOUSE_CSS: &str = include_str!("../static/gatehouse.css");
const PASSKEY_JS: &str = include_str!("../static/passkey.js");

/// The login UI's stylesheet, for other pages built on the same kit (the operator console).
pub fn stylesheet() -> &'static str {
    GATEHOUSE_CSS
}

/// A short content fingerprint for a stylesheet link's `?v=`.
pub fn fingerprint_of(content: &str) -> String {
    fingerprint(content)
}

#[derive(Debug, Clone)]
pub struct Assets {
    brand_css: String,
    /// The `href`s pages link.
    pub css_href: String,
    pub brand_css_href: String,
    pub passkey_js_href: String,
}

impl Assets {
    /// `base_path` is the issuer's path, under which the stylesheets are served.
    pub fn new(branding: &Branding, base_path: &str) -> Self {
        let brand_css = brand_css(branding);
        Self {
            css_href: format!(
                "{base_path}/ui/static/gatehouse.css?v={}",
                fingerprint(GATEHOUSE_CSS)
            ),
            brand_css_href: format!(
                "{base_path}/ui/static/brand.css?v={}",
                fingerprint(&brand_css)
            ),
            passkey_js_href: format!(
                "{base_path}/ui/static/passkey.js?v={}",
                fingerprint(PASSKEY_JS)
            ),
            brand_css,
        }
    }
}

fn fingerprint(content: &str) -> String {
    let hash = KeyedHasher::new(b"gatehouse-login", "asset-fingerprint").hash(content);
    hash.chars().take(12).collect()
}

pub async fn serve(State(state): State<LoginState>, Path(file): Path<String>) -> Response {
    let css = HeaderValue::from_static("text/css; charset=utf-8");
    let (body, content_type) = match file.as_str() {
        "gatehouse.css" => (GATEHOUSE_CSS.to_owned(), css),
        "brand.css" => (state.assets().brand_css.clone(), css),
        "passkey.js" => (
            PASSKEY_JS.to_owned(),
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        ),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        body,
    )
        .into_response()
}
