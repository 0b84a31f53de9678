//! `POST /oauth2/token` (RFC 6749 §3.2): the grants, client authentication and the error shape
//! live in [`TokenService::token`]; this reads the request and writes the RFC 6749 §5.1 answer.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::client::Client;
use gatehouse_core::dpop::invalid_proof;
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::token_request::{Form, presented_credentials};

use super::cors::CorsClient;
use super::error::EndpointError;
use super::form::client_request;
use crate::service::TokenService;

pub(super) async fn token(
    State(service): State<Arc<TokenService>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (authorization, form) = match client_request(&headers, body) {
        Ok(request) => request,
        Err(e) => return e.into_response(),
    };
    let proof = match dpop_proof(&headers) {
        Ok(proof) => proof,
        Err(e) => return EndpointError::from(e).into_response(),
    };
    let mut answer = match service.token_with_dpop(authorization, proof, &form).await {
        Ok(tokens) => Json(tokens).into_response(),
        Err(e) => {
            let nonce_asked = e.error.code == ErrorCode::UseDpopNonce;
            let mut answer = EndpointError::from(e).into_response();
            if nonce_asked {
                set_dpop_nonce(&mut answer, &service);
            }
            answer
        }
    };
    if proof.is_some() && service.settings().dpop_require_nonce {
        // RFC 9449 §8.2: a fresh nonce with every answer, so the client never has to ask.
        set_dpop_nonce(&mut answer, &service);
    }
    for_client(answer, &headers, authorization, &form)
}

/// The one `DPoP` header of a request, if any (RFC 9449 §4.3: not more than one).
pub(super) fn dpop_proof(headers: &HeaderMap) -> Result<Option<&str>, OAuthError> {
    let mut values = headers.get_all(DPOP).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(_), Some(_)) => Err(invalid_proof("send one DPoP header")),
        (Some(value), None) => value
            .to_str()
            .map(Some)
            .map_err(|_| invalid_proof("the DPoP header is not a JWT")),
    }
}

/// The `DPoP` request header (RFC 9449 §4.1).
pub(super) const DPOP: &str = "dpop";

/// Adds `DPoP-Nonce` with the current nonce (RFC 9449 §8.1).
pub(super) fn set_dpop_nonce(answer: &mut Response, service: &TokenService) {
    if let Ok(value) = HeaderValue::from_str(&service.dpop_nonce()) {
        answer.headers_mut().insert("dpop-nonce", value);
    }
}

/// Marks the answer with the client the request names, so CORS answers only that client's
/// origins (only worked out for cross-origin requests).
pub(super) fn for_client(
    mut answer: Response,
    headers: &HeaderMap,
    authorization: Option<&str>,
    form: &Form,
) -> Response {
    if headers.contains_key(header::ORIGIN)
        && let Ok(presented) = presented_credentials(authorization, form)
    {
        answer
            .extensions_mut()
            .insert(CorsClient(presented.client_id().to_string()));
    }
    answer
}

/// Client authentication for the revocation and introspection endpoints, exactly as the token
/// endpoint does it (RFC 7009 §2.1, RFC 7662 §2.1): the registered method and only that one.
/// `endpoint` is the endpoint's path (`/oauth2/par`), which a client assertion's `aud` may name.
pub(super) async fn authenticate_client(
    service: &TokenService,
    authorization: Option<&str>,
    form: &Form,
    endpoint: &str,
) -> Result<Arc<Client>, EndpointError> {
    let attempted = authorization.is_some();
    let presented = presented_credentials(authorization, form)
        .map_err(|e| EndpointError::client_auth(e, attempted))?;
    service
        .authenticate_client(&presented, endpoint)
        .await
        .map_err(|e| EndpointError::client_auth(e, attempted))
}
