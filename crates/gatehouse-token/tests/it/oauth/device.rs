//! The device authorization grant (RFC 8628): `POST /oauth2/device/auth`, the user's answer
//! (what the login UI's `/device` page asks over gRPC) and polling at the token endpoint.
//! Attacks first: polling too fast, wrong user codes, a code used twice, another client's code,
//! expired codes.

use axum::http::StatusCode;
use gatehouse_core::client::TokenEndpointAuthMethod;
use gatehouse_core::error::ErrorCode;
use gatehouse_testkit::http::Reply;
use gatehouse_token::device::{DeviceDecision, DeviceLookup};

use super::{Env, SUBJECT, TestClient, assert_oauth_error, envs, envs_with, metadata};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const IP: &str = "198.51.100.7";

async fn tv_client(env: &Env, id: &str) -> TestClient {
    env.client(
        id,
        metadata(
            TokenEndpointAuthMethod::None,
            &[DEVICE_GRANT, "refresh_token"],
            "openid offline_access profile",
        ),
    )
    .await
}

async fn start(env: &Env, client: &TestClient, scope: &str) -> Reply {
    env.as_client("/oauth2/device/auth", client, &[("scope", scope)])
        .await
}

async fn poll(env: &Env, client: &TestClient, device_code: &str) -> Reply {
    env.as_client(
        "/oauth2/token",
        client,
        &[("grant_type", DEVICE_GRANT), ("device_code", device_code)],
    )
    .await
}

/// The user finds the request by its code and answers it.
async fn answer(env: &Env, user_code: &str, decision: DeviceDecision) {
    let DeviceLookup::Found { device_id, .. } = env
        .service
        .device_authorization_for_user_code(user_code, IP)
        .await
        .unwrap()
    else {
        panic!("{}: the user code found nothing", env.name);
    };
    env.service
        .complete_device_authorization(&device_id, decision)
        .await
        .unwrap();
}

fn approve(env: &Env) -> DeviceDecision {
    DeviceDecision::Approve {
        subject: SUBJECT.to_owned(),
        auth_time: env.unix() - 10,
        session_id: None,
        amr: Vec::new(),
    }
}

fn wait(env: &Env, seconds: i64) {
    env.clock.advance(time::Duration::seconds(seconds));
}

#[tokio::test]
async fn polling_faster_than_the_interval_slows_down_and_the_interval_grows() {
    for env in envs().await {
        let tv = tv_client(&env, "tv").await;
        let started = start(&env, &tv, "openid").await;
        let device_code = started.str("device_code");
        let pending = poll(&env, &tv, &device_code).await;
        assert_oauth_error(
            &pending,
            StatusCode::BAD_REQUEST,
            "authorization_pending",
            &env.name,
        );
        wait(&env, 2);
        let fast = poll(&env, &tv, &device_code).await;
        assert_oauth_error(&fast, StatusCode::BAD_REQUEST, "slow_down", &env.name);
        // The interval is 10 s now, counted from the last poll: 5 s later is still too fast,
        // and it grows again, to 15 s.
        wait(&env, 5);
        let fast = poll(&env, &tv, &device_code).await;
        assert_oauth_error(&fast, StatusCode::BAD_REQUEST, "slow_down", &env.name);
        // 15 s from there is on time.
        wait(&env, 15);
        let on_time = poll(&env, &tv, &device_code).await;
        assert_oauth_error(
            &on_time,
            StatusCode::BAD_REQUEST,
            "authorization_pending",
            &env.name,
        );
        // An approved code polled too fast waits too.
        answer(&env, &started.str("user_code"), approve(&env)).await;
        wait(&env, 1);
        let fast = poll(&env, &tv, &device_code).await;
        assert_oauth_error(&fast, StatusCode::BAD_REQUEST, "slow_down", &env.name);
        wait(&env, 20);
        let tokens = poll(&env, &tv, &device_code).await;
        assert_eq!(
            tokens.status,
            StatusCode::OK,
            "{}: {}",
            env.name,
            tokens.body
        );
    }
}

#[tokio::test]
async fn wrong_user_codes_count_toward_the_per_ip_limit_and_block_it() {
    let configure = |s: &mut gatehouse_token::TokenSettings| s.lockout.max_failures_per_ip = 3;
    for env in envs_with(configure).await {
        let tv = tv_client(&env, "tv").await;
        let started = start(&env, &tv, "openid").await;
        let lookup = |code: &'static str| {
            let service = env.service.clone();
            async move {
                service
                    .device_authorization_for_user_code(code, IP)
                    .await
                    .unwrap()
            }
        };
        // Malformed and unknown codes are one answer.
        assert!(matches!(
            lookup("nonsense").await,
            DeviceLookup::NotValid {
                attempts_left: Some(2)
            }
        ));
        assert!(matches!(
            lookup("BCDF-GHJK").await,
            DeviceLookup::NotValid {
                attempts_left: Some(1)
            }
        ));
        assert!(matches!(lookup("ZZZZ-ZZZZ").await, DeviceLookup::Locked(_)));
        // Blocked: even the right code is not looked up from there.
        let right = started.str("user_code");
        assert!(matches!(
            env.service
                .device_authorization_for_user_code(&right, IP)
                .await
                .unwrap(),
            DeviceLookup::Locked(_)
        ));
        // From another address it is found, typed in any case and without the dash.
        let typed = right.replace('-', "").to_lowercase();
        assert!(matches!(
            env.service
                .device_authorization_for_user_code(&typed, "198.51.100.8")
                .await
                .unwrap(),
            DeviceLookup::Found { .. }
        ));
    }
}

#[tokio::test]
async fn a_device_code_yields_tokens_once() {
    for env in envs().await {
        let tv = tv_client(&env, "tv").await;
        let started = start(&env, &tv, "openid offline_access profile").await;
        assert_eq!(
            started.status,
            StatusCode::OK,
            "{}: {}",
            env.name,
            started.body
        );
        assert_eq!(started.header("cache-control"), Some("no-store"));
        let user_code = started.str("user_code");
        assert_eq!(user_code.len(), 9, "{user_code}");
        assert_eq!(&user_code[4..5], "-");
        assert!(
            user_code
                .chars()
                .filter(|c| *c != '-')
                .all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c))
        );
        assert_eq!(
            started.str("verification_uri"),
            "https://id.gatehouse.test/device"
        );
        assert_eq!(
            started.str("verification_uri_complete"),
            format!("https://id.gatehouse.test/device?user_code={user_code}")
        );
        assert_eq!(started.body["expires_in"], 600);
        assert_eq!(started.body["interval"], 5);
        let device_code = started.str("device_code");
        answer(&env, &user_code, approve(&env)).await;
        let tokens = poll(&env, &tv, &device_code).await;
        assert_eq!(
            tokens.status,
            StatusCode::OK,
            "{}: {}",
            env.name,
            tokens.body
        );
        assert!(tokens.body["access_token"].is_string());
        assert!(
            tokens.body["refresh_token"].is_string(),
            "offline_access was granted"
        );
        assert!(tokens.body["id_token"].is_string(), "openid was granted");
        assert_eq!(tokens.body["scope"], "openid offline_access profile");
        // The same code again: spent.
        wait(&env, 5);
        let again = poll(&env, &tv, &device_code).await;
        assert_oauth_error(&again, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);
        // The user code is spent too.
        assert!(matches!(
            env.service
                .device_authorization_for_user_code(&user_code, IP)
                .await
                .unwrap(),
            DeviceLookup::NotValid { .. }
        ));
    }
}

#[tokio::test]
async fn another_client_polling_with_someones_device_code_learns_and_spends_nothing() {
    for env in envs().await {
        let tv = tv_client(&env, "tv").await;
        let thief = tv_client(&env, "thief").await;
        let started = start(&env, &tv, "openid").await;
        let device_code = started.str("device_code");
        answer(&env, &started.str("user_code"), approve(&env)).await;
        for _ in 0..3 {
            let stolen = poll(&env, &thief, &device_code).await;
            assert_oauth_error(&stolen, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);
        }
        // Nor did the thief's polls count against the owner's interval.
        let tokens = poll(&env, &tv, &device_code).await;
        assert_eq!(
            tokens.status,
            StatusCode::OK,
            "{}: {}",
            env.name,
            tokens.body
        );
    }
}

#[tokio::test]
async fn expired_codes_are_expired_token_and_cannot_be_answered() {
    for env in envs().await {
        let tv = tv_client(&env, "tv").await;
        let started = start(&env, &tv, "openid").await;
        let device_code = started.str("device_code");
        let user_code = started.str("user_code");
        let DeviceLookup::Found { device_id, .. } = env
            .service
            .device_authorization_for_user_code(&user_code, IP)
            .await
            .unwrap()
        else {
            panic!("{}: not found", env.name);
        };
        wait(&env, 600);
        let late = poll(&env, &tv, &device_code).await;
        assert_oauth_error(&late, StatusCode::BAD_REQUEST, "expired_token", &env.name);
        let error = env
            .service
            .complete_device_authorization(&device_id, approve(&env))
            .await
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::ExpiredToken);
    }
}

#[tokio::test]
async fn a_denied_request_answers_access_denied_and_cannot_be_approved_after() {
    for env in envs().await {
        let tv = tv_client(&env, "tv").await;
        let started = start(&env, &tv, "openid").await;
        let device_code = started.str("device_code");
        let user_code = started.str("user_code");
        let DeviceLookup::Found { device_id, .. } = env
            .service
            .device_authorization_for_user_code(&user_code, IP)
            .await
            .unwrap()
        else {
            panic!("{}: not found", env.name);
        };
        env.service
            .complete_device_authorization(&device_id, DeviceDecision::Deny)
            .await
            .unwrap();
        let denied = poll(&env, &tv, &device_code).await;
        assert_oauth_error(&denied, StatusCode::BAD_REQUEST, "access_denied", &env.name);
        assert!(
            env.service
                .complete_device_authorization(&device_id, approve(&env))
                .await
                .is_err(),
            "one answer only"
        );
    }
}

#[tokio::test]
async fn the_device_endpoint_checks_the_client_and_the_scope() {
    for env in envs().await {
        let tv = tv_client(&env, "tv").await;
        let web = env.web_client("web").await;
        let reply = start(&env, &web, "openid").await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            &env.name,
        );
        let reply = start(&env, &tv, "openid admin").await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_scope", &env.name);
        let stranger = TestClient {
            id: "nobody".to_owned(),
            secret: None,
            method: TokenEndpointAuthMethod::None,
        };
        let reply = start(&env, &stranger, "openid").await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &env.name,
        );
        // A client without the grant cannot poll with it either.
        let reply = poll(&env, &web, "whatever").await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            &env.name,
        );
        let reply = poll(&env, &tv, "made-up").await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);
    }
}

/// The methods of the sign-in that approved a device go into its tokens, and stay there after a
/// refresh (OpenID Connect Core §12.2).
#[tokio::test]
async fn a_device_approved_after_a_second_factor_gets_tokens_that_say_so() {
    for env in envs().await {
        let tv = tv_client(&env, "tv").await;
        let started = start(&env, &tv, "openid offline_access profile").await;
        let auth_time = env.unix() - 120;
        answer(
            &env,
            &started.str("user_code"),
            DeviceDecision::Approve {
                subject: SUBJECT.to_owned(),
                auth_time,
                session_id: None,
                amr: gatehouse_core::factor::amr_for(true),
            },
        )
        .await;
        let tokens = poll(&env, &tv, &started.str("device_code")).await;
        assert_eq!(
            tokens.status,
            StatusCode::OK,
            "{}: {}",
            env.name,
            tokens.body
        );
        let (_, claims) = env.verify_jwt(&tokens.str("id_token"), "tv").await;
        assert_eq!(
            claims["amr"],
            serde_json::json!(["pwd", "otp", "mfa"]),
            "{}: {claims}",
            env.name
        );
        assert_eq!(claims["acr"], "urn:gatehouse:acr:mfa", "{}", env.name);
        let introspection = env.admin_introspect(&tokens.str("access_token")).await;
        assert_eq!(
            introspection.body["acr"], "urn:gatehouse:acr:mfa",
            "{}",
            env.name
        );
        let refreshed = env
            .as_client(
                "/oauth2/token",
                &tv,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &tokens.str("refresh_token")),
                ],
            )
            .await;
        assert_eq!(
            refreshed.status,
            StatusCode::OK,
            "{}: {}",
            env.name,
            refreshed.body
        );
        let (_, claims) = env.verify_jwt(&refreshed.str("id_token"), "tv").await;
        assert_eq!(claims["acr"], "urn:gatehouse:acr:mfa", "{}", env.name);
        assert_eq!(claims["auth_time"], auth_time, "{}", env.name);
    }
}

/// Defence in depth, as for codes: whoever calls the token service, a client that requires a
/// second factor gets no device approved by a password-only sign-in.
#[tokio::test]
async fn a_client_that_requires_mfa_gets_no_device_approved_with_a_password_only() {
    for env in envs().await {
        let mut m = metadata(
            TokenEndpointAuthMethod::None,
            &[DEVICE_GRANT, "refresh_token"],
            "openid offline_access profile",
        );
        m.require_mfa = true;
        let tv = env.client("strict-tv", m).await;
        let started = start(&env, &tv, "openid").await;
        let DeviceLookup::Found {
            device_id, context, ..
        } = env
            .service
            .device_authorization_for_user_code(&started.str("user_code"), IP)
            .await
            .unwrap()
        else {
            panic!("{}: the user code found nothing", env.name);
        };
        assert!(context.request.mfa_required, "{}", env.name);
        for amr in [Vec::new(), gatehouse_core::factor::amr_for(false)] {
            let refused = env
                .service
                .complete_device_authorization(
                    &device_id,
                    DeviceDecision::Approve {
                        subject: SUBJECT.to_owned(),
                        auth_time: env.unix(),
                        session_id: None,
                        amr,
                    },
                )
                .await
                .unwrap_err();
            assert_eq!(refused.code, ErrorCode::AccessDenied, "{}", env.name);
        }
        // Nothing was answered: polling is still pending, and a sign-in with a second factor
        // approves it.
        let pending = poll(&env, &tv, &started.str("device_code")).await;
        assert_oauth_error(
            &pending,
            StatusCode::BAD_REQUEST,
            "authorization_pending",
            &env.name,
        );
        env.service
            .complete_device_authorization(
                &device_id,
                DeviceDecision::Approve {
                    subject: SUBJECT.to_owned(),
                    auth_time: env.unix(),
                    session_id: None,
                    amr: gatehouse_core::factor::amr_for(true),
                },
            )
            .await
            .unwrap();
        wait(&env, 5);
        let tokens = poll(&env, &tv, &started.str("device_code")).await;
        assert_eq!(
            tokens.status,
            StatusCode::OK,
            "{}: {}",
            env.name,
            tokens.body
        );
    }
}
