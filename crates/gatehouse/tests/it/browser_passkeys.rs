//! Passkeys in a real browser (headless Chromium through chromedriver, against the real binary,
//! `serve all`), answered by Chromium's virtual authenticator (WebDriver's
//! `addVirtualAuthenticator`: CTAP2, internal transport, resident keys, user verification). The
//! issuer is `http://localhost:<port>`: a WebAuthn RP ID is a domain, never an IP address.
//!
//! A user signs in with a password and adds a passkey on the security page (their first factor,
//! so the recovery codes follow), signs out, signs in with the passkey alone (no username) in
//! the middle of an authorization code flow, and the ID token says `amr` `hwk`, `user`, `mfa`
//! and the multi-factor `acr`. Then a password sign-in asks for the second step, which the
//! passkey answers: `amr` `pwd`, `hwk`, `mfa`. Every page with a passkey form is checked with
//! axe-core; screenshots go to `target/screenshots/passkey-*.png`.
//!
//! The server logs at `trace` in JSON meanwhile, and no log line holds passkey material: the
//! credential's id, private key or user handle (read back from the virtual authenticator), nor
//! any client data JSON, attestation object or authenticator data (their base64url openings).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::Method;
use base64::Engine as _;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use gatehouse_testkit::e2e::{Partner, discovery};
use gatehouse_testkit::fixtures::PKCE_VERIFIER;
use gatehouse_testkit::http::serve;

use crate::browser_kit::{
    AXE, INSTALL, INSTALL_AXE, axe_source, chromium_session, screenshots, wait_for, which,
};
use crate::gatehouse;

const TEST: &str = "passkeys_in_headless_chromium";

/// WebDriver's "Add Virtual Authenticator" (Web Authentication Level 2, §11.3), which fantoccini
/// has no typed call for.
#[derive(Debug)]
struct AddVirtualAuthenticator;

impl WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/webauthn/authenticator",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        let body = json!({
            "protocol": "ctap2",
            "ctap2Version": "ctap2_1",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
        });
        (Method::POST, Some(body.to_string()))
    }
}

/// WebDriver's "Get Credentials" of a virtual authenticator (§11.7).
#[derive(Debug)]
struct GetCredentials(String);

impl WebDriverCompatibleCommand for GetCredentials {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/webauthn/authenticator/{}/credentials",
            session_id.unwrap_or_default(),
            self.0
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        (Method::GET, None)
    }
}

/// Every Gatehouse crate at `trace`, the HTTP layer at `debug` (as the log-leak test), and
/// webauthn-rs at `trace` too: an operator who turns everything up must not get passkey material
/// in the log (webauthn-rs prints the registration and the credential at debug and trace).
const VERBOSE: &str = "info,gatehouse=trace,gatehouse_token=trace,gatehouse_login=trace,\
gatehouse_store=trace,gatehouse_core=trace,gatehouse_jose=trace,gatehouse_proto=trace,\
webauthn_rs=trace,webauthn_rs_core=trace,tower_http=debug,sqlx=warn";

#[derive(Default)]
struct Callbacks(Mutex<Vec<HashMap<String, String>>>);

async fn callback(
    State(app): State<Arc<Callbacks>>,
    Query(query): Query<HashMap<String, String>>,
) -> impl axum::response::IntoResponse {
    app.0.lock().expect("lock").push(query);
    (
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<!doctype html><html lang=\"en\"><title>Neon CLI</title><p id=\"done\">Signed in.</p>",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkeys_in_headless_chromium() {
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

    let server = gatehouse()
        .server("all")
        .issuer_host("localhost")
        .env("GATEHOUSE_LOG", VERBOSE)
        .env("GATEHOUSE_LOG_FORMAT", "json")
        .start();
    let issuer = format!("http://localhost:{}", server.public);
    let callbacks = Arc::new(Callbacks::default());
    let app = serve(
        axum::Router::new()
            .route("/callback", axum::routing::get(callback))
            .with_state(Arc::clone(&callbacks)),
    )
    .await;
    let partner = Partner::register(&server, &format!("{}/callback", app.url), None);

    let profile = tempfile::tempdir().expect("temp dir");
    let (_driver, browser) = chromium_session(&chromedriver, &chromium, profile.path()).await;
    let flow = tokio::spawn(drive(browser.clone(), issuer, partner, callbacks));
    let outcome = flow.await;
    let _ = browser.close().await;
    let credentials = match outcome {
        Ok(credentials) => credentials,
        Err(e) => {
            eprintln!("gatehouse log:\n{}", server.logs());
            std::panic::resume_unwind(e.into_panic());
        }
    };
    // Stopped first, so whatever the process still buffered is in the log searched.
    let (_, logs) = server.terminate_with_logs();
    assert_no_passkey_material_logged(&logs, &credentials);
}

/// No log line holds the credentials' ids, private keys or user handles, nor a client data
/// JSON (`{"type":"webauthn.…`), a "none" attestation object (`{"fmt":"none"…`, CBOR) or the
/// authenticator data of `localhost` (its RP ID hash), each as base64url.
fn assert_no_passkey_material_logged(logs: &str, credentials: &Value) {
    let credentials = credentials.as_array().expect("a list of credentials");
    assert!(
        !credentials.is_empty(),
        "the authenticator holds the passkey"
    );
    let mut needles: Vec<(String, String)> = vec![
        ("client data JSON".into(), "eyJ0eXBlIjoid2ViYXV0aG4u".into()),
        ("attestation object".into(), "o2NmbXRkbm9uZQ".into()),
        // The first 24 bytes of SHA-256("localhost"), which authenticator data opens with.
        (
            "authenticator data".into(),
            "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLH".into(),
        ),
    ];
    for credential in credentials {
        for field in ["credentialId", "privateKey", "userHandle"] {
            let value = credential[field].as_str().unwrap_or_default();
            assert!(value.len() >= 16, "{field}: {credential}");
            needles.push((field.into(), value.to_owned()));
        }
    }
    let verbose = logs
        .lines()
        .filter(|l| l.contains("\"level\":\"DEBUG\"") || l.contains("\"level\":\"TRACE\""))
        .count();
    assert!(verbose > 0, "no debug or trace line was logged:\n{logs}");
    // The search reads the right log: the passkey events are in it.
    assert!(
        logs.contains("a passkey was registered") && logs.contains("passkey accepted"),
        "the passkey events are not in the log:\n{logs}"
    );
    for (what, needle) in needles {
        // Standard base64 too (the virtual authenticator answers in base64url).
        let standard = needle.replace('-', "+").replace('_', "/");
        for line in logs.lines() {
            assert!(
                !line.contains(&needle) && !line.contains(&standard),
                "the {what} is in a log line: {line}"
            );
        }
    }
}

async fn fill(browser: &Client, css: &str, text: &str) {
    wait_for(browser, css)
        .await
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("typing into {css}: {e}"));
}

async fn click(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
}

/// Waits until `css` is shown: the passkey forms are `hidden` until `passkey.js` runs. The
/// element is looked up again each time: one found on the page a click is leaving goes stale.
async fn wait_displayed(browser: &Client, css: &str) {
    wait_for(browser, css).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let shown = match browser.find(Locator::Css(css)).await {
            Ok(element) => element.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        };
        if shown {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{css} stayed hidden: did passkey.js run (CSP)?"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn text_of(browser: &Client, css: &str) -> String {
    wait_for(browser, css).await.text().await.expect("text")
}

async fn sign_out(browser: &Client, issuer: &str) {
    browser
        .goto(&format!("{issuer}/account/apps"))
        .await
        .expect("opening the account page");
    click(browser, "#sign-out").await;
    wait_for(browser, "#signed-out").await;
}

/// The claims of the ID token the code of the newest callback redeems for.
async fn id_token_claims(config: &Value, partner: &Partner, callbacks: &Callbacks) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    let query = loop {
        if let Some(q) = callbacks.0.lock().expect("lock").pop() {
            break q;
        }
        assert!(Instant::now() < deadline, "no callback");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let code = query.get("code").unwrap_or_else(|| panic!("{query:?}"));
    let tokens: Value = reqwest::Client::new()
        .post(config["token_endpoint"].as_str().expect("token_endpoint"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &partner.redirect_uri),
            ("client_id", partner.client_id),
            ("code_verifier", PKCE_VERIFIER),
        ])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token JSON");
    let id_token = tokens["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{tokens}"));
    let payload = id_token.split('.').nth(1).expect("a JWS");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("claims JSON")
}

/// Allows the consent page when it comes (the first time), then waits for the callback.
async fn consent_if_asked(browser: &Client) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if browser.find(Locator::Css("#done")).await.is_ok() {
            return;
        }
        if browser.find(Locator::Css("#consent-allow")).await.is_ok() {
            click(browser, "#consent-allow").await;
            wait_for(browser, "#done").await;
            return;
        }
        assert!(
            Instant::now() < deadline,
            "neither consent nor the callback: {:?}",
            browser.source().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The flow; answers the virtual authenticator's credentials at the end.
async fn drive(
    browser: Client,
    issuer: String,
    partner: Partner,
    callbacks: Arc<Callbacks>,
) -> Value {
    let authenticator = browser
        .issue_cmd(AddVirtualAuthenticator)
        .await
        .expect("adding a virtual authenticator");
    let authenticator = authenticator
        .as_str()
        .unwrap_or_else(|| panic!("an authenticator id: {authenticator}"))
        .to_owned();
    let config = discovery(&issuer).await;
    let authorize = format!(
        "{}?{}",
        config["authorization_endpoint"].as_str().expect("endpoint"),
        partner.authorization_query("passkey-state")
    );

    // Sign in with the password, then add a passkey on the security page.
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
    wait_displayed(&browser, "#add-passkey-form").await;
    screenshots(&browser, "passkey-security").await;
    fill(&browser, "#passkey-label", "Laptop").await;
    click(&browser, "#add-passkey").await;
    // The first factor: its recovery codes, once.
    wait_for(&browser, "#recovery-codes").await;
    click(&browser, "#continue").await;
    let factors = text_of(&browser, "#factors").await;
    assert!(
        factors.contains("Laptop") && factors.contains("Passkey"),
        "{factors}"
    );
    screenshots(&browser, "passkey-added").await;
    sign_out(&browser, &issuer).await;

    // Sign in with the passkey alone, in the middle of an authorization request.
    browser.goto(&authorize).await.expect("authorizing");
    wait_displayed(&browser, "#passkey-form").await;
    screenshots(&browser, "passkey-login").await;
    click(&browser, "#passkey-sign-in").await;
    consent_if_asked(&browser).await;
    let claims = id_token_claims(&config, &partner, &callbacks).await;
    assert_eq!(claims["amr"], json!(["hwk", "user", "mfa"]), "{claims}");
    assert_eq!(claims["acr"], json!("urn:gatehouse:acr:mfa"), "{claims}");
    sign_out(&browser, &issuer).await;

    // A password sign-in now asks for the second step, which the passkey answers.
    browser.goto(&authorize).await.expect("authorizing");
    fill(&browser, "#username", partner.username).await;
    fill(&browser, "#password", partner.password).await;
    click(&browser, "#login-submit").await;
    // The login page has a `#passkey-form` too; its verify button is the second step's own.
    wait_displayed(&browser, "#passkey-verify").await;
    screenshots(&browser, "passkey-second-factor").await;
    click(&browser, "#passkey-verify").await;
    consent_if_asked(&browser).await;
    let claims = id_token_claims(&config, &partner, &callbacks).await;
    assert_eq!(claims["amr"], json!(["pwd", "hwk", "mfa"]), "{claims}");
    assert_eq!(claims["acr"], json!("urn:gatehouse:acr:mfa"), "{claims}");

    let credentials = browser
        .issue_cmd(GetCredentials(authenticator))
        .await
        .expect("reading the authenticator's credentials");
    // The authenticator learnt a user handle, never the user id.
    let handle = credentials[0]["userHandle"].as_str().unwrap_or_default();
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(handle.trim_end_matches('='))
        .unwrap_or_default();
    assert_eq!(decoded.len(), 16, "a UUID: {credentials}");
    assert_eq!(
        credentials[0]["isResidentCredential"],
        json!(true),
        "a discoverable passkey: {credentials}"
    );
    credentials
}
