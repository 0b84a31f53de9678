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

use super::error::EndpointError;
use super::form::{authorization_header, read_form};
use super::token::authenticate_client;
use crate::service::TokenService;

pub(super) async fn revoke(
    State(service): State<Arc<TokenService>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, EndpointError> {
    let authorization = authorization_header(&headers)?;
    let form = read_form(&headers, body)?;
    let client = authenticate_client(&service, authorization, &form).await?;
    let token = form.require("token")?;
    service.revoke(token, &client.id).await?;
    Ok(StatusCode::OK)
}
