//! `/admin/users/{id}/factors`: a user's second factors (TOTP), and removing one, for a user who
//! lost their device and their recovery codes. A factor's secret is never part of an answer.

use axum::Json;
use axum::extract::Path;
use axum::extract::State;
use axum::extract::rejection::PathRejection;
use axum::http::StatusCode;
use gatehouse_core::factor::{Factor, TOTP_STEP_SECONDS};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::PathParam;
use super::{AdminState, ApiError, ErrorBody, rfc3339};

const TAG: &str = "users";

/// One second factor of a user.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactorResponse {
    pub id: String,
    /// `totp` or `passkey`.
    pub kind: String,
    /// What the user called it; may be empty.
    pub label: String,
    /// Whether the enrolment was finished with a first code (only confirmed factors are asked
    /// for at sign-in).
    pub confirmed: bool,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, the start of the 30 s window of the last accepted code; `null` when none.
    pub last_used_at: Option<String>,
}

impl FactorResponse {
    fn new(factor: &Factor) -> Result<Self, ApiError> {
        let last_used_at = factor
            .last_used_step
            .and_then(|step| {
                time::OffsetDateTime::from_unix_timestamp(
                    step.saturating_mul(TOTP_STEP_SECONDS as i64),
                )
                .ok()
            })
            .map(rfc3339)
            .transpose()?;
        Ok(Self {
            id: factor.id.clone(),
            kind: factor.kind.as_str().to_owned(),
            label: factor.label.clone(),
            confirmed: factor.is_confirmed(),
            created_at: rfc3339(factor.created_at)?,
            last_used_at,
        })
    }
}

async fn existing_user(state: &AdminState, id: &str) -> Result<String, ApiError> {
    Ok(state
        .durable
        .get_user(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("user {id:?} does not exist")))?
        .id)
}

/// Lists a user's second factors, oldest first (an enrolment not yet confirmed included).
#[utoipa::path(get, path = "/admin/users/{id}/factors", tag = TAG,
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The user's factors", body = [FactorResponse]),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub async fn list_user_factors(
    State(state): State<AdminState>,
    PathParam(id): PathParam,
) -> Result<Json<Vec<FactorResponse>>, ApiError> {
    let user_id = existing_user(&state, &id).await?;
    let factors = state.durable.list_factors(&user_id).await?;
    Ok(Json(
        factors
            .iter()
            .map(FactorResponse::new)
            .collect::<Result<_, _>>()?,
    ))
}

/// Removes one of a user's second factors; with their last one, their recovery codes go too, and
/// the user signs in with a password alone again (or enrols anew where a second factor is
/// required).
#[utoipa::path(delete, path = "/admin/users/{id}/factors/{factor_id}", tag = TAG,
    params(
        ("id" = String, Path, description = "User id"),
        ("factor_id" = String, Path, description = "The factor to remove"),
    ),
    responses(
        (status = 204, description = "The factor was removed"),
        (status = 404, description = "No such user, or no such factor of the user", body = ErrorBody),
    ))]
pub async fn delete_user_factor(
    State(state): State<AdminState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path((id, factor_id)) = path.map_err(|e| ApiError::invalid_request(e.body_text()))?;
    let user_id = existing_user(&state, &id).await?;
    if !state.durable.delete_factor(&user_id, &factor_id).await? {
        return Err(ApiError::not_found(format!(
            "user {id:?} has no factor {factor_id:?}"
        )));
    }
    tracing::info!(user_id = %user_id, factor_id = %factor_id, "a user's second factor was removed");
    Ok(StatusCode::NO_CONTENT)
}
