//! Keeps browsers out of the admin API.
//!
//! Without an admin token the listener trusts whoever reaches its loopback port, and a browser on
//! the operator's machine reaches it too: a page the operator visits could send a simple
//! (preflight-free) `text/plain` POST that rotates a secret, or rebind its own DNS name to
//! 127.0.0.1 and read the API. So, without a token, a request is refused (403) when
//! - its `Host` is not a loopback name or address (DNS rebinding);
//! - it carries an `Origin` other than the listener's own;
//! - its `Sec-Fetch-Site` says `cross-site` or `same-site`.
//!
//! With or without a token, every state-changing request (POST, PUT, PATCH, DELETE) must be JSON
//! (`application/json` or an `application/*+json` type such as RFC 7396's merge patch; 415
//! otherwise): a browser cannot send that cross-site without a CORS preflight, which the admin
//! API never answers. Token introspection, a read that RFC 7662 shapes as a form post, is the
//! one exception.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gatehouse_core::ErrorCode;

use super::ApiError;

/// What the guard checks, fixed when the listener is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrowserGuard {
    /// An admin token protects the listener: the origin and host checks are not needed (a
    /// browser does not hold the token), only the JSON rule applies.
    pub token_required: bool,
    /// Let a PUT or DELETE without a body through without `Content-Type` (Hydra's SDK sends
    /// logout accepts and session deletions so). Safe: no browser sends a cross-site PUT or
    /// DELETE without a CORS preflight, which the admin API never answers. Off for the admin
    /// API itself; on for the login/consent challenge API (external UI mode).
    pub bodyless_put_delete: bool,
}

/// Paths exempt from the JSON rule: reads shaped as form posts.
const FORM_READS: [&str; 1] = ["/admin/oauth2/introspect"];

/// The middleware (`axum::middleware::from_fn_with_state(BrowserGuard { .. }, refuse_browsers)`).
pub async fn refuse_browsers(
    State(guard): State<BrowserGuard>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method();
    let headers = request.headers();
    if !guard.token_required
        && let Err(refusal) = check_browser_headers(headers)
    {
        tracing::warn!(
            reason = refusal,
            "an admin request from a browser context was refused"
        );
        return forbidden(refusal);
    }
    let writes = matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let bodyless_exempt = guard.bodyless_put_delete
        && matches!(*method, Method::PUT | Method::DELETE)
        && is_bodyless(headers);
    if writes
        && !bodyless_exempt
        && !FORM_READS.contains(&request.uri().path())
        && !is_json(headers)
    {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::invalid_request(
                "state-changing admin requests must be JSON: send Content-Type: application/json (an empty object {} when there is nothing to send)",
            ),
        )
            .into_response();
    }
    next.run(request).await
}

/// No `Content-Type`, no chunked body, and a `Content-Length` of 0 or none.
fn is_bodyless(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).is_none()
        && headers.get(header::TRANSFER_ENCODING).is_none()
        && headers
            .get(header::CONTENT_LENGTH)
            .is_none_or(|v| v.as_bytes() == b"0")
}

fn forbidden(reason: &'static str) -> Response {
    let mut response = ApiError::new(ErrorCode::AccessDenied, reason).into_response();
    *response.status_mut() = StatusCode::FORBIDDEN;
    response
}

/// The origin, fetch-metadata and host rules (see the module docs).
fn check_browser_headers(headers: &HeaderMap) -> Result<(), &'static str> {
    let host = match headers.get(header::HOST) {
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| "the Host header is not readable")?,
        ),
        None => None,
    };
    if host.is_some_and(|h| !is_loopback_authority(h)) {
        return Err(
            "without an admin token the admin API answers only requests addressed to a loopback host",
        );
    }
    if let Some(site) = headers.get("sec-fetch-site")
        && matches!(site.as_bytes(), b"cross-site" | b"same-site")
    {
        return Err("cross-site requests to the admin API are refused");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let own = host.map(|h| format!("http://{h}"));
        if own
            .as_deref()
            .is_none_or(|own| origin.as_bytes() != own.as_bytes())
        {
            return Err("requests from another origin to the admin API are refused");
        }
    }
    Ok(())
}

/// `localhost`, an IPv4 loopback address or `[::1]`, with an optional port.
fn is_loopback_authority(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((inside, after)) if after.is_empty() || after.starts_with(':') => inside,
            _ => return false,
        },
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _port)| host),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `application/json` or `application/<anything>+json`, parameters allowed.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence
        .strip_prefix("application/")
        .is_some_and(|subtype| subtype == "json" || subtype.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn loopback_hosts_pass_and_every_other_host_is_refused() {
        for ok in [
            "localhost",
            "LOCALHOST:4445",
            "127.0.0.1",
            "127.0.0.1:4445",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:4445",
        ] {
            assert!(is_loopback_authority(ok), "{ok}");
        }
        for bad in [
            "rebind.evil.example",
            "localhost.evil.example",
            "127.0.0.1.evil.example",
            "10.0.0.5:4445",
            "[::2]:4445",
            "[::1]x",
            "",
        ] {
            assert!(!is_loopback_authority(bad), "{bad}");
        }
    }

    #[test]
    fn only_the_listeners_own_origin_passes() {
        assert_eq!(
            check_browser_headers(&headers(&[("host", "127.0.0.1:4445")])),
            Ok(())
        );
        assert_eq!(
            check_browser_headers(&headers(&[
                ("host", "127.0.0.1:4445"),
                ("origin", "http://127.0.0.1:4445")
            ])),
            Ok(())
        );
        for origin in [
            "https://evil.example",
            "http://127.0.0.1:4444",
            "http://localhost:4445",
            "null",
        ] {
            let h = headers(&[("host", "127.0.0.1:4445"), ("origin", origin)]);
            assert!(check_browser_headers(&h).is_err(), "{origin}");
        }
        for site in ["cross-site", "same-site"] {
            let h = headers(&[("host", "localhost:4445"), ("sec-fetch-site", site)]);
            assert!(check_browser_headers(&h).is_err(), "{site}");
        }
        let h = headers(&[
            ("host", "localhost:4445"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert_eq!(check_browser_headers(&h), Ok(()));
    }

    #[test]
    fn json_means_json_or_a_json_suffix() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/merge-patch+json",
            "application/json-patch+json",
        ] {
            assert!(is_json(&headers(&[("content-type", ok)])), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "application/jsonx",
            "text/json",
        ] {
            assert!(!is_json(&headers(&[("content-type", bad)])), "{bad}");
        }
        assert!(!is_json(&HeaderMap::new()));
    }
}
