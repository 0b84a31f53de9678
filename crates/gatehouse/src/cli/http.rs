//! The admin API client: URL building, bearer auth, pagination and error messages.
//!
//! Errors are turned into one line an operator can act on: the server's RFC 6749-style
//! `{"error", "error_description"}` becomes `<error_description> (<error>)`, and transport
//! failures name the endpoint and the flag or variable that sets it.

use anyhow::{Context as _, anyhow, bail};
use gatehouse_core::secret::SecretString;
use reqwest::header::LINK;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;
use url::Url;

use super::AdminConnection;

/// RFC 6902's media type.
const JSON_PATCH: &str = "application/json-patch+json";

#[derive(serde::Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// An error answer of the admin API: its status, and the one line that describes it.
#[derive(Debug)]
pub(crate) struct ApiFailure {
    pub status: StatusCode,
    message: String,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiFailure {}

/// The status of an error answer of the admin API (`None` for other failures).
pub(crate) fn failure_status(err: &anyhow::Error) -> Option<StatusCode> {
    err.downcast_ref::<ApiFailure>().map(|f| f.status)
}

/// A connection to one admin API.
pub(crate) struct AdminApi {
    http: reqwest::Client,
    base: Url,
    /// The endpoint as the operator wrote it, for messages.
    endpoint: String,
    token: Option<SecretString>,
}

impl AdminApi {
    pub(crate) fn new(conn: &AdminConnection) -> anyhow::Result<Self> {
        let endpoint = conn.endpoint.trim().trim_end_matches('/').to_owned();
        let invalid = |why: String| {
            anyhow!(
                "invalid --endpoint {endpoint:?}: {why}; use the admin API's base URL, e.g. http://127.0.0.1:4445 \
                 (flag --endpoint or GATEHOUSE_ADMIN_URL)"
            )
        };
        let base = Url::parse(&endpoint).map_err(|e| invalid(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "the scheme must be http or https, not {:?}",
                base.scheme()
            )));
        }
        if base.cannot_be_a_base() || base.host_str().is_none() {
            return Err(invalid("the URL has no host".into()));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(invalid("the URL must not have a query or fragment".into()));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("gatehouse-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("setting up the HTTP client")?;
        let token = conn.token.clone().filter(|t| !t.expose().trim().is_empty());
        Ok(Self {
            http,
            base,
            endpoint,
            token,
        })
    }

    /// `base` + `segments`, each segment percent-encoded (a `/` in an id stays inside it).
    pub(crate) fn url(&self, segments: &[&str]) -> anyhow::Result<Url> {
        if let Some(bad) = segments.iter().find(|s| matches!(**s, "" | "." | "..")) {
            bail!("{bad:?} is not a valid identifier");
        }
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| anyhow!("the endpoint {} cannot carry a path", self.endpoint))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    pub(crate) async fn get(&self, segments: &[&str]) -> anyhow::Result<Value> {
        let url = self.url(segments)?;
        let resp = self.send(Method::GET, url, None).await?;
        self.read_json(resp).await
    }

    /// A GET whose answer is text (e.g. JSON lines), returned as is.
    pub(crate) async fn get_text(&self, segments: &[&str]) -> anyhow::Result<String> {
        let url = self.url(segments)?;
        let resp = self.send(Method::GET, url, None).await?;
        resp.text().await.map_err(|e| self.transport_error(&e))
    }

    pub(crate) async fn post(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        body: &Value,
    ) -> anyhow::Result<Value> {
        let mut url = self.url(segments)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let resp = self.send(Method::POST, url, Some(body)).await?;
        self.read_json(resp).await
    }

    pub(crate) async fn put(&self, segments: &[&str], body: &Value) -> anyhow::Result<Value> {
        self.write(Method::PUT, segments, body).await
    }

    pub(crate) async fn patch(&self, segments: &[&str], body: &Value) -> anyhow::Result<Value> {
        self.write(Method::PATCH, segments, body).await
    }

    /// An RFC 6902 JSON Patch, sent as `application/json-patch+json`.
    pub(crate) async fn json_patch(
        &self,
        segments: &[&str],
        patch: &Value,
    ) -> anyhow::Result<Value> {
        let url = self.url(segments)?;
        let resp = self
            .send_as(Method::PATCH, url, Some(patch), JSON_PATCH)
            .await?;
        self.read_json(resp).await
    }

    /// The admin API takes only JSON for writes, so a delete carries an empty object.
    pub(crate) async fn delete(&self, segments: &[&str]) -> anyhow::Result<()> {
        let url = self.url(segments)?;
        self.send(
            Method::DELETE,
            url,
            Some(&Value::Object(Default::default())),
        )
        .await
        .map(drop)
    }

    async fn write(
        &self,
        method: Method,
        segments: &[&str],
        body: &Value,
    ) -> anyhow::Result<Value> {
        let url = self.url(segments)?;
        let resp = self.send(method, url, Some(body)).await?;
        self.read_json(resp).await
    }

    /// Every item of a paginated list, following `Link: <…>; rel="next"` (RFC 8288) to the end.
    pub(crate) async fn list(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> anyhow::Result<Vec<Value>> {
        self.list_at_most(segments, query, None).await
    }

    /// The first `limit` items of a paginated list (every item when `None`): pages are
    /// followed only while more are wanted.
    pub(crate) async fn list_at_most(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        limit: Option<usize>,
    ) -> anyhow::Result<Vec<Value>> {
        let mut url = self.url(segments)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut seen = HashSet::new();
        let mut all = Vec::new();
        loop {
            if !seen.insert(url.clone()) {
                bail!("the admin API's next-page link repeats {url}; stopped listing");
            }
            let resp = self.send(Method::GET, url.clone(), None).await?;
            let next = resp
                .headers()
                .get_all(LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(next_link)
                .map(str::to_owned);
            let page = match self.read_json(resp).await? {
                Value::Array(items) => items,
                other => bail!(
                    "the admin API answered {url} with {} instead of a JSON array",
                    kind(&other)
                ),
            };
            let empty = page.is_empty();
            all.extend(page);
            if let Some(limit) = limit
                && all.len() >= limit
            {
                all.truncate(limit);
                break;
            }
            let Some(next) = next.filter(|_| !empty) else {
                break;
            };
            let next = url
                .join(&next)
                .with_context(|| format!("the admin API's next-page link {next:?} is not a URL"))?;
            if next.origin() != self.base.origin() {
                bail!(
                    "the admin API's next-page link points to another server ({}); not sending the admin token there",
                    next.origin().ascii_serialization()
                );
            }
            url = next;
        }
        Ok(all)
    }

    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> anyhow::Result<reqwest::Response> {
        self.send_as(method, url, body, "application/json").await
    }

    /// A request whose body (if any) is JSON of the media type `content_type`.
    async fn send_as(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        content_type: &str,
    ) -> anyhow::Result<reqwest::Response> {
        let mut req = self.http.request(method.clone(), url.clone());
        if let Some(token) = &self.token {
            req = req.bearer_auth(token.expose());
        }
        if let Some(body) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body.to_string());
        }
        let resp = req.send().await.map_err(|e| self.transport_error(&e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.bytes().await.unwrap_or_default();
        Err(self.api_error(&method, &url, status, &body))
    }

    async fn read_json(&self, resp: reqwest::Response) -> anyhow::Result<Value> {
        let url = resp.url().clone();
        let bytes = resp.bytes().await.map_err(|e| self.transport_error(&e))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| anyhow!("the admin API answered {url} with invalid JSON ({e})"))
    }

    fn transport_error(&self, e: &reqwest::Error) -> anyhow::Error {
        let mut root: &dyn std::error::Error = e;
        while let Some(source) = root.source() {
            root = source;
        }
        let endpoint = &self.endpoint;
        if e.is_connect() {
            anyhow!(
                "cannot reach the admin API at {endpoint} ({root}): start `gatehouse serve` or point --endpoint / \
                 GATEHOUSE_ADMIN_URL at its admin listener"
            )
        } else if e.is_timeout() {
            anyhow!("the admin API at {endpoint} did not answer in time ({root})")
        } else {
            anyhow!("talking to the admin API at {endpoint} failed: {root}")
        }
    }

    /// One line from an error answer: the server's `error_description (error)` when it sent one.
    fn api_error(
        &self,
        method: &Method,
        url: &Url,
        status: StatusCode,
        body: &[u8],
    ) -> anyhow::Error {
        let parsed = serde_json::from_slice::<ErrorBody>(body)
            .ok()
            .filter(|b| !b.error.is_empty());
        let mut message = match parsed {
            Some(ErrorBody {
                error,
                error_description,
            }) if !error_description.is_empty() => {
                format!("{error_description} ({error})")
            }
            Some(ErrorBody { error, .. }) => format!("the admin API answered {status} ({error})"),
            None if status == StatusCode::NOT_FOUND => format!(
                "the admin API at {} has no {} ({status}): is --endpoint the admin listener (default port 4445)?",
                self.endpoint,
                url.path()
            ),
            None => {
                let text = String::from_utf8_lossy(body);
                let snippet: String = text
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .chars()
                    .take(200)
                    .collect();
                let snippet = if snippet.is_empty() {
                    String::new()
                } else {
                    format!(": {snippet}")
                };
                format!(
                    "the admin API answered {status} to {method} {}{snippet}",
                    url.path()
                )
            }
        };
        if status == StatusCode::UNAUTHORIZED {
            message.push_str(": pass the admin token with --token or GATEHOUSE_ADMIN_TOKEN");
        }
        anyhow::Error::new(ApiFailure { status, message })
    }
}

/// The target of the `rel="next"` link in one `Link` header value (RFC 8288 §3), if any.
pub(crate) fn next_link(header: &str) -> Option<&str> {
    let mut rest = header;
    loop {
        let open = rest.find('<')?;
        let close = open + rest[open..].find('>')?;
        let target = &rest[open + 1..close];
        let after = &rest[close + 1..];
        let params_end = after.find('<').unwrap_or(after.len());
        let is_next = after[..params_end].split(';').any(|param| {
            param.split_once('=').is_some_and(|(name, value)| {
                name.trim().eq_ignore_ascii_case("rel")
                    && value
                        .trim()
                        .trim_end_matches(',')
                        .trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|rel| rel.eq_ignore_ascii_case("next"))
            })
        });
        if is_next {
            return Some(target.trim());
        }
        rest = &after[params_end..];
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "an empty body",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::cli::OutputFormat;
    use axum::Router;
    use axum::extract::{Query, State};
    use axum::http::{HeaderMap, StatusCode as AxumStatus, header};
    use axum::response::IntoResponse;
    use axum::routing::get;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    fn conn(endpoint: &str, token: Option<&str>) -> AdminConnection {
        AdminConnection {
            endpoint: endpoint.to_owned(),
            token: token.map(SecretString::new),
            format: OutputFormat::Table,
            fake_tls_termination: false,
        }
    }

    /// Serves `router` on a free loopback port; returns its base URL.
    async fn serve(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        format!("http://{addr}")
    }

    #[test]
    fn finds_the_next_link_among_several() {
        assert_eq!(
            next_link(r#"</admin/clients?page_token=abc&page_size=2>; rel="next""#),
            Some("/admin/clients?page_token=abc&page_size=2")
        );
        assert_eq!(
            next_link(r#"<http://h/a?p=1>; rel="first", <http://h/a?p=3>; rel="next""#),
            Some("http://h/a?p=3")
        );
        assert_eq!(
            next_link(r#"<http://h/a?x=1,2>; rel=first, <http://h/b>; rel=next"#),
            Some("http://h/b")
        );
        assert_eq!(
            next_link(r#"<http://h/b>; title="x"; REL="prev next""#),
            Some("http://h/b")
        );
    }

    #[test]
    fn no_next_link_means_last_page() {
        assert_eq!(
            next_link(r#"</admin/clients?page_token=a>; rel="first""#),
            None
        );
        assert_eq!(next_link(r#"</a>; rel="nextpage""#), None);
        assert_eq!(next_link(""), None);
        assert_eq!(next_link("garbage <unterminated"), None);
    }

    #[test]
    fn endpoint_must_be_an_http_base_url() {
        for bad in [
            "127.0.0.1:4445",
            "ftp://h",
            "http://",
            "http://h/?x=1",
            "not a url",
        ] {
            let err = AdminApi::new(&conn(bad, None))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.contains("invalid --endpoint") && err.contains("GATEHOUSE_ADMIN_URL"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn urls_keep_a_path_prefix_and_encode_ids() {
        let api = AdminApi::new(&conn("https://ops.example/gatehouse/", None)).unwrap();
        assert_eq!(
            api.url(&["admin", "clients", "a/b c"]).unwrap().as_str(),
            "https://ops.example/gatehouse/admin/clients/a%2Fb%20c"
        );
        assert!(api.url(&["admin", "clients", ".."]).is_err());
        assert!(api.url(&["admin", "clients", ""]).is_err());
    }

    #[tokio::test]
    async fn list_follows_every_page_and_sends_the_token() {
        let seen_auth = Arc::new(Mutex::new(Vec::new()));
        async fn page(
            State(seen): State<Arc<Mutex<Vec<String>>>>,
            headers: HeaderMap,
            Query(q): Query<HashMap<String, String>>,
        ) -> impl IntoResponse {
            let auth = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            seen.lock().unwrap().push(auth);
            let search = q.get("search").cloned().unwrap_or_default();
            match q.get("page_token").map(String::as_str) {
                None => (
                    [(
                        header::LINK,
                        format!(r#"</admin/users?page_token=2&search={search}>; rel="next""#),
                    )],
                    axum::Json(serde_json::json!([{"id": "1"}, {"id": "2"}])),
                ),
                Some("2") => (
                    [(
                        header::LINK,
                        r#"</admin/users?page_token=3>; rel="next""#.to_owned(),
                    )],
                    axum::Json(serde_json::json!([{"id": "3", "search": search}])),
                ),
                Some(_) => (
                    [(header::LINK, String::new())],
                    axum::Json(serde_json::json!([])),
                ),
            }
        }
        let base = serve(
            Router::new()
                .route("/admin/users", get(page))
                .with_state(seen_auth.clone()),
        )
        .await;
        let api = AdminApi::new(&conn(&base, Some("s3cret"))).unwrap();
        let all = api
            .list(&["admin", "users"], &[("search", "ann")])
            .await
            .unwrap();
        let ids: Vec<_> = all.iter().map(|u| u["id"].as_str().unwrap_or("")).collect();
        assert_eq!(ids, ["1", "2", "3"]);
        assert_eq!(all[2]["search"], "ann");
        assert_eq!(*seen_auth.lock().unwrap(), vec!["Bearer s3cret"; 3]);
    }

    #[tokio::test]
    async fn list_refuses_a_next_link_to_another_origin() {
        let router = Router::new().route(
            "/admin/clients",
            get(|| async {
                (
                    [(header::LINK, r#"<http://evil.example/steal>; rel="next""#)],
                    axum::Json(serde_json::json!([{}])),
                )
            }),
        );
        let base = serve(router).await;
        let err = AdminApi::new(&conn(&base, Some("t")))
            .unwrap()
            .list(&["admin", "clients"], &[])
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("another server (http://evil.example)"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn list_stops_on_a_looping_next_link() {
        let router = Router::new().route(
            "/admin/clients",
            get(|| async {
                (
                    [(header::LINK, r#"</admin/clients>; rel="next""#)],
                    axum::Json(serde_json::json!([{}])),
                )
            }),
        );
        let base = serve(router).await;
        let err = AdminApi::new(&conn(&base, None))
            .unwrap()
            .list(&["admin", "clients"], &[])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("repeats"), "{err}");
    }

    #[tokio::test]
    async fn api_errors_become_one_line_with_the_code() {
        let router = Router::new()
            .route(
                "/admin/clients/{id}",
                get(|| async {
                    (
                        AxumStatus::NOT_FOUND,
                        axum::Json(serde_json::json!({"error": "not_found", "error_description": "no client \"x\""})),
                    )
                }),
            )
            .route("/admin/scopes", get(|| async { (AxumStatus::UNAUTHORIZED, "") }))
            .route("/admin/users", get(|| async { (AxumStatus::BAD_GATEWAY, "<html>\n  upstream down\n</html>") }));
        let base = serve(router).await;
        let api = AdminApi::new(&conn(&base, None)).unwrap();

        let err = api.get(&["admin", "clients", "x"]).await.unwrap_err();
        assert_eq!(err.to_string(), r#"no client "x" (not_found)"#);

        let err = api.get(&["admin", "scopes"]).await.unwrap_err().to_string();
        assert!(
            err.contains("401 Unauthorized") && err.contains("--token or GATEHOUSE_ADMIN_TOKEN"),
            "{err}"
        );

        let err = api.get(&["admin", "users"]).await.unwrap_err().to_string();
        assert_eq!(
            err,
            "the admin API answered 502 Bad Gateway to GET /admin/users: <html> upstream down </html>"
        );

        let err = api
            .get(&["admin", "nothing"])
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("has no /admin/nothing (404 Not Found)"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn unreachable_server_names_the_endpoint_and_the_fix() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let api = AdminApi::new(&conn(&format!("http://{addr}"), None)).unwrap();
        let err = api
            .get(&["admin", "clients"])
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("cannot reach the admin API at http://{addr}")),
            "{err}"
        );
        assert!(err.contains("GATEHOUSE_ADMIN_URL"), "{err}");
    }
}
