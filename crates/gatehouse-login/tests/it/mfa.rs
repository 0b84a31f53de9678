//! Second factors: the code step after the password, enrolment at sign-in where a second
//! factor is required, the step-up of a password-only session, the security page, and the
//! attacker's tries (a replayed code, a spent recovery code, guessing, skipping the step, another
//! browser, a client that requires a second factor).

use std::time::Duration;

use axum::http::StatusCode;
use gatehouse_core::authorize::AuthorizationParams;
use gatehouse_core::error::ErrorCode;
use gatehouse_core::factor::totp_code;
use gatehouse_core::scope::ScopeSet;
use gatehouse_testkit::http::{Browser, Page};
use serde_json::json;

use crate::login::SESSION_COOKIE;
use crate::ui::*;

const SECOND_FACTOR: &str = "/ui/login/second-factor?pending=";

pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Waits out the end of a 30 s step, so the steps computed here are the ones the token service
/// sees a moment later.
async fn away_from_a_step_edge() {
    let into = now().rem_euclid(30);
    if into >= 25 {
        tokio::time::sleep(Duration::from_secs(u64::try_from(31 - into).unwrap())).await;
    }
}

pub(crate) fn code_at(secret: &[u8], unix: i64) -> String {
    totp_code(secret, unix).unwrap()
}

fn decode_secret(display: &str) -> Vec<u8> {
    let secret = totp_rs::Secret::try_from_base32(display.replace(' ', "")).unwrap();
    AsRef::<[u8]>::as_ref(&secret).to_vec()
}

/// Enrols a TOTP factor for `user` through the token service, confirmed with the code of the
/// step before now (so now's and the next step's codes are unused): its secret and recovery
/// codes.
pub(crate) async fn enrol(ui: &Ui, user: &str) -> (Vec<u8>, Vec<String>) {
    away_from_a_step_edge().await;
    let enrolment = ui
        .service
        .begin_totp_enrolment(user, "Phone", "", None)
        .await
        .unwrap();
    let secret = decode_secret(&enrolment.secret);
    let codes = ui
        .service
        .confirm_totp_enrolment(user, &enrolment.factor_id, &code_at(&secret, now() - 30))
        .await
        .unwrap()
        .expect("the enrolment's first code is accepted");
    assert_eq!(codes.len(), 10, "{}", ui.name);
    (secret, codes)
}

/// Authorize → the password of alice → the second-factor page.
async fn reach_second_factor(b: &mut Browser<'_>, authorize: &str) -> Page {
    let page = b.start(authorize).await;
    let after = b.login(&page, "alice", ALICE_PASSWORD, false).await;
    assert!(
        after.location().starts_with(SECOND_FACTOR),
        "{}: {}",
        b.name(),
        after.location()
    );
    let form = b.follow(&after).await;
    form.assert_page(StatusCode::OK, b.name());
    form
}

pub(crate) async fn submit_code(b: &mut Browser<'_>, form: &Page, code: &str) -> Page {
    let csrf = form.form_field("second-factor-form", "csrf_token");
    let pending = form.form_field("second-factor-form", "pending");
    b.post(
        "/ui/login/second-factor",
        &[
            ("csrf_token", csrf.as_str()),
            ("pending", pending.as_str()),
            ("code", code),
        ],
    )
    .await
}

/// The payload of a JWT, unverified (the token service's own tests verify signatures).
fn jwt_payload(jwt: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// The TOTP key an enrolment page shows.
fn secret_on(page: &Page) -> Vec<u8> {
    let start = page.body.find("id=\"totp-secret\">").unwrap() + "id=\"totp-secret\">".len();
    let end = start + page.body[start..].find('<').unwrap();
    decode_secret(&page.body[start..end])
}

/// The recovery codes a page lists.
fn codes_on(page: &Page) -> Vec<String> {
    page.body
        .split("<li><code>")
        .skip(1)
        .map(|rest| rest.split('<').next().unwrap().to_owned())
        .collect()
}

/// Consent allowed, the code redeemed: the ID token's claims and the access token's
/// introspection.
async fn tokens_after(
    ui: &Ui,
    b: &mut Browser<'_>,
    consent_redirect: &Page,
) -> (serde_json::Value, Option<String>) {
    let consent = b.follow(consent_redirect).await;
    consent.assert_page(StatusCode::OK, &ui.name);
    let reply = b.decide(&consent, "allow", false).await;
    let (base, params) = reply.redirect_params();
    assert_eq!(base, CLI_REDIRECT, "{}", ui.name);
    let tokens = ui.redeem(&params["code"]).await;
    let introspection = ui
        .service
        .introspect(&tokens.access_token, None, None)
        .await
        .unwrap();
    (
        jwt_payload(tokens.id_token.as_deref().unwrap_or_default()),
        introspection.acr,
    )
}

pub(crate) async fn require_mfa(ui: &Ui, client_id: &str) {
    let mut client = ui.store().get_client(client_id).await.unwrap().unwrap();
    client.metadata.require_mfa = true;
    ui.store().update_client(&client).await.unwrap();
}

#[tokio::test]
async fn a_password_only_sign_in_says_pwd() {
    for ui in uis().await {
        let mut b = ui.browser();
        let page = b.start(&cli_authorize(SEED_SCOPE, &[])).await;
        let after = b.login(&page, "alice", ALICE_PASSWORD, false).await;
        assert!(after.location().starts_with("/ui/consent?challenge="));
        let (claims, acr) = tokens_after(&ui, &mut b, &after).await;
        assert_eq!(claims["amr"], json!(["pwd"]), "{}", ui.name);
        assert_eq!(claims["acr"], "urn:gatehouse:acr:pwd", "{}", ui.name);
        assert_eq!(acr.as_deref(), Some("urn:gatehouse:acr:pwd"), "{}", ui.name);
    }
}

#[tokio::test]
async fn a_user_with_totp_is_asked_for_a_code_and_the_tokens_say_mfa() {
    for ui in uis().await {
        let (secret, _) = enrol(&ui, ALICE).await;
        let mut b = ui.browser();
        let form = reach_second_factor(&mut b, &cli_authorize(SEED_SCOPE, &[])).await;
        assert!(
            b.cookie(SESSION_COOKIE).is_none(),
            "{}: nobody is signed in before the second factor",
            ui.name
        );
        for needle in [
            "<label for=\"code\">",
            "autocomplete=\"one-time-code\"",
            "aria-describedby=\"code-hint\"",
            "id=\"second-factor-submit\"",
            "name=\"csrf_token\"",
        ] {
            assert!(form.body.contains(needle), "{}: {needle}", ui.name);
        }
        assert!(!form.body.contains("<script"), "no script");
        // The code may lead straight back to the client (a remembered consent): the browser
        // follows that redirect only if `form-action` allows the client's origin.
        let origin = url::Url::parse(CLI_REDIRECT)
            .unwrap()
            .origin()
            .ascii_serialization();
        let csp = form.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains(&format!("form-action 'self' {origin}")),
            "{}: {csp}",
            ui.name
        );
        let done = submit_code(&mut b, &form, &code_at(&secret, now())).await;
        assert!(
            done.location().starts_with("/ui/consent?challenge="),
            "{}: {} {}",
            ui.name,
            done.location(),
            done.body
        );
        assert!(b.cookie(SESSION_COOKIE).is_some(), "{}", ui.name);
        let (claims, acr) = tokens_after(&ui, &mut b, &done).await;
        assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]), "{}", ui.name);
        assert_eq!(claims["acr"], "urn:gatehouse:acr:mfa", "{}", ui.name);
        assert_eq!(acr.as_deref(), Some("urn:gatehouse:acr:mfa"), "{}", ui.name);
    }
}

#[tokio::test]
async fn a_replayed_totp_code_fails() {
    for ui in uis().await {
        let (secret, _) = enrol(&ui, ALICE).await;
        let code = code_at(&secret, now());
        let mut first = ui.browser();
        let form = reach_second_factor(&mut first, &cli_authorize(SEED_SCOPE, &[])).await;
        let ok = submit_code(&mut first, &form, &code).await;
        assert!(ok.location().starts_with("/ui/consent?challenge="));
        // The same code, within the same 30 s, from another browser.
        let mut second = ui.browser_from("198.51.100.9:40000");
        let form = reach_second_factor(&mut second, &cli_authorize(SEED_SCOPE, &[])).await;
        let replay = submit_code(&mut second, &form, &code).await;
        replay.assert_page(StatusCode::UNAUTHORIZED, &ui.name);
        assert!(replay.body.contains("id=\"second-factor-error\""));
        assert!(second.cookie(SESSION_COOKIE).is_none(), "{}", ui.name);
        // An older code than the last one used fails too.
        let older = submit_code(&mut second, &form, &code_at(&secret, now() - 30)).await;
        older.assert_page(StatusCode::UNAUTHORIZED, &ui.name);
    }
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    for ui in uis().await {
        let (_, codes) = enrol(&ui, ALICE).await;
        let mut first = ui.browser();
        let form = reach_second_factor(&mut first, &cli_authorize(SEED_SCOPE, &[])).await;
        // Typed in capitals and without the hyphen: still the code.
        let typed = codes[3].replace('-', "").to_uppercase();
        let ok = submit_code(&mut first, &form, &typed).await;
        assert!(
            ok.location().starts_with("/ui/consent?challenge="),
            "{}: {}",
            ui.name,
            ok.body
        );
        let mut second = ui.browser_from("198.51.100.9:40000");
        let form = reach_second_factor(&mut second, &cli_authorize(SEED_SCOPE, &[])).await;
        let reused = submit_code(&mut second, &form, &codes[3]).await;
        reused.assert_page(StatusCode::UNAUTHORIZED, &ui.name);
        assert!(second.cookie(SESSION_COOKIE).is_none());
        let summary = ui.service.factor_summary(ALICE).await.unwrap();
        assert_eq!(summary.recovery_codes_left, 9, "{}", ui.name);
    }
}

#[tokio::test]
async fn wrong_codes_lock_the_account_like_wrong_passwords() {
    for ui in uis().await {
        enrol(&ui, ALICE).await;
        let mut b = ui.browser();
        let form = reach_second_factor(&mut b, &cli_authorize(SEED_SCOPE, &[])).await;
        for _ in 1..=3 {
            let wrong = submit_code(&mut b, &form, "abcde-fghjk").await;
            wrong.assert_page(StatusCode::UNAUTHORIZED, &ui.name);
        }
        // Giving the right password again does not reset the count of wrong codes.
        let form = reach_second_factor(&mut b, &cli_authorize(SEED_SCOPE, &[])).await;
        let wrong = submit_code(&mut b, &form, "abcde-fghjk").await;
        wrong.assert_page(StatusCode::UNAUTHORIZED, &ui.name);
        assert!(
            wrong.body.contains("One more failed attempt"),
            "{}: {}",
            ui.name,
            wrong.body
        );
        let locked = submit_code(&mut b, &form, "abcde-fghjk").await;
        locked.assert_page(StatusCode::TOO_MANY_REQUESTS, &ui.name);
        assert!(locked.header("retry-after").is_some(), "{}", ui.name);
        // The username is locked for the password too, whoever tries.
        let mut other = ui.browser_from("198.51.100.9:40000");
        let page = other.start(&cli_authorize(SEED_SCOPE, &[])).await;
        let refused = other.login(&page, "alice", ALICE_PASSWORD, false).await;
        refused.assert_page(StatusCode::TOO_MANY_REQUESTS, &ui.name);
    }
}

#[tokio::test]
async fn the_second_factor_cannot_be_skipped_or_finished_in_another_browser() {
    for ui in uis().await {
        let (secret, _) = enrol(&ui, ALICE).await;
        let mut b = ui.browser();
        let page = b.start(&cli_authorize(SEED_SCOPE, &[])).await;
        let challenge = page.field("challenge");
        let after = b.login(&page, "alice", ALICE_PASSWORD, false).await;
        let pending = after.location().to_owned();
        assert!(pending.starts_with(SECOND_FACTOR), "{}", ui.name);
        // Straight to the consent page: not signed in, so back to the login page.
        let consent = b.get(&format!("/ui/consent?challenge={challenge}")).await;
        assert!(!consent.body.contains("consent-form"), "{}", ui.name);
        assert!(
            consent.location().starts_with("/ui/login"),
            "{}: {}",
            ui.name,
            consent.location()
        );
        // Another browser with the half-signed-in state's address gets nothing.
        let mut other = ui.browser_from("198.51.100.9:40000");
        let stolen = other.get(&pending).await;
        assert!(
            !stolen.body.contains("second-factor-form"),
            "{}: {}",
            ui.name,
            stolen.body
        );
        // Nor with a form of its own (its own CSRF token, the stolen id).
        let mine = reach_second_factor(&mut other, &cli_authorize(SEED_SCOPE, &[])).await;
        let csrf = mine.form_field("second-factor-form", "csrf_token");
        let stolen_id = pending.trim_start_matches(SECOND_FACTOR).to_owned();
        let code = code_at(&secret, now());
        let refused = other
            .post(
                "/ui/login/second-factor",
                &[
                    ("csrf_token", csrf.as_str()),
                    ("pending", stolen_id.as_str()),
                    ("code", code.as_str()),
                ],
            )
            .await;
        assert!(
            refused.body.contains("data-error=\"expired\""),
            "{}: {}",
            ui.name,
            refused.body
        );
        // The right browser still finishes with a fresh code.
        let form = b.follow(&after).await;
        let done = submit_code(&mut b, &form, &code).await;
        assert!(
            done.location().starts_with("/ui/consent?challenge="),
            "{}: {}",
            ui.name,
            done.body
        );
    }
}

#[tokio::test]
async fn a_client_that_requires_mfa_has_a_user_without_a_factor_enrol_first() {
    for ui in uis().await {
        require_mfa(&ui, CLI).await;
        away_from_a_step_edge().await;
        let mut b = ui.browser();
        let enrolment = reach_second_factor(&mut b, &cli_authorize(SEED_SCOPE, &[])).await;
        for needle in [
            "id=\"totp-qr\" role=\"img\" aria-label=",
            "<svg",
            "id=\"totp-secret\"",
            "inputmode=\"numeric\"",
        ] {
            assert!(enrolment.body.contains(needle), "{}: {needle}", ui.name);
        }
        assert!(!enrolment.body.contains("<script"), "no script");
        assert!(b.cookie(SESSION_COOKIE).is_none(), "{}", ui.name);
        let secret = secret_on(&enrolment);
        // A wrong first code shows the same key again.
        let wrong = submit_code(&mut b, &enrolment, "000000").await;
        wrong.assert_page(StatusCode::UNAUTHORIZED, &ui.name);
        assert_eq!(secret_on(&wrong), secret, "{}", ui.name);
        let codes_page = submit_code(&mut b, &wrong, &code_at(&secret, now())).await;
        codes_page.assert_page(StatusCode::OK, &ui.name);
        let codes = codes_on(&codes_page);
        assert_eq!(codes.len(), 10, "{}: {}", ui.name, codes_page.body);
        let csrf = codes_page.form_field("continue-form", "csrf_token");
        let pending = codes_page.form_field("continue-form", "pending");
        let done = b
            .post(
                "/ui/login/second-factor/continue",
                &[("csrf_token", csrf.as_str()), ("pending", pending.as_str())],
            )
            .await;
        assert!(
            done.location().starts_with("/ui/consent?challenge="),
            "{}: {}",
            ui.name,
            done.body
        );
        let (claims, _) = tokens_after(&ui, &mut b, &done).await;
        assert_eq!(claims["acr"], "urn:gatehouse:acr:mfa", "{}", ui.name);
        // The continue step is single use.
        let again = b
            .post(
                "/ui/login/second-factor/continue",
                &[("csrf_token", csrf.as_str()), ("pending", pending.as_str())],
            )
            .await;
        assert!(
            again.body.contains("data-error=\"expired\""),
            "{}: {}",
            ui.name,
            again.body
        );
    }
}

#[tokio::test]
async fn a_client_that_requires_mfa_never_gets_a_code_for_a_password_only_sign_in() {
    for ui in uis().await {
        require_mfa(&ui, CLI).await;
        let params = AuthorizationParams {
            client_id: Some(CLI.into()),
            redirect_uri: Some(CLI_REDIRECT.into()),
            response_type: Some("code".into()),
            scope: Some("openid".into()),
            code_challenge: Some(CHALLENGE.into()),
            code_challenge_method: Some("S256".into()),
            ..AuthorizationParams::default()
        };
        let context = ui.service.validate_authorization(&params).await.unwrap();
        assert!(context.request.mfa_required, "{}", ui.name);
        // Whoever calls the token service: a password-only sign-in gets no code.
        let mut request = context.request.clone();
        request.mfa_required = false;
        let refused = ui
            .service
            .issue_authorization_code(
                &request,
                ALICE,
                &ScopeSet::parse("openid").unwrap(),
                now(),
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::AccessDenied, "{}", ui.name);
        let with_mfa = ui
            .service
            .issue_authorization_code_with(
                &request,
                ALICE,
                &ScopeSet::parse("openid").unwrap(),
                now(),
                None,
                gatehouse_token::authorization::CodeClaims {
                    amr: gatehouse_core::factor::amr_for(true),
                    ..Default::default()
                },
            )
            .await;
        assert!(with_mfa.is_ok(), "{}", ui.name);
    }
}

#[tokio::test]
async fn acr_values_step_up_a_password_only_session_with_the_second_factor_only() {
    for ui in uis().await {
        let mut b = ui.browser();
        // A password-only session, with the consent remembered.
        b.authorize_alice(SEED_SCOPE, true).await;
        let (secret, _) = enrol(&ui, ALICE).await;
        let reply = b
            .get(&cli_authorize(
                SEED_SCOPE,
                &[("acr_values", "urn:gatehouse:acr:mfa")],
            ))
            .await;
        assert!(
            reply.location().starts_with(SECOND_FACTOR),
            "{}: {}",
            ui.name,
            reply.location()
        );
        let form = b.follow(&reply).await;
        assert!(!form.body.contains("name=\"password\""), "{}", ui.name);
        let done = submit_code(&mut b, &form, &code_at(&secret, now())).await;
        let (base, params) = done.redirect_params();
        assert_eq!(base, CLI_REDIRECT, "{}: {}", ui.name, done.body);
        let tokens = ui.redeem(&params["code"]).await;
        let claims = jwt_payload(tokens.id_token.as_deref().unwrap_or_default());
        assert_eq!(claims["acr"], "urn:gatehouse:acr:mfa", "{}", ui.name);
        // The session now says mfa: the next such request needs nothing more.
        let next = b
            .get(&cli_authorize(
                SEED_SCOPE,
                &[("acr_values", "urn:gatehouse:acr:mfa")],
            ))
            .await;
        let (base, _) = next.redirect_params();
        assert_eq!(base, CLI_REDIRECT, "{}", ui.name);
    }
}

#[tokio::test]
async fn the_security_page_adds_an_authenticator_app_and_removes_it() {
    for ui in uis().await {
        let mut b = ui.browser();
        b.authorize_alice(SEED_SCOPE, false).await;
        let page = b.get("/account/security").await;
        page.assert_page(StatusCode::OK, &ui.name);
        assert!(page.body.contains("id=\"no-factors\""), "{}", ui.name);
        assert_no_inline_script(&page);
        away_from_a_step_edge().await;
        let csrf = page.form_field("add-totp-form", "csrf_token");
        let enrolment = b
            .post("/account/security/totp", &[("csrf_token", csrf.as_str())])
            .await;
        enrolment.assert_page(StatusCode::OK, &ui.name);
        assert!(enrolment.body.contains("<svg"), "{}", ui.name);
        let secret = secret_on(&enrolment);
        let factor_id = enrolment.form_field("second-factor-form", "factor_id");
        let refused = b
            .post(
                "/account/security/totp/confirm",
                &[
                    ("csrf_token", csrf.as_str()),
                    ("factor_id", factor_id.as_str()),
                    ("code", "000000"),
                ],
            )
            .await;
        refused.assert_page(StatusCode::UNAUTHORIZED, &ui.name);
        assert_eq!(secret_on(&refused), secret, "{}", ui.name);
        let code = code_at(&secret, now());
        let codes = b
            .post(
                "/account/security/totp/confirm",
                &[
                    ("csrf_token", csrf.as_str()),
                    ("factor_id", factor_id.as_str()),
                    ("code", code.as_str()),
                ],
            )
            .await;
        codes.assert_page(StatusCode::OK, &ui.name);
        let recovery = codes_on(&codes);
        assert_eq!(recovery.len(), 10, "{}", ui.name);
        let page = b.get("/account/security").await;
        assert!(
            page.body
                .contains(&format!("data-factor-id=\"{factor_id}\"")),
            "{}",
            ui.name
        );
        assert!(
            page.body.contains("Unused recovery codes: 10."),
            "{}",
            ui.name
        );
        for needle in [
            "aria-describedby=\"proof-hint\"",
            "autocomplete=\"one-time-code\"",
        ] {
            assert!(page.body.contains(needle), "{}: {needle}", ui.name);
        }
        // Removing it takes a code of the app or a recovery code.
        let removed = b
            .post(
                "/account/security/remove",
                &[
                    ("csrf_token", csrf.as_str()),
                    ("factor_id", factor_id.as_str()),
                    ("code", recovery[0].as_str()),
                ],
            )
            .await;
        assert!(removed.location().ends_with("?done=removed"), "{}", ui.name);
        let page = b.get("/account/security").await;
        assert!(page.body.contains("id=\"no-factors\""), "{}", ui.name);
        // Without the CSRF token nothing happens.
        let forged = b
            .post("/account/security/totp", &[("csrf_token", "forged")])
            .await;
        assert!(!forged.body.contains("<svg"), "{}", ui.name);
    }
}

/// A signed-in session is not proof of the second factor: whoever holds a stolen session
/// cookie cannot remove the factor, add one of their own or get new recovery codes without a
/// current code of the app or a recovery code; wrong codes count like wrong passwords.
#[tokio::test]
async fn a_stolen_session_cannot_change_the_second_factor_without_a_code() {
    for ui in uis().await {
        let (secret, recovery) = enrol(&ui, ALICE).await;
        let mut victim = ui.browser();
        let form = reach_second_factor(&mut victim, &cli_authorize(SEED_SCOPE, &[])).await;
        let done = submit_code(&mut victim, &form, &code_at(&secret, now())).await;
        assert!(done.location().starts_with("/ui/consent?challenge="));
        let stolen = victim.cookie(SESSION_COOKIE).expect("a session").to_owned();

        // The attacker's browser, with the victim's session cookie.
        let mut thief = ui.browser_from("198.51.100.9:40000");
        thief.set_cookie(SESSION_COOKIE, &stolen);
        let page = thief.get("/account/security").await;
        page.assert_page(StatusCode::OK, &ui.name);
        let factor_id = ui.service.factor_summary(ALICE).await.unwrap().factors[0]
            .id
            .clone();
        let csrf = page.form_field("add-totp-form", "csrf_token");
        let mut tries: Vec<Vec<(&str, &str)>> = Vec::new();
        for code in [None, Some(""), Some("000000"), Some("abcde-fghjk")] {
            let mut remove = vec![
                ("csrf_token", csrf.as_str()),
                ("factor_id", factor_id.as_str()),
            ];
            remove.extend(code.map(|c| ("code", c)));
            tries.push(remove);
        }
        for fields in &tries {
            let refused = thief.post("/account/security/remove", fields).await;
            refused.assert_page(StatusCode::UNAUTHORIZED, &ui.name);
            assert!(
                refused.body.contains("id=\"security-error\""),
                "{}: {fields:?}: {}",
                ui.name,
                refused.body
            );
        }
        let summary = ui.service.factor_summary(ALICE).await.unwrap();
        assert_eq!(
            summary.factors.len(),
            1,
            "{}: the factor is still there",
            ui.name
        );
        // Nor new recovery codes, nor a factor of the attacker's own.
        let codes = thief
            .post(
                "/account/security/recovery-codes",
                &[("csrf_token", csrf.as_str())],
            )
            .await;
        assert!(codes_on(&codes).is_empty(), "{}: {}", ui.name, codes.body);
        assert!(codes.body.contains("id=\"security-error\""), "{}", ui.name);
        let added = thief
            .post("/account/security/totp", &[("csrf_token", csrf.as_str())])
            .await;
        assert!(!added.body.contains("<svg"), "{}: {}", ui.name, added.body);
        // Nor through the page that shows an enrolment's key again after a wrong first code.
        for factor_id in ["", "not-an-enrolment", factor_id.as_str()] {
            let again = thief
                .post(
                    "/account/security/totp/confirm",
                    &[
                        ("csrf_token", csrf.as_str()),
                        ("factor_id", factor_id),
                        ("code", "000000"),
                    ],
                )
                .await;
            assert!(
                !again.body.contains("totp-secret"),
                "{}: a key was shown for {factor_id:?}",
                ui.name
            );
        }
        let summary = ui.service.factor_summary(ALICE).await.unwrap();
        assert_eq!(
            summary.recovery_codes_left, 10,
            "{}: the old codes stand",
            ui.name
        );

        // The wrong codes count like wrong passwords: guessing ends in a lock.
        let mut locked = None;
        for _ in 0..5 {
            let reply = thief
                .post(
                    "/account/security/remove",
                    &[
                        ("csrf_token", csrf.as_str()),
                        ("factor_id", factor_id.as_str()),
                        ("code", "111111"),
                    ],
                )
                .await;
            if reply.status == StatusCode::TOO_MANY_REQUESTS {
                locked = Some(reply);
                break;
            }
            reply.assert_page(StatusCode::UNAUTHORIZED, &ui.name);
        }
        let locked = locked.unwrap_or_else(|| panic!("{}: guessing was never locked", ui.name));
        assert!(locked.header("retry-after").is_some(), "{}", ui.name);
        // Locked, even the right recovery code is refused.
        let refused = thief
            .post(
                "/account/security/remove",
                &[
                    ("csrf_token", csrf.as_str()),
                    ("factor_id", factor_id.as_str()),
                    ("code", recovery[5].as_str()),
                ],
            )
            .await;
        refused.assert_page(StatusCode::TOO_MANY_REQUESTS, &ui.name);
        assert_eq!(
            ui.service
                .factor_summary(ALICE)
                .await
                .unwrap()
                .factors
                .len(),
            1,
            "{}",
            ui.name
        );
    }
}

/// The owner, with a recovery code, gets new recovery codes; the one used is spent with the
/// old ones.
#[tokio::test]
async fn new_recovery_codes_take_a_code() {
    for ui in uis().await {
        let (_, recovery) = enrol(&ui, ALICE).await;
        let mut b = ui.browser();
        let form = reach_second_factor(&mut b, &cli_authorize(SEED_SCOPE, &[])).await;
        let done = submit_code(&mut b, &form, &recovery[0]).await;
        assert!(done.location().starts_with("/ui/consent?challenge="));
        let page = b.get("/account/security").await;
        let csrf = page.form_field("new-recovery-codes-form", "csrf_token");
        let fresh = b
            .post(
                "/account/security/recovery-codes",
                &[
                    ("csrf_token", csrf.as_str()),
                    ("code", recovery[1].as_str()),
                ],
            )
            .await;
        fresh.assert_page(StatusCode::OK, &ui.name);
        let new_codes = codes_on(&fresh);
        assert_eq!(new_codes.len(), 10, "{}: {}", ui.name, fresh.body);
        // The old codes are gone.
        let old = b
            .post(
                "/account/security/recovery-codes",
                &[
                    ("csrf_token", csrf.as_str()),
                    ("code", recovery[2].as_str()),
                ],
            )
            .await;
        assert!(old.body.contains("id=\"security-error\""), "{}", ui.name);
    }
}

/// The only scripts of a page are the passkey file's: no inline script.
fn assert_no_inline_script(page: &Page) {
    assert_eq!(
        page.body.matches("<script").count(),
        page.body
            .matches("<script src=\"/ui/static/passkey.js?v=")
            .count(),
        "{}",
        page.body
    );
}

/// The opening tag of the form `id`.
fn form_tag<'a>(page: &'a Page, id: &str) -> &'a str {
    let start = page
        .body
        .find(&format!("<form id=\"{id}\""))
        .or_else(|| page.body.find(&format!("id=\"{id}\"")))
        .unwrap_or_else(|| panic!("no {id} in {}", page.body));
    // The `<form` this id is in (or starts).
    let start = page.body[..start + 5].rfind("<form").unwrap_or(start);
    let end = start + page.body[start..].find('>').unwrap();
    &page.body[start..end]
}

#[tokio::test]
async fn passkey_forms_wait_hidden_for_their_script_and_an_ip_issuer_has_none() {
    for ui in uis().await {
        let mut b = ui.browser();
        let login = b.get("/ui/login").await;
        login.assert_page(StatusCode::OK, &ui.name);
        let tag = form_tag(&login, "passkey-form");
        assert!(tag.contains(" hidden"), "{tag}");
        assert!(tag.contains("data-passkey=\"get\""), "{tag}");
        // A view of the page starts no ceremony: no options, no ceremony id, only where the
        // script asks for them when the button is pressed.
        assert!(
            tag.contains("data-passkey-options-url=\"/ui/login/passkey/options\"")
                && !tag.contains("data-passkey-options=")
                && !tag.contains("challenge&#34;"),
            "{tag}"
        );
        assert_eq!(
            login.form_field("passkey-form", "ceremony"),
            "",
            "{}",
            ui.name
        );
        let csp = login.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(csp.contains("connect-src 'self'"), "{csp}");
        assert_no_inline_script(&login);
        let src = login
            .body
            .split("<script src=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .replace("&#38;", "&");
        let script = b.get(&src).await;
        assert_eq!(script.status, StatusCode::OK, "{src}");
        assert!(
            script
                .header("content-type")
                .is_some_and(|c| c.starts_with("text/javascript")),
            "{:?}",
            script.headers
        );
        assert!(script.body.contains("navigator.credentials"));

        // Pressing the button: the options, and a ceremony of their own each time.
        let csrf = login.form_field("passkey-form", "csrf_token");
        let mut ceremonies = Vec::new();
        for _ in 0..2 {
            let started = b
                .post(
                    "/ui/login/passkey/options",
                    &[("csrf_token", csrf.as_str())],
                )
                .await;
            assert_eq!(
                started.status,
                StatusCode::OK,
                "{}: {}",
                ui.name,
                started.body
            );
            assert!(
                started
                    .header("content-type")
                    .is_some_and(|c| c.starts_with("application/json")),
                "{:?}",
                started.headers
            );
            assert_eq!(started.header("cache-control"), Some("no-store"));
            let answer: serde_json::Value = serde_json::from_str(&started.body).unwrap();
            let challenge = answer["options"]["publicKey"]["challenge"].as_str();
            assert!(challenge.is_some_and(|c| c.len() >= 16), "{answer}");
            let ceremony = answer["ceremony"].as_str().unwrap_or_default().to_owned();
            assert!(!ceremony.is_empty(), "{answer}");
            ceremonies.push(ceremony);
        }
        assert_ne!(ceremonies[0], ceremonies[1], "{}", ui.name);
        // Another site cannot make a visitor's browser start ceremonies: without the page's
        // CSRF token, or without the browser it is bound to, nothing is started.
        let refused_for = |page: &Page, why: &str| {
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{}: {why}", ui.name);
            assert!(!page.body.contains("ceremony"), "{}", page.body);
        };
        for token in ["forged", ""] {
            let page = b
                .post("/ui/login/passkey/options", &[("csrf_token", token)])
                .await;
            refused_for(&page, token);
        }
        let mut stranger = ui.browser();
        let page = stranger
            .post(
                "/ui/login/passkey/options",
                &[("csrf_token", csrf.as_str())],
            )
            .await;
        refused_for(&page, "another browser with this page's token");

        b.authorize_alice(SEED_SCOPE, false).await;
        let page = b.get("/account/security").await;
        page.assert_page(StatusCode::OK, &ui.name);
        let tag = form_tag(&page, "add-passkey-form");
        assert!(
            tag.contains(" hidden") && tag.contains("data-passkey=\"create\""),
            "{tag}"
        );
        assert_no_inline_script(&page);
        // A registration answer that is no answer adds nothing and says so.
        let csrf = page.form_field("add-totp-form", "csrf_token");
        let ceremony = page.form_field("add-passkey-form", "ceremony");
        let refused = b
            .post(
                "/account/security/passkeys",
                &[
                    ("csrf_token", csrf.as_str()),
                    ("ceremony", ceremony.as_str()),
                    ("label", "Laptop"),
                    ("credential", "{\"id\":\"x\"}"),
                ],
            )
            .await;
        assert!(
            refused.location().ends_with("?done=passkey_failed"),
            "{}",
            ui.name
        );
        let page = b.get("/account/security?done=passkey_failed").await;
        assert!(page.body.contains("id=\"security-error\""), "{}", ui.name);
        assert!(page.body.contains("id=\"no-factors\""), "{}", ui.name);
        // Without the CSRF token nothing is looked at.
        let forged = b
            .post(
                "/account/security/passkeys",
                &[("csrf_token", "forged"), ("ceremony", ceremony.as_str())],
            )
            .await;
        assert_ne!(forged.status, StatusCode::SEE_OTHER, "{}", ui.name);
    }
    // WebAuthn forbids IP addresses as RP IDs: such an issuer has no passkeys, and the pages
    // say nothing about them.
    for ui in uis_with_token(|s| s.issuer = "http://127.0.0.1:4444".into()).await {
        let mut b = ui.browser();
        let login = b.get("/ui/login").await;
        login.assert_page(StatusCode::OK, &ui.name);
        assert!(!login.body.contains("passkey"), "{}", login.body);
        let csp = login.header("content-security-policy").unwrap_or_default();
        assert!(
            !csp.contains("script-src") && !csp.contains("connect-src"),
            "{csp}"
        );
        // Asked anyway (with the page's token): none to start.
        let csrf = login.form_field("login-form", "csrf_token");
        let none = b
            .post(
                "/ui/login/passkey/options",
                &[("csrf_token", csrf.as_str())],
            )
            .await;
        assert_eq!(
            none.status,
            StatusCode::NOT_FOUND,
            "{}: {}",
            ui.name,
            none.body
        );
    }
}

/// Adding a passkey is adding a factor: with a stolen session and no code of the owner's app
/// (or a recovery code), the thief's passkey is refused before the answer is even looked at.
#[tokio::test]
async fn a_stolen_session_cannot_add_a_passkey_without_a_code() {
    for ui in uis().await {
        let (secret, _recovery) = enrol(&ui, ALICE).await;
        let mut victim = ui.browser();
        let form = reach_second_factor(&mut victim, &cli_authorize(SEED_SCOPE, &[])).await;
        submit_code(&mut victim, &form, &code_at(&secret, now())).await;
        let stolen = victim.cookie(SESSION_COOKIE).expect("a session").to_owned();

        let mut thief = ui.browser_from("198.51.100.10:40000");
        thief.set_cookie(SESSION_COOKIE, &stolen);
        let page = thief.get("/account/security").await;
        page.assert_page(StatusCode::OK, &ui.name);
        assert!(
            page.body.contains("id=\"passkey-code\""),
            "{}: the passkey form asks for a code: {}",
            ui.name,
            page.body
        );
        let csrf = page.form_field("add-passkey-form", "csrf_token");
        let ceremony = page.form_field("add-passkey-form", "ceremony");
        for code in [None, Some("000000")] {
            let mut fields = vec![
                ("csrf_token", csrf.as_str()),
                ("ceremony", ceremony.as_str()),
                ("label", "Thief's key"),
                ("credential", "{\"id\":\"x\"}"),
            ];
            fields.extend(code.map(|c| ("code", c)));
            let refused = thief.post("/account/security/passkeys", &fields).await;
            refused.assert_page(StatusCode::UNAUTHORIZED, &format!("{}: {code:?}", ui.name));
            assert!(
                refused.body.contains("id=\"security-error\""),
                "{}",
                ui.name
            );
        }
        let summary = ui.service.factor_summary(ALICE).await.unwrap();
        assert_eq!(summary.factors.len(), 1, "{}: no factor was added", ui.name);
    }
}
