//! `POST /admin/users/import` and `GET /admin/users/export`: users from other systems, their
//! foreign password hashes verified at sign-in and re-hashed to argon2id.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use gatehouse_core::secret::SecretString;
use gatehouse_token::authorization::Authentication;
use serde_json::{Value, json};

use gatehouse_testkit::admin::{assert_error, harnesses};

/// The fixtures made by the reference libraries (tests/fixtures/password-hashes/generate.py).
const FIXTURES: &str = include_str!("../../../../../tests/fixtures/password-hashes/hashes.jsonl");

fn fixtures() -> Vec<Value> {
    FIXTURES
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn sign_in(env: &crate::oauth::Env, username: &str, password: &str, ip: &str) -> bool {
    matches!(
        env.service
            .authenticate_user(username, SecretString::new(password), ip)
            .await
            .unwrap(),
        Authentication::Authenticated(_)
    )
}

/// Every fixture format imports, signs in with its password (a wrong one is refused), and the
/// stored hash is argon2id after the first sign-in, which keeps working.
#[tokio::test]
async fn imported_hashes_of_every_format_sign_in_and_become_argon2id() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 12, "{}", fixtures.len());
    for env in crate::oauth::envs().await {
        let records: Vec<Value> = fixtures
            .iter()
            .map(|f| json!({"username": f["format"], "password_hash": f["hash"]}))
            .collect();
        let imported = env
            .admin_call(
                Method::POST,
                "/admin/users/import",
                Some(Value::Array(records)),
            )
            .await;
        assert_eq!(
            imported.status,
            StatusCode::OK,
            "{}: {:?}",
            env.name,
            imported.body
        );
        assert_eq!(imported.body["invalid"], json!([]), "{}", env.name);
        assert_eq!(
            imported.body["created"].as_array().unwrap().len(),
            fixtures.len()
        );
        for (i, f) in fixtures.iter().enumerate() {
            let username = f["format"].as_str().unwrap();
            let password = f["password"].as_str().unwrap();
            let ip = format!("198.51.100.{}", i + 1);
            assert!(
                !sign_in(&env, username, "not the password", &ip).await,
                "{}: {username} signed in with a wrong password",
                env.name
            );
            let user = env
                .service
                .durable()
                .get_user_by_username(username)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                user.password_hash.as_deref(),
                f["hash"].as_str(),
                "{username}: not re-hashed by a failure"
            );
            assert!(
                sign_in(&env, username, password, &ip).await,
                "{}: {username} ({}) refused its password",
                env.name,
                f["library"]
            );
            let user = env
                .service
                .durable()
                .get_user_by_username(username)
                .await
                .unwrap()
                .unwrap();
            let stored = user.password_hash.unwrap();
            assert!(stored.starts_with("$argon2id$"), "{username}: {stored}");
            assert!(
                sign_in(&env, username, password, &ip).await,
                "{username}: after re-hashing"
            );
            assert!(
                !sign_in(&env, username, "not the password", &ip).await,
                "{username}"
            );
        }
    }
}

/// The report: created, skipped (existing id or username, also within the same request) and
/// invalid records with their position and reason; a dry run creates nothing; importing the
/// same records again creates nothing.
#[tokio::test]
async fn import_reports_created_skipped_and_invalid_and_is_idempotent() {
    for h in harnesses().await {
        let existing = h.post("/admin/users", json!({"username": "alice"})).await;
        assert_eq!(existing.status, StatusCode::CREATED);
        let records = json!([
            {"id": "hydra-sub-1", "username": "bob", "email": "bob@example.com", "email_verified": true,
             "name": "Bob", "metadata": {"plan": "pro"}, "disabled": true},
            {"username": "ALICE"},
            "not an object",
            {"id": "hydra-sub-1", "username": "bob2"},
            {"username": "carol", "email": "not-an-email"},
            {"username": "dave"},
        ]);
        let dry = h
            .post("/admin/users/import?dry_run=true", records.clone())
            .await;
        assert_eq!(dry.status, StatusCode::OK, "{}: {:?}", h.name, dry.body);
        assert_eq!(dry.body["dry_run"], true);
        let lines = |reply: &Value, key: &str| -> Vec<u64> {
            reply[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["line"].as_u64().unwrap())
                .collect()
        };
        assert_eq!(lines(&dry.body, "created"), [1, 6], "{}", h.name);
        assert_eq!(lines(&dry.body, "skipped"), [2, 4], "{}", h.name);
        assert_eq!(lines(&dry.body, "invalid"), [3, 5], "{}", h.name);
        assert_eq!(
            h.get("/admin/users?username=bob").await.body,
            json!([]),
            "{}: dry run",
            h.name
        );

        let done = h.post("/admin/users/import", records.clone()).await;
        assert_eq!(lines(&done.body, "created"), [1, 6], "{}", h.name);
        assert_eq!(done.body["created"][0]["id"], "hydra-sub-1");
        assert!(
            done.body["invalid"][1]["reason"]
                .as_str()
                .unwrap()
                .contains("email")
        );
        let bob = h.get("/admin/users/hydra-sub-1").await;
        assert_eq!(bob.body["username"], "bob");
        assert_eq!(bob.body["metadata"], json!({"plan": "pro"}));
        assert_eq!(bob.body["disabled"], true);
        assert_eq!(bob.body["email_verified"], true);

        let again = h.post("/admin/users/import", records).await;
        assert_eq!(
            lines(&again.body, "created"),
            Vec::<u64>::new(),
            "{}: idempotent",
            h.name
        );
        assert_eq!(lines(&again.body, "skipped"), [1, 2, 4, 6], "{}", h.name);
    }
}

/// Attacker: an import sets only the listed fields (admin flags, timestamps, a plain password
/// and roles that do not exist are refused lines), cannot carry oversized metadata, absurd hash costs, unknown or
/// malformed hashes (never a panic), nor more than 1000 records.
#[tokio::test]
async fn an_import_cannot_smuggle_fields_costs_or_malformed_hashes() {
    for h in harnesses().await {
        let records = json!([
            {"username": "m1", "roles": ["superuser"]},
            {"username": "m2", "is_admin": true},
            {"username": "m3", "created_at": "2000-01-01T00:00:00Z"},
            {"username": "m4", "password": "plaintext"},
            {"username": "m5", "metadata": {"blob": "x".repeat(16 * 1024)}},
            {"username": "m6", "metadata": ["not", "an", "object"]},
            {"username": "m7", "password_hash": "$2b$31$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"},
            {"username": "m8", "password_hash": "$pbkdf2-sha256$i=4000000000,l=32$c2FsdHNhbHQ$7OVfNaehgeZ0pYI6eHJgKr2o2nEGa3VS+qr2cBQvPIA"},
            {"username": "m9", "password_hash": "$scrypt$ln=30,r=8,p=1$c2FsdHNhbHQ$7OVfNaehgeZ0pYI6eHJgKr2o2nEGa3VS+qr2cBQvPIA"},
            {"username": "m10", "password_hash": "$argon2id$v=19$m=4194304,t=64,p=1$c2FsdHNhbHQ$7OVfNaehgeZ0pYI6eHJgKr2o2nEGa3VS+qr2cBQvPIA"},
            {"username": "m11", "password_hash": "md5:5f4dcc3b5aa765d61d8327deb882cf99"},
            {"username": "m12", "password_hash": "$firebase-scrypt$abc"},
            {"username": "m13", "password_hash": "$2b$1"},
            {"username": "m14", "password_hash": "$argon2id$v=19$m=,t=,p=$$"},
            {"username": "m15", "password_hash": 42},
            {"username": "m16", "id": "has space"},
        ]);
        let reply = h.post("/admin/users/import", records.clone()).await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {:?}", h.name, reply.body);
        assert_eq!(
            reply.body["created"],
            json!([]),
            "{}: {:?}",
            h.name,
            reply.body
        );
        let invalid = reply.body["invalid"].as_array().unwrap();
        assert_eq!(
            invalid.len(),
            records.as_array().unwrap().len(),
            "{:?}",
            reply.body
        );
        let reason = |line: u64| -> String {
            invalid.iter().find(|e| e["line"] == line).unwrap()["reason"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert!(
            reason(1).contains("unknown role \"superuser\""),
            "{}",
            reason(1)
        );
        assert!(
            reason(4).contains("unknown field `password`"),
            "{}",
            reason(4)
        );
        assert!(reason(5).contains("16384"), "{}", reason(5));
        assert!(reason(6).contains("object"), "{}", reason(6));
        assert!(reason(7).contains("cost 31"), "{}", reason(7));
        assert!(reason(8).contains("iterations"), "{}", reason(8));
        assert!(reason(10).contains("memory"), "{}", reason(10));
        assert!(reason(11).contains("unknown format"), "{}", reason(11));
        assert!(reason(12).contains("firebase-scrypt"), "{}", reason(12));
        for m in ["m1", "m7", "m11"] {
            let found = h.get(&format!("/admin/users?username={m}")).await;
            assert_eq!(found.body, json!([]), "{}: {m}", h.name);
        }

        let too_many: Vec<Value> = (0..1001)
            .map(|i| json!({"username": format!("u{i}")}))
            .collect();
        let refused = h.post("/admin/users/import", Value::Array(too_many)).await;
        assert_error(
            &refused,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &h.name,
        );
        let not_array = h
            .post("/admin/users/import", json!({"username": "x"}))
            .await;
        assert_error(
            &not_array,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &h.name,
        );
    }
}

async fn export(router: &axum::Router) -> (StatusCode, String, Option<String>) {
    let request = Request::get("/admin/users/export")
        .body(Body::empty())
        .unwrap();
    let reply = gatehouse_testkit::http::send(router, request).await;
    let content_type = reply.header("content-type").map(str::to_owned);
    (
        reply.status,
        String::from_utf8(reply.raw).unwrap(),
        content_type,
    )
}

/// Export → import on a fresh server → the same users, with the same ids and hashes, sign in.
#[tokio::test]
async fn export_then_import_elsewhere_keeps_ids_hashes_and_sign_in() {
    let mut envs = crate::oauth::envs().await.into_iter();
    let (Some(first), Some(second)) = (envs.next(), envs.next()) else {
        // One backend pair configured: export and import on fresh stores of the same kind.
        let env = crate::oauth::envs().await.into_iter().next().unwrap();
        let other = crate::oauth::envs().await.into_iter().next().unwrap();
        return round_trip(&env, &other).await;
    };
    round_trip(&first, &second).await;
}

async fn round_trip(from: &crate::oauth::Env, to: &crate::oauth::Env) {
    let fixtures = fixtures();
    let bcrypt = fixtures
        .iter()
        .find(|f| f["format"] == "bcrypt-2b")
        .unwrap();
    let imported = from
        .admin_call(
            Method::POST,
            "/admin/users/import",
            Some(json!([{"username": "legacy", "password_hash": bcrypt["hash"], "metadata": {"from": "hydra"}}])),
        )
        .await;
    assert_eq!(imported.status, StatusCode::OK, "{:?}", imported.body);
    assert_eq!(
        imported.body["created"].as_array().unwrap().len(),
        1,
        "{:?}",
        imported.body
    );
    let created = from
        .admin_call(
            Method::POST,
            "/admin/users",
            Some(json!({"username": "native", "password": "native password 1", "email": "n@example.com", "email_verified": true})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);

    let (status, lines, content_type) = export(&from.admin_api).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("application/x-ndjson"));
    let records: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Every environment starts with its seeded user "alice", on both sides.
    assert_eq!(records.len(), 3, "{lines}");
    for r in &records {
        assert!(
            r["password_hash"].as_str().is_some_and(|h| !h.is_empty()),
            "{r}"
        );
        assert!(r["id"].is_string());
    }

    let into = to
        .admin_call(
            Method::POST,
            "/admin/users/import",
            Some(Value::Array(records.clone())),
        )
        .await;
    assert_eq!(into.status, StatusCode::OK, "{:?}", into.body);
    assert_eq!(
        into.body["created"].as_array().unwrap().len(),
        2,
        "{:?}",
        into.body
    );
    assert_eq!(
        into.body["skipped"][0]["username"], "alice",
        "{:?}",
        into.body
    );
    for r in &records {
        let id = r["id"].as_str().unwrap();
        let user = to.service.durable().get_user(id).await.unwrap().unwrap();
        assert_eq!(user.username, r["username"].as_str().unwrap());
        if r["username"] != "alice" {
            assert_eq!(user.password_hash.as_deref(), r["password_hash"].as_str());
        }
    }
    assert!(
        sign_in(
            to,
            "legacy",
            bcrypt["password"].as_str().unwrap(),
            "203.0.113.1"
        )
        .await
    );
    assert!(sign_in(to, "native", "native password 1", "203.0.113.2").await);
    let (_, again, _) = export(&to.admin_api).await;
    assert!(again.contains("\"from\":\"hydra\""), "{again}");
}

/// Attacker: without the admin token, neither the export (every password hash) nor the import
/// answers anything but 401.
#[tokio::test]
async fn export_and_import_require_the_admin_token() {
    use gatehouse_token::admin::require_admin_token;
    for h in harnesses().await {
        let guarded = h
            .router
            .clone()
            .layer(require_admin_token(SecretString::new(
                "the-admin-token-0123456789",
            )));
        let created = h
            .post(
                "/admin/users",
                json!({"username": "victim", "password": "victim password"}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
        for authorization in [None, Some("Bearer wrong-token")] {
            let mut request = Request::get("/admin/users/export");
            if let Some(value) = authorization {
                request = request.header(header::AUTHORIZATION, value);
            }
            let reply =
                gatehouse_testkit::http::send(&guarded, request.body(Body::empty()).unwrap()).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", h.name);
            assert!(
                !String::from_utf8_lossy(&reply.raw).contains("argon2"),
                "{}",
                h.name
            );

            let mut request = Request::post("/admin/users/import")
                .header(header::CONTENT_TYPE, "application/json");
            if let Some(value) = authorization {
                request = request.header(header::AUTHORIZATION, value);
            }
            let reply = gatehouse_testkit::http::send(
                &guarded,
                request
                    .body(Body::from(r#"[{"username":"intruder"}]"#))
                    .unwrap(),
            )
            .await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", h.name);
        }
        assert_eq!(
            h.get("/admin/users?username=intruder").await.body,
            json!([])
        );
        let request = Request::get("/admin/users/export")
            .header(header::AUTHORIZATION, "Bearer the-admin-token-0123456789")
            .body(Body::empty())
            .unwrap();
        let reply = gatehouse_testkit::http::send(&guarded, request).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", h.name);
        assert!(String::from_utf8_lossy(&reply.raw).contains("victim"));
    }
}

/// Runs `statements` on the env's database, straight through sqlx.
async fn on_database(env: &crate::oauth::Env, sqlite: &[&str], postgres: &[&str]) {
    use gatehouse_testkit::DurableKind;
    let backend = env.durable_backend();
    match backend.kind {
        DurableKind::Sqlite => {
            let pool = sqlx::sqlite::SqlitePool::connect(&backend.url)
                .await
                .unwrap();
            for statement in sqlite {
                sqlx::query(sqlx::AssertSqlSafe(*statement))
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            pool.close().await;
        }
        DurableKind::Postgres => {
            let pool = sqlx::postgres::PgPool::connect(&backend.url).await.unwrap();
            for statement in postgres {
                sqlx::query(sqlx::AssertSqlSafe(*statement))
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            pool.close().await;
        }
    }
}

/// Outage: when storing the re-hashed password fails, the sign-in still succeeds and the
/// imported hash stays (it keeps working); the next sign-in re-hashes it.
#[tokio::test]
async fn a_failed_rehash_does_not_fail_the_sign_in() {
    let fixtures = fixtures();
    let bcrypt = fixtures
        .iter()
        .find(|f| f["format"] == "bcrypt-2y")
        .unwrap();
    let password = bcrypt["password"].as_str().unwrap();
    for env in crate::oauth::envs().await {
        let imported = env
            .admin_call(
                Method::POST,
                "/admin/users/import",
                Some(json!([{"username": "php", "password_hash": bcrypt["hash"]}])),
            )
            .await;
        assert_eq!(
            imported.body["created"].as_array().unwrap().len(),
            1,
            "{:?}",
            imported.body
        );
        on_database(
            &env,
            &["CREATE TRIGGER users_read_only BEFORE UPDATE ON users BEGIN SELECT RAISE(ABORT, 'read only'); END"],
            &[
                "CREATE FUNCTION refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'read only'; END $$",
                "CREATE TRIGGER users_read_only BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION refuse_update()",
            ],
        )
        .await;
        assert!(
            sign_in(&env, "php", password, "203.0.113.7").await,
            "{}",
            env.name
        );
        let user = env
            .service
            .durable()
            .get_user_by_username("php")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            user.password_hash.as_deref(),
            bcrypt["hash"].as_str(),
            "{}",
            env.name
        );

        on_database(
            &env,
            &["DROP TRIGGER users_read_only"],
            &["DROP TRIGGER users_read_only ON users"],
        )
        .await;
        assert!(
            sign_in(&env, "php", password, "203.0.113.7").await,
            "{}",
            env.name
        );
        let user = env
            .service
            .durable()
            .get_user_by_username("php")
            .await
            .unwrap()
            .unwrap();
        assert!(
            user.password_hash.unwrap().starts_with("$argon2id$"),
            "{}",
            env.name
        );
    }
}
