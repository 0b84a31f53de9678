//! A partner onboarded from request to first token, in a real browser and without a terminal
//! (headless Chromium, `browser_kit.rs`, against the real binary, `serve all`):
//!
//! 1. the partner signs into the portal and requests two apps, then signs out;
//! 2. an operator signs into the console, approves the first and rejects the second with a reason;
//! 3. the partner signs in again, sees the rejection's reason, and the approved app's client id
//!    and secret, once;
//! 4. the new client, driven by an ordinary OpenID Connect library (the `openidconnect` crate),
//!    completes an authorization-code flow with PKCE through the login and consent pages, and
//!    the library verifies the ID token.
//!
//! axe-core checks every page (`browser_kit::screenshots` does, with the screenshots of
//! `target/screenshots/onboarding-*.png`).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use fantoccini::{Client, Locator};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpRequest, HttpResponse, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use serde_json::json;

use gatehouse_testkit::e2e::{Partner, Server};
use gatehouse_testkit::http::serve;

use crate::browser_kit::{
    AXE, INSTALL, INSTALL_AXE, axe_source, chromium_session, screenshots, wait_for, which,
};
use crate::gatehouse;

const TEST: &str = "a_partner_is_onboarded_from_request_to_first_token_in_headless_chromium";
const OPERATOR_PASSWORD: &str = "correct horse battery";
const REJECTION: &str = "Scraping customers' projects is not something we allow.";

/// The queries that reached the new app's loopback callback.
type Callbacks = Arc<Mutex<Vec<HashMap<String, String>>>>;

async fn callback(
    State(seen): State<Callbacks>,
    Query(query): Query<HashMap<String, String>>,
) -> axum::response::Html<&'static str> {
    seen.lock().expect("lock").push(query);
    axum::response::Html(
        "<!doctype html><html lang=\"en\"><title>Neon Sync</title><p id=\"done\">Connected.</p>",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_is_onboarded_from_request_to_first_token_in_headless_chromium() {
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
    // The scope catalogue and the partner's account.
    let partner = Partner::register(&server, "http://127.0.0.1:9/callback", None);
    let created = reqwest::Client::new()
        .post(Server::url(server.admin, "/admin/users"))
        .json(
            &json!({"username": "operator", "password": OPERATOR_PASSWORD,
            "name": "Olivia Operator", "roles": ["admin"]}),
        )
        .send()
        .await
        .expect("creating the operator");
    assert!(created.status().is_success(), "{}", created.status());

    let seen = Callbacks::default();
    let app = serve(
        axum::Router::new()
            .route("/callback", axum::routing::get(callback))
            .with_state(seen.clone()),
    )
    .await;

    let profile = tempfile::tempdir().expect("temp dir");
    let (_driver, browser) = chromium_session(&chromedriver, &chromium, profile.path()).await;
    let journey = Journey {
        browser: browser.clone(),
        issuer: format!("http://127.0.0.1:{}", server.public),
        admin: Server::url(server.admin, ""),
        redirect_uri: format!("{}/callback", app.url),
        partner,
        seen,
    };
    let outcome = tokio::spawn(journey.run()).await;
    let _ = browser.close().await;
    if let Err(e) = outcome {
        eprintln!("gatehouse log:\n{}", server.logs());
        std::panic::resume_unwind(e.into_panic());
    }
}

struct Journey {
    browser: Client,
    issuer: String,
    admin: String,
    redirect_uri: String,
    partner: Partner,
    seen: Callbacks,
}

impl Journey {
    async fn click(&self, css: &str) {
        wait_for(&self.browser, css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    async fn fill(&self, css: &str, text: &str) {
        wait_for(&self.browser, css)
            .await
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("typing into {css}: {e}"));
    }

    async fn goto(&self, url: &str) {
        self.browser
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    async fn text(&self, css: &str) -> String {
        wait_for(&self.browser, css)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("reading {css}: {e}"))
    }

    /// Signs out of the login session and waits for the signed-out page: a click returns before
    /// the form's redirects end, and a navigation started meanwhile would race them.
    async fn sign_out_of_gatehouse(&self) {
        self.click("#sign-out").await;
        wait_for(&self.browser, "#signed-out").await;
    }

    async fn sign_in(&self, username: &str, password: &str) {
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.click("#login-submit").await;
    }

    /// The ids of the requests the portal's list shows.
    async fn request_ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        for request in self
            .browser
            .find_all(Locator::Css("li.request"))
            .await
            .expect("the requests")
        {
            ids.push(
                request
                    .attr("data-request-id")
                    .await
                    .expect("reading a request id")
                    .expect("a request id"),
            );
        }
        ids
    }

    /// Requests an app in the portal; the new request's id.
    async fn request_app(&self, name: &str, scopes: &[&str]) -> String {
        let before = self.request_ids().await;
        self.click("#new-app").await;
        self.fill("#name", name).await;
        self.fill("#description", "Backs up your projects every night.")
            .await;
        self.fill("#website", "https://sync.example.com").await;
        self.fill("#contact_name", "Ada Lovelace").await;
        self.fill("#reason", "Nightly backups for our customers.")
            .await;
        self.fill("#redirect_uris", &self.redirect_uri).await;
        for scope in scopes {
            self.click(&format!("input[name=\"scopes\"][value=\"{scope}\"]"))
                .await;
        }
        self.click("#confidential-yes").await;
        self.click("#app-submit").await;
        wait_for(&self.browser, "#portal-notice").await;
        self.request_ids()
            .await
            .into_iter()
            .find(|id| !before.contains(id))
            .expect("the new request in the list")
    }

    async fn run(self) {
        // 1. The partner requests two apps.
        self.goto(&format!("{}/developers", self.issuer)).await;
        self.sign_in(self.partner.username, self.partner.password)
            .await;
        wait_for(&self.browser, "#no-requests").await;
        let wanted = self
            .request_app("Neon Sync", &["openid", "urn:neoncloud:projects:read"])
            .await;
        let refused = self
            .request_app("Project Scraper", &["urn:neoncloud:projects:read"])
            .await;
        screenshots(&self.browser, "onboarding-requested").await;
        self.sign_out_of_gatehouse().await;

        // 2. An operator reviews them in the console.
        self.goto(&format!("{}/console/requests", self.admin)).await;
        self.sign_in("operator", OPERATOR_PASSWORD).await;
        wait_for(&self.browser, "#requests").await;
        screenshots(&self.browser, "onboarding-queue").await;
        self.goto(&format!("{}/console/requests/{wanted}", self.admin))
            .await;
        wait_for(&self.browser, "#approve-form").await;
        self.click("#approve").await;
        let client_id = self.text("#client-id").await;
        assert!(!client_id.trim().is_empty());
        screenshots(&self.browser, "onboarding-approved").await;
        self.goto(&format!("{}/console/requests/{refused}", self.admin))
            .await;
        self.fill("#review_reason", REJECTION).await;
        self.click("#reject").await;
        assert_eq!(self.text("#review-reason").await.trim(), REJECTION);
        self.click("#sign-out").await;
        wait_for(&self.browser, "#sign-in").await;
        // The operator's login session ends too, so the partner signs in as themselves.
        self.goto(&format!("{}/account", self.issuer)).await;
        if self.browser.find(Locator::Css("#sign-out")).await.is_ok() {
            self.sign_out_of_gatehouse().await;
        }

        // 3. The partner sees both answers, and the secret once.
        self.goto(&format!("{}/developers", self.issuer)).await;
        self.sign_in(self.partner.username, self.partner.password)
            .await;
        let reason = self
            .text(&format!(
                "#request-{refused}[data-status=\"rejected\"] .review-reason"
            ))
            .await;
        assert!(reason.contains(REJECTION), "the reason is shown: {reason}");
        let shown = self
            .text(&format!("#request-{wanted} code.client-id"))
            .await;
        assert_eq!(shown.trim(), client_id.trim());
        screenshots(&self.browser, "onboarding-answers").await;
        self.click(&format!("#reveal-{wanted} button")).await;
        let secret = self.text("#client-secret").await;
        self.goto(&format!("{}/developers", self.issuer)).await;
        wait_for(&self.browser, &format!("#request-{wanted}")).await;
        assert!(
            self.browser
                .find(Locator::Css(&format!("#reveal-{wanted}")))
                .await
                .is_err(),
            "the secret is revealed once only"
        );

        // 4. The new client's first sign-in, driven by an OpenID Connect library.
        self.first_token(client_id.trim(), secret.trim()).await;
    }

    async fn first_token(&self, client_id: &str, secret: &str) {
        let http = http_client();
        let metadata = CoreProviderMetadata::discover_async(
            IssuerUrl::new(self.issuer.clone()).unwrap(),
            &http,
        )
        .await
        .expect("discovery");
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client_id.to_owned()),
            Some(ClientSecret::new(secret.to_owned())),
        )
        .set_redirect_uri(RedirectUrl::new(self.redirect_uri.clone()).unwrap());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("urn:neoncloud:projects:read".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        self.goto(url.as_str()).await;
        // Signed in already: the consent page names the new app.
        wait_for(&self.browser, "#consent-allow").await;
        let page = self.browser.source().await.expect("the consent page");
        assert!(page.contains("Neon Sync"), "the consent page names the app");
        screenshots(&self.browser, "onboarding-consent").await;
        self.click("#consent-allow").await;
        wait_for(&self.browser, "#done").await;

        let deadline = Instant::now() + Duration::from_secs(10);
        let query = loop {
            if let Some(q) = self.seen.lock().expect("lock").first().cloned() {
                break q;
            }
            assert!(Instant::now() < deadline, "the callback was not reached");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(query.get("state"), Some(state.secret()));
        let code = query.get("code").expect("a code at the callback").clone();
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .expect("a token endpoint")
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("the code exchange: {e:?}"));
        let claims = tokens
            .id_token()
            .expect("an ID token")
            .claims(&client.id_token_verifier(), &nonce)
            .unwrap_or_else(|e| panic!("the ID token: {e:?}"));
        assert!(!claims.subject().as_str().is_empty());
        assert!(!tokens.access_token().secret().is_empty());
    }
}

/// The library's HTTP client: reqwest behind a closure, redirects off.
fn http_client() -> impl Fn(
    HttpRequest,
) -> std::pin::Pin<
    Box<dyn Future<Output = Result<HttpResponse, reqwest::Error>> + Send>,
> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    move |request: HttpRequest| {
        let http = http.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let response = http
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let mut out = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                out = out.header(name, value);
            }
            Ok(out
                .body(response.bytes().await?.to_vec())
                .expect("a response"))
        })
    }
}
