//! Per-client usage counts (`GET /admin/clients/{id}/usage`): tokens issued at the token
//! endpoint and sign-ins (authorization codes issued), counted in memory and written in batches.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::envs;

#[tokio::test]
async fn tokens_and_sign_ins_are_counted_per_client_once_written() {
    for env in envs().await {
        let counted = env.web_client("counted").await;
        let other = env.web_client("uncounted").await;
        // Two sign-ins with their tokens, one client_credentials token, a refused request.
        env.tokens(&counted, "openid profile").await;
        env.tokens(&counted, "openid profile").await;
        let refused = env.redeem(&counted, "no-such-code", None).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", env.name);

        let before = env
            .admin_call(Method::GET, "/admin/clients/counted/usage", None)
            .await;
        assert_eq!(
            before.status,
            StatusCode::OK,
            "{}: {}",
            env.name,
            before.body
        );
        assert_eq!(
            (&before.body["tokens_issued"], &before.body["logins"]),
            (&json!(0), &json!(0)),
            "{}: nothing is written before a flush",
            env.name
        );

        env.service.flush_usage().await.unwrap();
        // Flushing again writes nothing twice.
        env.service.flush_usage().await.unwrap();
        let after = env
            .admin_call(Method::GET, "/admin/clients/counted/usage", None)
            .await;
        assert_eq!(
            after.body,
            json!({"client_id": "counted", "days": 30, "tokens_issued": 2, "logins": 2}),
            "{}",
            env.name
        );
        let untouched = env
            .admin_call(Method::GET, "/admin/clients/uncounted/usage?days=1", None)
            .await;
        assert_eq!(
            untouched.body,
            json!({"client_id": other.id, "days": 1, "tokens_issued": 0, "logins": 0}),
            "{}",
            env.name
        );
        for bad in ["0", "367", "x"] {
            let reply = env
                .admin_call(
                    Method::GET,
                    &format!("/admin/clients/counted/usage?days={bad}"),
                    None,
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{}: days={bad}",
                env.name
            );
        }
        let missing = env
            .admin_call(Method::GET, "/admin/clients/nobody/usage", None)
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", env.name);
    }
}

/// A write of the counts that fails (the table gone for a moment, as in a database outage)
/// keeps them: the next write adds them together with what was counted meanwhile.
#[tokio::test]
async fn counts_survive_a_failed_write() {
    for env in envs().await {
        if env.durable_backend().kind != gatehouse_testkit::DurableKind::Sqlite {
            continue;
        }
        let client = env.web_client("kept").await;
        env.tokens(&client, "openid profile").await;
        let pool = sqlx::sqlite::SqlitePool::connect(&env.durable_backend().url)
            .await
            .unwrap();
        sqlx::query("ALTER TABLE client_usage RENAME TO client_usage_away")
            .execute(&pool)
            .await
            .unwrap();
        assert!(
            env.service.flush_usage().await.is_err(),
            "{}: the write cannot succeed",
            env.name
        );
        env.tokens(&client, "openid profile").await;
        sqlx::query("ALTER TABLE client_usage_away RENAME TO client_usage")
            .execute(&pool)
            .await
            .unwrap();
        env.service.flush_usage().await.unwrap();
        let usage = env
            .admin_call(Method::GET, "/admin/clients/kept/usage", None)
            .await;
        assert_eq!(
            (&usage.body["tokens_issued"], &usage.body["logins"]),
            (&json!(2), &json!(2)),
            "{}: {}",
            env.name,
            usage.body
        );
    }
}
