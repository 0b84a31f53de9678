//! `/admin/users/{id}/consents`: the apps a user has connected (remembered consents), and
//! taking one away as the account page's "remove access" does: the consent goes, and every
//! code, access token and refresh token the user authorized for that client ends at once
//! (`Revocations::end_consent`: a cut-off, then the refresh families).

use axum::Json;
use axum::extract::Path;
use axum::extract::State;
use axum::extract::rejection::PathRejection;
use axum::http::StatusCode;
use gatehouse_core::client::ClientId;
use gatehouse_core::store::Consent;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::PathParam;
use super::{AdminState, ApiError, ErrorBody, rfc3339};

const TAG: &str = "users";

/// One app a user connected: a remembered consent.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentResponse {
    pub client_id: String,
    /// The client's `client_name`; `null` when the client no longer exists or has none.
    pub client_name: Option<String>,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// RFC 3339.
    pub granted_at: String,
    /// RFC 3339; `null` when the consent does not expire.
    pub expires_at: Option<String>,
}

impl AdminState {
    async fn consent_response(&self, consent: Consent) -> Result<ConsentResponse, ApiError> {
        let client = self.durable.get_client(consent.client_id.as_str()).await?;
        Ok(ConsentResponse {
            client_name: client
                .map(|c| c.metadata.client_name)
                .filter(|n| !n.is_empty()),
            client_id: consent.client_id.to_string(),
            scope: consent.scope.to_string(),
            granted_at: rfc3339(consent.granted_at)?,
            expires_at: consent.expires_at.map(rfc3339).transpose()?,
        })
    }
}

/// Lists the apps a user has connected (their unexpired consents), newest first.
#[utoipa::path(get, path = "/admin/users/{id}/consents", tag = TAG,
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The user's connected apps", body = [ConsentResponse]),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub async fn list_user_consents(
    State(state): State<AdminState>,
    PathParam(id): PathParam,
) -> Result<Json<Vec<ConsentResponse>>, ApiError> {
    let user = state
        .durable
        .get_user(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("user {id:?} does not exist")))?;
    let now = state.now();
    let mut apps = Vec::new();
    for consent in state.durable.list_consents(&user.id).await? {
        if consent.expires_at.is_none_or(|e| e > now) {
            apps.push(state.consent_response(consent).await?);
        }
    }
    Ok(Json(apps))
}

/// Removes a user's access for one app: the remembered consent goes, and every code, access
/// token and refresh token the user authorized for the client ends at once. Answers 204 whether
/// or not a consent was stored (a `skip_consent` client's grants end too).
#[utoipa::path(delete, path = "/admin/users/{id}/consents/{client_id}", tag = TAG,
    params(
        ("id" = String, Path, description = "User id"),
        ("client_id" = String, Path, description = "The client whose access ends"),
    ),
    responses(
        (status = 204, description = "The app's access ended"),
        (status = 400, description = "Not a valid client id", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 503, description = "A store is unavailable; nothing was changed or the retry completes it", body = ErrorBody),
    ))]
pub async fn revoke_user_consent(
    State(state): State<AdminState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path((id, client_id)) = path.map_err(|e| ApiError::invalid_request(e.body_text()))?;
    let client_id =
        ClientId::parse(&client_id).map_err(|e| ApiError::invalid_request(e.to_string()))?;
    let user = state
        .durable
        .get_user(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("user {id:?} does not exist")))?;
    // The cut-off first, as the account page's revoke: once written, the access has ended on
    // every replica, whatever happens to the durable steps (a retry completes them).
    state
        .revocations
        .end_consent(&user.id, client_id.as_str())
        .await?;
    let existed = state
        .durable
        .delete_consent(&user.id, client_id.as_str())
        .await?;
    tracing::info!(user_id = %user.id, client_id = %client_id, existed, "a user's access for a client ended");
    Ok(StatusCode::NO_CONTENT)
}
