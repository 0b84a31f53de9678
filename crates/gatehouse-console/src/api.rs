//! The admin API, called in process: every console operation is one (or a few) JSON requests to
//! the admin router the binary hands over, sent with `tower::ServiceExt::oneshot`. Validation,
//! revocation, cache invalidation and the audit log are the API's; the console only renders.
//!
//! Each call made for a signed-in operator carries the request extension
//! `gatehouse_core::audit::AuditActor` naming them (never a header: a header could be sent by
//! anyone reaching the admin listener), so the audit log records who acted.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt as _;

use crate::auth::Operator;

/// The largest admin API answer the console reads (a page of 100 clients is far below).
const MAX_ANSWER: usize = 8 * 1024 * 1024;

/// The admin API's router.
#[derive(Clone)]
pub struct AdminApi {
    router: axum::Router,
}

/// An admin API answer: status, JSON body (`Null` when empty or not JSON) and the next page's
/// `page_token` from an RFC 8288 `Link: <…>; rel="next"`.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub next_page: Option<String>,
}

impl Answer {
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// The API's error description (`error_description`, else `error`), for the page.
    pub fn error_text(&self) -> String {
        self.body
            .get("error_description")
            .or_else(|| self.body.get("error"))
            .and_then(Value::as_str)
            .map_or_else(|| format!("HTTP {}", self.status.as_u16()), str::to_owned)
    }

    /// A string field of the body (`""` when absent).
    pub fn str(&self, field: &str) -> String {
        self.body
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }
}

impl AdminApi {
    pub fn new(router: axum::Router) -> Self {
        Self { router }
    }

    pub async fn get(&self, operator: Option<&Operator>, path: &str) -> Answer {
        self.call(operator, Method::GET, path, None).await
    }

    /// One request to the admin API. A failure to reach the router at all (it is in process, so
    /// only a bug) answers 500 with an error body, like the API would.
    pub async fn call(
        &self,
        operator: Option<&Operator>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, "gatehouse-console");
        if let Some(operator) = operator {
            builder = builder.extension(operator.audit_actor());
        }
        let request = match body {
            Some(body) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => builder.body(Body::empty()),
        };
        let request = match request {
            Ok(request) => request,
            Err(e) => return internal(&format!("building an admin API request: {e}")),
        };
        let response = match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status();
        let next_page = response
            .headers()
            .get_all(header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(next_page_token);
        let bytes = match axum::body::to_bytes(response.into_body(), MAX_ANSWER).await {
            Ok(bytes) => bytes,
            Err(e) => return internal(&format!("reading an admin API answer: {e}")),
        };
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            body,
            next_page,
        }
    }
}

fn internal(message: &str) -> Answer {
    tracing::error!(message, "console: admin API call failed");
    Answer {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        body: serde_json::json!({"error": "server_error", "error_description": message}),
        next_page: None,
    }
}

/// The `page_token` of a `Link` header's `rel="next"` target.
fn next_page_token(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params.contains("rel=\"next\"") {
            return None;
        }
        let target = target.trim().trim_start_matches('<').trim_end_matches('>');
        let url = url::Url::parse("http://admin.invalid")
            .ok()?
            .join(target)
            .ok()?;
        url.query_pairs()
            .find(|(k, _)| k == "page_token")
            .map(|(_, v)| v.into_owned())
    })
}

/// `path?query` with the non-empty pairs form-encoded.
pub fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        query.append_pair(k, v);
        any = true;
    }
    if any {
        format!("{path}?{}", query.finish())
    } else {
        path.to_owned()
    }
}

/// A path segment, percent-encoded (ids come from the API, but pages put them in paths).
pub fn segment(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_token_is_read_from_the_link_header() {
        assert_eq!(
            next_page_token("</admin/clients?page_size=100&page_token=YWJj>; rel=\"next\"")
                .as_deref(),
            Some("YWJj")
        );
        assert_eq!(next_page_token("</x?page_token=a>; rel=\"prev\""), None);
    }

    #[test]
    fn queries_leave_out_empty_values() {
        assert_eq!(
            with_query("/admin/users", &[("search", "a b"), ("page_token", "")]),
            "/admin/users?search=a+b"
        );
        assert_eq!(with_query("/x", &[("a", "")]), "/x");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }
}
