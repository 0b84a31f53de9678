//! An ordinary OpenID Connect client library (the `openidconnect` crate) against a real listener:
//! what a partner app does, with nothing Gatehouse-specific on the client side except how it gets
//! a code (the login UI is not part of this crate, so the test issues the code the way the UI
//! does, from the authorization URL the library built).

use std::future::Future;
use std::net::SocketAddr;

use gatehouse_core::authorize::AuthorizationParams;
use gatehouse_jose::SigningAlgorithm;
use gatehouse_token::TokenSettings;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreGrantType, CoreJsonWebKey, CoreJsonWebKeySet,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode,
    CoreResponseType, CoreRevocableToken, CoreSubjectIdentifierType, CoreTokenResponse,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AdditionalProviderMetadata, AuthorizationCode, ClientId, ClientSecret,
    CsrfToken, HttpRequest, HttpResponse, IntrospectionUrl, IssuerUrl, JsonWebKey as _, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, ProviderMetadata, RedirectUrl, RevocationUrl, Scope,
    TokenIntrospectionResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};

use crate::oauth::{Env, REDIRECT_URI, SUBJECT, TestClient};
use gatehouse_testkit::{BackendPair, backend_pairs};

/// RFC 8414 / RFC 7009 / RFC 7662 fields the core metadata type does not know.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct Extras {
    revocation_endpoint: String,
    introspection_endpoint: String,
    code_challenge_methods_supported: Vec<String>,
    authorization_response_iss_parameter_supported: bool,
}
impl AdditionalProviderMetadata for Extras {}

type Metadata = ProviderMetadata<
    Extras,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The library's HTTP client: reqwest behind a closure, redirects off.
///
/// In production TLS ends in front of Gatehouse (the ingress), so the issuer is `https://`, and
/// the library insists on it (RFC 7009 §2 requires an https revocation URL). This client plays
/// the part of that terminating proxy: it speaks plain HTTP to the in-process listener.
fn http_client()
-> impl Fn(HttpRequest) -> std::pin::Pin<Box<dyn Future<Output = Result<HttpResponse, reqwest::Error>>>>
{
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    move |request: HttpRequest| {
        let http = http.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let url = parts.uri.to_string().replacen("https://", "http://", 1);
            let response = http
                .request(parts.method, url)
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let mut out = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                out = out.header(name, value);
            }
            Ok(out.body(response.bytes().await?.to_vec()).unwrap())
        })
    }
}

/// A token service served on a real listener, with the issuer its address (as `https`, see
/// [`http_client`]).
async fn serve(backends: BackendPair) -> (Env, String) {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let issuer = format!("https://{}", listener.local_addr().unwrap());
    let env = Env::start(backends, TokenSettings::for_issuer(issuer.clone())).await;
    let router = env.public.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (env, issuer)
}

async fn discover(issuer: &str) -> Metadata {
    Metadata::discover_async(IssuerUrl::new(issuer.to_owned()).unwrap(), &http_client())
        .await
        .unwrap()
}

type Partner = openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointSet,
    openidconnect::EndpointSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

fn partner(metadata: Metadata, client: &TestClient) -> Partner {
    let extras = metadata.additional_metadata().clone();
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.id.clone()),
        client.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.to_owned()).unwrap())
    .set_revocation_url(RevocationUrl::new(extras.revocation_endpoint).unwrap())
    .set_introspection_url(IntrospectionUrl::new(extras.introspection_endpoint).unwrap())
}

/// The code flow as the library drives it: it builds the authorization URL (PKCE S256, nonce),
/// the "login UI" issues a code for that request, the library exchanges it.
async fn code_flow(env: &Env, client: &Partner, scopes: &[&str]) -> (CoreTokenResponse, Nonce) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in scopes {
        request = request.add_scope(Scope::new((*scope).to_owned()));
    }
    let (url, _state, nonce) = request.set_pkce_challenge(challenge).url();
    let query = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let params = AuthorizationParams {
        client_id: query("client_id"),
        redirect_uri: query("redirect_uri"),
        response_type: query("response_type"),
        scope: query("scope"),
        state: query("state"),
        code_challenge: query("code_challenge"),
        code_challenge_method: query("code_challenge_method"),
        nonce: query("nonce"),
        ..AuthorizationParams::default()
    };
    let code = env.issue_code(&params, SUBJECT).await;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http_client())
        .await
        .unwrap_or_else(|e| panic!("{}: code exchange: {e:?}", env.name));
    (tokens, nonce)
}

/// Verifies the ID token with the library (signature from the client's JWKS, iss, aud, exp,
/// nonce) and its `at_hash`; returns the signing key's id.
fn verify_id_token(
    env: &Env,
    client: &Partner,
    tokens: &CoreTokenResponse,
    nonce: &Nonce,
) -> String {
    let id_token = tokens
        .id_token()
        .unwrap_or_else(|| panic!("{}: no ID token", env.name));
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, nonce)
        .unwrap_or_else(|e| panic!("{}: ID token: {e:?}", env.name));
    assert_eq!(claims.subject().as_str(), SUBJECT);
    assert!(claims.auth_time().is_some());
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims.access_token_hash(),
        Some(&expected),
        "{}: at_hash",
        env.name
    );
    id_token
        .signing_key(&verifier)
        .unwrap()
        .key_id()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_standard_client_library_completes_every_flow() {
    for backends in backend_pairs().await {
        let (env, issuer) = serve(backends).await;
        let http = http_client();
        let metadata = discover(&issuer).await;
        assert_eq!(
            metadata
                .additional_metadata()
                .code_challenge_methods_supported,
            ["S256"]
        );
        assert!(
            metadata
                .additional_metadata()
                .authorization_response_iss_parameter_supported
        );

        // client_credentials.
        let service_client = env.web_client("reports").await;
        let service = partner(metadata.clone(), &service_client);
        let cc = service
            .exchange_client_credentials()
            .unwrap()
            .add_scope(Scope::new("urn:neoncloud:projects:read".to_owned()))
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("{}: client_credentials: {e:?}", env.name));
        assert!(cc.refresh_token().is_none() && cc.id_token().is_none());
        let introspection = service
            .introspect(cc.access_token())
            .request_async(&http)
            .await
            .unwrap();
        assert!(introspection.active());
        assert_eq!(introspection.sub(), Some("reports"));

        // Authorization code with PKCE, ID token verification against the published JWKS.
        let app = partner(metadata, &env.web_client("console").await);
        let (tokens, nonce) = code_flow(&env, &app, &["offline", "profile", "email"]).await;
        verify_id_token(&env, &app, &tokens, &nonce);
        let userinfo: CoreUserInfoClaims = app
            .user_info(tokens.access_token().clone(), None)
            .unwrap()
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("{}: userinfo: {e:?}", env.name));
        assert_eq!(userinfo.subject().as_str(), SUBJECT);
        assert_eq!(
            userinfo.email().map(|e| e.as_str()),
            Some("alice@example.com")
        );
        assert_eq!(
            userinfo.preferred_username().map(|u| u.as_str()),
            Some("alice")
        );

        let introspection = app
            .introspect(tokens.access_token())
            .request_async(&http)
            .await
            .unwrap();
        assert!(introspection.active(), "{}", env.name);
        assert_eq!(
            introspection.client_id().map(|c| c.as_str()),
            Some("console")
        );
        assert_eq!(introspection.scopes().map(|s| s.len()), Some(4));
        // The other client sees nothing of it.
        let foreign = service
            .introspect(tokens.access_token())
            .request_async(&http)
            .await
            .unwrap();
        assert!(!foreign.active());

        // Refresh: rotation.
        let refresh = tokens.refresh_token().unwrap();
        let refreshed = app
            .exchange_refresh_token(refresh)
            .unwrap()
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("{}: refresh: {e:?}", env.name));
        let rotated = refreshed.refresh_token().unwrap();
        assert_ne!(rotated.secret(), refresh.secret());
        assert!(
            app.introspect(refreshed.access_token())
                .request_async(&http)
                .await
                .unwrap()
                .active()
        );

        // Revocation of the refresh token ends the family.
        app.revoke_token(CoreRevocableToken::from(rotated.clone()))
            .unwrap()
            .request_async(&http)
            .await
            .unwrap();
        assert!(
            !app.introspect(refreshed.access_token())
                .request_async(&http)
                .await
                .unwrap()
                .active(),
            "{}",
            env.name
        );
        let after = app
            .exchange_refresh_token(rotated)
            .unwrap()
            .request_async(&http)
            .await;
        assert!(
            after.is_err(),
            "{}: a revoked refresh token still works",
            env.name
        );

        // Revocation of an access token.
        service
            .revoke_token(CoreRevocableToken::from(cc.access_token().clone()))
            .unwrap()
            .request_async(&http)
            .await
            .unwrap();
        assert!(
            !service
                .introspect(cc.access_token())
                .request_async(&http)
                .await
                .unwrap()
                .active()
        );
    }
}

#[tokio::test]
async fn id_tokens_verify_against_the_refetched_jwks_after_a_key_rotation() {
    for backends in backend_pairs().await {
        let (env, issuer) = serve(backends).await;
        let test_client = env.web_client("console").await;
        let before_client = partner(discover(&issuer).await, &test_client);
        let (before, before_nonce) = code_flow(&env, &before_client, &[]).await;
        let old_kid = verify_id_token(&env, &before_client, &before, &before_nonce);

        let new = env
            .service
            .rotate_key(SigningAlgorithm::Rs256)
            .await
            .unwrap();
        assert_ne!(new.kid, old_kid);

        // Re-discovered, the client has the new JWKS: the new token verifies with the new key.
        let after_metadata = discover(&issuer).await;
        let jwks_uri = after_metadata.jwks_uri().clone();
        let after_client = partner(after_metadata, &test_client);
        let (after, after_nonce) = code_flow(&env, &after_client, &[]).await;
        assert_eq!(
            verify_id_token(&env, &after_client, &after, &after_nonce),
            new.kid
        );

        // The old key is still published, so tokens it signed still verify.
        assert_eq!(
            verify_id_token(&env, &after_client, &before, &before_nonce),
            old_kid
        );
        let jwks = CoreJsonWebKeySet::fetch_async(&jwks_uri, &http_client())
            .await
            .unwrap();
        let kids: Vec<String> = jwks
            .keys()
            .iter()
            .filter_map(|k| k.key_id().map(|id| id.to_string()))
            .collect();
        assert!(
            kids.contains(&old_kid) && kids.contains(&new.kid),
            "{}: {kids:?}",
            env.name
        );

        // A client that kept the old JWKS cannot verify the new token: it must refetch.
        let stale = after
            .id_token()
            .unwrap()
            .claims(&before_client.id_token_verifier(), &after_nonce);
        assert!(stale.is_err(), "{}", env.name);
    }
}
