//! The refresh_token grant (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2).

use axum::http::StatusCode;

use super::{Env, TestClient, assert_oauth_error, envs};
use gatehouse_testkit::http::Reply;

async fn refresh(env: &Env, client: &TestClient, token: &str, scope: Option<&str>) -> Reply {
    let mut pairs = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    pairs.extend(scope.map(|s| ("scope", s)));
    env.as_client("/oauth2/token", client, &pairs).await
}

#[tokio::test]
async fn refresh_rotates_and_reusing_a_rotated_token_revokes_the_family() {
    for env in envs().await {
        let client = env.public_client("neoncli").await;
        let first = env.tokens(&client, "openid offline profile").await;
        let (access0, refresh0) = (first.str("access_token"), first.str("refresh_token"));

        let second = refresh(&env, &client, &refresh0, None).await;
        assert_eq!(
            second.status,
            StatusCode::OK,
            "{}: {}",
            env.name,
            second.body
        );
        let (access1, refresh1) = (second.str("access_token"), second.str("refresh_token"));
        assert_ne!(refresh1, refresh0);
        assert_eq!(second.body["scope"], "openid offline profile");
        let (_, claims) = env.verify_jwt(&second.str("id_token"), "neoncli").await;
        assert_eq!(claims["sub"], super::SUBJECT);
        assert!(
            !env.active(&refresh0).await,
            "{}: a rotated token is spent",
            env.name
        );

        // The successor works and rotates in turn.
        let third = refresh(&env, &client, &refresh1, None).await;
        assert_eq!(third.status, StatusCode::OK, "{}: {}", env.name, third.body);
        let (access2, refresh2) = (third.str("access_token"), third.str("refresh_token"));
        assert!(env.active(&access2).await && env.active(&refresh2).await);

        // Presenting a spent token: refused, and the whole family with its access tokens ends.
        let reuse = refresh(&env, &client, &refresh0, None).await;
        assert_oauth_error(&reuse, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);
        for token in [&access0, &access1, &access2, &refresh2] {
            assert!(
                !env.active(token).await,
                "{}: a token of the family survived reuse detection",
                env.name
            );
        }
        let after = refresh(&env, &client, &refresh2, None).await;
        assert_oauth_error(&after, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);
        assert_eq!(
            after.body["error_description"],
            "the refresh token was revoked because a refresh token of this grant was used twice; start a new authorization",
            "{}: the newest token of the family learns why",
            env.name
        );
    }
}

#[tokio::test]
async fn refresh_may_narrow_the_scope_but_not_widen_it() {
    for env in envs().await {
        let client = env.web_client("web").await;
        let first = env.tokens(&client, "openid offline profile email").await;

        let wider = refresh(
            &env,
            &client,
            &first.str("refresh_token"),
            Some("openid offline profile email urn:neoncloud:projects:read"),
        )
        .await;
        assert_oauth_error(&wider, StatusCode::BAD_REQUEST, "invalid_scope", &env.name);
        assert_eq!(
            wider.body["error_description"],
            "these scopes exceed what was granted: urn:neoncloud:projects:read",
            "{}: the refused scopes are named",
            env.name
        );

        // The refused request did not spend the token.
        let narrow = refresh(
            &env,
            &client,
            &first.str("refresh_token"),
            Some("openid profile"),
        )
        .await;
        assert_eq!(
            narrow.status,
            StatusCode::OK,
            "{}: {}",
            env.name,
            narrow.body
        );
        assert_eq!(narrow.body["scope"], "openid profile");
        let introspection = env.admin_introspect(&narrow.str("access_token")).await;
        assert_eq!(introspection.body["scope"], "openid profile");

        // The family keeps its original scope.
        let full = refresh(&env, &client, &narrow.str("refresh_token"), None).await;
        assert_eq!(full.status, StatusCode::OK, "{}: {}", env.name, full.body);
        assert_eq!(full.body["scope"], "openid offline profile email");
    }
}

#[tokio::test]
async fn refresh_tokens_of_other_clients_and_expired_ones_are_refused() {
    for env in envs().await {
        let owner = env.public_client("neoncli").await;
        let thief = env.web_client("web").await;
        let tokens = env.tokens(&owner, "openid offline").await;
        let token = tokens.str("refresh_token");

        let reply = refresh(&env, &thief, &token, None).await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);
        // Nothing happened to the owner's family.
        assert!(
            env.active(&tokens.str("access_token")).await,
            "{}",
            env.name
        );
        let reply = refresh(&env, &owner, &token, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);

        let reply = refresh(&env, &owner, "gh_rt_unknown", None).await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);

        // Past the refresh-token lifetime (720 h by default).
        let stale = env
            .tokens(&owner, "openid offline")
            .await
            .str("refresh_token");
        env.clock.advance(time::Duration::hours(721));
        let reply = refresh(&env, &owner, &stale, None).await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);
    }
}

/// Refresh tokens of families granted before clients had incarnations (empty in the store) still
/// work for their own client, and for no other: another client presenting one learns nothing and
/// spends nothing.
#[tokio::test]
async fn refresh_tokens_from_before_client_incarnations_work_for_their_own_client_only() {
    use gatehouse_core::store::RefreshToken;
    for env in envs().await {
        let owner = env.public_client("neoncli").await;
        let other = env.public_client("other-app").await;
        let now = gatehouse_testkit::fixtures::now();
        let legacy = |value: &str, family: &str| RefreshToken {
            token_hash: env.service.token_hash(value),
            family_id: family.to_owned(),
            client_id: gatehouse_testkit::fixtures::client_id("neoncli"),
            client_incarnation: String::new(),
            subject: super::SUBJECT.to_owned(),
            scope: gatehouse_testkit::fixtures::scopes("openid offline"),
            auth_time: Some(now),
            issued_at: now,
            expires_at: now + time::Duration::days(30),
            resources: Vec::new(),
            dpop_jkt: String::new(),
            session_claims: Default::default(),
        };
        let durable = env.service.durable();
        durable
            .insert_refresh_token(&legacy("gh_rt_legacy-one", "legacy-family-one"))
            .await
            .unwrap();

        let stolen = refresh(&env, &other, "gh_rt_legacy-one", None).await;
        assert_oauth_error(&stolen, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);
        assert_eq!(
            stolen.body["error_description"], "the refresh token is invalid",
            "{}",
            env.name
        );
        let own = refresh(&env, &owner, "gh_rt_legacy-one", None).await;
        assert_eq!(
            own.status,
            StatusCode::OK,
            "{}: the owner's legacy token survived another client's attempt: {}",
            env.name,
            own.body
        );
    }
}

/// The user's state in the durable store is checked at every redemption and refresh, not only
/// through revocation cut-offs: a user disabled or deleted while the cut-off was lost (the
/// short-lived store flushed, say) still gets nothing.
#[tokio::test]
async fn a_disabled_or_deleted_user_gets_nothing_even_without_a_cutoff() {
    for env in envs().await {
        let client = env.public_client("neoncli").await;
        let tokens = env.tokens(&client, "openid offline").await;
        let code = env.code(&client, "openid offline").await;

        let durable = env.service.durable();
        let mut alice = durable.get_user(super::SUBJECT).await.unwrap().unwrap();
        alice.disabled = true;
        durable.update_user(&alice).await.unwrap();

        let refused = refresh(&env, &client, &tokens.str("refresh_token"), None).await;
        assert_oauth_error(
            &refused,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            &env.name,
        );
        assert_eq!(
            refused.body["error_description"],
            "the user of this grant is disabled or no longer exists"
        );
        let redeemed = env.redeem(&client, &code, Some(super::VERIFIER)).await;
        assert_oauth_error(
            &redeemed,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            &env.name,
        );

        // Enabled again, the same refresh token works: the refusal spent nothing.
        alice.disabled = false;
        durable.update_user(&alice).await.unwrap();
        let again = refresh(&env, &client, &tokens.str("refresh_token"), None).await;
        assert_eq!(again.status, StatusCode::OK, "{}: {}", env.name, again.body);

        durable.delete_user(super::SUBJECT).await.unwrap();
        let gone = refresh(&env, &client, &again.str("refresh_token"), None).await;
        assert_oauth_error(&gone, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);
    }
}

/// OpenID Connect Core §12.2: an ID token minted at refresh says what the original sign-in
/// said: the same `amr`, `acr` and `auth_time`; and the refreshed access tokens keep its `acr`
/// (introspection of an opaque one, the claim of a JWT one).
#[tokio::test]
async fn a_refresh_keeps_the_methods_and_time_of_the_sign_in() {
    for env in envs().await {
        let opaque = env.public_client("neoncli").await;
        let jwt = env.jwt_client("jwt-app").await;
        for client in [&opaque, &jwt] {
            let params = env.authorize(client, "openid offline profile");
            let context = env.service.validate_authorization(&params).await.unwrap();
            let auth_time = env.unix() - 300;
            let code = env
                .service
                .issue_authorization_code_with(
                    &context.request,
                    super::SUBJECT,
                    &context.request.scope,
                    auth_time,
                    None,
                    gatehouse_token::authorization::CodeClaims {
                        amr: gatehouse_core::factor::amr_for(true),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            let first = env.exchange(client, &code).await;
            let (_, signed_in) = env.verify_jwt(&first.str("id_token"), &client.id).await;
            assert_eq!(signed_in["acr"], "urn:gatehouse:acr:mfa", "{}", env.name);

            let mut token = first.str("refresh_token");
            // Twice: the successor of a successor still knows.
            for round in 1..=2 {
                let reply = refresh(&env, client, &token, None).await;
                assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
                token = reply.str("refresh_token");
                let (_, claims) = env.verify_jwt(&reply.str("id_token"), &client.id).await;
                let context = format!("{} {} round {round}", env.name, client.id);
                assert_eq!(claims["amr"], signed_in["amr"], "{context}: {claims}");
                assert_eq!(
                    claims["acr"], "urn:gatehouse:acr:mfa",
                    "{context}: {claims}"
                );
                assert_eq!(claims["auth_time"], auth_time, "{context}: {claims}");
                let introspection = env.admin_introspect(&reply.str("access_token")).await;
                assert_eq!(
                    introspection.body["acr"], "urn:gatehouse:acr:mfa",
                    "{context}: {}",
                    introspection.body
                );
                if client.id == jwt.id {
                    let (_, access) = env
                        .verify_jwt(&reply.str("access_token"), super::ISSUER)
                        .await;
                    assert_eq!(
                        access["acr"], "urn:gatehouse:acr:mfa",
                        "{context}: {access}"
                    );
                }
            }
        }
        // A password-only sign-in stays one after a refresh.
        let first = env.tokens(&opaque, "openid offline").await;
        let reply = refresh(&env, &opaque, &first.str("refresh_token"), None).await;
        let (_, claims) = env.verify_jwt(&reply.str("id_token"), "neoncli").await;
        assert_eq!(claims["amr"], serde_json::json!(["pwd"]), "{}", env.name);
        assert_eq!(claims["acr"], "urn:gatehouse:acr:pwd", "{}", env.name);
    }
}
