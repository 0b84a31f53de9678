//! `POST /oauth2/par` (RFC 9126): pushed authorization requests, and the `request_uri` they give
//! at the authorization endpoint.

use axum::http::StatusCode;
use gatehouse_core::authorize::{AuthorizationParams, AuthorizeError};
use gatehouse_core::client::TokenEndpointAuthMethod;
use gatehouse_core::error::ErrorCode;

use super::{CHALLENGE, Env, REDIRECT_URI, SUBJECT, TestClient, assert_oauth_error, envs};
use gatehouse_testkit::http::Reply;

async fn push(env: &Env, client: &TestClient, extra: &[(&str, &str)]) -> Reply {
    let mut pairs = vec![
        ("response_type", "code"),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid offline"),
        ("state", "pushed-state"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    // A parameter in `extra` replaces the default of the same name.
    pairs.retain(|(name, _)| !extra.iter().any(|(n, _)| n == name));
    pairs.extend_from_slice(extra);
    env.as_client("/oauth2/par", client, &pairs).await
}

/// What the browser brings to `/oauth2/auth`: the client id and the request URI only.
fn by_reference(client_id: &str, request_uri: &str) -> AuthorizationParams {
    AuthorizationParams {
        client_id: Some(client_id.to_owned()),
        request_uri: Some(request_uri.to_owned()),
        // Ignored: only the pushed request counts (RFC 9126 §4).
        scope: Some("openid offline profile email".to_owned()),
        ..AuthorizationParams::default()
    }
}

#[track_caller]
fn assert_untrusted(result: Result<impl std::fmt::Debug, AuthorizeError>, code: ErrorCode) {
    match result {
        Err(AuthorizeError::Untrusted(error)) => assert_eq!(error.code, code, "{error:?}"),
        other => panic!("expected an untrusted {code}: {other:?}"),
    }
}

#[tokio::test]
async fn a_pushed_request_is_used_once_by_its_own_client_and_redeems_as_usual() {
    for env in envs().await {
        let public = env.public_client("neoncli").await;
        let web = env.web_client("web").await;
        let reply = push(&env, &public, &[]).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{}: {}",
            env.name,
            reply.body
        );
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert_eq!(reply.body["expires_in"], 60);
        let request_uri = reply.str("request_uri");
        assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));

        // Another client presenting it learns nothing and spends nothing.
        assert_untrusted(
            env.service
                .validate_authorization(&by_reference("web", &request_uri))
                .await,
            ErrorCode::InvalidRequestUri,
        );
        let context = env
            .service
            .validate_authorization(&by_reference("neoncli", &request_uri))
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", env.name));
        assert_eq!(context.request.scope.to_string(), "openid offline");
        assert_eq!(context.request.state.as_deref(), Some("pushed-state"));
        // Single use.
        assert_untrusted(
            env.service
                .validate_authorization(&by_reference("neoncli", &request_uri))
                .await,
            ErrorCode::InvalidRequestUri,
        );
        // The code of a pushed request redeems like any other.
        let code = env
            .service
            .issue_authorization_code(
                &context.request,
                SUBJECT,
                &context.request.scope,
                env.unix(),
                None,
            )
            .await
            .unwrap();
        let tokens = env.exchange(&public, &code).await;
        assert!(tokens.body["refresh_token"].is_string(), "{}", tokens.body);

        // A confidential client pushes with its secret; a made-up URI is unknown.
        let reply = push(&env, &web, &[]).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_untrusted(
            env.service
                .validate_authorization(&by_reference(
                    "web",
                    "urn:ietf:params:oauth:request_uri:made-up",
                ))
                .await,
            ErrorCode::InvalidRequestUri,
        );
        // A request URI of any other form is still not supported.
        let mut other = by_reference("web", "https://web.example/request.jwt");
        other.redirect_uri = Some(REDIRECT_URI.to_owned());
        other.response_type = Some("code".to_owned());
        assert!(matches!(
            env.service.validate_authorization(&other).await,
            Err(AuthorizeError::Redirect { error, .. }) if error.code == ErrorCode::RequestUriNotSupported
        ));
    }
}

#[tokio::test]
async fn pushes_are_authenticated_and_validated_with_json_errors() {
    for env in envs().await {
        let public = env.public_client("neoncli").await;
        let web = env.web_client("web").await;
        // A wrong secret.
        let impostor = TestClient {
            secret: Some("not-the-secret-0123456789-0123456789".into()),
            ..web.clone()
        };
        let reply = push(&env, &impostor, &[]).await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &env.name,
        );
        // Every rule of an authorization request, answered as JSON, never redirected.
        let reply = push(&env, &public, &[("scope", "openid admin")]).await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_scope", &env.name);
        let reply = env
            .as_client(
                "/oauth2/par",
                &public,
                &[("response_type", "code"), ("redirect_uri", REDIRECT_URI)],
            )
            .await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );
        assert!(
            reply.body["error_description"]
                .as_str()
                .unwrap_or("")
                .contains("PKCE")
        );
        let reply = push(
            &env,
            &public,
            &[("redirect_uri", "https://evil.example/cb")],
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert!(reply.header("location").is_none());
        let reply = push(
            &env,
            &public,
            &[("request_uri", "urn:ietf:params:oauth:request_uri:x")],
        )
        .await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );
    }
}

#[tokio::test]
async fn a_client_that_requires_par_is_refused_without_it() {
    for env in envs().await {
        let mut m = super::metadata(
            TokenEndpointAuthMethod::None,
            &["authorization_code"],
            "openid",
        );
        m.require_pushed_authorization_requests = true;
        let strict = env.client("strict", m).await;
        let plain = env
            .service
            .validate_authorization(&env.authorize(&strict, "openid"))
            .await;
        match plain {
            Err(AuthorizeError::Redirect { error, .. }) => {
                assert_eq!(error.code, ErrorCode::InvalidRequest);
                assert!(error.description.contains("/oauth2/par"), "{error:?}");
            }
            other => panic!("{}: {other:?}", env.name),
        }
        let reply = push(&env, &strict, &[("scope", "openid")]).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let pushed = env
            .service
            .validate_authorization(&by_reference("strict", &reply.str("request_uri")))
            .await;
        assert!(pushed.is_ok(), "{}: {pushed:?}", env.name);
    }
}

#[tokio::test]
async fn the_server_can_require_par_of_every_client() {
    for env in super::envs_with(|s| s.require_par = true).await {
        let public = env.public_client("neoncli").await;
        let plain = env
            .service
            .validate_authorization(&env.authorize(&public, "openid"))
            .await;
        assert!(
            matches!(plain, Err(AuthorizeError::Redirect { ref error, .. }) if error.code == ErrorCode::InvalidRequest),
            "{}: {plain:?}",
            env.name
        );
        let discovery = env.get("/.well-known/openid-configuration").await;
        assert_eq!(
            discovery.body["require_pushed_authorization_requests"],
            true
        );
        assert_eq!(push(&env, &public, &[]).await.status, StatusCode::CREATED);
    }
}
