//! `POST /oauth2/revoke` (RFC 7009).
//!
//! The client authenticates as at the token endpoint. The answer is the same empty 200 whether
//! the token existed, belonged to another client or was already revoked (§2.2), so the endpoint
//! cannot be used to probe for tokens. `token_type_hint` is optional and not needed: the service
//! recognises the token by its form.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_core::token_request::Form;

use super::error::EndpointError;
use super::form::client_request;
use super::token::{authenticate_client, for_client};
use crate::service::TokenService;

pub(super) async fn revoke(
    State(service): State<Arc<TokenService>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (authorization, form) = match client_request(&headers, body) {
        Ok(request) => request,
        Err(e) => return e.into_response(),
    };
    let answer = match revoke_for(&service, authorization, &form).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    };
    for_client(answer, &headers, authorization, &form)
}

async fn revoke_for(
    service: &TokenService,
    authorization: Option<&str>,
    form: &Form,
) -> Result<(), EndpointError> {
    let client = authenticate_client(service, authorization, form, "/oauth2/revoke").await?;
    let token = form.require("token")?;
    service.revoke(token, &client.id).await?;
    Ok(())
}
