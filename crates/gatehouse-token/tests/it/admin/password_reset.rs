//! `POST /admin/users/{id}/password-reset`: an operator mails a user a reset link, through a
//! real SMTP server on loopback; the link sets a new password once.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use gatehouse_core::secret::SecretString;
use gatehouse_mail::{Brand, MailSettings, Mailer};
use gatehouse_testkit::http::{Reply, send};
use gatehouse_testkit::mail::SmtpSink;
use gatehouse_token::accounts::{AccountError, ResetOutcome};

use crate::oauth::{SUBJECT, envs, envs_with};

async fn post(api: &axum::Router, uri: &str) -> Reply {
    let request = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .unwrap();
    send(api, request).await
}

fn smtp_mailer(sink: &SmtpSink) -> Arc<Mailer> {
    let settings = MailSettings {
        smtp_url: Some(SecretString::new(sink.url())),
        from: Some("id@neon.test".into()),
        dev_dir: None,
        brand: Brand {
            product: "Neon".into(),
            color: "#000000".into(),
            text_color: "#ffffff".into(),
        },
    };
    Arc::new(Mailer::from_settings(&settings).unwrap().unwrap())
}

#[tokio::test]
async fn an_operator_mails_a_reset_link_that_sets_a_new_password_once() {
    let sink = SmtpSink::start().await;
    let mailer = smtp_mailer(&sink);
    for (n, env) in envs_with(|s| s.accounts.mailer = Some(mailer.clone()))
        .await
        .into_iter()
        .enumerate()
    {
        let reply = post(
            &env.admin_api,
            &format!("/admin/users/{SUBJECT}/password-reset"),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::ACCEPTED,
            "{}: {}",
            env.name,
            reply.body
        );
        assert_eq!(reply.body["email"], "alice@example.com");
        assert_eq!(reply.body["expires_in"], 1800);
        let mails = sink.wait_for("alice@example.com", n + 1).await;
        let link = mails
            .last()
            .unwrap()
            .link("/ui/reset-password?token=")
            .unwrap();
        assert!(link.starts_with(crate::oauth::ISSUER), "{link}");
        let token = link.split("token=").nth(1).unwrap();

        let old_hash = env
            .service
            .durable()
            .get_user(SUBJECT)
            .await
            .unwrap()
            .unwrap()
            .password_hash;
        let outcome = env
            .service
            .reset_password(token, SecretString::new("a new passphrase from the link"))
            .await
            .unwrap();
        assert!(matches!(outcome, ResetOutcome::Reset { .. }), "{outcome:?}");
        let new_hash = env
            .service
            .durable()
            .get_user(SUBJECT)
            .await
            .unwrap()
            .unwrap()
            .password_hash;
        assert_ne!(old_hash, new_hash);
        assert!(matches!(
            env.service
                .reset_password(token, SecretString::new("once more, a passphrase"))
                .await,
            Err(AccountError::DeadLink)
        ));
    }
}

#[tokio::test]
async fn the_endpoint_says_why_it_cannot_send() {
    // Without mail.
    for env in envs().await {
        let reply = post(
            &env.admin_api,
            &format!("/admin/users/{SUBJECT}/password-reset"),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::CONFLICT,
            "{}: {}",
            env.name,
            reply.body
        );
        assert!(
            reply.body["error_description"]
                .as_str()
                .unwrap()
                .contains("GATEHOUSE_SMTP_URL"),
            "{}",
            reply.body
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let mailer = crate::oauth::file_mailer(dir.path());
    for env in envs_with(|s| s.accounts.mailer = Some(mailer.clone())).await {
        let api = &env.admin_api;
        let reply = post(api, "/admin/users/nobody/password-reset").await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
        assert_eq!(reply.body["error"], "not_found");

        let mut user = env
            .service
            .durable()
            .get_user(SUBJECT)
            .await
            .unwrap()
            .unwrap();
        user.email = None;
        env.service.durable().update_user(&user).await.unwrap();
        let reply = post(api, &format!("/admin/users/{SUBJECT}/password-reset")).await;
        assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
        assert!(
            reply.body["error_description"]
                .as_str()
                .unwrap()
                .contains("no email")
        );

        user.email = Some("alice@example.com".into());
        user.disabled = true;
        env.service.durable().update_user(&user).await.unwrap();
        let reply = post(api, &format!("/admin/users/{SUBJECT}/password-reset")).await;
        assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
        assert!(
            reply.body["error_description"]
                .as_str()
                .unwrap()
                .contains("disabled")
        );
    }
    // Nothing was written for any of those.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
