//! Connected apps: listing in plain words, and revoking ends the app's tokens.

use axum::http::StatusCode;

use crate::ui::*;

#[tokio::test]
async fn the_apps_page_needs_a_session_and_comes_back_after_login() {
    for ui in uis().await {
        let mut b = ui.browser();
        let reply = b.get("/account/apps").await;
        assert_eq!(reply.location(), "/ui/login", "{}", ui.name);
        let page = b.follow(&reply).await;
        page.assert_page(StatusCode::OK, &ui.name);
        assert!(
            page.body.contains("Sign in to manage your account"),
            "{}",
            page.body
        );
        let reply = b.login(&page, "alice", ALICE_PASSWORD, false).await;
        assert_eq!(reply.location(), "/account/apps");
        let apps = b.follow(&reply).await;
        apps.assert_page(StatusCode::OK, &ui.name);
        assert!(apps.body.contains("id=\"no-apps\""), "{}", apps.body);
    }
}

#[tokio::test]
async fn revoking_an_app_removes_the_consent_and_ends_its_refresh_token() {
    for ui in uis().await {
        let mut b = ui.browser();
        let params = b.authorize_alice(SEED_SCOPE, true).await;
        let tokens = ui.redeem(&params["code"]).await;
        let refresh = tokens.refresh_token.clone().unwrap();

        let apps = b.get("/account/apps").await;
        apps.assert_page(StatusCode::OK, &ui.name);
        assert!(
            apps.body.contains(&format!("data-client-id=\"{CLI}\"")),
            "{}",
            apps.body
        );
        assert!(apps.body.contains("<h2>Neon CLI</h2>"));
        for (_, label, _) in PROJECT_SCOPES {
            assert!(apps.body.contains(&format!("<li>{label}</li>")), "{label}");
        }
        assert!(!apps.body.contains("<li>openid</li>") && !apps.body.contains("Stay connected"));
        assert!(
            apps.body.contains("Access granted on 20"),
            "the date is shown"
        );

        // Without the CSRF token nothing happens.
        let refused = b.post("/account/apps/revoke", &[("client_id", CLI)]).await;
        refused.assert_page(StatusCode::FORBIDDEN, &ui.name);
        assert!(ui.store().get_consent(ALICE, CLI).await.unwrap().is_some());

        let csrf = apps.field("csrf_token");
        let reply = b
            .post(
                "/account/apps/revoke",
                &[("csrf_token", &csrf), ("client_id", CLI)],
            )
            .await;
        assert_eq!(reply.location(), "/account/apps?revoked=1", "{}", ui.name);
        let after = b.follow(&reply).await;
        assert!(after.body.contains("id=\"revoked-notice\""));
        assert!(after.body.contains("id=\"no-apps\""), "{}", after.body);
        assert!(ui.store().get_consent(ALICE, CLI).await.unwrap().is_none());
        assert_eq!(
            ui.refresh(&refresh).await.err().as_deref(),
            Some("invalid_grant"),
            "{}",
            ui.name
        );
        let introspected = ui
            .service
            .introspect(&tokens.access_token, None, None)
            .await
            .unwrap();
        assert!(
            !introspected.active,
            "{}: the access token ended too",
            ui.name
        );
        // The next authorization asks for consent again.
        let reply = b.get(&cli_authorize(SEED_SCOPE, &[])).await;
        assert!(reply.location().starts_with("/ui/consent?"));
    }
}
