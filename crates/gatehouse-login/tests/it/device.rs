//! The device page (`/device`, RFC 8628 §3.3): the user code, then sign-in and consent as
//! usual, then "you can return to your device"; wrong codes count toward the per-IP limit.

use axum::http::StatusCode;
use gatehouse_core::client::{Client, ClientMetadata, TokenEndpointAuthMethod};
use gatehouse_core::protocol::GrantType;
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::token_request::Form;

use crate::ui::*;

const TV: &str = "neon-tv";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Registers the TV client (once per UI) and starts a device authorization: `(device_code, user_code)`.
async fn start_on_tv(ui: &Ui, scope: &str) -> (String, String) {
    {
        let now = gatehouse_testkit::fixtures::now();
        let client = Client {
            id: gatehouse_testkit::fixtures::client_id(TV),
            incarnation: Client::new_incarnation(),
            metadata: ClientMetadata {
                client_name: "Neon TV".into(),
                grant_types: vec![GrantType::DeviceCode, GrantType::RefreshToken],
                scope: ScopeSet::parse("openid offline_access profile").unwrap(),
                token_endpoint_auth_method: TokenEndpointAuthMethod::None,
                ..ClientMetadata::default()
            },
            secret: None,
            created_at: now,
            updated_at: now,
        };
        ui.store().create_client(&client).await.unwrap();
    }
    let client = ui.service.client(TV).await.unwrap().unwrap();
    let started = ui
        .service
        .start_device_authorization(&client, Some(scope))
        .await
        .unwrap();
    (started.device_code, started.user_code)
}

async fn poll(ui: &Ui, device_code: &str) -> Result<String, String> {
    let form = Form::from_pairs([
        ("grant_type", DEVICE_GRANT),
        ("device_code", device_code),
        ("client_id", TV),
    ])
    .unwrap();
    match ui.service.token(None, &form).await {
        Ok(tokens) => Ok(tokens.access_token),
        Err(e) => Err(e.error.code.as_str().to_owned()),
    }
}

async fn enter_code(b: &mut Browser<'_>, code: &str) -> Page {
    let page = b.get("/device").await;
    page.assert_page(StatusCode::OK, b.name());
    let csrf = page.form_field("device-form", "csrf_token");
    b.post("/device", &[("csrf_token", &csrf), ("user_code", code)])
        .await
}

#[tokio::test]
async fn a_user_enters_the_code_signs_in_consents_and_the_device_gets_tokens_once() {
    for ui in uis().await {
        let (device_code, user_code) = start_on_tv(&ui, "openid offline_access").await;
        let mut b = ui.browser();
        // verification_uri_complete prefills the code.
        let page = b.get(&format!("/device?user_code={user_code}")).await;
        page.assert_page(StatusCode::OK, &ui.name);
        assert!(
            page.body.contains(&format!("value=\"{user_code}\"")),
            "{}",
            page.body
        );
        // Typed in lower case without the dash.
        let typed = user_code.replace('-', "").to_lowercase();
        let reply = enter_code(&mut b, &typed).await;
        assert!(
            reply.location().starts_with("/ui/login?challenge="),
            "{}: {}",
            ui.name,
            reply.location()
        );
        let login = b.follow(&reply).await;
        let after = b.login(&login, "alice", ALICE_PASSWORD, false).await;
        assert!(after.location().starts_with("/ui/consent?challenge="));
        let consent = b.follow(&after).await;
        consent.assert_page(StatusCode::OK, &ui.name);
        assert!(
            consent
                .body
                .contains("Neon TV wants to access your account")
        );
        let done = b.decide(&consent, "allow", false).await;
        done.assert_page(StatusCode::OK, &ui.name);
        assert!(
            done.body.contains("id=\"device-approved\""),
            "{}",
            done.body
        );
        assert!(done.body.contains("You can return to your device"));
        assert!(poll(&ui, &device_code).await.is_ok(), "{}", ui.name);
        assert_eq!(poll(&ui, &device_code).await, Err("invalid_grant".into()));
        // The code is spent: entering it again finds nothing.
        let again = enter_code(&mut b, &user_code).await;
        again.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        assert!(again.body.contains("This code is not valid."));
    }
}

#[tokio::test]
async fn denying_on_the_consent_page_denies_the_device() {
    for ui in uis().await {
        let (device_code, user_code) = start_on_tv(&ui, "openid").await;
        let mut b = ui.browser();
        let reply = enter_code(&mut b, &user_code).await;
        let login = b.follow(&reply).await;
        let after = b.login(&login, "alice", ALICE_PASSWORD, false).await;
        let consent = b.follow(&after).await;
        let done = b.decide(&consent, "deny", false).await;
        done.assert_page(StatusCode::OK, &ui.name);
        assert!(done.body.contains("id=\"device-denied\""), "{}", done.body);
        assert_eq!(poll(&ui, &device_code).await, Err("access_denied".into()));
    }
}

#[tokio::test]
async fn wrong_codes_say_not_valid_and_block_the_address_after_the_limit() {
    for ui in uis_with_token(|s| s.lockout.max_failures_per_ip = 3).await {
        let (_, user_code) = start_on_tv(&ui, "openid").await;
        let mut b = ui.browser_from("198.51.100.20:4000");
        let first = enter_code(&mut b, "BCDF-GHJK").await;
        first.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        assert!(
            first.body.contains("This code is not valid."),
            "{}",
            first.body
        );
        assert!(first.body.contains("id=\"device-error\""));
        // A malformed code is the same answer.
        let second = enter_code(&mut b, "hello").await;
        second.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        assert!(second.body.contains("One more wrong code"));
        let third = enter_code(&mut b, "ZZZZ-ZZZZ").await;
        third.assert_page(StatusCode::TOO_MANY_REQUESTS, &ui.name);
        assert!(third.header("retry-after").is_some());
        assert!(third.body.contains("Too many wrong codes."));
        // Blocked: even the right code is refused from there.
        let right = enter_code(&mut b, &user_code).await;
        right.assert_page(StatusCode::TOO_MANY_REQUESTS, &ui.name);
        // Without the page's CSRF token nothing is looked up.
        let forged = b
            .post(
                "/device",
                &[("csrf_token", "forged"), ("user_code", &user_code)],
            )
            .await;
        forged.assert_page(StatusCode::FORBIDDEN, &ui.name);
    }
}

/// A device whose client requires a second factor is not approved by a password-only session:
/// the user signs in again with the second factor, and the device's tokens say so.
#[tokio::test]
async fn a_client_that_requires_mfa_gets_no_device_approved_by_a_password_only_session() {
    for ui in uis().await {
        let (device_code, user_code) = start_on_tv(&ui, "openid").await;
        crate::mfa::require_mfa(&ui, TV).await;
        // As an admin change would: the cached client is read again.
        ui.service.invalidate_client(TV);
        let mut b = ui.browser();
        // Signed in with a password only.
        b.authorize_alice(SEED_SCOPE, false).await;
        let (secret, _) = crate::mfa::enrol(&ui, ALICE).await;
        let reply = enter_code(&mut b, &user_code).await;
        assert!(
            reply.location().starts_with("/ui/login?challenge="),
            "{}: the session was taken as enough: {}",
            ui.name,
            reply.location()
        );
        let login = b.follow(&reply).await;
        let after = b.login(&login, "alice", ALICE_PASSWORD, false).await;
        assert!(
            after
                .location()
                .starts_with("/ui/login/second-factor?pending="),
            "{}: {}",
            ui.name,
            after.location()
        );
        let form = b.follow(&after).await;
        let code = crate::mfa::code_at(&secret, crate::mfa::now());
        let done = crate::mfa::submit_code(&mut b, &form, &code).await;
        assert!(done.location().starts_with("/ui/consent?challenge="));
        let consent = b.follow(&done).await;
        let approved = b.decide(&consent, "allow", false).await;
        assert!(
            approved.body.contains("id=\"device-approved\""),
            "{}",
            ui.name
        );
        let access = poll(&ui, &device_code).await.expect("tokens");
        let introspection = ui.service.introspect(&access, None, None).await.unwrap();
        assert_eq!(
            introspection.acr.as_deref(),
            Some("urn:gatehouse:acr:mfa"),
            "{}",
            ui.name
        );
    }
}
