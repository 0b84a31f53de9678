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

/// A client registered with `id_token_claims: scopes`: its ID tokens carry every claim the
/// granted scopes release, custom ones included.
async fn rich_wiki(env: &Env) -> TestClient {
    let mut m = super::metadata(
        TokenEndpointAuthMethod::None,
        &["authorization_code", "refresh_token"],
        "openid offline profile email patreon",
    );
    m.id_token_claims = gatehouse_core::client::IdTokenClaims::Scopes;
    env.client("neos-wiki-rich", m).await
}

async fn set_metadata(env: &Env, metadata: Value) {
    let reply = env
        .admin_call(
            Method::PATCH,
            &format!("/admin/users/{}", super::SUBJECT),
            Some(json!({ "metadata": metadata })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
}

/// The tokens of a code flow for `scope`, with an optional `claims` parameter.
async fn flow(
    env: &Env,
    client: &TestClient,
    scope: &str,
    claims: Option<&str>,
) -> gatehouse_testkit::http::Reply {
    let mut params = env.authorize(client, scope);
    params.claims = claims.map(str::to_owned);
    let code = env.issue_code(&params, super::SUBJECT).await;
    env.exchange(client, &code).await
}

/// The JSON text of a JWT's payload, as a relying party's parser would read it.
fn payload_text(jwt: &str) -> String {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).unwrap_or_default();
    String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap_or_default(),
    )
    .unwrap_or_default()
}

#[tokio::test]
async fn the_patreon_scope_releases_the_users_patreon_metadata() {
    let patreon = json!({"tier": "gold", "since": 2024, "active": true});
    for env in envs().await {
        assert_eq!(
            patreon_scope(&env, json!(["patreon"])).await.status,
            StatusCode::CREATED
        );
        set_metadata(
            &env,
            json!({"patreon": patreon.clone(), "internal": "not released"}),
        )
        .await;
        let rich = rich_wiki(&env).await;
        let minimal = wiki(&env).await;

        // Granted: userinfo and the ID token of a client that takes the scopes' claims.
        let tokens = flow(&env, &rich, "openid patreon", None).await;
        let (_, id) = env.verify_jwt(&tokens.str("id_token"), &rich.id).await;
        assert_eq!(id["patreon"], patreon, "{}: {id}", env.name);
        assert!(id.get("internal").is_none());
        let info = env
            .get_bearer("/userinfo", &tokens.str("access_token"))
            .await;
        assert_eq!(
            info.body,
            json!({"sub": super::SUBJECT, "patreon": patreon}),
            "{}",
            env.name
        );
        // After a refresh too.
        let tokens = flow(&env, &rich, "openid offline patreon", None).await;
        let refreshed = env
            .as_client(
                "/oauth2/token",
                &rich,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &tokens.str("refresh_token")),
                ],
            )
            .await;
        let (_, id) = env.verify_jwt(&refreshed.str("id_token"), &rich.id).await;
        assert_eq!(id["patreon"], patreon, "{}: {id}", env.name);

        // A minimal client: in userinfo always, in the ID token when its claims request asks.
        let tokens = flow(&env, &minimal, "openid patreon", None).await;
        let (_, id) = env.verify_jwt(&tokens.str("id_token"), &minimal.id).await;
        assert!(id.get("patreon").is_none(), "{}: {id}", env.name);
        let info = env
            .get_bearer("/userinfo", &tokens.str("access_token"))
            .await;
        assert_eq!(info.body["patreon"], patreon, "{}", env.name);
        let asked = r#"{"id_token":{"patreon":{"essential":true}}}"#;
        let tokens = flow(&env, &minimal, "openid patreon", Some(asked)).await;
        let (_, id) = env.verify_jwt(&tokens.str("id_token"), &minimal.id).await;
        assert_eq!(id["patreon"], patreon, "{}: {id}", env.name);

        // Not granted: absent from both, whatever is asked.
        let tokens = flow(&env, &rich, "openid profile", Some(asked)).await;
        let (_, id) = env.verify_jwt(&tokens.str("id_token"), &rich.id).await;
        assert!(id.get("patreon").is_none(), "{}: {id}", env.name);
        let info = env
            .get_bearer("/userinfo", &tokens.str("access_token"))
            .await;
        assert!(info.body.get("patreon").is_none(), "{}", info.body);
        assert_eq!(info.body["preferred_username"], "alice");

        // Absent from the metadata: absent from the claims.
        set_metadata(&env, json!({"patreon": null, "internal": null})).await;
        let tokens = flow(&env, &rich, "openid patreon", None).await;
        let (_, id) = env.verify_jwt(&tokens.str("id_token"), &rich.id).await;
        assert!(id.get("patreon").is_none(), "{}: {id}", env.name);
        let info = env
            .get_bearer("/userinfo", &tokens.str("access_token"))
            .await;
        assert_eq!(info.body, json!({"sub": super::SUBJECT}), "{}", env.name);
    }
}

#[tokio::test]
async fn attacker_metadata_named_like_a_reserved_claim_never_replaces_it() {
    use gatehouse_core::scope::{ScopeDefinition, ScopeName};
    for env in envs().await {
        // The catalogue refuses such a scope; one written around it (an old row, a hand-made
        // SQL insert) must not work either.
        let evil = ScopeDefinition {
            name: ScopeName::parse("patreon").unwrap(),
            label: "Your Patreon membership".into(),
            description: String::new(),
            hidden: false,
            claims: ["sub", "iss", "aud", "nonce", "email", "patreon"]
                .map(str::to_owned)
                .to_vec(),
        };
        env.service.durable().create_scope(&evil).await.unwrap();
        env.service.invalidate_scopes();
        set_metadata(
            &env,
            json!({"sub": "user-bob", "iss": "https://evil.example", "aud": "neos-wiki-rich",
                   "nonce": "forged", "email": "bob@example.com", "patreon": "gold"}),
        )
        .await;
        let rich = rich_wiki(&env).await;
        let asked = r#"{"id_token":{"sub":null,"iss":null,"email":null,"patreon":null}}"#;
        for claims in [None, Some(asked)] {
            let tokens = flow(&env, &rich, "openid email patreon", claims).await;
            let id_token = tokens.str("id_token");
            // Verified with the real issuer and audience.
            let (_, id) = env.verify_jwt(&id_token, &rich.id).await;
            assert_eq!(id["sub"], super::SUBJECT, "{}: {id}", env.name);
            assert_eq!(id["nonce"], "nonce-1");
            assert_eq!(id["email"], "alice@example.com");
            assert_eq!(id["patreon"], "gold");
            // No second `sub` or `iss` in the payload for a lenient parser to pick.
            let text = payload_text(&id_token);
            for name in ["\"sub\"", "\"iss\"", "\"aud\"", "\"nonce\"", "\"email\""] {
                assert_eq!(
                    text.matches(name).count(),
                    1,
                    "{}: {name} in {text}",
                    env.name
                );
            }
            let info = env
                .get_bearer("/userinfo", &tokens.str("access_token"))
                .await;
            assert_eq!(
                info.body,
                json!({"sub": super::SUBJECT, "email": "alice@example.com",
                       "email_verified": true, "patreon": "gold"}),
                "{}",
                env.name
            );
        }
    }
}
