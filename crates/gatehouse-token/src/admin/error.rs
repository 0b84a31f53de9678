//! The one place admin errors become HTTP answers: `{"error", "error_description"}` with the
//! status of the code (RFC 7591 §3.2.2, RFC 6749 §5.2), as every other Gatehouse JSON endpoint.

use std::borrow::Cow;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use gatehouse_core::store::StoreError;
use gatehouse_core::{ErrorCode, OAuthError};
use serde::Serialize;
use utoipa::ToSchema;

/// An admin API failure. The description is shown to the operator and may be logged, so it never
/// carries a secret or a password.
#[derive(Debug)]
pub struct ApiError(pub OAuthError);

/// The JSON error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A registered error code, e.g. `invalid_client_metadata`, `not_found`, `conflict`.
    pub error: String,
    pub error_description: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self(OAuthError::new(code, description))
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub fn not_found(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::NotFound, description)
    }

    pub fn conflict(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Conflict, description)
    }

    pub fn server_error() -> Self {
        Self(OAuthError::server_error())
    }

    pub fn code(&self) -> ErrorCode {
        self.0.code
    }

    /// A JSON body that did not parse: syntax and content-type problems are `invalid_request`,
    /// a well-formed body with wrongly typed fields gets `data_error` (for clients,
    /// `invalid_client_metadata`, as RFC 7591 §3.2.2 asks).
    pub fn from_json_rejection(rejection: &JsonRejection, data_error: ErrorCode) -> Self {
        let text = rejection.body_text();
        match rejection {
            JsonRejection::JsonDataError(_) => {
                let detail = text
                    .strip_prefix("Failed to deserialize the JSON body into the target type: ")
                    .unwrap_or(&text);
                Self::new(data_error, detail.to_owned())
            }
            JsonRejection::MissingJsonContentType(_) => Self::invalid_request(
                "the body must be JSON, sent with Content-Type: application/json",
            ),
            _ => Self::invalid_request(text),
        }
    }

    pub fn from_query_rejection(rejection: &QueryRejection) -> Self {
        Self::invalid_request(rejection.body_text())
    }
}

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        Self(e)
    }
}

/// Store failures the handler did not map to something more specific.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::not_found("not found"),
            StoreError::Conflict => Self::conflict("already exists"),
            StoreError::Unavailable { backend, message } => {
                tracing::warn!(backend, %message, "admin request failed: store unavailable");
                Self::new(
                    ErrorCode::TemporarilyUnavailable,
                    format!("the {backend} store is unavailable; retry later"),
                )
            }
            StoreError::Corrupt(message) => {
                tracing::error!(%message, "admin request failed: corrupt record");
                Self::server_error()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            error: self.0.code.as_str().to_owned(),
            error_description: self.0.description.into_owned(),
        };
        (status, Json(body)).into_response()
    }
}

/// A single path parameter (`{id}`, `{name}`) whose rejection answers in the JSON error shape.
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::invalid_request(rejection.body_text())),
        }
    }
}

pub(crate) async fn route_not_found() -> ApiError {
    ApiError::not_found("no such admin endpoint; see /admin/openapi.json")
}

pub(crate) async fn method_not_allowed() -> Response {
    let mut response =
        ApiError::invalid_request("method not allowed on this admin endpoint").into_response();
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
}
