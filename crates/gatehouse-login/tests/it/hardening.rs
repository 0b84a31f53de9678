//! Holes an attacker or a careless client could use at the authorization endpoint and the login
//! form: an `id_token_hint` naming another user than the one signed in, request objects and
//! response modes Gatehouse does not implement, oversized login fields, and offline access
//! granted without the user being told.

use axum::http::StatusCode;

use crate::ui::*;

/// Carol's ID token for the CLI client, from a whole flow in a browser of her own.
async fn carols_id_token(ui: &Ui) -> String {
    let mut browser = ui.browser_from("198.51.100.20:40000");
    let page = browser.start(&cli_authorize("openid", &[])).await;
    let after = browser.login(&page, "carol", CAROL_PASSWORD, false).await;
    let consent = browser.follow(&after).await;
    let reply = browser.decide(&consent, "allow", false).await;
    let (_, params) = reply.redirect_params();
    ui.redeem(&params["code"])
        .await
        .id_token
        .expect("an ID token for the openid scope")
}

#[tokio::test]
async fn an_id_token_hint_for_another_user_never_issues_for_the_signed_in_one() {
    for ui in uis().await {
        let hint = carols_id_token(&ui).await;
        let mut alice = ui.browser();
        // Alice is signed in and has consented to the CLI client before.
        alice.authorize_alice("openid", true).await;

        // prompt=none with a hint for Carol: login_required, not a code for Alice.
        let reply = alice
            .get(&cli_authorize(
                "openid",
                &[("prompt", "none"), ("id_token_hint", &hint)],
            ))
            .await;
        let (base, params) = reply.redirect_params();
        assert_eq!(base, CLI_REDIRECT, "{}", ui.name);
        assert_eq!(
            params.get("error").map(String::as_str),
            Some("login_required"),
            "{}: {params:?}",
            ui.name
        );
        assert!(!params.contains_key("code"), "{}", ui.name);

        // Without prompt=none: the sign-in page for Carol's account, saying who is signed in.
        let reply = alice
            .get(&cli_authorize("openid", &[("id_token_hint", &hint)]))
            .await;
        assert!(
            reply.location().starts_with("/ui/login?challenge="),
            "{}: {}",
            ui.name,
            reply.location()
        );
        let page = alice.follow(&reply).await;
        page.assert_page(StatusCode::OK, &ui.name);
        assert!(
            page.body.contains("id=\"signed-in-as-other\""),
            "{}: the page says who is signed in: {}",
            ui.name,
            page.body
        );
        assert_eq!(page.field("username"), "carol", "{}", ui.name);

        // Alice's own password does not get her a code for a request that names Carol.
        let refused = alice.login(&page, "alice", ALICE_PASSWORD, false).await;
        refused.assert_page(StatusCode::FORBIDDEN, &ui.name);
        assert!(
            refused.body.contains("id=\"login-error\""),
            "{}: {}",
            ui.name,
            refused.body
        );

        // Carol's credentials go on as usual.
        let page = alice
            .get(&cli_authorize("openid", &[("id_token_hint", &hint)]))
            .await;
        let page = alice.follow(&page).await;
        let after = alice.login(&page, "carol", CAROL_PASSWORD, false).await;
        assert!(
            after.location().starts_with("/ui/consent?challenge="),
            "{}: {}",
            ui.name,
            after.location()
        );
    }
}

#[tokio::test]
async fn a_hint_for_the_signed_in_user_is_honoured_and_a_forged_one_refused() {
    for ui in uis().await {
        let mut carol = ui.browser_from("198.51.100.21:40000");
        let page = carol.start(&cli_authorize("openid", &[])).await;
        let after = carol.login(&page, "carol", CAROL_PASSWORD, false).await;
        let consent = carol.follow(&after).await;
        let reply = carol.decide(&consent, "allow", true).await;
        let (_, params) = reply.redirect_params();
        let hint = ui.redeem(&params["code"]).await.id_token.unwrap();

        let reply = carol
            .get(&cli_authorize(
                "openid",
                &[("prompt", "none"), ("id_token_hint", &hint)],
            ))
            .await;
        let (_, params) = reply.redirect_params();
        assert!(params.contains_key("code"), "{}: {params:?}", ui.name);

        // A hint with its signature changed is an invalid_request, redirected with the state.
        let mut forged = hint.clone();
        forged.pop();
        forged.push(if hint.ends_with('A') { 'B' } else { 'A' });
        for bad in [forged.as_str(), "not-a-jwt"] {
            let reply = carol
                .get(&cli_authorize(
                    "openid",
                    &[("prompt", "none"), ("id_token_hint", bad)],
                ))
                .await;
            let (_, params) = reply.redirect_params();
            assert_eq!(
                params.get("error").map(String::as_str),
                Some("invalid_request"),
                "{}: {params:?}",
                ui.name
            );
            assert_eq!(params.get("state").map(String::as_str), Some("xyz"));
        }
    }
}

#[tokio::test]
async fn unsigned_request_objects_and_unsupported_response_modes_are_refused_by_name() {
    let ui = uis().await.remove(0);
    let mut browser = ui.browser();
    for (extra, error) in [
        (
            // Unsigned request objects are refused (RFC 9101 support verifies signatures).
            ("request", "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9."),
            "invalid_request_object",
        ),
        (
            ("request_uri", "https://partner.example.com/request.jwt"),
            "request_uri_not_supported",
        ),
        (("response_mode", "form_post.jwt"), "invalid_request"),
        (("response_mode", "fragment"), "invalid_request"),
    ] {
        let reply = browser.get(&cli_authorize("openid", &[extra])).await;
        let (base, params) = reply.redirect_params();
        assert_eq!(base, CLI_REDIRECT);
        assert_eq!(
            params.get("error").map(String::as_str),
            Some(error),
            "{extra:?}: {params:?}"
        );
        assert_eq!(params.get("state").map(String::as_str), Some("xyz"));
        assert_eq!(
            params.get("iss").map(String::as_str),
            Some(ISSUER),
            "{extra:?}"
        );
    }
    let reply = browser
        .get(&cli_authorize("openid", &[("response_mode", "query")]))
        .await;
    assert!(reply.location().starts_with("/ui/login?challenge="));
}

#[tokio::test]
async fn oversized_login_fields_get_the_login_page_with_400_not_a_server_error() {
    for ui in uis().await {
        let mut browser = ui.browser();
        let page = browser.start(&cli_authorize("openid", &[])).await;
        let long = "p".repeat(70_000);
        let reply = browser.login(&page, "alice", &long, false).await;
        reply.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        assert!(
            reply.body.contains("id=\"login-error\""),
            "{}: {}",
            ui.name,
            reply.body
        );
        assert!(
            !reply.body.contains(&long[..2000]),
            "the password is not echoed"
        );
        let page = browser.start(&cli_authorize("openid", &[])).await;
        let reply = browser
            .login(&page, &"a".repeat(1025), ALICE_PASSWORD, false)
            .await;
        reply.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        // The longest accepted password still reaches the password check (a wrong one here).
        let page = browser.start(&cli_authorize("openid", &[])).await;
        let reply = browser
            .login(&page, "alice", &"p".repeat(1024), false)
            .await;
        reply.assert_page(StatusCode::UNAUTHORIZED, &ui.name);
    }
}

#[tokio::test]
async fn offline_access_is_disclosed_on_the_consent_page_in_plain_words() {
    for ui in uis().await {
        // Without offline access requested, nothing is said about it.
        let mut first = ui.browser_from("198.51.100.30:40000");
        let consent = first
            .reach_consent(&cli_authorize("openid urn:neoncloud:projects:read", &[]))
            .await;
        assert!(
            !consent.body.contains("id=\"offline-access\""),
            "{}",
            ui.name
        );
        first.decide(&consent, "deny", false).await;

        let mut browser = ui.browser();
        let consent = browser
            .reach_consent(&cli_authorize(
                "openid offline_access urn:neoncloud:projects:read",
                &[],
            ))
            .await;
        assert!(
            consent.body.contains("id=\"offline-access\""),
            "{}: {}",
            ui.name,
            consent.body
        );
        assert!(
            consent.body.contains("while you are not using it"),
            "{}",
            ui.name
        );
        for technical in ["offline_access", "data-scope=\"offline"] {
            assert!(
                !consent.body.contains(technical),
                "{}: the technical name {technical:?} is shown",
                ui.name
            );
        }
        let reply = browser.decide(&consent, "allow", true).await;
        let (_, params) = reply.redirect_params();
        assert!(params.contains_key("code"));
        let remembered = ui
            .store()
            .get_consent(ALICE, CLI)
            .await
            .unwrap()
            .expect("a remembered consent");
        assert!(remembered.scope.contains("offline_access"), "{}", ui.name);

        // German.
        let mut german = ui.browser_from("198.51.100.31:40000");
        german.accept_language = Some("de".into());
        let consent = german
            .reach_consent(&cli_authorize(
                "openid offline",
                &[("ui_locales", "de"), ("prompt", "consent")],
            ))
            .await;
        assert!(
            consent.body.contains("id=\"offline-access\"")
                && consent
                    .body
                    .contains("auch wenn Sie die App nicht verwenden"),
            "{}: {}",
            ui.name,
            consent.body
        );
    }
}

#[tokio::test]
async fn offline_access_the_user_never_saw_is_asked_for_again_under_prompt_none() {
    for ui in uis().await {
        let mut browser = ui.browser();
        // The user consented to the projects scope only.
        browser
            .authorize_alice("openid urn:neoncloud:projects:read", true)
            .await;
        let reply = browser
            .get(&cli_authorize(
                "openid offline_access urn:neoncloud:projects:read",
                &[("prompt", "none")],
            ))
            .await;
        let (_, params) = reply.redirect_params();
        assert_eq!(
            params.get("error").map(String::as_str),
            Some("consent_required"),
            "{}: {params:?}",
            ui.name
        );
        // Asked again without prompt=none: the consent page, with the offline notice.
        let reply = browser
            .get(&cli_authorize(
                "openid offline_access urn:neoncloud:projects:read",
                &[],
            ))
            .await;
        assert!(reply.location().starts_with("/ui/consent?challenge="));
        let page = browser.follow(&reply).await;
        assert!(page.body.contains("id=\"offline-access\""), "{}", ui.name);
    }
}

/// The admin API over the UI's token service, as `gatehouse serve` mounts it.
fn admin_api(ui: &Ui) -> axum::Router {
    let service = &ui.service;
    gatehouse_token::admin::router(gatehouse_token::admin::AdminState::new(
        service.durable().clone(),
        service.revocations().clone(),
        service.clock().clone(),
        gatehouse_token::admin::client_secret_hasher(b"admin-in-login-tests"),
        gatehouse_token::admin::AdminConfig::default(),
    ))
}

async fn admin(
    router: &axum::Router,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> StatusCode {
    use tower::ServiceExt as _;
    let request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    router.clone().oneshot(request).await.unwrap().status()
}

/// A browser that is signed in answers an authorization request without the login page.
async fn is_signed_in(browser: &mut Browser<'_>) -> bool {
    let reply = browser.get(&cli_authorize("openid", &[])).await;
    !reply.location().starts_with("/ui/login")
}

#[tokio::test]
async fn a_password_reset_or_disabling_ends_every_login_session_of_the_user() {
    for ui in uis().await {
        let admin_api = admin_api(&ui);
        let mut laptop = ui.browser();
        laptop.authorize_alice("openid", true).await;
        let mut phone = ui.browser_from("198.51.100.40:40000");
        let page = phone.start(&cli_authorize("openid", &[])).await;
        phone.login(&page, "alice", ALICE_PASSWORD, true).await;
        assert!(is_signed_in(&mut laptop).await && is_signed_in(&mut phone).await);
        let mut carol = ui.browser_from("198.51.100.41:40000");
        let page = carol.start(&cli_authorize("openid", &[])).await;
        carol.login(&page, "carol", CAROL_PASSWORD, true).await;
        assert!(is_signed_in(&mut carol).await, "{}", ui.name);

        let status = admin(
            &admin_api,
            "PUT",
            &format!("/admin/users/{ALICE}/password"),
            serde_json::json!({"password": "a new password for alice"}),
        )
        .await;
        assert!(status.is_success(), "{}: {status}", ui.name);
        assert!(
            !is_signed_in(&mut laptop).await,
            "{}: the laptop's session survived",
            ui.name
        );
        assert!(
            !is_signed_in(&mut phone).await,
            "{}: the phone's session survived",
            ui.name
        );
        assert!(
            is_signed_in(&mut carol).await,
            "{}: another user's session ended",
            ui.name
        );

        let status = admin(
            &admin_api,
            "PATCH",
            &format!("/admin/users/{CAROL}"),
            serde_json::json!({"disabled": true}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}", ui.name);
        let status = admin(
            &admin_api,
            "PATCH",
            &format!("/admin/users/{CAROL}"),
            serde_json::json!({"disabled": false}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}", ui.name);
        assert!(
            !is_signed_in(&mut carol).await,
            "{}: a disabled user's session survived being re-enabled",
            ui.name
        );
    }
}
