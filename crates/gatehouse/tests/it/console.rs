//! The operator console (`/console` on the admin listener) against the real binary: sign-in
//! through the issuer's own login page, the role gate, the session cookie, CSRF and origin
//! checks, and each page's actions as seen through the admin API afterwards, with the audit
//! entry naming the operator.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};

use gatehouse_testkit::e2e::Server;

use crate::flow::{Browser, Hop, input};
use crate::gatehouse;

/// The admin API of `server`, as JSON.
async fn admin(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().request(method, Server::url(server.admin, path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.expect("admin request");
    let status = answer.status();
    let text = answer.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A user with `roles` and a known password; returns its id.
async fn user(server: &Server, username: &str, roles: &[&str]) -> String {
    let (status, body) = admin(
        server,
        reqwest::Method::POST,
        "/admin/users",
        Some(json!({"username": username, "password": "correct horse battery", "roles": roles})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().expect("a user id").to_owned()
}

/// The console in `username`'s browser, signed in through the login page: the browser on the
/// admin listener, and the console's first answer after the callback.
async fn sign_in(server: &Server, username: &str, start: &str) -> (Browser, Hop) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let console = Browser::with_jar(&Server::url(server.admin, ""), jar.clone());
    let public = Browser::with_jar(&Server::url(server.public, ""), jar);
    let hop = console.get(start).await;
    let to = hop.see_other("no session: to the issuer").to_owned();
    assert!(
        to.starts_with(&Server::url(server.public, "/oauth2/auth?")),
        "{to}"
    );
    assert!(to.contains("code_challenge_method=S256"), "{to}");
    assert!(to.contains("client_id=gatehouse-console"), "{to}");
    let mut hop = public.get(&to).await;
    for _ in 0..6 {
        if hop.status == StatusCode::SEE_OTHER {
            let to = hop.location.clone().unwrap_or_default();
            if to.starts_with(&Server::url(server.admin, "/console/callback")) {
                return (console.clone_browser(), console.get(&to).await);
            }
            hop = public.get(&to).await;
        } else if hop.body.contains("<form id=\"login-form\"") {
            let f = crate::flow::form(&hop.body, "login-form");
            let (csrf, challenge) = (input(f, "csrf_token"), input(f, "challenge"));
            hop = public
                .post(
                    &crate::flow::action(f),
                    &[
                        ("csrf_token", csrf.as_str()),
                        ("challenge", challenge.as_str()),
                        ("username", username),
                        ("password", "correct horse battery"),
                    ],
                )
                .await;
        } else {
            panic!("the sign-in stopped at {hop:?}");
        }
    }
    panic!("the sign-in did not come back: {hop:?}");
}

trait CloneBrowser {
    fn clone_browser(&self) -> Browser;
}

impl CloneBrowser for Browser {
    fn clone_browser(&self) -> Browser {
        Browser {
            http: self.http.clone(),
            base: self.base.clone(),
        }
    }
}

/// Follows the callback's redirect into the console and answers the page.
async fn signed_in(server: &Server, username: &str, start: &str) -> (Browser, Hop) {
    let (console, callback) = sign_in(server, username, start).await;
    let to = callback.see_other("the callback").to_owned();
    let page = console.get(&to).await;
    (console, page)
}

/// The audit entries of `action`, newest first.
async fn audit(server: &Server, action: &str) -> Vec<Value> {
    let (status, body) = admin(
        server,
        reqwest::Method::GET,
        &format!("/admin/audit-events?action={action}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().cloned().unwrap_or_default()
}

#[track_caller]
fn assert_by_operator(entries: &[Value], username: &str, what: &str) {
    let entry = entries
        .first()
        .unwrap_or_else(|| panic!("no audit entry for {what}"));
    assert_eq!(entry["actor"]["kind"], "user", "{what}: {entry}");
    assert_eq!(entry["actor"]["name"], username, "{what}: {entry}");
}

#[tokio::test]
async fn an_admin_signs_in_through_the_login_page_and_gets_a_console_session_cookie() {
    let server = gatehouse().server("all").start();
    user(&server, "operator", &["admin"]).await;
    let (console, callback) = sign_in(&server, "operator", "/console/apps").await;
    assert_eq!(callback.see_other("callback"), "/console/apps");
    let session = callback
        .set_cookies
        .iter()
        .find(|c| c.starts_with("gatehouse_console="))
        .unwrap_or_else(|| panic!("no session cookie: {:?}", callback.set_cookies));
    for attribute in ["Path=/console", "HttpOnly", "SameSite=Lax", "Max-Age="] {
        assert!(session.contains(attribute), "{attribute}: {session}");
    }
    assert!(!session.contains("Secure"), "http console: {session}");
    let page = console.get("/console/apps").await;
    let html = page.page("apps");
    assert!(html.contains("Signed in as operator"), "{html}");
    assert!(
        html.contains("href=\"/console/users\""),
        "admin nav: {html}"
    );
    let csp = page.csp.as_deref().expect("a CSP");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    // The console's own client: public, PKCE, skip_consent.
    let (_, client) = admin(
        &server,
        reqwest::Method::GET,
        "/admin/clients/gatehouse-console",
        None,
    )
    .await;
    assert_eq!(client["token_endpoint_auth_method"], "none");
    assert_eq!(client["skip_consent"], true);
    // Signing out ends the session: the next page sends the browser to sign in again.
    let csrf = input(html, "csrf_token");
    let out = console
        .post("/console/sign-out", &[("csrf_token", csrf.as_str())])
        .await;
    assert_eq!(out.status, StatusCode::OK, "{out:?}");
    assert!(
        out.set_cookies
            .iter()
            .any(|c| c.starts_with("gatehouse_console=;") && c.contains("Max-Age=0"))
    );
    let again = console.get("/console/apps").await;
    assert!(again.see_other("after sign-out").contains("/oauth2/auth?"));
}

#[tokio::test]
async fn only_admins_and_reviewers_enter_and_reviewers_see_only_requests() {
    let server = gatehouse().server("all").start();
    user(&server, "partner", &[]).await;
    user(&server, "reviewer", &["reviewer"]).await;
    let (_, page) = signed_in(&server, "partner", "/console").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{page:?}");
    assert!(
        page.body.contains("No access to the console"),
        "{}",
        page.body
    );

    let (console, _) = sign_in(&server, "reviewer", "/console").await;
    let home = console.get("/console").await;
    assert_eq!(home.see_other("reviewer's start"), "/console/requests");
    for path in [
        "/console/apps",
        "/console/users",
        "/console/scopes",
        "/console/keys",
        "/console/audit",
        "/console/apps/new",
    ] {
        let hop = console.get(path).await;
        assert_eq!(hop.status, StatusCode::FORBIDDEN, "{path}: {hop:?}");
    }
    let requests = console.get("/console/requests").await;
    assert_ne!(requests.status, StatusCode::FORBIDDEN, "{requests:?}");
    assert!(
        !requests.body.contains("href=\"/console/apps\""),
        "no apps link for a reviewer"
    );
    // A reviewer's form post to an admin action is refused too.
    let csrf = input(&requests.body, "csrf_token");
    let hop = console
        .post("/console/keys/rotate", &[("csrf_token", csrf.as_str())])
        .await;
    assert_eq!(hop.status, StatusCode::FORBIDDEN, "{hop:?}");
}

#[tokio::test]
async fn forged_sessions_missing_csrf_tokens_and_foreign_origins_are_refused() {
    let server = gatehouse().server("all").start();
    user(&server, "operator", &["admin"]).await;
    let (console, page) = signed_in(&server, "operator", "/console/keys").await;
    let csrf = input(page.page("keys"), "csrf_token");
    let (_, keys_before) = admin(&server, reqwest::Method::GET, "/admin/keys", None).await;

    // No CSRF token, or another one: refused, nothing rotated.
    let hop = console.post("/console/keys/rotate", &[]).await;
    assert_eq!(hop.status, StatusCode::FORBIDDEN, "{hop:?}");
    let hop = console
        .post("/console/keys/rotate", &[("csrf_token", "forged")])
        .await;
    assert_eq!(hop.status, StatusCode::FORBIDDEN, "{hop:?}");

    // A cross-site form post (the browser says so) with the right token: refused.
    let url = Server::url(server.admin, "/console/keys/rotate");
    let cross = console
        .http
        .post(&url)
        .header("Origin", "https://evil.example")
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    // Another Host (DNS rebinding): refused, even for a page.
    let rebound = console
        .http
        .get(Server::url(server.admin, "/console/apps"))
        .header("Host", format!("attacker.example:{}", server.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), StatusCode::FORBIDDEN);
    let (_, keys_after) = admin(&server, reqwest::Method::GET, "/admin/keys", None).await;
    assert_eq!(keys_before, keys_after, "nothing was rotated");

    // A forged session cookie is no session: to sign-in, not in.
    let forged = Browser::new(&Server::url(server.admin, ""));
    let hop = Hop::of(
        forged
            .http
            .get(Server::url(server.admin, "/console/apps"))
            .header("Cookie", format!("gatehouse_console={}", "A".repeat(43)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        hop.see_other("forged cookie").contains("/oauth2/auth?"),
        "{hop:?}"
    );

    // A callback this browser did not start is refused.
    let stray = Browser::new(&Server::url(server.admin, ""));
    let hop = stray.get("/console/callback?code=x&state=y").await;
    assert_eq!(hop.status, StatusCode::BAD_REQUEST, "{hop:?}");

    // The admin API itself keeps its browser guard: the console's exemption is only its own.
    let (status, _) = {
        let answer = reqwest::Client::new()
            .get(Server::url(server.admin, "/admin/clients"))
            .header("Sec-Fetch-Site", "cross-site")
            .send()
            .await
            .unwrap();
        (answer.status(), ())
    };
    assert_eq!(status, StatusCode::FORBIDDEN);

    // With the right token and origin, the rotation goes through and is audited.
    let hop = console
        .post("/console/keys/rotate", &[("csrf_token", csrf.as_str())])
        .await;
    assert_eq!(hop.see_other("rotate"), "/console/keys?rotated=1");
    assert_by_operator(
        &audit(&server, "key.rotate").await,
        "operator",
        "key rotation",
    );
}

#[tokio::test]
async fn every_console_page_renders_and_its_actions_reach_the_admin_api_audited() {
    let server = gatehouse().server("all").start();
    user(&server, "operator", &["admin"]).await;
    let target = user(&server, "alice", &[]).await;
    let (console, page) = signed_in(&server, "operator", "/console/apps").await;
    let csrf = input(page.page("apps"), "csrf_token");
    let csrf = csrf.as_str();
    for path in [
        "/console/apps",
        "/console/apps/new",
        "/console/scopes",
        "/console/users",
        "/console/keys",
        "/console/audit",
        "/console/requests",
        "/console/requests?status=all",
    ] {
        let hop = console.get(path).await;
        hop.page(path);
    }

    // Apps: create (secret shown once), edit, disable, rotate, delete.
    let hop = console
        .post(
            "/console/apps/new",
            &[
                ("csrf_token", csrf),
                ("name", "Partner App"),
                ("description", "Reads projects"),
                ("website", "https://partner.example.com"),
                ("redirect_uris", "https://partner.example.com/cb"),
                ("scope", "openid"),
                ("scope", "offline_access"),
                ("type", "confidential"),
                ("logo_uri", ""),
            ],
        )
        .await;
    let html = hop.page("created");
    let client_id = between(html, "<code id=\"client-id\">", "<");
    assert!(
        html.contains("id=\"client-secret\""),
        "secret shown once: {html}"
    );
    let (_, client) = admin(
        &server,
        reqwest::Method::GET,
        &format!("/admin/clients/{client_id}"),
        None,
    )
    .await;
    assert_eq!(client["client_name"], "Partner App");
    assert_eq!(client["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(client["metadata"]["description"], "Reads projects");
    assert!(
        client["grant_types"]
            .as_array()
            .unwrap()
            .contains(&json!("refresh_token"))
    );
    assert_by_operator(
        &audit(&server, "client.create").await,
        "operator",
        "client.create",
    );

    let hop = console
        .post(
            &format!("/console/apps/{client_id}"),
            &[
                ("csrf_token", csrf),
                ("name", "Partner App 2"),
                (
                    "redirect_uris",
                    "https://partner.example.com/cb\nhttps://partner.example.com/cb2",
                ),
                ("scope", "openid"),
            ],
        )
        .await;
    assert!(hop.see_other("edit").ends_with("?done=saved"));
    let (_, client) = admin(
        &server,
        reqwest::Method::GET,
        &format!("/admin/clients/{client_id}"),
        None,
    )
    .await;
    assert_eq!(client["client_name"], "Partner App 2");
    assert_eq!(client["redirect_uris"].as_array().unwrap().len(), 2);
    assert!(
        !client["grant_types"]
            .as_array()
            .unwrap()
            .contains(&json!("refresh_token"))
    );
    // A bad redirect URI is the admin API's error, shown with the input kept.
    let hop = console
        .post(
            &format!("/console/apps/{client_id}"),
            &[
                ("csrf_token", csrf),
                ("name", "Kept"),
                ("redirect_uris", "http://evil.example/cb"),
            ],
        )
        .await;
    assert_eq!(hop.status, StatusCode::BAD_REQUEST, "{hop:?}");
    assert!(hop.body.contains("value=\"Kept\""), "{}", hop.body);
    let page = console.get(&format!("/console/apps/{client_id}")).await;
    let html = page.page("app");
    assert!(
        html.contains("id=\"tokens-issued\""),
        "usage counts: {html}"
    );

    // Disable and enable again.
    let hop = console
        .post(
            &format!("/console/apps/{client_id}/disable"),
            &[("csrf_token", csrf)],
        )
        .await;
    assert!(hop.see_other("disable").ends_with("?done=disabled"));
    let (_, client) = admin(
        &server,
        reqwest::Method::GET,
        &format!("/admin/clients/{client_id}"),
        None,
    )
    .await;
    assert_eq!(client["disabled"], true);
    let page = console.get(&format!("/console/apps/{client_id}")).await;
    assert!(
        page.page("disabled app")
            .contains("action=\"/console/apps/"),
        "toggle form"
    );
    let hop = console
        .post(
            &format!("/console/apps/{client_id}/enable"),
            &[("csrf_token", csrf)],
        )
        .await;
    hop.see_other("enable");
    let (_, client) = admin(
        &server,
        reqwest::Method::GET,
        &format!("/admin/clients/{client_id}"),
        None,
    )
    .await;
    assert_eq!(client["disabled"], false);

    let hop = console
        .post(
            &format!("/console/apps/{client_id}/secret"),
            &[("csrf_token", csrf)],
        )
        .await;
    assert!(hop.page("rotated").contains("id=\"client-secret\""));
    assert_by_operator(
        &audit(&server, "client.secret.rotate").await,
        "operator",
        "rotation",
    );

    let confirm = console
        .get(&format!("/console/apps/{client_id}/delete"))
        .await;
    assert!(
        confirm
            .page("confirm")
            .contains("revokes every token, consent and code")
    );
    let hop = console
        .post(
            &format!("/console/apps/{client_id}/delete"),
            &[("csrf_token", csrf)],
        )
        .await;
    assert!(
        hop.see_other("delete")
            .starts_with("/console/apps?deleted=")
    );
    let (status, _) = admin(
        &server,
        reqwest::Method::GET,
        &format!("/admin/clients/{client_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_by_operator(
        &audit(&server, "client.delete").await,
        "operator",
        "client.delete",
    );

    // Scopes: create and edit.
    let hop = console
        .post(
            "/console/scopes",
            &[
                ("csrf_token", csrf),
                ("name", "projects.read"),
                ("label", "Read projects"),
                ("description", "See your projects"),
            ],
        )
        .await;
    assert!(
        hop.see_other("scope create")
            .starts_with("/console/scopes/projects.read")
    );
    let hop = console
        .post(
            "/console/scopes/projects.read",
            &[
                ("csrf_token", csrf),
                ("label", "Read your projects"),
                ("hidden", "1"),
            ],
        )
        .await;
    hop.see_other("scope edit");
    let (_, scope) = admin(
        &server,
        reqwest::Method::GET,
        "/admin/scopes/projects.read",
        None,
    )
    .await;
    assert_eq!(scope["label"], "Read your projects");
    assert_eq!(scope["hidden"], true);

    // Users: create (password shown once), roles, disable, password reset, unlock.
    let hop = console
        .post(
            "/console/users",
            &[
                ("csrf_token", csrf),
                ("username", "bob"),
                ("role", "reviewer"),
            ],
        )
        .await;
    assert!(hop.page("user created").contains("id=\"new-password\""));
    let (_, users) = admin(
        &server,
        reqwest::Method::GET,
        "/admin/users?username=bob",
        None,
    )
    .await;
    let bob = users
        .as_array()
        .and_then(|u| u.first())
        .cloned()
        .expect("bob");
    assert_eq!(bob["roles"], json!(["reviewer"]));
    let hop = console
        .post(
            &format!("/console/users/{target}/roles"),
            &[("csrf_token", csrf), ("role", "admin")],
        )
        .await;
    hop.see_other("roles");
    let hop = console
        .post(
            &format!("/console/users/{target}/disable"),
            &[("csrf_token", csrf)],
        )
        .await;
    hop.see_other("disable");
    let (_, alice) = admin(
        &server,
        reqwest::Method::GET,
        &format!("/admin/users/{target}"),
        None,
    )
    .await;
    assert_eq!(alice["roles"], json!(["admin"]));
    assert_eq!(alice["disabled"], true);
    let hop = console
        .post(
            &format!("/console/users/{target}/password"),
            &[("csrf_token", csrf)],
        )
        .await;
    assert!(hop.page("reset").contains("id=\"new-password\""));
    let hop = console
        .post(
            &format!("/console/users/{target}/unlock"),
            &[("csrf_token", csrf)],
        )
        .await;
    hop.see_other("unlock");
    console
        .get(&format!("/console/users/{target}"))
        .await
        .page("user");
    assert_by_operator(
        &audit(&server, "user.password.set").await,
        "operator",
        "password",
    );

    // The audit page lists the operator's changes.
    let page = console.get("/console/audit?actor=operator").await;
    let html = page.page("audit");
    assert!(html.contains("client.delete"), "{html}");
    // No secret or password in what the audit page shows.
    assert!(!html.contains("correct horse battery"));
}

/// `username` signs in on the login page and adds an authenticator app on the security page;
/// answers the factor's id.
async fn enrol_totp(server: &Server, username: &str, password: &str) -> String {
    let public = Browser::new(&Server::url(server.public, ""));
    let page = public.get("/ui/login").await;
    let f = crate::flow::form(page.page("login"), "login-form");
    let mut fields = vec![
        ("csrf_token".to_owned(), input(f, "csrf_token")),
        ("username".to_owned(), username.to_owned()),
        ("password".to_owned(), password.to_owned()),
    ];
    if f.contains("name=\"challenge\" value=\"") {
        fields.push(("challenge".to_owned(), input(f, "challenge")));
    }
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    public.post("/ui/login", &fields).await.see_other("login");
    // Away from the end of a 30 s step: the code computed here is current when it arrives.
    while time::OffsetDateTime::now_utc()
        .unix_timestamp()
        .rem_euclid(30)
        >= 25
    {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let page = public.get("/account/security").await;
    // Every form of the page carries the same CSRF token.
    let csrf = input(page.page("security"), "csrf_token");
    let enrolment = public
        .post("/account/security/totp", &[("csrf_token", csrf.as_str())])
        .await;
    let html = enrolment.page("enrolment");
    let shown = between(html, "id=\"totp-secret\">", "<").replace(' ', "");
    let key = totp_rs::Secret::try_from_base32(shown).expect("a base32 key");
    let code = gatehouse_core::factor::totp_code(
        AsRef::<[u8]>::as_ref(&key),
        time::OffsetDateTime::now_utc().unix_timestamp(),
    )
    .unwrap();
    let factor_id = input(crate::flow::form(html, "second-factor-form"), "factor_id");
    let codes = public
        .post(
            "/account/security/totp/confirm",
            &[
                ("csrf_token", csrf.as_str()),
                ("factor_id", factor_id.as_str()),
                ("code", code.as_str()),
            ],
        )
        .await;
    assert!(
        codes
            .page("recovery codes")
            .contains("id=\"recovery-codes\"")
    );
    factor_id
}

#[tokio::test]
async fn the_console_mails_a_reset_link_and_removes_a_users_second_factor() {
    let server = gatehouse().server("all").start();
    user(&server, "operator", &["admin"]).await;
    let (status, body) = admin(
        &server,
        reqwest::Method::POST,
        "/admin/users",
        Some(json!({
            "username": "dora",
            "password": "doras own passphrase",
            "email": "dora@example.com",
            "email_verified": true,
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let target = body["id"].as_str().expect("an id").to_owned();
    let factor_id = enrol_totp(&server, "dora", "doras own passphrase").await;

    let (console, page) = signed_in(&server, "operator", &format!("/console/users/{target}")).await;
    let html = page.page("user");
    assert!(
        html.contains(&format!("data-factor-id=\"{factor_id}\"")),
        "the factor is listed: {html}"
    );
    assert!(html.contains("id=\"send-reset-link\""), "{html}");
    assert!(!html.contains("totp-secret"), "no secret on the page");
    let csrf = input(html, "csrf_token");

    // Without the CSRF token, neither action does anything.
    for action in ["reset-link", "remove-factor"] {
        let hop = console
            .post(
                &format!("/console/users/{target}/{action}"),
                &[("csrf_token", "forged"), ("factor_id", factor_id.as_str())],
            )
            .await;
        assert_eq!(hop.status, StatusCode::FORBIDDEN, "{action}: {hop:?}");
    }
    let mail_dir = server.data_dir.path().join("mail");
    let mails = || std::fs::read_dir(&mail_dir).map_or(0, |d| d.count());
    assert_eq!(mails(), 0, "no mail was sent");

    // The reset link: mailed, and the page says where.
    let hop = console
        .post(
            &format!("/console/users/{target}/reset-link"),
            &[("csrf_token", csrf.as_str())],
        )
        .await;
    let html = hop.page("reset link");
    assert!(
        html.contains("id=\"notice\"") && html.contains("dora@example.com"),
        "{html}"
    );
    assert_eq!(mails(), 1, "one mail in {}", mail_dir.display());

    // The factor: removed through the admin API, audited as the operator's.
    let hop = console
        .post(
            &format!("/console/users/{target}/remove-factor"),
            &[
                ("csrf_token", csrf.as_str()),
                ("factor_id", factor_id.as_str()),
            ],
        )
        .await;
    assert!(
        hop.see_other("remove factor")
            .ends_with("?done=factor_removed")
    );
    let (_, factors) = admin(
        &server,
        reqwest::Method::GET,
        &format!("/admin/users/{target}/factors"),
        None,
    )
    .await;
    assert_eq!(factors, json!([]));
    assert_by_operator(
        &audit(&server, "user.factor.delete").await,
        "operator",
        "factor removal",
    );
    let page = console
        .get(&format!("/console/users/{target}?done=factor_removed"))
        .await;
    let html = page.page("user after");
    assert!(html.contains("id=\"no-factors\""), "{html}");
    assert!(html.contains("The second factor was removed."), "{html}");
    // Again: the factor is gone, which the page says.
    let hop = console
        .post(
            &format!("/console/users/{target}/remove-factor"),
            &[
                ("csrf_token", csrf.as_str()),
                ("factor_id", factor_id.as_str()),
            ],
        )
        .await;
    assert_eq!(hop.status, StatusCode::NOT_FOUND, "{hop:?}");

    // A user without an address: the API's refusal is shown, nothing is sent.
    let nobody = user(&server, "noaddress", &[]).await;
    let hop = console
        .post(
            &format!("/console/users/{nobody}/reset-link"),
            &[("csrf_token", csrf.as_str())],
        )
        .await;
    assert_eq!(hop.status, StatusCode::BAD_REQUEST, "{hop:?}");
    assert!(hop.body.contains("id=\"form-error\""), "{}", hop.body);
    assert_eq!(mails(), 1);
}

/// The text between `start` and the next `end` in `html`.
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {html}"))
        + start.len();
    let to = from + html[from..].find(end).expect("an end");
    &html[from..to]
}

/// A pending registration request of `owner`, submitted the way the partner portal does (gRPC).
pub(crate) async fn submit_request(server: &Server, owner: &str, name: &str) -> String {
    use gatehouse_proto::token::v1::token_service_client::TokenServiceClient;
    use gatehouse_proto::token::v1::{PartnerApp, SubmitRegistrationRequestRequest};
    let mut grpc = TokenServiceClient::connect(Server::url(server.grpc, ""))
        .await
        .expect("connecting to the gRPC listener");
    let answer = grpc
        .submit_registration_request(SubmitRegistrationRequestRequest {
            subject: owner.to_owned(),
            app: Some(PartnerApp {
                name: name.to_owned(),
                description: "Reads projects".into(),
                website: "https://partner.example.com".into(),
                contact_name: "Pat Partner".into(),
                reason: "Sync projects".into(),
                redirect_uris: vec!["https://partner.example.com/callback".into()],
                scopes: vec!["openid".into()],
                confidential: true,
                logo_uri: String::new(),
            }),
            id: None,
        })
        .await
        .expect("submitting a registration request")
        .into_inner();
    let request = answer.request.expect("the request");
    assert_eq!(request.status, "pending");
    request.id
}

async fn registration_request(server: &Server, id: &str) -> Value {
    let (status, body) = admin(
        server,
        reqwest::Method::GET,
        &format!("/admin/registration-requests/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn a_reviewer_approves_rejects_and_asks_for_changes_in_the_console() {
    let server = gatehouse().server("all").start();
    let partner = user(&server, "partner", &[]).await;
    user(&server, "reviewer", &["reviewer"]).await;
    let approved = submit_request(&server, &partner, "Neon Projects").await;
    let rejected = submit_request(&server, &partner, "Spam App").await;
    let changes = submit_request(&server, &partner, "Vague App").await;

    let (console, page) = signed_in(&server, "reviewer", "/console/requests").await;
    let html = page.page("queue");
    for id in [&approved, &rejected, &changes] {
        assert!(
            html.contains(&format!("data-request-id=\"{id}\"")),
            "{id}: {html}"
        );
    }
    let csrf = input(html, "csrf_token");
    let csrf = csrf.as_str();
    let page = console.get(&format!("/console/requests/{approved}")).await;
    let html = page.page("request");
    assert!(
        html.contains("id=\"approve-form\"") && html.contains("Sync projects"),
        "{html}"
    );

    // Approved after an edit of the name: the client is created as edited, by the reviewer.
    let hop = console
        .post(
            &format!("/console/requests/{approved}/approve"),
            &[
                ("csrf_token", csrf),
                ("name", "Neon Projects (reviewed)"),
                ("description", "Reads projects"),
                ("website", "https://partner.example.com"),
                ("contact_name", "Pat Partner"),
                ("reason_for_access", "Sync projects"),
                ("redirect_uris", "https://partner.example.com/callback"),
                ("scopes", "openid"),
                ("type", "confidential"),
                ("logo_uri", ""),
            ],
        )
        .await;
    assert!(
        hop.see_other("approve").ends_with("?done=approve"),
        "{hop:?}"
    );
    let request = registration_request(&server, &approved).await;
    assert_eq!(request["status"], "approved");
    let client_id = request["client_id"].as_str().expect("a client id");
    let (_, client) = admin(
        &server,
        reqwest::Method::GET,
        &format!("/admin/clients/{client_id}"),
        None,
    )
    .await;
    assert_eq!(client["client_name"], "Neon Projects (reviewed)");
    assert_by_operator(
        &audit(&server, "registration_request.approve").await,
        "reviewer",
        "approval",
    );
    // Acting again on a decided request is the API's 409, shown as an error, not a 5xx.
    let again = console
        .post(
            &format!("/console/requests/{approved}/reject"),
            &[("csrf_token", csrf), ("review_reason", "late")],
        )
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{again:?}");

    // Reject needs a reason.
    let hop = console
        .post(
            &format!("/console/requests/{rejected}/reject"),
            &[("csrf_token", csrf), ("review_reason", "")],
        )
        .await;
    assert_eq!(hop.status, StatusCode::BAD_REQUEST, "{hop:?}");
    assert_eq!(
        registration_request(&server, &rejected).await["status"],
        "pending"
    );
    let hop = console
        .post(
            &format!("/console/requests/{rejected}/reject"),
            &[
                ("csrf_token", csrf),
                ("review_reason", "Not a real company"),
            ],
        )
        .await;
    hop.see_other("reject");
    let request = registration_request(&server, &rejected).await;
    assert_eq!(request["status"], "rejected");
    assert_eq!(request["review_reason"], "Not a real company");

    let hop = console
        .post(
            &format!("/console/requests/{changes}/request-changes"),
            &[
                ("csrf_token", csrf),
                ("review_reason", "Say what the app does"),
            ],
        )
        .await;
    hop.see_other("request changes");
    let request = registration_request(&server, &changes).await;
    assert_eq!(request["status"], "changes_requested");
    assert_eq!(request["review_reason"], "Say what the app does");
    assert_by_operator(
        &audit(&server, "registration_request.request_changes").await,
        "reviewer",
        "changes",
    );

    // Without CSRF token: refused, nothing changes.
    let pending = submit_request(&server, &partner, "Another").await;
    let hop = console
        .post(
            &format!("/console/requests/{pending}/reject"),
            &[("review_reason", "x")],
        )
        .await;
    assert_eq!(hop.status, StatusCode::FORBIDDEN, "{hop:?}");
    assert_eq!(
        registration_request(&server, &pending).await["status"],
        "pending"
    );
}
