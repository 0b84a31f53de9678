//! Dynamic client registration: `POST /oauth2/register` (RFC 7591) behind initial access tokens,
//! the self-registration policy, and the client configuration endpoint (RFC 7592).
//!
//! The attacker's cases come first: no token, a wrong, expired or used-up one (also under a race),
//! asking beyond the policy, smuggling operator-only fields, and one client's registration access
//! token used on another client.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use gatehouse_core::client::TokenEndpointAuthMethod;
use gatehouse_testkit::http::{Reply, send};
use serde_json::{Value, json};

use super::{Env, REDIRECT_URI, TestClient, assert_no_store, envs, envs_with};

/// A public native app, as openid-client would register it.
fn native_app() -> Value {
    json!({
        "client_name": "Partner app",
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
        "scope": "openid offline_access profile"
    })
}

fn with(mut base: Value, field: &str, value: Value) -> Value {
    base[field] = value;
    base
}

async fn call(
    env: &Env,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = body.map_or_else(String::new, Value::to_string);
    send(&env.public, request.body(Body::from(body)).unwrap()).await
}

async fn register(env: &Env, bearer: Option<&str>, metadata: &Value) -> Reply {
    call(
        env,
        Method::POST,
        "/oauth2/register",
        bearer,
        Some(metadata),
    )
    .await
}

/// An initial access token from the admin API.
async fn initial_token(env: &Env, request: Value) -> String {
    let reply = env
        .admin_call(Method::POST, "/admin/registration-tokens", Some(request))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}: {}",
        env.name,
        reply.body
    );
    reply.str("token")
}

#[track_caller]
fn assert_error(reply: &Reply, status: StatusCode, code: &str, context: &str) {
    assert_eq!(reply.status, status, "{context}: {}", reply.body);
    assert_eq!(reply.body["error"], code, "{context}: {}", reply.body);
    assert!(
        reply.body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{context}: {}",
        reply.body
    );
    assert_no_store(reply, context);
}

#[track_caller]
fn assert_invalid_token(reply: &Reply, context: &str) {
    assert_error(reply, StatusCode::UNAUTHORIZED, "invalid_token", context);
    assert!(
        reply
            .header("www-authenticate")
            .is_some_and(|c| c.starts_with("Bearer")),
        "{context}: {:?}",
        reply.headers
    );
}

/// The path of `registration_client_uri`.
fn client_path(reply: &Reply) -> String {
    let uri = reply.str("registration_client_uri");
    uri.strip_prefix(super::ISSUER).unwrap_or(&uri).to_owned()
}

#[tokio::test]
async fn registering_without_a_valid_initial_access_token_is_refused() {
    for env in envs().await {
        let name = env.name.clone();
        assert_invalid_token(
            &register(&env, None, &native_app()).await,
            &format!("{name}: none"),
        );
        assert_invalid_token(
            &register(&env, Some("guessed-token"), &native_app()).await,
            &format!("{name}: unknown"),
        );
        let basic = Request::builder()
            .method(Method::POST)
            .uri("/oauth2/register")
            .header(header::AUTHORIZATION, "Basic YTpi")
            .body(Body::from(native_app().to_string()))
            .unwrap();
        assert_invalid_token(&send(&env.public, basic).await, &format!("{name}: basic"));
        // Nothing was registered.
        let clients = env.admin_call(Method::GET, "/admin/clients", None).await;
        assert_eq!(clients.body, json!([]), "{name}");
    }
}

#[tokio::test]
async fn an_expired_initial_access_token_is_refused() {
    for env in envs().await {
        let token = initial_token(&env, json!({"expires_in": 60})).await;
        env.clock.advance(time::Duration::seconds(61));
        assert_invalid_token(
            &register(&env, Some(&token), &native_app()).await,
            &env.name,
        );
    }
}

#[tokio::test]
async fn concurrent_registrations_never_exceed_max_uses() {
    for env in envs().await {
        let token = initial_token(&env, json!({"max_uses": 3})).await;
        let env = std::sync::Arc::new(env);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..12 {
            let (env, token) = (env.clone(), token.clone());
            tasks.spawn(async move { register(&env, Some(&token), &native_app()).await.status });
        }
        let mut created = 0;
        while let Some(status) = tasks.join_next().await {
            match status.unwrap() {
                StatusCode::CREATED => created += 1,
                StatusCode::UNAUTHORIZED => {}
                other => panic!("{}: {other}", env.name),
            }
        }
        assert_eq!(created, 3, "{}", env.name);
        let listed = env
            .admin_call(Method::GET, "/admin/registration-tokens", None)
            .await;
        assert_eq!(listed.body[0]["uses"], 3, "{}", env.name);
        assert_invalid_token(
            &register(&env, Some(&token), &native_app()).await,
            &env.name,
        );
    }
}

#[tokio::test]
async fn a_revoked_initial_access_token_is_refused() {
    for env in envs().await {
        let token = initial_token(&env, json!({})).await;
        let listed = env
            .admin_call(Method::GET, "/admin/registration-tokens", None)
            .await;
        assert!(listed.body[0].get("token").is_none(), "{}", listed.body);
        let id = listed.body[0]["id"].as_str().unwrap().to_owned();
        let revoked = env
            .admin_call(
                Method::DELETE,
                &format!("/admin/registration-tokens/{id}"),
                None,
            )
            .await;
        assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", env.name);
        assert_invalid_token(
            &register(&env, Some(&token), &native_app()).await,
            &env.name,
        );
    }
}

#[tokio::test]
async fn asking_beyond_the_policy_or_for_operator_fields_is_refused() {
    for env in envs().await {
        let token = initial_token(&env, json!({})).await;
        let cases = [
            (
                "scope",
                with(
                    native_app(),
                    "scope",
                    json!("openid urn:neoncloud:projects:read"),
                ),
                "invalid_client_metadata",
                "urn:neoncloud:projects:read",
            ),
            (
                "client_credentials",
                json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic", "scope": "openid"}),
                "invalid_client_metadata",
                "client_credentials",
            ),
            (
                "skip_consent",
                with(native_app(), "skip_consent", json!(true)),
                "invalid_client_metadata",
                "skip_consent",
            ),
            (
                "owner",
                with(native_app(), "owner", json!("acme")),
                "invalid_client_metadata",
                "owner",
            ),
            (
                "audience",
                with(native_app(), "audience", json!(["https://api.example.com"])),
                "invalid_client_metadata",
                "audience",
            ),
            (
                "metadata",
                with(native_app(), "metadata", json!({"tier": "gold"})),
                "invalid_client_metadata",
                "metadata",
            ),
            (
                "client_id",
                with(native_app(), "client_id", json!("billing")),
                "invalid_client_metadata",
                "client_id",
            ),
            (
                "client_secret",
                with(
                    with(
                        native_app(),
                        "token_endpoint_auth_method",
                        json!("client_secret_basic"),
                    ),
                    "client_secret",
                    json!("chosen-by-the-client-0123456789abcdef"),
                ),
                "invalid_client_metadata",
                "client_secret",
            ),
            (
                "http redirect",
                with(
                    native_app(),
                    "redirect_uris",
                    json!(["http://app.example.com/callback"]),
                ),
                "invalid_redirect_uri",
                "redirect_uris",
            ),
            (
                "script redirect",
                with(
                    native_app(),
                    "redirect_uris",
                    json!(["javascript:alert(1)"]),
                ),
                "invalid_redirect_uri",
                "redirect_uris",
            ),
            (
                "unknown grant",
                with(native_app(), "grant_types", json!(["password"])),
                "invalid_client_metadata",
                "password",
            ),
            (
                "not an object",
                json!(["a"]),
                "invalid_client_metadata",
                "JSON",
            ),
        ];
        for (case, body, code, named) in cases {
            let context = format!("{}: {case}", env.name);
            let reply = register(&env, Some(&token), &body).await;
            assert_error(&reply, StatusCode::BAD_REQUEST, code, &context);
            assert!(
                reply.str("error_description").contains(named),
                "{context}: {}",
                reply.body
            );
        }
        let clients = env.admin_call(Method::GET, "/admin/clients", None).await;
        assert_eq!(clients.body, json!([]), "{}", env.name);
        // Refusals gave their use back: the token is still unused.
        let listed = env
            .admin_call(Method::GET, "/admin/registration-tokens", None)
            .await;
        assert_eq!(listed.body[0]["uses"], 0, "{}", env.name);
        // An http redirect URI on a loopback host is fine (RFC 8252 §7.3).
        let loopback = with(
            native_app(),
            "redirect_uris",
            json!(["http://127.0.0.1/callback"]),
        );
        assert_eq!(
            register(&env, Some(&token), &loopback).await.status,
            StatusCode::CREATED
        );
    }
}

#[tokio::test]
async fn an_operator_may_open_client_credentials_to_self_registered_clients() {
    let envs = envs_with(|s| {
        s.registration
            .policy
            .allowed_grant_types
            .push(gatehouse_core::protocol::GrantType::ClientCredentials);
    })
    .await;
    for env in envs {
        let token = initial_token(&env, json!({})).await;
        let reply = register(
            &env,
            Some(&token),
            &json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic", "scope": "openid"}),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{}: {}",
            env.name,
            reply.body
        );
    }
}

#[tokio::test]
async fn one_clients_registration_access_token_does_not_reach_another() {
    for env in envs().await {
        let token = initial_token(&env, json!({})).await;
        let a = register(&env, Some(&token), &native_app()).await;
        let b = register(&env, Some(&token), &native_app()).await;
        let (a_token, b_path) = (a.str("registration_access_token"), client_path(&b));
        let b_id = b.str("client_id");
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let body = with(native_app(), "client_id", json!(b_id));
            let reply = call(&env, method.clone(), &b_path, Some(&a_token), Some(&body)).await;
            assert_invalid_token(&reply, &format!("{}: {method}", env.name));
            let reply = call(&env, method.clone(), &b_path, None, Some(&body)).await;
            assert_invalid_token(&reply, &format!("{}: {method} without", env.name));
        }
        // The initial access token is not a registration access token either.
        assert_invalid_token(
            &call(&env, Method::GET, &b_path, Some(&token), None).await,
            &env.name,
        );
        // An unknown client answers as a wrong token does.
        let unknown = call(
            &env,
            Method::GET,
            "/oauth2/register/nobody",
            Some(&a_token),
            None,
        )
        .await;
        assert_invalid_token(&unknown, &env.name);
        // B is untouched.
        let read = call(
            &env,
            Method::GET,
            &b_path,
            Some(&b.str("registration_access_token")),
            None,
        )
        .await;
        assert_eq!(read.status, StatusCode::OK, "{}: {}", env.name, read.body);
    }
}

#[tokio::test]
async fn a_client_cannot_smuggle_operator_fields_or_a_new_secret_through_an_update() {
    for env in envs().await {
        let token = initial_token(&env, json!({})).await;
        let web = json!({
            "client_name": "Web app",
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code"],
            "scope": "openid"
        });
        let created = register(&env, Some(&token), &web).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}: {}",
            env.name,
            created.body
        );
        let (path, rat, id) = (
            client_path(&created),
            created.str("registration_access_token"),
            created.str("client_id"),
        );
        let secret = created.str("client_secret");
        let put = |body: Value| {
            let (env, path, rat) = (&env, path.clone(), rat.clone());
            async move { call(env, Method::PUT, &path, Some(&rat), Some(&body)).await }
        };
        let base = with(web.clone(), "client_id", json!(id));
        for (case, body, code) in [
            (
                "skip_consent",
                with(base.clone(), "skip_consent", json!(true)),
                "invalid_client_metadata",
            ),
            (
                "owner",
                with(base.clone(), "owner", json!("acme")),
                "invalid_client_metadata",
            ),
            (
                "scope",
                with(
                    base.clone(),
                    "scope",
                    json!("openid urn:neoncloud:projects:read"),
                ),
                "invalid_client_metadata",
            ),
            (
                "new secret",
                with(
                    base.clone(),
                    "client_secret",
                    json!("a-secret-the-client-chose-0123456789"),
                ),
                "invalid_client_metadata",
            ),
            (
                "other id",
                with(web.clone(), "client_id", json!("other")),
                "invalid_request",
            ),
            ("no id", web.clone(), "invalid_request"),
        ] {
            assert_error(
                &put(body).await,
                StatusCode::BAD_REQUEST,
                code,
                &format!("{}: {case}", env.name),
            );
        }
        // Sending the current secret back is allowed, and keeps it.
        let renamed = put(with(
            with(base.clone(), "client_secret", json!(secret)),
            "client_name",
            json!("Renamed"),
        ))
        .await;
        assert_eq!(
            renamed.status,
            StatusCode::OK,
            "{}: {}",
            env.name,
            renamed.body
        );
        assert_eq!(renamed.body["client_name"], "Renamed");
        assert!(
            renamed.body.get("client_secret").is_none(),
            "{}",
            renamed.body
        );
        assert!(
            renamed.body.get("registration_access_token").is_none(),
            "{}",
            renamed.body
        );
        let client = TestClient {
            id: id.clone(),
            secret: Some(secret),
            method: TokenEndpointAuthMethod::ClientSecretBasic,
        };
        let tokens = env.tokens(&client, "openid").await;
        assert!(tokens.body["id_token"].is_string(), "{}", tokens.body);
    }
}

#[tokio::test]
async fn a_registered_client_signs_in_users_and_manages_its_registration() {
    for env in envs().await {
        let token = initial_token(&env, json!({"max_uses": 1, "expires_in": 3600})).await;
        let created = register(&env, Some(&token), &native_app()).await;
        let context = env.name.clone();
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{context}: {}",
            created.body
        );
        assert_no_store(&created, &context);
        let body = &created.body;
        let id = created.str("client_id");
        assert_eq!(body["client_name"], "Partner app");
        assert_eq!(body["redirect_uris"], json!([REDIRECT_URI]));
        assert_eq!(
            body["grant_types"],
            json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(body["response_types"], json!(["code"]));
        assert_eq!(body["scope"], "openid offline_access profile");
        assert_eq!(body["token_endpoint_auth_method"], "none");
        assert_eq!(body["skip_consent"], false);
        for unset in [
            "logo_uri",
            "client_uri",
            "policy_uri",
            "tos_uri",
            "jwks_uri",
            "owner",
        ] {
            assert!(
                body.get(unset).is_none(),
                "{context}: {unset} is left out: {body}"
            );
        }
        assert!(
            body.get("client_secret").is_none(),
            "a public client has no secret: {body}"
        );
        assert_eq!(body["client_id_issued_at"], env.unix());
        assert_eq!(
            body["registration_client_uri"],
            format!("{}/oauth2/register/{id}", super::ISSUER)
        );
        let rat = created.str("registration_access_token");
        assert!(rat.len() >= 43);

        // The client works: a code flow with a refresh token.
        let client = TestClient {
            id: id.clone(),
            secret: None,
            method: TokenEndpointAuthMethod::None,
        };
        let tokens = env.tokens(&client, "openid offline_access").await;
        assert!(
            tokens.body["refresh_token"].is_string(),
            "{context}: {}",
            tokens.body
        );

        // RFC 7592: read, replace, delete.
        let path = client_path(&created);
        let read = call(&env, Method::GET, &path, Some(&rat), None).await;
        assert_eq!(read.status, StatusCode::OK, "{context}: {}", read.body);
        assert_eq!(read.body["client_id"], id);
        assert!(read.body.get("registration_access_token").is_none());
        assert_no_store(&read, &context);

        // An echo of what the server answered is a valid replacement.
        let mut replacement = read.body.clone();
        replacement["client_name"] = json!("Partner app 2");
        replacement["scope"] = json!("openid");
        let replaced = call(&env, Method::PUT, &path, Some(&rat), Some(&replacement)).await;
        assert_eq!(
            replaced.status,
            StatusCode::OK,
            "{context}: {}",
            replaced.body
        );
        assert_eq!(replaced.body["client_name"], "Partner app 2");
        assert_eq!(replaced.body["scope"], "openid");
        // The registration access token stays the same after an update.
        let again = call(&env, Method::GET, &path, Some(&rat), None).await;
        assert_eq!(again.body["client_name"], "Partner app 2", "{context}");

        let deleted = call(&env, Method::DELETE, &path, Some(&rat), None).await;
        assert_eq!(
            deleted.status,
            StatusCode::NO_CONTENT,
            "{context}: {}",
            deleted.body
        );
        assert_invalid_token(
            &call(&env, Method::GET, &path, Some(&rat), None).await,
            &context,
        );
        let gone = env
            .admin_call(Method::GET, &format!("/admin/clients/{id}"), None)
            .await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND, "{context}");
        // The token had one use.
        assert_invalid_token(&register(&env, Some(&token), &native_app()).await, &context);
    }
}

#[tokio::test]
async fn a_confidential_client_gets_a_secret_and_defaults_to_the_allowed_scopes() {
    for env in envs().await {
        let token = initial_token(&env, json!({})).await;
        let created = register(
            &env,
            Some(&token),
            &json!({"redirect_uris": [REDIRECT_URI]}),
        )
        .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}: {}",
            env.name,
            created.body
        );
        assert_eq!(
            created.body["token_endpoint_auth_method"],
            "client_secret_basic"
        );
        assert_eq!(created.body["client_secret_expires_at"], 0);
        assert_eq!(
            created.body["scope"],
            "openid offline offline_access profile email"
        );
        assert_eq!(created.body["grant_types"], json!(["authorization_code"]));
        let client = TestClient {
            id: created.str("client_id"),
            secret: Some(created.str("client_secret")),
            method: TokenEndpointAuthMethod::ClientSecretBasic,
        };
        let tokens = env.tokens(&client, "openid profile").await;
        assert!(tokens.body["access_token"].is_string(), "{}", tokens.body);
    }
}

#[tokio::test]
async fn discovery_names_the_registration_endpoint_only_while_registration_is_possible() {
    for env in envs().await {
        let closed = env.get("/.well-known/openid-configuration").await;
        assert!(
            closed.body.get("registration_endpoint").is_none(),
            "{}",
            closed.body
        );
    }
    for env in envs().await {
        initial_token(&env, json!({"max_uses": 2})).await;
        let with_token = env.get("/.well-known/openid-configuration").await;
        assert_eq!(
            with_token.body["registration_endpoint"],
            format!("{}/oauth2/register", super::ISSUER)
        );
    }
    for env in envs_with(|s| s.registration.open = true).await {
        let open = env.get("/.well-known/openid-configuration").await;
        assert_eq!(
            open.body["registration_endpoint"],
            format!("{}/oauth2/register", super::ISSUER)
        );
        // Open registration needs no token, and the policy still holds.
        let created = register(&env, None, &native_app()).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}: {}",
            env.name,
            created.body
        );
        let refused = register(&env, None, &with(native_app(), "skip_consent", json!(true))).await;
        assert_error(
            &refused,
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            &env.name,
        );
    }
}

#[tokio::test]
async fn initial_access_tokens_are_validated_and_shown_once() {
    for env in envs().await {
        for bad in [
            json!({"max_uses": 0}),
            json!({"expires_in": 0}),
            json!({"expires_in": 400_000_000}),
        ] {
            let reply = env
                .admin_call(
                    Method::POST,
                    "/admin/registration-tokens",
                    Some(bad.clone()),
                )
                .await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}: {bad}", env.name);
        }
        let created = env
            .admin_call(
                Method::POST,
                "/admin/registration-tokens",
                Some(json!({"expires_in": 604_800, "max_uses": 5})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
        assert_eq!(created.body["max_uses"], 5);
        assert_eq!(created.body["uses"], 0);
        assert!(created.str("token").len() >= 43);
        assert!(created.body["expires_at"].is_string());
        let listed = env
            .admin_call(Method::GET, "/admin/registration-tokens", None)
            .await;
        assert!(!listed.text().contains(&created.str("token")));
        let missing = env
            .admin_call(Method::DELETE, "/admin/registration-tokens/nope", None)
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    }
}
