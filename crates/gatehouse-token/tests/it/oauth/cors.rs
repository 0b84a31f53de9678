//! CORS for single-page apps: the origins a client registered in `allowed_cors_origins` may
//! call the token, revocation and userinfo endpoints from the browser; discovery and JWKS are
//! public documents for every origin.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use gatehouse_core::client::TokenEndpointAuthMethod;
use gatehouse_testkit::http::{Reply, form, send};

use super::{Env, REDIRECT_URI, VERIFIER, envs, metadata};

const SPA: &str = "https://spa.example.com";
const OTHER_SPA: &str = "https://other-spa.example.com";
const STRANGER: &str = "https://evil.example";

async fn preflight(env: &Env, path: &str, origin: &str) -> Reply {
    let request = Request::builder()
        .method(Method::OPTIONS)
        .uri(path)
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
        .body(Body::empty())
        .unwrap();
    send(&env.public, request).await
}

async fn from_page(env: &Env, method: Method, path: &str, origin: &str, body: String) -> Reply {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::ORIGIN, origin)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    send(&env.public, request).await
}

/// Two public single-page apps, each with its own origin, and a client without origins.
async fn spas(env: &Env) {
    for (id, origin) in [("spa", SPA), ("other-spa", OTHER_SPA)] {
        let mut m = metadata(
            TokenEndpointAuthMethod::None,
            &["authorization_code", "refresh_token"],
            "openid offline profile",
        );
        m.allowed_cors_origins = vec![origin.to_owned()];
        env.client(id, m).await;
    }
    env.web_client("server-side").await;
}

#[tokio::test]
async fn preflights_are_answered_for_registered_origins_only() {
    for env in envs().await {
        spas(&env).await;
        for path in ["/oauth2/token", "/oauth2/revoke", "/userinfo"] {
            let ok = preflight(&env, path, SPA).await;
            assert_eq!(ok.status, StatusCode::NO_CONTENT, "{}: {path}", env.name);
            assert_eq!(
                ok.header("access-control-allow-origin"),
                Some(SPA),
                "{}: {path}",
                env.name
            );
            let methods = ok.header("access-control-allow-methods").unwrap_or("");
            assert!(methods.contains("POST"), "{}: {path}: {methods}", env.name);
            let allowed = ok.header("access-control-allow-headers").unwrap_or("");
            assert!(allowed.contains("content-type") && allowed.contains("authorization"));
            assert_eq!(ok.header("vary"), Some("origin"));
            assert!(ok.header("access-control-allow-credentials").is_none());

            let refused = preflight(&env, path, STRANGER).await;
            assert!(
                refused.header("access-control-allow-origin").is_none(),
                "{}: {path}: an unregistered origin gets no CORS grant",
                env.name
            );
        }
        for path in [
            "/.well-known/openid-configuration",
            "/.well-known/jwks.json",
        ] {
            for origin in [SPA, STRANGER] {
                let public = preflight(&env, path, origin).await;
                assert_eq!(public.status, StatusCode::NO_CONTENT, "{path}");
                assert_eq!(public.header("access-control-allow-origin"), Some("*"));
            }
        }
        // Introspection is for resource servers, never for web pages.
        let introspect = preflight(&env, "/oauth2/introspect", SPA).await;
        assert!(introspect.header("access-control-allow-origin").is_none());
    }
}

#[tokio::test]
async fn a_single_page_app_redeems_its_code_from_its_own_origin() {
    for env in envs().await {
        spas(&env).await;
        let spa = super::TestClient {
            id: "spa".into(),
            secret: None,
            method: TokenEndpointAuthMethod::None,
        };
        let code = env.code(&spa, "openid offline").await;
        let body = form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
            ("client_id", "spa"),
        ]);
        let tokens = from_page(&env, Method::POST, "/oauth2/token", SPA, body).await;
        assert_eq!(
            tokens.status,
            StatusCode::OK,
            "{}: {}",
            env.name,
            tokens.body
        );
        assert_eq!(tokens.header("access-control-allow-origin"), Some(SPA));
        let access = tokens.str("access_token");

        // Another app's origin may not read this client's answers, even a refusal.
        let body = form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &tokens.str("refresh_token")),
            ("client_id", "spa"),
        ]);
        let foreign = from_page(&env, Method::POST, "/oauth2/token", OTHER_SPA, body).await;
        assert!(
            foreign.header("access-control-allow-origin").is_none(),
            "{}: {:?}",
            env.name,
            foreign.headers
        );

        // Userinfo and discovery answer the registered origin; an error exposes its challenge.
        let request = Request::get("/userinfo")
            .header(header::ORIGIN, SPA)
            .header(header::AUTHORIZATION, format!("Bearer {access}"))
            .body(Body::empty())
            .unwrap();
        let info = send(&env.public, request).await;
        assert_eq!(info.status, StatusCode::OK, "{}", env.name);
        assert_eq!(info.header("access-control-allow-origin"), Some(SPA));
        let denied = from_page(&env, Method::GET, "/userinfo", SPA, String::new()).await;
        assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
        assert_eq!(denied.header("access-control-allow-origin"), Some(SPA));
        assert_eq!(
            denied.header("access-control-expose-headers"),
            Some("www-authenticate, dpop-nonce")
        );
        let discovery = from_page(
            &env,
            Method::GET,
            "/.well-known/openid-configuration",
            STRANGER,
            String::new(),
        )
        .await;
        assert_eq!(discovery.status, StatusCode::OK);
        assert_eq!(discovery.header("access-control-allow-origin"), Some("*"));

        // Revocation from the app's own origin.
        let body = form(&[("token", &access), ("client_id", "spa")]);
        let revoked = from_page(&env, Method::POST, "/oauth2/revoke", SPA, body).await;
        assert_eq!(revoked.status, StatusCode::OK, "{}", env.name);
        assert_eq!(revoked.header("access-control-allow-origin"), Some(SPA));
    }
}

#[tokio::test]
async fn an_origin_removed_from_the_client_is_refused_at_once() {
    for env in envs().await {
        spas(&env).await;
        assert_eq!(
            preflight(&env, "/oauth2/token", SPA)
                .await
                .header("access-control-allow-origin"),
            Some(SPA)
        );
        let mut client = env
            .service
            .durable()
            .get_client("spa")
            .await
            .unwrap()
            .unwrap();
        client.metadata.allowed_cors_origins.clear();
        env.service.durable().update_client(&client).await.unwrap();
        env.service.invalidate_client("spa");
        assert!(
            preflight(&env, "/oauth2/token", SPA)
                .await
                .header("access-control-allow-origin")
                .is_none(),
            "{}",
            env.name
        );
    }
}
