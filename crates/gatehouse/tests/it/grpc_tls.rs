//! The gRPC seam between the login UI and the token service: mutual TLS with roles. Off loopback
//! the token service refuses to listen without it; with it, only callers holding a certificate
//! from the configured CA get in, and each only to the RPCs of its role.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use gatehouse_proto::token::v1 as pb;
use gatehouse_proto::token::v1::token_service_client::TokenServiceClient as RawClient;
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::flow::{Browser, code_form};
use gatehouse_testkit::e2e::{Partner, run};
use gatehouse_testkit::fixtures::random_system_secret;
use gatehouse_testkit::http::free_port;

use crate::gatehouse;

/// `gatehouse certs grpc --out DIR --dns localhost`; panics unless it succeeds.
fn certs(dir: &Path) {
    let out = run(gatehouse().command(dir).args([
        "certs",
        "grpc",
        "--out",
        &dir.display().to_string(),
        "--dns",
        "localhost",
    ]));
    assert!(
        out.status.success(),
        "gatehouse certs grpc: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A raw gRPC client of the token service over TLS with `ca`, presenting `identity` (a role's
/// `.crt`/`.key` pair in `dir`) if given.
async fn raw(
    port: u16,
    ca: &Path,
    identity: Option<(&Path, &str)>,
) -> Result<RawClient<Channel>, String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read(ca, "ca.crt")))
        .domain_name("localhost");
    if let Some((dir, role)) = identity {
        tls = tls.identity(Identity::from_pem(
            read(dir, &format!("{role}.crt")),
            read(dir, &format!("{role}.key")),
        ));
    }
    let channel = Endpoint::from_shared(format!("https://localhost:{port}"))
        .map_err(|e| e.to_string())?
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(RawClient::new(channel))
}

/// Whether a caller gets any answer from the token service (an RPC that needs no data).
async fn reaches(client: Result<RawClient<Channel>, String>) -> Result<(), String> {
    let mut client = client?;
    client
        .get_server_info(pb::GetServerInfoRequest {})
        .await
        .map(drop)
        .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_grpc_seam_takes_only_mutual_tls_and_each_role_only_its_rpcs() {
    let (Some(db), Some(redis)) = (
        gatehouse_testkit::fresh_postgres_database().await,
        gatehouse_testkit::redis_url(),
    ) else {
        return gatehouse_testkit::skipped(
            "the_grpc_seam_takes_only_mutual_tls_and_each_role_only_its_rpcs",
            "postgres and redis",
        );
    };
    let pki = tempfile::tempdir().unwrap();
    certs(pki.path());
    let foreign = tempfile::tempdir().unwrap();
    certs(foreign.path());
    for name in [
        "ca.crt",
        "ca.key",
        "token.crt",
        "token.key",
        "login.crt",
        "login.key",
        "resource-server.crt",
        "resource-server.key",
    ] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(pki.path().join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{name} has mode {mode:o}");
    }
    let file = |name: &str| pki.path().join(name).display().to_string();

    let system_secret = random_system_secret("grpc-tls");
    let grpc = free_port();
    let token = gatehouse()
        .server("token")
        .env("DATABASE_URL", &db.url)
        .env("REDIS_URL", &redis)
        .env("GATEHOUSE_SYSTEM_SECRET", &system_secret)
        // Every interface: what a container or a pod binds.
        .env("GATEHOUSE_GRPC_ADDR", format!("0.0.0.0:{grpc}"))
        .env("GATEHOUSE_GRPC_TLS_CERT", file("token.crt"))
        .env("GATEHOUSE_GRPC_TLS_KEY", file("token.key"))
        .env("GATEHOUSE_GRPC_CLIENT_CA", file("ca.crt"))
        .start();
    let issuer = format!("http://127.0.0.1:{}", token.public);
    let login = gatehouse()
        .server("login")
        .env("REDIS_URL", &redis)
        .env("GATEHOUSE_SYSTEM_SECRET", &system_secret)
        .env("GATEHOUSE_ISSUER", &issuer)
        .env(
            "GATEHOUSE_TOKEN_GRPC_URL",
            format!("https://localhost:{grpc}"),
        )
        .env("GATEHOUSE_TOKEN_GRPC_CA", file("ca.crt"))
        .env("GATEHOUSE_TOKEN_GRPC_CLIENT_CERT", file("login.crt"))
        .env("GATEHOUSE_TOKEN_GRPC_CLIENT_KEY", file("login.key"))
        .start();
    let login_base = format!("http://127.0.0.1:{}", login.login);
    // Ready: the login UI reaches the token service.
    login
        .readiness_becomes(login.login, 200, Duration::from_secs(15))
        .await;

    // The whole flow works through the mutual-TLS link.
    let partner = Partner::register(&token, "http://127.0.0.1:5555/callback", None);
    let code = Browser::new(&login_base)
        .code(&partner, "mtls-state")
        .await
        .unwrap_or_else(|hop| panic!("the flow stopped at {} {}", hop.status, hop.body));
    let answer = reqwest::Client::new()
        .post(format!("{issuer}/oauth2/token"))
        .form(&code_form(&partner, &code))
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.status(),
        200,
        "{}",
        answer.text().await.unwrap_or_default()
    );

    // Nobody without a certificate of this CA gets in.
    let plaintext = async {
        let channel = Endpoint::from_shared(format!("http://127.0.0.1:{grpc}"))
            .unwrap()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(5))
            .connect()
            .await
            .map_err(|e| e.to_string())?;
        reaches(Ok(RawClient::new(channel))).await
    };
    assert!(plaintext.await.is_err(), "a plaintext caller got an answer");
    let no_certificate = reaches(raw(grpc, pki.path(), None).await).await;
    assert!(
        no_certificate.is_err(),
        "a caller without a certificate got an answer"
    );
    let other_ca = reaches(raw(grpc, pki.path(), Some((foreign.path(), "login"))).await).await;
    assert!(
        other_ca.is_err(),
        "a caller with another CA's certificate got an answer"
    );

    // A resource server may introspect, and nothing of the login UI's.
    let mut resource_server = raw(grpc, pki.path(), Some((pki.path(), "resource-server")))
        .await
        .expect("a resource server connects");
    resource_server
        .get_server_info(pb::GetServerInfoRequest {})
        .await
        .expect("GetServerInfo for a resource server");
    let introspected = resource_server
        .introspect(pb::IntrospectRequest {
            token: "gh_at_unknown".into(),
            token_type_hint: None,
        })
        .await
        .expect("Introspect for a resource server");
    assert!(!introspected.into_inner().active);
    let forged = resource_server
        .issue_authorization_code(pb::IssueAuthorizationCodeRequest {
            request: Some(pb::AuthorizationRequest {
                client_id: partner.client_id.into(),
                redirect_uri: partner.redirect_uri.clone(),
                scope: "openid".into(),
                ..Default::default()
            }),
            subject: "anyone".into(),
            granted_scope: "openid".into(),
            auth_time: 0,
            session_id: None,
            ..Default::default()
        })
        .await
        .expect_err("a resource server minted a code");
    assert_eq!(forged.code(), Code::PermissionDenied, "{forged:?}");
    let guessed = resource_server
        .authenticate_user(pb::AuthenticateUserRequest {
            username: partner.username.into(),
            password: partner.password.into(),
            ..Default::default()
        })
        .await
        .expect_err("a resource server checked a password");
    assert_eq!(guessed.code(), Code::PermissionDenied, "{guessed:?}");

    // The login role calls the login RPCs, but not introspection.
    let mut login_caller = raw(grpc, pki.path(), Some((pki.path(), "login")))
        .await
        .expect("a login caller connects");
    let refused = login_caller
        .introspect(pb::IntrospectRequest {
            token: "gh_at_unknown".into(),
            token_type_hint: None,
        })
        .await
        .expect_err("the login role introspected");
    assert_eq!(refused.code(), Code::PermissionDenied);

    let logs = token.logs();
    for secret in [read(pki.path(), "token.key"), read(pki.path(), "login.key")] {
        let body = secret.lines().nth(1).unwrap_or_default().to_owned();
        assert!(!logs.contains(&body), "a private key is in the log");
    }
    drop(login);
    drop(token);
    drop(db);
}

#[test]
fn the_token_service_refuses_plaintext_grpc_off_loopback() {
    let data = tempfile::tempdir().unwrap();
    let grpc = free_port();
    let mut cmd = gatehouse().command(data.path());
    cmd.args(["serve", "token"])
        .env("GATEHOUSE_SYSTEM_SECRET", "s".repeat(40))
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .env("GATEHOUSE_GRPC_ADDR", format!("0.0.0.0:{grpc}"))
        .env(
            "GATEHOUSE_PUBLIC_ADDR",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("GATEHOUSE_ADMIN_ADDR", format!("127.0.0.1:{}", free_port()));
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(
        lines[0].contains("GATEHOUSE_GRPC_ADDR")
            && lines[0].contains("GATEHOUSE_GRPC_TLS_CERT")
            && lines[0].contains("gatehouse certs grpc"),
        "the line names the variable and the fix: {stderr}"
    );

    // Half a TLS configuration is refused too, naming what is missing.
    let out = gatehouse()
        .command(data.path())
        .args(["serve", "token"])
        .env("GATEHOUSE_SYSTEM_SECRET", "s".repeat(40))
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .env("GATEHOUSE_GRPC_TLS_CERT", "/nonexistent/token.crt")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("GATEHOUSE_GRPC_TLS_KEY"), "{stderr}");
}

#[test]
fn a_mesh_can_opt_out_with_a_warning_at_every_start() {
    let server = gatehouse()
        .server("all")
        .env("GATEHOUSE_GRPC_ADDR", format!("0.0.0.0:{}", free_port()))
        .env("GATEHOUSE_GRPC_INSECURE", "true")
        .start();
    let (status, logs) = server.terminate_with_logs();
    assert!(status.success());
    assert!(
        logs.contains("GATEHOUSE_GRPC_INSECURE") && logs.to_lowercase().contains("warn"),
        "{logs}"
    );
}
