//! Request objects (RFC 9101) at `/oauth2/auth` and `/oauth2/par`: the authorization request as
//! a JWT the client signed. The attacker's tests come first.

use axum::http::{Method, StatusCode};
use gatehouse_core::authorize::{AuthorizationParams, AuthorizeError};
use gatehouse_core::error::ErrorCode;
use gatehouse_jose::{GeneratedKey, SigningAlgorithm};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

use super::{CHALLENGE, Env, ISSUER, REDIRECT_URI, envs};

fn key() -> GeneratedKey {
    gatehouse_jose::generate(SigningAlgorithm::Es256).unwrap()
}

fn sign(key: &GeneratedKey, claims: &Value) -> String {
    let mut header = Header::new(key.alg.jwt_algorithm());
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&key.pkcs8_der)).unwrap()
}

/// A client with keys and the code grant, registered through the admin API.
async fn client(env: &Env, id: &str, key: &GeneratedKey, extra: Value) {
    let mut body = json!({
        "client_id": id,
        "grant_types": ["authorization_code"],
        "redirect_uris": [REDIRECT_URI],
        "scope": "openid offline profile",
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [serde_json::to_value(&key.public_jwk).unwrap()]},
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let reply = env
        .admin_call(Method::POST, "/admin/clients", Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

fn claims(env: &Env, id: &str) -> Value {
    json!({
        "iss": id, "aud": ISSUER, "client_id": id, "exp": env.unix() + 60, "iat": env.unix(),
        "response_type": "code", "redirect_uri": REDIRECT_URI, "scope": "openid",
        "state": "from-the-object", "code_challenge": CHALLENGE, "code_challenge_method": "S256",
    })
}

/// What the browser brings: the client id and the object, plus whatever an attacker adds.
fn by_value(id: &str, request: &str) -> AuthorizationParams {
    AuthorizationParams {
        client_id: Some(id.to_owned()),
        request: Some(request.to_owned()),
        redirect_uri: Some(REDIRECT_URI.to_owned()),
        scope: Some("openid offline profile".to_owned()),
        state: Some("from-the-query".to_owned()),
        ..AuthorizationParams::default()
    }
}

#[track_caller]
fn assert_refused<T: std::fmt::Debug>(
    result: Result<T, AuthorizeError>,
    code: ErrorCode,
    what: &str,
) {
    match result {
        Err(AuthorizeError::Redirect { error, .. }) | Err(AuthorizeError::Untrusted(error)) => {
            assert_eq!(error.code, code, "{what}: {error:?}")
        }
        Ok(ok) => panic!("{what}: accepted {ok:?}"),
    }
}

#[tokio::test]
async fn unsigned_foreign_key_and_wrongly_addressed_request_objects_are_refused() {
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    for env in envs().await {
        let k = key();
        client(&env, "app", &k, json!({})).await;
        let c = claims(&env, "app");
        let unsigned = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&c));
        let r = env
            .service
            .validate_authorization(&by_value("app", &unsigned))
            .await;
        assert_refused(r, ErrorCode::InvalidRequestObject, "alg none");
        let stranger = sign(&key(), &c);
        let r = env
            .service
            .validate_authorization(&by_value("app", &stranger))
            .await;
        assert_refused(r, ErrorCode::InvalidRequestObject, "another key");
        for (name, value) in [
            ("aud", json!("https://other.example")),
            ("iss", json!("other")),
            ("client_id", json!("other")),
            ("exp", json!(env.unix() - 120)),
            ("request_uri", json!("https://attacker.example/r.jwt")),
        ] {
            let mut bad = c.clone();
            bad[name] = value;
            let r = env
                .service
                .validate_authorization(&by_value("app", &sign(&k, &bad)))
                .await;
            assert_refused(r, ErrorCode::InvalidRequestObject, name);
        }
        // Signed by this client, presented for another one.
        let other = key();
        client(&env, "other", &other, json!({})).await;
        let r = env
            .service
            .validate_authorization(&by_value("other", &sign(&k, &c)))
            .await;
        assert_refused(
            r,
            ErrorCode::InvalidRequestObject,
            "another client's object",
        );
    }
}

#[tokio::test]
async fn the_query_never_adds_to_or_overrides_the_request_object() {
    for env in envs().await {
        let k = key();
        client(&env, "app", &k, json!({})).await;
        let object = sign(&k, &claims(&env, "app"));
        let context = env
            .service
            .validate_authorization(&by_value("app", &object))
            .await
            .unwrap();
        assert_eq!(context.request.scope.to_string(), "openid");
        assert_eq!(context.request.state.as_deref(), Some("from-the-object"));
        assert!(context.request.code_challenge.is_some());
    }
}

#[tokio::test]
async fn a_request_uri_from_anywhere_but_par_is_not_supported() {
    for env in envs().await {
        let k = key();
        client(&env, "app", &k, json!({})).await;
        let params = AuthorizationParams {
            client_id: Some("app".into()),
            redirect_uri: Some(REDIRECT_URI.into()),
            request_uri: Some("https://app.example.com/request.jwt".into()),
            ..AuthorizationParams::default()
        };
        let r = env.service.validate_authorization(&params).await;
        assert_refused(r, ErrorCode::RequestUriNotSupported, "https request_uri");
    }
}

#[tokio::test]
async fn a_client_that_requires_signed_request_objects_refuses_a_plain_query() {
    for env in envs().await {
        let k = key();
        client(
            &env,
            "strict",
            &k,
            json!({"require_signed_request_object": true}),
        )
        .await;
        let plain = AuthorizationParams {
            client_id: Some("strict".into()),
            redirect_uri: Some(REDIRECT_URI.into()),
            response_type: Some("code".into()),
            scope: Some("openid".into()),
            code_challenge: Some(CHALLENGE.into()),
            code_challenge_method: Some("S256".into()),
            ..AuthorizationParams::default()
        };
        let r = env.service.validate_authorization(&plain).await;
        assert_refused(r, ErrorCode::InvalidRequest, "plain query");
        let object = sign(&k, &claims(&env, "strict"));
        let ok = env
            .service
            .validate_authorization(&by_value("strict", &object))
            .await;
        assert!(ok.is_ok(), "{}: {ok:?}", env.name);
        let read = env
            .admin_call(Method::GET, "/admin/clients/strict", None)
            .await;
        assert_eq!(read.body["require_signed_request_object"], true);
    }
}

#[tokio::test]
async fn a_request_object_can_be_pushed_and_redeemed_by_reference() {
    for env in envs().await {
        let k = key();
        client(
            &env,
            "app",
            &k,
            json!({"require_signed_request_object": true}),
        )
        .await;
        let object = sign(&k, &claims(&env, "app"));
        let mut c = claims(&env, "app");
        c["jti"] = json!("par-1");
        c["sub"] = json!("app");
        c["aud"] = json!(ISSUER);
        let assertion = sign(
            &k,
            &json!({
                "iss": "app", "sub": "app", "aud": ISSUER, "exp": env.unix() + 60, "jti": "par-1",
            }),
        );
        let reply = env
            .post_form(
                &env.public,
                "/oauth2/par",
                &gatehouse_testkit::http::form(&[
                    ("client_id", "app"),
                    ("request", &object),
                    ("scope", "openid offline profile"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &assertion),
                ]),
                None,
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{}: {}",
            env.name,
            reply.body
        );
        let params = AuthorizationParams {
            client_id: Some("app".into()),
            request_uri: Some(reply.body["request_uri"].as_str().unwrap().to_owned()),
            ..AuthorizationParams::default()
        };
        let context = env.service.validate_authorization(&params).await.unwrap();
        assert_eq!(context.request.scope.to_string(), "openid");
        // Pushed without a request object: refused for this client.
        let assertion = sign(
            &k,
            &json!({
                "iss": "app", "sub": "app", "aud": ISSUER, "exp": env.unix() + 60, "jti": "par-2",
            }),
        );
        let reply = env
            .post_form(
                &env.public,
                "/oauth2/par",
                &gatehouse_testkit::http::form(&[
                    ("response_type", "code"),
                    ("redirect_uri", REDIRECT_URI),
                    ("scope", "openid"),
                    ("code_challenge", CHALLENGE),
                    ("code_challenge_method", "S256"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &assertion),
                ]),
                None,
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{}: {}",
            env.name,
            reply.body
        );
    }
}
