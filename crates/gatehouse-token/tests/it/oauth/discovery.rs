//! Provider metadata (OpenID Connect Discovery, RFC 8414) and the JWKS.

use std::sync::Arc;

use axum::http::StatusCode;
use gatehouse_core::scope::{ScopeDefinition, ScopeName};
use gatehouse_jose::SigningAlgorithm;
use gatehouse_token::http::public_router;
use serde_json::{Value, json};

use super::{Env, ISSUER, envs, envs_with};
use gatehouse_testkit::http::send;

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn both_well_known_paths_serve_the_same_complete_metadata() {
    for env in envs().await {
        let oidc = env.get("/.well-known/openid-configuration").await;
        let oauth = env.get("/.well-known/oauth-authorization-server").await;
        assert_eq!(oidc.status, StatusCode::OK, "{}", env.name);
        assert_eq!(
            oidc.raw, oauth.raw,
            "{}: one document on both paths",
            env.name
        );
        assert_eq!(oidc.header("content-type"), Some("application/json"));
        assert!(
            oidc.header("cache-control")
                .is_some_and(|c| c.starts_with("public, max-age="))
        );
        assert_eq!(oidc.header("access-control-allow-origin"), Some("*"));

        let m = &oidc.body;
        assert_eq!(m["issuer"], ISSUER);
        for (field, path) in [
            ("authorization_endpoint", "/oauth2/auth"),
            ("token_endpoint", "/oauth2/token"),
            ("jwks_uri", "/.well-known/jwks.json"),
            ("userinfo_endpoint", "/userinfo"),
            ("revocation_endpoint", "/oauth2/revoke"),
            ("introspection_endpoint", "/oauth2/introspect"),
            ("end_session_endpoint", "/oauth2/sessions/logout"),
            ("pushed_authorization_request_endpoint", "/oauth2/par"),
            ("device_authorization_endpoint", "/oauth2/device/auth"),
        ] {
            assert_eq!(m[field], format!("{ISSUER}{path}"), "{field}");
        }
        assert_eq!(m["response_types_supported"], json!(["code"]));
        assert_eq!(m["require_pushed_authorization_requests"], json!(false));
        assert_eq!(m["response_modes_supported"], json!(["query", "form_post"]));
        assert_eq!(
            m["grant_types_supported"],
            json!([
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "urn:ietf:params:oauth:grant-type:device_code"
            ])
        );
        assert_eq!(m["subject_types_supported"], json!(["public"]));
        assert_eq!(m["id_token_signing_alg_values_supported"], json!(["RS256"]));
        let methods = json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "client_secret_jwt",
            "none"
        ]);
        for field in [
            "token_endpoint_auth_methods_supported",
            "revocation_endpoint_auth_methods_supported",
            "introspection_endpoint_auth_methods_supported",
        ] {
            assert_eq!(m[field], methods, "{field}");
        }
        let algs = json!([
            "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
            "HS256", "HS384", "HS512"
        ]);
        for field in [
            "token_endpoint_auth_signing_alg_values_supported",
            "revocation_endpoint_auth_signing_alg_values_supported",
            "introspection_endpoint_auth_signing_alg_values_supported",
        ] {
            assert_eq!(m[field], algs, "{field}");
        }
        let scopes = strings(&m["scopes_supported"]);
        for scope in [
            "openid",
            "offline",
            "offline_access",
            "profile",
            "email",
            "urn:neoncloud:projects:read",
        ] {
            assert!(
                scopes.contains(&scope),
                "{}: {scope} missing from {scopes:?}",
                env.name
            );
        }
        let claims = strings(&m["claims_supported"]);
        for claim in [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "at_hash",
            "name",
            "preferred_username",
            "picture",
            "updated_at",
            "email",
            "email_verified",
        ] {
            assert!(claims.contains(&claim), "{claim}");
        }
        assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(m["authorization_response_iss_parameter_supported"], true);
        assert_eq!(m["request_parameter_supported"], true);
        assert_eq!(m["request_uri_parameter_supported"], false);
        assert_eq!(m["claims_parameter_supported"], true);
        assert_eq!(
            m["prompt_values_supported"],
            json!(["none", "login", "consent", "select_account"])
        );
        assert_eq!(m["ui_locales_supported"], json!(["en", "de"]));
    }
}

#[tokio::test]
async fn scopes_come_from_the_catalogue() {
    for env in envs().await {
        let scope = ScopeDefinition {
            name: ScopeName::parse("urn:neoncloud:billing:read").unwrap(),
            label: "Read your invoices".to_owned(),
            description: String::new(),
            hidden: false,
            claims: Vec::new(),
        };
        env.service.durable().create_scope(&scope).await.unwrap();
        // A fresh router has no cached copy.
        let router = public_router(Arc::clone(&env.service));
        let request = axum::http::Request::get("/.well-known/openid-configuration")
            .body(axum::body::Body::empty())
            .unwrap();
        let reply = send(&router, request).await;
        assert!(
            strings(&reply.body["scopes_supported"]).contains(&"urn:neoncloud:billing:read"),
            "{}",
            env.name
        );
    }
}

#[tokio::test]
async fn a_configured_id_token_algorithm_is_advertised_next_to_rs256() {
    for env in envs_with(|s| s.id_token_algorithm = SigningAlgorithm::Es256).await {
        let m = env.get("/.well-known/openid-configuration").await.body;
        assert_eq!(
            m["id_token_signing_alg_values_supported"],
            json!(["ES256", "RS256"])
        );
        let client = env.public_client("neoncli").await;
        let id_token = env.tokens(&client, "openid").await.str("id_token");
        let (header, _) = env.verify_jwt(&id_token, "neoncli").await;
        assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    }
}

async fn published_kids(env: &Env) -> Vec<String> {
    env.jwks()
        .await
        .keys
        .iter()
        .map(|k| k.common.key_id.clone().unwrap())
        .collect()
}

#[tokio::test]
async fn the_jwks_publishes_every_key_and_follows_rotation() {
    for env in envs().await {
        let reply = env.get("/.well-known/jwks.json").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert!(
            reply
                .header("cache-control")
                .is_some_and(|c| c.starts_with("public, max-age="))
        );
        let keys = reply.body["keys"].as_array().unwrap();
        let mut algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
        algs.sort_unstable();
        assert_eq!(algs, ["ES256", "EdDSA", "RS256"], "{}", env.name);
        for key in keys {
            assert_eq!(key["use"], "sig");
            assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(
                    key.get(private).is_none(),
                    "{}: private part {private} published",
                    env.name
                );
            }
        }
        // Served from the cache while the ring is unchanged.
        assert_eq!(env.get("/.well-known/jwks.json").await.raw, reply.raw);

        let client = env.public_client("neoncli").await;
        let before = env.tokens(&client, "openid").await.str("id_token");
        let old_kid = jsonwebtoken::decode_header(&before).unwrap().kid.unwrap();
        let new = env
            .service
            .rotate_key(SigningAlgorithm::Rs256)
            .await
            .unwrap();
        let kids = published_kids(&env).await;
        assert_eq!(kids.len(), 4, "{}", env.name);
        assert!(
            kids.contains(&old_kid) && kids.contains(&new.kid),
            "{}",
            env.name
        );

        let after = env.tokens(&client, "openid").await.str("id_token");
        let (header, _) = env.verify_jwt(&after, "neoncli").await;
        assert_eq!(header.kid.as_deref(), Some(new.kid.as_str()));
        // Tokens signed before the rotation still verify.
        env.verify_jwt(&before, "neoncli").await;
    }
}
