//! `require_admin_token`: the bearer-token guard the binary puts in front of the admin router.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use gatehouse_core::secret::SecretString;
use gatehouse_token::admin::require_admin_token;

use gatehouse_testkit::admin::harnesses;
use gatehouse_testkit::http::send_json as send;

const TOKEN: &str = "s3cret-admin-token-from-the-environment";

#[tokio::test]
async fn only_the_right_bearer_token_passes() {
    for h in harnesses().await {
        let guarded = h
            .router
            .clone()
            .layer(require_admin_token(SecretString::new(TOKEN)));
        let request = |authorization: Option<&str>| {
            let mut builder = Request::builder().uri("/admin/clients");
            if let Some(value) = authorization {
                builder = builder.header(header::AUTHORIZATION, value);
            }
            builder.body(Body::empty()).unwrap()
        };

        for (case, authorization, challenge) in [
            ("no header", None, r#"Bearer realm="gatehouse-admin""#),
            (
                "wrong token",
                Some("Bearer not-the-token"),
                r#"Bearer realm="gatehouse-admin", error="invalid_token""#,
            ),
            (
                "token prefix",
                Some("Bearer s3cret-admin-token"),
                r#"Bearer realm="gatehouse-admin", error="invalid_token""#,
            ),
            (
                "basic scheme",
                Some("Basic czNjcmV0LWFkbWluLXRva2Vu"),
                r#"Bearer realm="gatehouse-admin""#,
            ),
            (
                "empty bearer",
                Some("Bearer "),
                r#"Bearer realm="gatehouse-admin""#,
            ),
        ] {
            let reply = send(&guarded, request(authorization)).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}: {case}", h.name);
            assert_eq!(reply.body["error"], "invalid_token", "{case}");
            assert_eq!(reply.header("www-authenticate"), Some(challenge), "{case}");
            assert!(
                !reply.body.to_string().contains(TOKEN),
                "{case}: the token is never echoed"
            );
        }

        for authorization in [format!("Bearer {TOKEN}"), format!("bearer {TOKEN}")] {
            let reply = send(&guarded, request(Some(&authorization))).await;
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{}: {authorization:?}",
                h.name
            );
        }
    }
}
