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
use gatehouse_core::secret::SecretString;
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
    let client = authenticate_client(service, authorization, form).await?;
    Ok(service
        .push_authorization_request(&client, authorization_params(form))
        .await?)
}

/// The authorization request's parameters from the pushed form (the form itself refuses a
/// repeated parameter).
fn authorization_params(form: &Form) -> AuthorizationParams {
    let get = |name: &str| form.get(name).filter(|v| !v.is_empty()).map(str::to_owned);
    AuthorizationParams {
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        response_type: get("response_type"),
        scope: get("scope"),
        state: get("state"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
        nonce: get("nonce"),
        prompt: get("prompt"),
        max_age: get("max_age"),
        login_hint: get("login_hint"),
        ui_locales: get("ui_locales"),
        id_token_hint: get("id_token_hint").map(SecretString::new),
        response_mode: get("response_mode"),
        request: get("request"),
        request_uri: get("request_uri"),
        duplicate: None,
    }
}
