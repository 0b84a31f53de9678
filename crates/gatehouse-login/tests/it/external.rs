//! External UI mode (`GATEHOUSE_UI=external`): a login and consent "app" written here against
//! Hydra's challenge API (`hydra_admin_router`), and the browser going back and forth.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use gatehouse_login::{ExternalUi, LoginConfig};
use gatehouse_testkit::http::{Reply, send_json};
use serde_json::{Value, json};
use url::Url;

use crate::ui::*;

const LOGIN_APP: &str = "https://login.example.com/login";
const CONSENT_APP: &str = "https://login.example.com/consent";
const LOGOUT_APP: &str = "https://login.example.com/logout";
const REQUESTS: &str = "/admin/oauth2/auth/requests";

fn external(c: &mut LoginConfig) {
    c.external = Some(ExternalUi {
        login_url: LOGIN_APP.into(),
        consent_url: CONSENT_APP.into(),
        logout_url: Some(LOGOUT_APP.into()),
        error_url: None,
    });
}

async fn external_uis() -> Vec<Ui> {
    uis_with(external).await
}

/// The admin API call of the test's login app.
async fn admin(ui: &Ui, method: &str, uri: &str, body: Option<Value>) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    request = request.header("host", "127.0.0.1:4445");
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    send_json(&ui.admin, request.body(body).unwrap()).await
}

/// The value of `name` in the query of `url` (absolute or not).
fn param(url: &str, name: &str) -> String {
    let url = Url::parse(url)
        .or_else(|_| Url::parse(&format!("http://ui.test{url}")))
        .unwrap();
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

/// An absolute URL of the issuer as a path the in-process browser can get.
fn local(url: &str) -> String {
    url.strip_prefix(ISSUER)
        .unwrap_or_else(|| panic!("{url} is not under the issuer"))
        .to_owned()
}

/// The authorization request, on to the external login app: the login challenge.
async fn start(b: &mut Browser<'_>, authorize: &str) -> String {
    let reply = b.get(authorize).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert!(
        reply.location().starts_with(&format!("{LOGIN_APP}?")),
        "{}",
        reply.location()
    );
    param(reply.location(), "login_challenge")
}

async fn accept_login(ui: &Ui, challenge: &str, body: Value) -> Reply {
    admin(
        ui,
        "PUT",
        &format!("{REQUESTS}/login/accept?login_challenge={challenge}"),
        Some(body),
    )
    .await
}

async fn accept_consent(ui: &Ui, challenge: &str, body: Value) -> Reply {
    admin(
        ui,
        "PUT",
        &format!("{REQUESTS}/consent/accept?consent_challenge={challenge}"),
        Some(body),
    )
    .await
}

/// Signs alice in through the login app; answers the consent challenge.
async fn to_consent(ui: &Ui, b: &mut Browser<'_>, remember: bool) -> String {
    let login = start(b, &cli_authorize(SEED_SCOPE, &[("nonce", "n-1")])).await;
    let accepted = accept_login(ui, &login, json!({"subject": ALICE, "remember": remember})).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    let back = b.get(&local(&accepted.str("redirect_to"))).await;
    assert!(
        back.location().starts_with(&format!("{CONSENT_APP}?")),
        "{}: {}",
        ui.name,
        back.location()
    );
    param(back.location(), "consent_challenge")
}

fn every_scope() -> Vec<&'static str> {
    SEED_SCOPE.split(' ').collect()
}

/// The callback's parameters after the browser followed `redirect_to`.
async fn back_to_client(b: &mut Browser<'_>, redirect_to: &str) -> HashMap<String, String> {
    let reply = b.get(&local(redirect_to)).await;
    let (base, params) = reply.redirect_params();
    assert_eq!(base, CLI_REDIRECT, "{}", reply.body);
    params
}

fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn an_external_app_signs_in_and_consents_and_the_client_gets_tokens() {
    for ui in external_uis().await {
        let mut b = ui.browser();
        let login = start(
            &mut b,
            &cli_authorize(SEED_SCOPE, &[("login_hint", "alice")]),
        )
        .await;
        let request = admin(
            &ui,
            "GET",
            &format!("{REQUESTS}/login?login_challenge={login}"),
            None,
        )
        .await;
        assert_eq!(request.status, StatusCode::OK, "{}", request.body);
        let r = &request.body;
        assert_eq!(r["challenge"], login.as_str());
        assert_eq!(r["skip"], false);
        assert_eq!(r["subject"], "");
        assert_eq!(r["client"]["client_id"], CLI);
        assert_eq!(r["client"]["client_name"], "Neon CLI");
        assert_eq!(r["oidc_context"]["login_hint"], "alice");
        assert_eq!(r["requested_scope"], json!(every_scope()));
        assert!(
            r["request_url"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{ISSUER}/oauth2/auth?client_id={CLI}")),
            "{r}"
        );
        assert!(r["session_id"].as_str().is_some_and(|s| !s.is_empty()));

        let accepted = accept_login(&ui, &login, json!({"subject": ALICE, "remember": true})).await;
        assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
        let redirect_to = accepted.str("redirect_to");
        assert!(redirect_to.contains("login_verifier="), "{redirect_to}");
        let back = b.get(&local(&redirect_to)).await;
        assert!(
            back.location()
                .starts_with(&format!("{CONSENT_APP}?consent_challenge=")),
            "{}",
            back.location()
        );
        assert!(
            back.set_cookies().iter().any(|c| c.contains("session")),
            "remember: a login session"
        );
        let consent = param(back.location(), "consent_challenge");
        let request = admin(
            &ui,
            "GET",
            &format!("{REQUESTS}/consent?consent_challenge={consent}"),
            None,
        )
        .await;
        assert_eq!(request.status, StatusCode::OK, "{}", request.body);
        let r = &request.body;
        assert_eq!(r["challenge"], consent.as_str());
        assert_eq!(r["subject"], ALICE);
        assert_eq!(r["login_challenge"], login.as_str());
        assert_eq!(r["skip"], false);
        assert_eq!(r["requested_scope"], json!(every_scope()));

        let accepted = accept_consent(
            &ui,
            &consent,
            json!({
                "grant_scope": every_scope(),
                "remember": true,
                "session": {"id_token": {"tenant": "acme"}, "access_token": {"team": "core"}},
            }),
        )
        .await;
        assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
        let redirect_to = accepted.str("redirect_to");
        assert!(redirect_to.contains("consent_verifier="), "{redirect_to}");
        let params = back_to_client(&mut b, &redirect_to).await;
        assert_eq!(params["state"], "xyz");
        assert_eq!(params["scope"], SEED_SCOPE);
        let tokens = ui.redeem(&params["code"]).await;
        let id_token = jwt_claims(tokens.id_token.as_deref().unwrap());
        assert_eq!(id_token["sub"], ALICE, "{}", ui.name);
        assert_eq!(id_token["tenant"], "acme", "{}: {id_token}", ui.name);
        assert!(tokens.refresh_token.is_some());

        // The second run: the session is reused (skip) and the consent remembered.
        let login = start(&mut b, &cli_authorize(SEED_SCOPE, &[])).await;
        let request = admin(
            &ui,
            "GET",
            &format!("{REQUESTS}/login?login_challenge={login}"),
            None,
        )
        .await;
        assert_eq!(request.body["skip"], true, "{}", request.body);
        assert_eq!(request.body["subject"], ALICE);
        let accepted = accept_login(&ui, &login, json!({"subject": ALICE})).await;
        let back = b.get(&local(&accepted.str("redirect_to"))).await;
        let consent = param(back.location(), "consent_challenge");
        let accepted = accept_consent(&ui, &consent, json!({"grant_scope": every_scope()})).await;
        let params = back_to_client(&mut b, &accepted.str("redirect_to")).await;
        assert!(params.contains_key("code"), "{params:?}");
    }
}

#[tokio::test]
async fn a_login_rejection_reaches_the_client_as_access_denied() {
    for ui in external_uis().await {
        let mut b = ui.browser();
        let login = start(&mut b, &cli_authorize(SEED_SCOPE, &[])).await;
        let rejected = admin(
            &ui,
            "PUT",
            &format!("{REQUESTS}/login/reject?login_challenge={login}"),
            Some(json!({"error": "access_denied", "error_description": "no such account"})),
        )
        .await;
        assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.body);
        let params = back_to_client(&mut b, &rejected.str("redirect_to")).await;
        assert_eq!(params["error"], "access_denied");
        assert_eq!(params["error_description"], "no such account");
        assert_eq!(params["state"], "xyz");
        assert!(!params.contains_key("code"));
    }
}

#[tokio::test]
async fn a_consent_rejection_reaches_the_client_as_access_denied() {
    for ui in external_uis().await {
        let mut b = ui.browser();
        let consent = to_consent(&ui, &mut b, false).await;
        let rejected = admin(
            &ui,
            "PUT",
            &format!("{REQUESTS}/consent/reject?consent_challenge={consent}"),
            Some(json!({"error": "access_denied", "error_description": "the user said no"})),
        )
        .await;
        let params = back_to_client(&mut b, &rejected.str("redirect_to")).await;
        assert_eq!(params["error"], "access_denied");
        assert_eq!(params["error_description"], "the user said no");
        assert!(
            ui.store().get_consent(ALICE, CLI).await.unwrap().is_none(),
            "nothing remembered"
        );
    }
}

#[tokio::test]
async fn a_verifier_brought_by_another_browser_is_refused() {
    for ui in external_uis().await {
        let mut victim = ui.browser();
        let login = start(&mut victim, &cli_authorize(SEED_SCOPE, &[])).await;
        let accepted = accept_login(&ui, &login, json!({"subject": ALICE})).await;
        let mut attacker = ui.browser_from("198.51.100.9:40000");
        let stolen = attacker.get(&local(&accepted.str("redirect_to"))).await;
        stolen.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        assert!(stolen.header("location").is_none());

        // The same at the consent step.
        let mut victim = ui.browser();
        let consent = to_consent(&ui, &mut victim, false).await;
        let accepted = accept_consent(&ui, &consent, json!({"grant_scope": every_scope()})).await;
        let mut attacker = ui.browser_from("198.51.100.9:40000");
        let stolen = attacker.get(&local(&accepted.str("redirect_to"))).await;
        stolen.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        assert!(!stolen.body.contains("code="), "{}", stolen.body);
    }
}

#[tokio::test]
async fn a_verifier_is_single_use() {
    for ui in external_uis().await {
        let mut b = ui.browser();
        let consent = to_consent(&ui, &mut b, false).await;
        let accepted = accept_consent(&ui, &consent, json!({"grant_scope": every_scope()})).await;
        let redirect_to = accepted.str("redirect_to");
        let params = back_to_client(&mut b, &redirect_to).await;
        assert!(params.contains_key("code"));
        let replay = b.get(&local(&redirect_to)).await;
        replay.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        // The challenge is gone too: the app cannot answer it again.
        let again = accept_consent(&ui, &consent, json!({"grant_scope": every_scope()})).await;
        assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.body);
        assert_eq!(again.body["error"], "Not Found");
        assert!(again.body["error_description"].is_string());
    }
}

#[tokio::test]
async fn a_second_answer_to_a_challenge_is_a_conflict() {
    for ui in external_uis().await {
        let mut b = ui.browser();
        let login = start(&mut b, &cli_authorize(SEED_SCOPE, &[])).await;
        let first = accept_login(&ui, &login, json!({"subject": ALICE})).await;
        assert_eq!(first.status, StatusCode::OK);
        let second = accept_login(&ui, &login, json!({"subject": CAROL})).await;
        assert_eq!(second.status, StatusCode::CONFLICT, "{}", second.body);
        let reject = admin(
            &ui,
            "PUT",
            &format!("{REQUESTS}/login/reject?login_challenge={login}"),
            Some(json!({})),
        )
        .await;
        assert_eq!(reject.status, StatusCode::CONFLICT);
    }
}

#[tokio::test]
async fn an_expired_challenge_is_not_found_and_its_verifier_refused() {
    for ui in uis_with(|c| {
        external(c);
        c.challenge_ttl = std::time::Duration::from_secs(2);
    })
    .await
    {
        let mut b = ui.browser();
        let login = start(&mut b, &cli_authorize(SEED_SCOPE, &[])).await;
        let accepted = accept_login(&ui, &login, json!({"subject": ALICE})).await;
        let redirect_to = accepted.str("redirect_to");
        let late = start(&mut b, &cli_authorize(SEED_SCOPE, &[])).await;
        tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
        let gone = admin(
            &ui,
            "GET",
            &format!("{REQUESTS}/login?login_challenge={late}"),
            None,
        )
        .await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
        let gone = accept_login(&ui, &late, json!({"subject": ALICE})).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
        let expired = b.get(&local(&redirect_to)).await;
        expired.assert_page(StatusCode::BAD_REQUEST, &ui.name);
    }
}

#[tokio::test]
async fn reserved_claims_cannot_be_set_through_the_consent_session() {
    for ui in external_uis().await {
        let mut b = ui.browser();
        let consent = to_consent(&ui, &mut b, false).await;
        for claim in ["sub", "iss", "aud", "nonce", "acr", "sid"] {
            let refused = accept_consent(
                &ui,
                &consent,
                json!({"grant_scope": every_scope(), "session": {"id_token": {claim: "mallory"}}}),
            )
            .await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{claim}");
            assert!(
                refused.body["error_description"]
                    .as_str()
                    .unwrap()
                    .contains(claim),
                "{}",
                refused.body
            );
        }
        let refused = accept_consent(
            &ui,
            &consent,
            json!({"grant_scope": every_scope(), "session": {"access_token": {"client_id": "x"}}}),
        )
        .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        // Still answerable properly afterwards.
        let accepted = accept_consent(&ui, &consent, json!({"grant_scope": every_scope()})).await;
        assert_eq!(accepted.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_consent_may_grant_only_requested_scopes_and_audiences() {
    for ui in external_uis().await {
        let mut b = ui.browser();
        let consent = to_consent(&ui, &mut b, false).await;
        // `profile` is allowed for the client but was not requested.
        for scope in [vec!["openid", "profile"], vec!["admin"]] {
            let refused = accept_consent(&ui, &consent, json!({ "grant_scope": scope })).await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        }
        let refused = accept_consent(
            &ui,
            &consent,
            json!({"grant_scope": ["openid"], "grant_access_token_audience": ["https://api.evil.example"]}),
        )
        .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        // A subset of the requested scopes is granted as such.
        let accepted =
            accept_consent(&ui, &consent, json!({"grant_scope": ["openid", "offline"]})).await;
        let params = back_to_client(&mut b, &accepted.str("redirect_to")).await;
        assert_eq!(params["scope"], "openid offline");
        let tokens = ui.redeem(&params["code"]).await;
        assert_eq!(tokens.scope.as_deref(), Some("openid offline"));
    }
}

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required_without_the_app() {
    for ui in external_uis().await {
        let mut b = ui.browser();
        let reply = b
            .get(&cli_authorize(SEED_SCOPE, &[("prompt", "none")]))
            .await;
        let (base, params) = reply.redirect_params();
        assert_eq!(base, CLI_REDIRECT);
        assert_eq!(params["error"], "login_required");
    }
}

#[tokio::test]
async fn logout_goes_through_the_external_app() {
    for ui in external_uis().await {
        let mut b = ui.browser();
        let consent = to_consent(&ui, &mut b, true).await;
        let accepted = accept_consent(&ui, &consent, json!({"grant_scope": every_scope()})).await;
        back_to_client(&mut b, &accepted.str("redirect_to")).await;

        let start_logout = b
            .get(&format!(
                "/oauth2/sessions/logout?client_id={CLI}&post_logout_redirect_uri={CLI_LOGOUT}&state=bye"
            ))
            .await;
        assert!(
            start_logout
                .location()
                .starts_with(&format!("{LOGOUT_APP}?logout_challenge=")),
            "{}: {}",
            ui.name,
            start_logout.location()
        );
        let challenge = param(start_logout.location(), "logout_challenge");
        let request = admin(
            &ui,
            "GET",
            &format!("{REQUESTS}/logout?logout_challenge={challenge}"),
            None,
        )
        .await;
        assert_eq!(request.status, StatusCode::OK, "{}", request.body);
        assert_eq!(request.body["subject"], ALICE);
        assert_eq!(request.body["rp_initiated"], true);
        assert_eq!(request.body["client"]["client_id"], CLI);
        let accepted = admin(
            &ui,
            "PUT",
            &format!("{REQUESTS}/logout/accept?logout_challenge={challenge}"),
            None,
        )
        .await;
        assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
        let done = b.get(&local(&accepted.str("redirect_to"))).await;
        assert_eq!(done.location(), format!("{CLI_LOGOUT}?state=bye"));
        // Signed out: the next request is not a skip.
        let login = start(&mut b, &cli_authorize(SEED_SCOPE, &[])).await;
        let request = admin(
            &ui,
            "GET",
            &format!("{REQUESTS}/login?login_challenge={login}"),
            None,
        )
        .await;
        assert_eq!(request.body["skip"], false);
    }
}

#[tokio::test]
async fn consent_sessions_are_listed_and_revoking_them_ends_access() {
    for ui in external_uis().await {
        let mut b = ui.browser();
        let consent = to_consent(&ui, &mut b, true).await;
        let accepted = accept_consent(
            &ui,
            &consent,
            json!({"grant_scope": every_scope(), "remember": true}),
        )
        .await;
        let params = back_to_client(&mut b, &accepted.str("redirect_to")).await;
        let tokens = ui.redeem(&params["code"]).await;
        let listed = admin(
            &ui,
            "GET",
            &format!("/admin/oauth2/auth/sessions/consent?subject={ALICE}"),
            None,
        )
        .await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
        let sessions = listed.body.as_array().unwrap();
        assert_eq!(sessions.len(), 1, "{}", listed.body);
        assert_eq!(sessions[0]["consent_request"]["client"]["client_id"], CLI);
        assert_eq!(sessions[0]["grant_scope"], json!(every_scope()));

        let revoked = admin(
            &ui,
            "DELETE",
            &format!("/admin/oauth2/auth/sessions/consent?subject={ALICE}&client={CLI}"),
            None,
        )
        .await;
        assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.body);
        assert_eq!(
            ui.refresh(tokens.refresh_token.as_deref().unwrap())
                .await
                .err()
                .as_deref(),
            Some("invalid_grant"),
            "{}",
            ui.name
        );
        let listed = admin(
            &ui,
            "GET",
            &format!("/admin/oauth2/auth/sessions/consent?subject={ALICE}"),
            None,
        )
        .await;
        assert_eq!(listed.body, json!([]));

        // Ending the login sessions: the next request is not a skip.
        let ended = admin(
            &ui,
            "DELETE",
            &format!("/admin/oauth2/auth/sessions/login?subject={ALICE}"),
            None,
        )
        .await;
        assert_eq!(ended.status, StatusCode::NO_CONTENT);
        let login = start(&mut b, &cli_authorize(SEED_SCOPE, &[])).await;
        let request = admin(
            &ui,
            "GET",
            &format!("{REQUESTS}/login?login_challenge={login}"),
            None,
        )
        .await;
        assert_eq!(request.body["skip"], false);
    }
}

#[tokio::test]
async fn errors_that_cannot_reach_the_client_go_to_the_error_url_when_set() {
    const ERROR_APP: &str = "https://login.example.com/error";
    for ui in uis_with(|c| {
        external(c);
        if let Some(e) = c.external.as_mut() {
            e.error_url = Some(ERROR_APP.into());
        }
    })
    .await
    {
        let mut victim = ui.browser();
        let login = start(&mut victim, &cli_authorize(SEED_SCOPE, &[])).await;
        let accepted = accept_login(&ui, &login, json!({"subject": ALICE})).await;
        let mut attacker = ui.browser_from("198.51.100.9:40000");
        let stolen = attacker.get(&local(&accepted.str("redirect_to"))).await;
        assert_eq!(stolen.status, StatusCode::SEE_OTHER, "{}", ui.name);
        assert!(
            stolen
                .location()
                .starts_with(&format!("{ERROR_APP}?error=")),
            "{}",
            stolen.location()
        );
        assert!(!param(stolen.location(), "error_description").is_empty());
        let unknown = victim
            .get("/oauth2/auth?login_verifier=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
            .await;
        assert!(unknown.location().starts_with(ERROR_APP), "{}", ui.name);
    }
}

/// Signs alice in and consents with `remember`; answers the client's ID token.
async fn signed_in_with_consent(ui: &Ui, b: &mut Browser<'_>) -> String {
    let consent = to_consent(ui, b, true).await;
    let accepted = accept_consent(
        ui,
        &consent,
        json!({"grant_scope": every_scope(), "remember": true}),
    )
    .await;
    let params = back_to_client(b, &accepted.str("redirect_to")).await;
    ui.redeem(&params["code"]).await.id_token.unwrap()
}

#[tokio::test]
async fn logout_with_a_valid_id_token_hint_still_asks_the_external_app() {
    for ui in external_uis().await {
        let mut b = ui.browser();
        let id_token = signed_in_with_consent(&ui, &mut b).await;
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id_token_hint", &id_token)
            .append_pair("post_logout_redirect_uri", CLI_LOGOUT)
            .append_pair("state", "bye")
            .finish();
        let reply = b.get(&format!("/oauth2/sessions/logout?{query}")).await;
        assert!(
            reply
                .location()
                .starts_with(&format!("{LOGOUT_APP}?logout_challenge=")),
            "{}: {}",
            ui.name,
            reply.location()
        );
        let challenge = param(reply.location(), "logout_challenge");
        let request = admin(
            &ui,
            "GET",
            &format!("{REQUESTS}/logout?logout_challenge={challenge}"),
            None,
        )
        .await;
        assert_eq!(request.body["subject"], ALICE, "{}", request.body);
        assert_eq!(request.body["rp_initiated"], true);
        // Not signed out before the app accepts.
        let login = start(&mut b, &cli_authorize(SEED_SCOPE, &[])).await;
        let still = admin(
            &ui,
            "GET",
            &format!("{REQUESTS}/login?login_challenge={login}"),
            None,
        )
        .await;
        assert_eq!(still.body["skip"], true, "{}", still.body);
        let accepted = admin(
            &ui,
            "PUT",
            &format!("{REQUESTS}/logout/accept?logout_challenge={challenge}"),
            None,
        )
        .await;
        let done = b.get(&local(&accepted.str("redirect_to"))).await;
        assert_eq!(done.location(), format!("{CLI_LOGOUT}?state=bye"));
    }
}

#[tokio::test]
async fn a_remembered_consent_still_goes_to_the_consent_app_with_skip() {
    for ui in external_uis().await {
        let mut b = ui.browser();
        signed_in_with_consent(&ui, &mut b).await;
        let login = start(&mut b, &cli_authorize(SEED_SCOPE, &[])).await;
        let accepted = accept_login(&ui, &login, json!({"subject": ALICE})).await;
        let back = b.get(&local(&accepted.str("redirect_to"))).await;
        assert!(
            back.location().starts_with(&format!("{CONSENT_APP}?")),
            "{}: {}",
            ui.name,
            back.location()
        );
        let consent = param(back.location(), "consent_challenge");
        let request = admin(
            &ui,
            "GET",
            &format!("{REQUESTS}/consent?consent_challenge={consent}"),
            None,
        )
        .await;
        assert_eq!(request.status, StatusCode::OK, "{}", request.body);
        assert_eq!(request.body["skip"], true, "{}", request.body);
        assert_eq!(request.body["subject"], ALICE);
        // The app accepts without `remember`: the remembered consent stays.
        let accepted = accept_consent(
            &ui,
            &consent,
            json!({"grant_scope": every_scope(), "session": {"id_token": {"tenant": "acme"}}}),
        )
        .await;
        assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
        let params = back_to_client(&mut b, &accepted.str("redirect_to")).await;
        let tokens = ui.redeem(&params["code"]).await;
        let id_token = jwt_claims(tokens.id_token.as_deref().unwrap());
        assert_eq!(id_token["tenant"], "acme", "{id_token}");
        assert!(ui.store().get_consent(ALICE, CLI).await.unwrap().is_some());

        // Another browser, a new login: the remembered consent still makes it a skip.
        let mut other = ui.browser();
        let consent = to_consent(&ui, &mut other, false).await;
        let request = admin(
            &ui,
            "GET",
            &format!("{REQUESTS}/consent?consent_challenge={consent}"),
            None,
        )
        .await;
        assert_eq!(
            request.body["skip"], true,
            "remembered for alice: {}",
            request.body
        );
    }
}

#[tokio::test]
async fn a_skip_consent_client_gets_its_code_without_the_consent_app() {
    for ui in external_uis().await {
        let mut b = ui.browser();
        let authorize = cli_authorize(SEED_SCOPE, &[])
            .replace("client_id=neon-cli", &format!("client_id={CONSOLE}"))
            .replace(
                &url::form_urlencoded::byte_serialize(CLI_REDIRECT.as_bytes()).collect::<String>(),
                &url::form_urlencoded::byte_serialize(CONSOLE_REDIRECT.as_bytes())
                    .collect::<String>(),
            );
        let login = start(&mut b, &authorize).await;
        let accepted = accept_login(&ui, &login, json!({"subject": ALICE})).await;
        let reply = b.get(&local(&accepted.str("redirect_to"))).await;
        let (base, params) = reply.redirect_params();
        assert_eq!(base, CONSOLE_REDIRECT, "{}", ui.name);
        assert!(params.contains_key("code"), "{params:?}");
    }
}

#[tokio::test]
async fn a_rejections_error_reaches_the_client_when_clients_know_it() {
    for ui in external_uis().await {
        for (sent, expected) in [
            ("login_required", "login_required"),
            ("interaction_required", "interaction_required"),
            ("consent_required", "consent_required"),
            ("account_selection_required", "account_selection_required"),
            ("temporarily_unavailable", "temporarily_unavailable"),
            ("request_denied", "access_denied"),
            ("invalid_grant", "access_denied"),
            ("made_up\"<script>", "access_denied"),
        ] {
            let mut b = ui.browser();
            let login = start(&mut b, &cli_authorize(SEED_SCOPE, &[])).await;
            let rejected = admin(
                &ui,
                "PUT",
                &format!("{REQUESTS}/login/reject?login_challenge={login}"),
                Some(json!({"error": sent, "error_description": "x".repeat(5000)})),
            )
            .await;
            assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.body);
            let params = back_to_client(&mut b, &rejected.str("redirect_to")).await;
            assert_eq!(params["error"], expected, "{sent}");
            let description = &params["error_description"];
            assert!(
                !description.is_empty() && description.len() <= 512,
                "{sent}"
            );
        }
        // Omitted: Hydra's default, request_denied, which clients know as access_denied.
        let mut b = ui.browser();
        let consent = to_consent(&ui, &mut b, false).await;
        let rejected = admin(
            &ui,
            "PUT",
            &format!("{REQUESTS}/consent/reject?consent_challenge={consent}"),
            Some(json!({})),
        )
        .await;
        let params = back_to_client(&mut b, &rejected.str("redirect_to")).await;
        assert_eq!(params["error"], "access_denied");
    }
}

#[tokio::test]
async fn reading_an_answered_challenge_is_gone_with_the_same_redirect() {
    for ui in external_uis().await {
        let mut b = ui.browser();
        let login = start(&mut b, &cli_authorize(SEED_SCOPE, &[])).await;
        let accepted = accept_login(&ui, &login, json!({"subject": ALICE})).await;
        let redirect_to = accepted.str("redirect_to");
        let again = admin(
            &ui,
            "GET",
            &format!("{REQUESTS}/login?login_challenge={login}"),
            None,
        )
        .await;
        assert_eq!(again.status, StatusCode::GONE, "{}", again.body);
        assert_eq!(again.body["redirect_to"], redirect_to.as_str());
        let back = b.get(&local(&redirect_to)).await;
        let consent = param(back.location(), "consent_challenge");
        let accepted = accept_consent(&ui, &consent, json!({"grant_scope": every_scope()})).await;
        let redirect_to = accepted.str("redirect_to");
        let again = admin(
            &ui,
            "GET",
            &format!("{REQUESTS}/consent?consent_challenge={consent}"),
            None,
        )
        .await;
        assert_eq!(again.status, StatusCode::GONE, "{}", again.body);
        assert_eq!(again.body["redirect_to"], redirect_to.as_str());
        // Once the verifier is used, the challenge is gone for good.
        back_to_client(&mut b, &redirect_to).await;
        let used = admin(
            &ui,
            "GET",
            &format!("{REQUESTS}/consent?consent_challenge={consent}"),
            None,
        )
        .await;
        assert_eq!(used.status, StatusCode::NOT_FOUND, "{}", used.body);
    }
}
