//! The login page: the form, generic failures, lockout, disabled users, CSRF and the session
//! cookie.

use axum::http::StatusCode;
use std::time::Duration;

use crate::ui::*;

pub const SESSION_COOKIE: &str = "__Host-gatehouse_session";
pub const BROWSER_COOKIE: &str = "__Host-gatehouse_browser";

#[tokio::test]
async fn the_login_form_is_accessible_and_autocompletes() {
    for ui in uis().await {
        let mut b = ui.browser();
        let page = b
            .start(&cli_authorize(SEED_SCOPE, &[("login_hint", "alice")]))
            .await;
        for needle in [
            "<html lang=\"en\">",
            "<label for=\"username\">",
            "name=\"username\" value=\"alice\" autocomplete=\"username\"",
            "<label for=\"password\">",
            "name=\"password\" autocomplete=\"current-password\"",
            "type=\"checkbox\" id=\"remember\" name=\"remember\"",
            "name=\"csrf_token\"",
            "id=\"login-submit\"",
            "Sign in to continue to Neon CLI",
        ] {
            assert!(
                page.body.contains(needle),
                "{}: {needle} missing in {}",
                ui.name,
                page.body
            );
        }
        // No inline script: the one script is the passkey file's.
        assert_eq!(
            page.body.matches("<script").count(),
            page.body
                .matches("<script src=\"/ui/static/passkey.js?v=")
                .count(),
            "no inline script"
        );
    }
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_401() {
    for ui in uis().await {
        let mut b = ui.browser();
        let page = b.start(&cli_authorize(SEED_SCOPE, &[])).await;
        let wrong = b.login(&page, "alice", "not the password", false).await;
        wrong.assert_page(StatusCode::UNAUTHORIZED, &ui.name);
        let unknown = b.login(&page, "mallory", "whatever", false).await;
        unknown.assert_page(StatusCode::UNAUTHORIZED, &ui.name);
        let message = |r: &Page| {
            let start = r.body.find("id=\"login-error\">").unwrap();
            r.body[start..].split('<').next().unwrap().to_owned()
        };
        assert_eq!(message(&wrong), message(&unknown), "{}", ui.name);
        assert!(
            wrong.body.contains("name=\"username\" value=\"alice\""),
            "username kept"
        );
        assert!(b.cookie(SESSION_COOKIE).is_none());
        // The form still works afterwards.
        let ok = b.login(&unknown, "alice", ALICE_PASSWORD, false).await;
        assert!(
            ok.location().starts_with("/ui/consent?challenge="),
            "{}",
            ui.name
        );
    }
}

#[tokio::test]
async fn a_disabled_user_cannot_sign_in() {
    for ui in uis().await {
        let mut b = ui.browser();
        let page = b.start(&cli_authorize(SEED_SCOPE, &[])).await;
        let reply = b.login(&page, "bob", BOB_PASSWORD, false).await;
        reply.assert_page(StatusCode::UNAUTHORIZED, &ui.name);
        assert!(
            reply
                .body
                .contains("The username or password is not correct.")
        );
        assert!(b.cookie(SESSION_COOKIE).is_none());
    }
}

#[tokio::test]
async fn a_disabled_account_is_named_only_when_revealing_is_on_and_the_password_is_right() {
    const GENERIC: &str = "The username or password is not correct.";
    const DISABLED: &str = "This account is disabled.";
    for reveal in [false, true] {
        for ui in uis_with(|c| c.reveal_disabled = reveal).await {
            let context = format!("{} (reveal_disabled={reveal})", ui.name);
            let mut b = ui.browser();
            let page = b.start(&cli_authorize(SEED_SCOPE, &[])).await;
            let right = b.login(&page, "bob", BOB_PASSWORD, false).await;
            right.assert_page(StatusCode::UNAUTHORIZED, &context);
            assert_eq!(
                right.body.contains(DISABLED),
                reveal,
                "{context}: {}",
                right.body
            );
            assert_eq!(right.body.contains(GENERIC), !reveal, "{context}");
            // A wrong password for a disabled user says nothing about the account.
            let wrong = b.login(&page, "bob", "not bob's password", false).await;
            wrong.assert_page(StatusCode::UNAUTHORIZED, &context);
            assert!(wrong.body.contains(GENERIC), "{context}: {}", wrong.body);
            assert!(!wrong.body.contains(DISABLED), "{context}");
            assert!(b.cookie(SESSION_COOKIE).is_none(), "{context}");
        }
    }
}

#[tokio::test]
async fn five_failures_lock_the_username_and_a_success_resets_the_count() {
    for ui in uis().await {
        let mut b = ui.browser();
        let page = b.start(&cli_authorize(SEED_SCOPE, &[])).await;
        // Four failures, a success: the counter starts again.
        for _ in 0..4 {
            b.login(&page, "carol", "wrong", false)
                .await
                .assert_page(StatusCode::UNAUTHORIZED, &ui.name);
        }
        let ok = b.login(&page, "carol", CAROL_PASSWORD, false).await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ui.name);
        let page = b
            .start(&cli_authorize(SEED_SCOPE, &[("prompt", "login")]))
            .await;
        for _ in 0..4 {
            b.login(&page, "carol", "wrong", false)
                .await
                .assert_page(StatusCode::UNAUTHORIZED, &ui.name);
        }
        assert_eq!(
            b.login(&page, "carol", CAROL_PASSWORD, false).await.status,
            StatusCode::SEE_OTHER
        );

        // Five failures for alice: locked, even with the right password, in any case.
        let page = b
            .start(&cli_authorize(SEED_SCOPE, &[("prompt", "login")]))
            .await;
        for attempt in 1..=4 {
            let refused = b.login(&page, "alice", "wrong", false).await;
            refused.assert_page(StatusCode::UNAUTHORIZED, &ui.name);
            // The attempt before the lock warns that the next failure locks.
            assert_eq!(
                refused.body.contains("One more failed attempt"),
                attempt == 4,
                "{}: attempt {attempt}",
                ui.name
            );
        }
        // The fifth failure locks at once and says for how long.
        let locked = b.login(&page, "alice", "wrong", false).await;
        locked.assert_page(StatusCode::TOO_MANY_REQUESTS, &ui.name);
        assert!(
            locked
                .body
                .contains("Too many failed sign-in attempts. Try again in 15 minutes."),
            "{}",
            locked.body
        );
        let retry_after: u64 = locked.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((899..=900).contains(&retry_after), "{retry_after}");
        let locked = b.login(&page, "alice", ALICE_PASSWORD, false).await;
        locked.assert_page(StatusCode::TOO_MANY_REQUESTS, &ui.name);
        assert!(
            locked.body.contains("Too many failed sign-in attempts"),
            "{}",
            locked.body
        );
        let locked = b.login(&page, "ALICE", ALICE_PASSWORD, false).await;
        assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
        // Another user from the same address is not affected.
        let ok = b.login(&page, "carol", CAROL_PASSWORD, false).await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ui.name);
    }
}

#[tokio::test]
async fn failures_are_counted_per_client_ip() {
    let configure = |s: &mut gatehouse_token::TokenSettings| {
        s.lockout.max_failures_per_ip = 3;
        s.lockout.lockout = Duration::from_secs(60);
    };
    for ui in uis_with_token(configure).await {
        let mut attacker = ui.browser_from("198.51.100.9:5000");
        let page = attacker.start(&cli_authorize(SEED_SCOPE, &[])).await;
        for user in ["mallory", "trent"] {
            attacker
                .login(&page, user, "guess", false)
                .await
                .assert_page(StatusCode::UNAUTHORIZED, &ui.name);
        }
        // The third failure from the address blocks it, and says so.
        attacker
            .login(&page, "victor", "guess", false)
            .await
            .assert_page(StatusCode::TOO_MANY_REQUESTS, &ui.name);
        let blocked = attacker.login(&page, "alice", ALICE_PASSWORD, false).await;
        blocked.assert_page(StatusCode::TOO_MANY_REQUESTS, &ui.name);

        let mut user = ui.browser_from("203.0.113.20:6000");
        let page = user.start(&cli_authorize(SEED_SCOPE, &[])).await;
        let ok = user.login(&page, "alice", ALICE_PASSWORD, false).await;
        assert_eq!(
            ok.status,
            StatusCode::SEE_OTHER,
            "{}: another IP is fine",
            ui.name
        );
    }
}

#[tokio::test]
async fn a_login_form_without_or_with_a_foreign_csrf_token_is_refused() {
    for ui in uis().await {
        let mut b = ui.browser();
        let page = b.start(&cli_authorize(SEED_SCOPE, &[])).await;
        let challenge = page.field("challenge");
        let missing = b
            .post(
                "/ui/login",
                &[
                    ("challenge", &challenge),
                    ("username", "alice"),
                    ("password", ALICE_PASSWORD),
                ],
            )
            .await;
        missing.assert_page(StatusCode::FORBIDDEN, &ui.name);

        // A token minted for another browser does not work in this one.
        let mut other = ui.browser();
        let other_page = other.start(&cli_authorize(SEED_SCOPE, &[])).await;
        let foreign = b
            .post(
                "/ui/login",
                &[
                    ("csrf_token", &other_page.field("csrf_token")),
                    ("challenge", &challenge),
                    ("username", "alice"),
                    ("password", ALICE_PASSWORD),
                ],
            )
            .await;
        foreign.assert_page(StatusCode::FORBIDDEN, &ui.name);

        // Nor does this browser's token once its cookie is gone.
        b.forget_cookie(BROWSER_COOKIE);
        let no_cookie = b.login(&page, "alice", ALICE_PASSWORD, false).await;
        assert!(
            matches!(
                no_cookie.status,
                StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST
            ),
            "{}",
            ui.name
        );
        assert!(b.cookie(SESSION_COOKIE).is_none());
    }
}

#[tokio::test]
async fn the_session_cookie_is_httponly_lax_secure_and_persistent_only_when_remembered() {
    for ui in uis().await {
        let mut b = ui.browser();
        let page = b.start(&cli_authorize(SEED_SCOPE, &[])).await;
        let reply = b.login(&page, "alice", ALICE_PASSWORD, false).await;
        let cookie = reply
            .set_cookies()
            .into_iter()
            .find(|c| c.starts_with(SESSION_COOKIE))
            .unwrap()
            .to_owned();
        for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
            assert!(cookie.contains(attr), "{}: {cookie}", ui.name);
        }
        assert!(
            !cookie.contains("Max-Age"),
            "a browser-session cookie: {cookie}"
        );

        let page = b
            .start(&cli_authorize(SEED_SCOPE, &[("prompt", "login")]))
            .await;
        let reply = b.login(&page, "alice", ALICE_PASSWORD, true).await;
        let cookies = reply.set_cookies();
        let cookie = cookies
            .iter()
            .find(|c| c.starts_with(SESSION_COOKIE))
            .unwrap();
        assert!(
            cookie.contains(&format!("Max-Age={}", 14 * 24 * 3600)),
            "{}: {cookie}",
            ui.name
        );
    }
}

#[tokio::test]
async fn a_live_session_skips_the_login_page_and_prompt_login_keeps_remembered_consent() {
    for ui in uis().await {
        let mut b = ui.browser();
        let params = b.authorize_alice(SEED_SCOPE, true).await;
        assert!(params.contains_key("code"));
        // Signed in and consent remembered: straight back to the client.
        let reply = b.get(&cli_authorize(SEED_SCOPE, &[])).await;
        let (base, params) = reply.redirect_params();
        assert_eq!(base, CLI_REDIRECT, "{}", ui.name);
        assert!(params.contains_key("code"));
        // prompt=login asks for the password again, then skips the remembered consent.
        let page = b
            .start(&cli_authorize(SEED_SCOPE, &[("prompt", "login")]))
            .await;
        let reply = b.login(&page, "alice", ALICE_PASSWORD, false).await;
        let (base, params) = reply.redirect_params();
        assert_eq!(base, CLI_REDIRECT, "{}", ui.name);
        assert!(params.contains_key("code"));
        assert_eq!(params["state"], "xyz");
    }
}
