//! Getting back in: "Forgot password?", the mailed link, the new password, and what a reset
//! ends. Mail goes through a real SMTP server on loopback (`aiosmtpd`, the test kit's
//! `SmtpSink`) and is read back from it.

use std::sync::Arc;

use axum::http::StatusCode;
use gatehouse_core::secret::SecretString;
use gatehouse_mail::{Brand, MailSettings, Mailer};
use gatehouse_testkit::mail::{Mail, SmtpSink};

use crate::ui::*;

const NEW_PASSWORD: &str = "a brand new passphrase for alice";

pub(crate) fn mailer(sink: &SmtpSink) -> Arc<Mailer> {
    let settings = MailSettings {
        smtp_url: Some(SecretString::new(sink.url())),
        from: Some("Neon ID <id@neon.test>".into()),
        dev_dir: None,
        brand: Brand {
            product: "Neon".into(),
            color: "#1f5fbf".into(),
            text_color: "#ffffff".into(),
        },
    };
    Arc::new(Mailer::from_settings(&settings).unwrap().unwrap())
}

/// UIs whose token service mails through `sink`.
pub(crate) async fn mailing_uis(sink: &SmtpSink) -> Vec<Ui> {
    let mailer = mailer(sink);
    uis_with_token(move |s| s.accounts.mailer = Some(mailer.clone())).await
}

/// The path and query of a link in a mail (the UI under test is driven in process).
pub(crate) fn local(link: &str) -> String {
    link.strip_prefix(ISSUER)
        .unwrap_or_else(|| panic!("{link} is not on the issuer"))
        .to_owned()
}

/// Opens "Forgot password?" and asks for a link for `login`; answers the page after the POST.
async fn ask_for_reset(b: &mut Browser<'_>, from: &str, login: &str) -> Page {
    let page = b.get(from).await;
    page.assert_page(StatusCode::OK, b.name());
    let mut form = vec![
        ("csrf_token", page.form_field("forgot-form", "csrf_token")),
        ("login", login.to_owned()),
    ];
    if page.body.contains("name=\"challenge\"") {
        form.push(("challenge", page.form_field("forgot-form", "challenge")));
    }
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post("/ui/forgot-password", &form).await
}

/// The newest reset mail to `to`, once `count` of them arrived.
async fn reset_mail(sink: &SmtpSink, to: &str, count: usize) -> Mail {
    let mails = sink.wait_for(to, count).await;
    mails.last().cloned().unwrap()
}

/// Opens the link's page and submits `password` twice; answers the reply.
async fn choose_password(b: &mut Browser<'_>, link: &str, password: &str) -> Page {
    let page = b.get(&local(link)).await;
    page.assert_page(StatusCode::OK, b.name());
    let csrf = page.form_field("reset-form", "csrf_token");
    let token = page.form_field("reset-form", "token");
    b.post(
        "/ui/reset-password",
        &[
            ("csrf_token", csrf.as_str()),
            ("token", token.as_str()),
            ("new_password", password),
            ("confirm_password", password),
        ],
    )
    .await
}

#[tokio::test]
async fn a_forgotten_password_is_reset_by_mail_and_every_old_session_and_token_ends() {
    let sink = SmtpSink::start().await;
    for (n, ui) in mailing_uis(&sink).await.into_iter().enumerate() {
        // Before: alice is signed in here and an app holds her refresh token.
        let mut old = ui.browser();
        let params = old.authorize_alice(SEED_SCOPE, true).await;
        let refresh = ui.redeem(&params["code"]).await.refresh_token.unwrap();
        assert_eq!(old.get("/account/apps").await.status, StatusCode::OK);

        // Elsewhere, she forgot the password: the login page offers the way back.
        let mut b = ui.browser_from("198.51.100.20:40000");
        let login = b.get("/ui/login").await;
        assert!(
            login.body.contains("id=\"forgot-password\""),
            "{}",
            login.body
        );
        let sent = ask_for_reset(&mut b, "/ui/forgot-password", "alice").await;
        sent.assert_page(StatusCode::OK, &ui.name);
        assert!(sent.body.contains("id=\"reset-sent\""), "{}", sent.body);
        assert!(sent.body.contains("within 30 minutes"), "{}", sent.body);

        let mail = reset_mail(&sink, "alice@example.com", n + 1).await;
        assert_eq!(mail.subject, "Reset your Neon password");
        assert_eq!(mail.from, "\"Neon ID\" <id@neon.test>");
        assert!(mail.text.contains("the account alice"), "{}", mail.text);
        assert!(mail.html.contains("Choose a new password"), "{}", mail.html);
        let link = mail.link("/ui/reset-password?token=").expect("the link");
        assert!(mail.html.contains(&link.replace('&', "&#38;")) || mail.html.contains(&link));

        let done = choose_password(&mut b, &link, NEW_PASSWORD).await;
        done.assert_page(StatusCode::OK, &ui.name);
        assert!(
            done.body.contains("id=\"password-changed\""),
            "{}",
            done.body
        );

        // After: the old session, the refresh token and the old password are gone.
        let reply = old.get("/account/apps").await;
        assert_eq!(
            reply.location(),
            "/ui/login?return=%2Faccount%2Fapps",
            "{}: the old session ended",
            ui.name
        );
        assert_eq!(ui.refresh(&refresh).await.unwrap_err(), "invalid_grant");
        let mut fresh = ui.browser();
        let page = fresh.get("/ui/login").await;
        let refused = fresh.login(&page, "alice", ALICE_PASSWORD, false).await;
        refused.assert_page(StatusCode::UNAUTHORIZED, &ui.name);
        let page = fresh.get("/ui/login").await;
        let signed_in = fresh.login(&page, "alice", NEW_PASSWORD, false).await;
        assert_eq!(signed_in.location(), "/account", "{}", ui.name);

        // The link worked once.
        let again = b.get(&local(&link)).await;
        again.assert_page(StatusCode::GONE, &ui.name);
        assert!(again.body.contains("id=\"dead-link\""), "{}", again.body);
    }
}

#[tokio::test]
async fn the_answer_is_the_same_for_an_unknown_account_and_nobody_is_mailed() {
    let sink = SmtpSink::start().await;
    for ui in mailing_uis(&sink).await {
        let before = sink.messages().len();
        let mut b = ui.browser_from("198.51.100.21:40000");
        let unknown = ask_for_reset(&mut b, "/ui/forgot-password", "mallory").await;
        let unknown_mail = ask_for_reset(&mut b, "/ui/forgot-password", "nobody@example.com").await;
        // A disabled account is not told apart either.
        let disabled = ask_for_reset(&mut b, "/ui/forgot-password", "bob").await;
        let known = ask_for_reset(&mut b, "/ui/forgot-password", "carol@example.com").await;
        let main = |p: &Page| {
            let start = p.body.find("<main").unwrap();
            let end = p.body.find("</main>").unwrap();
            p.body[start..end].to_owned()
        };
        for other in [&unknown, &unknown_mail, &disabled] {
            assert_eq!(other.status, known.status, "{}", ui.name);
            assert_eq!(main(other), main(&known), "{}", ui.name);
        }
        // Only carol's request, found by her address, sent anything.
        sink.wait_for("carol@example.com", 1).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let new: Vec<_> = sink.messages().into_iter().skip(before).collect();
        assert_eq!(new.len(), 1, "{}: {new:#?}", ui.name);
        assert!(new[0].to.contains("carol@example.com"));
        // Found by address, greeted by name.
        assert!(
            new[0].text.starts_with("Hello User carol,"),
            "{}",
            new[0].text
        );
    }
}

#[tokio::test]
async fn a_refused_password_does_not_spend_the_link_and_a_used_link_is_dead() {
    let sink = SmtpSink::start().await;
    for (n, ui) in mailing_uis(&sink).await.into_iter().enumerate() {
        let mut b = ui.browser_from("198.51.100.22:40000");
        ask_for_reset(&mut b, "/ui/forgot-password", "alice").await;
        let link = reset_mail(&sink, "alice@example.com", n + 1)
            .await
            .link("/ui/reset-password?token=")
            .unwrap();
        for (password, message) in [
            ("short", "too short"),
            ("alice", "too short"),
            ("baseball", "most commonly used"),
            ("Password123", "most commonly used"),
        ] {
            let reply = choose_password(&mut b, &link, password).await;
            reply.assert_page(StatusCode::UNPROCESSABLE_ENTITY, &ui.name);
            assert!(reply.body.contains("id=\"reset-error\""), "{}", reply.body);
            assert!(reply.body.contains(message), "{password}: {}", reply.body);
        }
        // Two different passwords.
        let page = b.get(&local(&link)).await;
        let mismatch = b
            .post(
                "/ui/reset-password",
                &[
                    (
                        "csrf_token",
                        page.form_field("reset-form", "csrf_token").as_str(),
                    ),
                    ("token", page.form_field("reset-form", "token").as_str()),
                    ("new_password", NEW_PASSWORD),
                    ("confirm_password", "something else entirely"),
                ],
            )
            .await;
        mismatch.assert_page(StatusCode::UNPROCESSABLE_ENTITY, &ui.name);
        assert!(
            mismatch.body.contains("are not the same"),
            "{}",
            mismatch.body
        );

        // Still usable after all that; then spent.
        let done = choose_password(&mut b, &link, NEW_PASSWORD).await;
        done.assert_page(StatusCode::OK, &ui.name);
        let page = b.get(&local(&link)).await;
        page.assert_page(StatusCode::GONE, &ui.name);
        // A forged or truncated token is dead too, never an error.
        let forged = b
            .get("/ui/reset-password?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            .await;
        forged.assert_page(StatusCode::GONE, &ui.name);
        let garbage = b.get("/ui/reset-password?token=%3Cscript%3E").await;
        garbage.assert_page(StatusCode::GONE, &ui.name);
    }
}

#[tokio::test]
async fn a_second_link_dies_when_the_first_one_resets_the_password() {
    let sink = SmtpSink::start().await;
    for (n, ui) in mailing_uis(&sink).await.into_iter().enumerate() {
        let mut b = ui.browser_from("198.51.100.23:40000");
        ask_for_reset(&mut b, "/ui/forgot-password", "alice").await;
        ask_for_reset(&mut b, "/ui/forgot-password", "alice").await;
        let mails = sink.wait_for("alice@example.com", 2 * (n + 1)).await;
        let first = mails[mails.len() - 2].link("/ui/reset-password").unwrap();
        let second = mails[mails.len() - 1].link("/ui/reset-password").unwrap();
        assert_ne!(first, second);
        choose_password(&mut b, &second, NEW_PASSWORD)
            .await
            .assert_page(StatusCode::OK, &ui.name);
        b.get(&local(&first))
            .await
            .assert_page(StatusCode::GONE, &ui.name);
    }
}

#[tokio::test]
async fn the_authorization_request_in_progress_goes_on_after_the_reset() {
    let sink = SmtpSink::start().await;
    for (n, ui) in mailing_uis(&sink).await.into_iter().enumerate() {
        let mut b = ui.browser_from("198.51.100.24:40000");
        let login = b.start(&cli_authorize(SEED_SCOPE, &[])).await;
        let challenge = login.field("challenge");
        let forgot = format!("/ui/forgot-password?challenge={challenge}");
        assert!(
            login.body.contains(&format!("href=\"{forgot}\"")),
            "{}",
            login.body
        );
        ask_for_reset(&mut b, &forgot, "alice").await;
        let link = reset_mail(&sink, "alice@example.com", n + 1)
            .await
            .link("/ui/reset-password")
            .unwrap();
        let reply = choose_password(&mut b, &link, NEW_PASSWORD).await;
        assert_eq!(
            reply.location(),
            format!("/ui/login?challenge={challenge}&notice=password_changed"),
            "{}",
            ui.name
        );
        let page = b.follow(&reply).await;
        page.assert_page(StatusCode::OK, &ui.name);
        assert!(page.body.contains("id=\"login-notice\""), "{}", page.body);
        let after = b.login(&page, "alice", NEW_PASSWORD, false).await;
        assert!(
            after.location().starts_with("/ui/consent?challenge="),
            "{}: {}",
            ui.name,
            after.location()
        );
        let consent = b.follow(&after).await;
        let (base, params) = b.decide(&consent, "allow", false).await.redirect_params();
        assert_eq!(base, CLI_REDIRECT);
        assert!(ui.redeem(&params["code"]).await.access_token.len() > 10);
    }
}

#[tokio::test]
async fn requests_are_limited_per_client_ip_and_mails_per_account() {
    let sink = SmtpSink::start().await;
    for (n, ui) in mailing_uis(&sink).await.into_iter().enumerate() {
        // Per account: three mails an hour, whoever asks, and the answer does not change.
        for i in 0..5 {
            let mut b = ui.browser_from(&format!("198.51.100.{}:40000", 30 + i));
            let page = ask_for_reset(&mut b, "/ui/forgot-password", "alice").await;
            page.assert_page(StatusCode::OK, &ui.name);
        }
        sink.wait_for("alice@example.com", 3 * (n + 1)).await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert_eq!(
            sink.messages_to("alice@example.com").len(),
            3 * (n + 1),
            "{}",
            ui.name
        );
        // Per client IP: ten requests an hour, then "try later", whatever the name.
        let mut b = ui.browser_from("203.0.113.99:40000");
        for _ in 0..10 {
            ask_for_reset(&mut b, "/ui/forgot-password", "nobody")
                .await
                .assert_page(StatusCode::OK, &ui.name);
        }
        let limited = ask_for_reset(&mut b, "/ui/forgot-password", "carol").await;
        limited.assert_page(StatusCode::TOO_MANY_REQUESTS, &ui.name);
        assert!(limited.header("retry-after").is_some());
        assert!(
            limited.body.contains("Too many requests"),
            "{}",
            limited.body
        );
    }
}

#[tokio::test]
async fn forms_without_their_csrf_token_change_nothing() {
    let sink = SmtpSink::start().await;
    for (n, ui) in mailing_uis(&sink).await.into_iter().enumerate() {
        let mut b = ui.browser_from("198.51.100.25:40000");
        b.get("/ui/forgot-password").await;
        let refused = b.post("/ui/forgot-password", &[("login", "alice")]).await;
        refused.assert_page(StatusCode::FORBIDDEN, &ui.name);

        ask_for_reset(&mut b, "/ui/forgot-password", "alice").await;
        let link = reset_mail(&sink, "alice@example.com", n + 1)
            .await
            .link("/ui/reset-password")
            .unwrap();
        let token = link.split("token=").nth(1).unwrap();
        let refused = b
            .post(
                "/ui/reset-password",
                &[
                    ("token", token),
                    ("new_password", NEW_PASSWORD),
                    ("confirm_password", NEW_PASSWORD),
                ],
            )
            .await;
        refused.assert_page(StatusCode::FORBIDDEN, &ui.name);
        // The old password still works, and the link too.
        let mut fresh = ui.browser();
        let page = fresh.get("/ui/login").await;
        let ok = fresh.login(&page, "alice", ALICE_PASSWORD, false).await;
        assert_eq!(ok.location(), "/account", "{}", ui.name);
        b.get(&local(&link))
            .await
            .assert_page(StatusCode::OK, &ui.name);
    }
}

#[tokio::test]
async fn without_mail_there_is_no_forgot_password_link_and_the_page_says_why() {
    for ui in uis().await {
        let mut b = ui.browser();
        let login = b.get("/ui/login").await;
        assert!(!login.body.contains("forgot-password"), "{}", login.body);
        let page = b.get("/ui/forgot-password").await;
        page.assert_page(StatusCode::OK, &ui.name);
        assert!(page.body.contains("id=\"mail-off\""), "{}", page.body);
        assert!(!page.body.contains("id=\"forgot-form\""));
    }
}

#[tokio::test]
async fn the_pages_and_the_mail_speak_german_when_asked() {
    let sink = SmtpSink::start().await;
    for (n, ui) in mailing_uis(&sink).await.into_iter().enumerate() {
        let mut b = ui.browser_from("198.51.100.26:40000");
        b.accept_language = Some("de-DE,de;q=0.9".into());
        let page = b.get("/ui/forgot-password").await;
        assert!(page.body.contains("Passwort zurücksetzen"), "{}", page.body);
        ask_for_reset(&mut b, "/ui/forgot-password", "alice").await;
        let mail = reset_mail(&sink, "alice@example.com", n + 1).await;
        assert_eq!(mail.subject, "Ihr Passwort für Neon zurücksetzen");
        assert!(
            mail.text.contains("innerhalb von 30 Minuten"),
            "{}",
            mail.text
        );
    }
}

#[tokio::test]
async fn a_verification_link_confirms_the_address_by_a_button_not_by_being_opened() {
    let sink = SmtpSink::start().await;
    for (n, ui) in mailing_uis(&sink).await.into_iter().enumerate() {
        let mut carol = ui.store().get_user(CAROL).await.unwrap().unwrap();
        carol.email = Some("carol@example.org".into());
        carol.email_verified = false;
        ui.store().update_user(&carol).await.unwrap();
        assert!(
            ui.service
                .send_email_verification(&carol, "en", None)
                .await
                .unwrap()
        );
        let mail = sink
            .wait_for("carol@example.org", n + 1)
            .await
            .pop()
            .unwrap();
        let link = mail.link("/ui/verify-email?token=").unwrap();

        let mut b = ui.browser_from("198.51.100.27:40000");
        // Opening it (as a mail scanner does) changes nothing.
        let page = b.get(&local(&link)).await;
        page.assert_page(StatusCode::OK, &ui.name);
        assert!(page.body.contains("id=\"verify-form\""), "{}", page.body);
        assert!(
            !ui.store()
                .get_user(CAROL)
                .await
                .unwrap()
                .unwrap()
                .email_verified
        );
        // Without the CSRF token neither.
        let token = page.form_field("verify-form", "token");
        b.post("/ui/verify-email", &[("token", token.as_str())])
            .await
            .assert_page(StatusCode::FORBIDDEN, &ui.name);
        let done = b
            .post(
                "/ui/verify-email",
                &[
                    (
                        "csrf_token",
                        page.form_field("verify-form", "csrf_token").as_str(),
                    ),
                    ("token", token.as_str()),
                ],
            )
            .await;
        done.assert_page(StatusCode::OK, &ui.name);
        assert!(done.body.contains("id=\"email-verified\""), "{}", done.body);
        assert!(done.body.contains("carol@example.org"));
        assert!(
            ui.store()
                .get_user(CAROL)
                .await
                .unwrap()
                .unwrap()
                .email_verified
        );
        b.get(&local(&link))
            .await
            .assert_page(StatusCode::GONE, &ui.name);
        // A reset link is not a verification link, nor the other way round.
        let wrong = b
            .get(&local(&link.replace("verify-email", "reset-password")))
            .await;
        wrong.assert_page(StatusCode::GONE, &ui.name);
    }
}

/// UIs with self-registration on, mailing through `sink` (or not mailing at all).
async fn registering_uis(sink: Option<&SmtpSink>) -> Vec<Ui> {
    let mailer = sink.map(mailer);
    uis_with_token(move |s| {
        s.accounts.self_registration = true;
        s.accounts.mailer = mailer.clone();
    })
    .await
}

async fn register(
    b: &mut Browser<'_>,
    from: &str,
    username: &str,
    email: &str,
    password: &str,
) -> Page {
    let page = b.get(from).await;
    page.assert_page(StatusCode::OK, b.name());
    let mut form = vec![
        ("csrf_token", page.form_field("register-form", "csrf_token")),
        ("username", username.to_owned()),
        ("email", email.to_owned()),
        ("new_password", password.to_owned()),
        ("confirm_password", password.to_owned()),
    ];
    if page.body.contains("name=\"challenge\"") {
        form.push(("challenge", page.form_field("register-form", "challenge")));
    }
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post("/ui/register", &form).await
}

#[tokio::test]
async fn self_registration_is_off_unless_configured() {
    for ui in uis().await {
        let mut b = ui.browser();
        let login = b.get("/ui/login").await;
        assert!(!login.body.contains("create-account"), "{}", login.body);
        assert_eq!(b.get("/ui/register").await.status, StatusCode::NOT_FOUND);
        assert_eq!(
            b.post("/ui/register", &[("username", "eve")]).await.status,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn a_registered_account_exists_only_once_its_address_is_confirmed_and_the_request_goes_on() {
    let sink = SmtpSink::start().await;
    for (n, ui) in registering_uis(Some(&sink)).await.into_iter().enumerate() {
        let mut b = ui.browser_from("198.51.100.40:40000");
        let login = b.start(&cli_authorize(SEED_SCOPE, &[])).await;
        let challenge = login.field("challenge");
        let create = format!("/ui/register?challenge={challenge}");
        assert!(
            login.body.contains(&format!("href=\"{create}\"")),
            "{}",
            login.body
        );

        // Refusals say why and store nothing.
        for (username, email, password, why) in [
            (
                "alice",
                "x@example.com",
                "a fine passphrase",
                "username is taken",
            ),
            (
                "has space",
                "x@example.com",
                "a fine passphrase",
                "no spaces",
            ),
            ("erin", "not-an-address", "a fine passphrase", "valid email"),
            ("erin", "erin@example.com", "baseball", "most commonly used"),
        ] {
            let page = register(&mut b, &create, username, email, password).await;
            page.assert_page(StatusCode::UNPROCESSABLE_ENTITY, &ui.name);
            assert!(page.body.contains(why), "{username}: {}", page.body);
        }
        assert!(
            ui.store()
                .get_user_by_username("erin")
                .await
                .unwrap()
                .is_none()
        );

        let sent = register(
            &mut b,
            &create,
            "erin",
            "erin@example.com",
            "erins own passphrase",
        )
        .await;
        sent.assert_page(StatusCode::OK, &ui.name);
        assert!(
            sent.body.contains("id=\"registration-sent\""),
            "{}",
            sent.body
        );
        // Not before the address is confirmed.
        assert!(
            ui.store()
                .get_user_by_username("erin")
                .await
                .unwrap()
                .is_none()
        );
        let mut other = ui.browser();
        let page = other.get("/ui/login").await;
        other
            .login(&page, "erin", "erins own passphrase", false)
            .await
            .assert_page(StatusCode::UNAUTHORIZED, &ui.name);

        let mail = sink
            .wait_for("erin@example.com", n + 1)
            .await
            .pop()
            .unwrap();
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
        let erin = ui
            .store()
            .get_user_by_username("erin")
            .await
            .unwrap()
            .unwrap();
        assert!(erin.email_verified);
        assert!(erin.roles.is_empty());
        // "Continue" leads back to the sign-in of the request in progress.
        assert!(
            done.body
                .contains(&format!("href=\"/ui/login?challenge={challenge}\"")),
            "{}",
            done.body
        );
        let page = b.get(&format!("/ui/login?challenge={challenge}")).await;
        let after = b.login(&page, "erin", "erins own passphrase", false).await;
        assert!(
            after.location().starts_with("/ui/consent?challenge="),
            "{}",
            after.location()
        );

        // The link worked once.
        b.get(&local(&link))
            .await
            .assert_page(StatusCode::GONE, &ui.name);
    }
}

#[tokio::test]
async fn without_mail_a_registered_account_signs_in_at_once_and_registrations_are_limited_per_ip() {
    for ui in registering_uis(None).await {
        let mut b = ui.browser_from("198.51.100.41:40000");
        let created = register(
            &mut b,
            "/ui/register",
            "frank",
            "frank@example.com",
            "franks passphrase",
        )
        .await;
        created.assert_page(StatusCode::CREATED, &ui.name);
        let frank = ui
            .store()
            .get_user_by_username("frank")
            .await
            .unwrap()
            .unwrap();
        assert!(
            !frank.email_verified,
            "no mail: the address is not confirmed"
        );
        let page = b.get("/ui/login").await;
        assert_eq!(
            b.login(&page, "frank", "franks passphrase", false)
                .await
                .location(),
            "/account"
        );
        // Ten an hour from one address, then "try later".
        let mut bot = ui.browser_from("203.0.113.50:40000");
        for i in 0..10 {
            register(
                &mut bot,
                "/ui/register",
                &format!("bot{i}"),
                "bot@example.com",
                "a bot passphrase",
            )
            .await
            .assert_page(StatusCode::CREATED, &ui.name);
        }
        let limited = register(
            &mut bot,
            "/ui/register",
            "bot10",
            "bot@example.com",
            "a bot passphrase",
        )
        .await;
        limited.assert_page(StatusCode::TOO_MANY_REQUESTS, &ui.name);
        assert!(
            ui.store()
                .get_user_by_username("bot10")
                .await
                .unwrap()
                .is_none()
        );
    }
}
