//! Getting back in, in a real browser (headless Chromium through chromedriver, against the real
//! binary, `serve all` in dev mode, so mails are `.eml` files read back from its data
//! directory): "Forgot password?" from the login page, the mailed link, a refused and then an
//! accepted new password, signing in with it; and creating an account with its confirmation.
//! Every page is checked with axe-core (WCAG 2 AA), and screenshots at phone and desktop width
//! go to `target/screenshots/{forgot-password,reset-password,register}-*.png`.

use std::path::Path;

use fantoccini::{Client, Locator};

use crate::browser_kit::{
    AXE, INSTALL, INSTALL_AXE, axe_source, chromium_session, screenshots, wait_for, which,
};
use crate::gatehouse;

const TEST: &str = "password_reset_and_registration_in_headless_chromium";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_and_registration_in_headless_chromium() {
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
        .env("GATEHOUSE_SELF_REGISTRATION", "true")
        .start();
    server.admin_cli(
        &[
            "users",
            "create",
            "--username",
            "dora",
            "--email",
            "dora@example.com",
            "--email-verified",
            "--password-stdin",
        ],
        Some("doras first password\n"),
    );
    let issuer = format!("http://127.0.0.1:{}", server.public);
    let mail_dir = server.data_dir.path().join("mail");

    let profile = tempfile::tempdir().expect("temp dir");
    let (_driver, browser) = chromium_session(&chromedriver, &chromium, profile.path()).await;
    let flow = tokio::spawn(drive(browser.clone(), issuer, mail_dir));
    let outcome = flow.await;
    let _ = browser.close().await;
    if let Err(e) = outcome {
        eprintln!("gatehouse log:\n{}", server.logs());
        std::panic::resume_unwind(e.into_panic());
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

/// The link in the newest `.eml` file to `to` whose path contains `path`, waiting for it.
async fn mailed_link(dir: &Path, to: &str, path: &str) -> String {
    for _ in 0..100 {
        let mut newest: Option<(std::time::SystemTime, String)> = None;
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let Ok(raw) = std::fs::read(entry.path()) else {
                continue;
            };
            let Some(mail) = gatehouse_testkit::mail::parse(&raw) else {
                continue;
            };
            let modified = entry.metadata().and_then(|m| m.modified()).ok();
            if let (true, Some(link), Some(at)) = (mail.to.contains(to), mail.link(path), modified)
                && newest.as_ref().is_none_or(|(t, _)| at > *t)
            {
                newest = Some((at, link));
            }
        }
        if let Some((_, link)) = newest {
            return link;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no mail to {to} with {path} in {}", dir.display());
}

async fn drive(browser: Client, issuer: String, mail_dir: std::path::PathBuf) {
    // The login page offers both ways.
    browser
        .goto(&format!("{issuer}/ui/login"))
        .await
        .expect("opening the login page");
    wait_for(&browser, "#create-account").await;
    click(&browser, "#forgot-password").await;
    wait_for(&browser, "#forgot-form").await;
    screenshots(&browser, "forgot-password").await;
    fill(&browser, "#login", "dora").await;
    click(&browser, "#forgot-submit").await;
    wait_for(&browser, "#reset-sent").await;
    screenshots(&browser, "forgot-password-sent").await;

    let link = mailed_link(&mail_dir, "dora@example.com", "/ui/reset-password").await;
    browser.goto(&link).await.expect("opening the mailed link");
    wait_for(&browser, "#reset-form").await;
    screenshots(&browser, "reset-password").await;
    // A common password is refused and says why.
    fill(&browser, "#new_password", "baseball1").await;
    fill(&browser, "#confirm_password", "baseball1").await;
    click(&browser, "#reset-submit").await;
    wait_for(&browser, "#reset-error").await;
    screenshots(&browser, "reset-password-refused").await;
    fill(&browser, "#new_password", "the new passphrase of dora").await;
    fill(&browser, "#confirm_password", "the new passphrase of dora").await;
    click(&browser, "#reset-submit").await;
    wait_for(&browser, "#password-changed").await;
    screenshots(&browser, "reset-password-done").await;
    click(&browser, "#password-changed-action").await;
    fill(&browser, "#username", "dora").await;
    fill(&browser, "#password", "the new passphrase of dora").await;
    click(&browser, "#login-submit").await;
    wait_for(&browser, "#sign-out").await;
    click(&browser, "#sign-out").await;
    wait_for(&browser, "#signed-out").await;

    // A new account, confirmed by mail.
    browser
        .goto(&format!("{issuer}/ui/register"))
        .await
        .expect("opening the registration page");
    wait_for(&browser, "#register-form").await;
    screenshots(&browser, "register").await;
    fill(&browser, "#username", "erin").await;
    fill(&browser, "#email", "erin@example.com").await;
    fill(&browser, "#new_password", "erins own passphrase").await;
    fill(&browser, "#confirm_password", "erins own passphrase").await;
    click(&browser, "#register-submit").await;
    wait_for(&browser, "#registration-sent").await;
    screenshots(&browser, "register-sent").await;
    let link = mailed_link(&mail_dir, "erin@example.com", "/ui/verify-email").await;
    browser
        .goto(&link)
        .await
        .expect("opening the confirmation link");
    wait_for(&browser, "#verify-form").await;
    screenshots(&browser, "verify-email").await;
    click(&browser, "#verify-submit").await;
    wait_for(&browser, "#email-verified").await;
    screenshots(&browser, "verify-email-done").await;
}
