//! Whole operator CLI sessions: the real `gatehouse` binary's commands, one after another,
//! against an admin API served in this test process: a small stand-in that pages one client at a
//! time (so listing follows every page), and the real admin router
//! (`gatehouse_token::admin::router`) on a SQLite and an in-memory store from the test kit.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gatehouse_testkit::cli::AdminCli;
use gatehouse_testkit::http::{Served, serve};
use gatehouse_testkit::{BackendPair, DurableKind, ShortLivedKind, admin};
use gatehouse_token::admin::AdminConfig;
use serde_json::{Value, json};

use crate::gatehouse;

/// The password every `--password-stdin` of these sessions reads.
const PASSWORD: &str = "correct horse battery staple\n";

/// The CLI pointed at an admin API this test serves, for as long as it lives.
struct Session {
    cli: AdminCli,
    _served: Served,
    // Last, so the router (and its store) go before the backends delete their databases.
    _admin: Option<admin::Harness>,
}

impl Session {
    /// The CLI against [`paginating_stand_in`].
    async fn stand_in() -> Self {
        let served = serve(paginating_stand_in()).await;
        Self {
            cli: gatehouse().cli(&served.url),
            _served: served,
            _admin: None,
        }
    }

    /// The CLI against the real admin API on SQLite and the memory store, with the default
    /// scopes seeded.
    async fn real_admin_api() -> Self {
        let backends = BackendPair {
            durable: gatehouse_testkit::durable_backend(DurableKind::Sqlite)
                .await
                .unwrap(),
            short_lived: gatehouse_testkit::short_lived_backend(ShortLivedKind::Memory)
                .await
                .unwrap(),
        };
        let harness = admin::Harness::new(backends, AdminConfig::default());
        gatehouse_token::admin::seed_default_scopes(harness.store())
            .await
            .unwrap();
        let served = serve(harness.router.clone()).await;
        Self {
            cli: gatehouse().cli(&served.url),
            _served: served,
            _admin: Some(harness),
        }
    }
}

/// Runs `gatehouse <line>` (with [`PASSWORD`] on standard input when the line reads it) and
/// returns its standard output, or its error line when it fails.
async fn run_line(api: &Session, line: &[&str]) -> Result<String, String> {
    let stdin = line.contains(&"--password-stdin").then_some(PASSWORD);
    api.cli.run_async(line, stdin).await.result()
}

/// An in-memory stand-in for the admin API's client endpoints, paginating one client per page.
fn paginating_stand_in() -> axum::Router {
    type Db = Arc<Mutex<BTreeMap<String, Value>>>;
    fn not_found(id: &str) -> Response {
        (StatusCode::NOT_FOUND, axum::Json(json!({"error": "not_found", "error_description": format!("client {id:?} does not exist")})))
            .into_response()
    }
    fn stored(mut c: Value) -> (Value, Option<String>) {
        let secret = c
            .as_object_mut()
            .and_then(|o| o.remove("client_secret"))
            .and_then(|s| s.as_str().map(str::to_owned));
        if c.get("token_endpoint_auth_method").is_none() {
            c["token_endpoint_auth_method"] = json!("client_secret_basic");
        }
        if c.get("grant_types").is_none() {
            c["grant_types"] = json!(["authorization_code"]);
        }
        let generated = (c["token_endpoint_auth_method"] != "none")
            .then(|| secret.unwrap_or_else(|| "generated-secret".into()));
        (c, generated)
    }
    async fn create(
        State(db): State<Db>,
        Query(q): Query<HashMap<String, String>>,
        axum::Json(body): axum::Json<Value>,
    ) -> Response {
        let (mut client, secret) = stored(body);
        let id = client
            .get("client_id")
            .and_then(Value::as_str)
            .unwrap_or("generated-id")
            .to_owned();
        client["client_id"] = json!(id);
        let mut db = db.lock().unwrap();
        if db.contains_key(&id) {
            let e = json!({"error": "conflict", "error_description": format!("client {id:?} already exists")});
            return (StatusCode::CONFLICT, axum::Json(e)).into_response();
        }
        if q.get("dry_run").map(String::as_str) == Some("true") {
            return axum::Json(client).into_response();
        }
        db.insert(id, client.clone());
        client["client_secret"] = json!(secret);
        (StatusCode::CREATED, axum::Json(client)).into_response()
    }
    async fn list(State(db): State<Db>, Query(q): Query<HashMap<String, String>>) -> Response {
        let db = db.lock().unwrap();
        let after = q.get("page_token").cloned().unwrap_or_default();
        let mut page = db.range(after.clone()..).filter(|(k, _)| **k != after);
        let item = page.next().map(|(_, v)| v.clone());
        let link = page.next().and(item.as_ref()).map(|c| {
            format!(
                "</admin/clients?page_size=1&page_token={}>; rel=\"next\"",
                c["client_id"].as_str().unwrap()
            )
        });
        let mut resp = axum::Json(Value::Array(item.into_iter().collect())).into_response();
        if let Some(link) = link {
            resp.headers_mut()
                .insert(header::LINK, link.parse().unwrap());
        }
        resp
    }
    async fn read(State(db): State<Db>, Path(id): Path<String>) -> Response {
        db.lock()
            .unwrap()
            .get(&id)
            .cloned()
            .map(|c| axum::Json(c).into_response())
            .unwrap_or_else(|| not_found(&id))
    }
    async fn replace(
        State(db): State<Db>,
        Path(id): Path<String>,
        axum::Json(body): axum::Json<Value>,
    ) -> Response {
        let mut db = db.lock().unwrap();
        if !db.contains_key(&id) {
            return not_found(&id);
        }
        let (client, _) = stored(body);
        db.insert(id, client.clone());
        axum::Json(client).into_response()
    }
    /// JSON Patch `replace`/`add` of top-level members, all the CLI sends.
    async fn patch(
        State(db): State<Db>,
        Path(id): Path<String>,
        headers: axum::http::HeaderMap,
        axum::Json(ops): axum::Json<Value>,
    ) -> Response {
        assert_eq!(
            headers.get(header::CONTENT_TYPE).unwrap(),
            "application/json-patch+json"
        );
        let mut db = db.lock().unwrap();
        let Some(client) = db.get_mut(&id) else {
            return not_found(&id);
        };
        for op in ops.as_array().unwrap() {
            assert!(["replace", "add"].contains(&op["op"].as_str().unwrap()));
            let key = op["path"].as_str().unwrap().trim_start_matches('/');
            client[key] = op["value"].clone();
        }
        axum::Json(client.clone()).into_response()
    }
    async fn remove(State(db): State<Db>, Path(id): Path<String>) -> Response {
        match db.lock().unwrap().remove(&id) {
            Some(_) => StatusCode::NO_CONTENT.into_response(),
            None => not_found(&id),
        }
    }
    async fn rotate(
        State(db): State<Db>,
        Path(id): Path<String>,
        Query(q): Query<HashMap<String, String>>,
    ) -> Response {
        let Some(mut client) = db.lock().unwrap().get(&id).cloned() else {
            return not_found(&id);
        };
        let grace = q
            .get("grace_seconds")
            .cloned()
            .unwrap_or_else(|| "default".into());
        client["client_secret"] = json!(format!("rotated-{grace}"));
        axum::Json(client).into_response()
    }
    axum::Router::new()
        .route("/admin/clients", post(create).get(list))
        .route(
            "/admin/clients/{id}",
            get(read).put(replace).patch(patch).delete(remove),
        )
        .route("/admin/clients/{id}/secret", post(rotate))
        .with_state(Db::default())
}

#[tokio::test]
async fn the_seeds_session_against_an_admin_api() {
    let api = Session::stand_in().await;

    let created = run_line(
        &api,
        &[
            "clients",
            "--fake-tls-termination",
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
    )
    .await;
    assert_eq!(created, Ok("OAuth 2.0 Client ID: neoncli\n".into()));

    let backend = run_line(
        &api,
        &[
            "clients",
            "create",
            "--id",
            "backend",
            "--grant-types",
            "client_credentials",
        ],
    )
    .await;
    assert_eq!(
        backend,
        Ok("OAuth 2.0 Client ID: backend\nOAuth 2.0 Client Secret: generated-secret\n".into())
    );

    let updated = run_line(
        &api,
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
    )
    .await;
    assert_eq!(updated, Ok("neoncli OAuth 2.0 Client updated.\n".into()));

    let listed = run_line(&api, &["clients", "list"]).await.unwrap();
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 4, "{listed}");
    assert_eq!(
        lines[0],
        "| CLIENT ID | CLIENT SECRET |           GRANT TYPES            | RESPONSE TYPES |     SCOPE      | AUDIENCE |         REDIRECT URIS          |"
    );
    assert!(
        lines[2].starts_with("| backend   |               | client_credentials "),
        "{listed}"
    );
    assert_eq!(
        lines[3],
        "| neoncli   |               | authorization_code,refresh_token | code           | openid offline |          | http://127.0.0.1:5555/callback |"
    );
    assert_eq!(
        run_line(&api, &["clients", "list", "-q"]).await,
        Ok("backend\nneoncli\n".into())
    );

    let json_list: Value = serde_json::from_str(
        &run_line(&api, &["clients", "list", "--format", "json"])
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(json_list.as_array().map(Vec::len), Some(2));

    let got = run_line(&api, &["clients", "get", "neoncli"])
        .await
        .unwrap();
    assert!(
        got.contains("NAME                        Neon CLI test 3\n"),
        "{got}"
    );

    let rotated = run_line(
        &api,
        &["clients", "rotate-secret", "backend", "--grace", "2h"],
    )
    .await;
    assert_eq!(
        rotated,
        Ok("OAuth 2.0 Client ID: backend\nOAuth 2.0 Client Secret: rotated-7200\n".into())
    );

    let deleted = run_line(&api, &["clients", "delete", "backend"]).await;
    assert_eq!(deleted, Ok("backend OAuth 2.0 Client deleted.\n".into()));
    assert_eq!(
        run_line(&api, &["clients", "get", "backend"]).await,
        Err(r#"client "backend" does not exist (not_found)"#.into())
    );
    assert_eq!(
        run_line(&api, &["clients", "delete", "backend"]).await,
        Err(r#"client "backend" does not exist (not_found)"#.into())
    );
}

#[tokio::test]
async fn import_reports_each_client_and_fails_if_any_failed() {
    let api = Session::stand_in().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clients.json");
    std::fs::write(&file, r#"[{"client_id":"a","token_endpoint_auth_method":"none"},{"client_id":"b"},{"client_id":"c","client_secret":""}]"#).unwrap();
    let file = file.to_str().unwrap();
    assert_eq!(
        run_line(&api, &["clients", "import", file]).await,
        Ok("Imported OAuth 2.0 Client a\nImported OAuth 2.0 Client b\nOAuth 2.0 Client Secret: generated-secret\n\
            Imported OAuth 2.0 Client c\nOAuth 2.0 Client Secret: generated-secret\n".into())
    );
    std::fs::write(
        dir.path().join("again.json"),
        r#"[{"client_id":"d"},{"client_id":"a"}]"#,
    )
    .unwrap();
    let again = dir.path().join("again.json");
    let err = run_line(&api, &["clients", "import", again.to_str().unwrap()])
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "1 of 2 clients cannot be imported (see above) (--on-conflict skip or update imports over existing clients); nothing was imported"
    );
    assert!(
        run_line(&api, &["clients", "get", "d"]).await.is_err(),
        "an existing client fails the import before anything is created"
    );
    assert_eq!(
        run_line(
            &api,
            &[
                "clients",
                "import",
                again.to_str().unwrap(),
                "--on-conflict",
                "skip"
            ]
        )
        .await,
        Ok(
            "Imported OAuth 2.0 Client d\nOAuth 2.0 Client Secret: generated-secret\n\
            Skipped existing OAuth 2.0 Client a\n"
                .into()
        )
    );
    assert!(run_line(&api, &["clients", "get", "d"]).await.is_ok());

    std::fs::write(
        dir.path().join("broken.json"),
        r#"[{"client_id":"e"},{"client_id":"f",]"#,
    )
    .unwrap();
    let broken = dir.path().join("broken.json");
    let err = run_line(&api, &["clients", "import", broken.to_str().unwrap()])
        .await
        .unwrap_err();
    assert!(
        err.contains("not valid JSON") && err.ends_with("nothing was imported"),
        "{err}"
    );
    assert!(
        run_line(&api, &["clients", "get", "e"]).await.is_err(),
        "nothing of a broken file is imported"
    );
    let missing = dir.path().join("missing.json");
    let err = run_line(&api, &["clients", "import", missing.to_str().unwrap()])
        .await
        .unwrap_err();
    assert!(
        err.starts_with(&format!("reading {}: No such file", missing.display())),
        "{err}"
    );
}

#[tokio::test]
async fn the_seeds_commands_against_the_real_admin_api() {
    let api = Session::real_admin_api().await;
    let scope = "openid offline offline_access urn:neoncloud:projects:create urn:neoncloud:projects:read \
                 urn:neoncloud:projects:update urn:neoncloud:projects:delete";
    let created = run_line(
        &api,
        &[
            "clients",
            "--fake-tls-termination",
            "create",
            "--name",
            "Neon CLI",
            "--id",
            "neoncli",
            "--callbacks",
            "http://127.0.0.1/callback",
            "--grant-types",
            "authorization_code,refresh_token",
            "--scope",
            scope,
            "--token-endpoint-auth-method",
            "none",
        ],
    )
    .await;
    assert_eq!(created, Ok("OAuth 2.0 Client ID: neoncli\n".into()));

    let updated = run_line(
        &api,
        &[
            "clients",
            "--fake-tls-termination",
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
    )
    .await;
    assert_eq!(updated, Ok("neoncli OAuth 2.0 Client updated.\n".into()));

    let listed = run_line(&api, &["clients", "--fake-tls-termination", "list"]).await;
    assert_eq!(
        listed,
        Ok("\
| CLIENT ID | CLIENT SECRET |           GRANT TYPES            | RESPONSE TYPES |     SCOPE      | AUDIENCE |         REDIRECT URIS          |
|-----------|---------------|----------------------------------|----------------|----------------|----------|--------------------------------|
| neoncli   |               | authorization_code,refresh_token | code           | openid offline |          | http://127.0.0.1:5555/callback |
"
        .into())
    );
}

#[tokio::test]
async fn confidential_clients_show_generated_secrets_once() {
    let api = Session::real_admin_api().await;
    let created = run_line(
        &api,
        &[
            "clients",
            "create",
            "--id",
            "web",
            "-c",
            "https://console.example/cb",
        ],
    )
    .await
    .unwrap();
    let secret = created
        .strip_prefix("OAuth 2.0 Client ID: web\nOAuth 2.0 Client Secret: ")
        .unwrap()
        .trim();
    assert!(secret.len() >= 43, "{created}");
    let got = run_line(&api, &["clients", "get", "web", "--format", "json"])
        .await
        .unwrap();
    assert!(
        !got.contains(secret) && !got.contains("client_secret\""),
        "{got}"
    );

    let rotated = run_line(&api, &["clients", "rotate-secret", "web", "--grace", "0s"])
        .await
        .unwrap();
    assert!(
        rotated.starts_with("OAuth 2.0 Client ID: web\nOAuth 2.0 Client Secret: ")
            && !rotated.contains(secret)
    );

    let err = run_line(
        &api,
        &[
            "clients",
            "create",
            "--id",
            "bad",
            "-c",
            "http://evil.example/cb",
        ],
    )
    .await
    .unwrap_err();
    assert!(
        err.ends_with("(invalid_redirect_uri)") && err.contains("http://evil.example/cb"),
        "{err}"
    );
    assert_eq!(
        run_line(&api, &["clients", "get", "nope"]).await,
        Err(r#"client "nope" does not exist (not_found)"#.into())
    );
}

#[tokio::test]
async fn scopes_and_users_against_the_real_admin_api() {
    let api = Session::real_admin_api().await;
    let listed = run_line(&api, &["scopes", "list"]).await.unwrap();
    assert!(
        listed.contains("| openid         | Sign you in "),
        "{listed}"
    );
    let name = "urn:neoncloud:projects:read";
    assert_eq!(
        run_line(
            &api,
            &["scopes", "create", name, "--label", "Read your projects"]
        )
        .await,
        Ok(format!("Scope {name} created.\n"))
    );
    assert!(
        run_line(&api, &["scopes", "create", name, "--label", "x"])
            .await
            .unwrap_err()
            .ends_with("(conflict)")
    );
    run_line(
        &api,
        &[
            "scopes",
            "update",
            name,
            "--hidden",
            "--description",
            "Project names",
        ],
    )
    .await
    .unwrap();
    let scope: Value = serde_json::from_str(
        &run_line(&api, &["scopes", "get", name, "--format", "json"])
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        scope,
        json!({"name": name, "label": "Read your projects", "description": "Project names", "hidden": true, "claims": []})
    );
    assert_eq!(
        run_line(&api, &["scopes", "delete", name]).await,
        Ok(format!("Scope {name} deleted.\n"))
    );

    let created = run_line(
        &api,
        &[
            "users",
            "create",
            "--username",
            "ann",
            "--email",
            "ann@example.com",
            "--name",
            "Ann",
            "--password-stdin",
        ],
    )
    .await
    .unwrap();
    let id = created
        .strip_prefix("User ann created with ID ")
        .unwrap()
        .trim_end_matches(".\n")
        .to_owned();
    assert!(
        run_line(
            &api,
            &["users", "create", "--username", "ANN", "--password-stdin"]
        )
        .await
        .unwrap_err()
        .ends_with("(conflict)")
    );
    let found = run_line(
        &api,
        &["users", "list", "--search", "ann", "--format", "json"],
    )
    .await
    .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&found).unwrap()[0]["id"],
        json!(id)
    );
    run_line(
        &api,
        &[
            "users",
            "update",
            &id,
            "--email",
            "new@example.com",
            "--name",
            "",
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        run_line(&api, &["users", "disable", &id]).await,
        Ok(format!("User {id} disabled.\n"))
    );
    let user: Value = serde_json::from_str(
        &run_line(&api, &["users", "get", &id, "--format", "json"])
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (&user["email"], &user["name"], &user["disabled"]),
        (&json!("new@example.com"), &Value::Null, &json!(true))
    );
    run_line(&api, &["users", "enable", &id]).await.unwrap();
    assert_eq!(
        run_line(&api, &["users", "set-password", &id, "--password-stdin"]).await,
        Ok(format!("Password of user {id} set.\n"))
    );
    assert_eq!(
        run_line(&api, &["users", "delete", &id]).await,
        Ok(format!("User {id} deleted.\n"))
    );
    assert!(
        run_line(&api, &["users", "get", &id])
            .await
            .unwrap_err()
            .ends_with("(not_found)")
    );
}

/// Writes `content` to `name` in `dir` and returns its path.
fn file_in(dir: &tempfile::TempDir, name: &str, content: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn import_validates_every_client_on_the_server_before_creating_any() {
    let api = Session::real_admin_api().await;
    let dir = tempfile::tempdir().unwrap();
    // The third client is invalid only by the server's rules (a plain-http redirect URI on a
    // public host), so nothing but the server's validation can catch it.
    let four = file_in(
        &dir,
        "four.json",
        r#"[{"client_id":"one","token_endpoint_auth_method":"none","redirect_uris":["http://127.0.0.1/cb"]},
            {"client_id":"two","token_endpoint_auth_method":"none","redirect_uris":["http://127.0.0.1/cb"]},
            {"client_id":"three","token_endpoint_auth_method":"none","redirect_uris":["http://evil.example/cb"]},
            {"client_id":"four","token_endpoint_auth_method":"none","redirect_uris":["http://127.0.0.1/cb"]}]"#,
    );
    let out = api.cli.run_async(&["clients", "import", &four], None).await;
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("four.json: client 3 (three)")
            && out.stderr.contains("invalid_redirect_uri"),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.result(),
        Err("1 of 4 clients cannot be imported (see above); nothing was imported".into())
    );
    assert_eq!(
        run_line(&api, &["clients", "list", "-q"]).await,
        Ok(String::new()),
        "no client was created"
    );

    // Hydra's export shape; --dry-run reports and creates nothing; dropped fields are named.
    let export = file_in(
        &dir,
        "export.json",
        r#"{"items":[{"client_id":"one","grant_types":["client_credentials"],"subject_type":"pairwise","jwks":{}},
                     {"client_id":"two","grant_types":["client_credentials"],"created_at":"2024-01-01T00:00:00Z"}]}"#,
    );
    let dry = api
        .cli
        .run_async(&["clients", "import", "--dry-run", &export], None)
        .await;
    assert_eq!(
        dry.result(),
        Ok("Would import OAuth 2.0 Client one\nWould import OAuth 2.0 Client two\nDry run: nothing was imported.\n".into())
    );
    assert_eq!(
        dry.stderr,
        format!(
            "warning: {export}: client 1 (one): field \"subject_type\" is not kept by Gatehouse and is dropped\n"
        )
    );
    assert_eq!(
        run_line(&api, &["clients", "list", "-q"]).await,
        Ok(String::new())
    );
    assert_eq!(
        run_line(&api, &["clients", "import", "-q", &export]).await,
        Ok("one\ntwo\n".into())
    );

    // --on-conflict update replaces the client and keeps its secret.
    let created = run_line(
        &api,
        &[
            "clients",
            "create",
            "--id",
            "web",
            "-c",
            "https://app.example/cb",
            "--format",
            "json",
        ],
    )
    .await
    .unwrap();
    let secret = serde_json::from_str::<Value>(&created).unwrap()["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let renamed = file_in(
        &dir,
        "web.json",
        r#"{"client_id":"web","client_name":"Renamed","redirect_uris":["https://app.example/cb"]}"#,
    );
    assert!(
        run_line(&api, &["clients", "import", &renamed])
            .await
            .unwrap_err()
            .contains("--on-conflict")
    );
    assert_eq!(
        run_line(
            &api,
            &["clients", "import", &renamed, "--on-conflict", "update"]
        )
        .await,
        Ok("Updated OAuth 2.0 Client web\n".into())
    );
    let web = api
        ._admin
        .as_ref()
        .unwrap()
        .store()
        .get_client("web")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(web.metadata.client_name, "Renamed");
    assert!(
        gatehouse_token::admin::verify_client_secret(
            &web,
            &secret,
            &api._admin.as_ref().unwrap().hasher,
            gatehouse_testkit::admin::start_time(),
        ),
        "the secret is kept"
    );

    let unknown = file_in(&dir, "unknown.json", r#"{"clients":[]}"#);
    assert_eq!(
        run_line(&api, &["clients", "import", &unknown]).await,
        Err(format!(
            "{unknown}: no clients found: expected an object with client_id, an array, or {{items: […]}}"
        ))
    );
}

#[tokio::test]
async fn update_changes_only_the_flags_given_and_replace_takes_a_whole_client() {
    let api = Session::real_admin_api().await;
    let created = run_line(
        &api,
        &[
            "clients",
            "create",
            "--id",
            "web",
            "--redirect-uri",
            "https://app.example/cb",
            "--grant-type",
            "authorization_code,refresh_token",
            "--scope",
            "openid,offline",
            "--allowed-cors-origin",
            "https://app.example",
            "--owner",
            "billing",
            "--jwks-uri",
            "https://app.example/jwks.json",
            "--id-token-claims",
            "scopes",
            "--audience",
            "https://api.example",
            "-q",
        ],
    )
    .await;
    assert_eq!(created, Ok("web\n".into()));
    let get = |format: &'static str| {
        let cli = api.cli.clone();
        async move {
            cli.run_async(&["clients", "get", "web", "--format", format], None)
                .await
                .result()
                .unwrap()
        }
    };
    let before: Value = serde_json::from_str(&get("json").await).unwrap();
    assert_eq!(
        before["allowed_cors_origins"],
        json!(["https://app.example"])
    );
    assert_eq!(
        (
            &before["owner"],
            &before["jwks_uri"],
            &before["id_token_claims"]
        ),
        (
            &json!("billing"),
            &json!("https://app.example/jwks.json"),
            &json!("scopes")
        )
    );

    let renamed = run_line(
        &api,
        &[
            "clients", "update", "web", "--name", "Web", "--format", "json",
        ],
    )
    .await
    .unwrap();
    let after: Value = serde_json::from_str(&renamed).unwrap();
    assert_eq!(after["client_name"], "Web");
    for (key, value) in before.as_object().unwrap() {
        if !["client_name", "updated_at"].contains(&key.as_str()) {
            assert_eq!(&after[key], value, "{key} is left as it was");
        }
    }
    let yaml = get("yaml").await;
    assert!(
        yaml.contains("client_name: Web\n") && yaml.contains("- https://app.example/cb\n"),
        "{yaml}"
    );
    assert_eq!(
        run_line(&api, &["clients", "update", "web"])
            .await
            .unwrap_err(),
        "nothing to update: pass the settings to change (see `gatehouse clients update --help`), or --replace --file FILE"
    );

    // --replace: the whole client from standard input; what it leaves out takes its default.
    let replaced = api
        .cli
        .run_async(
            &[
                "clients",
                "update",
                "web",
                "--replace",
                "--file",
                "-",
                "--format",
                "json-pretty",
            ],
            Some(r#"{"client_name":"Replaced","redirect_uris":["https://app.example/cb"]}"#),
        )
        .await
        .result()
        .unwrap();
    assert!(replaced.starts_with("{\n  \""), "pretty JSON: {replaced}");
    let replaced: Value = serde_json::from_str(&replaced).unwrap();
    assert_eq!(replaced["client_name"], "Replaced");
    assert_eq!(replaced["owner"], "");
    assert_eq!(replaced["grant_types"], json!(["authorization_code"]));
    assert!(
        replaced.get("client_secret").is_none(),
        "the secret is kept"
    );
    let other_id = api
        .cli
        .run_async(
            &["clients", "update", "web", "--replace", "--file", "-"],
            Some(r#"{"client_id":"other"}"#),
        )
        .await
        .result()
        .unwrap_err();
    assert_eq!(
        other_id,
        "stdin: client_id \"other\" differs from \"web\"; a client's ID cannot be changed"
    );
    let both = api
        .cli
        .run_async(
            &[
                "clients",
                "update",
                "web",
                "--replace",
                "--file",
                "-",
                "--secret-stdin",
            ],
            Some("{}"),
        )
        .await
        .result()
        .unwrap_err();
    assert!(
        both.starts_with("--file - and --secret-stdin both read standard input"),
        "{both}"
    );
    let usage = api
        .cli
        .run_async(
            &[
                "clients",
                "update",
                "web",
                "--replace",
                "--file",
                "-",
                "--name",
                "x",
            ],
            None,
        )
        .await;
    assert_eq!(usage.code(), Some(2), "{}", usage.stderr);

    assert_eq!(
        run_line(&api, &["clients", "delete", "web", "-q"]).await,
        Ok("web\n".into())
    );
}

#[tokio::test]
async fn users_are_named_by_id_or_username_and_unlock_lifts_a_lock() {
    use gatehouse_core::lockout::{KEY_PURPOSE, LockoutPolicy, LoginLimits};
    use gatehouse_core::secret::KeyedHasher;

    let api = Session::real_admin_api().await;
    let created = run_line(
        &api,
        &["users", "create", "--username", "Dora", "--password-stdin"],
    )
    .await
    .unwrap();
    let id = created
        .strip_prefix("User Dora created with ID ")
        .unwrap()
        .trim_end_matches(".\n")
        .to_owned();
    let by_name: Value = serde_json::from_str(
        &run_line(&api, &["users", "get", "dora", "--format", "json"])
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(by_name["id"], json!(id));
    assert_eq!(
        run_line(&api, &["users", "update", "DORA", "--name", "Dora D."]).await,
        Ok("User DORA updated.\n".into())
    );

    // The admin API's harness keys the failed-login counters as the token service does.
    let harness = api._admin.as_ref().unwrap();
    let keys = KeyedHasher::new(gatehouse_testkit::admin::SYSTEM_SECRET, KEY_PURPOSE);
    let policy = LockoutPolicy::default();
    let limits = LoginLimits {
        store: harness.short(),
        keys: &keys,
        policy: &policy,
    };
    let now = gatehouse_testkit::admin::start_time().unix_timestamp();
    let lock = || async {
        for _ in 0..policy.max_failures_per_user {
            limits
                .record_failure("dora", "198.51.100.7", now)
                .await
                .unwrap();
        }
        assert!(
            limits
                .check("dora", "203.0.113.1", now)
                .await
                .unwrap()
                .is_some()
        );
    };
    lock().await;
    assert_eq!(
        run_line(&api, &["users", "unlock", "dora"]).await,
        Ok("User dora unlocked.\n".into())
    );
    assert_eq!(
        limits.check("dora", "203.0.113.1", now).await.unwrap(),
        None
    );

    lock().await;
    run_line(&api, &["users", "disable", &id]).await.unwrap();
    assert_eq!(
        run_line(&api, &["users", "enable", "Dora"]).await,
        Ok("User Dora enabled.\n".into())
    );
    assert_eq!(
        limits.check("dora", "203.0.113.1", now).await.unwrap(),
        None
    );

    lock().await;
    assert_eq!(
        run_line(&api, &["users", "set-password", "dora", "--password-stdin"]).await,
        Ok("Password of user dora set.\n".into())
    );
    assert_eq!(
        limits.check("dora", "203.0.113.1", now).await.unwrap(),
        None
    );

    let missing = run_line(&api, &["users", "unlock", "nobody"])
        .await
        .unwrap_err();
    assert!(
        missing.starts_with("no user has the ID or username \"nobody\"")
            && missing.ends_with("(not_found)"),
        "{missing}"
    );
    assert_eq!(
        run_line(&api, &["users", "delete", "dora"]).await,
        Ok("User dora deleted.\n".into())
    );
    assert!(harness.store().get_user(&id).await.unwrap().is_none());
}

#[tokio::test]
async fn users_factors_are_listed_and_removed() {
    use gatehouse_core::factor::{Factor, FactorKind};

    let api = Session::real_admin_api().await;
    let created = run_line(
        &api,
        &["users", "create", "--username", "Erin", "--password-stdin"],
    )
    .await
    .unwrap();
    let id = created
        .strip_prefix("User Erin created with ID ")
        .unwrap()
        .trim_end_matches(".\n")
        .to_owned();
    let none: Value = serde_json::from_str(
        &run_line(
            &api,
            &["users", "factors", "list", "erin", "--format", "json"],
        )
        .await
        .unwrap(),
    )
    .unwrap();
    assert_eq!(none, json!([]));
    let harness = api._admin.as_ref().unwrap();
    harness
        .durable
        .store
        .create_factor(&Factor {
            id: "factor-1".into(),
            user_id: id.clone(),
            kind: FactorKind::Totp,
            label: "Phone".into(),
            sealed_secret: vec![1, 2, 3],
            created_at: gatehouse_testkit::admin::start_time(),
            confirmed_at: Some(gatehouse_testkit::admin::start_time()),
            last_used_step: None,
            credential_id: None,
        })
        .await
        .unwrap();
    let listed: Value = serde_json::from_str(
        &run_line(
            &api,
            &["users", "factors", "list", "erin", "--format", "json"],
        )
        .await
        .unwrap(),
    )
    .unwrap();
    assert_eq!(listed[0]["id"], json!("factor-1"));
    assert_eq!(listed[0]["kind"], json!("totp"));
    assert_eq!(listed[0]["confirmed"], json!(true));
    let table = run_line(&api, &["users", "factors", "list", "erin"])
        .await
        .unwrap();
    assert!(
        table.contains(" KIND ") && table.contains(" LAST USED AT "),
        "{table}"
    );
    assert!(
        table.contains("factor-1") && table.contains("Phone"),
        "{table}"
    );
    assert_eq!(
        run_line(&api, &["users", "factors", "remove", "erin", "factor-1"]).await,
        Ok("Factor factor-1 of user erin removed.\n".into())
    );
    let missing = run_line(&api, &["users", "factors", "remove", "erin", "factor-1"])
        .await
        .unwrap_err();
    assert!(missing.ends_with("(not_found)"), "{missing}");
}
