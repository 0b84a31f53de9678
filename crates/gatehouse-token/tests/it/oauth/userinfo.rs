//! `GET|POST /userinfo` (OpenID Connect Core §5.3) as an RFC 6750 bearer resource.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use super::{Env, SUBJECT, envs};
use gatehouse_testkit::http::{Reply, send};

async fn get_with(env: &Env, authorization: Option<&str>) -> Reply {
    let mut request = Request::get("/userinfo");
    if let Some(a) = authorization {
        request = request.header(header::AUTHORIZATION, a);
    }
    send(&env.public, request.body(Body::empty()).unwrap()).await
}

#[track_caller]
fn assert_challenge(reply: &Reply, status: StatusCode, error: &str, context: &str) {
    assert_eq!(reply.status, status, "{context}: {}", reply.body);
    assert_eq!(reply.body["error"], error, "{context}");
    let challenge = reply
        .header("www-authenticate")
        .unwrap_or_else(|| panic!("{context}: no challenge"));
    assert!(
        challenge.starts_with(&format!("Bearer error=\"{error}\", error_description=\"")),
        "{context}: {challenge}"
    );
}

#[tokio::test]
async fn claims_follow_the_granted_scopes() {
    for env in envs().await {
        let client = env.web_client("web").await;
        let cases = [
            ("openid", vec![]),
            (
                "openid profile",
                vec!["name", "preferred_username", "picture", "updated_at"],
            ),
            ("openid email", vec!["email", "email_verified"]),
            (
                "openid profile email",
                vec![
                    "name",
                    "preferred_username",
                    "picture",
                    "updated_at",
                    "email",
                    "email_verified",
                ],
            ),
        ];
        for (scope, expected) in cases {
            let access = env.tokens(&client, scope).await.str("access_token");
            let reply = get_with(&env, Some(&format!("Bearer {access}"))).await;
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{}: {scope}: {}",
                env.name,
                reply.body
            );
            assert_eq!(reply.header("cache-control"), Some("no-store"));
            let claims = reply.body.as_object().unwrap();
            assert_eq!(claims["sub"], SUBJECT);
            let mut names: Vec<&str> = claims
                .keys()
                .map(String::as_str)
                .filter(|k| *k != "sub")
                .collect();
            let mut expected = expected;
            names.sort_unstable();
            expected.sort_unstable();
            assert_eq!(names, expected, "{}: {scope}", env.name);
            if scope.contains("profile") {
                assert_eq!(claims["preferred_username"], "alice");
                assert_eq!(claims["name"], "User alice");
                assert_eq!(claims["picture"], "https://img.example.com/alice.png");
            }
            if scope.contains("email") {
                assert_eq!(claims["email"], "alice@example.com");
                assert_eq!(claims["email_verified"], true);
            }
        }
    }
}

#[tokio::test]
async fn the_token_comes_from_the_header_or_a_form_body_never_the_query() {
    for env in envs().await {
        let client = env.web_client("web").await;
        let access = env
            .tokens(&client, "openid email")
            .await
            .str("access_token");
        let expected =
            json!({"sub": SUBJECT, "email": "alice@example.com", "email_verified": true});

        let post = |body: String,
                    content_type: Option<&'static str>,
                    authorization: Option<String>,
                    uri: &'static str| {
            let mut request = Request::post(uri);
            if let Some(ct) = content_type {
                request = request.header(header::CONTENT_TYPE, ct);
            }
            if let Some(a) = authorization {
                request = request.header(header::AUTHORIZATION, a);
            }
            send(&env.public, request.body(Body::from(body)).unwrap())
        };
        let bearer = Some(format!("Bearer {access}"));
        let form_type = Some("application/x-www-form-urlencoded");

        let reply = post(String::new(), None, bearer.clone(), "/userinfo").await;
        assert_eq!(reply.body, expected, "{}: POST with header", env.name);
        let reply = post(
            "{}".to_owned(),
            Some("application/json"),
            bearer.clone(),
            "/userinfo",
        )
        .await;
        assert_eq!(
            reply.body, expected,
            "{}: POST with header and a JSON body",
            env.name
        );
        let reply = post(
            format!("access_token={access}"),
            form_type,
            None,
            "/userinfo",
        )
        .await;
        assert_eq!(reply.body, expected, "{}: POST with form body", env.name);

        let reply = post(
            format!("access_token={access}"),
            form_type,
            bearer.clone(),
            "/userinfo",
        )
        .await;
        assert_challenge(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "two methods",
        );
        let reply = post(String::new(), None, None, "/userinfo?access_token=x").await;
        assert_challenge(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "query string",
        );
        let request = Request::get(format!("/userinfo?access_token={access}"))
            .body(Body::empty())
            .unwrap();
        assert_challenge(
            &send(&env.public, request).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "GET query string",
        );
        let reply = post(
            "access_token=a&access_token=b".to_owned(),
            form_type,
            None,
            "/userinfo",
        )
        .await;
        assert_challenge(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "repeated",
        );
    }
}

#[tokio::test]
async fn failures_carry_a_bearer_challenge() {
    for env in envs().await {
        // No token at all: a bare challenge without an error code (RFC 6750 §3.1).
        for authorization in [None, Some("Basic YTpi")] {
            let reply = get_with(&env, authorization).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", env.name);
            assert_eq!(
                reply.header("www-authenticate"),
                Some("Bearer realm=\"gatehouse\"")
            );
        }

        let reply = get_with(&env, Some("Bearer gh_at_never-issued")).await;
        assert_challenge(&reply, StatusCode::UNAUTHORIZED, "invalid_token", &env.name);
        let reply = get_with(&env, Some("Bearer ")).await;
        assert_challenge(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );

        // A client_credentials token is about no user.
        let client = env.web_client("web").await;
        let cc = env
            .client_credentials(&client, "profile")
            .await
            .str("access_token");
        let reply = get_with(&env, Some(&format!("Bearer {cc}"))).await;
        assert_challenge(&reply, StatusCode::UNAUTHORIZED, "invalid_token", &env.name);

        // Revoked and expired tokens.
        let access = env.tokens(&client, "openid").await.str("access_token");
        assert_eq!(
            get_with(&env, Some(&format!("Bearer {access}")))
                .await
                .status,
            StatusCode::OK
        );
        env.as_client("/oauth2/revoke", &client, &[("token", &access)])
            .await;
        let reply = get_with(&env, Some(&format!("Bearer {access}"))).await;
        assert_challenge(&reply, StatusCode::UNAUTHORIZED, "invalid_token", &env.name);
        let access = env.tokens(&client, "openid").await.str("access_token");
        env.clock.advance(time::Duration::seconds(3601));
        let reply = get_with(&env, Some(&format!("bearer {access}"))).await;
        assert_challenge(&reply, StatusCode::UNAUTHORIZED, "invalid_token", &env.name);
    }
}

/// A client registered with `id_token_claims: scopes` finds the granted scopes' claims in its ID
/// tokens too (for libraries that read the profile from there), after a refresh as well; the
/// default (`minimal`) keeps them to `/userinfo`.
#[tokio::test]
async fn id_tokens_carry_the_scopes_claims_only_for_clients_that_ask() {
    use gatehouse_core::client::{IdTokenClaims, TokenEndpointAuthMethod};
    let profile = [
        "name",
        "preferred_username",
        "picture",
        "updated_at",
        "email",
        "email_verified",
    ];
    for env in envs().await {
        let mut m = super::metadata(
            TokenEndpointAuthMethod::None,
            &["authorization_code", "refresh_token"],
            "openid offline profile email",
        );
        m.id_token_claims = IdTokenClaims::Scopes;
        let rich = env.client("rich", m).await;
        let minimal = env.public_client("minimal").await;

        let tokens = env.tokens(&rich, "openid offline profile email").await;
        let (_, claims) = env.verify_jwt(&tokens.str("id_token"), "rich").await;
        for claim in profile {
            assert!(
                claims.get(claim).is_some(),
                "{}: {claim}: {claims}",
                env.name
            );
        }
        assert_eq!(claims["preferred_username"], "alice");
        assert_eq!(claims["email"], "alice@example.com");
        assert_eq!(claims["sub"], SUBJECT);

        // Only what the scope releases: profile without email.
        let (_, claims) = env
            .verify_jwt(
                &env.tokens(&rich, "openid profile").await.str("id_token"),
                "rich",
            )
            .await;
        assert!(claims.get("name").is_some() && claims.get("email").is_none());

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
        let (_, claims) = env.verify_jwt(&refreshed.str("id_token"), "rich").await;
        assert_eq!(claims["email"], "alice@example.com", "{}", env.name);

        let tokens = env.tokens(&minimal, "openid offline profile email").await;
        let (_, claims) = env.verify_jwt(&tokens.str("id_token"), "minimal").await;
        for claim in profile {
            assert!(claims.get(claim).is_none(), "{}: {claim}", env.name);
        }
    }
}
