//! An external consent app's extra claims (Hydra's `session.id_token` / `session.access_token`,
//! sent as `IssueAuthorizationCodeRequest.id_token_claims` / `access_token_claims`): the ID token
//! and the access token of the code carry them, introspection shows the access-token ones under
//! `ext` (opaque and JWT), a JWT access token has them top level too (and under `ext`, as Hydra
//! v2 mirrors them), and every refresh of the grant keeps them. None of them ever replaces a
//! claim the server sets, and one grant's claims never reach another grant.

use gatehouse_core::client::AccessTokenStrategy;
use gatehouse_core::grant::SessionClaims;
use gatehouse_core::store::RefreshToken;
use gatehouse_core::token_request::Form;
use gatehouse_proto::token::v1 as pb;
use gatehouse_token::TokenSettings;
use gatehouse_token::issue::TokenResponse;
use serde_json::{Value, json};
use tonic::Code;

use super::{ALICE, CHALLENGE, CLI, Grpc, ISSUER, redeem, servers, servers_with};

const CAROL: &str = "user-carol";

/// The JSON payload of a JWT.
fn payload(jwt: &str) -> Value {
    use base64::Engine as _;
    let part = jwt.split('.').nth(1).unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap_or_else(|e| panic!("not a JWT: {e}"));
    serde_json::from_slice(&bytes).unwrap()
}

fn jwt_servers_settings() -> TokenSettings {
    let mut settings = TokenSettings::for_issuer(ISSUER);
    settings.access_token_strategy = AccessTokenStrategy::Jwt;
    settings
}

fn code_request(
    subject: &str,
    id_token: Option<&str>,
    access_token: Option<&str>,
) -> pb::IssueAuthorizationCodeRequest {
    pb::IssueAuthorizationCodeRequest {
        request: Some(pb::AuthorizationRequest {
            client_id: CLI.into(),
            redirect_uri: "http://127.0.0.1:5555/callback".into(),
            redirect_uri_given: true,
            scope: "openid offline".into(),
            code_challenge: Some(CHALLENGE.into()),
            ..Default::default()
        }),
        subject: subject.into(),
        granted_scope: "openid offline".into(),
        auth_time: 1_767_225_600,
        id_token_claims: id_token.map(str::to_owned),
        access_token_claims: access_token.map(str::to_owned),
        ..Default::default()
    }
}

/// Issues a code over gRPC for `subject` with the given extra claims and redeems it.
async fn tokens(
    g: &Grpc,
    subject: &str,
    id_token: Option<&str>,
    access_token: Option<&str>,
) -> TokenResponse {
    let code = g
        .raw()
        .await
        .issue_authorization_code(code_request(subject, id_token, access_token))
        .await
        .unwrap_or_else(|e| panic!("{}: {e:?}", g.name))
        .into_inner()
        .code;
    redeem(g, &code)
        .await
        .unwrap_or_else(|e| panic!("{}: {e:?}", g.name))
}

async fn refresh(g: &Grpc, refresh_token: &str) -> TokenResponse {
    let form = Form::from_pairs([
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", CLI),
    ])
    .unwrap();
    g.service
        .token(None, &form)
        .await
        .unwrap_or_else(|e| panic!("{}: {:?}", g.name, e.error))
}

/// The admin introspection answer for `token`, as JSON.
async fn introspect(g: &Grpc, token: &str) -> Value {
    let found = g.service.introspect(token, None, None).await.unwrap();
    assert!(found.active, "{}", g.name);
    serde_json::to_value(found).unwrap()
}

const ACCESS_CLAIMS: &str = r#"{"tenant":"acme","roles":["admin","billing"]}"#;
const ID_CLAIMS: &str = r#"{"department":"research"}"#;

#[tokio::test]
async fn an_opaque_access_tokens_introspection_shows_its_access_token_claims_under_ext() {
    for g in servers().await {
        let issued = tokens(&g, ALICE, Some(ID_CLAIMS), Some(ACCESS_CLAIMS)).await;
        assert!(issued.access_token.starts_with("gh_at_"), "{}", g.name);
        let found = introspect(&g, &issued.access_token).await;
        assert_eq!(
            found["ext"],
            json!({"tenant": "acme", "roles": ["admin", "billing"]}),
            "{}: {found}",
            g.name
        );
        assert!(found.get("tenant").is_none(), "{}: {found}", g.name);
        assert!(found["ext"].get("department").is_none(), "{}", g.name);
        let id_token = payload(issued.id_token.as_deref().unwrap());
        assert_eq!(id_token["department"], "research", "{}", g.name);
        assert!(id_token.get("tenant").is_none(), "{}: {id_token}", g.name);

        // A grant without extra claims: no `ext` at all.
        let plain = tokens(&g, ALICE, None, None).await;
        let found = introspect(&g, &plain.access_token).await;
        assert!(found.get("ext").is_none(), "{}: {found}", g.name);
    }
}

#[tokio::test]
async fn a_jwt_access_token_carries_its_access_token_claims_top_level_and_under_ext() {
    for g in servers_with(jwt_servers_settings()).await {
        let issued = tokens(&g, ALICE, Some(ID_CLAIMS), Some(ACCESS_CLAIMS)).await;
        let at = payload(&issued.access_token);
        assert_eq!(at["tenant"], "acme", "{}: {at}", g.name);
        assert_eq!(at["roles"], json!(["admin", "billing"]), "{}", g.name);
        assert_eq!(
            at["ext"],
            json!({"tenant": "acme", "roles": ["admin", "billing"]}),
            "{}",
            g.name
        );
        assert!(at.get("department").is_none(), "{}: {at}", g.name);
        let found = introspect(&g, &issued.access_token).await;
        assert_eq!(
            found["ext"],
            json!({"tenant": "acme", "roles": ["admin", "billing"]}),
            "{}: {found}",
            g.name
        );

        let plain = tokens(&g, ALICE, None, None).await;
        let at = payload(&plain.access_token);
        assert!(at.get("ext").is_none(), "{}: {at}", g.name);
        let found = introspect(&g, &plain.access_token).await;
        assert!(found.get("ext").is_none(), "{}: {found}", g.name);
    }
}

#[tokio::test]
async fn the_extra_claims_survive_every_refresh() {
    for settings in [TokenSettings::for_issuer(ISSUER), jwt_servers_settings()] {
        for g in servers_with(settings.clone()).await {
            let issued = tokens(&g, ALICE, Some(ID_CLAIMS), Some(ACCESS_CLAIMS)).await;
            let mut refresh_token = issued.refresh_token.unwrap();
            for round in 0..2 {
                let refreshed = refresh(&g, &refresh_token).await;
                let id_token = payload(refreshed.id_token.as_deref().unwrap());
                assert_eq!(id_token["department"], "research", "{} {round}", g.name);
                assert!(id_token.get("tenant").is_none(), "{}", g.name);
                let found = introspect(&g, &refreshed.access_token).await;
                assert_eq!(
                    found["ext"],
                    json!({"tenant": "acme", "roles": ["admin", "billing"]}),
                    "{} {round}: {found}",
                    g.name
                );
                if settings.access_token_strategy == AccessTokenStrategy::Jwt {
                    let at = payload(&refreshed.access_token);
                    assert_eq!(at["tenant"], "acme", "{} {round}: {at}", g.name);
                    assert_eq!(at["ext"]["roles"], json!(["admin", "billing"]));
                }
                refresh_token = refreshed.refresh_token.unwrap();
            }
        }
    }
}

#[tokio::test]
async fn access_token_claims_naming_a_reserved_claim_are_refused_when_issuing_the_code() {
    for g in servers().await {
        let mut raw = g.raw().await;
        for claims in [
            r#"{"sub":"user-mallory"}"#,
            r#"{"client_id":"other"}"#,
            r#"{"scope":"admin"}"#,
            r#"{"cnf":{"jkt":"attacker-key"}}"#,
            r#"{"exp":9999999999}"#,
        ] {
            let status = raw
                .issue_authorization_code(code_request(ALICE, None, Some(claims)))
                .await
                .unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument, "{}: {claims}", g.name);
        }
    }
}

/// Claims that got into a stored grant anyway (a record of another release, a store written by
/// hand) are filtered again when a token is minted from it.
#[tokio::test]
async fn reserved_names_in_a_stored_family_never_replace_the_real_claims() {
    let forged = json!({
        "sub": "user-mallory",
        "client_id": "other-client",
        "scope": "admin",
        "cnf": {"jkt": "attacker-key"},
        "exp": 9_999_999_999_i64,
        "iss": "https://evil.example",
        "tenant": "acme",
    });
    let Value::Object(forged) = forged else {
        unreachable!()
    };
    for settings in [TokenSettings::for_issuer(ISSUER), jwt_servers_settings()] {
        for g in servers_with(settings.clone()).await {
            let value = "gh_rt_forged-family-refresh-token-0123456789abcdef";
            let now = time::OffsetDateTime::now_utc();
            let stored = RefreshToken {
                token_hash: g.service.token_hash(value),
                family_id: "forged-family".into(),
                client_id: gatehouse_testkit::fixtures::client_id(CLI),
                client_incarnation: String::new(),
                subject: ALICE.into(),
                scope: gatehouse_core::scope::ScopeSet::parse("openid offline").unwrap(),
                auth_time: Some(now),
                issued_at: now,
                expires_at: now + time::Duration::hours(1),
                resources: Vec::new(),
                dpop_jkt: String::new(),
                session_claims: SessionClaims {
                    id_token: Some(forged.clone()),
                    access_token: Some(forged.clone()),
                    amr: Vec::new(),
                },
            };
            g.service
                .durable()
                .insert_refresh_token(&stored)
                .await
                .unwrap();
            let refreshed = refresh(&g, value).await;
            let found = introspect(&g, &refreshed.access_token).await;
            assert_eq!(found["sub"], ALICE, "{}: {found}", g.name);
            assert_eq!(found["client_id"], CLI, "{}", g.name);
            assert_eq!(found["scope"], "openid offline", "{}", g.name);
            assert_eq!(found["iss"], ISSUER, "{}", g.name);
            assert!(found.get("cnf").is_none(), "{}: {found}", g.name);
            assert!(found["exp"].as_i64().unwrap() < 9_999_999_999, "{}", g.name);
            assert_eq!(found["ext"], json!({"tenant": "acme"}), "{}", g.name);
            if settings.access_token_strategy == AccessTokenStrategy::Jwt {
                let at = payload(&refreshed.access_token);
                assert_eq!(at["sub"], ALICE, "{}: {at}", g.name);
                assert_eq!(at["client_id"], CLI, "{}", g.name);
                assert_eq!(at["scope"], "openid offline", "{}", g.name);
                assert_eq!(at["iss"], ISSUER, "{}", g.name);
                assert!(at.get("cnf").is_none(), "{}: {at}", g.name);
                assert!(at["exp"].as_i64().unwrap() < 9_999_999_999, "{}", g.name);
                assert_eq!(at["tenant"], "acme", "{}", g.name);
                assert_eq!(at["ext"], json!({"tenant": "acme"}), "{}", g.name);
            }
            let id_token = payload(refreshed.id_token.as_deref().unwrap());
            assert_eq!(id_token["sub"], ALICE, "{}: {id_token}", g.name);
            assert_eq!(id_token["iss"], ISSUER, "{}", g.name);
            assert_eq!(id_token["aud"], CLI, "{}", g.name);
            assert_eq!(id_token["tenant"], "acme", "{}", g.name);
        }
    }
}

#[tokio::test]
async fn one_grants_extra_claims_never_reach_another_users_refresh() {
    for settings in [TokenSettings::for_issuer(ISSUER), jwt_servers_settings()] {
        for g in servers_with(settings.clone()).await {
            let alice = tokens(&g, ALICE, Some(ID_CLAIMS), Some(ACCESS_CLAIMS)).await;
            let carol = tokens(&g, CAROL, None, Some(r#"{"tenant":"globex"}"#)).await;
            let carol = refresh(&g, &carol.refresh_token.unwrap()).await;
            let found = introspect(&g, &carol.access_token).await;
            assert_eq!(found["sub"], CAROL, "{}", g.name);
            assert_eq!(found["ext"], json!({"tenant": "globex"}), "{}", g.name);
            let id_token = payload(carol.id_token.as_deref().unwrap());
            assert!(id_token.get("department").is_none(), "{}", g.name);
            if settings.access_token_strategy == AccessTokenStrategy::Jwt {
                let at = payload(&carol.access_token);
                assert_eq!(at["tenant"], "globex", "{}", g.name);
                assert!(at.get("roles").is_none(), "{}: {at}", g.name);
            }
            // And alice's refresh keeps hers.
            let alice = refresh(&g, &alice.refresh_token.unwrap()).await;
            let found = introspect(&g, &alice.access_token).await;
            assert_eq!(found["ext"]["tenant"], "acme", "{}", g.name);
        }
    }
}
