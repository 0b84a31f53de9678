//! Client authentication with a JWT (RFC 7523 §2.2, OpenID Connect Core §9): `private_key_jwt`
//! and `client_secret_jwt` at the token, PAR, revocation and introspection endpoints. The
//! attacker's tests come first.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::{Method, StatusCode};
use gatehouse_jose::{GeneratedKey, SigningAlgorithm};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::{Env, ISSUER, assert_oauth_error, envs, envs_with};
use gatehouse_testkit::http::form;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const SCOPE: &str = "urn:neoncloud:projects:read";
const TOKEN_URL: &str = "https://id.gatehouse.test/oauth2/token";

fn key(alg: SigningAlgorithm) -> GeneratedKey {
    gatehouse_jose::generate(alg).unwrap()
}

fn encoding_key(key: &GeneratedKey) -> EncodingKey {
    match key.alg {
        SigningAlgorithm::Es256 => EncodingKey::from_ec_der(&key.pkcs8_der),
        SigningAlgorithm::EdDsa => EncodingKey::from_ed_der(&key.pkcs8_der),
        SigningAlgorithm::Rs256 => {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD.encode(&key.pkcs8_der);
            let lines: Vec<&str> = b64
                .as_bytes()
                .chunks(64)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            let pem = format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                lines.join("\n")
            );
            EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()
        }
    }
}

fn claims(env: &Env, client_id: &str, aud: &str, lifetime: i64, jti: &str) -> Value {
    let now = env.unix();
    json!({
        "iss": client_id, "sub": client_id, "aud": aud,
        "iat": now, "exp": now + lifetime, "jti": jti,
    })
}

/// An assertion signed with `key`, naming it by its `kid`.
fn signed(key: &GeneratedKey, claims: &Value) -> String {
    let mut header = Header::new(key.alg.jwt_algorithm());
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &encoding_key(key)).unwrap()
}

fn hs256(secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

/// Registers a `private_key_jwt` client through the admin API, with `jwks` or `jwks_uri`.
async fn key_client(env: &Env, id: &str, keys: Value, extra: Value) -> Value {
    let mut body = json!({
        "client_id": id,
        "grant_types": ["client_credentials"],
        "scope": SCOPE,
        "token_endpoint_auth_method": "private_key_jwt",
    });
    for (k, v) in keys
        .as_object()
        .unwrap()
        .iter()
        .chain(extra.as_object().unwrap())
    {
        body[k] = v.clone();
    }
    let reply = env
        .admin_call(Method::POST, "/admin/clients", Some(body))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}: {}",
        env.name,
        reply.body
    );
    reply.body
}

fn jwks(keys: &[&GeneratedKey]) -> Value {
    json!({ "jwks": { "keys": keys.iter().map(|k| serde_json::to_value(&k.public_jwk).unwrap()).collect::<Vec<_>>() } })
}

async fn post_assertion(
    env: &Env,
    path: &str,
    assertion: &str,
    extra: &[(&str, &str)],
) -> super::Reply {
    let mut pairs = vec![
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
    ];
    pairs.extend_from_slice(extra);
    env.post_form(&env.public, path, &form(&pairs), None).await
}

async fn client_credentials(env: &Env, assertion: &str) -> super::Reply {
    post_assertion(
        env,
        "/oauth2/token",
        assertion,
        &[("grant_type", "client_credentials"), ("scope", SCOPE)],
    )
    .await
}

#[tokio::test]
async fn a_replayed_client_assertion_is_refused() {
    for env in envs().await {
        let k = key(SigningAlgorithm::Es256);
        key_client(&env, "svc-keys", jwks(&[&k]), json!({})).await;
        let assertion = signed(&k, &claims(&env, "svc-keys", TOKEN_URL, 60, "once"));
        let first = client_credentials(&env, &assertion).await;
        assert_eq!(first.status, StatusCode::OK, "{}: {}", env.name, first.body);
        let replay = client_credentials(&env, &assertion).await;
        assert_oauth_error(
            &replay,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &env.name,
        );
        assert!(
            replay.body["error_description"]
                .as_str()
                .unwrap()
                .contains("jti")
        );
        // The same jti in a new assertion is a replay too, at another endpoint as well.
        let again = signed(&k, &claims(&env, "svc-keys", ISSUER, 30, "once"));
        let reply = post_assertion(&env, "/oauth2/introspect", &again, &[("token", "x")]).await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &env.name,
        );
    }
}

#[tokio::test]
async fn an_assertion_for_another_audience_is_refused() {
    for env in envs().await {
        let k = key(SigningAlgorithm::Es256);
        key_client(&env, "svc-keys", jwks(&[&k]), json!({})).await;
        for (i, aud) in [
            "https://other.example",
            "https://id.gatehouse.test/oauth2/revoke",
            "https://id.gatehouse.test/",
        ]
        .into_iter()
        .enumerate()
        {
            let a = signed(&k, &claims(&env, "svc-keys", aud, 60, &format!("aud-{i}")));
            let reply = client_credentials(&env, &a).await;
            assert_oauth_error(&reply, StatusCode::UNAUTHORIZED, "invalid_client", aud);
        }
    }
}

#[tokio::test]
async fn an_expired_or_too_long_lived_assertion_is_refused() {
    for env in envs().await {
        let k = key(SigningAlgorithm::Es256);
        key_client(&env, "svc-keys", jwks(&[&k]), json!({})).await;
        let expired = signed(&k, &claims(&env, "svc-keys", TOKEN_URL, -120, "old"));
        let reply = client_credentials(&env, &expired).await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &env.name,
        );
        let forever = signed(&k, &claims(&env, "svc-keys", TOKEN_URL, 3600, "long"));
        let reply = client_credentials(&env, &forever).await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &env.name,
        );
        let mut no_exp = claims(&env, "svc-keys", TOKEN_URL, 60, "no-exp");
        no_exp.as_object_mut().unwrap().remove("exp");
        let reply = client_credentials(&env, &signed(&k, &no_exp)).await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &env.name,
        );
        let mut no_jti = claims(&env, "svc-keys", TOKEN_URL, 60, "x");
        no_jti.as_object_mut().unwrap().remove("jti");
        let reply = client_credentials(&env, &signed(&k, &no_jti)).await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &env.name,
        );
    }
}

#[tokio::test]
async fn alg_none_an_hmac_over_the_public_key_and_another_alg_than_registered_are_refused() {
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    for env in envs().await {
        let k = key(SigningAlgorithm::Es256);
        key_client(&env, "svc-keys", jwks(&[&k]), json!({})).await;
        let c = claims(&env, "svc-keys", TOKEN_URL, 60, "alg-1");
        // alg none, with and without a signature part.
        for unsigned in [
            format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&c)),
            format!(
                "{}.{}.c2ln",
                b64(&json!({"alg": "none", "kid": k.kid})),
                b64(&c)
            ),
        ] {
            let reply = client_credentials(&env, &unsigned).await;
            assert_oauth_error(&reply, StatusCode::UNAUTHORIZED, "invalid_client", "none");
        }
        // HS256 keyed with the public key (algorithm confusion).
        let public = serde_json::to_vec(&k.public_jwk).unwrap();
        let reply = client_credentials(&env, &hs256(&public, &c)).await;
        assert_oauth_error(&reply, StatusCode::UNAUTHORIZED, "invalid_client", "hs");
        // A client bound to EdDSA refuses a (validly signed) ES256 assertion.
        let ed = key(SigningAlgorithm::EdDsa);
        key_client(
            &env,
            "svc-ed",
            jwks(&[&k, &ed]),
            json!({"token_endpoint_auth_signing_alg": "EdDSA"}),
        )
        .await;
        let es = signed(&k, &claims(&env, "svc-ed", TOKEN_URL, 60, "alg-2"));
        let reply = client_credentials(&env, &es).await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "registered alg",
        );
        let good = signed(&ed, &claims(&env, "svc-ed", TOKEN_URL, 60, "alg-3"));
        let reply = client_credentials(&env, &good).await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
    }
}

#[tokio::test]
async fn an_unknown_kid_or_an_unregistered_key_is_refused() {
    for env in envs().await {
        let registered = key(SigningAlgorithm::Es256);
        let stranger = key(SigningAlgorithm::Es256);
        key_client(&env, "svc-keys", jwks(&[&registered]), json!({})).await;
        let a = signed(&stranger, &claims(&env, "svc-keys", TOKEN_URL, 60, "kid-1"));
        let reply = client_credentials(&env, &a).await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown kid",
        );
        // The stranger's signature under the registered key's kid.
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(registered.kid.clone());
        let c = claims(&env, "svc-keys", TOKEN_URL, 60, "kid-2");
        let forged = jsonwebtoken::encode(&header, &c, &encoding_key(&stranger)).unwrap();
        let reply = client_credentials(&env, &forged).await;
        assert_oauth_error(&reply, StatusCode::UNAUTHORIZED, "invalid_client", "forged");
    }
}

#[tokio::test]
async fn an_assertion_for_another_client_is_refused() {
    for env in envs().await {
        let mine = key(SigningAlgorithm::Es256);
        let theirs = key(SigningAlgorithm::Es256);
        key_client(&env, "svc-mine", jwks(&[&mine]), json!({})).await;
        key_client(&env, "svc-theirs", jwks(&[&theirs]), json!({})).await;
        // Signed with my key, claiming to be them.
        let a = signed(&mine, &claims(&env, "svc-theirs", TOKEN_URL, 60, "other-1"));
        let reply = client_credentials(&env, &a).await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "their sub",
        );
        // My valid assertion, presented for them.
        let a = signed(&mine, &claims(&env, "svc-mine", TOKEN_URL, 60, "other-2"));
        let reply = post_assertion(
            &env,
            "/oauth2/token",
            &a,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "svc-theirs"),
            ],
        )
        .await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "their id",
        );
        // iss differs from sub.
        let mut c = claims(&env, "svc-mine", TOKEN_URL, 60, "other-3");
        c["iss"] = json!("svc-theirs");
        let reply = client_credentials(&env, &signed(&mine, &c)).await;
        assert_oauth_error(&reply, StatusCode::UNAUTHORIZED, "invalid_client", "iss");
    }
}

/// A JWKS server on loopback that counts its fetches.
async fn jwks_server(keys: Value) -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let counted = counted.clone();
            let keys = keys.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                ([("cache-control", "max-age=600")], axum::Json(keys))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/jwks.json"), count)
}

#[tokio::test]
async fn a_jwks_uri_over_plain_http_is_never_fetched_outside_dev() {
    let k = key(SigningAlgorithm::Es256);
    let (uri, fetches) = jwks_server(jwks(&[&k])["jwks"].clone()).await;
    for env in envs().await {
        key_client(&env, "svc-uri", json!({ "jwks_uri": uri }), json!({})).await;
        let a = signed(&k, &claims(&env, "svc-uri", TOKEN_URL, 60, "http-1"));
        let reply = client_credentials(&env, &a).await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &env.name,
        );
        assert!(
            reply.body["error_description"]
                .as_str()
                .unwrap()
                .contains("https"),
            "{}",
            reply.body
        );
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_jwks_uri_is_cached_and_refetched_for_an_unknown_kid_at_most_once_per_interval() {
    let k = key(SigningAlgorithm::Es256);
    let (uri, fetches) = jwks_server(jwks(&[&k])["jwks"].clone()).await;
    for env in envs_with(|s| s.allow_http_jwks_uri = true).await {
        let before = fetches.load(Ordering::SeqCst);
        key_client(&env, "svc-uri", json!({ "jwks_uri": uri }), json!({})).await;
        for i in 0..3 {
            let a = signed(
                &k,
                &claims(&env, "svc-uri", TOKEN_URL, 60, &format!("uri-{i}")),
            );
            let reply = client_credentials(&env, &a).await;
            assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), before + 1, "cached");
        // Made-up kids do not make the server fetch on every request.
        let stranger = key(SigningAlgorithm::Es256);
        for i in 0..5 {
            let a = signed(
                &stranger,
                &claims(&env, "svc-uri", TOKEN_URL, 60, &format!("s-{i}")),
            );
            let reply = client_credentials(&env, &a).await;
            assert_oauth_error(
                &reply,
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "stranger",
            );
        }
        assert!(fetches.load(Ordering::SeqCst) <= before + 2, "rate-limited");
    }
}

#[tokio::test]
async fn private_key_jwt_authenticates_at_every_client_endpoint_with_the_issuer_or_the_endpoint_as_aud()
 {
    for env in envs().await {
        let k = key(SigningAlgorithm::Rs256);
        key_client(
            &env,
            "svc-keys",
            jwks(&[&k]),
            json!({"grant_types": ["authorization_code", "client_credentials"],
                   "redirect_uris": [super::REDIRECT_URI], "scope": format!("openid {SCOPE}")}),
        )
        .await;
        let a = signed(&k, &claims(&env, "svc-keys", ISSUER, 60, "ep-1"));
        let reply = client_credentials(&env, &a).await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        let token = reply.body["access_token"].as_str().unwrap().to_owned();
        // The endpoint's own URL (or the token endpoint's) as aud at the other endpoints.
        let a = signed(
            &k,
            &claims(
                &env,
                "svc-keys",
                &format!("{ISSUER}/oauth2/introspect"),
                60,
                "ep-2",
            ),
        );
        let reply = post_assertion(&env, "/oauth2/introspect", &a, &[("token", &token)]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        assert_eq!(reply.body["active"], true);
        assert_eq!(reply.body["client_id"], "svc-keys");
        let a = signed(&k, &claims(&env, "svc-keys", TOKEN_URL, 60, "ep-3"));
        let reply = post_assertion(
            &env,
            "/oauth2/par",
            &a,
            &[
                ("response_type", "code"),
                ("redirect_uri", super::REDIRECT_URI),
                ("scope", "openid"),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{}: {}",
            env.name,
            reply.body
        );
        let a = signed(
            &k,
            &claims(
                &env,
                "svc-keys",
                &format!("{ISSUER}/oauth2/revoke"),
                60,
                "ep-4",
            ),
        );
        let reply = post_assertion(&env, "/oauth2/revoke", &a, &[("token", &token)]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        assert!(!env.active(&token).await);
    }
}

#[tokio::test]
async fn client_secret_jwt_authenticates_with_the_secret_the_admin_api_showed_once() {
    for env in envs().await {
        let reply = env
            .admin_call(
                Method::POST,
                "/admin/clients",
                Some(json!({
                    "client_id": "svc-hs", "grant_types": ["client_credentials"], "scope": SCOPE,
                    "token_endpoint_auth_method": "client_secret_jwt",
                })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let secret = reply.body["client_secret"].as_str().unwrap().to_owned();
        let read = env
            .admin_call(Method::GET, "/admin/clients/svc-hs", None)
            .await;
        assert!(!read.body.to_string().contains(&secret));
        assert!(
            read.body.get("client_secret_sealed").is_none(),
            "{}",
            read.body
        );
        let a = hs256(
            secret.as_bytes(),
            &claims(&env, "svc-hs", TOKEN_URL, 60, "hs-1"),
        );
        let ok = client_credentials(&env, &a).await;
        assert_eq!(ok.status, StatusCode::OK, "{}: {}", env.name, ok.body);
        // A wrong secret, and the secret sent as client_secret_post.
        let a = hs256(
            b"not-the-secret-at-all-0123456789",
            &claims(&env, "svc-hs", TOKEN_URL, 60, "hs-2"),
        );
        let reply = client_credentials(&env, &a).await;
        assert_oauth_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "wrong secret",
        );
        let reply = env
            .post_form(
                &env.public,
                "/oauth2/token",
                &form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", "svc-hs"),
                    ("client_secret", &secret),
                ]),
                None,
            )
            .await;
        assert_oauth_error(&reply, StatusCode::UNAUTHORIZED, "invalid_client", "post");
        // A rotated secret takes over at once.
        let rotated = env
            .admin_call(Method::POST, "/admin/clients/svc-hs/secret", None)
            .await;
        assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
        let new_secret = rotated.body["client_secret"].as_str().unwrap();
        let a = hs256(
            new_secret.as_bytes(),
            &claims(&env, "svc-hs", TOKEN_URL, 60, "hs-3"),
        );
        let reply = client_credentials(&env, &a).await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
    }
}

#[tokio::test]
async fn the_admin_api_refuses_private_keys_both_key_sources_and_key_methods_without_keys() {
    for env in envs().await {
        let k = key(SigningAlgorithm::Es256);
        let mut private = serde_json::to_value(&k.public_jwk).unwrap();
        private["d"] = json!("c2VjcmV0");
        for (what, body) in [
            ("no keys", json!({})),
            ("private key", json!({"jwks": {"keys": [private]}})),
            (
                "both",
                json!({"jwks": jwks(&[&k])["jwks"], "jwks_uri": "https://partner.example/jwks.json"}),
            ),
            (
                "hmac alg",
                json!({"jwks": jwks(&[&k])["jwks"], "token_endpoint_auth_signing_alg": "HS256"}),
            ),
        ] {
            let mut request = json!({
                "client_id": "svc-bad", "grant_types": ["client_credentials"],
                "token_endpoint_auth_method": "private_key_jwt",
            });
            for (k, v) in body.as_object().unwrap() {
                request[k] = v.clone();
            }
            let reply = env
                .admin_call(Method::POST, "/admin/clients", Some(request))
                .await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{what}: {}",
                reply.body
            );
            assert_eq!(reply.body["error"], "invalid_client_metadata", "{what}");
        }
        // A private_key_jwt client holds no secret.
        let created = key_client(&env, "svc-ok", jwks(&[&k]), json!({})).await;
        assert!(created.get("client_secret").is_none(), "{created}");
        assert_eq!(created["jwks"]["keys"][0]["kid"], json!(k.kid));
    }
}

/// A short-lived store whose writes of access tokens fail while `down` is set: the token request
/// gets as far as minting (client authenticated, DPoP proof checked, both `jti`s spent) and
/// then answers 503.
struct Blinking {
    inner: Arc<dyn gatehouse_core::store::ShortLivedStore>,
    down: Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait::async_trait]
impl gatehouse_core::store::ShortLivedStore for Blinking {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    async fn ping(&self) -> gatehouse_core::store::StoreResult<()> {
        self.inner.ping().await
    }
    async fn put(
        &self,
        key: &str,
        value: &[u8],
        ttl: std::time::Duration,
    ) -> gatehouse_core::store::StoreResult<()> {
        if self.down.load(Ordering::SeqCst) && key.starts_with("gh:at:") {
            return Err(gatehouse_core::store::StoreError::Unavailable {
                backend: "blinking",
                message: "down for the test".into(),
            });
        }
        self.inner.put(key, value, ttl).await
    }
    async fn put_new(
        &self,
        key: &str,
        value: &[u8],
        ttl: std::time::Duration,
    ) -> gatehouse_core::store::StoreResult<bool> {
        self.inner.put_new(key, value, ttl).await
    }
    async fn get(&self, key: &str) -> gatehouse_core::store::StoreResult<Option<Vec<u8>>> {
        self.inner.get(key).await
    }
    async fn get_many(
        &self,
        keys: &[String],
    ) -> gatehouse_core::store::StoreResult<Vec<Option<Vec<u8>>>> {
        self.inner.get_many(keys).await
    }
    async fn take(&self, key: &str) -> gatehouse_core::store::StoreResult<Option<Vec<u8>>> {
        self.inner.take(key).await
    }
    async fn delete(&self, key: &str) -> gatehouse_core::store::StoreResult<bool> {
        self.inner.delete(key).await
    }
    async fn increment(
        &self,
        key: &str,
        window: std::time::Duration,
    ) -> gatehouse_core::store::StoreResult<u64> {
        self.inner.increment(key, window).await
    }
    async fn set_add(
        &self,
        key: &str,
        member: &str,
        ttl: std::time::Duration,
    ) -> gatehouse_core::store::StoreResult<()> {
        self.inner.set_add(key, member, ttl).await
    }
    async fn set_take(&self, key: &str) -> gatehouse_core::store::StoreResult<Vec<String>> {
        self.inner.set_take(key).await
    }
    async fn set_members(&self, key: &str) -> gatehouse_core::store::StoreResult<Vec<String>> {
        self.inner.set_members(key).await
    }
    async fn set_remove(
        &self,
        key: &str,
        member: &str,
    ) -> gatehouse_core::store::StoreResult<bool> {
        self.inner.set_remove(key, member).await
    }
}

#[tokio::test]
async fn an_assertion_and_a_dpop_proof_answered_503_work_on_the_retry() {
    for mut pair in gatehouse_testkit::backend_pairs().await {
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        pair.short_lived.store = Arc::new(Blinking {
            inner: Arc::clone(&pair.short_lived.store),
            down: Arc::clone(&down),
        });
        let env = Env::start(
            pair,
            gatehouse_token::settings::TokenSettings::for_issuer(ISSUER),
        )
        .await;
        let k = key(SigningAlgorithm::Es256);
        key_client(&env, "svc-keys", jwks(&[&k]), json!({})).await;
        let assertion = signed(&k, &claims(&env, "svc-keys", TOKEN_URL, 60, "retried"));
        let proof_key =
            gatehouse_jose::dpop::ProofSigner::generate(SigningAlgorithm::Es256).unwrap();
        let proof = proof_key
            .sign(&json!({"jti": "proof-retried", "htm": "POST", "htu": TOKEN_URL, "iat": env.unix()}))
            .unwrap();
        let body = form(&[
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &assertion),
            ("grant_type", "client_credentials"),
            ("scope", SCOPE),
        ]);
        let send = || async {
            let request = axum::http::Request::builder()
                .method(Method::POST)
                .uri("/oauth2/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("DPoP", &proof)
                .body(axum::body::Body::from(body.clone()))
                .unwrap();
            gatehouse_testkit::http::send(&env.public, request).await
        };
        down.store(true, Ordering::SeqCst);
        let failed = send().await;
        assert_eq!(
            failed.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}: {}",
            env.name,
            failed.body
        );
        down.store(false, Ordering::SeqCst);
        let retried = send().await;
        assert_eq!(
            retried.status,
            StatusCode::OK,
            "{}: the same assertion and proof after a 503: {}",
            env.name,
            retried.body
        );
        assert_eq!(retried.body["token_type"], "DPoP");
        // Spent for good once they succeeded.
        let replay = send().await;
        assert_eq!(
            replay.status,
            StatusCode::UNAUTHORIZED,
            "{}: {}",
            env.name,
            replay.body
        );
    }
}
