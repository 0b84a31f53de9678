//! The admin listener without an admin token trusts whoever can reach its loopback port, so it
//! must not be reachable *through a browser*: a page the operator visits must not be able to
//! rotate a client's secret or the signing keys (cross-site requests), nor read the admin API
//! through a rebound DNS name. With or without a token, every state-changing request is JSON.

use reqwest::StatusCode;
use serde_json::Value;

use crate::gatehouse;

struct Answer {
    status: StatusCode,
    body: Value,
}

async fn send(
    method: reqwest::Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Answer {
    let mut request = reqwest::Client::new().request(method, url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body.to_owned());
    }
    let answer = request.send().await.expect("admin request");
    let status = answer.status();
    let text = answer.text().await.unwrap_or_default();
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

#[track_caller]
fn assert_refused(answer: &Answer, status: StatusCode, case: &str) {
    assert_eq!(answer.status, status, "{case}: {}", answer.body);
    assert!(
        answer.body["error"].as_str().is_some_and(|e| !e.is_empty())
            && answer.body["error_description"].as_str().is_some(),
        "{case}: a JSON error: {}",
        answer.body
    );
}

#[tokio::test]
async fn without_a_token_the_admin_api_refuses_cross_site_and_rebound_requests() {
    use reqwest::Method;

    let server = gatehouse().server("all").start();
    let admin = format!("http://127.0.0.1:{}", server.admin);
    let created = server.admin_cli(
        &[
            "clients",
            "create",
            "--id",
            "victim",
            "--grant-types",
            "client_credentials",
        ],
        None,
    );
    assert!(created.contains("victim"), "{created}");
    let rotate_secret = format!("{admin}/admin/clients/victim/secret?grace_seconds=0");
    let rotate_keys = format!("{admin}/admin/keys/rotate");
    let own_origin = admin.clone();

    // A cross-site page: a simple (preflight-free) text/plain POST with its Origin.
    for (case, url) in [
        ("secret rotation", &rotate_secret),
        ("key rotation", &rotate_keys),
    ] {
        let answer = send(
            Method::POST,
            url,
            &[
                ("origin", "https://evil.example"),
                ("content-type", "text/plain"),
            ],
            Some("{}"),
        )
        .await;
        assert_refused(
            &answer,
            StatusCode::FORBIDDEN,
            &format!("{case} from another origin"),
        );
        let answer = send(
            Method::POST,
            url,
            &[
                ("origin", "https://evil.example"),
                ("content-type", "application/json"),
            ],
            Some("{}"),
        )
        .await;
        assert_refused(
            &answer,
            StatusCode::FORBIDDEN,
            &format!("{case} from another origin, even as JSON"),
        );
        for site in ["cross-site", "same-site"] {
            let answer = send(
                Method::POST,
                url,
                &[
                    ("sec-fetch-site", site),
                    ("content-type", "application/json"),
                ],
                Some("{}"),
            )
            .await;
            assert_refused(&answer, StatusCode::FORBIDDEN, &format!("{case} {site}"));
        }
        // No Origin at all, but not JSON: the form a `<form>` post or a `no-cors` fetch takes.
        let answer = send(
            Method::POST,
            url,
            &[("content-type", "text/plain")],
            Some("{}"),
        )
        .await;
        assert_refused(
            &answer,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!("{case} as text/plain"),
        );
        let answer = send(Method::POST, url, &[], None).await;
        assert_refused(
            &answer,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!("{case} without a body"),
        );
    }
    let answer = send(
        Method::DELETE,
        &format!("{admin}/admin/clients/victim"),
        &[],
        None,
    )
    .await;
    assert_refused(
        &answer,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "a DELETE that is not JSON",
    );

    // DNS rebinding: the browser sends the attacker's host name.
    for host in [
        "rebind.evil.example",
        "rebind.evil.example:4445",
        "10.0.0.5",
    ] {
        let answer = send(
            Method::GET,
            &format!("{admin}/admin/users"),
            &[("host", host)],
            None,
        )
        .await;
        assert_refused(&answer, StatusCode::FORBIDDEN, &format!("Host: {host}"));
    }

    // What the CLI and curl do is untouched: loopback host, no Origin, JSON.
    for host in ["localhost", "127.0.0.1", "[::1]"] {
        let answer = send(
            Method::GET,
            &format!("{admin}/admin/users"),
            &[("host", &format!("{host}:{}", server.admin))],
            None,
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "Host {host}: {}",
            answer.body
        );
    }
    let answer = send(
        Method::POST,
        &rotate_secret,
        &[
            ("content-type", "application/json"),
            ("origin", &own_origin),
        ],
        Some("{}"),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "same origin: {}",
        answer.body
    );
    let answer = send(
        Method::POST,
        &rotate_keys,
        &[
            ("content-type", "application/json; charset=utf-8"),
            ("sec-fetch-site", "same-origin"),
        ],
        Some("{}"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // The CLI itself (it sends JSON for every write, an empty object where there is nothing).
    server.admin_cli(&["keys", "rotate"], None);
    server.admin_cli(&["clients", "delete", "victim"], None);
    drop(server);
}

#[tokio::test]
async fn with_a_token_writes_must_still_be_json() {
    let token = "admin-token-0123456789abcdef0123456789abcdef";
    let server = gatehouse()
        .server("all")
        .env("GATEHOUSE_ADMIN_TOKEN", token)
        .start();
    let url = format!("http://127.0.0.1:{}/admin/keys/rotate", server.admin);
    let bearer = format!("Bearer {token}");
    let answer = send(
        reqwest::Method::POST,
        &url,
        &[("authorization", &bearer), ("content-type", "text/plain")],
        Some("{}"),
    )
    .await;
    assert_refused(
        &answer,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "text/plain with a token",
    );
    let answer = send(
        reqwest::Method::POST,
        &url,
        &[
            ("authorization", &bearer),
            ("content-type", "application/json"),
        ],
        Some("{}"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    drop(server);
}
