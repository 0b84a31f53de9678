//! Second factors in a real browser (headless Chromium through chromedriver, against the real
//! binary, `serve all`): a signed-in user adds an authenticator app on `/account/security`, the
//! key shown for manual entry read off the page and its codes computed here, sees the recovery
//! codes once, signs out, and signs in again through an authorization code flow: the password,
//! then the second-factor page with a code, consent, and the ID token says `mfa`. Then once more
//! with a recovery code, and the same recovery code refused the next time; finally the app is
//! removed with a current code. Every page is checked
//! with axe-core (WCAG 2 AA); screenshots at phone and desktop width go to
//! `target/screenshots/{totp-enrolment,second-factor}-*.png`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use gatehouse_core::factor::{totp_code, totp_step};
use gatehouse_testkit::e2e::{Partner, discovery};
use gatehouse_testkit::fixtures::PKCE_VERIFIER;
use gatehouse_testkit::http::serve;

use crate::browser_kit::{
    AXE, INSTALL, INSTALL_AXE, assert_accessible, axe_source, chromium_session, screenshots,
    wait_for, which,
};
use crate::gatehouse;

const TEST: &str = "totp_and_recovery_codes_in_headless_chromium";

/// The callbacks the partner app's loopback listener saw.
type Callbacks = Arc<Mutex<Vec<HashMap<String, String>>>>;

async fn callback(
    State(seen): State<Callbacks>,
    Query(query): Query<HashMap<String, String>>,
) -> impl IntoResponse {
    seen.lock().expect("lock").push(query);
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<!doctype html><html lang=\"en\"><title>Neon CLI</title><main><p id=\"done\">Signed in. You can close this window.</p></main>",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_and_recovery_codes_in_headless_chromium() {
    let (Some(chromedriver), Some(chromium)) = (
        which("chromedriver"),
        which("chromium").or_else(|| which("chromium-browser")),
    ) else {
        return gatehouse_testkit::skipped(TEST, INSTALL);
    };
    let Some(axe) = axe_source() else {
        return gatehouse_testkit::skipped(TEST, INSTALL_AXE);
    };
    AXE.get_or_init(|| axe);

    let server = gatehouse().server("all").start();
    let issuer = format!("http://127.0.0.1:{}", server.public);
    let seen: Callbacks = Arc::default();
    let app = serve(
        axum::Router::new()
            .route("/callback", axum::routing::get(callback))
            .with_state(Arc::clone(&seen)),
    )
    .await;
    let partner = Partner::register(&server, &format!("{}/callback", app.url), None);

    let profile = tempfile::tempdir().expect("temp dir");
    let (_driver, browser) = chromium_session(&chromedriver, &chromium, profile.path()).await;
    let flow = tokio::spawn(drive(browser.clone(), issuer, partner, seen));
    let outcome = flow.await;
    let _ = browser.close().await;
    if let Err(e) = outcome {
        eprintln!("gatehouse log:\n{}", server.logs());
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn fill(browser: &Client, css: &str, text: &str) {
    let field = wait_for(browser, css).await;
    field
        .clear()
        .await
        .unwrap_or_else(|e| panic!("clearing {css}: {e}"));
    field
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("typing into {css}: {e}"));
}

async fn click(browser: &Client, css: &str) {
    wait_for(browser, css)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
}

async fn text_of(browser: &Client, css: &str) -> String {
    wait_for(browser, css)
        .await
        .text()
        .await
        .unwrap_or_else(|e| panic!("reading {css}: {e}"))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A code of `secret` from a step later than `used` (a code is accepted once, and no earlier one
/// after it), at least 3 s before its step ends so that it is still current when it arrives.
async fn fresh_code(secret: &[u8], used: &mut i64) -> String {
    loop {
        let now = now();
        if totp_step(now) > *used && now.rem_euclid(30) < 27 {
            *used = totp_step(now);
            return totp_code(secret, now).expect("a TOTP code");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The key an enrolment page shows for manual entry, as bytes.
fn decode_secret(display: &str) -> Vec<u8> {
    let secret = totp_rs::Secret::try_from_base32(display.replace(' ', "")).expect("a base32 key");
    AsRef::<[u8]>::as_ref(&secret).to_vec()
}

/// The payload of a JWT, unverified (the token service's own tests verify signatures).
fn jwt_payload(jwt: &str) -> Value {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

async fn sign_out(browser: &Client, issuer: &str) {
    browser
        .goto(&format!("{issuer}/account/apps"))
        .await
        .expect("opening the account page");
    click(browser, "#sign-out").await;
    wait_for(browser, "#signed-out").await;
}

/// The authorization URL → the password → the second-factor page.
async fn reach_second_factor(browser: &Client, authorize: &str, partner: &Partner) {
    browser
        .goto(authorize)
        .await
        .expect("opening the authorization URL");
    fill(browser, "#username", partner.username).await;
    fill(browser, "#password", partner.password).await;
    click(browser, "#login-submit").await;
    wait_for(browser, "#second-factor-form").await;
    let url = browser.current_url().await.expect("current URL");
    assert_eq!(url.path(), "/ui/login/second-factor", "{url}");
}

/// Consent (when asked) and the code at the callback, redeemed: the ID token's claims.
async fn finish_flow(
    browser: &Client,
    token_endpoint: &str,
    partner: &Partner,
    seen: &Callbacks,
    state: &str,
) -> Value {
    wait_for(browser, "#consent-form, #done").await;
    if !browser
        .find_all(Locator::Css("#consent-form"))
        .await
        .expect("finding the consent form")
        .is_empty()
    {
        assert_accessible(browser, "consent after a second factor").await;
        click(browser, "#consent-allow").await;
    }
    wait_for(browser, "#done").await;
    let query = seen
        .lock()
        .expect("lock")
        .iter()
        .rev()
        .find(|q| q.get("state").map(String::as_str) == Some(state))
        .cloned()
        .unwrap_or_else(|| panic!("no callback with state {state}"));
    let code = query.get("code").expect("a code at the callback");
    let answer = reqwest::Client::new()
        .post(token_endpoint)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", partner.redirect_uri.as_str()),
            ("client_id", partner.client_id),
            ("code_verifier", PKCE_VERIFIER),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(answer.status(), 200);
    let tokens: Value = answer.json().await.expect("token JSON");
    jwt_payload(tokens["id_token"].as_str().expect("an ID token"))
}

async fn drive(browser: Client, issuer: String, partner: Partner, seen: Callbacks) {
    let config = discovery(&issuer).await;
    let authorization_endpoint = config["authorization_endpoint"]
        .as_str()
        .expect("authorization_endpoint")
        .to_owned();
    let token_endpoint = config["token_endpoint"]
        .as_str()
        .expect("token_endpoint")
        .to_owned();
    let authorize = |state: &str| {
        format!(
            "{authorization_endpoint}?{}",
            partner.authorization_query(state)
        )
    };

    // Signed in with the password alone; the account's security page offers an authenticator app.
    browser
        .goto(&format!("{issuer}/ui/login"))
        .await
        .expect("opening the login page");
    fill(&browser, "#username", partner.username).await;
    fill(&browser, "#password", partner.password).await;
    click(&browser, "#login-submit").await;
    wait_for(&browser, "#sign-out").await;
    browser
        .goto(&format!("{issuer}/account/security"))
        .await
        .expect("opening the security page");
    wait_for(&browser, "#no-factors").await;
    assert_accessible(&browser, "security").await;
    click(&browser, "#add-totp").await;

    // The enrolment page: a QR code and the key for manual entry.
    wait_for(&browser, "#totp-qr svg").await;
    let secret = decode_secret(&text_of(&browser, "#totp-secret").await);
    screenshots(&browser, "totp-enrolment").await;
    // A wrong first code is refused and shows the same key again.
    fill(&browser, "#code", "000000").await;
    click(&browser, "#second-factor-submit").await;
    wait_for(&browser, "#second-factor-error").await;
    assert_accessible(&browser, "totp-enrolment refused").await;
    assert_eq!(
        decode_secret(&text_of(&browser, "#totp-secret").await),
        secret,
        "the same key again"
    );
    let mut used = i64::MIN;
    let code = fresh_code(&secret, &mut used).await;
    fill(&browser, "#code", &code).await;
    click(&browser, "#second-factor-submit").await;

    // The recovery codes, once.
    wait_for(&browser, "#recovery-codes").await;
    assert_accessible(&browser, "recovery-codes").await;
    let mut codes = Vec::new();
    for item in browser
        .find_all(Locator::Css("#recovery-codes code"))
        .await
        .expect("the recovery codes")
    {
        codes.push(item.text().await.expect("a recovery code"));
    }
    assert_eq!(codes.len(), 10, "{codes:?}");
    click(&browser, "#continue").await;
    wait_for(&browser, "#factors").await;
    assert_accessible(&browser, "security with a factor").await;
    // The codes are not shown again.
    assert!(
        browser
            .find_all(Locator::Css("#recovery-codes"))
            .await
            .expect("finding")
            .is_empty()
    );
    sign_out(&browser, &issuer).await;

    // Signing in again: the password, then a code of the app.
    reach_second_factor(&browser, &authorize("mfa-totp"), &partner).await;
    screenshots(&browser, "second-factor").await;
    let code = fresh_code(&secret, &mut used).await;
    fill(&browser, "#code", &code).await;
    click(&browser, "#second-factor-submit").await;
    let claims = finish_flow(&browser, &token_endpoint, &partner, &seen, "mfa-totp").await;
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]), "{claims}");
    assert_eq!(claims["acr"], "urn:gatehouse:acr:mfa", "{claims}");
    sign_out(&browser, &issuer).await;

    // Without the phone: a recovery code, typed as shown.
    reach_second_factor(&browser, &authorize("mfa-recovery"), &partner).await;
    fill(&browser, "#code", &codes[0]).await;
    click(&browser, "#second-factor-submit").await;
    let claims = finish_flow(&browser, &token_endpoint, &partner, &seen, "mfa-recovery").await;
    assert_eq!(claims["acr"], "urn:gatehouse:acr:mfa", "{claims}");
    sign_out(&browser, &issuer).await;

    // The same recovery code a second time is refused, and nobody is signed in.
    reach_second_factor(&browser, &authorize("mfa-reused"), &partner).await;
    fill(&browser, "#code", &codes[0]).await;
    click(&browser, "#second-factor-submit").await;
    wait_for(&browser, "#second-factor-error").await;
    assert_accessible(&browser, "second-factor refused").await;
    let url = browser.current_url().await.expect("current URL");
    assert_eq!(url.path(), "/ui/login/second-factor", "{url}");
    assert!(
        !seen
            .lock()
            .expect("lock")
            .iter()
            .any(|q| q.get("state").map(String::as_str) == Some("mfa-reused")),
        "a spent recovery code reached the callback"
    );
    // Another recovery code signs in; then removing the app takes a current code.
    fill(&browser, "#code", &codes[1]).await;
    click(&browser, "#second-factor-submit").await;
    finish_flow(&browser, &token_endpoint, &partner, &seen, "mfa-reused").await;
    browser
        .goto(&format!("{issuer}/account/security"))
        .await
        .expect("opening the security page");
    assert_accessible(&browser, "security before removing").await;
    let code = fresh_code(&secret, &mut used).await;
    fill(&browser, ".proof-code", &code).await;
    click(&browser, ".remove-factor").await;
    wait_for(&browser, "#no-factors").await;
    wait_for(&browser, "#security-notice").await;
}
