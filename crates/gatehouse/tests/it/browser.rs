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
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{Method, header};
use axum::response::IntoResponse;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use gatehouse_testkit::e2e::{
    HIDDEN_SCOPES, Partner, discovery, redeem_and_call_userinfo, scope_set,
};
use gatehouse_testkit::http::{Served, free_port, is_listening, serve};

use crate::gatehouse;

const TEST: &str = "login_and_consent_in_headless_chromium";
const INSTALL: &str = "chromium and chromedriver (apt-get install -y chromium chromium-driver)";
const INSTALL_AXE: &str = "axe-core (npm ci --prefix tests/browser)";

/// axe-core's script, read once at the start of the test.
static AXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn axe_source() -> Option<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/browser/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(path).ok()
}
const LOGO: &[u8] = include_bytes!("fixtures/partner-logo.png");

/// Viewports the screenshots are taken at: a phone (CSS pixels of a common 6.1" phone) and a
/// desktop window.
const PHONE: Viewport = Viewport {
    name: "phone",
    width: 390,
    height: 844,
    mobile: true,
};
const DESKTOP: Viewport = Viewport {
    name: "desktop",
    width: 1280,
    height: 800,
    mobile: false,
};

#[derive(Debug, Clone, Copy)]
struct Viewport {
    name: &'static str,
    width: u32,
    height: u32,
    mobile: bool,
}

/// `name` on the `PATH`, if it is there and executable.
fn which(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The chromedriver process of this test, killed on drop.
struct Chromedriver {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Chromedriver {
    fn start(binary: &Path, dir: &Path) -> Self {
        let port = free_port();
        let log = dir.join("chromedriver.log");
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let driver = Self { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !is_listening(port) {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port} within 20 s:\n{}",
                driver.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }

    fn logs(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        // The last lines are the ones that explain a failure.
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Chromedriver's own command for the DevTools protocol: sets exact viewports.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (Method::POST, Some(body.to_string()))
    }
}

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

/// Where screenshots go: `target/screenshots/` of this workspace (or of `CARGO_TARGET_DIR`).
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).expect("creating target/screenshots");
    dir
}

async fn set_viewport(browser: &Client, viewport: Viewport) {
    browser
        .issue_cmd(Cdp {
            cmd: "Emulation.setDeviceMetricsOverride",
            params: json!({
                "width": viewport.width,
                "height": viewport.height,
                "deviceScaleFactor": 1,
                "mobile": viewport.mobile,
            }),
        })
        .await
        .expect("setting the viewport");
}

/// Screenshots of the current page at each viewport, as `<page>-<viewport>.png`, plus
/// `<page>-<viewport>-full.png` of the whole page when it is taller than the viewport; the
/// browser is left at (about) the desktop viewport.
async fn screenshots(browser: &Client, page: &str) {
    assert_accessible(browser, page).await;
    let dir = screenshot_dir();
    for viewport in [PHONE, DESKTOP] {
        set_viewport(browser, viewport).await;
        let width = browser
            .execute("return document.documentElement.clientWidth", vec![])
            .await
            .expect("reading the layout width");
        assert_eq!(
            width,
            json!(viewport.width),
            "{page} at {} width",
            viewport.name
        );
        let overflow = browser
            .execute(
                "return document.documentElement.scrollWidth > document.documentElement.clientWidth",
                vec![],
            )
            .await
            .expect("reading the scroll width");
        assert_eq!(
            overflow,
            json!(false),
            "the {page} page scrolls sideways at {} width",
            viewport.name
        );
        save_screenshot(browser, &dir.join(format!("{page}-{}.png", viewport.name))).await;
        // What lies below the fold, too: the whole page at the same width.
        let height = browser
            .execute("return document.documentElement.scrollHeight", vec![])
            .await
            .expect("reading the page height")
            .as_u64()
            .and_then(|h| u32::try_from(h).ok())
            .unwrap_or(viewport.height);
        if height > viewport.height {
            set_viewport(browser, Viewport { height, ..viewport }).await;
            save_screenshot(
                browser,
                &dir.join(format!("{page}-{}-full.png", viewport.name)),
            )
            .await;
        }
    }
}

async fn save_screenshot(browser: &Client, path: &Path) {
    let png = browser.screenshot().await.expect("taking a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(path, png).expect("writing the screenshot");
}

async fn wait_for(browser: &Client, css: &str) -> fantoccini::elements::Element {
    match browser
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
    {
        Ok(element) => element,
        Err(e) => {
            let url = browser.current_url().await.map(|u| u.to_string());
            let source = browser.source().await.unwrap_or_default();
            panic!("{css} did not appear: {e}; the browser is at {url:?}:\n{source}")
        }
    }
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
    let driver = Chromedriver::start(&chromedriver, profile.path());
    let mut capabilities = Capabilities::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--lang=en-US",
                "--window-size=1280,800",
                format!("--user-data-dir={}", profile.path().join("chromium").display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let browser = ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .unwrap_or_else(|e| panic!("starting a Chromium session: {e}\n{}", driver.logs()));

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
    wait_for(&browser, "#sign-out").await;
    let url = browser.current_url().await.expect("current URL");
    assert_eq!(url.path(), "/account/apps", "{url}");
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

/// Runs axe-core on the page as it stands and fails on any violation, naming the rule, its
/// impact and the elements. The script is injected through WebDriver, which the page's CSP does
/// not govern; the page itself still runs no script.
async fn assert_accessible(browser: &Client, page: &str) {
    let axe = AXE
        .get()
        .expect("axe-core is loaded at the start of the test");
    browser
        .execute(axe, vec![])
        .await
        .expect("injecting axe-core");
    let result = browser
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            axe.run(document, {
                runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] }
            }).then(
                (r) => done({
                    passes: r.passes.length,
                    violations: r.violations.map((v) => ({
                        id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.map((n) => n.target.join(" ")),
                    })),
                }),
                (e) => done({ error: String(e) }),
            );"#,
            vec![],
        )
        .await
        .expect("running axe-core");
    assert!(
        result["passes"].as_u64().is_some_and(|n| n > 0),
        "axe-core checked nothing on the {page} page: {result}"
    );
    assert_eq!(
        result["violations"],
        json!([]),
        "the {page} page has accessibility violations (axe-core): {result:#}"
    );
}
