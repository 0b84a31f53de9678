//! Admin endpoints for end users' accounts that need the running token service (its mailer):
//! `POST /admin/users/{id}/password-reset` mails the user a reset link, as "Forgot password?"
//! would (`gatehouse users password-reset`, the console's "send reset link").

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;

use crate::TokenService;
use crate::accounts::AccountError;

/// `POST /admin/users/{id}/password-reset`.
pub fn router(service: Arc<TokenService>) -> Router {
    Router::new()
        .route(
            "/admin/users/{id}/password-reset",
            post(send_password_reset),
        )
        .with_state(service)
}

/// What `POST /admin/users/{id}/password-reset` answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasswordResetSent {
    /// The address the link was sent to.
    pub email: String,
    /// How long the link works, in seconds.
    pub expires_in: u64,
}

fn error(status: StatusCode, code: &str, description: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "error": code, "error_description": description.into() })),
    )
        .into_response()
}

/// Mails the user a single-use link to choose a new password (valid for
/// `GATEHOUSE_TTL_PASSWORD_RESET`). The current password keeps working until the link is used.
#[utoipa::path(post, path = "/admin/users/{id}/password-reset", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 202, description = "The link was sent", body = PasswordResetSent),
        (status = 404, description = "No such user", body = crate::admin::ErrorBody),
        (status = 409, description = "No mail can be sent (GATEHOUSE_SMTP_URL is not set), or the user has no email address or is disabled", body = crate::admin::ErrorBody),
        (status = 503, description = "The mail server or a store did not answer; retry", body = crate::admin::ErrorBody),
    ))]
pub(crate) async fn send_password_reset(
    State(service): State<Arc<TokenService>>,
    Path(id): Path<String>,
) -> Response {
    let user = match service.durable().get_user(&id).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("user {id:?} does not exist"),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "reading a user failed");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the user store is unavailable; retry",
            );
        }
    };
    match service.send_password_reset(&user).await {
        Ok(email) => {
            tracing::info!(user_id = %user.id, "an operator sent a password reset link");
            (
                StatusCode::ACCEPTED,
                Json(PasswordResetSent {
                    email,
                    expires_in: service.account_settings().ttl_password_reset.as_secs(),
                }),
            )
                .into_response()
        }
        Err(e @ (AccountError::MailOff | AccountError::NoEmail | AccountError::Disabled)) => {
            error(StatusCode::CONFLICT, "conflict", e.to_string())
        }
        Err(e) => {
            tracing::warn!(error = %e, "sending a password reset link failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the link could not be sent; retry",
            )
        }
    }
}
