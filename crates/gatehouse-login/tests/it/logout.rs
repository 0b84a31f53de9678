//! RP-initiated logout: id_token_hint, registered post-logout URI, state, confirmation.

use axum::http::StatusCode;

use crate::login::SESSION_COOKIE;
use crate::ui::*;

fn logout_url(params: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("/oauth2/sessions/logout?{query}")
}

#[tokio::test]
async fn logout_with_the_signed_in_users_id_token_hint_ends_at_once_and_redirects_with_state() {
    for ui in uis().await {
        let mut b = ui.browser();
        let params = b.authorize_alice(SEED_SCOPE, true).await;
        let id_token = ui.redeem(&params["code"]).await.id_token.unwrap();
        assert!(b.cookie(SESSION_COOKIE).is_some());
        let reply = b
            .get(&logout_url(&[
                ("id_token_hint", &id_token),
                ("post_logout_redirect_uri", CLI_LOGOUT),
                ("state", "bye"),
            ]))
            .await;
        let (base, params) = reply.redirect_params();
        assert_eq!(base, CLI_LOGOUT, "{}", ui.name);
        assert_eq!(params["state"], "bye");
        assert!(
            b.cookie(SESSION_COOKIE).is_none(),
            "{}: the cookie is deleted",
            ui.name
        );
        // The session is gone server-side too.
        let again = b.get(&cli_authorize(SEED_SCOPE, &[])).await;
        assert!(again.location().starts_with("/ui/login?"), "{}", ui.name);
    }
}

#[tokio::test]
async fn logout_with_another_users_hint_confirms_then_offers_the_apps_sign_in() {
    for ui in uis().await {
        // Alice's ID token, while carol is signed in in this browser.
        let mut b = ui.browser();
        let params = b.authorize_alice(SEED_SCOPE, true).await;
        let id_token = ui.redeem(&params["code"]).await.id_token.unwrap();
        let page = b
            .start(&cli_authorize(SEED_SCOPE, &[("prompt", "login")]))
            .await;
        b.login(&page, "carol", CAROL_PASSWORD, false).await;
        let page = b
            .get(&logout_url(&[
                ("id_token_hint", &id_token),
                ("post_logout_redirect_uri", CLI_LOGOUT),
                ("state", "bye"),
            ]))
            .await;
        page.assert_page(StatusCode::OK, &ui.name);
        assert!(
            page.body.contains("Neon CLI asked to sign you out."),
            "{}",
            page.body
        );
        assert!(page.body.contains("id=\"logout-confirm\""));
        let csp = page.header("content-security-policy").unwrap();
        assert!(
            csp.contains("form-action 'self' http://127.0.0.1:5555;"),
            "{csp}"
        );
        assert!(
            b.cookie(SESSION_COOKIE).is_some(),
            "nothing ends before the confirmation"
        );
        let reply = b
            .post(
                "/oauth2/sessions/logout/confirm",
                &[
                    ("csrf_token", &page.field("csrf_token")),
                    ("logout_challenge", &page.field("logout_challenge")),
                ],
            )
            .await;
        let (base, params) = reply.redirect_params();
        assert_eq!(base, CLI_LOGOUT, "{}", ui.name);
        assert_eq!(params["state"], "bye");
        assert!(b.cookie(SESSION_COOKIE).is_none());

        // A client without a post-logout URI: the signed-out page leads back to the app.
        let page = b
            .start(&cli_authorize(SEED_SCOPE, &[("prompt", "login")]))
            .await;
        b.login(&page, "alice", ALICE_PASSWORD, false).await;
        let page = b.get(&logout_url(&[("client_id", CLI)])).await;
        page.assert_page(StatusCode::OK, &ui.name);
        let done = b
            .post(
                "/oauth2/sessions/logout/confirm",
                &[
                    ("csrf_token", &page.field("csrf_token")),
                    ("logout_challenge", &page.field("logout_challenge")),
                ],
            )
            .await;
        done.assert_page(StatusCode::OK, &ui.name);
        assert!(
            done.body.contains(
                "id=\"sign-in-again\" href=\"https://partner.example.com\">Sign in again to Neon CLI</a>"
            ),
            "{}",
            done.body
        );
    }
}

#[tokio::test]
async fn unregistered_post_logout_uris_and_bad_hints_get_a_page() {
    for ui in uis().await {
        let mut b = ui.browser();
        b.authorize_alice(SEED_SCOPE, true).await;
        for params in [
            vec![
                ("client_id", CLI),
                ("post_logout_redirect_uri", "https://evil.example/bye"),
            ],
            vec![("post_logout_redirect_uri", CLI_LOGOUT)],
            vec![
                ("id_token_hint", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"),
                ("post_logout_redirect_uri", CLI_LOGOUT),
            ],
            vec![("client_id", "nobody")],
        ] {
            let reply = b.get(&logout_url(&params)).await;
            reply.assert_page(StatusCode::BAD_REQUEST, &format!("{}: {params:?}", ui.name));
            assert!(
                reply.body.contains("data-error=\"invalid_request\""),
                "{}",
                reply.body
            );
        }
        assert!(b.cookie(SESSION_COOKIE).is_some(), "still signed in");
    }
}

#[tokio::test]
async fn logout_without_parameters_ends_at_the_signed_out_page_and_needs_csrf() {
    for ui in uis().await {
        let mut b = ui.browser();
        b.authorize_alice(SEED_SCOPE, true).await;
        let page = b.get("/oauth2/sessions/logout").await;
        page.assert_page(StatusCode::OK, &ui.name);
        let refused = b
            .post(
                "/oauth2/sessions/logout/confirm",
                &[("logout_challenge", &page.field("logout_challenge"))],
            )
            .await;
        refused.assert_page(StatusCode::FORBIDDEN, &ui.name);
        assert!(b.cookie(SESSION_COOKIE).is_some());

        let done = b
            .post(
                "/oauth2/sessions/logout/confirm",
                &[
                    ("csrf_token", &page.field("csrf_token")),
                    ("logout_challenge", &page.field("logout_challenge")),
                ],
            )
            .await;
        done.assert_page(StatusCode::OK, &ui.name);
        assert!(done.body.contains("id=\"signed-out\""));
        assert!(b.cookie(SESSION_COOKIE).is_none());
        // Signed out already: a client's logout goes straight to its post-logout URI.
        let reply = b
            .get(&logout_url(&[
                ("client_id", CLI),
                ("post_logout_redirect_uri", CLI_LOGOUT),
                ("state", "s"),
            ]))
            .await;
        assert_eq!(
            reply.location(),
            format!("{CLI_LOGOUT}?state=s"),
            "{}",
            ui.name
        );
    }
}
