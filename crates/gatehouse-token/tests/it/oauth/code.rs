//! The authorization_code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636) and ID tokens (OpenID
//! Connect Core §3.1.3).

use axum::http::StatusCode;
use gatehouse_core::client::TokenEndpointAuthMethod;
use gatehouse_jose::SigningAlgorithm;
use gatehouse_token::issue::at_hash;

use super::{SUBJECT, VERIFIER, assert_no_store, assert_oauth_error, envs, metadata};

const CODE_FLOW: [&str; 2] = ["authorization_code", "refresh_token"];

#[tokio::test]
async fn public_client_with_pkce_gets_access_refresh_and_verified_id_token() {
    for env in envs().await {
        let client = env.public_client("neoncli").await;
        let reply = env.tokens(&client, "openid offline profile").await;
        assert_no_store(&reply, &env.name);
        let access = reply.str("access_token");
        assert!(access.starts_with("gh_at_"));
        assert!(reply.str("refresh_token").starts_with("gh_rt_"));
        assert_eq!(reply.body["token_type"], "Bearer");
        assert_eq!(reply.body["expires_in"], 3600);
        assert_eq!(reply.body["scope"], "openid offline profile");

        let (header, claims) = env.verify_jwt(&reply.str("id_token"), "neoncli").await;
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
        assert_eq!(claims["sub"], SUBJECT);
        assert_eq!(claims["nonce"], "nonce-1");
        assert_eq!(claims["auth_time"], env.unix() - 30);
        assert_eq!(claims["at_hash"], at_hash(SigningAlgorithm::Rs256, &access));
        assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());

        assert!(env.active(&access).await, "{}", env.name);
    }
}

#[tokio::test]
async fn confidential_client_without_pkce_and_scopes_decide_what_is_issued() {
    for env in envs().await {
        let client = env.web_client("web").await;
        let mut params = env.authorize(&client, "profile urn:neoncloud:projects:read");
        params.code_challenge = None;
        params.code_challenge_method = None;
        params.redirect_uri = None;
        let code = env.issue_code(&params, SUBJECT).await;
        // No redirect_uri in the request, so none needed in the token request; no verifier either.
        let reply = env
            .as_client(
                "/oauth2/token",
                &client,
                &[("grant_type", "authorization_code"), ("code", &code)],
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        assert!(
            reply.body.get("refresh_token").is_none(),
            "no offline scope: {}",
            reply.body
        );
        assert!(
            reply.body.get("id_token").is_none(),
            "no openid scope: {}",
            reply.body
        );
        assert_eq!(reply.body["scope"], "profile urn:neoncloud:projects:read");
    }
}

#[tokio::test]
async fn a_code_is_single_use_and_a_replay_revokes_what_it_issued() {
    for env in envs().await {
        let client = env.public_client("neoncli").await;
        let code = env.code(&client, "openid offline").await;
        let first = env.exchange(&client, &code).await;
        let access = first.str("access_token");
        let refresh = first.str("refresh_token");
        assert!(env.active(&access).await);

        let replay = env.redeem(&client, &code, Some(VERIFIER)).await;
        assert_oauth_error(&replay, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);

        assert!(
            !env.active(&access).await,
            "{}: access token survived the replay",
            env.name
        );
        assert!(
            !env.active(&refresh).await,
            "{}: refresh token survived the replay",
            env.name
        );
        let reply = env
            .as_client(
                "/oauth2/token",
                &client,
                &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            )
            .await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);
        assert_eq!(
            reply.body["error_description"],
            "the refresh token was revoked because the authorization code that issued it was used twice; start a new authorization",
            "{}: the refusal says why",
            env.name
        );

        let reply = env
            .as_client(
                "/oauth2/token",
                &client,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", "gh_ac_made-up"),
                ],
            )
            .await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);
    }
}

#[tokio::test]
async fn redirect_uri_must_repeat_the_authorization_requests() {
    for env in envs().await {
        let client = env.public_client("neoncli").await;
        let code = env.code(&client, "openid").await;
        let pairs = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "https://app.example.com/other"),
            ("code_verifier", VERIFIER),
        ];
        let reply = env.as_client("/oauth2/token", &client, &pairs).await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);

        let code = env.code(&client, "openid").await;
        let pairs = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", VERIFIER),
        ];
        let reply = env.as_client("/oauth2/token", &client, &pairs).await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );
    }
}

#[tokio::test]
async fn pkce_is_verified_and_cannot_be_downgraded() {
    for env in envs().await {
        let client = env.public_client("neoncli").await;
        let wrong = "dBjftJeZ4CVP-mJ92K5dBgnWjhTtFNgFPmgFqn4SaNX";
        let reply = env
            .redeem(&client, &env.code(&client, "openid").await, Some(wrong))
            .await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);
        let reply = env
            .redeem(&client, &env.code(&client, "openid").await, None)
            .await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );
        // A verifier that is not even well-formed.
        let reply = env
            .redeem(&client, &env.code(&client, "openid").await, Some("short"))
            .await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);

        // Downgrade: a code issued without a challenge, redeemed with a verifier.
        let web = env.web_client("web").await;
        let mut params = env.authorize(&web, "openid");
        params.code_challenge = None;
        params.code_challenge_method = None;
        let code = env.issue_code(&params, SUBJECT).await;
        let reply = env.redeem(&web, &code, Some(VERIFIER)).await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);
    }
}

#[tokio::test]
async fn expired_codes_and_codes_of_other_clients_are_refused() {
    for env in envs().await {
        let client = env.public_client("neoncli").await;
        let code = env.code(&client, "openid").await;
        env.clock.advance(time::Duration::seconds(601));
        let reply = env.redeem(&client, &code, Some(VERIFIER)).await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);

        let other = env
            .client(
                "other-cli",
                metadata(TokenEndpointAuthMethod::None, &CODE_FLOW, "openid"),
            )
            .await;
        let code = env.code(&client, "openid").await;
        let reply = env.redeem(&other, &code, Some(VERIFIER)).await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);
    }
}

/// A deployment that promises partners 30-minute codes (`GATEHOUSE_TTL_AUTH_CODE=30m`): a code
/// is redeemable at 29 minutes and expired past 30.
#[tokio::test]
async fn a_thirty_minute_code_lifetime_is_honoured_to_the_second() {
    for env in super::envs_with(|s| s.ttl_auth_code = std::time::Duration::from_secs(1800)).await {
        let client = env.public_client("neoncli").await;
        let code = env.code(&client, "openid").await;
        env.clock.advance(time::Duration::minutes(29));
        let reply = env.redeem(&client, &code, Some(VERIFIER)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);

        let late = env.code(&client, "openid").await;
        env.clock.advance(time::Duration::seconds(1801));
        let reply = env.redeem(&client, &late, Some(VERIFIER)).await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);
    }
}

/// A code presented by another client is answered like an unknown one: the description does not
/// confirm that it exists, the code stays redeemable by its own client, and a spent code shown by
/// somebody else does not revoke its owner's grant.
#[tokio::test]
async fn another_clients_code_is_a_generic_invalid_grant_that_burns_nothing() {
    for env in envs().await {
        let owner = env.public_client("neoncli").await;
        let thief = env
            .client(
                "thief",
                metadata(TokenEndpointAuthMethod::None, &CODE_FLOW, "openid"),
            )
            .await;
        let unknown = env
            .redeem(&thief, "gh_ac_never-issued", Some(VERIFIER))
            .await;
        assert_oauth_error(
            &unknown,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            &env.name,
        );

        let code = env.code(&owner, "openid offline").await;
        let stolen = env.redeem(&thief, &code, Some(VERIFIER)).await;
        assert_oauth_error(&stolen, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);
        assert_eq!(
            stolen.body["error_description"], unknown.body["error_description"],
            "{}: the answer tells a live code from an unknown one",
            env.name
        );
        // Still redeemable by its client.
        let tokens = env.exchange(&owner, &code).await;

        // Spent now: somebody else presenting it learns nothing and revokes nothing.
        let replayed = env.redeem(&thief, &code, Some(VERIFIER)).await;
        assert_oauth_error(
            &replayed,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            &env.name,
        );
        assert_eq!(
            replayed.body["error_description"], unknown.body["error_description"],
            "{}",
            env.name
        );
        assert!(
            env.active(&tokens.str("access_token")).await,
            "{}",
            env.name
        );
        assert!(
            env.active(&tokens.str("refresh_token")).await,
            "{}",
            env.name
        );
    }
}

/// Defence in depth: a code for a public client that somehow carries no PKCE challenge (written
/// by a caller that skipped the authorization request's checks) is refused at the token endpoint.
#[tokio::test]
async fn a_public_clients_code_without_a_challenge_is_refused() {
    use gatehouse_core::grant::AuthorizationCodeRecord;
    use gatehouse_core::store::{Namespace, Records};

    for env in envs().await {
        let client = env.public_client("neoncli").await;
        let code = env.code(&client, "openid").await;
        let hash = env.service.token_hash(&code);
        let records = Records::new(env.service.short_lived().as_ref());
        let mut record: AuthorizationCodeRecord = records
            .get(Namespace::AuthorizationCode, &hash)
            .await
            .unwrap()
            .unwrap();
        record.code_challenge = None;
        records
            .put(
                Namespace::AuthorizationCode,
                &hash,
                &record,
                std::time::Duration::from_secs(60),
            )
            .await
            .unwrap();
        let reply = env.redeem(&client, &code, None).await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);
    }
}
