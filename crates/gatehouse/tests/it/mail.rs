//! Outgoing mail from the real binary: dev mode writes `.eml` files and logs their names, never
//! the links in them; `GATEHOUSE_SMTP_URL` sends through a real SMTP server on loopback; the
//! operator's `gatehouse users password-reset` and the end user's "Forgot password?" both mail a
//! link that sets a new password once.

use reqwest::StatusCode;

use crate::flow::{Browser, form, input};
use gatehouse_testkit::e2e::Server;
use gatehouse_testkit::mail::{Mail, SmtpSink};

use crate::gatehouse;

const NEW_PASSWORD: &str = "the new passphrase of dora";

/// Dora, with a password and a verified address (so no confirmation mail), created through the
/// CLI.
fn create_dora(server: &Server) {
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
}

/// Follows a reset link in a fresh browser: the form, then the new password twice.
async fn use_link(base: &str, link: &str, password: &str) -> crate::flow::Hop {
    let b = Browser::new(base);
    let page = b.get(link).await;
    let html = page.page("the reset page").to_owned();
    let reset = form(&html, "reset-form");
    b.post(
        "/ui/reset-password",
        &[
            ("csrf_token", &input(reset, "csrf_token")),
            ("token", &input(reset, "token")),
            ("new_password", password),
            ("confirm_password", password),
        ],
    )
    .await
}

async fn sign_in(base: &str, username: &str, password: &str) -> crate::flow::Hop {
    let b = Browser::new(base);
    let page = b.get("/ui/login").await;
    let html = page.page("the login page").to_owned();
    b.post(
        "/ui/login",
        &[
            (
                "csrf_token",
                &input(form(&html, "login-form"), "csrf_token"),
            ),
            ("username", username),
            ("password", password),
        ],
    )
    .await
}

#[tokio::test]
async fn dev_mode_writes_eml_files_and_logs_their_names_not_their_links() {
    let server = gatehouse()
        .server("all")
        .env(
            "GATEHOUSE_LOG",
            "info,gatehouse=trace,gatehouse_token=trace,gatehouse_login=trace,gatehouse_mail=trace",
        )
        .start();
    let base = Server::url(server.public, "");
    create_dora(&server);

    let out = server.admin_cli(&["users", "password-reset", "dora"], None);
    assert!(
        out.starts_with(
            "Password reset link for user dora sent to dora@example.com; it works for 30 minutes."
        ),
        "{out}"
    );
    let dir = server.data_dir.path().join("mail");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let mail: Mail = gatehouse_testkit::mail::parse(&std::fs::read(&files[0]).unwrap()).unwrap();
    assert_eq!(mail.to, "dora@example.com");
    let link = mail
        .link("/ui/reset-password?token=")
        .expect("a reset link");
    assert!(link.starts_with(&base), "{link}");
    let token = link.split("token=").nth(1).unwrap().to_owned();

    let done = use_link(&base, &link, NEW_PASSWORD).await;
    assert!(done.page("the reset").contains("id=\"password-changed\""));
    assert_eq!(
        sign_in(&base, "dora", NEW_PASSWORD)
            .await
            .see_other("sign-in"),
        "/account"
    );
    assert_eq!(
        sign_in(&base, "dora", "doras first password").await.status,
        StatusCode::UNAUTHORIZED
    );
    // Once only.
    assert_eq!(
        Browser::new(&base).get(&link).await.status,
        StatusCode::GONE
    );

    let (_, logs) = server.terminate_with_logs();
    let file_name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(logs.contains(&file_name), "the log names the file:\n{logs}");
    assert!(
        !logs.contains(&token),
        "the link's token is in the log:\n{logs}"
    );
    assert!(
        !logs.contains(NEW_PASSWORD),
        "the new password is in the log"
    );
}

#[tokio::test]
async fn forgot_password_mails_through_the_configured_smtp_server() {
    let sink = SmtpSink::start().await;
    let server = gatehouse()
        .server("all")
        .env("GATEHOUSE_SMTP_URL", sink.url())
        .env("GATEHOUSE_MAIL_FROM", "Neon ID <id@neon.test>")
        .env("GATEHOUSE_UI_PRODUCT_NAME", "Neon")
        .env("GATEHOUSE_TTL_PASSWORD_RESET", "10m")
        .start();
    let base = Server::url(server.public, "");
    create_dora(&server);

    let b = Browser::new(&base);
    let login = b.get("/ui/login").await;
    assert!(login.page("login").contains("id=\"forgot-password\""));
    let page = b.get("/ui/forgot-password").await;
    let html = page.page("forgot").to_owned();
    let sent = b
        .post(
            "/ui/forgot-password",
            &[
                (
                    "csrf_token",
                    &input(form(&html, "forgot-form"), "csrf_token"),
                ),
                ("login", "dora@example.com"),
            ],
        )
        .await;
    assert!(sent.page("sent").contains("within 10 minutes"), "{sent:?}");

    let mail = sink.wait_for("dora@example.com", 1).await.remove(0);
    assert_eq!(mail.subject, "Reset your Neon password");
    assert!(mail.text.contains("within 10 minutes"), "{}", mail.text);
    let link = mail.link("/ui/reset-password").unwrap();
    let done = use_link(&base, &link, NEW_PASSWORD).await;
    assert!(done.page("reset").contains("id=\"password-changed\""));
    // No .eml files when SMTP is configured.
    assert!(!server.data_dir.path().join("mail").exists());
}
