//! `POST /admin/clients/{id}/secret`: rotation without downtime.

use axum::http::StatusCode;
use gatehouse_core::Clock as _;
use gatehouse_token::admin::{AdminConfig, verify_client_secret};
use serde_json::json;
use time::Duration;

use super::{neoncli, web_client};
use gatehouse_testkit::admin::{Harness, assert_error, harnesses, harnesses_with};

async fn accepts(h: &Harness, id: &str, secret: &str) -> bool {
    let client = h.store().get_client(id).await.unwrap().unwrap();
    verify_client_secret(&client, secret, &h.hasher, h.clock.now())
}

#[tokio::test]
async fn rotation_returns_a_new_secret_once_and_keeps_the_old_one_for_a_day() {
    for h in harnesses().await {
        let created = h.post("/admin/clients", web_client("web")).await;
        let old = created.body["client_secret"].as_str().unwrap().to_owned();
        h.clock.advance(Duration::minutes(1));

        let rotated = h.post("/admin/clients/web/secret", json!({})).await;
        assert_eq!(
            rotated.status,
            StatusCode::OK,
            "{}: {:?}",
            h.name,
            rotated.body
        );
        let new = rotated.body["client_secret"].as_str().unwrap().to_owned();
        assert_eq!(new.len(), 43);
        assert_ne!(new, old);
        assert_eq!(rotated.body["client_id"], "web");
        assert_eq!(rotated.body["updated_at"], "2026-01-01T00:01:00Z");
        assert!(
            h.get("/admin/clients/web")
                .await
                .body
                .get("client_secret")
                .is_none()
        );

        assert!(
            accepts(&h, "web", &new).await && accepts(&h, "web", &old).await,
            "{}",
            h.name
        );
        h.clock.advance(Duration::hours(23) + Duration::minutes(59));
        assert!(
            accepts(&h, "web", &old).await,
            "{}: still inside the grace period",
            h.name
        );
        h.clock.advance(Duration::minutes(1));
        assert!(
            !accepts(&h, "web", &old).await,
            "{}: the grace period is over",
            h.name
        );
        assert!(accepts(&h, "web", &new).await);
    }
}

#[tokio::test]
async fn zero_grace_ends_a_leaked_secret_at_once() {
    for h in harnesses().await {
        let old = h.post("/admin/clients", web_client("web")).await.body["client_secret"]
            .as_str()
            .unwrap()
            .to_owned();
        let rotated = h
            .post("/admin/clients/web/secret?grace_seconds=0", json!({}))
            .await;
        assert_eq!(
            rotated.status,
            StatusCode::OK,
            "{}: {:?}",
            h.name,
            rotated.body
        );
        assert!(!accepts(&h, "web", &old).await, "{}", h.name);
        assert!(accepts(&h, "web", rotated.body["client_secret"].as_str().unwrap()).await);
    }
}

#[tokio::test]
async fn a_second_rotation_ends_the_first_secret() {
    for h in harnesses().await {
        let first = h.post("/admin/clients", web_client("web")).await.body["client_secret"]
            .as_str()
            .unwrap()
            .to_owned();
        let second = h.post("/admin/clients/web/secret", json!({})).await.body["client_secret"]
            .as_str()
            .unwrap()
            .to_owned();
        let third = h.post("/admin/clients/web/secret", json!({})).await.body["client_secret"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            !accepts(&h, "web", &first).await,
            "{}: at most two secrets are valid",
            h.name
        );
        assert!(
            accepts(&h, "web", &second).await && accepts(&h, "web", &third).await,
            "{}",
            h.name
        );
    }
}

#[tokio::test]
async fn configured_grace_period_applies() {
    let config = AdminConfig {
        secret_rotation_grace: std::time::Duration::from_secs(3600),
        ..AdminConfig::default()
    };
    for h in harnesses_with(config).await {
        let old = h.post("/admin/clients", web_client("web")).await.body["client_secret"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            h.post("/admin/clients/web/secret", json!({})).await.status,
            StatusCode::OK
        );
        h.clock.advance(Duration::minutes(59));
        assert!(accepts(&h, "web", &old).await, "{}", h.name);
        h.clock.advance(Duration::minutes(1));
        assert!(!accepts(&h, "web", &old).await, "{}", h.name);
    }
}

#[tokio::test]
async fn public_clients_and_bad_grace_periods_are_refused() {
    for h in harnesses().await {
        assert_eq!(
            h.post("/admin/clients", neoncli()).await.status,
            StatusCode::CREATED
        );
        let public = h.post("/admin/clients/neoncli/secret", json!({})).await;
        assert_error(&public, StatusCode::BAD_REQUEST, "invalid_request", &h.name);

        assert_eq!(
            h.post("/admin/clients", web_client("web")).await.status,
            StatusCode::CREATED
        );
        let too_long = h
            .post("/admin/clients/web/secret?grace_seconds=2592001", json!({}))
            .await;
        assert_error(
            &too_long,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &h.name,
        );
        let negative = h
            .post("/admin/clients/web/secret?grace_seconds=-1", json!({}))
            .await;
        assert_error(
            &negative,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &h.name,
        );
    }
}
