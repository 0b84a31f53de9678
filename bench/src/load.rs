//! The closed-loop load generator: a fixed number of workers, each with its own keep-alive
//! connection, each sending its next request as soon as the previous answer arrives, for a fixed
//! time. Latencies go into an HDR histogram per worker (microseconds, 3 significant digits),
//! merged at the end.
//!
//! Only operations that complete inside the measured window count; a warm-up before it (JIT, caches,
//! connection set-up) is discarded, and operations still in flight at the end are dropped.

use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hyper::Method;
use hyper::header::AUTHORIZATION;
use serde::Serialize;
use url::Url;

use crate::flow::{FlowConfig, run_flow};
use crate::http::{Client, Req};

/// What one load run measured; printed as one JSON line.
#[derive(Debug, Serialize)]
pub struct Outcome {
    pub ok: u64,
    pub errors: u64,
    pub secs: f64,
    pub rps: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The first failure, to tell a broken scenario from a slow one.
    pub first_error: Option<String>,
}

/// The server's endpoints, from its discovery document.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub discovery: Url,
    pub jwks: Url,
    pub token: Url,
    pub introspection: Url,
    pub authorization: Url,
    pub userinfo: Url,
}

impl Endpoints {
    pub async fn discover(issuer: &str) -> anyhow::Result<Self> {
        let discovery = Url::parse(&format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ))?;
        let resp = Client::default()
            .send(&Req::new(Method::GET, &discovery)?)
            .await?;
        if resp.status != 200 {
            bail!("GET {discovery} answered {}", resp.status);
        }
        let doc: serde_json::Value =
            serde_json::from_slice(&resp.body).context("the discovery document is not JSON")?;
        let url = |key: &str| -> anyhow::Result<Url> {
            let s = doc[key]
                .as_str()
                .ok_or_else(|| anyhow!("the discovery document has no {key}"))?;
            Ok(Url::parse(s)?)
        };
        Ok(Self {
            jwks: url("jwks_uri")?,
            token: url("token_endpoint")?,
            introspection: url("introspection_endpoint")?,
            authorization: url("authorization_endpoint")?,
            userinfo: url("userinfo_endpoint")?,
            discovery,
        })
    }
}

/// `Authorization: Basic` as RFC 6749 §2.3.1 wants it (each part form-encoded first).
pub fn basic_auth(client_id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(client_id), enc(secret)))
    )
}

/// One unit of work a worker repeats.
#[derive(Debug, Clone)]
pub enum Operation {
    /// A fixed request that must answer 200 and, if given, contain a marker.
    Request {
        req: Req,
        must_contain: Option<String>,
    },
    /// A whole browser authorization-code flow.
    Flow(Box<FlowConfig>),
    /// A fresh client_credentials token, then its introspection (must be active): for long runs
    /// (the soak), where one token minted up front would expire.
    MintIntrospect {
        mint: Req,
        introspection: Url,
        auth: String,
    },
    /// client_credentials authenticated with a new `private_key_jwt` assertion each time.
    PrivateKeyJwt {
        signer: std::sync::Arc<crate::assertion::Signer>,
        token: Url,
        resource: Option<String>,
    },
}

impl Operation {
    async fn run(&self, client: &mut Client) -> anyhow::Result<()> {
        match self {
            Self::Request { req, must_contain } => {
                let resp = client.send(req).await?;
                if resp.status != 200 {
                    bail!(
                        "{} {} answered {}: {}",
                        req.method,
                        req.target,
                        resp.status,
                        resp.text().chars().take(200).collect::<String>()
                    );
                }
                if let Some(marker) = must_contain
                    && !resp.text().contains(marker.as_str())
                {
                    bail!(
                        "{} {} answered without {marker}: {}",
                        req.method,
                        req.target,
                        resp.text().chars().take(200).collect::<String>()
                    );
                }
                Ok(())
            }
            Self::Flow(cfg) => run_flow(client, cfg).await,
            Self::PrivateKeyJwt {
                signer,
                token,
                resource,
            } => {
                let body = {
                    let mut body = url::form_urlencoded::Serializer::new(String::new());
                    body.append_pair("grant_type", "client_credentials")
                        .append_pair("client_assertion_type", crate::assertion::ASSERTION_TYPE)
                        .append_pair("client_assertion", &signer.assertion()?);
                    if let Some(r) = resource {
                        body.append_pair("resource", r);
                    }
                    body.finish()
                };
                let req = Req::new(Method::POST, token)?.form(body);
                let resp = client.send(&req).await?;
                if resp.status != 200 || !resp.text().contains("\"access_token\"") {
                    bail!(
                        "a private_key_jwt token request answered {}: {}",
                        resp.status,
                        resp.text().chars().take(200).collect::<String>()
                    );
                }
                Ok(())
            }
            Self::MintIntrospect {
                mint,
                introspection,
                auth,
            } => {
                let resp = client.send(mint).await?;
                if resp.status != 200 {
                    bail!("minting a token answered {}: {}", resp.status, resp.text());
                }
                let json: serde_json::Value = serde_json::from_slice(&resp.body)?;
                let token = json["access_token"]
                    .as_str()
                    .ok_or_else(|| anyhow!("no access_token in {}", resp.text()))?;
                let body = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("token", token)
                    .finish();
                let req = Req::new(Method::POST, introspection)?
                    .header(AUTHORIZATION, auth)?
                    .form(body);
                let resp = client.send(&req).await?;
                if resp.status != 200 || !resp.text().contains("\"active\":true") {
                    bail!(
                        "introspection answered {}: {}",
                        resp.status,
                        resp.text().chars().take(200).collect::<String>()
                    );
                }
                Ok(())
            }
        }
    }
}

/// A client_credentials request (form-encoded body, Basic client authentication).
pub fn client_credentials(
    endpoints: &Endpoints,
    client_id: &str,
    secret: &str,
    resource: Option<&str>,
) -> anyhow::Result<Req> {
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    body.append_pair("grant_type", "client_credentials");
    if let Some(r) = resource {
        body.append_pair("resource", r);
    }
    Ok(Req::new(Method::POST, &endpoints.token)?
        .header(AUTHORIZATION, &basic_auth(client_id, secret))?
        .form(body.finish()))
}

/// Mints one access token with client_credentials, for the introspection scenario.
pub async fn mint_token(
    endpoints: &Endpoints,
    client_id: &str,
    secret: &str,
) -> anyhow::Result<String> {
    let req = client_credentials(endpoints, client_id, secret, None)?;
    let resp = Client::default().send(&req).await?;
    if resp.status != 200 {
        bail!("minting a token answered {}: {}", resp.status, resp.text());
    }
    let json: serde_json::Value = serde_json::from_slice(&resp.body)?;
    json["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no access_token in {}", resp.text()))
}

struct WorkerResult {
    hist: Histogram<u64>,
    ok: u64,
    errors: u64,
    first_error: Option<String>,
}

/// Runs `op` on `concurrency` workers: `warmup`, then `duration` measured; with `rate`, at most
/// that many operations per second in all (each worker keeps its share of the pace and does not
/// burst to catch up), the soak's constant load however busy the machine is.
pub async fn run(
    op: Operation,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
    rate: Option<f64>,
) -> anyhow::Result<Outcome> {
    let gap = rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(concurrency as f64 / r));
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let op = op.clone();
        workers.push(tokio::spawn(async move {
            let mut client = Client::default();
            let mut out = WorkerResult {
                hist: Histogram::new_with_bounds(1, 60_000_000, 3)?,
                ok: 0,
                errors: 0,
                first_error: None,
            };
            let mut next = Instant::now();
            while Instant::now() < end {
                if let Some(gap) = gap {
                    tokio::time::sleep_until(next.into()).await;
                    next = (next + gap).max(Instant::now());
                }
                let t0 = Instant::now();
                let result = op.run(&mut client).await;
                let done = Instant::now();
                if done < measure_from || done > end {
                    continue;
                }
                match result {
                    Ok(()) => {
                        let us = u64::try_from(done.duration_since(t0).as_micros())
                            .unwrap_or(u64::MAX)
                            .clamp(1, 60_000_000);
                        out.hist.record(us)?;
                        out.ok += 1;
                    }
                    Err(e) => {
                        out.errors += 1;
                        if out.first_error.is_none() {
                            out.first_error = Some(format!("{e:#}"));
                        }
                        // Do not spin on a server that refuses at once.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }
            anyhow::Ok(out)
        }));
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut ok, mut errors, mut first_error) = (0, 0, None);
    for w in workers {
        let r = w.await??;
        hist.add(&r.hist)?;
        ok += r.ok;
        errors += r.errors;
        first_error = first_error.or(r.first_error);
    }
    let secs = duration.as_secs_f64();
    let ms = |us: u64| us as f64 / 1000.0;
    Ok(Outcome {
        ok,
        errors,
        secs,
        rps: ok as f64 / secs,
        mean_ms: hist.mean() / 1000.0,
        p50_ms: ms(hist.value_at_quantile(0.50)),
        p99_ms: ms(hist.value_at_quantile(0.99)),
        max_ms: ms(hist.max()),
        first_error,
    })
}
