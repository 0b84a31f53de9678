//! The published documents: provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414 §2;
//! one document on both well-known paths) and the JWKS (RFC 7517 §5).
//!
//! Both are requested far more often than they change, so both are served as pre-serialised
//! bytes: the metadata is rebuilt at most every [`DISCOVERY_CACHE_TTL`] (it changes only with the
//! scope catalogue), the JWKS only when the key ring is replaced (rotation or reload). They are
//! public and safe to cache and to read cross-origin (browser apps fetch them).

use gatehouse_core::client_assertion::supported_algs;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::client::TokenEndpointAuthMethod;
use gatehouse_core::error::OAuthError;
use gatehouse_core::protocol::{GrantType, ResponseMode, ResponseType};
use gatehouse_core::scope::is_server_claim;
use gatehouse_jose::{KeyRing, SigningAlgorithm};
use serde::Serialize;

use super::PublicState;
use super::error::EndpointError;
use crate::service::{TokenService, store_error};

/// How long the server reuses a built metadata document.
pub(super) const DISCOVERY_CACHE_TTL: Duration = Duration::from_secs(10);
/// How long clients may cache the metadata.
const DISCOVERY_CACHE_CONTROL: &str = "public, max-age=300";
/// How long clients may cache the JWKS. Short, because a rotated-in key signs at once: a client
/// that meets an unknown `kid` within this window may have to refetch.
const JWKS_CACHE_CONTROL: &str = "public, max-age=60";

pub(super) async fn openid_configuration(State(state): State<PublicState>) -> Response {
    match state.discovery.document(&state.service).await {
        Ok(document) => public_json(document, DISCOVERY_CACHE_CONTROL),
        Err(e) => EndpointError::new(e).into_response(),
    }
}

pub(super) async fn jwks(State(state): State<PublicState>) -> Response {
    match state.jwks.document(state.service.keys()) {
        Ok(document) => public_json(document, JWKS_CACHE_CONTROL),
        Err(e) => EndpointError::new(e).into_response(),
    }
}

fn public_json(document: Bytes, cache_control: &'static str) -> Response {
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        ),
        (
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ),
    ];
    (headers, document).into_response()
}

/// The provider metadata. Every list says what Gatehouse implements, not what it might.
#[derive(Serialize)]
struct ProviderMetadata<'a> {
    issuer: &'a str,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    userinfo_endpoint: String,
    revocation_endpoint: String,
    introspection_endpoint: String,
    end_session_endpoint: String,
    /// RFC 9126 §5.
    pushed_authorization_request_endpoint: String,
    require_pushed_authorization_requests: bool,
    /// RFC 8628 §4.
    device_authorization_endpoint: String,
    /// RFC 7591 §3, RFC 8414 §2: only while someone can register (open registration, or an
    /// initial access token that still works).
    #[serde(skip_serializing_if = "Option::is_none")]
    registration_endpoint: Option<String>,
    response_types_supported: &'static [ResponseType],
    response_modes_supported: &'static [ResponseMode],
    grant_types_supported: &'static [GrantType],
    subject_types_supported: [&'static str; 1],
    id_token_signing_alg_values_supported: Vec<&'static str>,
    token_endpoint_auth_methods_supported: &'static [TokenEndpointAuthMethod],
    revocation_endpoint_auth_methods_supported: &'static [TokenEndpointAuthMethod],
    introspection_endpoint_auth_methods_supported: &'static [TokenEndpointAuthMethod],
    /// RFC 8414 §2: the algorithms of `private_key_jwt` and `client_secret_jwt` assertions.
    token_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    revocation_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    introspection_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    scopes_supported: Vec<String>,
    /// The standard claims, then every catalogue scope's custom claims.
    claims_supported: Vec<String>,
    code_challenge_methods_supported: [&'static str; 1],
    authorization_response_iss_parameter_supported: bool,
    /// RFC 9101 §10.5 / OpenID Connect Discovery: `request` by value, signed with these.
    request_parameter_supported: bool,
    request_object_signing_alg_values_supported: Vec<&'static str>,
    /// Defaults to `true` when omitted (Discovery §3), so it must be said.
    request_uri_parameter_supported: bool,
    claims_parameter_supported: bool,
    prompt_values_supported: [&'static str; 4],
    ui_locales_supported: [&'static str; 2],
    /// `urn:gatehouse:acr:pwd` (a password) and `urn:gatehouse:acr:mfa` (with a second factor;
    /// asking for it in `acr_values` asks for a second factor).
    acr_values_supported: [&'static str; 2],
    /// RFC 9449 §5.1.
    dpop_signing_alg_values_supported: [&'static str; 5],
}

/// The claims Gatehouse itself sets or releases from the user record.
const STANDARD_CLAIMS: [&str; 16] = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "at_hash",
    "name",
    "preferred_username",
    "picture",
    "updated_at",
    "email",
    "email_verified",
];

/// Every method, confidential ones first (the order clients read as a preference).
const CLIENT_AUTH_METHODS: &[TokenEndpointAuthMethod] = &[
    TokenEndpointAuthMethod::ClientSecretBasic,
    TokenEndpointAuthMethod::ClientSecretPost,
    TokenEndpointAuthMethod::PrivateKeyJwt,
    TokenEndpointAuthMethod::ClientSecretJwt,
    TokenEndpointAuthMethod::None,
];

/// Whether a client can register now: registration is open, or an initial access token has not
/// expired and has a use left.
async fn registration_possible(service: &TokenService) -> Result<bool, OAuthError> {
    if service.settings().registration.open {
        return Ok(true);
    }
    let now = service.clock().now();
    let tokens = service
        .durable()
        .list_registration_tokens()
        .await
        .map_err(store_error)?;
    Ok(tokens.iter().any(|t| {
        t.expires_at.is_none_or(|at| at > now) && t.max_uses.is_none_or(|max| t.uses < max)
    }))
}

async fn build_metadata(service: &TokenService) -> Result<Bytes, OAuthError> {
    let issuer = service.issuer();
    let catalogue = service.durable().list_scopes().await.map_err(store_error)?;
    let mut scopes_supported: Vec<String> = vec!["openid".to_owned()];
    scopes_supported.extend(
        catalogue
            .iter()
            .map(|d| d.name.as_str().to_owned())
            .filter(|s| s != "openid"),
    );
    let mut claims_supported: Vec<String> =
        STANDARD_CLAIMS.iter().map(|c| (*c).to_owned()).collect();
    for claim in catalogue.iter().flat_map(|d| &d.claims) {
        if !claims_supported.contains(claim) && !is_server_claim(claim) {
            claims_supported.push(claim.clone());
        }
    }
    let mut algorithms = vec![service.settings().id_token_algorithm.as_str()];
    if !algorithms.contains(&SigningAlgorithm::Rs256.as_str()) {
        algorithms.push(SigningAlgorithm::Rs256.as_str());
    }
    let metadata = ProviderMetadata {
        issuer,
        authorization_endpoint: format!("{issuer}/oauth2/auth"),
        token_endpoint: format!("{issuer}/oauth2/token"),
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        userinfo_endpoint: format!("{issuer}/userinfo"),
        revocation_endpoint: format!("{issuer}/oauth2/revoke"),
        introspection_endpoint: format!("{issuer}/oauth2/introspect"),
        end_session_endpoint: format!("{issuer}/oauth2/sessions/logout"),
        pushed_authorization_request_endpoint: format!("{issuer}/oauth2/par"),
        require_pushed_authorization_requests: service.settings().require_par,
        device_authorization_endpoint: format!("{issuer}/oauth2/device/auth"),
        registration_endpoint: registration_possible(service)
            .await?
            .then(|| format!("{issuer}/oauth2/register")),
        response_types_supported: ResponseType::ALL,
        response_modes_supported: ResponseMode::SUPPORTED,
        grant_types_supported: GrantType::ALL,
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: algorithms,
        token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
        revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
        introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
        token_endpoint_auth_signing_alg_values_supported: supported_algs(),
        revocation_endpoint_auth_signing_alg_values_supported: supported_algs(),
        introspection_endpoint_auth_signing_alg_values_supported: supported_algs(),
        scopes_supported,
        claims_supported,
        code_challenge_methods_supported: ["S256"],
        authorization_response_iss_parameter_supported: true,
        request_parameter_supported: true,
        request_object_signing_alg_values_supported: supported_algs(),
        request_uri_parameter_supported: false,
        claims_parameter_supported: true,
        prompt_values_supported: ["none", "login", "consent", "select_account"],
        ui_locales_supported: ["en", "de"],
        acr_values_supported: gatehouse_core::factor::ACR_VALUES_SUPPORTED,
        dpop_signing_alg_values_supported: gatehouse_core::dpop::SUPPORTED_ALGS,
    };
    serde_json::to_vec(&metadata).map(Bytes::from).map_err(|e| {
        tracing::error!(error = %e, "provider metadata cannot be serialised");
        OAuthError::server_error()
    })
}

/// The metadata document, rebuilt at most once per TTL, and at once after this replica's admin
/// API changed the scope catalogue (its [`TokenService::catalogue_generation`] moved). While one
/// request rebuilds it, the others keep serving the previous copy, so an expiry under load costs
/// one store read, not one per request; if the store fails, the previous copy is served until
/// it answers again.
pub(super) struct DiscoveryCache {
    ttl: Duration,
    current: RwLock<Option<(Instant, u64, Bytes)>>,
    refreshing: tokio::sync::Mutex<()>,
}

impl DiscoveryCache {
    pub(super) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            current: RwLock::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    fn cached(&self) -> Option<(Instant, u64, Bytes)> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn fresh(&self, generation: u64) -> Option<Bytes> {
        self.cached()
            .filter(|(at, built_for, _)| at.elapsed() < self.ttl && *built_for == generation)
            .map(|(_, _, document)| document)
    }

    pub(super) async fn document(&self, service: &TokenService) -> Result<Bytes, OAuthError> {
        let generation = service.catalogue_generation();
        if let Some(document) = self.fresh(generation) {
            return Ok(document);
        }
        let stale = self.cached().map(|(_, _, document)| document);
        let _refreshing = match (self.refreshing.try_lock(), &stale) {
            (Ok(guard), _) => guard,
            (Err(_), Some(stale)) => return Ok(stale.clone()),
            (Err(_), None) => self.refreshing.lock().await,
        };
        let generation = service.catalogue_generation();
        if let Some(document) = self.fresh(generation) {
            return Ok(document);
        }
        match build_metadata(service).await {
            Ok(document) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) =
                    Some((Instant::now(), generation, document.clone()));
                Ok(document)
            }
            Err(e) => match stale {
                Some(stale) => {
                    tracing::warn!(error = %e, "provider metadata could not be rebuilt; serving the previous copy");
                    Ok(stale)
                }
                None => Err(e),
            },
        }
    }
}

/// The JWKS, serialised once per key ring. The cache holds the ring it was built from, so the
/// pointer comparison cannot be fooled by a new ring at a reused address.
#[derive(Default)]
pub(super) struct JwksCache {
    current: RwLock<Option<(Arc<KeyRing>, Bytes)>>,
}

impl JwksCache {
    pub(super) fn document(&self, ring: Arc<KeyRing>) -> Result<Bytes, OAuthError> {
        if let Some((cached, document)) = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            && Arc::ptr_eq(cached, &ring)
        {
            return Ok(document.clone());
        }
        let document = serde_json::to_vec(ring.jwks())
            .map(Bytes::from)
            .map_err(|e| {
                tracing::error!(error = %e, "the JWKS cannot be serialised");
                OAuthError::server_error()
            })?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some((ring, document.clone()));
        Ok(document)
    }
}
