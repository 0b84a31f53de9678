//! The HTTP harness: routers driven in-process, routers and binaries on free loopback ports,
//! and the requests tests send them.
//!
//! - In-process: [`send`] / [`send_json`] run one request through an axum [`Router`] and give a
//!   [`Reply`] (status, headers, raw body, body as JSON); [`Browser`] keeps cookies across
//!   requests, connects from a fixed peer address and answers [`Page`]s (body as text) with the
//!   helpers a login page needs (redirects, form fields, `Set-Cookie`).
//! - Over the network: [`serve`] puts a router on a free loopback port (e.g. an admin API for
//!   the real CLI); [`free_port`], [`is_listening`], [`poll_until`] and [`get`] for servers the
//!   test started, such as the real binary (see [`crate::e2e`]).
//! - Bodies: [`form`] encodes `application/x-www-form-urlencoded`, [`basic`] an RFC 6749 §2.3.1
//!   `Authorization: Basic` header.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use tokio::task::JoinHandle;
use tower::ServiceExt as _;
use url::Url;

/// The most of a body [`send`] reads.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding an ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// Whether something accepts connections on loopback `port`.
pub fn is_listening(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// A router served on a free loopback port, until this is dropped.
#[derive(Debug)]
pub struct Served {
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub url: String,
    task: JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on a free loopback port of the current runtime (with the peer address as
/// `ConnectInfo`, as the binary serves it).
pub async fn serve(router: Router) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a loopback port");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serving the router");
    });
    Served {
        url: format!("http://{addr}"),
        task,
    }
}

/// Polls `url` until `check(status, body)` holds or `timeout` passes; returns the last answer
/// (status 0 and the error when nothing answered).
pub async fn poll_until(
    url: &str,
    timeout: Duration,
    check: impl Fn(u16, &str) -> bool,
) -> (u16, String) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let deadline = Instant::now() + timeout;
    loop {
        let answer = match client.get(url).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.text().await.unwrap_or_default())
            }
            Err(e) => (0, e.to_string()),
        };
        if check(answer.0, &answer.1) || Instant::now() >= deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One GET over the network: status (0 when nothing answered) and body.
pub async fn get(url: &str) -> (u16, String) {
    poll_until(url, Duration::ZERO, |_, _| true).await
}

/// A form body (`application/x-www-form-urlencoded`) from pairs.
pub fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
pub fn basic(id: &str, secret: &str) -> String {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", encode(id), encode(secret)))
    )
}

/// One answer: status, headers, the raw body, and the body as JSON (`Null` when empty or not
/// JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The string field `field` of the JSON body; panics when there is none.
    pub fn str(&self, field: &str) -> String {
        self.body[field]
            .as_str()
            .unwrap_or_else(|| panic!("no string {field:?} in {}", self.body))
            .to_owned()
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }
}

/// Runs `request` through `router` in-process. The body is read as JSON where it is JSON.
pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("routers are infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let raw = axum::body::to_bytes(response.into_body(), MAX_BODY)
        .await
        .expect("reading the body")
        .to_vec();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        raw,
    }
}

/// [`send`] to a JSON API: panics when a non-empty body is not JSON.
pub async fn send_json(router: &Router, request: Request<Body>) -> Reply {
    let reply = send(router, request).await;
    if !reply.raw.is_empty()
        && let Err(e) = serde_json::from_slice::<Value>(&reply.raw)
    {
        panic!("not JSON ({e}): {}", reply.text());
    }
    reply
}

/// A page: status, headers and the body as text.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Location` of a `303 See Other`; panics on anything else.
    pub fn location(&self) -> &str {
        assert_eq!(
            self.status,
            StatusCode::SEE_OTHER,
            "expected a redirect: {}",
            self.body
        );
        self.header("location").expect("a Location header")
    }

    /// The query parameters of an absolute `Location` (a redirect to a client), with the
    /// location up to its path.
    pub fn redirect_params(&self) -> (String, HashMap<String, String>) {
        let url = Url::parse(self.location()).expect("an absolute Location");
        let base = format!("{}://{}{}", url.scheme(), url.authority(), url.path());
        (base, url.query_pairs().into_owned().collect())
    }

    /// The value of the form field `name` in the page (hidden inputs and prefilled fields).
    pub fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no field {name} in: {}", self.body))
            + marker.len();
        let end = self.body[start..]
            .find('"')
            .unwrap_or_else(|| panic!("unterminated field {name}"))
            + start;
        self.body[start..end].to_owned()
    }

    /// The value of field `name` inside the form with id `form`.
    pub fn form_field(&self, form: &str, name: &str) -> String {
        let start = self
            .body
            .find(&format!("id=\"{form}\""))
            .unwrap_or_else(|| panic!("no form {form} in: {}", self.body));
        Page {
            status: self.status,
            headers: HeaderMap::new(),
            body: self.body[start..].to_owned(),
        }
        .field(name)
    }

    /// Every `Set-Cookie` header of this answer.
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    /// Asserts an HTML page (not a redirect) with `status`.
    #[track_caller]
    pub fn assert_page(&self, status: StatusCode, context: &str) {
        assert_eq!(self.status, status, "{context}: {}", self.body);
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("text/html")),
            "{context}: {:?}",
            self.headers
        );
        assert!(
            self.header("location").is_none(),
            "{context}: a page, not a redirect"
        );
    }
}

/// A browser on one router, in-process: keeps cookies (by name; attributes are the tests'
/// business) and sends them back, connects from a fixed address (`ConnectInfo`, which per-IP
/// rate limits key on), and sends `Accept-Language` when set.
pub struct Browser<'r> {
    router: &'r Router,
    name: String,
    cookies: HashMap<String, String>,
    /// Every `Set-Cookie` seen, in order.
    pub set_cookies: Vec<String>,
    addr: SocketAddr,
    pub accept_language: Option<String>,
    /// The `User-Agent` sent, when set.
    pub user_agent: Option<String>,
    /// The last answer's body as bytes.
    last_raw: Option<Vec<u8>>,
}

impl<'r> Browser<'r> {
    /// A browser on `router` connecting from `addr` (`ip:port`); `name` (e.g. the backend pair)
    /// prefixes its assertion messages.
    pub fn new(router: &'r Router, name: impl Into<String>, addr: &str) -> Self {
        Self {
            router,
            name: name.into(),
            cookies: HashMap::new(),
            set_cookies: Vec::new(),
            addr: addr.parse().expect("a socket address"),
            accept_language: None,
            user_agent: None,
            last_raw: None,
        }
    }

    /// What the browser was named after (e.g. the backend pair).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub async fn get(&mut self, uri: &str) -> Page {
        self.send(Method::GET, uri, None).await
    }

    /// POSTs `form` as `application/x-www-form-urlencoded`.
    pub async fn post(&mut self, uri: &str, form: &[(&str, &str)]) -> Page {
        let body = self::form(form).into_bytes();
        self.send(
            Method::POST,
            uri,
            Some(("application/x-www-form-urlencoded".to_owned(), body)),
        )
        .await
    }

    /// POSTs `fields` and `files` (`(field, file name, content type, bytes)`) as
    /// `multipart/form-data` (RFC 7578), as a browser sends a form with a file input.
    pub async fn post_multipart(
        &mut self,
        uri: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &str, &[u8])],
    ) -> Page {
        const BOUNDARY: &str = "----gatehouse-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        for (name, file_name, content_type, bytes) in files {
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        self.send(
            Method::POST,
            uri,
            Some((format!("multipart/form-data; boundary={BOUNDARY}"), body)),
        )
        .await
    }

    /// GETs `uri` and answers the body's bytes as they are (an image, say), with the page.
    pub async fn get_bytes(&mut self, uri: &str) -> (Page, Vec<u8>) {
        let page = self.send(Method::GET, uri, None).await;
        let raw = self.last_raw.take().unwrap_or_default();
        (page, raw)
    }

    /// Follows a redirect within the router (a relative `Location`).
    pub async fn follow(&mut self, reply: &Page) -> Page {
        let location = reply.location().to_owned();
        assert!(
            location.starts_with('/'),
            "{}: not a redirect within the router: {location}",
            self.name
        );
        self.get(&location).await
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// Sets a cookie as if the server had (e.g. one copied from another browser: a stolen
    /// session).
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    pub fn forget_cookie(&mut self, name: &str) {
        self.cookies.remove(name);
    }

    async fn send(&mut self, method: Method, uri: &str, body: Option<(String, Vec<u8>)>) -> Page {
        let mut request = Request::builder().method(method).uri(uri);
        if !self.cookies.is_empty() {
            let cookie = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            request = request.header(header::COOKIE, cookie);
        }
        if let Some(lang) = &self.accept_language {
            request = request.header(header::ACCEPT_LANGUAGE, lang);
        }
        if let Some(agent) = &self.user_agent {
            request = request.header(header::USER_AGENT, agent);
        }
        let body = match body {
            Some((content_type, bytes)) => {
                request = request.header(header::CONTENT_TYPE, content_type);
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let mut request = request.body(body).expect("a valid request");
        request.extensions_mut().insert(ConnectInfo(self.addr));
        let reply = send(self.router, request).await;
        self.last_raw = Some(reply.raw.clone());
        let page = Page {
            status: reply.status,
            body: reply.text(),
            headers: reply.headers,
        };
        for set in page.set_cookies() {
            self.set_cookies.push(set.to_owned());
            let (pair, attrs) = set.split_once(';').unwrap_or((set, ""));
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        page
    }
}
