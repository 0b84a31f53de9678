//! CORS (the Fetch standard's CORS protocol) for the endpoints a single-page app calls from the
//! browser: the token, revocation, userinfo, discovery and JWKS endpoints.
//!
//! An origin is allowed when a client registered it in `allowed_cors_origins`
//! ([`TokenService::cors_allows`]). A preflight (`OPTIONS` with `Access-Control-Request-Method`)
//! names no client and is answered for any registered origin; an actual request whose handler
//! marked the client it names ([`CorsClient`]) is answered only for that client's origins.
//! Cookies are never involved, so `Access-Control-Allow-Credentials` is never sent.
//!
//! Discovery and JWKS are public documents every origin may read (`*`, set by their handlers);
//! [`public_preflight`] answers their preflights for any origin too.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::service::TokenService;

/// Set on a response by a handler that knows which client the request is for.
#[derive(Debug, Clone)]
pub(super) struct CorsClient(pub String);

/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE_SECONDS: u32 = 600;

pub(super) async fn cors(
    State(service): State<Arc<TokenService>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(origin) = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| HeaderValue::to_str(o).ok())
        .map(str::to_owned)
    else {
        return next.run(request).await;
    };
    if is_preflight(&request) {
        let mut answer = StatusCode::NO_CONTENT.into_response();
        let headers = answer.headers_mut();
        vary_on_origin(headers);
        if service.cors_allows(&origin, None).await {
            allow(headers, &origin);
            preflight_grant(headers);
        }
        return answer;
    }
    let mut response = next.run(request).await;
    let client = response.extensions().get::<CorsClient>().cloned();
    let allowed = service
        .cors_allows(&origin, client.as_ref().map(|c| c.0.as_str()))
        .await;
    let headers = response.headers_mut();
    vary_on_origin(headers);
    if allowed {
        allow(headers, &origin);
        // A page reading a userinfo failure needs the bearer challenge (RFC 6750 §3), and a
        // DPoP client the server's nonce (RFC 9449 §8).
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("www-authenticate, dpop-nonce"),
        );
    }
    response
}

/// Answers a preflight for a public document from any origin; everything else passes.
pub(super) async fn public_preflight(request: Request, next: Next) -> Response {
    if is_preflight(&request) {
        let mut answer = StatusCode::NO_CONTENT.into_response();
        let headers = answer.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        preflight_grant(headers);
        return answer;
    }
    next.run(request).await
}

/// A CORS preflight: `OPTIONS` asking whether a method may be used.
fn is_preflight(request: &Request) -> bool {
    request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

fn preflight_grant(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type, dpop"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from(PREFLIGHT_MAX_AGE_SECONDS),
    );
}

fn allow(headers: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
}

/// The answer depends on the `Origin`, so shared caches must key on it.
fn vary_on_origin(headers: &mut HeaderMap) {
    headers.append(header::VARY, HeaderValue::from_static("origin"));
}
