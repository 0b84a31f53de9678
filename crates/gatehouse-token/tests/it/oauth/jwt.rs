//! RFC 9068 JWT access tokens, for clients registered with `access_token_strategy: jwt`.

use axum::http::StatusCode;
use serde_json::json;

use super::{ISSUER, SUBJECT, envs};
use gatehouse_testkit::http::send;

#[tokio::test]
async fn client_credentials_jwt_verifies_against_the_jwks_with_the_client_as_subject() {
    for env in envs().await {
        let client = env.jwt_client("reports").await;
        let reply = env
            .client_credentials(&client, "urn:neoncloud:projects:read")
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        let token = reply.str("access_token");
        assert_eq!(token.matches('.').count(), 2, "{}: not a JWS", env.name);

        let (header, claims) = env.verify_jwt(&token, ISSUER).await;
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
        assert_eq!(claims["sub"], "reports");
        assert_eq!(claims["client_id"], "reports");
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["aud"], json!([ISSUER]));
        assert_eq!(claims["scope"], "urn:neoncloud:projects:read");
        assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            3600
        );

        // Both introspection endpoints understand it.
        let admin = env.admin_introspect(&token).await;
        assert_eq!(admin.body["active"], true, "{}: {}", env.name, admin.body);
        assert_eq!(admin.body["sub"], "reports");
        let own = env
            .as_client("/oauth2/introspect", &client, &[("token", &token)])
            .await;
        assert_eq!(own.body["active"], true, "{}: {}", env.name, own.body);
        assert_eq!(own.body["scope"], "urn:neoncloud:projects:read");

        // A tampered signature is not a token.
        let tampered = format!(
            "{}{}",
            &token[..token.len() - 2],
            if token.ends_with("AA") { "BB" } else { "AA" }
        );
        assert!(!env.active(&tampered).await, "{}", env.name);
    }
}

#[tokio::test]
async fn code_flow_jwt_is_about_the_user_and_opens_userinfo() {
    for env in envs().await {
        let client = env.jwt_client("console").await;
        let reply = env.tokens(&client, "openid profile").await;
        let token = reply.str("access_token");
        let (header, claims) = env.verify_jwt(&token, ISSUER).await;
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(claims["sub"], SUBJECT);
        assert_eq!(claims["client_id"], "console");
        assert_eq!(claims["auth_time"], env.unix() - 30);

        let request = axum::http::Request::get("/userinfo")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap();
        let userinfo = send(&env.public, request).await;
        assert_eq!(
            userinfo.status,
            StatusCode::OK,
            "{}: {}",
            env.name,
            userinfo.body
        );
        assert_eq!(userinfo.body["preferred_username"], "alice");

        // The ID token is not an access token (RFC 9068 §4: typ tells them apart).
        let id_token = reply.str("id_token");
        let request = axum::http::Request::get("/userinfo")
            .header("authorization", format!("Bearer {id_token}"))
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(
            send(&env.public, request).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}
