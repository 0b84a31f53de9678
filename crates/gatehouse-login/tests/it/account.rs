//! Connected apps: listing in plain words, and revoking ends the app's tokens.

use axum::http::StatusCode;

use crate::ui::*;

#[tokio::test]
async fn the_apps_page_needs_a_session_and_comes_back_after_login() {
    for ui in uis().await {
        let mut b = ui.browser();
        let reply = b.get("/account/apps").await;
        assert_eq!(
            reply.location(),
            "/ui/login?return=%2Faccount%2Fapps",
            "{}",
            ui.name
        );
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

        let csrf = apps.form_field("connected-apps", "csrf_token");
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

#[tokio::test]
async fn the_root_and_account_lead_to_the_account_page_or_to_a_sign_in() {
    for ui in uis().await {
        let mut b = ui.browser();
        for path in ["/", "/account"] {
            let page = b.get(path).await;
            page.assert_page(StatusCode::OK, &format!("{}: {path}", ui.name));
            assert!(page.body.contains("You are signed out"), "{}", page.body);
            assert!(
                page.body.contains(
                    "<a class=\"button button-primary\" id=\"sign-in-again\" href=\"/ui/login\">Sign in</a>"
                ),
                "{}",
                page.body
            );
        }
        let login = b.get("/ui/login").await;
        login.assert_page(StatusCode::OK, &ui.name);
        assert!(login.body.contains("Sign in to manage your account"));
        let reply = b.login(&login, "alice", ALICE_PASSWORD, false).await;
        assert_eq!(reply.location(), "/account", "{}", ui.name);
        assert_eq!(b.get("/").await.location(), "/account");
        let page = b.get("/account").await;
        page.assert_page(StatusCode::OK, &ui.name);
        assert!(
            page.body.contains("id=\"connected-apps-link\""),
            "{}",
            page.body
        );
    }
}

#[tokio::test]
async fn under_an_issuer_path_the_issuer_itself_leads_to_a_sign_in() {
    for ui in uis_with(|c| c.base_path = "/api".into()).await {
        let mut b = ui.browser();
        for path in ["/api", "/api/", "/api/account"] {
            let page = b.get(path).await;
            page.assert_page(StatusCode::OK, &format!("{}: {path}", ui.name));
            assert!(
                page.body.contains("href=\"/api/ui/login\">Sign in</a>"),
                "{}",
                page.body
            );
        }
        assert_eq!(b.get("/account").await.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn signing_out_from_the_account_page_is_one_step_and_offers_to_sign_in_again() {
    for ui in uis().await {
        let mut b = ui.browser();
        b.authorize_alice(SEED_SCOPE, true).await;
        let apps = b.get("/account/apps").await;
        apps.assert_page(StatusCode::OK, &ui.name);
        assert!(apps.body.contains("id=\"sign-out\""), "{}", apps.body);
        // Without the form's token nothing happens.
        let refused = b.post("/oauth2/sessions/logout/confirm", &[]).await;
        refused.assert_page(StatusCode::FORBIDDEN, &ui.name);
        assert!(b.cookie(crate::login::SESSION_COOKIE).is_some());

        let csrf = apps.form_field("sign-out-form", "csrf_token");
        let done = b
            .post("/oauth2/sessions/logout/confirm", &[("csrf_token", &csrf)])
            .await;
        done.assert_page(StatusCode::OK, &ui.name);
        assert!(done.body.contains("id=\"signed-out\""), "{}", done.body);
        assert!(
            done.body
                .contains("id=\"sign-in-again\" href=\"/ui/login\">Sign in again</a>"),
            "{}",
            done.body
        );
        assert!(
            b.cookie(crate::login::SESSION_COOKIE).is_none(),
            "{}",
            ui.name
        );
        assert!(
            b.get("/account/apps")
                .await
                .location()
                .starts_with("/ui/login")
        );
    }
}
