//! Token introspection (RFC 7662), on two listeners as Hydra v2 has it:
//!
//! - `POST /oauth2/introspect` (public): the caller authenticates as a client and sees only its
//!   own tokens; any other token is `{"active": false}` (§2.2), never an error.
//! - `POST /admin/oauth2/introspect` (admin): no client authentication, every token. Resource
//!   servers inside the perimeter call this one (or the gRPC `Introspect`).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use gatehouse_core::token_request::Form;

use super::error::EndpointError;
use super::form::{client_request, read_form};
use super::token::authenticate_client;
use crate::introspection::Introspection;
use crate::service::TokenService;

pub(super) async fn introspect_as_client(
    State(service): State<Arc<TokenService>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Introspection>, EndpointError> {
    let (authorization, form) = client_request(&headers, body)?;
    let client = authenticate_client(&service, authorization, &form, "/oauth2/introspect").await?;
    introspect(&service, &form, Some(&client.id)).await
}

/// RFC 7662 introspection for operators and resource servers on the admin listener: no client
/// authentication (the admin listener's own protection applies), any client's token.
#[utoipa::path(post, path = "/admin/oauth2/introspect", tag = "introspection",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`token=…` and optionally `token_type_hint=access_token|refresh_token` (RFC 7662 §2.1)"),
    responses(
        (status = 200, description = "RFC 7662 §2.2: `{\"active\": false}` or the token's claims", body = Object),
        (status = 400, description = "`invalid_request`: no `token`, or not a form", body = crate::admin::ErrorBody),
    ))]
pub(super) async fn introspect_as_admin(
    State(service): State<Arc<TokenService>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Introspection>, EndpointError> {
    let form = read_form(&headers, body)?;
    introspect(&service, &form, None).await
}

async fn introspect(
    service: &TokenService,
    form: &Form,
    client_id: Option<&str>,
) -> Result<Json<Introspection>, EndpointError> {
    let token = form.require("token")?;
    Ok(Json(
        service
            .introspect(token, form.get("token_type_hint"), client_id)
            .await?,
    ))
}
