//! A minimal keep-alive HTTP/1.1 client: one connection per origin per worker, reused for every
//! request, reconnected only when the server closes it.
//!
//! Built on hyper's low-level connection API rather than a pooled client so the driver spends as
//! little of its core as possible per request: on this machine the server under test and the
//! driver each get one core, and for the cheapest endpoints the driver must stay the faster side.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HOST, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use url::Url;

/// How long one request may take before it counts as failed (keeps every loop bounded).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A response with its body read in full.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    pub fn header(&self, name: HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One request, ready to send.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    /// `host:port`, where the connection goes and what `Host` says.
    pub authority: String,
    /// Path and query (origin form).
    pub target: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

impl Req {
    pub fn new(method: Method, url: &Url) -> anyhow::Result<Self> {
        if url.scheme() != "http" {
            bail!("the driver speaks plain HTTP on loopback only, not {url}");
        }
        let host = url.host_str().ok_or_else(|| anyhow!("no host in {url}"))?;
        let port = url.port_or_known_default().unwrap_or(80);
        let mut target = url.path().to_owned();
        if let Some(q) = url.query() {
            target.push('?');
            target.push_str(q);
        }
        Ok(Self {
            method,
            authority: format!("{host}:{port}"),
            target,
            headers: Vec::new(),
            body: Bytes::new(),
        })
    }

    pub fn header(mut self, name: HeaderName, value: &str) -> anyhow::Result<Self> {
        self.headers.push((name, HeaderValue::from_str(value)?));
        Ok(self)
    }

    /// An `application/x-www-form-urlencoded` body.
    pub fn form(mut self, body: String) -> Self {
        self.headers.push((
            hyper::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        ));
        self.body = Bytes::from(body);
        self
    }
}

/// The connections of one worker, by authority, and the cookies it keeps between flows when it
/// plays a returning browser.
#[derive(Default)]
pub struct Client {
    conns: HashMap<String, SendRequest<Full<Bytes>>>,
    /// The returning browser's cookies ([`crate::flow::FlowConfig::returning`]).
    pub session: crate::cookies::Jar,
}

impl Client {
    async fn connect(authority: &str) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        let stream = TcpStream::connect(authority)
            .await
            .with_context(|| format!("connecting to {authority}"))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // Ends when the server or the driver closes the connection; nothing to report.
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// Sends `req` on this worker's connection to its origin, opening one if there is none (or
    /// the server closed the previous one), and reads the whole response.
    pub async fn send(&mut self, req: &Req) -> anyhow::Result<Response> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.send_inner(req)).await {
            Ok(result) => result,
            Err(_) => {
                self.conns.remove(&req.authority);
                bail!("{} {} timed out", req.method, req.target)
            }
        }
    }

    async fn send_inner(&mut self, req: &Req) -> anyhow::Result<Response> {
        let mut sender = match self.conns.remove(&req.authority) {
            Some(s) if !s.is_closed() => s,
            _ => Self::connect(&req.authority).await?,
        };
        if sender.ready().await.is_err() {
            sender = Self::connect(&req.authority).await?;
            sender.ready().await?;
        }
        let mut builder = Request::builder()
            .method(req.method.clone())
            .uri(req.target.as_str())
            .header(HOST, req.authority.as_str());
        for (name, value) in &req.headers {
            builder = builder.header(name, value);
        }
        let request = builder.body(Full::new(req.body.clone()))?;
        let response = sender
            .send_request(request)
            .await
            .with_context(|| format!("{} {}", req.method, req.target))?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        let keep = !parts
            .headers
            .get(hyper::header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        if keep {
            self.conns.insert(req.authority.clone(), sender);
        }
        Ok(Response {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }
}
