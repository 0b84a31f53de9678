//! `POST /oauth2/par` (RFC 9126): the client pushes its authorization request, authenticated as
//! at the token endpoint, and gets a `request_uri` (201). Errors are RFC 6749 §5.2 JSON.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_core::authorize::AuthorizationParams;
use gatehouse_core::token_request::Form;

use super::error::EndpointError;
use super::form::client_request;
use super::token::authenticate_client;
use crate::par::PushedRequestUri;
use crate::service::TokenService;

pub(super) async fn par(
    State(service): State<Arc<TokenService>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (authorization, form) = match client_request(&headers, body) {
        Ok(request) => request,
        Err(e) => return e.into_response(),
    };
    match push(&service, authorization, &form).await {
        Ok(pushed) => (StatusCode::CREATED, Json(pushed)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn push(
    service: &TokenService,
    authorization: Option<&str>,
    form: &Form,
) -> Result<PushedRequestUri, EndpointError> {
    let client = authenticate_client(service, authorization, form, "/oauth2/par").await?;
    Ok(service
        // The form itself refuses a repeated parameter.
        .push_authorization_request(
            &client,
            AuthorizationParams::from_lookup(|name| form.get_all(name)),
        )
        .await?)
}
