//! The consent page and the whole flow up to tokens.

use axum::http::StatusCode;

use crate::login::SESSION_COOKIE;
use crate::ui::*;

#[tokio::test]
async fn the_full_flow_ends_in_tokens_for_every_granted_scope() {
    for ui in uis().await {
        let mut b = ui.browser();
        let consent = b
            .reach_consent(&cli_authorize(SEED_SCOPE, &[("nonce", "n-0S6_WzA2Mj")]))
            .await;
        let reply = b.decide(&consent, "allow", false).await;
        let (base, params) = reply.redirect_params();
        assert_eq!(base, CLI_REDIRECT, "{}", ui.name);
        assert_eq!(params["state"], "xyz");
        assert_eq!(params["iss"], ISSUER);
        assert_eq!(
            params["scope"], SEED_SCOPE,
            "every granted scope, hidden ones included"
        );
        let tokens = ui.redeem(&params["code"]).await;
        assert!(
            tokens.refresh_token.is_some(),
            "{}: offline was granted",
            ui.name
        );
        assert!(tokens.id_token.is_some(), "{}: openid was granted", ui.name);
        assert_eq!(tokens.scope.as_deref(), Some(SEED_SCOPE));
        // The code is single use, and so is the challenge.
        let again = b.decide(&consent, "allow", false).await;
        again.assert_page(StatusCode::BAD_REQUEST, &ui.name);
    }
}

#[tokio::test]
async fn the_consent_page_shows_the_partner_and_plain_words_but_no_technical_scopes() {
    for ui in uis().await {
        let mut b = ui.browser();
        let page = b.reach_consent(&cli_authorize(SEED_SCOPE, &[])).await;
        let body = &page.body;
        for needle in [
            &format!("id=\"client-logo\" src=\"{CLI_LOGO}\"") as &str,
            "Neon CLI wants to access your account",
            "href=\"https://partner.example.com\"",
            "href=\"https://partner.example.com/privacy\"",
            "href=\"https://partner.example.com/terms\"",
            "Signed in as User alice (alice).",
            "id=\"switch-account\"",
            "name=\"decision\" value=\"allow\"",
            "name=\"decision\" value=\"deny\"",
            "name=\"remember\"",
            "name=\"csrf_token\"",
        ] {
            assert!(
                body.contains(needle),
                "{}: {needle} missing in {body}",
                ui.name
            );
        }
        for (name, label, description) in PROJECT_SCOPES {
            assert!(body.contains(&format!("data-scope=\"{name}\"")), "{name}");
            assert!(
                body.contains(label) && body.contains(description),
                "{label}"
            );
        }
        for hidden in ["openid", "offline", "offline_access"] {
            assert!(
                !body.contains(&format!("data-scope=\"{hidden}\"")),
                "{}: {hidden} listed",
                ui.name
            );
        }
        assert!(!body.contains("Stay connected") && !body.contains("Sign you in"));
        let csp = page.header("content-security-policy").unwrap();
        assert!(
            csp.contains("form-action 'self' http://127.0.0.1:5555;"),
            "{csp}"
        );
        assert_eq!(page.header("cache-control"), Some("no-store"));
    }
}

#[tokio::test]
async fn deny_sends_access_denied_with_state_and_issuer() {
    for ui in uis().await {
        let mut b = ui.browser();
        let consent = b.reach_consent(&cli_authorize(SEED_SCOPE, &[])).await;
        let reply = b.decide(&consent, "deny", true).await;
        let (base, params) = reply.redirect_params();
        assert_eq!(base, CLI_REDIRECT);
        assert_eq!(params["error"], "access_denied", "{}", ui.name);
        assert_eq!(params["state"], "xyz");
        assert_eq!(params["iss"], ISSUER);
        assert!(!params.contains_key("code"));
        assert!(
            ui.store().get_consent(ALICE, CLI).await.unwrap().is_none(),
            "nothing remembered"
        );
    }
}

#[tokio::test]
async fn remembered_consent_is_skipped_unless_new_scopes_or_prompt_consent() {
    for ui in uis().await {
        let mut b = ui.browser();
        // Not remembered: asked again.
        b.authorize_alice(SEED_SCOPE, false).await;
        let again = b.get(&cli_authorize(SEED_SCOPE, &[])).await;
        assert!(again.location().starts_with("/ui/consent?"), "{}", ui.name);
        // Remembered: skipped, for the same scopes or fewer.
        let page = b.follow(&again).await;
        b.decide(&page, "allow", true).await;
        let reply = b
            .get(&cli_authorize("openid urn:neoncloud:projects:read", &[]))
            .await;
        let (base, params) = reply.redirect_params();
        assert_eq!(base, CLI_REDIRECT, "{}", ui.name);
        assert_eq!(params["scope"], "openid urn:neoncloud:projects:read");
        // A new scope, or prompt=consent: asked.
        let more = b
            .get(&cli_authorize(&format!("{SEED_SCOPE} email"), &[]))
            .await;
        assert!(more.location().starts_with("/ui/consent?"), "{}", ui.name);
        let forced = b
            .get(&cli_authorize(SEED_SCOPE, &[("prompt", "consent")]))
            .await;
        assert!(forced.location().starts_with("/ui/consent?"), "{}", ui.name);
    }
}

#[tokio::test]
async fn a_first_party_client_skips_consent() {
    for ui in uis().await {
        let mut b = ui.browser();
        let url = cli_authorize(SEED_SCOPE, &[])
            .replace("client_id=neon-cli", &format!("client_id={CONSOLE}"))
            .replace(
                "redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback",
                "redirect_uri=https%3A%2F%2Fconsole.example.com%2Fcallback",
            );
        let page = b.start(&url).await;
        let reply = b.login(&page, "alice", ALICE_PASSWORD, false).await;
        let (base, params) = reply.redirect_params();
        assert_eq!(base, CONSOLE_REDIRECT, "{}", ui.name);
        assert!(params.contains_key("code"));
        assert_eq!(params["iss"], ISSUER);
        let csp = page.header("content-security-policy").unwrap();
        assert!(
            csp.contains("form-action 'self' https://console.example.com;"),
            "{csp}"
        );
    }
}

#[tokio::test]
async fn a_redirect_uri_with_a_query_keeps_it() {
    for ui in uis().await {
        let mut b = ui.browser();
        let url = cli_authorize("openid", &[])
            .replace("client_id=neon-cli", &format!("client_id={WEB}"))
            .replace(
                "redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback",
                "redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback%3Ftenant%3Dacme",
            );
        let consent = b.reach_consent(&url).await;
        assert!(
            consent
                .body
                .contains("Neon Web will only learn who you are."),
            "{}",
            consent.body
        );
        let reply = b.decide(&consent, "allow", false).await;
        let location = reply.location();
        assert!(
            location.starts_with("https://app.example.com/callback?tenant=acme&code="),
            "{location}"
        );
    }
}

#[tokio::test]
async fn a_consent_form_without_csrf_or_from_another_browser_is_refused() {
    for ui in uis().await {
        let mut b = ui.browser();
        let consent = b.reach_consent(&cli_authorize(SEED_SCOPE, &[])).await;
        let challenge = consent.field("challenge");
        let reply = b
            .post(
                "/ui/consent",
                &[("challenge", &challenge), ("decision", "allow")],
            )
            .await;
        reply.assert_page(StatusCode::FORBIDDEN, &ui.name);

        // Another browser cannot use this challenge, even with its own valid session.
        let mut other = ui.browser();
        let other_consent = other.reach_consent(&cli_authorize(SEED_SCOPE, &[])).await;
        let stolen = other
            .get(&format!("/ui/consent?challenge={challenge}"))
            .await;
        stolen.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        let stolen = other
            .post(
                "/ui/consent",
                &[
                    (
                        "csrf_token",
                        &other_consent.form_field("consent-form", "csrf_token"),
                    ),
                    ("challenge", &challenge),
                    ("decision", "allow"),
                ],
            )
            .await;
        stolen.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        // The original still works.
        let ok = b.decide(&consent, "allow", false).await;
        assert!(ok.location().starts_with(CLI_REDIRECT), "{}", ui.name);
    }
}

#[tokio::test]
async fn not_you_ends_the_session_and_asks_for_a_login_for_the_same_request() {
    for ui in uis().await {
        let mut b = ui.browser();
        let consent = b.reach_consent(&cli_authorize(SEED_SCOPE, &[])).await;
        let switch = b
            .post(
                "/ui/consent/switch",
                &[
                    ("csrf_token", &switch_token(&consent)),
                    ("challenge", &consent.field("challenge")),
                ],
            )
            .await;
        assert!(
            switch.location().starts_with("/ui/login?challenge="),
            "{}",
            ui.name
        );
        assert!(
            b.cookie(SESSION_COOKIE).is_none(),
            "{}: session cookie cleared",
            ui.name
        );
        // The consent page now asks for a login first.
        let back = b
            .get(&format!(
                "/ui/consent?challenge={}",
                consent.field("challenge")
            ))
            .await;
        assert!(back.location().starts_with("/ui/login?challenge="));
        let page = b.follow(&switch).await;
        let reply = b.login(&page, "carol", CAROL_PASSWORD, false).await;
        let page = b.follow(&reply).await;
        assert!(
            page.body.contains("Signed in as User carol (carol)."),
            "{}",
            page.body
        );
    }
}

fn switch_token(page: &Page) -> String {
    page.form_field("switch-account-form", "csrf_token")
}

#[tokio::test]
async fn a_scope_the_catalogue_does_not_describe_is_named_in_plain_words() {
    for ui in uis().await {
        let mut b = ui.browser();
        let scope = format!("openid {UNDESCRIBED_SCOPE} urn:neoncloud:projects:read");
        let consent = b.reach_consent(&cli_authorize(&scope, &[])).await;
        assert!(
            consent.body.contains(
                "<li data-scope=\"patreon\"><span class=\"scope-label\">Access “patreon” data</span></li>"
            ),
            "{}: {}",
            ui.name,
            consent.body
        );
        assert!(
            consent.body.contains(">Read projects</span>"),
            "catalogue labels stay"
        );
        let reply = b.decide(&consent, "allow", true).await;
        assert!(reply.redirect_params().1.contains_key("code"));
        let apps = b.get("/account/apps").await;
        assert!(
            apps.body.contains("<li>Access “patreon” data</li>"),
            "{}",
            apps.body
        );

        let mut b = ui.browser();
        b.accept_language = Some("de".into());
        let consent = b
            .reach_consent(&cli_authorize(&scope, &[("prompt", "consent")]))
            .await;
        assert!(
            consent.body.contains(">Zugriff auf „patreon“-Daten</span>"),
            "{}",
            consent.body
        );
    }
}

/// The payload of a JWT, unverified (the token service's own tests verify signatures).
fn jwt_payload(jwt: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_custom_scope_with_claims_shows_its_label_and_the_claims_parameter_reaches_the_id_token()
{
    use gatehouse_core::scope::{ScopeDefinition, ScopeName};
    for ui in uis().await {
        ui.store()
            .create_scope(&ScopeDefinition {
                name: ScopeName::parse(UNDESCRIBED_SCOPE).unwrap(),
                label: "Your Patreon membership".into(),
                description: "Your tier and since when.".into(),
                hidden: false,
                claims: vec!["patreon".into()],
            })
            .await
            .unwrap();
        let mut b = ui.browser();
        let scope = format!("openid email {UNDESCRIBED_SCOPE}");
        let page = b
            .reach_consent(&cli_authorize(
                &scope,
                &[("claims", r#"{"id_token":{"email":{"essential":true}}}"#)],
            ))
            .await;
        for needle in [
            &format!("data-scope=\"{UNDESCRIBED_SCOPE}\"") as &str,
            "Your Patreon membership",
            "Your tier and since when.",
        ] {
            assert!(page.body.contains(needle), "{}: {needle}", ui.name);
        }
        let reply = b.decide(&page, "allow", false).await;
        let (_, params) = reply.redirect_params();
        let tokens = ui.redeem(&params["code"]).await;
        let claims = jwt_payload(tokens.id_token.as_deref().unwrap_or_default());
        assert!(
            claims["email"].is_string(),
            "{}: the claims parameter travels through the login UI: {claims}",
            ui.name
        );
    }
}

#[tokio::test]
async fn a_malformed_claims_parameter_is_an_error_redirect() {
    for ui in uis().await {
        let mut b = ui.browser();
        let reply = b
            .get(&cli_authorize(SEED_SCOPE, &[("claims", "{\"id_token\":")]))
            .await;
        let (base, params) = reply.redirect_params();
        assert_eq!(base, CLI_REDIRECT, "{}", ui.name);
        assert_eq!(params["error"], "invalid_request", "{}", ui.name);
        assert_eq!(params["state"], "xyz");
        assert!(params["error_description"].contains("claims"), "{params:?}");
    }
}
