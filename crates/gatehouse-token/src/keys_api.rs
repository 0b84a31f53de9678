//! Admin endpoints that need the running token service rather than only the stores: signing-key
//! listing and rotation (`gatehouse keys list|rotate`), and keeping the client cache coherent
//! with admin changes.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gatehouse_jose::SigningAlgorithm;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;

use crate::TokenService;

/// One signing key as `GET /admin/keys` lists it. Never the private part.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; set once a newer key of the algorithm took over (the key stays published).
    pub retired_at: Option<String>,
    /// Whether this key signs new tokens (the newest unretired key of its algorithm).
    pub active: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RotateRequest {
    /// `RS256`, `ES256` or `EdDSA`; every algorithm when omitted.
    #[serde(default)]
    pub alg: Option<String>,
}

/// `GET /admin/keys`, `POST /admin/keys/rotate`.
pub fn router(service: Arc<TokenService>) -> Router {
    Router::new()
        .route("/admin/keys", get(list_keys))
        .route("/admin/keys/rotate", post(rotate_keys))
        .with_state(service)
}

fn error(status: StatusCode, code: &str, description: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "error": code, "error_description": description.into() })),
    )
        .into_response()
}

/// Lists every signing key: the active one of each algorithm and the retired ones still
/// published for verification.
#[utoipa::path(get, path = "/admin/keys", tag = "keys",
    responses(
        (status = 200, description = "Every signing key, never its private part", body = [KeyInfo]),
        (status = 503, description = "The key store is unavailable", body = crate::admin::ErrorBody),
    ))]
pub(crate) async fn list_keys(State(service): State<Arc<TokenService>>) -> Response {
    match service.durable().list_signing_keys().await {
        Ok(records) => {
            let ring = service.keys();
            let active: Vec<String> = ring
                .algorithms()
                .filter_map(|a| ring.signer(a).ok().map(|s| s.kid.clone()))
                .collect();
            let keys: Vec<KeyInfo> = records
                .into_iter()
                .map(|r| KeyInfo {
                    active: active.contains(&r.kid),
                    created_at: r.created_at.format(&Rfc3339).unwrap_or_default(),
                    retired_at: r.retired_at.and_then(|t| t.format(&Rfc3339).ok()),
                    kid: r.kid,
                    alg: r.alg,
                })
                .collect();
            Json(keys).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "listing signing keys failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the key store is unavailable",
            )
        }
    }
}

/// Generates a new signing key for one algorithm (or every one); the previous key is retired
/// but stays published, so tokens it signed keep verifying.
#[utoipa::path(post, path = "/admin/keys/rotate", tag = "keys",
    request_body(content = Option<RotateRequest>, description = "`{\"alg\": …}`; every algorithm when empty"),
    responses(
        (status = 200, description = "`{\"rotated\": [{\"kid\", \"alg\"}]}`: the new keys", body = Object),
        (status = 400, description = "Unsupported `alg`", body = crate::admin::ErrorBody),
        (status = 503, description = "The key could not be rotated; retry", body = crate::admin::ErrorBody),
    ))]
pub(crate) async fn rotate_keys(
    State(service): State<Arc<TokenService>>,
    body: Option<Json<RotateRequest>>,
) -> Response {
    let algorithms = match body.and_then(|Json(b)| b.alg) {
        None => SigningAlgorithm::ALL.to_vec(),
        Some(alg) => match SigningAlgorithm::parse(&alg) {
            Ok(a) => vec![a],
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    format!("unsupported alg {alg:?}; use RS256, ES256 or EdDSA"),
                );
            }
        },
    };
    let mut rotated = Vec::new();
    for alg in algorithms {
        match service.rotate_key(alg).await {
            Ok(record) => {
                tracing::info!(kid = %record.kid, alg = alg.as_str(), "signing key rotated");
                rotated.push(json!({ "kid": record.kid, "alg": record.alg }));
            }
            Err(e) => {
                tracing::error!(error = %e, "rotating a signing key failed");
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the key could not be rotated; retry",
                );
            }
        }
    }
    (StatusCode::OK, Json(json!({ "rotated": rotated }))).into_response()
}

/// Middleware for the admin router: after a successful change to `/admin/clients/{id}`, drop the
/// client from this process's cache so the change takes effect at once (other replicas see it
/// when their short cache entry expires); after one to `/admin/scopes`, the scope catalogue
/// (custom claims, discovery) likewise.
pub async fn invalidate_client_cache(
    State(service): State<Arc<TokenService>>,
    request: Request,
    next: Next,
) -> Response {
    let changed = (request.method() != Method::GET && request.method() != Method::HEAD)
        .then(|| {
            request
                .uri()
                .path()
                .strip_prefix("/admin/clients/")
                .map(|rest| rest.split('/').next().unwrap_or_default().to_owned())
        })
        .flatten();
    let scope_changed = request.method() != Method::GET
        && request.method() != Method::HEAD
        && (request.uri().path() == "/admin/scopes"
            || request.uri().path().starts_with("/admin/scopes/"));
    let response = next.run(request).await;
    if let Some(id) = changed
        && response.status().is_success()
    {
        let id = percent_decode(&id);
        service.invalidate_client(&id);
    }
    if scope_changed && response.status().is_success() {
        service.invalidate_scopes();
    }
    response
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}
