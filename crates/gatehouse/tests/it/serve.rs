//! `gatehouse serve …`: listeners, health, gRPC, the split deployment and shutdown.

use std::time::Duration;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use gatehouse_testkit::e2e::{OwnRedis, Server};
use gatehouse_testkit::http::{free_port, get, is_listening, poll_until};

use crate::gatehouse;

pub async fn grpc_health(port: u16, service: &str) -> ServingStatus {
    try_grpc_health(port, service)
        .await
        .unwrap_or_else(|e| panic!("gRPC health check: {e}"))
}

/// The gRPC health service's answer for `service`, or why there was none.
pub async fn try_grpc_health(port: u16, service: &str) -> Result<ServingStatus, String> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    let mut client = HealthClient::new(channel);
    let answer = client
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .map_err(|e| format!("check: {e:?}"))?;
    Ok(answer.into_inner().status())
}

#[tokio::test]
async fn serve_all_on_the_embedded_default_is_ready_and_stops_cleanly_on_sigterm() {
    let server = gatehouse().server("all").start();
    for port in [server.public, server.admin] {
        assert_eq!(get(&Server::url(port, "/health/alive")).await.0, 200);
        let (status, body) = get(&Server::url(port, "/health/ready")).await;
        assert_eq!(
            (status, body.as_str()),
            (200, r#"{"status":"ok"}"#),
            "port {port}"
        );
    }
    assert_eq!(grpc_health(server.grpc, "").await, ServingStatus::Serving);
    assert_eq!(
        grpc_health(server.grpc, "gatehouse.token.v1.TokenService").await,
        ServingStatus::Serving
    );

    // The login UI's way in: the token service over gRPC answers with the configured issuer.
    let token = gatehouse_login::TokenServiceClient::connect_lazy(
        &format!("http://127.0.0.1:{}", server.grpc),
        None,
    )
    .unwrap();
    assert_eq!(
        token.issuer().await.unwrap(),
        format!("http://127.0.0.1:{}", server.public)
    );

    assert!(
        server.data_dir.path().join("gatehouse.db").exists(),
        "embedded SQLite database created"
    );
    let secret = std::fs::read_to_string(server.data_dir.path().join("system-secret")).unwrap();
    assert!(
        secret.len() >= 32,
        "dev mode persisted a generated system secret"
    );
    let logs = server.logs();
    assert!(
        !logs.contains(secret.trim()),
        "the system secret must never be logged"
    );

    let public = server.public;
    let status = server.terminate();
    assert!(status.success(), "SIGTERM must exit 0, got {status}");
    assert!(!is_listening(public), "listener closed after shutdown");
}

#[tokio::test]
async fn readiness_names_redis_while_it_is_down_and_recovers_without_a_restart() {
    if !gatehouse_testkit::redis_enabled() {
        return gatehouse_testkit::skipped(
            "readiness_names_redis_while_it_is_down",
            gatehouse_testkit::REDIS_URL_VAR,
        );
    }
    let port = free_port();
    let mut redis = OwnRedis::start_on(port);
    let server = gatehouse()
        .server("all")
        .env("REDIS_URL", redis.url())
        .start();
    let ready = Server::url(server.public, "/health/ready");
    let admin_ready = Server::url(server.admin, "/health/ready");
    assert_eq!(get(&ready).await.0, 200);

    redis.stop();
    let (status, body) = poll_until(&ready, Duration::from_secs(15), |s, _| s == 503).await;
    assert_eq!(
        status, 503,
        "readiness must turn 503 while Redis is down: {body}"
    );
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        json["errors"]["redis"].is_string(),
        "503 names redis: {body}"
    );
    assert!(
        json["errors"].get("sqlite").is_none(),
        "only what is down is named: {body}"
    );
    assert_eq!(get(&admin_ready).await.0, 503);

    let _redis = OwnRedis::start_on(port);
    let (status, body) = poll_until(&ready, Duration::from_secs(20), |s, _| s == 200).await;
    assert_eq!(
        status,
        200,
        "readiness must recover once Redis is back: {body}\n{}",
        server.logs()
    );
    assert_eq!(get(&admin_ready).await.0, 200);
}

#[tokio::test]
async fn split_deployment_login_reaches_the_token_service_over_grpc() {
    let (Some(db), Some(redis)) = (
        gatehouse_testkit::fresh_postgres_database().await,
        gatehouse_testkit::redis_url(),
    ) else {
        return gatehouse_testkit::skipped(
            "split_deployment_login_reaches_the_token_service_over_grpc",
            "postgres and redis",
        );
    };
    let pg = db.url.clone();
    let token = gatehouse()
        .server("token")
        .env("DATABASE_URL", &pg)
        .env("REDIS_URL", &redis)
        .start();
    assert_eq!(
        get(&Server::url(token.public, "/health/ready")).await.0,
        200
    );
    assert_eq!(grpc_health(token.grpc, "").await, ServingStatus::Serving);

    let login = gatehouse()
        .server("login")
        .env("REDIS_URL", &redis)
        .env(
            "GATEHOUSE_TOKEN_GRPC_URL",
            format!("http://127.0.0.1:{}", token.grpc),
        )
        .start();
    let login_ready = Server::url(login.login, "/health/ready");
    let (status, body) = poll_until(&login_ready, Duration::from_secs(10), |s, _| s == 200).await;
    assert_eq!(status, 200, "{body}");

    // With the token service gone, the login UI is not ready and says why.
    assert!(token.terminate().success());
    let (status, body) = poll_until(&login_ready, Duration::from_secs(10), |s, _| s == 503).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("token-service"), "{body}");
    assert!(login.terminate().success());
    drop(db);
}

/// The embedded SQLite database holds password hashes, client-secret hashes and the sealed
/// signing keys: it, its write-ahead log and its shared-memory file are the owner's alone,
/// whatever the umask.
#[tokio::test]
async fn the_embedded_database_and_its_wal_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt as _;

    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let server = gatehouse()
        .server("all")
        .env("GATEHOUSE_DATA_DIR", dir.display().to_string())
        .start();
    // A write, so the WAL holds something.
    server.admin_cli(
        &["scopes", "create", "urn:example:files", "--label", "Files"],
        None,
    );
    let mut seen = Vec::new();
    for name in ["gatehouse.db", "gatehouse.db-wal", "gatehouse.db-shm"] {
        let path = dir.join(name);
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name} has mode {mode:o}");
        seen.push(name);
    }
    assert!(
        seen.contains(&"gatehouse.db") && seen.contains(&"gatehouse.db-wal"),
        "the database and its WAL exist: {seen:?}"
    );
    let dir_mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        dir_mode & 0o077,
        0,
        "the data directory has mode {dir_mode:o}"
    );
    drop(server);
}
