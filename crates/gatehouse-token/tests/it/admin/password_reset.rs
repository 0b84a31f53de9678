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

async fn send_json(
    api: &axum::Router,
    method: Method,
    uri: &str,
    body: serde_json::Value,
) -> Reply {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    send(api, request).await
}

#[tokio::test]
async fn a_new_or_changed_unverified_address_gets_a_link_that_verifies_it() {
    let sink = SmtpSink::start().await;
    let mailer = smtp_mailer(&sink);
    for (n, env) in envs_with(|s| s.accounts.mailer = Some(mailer.clone()))
        .await
        .into_iter()
        .enumerate()
    {
        let api = &env.admin_api;
        let created = send_json(
            api,
            Method::POST,
            "/admin/users",
            serde_json::json!({"username": "erin", "email": "erin@example.com"}),
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        assert_eq!(created.body["email_verified"], false);
        let id = created.body["id"].as_str().unwrap().to_owned();
        let mails = sink.wait_for("erin@example.com", n + 1).await;
        let mail = mails.last().unwrap();
        assert_eq!(mail.subject, "Confirm your email address for Neon");
        let link = mail.link("/ui/verify-email?token=").unwrap();
        let token = link.split("token=").nth(1).unwrap();
        let (user, _) = env.service.verify_email(token).await.unwrap();
        assert!(user.email_verified);
        assert!(
            env.service
                .durable()
                .get_user(&id)
                .await
                .unwrap()
                .unwrap()
                .email_verified
        );
        // Once only.
        assert!(matches!(
            env.service.verify_email(token).await,
            Err(AccountError::DeadLink)
        ));

        // A verified address given by the operator is not mailed; a changed one is, and the
        // old link for the old address would be dead.
        let before = sink.messages().len();
        send_json(
            api,
            Method::POST,
            "/admin/users",
            serde_json::json!({"username": "fay", "email": "fay@example.com", "email_verified": true}),
        )
        .await;
        let changed = send_json(
            api,
            Method::PATCH,
            &format!("/admin/users/{id}"),
            serde_json::json!({"email": "erin@example.org", "email_verified": false}),
        )
        .await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
        let to_new = sink.wait_for("erin@example.org", n + 1).await;
        assert!(to_new.last().unwrap().link("/ui/verify-email").is_some());
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let new: Vec<_> = sink.messages().into_iter().skip(before).collect();
        assert_eq!(
            new.len(),
            1,
            "{}: only the changed address: {new:#?}",
            env.name
        );
    }
}

#[tokio::test]
async fn partners_are_told_of_each_decision_by_mail() {
    use gatehouse_core::registration_request::{AppRequest, RegistrationRequest, RequestStatus};
    let sink = SmtpSink::start().await;
    let mailer = smtp_mailer(&sink);
    for (n, env) in envs_with(|s| s.accounts.mailer = Some(mailer.clone()))
        .await
        .into_iter()
        .enumerate()
    {
        let api = &env.admin_api;
        let app = |name: &str| AppRequest {
            name: name.into(),
            description: "Syncs projects".into(),
            website: String::new(),
            contact_name: "Ada".into(),
            reason: "customers asked".into(),
            redirect_uris: vec!["https://acme.example/callback".into()],
            scopes: vec!["openid".into()],
            confidential: true,
            logo_uri: String::new(),
        };
        let now = time::OffsetDateTime::now_utc();
        let mut ids = Vec::new();
        for name in ["Acme Sync", "Bravo", "Charlie"] {
            let r = RegistrationRequest::new(SUBJECT, app(name), RequestStatus::Pending, now);
            env.service
                .durable()
                .create_registration_request(&r)
                .await
                .unwrap();
            ids.push(r.id);
        }
        let approve = send_json(
            api,
            Method::POST,
            &format!("/admin/registration-requests/{}/approve", ids[0]),
            serde_json::json!({}),
        )
        .await;
        assert_eq!(approve.status, StatusCode::OK, "{}", approve.body);
        let reject = send_json(
            api,
            Method::POST,
            &format!("/admin/registration-requests/{}/reject", ids[1]),
            serde_json::json!({"reason": "Needs a privacy policy"}),
        )
        .await;
        assert_eq!(reject.status, StatusCode::OK, "{}", reject.body);
        let changes = send_json(
            api,
            Method::POST,
            &format!("/admin/registration-requests/{}/request-changes", ids[2]),
            serde_json::json!({"reason": "Use https"}),
        )
        .await;
        assert_eq!(changes.status, StatusCode::OK, "{}", changes.body);

        let mails = sink.wait_for("alice@example.com", 3 * (n + 1)).await;
        let subjects: Vec<&str> = mails[mails.len() - 3..]
            .iter()
            .map(|m| m.subject.as_str())
            .collect();
        assert!(
            subjects.contains(&"Your app Acme Sync is approved"),
            "{subjects:?}"
        );
        assert!(
            subjects.contains(&"Your request for Bravo was declined"),
            "{subjects:?}"
        );
        assert!(
            subjects.contains(&"Your app Charlie needs changes"),
            "{subjects:?}"
        );
        let declined = mails
            .iter()
            .rev()
            .find(|m| m.subject.contains("Bravo"))
            .unwrap();
        assert!(
            declined.text.contains("> Needs a privacy policy"),
            "{}",
            declined.text
        );
        assert!(
            declined
                .text
                .contains(&format!("{}/developers", crate::oauth::ISSUER))
        );
        // The approval mail carries no secret: the portal shows it once.
        let approved = mails
            .iter()
            .rev()
            .find(|m| m.subject.contains("Acme"))
            .unwrap();
        assert!(!approved.raw.contains("secret:"), "{}", approved.raw);
    }
}
