//! The split deployment completes the login and consent flow: `serve token` and `serve login` as
//! two processes, the login UI reaching the token service over gRPC, both on one Postgres
//! database (the token process only: the login UI has no durable store) and one Redis.
//!
//! The test is the browser: a cookie jar, no automatic redirects (each hop is followed and
//! checked), forms read from the HTML. Both processes have the token process's public URL as
//! their issuer. Without a reverse proxy in front, the login UI's pages are fetched from the
//! login listener: its redirects to its own pages are relative (`/ui/login?…`), so a browser
//! stays on whichever host served the authorization request, as it does behind the proxy of
//! the compose file and the Helm chart, where both share the issuer's host.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::json;

use crate::flow::{Hop, form, input, listed_scopes};
use gatehouse_testkit::e2e::{
    HIDDEN_SCOPES, Partner, discovery, redeem_and_call_userinfo, scope_set,
};
use gatehouse_testkit::fixtures::random_system_secret;
use gatehouse_testkit::http::get;

use crate::gatehouse;

const TEST: &str = "split_deployment_completes_login_and_consent";

#[tokio::test]
async fn split_deployment_completes_login_and_consent() {
    let (Some(db), Some(redis)) = (
        gatehouse_testkit::fresh_postgres_database().await,
        gatehouse_testkit::redis_url(),
    ) else {
        return gatehouse_testkit::skipped(TEST, "postgres and redis");
    };
    // One system secret for both, as in a real deployment; random, because Redis is shared
    // with other tests and the login UI's keys there are keyed hashes.
    let system_secret = random_system_secret("split-flow");
    let token = gatehouse()
        .server("token")
        .env("DATABASE_URL", &db.url)
        .env("REDIS_URL", &redis)
        .env("GATEHOUSE_SYSTEM_SECRET", &system_secret)
        .start();
    let issuer = format!("http://127.0.0.1:{}", token.public);
    let login = gatehouse()
        .server("login")
        .env("REDIS_URL", &redis)
        .env("GATEHOUSE_SYSTEM_SECRET", &system_secret)
        .env("GATEHOUSE_ISSUER", &issuer)
        .env(
            "GATEHOUSE_TOKEN_GRPC_URL",
            format!("http://127.0.0.1:{}", token.grpc),
        )
        .start();
    let login_base = format!("http://127.0.0.1:{}", login.login);
    login
        .readiness_becomes(login.login, 200, std::time::Duration::from_secs(15))
        .await;
    // The login process serves no OAuth endpoint of the token service, and vice versa.
    assert_eq!(get(&format!("{login_base}/oauth2/token")).await.0, 404);
    assert_eq!(
        get(&format!("{issuer}/ui/login?challenge=x")).await.0,
        404,
        "the token process has no login pages"
    );

    let redirect_uri = "http://127.0.0.1:5555/callback";
    let logo_uri = "http://127.0.0.1:5556/logo.png";
    let partner = Partner::register(&token, redirect_uri, Some(logo_uri));
    let config = discovery(&issuer).await;
    assert_eq!(config["issuer"], json!(issuer));
    assert_eq!(
        config["authorization_endpoint"],
        json!(format!("{issuer}/oauth2/auth")),
        "behind the proxy, the issuer's /oauth2/auth reaches the login UI"
    );

    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let state = "split-state-9a2e";

    // The authorization request → the login page.
    let hop = Hop::of(
        browser
            .get(format!(
                "{login_base}/oauth2/auth?{}",
                partner.authorization_query(state)
            ))
            .send()
            .await
            .expect("authorization request"),
    )
    .await;
    let to_login = hop.see_other("authorization request").to_owned();
    assert!(to_login.starts_with("/ui/login?challenge="), "{to_login}");
    let hop = Hop::of(
        browser
            .get(format!("{login_base}{to_login}"))
            .send()
            .await
            .expect("login page"),
    )
    .await;
    let login_form = form(hop.page("login page"), "login-form");
    assert!(hop.body.contains("Neon CLI"), "the client is named");
    let csrf = input(login_form, "csrf_token");
    let challenge = input(login_form, "challenge");

    // A login without the CSRF token is refused; with it, it goes on to consent.
    let refused = Hop::of(
        browser
            .post(format!("{login_base}/ui/login"))
            .form(&[
                ("challenge", challenge.as_str()),
                ("username", partner.username),
                ("password", partner.password),
            ])
            .send()
            .await
            .expect("login"),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let hop = Hop::of(
        browser
            .post(format!("{login_base}/ui/login"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("challenge", challenge.as_str()),
                ("username", partner.username),
                ("password", partner.password),
                ("remember", "1"),
            ])
            .send()
            .await
            .expect("login"),
    )
    .await;
    let to_consent = hop.see_other("login").to_owned();
    assert!(
        to_consent.starts_with("/ui/consent?challenge="),
        "{to_consent}"
    );

    // The consent page: visible scopes only.
    let hop = Hop::of(
        browser
            .get(format!("{login_base}{to_consent}"))
            .send()
            .await
            .expect("consent page"),
    )
    .await;
    let page = hop.page("consent page");
    let mut visible: Vec<String> = partner.visible.iter().map(|s| (*s).to_owned()).collect();
    visible.sort();
    assert_eq!(listed_scopes(page), visible);
    for hidden in HIDDEN_SCOPES {
        assert!(
            !page.contains(&format!("data-scope=\"{hidden}\"")),
            "{hidden}"
        );
    }
    assert!(
        page.contains(&format!("id=\"client-logo\" src=\"{logo_uri}\"")),
        "the logo is on the page"
    );
    // The page's CSP lets the browser load the registered loopback logo (its origin only) and
    // follow the form's redirect to the callback's origin.
    let csp = hop.csp.as_deref().expect("a CSP");
    assert!(
        csp.contains("img-src 'self' https: data: http://127.0.0.1:5556;"),
        "{csp}"
    );
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:5555;"),
        "{csp}"
    );
    let consent_form = form(page, "consent-form");
    let hop = Hop::of(
        browser
            .post(format!("{login_base}/ui/consent"))
            .form(&[
                ("csrf_token", input(consent_form, "csrf_token").as_str()),
                ("challenge", input(consent_form, "challenge").as_str()),
                ("remember", "1"),
                ("decision", "allow"),
            ])
            .send()
            .await
            .expect("consent"),
    )
    .await;

    // The callback: code, state, every granted scope and the issuer.
    let callback = url::Url::parse(hop.see_other("consent")).expect("an absolute callback");
    assert_eq!(
        format!(
            "{}://{}{}",
            callback.scheme(),
            callback.authority(),
            callback.path()
        ),
        redirect_uri
    );
    let query: HashMap<String, String> = callback.query_pairs().into_owned().collect();
    assert_eq!(query.get("state").map(String::as_str), Some(state));
    assert_eq!(
        query.get("iss").map(String::as_str),
        config["issuer"].as_str(),
        "iss is the discovery document's issuer (RFC 9207)"
    );
    assert_eq!(
        scope_set(query.get("scope").map_or("", String::as_str)),
        scope_set(partner.scope)
    );
    let code = query.get("code").expect("a code");

    // The code, minted by the token process for the login process, is redeemed at the token
    // process's endpoint with the PKCE verifier.
    let claims = redeem_and_call_userinfo(
        &partner,
        config["token_endpoint"].as_str().expect("token_endpoint"),
        config["userinfo_endpoint"]
            .as_str()
            .expect("userinfo_endpoint"),
        code,
    )
    .await;
    assert_eq!(claims["name"], "Alice Example", "{claims}");

    // Again: the session (Redis, written by the login process) and the remembered consent
    // (Postgres, written by the token process) skip both pages.
    let hop = Hop::of(
        browser
            .get(format!(
                "{login_base}/oauth2/auth?{}",
                partner.authorization_query("split-state-2")
            ))
            .send()
            .await
            .expect("second authorization request"),
    )
    .await;
    let again = url::Url::parse(hop.see_other("second authorization request"))
        .expect("straight back to the client");
    let query: HashMap<String, String> = again.query_pairs().into_owned().collect();
    assert_eq!(
        query.get("state").map(String::as_str),
        Some("split-state-2")
    );
    assert!(query.contains_key("code"), "{query:?}");

    assert!(login.terminate().success());
    assert!(token.terminate().success());
    drop(db);
}
