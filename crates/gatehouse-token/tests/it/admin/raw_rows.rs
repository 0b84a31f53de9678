//! The database holds no client secret and no password in plain text: every row of every table,
//! read straight from the database with sqlx, bypassing the store.

use axum::http::StatusCode;
use gatehouse_testkit::DurableKind;
use serde_json::json;
// Table and column names come from the database's own catalogue, never from input.
use sqlx::{AssertSqlSafe, Row as _};

use gatehouse_testkit::admin::{Harness, harnesses};

const CHOSEN_SECRET: &str = "raw-row-check-operator-secret-0123456789";
const PASSWORD: &str = "raw-row-check-user-password";

/// Every row of every table as text, one line per row.
async fn dump(h: &Harness) -> String {
    let url = &h.durable.url;
    let mut lines = Vec::new();
    match h.durable.kind {
        DurableKind::Sqlite => {
            let pool = sqlx::sqlite::SqlitePool::connect(url).await.unwrap();
            let tables: Vec<String> =
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            for table in tables {
                let columns: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
                        .bind(&table)
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                // quote() writes TEXT as text and BLOBs as X'hex', so both are searchable.
                let row = columns
                    .iter()
                    .map(|c| format!("quote(\"{c}\")"))
                    .collect::<Vec<_>>()
                    .join(" || '|' || ");
                let rows = sqlx::query(AssertSqlSafe(format!("SELECT {row} FROM \"{table}\"")))
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                lines.extend(
                    rows.iter()
                        .map(|r| format!("{table}: {}", r.get::<String, _>(0))),
                );
            }
            pool.close().await;
        }
        DurableKind::Postgres => {
            let pool = sqlx::postgres::PgPool::connect(url).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            for table in tables {
                let rows = sqlx::query(AssertSqlSafe(format!(
                    "SELECT row_to_json(t)::text FROM \"{table}\" t"
                )))
                .fetch_all(&pool)
                .await
                .unwrap();
                lines.extend(
                    rows.iter()
                        .map(|r| format!("{table}: {}", r.get::<String, _>(0))),
                );
            }
            pool.close().await;
        }
    }
    lines.join("\n")
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn no_client_secret_or_password_is_stored_in_plain_text() {
    for h in harnesses().await {
        let chosen = h
            .post("/admin/clients", json!({"client_id": "raw-chosen", "client_secret": CHOSEN_SECRET, "redirect_uris": ["https://a.example/cb"]}))
            .await;
        assert_eq!(
            chosen.status,
            StatusCode::CREATED,
            "{}: {:?}",
            h.name,
            chosen.body
        );
        let generated = h
            .post(
                "/admin/clients",
                json!({"client_id": "raw-generated", "redirect_uris": ["https://a.example/cb"]}),
            )
            .await;
        let generated_secret = generated.body["client_secret"].as_str().unwrap().to_owned();
        let rotated = h
            .post("/admin/clients/raw-generated/secret", json!({}))
            .await;
        let rotated_secret = rotated.body["client_secret"].as_str().unwrap().to_owned();
        let user = h
            .post(
                "/admin/users",
                json!({"username": "rawrowuser", "password": PASSWORD}),
            )
            .await;
        assert_eq!(user.status, StatusCode::CREATED);
        let user_id = user.body["id"].as_str().unwrap().to_owned();
        let reset = h
            .put(
                &format!("/admin/users/{user_id}/password"),
                json!({"password": format!("{PASSWORD}-2")}),
            )
            .await;
        assert_eq!(reset.status, StatusCode::NO_CONTENT);

        let rows = dump(&h).await;
        for expected in ["raw-chosen", "raw-generated", "rawrowuser", "$argon2id$"] {
            assert!(
                rows.contains(expected),
                "{}: the dump must contain {expected:?}; is it reading the right database?\n{rows}",
                h.name
            );
        }
        let secrets = [
            CHOSEN_SECRET,
            generated_secret.as_str(),
            rotated_secret.as_str(),
            PASSWORD,
        ];
        for secret in secrets {
            let lower = rows.to_lowercase();
            assert!(
                !rows.contains(secret),
                "{}: a secret is stored in plain text",
                h.name
            );
            assert!(
                !lower.contains(&hex(secret)),
                "{}: a secret is stored hex-encoded",
                h.name
            );
        }
    }
}

/// Every refused admin write, checked row by row: after each one, every row of every table is
/// exactly as before (nothing half-written, nothing touched).
#[tokio::test]
async fn every_refused_admin_write_leaves_every_row_as_it_was() {
    use axum::http::Method;
    for h in harnesses().await {
        gatehouse_token::admin::seed_default_scopes(h.store())
            .await
            .unwrap();
        let client = h
            .post(
                "/admin/clients",
                json!({"client_id": "kept", "redirect_uris": ["https://a.example/cb"]}),
            )
            .await;
        assert_eq!(client.status, StatusCode::CREATED, "{}", h.name);
        let user = h
            .post(
                "/admin/users",
                json!({"username": "kept", "password": PASSWORD}),
            )
            .await;
        assert_eq!(user.status, StatusCode::CREATED, "{}", h.name);
        let user_id = user.body["id"].as_str().unwrap().to_owned();
        let before = dump(&h).await;
        assert!(before.contains("kept"), "{}: {before}", h.name);

        let user_path = format!("/admin/users/{user_id}");
        let mut cases: Vec<(String, Method, String, Option<serde_json::Value>)> = Vec::new();
        for (case, body, _) in super::client_validation::invalid_clients() {
            let mut replacement = body.clone();
            replacement.as_object_mut().unwrap().remove("client_id");
            cases.push((
                format!("create client: {case}"),
                Method::POST,
                "/admin/clients".into(),
                Some(body),
            ));
            if case.starts_with("client id") {
                // The id of a replacement comes from the path.
                continue;
            }
            cases.push((
                format!("replace client: {case}"),
                Method::PUT,
                "/admin/clients/kept".into(),
                Some(replacement),
            ));
        }
        let more: Vec<(&str, Method, String, Option<serde_json::Value>)> = vec![
            (
                "client id taken",
                Method::POST,
                "/admin/clients".into(),
                Some(json!({"client_id": "kept", "redirect_uris": ["https://b.example/cb"]})),
            ),
            (
                "patch to a javascript: redirect",
                Method::PATCH,
                "/admin/clients/kept".into(),
                Some(
                    json!([{"op": "replace", "path": "/redirect_uris", "value": ["javascript:alert(1)"]}]),
                ),
            ),
            (
                "patch whose test fails after a valid op",
                Method::PATCH,
                "/admin/clients/kept".into(),
                Some(json!([
                    {"op": "replace", "path": "/client_name", "value": "changed"},
                    {"op": "test", "path": "/client_name", "value": "not it"}
                ])),
            ),
            (
                "secret rotation with a negative grace",
                Method::POST,
                "/admin/clients/kept/secret?grace_seconds=-1".into(),
                Some(json!({})),
            ),
            (
                "user: username taken (other case)",
                Method::POST,
                "/admin/users".into(),
                Some(json!({"username": "KEPT", "password": PASSWORD})),
            ),
            (
                "user: short password",
                Method::POST,
                "/admin/users".into(),
                Some(json!({"username": "other", "password": "short"})),
            ),
            (
                "user: javascript: picture",
                Method::POST,
                "/admin/users".into(),
                Some(json!({"username": "other", "picture": "javascript:alert(1)"})),
            ),
            (
                "user: replace with a control character",
                Method::PUT,
                user_path.clone(),
                Some(json!({"username": "kept", "name": "A\u{0}"})),
            ),
            (
                "user: new password too short",
                Method::PUT,
                format!("{user_path}/password"),
                Some(json!({"password": "short"})),
            ),
            (
                "user: patch to another id",
                Method::PATCH,
                user_path.clone(),
                Some(json!([{"op": "replace", "path": "/id", "value": "someone-else"}])),
            ),
            (
                "scope: quote in the name",
                Method::POST,
                "/admin/scopes".into(),
                Some(json!({"name": "bad\"name", "label": "x"})),
            ),
            (
                "scope: blank label",
                Method::POST,
                "/admin/scopes".into(),
                Some(json!({"name": "projects", "label": " "})),
            ),
            (
                "scope: technical scope deleted",
                Method::DELETE,
                "/admin/scopes/openid".into(),
                None,
            ),
        ];
        cases.extend(
            more.into_iter()
                .map(|(case, m, uri, body)| (case.to_owned(), m, uri, body)),
        );
        for (case, method, uri, body) in cases {
            let reply = h.call(method.clone(), &uri, body).await;
            assert!(
                reply.status.is_client_error(),
                "{}: {case}: {} {:?}",
                h.name,
                reply.status,
                reply.body
            );
            let after = dump(&h).await;
            assert!(
                after == before,
                "{}: {method} {uri}: {case}: rows changed\nbefore:\n{before}\nafter:\n{after}",
                h.name
            );
        }
    }
}
