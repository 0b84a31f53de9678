//! `POST /oauth2/token`: client authentication (RFC 6749 §2.3) and the client_credentials
//! grant (§4.4).

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_core::client::TokenEndpointAuthMethod;

use super::{assert_no_store, assert_oauth_error, envs, metadata};
use gatehouse_testkit::http::{basic, form};

#[tokio::test]
async fn client_secret_basic_accepts_form_encoded_and_raw_credentials() {
    for env in envs().await {
        // A secret full of characters that form-encoding changes, and an id with a colon,
        // which can only travel form-encoded (RFC 6749 §2.3.1).
        let secret = "s3cr+t/with:colon%and space&more than 32 chars";
        let m = metadata(
            TokenEndpointAuthMethod::ClientSecretBasic,
            &["client_credentials"],
            "urn:neoncloud:projects:read",
        );
        let client = env.client_with_secret("svc:reports", m, Some(secret)).await;
        let body = form(&[("grant_type", "client_credentials")]);

        let reply = env
            .post_form(
                &env.public,
                "/oauth2/token",
                &body,
                Some(&basic("svc:reports", secret)),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        assert!(
            reply.str("access_token").starts_with("gh_at_"),
            "{}",
            env.name
        );
        assert_eq!(reply.body["token_type"], "Bearer");
        assert_eq!(reply.body["expires_in"], 3600);
        for absent in ["refresh_token", "id_token", "scope"] {
            assert!(
                reply.body.get(absent).is_none(),
                "{}: {absent} in {}",
                env.name,
                reply.body
            );
        }
        assert_no_store(&reply, &env.name);
        assert!(
            reply
                .header("content-type")
                .is_some_and(|c| c.starts_with("application/json"))
        );

        // Many libraries do not form-encode the secret: the raw reading is accepted too.
        let raw = format!(
            "Basic {}",
            STANDARD.encode(format!("svc%3Areports:{secret}"))
        );
        let reply = env
            .post_form(&env.public, "/oauth2/token", &body, Some(&raw))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{}: raw secret: {}",
            env.name,
            reply.body
        );

        let reply = env
            .post_form(
                &env.public,
                "/oauth2/token",
                &body,
                Some(&basic(&client.id, "wrong")),
            )
            .await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &env.name,
        );
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Basic realm=\"gatehouse\""),
            "{}",
            env.name
        );

        // Unknown client and malformed header: the same answer.
        for header in [
            basic("nobody", secret),
            "Basic !!!".to_owned(),
            "Bearer abc".to_owned(),
        ] {
            let reply = env
                .post_form(&env.public, "/oauth2/token", &body, Some(&header))
                .await;
            assert_oauth_error(
                &reply,
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                &env.name,
            );
            assert_eq!(
                reply.header("www-authenticate"),
                Some("Basic realm=\"gatehouse\""),
                "{}",
                env.name
            );
        }
    }
}

#[tokio::test]
async fn clients_must_authenticate_with_their_registered_method() {
    for env in envs().await {
        let grants = ["client_credentials"];
        let scope = "urn:neoncloud:projects:read";
        let post = env
            .client(
                "post-client",
                metadata(TokenEndpointAuthMethod::ClientSecretPost, &grants, scope),
            )
            .await;
        let basic_client = env
            .client(
                "basic-client",
                metadata(TokenEndpointAuthMethod::ClientSecretBasic, &grants, scope),
            )
            .await;
        let post_secret = post.secret.clone().unwrap();
        let basic_secret = basic_client.secret.clone().unwrap();

        let reply = env.client_credentials(&post, scope).await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        assert_eq!(reply.body["scope"], scope);

        // A client_secret_post client presenting HTTP Basic: 401 with the Basic challenge.
        let body = form(&[("grant_type", "client_credentials")]);
        let reply = env
            .post_form(
                &env.public,
                "/oauth2/token",
                &body,
                Some(&basic(&post.id, &post_secret)),
            )
            .await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &env.name,
        );
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Basic realm=\"gatehouse\"")
        );
        assert_eq!(
            reply.body["error_description"],
            "this client authenticates with client_secret_post, not client_secret_basic",
            "{}: the registered method is named",
            env.name
        );

        // A client_secret_basic client presenting its secret in the body: 401, no challenge.
        let body = form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &basic_client.id),
            ("client_secret", &basic_secret),
        ]);
        let reply = env
            .post_form(&env.public, "/oauth2/token", &body, None)
            .await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &env.name,
        );
        assert_eq!(reply.header("www-authenticate"), None, "{}", env.name);
        assert_eq!(
            reply.body["error_description"],
            "this client authenticates with client_secret_basic, not client_secret_post"
        );

        // A confidential client presenting no secret (method none) is refused.
        let body = form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &basic_client.id),
        ]);
        let reply = env
            .post_form(&env.public, "/oauth2/token", &body, None)
            .await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &env.name,
        );

        // No credentials at all, and two methods at once.
        let reply = env
            .post_form(
                &env.public,
                "/oauth2/token",
                &form(&[("grant_type", "client_credentials")]),
                None,
            )
            .await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &env.name,
        );
        let body = form(&[
            ("grant_type", "client_credentials"),
            ("client_secret", &basic_secret),
        ]);
        let reply = env
            .post_form(
                &env.public,
                "/oauth2/token",
                &body,
                Some(&basic(&basic_client.id, &basic_secret)),
            )
            .await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &env.name,
        );

        // A public client presenting a secret is not a public client authenticating.
        let public = env.public_client("public-app").await;
        let body = form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &public.id),
            ("client_secret", "guess"),
        ]);
        let reply = env
            .post_form(&env.public, "/oauth2/token", &body, None)
            .await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &env.name,
        );
    }
}

#[tokio::test]
async fn public_clients_cannot_use_client_credentials() {
    for env in envs().await {
        let public = env.public_client("neoncli").await;
        let reply = env.client_credentials(&public, "openid").await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            &env.name,
        );

        // Even when the grant was stored for it, past the registration rules.
        let m = metadata(
            TokenEndpointAuthMethod::None,
            &["client_credentials"],
            "urn:neoncloud:projects:read",
        );
        let odd = env.client("odd-public", m).await;
        let reply = env
            .client_credentials(&odd, "urn:neoncloud:projects:read")
            .await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            &env.name,
        );

        // A confidential client without the grant.
        let m = metadata(
            TokenEndpointAuthMethod::ClientSecretBasic,
            &["authorization_code"],
            "openid",
        );
        let code_only = env.client("code-only", m).await;
        let reply = env.client_credentials(&code_only, "openid").await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            &env.name,
        );
    }
}

#[tokio::test]
async fn client_credentials_scope_and_audience_stay_within_the_registration() {
    for env in envs().await {
        let mut m = metadata(
            TokenEndpointAuthMethod::ClientSecretBasic,
            &["client_credentials"],
            "urn:neoncloud:projects:read profile",
        );
        m.audience = vec!["https://api.neoncloud.example".to_owned()];
        let client = env.client("reports", m).await;

        let reply = env
            .as_client(
                "/oauth2/token",
                &client,
                &[("grant_type", "client_credentials")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        assert!(
            reply.body.get("scope").is_none(),
            "no scope asked, none granted: {}",
            reply.body
        );

        let reply = env
            .client_credentials(&client, "urn:neoncloud:projects:read admin")
            .await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_scope", &env.name);

        let pairs = [
            ("grant_type", "client_credentials"),
            ("audience", "https://api.neoncloud.example"),
            ("scope", "profile"),
        ];
        let reply = env.as_client("/oauth2/token", &client, &pairs).await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        let introspection = env.admin_introspect(&reply.str("access_token")).await;
        assert_eq!(
            introspection.body["aud"],
            serde_json::json!(["https://api.neoncloud.example"])
        );
        assert_eq!(introspection.body["sub"], "reports");
        assert_eq!(introspection.body["scope"], "profile");

        let pairs = [
            ("grant_type", "client_credentials"),
            ("audience", "https://other.example"),
        ];
        let reply = env.as_client("/oauth2/token", &client, &pairs).await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_target", &env.name);
        assert_eq!(
            reply.body["error_description"],
            "this client may not ask for the audience https://other.example"
        );
        // RFC 6749 §5.2: a description holds no quote, backslash or non-ASCII character, even
        // when it names a value the client sent.
        let pairs = [
            ("grant_type", "client_credentials"),
            ("resource", "https://x.example/\"ü\\"),
        ];
        let reply = env.as_client("/oauth2/token", &client, &pairs).await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_target", &env.name);
        let description = reply.body["error_description"].as_str().unwrap_or_default();
        assert!(
            description
                .chars()
                .all(|c| matches!(c, ' '..='~') && c != '"' && c != '\\'),
            "{description}"
        );

        // Unknown parameters are ignored (RFC 6749 §3.2).
        let pairs = [
            ("grant_type", "client_credentials"),
            ("response_type", "code"),
            ("foo", "bar"),
        ];
        let reply = env.as_client("/oauth2/token", &client, &pairs).await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
    }
}
