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
    async fn create(State(db): State<Db>, axum::Json(body): axum::Json<Value>) -> Response {
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
        .route("/admin/clients/{id}", get(read).put(replace).delete(remove))
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
        "| CLIENT ID |      NAME       | RESPONSE TYPES |     SCOPE      |         REDIRECT URIS          |           GRANT TYPES            | TOKEN ENDPOINT AUTH METHOD |"
    );
    assert!(lines[2].starts_with("| backend   |                 |                |                |                                | client_credentials "), "{listed}");
    assert_eq!(
        lines[3],
        "| neoncli   | Neon CLI test 3 | code           | openid offline | http://127.0.0.1:5555/callback | authorization_code,refresh_token | none                       |"
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
        "1 of 2 clients were not imported (see above); the other 1 were"
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
| CLIENT ID |      NAME       | RESPONSE TYPES |     SCOPE      |         REDIRECT URIS          |           GRANT TYPES            | TOKEN ENDPOINT AUTH METHOD |
|-----------|-----------------|----------------|----------------|--------------------------------|----------------------------------|----------------------------|
| neoncli   | Neon CLI test 3 | code           | openid offline | http://127.0.0.1:5555/callback | authorization_code,refresh_token | none                       |
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
        json!({"name": name, "label": "Read your projects", "description": "Project names", "hidden": true})
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
