//! Faults: the stores going away and coming back, SIGTERM under load, two replicas on shared
//! stores, concurrent use of single-use things, and short lifetimes end to end. Each test is
//! bounded in time (every wait below has a deadline) and prints what it counted.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::flow::{Browser, action, code_form, form, input, refresh_form};
use gatehouse_testkit::e2e::{OwnRedis, Partner, Server};
use gatehouse_testkit::fixtures::random_system_secret;
use gatehouse_testkit::http::{free_port, is_listening};

use crate::gatehouse;

const CALLBACK: &str = "http://127.0.0.1:5555/callback";

/// Prints past the test harness's output capture, so the counts show in every run.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "faults: {line}");
}

/// The process must never have panicked, whatever the fault.
pub(crate) fn assert_no_panic(server: &Server) {
    let logs = server.logs();
    assert!(!logs.contains("panicked"), "gatehouse panicked:\n{logs}");
}

/// Registers a confidential `client_credentials` client through the CLI; returns its secret.
pub(crate) fn confidential_client(server: &Server, id: &str) -> String {
    let out = server.admin_cli(
        &[
            "clients",
            "create",
            "--id",
            id,
            "--grant-types",
            "client_credentials",
            "--scope",
            "urn:x:read",
        ],
        None,
    );
    out.lines()
        .find_map(|l| l.strip_prefix("OAuth 2.0 Client Secret: "))
        .unwrap_or_else(|| panic!("no secret in: {out}"))
        .to_owned()
}

pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client")
}

/// A token request: the status and the JSON answer (`Null` when the body is not JSON).
pub(crate) async fn token_request(
    http: &reqwest::Client,
    port: u16,
    form: &[(&str, &str)],
) -> (u16, Value) {
    token_request_as(http, port, form, None).await
}

pub(crate) async fn token_request_as(
    http: &reqwest::Client,
    port: u16,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, Value) {
    let mut req = http.post(Server::url(port, "/oauth2/token")).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let answer = req.send().await.expect("token request");
    let status = answer.status().as_u16();
    let body = answer.text().await.unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

async fn client_credentials(
    http: &reqwest::Client,
    port: u16,
    id: &str,
    secret: &str,
) -> (u16, Value) {
    token_request_as(
        http,
        port,
        &[("grant_type", "client_credentials")],
        Some((id, secret)),
    )
    .await
}

/// Redeems `code` on `port`; panics unless it yields tokens. Returns the token response.
pub(crate) async fn redeem(port: u16, partner: &Partner, code: &str) -> Value {
    let (status, tokens) = token_request(&http(), port, &code_form(partner, code)).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

pub(crate) fn refresh_token_of(tokens: &Value) -> String {
    tokens["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh token: {tokens}"))
        .to_owned()
}

/// Polls readiness on the server's public listener until it answers `want`; returns the body.
pub(crate) async fn ready_becomes(server: &Server, want: u16, within: Duration) -> String {
    server.readiness_becomes(server.public, want, within).await
}

/// Fires `n` copies of the same token request at once (one connection each); returns how many
/// answered 200 and the error codes of the others.
async fn concurrently(n: usize, ports: &[u16], form: &[(&str, &str)]) -> (usize, Vec<String>) {
    let form: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let start = Arc::new(tokio::sync::Barrier::new(n));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let port = ports[i % ports.len()];
        let form = form.clone();
        let start = start.clone();
        set.spawn(async move {
            let http = http();
            start.wait().await;
            let answer = http
                .post(Server::url(port, "/oauth2/token"))
                .form(&form)
                .send()
                .await
                .expect("token request");
            let status = answer.status().as_u16();
            let body: Value = answer.json().await.unwrap_or(Value::Null);
            (status, body)
        });
    }
    let mut ok = 0;
    let mut refused = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (status, body) = joined.expect("request task");
        if status == 200 {
            ok += 1;
        } else {
            refused.push(format!(
                "{status} {}",
                body["error"].as_str().unwrap_or("?")
            ));
        }
    }
    (ok, refused)
}

// ---------------------------------------------------------------------------------------------
// 1. Redis restarts in the middle of a flow.

#[tokio::test(flavor = "multi_thread")]
async fn redis_restart_mid_flow() {
    if !gatehouse_testkit::redis_enabled() {
        return gatehouse_testkit::skipped("redis_restart_mid_flow", "redis");
    }
    let port = free_port();
    let mut redis = OwnRedis::start_on(port);
    let server = gatehouse()
        .server("all")
        .env("REDIS_URL", redis.url())
        .start();
    let base = Server::url(server.public, "");
    let partner = Partner::register(&server, CALLBACK, None);
    let (mut issued, mut failed) = (0, 0);

    // A flow before the fault completes.
    let code = Browser::new(&base)
        .code(&partner, "before")
        .await
        .expect("a flow");
    redeem(server.public, &partner, &code).await;
    issued += 1;

    // A flow whose challenge lives in Redis: the login page is shown, then Redis stops.
    let browser = Browser::new(&base);
    let page = browser.start(&partner, "mid").await;
    assert!(page.body.contains("login-form"), "{page:?}");
    redis.stop();
    match browser.finish(&partner, partner.password, page).await {
        Ok(query) => {
            // Completing is allowed too (nothing needed Redis any more).
            redeem(server.public, &partner, &query["code"]).await;
            issued += 1;
        }
        Err(hop) => {
            assert_eq!(
                hop.status,
                StatusCode::SERVICE_UNAVAILABLE,
                "a retryable error page: {hop:?}"
            );
            assert!(
                hop.body.contains("Temporarily unavailable") && hop.body.contains("try again"),
                "a readable message: {hop:?}"
            );
            failed += 1;
        }
    }
    // A new flow while Redis is down fails the same way, it does not hang or panic.
    let hop = Browser::new(&base).start(&partner, "down").await;
    assert_eq!(hop.status, StatusCode::SERVICE_UNAVAILABLE, "{hop:?}");
    failed += 1;
    let body = ready_becomes(&server, 503, Duration::from_secs(15)).await;
    let json: Value = serde_json::from_str(&body).expect("readiness JSON");
    assert!(
        json["errors"]["redis"].is_string(),
        "503 names redis: {body}"
    );

    // Redis is back (empty: it keeps nothing): readiness recovers without a restart, and a new
    // flow completes.
    let _redis = OwnRedis::start_on(port);
    ready_becomes(&server, 200, Duration::from_secs(20)).await;
    let code = Browser::new(&base)
        .code(&partner, "after")
        .await
        .expect("a flow after the restart");
    redeem(server.public, &partner, &code).await;
    issued += 1;

    report(&format!(
        "redis_restart_mid_flow: flows issued {issued}, failed with a retryable page {failed}; readiness 503 → 200 without a restart"
    ));
    assert_no_panic(&server);
    assert!(server.terminate().success());
}

// ---------------------------------------------------------------------------------------------
// 2. Postgres restarts.

/// A Postgres cluster of the test's own, in a temp dir, on a free port, trust auth, run by the
/// `postgres` OS user when the test runs as root (initdb refuses root).
struct OwnPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_root: bool,
    port: u16,
}

impl OwnPostgres {
    /// `None` when the Debian Postgres binaries are not installed.
    fn init() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
            .max()?;
        let uid = Command::new("id").arg("-u").output().ok()?;
        let as_root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        let dir = tempfile::Builder::new()
            .prefix("gatehouse-pg-")
            .tempdir()
            .expect("temp dir");
        if as_root {
            let chown = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .ok()?;
            if !chown.success() {
                return None;
            }
        }
        let pg = Self {
            dir,
            bin,
            as_root,
            port: free_port(),
        };
        let data = pg.data();
        let out = pg
            .tool("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .ok()?;
        if !out.status.success() {
            report(&format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
            return None;
        }
        Some(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn tool(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        let mut cmd = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        cmd.stdin(Stdio::null());
        cmd
    }

    fn start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let out = self
            .tool("pg_ctl")
            .args(["start", "-w", "-t", "30", "-D"])
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("postgres.log"))
            .args(["-o", &opts])
            .output()
            .expect("pg_ctl start");
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
        );
    }

    fn stop(&self, mode: &str) {
        let _ = self
            .tool("pg_ctl")
            .args(["stop", "-w", "-t", "30", "-m", mode, "-D"])
            .arg(self.data())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.stop("immediate");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_restart() {
    let Some(pg) = OwnPostgres::init() else {
        return gatehouse_testkit::skipped(
            "postgres_restart",
            "a private Postgres cluster (Debian's initdb and pg_ctl)",
        );
    };
    pg.start();
    let server = gatehouse()
        .server("all")
        .env("DATABASE_URL", pg.url())
        .start();
    let secret = confidential_client(&server, "pg-restart");
    // A second client, never used before the outage: nothing of it is cached.
    let cold_secret = confidential_client(&server, "pg-restart-cold");
    let http = http();
    let (status, body) = client_credentials(&http, server.public, "pg-restart", &secret).await;
    assert_eq!(status, 200, "{body}");

    pg.stop("fast");
    let body = ready_becomes(&server, 503, Duration::from_secs(15)).await;
    let json: Value = serde_json::from_str(&body).expect("readiness JSON");
    assert!(
        json["errors"]["postgres"].is_string(),
        "503 names postgres: {body}"
    );
    // A known client keeps getting tokens from the last known record of it (stale-if-error);
    // one whose record was never read needs Postgres: `temporarily_unavailable`, never a panic
    // or a hang.
    let (mut ok_while_down, mut unavailable) = (0, 0);
    for _ in 0..3 {
        let (status, body) = client_credentials(&http, server.public, "pg-restart", &secret).await;
        assert_eq!(status, 200, "a known client while Postgres is down: {body}");
        ok_while_down += 1;
        let (status, body) =
            client_credentials(&http, server.public, "pg-restart-cold", &cold_secret).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (503, Some("temporarily_unavailable")),
            "{body}"
        );
        unavailable += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    pg.start();
    ready_becomes(&server, 200, Duration::from_secs(20)).await;
    let (status, body) = client_credentials(&http, server.public, "pg-restart", &secret).await;
    assert_eq!(
        status,
        200,
        "client_credentials works again: {body}\n{}",
        server.logs()
    );
    report(&format!(
        "postgres_restart: while down {unavailable} temporarily_unavailable for an uncached client, {ok_while_down} tokens for a known one; readiness 503 → 200 and tokens again without a restart"
    ));
    assert_no_panic(&server);
    assert!(server.terminate().success());
}

// ---------------------------------------------------------------------------------------------
// 3. SIGTERM under load.

#[derive(Default)]
struct Tally {
    ok_before_signal: usize,
    ok_in_flight: usize,
    ok_after_signal: usize,
    refused_after_close: usize,
    unread_at_signal: usize,
    closed_after_signal: usize,
    failures: Vec<String>,
}

impl Tally {
    fn ok(&self) -> usize {
        self.ok_before_signal + self.ok_in_flight + self.ok_after_signal
    }

    fn add(&mut self, t: Self) {
        self.ok_before_signal += t.ok_before_signal;
        self.ok_in_flight += t.ok_in_flight;
        self.ok_after_signal += t.ok_after_signal;
        self.refused_after_close += t.refused_after_close;
        self.unread_at_signal += t.unread_at_signal;
        self.closed_after_signal += t.closed_after_signal;
        self.failures.extend(t.failures);
    }
}

/// `WORKERS` keep-alive clients send `client_credentials` requests in a loop; SIGTERM arrives
/// while requests are in flight. The server logs every token it issues (debug), so the test
/// knows which requests it accepted: each of them must have reached the client as a whole 200.
/// A request the server never read (still in a socket buffer when the listener closed and the
/// idle connections were shut) may fail on the client; before the signal nothing may fail.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load() {
    const WORKERS: usize = 24;
    let server = gatehouse()
        .server("all")
        .env(
            "GATEHOUSE_LOG",
            "info,sqlx=warn,gatehouse_token::grants=debug",
        )
        .start();
    let secret = confidential_client(&server, "loaded");
    let token_url = Server::url(server.public, "/oauth2/token");
    // Set just before the signal is sent.
    let signalled: Arc<std::sync::OnceLock<Instant>> = Arc::new(std::sync::OnceLock::new());
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..WORKERS {
        let (token_url, secret, signalled, stop, answered) = (
            token_url.clone(),
            secret.clone(),
            signalled.clone(),
            stop.clone(),
            answered.clone(),
        );
        set.spawn(async move {
            // Keep-alive: one pooled connection per worker, reused.
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client");
            let mut tally = Tally::default();
            for _ in 0..5000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let started_before = signalled.get().is_none();
                let answer = http
                    .post(&token_url)
                    .basic_auth("loaded", Some(&secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await;
                let done_after = signalled.get().is_some();
                let answer = match answer {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        r.text().await.map(|body| (status, body))
                    }
                    Err(e) => Err(e),
                };
                match answer {
                    Ok((200, body))
                        if serde_json::from_str::<Value>(&body)
                            .is_ok_and(|v| v["access_token"].is_string()) =>
                    {
                        answered.fetch_add(1, Ordering::Relaxed);
                        if !started_before {
                            tally.ok_after_signal += 1;
                        } else if done_after {
                            tally.ok_in_flight += 1;
                        } else {
                            tally.ok_before_signal += 1;
                        }
                    }
                    Ok((status, body)) => tally.failures.push(format!("{status} {body}")),
                    Err(e) if done_after && e.is_connect() => {
                        // The listener is closed: nothing more to send.
                        tally.refused_after_close += 1;
                        break;
                    }
                    Err(_) if done_after && started_before => tally.unread_at_signal += 1,
                    Err(_) if done_after => tally.closed_after_signal += 1,
                    Err(e) => tally.failures.push(format!("before the signal: {e:?}")),
                }
            }
            tally
        });
    }
    // Let the load settle (every worker's connection served a few times), then stop the
    // process with requests in flight.
    let deadline = Instant::now() + Duration::from_secs(30);
    while answered.load(Ordering::Relaxed) < 3 * WORKERS {
        assert!(Instant::now() < deadline, "the load did not get going");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = signalled.set(Instant::now());
    let waiting = tokio::task::spawn_blocking(move || {
        let sent = Instant::now();
        let (status, logs) = server.terminate_with_logs();
        (status, sent.elapsed(), logs)
    });
    let (status, took, logs) = waiting.await.expect("terminate");
    stop.store(true, Ordering::Relaxed);
    let mut total = Tally::default();
    while let Some(joined) = set.join_next().await {
        total.add(joined.expect("worker"));
    }
    let issued = logs
        .lines()
        .filter(|l| l.contains("token issued") && l.contains("loaded"))
        .count();
    report(&format!(
        "sigterm_under_load: {WORKERS} workers; tokens issued by the server {issued}, 200s received {} ({} before the signal, {} in flight at it, {} accepted after it); unread at the signal {}, unaccepted on closing keep-alive connections {}, refused once closed {}; failures {}; {status} after {took:?}",
        total.ok(),
        total.ok_before_signal,
        total.ok_in_flight,
        total.ok_after_signal,
        total.unread_at_signal,
        total.closed_after_signal,
        total.refused_after_close,
        total.failures.len()
    ));
    assert!(
        total.failures.is_empty(),
        "every answer is a whole 200 and nothing fails before the signal: {:?}",
        &total.failures[..total.failures.len().min(10)]
    );
    assert_eq!(
        issued,
        total.ok(),
        "every request the server accepted reached its client as a 200"
    );
    assert!(total.ok_before_signal > 0, "the load ran");
    assert!(
        total.ok_in_flight > 0,
        "requests in flight at the signal completed"
    );
    assert!(status.success(), "SIGTERM must exit 0, got {status}");
    assert!(
        took < Duration::from_secs(5 + 2),
        "exit within the 5 s grace period, took {took:?}"
    );
    assert!(!logs.contains("panicked"), "{logs}");
}

// ---------------------------------------------------------------------------------------------
// 4. Two replicas sharing Postgres and Redis.

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas() {
    let (Some(db), Some(redis)) = (
        gatehouse_testkit::fresh_postgres_database().await,
        gatehouse_testkit::redis_url(),
    ) else {
        return gatehouse_testkit::skipped("two_replicas", "postgres and redis");
    };
    // One system secret for both; random, because Redis is shared with other tests.
    let system_secret = random_system_secret("replicas");
    let a = gatehouse()
        .server("all")
        .env("DATABASE_URL", &db.url)
        .env("REDIS_URL", &redis)
        .env("GATEHOUSE_SYSTEM_SECRET", &system_secret)
        .start();
    let issuer = Server::url(a.public, "");
    let b = gatehouse()
        .server("all")
        .env("DATABASE_URL", &db.url)
        .env("REDIS_URL", &redis)
        .env("GATEHOUSE_SYSTEM_SECRET", &system_secret)
        .env("GATEHOUSE_ISSUER", &issuer)
        .start();
    ready_becomes(&b, 200, Duration::from_secs(15)).await;
    let partner = Partner::register(&a, CALLBACK, None);

    // One user's browser: cookies are per host, not per port, so both replicas see them.
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let on_a = Browser::with_jar(&Server::url(a.public, ""), jar.clone());
    let on_b = Browser::with_jar(&Server::url(b.public, ""), jar);

    // Login and consent on A; the code redeems on B.
    let code = on_a.code(&partner, "a-1").await.expect("a flow on A");
    let tokens = redeem(b.public, &partner, &code).await;

    // The login session and the remembered consent, made on A, skip both pages on B.
    let hop = on_b.start(&partner, "b-1").await;
    let callback = hop
        .see_other("session and consent honoured on B")
        .to_owned();
    assert!(callback.starts_with(CALLBACK), "{callback}");
    let code = url::Url::parse(&callback)
        .expect("callback")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    redeem(a.public, &partner, &code).await;

    // A rotation on A is honoured on B, and B's on A.
    let http = http();
    let rt1 = refresh_token_of(&tokens);
    let (status, rotated) = token_request(&http, a.public, &refresh_form(&partner, &rt1)).await;
    assert_eq!(status, 200, "{rotated}");
    let rt2 = refresh_token_of(&rotated);
    let (status, rotated) = token_request(&http, b.public, &refresh_form(&partner, &rt2)).await;
    assert_eq!(status, 200, "B accepts A's successor: {rotated}");
    let (status, refused) = token_request(&http, a.public, &refresh_form(&partner, &rt2)).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("invalid_grant")),
        "A knows B spent it: {refused}"
    );

    // A lockout made on A holds on B.
    a.admin_cli(
        &["users", "create", "--username", "bob", "--password-stdin"],
        Some("bob's right password\n"),
    );
    let bob_a = Browser::new(&Server::url(a.public, ""));
    let mut page = bob_a.start(&partner, "bob-a").await;
    // Four failures on A are answered 401; the fifth locks (429).
    for attempt in 1..=5 {
        let f = crate::flow::form(&page.body, "login-form");
        let (csrf, challenge) = (
            crate::flow::input(f, "csrf_token"),
            crate::flow::input(f, "challenge"),
        );
        page = bob_a
            .post(
                "/ui/login",
                &[
                    ("csrf_token", csrf.as_str()),
                    ("challenge", challenge.as_str()),
                    ("username", "bob"),
                    ("password", "wrong"),
                ],
            )
            .await;
        let expected = if attempt < 5 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(page.status, expected, "attempt {attempt}: {page:?}");
    }
    let bob_b = Browser::new(&Server::url(b.public, ""));
    let page = bob_b.start(&partner, "bob-b").await;
    let f = crate::flow::form(&page.body, "login-form");
    let (csrf, challenge) = (
        crate::flow::input(f, "csrf_token"),
        crate::flow::input(f, "challenge"),
    );
    let locked = bob_b
        .post(
            "/ui/login",
            &[
                ("csrf_token", csrf.as_str()),
                ("challenge", challenge.as_str()),
                ("username", "bob"),
                ("password", "bob's right password"),
            ],
        )
        .await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "locked on B after 5 failures on A: {locked:?}"
    );

    // One refresh token used on both at once rotates exactly once.
    const ROUNDS: usize = 4;
    let mut exactly_once = 0;
    for round in 0..ROUNDS {
        let code = on_a
            .code(&partner, &format!("race-{round}"))
            .await
            .expect("a remembered flow");
        let rt = refresh_token_of(&redeem(a.public, &partner, &code).await);
        let form = refresh_form(&partner, &rt);
        let (ok, refused) = concurrently(2, &[a.public, b.public], &form).await;
        assert_eq!(
            ok, 1,
            "round {round}: exactly one rotation, refused: {refused:?}"
        );
        assert_eq!(refused, ["400 invalid_grant"], "round {round}");
        exactly_once += 1;
    }
    report(&format!(
        "two_replicas: session, consent, lockout and rotation honoured across replicas; concurrent refresh on both: exactly one success in {exactly_once}/{ROUNDS} rounds"
    ));
    assert_no_panic(&a);
    assert_no_panic(&b);
    assert!(a.terminate().success());
    assert!(b.terminate().success());
    drop(db);
}

// ---------------------------------------------------------------------------------------------
// 5. Fifty concurrent redemptions of one code, and of one refresh token.

async fn single_use(server: &Server, backend: &str) {
    const N: usize = 50;
    let partner = Partner::register(server, CALLBACK, None);
    let browser = Browser::new(&Server::url(server.public, ""));
    let code = browser.code(&partner, "race-code").await.expect("a flow");
    let (ok, refused) = concurrently(N, &[server.public], &code_form(&partner, &code)).await;
    assert_eq!(
        ok, 1,
        "{backend}: exactly one code redemption, refused {refused:?}"
    );
    assert!(
        refused.iter().all(|r| r == "400 invalid_grant"),
        "{backend}: {refused:?}"
    );
    let code = browser
        .code(&partner, "race-refresh")
        .await
        .expect("a flow");
    let rt = refresh_token_of(&redeem(server.public, &partner, &code).await);
    let (ok_rt, refused) = concurrently(N, &[server.public], &refresh_form(&partner, &rt)).await;
    assert_eq!(
        ok_rt, 1,
        "{backend}: exactly one rotation, refused {refused:?}"
    );
    assert!(
        refused.iter().all(|r| r == "400 invalid_grant"),
        "{backend}: {refused:?}"
    );
    report(&format!(
        "concurrent_single_use on {backend}: {N} concurrent code redemptions → {ok} success; {N} concurrent refreshes → {ok_rt} success"
    ));
    assert_no_panic(server);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_single_use_on_the_embedded_default() {
    let server = gatehouse().server("all").start();
    single_use(&server, "sqlite + memory").await;
    assert!(server.terminate().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_single_use_on_postgres_and_redis() {
    let (Some(db), Some(redis)) = (
        gatehouse_testkit::fresh_postgres_database().await,
        gatehouse_testkit::redis_url(),
    ) else {
        return gatehouse_testkit::skipped(
            "concurrent_single_use_on_postgres_and_redis",
            "postgres and redis",
        );
    };
    let server = gatehouse()
        .server("all")
        .env("DATABASE_URL", &db.url)
        .env("REDIS_URL", &redis)
        .env(
            "GATEHOUSE_SYSTEM_SECRET",
            random_system_secret("single-use"),
        )
        .start();
    single_use(&server, "postgres + redis").await;
    assert!(server.terminate().success());
    drop(db);
}

// ---------------------------------------------------------------------------------------------
// 6. Short lifetimes, end to end.

#[tokio::test(flavor = "multi_thread")]
async fn short_lifetimes_end_to_end() {
    let server = gatehouse()
        .server("all")
        .env("GATEHOUSE_TTL_AUTH_CODE", "2s")
        .env("GATEHOUSE_TTL_ACCESS_TOKEN", "2s")
        .start();
    let partner = Partner::register(&server, CALLBACK, None);
    let secret = confidential_client(&server, "short");
    let http = http();
    let code = Browser::new(&Server::url(server.public, ""))
        .code(&partner, "short")
        .await
        .expect("a flow");
    let (status, body) = client_credentials(&http, server.public, "short", &secret).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 2, "{body}");
    let access = body["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let introspect = || async {
        let answer = http
            .post(Server::url(server.public, "/oauth2/introspect"))
            .basic_auth("short", Some(&secret))
            .form(&[("token", access.as_str())])
            .send()
            .await
            .expect("introspection");
        assert_eq!(answer.status(), 200);
        answer.json::<Value>().await.expect("introspection JSON")
    };
    assert_eq!(introspect().await["active"], true);

    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, body) = token_request(&http, server.public, &code_form(&partner, &code)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "a code used after its 2 s: {body}"
    );
    let after = introspect().await;
    assert_eq!(
        after["active"], false,
        "an access token past its 2 s: {after}"
    );
    report(
        "short_lifetimes_end_to_end: code after 3 s → invalid_grant; access token after 3 s → active false",
    );
    assert!(server.terminate().success());
}

// ---------------------------------------------------------------------------------------------
// 7. A failed answer never consumes a grant: a code or refresh token refused with 5xx during an
//    outage is redeemable once the store is back.

/// The deployment of the section: `serve all` on `database` and `redis`, the partner registered,
/// and one authorization code from a whole flow.
async fn flow_on(database: &str, redis: &str, tag: &str) -> (Server, Partner, String) {
    let server = gatehouse()
        .server("all")
        .env("DATABASE_URL", database)
        .env("REDIS_URL", redis)
        .env("GATEHOUSE_SYSTEM_SECRET", random_system_secret(tag))
        .start();
    let partner = Partner::register(&server, CALLBACK, None);
    let code = Browser::new(&Server::url(server.public, ""))
        .code(&partner, tag)
        .await
        .unwrap_or_else(|hop| panic!("the flow stopped at {} {}", hop.status, hop.body));
    (server, partner, code)
}

#[track_caller]
fn assert_unavailable(status: u16, body: &Value, what: &str) {
    assert!(
        status >= 500 && body["error"] == "temporarily_unavailable",
        "{what}: {status} {body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_refused_in_a_redis_outage_still_works_after_it() {
    let Some(db) = gatehouse_testkit::fresh_postgres_database().await else {
        return gatehouse_testkit::skipped(
            "a_refresh_refused_in_a_redis_outage_still_works_after_it",
            "postgres",
        );
    };
    let mut redis = OwnRedis::start_on(free_port());
    let (server, partner, code) = flow_on(&db.url, &redis.url(), "retry-refresh").await;
    let refresh = refresh_token_of(&redeem(server.public, &partner, &code).await);
    let http = http();

    redis.stop();
    let (status, body) =
        token_request(&http, server.public, &refresh_form(&partner, &refresh)).await;
    assert_unavailable(status, &body, "a refresh with Redis down");

    let port = redis.port;
    drop(redis);
    let _redis = OwnRedis::start_on(port);
    ready_becomes(&server, 200, Duration::from_secs(20)).await;
    let (status, body) =
        token_request(&http, server.public, &refresh_form(&partner, &refresh)).await;
    assert_eq!(
        status, 200,
        "the client's retry with the same refresh token: {body}"
    );
    report("retry_safe: a refresh answered 503 in a Redis outage rotated on the retry");
    assert_no_panic(&server);
    assert!(server.terminate().success());
    drop(db);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_code_exchange_refused_in_a_postgres_outage_still_works_after_it() {
    let (Some(pg), Some(redis)) = (OwnPostgres::init(), gatehouse_testkit::redis_url()) else {
        return gatehouse_testkit::skipped(
            "a_code_exchange_refused_in_a_postgres_outage_still_works_after_it",
            "a private Postgres cluster and redis",
        );
    };
    pg.start();
    let (server, partner, code) = flow_on(&pg.url(), &redis, "retry-code-pg").await;
    let http = http();

    pg.stop("fast");
    let (status, body) = token_request(&http, server.public, &code_form(&partner, &code)).await;
    assert_unavailable(status, &body, "a code exchange with Postgres down");

    pg.start();
    ready_becomes(&server, 200, Duration::from_secs(20)).await;
    let (status, body) = token_request(&http, server.public, &code_form(&partner, &code)).await;
    assert_eq!(status, 200, "the client's retry with the same code: {body}");
    assert!(body["refresh_token"].is_string(), "{body}");
    report("retry_safe: a code exchange answered 503 in a Postgres outage succeeded on the retry");
    assert_no_panic(&server);
    assert!(server.terminate().success());
}

/// The user's consent answered 503 while Postgres is down (remembering it needs the durable
/// store) leaves the request answerable: the same form sent again after the outage gets the code.
#[tokio::test(flavor = "multi_thread")]
async fn a_consent_answered_503_in_a_postgres_outage_works_on_the_retry() {
    let (Some(pg), Some(redis)) = (OwnPostgres::init(), gatehouse_testkit::redis_url()) else {
        return gatehouse_testkit::skipped(
            "a_consent_answered_503_in_a_postgres_outage_works_on_the_retry",
            "a private Postgres cluster and redis",
        );
    };
    pg.start();
    let server = gatehouse()
        .server("all")
        .env("DATABASE_URL", pg.url())
        .env("REDIS_URL", redis)
        .env(
            "GATEHOUSE_SYSTEM_SECRET",
            random_system_secret("retry-consent"),
        )
        .start();
    let partner = Partner::register(&server, CALLBACK, None);
    let browser = Browser::new(&Server::url(server.public, ""));
    let login = browser.start(&partner, "retry-consent").await;
    let f = form(&login.body, "login-form");
    let signed_in = browser
        .post(
            &action(f),
            &[
                ("csrf_token", input(f, "csrf_token").as_str()),
                ("challenge", input(f, "challenge").as_str()),
                ("username", partner.username),
                ("password", partner.password),
            ],
        )
        .await;
    let to = signed_in.location.clone().expect("to the consent page");
    let consent = browser.get(&to).await;
    let f = form(&consent.body, "consent-form");
    let (csrf, challenge) = (input(f, "csrf_token"), input(f, "challenge"));
    let answer = [
        ("csrf_token", csrf.as_str()),
        ("challenge", challenge.as_str()),
        ("remember", "1"),
        ("decision", "allow"),
    ];
    let consent_action = action(f);

    pg.stop("fast");
    let refused = browser.post(&consent_action, &answer).await;
    assert!(
        refused.status.is_server_error(),
        "consent with Postgres down: {refused:?}"
    );

    pg.start();
    ready_becomes(&server, 200, Duration::from_secs(20)).await;
    let retried = browser.post(&consent_action, &answer).await;
    let to = retried.location.clone().unwrap_or_default();
    assert!(
        retried.status == StatusCode::SEE_OTHER && to.starts_with(CALLBACK) && to.contains("code="),
        "the same consent sent again after the outage: {retried:?}"
    );
    report("retry_safe: a consent answered 503 in a Postgres outage gave the code on the retry");
    assert_no_panic(&server);
    assert!(server.terminate().success());
}

/// External login and consent (`GATEHOUSE_UI=external`): the browser's return with the consent
/// verifier answered 503 while Postgres is down (remembering the consent needs it) spends
/// neither the verifier nor the challenge: the same `redirect_to` followed after the outage gets
/// the code.
#[tokio::test(flavor = "multi_thread")]
async fn an_external_consent_return_answered_503_in_a_postgres_outage_works_on_the_retry() {
    let (Some(pg), Some(redis)) = (OwnPostgres::init(), gatehouse_testkit::redis_url()) else {
        return gatehouse_testkit::skipped(
            "an_external_consent_return_answered_503_in_a_postgres_outage_works_on_the_retry",
            "a private Postgres cluster and redis",
        );
    };
    pg.start();
    let server = gatehouse()
        .server("all")
        .env("DATABASE_URL", pg.url())
        .env("REDIS_URL", redis)
        .env(
            "GATEHOUSE_SYSTEM_SECRET",
            random_system_secret("retry-external"),
        )
        .env("GATEHOUSE_UI", "external")
        .env("GATEHOUSE_URLS_LOGIN", "http://127.0.0.1:9/login")
        .env("GATEHOUSE_URLS_CONSENT", "http://127.0.0.1:9/consent")
        .start();
    let partner = Partner::register(&server, CALLBACK, None);
    let admin = |path: &str| Server::url(server.admin, path);
    let http = http();
    let users: Value = http
        .get(admin(&format!(
            "/admin/users?username={}",
            partner.username
        )))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("the user")
        .json()
        .await
        .expect("JSON");
    let subject = users
        .as_array()
        .and_then(|u| u.first())
        .or(Some(&users))
        .and_then(|u| u["id"].as_str())
        .unwrap_or_else(|| panic!("a user id in {users}"))
        .to_owned();
    let accept = |path: String, body: Value| {
        let http = http.clone();
        async move {
            let reply: Value = http
                .put(path)
                .json(&body)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .expect("accepted")
                .json()
                .await
                .expect("JSON");
            let to = reply["redirect_to"].as_str().expect("redirect_to");
            let url = url::Url::parse(to).expect("an absolute URL");
            format!("{}?{}", url.path(), url.query().unwrap_or_default())
        }
    };
    let query_param = |location: &str, name: &str| {
        url::Url::parse(location)
            .expect("an absolute URL")
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("{name} in {location}"))
    };

    let browser = Browser::new(&Server::url(server.public, ""));
    let to_login = browser.start(&partner, "retry-external").await;
    let login_challenge = query_param(
        to_login.location.as_deref().unwrap_or_default(),
        "login_challenge",
    );
    let back = accept(
        admin(&format!(
            "/admin/oauth2/auth/requests/login/accept?login_challenge={login_challenge}"
        )),
        serde_json::json!({"subject": subject}),
    )
    .await;
    let to_consent = browser.get(&back).await;
    let consent_challenge = query_param(
        to_consent.location.as_deref().unwrap_or_default(),
        "consent_challenge",
    );
    let consent: Value = http
        .get(admin(&format!(
            "/admin/oauth2/auth/requests/consent?consent_challenge={consent_challenge}"
        )))
        .send()
        .await
        .expect("the consent request")
        .json()
        .await
        .expect("JSON");
    let back = accept(
        admin(&format!(
            "/admin/oauth2/auth/requests/consent/accept?consent_challenge={consent_challenge}"
        )),
        serde_json::json!({"grant_scope": consent["requested_scope"], "remember": true}),
    )
    .await;

    pg.stop("fast");
    let refused = browser.get(&back).await;
    assert!(
        refused.status.is_server_error(),
        "the return with Postgres down: {refused:?}"
    );

    pg.start();
    ready_becomes(&server, 200, Duration::from_secs(20)).await;
    let retried = browser.get(&back).await;
    let to = retried.location.clone().unwrap_or_default();
    assert!(
        retried.status == StatusCode::SEE_OTHER && to.starts_with(CALLBACK) && to.contains("code="),
        "the same return after the outage: {retried:?}"
    );
    report(
        "retry_safe: an external consent's return answered 503 in a Postgres outage gave the code on the retry",
    );
    assert_no_panic(&server);
    assert!(server.terminate().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_code_exchange_refused_while_redis_hangs_still_works_after_it() {
    let Some(db) = gatehouse_testkit::fresh_postgres_database().await else {
        return gatehouse_testkit::skipped(
            "a_code_exchange_refused_while_redis_hangs_still_works_after_it",
            "postgres",
        );
    };
    let redis = OwnRedis::start_on(free_port());
    let (server, partner, code) = flow_on(&db.url, &redis.url(), "retry-code-redis").await;
    let http = http();

    // Frozen, not gone: what was sent to it before the timeout runs when it wakes up.
    redis.pause();
    let (status, body) = token_request(&http, server.public, &code_form(&partner, &code)).await;
    redis.resume();
    assert_unavailable(status, &body, "a code exchange while Redis hangs");

    ready_becomes(&server, 200, Duration::from_secs(20)).await;
    let (status, body) = token_request(&http, server.public, &code_form(&partner, &code)).await;
    assert_eq!(status, 200, "the client's retry with the same code: {body}");
    report("retry_safe: a code exchange answered 503 while Redis hung succeeded on the retry");
    assert_no_panic(&server);
    assert!(server.terminate().success());
    drop(db);
}

// ---------------------------------------------------------------------------------------------
// 8. SIGTERM drains: readiness turns 503 at once, and the listeners keep serving new
//    connections for GATEHOUSE_SHUTDOWN_DELAY (the time a load balancer takes to notice), before
//    they stop accepting.

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_new_connections_through_the_shutdown_delay() {
    const REQUESTS: usize = 200;
    const EVERY: Duration = Duration::from_millis(20);
    const DELAY: Duration = Duration::from_secs(2);
    let server = gatehouse()
        .server("all")
        .env("GATEHOUSE_SHUTDOWN_DELAY", "2s")
        .start();
    let health = Server::url(server.public, "/health/alive");
    let ready = Server::url(server.public, "/health/ready");
    // A new connection for every request, as a load balancer's new clients make them.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let grpc = server.grpc;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !is_listening(grpc) {
        assert!(Instant::now() < deadline, "the gRPC listener did not open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        crate::serve::grpc_health(grpc, "").await,
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
    let start = Instant::now();
    let mut signalled_at = None;
    let mut server = Some(server);
    let mut grpc_not_serving = false;
    // (ms since start, outcome) of each request: "ok", "refused" or another error.
    let mut outcomes: Vec<(u128, String)> = Vec::new();
    let mut readiness: Vec<(u128, u16, String)> = Vec::new();
    let mut terminated = None;
    for i in 0..REQUESTS {
        if i == 50 {
            let s = server.take().expect("running");
            signalled_at = Some(start.elapsed().as_millis());
            terminated = Some(tokio::task::spawn_blocking(move || s.terminate_with_logs()));
        }
        let at = start.elapsed().as_millis();
        let outcome = match http.get(&health).send().await {
            Ok(r) if r.status() == 200 => "ok".to_owned(),
            Ok(r) => format!("status {}", r.status()),
            Err(e) if e.is_connect() => "refused".to_owned(),
            Err(e) => format!("error {e}"),
        };
        outcomes.push((at, outcome));
        if let Ok(r) = http.get(&ready).send().await {
            let status = r.status().as_u16();
            readiness.push((
                start.elapsed().as_millis(),
                status,
                r.text().await.unwrap_or_default(),
            ));
        }
        if i == 60 {
            // Draining: the gRPC health service says so too, while gRPC still answers.
            grpc_not_serving = crate::serve::try_grpc_health(grpc, "").await
                == Ok(tonic_health::pb::health_check_response::ServingStatus::NotServing);
        }
        tokio::time::sleep(EVERY).await;
    }
    let (status, logs) = terminated.expect("signalled").await.expect("terminate");
    let signalled_at = signalled_at.expect("signalled");
    let first_refusal = outcomes
        .iter()
        .find(|(_, o)| o != "ok")
        .map(|(at, o)| (*at, o.clone()));
    let draining_seen = readiness
        .iter()
        .find(|(at, s, _)| *at >= signalled_at && *s == 503);
    report(&format!(
        "draining: signal at {signalled_at} ms, first readiness 503 at {:?} ms, first failed request at {first_refusal:?}, {} requests ok",
        draining_seen.map(|(at, _, _)| at),
        outcomes.iter().filter(|(_, o)| o == "ok").count()
    ));
    // After the delay the listener closes: new connections are refused (one caught in the
    // accept queue at that moment may be reset).
    let (refused_at, what) = first_refusal.expect("the listener closed in the end");
    assert!(
        refused_at >= signalled_at + DELAY.as_millis() - 100,
        "a request failed ({what}) {} ms after the signal, within the {DELAY:?} delay",
        refused_at - signalled_at
    );
    let (ready_503_at, _, body) = draining_seen.expect("readiness turned 503 during the delay");
    assert!(
        *ready_503_at < refused_at,
        "readiness was 503 before the first refusal"
    );
    assert!(body.contains("draining"), "{body}");
    assert!(
        readiness
            .iter()
            .filter(|(at, _, _)| *at < signalled_at)
            .all(|(_, s, _)| *s == 200),
        "ready before the signal"
    );
    assert!(
        grpc_not_serving,
        "the gRPC health service reported NOT_SERVING while draining"
    );
    assert!(status.success(), "exit 0 after draining: {status}\n{logs}");
}

// ---------------------------------------------------------------------------------------------
// 9. Dependencies that tell the truth: a login UI whose token service cannot reach its database
//    is not ready either; resource servers keep introspecting through a database outage.

#[tokio::test(flavor = "multi_thread")]
async fn login_readiness_follows_the_token_services_own_stores() {
    let (Some(pg), Some(redis)) = (OwnPostgres::init(), gatehouse_testkit::redis_url()) else {
        return gatehouse_testkit::skipped(
            "login_readiness_follows_the_token_services_own_stores",
            "a private Postgres cluster and redis",
        );
    };
    pg.start();
    let system_secret = random_system_secret("readiness");
    let token = gatehouse()
        .server("token")
        .env("DATABASE_URL", pg.url())
        .env("REDIS_URL", &redis)
        .env("GATEHOUSE_SYSTEM_SECRET", &system_secret)
        .start();
    let login = gatehouse()
        .server("login")
        .env("REDIS_URL", &redis)
        .env("GATEHOUSE_SYSTEM_SECRET", &system_secret)
        .env(
            "GATEHOUSE_ISSUER",
            format!("http://127.0.0.1:{}", token.public),
        )
        .env(
            "GATEHOUSE_TOKEN_GRPC_URL",
            format!("http://127.0.0.1:{}", token.grpc),
        )
        .start();
    login
        .readiness_becomes(login.login, 200, Duration::from_secs(15))
        .await;

    pg.stop("fast");
    let body = login
        .readiness_becomes(login.login, 503, Duration::from_secs(10))
        .await;
    assert!(body.contains("token-service"), "{body}");

    // Ready again without a restart.
    pg.start();
    login
        .readiness_becomes(login.login, 200, Duration::from_secs(20))
        .await;
    report("readiness: serve login 200 → 503 with Postgres down behind its token service → 200");
    assert_no_panic(&token);
    assert_no_panic(&login);
}

#[tokio::test(flavor = "multi_thread")]
async fn introspection_and_client_authentication_outlast_a_postgres_outage() {
    let Some(pg) = OwnPostgres::init() else {
        return gatehouse_testkit::skipped(
            "introspection_and_client_authentication_outlast_a_postgres_outage",
            "a private Postgres cluster",
        );
    };
    pg.start();
    // Opaque tokens live in the short-lived store (process memory here): Postgres holds only the
    // client records.
    let server = gatehouse()
        .server("all")
        .env("DATABASE_URL", pg.url())
        .start();
    let secret = confidential_client(&server, "resource-server");
    let http = http();
    let (status, body) = client_credentials(&http, server.public, "resource-server", &secret).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();

    pg.stop("fast");
    let started = Instant::now();
    let mut answers = 0;
    // Well past the 5 s client cache.
    while started.elapsed() < Duration::from_secs(12) {
        let answer = http
            .post(Server::url(server.public, "/oauth2/introspect"))
            .basic_auth("resource-server", Some(&secret))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .expect("introspection");
        let status = answer.status();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        assert_eq!(
            (status.as_u16(), body["active"].as_bool()),
            (200, Some(true)),
            "introspection {:?} into the outage: {body}",
            started.elapsed()
        );
        let (status, body) =
            client_credentials(&http, server.public, "resource-server", &secret).await;
        assert_eq!(
            status,
            200,
            "client authentication {:?} into the outage: {body}",
            started.elapsed()
        );
        answers += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    report(&format!(
        "stale_if_error: {answers} introspections and token requests answered through 12 s of Postgres outage"
    ));
    pg.start();
    assert_no_panic(&server);
    assert!(server.terminate().success());
}
