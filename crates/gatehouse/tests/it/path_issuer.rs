//! An issuer with a path (`https://host/api`, as the Neon Postman guide's
//! `https://host/api/oauth2/auth`): every public endpoint, the login UI and its assets are served
//! under the path; the discovery document at the issuer plus `/.well-known/openid-configuration`
//! (OpenID Connect Discovery §4) and at `/.well-known/oauth-authorization-server/api` (RFC 8414
//! §3.1); cookies are scoped to the path.

use reqwest::StatusCode;
use serde_json::Value;

use crate::flow::{Browser, code_form};
use gatehouse_testkit::e2e::Partner;
use gatehouse_testkit::http::get;

use crate::gatehouse;

#[tokio::test(flavor = "multi_thread")]
async fn an_issuer_with_a_path_serves_everything_under_it() {
    let server = gatehouse().server("all").issuer_path("/api").start();
    let origin = format!("http://127.0.0.1:{}", server.public);
    let issuer = format!("{origin}/api");

    let (status, body) = get(&format!("{issuer}/.well-known/openid-configuration")).await;
    assert_eq!(status, 200, "discovery at the issuer's path: {body}");
    let config: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(config["issuer"], issuer.as_str());
    for (field, path) in [
        ("authorization_endpoint", "/oauth2/auth"),
        ("token_endpoint", "/oauth2/token"),
        ("jwks_uri", "/.well-known/jwks.json"),
        ("userinfo_endpoint", "/userinfo"),
        ("revocation_endpoint", "/oauth2/revoke"),
        ("introspection_endpoint", "/oauth2/introspect"),
        ("end_session_endpoint", "/oauth2/sessions/logout"),
        ("pushed_authorization_request_endpoint", "/oauth2/par"),
    ] {
        assert_eq!(config[field], format!("{issuer}{path}"), "{field}");
    }
    let (status, rfc8414) = get(&format!(
        "{origin}/.well-known/oauth-authorization-server/api"
    ))
    .await;
    assert_eq!(status, 200, "RFC 8414 §3.1 metadata: {rfc8414}");
    assert_eq!(
        serde_json::from_str::<Value>(&rfc8414).unwrap()["issuer"],
        issuer.as_str()
    );
    let (status, jwks) = get(&format!("{issuer}/.well-known/jwks.json")).await;
    assert_eq!(status, 200, "{jwks}");
    // Nothing of the issuer is served at the root, but health is, for probes.
    for root in [
        "/oauth2/token",
        "/.well-known/openid-configuration",
        "/ui/login",
        "/",
        "/account",
    ] {
        let (status, _) = get(&format!("{origin}{root}")).await;
        assert_eq!(status, 404, "{root} at the root");
    }
    assert_eq!(get(&format!("{origin}/health/ready")).await.0, 200);
    // The issuer's own address leads to a sign-in, and every link stays under the path.
    let (status, home) = get(&issuer).await;
    assert_eq!(status, 200, "{home}");
    for link in [
        "href=\"/api/ui/login\"",
        "href=\"/api/ui/language?lang=de&#38;return=%2Fapi\"",
    ] {
        assert!(home.contains(link), "{link} in {home}");
    }

    // The whole flow under the path: the login UI's pages, forms, redirects and assets.
    let partner = Partner::register(&server, "http://127.0.0.1:5555/callback", None);
    let browser = Browser::new(&origin);
    let hop = browser
        .get(&format!(
            "/api/oauth2/auth?{}",
            partner.authorization_query("path-state")
        ))
        .await;
    let to_login = hop.location.clone().unwrap_or_default();
    assert!(
        to_login.starts_with("/api/ui/login?challenge="),
        "the login page is under the path: {to_login}"
    );
    let cookies: Vec<_> = hop
        .set_cookies
        .iter()
        .filter(|c| c.contains("gatehouse_"))
        .collect();
    assert!(
        !cookies.is_empty() && cookies.iter().all(|c| c.contains("Path=/api;")),
        "cookies scoped to the issuer's path: {cookies:?}"
    );
    let page = browser.get(&to_login).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for attribute in [
        "action=\"/api/ui/login\"",
        "href=\"/api/ui/static/gatehouse.css",
    ] {
        assert!(
            page.body.contains(attribute),
            "{attribute} in {}",
            page.body
        );
    }
    let css = page
        .body
        .split("href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .replace("&#38;", "&");
    let (status, _) = get(&format!("{origin}{css}")).await;
    assert_eq!(status, 200, "the stylesheet {css}");
    let query = browser
        .finish(&partner, partner.password, page)
        .await
        .unwrap_or_else(|hop| panic!("the flow stopped at {} {}", hop.status, hop.body));
    assert_eq!(query.get("iss").map(String::as_str), Some(issuer.as_str()));
    let code = query.get("code").expect("a code").clone();
    let answer = reqwest::Client::new()
        .post(format!("{issuer}/oauth2/token"))
        .form(&code_form(&partner, &code))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let tokens: Value = answer.json().await.unwrap();
    let userinfo = reqwest::Client::new()
        .get(format!("{issuer}/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 200);
    // Pushed authorization requests under the path too: an unauthenticated push is refused
    // there as JSON, not missed as an unknown route.
    let par = reqwest::Client::new()
        .post(format!("{issuer}/oauth2/par"))
        .form(&[("client_id", "nobody"), ("response_type", "code")])
        .send()
        .await
        .unwrap();
    assert_eq!(par.status(), 401);
    assert_eq!(
        par.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    drop(server);
}
