//! `gatehouse-bench`: the load driver and report writer of `bench/run`.
//!
//! - `load` drives one scenario against one server (found through its discovery document) and
//!   prints one JSON record: requests (or flows) per second, latency percentiles, errors.
//! - `wait-ready` polls a readiness URL and prints how long the server took to answer 200.
//! - `report` turns the run's records into `bench/RESULTS.md`.
//! - `populate` brings a fixed number of records into being through the real endpoints
//!   (sign-ins up to a pending challenge, an unredeemed code or tokens, or refused), for
//!   `bench/capacity`'s bytes-per-record measurement.
//!
//! The same binary drives Gatehouse and the peer in the same run, so their ratio holds on a
//! noisy machine.

// A measuring tool that bench/run starts, not a request path: a panic here ends one benchmark
// run with a message, which is all an unwrap could cost.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod assertion;
mod cookies;
mod flow;
mod html;
mod http;
mod load;
mod populate;
mod report;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand, ValueEnum};
use hyper::Method;

use crate::flow::FlowConfig;
use crate::http::{Client, Req};
use crate::load::{Endpoints, Operation};

#[derive(Debug, Parser)]
#[command(name = "gatehouse-bench", about = "Gatehouse's benchmark driver")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Drive one scenario against one server; print one JSON record on stdout.
    Load(Box<LoadArgs>),
    /// Poll URL until it answers 200; print the milliseconds since --since-ns.
    WaitReady {
        #[arg(long)]
        url: String,
        /// Unix time in nanoseconds when the server process was started.
        #[arg(long)]
        since_ns: u128,
        #[arg(long, default_value_t = 60.0)]
        timeout_secs: f64,
    },
    /// Write a new ES256 client key: DIR/key.pk8 (the driver's) and DIR/jwks.json (the servers').
    Keygen {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value = "bench-es256")]
        kid: String,
    },
    /// Bring records into being through the real endpoints (bench/capacity): COUNT sign-ins of
    /// users PREFIX{FROM}…, each a new browser, up to STAGE; prints how many reached it.
    Populate(Box<PopulateArgs>),
    /// Write RESULTS.md from the run's records (one JSON object per line).
    Report {
        #[arg(long)]
        records: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Discovery,
    Jwks,
    ClientCredentials,
    /// client_credentials with `private_key_jwt` (RFC 7523): a fresh ES256 assertion per request.
    ClientCredentialsPrivateKeyJwt,
    Introspect,
    /// A fresh client_credentials token and its introspection per operation (bench/soak).
    MintIntrospect,
    Flow,
    /// The same flow by a returning browser: each worker keeps its cookies, so only its first
    /// flow signs in and consents.
    FlowReturning,
}

#[derive(Debug, clap::Args)]
struct LoadArgs {
    /// The server's issuer; endpoints come from its discovery document.
    #[arg(long)]
    issuer: String,
    #[arg(long, value_enum)]
    scenario: Scenario,
    /// The record's scenario name (e.g. cc-jwt-es256); defaults to the scenario.
    #[arg(long)]
    name: Option<String>,
    /// Which server this is, for the record (gatehouse or peer).
    #[arg(long)]
    server: String,
    /// Which storage the server used, for the record.
    #[arg(long)]
    backend: String,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// At most this many operations per second in all (default: as fast as answers come).
    #[arg(long)]
    rate: Option<f64>,
    /// Confidential client (client_credentials, introspection).
    #[arg(long, default_value = "")]
    client_id: String,
    #[arg(long, default_value = "")]
    client_secret: String,
    /// The client's PKCS#8 key (from `keygen`), for private_key_jwt.
    #[arg(long)]
    assertion_key: Option<PathBuf>,
    /// The key id in the assertions' header.
    #[arg(long, default_value = "bench-es256")]
    kid: String,
    /// RFC 8707 resource indicator sent with client_credentials.
    #[arg(long)]
    resource: Option<String>,
    /// Public PKCE client of the flow.
    #[arg(long, default_value = "")]
    flow_client_id: String,
    #[arg(long, default_value = "http://127.0.0.1/callback")]
    redirect_uri: String,
    #[arg(long, default_value = "openid")]
    scope: String,
    #[arg(long, default_value = "")]
    username: String,
    #[arg(long, default_value = "")]
    password: String,
}

#[derive(Debug, clap::Args)]
struct PopulateArgs {
    /// The server's issuer; endpoints come from its discovery document.
    #[arg(long)]
    issuer: String,
    #[arg(long, value_enum)]
    stage: populate::Stage,
    #[arg(long)]
    count: u64,
    /// The first user's number.
    #[arg(long, default_value_t = 0)]
    from: u64,
    #[arg(long)]
    user_prefix: String,
    /// Every user's password (for failed-login: a wrong one).
    #[arg(long)]
    password: String,
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// The PKCE client of the sign-ins.
    #[arg(long)]
    flow_client_id: String,
    #[arg(long, default_value = "http://127.0.0.1/callback")]
    redirect_uri: String,
    #[arg(long, default_value = "openid")]
    scope: String,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // One thread: bench/run gives the driver one core of its own.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match cli.cmd {
        Cmd::Load(args) => rt.block_on(load_command(*args)),
        Cmd::WaitReady {
            url,
            since_ns,
            timeout_secs,
        } => rt.block_on(wait_ready(&url, since_ns, timeout_secs)),
        Cmd::Populate(args) => rt.block_on(populate_command(*args)),
        Cmd::Report { records, out } => report::write(&records, &out),
        Cmd::Keygen { dir, kid } => assertion::generate(&dir, &kid),
    }
}

async fn load_command(args: LoadArgs) -> anyhow::Result<()> {
    let endpoints = Endpoints::discover(&args.issuer).await?;
    let op = match args.scenario {
        Scenario::Discovery => Operation::Request {
            req: Req::new(Method::GET, &endpoints.discovery)?,
            must_contain: Some("\"issuer\"".to_owned()),
        },
        Scenario::Jwks => Operation::Request {
            req: Req::new(Method::GET, &endpoints.jwks)?,
            must_contain: Some("\"keys\"".to_owned()),
        },
        Scenario::ClientCredentials => Operation::Request {
            req: load::client_credentials(
                &endpoints,
                &args.client_id,
                &args.client_secret,
                args.resource.as_deref(),
            )?,
            must_contain: Some("\"access_token\"".to_owned()),
        },
        Scenario::ClientCredentialsPrivateKeyJwt => {
            let key = args
                .assertion_key
                .as_deref()
                .context("--assertion-key is required for this scenario")?;
            Operation::PrivateKeyJwt {
                signer: std::sync::Arc::new(assertion::Signer::load(
                    key,
                    &args.kid,
                    &args.client_id,
                    endpoints.token.as_str(),
                )?),
                token: endpoints.token.clone(),
                resource: args.resource.clone(),
            }
        }
        Scenario::Introspect => {
            let token = load::mint_token(&endpoints, &args.client_id, &args.client_secret).await?;
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("token", &token)
                .finish();
            Operation::Request {
                req: Req::new(Method::POST, &endpoints.introspection)?
                    .header(
                        hyper::header::AUTHORIZATION,
                        &load::basic_auth(&args.client_id, &args.client_secret),
                    )?
                    .form(body),
                must_contain: Some("\"active\":true".to_owned()),
            }
        }
        Scenario::MintIntrospect => Operation::MintIntrospect {
            mint: load::client_credentials(
                &endpoints,
                &args.client_id,
                &args.client_secret,
                args.resource.as_deref(),
            )?,
            introspection: endpoints.introspection.clone(),
            auth: load::basic_auth(&args.client_id, &args.client_secret),
        },
        Scenario::Flow | Scenario::FlowReturning => Operation::Flow(Box::new(FlowConfig {
            endpoints: endpoints.clone(),
            client_id: args.flow_client_id.clone(),
            redirect_uri: args.redirect_uri.clone(),
            scope: args.scope.clone(),
            username: args.username.clone(),
            password: args.password.clone(),
            returning: args.scenario == Scenario::FlowReturning,
        })),
    };
    let outcome = load::run(
        op,
        args.concurrency,
        Duration::from_secs_f64(args.warmup),
        Duration::from_secs_f64(args.duration),
        args.rate,
    )
    .await?;
    let name = args
        .name
        .clone()
        .or_else(|| {
            args.scenario
                .to_possible_value()
                .map(|v| v.get_name().to_owned())
        })
        .unwrap_or_default();
    eprintln!(
        "  {:<10} {:<16} {:<22} c={:<3} {:>9.1}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}{}",
        args.server,
        args.backend,
        name,
        args.concurrency,
        outcome.rps,
        outcome.p50_ms,
        outcome.p99_ms,
        outcome.errors,
        outcome
            .first_error
            .as_deref()
            .map(|e| format!(" (first: {})", e.chars().take(300).collect::<String>()))
            .unwrap_or_default()
    );
    let mut record = serde_json::to_value(&outcome)?;
    record["type"] = "load".into();
    record["server"] = args.server.into();
    record["backend"] = args.backend.into();
    record["scenario"] = name.into();
    record["concurrency"] = args.concurrency.into();
    println!("{record}");
    if outcome.ok == 0 {
        bail!("no request of this scenario succeeded");
    }
    Ok(())
}

async fn populate_command(args: PopulateArgs) -> anyhow::Result<()> {
    let cfg = FlowConfig {
        endpoints: Endpoints::discover(&args.issuer).await?,
        client_id: args.flow_client_id,
        redirect_uri: args.redirect_uri,
        scope: args.scope,
        username: String::new(),
        password: args.password,
        returning: false,
    };
    let done = populate::run(
        cfg,
        args.user_prefix,
        args.from,
        args.count,
        args.concurrency,
        args.stage,
    )
    .await?;
    println!("{done}");
    Ok(())
}

async fn wait_ready(url: &str, since_ns: u128, timeout_secs: f64) -> anyhow::Result<()> {
    let url = url::Url::parse(url)?;
    let req = Req::new(Method::GET, &url)?;
    let deadline = Instant::now() + Duration::from_secs_f64(timeout_secs);
    loop {
        // A fresh connection each time: the listener may not exist yet.
        if let Ok(resp) = Client::default().send(&req).await
            && resp.status == 200
        {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .context("clock before 1970")?
                .as_nanos();
            let ms = now.saturating_sub(since_ns) as f64 / 1e6;
            println!("{ms:.1}");
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{url} did not answer 200 within {timeout_secs} s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
