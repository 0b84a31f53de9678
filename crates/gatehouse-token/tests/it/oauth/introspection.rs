//! Token introspection (RFC 7662): the public, client-authenticated endpoint and the admin one.

use axum::http::StatusCode;
use serde_json::json;

use super::{ISSUER, SUBJECT, assert_no_store, assert_oauth_error, envs};
use gatehouse_testkit::http::{basic, form, send};

#[tokio::test]
async fn a_client_sees_its_own_tokens_and_nothing_of_others() {
    for env in envs().await {
        let owner = env.web_client("owner").await;
        let other = env.web_client("other").await;
        let tokens = env.tokens(&owner, "openid offline profile").await;
        let access = tokens.str("access_token");

        let reply = env
            .as_client("/oauth2/introspect", &owner, &[("token", &access)])
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        assert_no_store(&reply, &env.name);
        let body = &reply.body;
        assert_eq!(body["active"], true);
        assert_eq!(body["scope"], "openid offline profile");
        assert_eq!(body["client_id"], "owner");
        assert_eq!(body["sub"], SUBJECT);
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["aud"], json!([ISSUER]));
        assert_eq!(body["iss"], ISSUER);
        let (iat, exp) = (body["iat"].as_i64().unwrap(), body["exp"].as_i64().unwrap());
        assert_eq!(iat, env.unix());
        assert_eq!(exp - iat, 3600);

        let reply = env
            .as_client(
                "/oauth2/introspect",
                &owner,
                &[
                    ("token", &tokens.str("refresh_token")),
                    ("token_type_hint", "refresh_token"),
                ],
            )
            .await;
        assert_eq!(reply.body["active"], true, "{}: {}", env.name, reply.body);
        assert_eq!(reply.body["client_id"], "owner");

        // Another client's view: inactive, and nothing else (RFC 7662 §2.2).
        for token in [
            access.as_str(),
            &tokens.str("refresh_token"),
            "gh_at_never-issued",
            "garbage",
        ] {
            let reply = env
                .as_client("/oauth2/introspect", &other, &[("token", token)])
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
            assert_eq!(reply.body, json!({"active": false}), "{}", env.name);
        }
    }
}

#[tokio::test]
async fn public_introspection_authenticates_the_client() {
    for env in envs().await {
        let client = env.web_client("web").await;
        let access = env
            .client_credentials(&client, "profile")
            .await
            .str("access_token");
        let reply = env
            .post_form(
                &env.public,
                "/oauth2/introspect",
                &form(&[("token", &access)]),
                None,
            )
            .await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &env.name,
        );
        assert_eq!(reply.header("www-authenticate"), None);
        let reply = env
            .post_form(
                &env.public,
                "/oauth2/introspect",
                &form(&[("token", &access)]),
                Some(&basic("web", "nope")),
            )
            .await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &env.name,
        );
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Basic realm=\"gatehouse\"")
        );
        let reply = env.as_client("/oauth2/introspect", &client, &[]).await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );
    }
}

#[tokio::test]
async fn admin_introspection_sees_every_token_without_client_authentication() {
    for env in envs().await {
        let web = env.web_client("web").await;
        let cc = env
            .client_credentials(&web, "profile")
            .await
            .str("access_token");
        let reply = env.admin_introspect(&cc).await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        assert_no_store(&reply, &env.name);
        assert_eq!(reply.body["active"], true);
        assert_eq!(
            reply.body["sub"], "web",
            "client_credentials tokens are about the client"
        );
        assert_eq!(reply.body["client_id"], "web");
        assert_eq!(reply.body["token_type"], "Bearer");

        let public = env.public_client("neoncli").await;
        let tokens = env.tokens(&public, "openid offline").await;
        let reply = env.admin_introspect(&tokens.str("access_token")).await;
        assert_eq!(reply.body["sub"], SUBJECT);
        assert_eq!(reply.body["client_id"], "neoncli");
        let reply = env.admin_introspect(&tokens.str("refresh_token")).await;
        assert_eq!(reply.body["active"], true, "{}: {}", env.name, reply.body);

        // Expired by the clock.
        env.clock.advance(time::Duration::seconds(3601));
        assert_eq!(
            env.admin_introspect(&cc).await.body,
            json!({"active": false}),
            "{}",
            env.name
        );

        let reply = env
            .post_form(
                &env.admin,
                "/admin/oauth2/introspect",
                "token=a&token=b",
                None,
            )
            .await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );
        let request = axum::http::Request::post("/admin/oauth2/introspect")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(format!("{{\"token\":\"{cc}\"}}")))
            .unwrap();
        let reply = send(&env.admin, request).await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );
    }
}
