//! Every client registration rule, through the API: the precise RFC 7591 error, and nothing stored.

use axum::http::{Method, Request, StatusCode, header};
use gatehouse_token::admin::AdminConfig;
use serde_json::{Value, json};

use super::{neoncli, web_client, with, without};
use gatehouse_testkit::admin::{assert_error, harnesses, harnesses_with};

const REDIRECT: &str = "invalid_redirect_uri";
const METADATA: &str = "invalid_client_metadata";

/// (what is wrong, the body, the expected error code)
pub(super) fn invalid_clients() -> Vec<(&'static str, Value, &'static str)> {
    let web = web_client("bad");
    let public = with(&neoncli(), "client_id", json!("bad"));
    vec![
        (
            "relative redirect URI",
            with(&web, "redirect_uris", json!(["/callback"])),
            REDIRECT,
        ),
        (
            "redirect URI with a fragment",
            with(
                &web,
                "redirect_uris",
                json!(["https://app.example.com/cb#x"]),
            ),
            REDIRECT,
        ),
        (
            "plain http on a public host",
            with(&web, "redirect_uris", json!(["http://app.example.com/cb"])),
            REDIRECT,
        ),
        (
            "javascript: redirect",
            with(&web, "redirect_uris", json!(["javascript:alert(1)"])),
            REDIRECT,
        ),
        (
            "data: redirect",
            with(&web, "redirect_uris", json!(["data:text/html,hi"])),
            REDIRECT,
        ),
        (
            "user info in a redirect",
            with(
                &web,
                "redirect_uris",
                json!(["https://u:p@app.example.com/cb"]),
            ),
            REDIRECT,
        ),
        (
            "empty redirect URI",
            with(&web, "redirect_uris", json!([""])),
            REDIRECT,
        ),
        (
            "code grant without redirect URIs",
            without(&web, "redirect_uris"),
            REDIRECT,
        ),
        (
            "insecure post-logout URI",
            with(
                &web,
                "post_logout_redirect_uris",
                json!(["http://app.example.com/bye"]),
            ),
            REDIRECT,
        ),
        (
            "unsupported grant type",
            with(
                &web,
                "grant_types",
                json!(["authorization_code", "implicit"]),
            ),
            METADATA,
        ),
        (
            "password grant",
            with(&web, "grant_types", json!(["password"])),
            METADATA,
        ),
        (
            "refresh_token without authorization_code",
            with(
                &web,
                "grant_types",
                json!(["client_credentials", "refresh_token"]),
            ),
            METADATA,
        ),
        (
            "unsupported response type",
            with(&web, "response_types", json!(["code", "id_token"])),
            METADATA,
        ),
        (
            "token response type",
            with(&web, "response_types", json!(["token"])),
            METADATA,
        ),
        (
            "response type none",
            with(&web, "response_types", json!(["none"])),
            METADATA,
        ),
        (
            "client_credentials for a public client",
            with(
                &public,
                "grant_types",
                json!(["authorization_code", "client_credentials"]),
            ),
            METADATA,
        ),
        (
            "secret for a public client",
            with(&public, "client_secret", json!("x".repeat(40))),
            METADATA,
        ),
        (
            "unknown auth method",
            with(&web, "token_endpoint_auth_method", json!("private_key_jwt")),
            METADATA,
        ),
        (
            "scope token with a quote",
            with(&web, "scope", json!("openid bad\"scope")),
            METADATA,
        ),
        (
            "scope token with a backslash",
            with(&web, "scope", json!("openid bad\\scope")),
            METADATA,
        ),
        (
            "scope token with a non-ASCII letter",
            with(&web, "scope", json!("openid café")),
            METADATA,
        ),
        (
            "logo over plain http",
            with(&web, "logo_uri", json!("http://cdn.neon.example/logo.png")),
            METADATA,
        ),
        (
            "logo as data: URI",
            with(&web, "logo_uri", json!("data:image/png;base64,AAAA")),
            METADATA,
        ),
        (
            "relative logo",
            with(&web, "logo_uri", json!("/logo.png")),
            METADATA,
        ),
        (
            "javascript: terms of service",
            with(&web, "tos_uri", json!("javascript:alert(1)")),
            METADATA,
        ),
        (
            "relative policy URI",
            with(&web, "policy_uri", json!("/privacy")),
            METADATA,
        ),
        (
            "ftp client URI",
            with(&web, "client_uri", json!("ftp://neon.example")),
            METADATA,
        ),
        (
            "operator secret of 31 characters",
            with(&web, "client_secret", json!("x".repeat(31))),
            METADATA,
        ),
        (
            "operator secret with non-ASCII",
            with(&web, "client_secret", json!("é".repeat(40))),
            METADATA,
        ),
        (
            "secret that is not a string",
            with(&web, "client_secret", json!(12345678901234567890u64)),
            METADATA,
        ),
        (
            "client id with a space",
            with(&web, "client_id", json!("bad id")),
            METADATA,
        ),
        (
            "client id too long",
            with(&web, "client_id", json!("x".repeat(256))),
            METADATA,
        ),
        (
            "unknown access token strategy",
            with(&web, "access_token_strategy", json!("macaroon")),
            METADATA,
        ),
        (
            "redirect_uris of the wrong type",
            with(&web, "redirect_uris", json!("https://app.example.com/cb")),
            METADATA,
        ),
        (
            "skip_consent of the wrong type",
            with(&web, "skip_consent", json!("yes")),
            METADATA,
        ),
    ]
}

#[tokio::test]
async fn every_rule_fails_with_its_rfc_7591_error_and_stores_nothing() {
    for h in harnesses().await {
        for (case, body, code) in invalid_clients() {
            let reply = h.post("/admin/clients", body).await;
            assert_error(
                &reply,
                StatusCode::BAD_REQUEST,
                code,
                &format!("{}: {case}", h.name),
            );
            let description = reply.body["error_description"].as_str().unwrap();
            assert!(
                !description.contains("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
                "{case}: errors never echo a secret"
            );
            assert!(
                !description.contains("12345678901234567890"),
                "{case}: errors never echo a secret"
            );
        }
        let listed = h.get("/admin/clients").await;
        assert_eq!(
            listed.body,
            json!([]),
            "{}: nothing was half-written",
            h.name
        );
    }
}

#[tokio::test]
async fn malformed_bodies_are_invalid_requests() {
    for h in harnesses().await {
        let not_json = Request::builder()
            .method(Method::POST)
            .uri("/admin/clients")
            .header(header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from("{not json"))
            .unwrap();
        assert_error(
            &h.send(not_json).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &h.name,
        );
        let no_content_type = Request::builder()
            .method(Method::POST)
            .uri("/admin/clients")
            .body(axum::body::Body::from("{}"))
            .unwrap();
        assert_error(
            &h.send(no_content_type).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &h.name,
        );
        let array = h.post("/admin/clients", json!([neoncli()])).await;
        assert_error(&array, StatusCode::BAD_REQUEST, METADATA, &h.name);
    }
}

#[tokio::test]
async fn loopback_private_use_and_https_uris_are_accepted() {
    for h in harnesses().await {
        let body = json!({
            "client_id": "native",
            "redirect_uris": [
                "http://127.0.0.1:5555/callback", "http://[::1]/callback", "http://localhost:3000/api/auth/callback/neon",
                "com.neoncloud.app:/oauth2redirect", "https://console.neon.example/cb?tenant=1"
            ],
            "post_logout_redirect_uris": ["https://console.neon.example/bye", "http://127.0.0.1:5555/bye"],
            "logo_uri": "http://127.0.0.1:8080/logo.png",
            "client_uri": "http://neon.example", "policy_uri": "https://neon.example/privacy", "tos_uri": "https://neon.example/tos",
            "token_endpoint_auth_method": "none"
        });
        let created = h.post("/admin/clients", body).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}: {:?}",
            h.name,
            created.body
        );
        assert_eq!(
            created.body["redirect_uris"][4], "https://console.neon.example/cb?tenant=1",
            "stored as the exact string"
        );
    }
}

#[tokio::test]
async fn scopes_outside_the_catalogue_are_allowed() {
    for h in harnesses().await {
        let body = with(
            &web_client("scoped"),
            "scope",
            json!("openid urn:neoncloud:projects:write"),
        );
        let created = h.post("/admin/clients", body).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}: {:?}",
            h.name,
            created.body
        );
    }
}

#[tokio::test]
async fn insecure_redirect_uris_need_the_operators_opt_in() {
    let config = AdminConfig {
        allow_insecure_redirect_uris: true,
        ..AdminConfig::default()
    };
    for h in harnesses_with(config).await {
        let body = with(
            &web_client("staging"),
            "redirect_uris",
            json!(["http://staging.neon.internal/cb"]),
        );
        let created = h.post("/admin/clients", body).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}: {:?}",
            h.name,
            created.body
        );
        let script = with(
            &web_client("script"),
            "redirect_uris",
            json!(["javascript:alert(1)"]),
        );
        assert_error(
            &h.post("/admin/clients", script).await,
            StatusCode::BAD_REQUEST,
            REDIRECT,
            &h.name,
        );
    }
}
