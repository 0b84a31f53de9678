//! "Revoked" means ended everywhere at once (RFC 7662 §2.2, RFC 7009, RFC 7592 §2.3): deleting a
//! client, disabling a user, resetting a password and withdrawing a consent end every token
//! they stand behind, whether or not the grant had a refresh token, opaque or JWT, at
//! introspection and at `/userinfo`; a client registered again under a deleted client's id
//! inherits nothing.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{Env, REDIRECT_URI, SUBJECT, TestClient, envs};
use gatehouse_core::client::TokenEndpointAuthMethod;

async fn userinfo_status(env: &Env, access: &str) -> StatusCode {
    env.get_bearer("/userinfo", access).await.status
}

#[track_caller]
fn assert_ended(env: &Env, what: &str, active: bool, userinfo: StatusCode) {
    assert!(!active, "{}: {what} still introspects active", env.name);
    assert_eq!(
        userinfo,
        StatusCode::UNAUTHORIZED,
        "{}: {what} still opens /userinfo",
        env.name
    );
}

/// A confidential client registered through the admin API with a known secret.
async fn register(env: &Env, id: &str, secret: &str, jwt: bool) -> TestClient {
    let reply = env
        .admin_call(
            Method::POST,
            "/admin/clients",
            Some(json!({
                "client_id": id,
                "client_secret": secret,
                "client_name": "Partner",
                "redirect_uris": [REDIRECT_URI],
                "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
                "response_types": ["code"],
                "scope": "openid offline profile email urn:neoncloud:projects:read",
                "token_endpoint_auth_method": "client_secret_basic",
                "access_token_strategy": if jwt { "jwt" } else { "opaque" },
            })),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}: {}",
        env.name,
        reply.body
    );
    TestClient {
        id: id.to_owned(),
        secret: Some(secret.to_owned()),
        method: TokenEndpointAuthMethod::ClientSecretBasic,
    }
}

#[tokio::test]
async fn deleting_a_client_ends_its_grants_and_a_recreated_id_inherits_nothing() {
    for env in envs().await {
        for jwt in [false, true] {
            let id = if jwt { "partner-jwt" } else { "partner" };
            let client = register(&env, id, "first-secret-0123456789abcdef0123456789", jwt).await;
            let offline = env.tokens(&client, "openid offline profile").await;
            let online = env.tokens(&client, "openid profile").await;
            let machine = env
                .client_credentials(&client, "urn:neoncloud:projects:read")
                .await;
            assert_eq!(
                machine.status,
                StatusCode::OK,
                "{}: {}",
                env.name,
                machine.body
            );
            let pending_code = env.code(&client, "openid profile").await;
            env.service
                .record_consent(
                    SUBJECT,
                    &gatehouse_testkit::fixtures::client_id(id),
                    &gatehouse_testkit::fixtures::scopes("openid profile"),
                )
                .await
                .unwrap();

            let reply = env
                .admin_call(Method::DELETE, &format!("/admin/clients/{id}"), None)
                .await;
            assert_eq!(
                reply.status,
                StatusCode::NO_CONTENT,
                "{}: {}",
                env.name,
                reply.body
            );

            for (what, tokens) in [("offline grant", &offline), ("online grant", &online)] {
                let access = tokens.str("access_token");
                assert_ended(
                    &env,
                    &format!("{what} access token (jwt: {jwt})"),
                    env.active(&access).await,
                    userinfo_status(&env, &access).await,
                );
            }
            assert!(
                !env.active(&machine.str("access_token")).await,
                "{}: the client_credentials token (jwt: {jwt}) is still active",
                env.name
            );
            assert!(
                !env.active(&offline.str("refresh_token")).await,
                "{}: the refresh token is still active",
                env.name
            );
            assert!(
                env.service.consent(SUBJECT, id).await.unwrap().is_none(),
                "{}: the consent survived",
                env.name
            );

            // A new client under the same id, with a secret of its own, starts with nothing.
            let reborn = register(&env, id, "second-secret-0123456789abcdef012345678", jwt).await;
            let refreshed = env
                .as_client(
                    "/oauth2/token",
                    &reborn,
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &offline.str("refresh_token")),
                    ],
                )
                .await;
            assert_eq!(
                (refreshed.status, refreshed.body["error"].clone()),
                (StatusCode::BAD_REQUEST, json!("invalid_grant")),
                "{}: the old refresh token with the new secret: {}",
                env.name,
                refreshed.body
            );
            let redeemed = env
                .redeem(&reborn, &pending_code, Some(super::VERIFIER))
                .await;
            assert_eq!(
                (redeemed.status, redeemed.body["error"].clone()),
                (StatusCode::BAD_REQUEST, json!("invalid_grant")),
                "{}: the old pending code with the new secret: {}",
                env.name,
                redeemed.body
            );
            assert!(
                env.service.consent(SUBJECT, id).await.unwrap().is_none(),
                "{}",
                env.name
            );
            // Its own grants work, at once.
            let fresh = env.tokens(&reborn, "openid profile").await;
            assert!(env.active(&fresh.str("access_token")).await, "{}", env.name);
            assert_eq!(
                userinfo_status(&env, &fresh.str("access_token")).await,
                StatusCode::OK,
                "{}",
                env.name
            );
        }
    }
}

/// Disabling a client (`"disabled": true` through the admin API) is an incident switch: every
/// token, refresh token and pending code it holds ends at once, and it gets nothing new (token
/// endpoint `invalid_client`, authorization requests refused) until enabled again. Enabling it
/// brings back nothing that was ended: only grants made afterwards work.
#[tokio::test]
async fn disabling_a_client_ends_everything_it_holds_and_enabling_brings_nothing_back() {
    for env in envs().await {
        for jwt in [false, true] {
            let id = if jwt { "paused-jwt" } else { "paused" };
            let client = register(&env, id, "paused-secret-0123456789abcdef0123456789", jwt).await;
            let offline = env.tokens(&client, "openid offline profile").await;
            let machine = env
                .client_credentials(&client, "urn:neoncloud:projects:read")
                .await;
            let pending_code = env.code(&client, "openid profile").await;

            let reply = env
                .admin_call(
                    Method::PATCH,
                    &format!("/admin/clients/{id}"),
                    Some(json!({"disabled": true})),
                )
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
            assert_eq!(reply.body["disabled"], json!(true), "{}", env.name);

            let access = offline.str("access_token");
            assert_ended(
                &env,
                &format!("a disabled client's access token (jwt: {jwt})"),
                env.active(&access).await,
                userinfo_status(&env, &access).await,
            );
            assert!(
                !env.active(&machine.str("access_token")).await,
                "{}: a disabled client's client_credentials token is active",
                env.name
            );
            let refreshed = env
                .as_client(
                    "/oauth2/token",
                    &client,
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &offline.str("refresh_token")),
                    ],
                )
                .await;
            assert_eq!(
                (refreshed.status, refreshed.body["error"].clone()),
                (StatusCode::UNAUTHORIZED, json!("invalid_client")),
                "{}: a disabled client refreshes: {}",
                env.name,
                refreshed.body
            );
            let new_machine = env
                .client_credentials(&client, "urn:neoncloud:projects:read")
                .await;
            assert_eq!(
                (new_machine.status, new_machine.body["error"].clone()),
                (StatusCode::UNAUTHORIZED, json!("invalid_client")),
                "{}: a disabled client gets a token: {}",
                env.name,
                new_machine.body
            );
            let validated = env
                .service
                .validate_authorization(&env.authorize(&client, "openid profile"))
                .await;
            assert!(
                validated.is_err(),
                "{}: a disabled client's authorization request is accepted",
                env.name
            );

            let reply = env
                .admin_call(
                    Method::PATCH,
                    &format!("/admin/clients/{id}"),
                    Some(json!({"disabled": false})),
                )
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
            assert!(
                !env.active(&access).await,
                "{}: enabling the client brought its old access token back",
                env.name
            );
            let refreshed = env
                .as_client(
                    "/oauth2/token",
                    &client,
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &offline.str("refresh_token")),
                    ],
                )
                .await;
            assert_eq!(
                (refreshed.status, refreshed.body["error"].clone()),
                (StatusCode::BAD_REQUEST, json!("invalid_grant")),
                "{}: enabling the client brought its refresh token back: {}",
                env.name,
                refreshed.body
            );
            let redeemed = env
                .redeem(&client, &pending_code, Some(super::VERIFIER))
                .await;
            assert_eq!(
                (redeemed.status, redeemed.body["error"].clone()),
                (StatusCode::BAD_REQUEST, json!("invalid_grant")),
                "{}: enabling the client brought its pending code back: {}",
                env.name,
                redeemed.body
            );
            let fresh = env.tokens(&client, "openid profile").await;
            assert!(env.active(&fresh.str("access_token")).await, "{}", env.name);
        }
    }
}

/// The tokens a user holds from two clients: an online grant (no refresh token) and an offline
/// one, plus a client_credentials token that is nobody's.
struct UserTokens {
    online: String,
    offline_access: String,
    refresh: String,
    other_client: String,
    machine: String,
}

async fn user_tokens(env: &Env, first: &TestClient, second: &TestClient) -> UserTokens {
    let offline = env.tokens(first, "openid offline profile").await;
    let machine = env
        .client_credentials(first, "urn:neoncloud:projects:read")
        .await;
    UserTokens {
        online: env
            .tokens(first, "openid profile")
            .await
            .str("access_token"),
        offline_access: offline.str("access_token"),
        refresh: offline.str("refresh_token"),
        other_client: env
            .tokens(second, "openid profile")
            .await
            .str("access_token"),
        machine: machine.str("access_token"),
    }
}

async fn assert_user_locked_out(env: &Env, tokens: &UserTokens, first: &TestClient, path: &str) {
    for (what, access) in [
        ("online grant", &tokens.online),
        ("offline grant", &tokens.offline_access),
        ("other client", &tokens.other_client),
    ] {
        assert_ended(
            env,
            &format!("after {path}: {what}"),
            env.active(access).await,
            userinfo_status(env, access).await,
        );
    }
    let refreshed = env
        .as_client(
            "/oauth2/token",
            first,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &tokens.refresh),
            ],
        )
        .await;
    assert_eq!(
        refreshed.status,
        StatusCode::BAD_REQUEST,
        "{}: after {path} the refresh token still works: {}",
        env.name,
        refreshed.body
    );
    assert!(
        env.active(&tokens.machine).await,
        "{}: the client's own client_credentials token is not the user's",
        env.name
    );
}

#[tokio::test]
async fn disabling_a_user_ends_every_access_token_at_once() {
    for env in envs().await {
        let first = env.web_client("first").await;
        let second = env.web_client("second").await;
        let tokens = user_tokens(&env, &first, &second).await;
        let reply = env
            .admin_call(
                Method::PATCH,
                &format!("/admin/users/{SUBJECT}"),
                Some(json!({"disabled": true})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        assert_user_locked_out(&env, &tokens, &first, "disabling").await;

        // Enabled again: earlier tokens stay ended, new ones work.
        let reply = env
            .admin_call(
                Method::PATCH,
                &format!("/admin/users/{SUBJECT}"),
                Some(json!({"disabled": false})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        assert!(!env.active(&tokens.online).await, "{}", env.name);
        env.clock.advance(time::Duration::seconds(1));
        let fresh = env
            .tokens(&first, "openid profile")
            .await
            .str("access_token");
        assert!(env.active(&fresh).await, "{}", env.name);
    }
}

#[tokio::test]
async fn resetting_a_password_ends_every_access_and_refresh_token_at_once() {
    for env in envs().await {
        let first = env.web_client("first").await;
        let second = env.web_client("second").await;
        let tokens = user_tokens(&env, &first, &second).await;
        let reply = env
            .admin_call(
                Method::PUT,
                &format!("/admin/users/{SUBJECT}/password"),
                Some(json!({"password": "a brand new password"})),
            )
            .await;
        assert!(
            reply.status.is_success(),
            "{}: {} {}",
            env.name,
            reply.status,
            reply.body
        );
        assert_user_locked_out(&env, &tokens, &first, "a password reset").await;
        env.clock.advance(time::Duration::seconds(1));
        let fresh = env
            .tokens(&first, "openid profile")
            .await
            .str("access_token");
        assert!(env.active(&fresh).await, "{}", env.name);
    }
}

#[tokio::test]
async fn withdrawing_consent_ends_that_clients_access_tokens_at_once() {
    for env in envs().await {
        let first = env.web_client("first").await;
        let second = env.web_client("second").await;
        let tokens = user_tokens(&env, &first, &second).await;
        let jwt_client = env.jwt_client("jwt-app").await;
        let jwt = env
            .tokens(&jwt_client, "openid profile")
            .await
            .str("access_token");
        assert!(env.active(&jwt).await, "{}", env.name);
        for client in ["first", "jwt-app"] {
            env.service
                .record_consent(
                    SUBJECT,
                    &gatehouse_testkit::fixtures::client_id(client),
                    &gatehouse_testkit::fixtures::scopes("openid profile"),
                )
                .await
                .unwrap();
            // What the connected-apps page does (gRPC RevokeConsent).
            assert!(env.service.revoke_consent(SUBJECT, client).await.unwrap());
        }
        for (what, access) in [
            ("online grant", &tokens.online),
            ("offline grant", &tokens.offline_access),
            ("JWT access token", &jwt),
        ] {
            assert_ended(
                &env,
                &format!("after withdrawing consent: {what}"),
                env.active(access).await,
                userinfo_status(&env, access).await,
            );
        }
        assert!(
            env.active(&tokens.other_client).await,
            "{}: another client's token is not touched",
            env.name
        );
        assert_eq!(
            userinfo_status(&env, &tokens.other_client).await,
            StatusCode::OK
        );
        // The client can be authorized anew, and that grant works.
        env.clock.advance(time::Duration::seconds(1));
        let fresh = env
            .tokens(&first, "openid profile")
            .await
            .str("access_token");
        assert!(env.active(&fresh).await, "{}", env.name);
    }
}
