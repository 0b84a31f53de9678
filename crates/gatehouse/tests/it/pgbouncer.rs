//! The binary on Postgres through PgBouncer in transaction pooling mode (the test kit's own
//! PgBouncer, 2 server connections per database handed out in turn): `gatehouse migrate` run
//! twice at once, `migrate --status`, then `serve all` migrating at start-up and serving the
//! login and consent flow, a code redemption, userinfo, refresh rotations and a replayed
//! refresh token, with `DATABASE_URL` naming PgBouncer (`?pgbouncer=true`).

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::flow::{Browser, code_form, refresh_form};
use gatehouse_testkit::e2e::{Partner, Server};
use gatehouse_testkit::fixtures::random_system_secret;
use gatehouse_testkit::pgbouncer::PgBouncer;

use crate::gatehouse;

const TEST: &str = "serve_all_through_pgbouncer_in_transaction_mode";
const CALLBACK: &str = "http://127.0.0.1:5555/callback";

async fn token_request(http: &reqwest::Client, port: u16, form: &[(&str, &str)]) -> (u16, Value) {
    let answer = http
        .post(Server::url(port, "/oauth2/token"))
        .form(form)
        .send()
        .await
        .expect("token request");
    let status = answer.status().as_u16();
    let body = answer.text().await.unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn refresh_token_of(tokens: &Value) -> String {
    tokens["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh token: {tokens}"))
        .to_owned()
}

/// Runs `gatehouse migrate` twice at the same time on `url`: both succeed, and together they
/// apply every migration once.
fn concurrent_migrations(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            gatehouse()
                .command(dir.path())
                .arg("migrate")
                .env("DATABASE_URL", url)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawning gatehouse migrate")
        })
        .collect();
    let mut applied = 0;
    for child in children {
        let out = child.wait_with_output().expect("gatehouse migrate");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "migrate through PgBouncer failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        applied += stdout
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("migrate says how many it applied: {stdout}"));
    }
    let known = gatehouse_store::migrator(gatehouse_store::SqlBackend::Postgres)
        .migrations
        .len();
    assert_eq!(applied, known, "each migration applied exactly once");

    let mut status = gatehouse().command(dir.path());
    status
        .args(["migrate", "--status"])
        .env("DATABASE_URL", url);
    let out = gatehouse_testkit::e2e::run(&mut status);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "migrate --status: {stdout}");
    assert!(
        stdout.contains(&format!("{known} applied, 0 pending")),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_all_through_pgbouncer_in_transaction_mode() {
    let (Some(db), Some(redis)) = (
        gatehouse_testkit::fresh_postgres_database().await,
        gatehouse_testkit::redis_url(),
    ) else {
        return gatehouse_testkit::skipped(TEST, "postgres and redis");
    };
    let Some(bouncer) = PgBouncer::start(TEST, &db.url).await else {
        return;
    };
    let url = bouncer.url_for(&db.url);

    let migrate_url = url.clone();
    tokio::task::spawn_blocking(move || concurrent_migrations(&migrate_url))
        .await
        .unwrap();

    // Random, because Redis is shared with other tests.
    let system_secret = random_system_secret("pgbouncer");
    let server = gatehouse()
        .server("all")
        .env("DATABASE_URL", &url)
        .env("REDIS_URL", &redis)
        .env("GATEHOUSE_SYSTEM_SECRET", &system_secret)
        .env("GATEHOUSE_DATABASE_POOL_SIZE", "4")
        .env("GATEHOUSE_DATABASE_ACQUIRE_TIMEOUT", "5s")
        .start();
    // Ready through PgBouncer.
    server
        .readiness_becomes(server.public, 200, Duration::from_secs(15))
        .await;

    let partner = Partner::register(&server, CALLBACK, None);
    let browser = Browser::new(&Server::url(server.public, ""));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let mut refresh_tokens = Vec::new();
    // A few flows in a row and at once: the store's client connections outnumber PgBouncer's
    // server connections, so they take turns on them.
    for round in 0..3 {
        let code = browser
            .code(&partner, &format!("round-{round}"))
            .await
            .unwrap_or_else(|hop| panic!("flow {round} stopped: {hop:?}\n{}", server.logs()));
        let (status, tokens) =
            token_request(&http, server.public, &code_form(&partner, &code)).await;
        assert_eq!(status, 200, "{tokens}\n{}", server.logs());
        let access = tokens["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let claims: Value = http
            .get(Server::url(server.public, "/userinfo"))
            .bearer_auth(&access)
            .send()
            .await
            .expect("userinfo")
            .json()
            .await
            .expect("userinfo JSON");
        assert_eq!(claims["preferred_username"], partner.username, "{claims}");
        refresh_tokens.push(refresh_token_of(&tokens));
    }
    let rotate = |rt: String| {
        let http = http.clone();
        let partner = &partner;
        let port = server.public;
        async move {
            let (status, rotated) = token_request(&http, port, &refresh_form(partner, &rt)).await;
            assert_eq!(status, 200, "{rotated}");
            let next = refresh_token_of(&rotated);
            let (status, rotated) = token_request(&http, port, &refresh_form(partner, &next)).await;
            assert_eq!(status, 200, "{rotated}");
            // The spent one is refused, and the replay ends the family.
            let (status, refused) = token_request(&http, port, &refresh_form(partner, &next)).await;
            assert_eq!(
                (status, refused["error"].as_str()),
                (400, Some("invalid_grant")),
                "{refused}"
            );
        }
    };
    let [a, b, c]: [String; 3] = refresh_tokens.try_into().unwrap();
    tokio::join!(rotate(a), rotate(b), rotate(c));

    let logs = server.logs();
    assert!(!logs.contains("prepared statement"), "{logs}");
    let (status, logs) = server.terminate_with_logs();
    assert!(status.success(), "{logs}");
    drop(bouncer);
    drop(db);
}
