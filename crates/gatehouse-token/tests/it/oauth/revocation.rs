//! `POST /oauth2/revoke` (RFC 7009).

use axum::http::StatusCode;

use super::{assert_no_store, assert_oauth_error, envs};
use gatehouse_testkit::http::{basic, form};

#[tokio::test]
async fn revoking_an_access_token_ends_it_and_answers_an_empty_200() {
    for env in envs().await {
        let client = env.web_client("web").await;
        let tokens = env.tokens(&client, "openid offline profile").await;
        let access = tokens.str("access_token");
        let reply = env
            .as_client(
                "/oauth2/revoke",
                &client,
                &[("token", &access), ("token_type_hint", "access_token")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        assert!(
            reply.raw.is_empty(),
            "{}: RFC 7009 §2.2 answers without content",
            env.name
        );
        assert_no_store(&reply, &env.name);
        assert!(!env.active(&access).await, "{}", env.name);
        // The refresh token is a separate credential and lives on.
        assert!(
            env.active(&tokens.str("refresh_token")).await,
            "{}",
            env.name
        );

        // Revoking again, or a token that never existed: the same answer.
        for token in [access.as_str(), "gh_at_never-issued", "not-even-a-token"] {
            let reply = env
                .as_client("/oauth2/revoke", &client, &[("token", token)])
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        }
    }
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_family_and_access_tokens() {
    for env in envs().await {
        // A public client may revoke its own tokens, authenticating with its id alone.
        let client = env.public_client("neoncli").await;
        let first = env.tokens(&client, "openid offline").await;
        let second = env
            .as_client(
                "/oauth2/token",
                &client,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &first.str("refresh_token")),
                ],
            )
            .await;
        assert_eq!(
            second.status,
            StatusCode::OK,
            "{}: {}",
            env.name,
            second.body
        );
        let refresh = second.str("refresh_token");

        // The hint is optional and may even be wrong.
        let reply = env
            .as_client(
                "/oauth2/revoke",
                &client,
                &[("token", &refresh), ("token_type_hint", "access_token")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        for token in [
            first.str("access_token"),
            second.str("access_token"),
            refresh.clone(),
        ] {
            assert!(
                !env.active(&token).await,
                "{}: revocation left a token of the family active",
                env.name
            );
        }
        let reply = env
            .as_client(
                "/oauth2/token",
                &client,
                &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            )
            .await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);
    }
}

#[tokio::test]
async fn another_clients_token_survives_a_revocation_attempt() {
    for env in envs().await {
        let owner = env.web_client("owner").await;
        let other = env.web_client("other").await;
        let tokens = env.tokens(&owner, "openid offline").await;
        let cc = env
            .client_credentials(&owner, "profile")
            .await
            .str("access_token");
        for token in [tokens.str("access_token"), tokens.str("refresh_token"), cc] {
            let reply = env
                .as_client("/oauth2/revoke", &other, &[("token", &token)])
                .await;
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{}: the answer must not reveal anything",
                env.name
            );
            assert!(
                env.active(&token).await,
                "{}: another client revoked a token",
                env.name
            );
        }
    }
}

#[tokio::test]
async fn revocation_authenticates_the_client_and_needs_a_token() {
    for env in envs().await {
        let client = env.web_client("web").await;
        let access = env
            .client_credentials(&client, "profile")
            .await
            .str("access_token");

        let reply = env
            .post_form(
                &env.public,
                "/oauth2/revoke",
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
        let reply = env
            .post_form(
                &env.public,
                "/oauth2/revoke",
                &form(&[("token", &access)]),
                Some(&basic("web", "wrong")),
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
        // With the method it did not register.
        let body = form(&[
            ("token", &access),
            ("client_id", "web"),
            ("client_secret", client.secret.as_deref().unwrap()),
        ]);
        let reply = env
            .post_form(&env.public, "/oauth2/revoke", &body, None)
            .await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &env.name,
        );
        assert!(env.active(&access).await);

        let reply = env
            .as_client(
                "/oauth2/revoke",
                &client,
                &[("token_type_hint", "access_token")],
            )
            .await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );
        let reply = env
            .as_client(
                "/oauth2/revoke",
                &client,
                &[("token", &access), ("token", &access)],
            )
            .await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );
        assert!(env.active(&access).await);
    }
}
