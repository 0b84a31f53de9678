//! The partner portal in a real browser (headless Chromium through chromedriver, against the
//! real binary, `serve all`): a partner signs in through the portal, requests an app (after a
//! first try with every field empty), sees it pending; once approved through the admin API, sees
//! its client id and reveals its secret once. Every page is checked with axe-core, and
//! screenshots at phone and desktop width go to `target/screenshots/developers-*.png`.

use fantoccini::{Client, Locator};
use serde_json::json;

use gatehouse_testkit::e2e::Partner;

use crate::browser_kit::{
    AXE, INSTALL, INSTALL_AXE, axe_source, chromium_session, screenshots, wait_for, which,
};
use crate::gatehouse;

const TEST: &str = "the_partner_portal_in_headless_chromium";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_partner_portal_in_headless_chromium() {
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
    let admin = format!("http://127.0.0.1:{}", server.admin);
    // The scopes of the catalogue and the partner's account.
    let partner = Partner::register(&server, "http://127.0.0.1:9/callback", None);

    let profile = tempfile::tempdir().expect("temp dir");
    let (_driver, browser) = chromium_session(&chromedriver, &chromium, profile.path()).await;
    let flow = tokio::spawn(drive(browser.clone(), issuer, admin, partner));
    let outcome = flow.await;
    let _ = browser.close().await;
    if let Err(e) = outcome {
        eprintln!("gatehouse log:\n{}", server.logs());
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn fill(browser: &Client, css: &str, text: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
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

async fn drive(browser: Client, issuer: String, admin: String, partner: Partner) {
    // Signed out, the portal leads to the sign-in page, which says where accounts come from.
    browser
        .goto(&format!("{issuer}/developers"))
        .await
        .expect("opening the portal");
    wait_for(&browser, "#portal-sign-in-hint").await;
    screenshots(&browser, "developers-sign-in").await;
    fill(&browser, "#username", partner.username).await;
    fill(&browser, "#password", partner.password).await;
    click(&browser, "#login-submit").await;

    // Back on the portal: nothing requested yet.
    wait_for(&browser, "#no-requests").await;
    screenshots(&browser, "developers-empty").await;

    // The request form; sent empty first, every problem is named next to its field.
    click(&browser, "#new-app").await;
    wait_for(&browser, "#app-form").await;
    screenshots(&browser, "developers-new").await;
    click(&browser, "#app-submit").await;
    wait_for(&browser, "#form-errors").await;
    wait_for(&browser, "#name-error").await;
    screenshots(&browser, "developers-new-errors").await;

    fill(&browser, "#name", "Neon Sync").await;
    fill(
        &browser,
        "#description",
        "Backs up your projects every night.",
    )
    .await;
    fill(&browser, "#website", "https://sync.example.com").await;
    fill(&browser, "#contact_name", "Ada Lovelace").await;
    fill(&browser, "#reason", "Nightly backups for our customers.").await;
    fill(
        &browser,
        "#redirect_uris",
        "https://sync.example.com/callback\nhttp://127.0.0.1/callback",
    )
    .await;
    click(
        &browser,
        "input[name=\"scopes\"][value=\"urn:neoncloud:projects:read\"]",
    )
    .await;
    click(&browser, "#confidential-yes").await;
    click(&browser, "#app-submit").await;

    // Pending.
    let request = wait_for(&browser, "li.request[data-status=\"pending\"]").await;
    let id = request
        .attr("data-request-id")
        .await
        .expect("reading the request id")
        .expect("a request id");
    wait_for(&browser, "#portal-notice").await;
    screenshots(&browser, "developers-pending").await;

    // An operator approves it through the admin API.
    let http = reqwest::Client::new();
    let approved = http
        .post(format!("{admin}/admin/registration-requests/{id}/approve"))
        .json(&json!({}))
        .send()
        .await
        .expect("approving through the admin API");
    assert!(
        approved.status().is_success(),
        "approve: {} {}",
        approved.status(),
        approved.text().await.unwrap_or_default()
    );
    let approved: serde_json::Value = approved.json().await.expect("the approved request");
    let client_id = approved["client_id"]
        .as_str()
        .expect("the new client's id")
        .to_owned();

    // The partner sees the client id, and the secret once.
    browser
        .goto(&format!("{issuer}/developers"))
        .await
        .expect("reloading the portal");
    let shown = wait_for(&browser, "code.client-id").await;
    assert_eq!(shown.text().await.expect("the client id"), client_id);
    screenshots(&browser, "developers-approved").await;
    click(&browser, &format!("#reveal-{id} button")).await;
    let secret = wait_for(&browser, "#client-secret")
        .await
        .text()
        .await
        .expect("the secret");
    assert!(secret.len() >= 32, "{secret}");
    screenshots(&browser, "developers-secret").await;

    // Once: back on the list there is no reveal, only a rotation.
    browser
        .goto(&format!("{issuer}/developers"))
        .await
        .expect("reloading the portal");
    wait_for(&browser, "a.rotate").await;
    assert!(
        browser
            .find(Locator::Css(&format!("#reveal-{id}")))
            .await
            .is_err(),
        "the secret can be revealed once only"
    );
    let page = browser.source().await.expect("the page");
    assert!(!page.contains(&secret), "the secret is not shown again");
}
