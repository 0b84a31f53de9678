//! What every page carries: security headers, translations, stylesheets.

use axum::http::StatusCode;

use crate::ui::*;

#[track_caller]
fn assert_security_headers(reply: &Page, context: &str) {
    let csp = reply
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{context}: no CSP"));
    for directive in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(directive), "{context}: {csp}");
    }
    // No script but the UI's own file, on the pages with a passkey form (`passkey.js`): never an
    // inline one, never another origin's.
    if let Some(scripts) = csp.split("; ").find(|d| d.starts_with("script-src")) {
        assert_eq!(scripts, "script-src 'self'", "{context}: {csp}");
        assert!(
            reply
                .body
                .contains("<script src=\"/ui/static/passkey.js?v="),
            "{context}: scripts allowed on a page without the passkey script"
        );
    }
    assert!(!csp.contains("unsafe-inline"), "{context}: {csp}");
    assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{context}");
    assert_eq!(
        reply.header("referrer-policy"),
        Some("no-referrer"),
        "{context}"
    );
    assert_eq!(
        reply.header("x-content-type-options"),
        Some("nosniff"),
        "{context}"
    );
}

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    for ui in uis().await {
        let mut b = ui.browser();
        let mut replies = Vec::new();
        replies.push((
            "unknown client",
            b.get("/oauth2/auth?client_id=nobody").await,
        ));
        let login = b.start(&cli_authorize(SEED_SCOPE, &[])).await;
        let failed = b.login(&login, "alice", "wrong", false).await;
        let consent_redirect = b.login(&failed, "alice", ALICE_PASSWORD, false).await;
        let consent = b.follow(&consent_redirect).await;
        let apps = b.get("/account/apps").await;
        let logout = b.get("/oauth2/sessions/logout").await;
        let csrf_error = b.post("/ui/login", &[("username", "alice")]).await;
        let expired = b.get("/ui/consent?challenge=nope").await;
        let home = b.get("/").await;
        let language = b.get("/ui/language?lang=de&return=%2F").await;
        let restart = b.get("/ui/restart?challenge=nope").await;
        let unregistered = b
            .get(&cli_authorize(SEED_SCOPE, &[]).replace(
                "redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback",
                "redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
            ))
            .await;
        let signed_out = b
            .post(
                "/oauth2/sessions/logout/confirm",
                &[(
                    "csrf_token",
                    &apps.form_field("sign-out-form", "csrf_token"),
                )],
            )
            .await;
        let signed_out_home = b.get("/account").await;
        let css = b.get("/ui/static/gatehouse.css").await;
        replies.extend([
            ("login", login),
            ("failed login", failed),
            ("login redirect", consent_redirect),
            ("consent", consent),
            ("apps", apps),
            ("logout", logout),
            ("csrf error", csrf_error),
            ("expired", expired),
            ("home", home),
            ("language switch", language),
            ("restart", restart),
            ("unregistered redirect URI", unregistered),
            ("signed out", signed_out),
            ("signed-out home", signed_out_home),
            ("css", css),
        ]);
        for (what, reply) in &replies {
            assert_security_headers(reply, &format!("{}: {what}", ui.name));
            if reply
                .header("content-type")
                .is_some_and(|c| c.starts_with("text/html"))
            {
                assert!(
                    reply.body.contains("<nav class=\"languages\" aria-label=")
                        && reply.body.contains("aria-current=\"true\""),
                    "{}: {what} has no language switcher",
                    ui.name
                );
            }
        }
        for (what, reply) in &replies[..replies.len() - 1] {
            assert_eq!(
                reply.header("cache-control"),
                Some("no-store"),
                "{}: {what}",
                ui.name
            );
        }
    }
}

#[tokio::test]
async fn stylesheets_are_served_and_cached_and_branding_applies() {
    let configure = |c: &mut gatehouse_login::LoginConfig| {
        c.branding.product_name = "Neon".into();
        c.branding.primary_color = "#00e599".into();
        c.branding.logo_url = Some("https://neon.example.com/logo.svg".into());
        c.branding.footer = Some("© Neon Inc.".into());
        c.branding.support_url = Some("https://neon.example.com/support".into());
        c.branding.extra_css_url = Some("https://cdn.neon.example.com/login.css".into());
    };
    for ui in uis_with(configure).await {
        let mut b = ui.browser();
        let page = b.start(&cli_authorize(SEED_SCOPE, &[])).await;
        for needle in [
            "<title>Sign in – Neon</title>",
            "src=\"https://neon.example.com/logo.svg\" alt=\"Neon\"",
            "© Neon Inc.",
            "href=\"https://neon.example.com/support\"",
            "href=\"https://cdn.neon.example.com/login.css\"",
        ] {
            assert!(
                page.body.contains(needle),
                "{}: {needle} in {}",
                ui.name,
                page.body
            );
        }
        let csp = page.header("content-security-policy").unwrap();
        assert!(
            csp.contains("style-src 'self' https://cdn.neon.example.com;"),
            "{csp}"
        );

        let start = page.body.find("/ui/static/brand.css?v=").unwrap();
        let href = page.body[start..].split('"').next().unwrap().to_owned();
        let brand = b.get(&href).await;
        assert_eq!(brand.status, StatusCode::OK);
        assert!(
            brand.body.contains("--gh-primary:#00e599"),
            "{}",
            brand.body
        );
        assert!(
            brand
                .header("content-type")
                .unwrap()
                .starts_with("text/css")
        );
        assert!(
            brand
                .header("cache-control")
                .unwrap()
                .contains("max-age=31536000")
        );
        let css = b.get("/ui/static/gatehouse.css").await;
        assert!(css.body.contains("--gh-primary"));
        assert_eq!(
            b.get("/ui/static/other.css").await.status,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn pages_speak_german_by_ui_locales_or_accept_language() {
    for ui in uis().await {
        let mut b = ui.browser();
        let page = b
            .start(&cli_authorize(SEED_SCOPE, &[("ui_locales", "de-CH en")]))
            .await;
        assert!(page.body.contains("<html lang=\"de\">"), "{}", page.body);
        assert!(
            page.body.contains("Anmelden, um mit Neon CLI fortzufahren"),
            "{}",
            page.body
        );
        assert!(page.body.contains(">Passwort</label>"));
        let reply = b.login(&page, "alice", "falsch", false).await;
        assert!(
            reply
                .body
                .contains("Benutzername oder Passwort ist nicht korrekt.")
        );

        let mut b = ui.browser();
        b.accept_language = Some("fr-FR, de;q=0.8, en;q=0.5".into());
        let page = b.start(&cli_authorize(SEED_SCOPE, &[])).await;
        assert!(page.body.contains("<html lang=\"de\">"), "{}", ui.name);
        let reply = b.login(&page, "alice", ALICE_PASSWORD, false).await;
        let consent = b.follow(&reply).await;
        assert!(
            consent
                .body
                .contains("Neon CLI möchte auf Ihr Konto zugreifen"),
            "{}",
            consent.body
        );
        assert!(consent.body.contains(">Erlauben</button>"));

        // ui_locales wins over Accept-Language; English is the fallback.
        let page = b
            .start(&cli_authorize(
                SEED_SCOPE,
                &[("ui_locales", "en"), ("prompt", "login")],
            ))
            .await;
        assert!(page.body.contains("<html lang=\"en\">"));
        let mut b = ui.browser();
        b.accept_language = Some("ja".into());
        let page = b.start(&cli_authorize(SEED_SCOPE, &[])).await;
        assert!(page.body.contains("<html lang=\"en\">"));
    }
}

/// The links of the language switcher of `page`: tag, `href` (its `&` unescaped), current.
fn language_links(page: &Page) -> Vec<(String, String, bool)> {
    let start = page
        .body
        .find("<nav class=\"languages\" aria-label=\"")
        .unwrap_or_else(|| panic!("no language switcher in {}", page.body));
    let nav = &page.body[start..page.body[start..].find("</nav>").unwrap() + start];
    nav.split("<li>")
        .skip(1)
        .map(|item| {
            let href = item
                .split("href=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let tag = item
                .split("lang=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            (
                tag.to_owned(),
                href.replace("&#38;", "&").replace("&amp;", "&"),
                item.contains("aria-current=\"true\""),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_page_has_a_language_switcher_that_remembers_the_choice() {
    for ui in uis().await {
        let mut b = ui.browser();
        b.accept_language = Some("en".into());
        let page = b.get("/ui/login").await;
        page.assert_page(StatusCode::OK, &ui.name);
        assert!(
            page.body
                .contains("<nav class=\"languages\" aria-label=\"Language\">"),
            "{}",
            page.body
        );
        assert!(page.body.contains(">English</a>") && page.body.contains(">Deutsch</a>"));
        let links = language_links(&page);
        assert_eq!(
            links,
            vec![
                (
                    "de".to_owned(),
                    "/ui/language?lang=de&return=%2Fui%2Flogin".to_owned(),
                    false
                ),
                (
                    "en".to_owned(),
                    "/ui/language?lang=en&return=%2Fui%2Flogin".to_owned(),
                    true
                ),
            ],
            "{}",
            ui.name
        );
        let reply = b.get(&links[0].1).await;
        assert_eq!(reply.location(), "/ui/login", "{}", ui.name);
        let cookie = reply.set_cookies()[0].to_owned();
        assert!(
            cookie.starts_with(
                "__Host-gatehouse_lang=de; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000"
            ),
            "{cookie}"
        );
        // The choice wins over Accept-Language, on every page.
        let page = b.follow(&reply).await;
        assert!(page.body.contains("<html lang=\"de\">"), "{}", page.body);
        assert!(page.body.contains("aria-label=\"Sprache\""));
        assert!(language_links(&page)[0].2, "Deutsch is the current one");
        let signed_out = b.get("/").await;
        assert!(signed_out.body.contains("<html lang=\"de\">"));
        assert_eq!(
            language_links(&signed_out)[1].1,
            "/ui/language?lang=en&return=%2F"
        );

        // A request's ui_locales wins over the choice.
        let login = b
            .start(&cli_authorize(SEED_SCOPE, &[("ui_locales", "en")]))
            .await;
        assert!(login.body.contains("<html lang=\"en\">"), "{}", ui.name);
        let login = b.start(&cli_authorize(SEED_SCOPE, &[])).await;
        assert!(login.body.contains("<html lang=\"de\">"), "{}", ui.name);
        // The login form leads back to itself, also after a failed attempt (a POST).
        let challenge = login.field("challenge");
        let back = format!("/ui/language?lang=en&return=%2Fui%2Flogin%3Fchallenge%3D{challenge}");
        assert_eq!(language_links(&login)[1].1, back);
        let failed = b.login(&login, "alice", "wrong", false).await;
        assert_eq!(language_links(&failed)[1].1, back);
        let reply = b.get(&back).await;
        assert_eq!(reply.location(), format!("/ui/login?challenge={challenge}"));
        let page = b.follow(&reply).await;
        assert!(page.body.contains("<html lang=\"en\">"), "{}", ui.name);
        assert_eq!(
            page.body.matches("<script").count(),
            page.body
                .matches("<script src=\"/ui/static/passkey.js?v=")
                .count(),
            "no inline script"
        );
    }
}

#[tokio::test]
async fn the_language_switch_goes_back_only_to_this_origin() {
    for ui in uis().await {
        let mut b = ui.browser();
        for target in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example/",
            "evil.example",
        ] {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("lang", "de")
                .append_pair("return", target)
                .finish();
            let reply = b.get(&format!("/ui/language?{query}")).await;
            assert_eq!(reply.location(), "/", "{}: {target}", ui.name);
        }
        let reply = b.get("/ui/language?lang=xx&return=%2Faccount").await;
        assert_eq!(reply.location(), "/account");
        assert!(
            reply.set_cookies().is_empty(),
            "an unknown language is not kept"
        );
        let reply = b.get("/ui/language").await;
        assert_eq!(reply.location(), "/");
    }
}

#[tokio::test]
async fn under_an_issuer_path_the_switcher_stays_under_it() {
    for ui in uis_with(|c| c.base_path = "/api".into()).await {
        let mut b = ui.browser();
        let page = b.get("/api/account").await;
        page.assert_page(StatusCode::OK, &ui.name);
        let links = language_links(&page);
        assert_eq!(
            links[0].1,
            "/api/ui/language?lang=de&return=%2Fapi%2Faccount"
        );
        let reply = b.get(&links[0].1).await;
        assert_eq!(reply.location(), "/api/account");
        assert!(
            reply.set_cookies()[0].contains("Path=/api;"),
            "{:?}",
            reply.set_cookies()
        );
    }
}
