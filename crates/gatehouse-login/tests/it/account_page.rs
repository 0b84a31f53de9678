//! The account page (`/account`): profile, password, email address, and where the user is
//! signed in. The attacker here holds a signed-in session (a borrowed laptop, a stolen cookie)
//! but not the password: they must not be able to take the account over from this page.

use axum::http::StatusCode;
use gatehouse_testkit::mail::SmtpSink;

use crate::recovery::{local, mailing_uis};
use crate::ui::*;

const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";
const SAFARI_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
const NEW_PASSWORD: &str = "a different passphrase for alice";

/// A browser from `addr` with `agent`, signed in as `username` (not remembered).
async fn signed_in<'u>(
    ui: &'u Ui,
    addr: &str,
    agent: &str,
    username: &str,
    password: &str,
) -> Browser<'u> {
    let mut b = ui.browser_from(addr);
    b.user_agent = Some(agent.to_owned());
    let login = b.get("/ui/login").await;
    login.assert_page(StatusCode::OK, &ui.name);
    let reply = b.login(&login, username, password, false).await;
    assert_eq!(reply.location(), "/account", "{}: {}", ui.name, reply.body);
    b
}

/// The account page, asserted to be one.
async fn account(b: &mut Browser<'_>) -> Page {
    let page = b.get("/account").await;
    page.assert_page(StatusCode::OK, b.name());
    assert!(page.body.contains("id=\"profile-form\""), "{}", page.body);
    page
}

/// Whether `b` is still signed in here.
async fn is_signed_in(b: &mut Browser<'_>) -> bool {
    let page = b.get("/account").await;
    page.status == StatusCode::OK && page.body.contains("id=\"profile-form\"")
}

/// POSTs the form `form_id` of `page` to `action` with its CSRF token and `fields`.
async fn submit(
    b: &mut Browser<'_>,
    page: &Page,
    form_id: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> Page {
    let csrf = page.form_field(form_id, "csrf_token");
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    b.post(action, &form).await
}

async fn change_password(b: &mut Browser<'_>, current: &str, new: &str, confirm: &str) -> Page {
    let page = account(b).await;
    submit(
        b,
        &page,
        "password-form",
        "/account/password",
        &[
            ("current_password", current),
            ("new_password", new),
            ("confirm_password", confirm),
        ],
    )
    .await
}

/// Whether `username` can sign in with `password` in a fresh browser.
async fn password_works(ui: &Ui, username: &str, password: &str) -> bool {
    let mut b = ui.browser_from("192.0.2.200:40000");
    let login = b.get("/ui/login").await;
    let reply = b.login(&login, username, password, false).await;
    reply.status.is_redirection() && reply.location() == "/account"
}

#[tokio::test]
async fn the_account_page_saves_the_profile_and_refuses_what_is_not_a_name_or_picture() {
    for ui in uis().await {
        let mut b = signed_in(
            &ui,
            "203.0.113.10:40000",
            FIREFOX_LINUX,
            "alice",
            ALICE_PASSWORD,
        )
        .await;
        let page = account(&mut b).await;
        for id in [
            "password-form",
            "sessions",
            "connected-apps-link",
            "security-link",
        ] {
            assert!(
                page.body.contains(&format!("id=\"{id}\"")),
                "{id}: {}",
                page.body
            );
        }

        let saved = submit(
            &mut b,
            &page,
            "profile-form",
            "/account/profile",
            &[
                ("name", "  Alice Liddell "),
                ("picture", "https://pics.example.com/alice.png"),
            ],
        )
        .await;
        assert_eq!(saved.location(), "/account?done=profile", "{}", saved.body);
        let user = ui.store().get_user(ALICE).await.unwrap().unwrap();
        assert_eq!(user.name.as_deref(), Some("Alice Liddell"));
        assert_eq!(
            user.picture.as_deref(),
            Some("https://pics.example.com/alice.png")
        );
        let shown = b.follow(&saved).await;
        assert!(
            shown.body.contains("id=\"account-notice\""),
            "{}",
            shown.body
        );
        assert!(
            shown.body.contains("value=\"Alice Liddell\""),
            "{}",
            shown.body
        );

        for picture in [
            "javascript:alert(1)",
            "/relative.png",
            "data:image/png;base64,AAAA",
        ] {
            let refused = submit(
                &mut b,
                &shown,
                "profile-form",
                "/account/profile",
                &[("name", "Mallory"), ("picture", picture)],
            )
            .await;
            refused.assert_page(StatusCode::UNPROCESSABLE_ENTITY, &ui.name);
            assert!(
                refused.body.contains("id=\"profile-error\""),
                "{}",
                refused.body
            );
        }
        let refused = submit(
            &mut b,
            &shown,
            "profile-form",
            "/account/profile",
            &[("name", "bell\u{7}"), ("picture", "")],
        )
        .await;
        refused.assert_page(StatusCode::UNPROCESSABLE_ENTITY, &ui.name);
        let user = ui.store().get_user(ALICE).await.unwrap().unwrap();
        assert_eq!(
            user.name.as_deref(),
            Some("Alice Liddell"),
            "nothing refused was stored"
        );

        // Empty clears.
        let cleared = submit(
            &mut b,
            &shown,
            "profile-form",
            "/account/profile",
            &[("name", ""), ("picture", "")],
        )
        .await;
        assert_eq!(cleared.location(), "/account?done=profile");
        let user = ui.store().get_user(ALICE).await.unwrap().unwrap();
        assert_eq!((user.name, user.picture), (None, None));
    }
}

#[tokio::test]
async fn every_account_form_needs_the_csrf_token_and_a_session() {
    for ui in uis().await {
        let mut b = signed_in(
            &ui,
            "203.0.113.11:40000",
            FIREFOX_LINUX,
            "alice",
            ALICE_PASSWORD,
        )
        .await;
        let forms: [(&str, &[(&str, &str)]); 5] = [
            ("/account/profile", &[("name", "Mallory"), ("picture", "")]),
            (
                "/account/password",
                &[
                    ("current_password", ALICE_PASSWORD),
                    ("new_password", "mallory's new passphrase"),
                    ("confirm_password", "mallory's new passphrase"),
                ],
            ),
            (
                "/account/email",
                &[
                    ("email", "mallory@evil.example"),
                    ("current_password", ALICE_PASSWORD),
                ],
            ),
            ("/account/sessions/end", &[("sid", "x")]),
            ("/account/sessions/end-others", &[]),
        ];
        for (action, fields) in forms {
            // A cross-site form: the browser's cookies, no token.
            let reply = b.post(action, fields).await;
            reply.assert_page(StatusCode::FORBIDDEN, &format!("{}: {action}", ui.name));
            let mut forged = fields.to_vec();
            forged.push(("csrf_token", "forged"));
            b.post(action, &forged)
                .await
                .assert_page(StatusCode::FORBIDDEN, action);
        }
        assert!(password_works(&ui, "alice", ALICE_PASSWORD).await);
        let user = ui.store().get_user(ALICE).await.unwrap().unwrap();
        assert_ne!(user.name.as_deref(), Some("Mallory"));

        // Signed out: the page is the signed-out page, and a form (with a valid token from
        // before) leads to sign in.
        let page = account(&mut b).await;
        let csrf = page.form_field("profile-form", "csrf_token");
        let sign_out = submit(
            &mut b,
            &page,
            "sign-out-form",
            "/oauth2/sessions/logout/confirm",
            &[],
        )
        .await;
        assert!(sign_out.status.is_redirection() || sign_out.status == StatusCode::OK);
        let gone = b.get("/account").await;
        gone.assert_page(StatusCode::OK, &ui.name);
        assert!(gone.body.contains("You are signed out"), "{}", gone.body);
        let reply = b
            .post(
                "/account/profile",
                &[
                    ("csrf_token", csrf.as_str()),
                    ("name", "Mallory"),
                    ("picture", ""),
                ],
            )
            .await;
        assert!(
            reply.location().starts_with("/ui/login?return="),
            "{}",
            reply.location()
        );
    }
}

#[tokio::test]
async fn a_stolen_session_cannot_change_the_password_without_the_current_one() {
    for ui in uis().await {
        let mut thief = signed_in(
            &ui,
            "198.51.100.66:40000",
            CHROME_ANDROID,
            "alice",
            ALICE_PASSWORD,
        )
        .await;
        let wrong =
            change_password(&mut thief, "not the password", NEW_PASSWORD, NEW_PASSWORD).await;
        wrong.assert_page(StatusCode::UNAUTHORIZED, &ui.name);
        assert!(
            wrong.body.contains("id=\"password-error\""),
            "{}",
            wrong.body
        );
        assert!(
            wrong.body.contains("current password is not correct"),
            "{}",
            wrong.body
        );
        let empty = change_password(&mut thief, "", NEW_PASSWORD, NEW_PASSWORD).await;
        empty.assert_page(StatusCode::UNPROCESSABLE_ENTITY, &ui.name);
        assert!(
            password_works(&ui, "alice", ALICE_PASSWORD).await,
            "{}",
            ui.name
        );

        // Guessing counts toward the failed-login lock: a handful of guesses, then locked.
        let mut locked = None;
        for _ in 0..10 {
            let reply =
                change_password(&mut thief, "another guess", NEW_PASSWORD, NEW_PASSWORD).await;
            if reply.status == StatusCode::TOO_MANY_REQUESTS {
                locked = Some(reply);
                break;
            }
            reply.assert_page(StatusCode::UNAUTHORIZED, &ui.name);
        }
        let locked = locked.unwrap_or_else(|| panic!("{}: never locked", ui.name));
        assert!(
            locked.header("retry-after").is_some(),
            "{:?}",
            locked.headers
        );
        // Locked, even the right password changes nothing.
        let still = change_password(&mut thief, ALICE_PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
        still.assert_page(StatusCode::TOO_MANY_REQUESTS, &ui.name);
        let user = ui.store().get_user(ALICE).await.unwrap().unwrap();
        assert!(
            gatehouse_token::password::verify_password(
                gatehouse_core::secret::SecretString::new(ALICE_PASSWORD.to_owned()),
                user.password_hash.unwrap()
            )
            .await
            .unwrap(),
            "{}: the password is unchanged",
            ui.name
        );
    }
}

#[tokio::test]
async fn changing_the_password_checks_the_rules_and_signs_out_everywhere_else() {
    for ui in uis().await {
        let mut laptop = signed_in(
            &ui,
            "203.0.113.12:40000",
            FIREFOX_LINUX,
            "alice",
            ALICE_PASSWORD,
        )
        .await;
        let mut phone = signed_in(
            &ui,
            "198.51.100.12:40000",
            CHROME_ANDROID,
            "alice",
            ALICE_PASSWORD,
        )
        .await;
        let mut carol =
            signed_in(&ui, "192.0.2.12:40000", SAFARI_MAC, "carol", CAROL_PASSWORD).await;

        for (new, confirm, message) in [
            ("short", "short", "too short"),
            ("alice", "alice", "too short"),
            ("baseball", "baseball", "most commonly used"),
            (NEW_PASSWORD, "something else", "not the same"),
        ] {
            let refused = change_password(&mut laptop, ALICE_PASSWORD, new, confirm).await;
            refused.assert_page(StatusCode::UNPROCESSABLE_ENTITY, &ui.name);
            assert!(refused.body.contains(message), "{new}: {}", refused.body);
        }
        assert!(is_signed_in(&mut phone).await, "a refusal ends nothing");

        let done = change_password(&mut laptop, ALICE_PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
        assert_eq!(done.location(), "/account?done=password", "{}", done.body);
        assert!(
            is_signed_in(&mut laptop).await,
            "{}: this session goes on",
            ui.name
        );
        assert!(
            !is_signed_in(&mut phone).await,
            "{}: the other one ended",
            ui.name
        );
        assert!(
            is_signed_in(&mut carol).await,
            "{}: another user's session is theirs",
            ui.name
        );
        assert!(!password_works(&ui, "alice", ALICE_PASSWORD).await);
        assert!(password_works(&ui, "alice", NEW_PASSWORD).await);
    }
}

#[tokio::test]
async fn sessions_are_listed_with_their_browser_and_address_and_end_one_by_one_or_all_else() {
    for ui in uis().await {
        let mut laptop = signed_in(
            &ui,
            "203.0.113.13:40000",
            FIREFOX_LINUX,
            "alice",
            ALICE_PASSWORD,
        )
        .await;
        let mut phone = signed_in(
            &ui,
            "198.51.100.13:40000",
            CHROME_ANDROID,
            "alice",
            ALICE_PASSWORD,
        )
        .await;
        let mut mac = signed_in(&ui, "192.0.2.13:40000", SAFARI_MAC, "alice", ALICE_PASSWORD).await;
        let mut carol =
            signed_in(&ui, "192.0.2.14:40000", SAFARI_MAC, "carol", CAROL_PASSWORD).await;

        let page = account(&mut laptop).await;
        for shown in [
            "Firefox on Linux",
            "Chrome on Android",
            "Safari on macOS",
            "IP address 203.0.113.13",
            "IP address 198.51.100.13",
            "IP address 192.0.2.13",
            "this browser",
            "id=\"end-others\"",
        ] {
            assert!(
                page.body.contains(shown),
                "{}: {shown}: {}",
                ui.name,
                page.body
            );
        }
        assert!(
            !page.body.contains("192.0.2.14"),
            "carol's session is not alice's business"
        );
        assert_eq!(page.body.matches("class=\"app session\"").count(), 3);
        // This browser's own session has no sign-out button of its own (the page's sign-out is).
        assert_eq!(page.body.matches("class=\"end-session-form\"").count(), 2);

        // Ending carol's session from alice's page does nothing: sessions are found per user.
        let carol_page = account(&mut carol).await;
        let carol_sid = sid_of(&carol_page, "this browser");
        let reply = submit(
            &mut laptop,
            &page,
            "end-others-form",
            "/account/sessions/end",
            &[("sid", &carol_sid)],
        )
        .await;
        assert_eq!(reply.location(), "/account?done=session");
        assert!(is_signed_in(&mut carol).await, "{}", ui.name);
        // Nor does ending this browser's own session by its id (that is the sign-out button).
        let own = sid_of(&page, "this browser");
        submit(
            &mut laptop,
            &page,
            "end-others-form",
            "/account/sessions/end",
            &[("sid", &own)],
        )
        .await;
        assert!(is_signed_in(&mut laptop).await);

        let phone_sid = sid_of(&page, "Chrome on Android");
        let reply = submit(
            &mut laptop,
            &page,
            "end-others-form",
            "/account/sessions/end",
            &[("sid", &phone_sid)],
        )
        .await;
        assert_eq!(reply.location(), "/account?done=session");
        assert!(
            !is_signed_in(&mut phone).await,
            "{}: the phone is signed out",
            ui.name
        );
        assert!(is_signed_in(&mut mac).await, "{}: the mac is not", ui.name);
        let page = account(&mut laptop).await;
        assert_eq!(
            page.body.matches("class=\"app session\"").count(),
            2,
            "{}",
            page.body
        );

        let reply = submit(
            &mut laptop,
            &page,
            "end-others-form",
            "/account/sessions/end-others",
            &[],
        )
        .await;
        assert_eq!(reply.location(), "/account?done=others");
        assert!(!is_signed_in(&mut mac).await);
        assert!(is_signed_in(&mut laptop).await);
        assert!(is_signed_in(&mut carol).await);
        let page = account(&mut laptop).await;
        assert_eq!(page.body.matches("class=\"app session\"").count(), 1);
        assert!(
            !page.body.contains("id=\"end-others\""),
            "nothing else to end"
        );
    }
}

/// The session id in the list entry that mentions `marker`.
fn sid_of(page: &Page, marker: &str) -> String {
    let at = page
        .body
        .find(marker)
        .unwrap_or_else(|| panic!("{marker}: {}", page.body));
    let start = page.body[..at].rfind("data-sid=\"").expect("an entry") + "data-sid=\"".len();
    let end = page.body[start..].find('"').unwrap() + start;
    page.body[start..end].to_owned()
}

#[tokio::test]
async fn a_new_email_address_is_the_users_only_once_its_link_is_used() {
    let sink = SmtpSink::start().await;
    for (n, ui) in mailing_uis(&sink).await.into_iter().enumerate() {
        let new_address = format!("alice.new{n}@example.org");
        let mut b = signed_in(
            &ui,
            "203.0.113.15:40000",
            FIREFOX_LINUX,
            "alice",
            ALICE_PASSWORD,
        )
        .await;
        let page = account(&mut b).await;
        assert!(page.body.contains("id=\"email-form\""), "{}", page.body);

        // A stolen session without the password: no mail, no change.
        let wrong = submit(
            &mut b,
            &page,
            "email-form",
            "/account/email",
            &[
                ("email", "mallory@evil.example"),
                ("current_password", "a guess"),
            ],
        )
        .await;
        wrong.assert_page(StatusCode::UNAUTHORIZED, &ui.name);
        assert!(wrong.body.contains("id=\"email-error\""), "{}", wrong.body);
        for (email, status) in [
            ("not an address", StatusCode::UNPROCESSABLE_ENTITY),
            ("alice@example.com", StatusCode::UNPROCESSABLE_ENTITY),
        ] {
            let refused = submit(
                &mut b,
                &page,
                "email-form",
                "/account/email",
                &[("email", email), ("current_password", ALICE_PASSWORD)],
            )
            .await;
            refused.assert_page(status, &format!("{}: {email}", ui.name));
        }

        let sent = submit(
            &mut b,
            &page,
            "email-form",
            "/account/email",
            &[
                ("email", &new_address),
                ("current_password", ALICE_PASSWORD),
            ],
        )
        .await;
        assert_eq!(sent.location(), "/account?done=email", "{}", sent.body);
        let user = ui.store().get_user(ALICE).await.unwrap().unwrap();
        assert_eq!(user.email.as_deref(), Some("alice@example.com"), "not yet");
        let mail = sink.wait_for(&new_address, 1).await.pop().unwrap();
        assert!(sink.messages_to("mallory@evil.example").is_empty());
        let link = mail.link("/ui/verify-email?token=").unwrap();

        let page = b.get(&local(&link)).await;
        page.assert_page(StatusCode::OK, &ui.name);
        let done = b
            .post(
                "/ui/verify-email",
                &[
                    (
                        "csrf_token",
                        page.form_field("verify-form", "csrf_token").as_str(),
                    ),
                    ("token", page.form_field("verify-form", "token").as_str()),
                ],
            )
            .await;
        done.assert_page(StatusCode::OK, &ui.name);
        assert!(done.body.contains(&new_address), "{}", done.body);
        let user = ui.store().get_user(ALICE).await.unwrap().unwrap();
        assert_eq!(user.email.as_deref(), Some(new_address.as_str()));
        assert!(user.email_verified);
        // Once.
        b.get(&local(&link))
            .await
            .assert_page(StatusCode::GONE, &ui.name);
        let page = account(&mut b).await;
        assert!(
            page.body
                .contains(&format!("{new_address} <span class=\"muted\">(confirmed)")),
            "{}",
            page.body
        );
    }
}

#[tokio::test]
async fn without_mail_the_address_cannot_be_changed_and_the_page_says_so() {
    for ui in uis().await {
        let mut b = signed_in(
            &ui,
            "203.0.113.16:40000",
            FIREFOX_LINUX,
            "alice",
            ALICE_PASSWORD,
        )
        .await;
        let page = account(&mut b).await;
        assert!(!page.body.contains("id=\"email-form\""), "{}", page.body);
        assert!(page.body.contains("id=\"email-mail-off\""), "{}", page.body);
        let csrf = page.form_field("profile-form", "csrf_token");
        let reply = b
            .post(
                "/account/email",
                &[
                    ("csrf_token", csrf.as_str()),
                    ("email", "alice.other@example.org"),
                    ("current_password", ALICE_PASSWORD),
                ],
            )
            .await;
        reply.assert_page(StatusCode::SERVICE_UNAVAILABLE, &ui.name);
        assert!(reply.body.contains("id=\"email-error\""), "{}", reply.body);
        let user = ui.store().get_user(ALICE).await.unwrap().unwrap();
        assert_eq!(user.email.as_deref(), Some("alice@example.com"));
    }
}
