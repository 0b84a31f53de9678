//! The operator CLI as operators run it: the real binary against a running `gatehouse serve all`.

use gatehouse_testkit::cli::CliOutput;
use gatehouse_testkit::e2e::Server;
use gatehouse_testkit::http::free_port;

use crate::gatehouse;

fn cli(server: &Server, args: &[&str]) -> CliOutput {
    server.cli().run(args, None)
}

fn cli_with_stdin(admin_port: u16, args: &[&str], stdin: Option<&str>) -> CliOutput {
    gatehouse()
        .cli(Server::url(admin_port, ""))
        .run(args, stdin)
}

fn stdout(o: &CliOutput) -> String {
    o.stdout.clone()
}

fn stderr(o: &CliOutput) -> String {
    o.stderr.clone()
}

#[test]
fn the_seed_commands_work_verbatim() {
    let server = gatehouse().server("all").start();
    let created = cli(
        &server,
        &[
            "clients",
            "create",
            "--name",
            "Neon CLI",
            "--id",
            "neoncli",
            "--callbacks",
            "http://127.0.0.1:5555/callback",
            "--grant-types",
            "authorization_code,refresh_token",
            "--response-types",
            "code",
            "--scope",
            "openid offline offline_access urn:neoncloud:projects:read",
            "--token-endpoint-auth-method",
            "none",
        ],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    assert_eq!(stdout(&created), "OAuth 2.0 Client ID: neoncli\n");

    // The first seed document's own spelling, with Hydra's global flag and --callbacks without a port.
    let seed_one = cli(
        &server,
        &[
            "clients",
            "--fake-tls-termination",
            "create",
            "--name",
            "Neon CLI",
            "--id",
            "neonclitest3",
            "--callbacks",
            "http://127.0.0.1/callback",
            "--grant-types",
            "authorization_code,refresh_token",
            "--scope",
            "openid offline offline_access urn:neoncloud:projects:create urn:neoncloud:projects:read urn:neoncloud:projects:update urn:neoncloud:projects:delete",
            "--token-endpoint-auth-method",
            "none",
        ],
    );
    assert!(seed_one.status.success(), "{}", stderr(&seed_one));

    let updated = cli(
        &server,
        &[
            "clients",
            "update",
            "neoncli",
            "--token-endpoint-auth-method",
            "none",
            "--grant-types",
            "authorization_code,refresh_token",
            "--scope",
            "openid offline",
            "--response-types",
            "code",
            "--name",
            "Neon CLI test 3",
            "--callbacks",
            "http://127.0.0.1:5555/callback",
        ],
    );
    assert!(updated.status.success(), "{}", stderr(&updated));
    assert_eq!(stdout(&updated), "neoncli OAuth 2.0 Client updated.\n");

    let listed = cli(&server, &["clients", "list"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let table = stdout(&listed);
    assert!(table.starts_with("|  CLIENT ID   |"), "{table}");
    assert!(
        table.contains(
            "| neoncli      |               | authorization_code,refresh_token | code           | openid offline"
        ),
        "the updated client is listed with Hydra v2's columns:\n{table}"
    );
    let json = cli(&server, &["clients", "list", "--format", "json"]);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON output");
    assert_eq!(parsed.as_array().map(Vec::len), Some(2));
}

#[test]
fn secrets_are_shown_once_and_never_stored_in_clear() {
    let server = gatehouse().server("all").start();
    let created = cli(
        &server,
        &[
            "clients",
            "create",
            "--id",
            "backend",
            "--name",
            "Backend",
            "--grant-types",
            "client_credentials",
            "--scope",
            "urn:x:read",
        ],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let out = stdout(&created);
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("OAuth 2.0 Client Secret: "))
        .expect("a generated secret is printed once")
        .to_owned();
    assert!(secret.len() >= 43, "256-bit secret: {secret}");
    assert!(
        stderr(&created).to_lowercase().contains("store"),
        "warning to store it: {}",
        stderr(&created)
    );
    let got = cli(&server, &["clients", "get", "backend", "--format", "json"]);
    assert!(
        !stdout(&got).contains(&secret),
        "get never shows the secret"
    );

    // A chosen secret through stdin, and the seed's warning for --secret.
    let chosen = "a-chosen-secret-that-is-long-enough-1234";
    let via_stdin = cli_with_stdin(
        server.admin,
        &[
            "clients",
            "create",
            "--id",
            "backend2",
            "--grant-types",
            "client_credentials",
            "--secret-stdin",
        ],
        Some(&format!("{chosen}\n")),
    );
    assert!(via_stdin.status.success(), "{}", stderr(&via_stdin));
    let via_flag = cli(
        &server,
        &[
            "clients",
            "create",
            "--id",
            "backend3",
            "--grant-types",
            "client_credentials",
            "--secret",
            chosen,
        ],
    );
    assert!(via_flag.status.success(), "{}", stderr(&via_flag));
    assert!(
        stderr(&via_flag).contains("You should not provide secrets using command line flags"),
        "{}",
        stderr(&via_flag)
    );

    let password = "correct horse battery staple";
    let user = cli_with_stdin(
        server.admin,
        &[
            "users",
            "create",
            "--username",
            "alice",
            "--email",
            "alice@example.com",
            "--password-stdin",
        ],
        Some(&format!("{password}\n")),
    );
    assert!(user.status.success(), "{}", stderr(&user));

    // The raw database holds hashes only.
    let db = std::fs::read(server.data_dir.path().join("gatehouse.db"))
        .expect("reading the SQLite file");
    let wal = std::fs::read(server.data_dir.path().join("gatehouse.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        for needle in [secret.as_str(), chosen, password] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle:?} found in clear in the database"
            );
        }
    }
}

#[test]
fn failures_are_one_line_with_a_non_zero_exit_and_write_nothing() {
    let server = gatehouse().server("all").start();
    let bad = cli(
        &server,
        &[
            "clients",
            "create",
            "--id",
            "web",
            "--callbacks",
            "http://evil.example/cb",
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(stderr(&bad).lines().count(), 1, "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("invalid_redirect_uri"),
        "{}",
        stderr(&bad)
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clients.json");
    std::fs::write(
        &file,
        r#"[{"client_id":"good-one","redirect_uris":["https://app.example/cb"]},{"client_id":"bad-one","redirect_uris":["javascript:alert(1)"]}]"#,
    )
    .unwrap();
    let import = cli(&server, &["clients", "import", file.to_str().unwrap()]);
    assert_ne!(
        import.status.code(),
        Some(0),
        "an import with a bad entry fails"
    );
    let listed = cli(&server, &["clients", "list", "--format", "json"]);
    let clients: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert!(
        clients
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["client_id"] != "bad-one"),
        "the bad client was not written"
    );

    std::fs::write(&file, "[{not json").unwrap();
    let broken = cli(&server, &["clients", "import", file.to_str().unwrap()]);
    assert_eq!(broken.status.code(), Some(1));

    let down = cli_with_stdin(free_port(), &["clients", "list"], None);
    assert_eq!(down.status.code(), Some(1));
    assert_eq!(stderr(&down).lines().count(), 1, "{}", stderr(&down));
}

#[test]
fn keys_rotate_keeps_the_old_key_listed_but_retired() {
    let server = gatehouse().server("all").start();
    let before = cli(&server, &["keys", "list", "--format", "json"]);
    assert!(before.status.success(), "{}", stderr(&before));
    let before: serde_json::Value = serde_json::from_str(&before.stdout).unwrap();
    let before = before.as_array().unwrap().clone();
    assert_eq!(
        before.len(),
        3,
        "one key per algorithm on first start: {before:?}"
    );
    assert!(
        before
            .iter()
            .all(|k| k["active"] == true && k.get("private_key").is_none())
    );
    let old_rs256 = before.iter().find(|k| k["alg"] == "RS256").unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();

    let rotated = cli(&server, &["keys", "rotate", "--alg", "RS256"]);
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    assert!(stdout(&rotated).contains("RS256"), "{}", stdout(&rotated));

    let after = cli(&server, &["keys", "list", "--format", "json"]);
    let after: serde_json::Value = serde_json::from_str(&after.stdout).unwrap();
    let after = after.as_array().unwrap().clone();
    assert_eq!(after.len(), 4);
    let old = after
        .iter()
        .find(|k| k["kid"] == old_rs256.as_str())
        .expect("old key still listed");
    assert_eq!(old["active"], false);
    assert!(old["retired_at"].is_string());
    assert_eq!(
        after
            .iter()
            .filter(|k| k["alg"] == "RS256" && k["active"] == true)
            .count(),
        1
    );

    let bad = cli(&server, &["keys", "rotate", "--alg", "HS256"]);
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn clients_help_shows_hydra_v2_flag_names() {
    let cli = gatehouse().cli(Server::url(free_port(), ""));
    for sub in ["create", "update"] {
        let help = cli.ok(&["clients", sub, "--help"], None);
        for flag in [
            "--redirect-uri",
            "--grant-type",
            "--response-type",
            "--scope",
            "--name",
            "--token-endpoint-auth-method",
            "--audience",
            "--allowed-cors-origin",
            "--owner",
            "--jwks-uri",
            "--logo-uri",
            "--client-uri",
            "--policy-uri",
            "--tos-uri",
            "--post-logout-callback",
            "--post-logout-redirect-uri",
            "--contact",
            "--skip-consent",
            "--access-token-strategy",
            "--metadata",
            "--id-token-claims",
            "--quiet",
            "--format",
        ] {
            assert!(help.contains(flag), "{sub} --help lacks {flag}:\n{help}");
        }
        for old in [
            "--callbacks",
            "--grant-types",
            "--response-types",
            "--contacts",
        ] {
            assert!(!help.contains(old), "{sub} --help shows {old}:\n{help}");
        }
        assert!(
            help.contains("json-pretty") && help.contains("yaml"),
            "{help}"
        );
    }
    for sub in ["list", "get", "delete", "import"] {
        let help = cli.ok(&["clients", sub, "--help"], None);
        assert!(
            help.contains("-q, --quiet") && help.contains("--format"),
            "{sub}: {help}"
        );
    }
}

/// docs/cli.md is the binary's own help; the runner sets GATEHOUSE_ADMIN_URL, so this also
/// checks that no environment value reaches the document.
#[test]
fn docs_cli_md_is_the_binarys_help() {
    let generated = gatehouse()
        .cli("http://environment-value.invalid:1")
        .ok(&["help-markdown"], None);
    assert!(!generated.contains("environment-value.invalid"));
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/cli.md is stale: regenerate it with `cargo run -p gatehouse -- help-markdown > docs/cli.md`"
    );
}

/// `POST /oauth2/register` on `server` with `token` as the initial access token.
async fn self_register(server: &Server, token: Option<&str>) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new()
        .post(Server::url(server.public, "/oauth2/register"))
        .json(&serde_json::json!({
            "redirect_uris": ["http://127.0.0.1/callback"],
            "token_endpoint_auth_method": "none"
        }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let reply = request.send().await.unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or_default())
}

#[tokio::test]
async fn registration_tokens_are_printed_once_counted_and_revoked() {
    let server = gatehouse().server("all").start();
    let created = cli(
        &server,
        &[
            "registration-tokens",
            "create",
            "--expires",
            "7d",
            "--max-uses",
            "2",
        ],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let token = stdout(&created)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned();
    assert!(token.len() >= 43, "{}", stdout(&created));

    let (status, body) = self_register(&server, Some(&token)).await;
    assert_eq!(status, 201, "{body}");
    assert!(body["registration_access_token"].is_string(), "{body}");
    let (status, body) = self_register(&server, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );

    let listed = cli(
        &server,
        &["registration-tokens", "list", "--format", "json"],
    );
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(
        !stdout(&listed).contains(&token),
        "the list never shows a token"
    );
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(listed[0]["uses"], 1);
    assert_eq!(listed[0]["max_uses"], 2);
    assert!(listed[0]["expires_at"].is_string());
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    let table = cli(&server, &["registration-tokens", "list"]);
    assert!(stdout(&table).contains("1/2"), "{}", stdout(&table));

    let revoked = cli(&server, &["registration-tokens", "revoke", &id]);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    let (status, _) = self_register(&server, Some(&token)).await;
    assert_eq!(status, 401, "a revoked token registers nothing");
    let again = cli(&server, &["registration-tokens", "delete", &id]);
    assert_eq!(again.status.code(), Some(1), "{}", stdout(&again));
}

#[tokio::test]
async fn open_registration_needs_no_token() {
    let server = gatehouse()
        .server("all")
        .env("GATEHOUSE_OPEN_REGISTRATION", "true")
        .start();
    let (status, body) = self_register(&server, None).await;
    assert_eq!(status, 201, "{body}");
    let (_, discovery) = gatehouse_testkit::http::get(&Server::url(
        server.public,
        "/.well-known/openid-configuration",
    ))
    .await;
    assert!(
        discovery.contains("\"registration_endpoint\""),
        "{discovery}"
    );
}

/// A partner's request, as the developer portal submits it over gRPC.
async fn submit_request(server: &Server, owner: &str, name: &str) -> String {
    use gatehouse_proto::token::v1 as pb;
    let mut grpc = pb::token_service_client::TokenServiceClient::connect(format!(
        "http://127.0.0.1:{}",
        server.grpc
    ))
    .await
    .unwrap();
    grpc.submit_registration_request(pb::SubmitRegistrationRequestRequest {
        subject: owner.into(),
        app: Some(pb::PartnerApp {
            name: name.into(),
            description: "Syncs projects".into(),
            website: "https://acme.example".into(),
            contact_name: "Ada".into(),
            reason: "customers asked".into(),
            redirect_uris: vec!["https://acme.example/callback".into()],
            scopes: vec!["openid".into(), "profile".into()],
            confidential: true,
            logo_uri: String::new(),
        }),
        id: None,
    })
    .await
    .unwrap()
    .into_inner()
    .request
    .unwrap()
    .id
}

#[tokio::test]
async fn registration_requests_are_reviewed_from_the_cli() {
    let server = gatehouse().server("all").start();
    let created = cli_with_stdin(
        server.admin,
        &[
            "users",
            "create",
            "--username",
            "partner",
            "--password-stdin",
            "--format",
            "json",
        ],
        Some("a good long password\n"),
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let partner: serde_json::Value = serde_json::from_str(&created.stdout).unwrap();
    let owner = partner["id"].as_str().unwrap().to_owned();
    let first = submit_request(&server, &owner, "Acme Sync").await;
    let second = submit_request(&server, &owner, "Bravo Reports").await;

    let table = cli(&server, &["registrations", "list"]);
    assert!(table.status.success(), "{}", stderr(&table));
    for expected in [
        first.as_str(),
        second.as_str(),
        "Acme Sync",
        "partner",
        "pending",
    ] {
        assert!(
            stdout(&table).contains(expected),
            "{expected}: {}",
            stdout(&table)
        );
    }
    let shown = cli(&server, &["registrations", "show", &first]);
    assert!(
        stdout(&shown).contains("https://acme.example/callback"),
        "{}",
        stdout(&shown)
    );
    assert!(
        stdout(&shown).contains("confidential"),
        "{}",
        stdout(&shown)
    );

    let approved = cli(&server, &["registrations", "approve", &first]);
    assert!(approved.status.success(), "{}", stderr(&approved));
    assert!(
        stdout(&approved).contains("approved"),
        "{}",
        stdout(&approved)
    );
    let pending = cli(
        &server,
        &[
            "registrations",
            "list",
            "--status",
            "pending",
            "--format",
            "json",
        ],
    );
    let pending: serde_json::Value = serde_json::from_str(&pending.stdout).unwrap();
    assert_eq!(pending.as_array().unwrap().len(), 1);
    assert_eq!(pending[0]["id"], second.as_str());
    let done = cli(
        &server,
        &["registrations", "show", &first, "--format", "json"],
    );
    let done: serde_json::Value = serde_json::from_str(&done.stdout).unwrap();
    let client_id = done["client_id"].as_str().unwrap().to_owned();
    let client = cli(&server, &["clients", "get", &client_id, "--format", "json"]);
    assert!(client.status.success(), "{}", stderr(&client));
    assert!(stdout(&client).contains("Acme Sync"), "{}", stdout(&client));

    // Readable errors and a non-zero exit: a second decision, an empty reason, an unknown id.
    let twice = cli(&server, &["registrations", "approve", &first]);
    assert_eq!(twice.status.code(), Some(1), "{}", stdout(&twice));
    assert!(stderr(&twice).contains("conflict"), "{}", stderr(&twice));
    let no_reason = cli(&server, &["registrations", "reject", &second]);
    assert_eq!(
        no_reason.status.code(),
        Some(2),
        "clap refuses a missing --reason"
    );
    let empty = cli(
        &server,
        &["registrations", "reject", &second, "--reason", " "],
    );
    assert_eq!(empty.status.code(), Some(1));
    assert!(stderr(&empty).contains("--reason"), "{}", stderr(&empty));
    let unknown = cli(&server, &["registrations", "show", "rr_nothing"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("not_found"),
        "{}",
        stderr(&unknown)
    );

    let changes = cli(
        &server,
        &[
            "registrations",
            "request-changes",
            &second,
            "--reason",
            "Add a privacy policy",
        ],
    );
    assert!(changes.status.success(), "{}", stderr(&changes));
    let rejected = cli(
        &server,
        &["registrations", "reject", &second, "--reason", "late"],
    );
    assert_eq!(rejected.status.code(), Some(1), "not pending any more");
    let shown = cli(
        &server,
        &["registrations", "show", &second, "--format", "json"],
    );
    let shown: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(shown["status"], "changes_requested");
    assert_eq!(shown["review_reason"], "Add a privacy policy");
}
