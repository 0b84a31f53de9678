//! RFC 8707 resource indicators: `resource` at `/oauth2/auth` and `/oauth2/token` restricts an
//! access token's audience to resources the client may ask for.

use axum::http::StatusCode;
use gatehouse_core::authorize::AuthorizeError;
use gatehouse_core::client::{AccessTokenStrategy, TokenEndpointAuthMethod};
use gatehouse_core::error::ErrorCode;
use gatehouse_testkit::http::Reply;
use serde_json::json;

use super::{
    Env, ISSUER, REDIRECT_URI, SUBJECT, TestClient, VERIFIER, assert_oauth_error, envs, metadata,
};

const PROJECTS: &str = "https://api.neoncloud.example/projects";
const BILLING: &str = "https://api.neoncloud.example/billing";
const USERS: &str = "urn:neoncloud:users";

/// A public client allowed the projects and users APIs (not billing), with JWT access tokens
/// when `jwt`.
async fn resource_client(env: &Env, id: &str, jwt: bool) -> TestClient {
    let mut m = metadata(
        TokenEndpointAuthMethod::None,
        &["authorization_code", "refresh_token"],
        "openid offline_access profile",
    );
    m.allowed_resources = vec![PROJECTS.to_owned(), USERS.to_owned()];
    if jwt {
        m.access_token_strategy = AccessTokenStrategy::Jwt;
    }
    env.client(id, m).await
}

async fn code_for(env: &Env, client: &TestClient, resources: &[&str]) -> String {
    let mut params = env.authorize(client, "openid offline_access");
    params.resource = resources.iter().map(|r| (*r).to_owned()).collect();
    env.issue_code(&params, SUBJECT).await
}

async fn redeem_for(env: &Env, client: &TestClient, code: &str, resources: &[&str]) -> Reply {
    let mut pairs = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", VERIFIER),
    ];
    pairs.extend(resources.iter().map(|r| ("resource", *r)));
    env.as_client("/oauth2/token", client, &pairs).await
}

#[tokio::test]
async fn access_tokens_are_restricted_to_the_authorized_resources_through_refreshes() {
    for env in envs().await {
        let client = resource_client(&env, "neoncli", false).await;
        let code = code_for(&env, &client, &[PROJECTS, USERS]).await;
        let reply = redeem_for(&env, &client, &code, &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        let introspection = env.admin_introspect(&reply.str("access_token")).await;
        assert_eq!(
            introspection.body["aud"],
            json!([PROJECTS, USERS]),
            "{}",
            env.name
        );

        // A refresh keeps the family's resources, or narrows them for one access token.
        let refresh = reply.str("refresh_token");
        let pairs = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("resource", USERS),
        ];
        let narrowed = env.as_client("/oauth2/token", &client, &pairs).await;
        assert_eq!(
            narrowed.status,
            StatusCode::OK,
            "{}: {}",
            env.name,
            narrowed.body
        );
        let introspection = env.admin_introspect(&narrowed.str("access_token")).await;
        assert_eq!(introspection.body["aud"], json!([USERS]), "{}", env.name);
        let refresh = narrowed.str("refresh_token");
        let pairs = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ];
        let again = env.as_client("/oauth2/token", &client, &pairs).await;
        assert_eq!(again.status, StatusCode::OK, "{}: {}", env.name, again.body);
        let introspection = env.admin_introspect(&again.str("access_token")).await;
        assert_eq!(
            introspection.body["aud"],
            json!([PROJECTS, USERS]),
            "{}: narrowing one access token leaves the family whole",
            env.name
        );

        // Widening at a refresh is refused, and spends nothing.
        let refresh = again.str("refresh_token");
        let pairs = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("resource", BILLING),
        ];
        let widened = env.as_client("/oauth2/token", &client, &pairs).await;
        assert_oauth_error(
            &widened,
            StatusCode::BAD_REQUEST,
            "invalid_target",
            &env.name,
        );
        let pairs = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ];
        let still = env.as_client("/oauth2/token", &client, &pairs).await;
        assert_eq!(still.status, StatusCode::OK, "{}: {}", env.name, still.body);
    }
}

#[tokio::test]
async fn jwt_access_tokens_carry_the_resources_as_aud() {
    for env in envs().await {
        let client = resource_client(&env, "neoncli", true).await;
        let code = code_for(&env, &client, &[PROJECTS, USERS]).await;
        let reply = redeem_for(&env, &client, &code, &[PROJECTS]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        let (_, claims) = env.verify_jwt(&reply.str("access_token"), PROJECTS).await;
        assert_eq!(claims["aud"], json!([PROJECTS]), "{}", env.name);

        // Without resources the token is for the issuer, as before.
        let code = code_for(&env, &client, &[]).await;
        let reply = redeem_for(&env, &client, &code, &[]).await;
        let (_, claims) = env.verify_jwt(&reply.str("access_token"), ISSUER).await;
        assert_eq!(claims["aud"], json!([ISSUER]), "{}", env.name);
    }
}

#[tokio::test]
async fn a_resource_the_client_may_not_ask_for_is_invalid_target_everywhere() {
    for env in envs().await {
        let client = resource_client(&env, "neoncli", false).await;
        // At the authorization endpoint: an error redirect with the state.
        for bad in [
            BILLING,
            "relative/path",
            "https://api.neoncloud.example/projects#frag",
        ] {
            let mut params = env.authorize(&client, "openid");
            params.resource = vec![PROJECTS.to_owned(), bad.to_owned()];
            match env.service.validate_authorization(&params).await {
                Err(AuthorizeError::Redirect { error, state, .. }) => {
                    assert_eq!(error.code, ErrorCode::InvalidTarget, "{}: {bad}", env.name);
                    assert_eq!(state.as_deref(), Some("state-1"));
                }
                other => panic!("{}: {bad}: {other:?}", env.name),
            }
        }
        // At the token endpoint, a resource the authorization did not name is refused, and the
        // code stays redeemable.
        let code = code_for(&env, &client, &[PROJECTS]).await;
        let reply = redeem_for(&env, &client, &code, &[USERS]).await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_target", &env.name);
        assert_eq!(
            reply.body["error_description"],
            "the resource urn:neoncloud:users was not part of the authorization"
        );
        let reply = redeem_for(&env, &client, &code, &[PROJECTS]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);

        // A code whose request was tampered with by whoever holds the login role still cannot
        // carry a resource the client may not have.
        let mut params = env.authorize(&client, "openid");
        params.resource = vec![PROJECTS.to_owned()];
        let mut context = env.service.validate_authorization(&params).await.unwrap();
        context.request.resources.push(BILLING.to_owned());
        let refused = env
            .service
            .issue_authorization_code(
                &context.request,
                SUBJECT,
                &context.request.scope,
                env.unix(),
                None,
            )
            .await;
        assert!(
            matches!(&refused, Err(e) if e.code == ErrorCode::InvalidTarget),
            "{}: {refused:?}",
            env.name
        );
    }
}

#[tokio::test]
async fn client_credentials_take_repeated_resources_within_allowed_resources() {
    for env in envs().await {
        let mut m = metadata(
            TokenEndpointAuthMethod::ClientSecretBasic,
            &["client_credentials"],
            "profile",
        );
        m.allowed_resources = vec![PROJECTS.to_owned(), USERS.to_owned()];
        m.audience = vec!["https://legacy.neoncloud.example".to_owned()];
        let client = env.client("reports", m).await;
        let pairs = [
            ("grant_type", "client_credentials"),
            ("resource", PROJECTS),
            ("resource", USERS),
            ("audience", "https://legacy.neoncloud.example"),
        ];
        let reply = env.as_client("/oauth2/token", &client, &pairs).await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        let introspection = env.admin_introspect(&reply.str("access_token")).await;
        assert_eq!(
            introspection.body["aud"],
            json!([PROJECTS, USERS, "https://legacy.neoncloud.example"]),
            "{}",
            env.name
        );
        let pairs = [
            ("grant_type", "client_credentials"),
            ("resource", PROJECTS),
            ("resource", BILLING),
        ];
        let reply = env.as_client("/oauth2/token", &client, &pairs).await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_target", &env.name);
        assert_eq!(
            reply.body["error_description"],
            "this client may not ask for the resource https://api.neoncloud.example/billing"
        );
    }
}

#[tokio::test]
async fn allowed_resources_round_trip_through_the_admin_api_and_are_validated() {
    for env in envs().await {
        let body = json!({
            "client_id": "partner",
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_basic",
            "allowed_resources": [PROJECTS, USERS],
        });
        let created = env
            .admin_call(axum::http::Method::POST, "/admin/clients", Some(body))
            .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}: {}",
            env.name,
            created.body
        );
        assert_eq!(created.body["allowed_resources"], json!([PROJECTS, USERS]));
        let bad = json!({
            "client_id": "partner2",
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_basic",
            "allowed_resources": ["https://api.example/#x"],
        });
        let refused = env
            .admin_call(axum::http::Method::POST, "/admin/clients", Some(bad))
            .await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{}: {}",
            env.name,
            refused.body
        );
        assert_eq!(refused.body["error"], "invalid_client_metadata");
    }
}
