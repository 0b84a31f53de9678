//! External UI mode (`GATEHOUSE_UI=external`) on the real binary: Hydra's login/consent
//! challenge API is on the admin listener, behind the admin token; the authorization endpoint
//! sends the browser to the external login app.

use reqwest::StatusCode;
use serde_json::Value;

use crate::gatehouse;

const TOKEN: &str = "admin-token-0123456789abcdef0123456789abcdef";
const LOGIN_APP: &str = "https://login.example.com/login";

#[tokio::test]
async fn the_challenge_api_needs_the_admin_token_and_answers_hydras_error_shape() {
    let server = gatehouse()
        .server("all")
        .env("GATEHOUSE_ADMIN_TOKEN", TOKEN)
        .env("GATEHOUSE_UI", "external")
        .env("GATEHOUSE_URLS_LOGIN", LOGIN_APP)
        .env(
            "GATEHOUSE_URLS_CONSENT",
            "https://login.example.com/consent",
        )
        .start();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{}/admin/oauth2/auth", server.admin);
    let challenge = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let paths = [
        (
            reqwest::Method::GET,
            format!("requests/login?login_challenge={challenge}"),
        ),
        (
            reqwest::Method::PUT,
            format!("requests/login/accept?login_challenge={challenge}"),
        ),
        (
            reqwest::Method::PUT,
            format!("requests/consent/accept?consent_challenge={challenge}"),
        ),
        (
            reqwest::Method::GET,
            format!("requests/logout?logout_challenge={challenge}"),
        ),
        (
            reqwest::Method::GET,
            "sessions/consent?subject=alice".to_owned(),
        ),
        (
            reqwest::Method::DELETE,
            "sessions/consent?subject=alice&all=true".to_owned(),
        ),
        (
            reqwest::Method::DELETE,
            "sessions/login?subject=alice".to_owned(),
        ),
    ];
    for (method, path) in &paths {
        let url = format!("{base}/{path}");
        let answer = http
            .request(method.clone(), &url)
            .header("content-type", "application/json")
            .body(r#"{"subject":"alice"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        let wrong = http
            .request(method.clone(), &url)
            .bearer_auth("not-the-admin-token-0123456789abcdef")
            .header("content-type", "application/json")
            .body(r#"{"subject":"alice"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    let answer = http
        .get(format!("{base}/requests/login?login_challenge={challenge}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"], "Not Found", "{body}");
    assert_eq!(body["status_code"], 404);
    assert!(body["error_description"].is_string());

    // An unknown client's request is an error page, never a trip to the login app.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = no_redirects
        .get(format!(
            "http://127.0.0.1:{}/oauth2/auth?client_id=nobody&response_type=code",
            server.public
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    drop(server);
}

#[tokio::test]
async fn with_the_builtin_ui_the_challenge_api_is_not_served() {
    let server = gatehouse().server("all").start();
    let answer = reqwest::get(format!(
        "http://127.0.0.1:{}/admin/oauth2/auth/requests/login?login_challenge=x",
        server.admin
    ))
    .await
    .unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let text = answer.text().await.unwrap();
    assert!(!text.contains("login request"), "{text}");
    drop(server);
}
