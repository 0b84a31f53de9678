//! OAuth errors as gRPC statuses, in one place for the server and the client.
//!
//! A failed call carries:
//! - a gRPC status code chosen from the OAuth error code ([`grpc_code`]): `invalid_request`,
//!   `invalid_scope`… → `INVALID_ARGUMENT`, `invalid_client` → `UNAUTHENTICATED`,
//!   `access_denied` → `PERMISSION_DENIED`, `not_found` → `NOT_FOUND`,
//!   `temporarily_unavailable` → `UNAVAILABLE`, `server_error` → `INTERNAL`;
//! - the error description as the status message;
//! - the whole [`OAuthError`] message in the status details, inside a `google.rpc.Status`
//!   (the standard gRPC error model, so any gRPC client can read it), under
//!   [`OAUTH_ERROR_TYPE_URL`].
//!
//! The status code is lossy (many OAuth codes share one gRPC code); the details are not, so
//! `oauth_from_status(&status_from_oauth(e)) == e` for every error.

use gatehouse_core::authorize::AuthorizeError;
use gatehouse_core::error::{ErrorCode, OAuthError as DomainError};
use gatehouse_core::redirect::RedirectUri;
use prost::Message as _;
use tonic::{Code, Status};

use crate::google::rpc::Status as RpcStatus;
use crate::token::v1::OAuthError;

/// The `Any` type URL of [`OAuthError`] in a status's details.
pub const OAUTH_ERROR_TYPE_URL: &str = "type.googleapis.com/gatehouse.token.v1.OAuthError";

/// The gRPC status code an OAuth error travels with.
pub const fn grpc_code(code: ErrorCode) -> Code {
    match code {
        ErrorCode::InvalidRequest
        | ErrorCode::InvalidGrant
        | ErrorCode::UnsupportedGrantType
        | ErrorCode::UnsupportedResponseType
        | ErrorCode::InvalidScope
        | ErrorCode::InvalidTarget
        | ErrorCode::UnsupportedTokenType
        | ErrorCode::InvalidRedirectUri
        | ErrorCode::InvalidClientMetadata
        | ErrorCode::RequestNotSupported
        | ErrorCode::RequestUriNotSupported
        | ErrorCode::InvalidRequestUri
        | ErrorCode::InvalidDpopProof
        | ErrorCode::UseDpopNonce
        | ErrorCode::InvalidRequestObject
        | ErrorCode::AuthorizationPending
        | ErrorCode::SlowDown
        | ErrorCode::ExpiredToken => Code::InvalidArgument,
        ErrorCode::InvalidClient | ErrorCode::InvalidToken => Code::Unauthenticated,
        ErrorCode::UnauthorizedClient | ErrorCode::AccessDenied | ErrorCode::InsufficientScope => {
            Code::PermissionDenied
        }
        // OpenID Connect Core §3.1.2.6: the request needs user interaction first.
        ErrorCode::LoginRequired | ErrorCode::ConsentRequired | ErrorCode::InteractionRequired => {
            Code::FailedPrecondition
        }
        ErrorCode::NotFound => Code::NotFound,
        ErrorCode::Conflict => Code::AlreadyExists,
        ErrorCode::ServerError => Code::Internal,
        ErrorCode::TemporarilyUnavailable => Code::Unavailable,
    }
}

/// The status a handler answers with for `error`.
pub fn status_from_oauth(error: &OAuthError) -> Status {
    let code = ErrorCode::parse(&error.error).map_or(Code::Unknown, grpc_code);
    status_with_code(code, error)
}

/// A status with a chosen `code` (where the OAuth code alone does not say it, e.g.
/// `FAILED_PRECONDITION` for an action the record's state does not allow), the error in its
/// details as always.
pub fn status_with_code(code: Code, error: &OAuthError) -> Status {
    let message = error.error_description.clone();
    let details = RpcStatus {
        code: code as i32,
        message: message.clone(),
        details: vec![prost_types::Any {
            type_url: OAUTH_ERROR_TYPE_URL.to_owned(),
            value: error.encode_to_vec(),
        }],
    };
    Status::with_details(code, message, details.encode_to_vec().into())
}

/// The OAuth error a failed call carries. A status without Gatehouse's details (the token
/// service was unreachable, the deadline passed, a layer before the handler refused the call)
/// is read from its code: unreachable, deadline and cancellation become
/// `temporarily_unavailable` (retry later), anything unexpected `server_error`.
pub fn oauth_from_status(status: &Status) -> OAuthError {
    if let Some(error) = details_of(status) {
        return error;
    }
    let code = match status.code() {
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::Cancelled
        | Code::ResourceExhausted
        | Code::Aborted => ErrorCode::TemporarilyUnavailable,
        Code::InvalidArgument | Code::OutOfRange => ErrorCode::InvalidRequest,
        Code::FailedPrecondition => ErrorCode::InteractionRequired,
        Code::Unauthenticated => ErrorCode::InvalidClient,
        Code::PermissionDenied => ErrorCode::AccessDenied,
        Code::NotFound => ErrorCode::NotFound,
        Code::AlreadyExists => ErrorCode::Conflict,
        Code::Ok | Code::Unknown | Code::Unimplemented | Code::Internal | Code::DataLoss => {
            ErrorCode::ServerError
        }
    };
    let description = match status.message() {
        "" => format!("token service call failed: {}", status.code().description()),
        message => format!(
            "token service call failed: {}: {message}",
            status.code().description()
        ),
    };
    OAuthError {
        error: code.as_str().to_owned(),
        error_description: description,
        ..OAuthError::default()
    }
}

fn details_of(status: &Status) -> Option<OAuthError> {
    let rpc = RpcStatus::decode(status.details()).ok()?;
    let any = rpc
        .details
        .into_iter()
        .find(|d| d.type_url == OAUTH_ERROR_TYPE_URL)?;
    OAuthError::decode(any.value.as_slice()).ok()
}

impl From<&DomainError> for OAuthError {
    fn from(e: &DomainError) -> Self {
        Self {
            error: e.code.as_str().to_owned(),
            error_description: e.description.to_string(),
            ..Self::default()
        }
    }
}

/// An unknown error code (from a newer server) reads as `server_error`, keeping its description.
impl From<&OAuthError> for DomainError {
    fn from(e: &OAuthError) -> Self {
        DomainError::new(
            ErrorCode::parse(&e.error).unwrap_or(ErrorCode::ServerError),
            e.error_description.clone(),
        )
    }
}

impl From<&AuthorizeError> for OAuthError {
    fn from(e: &AuthorizeError) -> Self {
        match e {
            AuthorizeError::Untrusted(error) => error.into(),
            AuthorizeError::Redirect {
                redirect_uri,
                error,
                state,
            } => Self {
                redirectable: true,
                redirect_uri: redirect_uri.to_string(),
                state: state.clone().unwrap_or_default(),
                ..error.into()
            },
        }
    }
}

/// A redirectable error without a usable redirect URI cannot be redirected: it is shown as a
/// page.
impl From<&OAuthError> for AuthorizeError {
    fn from(e: &OAuthError) -> Self {
        let redirect_uri = (e.redirectable && !e.redirect_uri.is_empty())
            .then(|| RedirectUri::parse(&e.redirect_uri, true).ok())
            .flatten();
        match redirect_uri {
            Some(redirect_uri) => AuthorizeError::Redirect {
                redirect_uri,
                error: e.into(),
                state: (!e.state.is_empty()).then(|| e.state.clone()),
            },
            None => AuthorizeError::Untrusted(e.into()),
        }
    }
}

/// The status for a domain error.
pub fn status_from_domain(error: &DomainError) -> Status {
    status_from_oauth(&error.into())
}

/// The status for a domain error, with a chosen gRPC code (see [`status_with_code`]).
pub fn status_from_domain_with_code(code: Code, error: &DomainError) -> Status {
    status_with_code(code, &error.into())
}

/// The status for a failed authorization request, keeping whether it may be redirected.
pub fn status_from_authorize(error: &AuthorizeError) -> Status {
    status_from_oauth(&error.into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Every code, in declaration order. `position` fails to compile when a code is added, which
    /// points here to extend the list.
    const ALL: [ErrorCode; 30] = [
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidClient,
        ErrorCode::InvalidGrant,
        ErrorCode::UnauthorizedClient,
        ErrorCode::UnsupportedGrantType,
        ErrorCode::UnsupportedResponseType,
        ErrorCode::InvalidScope,
        ErrorCode::InvalidTarget,
        ErrorCode::AccessDenied,
        ErrorCode::ServerError,
        ErrorCode::TemporarilyUnavailable,
        ErrorCode::UnsupportedTokenType,
        ErrorCode::InvalidToken,
        ErrorCode::InsufficientScope,
        ErrorCode::LoginRequired,
        ErrorCode::ConsentRequired,
        ErrorCode::InteractionRequired,
        ErrorCode::InvalidRedirectUri,
        ErrorCode::InvalidClientMetadata,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::RequestNotSupported,
        ErrorCode::RequestUriNotSupported,
        ErrorCode::InvalidRequestUri,
        ErrorCode::InvalidDpopProof,
        ErrorCode::UseDpopNonce,
        ErrorCode::InvalidRequestObject,
        ErrorCode::AuthorizationPending,
        ErrorCode::SlowDown,
        ErrorCode::ExpiredToken,
    ];

    fn position(code: ErrorCode) -> usize {
        match code {
            ErrorCode::InvalidRequest => 0,
            ErrorCode::InvalidClient => 1,
            ErrorCode::InvalidGrant => 2,
            ErrorCode::UnauthorizedClient => 3,
            ErrorCode::UnsupportedGrantType => 4,
            ErrorCode::UnsupportedResponseType => 5,
            ErrorCode::InvalidScope => 6,
            ErrorCode::InvalidTarget => 7,
            ErrorCode::AccessDenied => 8,
            ErrorCode::ServerError => 9,
            ErrorCode::TemporarilyUnavailable => 10,
            ErrorCode::UnsupportedTokenType => 11,
            ErrorCode::InvalidToken => 12,
            ErrorCode::InsufficientScope => 13,
            ErrorCode::LoginRequired => 14,
            ErrorCode::ConsentRequired => 15,
            ErrorCode::InteractionRequired => 16,
            ErrorCode::InvalidRedirectUri => 17,
            ErrorCode::InvalidClientMetadata => 18,
            ErrorCode::NotFound => 19,
            ErrorCode::Conflict => 20,
            ErrorCode::RequestNotSupported => 21,
            ErrorCode::RequestUriNotSupported => 22,
            ErrorCode::InvalidRequestUri => 23,
            ErrorCode::InvalidDpopProof => 24,
            ErrorCode::UseDpopNonce => 25,
            ErrorCode::InvalidRequestObject => 26,
            ErrorCode::AuthorizationPending => 27,
            ErrorCode::SlowDown => 28,
            ErrorCode::ExpiredToken => 29,
        }
    }

    #[test]
    fn the_code_list_is_complete() {
        for (i, code) in ALL.iter().enumerate() {
            assert_eq!(position(*code), i, "{code}");
        }
    }

    #[test]
    fn every_error_code_round_trips_through_a_status() {
        for code in ALL {
            for redirectable in [false, true] {
                let error = OAuthError {
                    error: code.as_str().to_owned(),
                    error_description: format!("something about {code}"),
                    redirectable,
                    redirect_uri: if redirectable {
                        "https://app.example/cb".to_owned()
                    } else {
                        String::new()
                    },
                    state: if redirectable {
                        "xyz".to_owned()
                    } else {
                        String::new()
                    },
                };
                let status = status_from_oauth(&error);
                assert_eq!(status.code(), grpc_code(code), "{code}");
                assert_eq!(status.message(), error.error_description);
                assert_eq!(oauth_from_status(&status), error, "{code}");
                let domain = DomainError::from(&oauth_from_status(&status));
                assert_eq!(domain.code, code);
            }
        }
    }

    #[test]
    fn status_codes_follow_the_error_class() {
        assert_eq!(grpc_code(ErrorCode::InvalidRequest), Code::InvalidArgument);
        assert_eq!(grpc_code(ErrorCode::InvalidScope), Code::InvalidArgument);
        assert_eq!(grpc_code(ErrorCode::InvalidClient), Code::Unauthenticated);
        assert_eq!(grpc_code(ErrorCode::AccessDenied), Code::PermissionDenied);
        assert_eq!(grpc_code(ErrorCode::NotFound), Code::NotFound);
        assert_eq!(
            grpc_code(ErrorCode::TemporarilyUnavailable),
            Code::Unavailable
        );
        assert_eq!(grpc_code(ErrorCode::ServerError), Code::Internal);
    }

    #[test]
    fn details_are_a_standard_google_rpc_status() {
        let status = status_from_domain(&DomainError::new(ErrorCode::InvalidScope, "too much"));
        let rpc = RpcStatus::decode(status.details()).map_err(|e| e.to_string());
        let Ok(rpc) = rpc else { panic!("{rpc:?}") };
        assert_eq!(rpc.code, Code::InvalidArgument as i32);
        assert_eq!(rpc.message, "too much");
        assert_eq!(rpc.details.len(), 1);
        assert_eq!(rpc.details[0].type_url, OAUTH_ERROR_TYPE_URL);
    }

    #[test]
    fn authorize_errors_keep_whether_they_redirect() {
        let redirect = AuthorizeError::Redirect {
            redirect_uri: RedirectUri::parse("https://app.example/cb", false).unwrap(),
            error: DomainError::new(ErrorCode::InvalidScope, "nope"),
            state: Some("s1".into()),
        };
        let untrusted =
            AuthorizeError::Untrusted(DomainError::new(ErrorCode::InvalidClient, "who?"));
        let no_state = AuthorizeError::Redirect {
            redirect_uri: RedirectUri::parse("https://app.example/cb", false).unwrap(),
            error: DomainError::new(ErrorCode::InvalidRequest, "long state"),
            state: None,
        };
        for e in [redirect, untrusted, no_state] {
            let status = status_from_authorize(&e);
            assert_eq!(AuthorizeError::from(&oauth_from_status(&status)), e);
        }
    }

    #[test]
    fn statuses_without_details_are_read_from_their_code() {
        let cases = [
            (
                Status::deadline_exceeded("slow"),
                ErrorCode::TemporarilyUnavailable,
            ),
            (
                Status::cancelled("Timeout expired"),
                ErrorCode::TemporarilyUnavailable,
            ),
            (
                Status::unavailable("connection refused"),
                ErrorCode::TemporarilyUnavailable,
            ),
            (Status::unauthenticated(""), ErrorCode::InvalidClient),
            (Status::not_found("x"), ErrorCode::NotFound),
            (Status::internal("boom"), ErrorCode::ServerError),
            (Status::unimplemented(""), ErrorCode::ServerError),
            (
                Status::with_details(Code::Internal, "junk details", vec![0xff, 0x01].into()),
                ErrorCode::ServerError,
            ),
        ];
        for (status, expected) in cases {
            let e = oauth_from_status(&status);
            assert_eq!(e.error, expected.as_str(), "{status:?}");
            assert!(!e.redirectable);
            assert!(
                e.error_description.starts_with("token service call failed"),
                "{}",
                e.error_description
            );
        }
    }

    #[test]
    fn unknown_error_codes_read_as_server_error() {
        let e = OAuthError {
            error: "brand_new_error".into(),
            error_description: "from the future".into(),
            ..OAuthError::default()
        };
        let status = status_from_oauth(&e);
        assert_eq!(status.code(), Code::Unknown);
        assert_eq!(oauth_from_status(&status), e);
        assert_eq!(DomainError::from(&e).code, ErrorCode::ServerError);
    }
}
