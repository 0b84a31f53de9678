//! The database holds no client secret and no password in plain text: every row of every table,
//! read straight from the database with sqlx, bypassing the store.

use axum::http::StatusCode;
use gatehouse_testkit::DurableKind;
use serde_json::json;
// Table and column names come from the database's own catalogue, never from input.
use sqlx::{AssertSqlSafe, Row as _};

use crate::support::{Harness, harnesses};

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
