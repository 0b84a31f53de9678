//! The login and consent pages in a real browser: Debian's headless Chromium, driven through
//! chromedriver (WebDriver) by fantoccini, against the real binary (`serve all`).
//!
//! A public PKCE client like the seed's `neoncli` signs a user in and gets consent. The test
//! serves the client's loopback callback and its logo itself, so it sees what reached the
//! callback and that the browser loaded the logo under the consent page's CSP. Then the logout
//! confirmation, the account page and its one-click sign-out, the signed-out page, the language
//! switcher and an error page. It saves screenshots of the pages at phone and desktop width under
//! `target/screenshots/`.
//!
//! Every page it visits is also checked with axe-core (WCAG 2.1 A and AA rules and axe's
//! best practices): any violation fails the test, listed with the elements it concerns.
//!
//! Needs the Debian packages `chromium` and `chromium-driver`, and axe-core from npm
//! (`npm ci --prefix tests/browser`; `scripts/test` runs it when npm is there). Without them the
//! test is skipped locally and fails in CI, saying what to install.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use gatehouse_testkit::e2e::{
    HIDDEN_SCOPES, Partner, discovery, redeem_and_call_userinfo, scope_set,
};
use gatehouse_testkit::http::{Served, serve};

use crate::browser_kit::{
    AXE, INSTALL, INSTALL_AXE, assert_accessible, axe_source, chromium_session, screenshots,
    wait_for, which,
};
use crate::gatehouse;

const TEST: &str = "login_and_consent_in_headless_chromium";
const LOGO: &[u8] = include_bytes!("fixtures/partner-logo.png");

/// What the partner app's loopback listener saw: the callback queries and logo downloads.
#[derive(Default)]
struct PartnerApp {
    callbacks: Mutex<Vec<HashMap<String, String>>>,
    logo_hits: Mutex<u32>,
}

async fn callback(
    State(app): State<Arc<PartnerApp>>,
    Query(query): Query<HashMap<String, String>>,
) -> impl IntoResponse {
    app.callbacks.lock().expect("lock").push(query);
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<!doctype html><html lang=\"en\"><title>Neon CLI</title><p id=\"done\">Signed in. You can close this window.</p>",
    )
}

/// The callback of `response_mode=form_post`: the parameters arrive as a posted form.
async fn posted_callback(
    State(app): State<Arc<PartnerApp>>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> impl IntoResponse {
    callback(State(app), Query(form)).await
}

async fn logo(State(app): State<Arc<PartnerApp>>) -> impl IntoResponse {
    *app.logo_hits.lock().expect("lock") += 1;
    ([(header::CONTENT_TYPE, "image/png")], LOGO)
}

/// Serves `/callback` and `/logo.png` on a loopback port until the returned value is dropped.
async fn serve_partner_app(app: Arc<PartnerApp>) -> Served {
    let router = axum::Router::new()
        .route(
            "/callback",
            axum::routing::get(callback).post(posted_callback),
        )
        .route("/logo.png", axum::routing::get(logo))
        .with_state(app);
    serve(router).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_consent_in_headless_chromium() {
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
    let app = Arc::new(PartnerApp::default());
    let partner_app = serve_partner_app(Arc::clone(&app)).await;
    let redirect_uri = format!("{}/callback", partner_app.url);
    let logo_uri = format!("{}/logo.png", partner_app.url);
    let partner = Partner::register(&server, &redirect_uri, Some(&logo_uri));
    // A device (RFC 8628) for the /device pages.
    server.cli().ok(
        &[
            "clients",
            "create",
            "--name",
            "Neon TV",
            "--id",
            DEVICE_CLIENT,
            "--grant-types",
            "urn:ietf:params:oauth:grant-type:device_code,refresh_token",
            "--scope",
            "openid offline_access profile",
            "--token-endpoint-auth-method",
            "none",
        ],
        None,
    );

    let profile = tempfile::tempdir().expect("temp dir");
    let (_driver, browser) = chromium_session(&chromedriver, &chromium, profile.path()).await;

    // The flow runs in a task of its own so that the browser is closed even when it fails.
    let flow = tokio::spawn(drive(
        browser.clone(),
        issuer.clone(),
        partner,
        Arc::clone(&app),
    ));
    let outcome = flow.await;
    let _ = browser.close().await;
    if let Err(e) = outcome {
        eprintln!("gatehouse log:\n{}", server.logs());
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn drive(browser: Client, issuer: String, partner: Partner, app: Arc<PartnerApp>) {
    let config = discovery(&issuer).await;
    assert_eq!(config["issuer"], json!(issuer));
    let authorization_endpoint = config["authorization_endpoint"]
        .as_str()
        .expect("authorization_endpoint");
    let state = "browser-state-4f1c";

    // Login page.
    browser
        .goto(&format!(
            "{authorization_endpoint}?{}",
            partner.authorization_query(state)
        ))
        .await
        .expect("opening the authorization URL");
    wait_for(&browser, "#login-form").await;
    let url = browser.current_url().await.expect("current URL");
    assert_eq!(url.path(), "/ui/login", "{url}");
    let body = browser
        .find(Locator::Css("main"))
        .await
        .expect("main")
        .text()
        .await
        .expect("text");
    assert!(
        body.contains("Neon CLI"),
        "the login page names the client: {body}"
    );
    screenshots(&browser, "login").await;

    browser
        .find(Locator::Css("#username"))
        .await
        .expect("#username")
        .send_keys(partner.username)
        .await
        .expect("typing the username");
    browser
        .find(Locator::Css("#password"))
        .await
        .expect("#password")
        .send_keys(partner.password)
        .await
        .expect("typing the password");
    browser
        .find(Locator::Css("#remember"))
        .await
        .expect("#remember")
        .click()
        .await
        .expect("ticking remember");
    browser
        .find(Locator::Css("#login-submit"))
        .await
        .expect("#login-submit")
        .click()
        .await
        .expect("signing in");

    // Consent page: the visible scopes only, and the client's logo, loaded.
    wait_for(&browser, "#consent-form").await;
    let url = browser.current_url().await.expect("current URL");
    assert_eq!(url.path(), "/ui/consent", "{url}");
    let mut listed = Vec::new();
    for item in browser
        .find_all(Locator::Css("#scopes li[data-scope]"))
        .await
        .expect("the scope list")
    {
        listed.push(
            item.attr("data-scope")
                .await
                .expect("data-scope")
                .unwrap_or_default(),
        );
    }
    let mut expected: Vec<String> = partner.visible.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    listed.sort();
    assert_eq!(
        listed, expected,
        "the consent page lists exactly the visible scopes"
    );
    let text = browser
        .find(Locator::Css("main"))
        .await
        .expect("main")
        .text()
        .await
        .expect("text");
    for hidden in HIDDEN_SCOPES {
        assert!(
            browser
                .find_all(Locator::Css(&format!("[data-scope=\"{hidden}\"]")))
                .await
                .expect("finding")
                .is_empty(),
            "{hidden} is hidden"
        );
    }
    for label in ["Sign you in", "Stay connected"] {
        assert!(
            !text.contains(label),
            "a hidden scope's label is shown: {text}"
        );
    }
    assert!(text.contains("Read your projects"), "{text}");
    assert!(text.contains("Alice Example (alice)"), "{text}");

    let logo = browser
        .find(Locator::Css("#client-logo"))
        .await
        .expect("#client-logo");
    assert_eq!(
        logo.attr("src").await.expect("src").as_deref(),
        Some(format!("http://127.0.0.1:{}/logo.png", logo_port(&partner))).as_deref()
    );
    assert!(
        logo.is_displayed().await.expect("displayed"),
        "the logo is visible"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let loaded = browser
            .execute(
                "const img = document.getElementById('client-logo'); return img.complete && img.naturalWidth;",
                vec![],
            )
            .await
            .expect("reading the logo");
        if loaded == json!(96) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the browser did not load the logo (blocked by the CSP?): {loaded}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        *app.logo_hits.lock().expect("lock") >= 1,
        "the logo came from the partner"
    );
    screenshots(&browser, "consent").await;

    // Allow: the browser lands on the partner's callback (the form's redirect crosses origins,
    // which the page's form-action allows).
    browser
        .find(Locator::Css("#consent-allow"))
        .await
        .expect("#consent-allow")
        .click()
        .await
        .expect("allowing");
    wait_for(&browser, "#done").await;
    let landed = browser.current_url().await.expect("current URL");
    assert_eq!(
        format!(
            "{}://{}{}",
            landed.scheme(),
            landed.authority(),
            landed.path()
        ),
        partner.redirect_uri
    );
    let query = {
        let calls = app.callbacks.lock().expect("lock");
        assert_eq!(calls.len(), 1, "one callback: {calls:?}");
        calls[0].clone()
    };
    assert_eq!(query.get("state").map(String::as_str), Some(state));
    assert_eq!(
        query.get("iss").map(String::as_str),
        config["issuer"].as_str(),
        "iss is the discovery document's issuer (RFC 9207)"
    );
    assert_eq!(
        scope_set(query.get("scope").map_or("", String::as_str)),
        scope_set(partner.scope),
        "every granted scope, hidden ones included"
    );
    assert!(!query.contains_key("error"), "{query:?}");
    let code = query.get("code").expect("a code");

    let claims = redeem_and_call_userinfo(
        &partner,
        config["token_endpoint"].as_str().expect("token_endpoint"),
        config["userinfo_endpoint"]
            .as_str()
            .expect("userinfo_endpoint"),
        code,
    )
    .await;
    assert_eq!(claims["name"], "Alice Example", "{claims}");

    // response_mode=form_post: the answer page posts itself to the callback, its script allowed
    // by the CSP's hash (with the session, prompt=none answers at once: a code or an error).
    let answered = app.callbacks.lock().expect("lock").len();
    browser
        .goto(&format!(
            "{authorization_endpoint}?{}&response_mode=form_post&prompt=none",
            partner.authorization_query("form-post-state")
        ))
        .await
        .expect("opening a form_post authorization URL");
    wait_for(&browser, "#done").await;
    let posted = app.callbacks.lock().expect("lock")[answered..].to_vec();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(
        posted[0].get("state").map(String::as_str),
        Some("form-post-state")
    );
    assert_eq!(
        posted[0].get("iss"),
        config["issuer"].as_str().map(str::to_owned).as_ref()
    );
    assert!(
        posted[0].contains_key("code") || posted[0].contains_key("error"),
        "{posted:?}"
    );

    device_pages(&browser, &config).await;

    // RP-initiated logout without an id_token_hint asks first; leaving it unanswered keeps the
    // session.
    browser
        .goto(&format!("{issuer}/oauth2/sessions/logout"))
        .await
        .expect("opening the logout endpoint");
    wait_for(&browser, "#logout-form").await;
    assert_accessible(&browser, "logout confirmation").await;

    // The issuer's own address leads to the account page; signing out there is one click, and
    // the signed-out page offers to sign in again.
    browser
        .goto(&format!("{issuer}/"))
        .await
        .expect("opening the issuer's address");
    wait_for(&browser, "#profile-form").await;
    let url = browser.current_url().await.expect("current URL");
    assert_eq!(url.path(), "/account", "{url}");
    screenshots(&browser, "account").await;
    browser
        .goto(&format!("{issuer}/account/apps"))
        .await
        .expect("opening the connected apps");
    wait_for(&browser, "#sign-out").await;
    screenshots(&browser, "apps").await;
    browser
        .find(Locator::Css("#sign-out"))
        .await
        .expect("#sign-out")
        .click()
        .await
        .expect("signing out");
    wait_for(&browser, "#sign-in-again").await;
    screenshots(&browser, "signed-out").await;

    // The language switcher: plain links, the choice remembered, the current one marked.
    browser
        .find(Locator::Css("nav.languages a[lang=\"de\"]"))
        .await
        .expect("the link to Deutsch")
        .click()
        .await
        .expect("switching to Deutsch");
    wait_for(&browser, "html[lang=\"de\"] #sign-in-again").await;
    let current = browser
        .find(Locator::Css("nav.languages a[aria-current=\"true\"]"))
        .await
        .expect("the current language")
        .text()
        .await
        .expect("text");
    assert_eq!(current, "Deutsch");
    browser
        .goto(&format!("{issuer}/account"))
        .await
        .expect("opening the account page");
    wait_for(&browser, "html[lang=\"de\"] #sign-in-again").await;
    assert_accessible(&browser, "signed-out (de)").await;

    // An error page: an authorization request for an address the app never registered.
    browser
        .goto(&format!(
            "{issuer}/oauth2/auth?response_type=code&client_id={}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
            partner.client_id
        ))
        .await
        .expect("opening an authorization request with a foreign redirect URI");
    wait_for(&browser, "#error").await;
    assert_accessible(&browser, "error").await;
}

/// The device client the browser test registers.
const DEVICE_CLIENT: &str = "neontv";

/// The device authorization grant's pages, for the signed-in user: the code form, a wrong code
/// (the error), the right one typed without its dash, consent, and "return to your device"; the
/// device's poll then gets tokens.
async fn device_pages(browser: &Client, config: &Value) {
    let http = reqwest::Client::new();
    let post = |url: &str, form: Vec<(&'static str, String)>| {
        let request = http.post(url.to_owned()).form(&form);
        async move {
            let reply = request.send().await.expect("a device request");
            let status = reply.status().as_u16();
            let body: Value = reply.json().await.expect("JSON");
            (status, body)
        }
    };
    let device_endpoint = config["device_authorization_endpoint"]
        .as_str()
        .expect("device_authorization_endpoint");
    let token_endpoint = config["token_endpoint"].as_str().expect("token_endpoint");
    let (status, started) = post(
        device_endpoint,
        vec![
            ("client_id", DEVICE_CLIENT.to_owned()),
            ("scope", "openid profile".to_owned()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let user_code = started["user_code"].as_str().expect("user_code").to_owned();
    let verification_uri = started["verification_uri"]
        .as_str()
        .expect("verification_uri");

    browser
        .goto(verification_uri)
        .await
        .expect("opening the device page");
    wait_for(browser, "#device-form").await;
    screenshots(browser, "device").await;
    let type_code = |code: String| async move {
        let field = browser
            .find(Locator::Css("#user_code"))
            .await
            .expect("#user_code");
        field.clear().await.expect("clearing the code");
        field.send_keys(&code).await.expect("typing the code");
        browser
            .find(Locator::Css("#device-submit"))
            .await
            .expect("#device-submit")
            .click()
            .await
            .expect("sending the code");
    };
    type_code("BCDF-GHJK".to_owned()).await;
    wait_for(browser, "#device-error").await;
    screenshots(browser, "device-error").await;
    type_code(user_code.replace('-', "").to_lowercase()).await;

    // Signed in already: straight to consent, then the done page.
    wait_for(browser, "#consent-form").await;
    assert_accessible(browser, "device consent").await;
    browser
        .find(Locator::Css("#consent-allow"))
        .await
        .expect("the allow button")
        .click()
        .await
        .expect("allowing");
    wait_for(browser, "#device-approved").await;
    screenshots(browser, "device-done").await;

    let (status, tokens) = post(
        token_endpoint,
        vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:device_code".to_owned(),
            ),
            (
                "device_code",
                started["device_code"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ),
            ("client_id", DEVICE_CLIENT.to_owned()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["id_token"].is_string(), "{tokens}");
}

/// The port of the partner app, from its registered callback.
fn logo_port(partner: &Partner) -> u16 {
    url::Url::parse(&partner.redirect_uri)
        .ok()
        .and_then(|u| u.port())
        .expect("a loopback callback with a port")
}
