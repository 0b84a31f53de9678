//! DPoP (RFC 9449): proofs at the token endpoint and at /userinfo, bound tokens, nonces.
//! The attacker's tests come first.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use gatehouse_core::client::TokenEndpointAuthMethod;
use gatehouse_core::dpop::access_token_hash;
use gatehouse_core::secret::random_token;
use gatehouse_jose::SigningAlgorithm;
use gatehouse_jose::dpop::ProofSigner;
use gatehouse_testkit::http::{Reply, basic, form, send};
use serde_json::{Value, json};

use super::{Env, ISSUER, TestClient, assert_oauth_error, envs, envs_with, metadata};

const TOKEN_URL: &str = "https://id.gatehouse.test/oauth2/token";
const USERINFO_URL: &str = "https://id.gatehouse.test/userinfo";

fn key() -> ProofSigner {
    ProofSigner::generate(SigningAlgorithm::Es256).unwrap()
}

/// Proof claims for `htm`/`htu` at the service's now, with a fresh `jti`.
fn claims(env: &Env, htm: &str, htu: &str) -> Value {
    json!({"jti": random_token(12), "htm": htm, "htu": htu, "iat": env.unix()})
}

fn token_proof(env: &Env, key: &ProofSigner) -> String {
    key.sign(&claims(env, "POST", TOKEN_URL)).unwrap()
}

fn userinfo_proof(env: &Env, key: &ProofSigner, token: &str) -> String {
    let mut c = claims(env, "GET", USERINFO_URL);
    c["ath"] = json!(access_token_hash(token));
    key.sign(&c).unwrap()
}

/// A token request as `client` with these `DPoP` headers.
async fn token_request(
    env: &Env,
    client: &TestClient,
    pairs: &[(&str, &str)],
    proofs: &[&str],
) -> Reply {
    let mut pairs = pairs.to_vec();
    let mut request = Request::builder()
        .method(Method::POST)
        .uri("/oauth2/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    match (client.method, client.secret.as_deref()) {
        (TokenEndpointAuthMethod::ClientSecretBasic, Some(secret)) => {
            request = request.header(header::AUTHORIZATION, basic(&client.id, secret));
        }
        (TokenEndpointAuthMethod::ClientSecretPost, Some(secret)) => {
            pairs.push(("client_id", &client.id));
            pairs.push(("client_secret", secret));
        }
        _ => pairs.push(("client_id", &client.id)),
    }
    for proof in proofs {
        request = request.header("DPoP", *proof);
    }
    send(&env.public, request.body(Body::from(form(&pairs))).unwrap()).await
}

async fn client_credentials(env: &Env, client: &TestClient, proofs: &[&str]) -> Reply {
    token_request(env, client, &[("grant_type", "client_credentials")], proofs).await
}

/// The code flow's token request with a proof of `key`.
async fn code_tokens(env: &Env, client: &TestClient, key: &ProofSigner) -> Reply {
    let code = env.code(client, "openid offline profile").await;
    let proof = token_proof(env, key);
    token_request(
        env,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", super::REDIRECT_URI),
            ("code_verifier", super::VERIFIER),
        ],
        &[&proof],
    )
    .await
}

async fn refresh(env: &Env, client: &TestClient, token: &str, proof: Option<&str>) -> Reply {
    let proofs: Vec<&str> = proof.into_iter().collect();
    token_request(
        env,
        client,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
        &proofs,
    )
    .await
}

async fn userinfo(env: &Env, authorization: &str, proof: Option<&str>) -> Reply {
    let mut request = Request::get("/userinfo").header(header::AUTHORIZATION, authorization);
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    send(&env.public, request.body(Body::empty()).unwrap()).await
}

#[track_caller]
fn assert_dpop_challenge(reply: &Reply, error: &str, context: &str) {
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "{context}: {}",
        reply.body
    );
    assert_eq!(reply.body["error"], error, "{context}");
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with(&format!("DPoP error=\"{error}\""))
            && challenge.contains("algs=\"ES256 ES384 PS256 RS256 EdDSA\""),
        "{context}: {challenge}"
    );
}

#[tokio::test]
async fn a_replayed_proof_is_refused() {
    for env in envs().await {
        let client = env.web_client("web").await;
        let key = key();
        let proof = token_proof(&env, &key);
        let first = client_credentials(&env, &client, &[&proof]).await;
        assert_eq!(first.status, StatusCode::OK, "{}: {}", env.name, first.body);
        let replay = client_credentials(&env, &client, &[&proof]).await;
        assert_oauth_error(
            &replay,
            StatusCode::BAD_REQUEST,
            "invalid_dpop_proof",
            &env.name,
        );
    }
}

#[tokio::test]
async fn a_proof_for_another_url_or_method_is_refused() {
    for env in envs().await {
        let client = env.web_client("web").await;
        let key = key();
        for (htm, htu) in [
            ("POST", USERINFO_URL),
            ("POST", "https://evil.example/oauth2/token"),
            // The service sits behind a TLS proxy: only the issuer's public URL counts.
            ("POST", "http://id.gatehouse.test/oauth2/token"),
            ("GET", TOKEN_URL),
        ] {
            let proof = key.sign(&claims(&env, htm, htu)).unwrap();
            let reply = client_credentials(&env, &client, &[&proof]).await;
            let context = format!("{}: {htm} {htu}", env.name);
            assert_oauth_error(
                &reply,
                StatusCode::BAD_REQUEST,
                "invalid_dpop_proof",
                &context,
            );
        }
        // Query and fragment are ignored; case and default port are normalised.
        let proof = key
            .sign(&claims(
                &env,
                "POST",
                "HTTPS://ID.gatehouse.test:443/oauth2/token?x=1",
            ))
            .unwrap();
        let reply = client_credentials(&env, &client, &[&proof]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
    }
}

#[tokio::test]
async fn an_old_or_future_iat_is_refused() {
    for env in envs().await {
        let client = env.web_client("web").await;
        let key = key();
        for iat in [env.unix() - 61, env.unix() + 11] {
            let mut c = claims(&env, "POST", TOKEN_URL);
            c["iat"] = json!(iat);
            let proof = key.sign(&c).unwrap();
            let reply = client_credentials(&env, &client, &[&proof]).await;
            assert_oauth_error(
                &reply,
                StatusCode::BAD_REQUEST,
                "invalid_dpop_proof",
                &env.name,
            );
        }
    }
}

#[tokio::test]
async fn a_proof_signed_by_another_key_than_its_jwk_is_refused() {
    for env in envs().await {
        let client = env.web_client("web").await;
        let (signer, named) = (key(), key());
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        h.typ = Some("dpop+jwt".into());
        h.jwk = Some(named.jwk().clone());
        let proof = signer
            .sign_with_header(&h, &claims(&env, "POST", TOKEN_URL))
            .unwrap();
        let reply = client_credentials(&env, &client, &[&proof]).await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_dpop_proof",
            &env.name,
        );
    }
}

#[tokio::test]
async fn hs256_none_and_malformed_proofs_are_refused() {
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    for env in envs().await {
        let client = env.web_client("web").await;
        let key = key();
        let c = claims(&env, "POST", TOKEN_URL);
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.typ = Some("dpop+jwt".into());
        h.jwk = Some(key.jwk().clone());
        let hs256 =
            jsonwebtoken::encode(&h, &c, &jsonwebtoken::EncodingKey::from_secret(b"secret"))
                .unwrap();
        let none = format!(
            "{}.{}.",
            b64(&json!({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk()})),
            b64(&c)
        );
        let good = token_proof(&env, &key);
        for (proofs, what) in [
            (vec![hs256.as_str()], "HS256"),
            (vec![none.as_str()], "none"),
            (vec!["not a jwt"], "garbage"),
            (vec![good.as_str(), good.as_str()], "two DPoP headers"),
        ] {
            let reply = client_credentials(&env, &client, &proofs).await;
            let context = format!("{}: {what}", env.name);
            assert_oauth_error(
                &reply,
                StatusCode::BAD_REQUEST,
                "invalid_dpop_proof",
                &context,
            );
        }
    }
}

#[tokio::test]
async fn a_bound_token_presented_as_bearer_is_refused_at_userinfo() {
    for env in envs().await {
        for client in [
            env.public_client("spa").await,
            env.jwt_client("jwtapp").await,
        ] {
            let key = key();
            let tokens = code_tokens(&env, &client, &key).await;
            assert_eq!(
                tokens.status,
                StatusCode::OK,
                "{}: {}",
                env.name,
                tokens.body
            );
            let access = tokens.str("access_token");
            let reply = userinfo(&env, &format!("Bearer {access}"), None).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", env.name);
            assert_eq!(reply.body["error"], "invalid_token", "{}", env.name);
            assert!(
                reply
                    .header("www-authenticate")
                    .is_some_and(|c| c.starts_with("Bearer error=\"invalid_token\"")),
                "{}",
                env.name
            );
            // The DPoP scheme without a proof is no better.
            let reply = userinfo(&env, &format!("DPoP {access}"), None).await;
            assert_dpop_challenge(&reply, "invalid_dpop_proof", &env.name);
        }
    }
}

#[tokio::test]
async fn a_wrong_ath_another_key_or_a_replay_is_refused_at_userinfo() {
    for env in envs().await {
        let client = env.public_client("spa").await;
        let key = key();
        let tokens = code_tokens(&env, &client, &key).await;
        let access = tokens.str("access_token");
        let dpop = format!("DPoP {access}");

        let wrong_ath = userinfo_proof(&env, &key, "gh_at_another-token");
        let reply = userinfo(&env, &dpop, Some(&wrong_ath)).await;
        assert_dpop_challenge(&reply, "invalid_dpop_proof", &format!("{}: ath", env.name));

        let other_key = userinfo_proof(&env, &self::key(), &access);
        let reply = userinfo(&env, &dpop, Some(&other_key)).await;
        assert_dpop_challenge(&reply, "invalid_dpop_proof", &format!("{}: key", env.name));

        let mut post = claims(&env, "POST", USERINFO_URL);
        post["ath"] = json!(access_token_hash(&access));
        let reply = userinfo(&env, &dpop, Some(&key.sign(&post).unwrap())).await;
        assert_dpop_challenge(&reply, "invalid_dpop_proof", &format!("{}: htm", env.name));

        // A nonce the client cached from the token endpoint is not judged here.
        let mut with_nonce = claims(&env, "GET", USERINFO_URL);
        with_nonce["ath"] = json!(access_token_hash(&access));
        with_nonce["nonce"] = json!("cached-from-elsewhere");
        let reply = userinfo(&env, &dpop, Some(&key.sign(&with_nonce).unwrap())).await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);

        let good = userinfo_proof(&env, &key, &access);
        let reply = userinfo(&env, &dpop, Some(&good)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        assert_eq!(reply.body["sub"], super::SUBJECT);
        let replay = userinfo(&env, &dpop, Some(&good)).await;
        assert_dpop_challenge(
            &replay,
            "invalid_dpop_proof",
            &format!("{}: replay", env.name),
        );
    }
}

#[tokio::test]
async fn a_bound_public_refresh_token_needs_a_proof_of_its_key() {
    for env in envs().await {
        let client = env.public_client("spa").await;
        let key = key();
        let tokens = code_tokens(&env, &client, &key).await;
        let refresh_token = tokens.str("refresh_token");

        let other = token_proof(&env, &self::key());
        let reply = refresh(&env, &client, &refresh_token, Some(&other)).await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);
        let reply = refresh(&env, &client, &refresh_token, None).await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_dpop_proof",
            &env.name,
        );

        // Refused attempts spent nothing: the holder of the key refreshes, and the successor
        // stays bound.
        let proof = token_proof(&env, &key);
        let next = refresh(&env, &client, &refresh_token, Some(&proof)).await;
        assert_eq!(next.status, StatusCode::OK, "{}: {}", env.name, next.body);
        assert_eq!(next.body["token_type"], "DPoP");
        let successor = next.str("refresh_token");
        let introspected = env.admin_introspect(&successor).await;
        assert_eq!(
            introspected.body["cnf"]["jkt"],
            key.jkt().unwrap(),
            "{}",
            env.name
        );
        let other = token_proof(&env, &self::key());
        let reply = refresh(&env, &client, &successor, Some(&other)).await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant", &env.name);
    }
}

#[tokio::test]
async fn a_code_flow_with_dpop_binds_the_tokens_to_the_key() {
    for env in envs().await {
        let client = env.public_client("spa").await;
        let key = key();
        let jkt = key.jkt().unwrap();
        let tokens = code_tokens(&env, &client, &key).await;
        assert_eq!(
            tokens.status,
            StatusCode::OK,
            "{}: {}",
            env.name,
            tokens.body
        );
        assert_eq!(tokens.body["token_type"], "DPoP");
        let access = tokens.str("access_token");
        let introspected = env.admin_introspect(&access).await;
        assert_eq!(introspected.body["active"], true);
        assert_eq!(introspected.body["token_type"], "DPoP");
        assert_eq!(introspected.body["cnf"]["jkt"], jkt);
        let refresh_token = env.admin_introspect(&tokens.str("refresh_token")).await;
        assert_eq!(refresh_token.body["cnf"]["jkt"], jkt, "{}", env.name);

        // The same key refreshes; the new access token is bound to it too.
        let proof = token_proof(&env, &key);
        let next = refresh(&env, &client, &tokens.str("refresh_token"), Some(&proof)).await;
        assert_eq!(next.status, StatusCode::OK, "{}: {}", env.name, next.body);
        let access = next.str("access_token");
        assert_eq!(env.admin_introspect(&access).await.body["cnf"]["jkt"], jkt);
        let proof = userinfo_proof(&env, &key, &access);
        let reply = userinfo(&env, &format!("DPoP {access}"), Some(&proof)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
    }
}

#[tokio::test]
async fn jwt_access_tokens_carry_cnf_jkt() {
    for env in envs().await {
        let client = env.jwt_client("jwtapp").await;
        let key = key();
        let tokens = code_tokens(&env, &client, &key).await;
        assert_eq!(
            tokens.status,
            StatusCode::OK,
            "{}: {}",
            env.name,
            tokens.body
        );
        let access = tokens.str("access_token");
        let (_, claims) = env.verify_jwt(&access, ISSUER).await;
        assert_eq!(claims["cnf"]["jkt"], key.jkt().unwrap(), "{}", env.name);
        let introspected = env.admin_introspect(&access).await;
        assert_eq!(introspected.body["token_type"], "DPoP");
        assert_eq!(introspected.body["cnf"]["jkt"], key.jkt().unwrap());
        // Without a proof the token is a plain bearer token, as before.
        let bearer = env.tokens(&client, "openid").await;
        assert_eq!(bearer.body["token_type"], "Bearer");
        let (_, claims) = env.verify_jwt(&bearer.str("access_token"), ISSUER).await;
        assert!(claims.get("cnf").is_none(), "{}", env.name);
    }
}

#[tokio::test]
async fn a_confidential_clients_refresh_token_is_not_bound_but_its_new_access_token_is() {
    for env in envs().await {
        let client = env.web_client("web").await;
        let tokens = code_tokens(&env, &client, &key()).await;
        let refresh_token = tokens.str("refresh_token");
        assert!(
            env.admin_introspect(&refresh_token)
                .await
                .body
                .get("cnf")
                .is_none()
        );

        let key = key();
        let proof = token_proof(&env, &key);
        let next = refresh(&env, &client, &refresh_token, Some(&proof)).await;
        assert_eq!(next.status, StatusCode::OK, "{}: {}", env.name, next.body);
        assert_eq!(next.body["token_type"], "DPoP");
        let introspected = env.admin_introspect(&next.str("access_token")).await;
        assert_eq!(introspected.body["cnf"]["jkt"], key.jkt().unwrap());

        let plain = refresh(&env, &client, &next.str("refresh_token"), None).await;
        assert_eq!(plain.status, StatusCode::OK, "{}: {}", env.name, plain.body);
        assert_eq!(plain.body["token_type"], "Bearer");
    }
}

#[tokio::test]
async fn a_client_registered_with_dpop_bound_access_tokens_must_send_a_proof() {
    for env in envs().await {
        let mut m = metadata(
            TokenEndpointAuthMethod::ClientSecretBasic,
            &["client_credentials"],
            "openid",
        );
        m.dpop_bound_access_tokens = true;
        let client = env.client("bound", m).await;
        let reply = client_credentials(&env, &client, &[]).await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_dpop_proof",
            &env.name,
        );
        let proof = token_proof(&env, &key());
        let reply = client_credentials(&env, &client, &[&proof]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {}", env.name, reply.body);
        assert_eq!(reply.body["token_type"], "DPoP");
    }
}

#[tokio::test]
async fn a_required_nonce_is_asked_for_then_accepted() {
    for env in envs_with(|s| s.dpop_require_nonce = true).await {
        let client = env.web_client("web").await;
        let key = key();
        let first = client_credentials(&env, &client, &[&token_proof(&env, &key)]).await;
        assert_oauth_error(&first, StatusCode::BAD_REQUEST, "use_dpop_nonce", &env.name);
        let nonce = first.header("dpop-nonce").unwrap().to_owned();

        let mut c = claims(&env, "POST", TOKEN_URL);
        c["nonce"] = json!("made-up");
        let made_up = client_credentials(&env, &client, &[&key.sign(&c).unwrap()]).await;
        assert_oauth_error(
            &made_up,
            StatusCode::BAD_REQUEST,
            "use_dpop_nonce",
            &env.name,
        );

        c["nonce"] = json!(nonce);
        c["jti"] = json!(random_token(12));
        let retry = client_credentials(&env, &client, &[&key.sign(&c).unwrap()]).await;
        assert_eq!(retry.status, StatusCode::OK, "{}: {}", env.name, retry.body);
        assert!(retry.header("dpop-nonce").is_some(), "{}", env.name);

        // A nonce outlives its window by one window only.
        env.clock.advance(time::Duration::seconds(600));
        c["jti"] = json!(random_token(12));
        c["iat"] = json!(env.unix());
        let stale = client_credentials(&env, &client, &[&key.sign(&c).unwrap()]).await;
        assert_oauth_error(&stale, StatusCode::BAD_REQUEST, "use_dpop_nonce", &env.name);
    }
}

#[tokio::test]
async fn discovery_lists_the_proof_algorithms_and_missing_tokens_get_both_challenges() {
    for env in envs().await {
        let discovery = env.get("/.well-known/openid-configuration").await;
        assert_eq!(
            discovery.body["dpop_signing_alg_values_supported"],
            json!(["ES256", "ES384", "PS256", "RS256", "EdDSA"])
        );
        let reply = send(
            &env.public,
            Request::get("/userinfo").body(Body::empty()).unwrap(),
        )
        .await;
        let challenges: Vec<&str> = reply
            .headers
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert_eq!(
            challenges,
            [
                "Bearer realm=\"gatehouse\"",
                "DPoP algs=\"ES256 ES384 PS256 RS256 EdDSA\""
            ]
        );
    }
}
