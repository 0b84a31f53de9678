//! `/admin/registration-tokens`: initial access tokens for dynamic client registration
//! (RFC 7591 §3). A token is shown once, when it is made; only its keyed hash is stored.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use gatehouse_core::ErrorCode;
use gatehouse_core::secret::{SecretString, random_token};
use gatehouse_core::self_registration::{generate_registration_token, registration_token_hasher};
use gatehouse_core::store::{RegistrationToken, StoreError};
use serde::{Deserialize, Serialize, Serializer};
use utoipa::ToSchema;

use super::error::PathParam;
use super::{AdminState, ApiError, ErrorBody, rfc3339};

const TAG: &str = "registration-tokens";

/// The longest lifetime a token may be given: a year.
pub const MAX_EXPIRES_IN: u64 = 366 * 24 * 60 * 60;

/// A new initial access token.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RegistrationTokenRequest {
    /// Seconds until the token stops working (1 to 31622400); it does not expire when omitted.
    pub expires_in: Option<u64>,
    /// How many clients it may register (at least 1); any number when omitted.
    pub max_uses: Option<u32>,
}

/// An initial access token as the admin API answers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationTokenResponse {
    /// The handle to revoke it by; not the token.
    pub id: String,
    /// Only in the answer that created it: send it as `Authorization: Bearer` to
    /// `POST /oauth2/register`. It cannot be read again.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "expose")]
    #[schema(value_type = Option<String>)]
    pub token: Option<SecretString>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; absent when it does not expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
    /// Clients registered with it so far.
    pub uses: u32,
}

fn expose<S: Serializer>(secret: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => s.serialize_str(secret.expose()),
        None => s.serialize_none(),
    }
}

impl RegistrationTokenResponse {
    fn new(token: &RegistrationToken, shown: Option<SecretString>) -> Result<Self, ApiError> {
        Ok(Self {
            id: token.id.clone(),
            token: shown,
            created_at: rfc3339(token.created_at)?,
            expires_at: token.expires_at.map(rfc3339).transpose()?,
            max_uses: token.max_uses,
            uses: token.uses,
        })
    }
}

/// Makes an initial access token; the token is in this answer only.
#[utoipa::path(post, path = "/admin/registration-tokens", tag = TAG, request_body = RegistrationTokenRequest,
    responses(
        (status = 201, description = "Made; `token` is shown this once", body = RegistrationTokenResponse),
        (status = 400, description = "`expires_in` or `max_uses` out of range", body = ErrorBody),
    ))]
pub async fn create_registration_token(
    State(state): State<AdminState>,
    body: Result<Json<RegistrationTokenRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<RegistrationTokenResponse>), ApiError> {
    let Json(request) =
        body.map_err(|e| ApiError::from_json_rejection(&e, ErrorCode::InvalidRequest))?;
    let now = state.now();
    let expires_at = match request.expires_in {
        None => None,
        Some(seconds @ 1..=MAX_EXPIRES_IN) => {
            Some(now.saturating_add(time::Duration::seconds(i64::try_from(seconds).unwrap_or(0))))
        }
        Some(_) => {
            return Err(ApiError::invalid_request(format!(
                "expires_in must be between 1 and {MAX_EXPIRES_IN} seconds"
            )));
        }
    };
    if request.max_uses == Some(0) {
        return Err(ApiError::invalid_request("max_uses must be at least 1"));
    }
    let secret = generate_registration_token();
    let token = RegistrationToken {
        id: random_token(9),
        token_hash: registration_token_hasher(&state.client_secret_hasher).hash(secret.expose()),
        created_at: now,
        expires_at,
        max_uses: request.max_uses,
        uses: 0,
    };
    state.durable.insert_registration_token(&token).await?;
    tracing::info!(id = %token.id, max_uses = ?token.max_uses, expires_at = ?token.expires_at, "initial access token made");
    Ok((
        StatusCode::CREATED,
        Json(RegistrationTokenResponse::new(&token, Some(secret))?),
    ))
}

/// Lists initial access tokens, newest first (never the tokens themselves).
#[utoipa::path(get, path = "/admin/registration-tokens", tag = TAG,
    responses((status = 200, description = "Every initial access token", body = [RegistrationTokenResponse])))]
pub async fn list_registration_tokens(
    State(state): State<AdminState>,
) -> Result<Json<Vec<RegistrationTokenResponse>>, ApiError> {
    let tokens = state.durable.list_registration_tokens().await?;
    Ok(Json(
        tokens
            .iter()
            .map(|t| RegistrationTokenResponse::new(t, None))
            .collect::<Result<_, _>>()?,
    ))
}

/// Revokes an initial access token: it registers no more clients. Clients it registered stay.
#[utoipa::path(delete, path = "/admin/registration-tokens/{id}", tag = TAG,
    params(("id" = String, Path, description = "The token's id")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "No such token", body = ErrorBody)))]
pub async fn delete_registration_token(
    State(state): State<AdminState>,
    PathParam(id): PathParam,
) -> Result<StatusCode, ApiError> {
    match state.durable.delete_registration_token(&id).await {
        Ok(()) => {
            tracing::info!(id = %id, "initial access token revoked");
            Ok(StatusCode::NO_CONTENT)
        }
        Err(StoreError::NotFound) => Err(ApiError::not_found(format!(
            "registration token {id:?} does not exist"
        ))),
        Err(e) => Err(e.into()),
    }
}
