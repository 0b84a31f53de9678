//! Bad input at `/oauth2/auth` and the login form: open-redirect attempts get an error page and
//! never a redirect; repeated, non-UTF-8 or oversized parameters are refused; `state` can
//! neither split a header nor be echoed when oversized. Nothing is stored for a refused request:
//! no challenge, no browser cookie, no consent.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use gatehouse_core::authorize::MAX_STATE_LEN;
use url::Url;

use crate::ui::*;

/// An authorization request for `client_id` with `redirect_uri` (PKCE, `state=xyz`).
fn authorize_url(client_id: &str, redirect_uri: &str, extra: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("state", "xyz")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .extend_pairs(extra)
        .finish();
    format!("/oauth2/auth?{query}")
}

/// A refused request left nothing behind: no challenge, no cookie, no consent.
#[track_caller]
fn assert_nothing_started(reply: &Page, context: &str) {
    assert!(
        reply
            .header("location")
            .is_none_or(|l| !l.starts_with("/ui/")),
        "{context}: a login or consent challenge was started: {:?}",
        reply.header("location")
    );
    assert!(
        reply.set_cookies().is_empty(),
        "{context}: cookies were set: {:?}",
        reply.set_cookies()
    );
}

async fn assert_no_consent(ui: &Ui) {
    assert!(
        ui.store().list_consents(ALICE).await.unwrap().is_empty(),
        "{}: a consent was stored",
        ui.name
    );
}

#[tokio::test]
async fn open_redirect_attempts_get_an_error_page_never_a_redirect() {
    let attempts: &[(&str, &str)] = &[
        // Userinfo, either side of the registered authority.
        (CLI, "http://evil.example@127.0.0.1:5555/callback"),
        (CLI, "http://127.0.0.1:5555@evil.example/callback"),
        (
            WEB,
            "https://evil.example@app.example.com/callback?tenant=acme",
        ),
        (
            WEB,
            "https://app.example.com@evil.example/callback?tenant=acme",
        ),
        (
            WEB,
            "https://app.example.com:443@evil.example/callback?tenant=acme",
        ),
        // Backslashes (browsers read `\` as `/`).
        (
            WEB,
            "https://app.example.com\\@evil.example/callback?tenant=acme",
        ),
        (WEB, "https:\\\\evil.example\\callback"),
        (
            WEB,
            "https://app.example.com/callback\\..\\..\\evil?tenant=acme",
        ),
        (CLI, "http://127.0.0.1:5555\\@evil.example/callback"),
        // Encoded dots and slashes.
        (
            WEB,
            "https://app.example.com/callback/%2e%2e/evil?tenant=acme",
        ),
        (
            WEB,
            "https://app.example.com/callback/%2E%2E%2Fevil?tenant=acme",
        ),
        (WEB, "https://app.example.com/%2e%2e/callback?tenant=acme"),
        (
            WEB,
            "https://app.example.com/callback/../callback?tenant=acme",
        ),
        (
            WEB,
            "https://app.example.com%2eevil.example/callback?tenant=acme",
        ),
        (CLI, "http://127.0.0.1:5555/callback/%2e%2e/evil"),
        // Another port (not a loopback IP literal), host or scheme.
        (WEB, "https://app.example.com:8443/callback?tenant=acme"),
        (WEB, "https://app.example.com:443/callback?tenant=acme"),
        (WEB, "http://app.example.com/callback?tenant=acme"),
        (
            WEB,
            "https://app.example.com.evil.example/callback?tenant=acme",
        ),
        (WEB, "https://APP.example.com/callback?tenant=acme"),
        (CLI, "http://localhost:5555/callback"),
        (CLI, "https://127.0.0.1:5555/callback"),
        (CLI, "http://127.0.0.2:5555/callback"),
        (CLI, "http://[::1]:5555/callback"),
        // Other schemes outright.
        (
            WEB,
            "javascript:alert(document.domain)//https://app.example.com/callback?tenant=acme",
        ),
        (WEB, "data:text/html,<script>alert(1)</script>"),
        (WEB, "//evil.example/callback"),
        // The registered URI with something more.
        (
            WEB,
            "https://app.example.com/callback?tenant=acme&next=https://evil.example",
        ),
        (WEB, "https://app.example.com/callback?tenant=evil"),
        (
            WEB,
            "https://app.example.com/callback?tenant=acme#https://evil.example",
        ),
        (WEB, "https://app.example.com/callback/?tenant=acme"),
        (WEB, " https://app.example.com/callback?tenant=acme"),
        (
            WEB,
            "https://app.example.com/callback?tenant=acme%0D%0ALocation:%20https://evil.example",
        ),
    ];
    for ui in uis().await {
        let mut b = ui.browser();
        for (client, redirect_uri) in attempts {
            let context = format!("{}: {client} {redirect_uri}", ui.name);
            for reply in [
                b.get(&authorize_url(client, redirect_uri, &[])).await,
                b.post(
                    "/oauth2/auth",
                    &[
                        ("client_id", client),
                        ("redirect_uri", redirect_uri),
                        ("response_type", "code"),
                        ("scope", "openid"),
                        ("state", "xyz"),
                        ("code_challenge", CHALLENGE),
                        ("code_challenge_method", "S256"),
                    ],
                )
                .await,
            ] {
                reply.assert_page(StatusCode::BAD_REQUEST, &context);
                assert_nothing_started(&reply, &context);
                assert_not_linked(&reply, "evil.example", &context);
            }
        }
        // The control: a loopback IP literal may differ in its port only (RFC 8252 §7.3).
        let reply = b
            .get(&authorize_url(CLI, "http://127.0.0.1:6000/callback", &[]))
            .await;
        assert!(
            reply.location().starts_with("/ui/login?challenge="),
            "{}",
            ui.name
        );
        assert_no_consent(&ui).await;
    }
}

#[tokio::test]
async fn repeated_parameters_are_refused() {
    for ui in uis().await {
        let mut b = ui.browser();
        // client_id or redirect_uri repeated, even with the same value: a page.
        for extra in [("client_id", CLI), ("redirect_uri", CLI_REDIRECT)] {
            let url = format!("{}&{}", cli_authorize("openid", &[]), pair(extra));
            let reply = b.get(&url).await;
            let context = format!("{}: {} repeated", ui.name, extra.0);
            reply.assert_page(StatusCode::BAD_REQUEST, &context);
            assert_nothing_started(&reply, &context);
        }
        // Any other parameter repeated: invalid_request, redirected (the redirect URI is trusted).
        for extra in [
            ("response_type", "code"),
            ("scope", "openid"),
            ("state", "xyz"),
            ("state", "other"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("nonce", "n"),
            ("prompt", "login"),
            ("max_age", "60"),
            ("login_hint", "alice"),
            ("ui_locales", "de"),
        ] {
            let base = cli_authorize("openid", &[]);
            let in_base = base.contains(&format!("&{}=", extra.0));
            let mut url = format!("{base}&{}", pair(extra));
            if !in_base {
                url = format!("{url}&{}", pair(extra));
            }
            let context = format!("{}: {} repeated", ui.name, extra.0);
            let reply = b.get(&url).await;
            assert_nothing_started(&reply, &context);
            let (base, params) = reply.redirect_params();
            assert_eq!(base, CLI_REDIRECT, "{context}");
            assert_eq!(
                params.get("error").map(String::as_str),
                Some("invalid_request"),
                "{context}"
            );
            assert_eq!(
                params.get("iss").map(String::as_str),
                Some(ISSUER),
                "{context}"
            );
            assert!(!params.contains_key("code"), "{context}");
        }
        // By POST as well.
        let reply = b
            .post(
                "/oauth2/auth",
                &[
                    ("client_id", CLI),
                    ("redirect_uri", CLI_REDIRECT),
                    ("response_type", "code"),
                    ("scope", "openid"),
                    ("scope", "openid offline"),
                    ("code_challenge", CHALLENGE),
                    ("code_challenge_method", "S256"),
                ],
            )
            .await;
        assert_nothing_started(&reply, &ui.name);
        let (_, params) = reply.redirect_params();
        assert_eq!(params["error"], "invalid_request", "{}", ui.name);
        assert_no_consent(&ui).await;
    }
}

fn pair((k, v): (&str, &str)) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair(k, v)
        .finish()
}

#[tokio::test]
async fn a_state_over_the_limit_is_refused_and_not_echoed() {
    for ui in uis().await {
        let mut b = ui.browser();
        for len in [MAX_STATE_LEN + 1, 16 * 1024, 60 * 1024] {
            let long = "s".repeat(len);
            let reply = b
                .get(&cli_authorize("openid", &[]).replace("state=xyz", &format!("state={long}")))
                .await;
            let context = format!("{}: state of {len} bytes", ui.name);
            assert_nothing_started(&reply, &context);
            let location = reply.location();
            assert!(
                !location.contains(&"s".repeat(MAX_STATE_LEN + 1)),
                "{context}: echoed"
            );
            assert!(location.len() < 1024, "{context}: {} bytes", location.len());
            let (base, params) = reply.redirect_params();
            assert_eq!(base, CLI_REDIRECT, "{context}");
            assert_eq!(params["error"], "invalid_request", "{context}");
            assert!(!params.contains_key("state"), "{context}");
        }
        // At the limit it is accepted.
        let at_limit = "s".repeat(MAX_STATE_LEN);
        let reply = b
            .get(&cli_authorize("openid", &[]).replace("state=xyz", &format!("state={at_limit}")))
            .await;
        assert!(
            reply.location().starts_with("/ui/login?challenge="),
            "{}",
            ui.name
        );
        assert_no_consent(&ui).await;
    }
}

#[tokio::test]
async fn crlf_in_state_cannot_split_a_header() {
    let evil = "abc\r\nSet-Cookie: injected=1\r\nX-Injected: yes\r\n\r\n<script>x</script>";
    for ui in uis().await {
        let mut b = ui.browser();
        let check = |reply: &Page, context: &str| {
            assert_eq!(
                reply.status,
                StatusCode::SEE_OTHER,
                "{context}: {}",
                reply.body
            );
            assert_eq!(
                reply.headers.get_all(header::LOCATION).iter().count(),
                1,
                "{context}"
            );
            assert!(reply.header("x-injected").is_none(), "{context}");
            assert!(
                !reply.set_cookies().iter().any(|c| c.contains("injected")),
                "{context}"
            );
            let raw = reply.headers[header::LOCATION].as_bytes();
            assert!(
                !raw.iter().any(|b| *b == b'\r' || *b == b'\n' || *b == b' '),
                "{context}: {raw:?}"
            );
            let location = reply.location();
            assert!(
                location.contains("state=abc%0D%0ASet-Cookie"),
                "{context}: {location}"
            );
            let url = Url::parse(location).unwrap();
            let state: Vec<_> = url
                .query_pairs()
                .filter(|(k, _)| k == "state")
                .map(|(_, v)| v.into_owned())
                .collect();
            assert_eq!(state, [evil], "{context}: state round-trips exactly once");
        };
        // An error redirect.
        let url = cli_authorize("openid", &[("response_type", "token")])
            .replace("state=xyz", &pair(("state", evil)))
            .replace("&response_type=code", "");
        let reply = b.get(&url).await;
        check(&reply, &format!("{}: error redirect", ui.name));
        // The code response at the end of a whole flow.
        let url = cli_authorize("openid", &[]).replace("state=xyz", &pair(("state", evil)));
        let consent = b.reach_consent(&url).await;
        let reply = b.decide(&consent, "allow", false).await;
        check(&reply, &format!("{}: code redirect", ui.name));
    }
}

#[tokio::test]
async fn parameters_that_are_not_utf8_are_refused() {
    for ui in uis().await {
        let mut b = ui.browser();
        // In a parameter of a trusted request: invalid_request to the client, no state echoed.
        for bad in [
            "state=%FF",
            "state=%C3%28",
            "scope=openid%FF",
            "nonce=%C0%AF",
        ] {
            let key = bad.split('=').next().unwrap();
            let mut url = cli_authorize("openid", &[]);
            url = url
                .split('&')
                .filter(|p| !p.starts_with(&format!("{key}=")) && !p.ends_with(&format!("?{key}=")))
                .collect::<Vec<_>>()
                .join("&");
            url.push('&');
            url.push_str(bad);
            let context = format!("{}: {bad}", ui.name);
            let reply = b.get(&url).await;
            assert_nothing_started(&reply, &context);
            let (base, params) = reply.redirect_params();
            assert_eq!(base, CLI_REDIRECT, "{context}");
            assert_eq!(params["error"], "invalid_request", "{context}");
            assert!(!params.contains_key("state"), "{context}: {params:?}");
        }
        // In client_id or redirect_uri: nothing is trusted, so a page.
        for (from, to) in [
            ("client_id=neon-cli", "client_id=neon-cli%FF"),
            (
                "redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback",
                "redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback%FF",
            ),
        ] {
            let url = cli_authorize("openid", &[]).replace(from, to);
            assert_ne!(url, cli_authorize("openid", &[]));
            let reply = b.get(&url).await;
            reply.assert_page(StatusCode::BAD_REQUEST, &format!("{}: {to}", ui.name));
            assert_nothing_started(&reply, &ui.name);
        }
        // A POSTed body with raw bytes that are not UTF-8.
        let mut body = b"client_id=neon-cli&response_type=code&scope=openid&code_challenge_method=S256&state=\xff\xfe&code_challenge=".to_vec();
        body.extend_from_slice(CHALLENGE.as_bytes());
        let reply = raw_post(
            &ui,
            "/oauth2/auth",
            body,
            "application/x-www-form-urlencoded",
        )
        .await;
        assert_nothing_started(&reply, &ui.name);
        let (_, params) = reply.redirect_params();
        assert_eq!(params["error"], "invalid_request", "{}", ui.name);
        assert!(!params.contains_key("state"), "{}", ui.name);
        assert_no_consent(&ui).await;
    }
}

/// POSTs a raw body to the login UI router from the test browser's address.
async fn raw_post(ui: &Ui, path: &str, body: Vec<u8>, content_type: &str) -> Page {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap();
    let addr: SocketAddr = "203.0.113.7:40000".parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(addr));
    let reply = gatehouse_testkit::http::send(&ui.router, request).await;
    Page {
        status: reply.status,
        body: reply.text(),
        headers: reply.headers,
    }
}

#[tokio::test]
async fn oversized_bodies_and_wrong_content_types_are_refused() {
    for ui in uis().await {
        let mut big = format!(
            "{}&pad=",
            cli_authorize("openid", &[]).trim_start_matches("/oauth2/auth?")
        )
        .into_bytes();
        big.resize(3 * 1024 * 1024, b'a');
        for path in [
            "/oauth2/auth",
            "/ui/login",
            "/ui/consent",
            "/account/apps/revoke",
        ] {
            let reply = raw_post(&ui, path, big.clone(), "application/x-www-form-urlencoded").await;
            let context = format!("{}: 3 MiB to {path}", ui.name);
            assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{context}");
            assert_nothing_started(&reply, &context);
        }
        // A JSON body at the authorization endpoint carries no form parameters: a page.
        let json = format!(
            r#"{{"client_id":"{CLI}","redirect_uri":"{CLI_REDIRECT}","response_type":"code","scope":"openid","code_challenge":"{CHALLENGE}","code_challenge_method":"S256"}}"#
        );
        let reply = raw_post(
            &ui,
            "/oauth2/auth",
            json.clone().into_bytes(),
            "application/json",
        )
        .await;
        reply.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        assert_nothing_started(&reply, &ui.name);
        // A JSON login attempt signs nobody in.
        let login = format!(r#"{{"username":"alice","password":"{ALICE_PASSWORD}"}}"#);
        let reply = raw_post(&ui, "/ui/login", login.into_bytes(), "application/json").await;
        assert!(
            reply.status.is_client_error(),
            "{}: {}",
            ui.name,
            reply.status
        );
        assert_nothing_started(&reply, &ui.name);
        assert_no_consent(&ui).await;
    }
}
