//! `POST /oauth2/device/auth` (RFC 8628 §3.1-3.2): a device asks for a device code and a user
//! code, authenticated as at the token endpoint (a public client by its `client_id`). Errors are
//! RFC 6749 §5.2 JSON.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use gatehouse_core::token_request::Form;

use super::error::EndpointError;
use super::form::client_request;
use super::token::authenticate_client;
use crate::device::DeviceAuthorizationResponse;
use crate::service::TokenService;

pub(super) async fn device_authorization(
    State(service): State<Arc<TokenService>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (authorization, form) = match client_request(&headers, body) {
        Ok(request) => request,
        Err(e) => return e.into_response(),
    };
    match start(&service, authorization, &form).await {
        Ok(started) => Json(started).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn start(
    service: &TokenService,
    authorization: Option<&str>,
    form: &Form,
) -> Result<DeviceAuthorizationResponse, EndpointError> {
    let client = authenticate_client(service, authorization, form, "/oauth2/device/auth").await?;
    Ok(service
        .start_device_authorization(&client, form.get("scope"))
        .await?)
}
