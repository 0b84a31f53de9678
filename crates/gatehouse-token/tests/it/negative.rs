//! Bad input at the token, revocation and introspection endpoints: every refused request gets
//! its RFC 6749 §5.2 error, and changes nothing. A refused request that carried a valid code
//! leaves that code redeemable; one that carried a refresh or access token leaves it active and
//! its family unrotated.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};

use crate::oauth::{Env, REDIRECT_URI, TestClient, VERIFIER, assert_oauth_error, envs};
use gatehouse_testkit::http::{Reply, basic, form, send};

const FORM: &str = "application/x-www-form-urlencoded";

/// One malformed request: what is wrong, the path, the body, the content type, the status.
type Case<'a> = (&'a str, &'a str, Vec<u8>, Option<&'a str>, StatusCode);

/// POSTs `body` to `path` on the public router as `client` (HTTP Basic), with `content_type`.
async fn post_raw(
    env: &Env,
    path: &str,
    client: &TestClient,
    body: Vec<u8>,
    content_type: Option<&str>,
) -> Reply {
    let mut request = Request::builder().method(Method::POST).uri(path).header(
        header::AUTHORIZATION,
        basic(&client.id, client.secret.as_deref().unwrap()),
    );
    if let Some(ct) = content_type {
        request = request.header(header::CONTENT_TYPE, ct);
    }
    send(&env.public, request.body(Body::from(body)).unwrap()).await
}

/// `body` padded with an ignored parameter to one byte over the form limit.
fn oversized(body: &str) -> Vec<u8> {
    let mut big = format!("{body}&pad=").into_bytes();
    big.resize(gatehouse_token::http::MAX_FORM_BYTES + 1, b'a');
    big
}

/// Every way a token request carrying a valid code can be malformed; the code must survive all.
fn bad_code_requests(code: &str) -> Vec<(&'static str, Vec<u8>, Option<&'static str>, StatusCode)> {
    let good = form(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", VERIFIER),
    ]);
    let json = serde_json::json!({
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": VERIFIER,
    })
    .to_string();
    let bad = StatusCode::BAD_REQUEST;
    vec![
        (
            "code repeated",
            format!("{good}&{}", form(&[("code", code)])).into_bytes(),
            Some(FORM),
            bad,
        ),
        (
            "grant_type repeated",
            format!("{good}&grant_type=authorization_code").into_bytes(),
            Some(FORM),
            bad,
        ),
        (
            "redirect_uri repeated",
            format!("{good}&{}", form(&[("redirect_uri", REDIRECT_URI)])).into_bytes(),
            Some(FORM),
            bad,
        ),
        (
            "code_verifier repeated (same value)",
            format!("{good}&{}", form(&[("code_verifier", VERIFIER)])).into_bytes(),
            Some(FORM),
            bad,
        ),
        (
            "JSON body",
            json.clone().into_bytes(),
            Some("application/json"),
            bad,
        ),
        (
            "form body labelled JSON",
            good.clone().into_bytes(),
            Some("application/json"),
            bad,
        ),
        (
            "form body labelled text/plain",
            good.clone().into_bytes(),
            Some("text/plain"),
            bad,
        ),
        (
            "form body labelled multipart",
            good.clone().into_bytes(),
            Some("multipart/form-data; boundary=x"),
            bad,
        ),
        (
            "form body without a content type",
            good.clone().into_bytes(),
            None,
            bad,
        ),
        (
            "content type with a prefix",
            good.clone().into_bytes(),
            Some("xapplication/x-www-form-urlencoded"),
            bad,
        ),
        (
            "a raw byte that is not UTF-8",
            [good.as_bytes(), b"&nonce=\xff\xfe"].concat(),
            Some(FORM),
            bad,
        ),
        (
            "a percent-encoded byte that is not UTF-8",
            format!("{good}&nonce=%C3%28").into_bytes(),
            Some(FORM),
            bad,
        ),
        (
            "a parameter name that is not UTF-8",
            format!("{good}&%FFname=x").into_bytes(),
            Some(FORM),
            bad,
        ),
        (
            "an overlong UTF-8 encoding of '/'",
            format!("{good}&x=%C0%AF").into_bytes(),
            Some(FORM),
            bad,
        ),
        (
            "body over the limit",
            oversized(&good),
            Some(FORM),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ]
}

#[tokio::test]
async fn malformed_token_requests_leave_the_code_redeemable() {
    for env in envs().await {
        let client = env.web_client("web").await;
        let code = env.code(&client, "openid offline").await;
        for (what, body, content_type, status) in bad_code_requests(&code) {
            let reply = post_raw(&env, "/oauth2/token", &client, body, content_type).await;
            let context = format!("{}: {what}", env.name);
            assert_oauth_error(&reply, status, "invalid_request", &context);
            assert!(
                reply.body.get("access_token").is_none(),
                "{context}: {}",
                reply.body
            );
        }
        // Nothing was consumed: the code still redeems, once.
        let tokens = env.exchange(&client, &code).await;
        assert!(tokens.body["refresh_token"].is_string(), "{}", env.name);
    }
}

#[tokio::test]
async fn malformed_refresh_revocation_and_introspection_requests_change_nothing() {
    for env in envs().await {
        let client = env.web_client("web").await;
        let tokens = env.tokens(&client, "openid offline").await;
        let refresh = tokens.str("refresh_token");
        let access = tokens.str("access_token");

        let refresh_form = form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)]);
        let cases: Vec<Case> = vec![
            (
                "refresh_token repeated",
                "/oauth2/token",
                format!("{refresh_form}&{}", form(&[("refresh_token", &refresh)])).into_bytes(),
                Some(FORM),
                StatusCode::BAD_REQUEST,
            ),
            (
                "refresh as JSON",
                "/oauth2/token",
                serde_json::json!({"grant_type": "refresh_token", "refresh_token": refresh})
                    .to_string()
                    .into_bytes(),
                Some("application/json"),
                StatusCode::BAD_REQUEST,
            ),
            (
                "refresh over the limit",
                "/oauth2/token",
                oversized(&refresh_form),
                Some(FORM),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                "refresh with a non-UTF-8 scope",
                "/oauth2/token",
                format!("{refresh_form}&scope=openid%FF").into_bytes(),
                Some(FORM),
                StatusCode::BAD_REQUEST,
            ),
        ];
        let mut cases = cases;
        for token in [&refresh, &access] {
            let one = form(&[("token", token)]);
            cases.extend([
                (
                    "revoke: token repeated",
                    "/oauth2/revoke",
                    format!("{one}&{one}").into_bytes(),
                    Some(FORM),
                    StatusCode::BAD_REQUEST,
                ),
                (
                    "revoke: token_type_hint repeated",
                    "/oauth2/revoke",
                    format!("{one}&token_type_hint=refresh_token&token_type_hint=access_token")
                        .into_bytes(),
                    Some(FORM),
                    StatusCode::BAD_REQUEST,
                ),
                (
                    "revoke: JSON",
                    "/oauth2/revoke",
                    serde_json::json!({ "token": token })
                        .to_string()
                        .into_bytes(),
                    Some("application/json"),
                    StatusCode::BAD_REQUEST,
                ),
                (
                    "revoke: no content type",
                    "/oauth2/revoke",
                    one.clone().into_bytes(),
                    None,
                    StatusCode::BAD_REQUEST,
                ),
                (
                    "revoke: not UTF-8",
                    "/oauth2/revoke",
                    [one.as_bytes(), b"&x=\xc3"].concat(),
                    Some(FORM),
                    StatusCode::BAD_REQUEST,
                ),
                (
                    "revoke: over the limit",
                    "/oauth2/revoke",
                    oversized(&one),
                    Some(FORM),
                    StatusCode::PAYLOAD_TOO_LARGE,
                ),
                (
                    "introspect: token repeated",
                    "/oauth2/introspect",
                    format!("{one}&{one}").into_bytes(),
                    Some(FORM),
                    StatusCode::BAD_REQUEST,
                ),
                (
                    "introspect: over the limit",
                    "/oauth2/introspect",
                    oversized(&one),
                    Some(FORM),
                    StatusCode::PAYLOAD_TOO_LARGE,
                ),
            ]);
        }
        for (what, path, body, content_type, status) in cases {
            let reply = post_raw(&env, path, &client, body, content_type).await;
            let context = format!("{}: {what}", env.name);
            assert_oauth_error(&reply, status, "invalid_request", &context);
            assert!(env.active(&refresh).await, "{context}: refresh token ended");
            assert!(env.active(&access).await, "{context}: access token ended");
        }
        // The family was not rotated by any of them: the original refresh token rotates now.
        let rotated = env
            .as_client(
                "/oauth2/token",
                &client,
                &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            )
            .await;
        assert_eq!(
            rotated.status,
            StatusCode::OK,
            "{}: {}",
            env.name,
            rotated.body
        );
    }
}

#[tokio::test]
async fn credentials_sent_two_ways_or_twice_are_refused_before_anything_is_issued() {
    for env in envs().await {
        let client = env.web_client("web").await;
        let secret = client.secret.clone().unwrap();
        let code = env.code(&client, "openid").await;
        let base = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ];
        // Basic and client_secret in the body (RFC 6749 §2.3: one method per request).
        let mut pairs = base.to_vec();
        pairs.extend([
            ("client_id", client.id.as_str()),
            ("client_secret", &secret),
        ]);
        let reply = post_raw(
            &env,
            "/oauth2/token",
            &client,
            form(&pairs).into_bytes(),
            Some(FORM),
        )
        .await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );
        // client_id repeated in the body.
        let body = format!("{}&client_id=web&client_id=web", form(&base));
        let reply = post_raw(
            &env,
            "/oauth2/token",
            &client,
            body.into_bytes(),
            Some(FORM),
        )
        .await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );
        // A Basic header whose id differs from the body's.
        let mut pairs = base.to_vec();
        pairs.push(("client_id", "someone-else"));
        let reply = post_raw(
            &env,
            "/oauth2/token",
            &client,
            form(&pairs).into_bytes(),
            Some(FORM),
        )
        .await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );
        // A Basic header that is not base64, or whose halves are not UTF-8.
        for header_value in [
            "Basic !!!".to_owned(),
            format!(
                "Basic {}",
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b"web:\xff\xfe")
            ),
            "Basic ".to_owned(),
        ] {
            let request = Request::post("/oauth2/token")
                .header(header::CONTENT_TYPE, FORM)
                .header(header::AUTHORIZATION, header_value.as_str())
                .body(Body::from(form(&base)))
                .unwrap();
            let reply = send(&env.public, request).await;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{}: {header_value}: {}",
                env.name,
                reply.body
            );
            assert_eq!(reply.body["error"], "invalid_client", "{}", env.name);
        }
        env.exchange(&client, &code).await;
    }
}
