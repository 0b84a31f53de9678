//! `POST /oauth2/token` (RFC 6749 §3.2): the grants, client authentication and the error shape
//! live in [`TokenService::token`]; this reads the request and writes the RFC 6749 §5.1 answer.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::client::Client;
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
    let answer = match service.token(authorization, &form).await {
        Ok(tokens) => Json(tokens).into_response(),
        Err(e) => EndpointError::from(e).into_response(),
    };
    for_client(answer, &headers, authorization, &form)
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
