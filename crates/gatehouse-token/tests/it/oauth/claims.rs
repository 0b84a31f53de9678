//! Custom claims per catalogue scope and the `claims` request parameter (OpenID Connect Core
//! §5.5): what the catalogue accepts, what a grant releases into `/userinfo` and the ID token,
//! and what discovery says.

use axum::http::{Method, StatusCode};
use gatehouse_core::authorize::AuthorizeError;
use gatehouse_core::client::TokenEndpointAuthMethod;
use gatehouse_core::error::ErrorCode;
use serde_json::{Value, json};

use super::{Env, REDIRECT_URI, TestClient, envs};

/// The operator's `patreon` scope, created through the admin API.
async fn patreon_scope(env: &Env, claims: Value) -> gatehouse_testkit::http::Reply {
    env.admin_call(
        Method::POST,
        "/admin/scopes",
        Some(json!({"name": "patreon", "label": "Your Patreon membership", "claims": claims})),
    )
    .await
}

/// A public client (ID tokens with the minimal claims) that may ask for `patreon`.
async fn wiki(env: &Env) -> TestClient {
    env.client(
        "neos-wiki",
        super::metadata(
            TokenEndpointAuthMethod::None,
            &["authorization_code", "refresh_token"],
            "openid offline profile email patreon",
        ),
    )
    .await
}

/// The code flow with a `claims` parameter; the ID token's claims.
async fn id_token_claims(env: &Env, client: &TestClient, scope: &str, claims: &str) -> Value {
    let mut params = env.authorize(client, scope);
    params.claims = Some(claims.to_owned());
    let code = env.issue_code(&params, super::SUBJECT).await;
    let tokens = env.exchange(client, &code).await;
    env.verify_jwt(&tokens.str("id_token"), &client.id).await.1
}

#[tokio::test]
async fn attacker_a_scope_cannot_claim_a_claim_the_server_sets() {
    for env in envs().await {
        for reserved in [
            "sub",
            "iss",
            "aud",
            "exp",
            "nonce",
            "acr",
            "cnf",
            "client_id",
            "email",
        ] {
            let reply = patreon_scope(&env, json!(["patreon", reserved])).await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{}: {reserved}",
                env.name
            );
            assert_eq!(reply.body["error"], "invalid_request");
            let description = reply.body["error_description"].as_str().unwrap_or_default();
            assert!(
                description.contains(reserved) && description.contains("server sets"),
                "{description}"
            );
        }
        for malformed in [
            json!(["with space"]),
            json!([""]),
            json!(["1st"]),
            json!("patreon"),
        ] {
            let reply = patreon_scope(&env, malformed.clone()).await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{}: {malformed}",
                env.name
            );
        }
        // Nothing was written; a good one is, and reads back.
        assert_eq!(
            patreon_scope(&env, json!(["patreon"])).await.status,
            StatusCode::CREATED
        );
        let read = env
            .admin_call(Method::GET, "/admin/scopes/patreon", None)
            .await;
        assert_eq!(read.body["claims"], json!(["patreon"]), "{}", env.name);
        // Nor can a replace smuggle one in.
        let reply = env
            .admin_call(
                Method::PUT,
                "/admin/scopes/patreon",
                Some(json!({"label": "Patreon", "claims": ["iss"]})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", env.name);
        let read = env
            .admin_call(Method::GET, "/admin/scopes/patreon", None)
            .await;
        assert_eq!(read.body["claims"], json!(["patreon"]), "{}", env.name);
        // The standard scopes keep their claims without naming any.
        let email = env
            .admin_call(Method::GET, "/admin/scopes/email", None)
            .await;
        assert_eq!(email.body["claims"], json!([]), "{}", env.name);
    }
}

#[tokio::test]
async fn a_claims_request_puts_email_into_the_id_token_when_email_is_granted() {
    for env in envs().await {
        let client = env.public_client("neoncli").await;
        let asked = r#"{"id_token":{"email":{"essential":true},"name":null}}"#;
        let claims = id_token_claims(&env, &client, "openid email", asked).await;
        assert_eq!(
            claims["email"], "alice@example.com",
            "{}: {claims}",
            env.name
        );
        assert_eq!(
            claims["email_verified"],
            Value::Null,
            "not asked for: {claims}"
        );
        // `name` was asked for, but `profile` was not granted.
        assert!(claims.get("name").is_none(), "{}: {claims}", env.name);
        assert_eq!(claims["sub"], super::SUBJECT);

        // Without the parameter a minimal client's ID token stays minimal.
        let tokens = env.tokens(&client, "openid email").await;
        let (_, plain) = env.verify_jwt(&tokens.str("id_token"), &client.id).await;
        assert!(plain.get("email").is_none(), "{}: {plain}", env.name);

        // Asking in `userinfo` changes nothing in the ID token; userinfo follows the scope.
        let userinfo_only = id_token_claims(
            &env,
            &client,
            "openid email",
            r#"{"userinfo":{"email":{"essential":true}}}"#,
        )
        .await;
        assert!(userinfo_only.get("email").is_none(), "{userinfo_only}");
    }
}

#[tokio::test]
async fn attacker_a_claims_request_for_an_ungranted_scope_releases_nothing() {
    for env in envs().await {
        let client = env.public_client("neoncli").await;
        let asked = r#"{"id_token":{"email":{"essential":true},"email_verified":null,
            "preferred_username":{"essential":true},"sub":{"value":"user-bob"}},
            "userinfo":{"email":{"essential":true}}}"#;
        let claims = id_token_claims(&env, &client, "openid offline", asked).await;
        for claim in ["email", "email_verified", "preferred_username"] {
            assert!(
                claims.get(claim).is_none(),
                "{}: {claim}: {claims}",
                env.name
            );
        }
        assert_eq!(claims["sub"], super::SUBJECT, "{}", env.name);

        // Userinfo follows the access token's scope, whatever was asked.
        let mut params = env.authorize(&client, "openid");
        params.claims = Some(asked.to_owned());
        let code = env.issue_code(&params, super::SUBJECT).await;
        let tokens = env.exchange(&client, &code).await;
        let info = env
            .get_bearer("/userinfo", &tokens.str("access_token"))
            .await;
        assert_eq!(info.status, StatusCode::OK, "{}", info.body);
        assert_eq!(info.body, json!({"sub": super::SUBJECT}), "{}", env.name);
    }
}

#[tokio::test]
async fn attacker_a_huge_or_deeply_nested_claims_parameter_is_refused() {
    for env in envs().await {
        let client = env.public_client("neoncli").await;
        let names: Vec<String> = (0..2000).map(|i| format!("\"claim{i}\":null")).collect();
        let huge = format!("{{\"id_token\":{{{}}}}}", names.join(","));
        let deep = format!(
            "{{\"id_token\":{{\"x\":{{\"value\":{}1{}}}}}}}",
            "[".repeat(64),
            "]".repeat(64)
        );
        let deepest = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        for (what, claims) in [
            ("huge", huge.as_str()),
            ("nested", deep.as_str()),
            ("deepest", deepest.as_str()),
            ("malformed", "{\"id_token\":"),
            ("not an object", "[\"email\"]"),
        ] {
            let mut params = env.authorize(&client, "openid email");
            params.claims = Some(claims.to_owned());
            match env.service.validate_authorization(&params).await {
                Err(AuthorizeError::Redirect {
                    error,
                    redirect_uri,
                    state,
                }) => {
                    assert_eq!(
                        error.code,
                        ErrorCode::InvalidRequest,
                        "{}: {what}",
                        env.name
                    );
                    assert!(error.description.contains("claims"), "{what}: {error:?}");
                    assert_eq!(redirect_uri.as_str(), REDIRECT_URI);
                    assert_eq!(state.as_deref(), Some("state-1"));
                }
                other => panic!("{}: {what}: {other:?}", env.name),
            }
            // A pushed request is refused the same way, as JSON.
            let reply = env
                .as_client(
                    "/oauth2/par",
                    &client,
                    &[
                        ("response_type", "code"),
                        ("redirect_uri", REDIRECT_URI),
                        ("scope", "openid email"),
                        ("code_challenge", super::CHALLENGE),
                        ("code_challenge_method", "S256"),
                        ("claims", claims),
                    ],
                )
                .await;
            assert!(
                reply.status.is_client_error(),
                "{}: {what}: {}",
                env.name,
                reply.status
            );
            if reply.status == StatusCode::BAD_REQUEST {
                assert_eq!(
                    reply.body["error"], "invalid_request",
                    "{what}: {}",
                    reply.body
                );
            }
        }
    }
}

#[tokio::test]
async fn a_pushed_claims_request_survives_into_the_id_token() {
    for env in envs().await {
        let client = env.public_client("neoncli").await;
        let reply = env
            .as_client(
                "/oauth2/par",
                &client,
                &[
                    ("response_type", "code"),
                    ("redirect_uri", REDIRECT_URI),
                    ("scope", "openid email"),
                    ("code_challenge", super::CHALLENGE),
                    ("code_challenge_method", "S256"),
                    ("claims", r#"{"id_token":{"email":null}}"#),
                ],
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{}: {}",
            env.name,
            reply.body
        );
        let params = gatehouse_core::authorize::AuthorizationParams {
            client_id: Some(client.id.clone()),
            request_uri: Some(reply.str("request_uri")),
            ..Default::default()
        };
        let code = env.issue_code(&params, super::SUBJECT).await;
        let tokens = env.exchange(&client, &code).await;
        let (_, claims) = env.verify_jwt(&tokens.str("id_token"), &client.id).await;
        assert_eq!(
            claims["email"], "alice@example.com",
            "{}: {claims}",
            env.name
        );
    }
}

#[tokio::test]
async fn discovery_lists_the_catalogues_claims_at_once_after_a_change() {
    for env in envs().await {
        let before = env.get("/.well-known/openid-configuration").await;
        assert_eq!(before.body["claims_parameter_supported"], true);
        let listed = |reply: &gatehouse_testkit::http::Reply| -> Vec<String> {
            reply.body["claims_supported"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        assert!(listed(&before).contains(&"email".to_owned()));
        assert!(!listed(&before).contains(&"patreon".to_owned()));
        // The document is cached; an admin change on this replica rebuilds it at once.
        assert_eq!(
            patreon_scope(&env, json!(["patreon"])).await.status,
            StatusCode::CREATED
        );
        let after = env.get("/.well-known/openid-configuration").await;
        assert!(
            listed(&after).contains(&"patreon".to_owned()),
            "{}: {}",
            env.name,
            after.body
        );
        assert!(
            after.body["scopes_supported"]
                .as_array()
                .is_some_and(|s| s.contains(&json!("patreon")))
        );
        let _ = wiki(&env).await;
    }
}
