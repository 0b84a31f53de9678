//! `/oauth2/auth`: untrusted errors are pages, the rest redirect with `state` and `iss`;
//! `prompt` and `max_age`.

use std::collections::HashMap;

use axum::http::StatusCode;
use gatehouse_testkit::http::Page;

use crate::ui::*;
use url::Url;

#[tokio::test]
async fn an_unregistered_redirect_uri_gets_a_page_never_a_redirect() {
    for ui in uis().await {
        let mut b = ui.browser();
        let url = cli_authorize(SEED_SCOPE, &[]).replace(
            "redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback",
            "redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
        );
        let reply = b.get(&url).await;
        reply.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        assert!(
            reply.body.contains("data-error=\"invalid_request\""),
            "{}",
            reply.body
        );
        assert!(
            reply.body.contains("not registered"),
            "the developer detail is shown"
        );
        assert_not_linked(&reply, "evil.example", &ui.name);
        assert!(
            reply.body.contains(
                "The app “Neon CLI” asked to send you back to https://evil.example/cb, which is not one of its registered addresses"
            ),
            "{}: {}",
            ui.name,
            reply.body
        );
    }
}

#[tokio::test]
async fn the_unregistered_redirect_uri_is_shown_escaped_in_the_users_language() {
    for ui in uis().await {
        let mut b = ui.browser();
        let sent = "https://evil.example/cb?x=<script>alert(1)</script>&y=\"q\"";
        let mut url = Url::parse("http://ui.test/oauth2/auth").unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", WEB)
            .append_pair("redirect_uri", sent)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid")
            .append_pair("ui_locales", "de");
        let reply = b
            .get(&format!("/oauth2/auth?{}", url.query().unwrap()))
            .await;
        reply.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        assert!(!reply.body.contains("<script>"), "{}", reply.body);
        assert!(
            reply.body.contains(
                "Die App „Neon Web“ wollte Sie zu https://evil.example/cb?x=&#60;script&#62;alert(1)&#60;/script&#62;&#38;y=&#34;q&#34; zurückschicken"
            ),
            "{}: {}",
            ui.name,
            reply.body
        );
        assert_not_linked(&reply, "evil.example", &ui.name);

        // An unknown client, or a registered URI with another error, gets the plain page.
        let unknown = b
            .get(&cli_authorize(SEED_SCOPE, &[]).replace("client_id=neon-cli", "client_id=nobody"))
            .await;
        assert!(
            !unknown.body.contains("registered addresses"),
            "{}",
            unknown.body
        );
        let repeated = b
            .get(&format!(
                "{}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
                cli_authorize(SEED_SCOPE, &[])
            ))
            .await;
        repeated.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        assert!(
            !repeated.body.contains("registered addresses"),
            "{}",
            repeated.body
        );
    }
}

#[tokio::test]
async fn an_unknown_client_gets_a_page() {
    for ui in uis().await {
        let mut b = ui.browser();
        let url = cli_authorize(SEED_SCOPE, &[]).replace("client_id=neon-cli", "client_id=nobody");
        let reply = b.get(&url).await;
        reply.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        assert!(
            reply.body.contains("data-error=\"invalid_client\""),
            "{}",
            reply.body
        );
        // A repeated redirect_uri cannot be trusted either.
        let url = format!(
            "{}&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback",
            cli_authorize(SEED_SCOPE, &[])
        );
        b.get(&url)
            .await
            .assert_page(StatusCode::BAD_REQUEST, &ui.name);
    }
}

#[tokio::test]
async fn other_errors_redirect_with_error_state_and_issuer() {
    for ui in uis().await {
        let mut b = ui.browser();
        let cases = [
            (cli_authorize("openid admin", &[]), "invalid_scope"),
            (
                cli_authorize(SEED_SCOPE, &[]).replace("response_type=code", "response_type=token"),
                "unsupported_response_type",
            ),
            (
                cli_authorize(SEED_SCOPE, &[])
                    .replace("code_challenge_method=S256", "code_challenge_method=plain"),
                "invalid_request",
            ),
            (
                format!("{}&scope=openid", cli_authorize(SEED_SCOPE, &[])),
                "invalid_request",
            ),
            (
                cli_authorize(SEED_SCOPE, &[("prompt", "sometimes")]),
                "invalid_request",
            ),
        ];
        for (url, code) in cases {
            let reply = b.get(&url).await;
            let (base, params) = reply.redirect_params();
            assert_eq!(base, CLI_REDIRECT, "{}: {url}", ui.name);
            assert_eq!(params["error"], code, "{}: {url}", ui.name);
            assert!(!params["error_description"].is_empty());
            assert_eq!(params["state"], "xyz");
            assert_eq!(params["iss"], ISSUER);
        }
    }
}

#[tokio::test]
async fn the_seeds_url_with_an_extra_grant_type_starts_a_login_by_get_or_post() {
    for ui in uis().await {
        let mut b = ui.browser();
        let page = b
            .start(&cli_authorize(
                SEED_SCOPE,
                &[("grant_type", "authorization_code")],
            ))
            .await;
        assert!(
            page.body.contains("Neon CLI"),
            "the client's name is on the login page"
        );
        assert_eq!(page.header("cache-control"), Some("no-store"));

        let query = cli_authorize(SEED_SCOPE, &[])
            .trim_start_matches("/oauth2/auth?")
            .to_owned();
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let form: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let reply = b.post("/oauth2/auth", &form).await;
        assert!(
            reply.location().starts_with("/ui/login?challenge="),
            "{}",
            ui.name
        );
    }
}

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required() {
    for ui in uis().await {
        let mut b = ui.browser();
        let reply = b
            .get(&cli_authorize(SEED_SCOPE, &[("prompt", "none")]))
            .await;
        let (base, params) = reply.redirect_params();
        assert_eq!(base, CLI_REDIRECT);
        assert_eq!(params["error"], "login_required", "{}", ui.name);
        assert_eq!(params["state"], "xyz");
        assert_eq!(params["iss"], ISSUER);
    }
}

#[tokio::test]
async fn prompt_none_with_a_session_but_no_consent_is_consent_required_and_with_consent_a_code() {
    for ui in uis().await {
        let mut b = ui.browser();
        // A session, but consent denied: nothing remembered.
        let consent = b.reach_consent(&cli_authorize(SEED_SCOPE, &[])).await;
        b.decide(&consent, "deny", false).await;
        let reply = b
            .get(&cli_authorize(SEED_SCOPE, &[("prompt", "none")]))
            .await;
        let (_, params) = reply.redirect_params();
        assert_eq!(params["error"], "consent_required", "{}", ui.name);
        assert_eq!(params["iss"], ISSUER);

        // Consent remembered: prompt=none answers with a code at once.
        let consent = b.get(&cli_authorize(SEED_SCOPE, &[])).await;
        let consent = b.follow(&consent).await;
        b.decide(&consent, "allow", true).await;
        let reply = b
            .get(&cli_authorize(SEED_SCOPE, &[("prompt", "none")]))
            .await;
        let (_, params) = reply.redirect_params();
        assert!(params.contains_key("code"), "{}: {params:?}", ui.name);
        assert_eq!(params["state"], "xyz");
    }
}

#[tokio::test]
async fn max_age_passed_asks_for_the_password_again() {
    for ui in uis().await {
        let mut b = ui.browser();
        b.authorize_alice(SEED_SCOPE, true).await;
        ui.clock.advance(time::Duration::seconds(120));
        let fresh = b
            .get(&cli_authorize(SEED_SCOPE, &[("max_age", "600")]))
            .await;
        assert!(
            fresh.location().starts_with(CLI_REDIRECT),
            "{}: within max_age",
            ui.name
        );
        let stale = b
            .get(&cli_authorize(SEED_SCOPE, &[("max_age", "60")]))
            .await;
        assert!(
            stale.location().starts_with("/ui/login?challenge="),
            "{}",
            ui.name
        );
        let prompt_none = b
            .get(&cli_authorize(
                SEED_SCOPE,
                &[("max_age", "60"), ("prompt", "none")],
            ))
            .await;
        assert_eq!(prompt_none.redirect_params().1["error"], "login_required");
    }
}

#[tokio::test]
async fn an_expired_request_can_be_started_again_by_the_same_browser() {
    // Long enough for a whole sign-in, short enough to wait for.
    for ui in uis_with(|c| c.challenge_ttl = std::time::Duration::from_secs(3)).await {
        let mut b = ui.browser();
        let authorize = cli_authorize(SEED_SCOPE, &[("login_hint", "alice")]);
        let page = b.start(&authorize).await;
        let id = page.field("challenge");
        // A request with an id_token_hint is not kept: the token is not stored.
        let mut hinted = ui.browser_from("203.0.113.8:40000");
        let params = hinted.authorize_alice(SEED_SCOPE, false).await;
        let id_token = ui.redeem(&params["code"]).await.id_token.unwrap();
        let consent = hinted
            .get(&cli_authorize(SEED_SCOPE, &[("id_token_hint", &id_token)]))
            .await;
        let hinted_consent = consent.location().to_owned();
        assert!(
            hinted_consent.starts_with("/ui/consent?challenge="),
            "{hinted_consent}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(3200)).await;
        let gone = hinted.get(&hinted_consent).await;
        gone.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        assert!(!gone.body.contains("id=\"restart\""), "{}", gone.body);

        let expired = b.login(&page, "alice", ALICE_PASSWORD, false).await;
        expired.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        assert!(expired.body.contains("data-error=\"expired\""));
        assert!(
            expired
                .body
                .contains("A sign-in request waits a minute for you"),
            "{}",
            expired.body
        );
        let restart = format!("/ui/restart?challenge={id}");
        assert!(
            expired.body.contains(&format!(
                "id=\"restart\" href=\"{restart}\">Start again</a>"
            )),
            "{}: {}",
            ui.name,
            expired.body
        );
        // Reloading the login page offers the same.
        let reloaded = b.get(&format!("/ui/login?challenge={id}")).await;
        assert!(reloaded.body.contains("id=\"restart\""), "{}", ui.name);

        // Another browser cannot use it.
        let mut other = ui.browser();
        other.get("/ui/login").await;
        let refused = other.get(&restart).await;
        refused.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        assert!(!refused.body.contains("id=\"restart\""));

        // This one goes back to the authorization endpoint with the original parameters.
        let reply = b.get(&restart).await;
        let location = reply.location().to_owned();
        let path = |u: &str| Url::parse(&format!("http://ui.test{u}")).unwrap();
        let (sent, again) = (path(&authorize), path(&location));
        assert_eq!(again.path(), "/oauth2/auth");
        let pairs = |u: &Url| {
            let mut p: Vec<(String, String)> = u.query_pairs().into_owned().collect();
            p.sort();
            p
        };
        assert_eq!(pairs(&again), pairs(&sent), "{}", ui.name);
        let login = b.start(&location).await;
        assert_ne!(login.field("challenge"), id, "a new challenge");
        assert!(login.body.contains("value=\"alice\""));
        let reply = b.login(&login, "alice", ALICE_PASSWORD, false).await;
        let consent = b.follow(&reply).await;
        let done = b.decide(&consent, "allow", false).await;
        assert!(done.redirect_params().1.contains_key("code"));
        // An answered request is not started again.
        let used = b
            .get(&format!(
                "/ui/consent?challenge={}",
                login.field("challenge")
            ))
            .await;
        used.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        assert!(!used.body.contains("id=\"restart\""), "{}", ui.name);
    }
}

#[tokio::test]
async fn an_unknown_request_gets_an_explanation_and_no_restart() {
    for ui in uis().await {
        let mut b = ui.browser();
        let unknown = "A".repeat(43);
        for path in [
            format!("/ui/login?challenge={unknown}"),
            format!("/ui/restart?challenge={unknown}"),
            "/ui/restart".to_owned(),
        ] {
            let page = b.get(&path).await;
            page.assert_page(StatusCode::BAD_REQUEST, &format!("{}: {path}", ui.name));
            assert!(page.body.contains("not known here"), "{}", page.body);
            assert!(!page.body.contains("id=\"restart\""));
        }
    }
}

/// The form-post answer: a page whose form the browser posts to the redirect URI with the
/// response's parameters, its script allowed by hash alone and the client's origin by
/// `form-action`.
#[track_caller]
fn form_post(page: &Page, context: &str) -> HashMap<String, String> {
    page.assert_page(StatusCode::OK, context);
    assert!(
        page.body.contains(&format!(
            "<form id=\"form-post\" method=\"post\" action=\"{CLI_REDIRECT}\">"
        )),
        "{context}: {}",
        page.body
    );
    assert!(
        page.body.contains("id=\"form-post-continue\""),
        "{context}: a button for browsers without script"
    );
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:5555")
            && csp.contains("script-src 'sha256-")
            && !csp.contains("unsafe-inline"),
        "{context}: {csp}"
    );
    [
        "code",
        "scope",
        "state",
        "iss",
        "error",
        "error_description",
    ]
    .into_iter()
    .filter(|name| page.body.contains(&format!("name=\"{name}\"")))
    .map(|name| (name.to_owned(), page.form_field("form-post", name)))
    .collect()
}

#[tokio::test]
async fn form_post_answers_with_a_page_that_posts_to_the_client() {
    let mode = [("response_mode", "form_post")];
    for ui in uis().await {
        let mut b = ui.browser();
        // An error found before anyone signs in.
        let reply = b
            .get(&cli_authorize(SEED_SCOPE, &[mode[0], ("prompt", "none")]))
            .await;
        let params = form_post(&reply, &ui.name);
        assert_eq!(params["error"], "login_required", "{}", ui.name);
        assert_eq!(
            (params["state"].as_str(), params["iss"].as_str()),
            ("xyz", ISSUER)
        );

        // Denied consent.
        let consent = b.reach_consent(&cli_authorize(SEED_SCOPE, &mode)).await;
        let denied = b.decide(&consent, "deny", false).await;
        assert_eq!(form_post(&denied, &ui.name)["error"], "access_denied");

        // Allowed: the code, redeemable as usual.
        let consent = b.get(&cli_authorize(SEED_SCOPE, &mode)).await;
        let consent = b.follow(&consent).await;
        let allowed = b.decide(&consent, "allow", false).await;
        let params = form_post(&allowed, &ui.name);
        assert_eq!(params["state"], "xyz");
        assert!(!params.contains_key("error"), "{params:?}");
        let tokens = ui.redeem(&params["code"]).await;
        assert!(!tokens.access_token.is_empty());

        // Values are HTML-escaped in the form.
        let hostile = cli_authorize(SEED_SCOPE, &[mode[0], ("prompt", "none")])
            .replace("state=xyz", "state=%22%3E%3Cscript%3Ex%3C%2Fscript%3E");
        let reply = b.get(&hostile).await;
        assert!(!reply.body.contains("<script>x</script>"), "{}", reply.body);
        let state = &form_post(&reply, &ui.name)["state"];
        assert!(
            state.len() > 20 && !state.contains(['<', '>']),
            "escaped in the attribute: {state}"
        );
    }
}

/// RFC 9126: a pushed request is started with its `request_uri` alone; the user signs in and
/// consents as usual, the code redeems, and the URI cannot start a second flow.
#[tokio::test]
async fn a_pushed_request_runs_the_whole_flow_once() {
    use gatehouse_core::authorize::AuthorizationParams;
    for ui in uis().await {
        let client = ui
            .service
            .client(CLI)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{}: no CLI client", ui.name));
        let pushed = ui
            .service
            .push_authorization_request(
                &client,
                AuthorizationParams {
                    redirect_uri: Some(CLI_REDIRECT.to_owned()),
                    response_type: Some("code".to_owned()),
                    scope: Some(SEED_SCOPE.to_owned()),
                    state: Some("pushed".to_owned()),
                    code_challenge: Some(CHALLENGE.to_owned()),
                    code_challenge_method: Some("S256".to_owned()),
                    ..AuthorizationParams::default()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", ui.name));
        let by_reference = format!(
            "/oauth2/auth?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("client_id", CLI)
                .append_pair("request_uri", &pushed.request_uri)
                .finish()
        );
        let mut b = ui.browser();
        let consent = b.reach_consent(&by_reference).await;
        let reply = b.decide(&consent, "allow", false).await;
        let (base, params) = reply.redirect_params();
        assert_eq!(base, CLI_REDIRECT);
        assert_eq!(params["state"], "pushed", "{}", ui.name);
        assert!(!ui.redeem(&params["code"]).await.access_token.is_empty());

        let again = b.get(&by_reference).await;
        again.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        assert!(
            again.body.contains("invalid_request_uri"),
            "{}: {}",
            ui.name,
            again.body
        );
    }
}
