//! The operator console in a real browser (headless Chromium, `browser_kit.rs`) against the real
//! binary: an operator made through the admin API with the role `admin` signs in on the login
//! page, creates an app, and visits every page of the console. Every page is checked with
//! axe-core and shot at phone and desktop width (`target/screenshots/console-*.png`).

use fantoccini::{Client, Locator};
use serde_json::json;

use gatehouse_testkit::e2e::Server;

use crate::browser_kit::{
    AXE, INSTALL, INSTALL_AXE, axe_source, chromium_session, screenshots, wait_for, which,
};
use crate::gatehouse;

const TEST: &str = "an_operator_uses_the_console_in_headless_chromium";
const PASSWORD: &str = "correct horse battery";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_uses_the_console_in_headless_chromium() {
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
    let http = reqwest::Client::new();
    for (username, name, roles) in [
        ("operator", "Olivia Operator", json!(["admin"])),
        ("alice", "Alice Example", json!([])),
    ] {
        let created = http
            .post(Server::url(server.admin, "/admin/users"))
            .json(
                &json!({"username": username, "password": PASSWORD, "name": name, "roles": roles}),
            )
            .send()
            .await
            .expect("creating a user");
        assert!(created.status().is_success(), "{username}");
    }

    // A partner's pending registration request, submitted as the portal does.
    let partner = http
        .get(Server::url(server.admin, "/admin/users?username=alice"))
        .send()
        .await
        .expect("reading alice")
        .json::<serde_json::Value>()
        .await
        .expect("alice as JSON")[0]["id"]
        .as_str()
        .expect("alice's id")
        .to_owned();
    let request = crate::console::submit_request(&server, &partner, "Neon Projects").await;

    let profile = tempfile::tempdir().expect("temp dir");
    let (_driver, browser) = chromium_session(&chromedriver, &chromium, profile.path()).await;
    let flow = tokio::spawn(drive(
        browser.clone(),
        Server::url(server.admin, ""),
        request,
    ));
    let outcome = flow.await;
    let _ = browser.close().await;
    if let Err(e) = outcome {
        eprintln!("gatehouse log:\n{}", server.logs());
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn click(browser: &Client, css: &str) {
    wait_for(browser, css)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
}

async fn fill(browser: &Client, css: &str, text: &str) {
    wait_for(browser, css)
        .await
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("typing into {css}: {e}"));
}

async fn drive(browser: Client, admin: String, request: String) {
    // No session: the login page of the issuer, then back to the console.
    browser
        .goto(&format!("{admin}/console"))
        .await
        .expect("opening the console");
    fill(&browser, "#username", "operator").await;
    fill(&browser, "#password", PASSWORD).await;
    click(&browser, "#login-submit").await;
    wait_for(&browser, "#new-app").await;
    assert!(
        browser
            .current_url()
            .await
            .expect("url")
            .as_str()
            .starts_with(&format!("{admin}/console/apps")),
    );
    screenshots(&browser, "console-apps-empty").await;

    // The pending request: its page, then approved as requested.
    click(&browser, "a[href=\"/console/requests\"]").await;
    wait_for(&browser, "#requests").await;
    screenshots(&browser, "console-requests").await;
    click(&browser, &format!("tr[data-request-id=\"{request}\"] a")).await;
    wait_for(&browser, "#approve-form").await;
    screenshots(&browser, "console-request").await;
    click(&browser, "#approve").await;
    wait_for(&browser, "#client-id").await;
    let status = wait_for(&browser, "#request-status").await;
    assert_eq!(status.text().await.expect("status"), "Approved");
    screenshots(&browser, "console-request-approved").await;
    click(&browser, "a[href=\"/console/apps\"]").await;
    wait_for(&browser, "#new-app").await;

    // A new app through the form.
    click(&browser, "#new-app").await;
    wait_for(&browser, "#app-form").await;
    screenshots(&browser, "console-app-new").await;
    fill(&browser, "#name", "Neon Projects").await;
    fill(&browser, "#description", "Reads and creates projects").await;
    fill(&browser, "#website", "https://partner.example.com").await;
    fill(
        &browser,
        "#redirect_uris",
        "https://partner.example.com/callback",
    )
    .await;
    fill(
        &browser,
        "#logo_uri",
        "https://partner.example.com/logo.png",
    )
    .await;
    click(&browser, "#save").await;
    let secret = wait_for(&browser, "#client-secret").await;
    assert!(!secret.text().await.expect("secret").trim().is_empty());
    screenshots(&browser, "console-app-secret").await;
    click(&browser, "#to-app").await;
    wait_for(&browser, "#app-facts").await;
    screenshots(&browser, "console-app").await;
    click(&browser, "#delete").await;
    wait_for(&browser, "#delete-warning").await;
    screenshots(&browser, "console-app-delete").await;

    for (path, ready, name) in [
        ("/console/apps", "#apps", "console-apps"),
        ("/console/scopes", "#scopes", "console-scopes"),
        ("/console/users", "#users", "console-users"),
        ("/console/keys", "#keys", "console-keys"),
        ("/console/audit", "#audit-filters", "console-audit"),
    ] {
        browser
            .goto(&format!("{admin}{path}"))
            .await
            .unwrap_or_else(|e| panic!("opening {path}: {e}"));
        wait_for(&browser, ready).await;
        screenshots(&browser, name).await;
    }
    // A user's page, from the list.
    browser
        .goto(&format!("{admin}/console/users"))
        .await
        .expect("opening the users");
    wait_for(&browser, "#users").await;
    browser
        .find(Locator::Css("#users a"))
        .await
        .expect("a user link")
        .click()
        .await
        .expect("opening a user");
    wait_for(&browser, "#roles-form").await;
    screenshots(&browser, "console-user").await;

    // In German, after the switcher.
    browser
        .find(Locator::Css(".languages a[lang=\"de\"]"))
        .await
        .expect("the German link")
        .click()
        .await
        .expect("switching to German");
    wait_for(&browser, "html[lang=\"de\"] #roles-form").await;
    screenshots(&browser, "console-user-de").await;

    // Signing out.
    click(&browser, "#sign-out").await;
    wait_for(&browser, "#sign-in").await;
    screenshots(&browser, "console-signed-out").await;
}
