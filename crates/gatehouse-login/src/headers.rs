//! Security headers on every response of the login UI.
//!
//! - `Content-Security-Policy`: no script (but the form post's auto-submission, allowed by its
//!   hash), styles and images from known places only,
//!   `frame-ancestors 'none'` (no clickjacking), `form-action` limited to this origin plus, on
//!   pages whose form ends in a redirect to a client, that client's origin: browsers apply
//!   `form-action` to the redirects that follow a form submission.
//! - `X-Frame-Options: DENY` for browsers without CSP level 2, `Referrer-Policy: no-referrer` (no
//!   challenge id or code leaks through `Referer`), `X-Content-Type-Options: nosniff`.
//! - `Cache-Control: no-store` unless the handler chose a caching policy (the stylesheets).
//!
//! It also tells the pages which page they are (`CURRENT_PAGE`), for the language switcher.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use url::Url;

use crate::page::CURRENT_PAGE;
use crate::state::LoginState;

/// A Content-Security-Policy with the sources a page needs beyond the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Csp {
    styles: Vec<String>,
    images: Vec<String>,
    form_targets: Vec<String>,
    /// `'sha256-…'` sources of inline scripts the page may run (none but the form post's), and
    /// `'self'` on the pages that load the passkey script.
    scripts: Vec<&'static str>,
    /// `connect-src 'self'`: the page's script may call this UI (the login page's passkey
    /// options); without it, no request from script at all.
    own_requests: bool,
}

impl Csp {
    /// The policy of every page: the branding's stylesheet and image origins added when they
    /// are not covered by the defaults.
    pub fn base(extra_css: Option<&str>, images: &[Option<&str>]) -> Self {
        let mut csp = Self::default();
        if let Some(origin) = extra_css.and_then(source_of) {
            csp.styles.push(origin);
        }
        for image in images.iter().flatten() {
            csp = csp.with_image(image);
        }
        csp
    }

    /// Allows the form on the page to lead (through a redirect) to `uri`'s origin.
    pub fn with_form_target(mut self, uri: &str) -> Self {
        if let Some(origin) = source_of(uri)
            && !self.form_targets.contains(&origin)
        {
            self.form_targets.push(origin);
        }
        self
    }

    /// Allows the inline script whose hash source is `hash`.
    pub fn with_script_hash(mut self, hash: &'static str) -> Self {
        if !self.scripts.contains(&hash) {
            self.scripts.push(hash);
        }
        self
    }

    /// Allows the UI's own script files (`/ui/static/passkey.js`), for the pages with a passkey
    /// form; still no inline script.
    pub fn with_own_scripts(self) -> Self {
        self.with_script_hash("'self'")
    }

    /// Allows the page's script to call this UI's own origin (`connect-src 'self'`).
    pub fn with_own_requests(mut self) -> Self {
        self.own_requests = true;
        self
    }

    /// Allows an image from `uri` when `https:` and `data:` do not already cover it.
    pub fn with_image(mut self, uri: &str) -> Self {
        if let Some(origin) = source_of(uri)
            && !origin.starts_with("https:")
            && !self.images.contains(&origin)
        {
            self.images.push(origin);
        }
        self
    }

    pub fn header_value(&self) -> HeaderValue {
        let join = |extra: &[String]| extra.iter().map(|s| format!(" {s}")).collect::<String>();
        let scripts = if self.scripts.is_empty() {
            String::new()
        } else {
            format!("; script-src {}", self.scripts.join(" "))
        };
        let connect = if self.own_requests {
            "; connect-src 'self'"
        } else {
            ""
        };
        let policy = format!(
            "default-src 'none'; style-src 'self'{}; img-src 'self' https: data:{}; form-action 'self'{}; frame-ancestors 'none'; base-uri 'none'{scripts}{connect}",
            join(&self.styles),
            join(&self.images),
            join(&self.form_targets),
        );
        HeaderValue::from_str(&policy).unwrap_or_else(|_| {
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'")
        })
    }
}

/// The CSP source expression for `uri`'s origin: `https://app.example.com`,
/// `http://127.0.0.1:5555`, or `com.example.app:` for a private-use scheme. `None` for anything
/// that could widen the policy beyond one origin.
pub fn source_of(uri: &str) -> Option<String> {
    let url = Url::parse(uri).ok()?;
    let scheme = url.scheme();
    if !scheme
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return None;
    }
    match (scheme, url.host_str()) {
        ("http" | "https", Some(host)) => {
            if host.contains(|c: char| c == '*' || c == ';' || c == ',' || c.is_whitespace()) {
                return None;
            }
            Some(match url.port() {
                Some(port) => format!("{scheme}://{host}:{port}"),
                None => format!("{scheme}://{host}"),
            })
        }
        ("http" | "https", None) => None,
        // Private-use URI schemes of native apps (RFC 8252 §7.1).
        (_, _) => Some(format!("{scheme}:")),
    }
}

pub async fn security_headers(
    State(state): State<LoginState>,
    request: Request,
    next: Next,
) -> Response {
    let page = matches!(*request.method(), Method::GET | Method::HEAD)
        .then(|| {
            request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
        })
        .flatten();
    let mut response = CURRENT_PAGE.scope(page, next.run(request)).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            state.base_csp().header_value(),
        );
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_default_policy_forbids_scripts_frames_and_foreign_forms() {
        let v = Csp::default().header_value();
        assert_eq!(
            v.to_str().unwrap(),
            "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        );
    }

    #[test]
    fn form_targets_are_single_origins() {
        let csp = Csp::default()
            .with_form_target("http://127.0.0.1:5555/callback?x=1")
            .with_form_target("com.example.app:/cb")
            .with_form_target("https://app.example.com/a")
            .with_form_target("https://app.example.com/b");
        assert!(
            csp.header_value().to_str().unwrap().contains(
                "form-action 'self' http://127.0.0.1:5555 com.example.app: https://app.example.com;"
            ),
            "{:?}",
            csp.header_value()
        );
        assert_eq!(source_of("not a url"), None);
    }

    #[test]
    fn https_images_are_already_allowed() {
        let csp = Csp::base(
            Some("https://cdn.example.com/brand.css"),
            &[
                Some("https://cdn.example.com/logo.png"),
                Some("http://127.0.0.1:8000/logo.png"),
            ],
        );
        let v = csp.header_value();
        let v = v.to_str().unwrap();
        assert!(
            v.contains("style-src 'self' https://cdn.example.com;"),
            "{v}"
        );
        assert!(
            v.contains("img-src 'self' https: data: http://127.0.0.1:8000;"),
            "{v}"
        );
    }
}
