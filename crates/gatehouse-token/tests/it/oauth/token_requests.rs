//! `POST /oauth2/token` and its siblings as HTTP: request parsing (RFC 6749 §3.2), the error
//! shape (§5.2) and `Cache-Control: no-store` on every answer (§5.1).

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};

use super::{assert_no_store, assert_oauth_error, envs};
use gatehouse_testkit::http::{basic, send};

#[tokio::test]
async fn malformed_requests_are_invalid_request() {
    for env in envs().await {
        let client = env.web_client("web").await;
        let secret = client.secret.clone().unwrap();
        let auth = basic(&client.id, &secret);
        let post = |body: Vec<u8>, content_type: Option<&'static str>| {
            let mut request = Request::builder()
                .method(Method::POST)
                .uri("/oauth2/token")
                .header(header::AUTHORIZATION, &auth);
            if let Some(ct) = content_type {
                request = request.header(header::CONTENT_TYPE, ct);
            }
            send(&env.public, request.body(Body::from(body)).unwrap())
        };
        let form_type = Some("application/x-www-form-urlencoded");

        let reply = post(
            b"grant_type=password&username=a&password=b".to_vec(),
            form_type,
        )
        .await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &env.name,
        );
        let reply = post(b"scope=openid".to_vec(), form_type).await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );
        let reply = post(
            b"grant_type=authorization_code&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback"
                .to_vec(),
            form_type,
        )
        .await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );
        let reply = post(b"grant_type=refresh_token".to_vec(), form_type).await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );

        // RFC 6749 §3.2: parameters must not repeat.
        let reply = post(
            b"grant_type=client_credentials&grant_type=client_credentials".to_vec(),
            form_type,
        )
        .await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );
        let reply = post(
            b"grant_type=client_credentials&scope=openid&scope=profile".to_vec(),
            form_type,
        )
        .await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );

        // Only form bodies.
        let reply = post(
            br#"{"grant_type":"client_credentials"}"#.to_vec(),
            Some("application/json"),
        )
        .await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );
        let reply = post(b"grant_type=client_credentials".to_vec(), None).await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );
        let reply = post(
            b"grant_type=client_credentials".to_vec(),
            Some("application/x-www-form-urlencoded; charset=utf-8"),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{}: charset parameter: {}",
            env.name,
            reply.body
        );

        // Not UTF-8, raw or percent-encoded.
        let reply = post(
            b"grant_type=client_credentials&scope=%FF".to_vec(),
            form_type,
        )
        .await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );
        let reply = post(
            b"grant_type=client_credentials&scope=\xc3".to_vec(),
            form_type,
        )
        .await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );

        // Too large.
        let mut big = b"grant_type=client_credentials&pad=".to_vec();
        big.resize(gatehouse_token::http::MAX_FORM_BYTES + 1, b'a');
        let reply = post(big, form_type).await;
        assert_oauth_error(
            &reply,
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            &env.name,
        );

        // Two Authorization headers.
        let request = Request::post("/oauth2/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::AUTHORIZATION, &auth)
            .header(header::AUTHORIZATION, &auth)
            .body(Body::from("grant_type=client_credentials"))
            .unwrap();
        let reply = send(&env.public, request).await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );
    }
}

#[tokio::test]
async fn token_revoke_and_introspect_answers_are_never_cached() {
    for env in envs().await {
        let client = env.web_client("web").await;
        let issued = env.client_credentials(&client, "profile").await;
        assert_no_store(&issued, "token success");
        let token = issued.str("access_token");

        for path in ["/oauth2/token", "/oauth2/revoke", "/oauth2/introspect"] {
            let reply = env.get(path).await;
            assert_eq!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{}: GET {path}",
                env.name
            );
            assert_eq!(reply.header("allow"), Some("POST"), "GET {path}");
            assert_no_store(&reply, path);
            let reply = env.post_form(&env.public, path, "", None).await;
            assert!(
                reply.status.is_client_error(),
                "{}: {path}: {}",
                env.name,
                reply.status
            );
            assert_no_store(&reply, path);
        }
        let reply = env
            .as_client("/oauth2/introspect", &client, &[("token", &token)])
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_no_store(&reply, "introspect success");
        let reply = env.admin_introspect(&token).await;
        assert_no_store(&reply, "admin introspect success");
        let reply = env
            .post_form(&env.admin, "/admin/oauth2/introspect", "", None)
            .await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "admin introspect without token",
        );
        let reply = env
            .as_client("/oauth2/revoke", &client, &[("token", &token)])
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_no_store(&reply, "revoke success");
    }
}
