//! How errors travel over HTTP, in one place.
//!
//! - Token, revocation and introspection endpoints: RFC 6749 §5.2, a JSON body
//!   `{"error", "error_description"}` with the status of the code; `invalid_client` after an
//!   attempt with the `Authorization` header is 401 with `WWW-Authenticate: Basic`.
//! - The UserInfo endpoint: RFC 6750 §3, a `WWW-Authenticate: Bearer` challenge.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::error::{ErrorCode, OAuthError};
use serde::Serialize;

use crate::grants::TokenEndpointError;

/// The RFC 6749 §5.2 error body.
#[derive(Debug, Serialize)]
pub(super) struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

/// An error of the token, revocation or introspection endpoint.
#[derive(Debug)]
pub(super) struct EndpointError {
    status: StatusCode,
    error: OAuthError,
    basic_auth_attempted: bool,
}

impl EndpointError {
    /// With the status the code carries (RFC 6749 §5.2, `ErrorCode::http_status`).
    pub(super) fn new(error: OAuthError) -> Self {
        // RFC 6749 §5.2: every error of these endpoints is 400 but `invalid_client`; the device
        // grant's `access_denied` (RFC 8628 §3.5) is one of them, not the 403 it is elsewhere.
        let status = match error.code {
            ErrorCode::AccessDenied => StatusCode::BAD_REQUEST,
            code => status_of(code),
        };
        Self {
            status,
            error,
            basic_auth_attempted: false,
        }
    }

    /// A client-authentication outcome: `invalid_client` gets the Basic challenge when the
    /// client tried the `Authorization` header (RFC 6749 §5.2).
    pub(super) fn client_auth(error: OAuthError, basic_auth_attempted: bool) -> Self {
        Self {
            basic_auth_attempted,
            ..Self::new(error)
        }
    }

    /// A body over [`super::MAX_FORM_BYTES`]: `invalid_request` with 413, so the client learns why.
    pub(super) fn payload_too_large() -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            error: OAuthError::invalid_request(format!(
                "the request body exceeds {} bytes",
                super::MAX_FORM_BYTES
            )),
            basic_auth_attempted: false,
        }
    }
}

impl From<OAuthError> for EndpointError {
    fn from(error: OAuthError) -> Self {
        Self::new(error)
    }
}

impl From<TokenEndpointError> for EndpointError {
    fn from(e: TokenEndpointError) -> Self {
        Self::client_auth(e.error, e.basic_auth_attempted)
    }
}

impl IntoResponse for EndpointError {
    fn into_response(self) -> Response {
        let description = quotable(&self.error.description);
        let body = ErrorBody {
            error: self.error.code.as_str(),
            error_description: &description,
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.error.code == ErrorCode::InvalidClient && self.basic_auth_attempted {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"gatehouse\""),
            );
        }
        response
    }
}

fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
}

/// An error of a bearer-protected resource (RFC 6750 §3).
#[derive(Debug)]
pub(super) enum BearerError {
    /// No bearer token at all: a bare challenge, no error attribute (RFC 6750 §3.1).
    Missing,
    /// `invalid_request`, `invalid_token`, `insufficient_scope`, or a server-side failure.
    Failed(OAuthError),
    /// A body over the size limit.
    TooLarge,
    /// A failure of a request with the `DPoP` scheme (RFC 9449 §7.1): a `DPoP` challenge.
    Dpop(OAuthError),
}

/// The `algs` of the `DPoP` challenge (RFC 9449 §7.1).
fn dpop_algs() -> String {
    gatehouse_core::dpop::SUPPORTED_ALGS.join(" ")
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let error = match self {
            Self::Missing => {
                let challenge = HeaderValue::from_static("Bearer realm=\"gatehouse\"");
                let mut response = (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, challenge)],
                )
                    .into_response();
                if let Ok(dpop) = HeaderValue::from_str(&format!("DPoP algs=\"{}\"", dpop_algs())) {
                    response
                        .headers_mut()
                        .append(header::WWW_AUTHENTICATE, dpop);
                }
                return response;
            }
            Self::TooLarge => return EndpointError::payload_too_large().into_response(),
            Self::Dpop(error) => return dpop_failure(error),
            Self::Failed(error) => error,
        };
        let status = status_of(error.code);
        let description = quotable(&error.description);
        let body = ErrorBody {
            error: error.code.as_str(),
            error_description: &description,
        };
        let mut response = (status, Json(body)).into_response();
        // Server-side failures are not the bearer's fault: no challenge for them.
        if matches!(
            error.code,
            ErrorCode::InvalidRequest | ErrorCode::InvalidToken | ErrorCode::InsufficientScope
        ) {
            let challenge = format!(
                "Bearer error=\"{}\", error_description=\"{}\"",
                error.code.as_str(),
                description
            );
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

/// A failed request of the `DPoP` scheme: 401 with a `DPoP` challenge naming the error and the
/// accepted algorithms (RFC 9449 §7.1), 400 for a malformed request, as for bearer tokens.
fn dpop_failure(error: OAuthError) -> Response {
    let challenged = matches!(
        error.code,
        ErrorCode::InvalidRequest
            | ErrorCode::InvalidToken
            | ErrorCode::InsufficientScope
            | ErrorCode::InvalidDpopProof
            | ErrorCode::UseDpopNonce
    );
    let status = match error.code {
        ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce => StatusCode::UNAUTHORIZED,
        code => status_of(code),
    };
    let description = quotable(&error.description);
    let body = ErrorBody {
        error: error.code.as_str(),
        error_description: &description,
    };
    let mut response = (status, Json(body)).into_response();
    if challenged {
        let challenge = format!(
            "DPoP error=\"{}\", error_description=\"{}\", algs=\"{}\"",
            error.code.as_str(),
            description,
            dpop_algs()
        );
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
    }
    response
}

/// RFC 6749 §5.2 and RFC 6750 §3: `error_description` may hold only %x20-21 / %x23-5B /
/// %x5D-7E (so it can sit in a quoted string); anything else, such as a quote in a value the
/// client sent that a description names, becomes a space.
fn quotable(description: &str) -> String {
    description
        .chars()
        .map(|c| {
            if matches!(c, ' '..='~') && c != '"' && c != '\\' {
                c
            } else {
                ' '
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_descriptions_lose_quotes_backslashes_and_non_ascii() {
        assert_eq!(quotable("the \"x\\y\" token é\n"), "the  x y  token   ");
    }

    #[test]
    fn basic_challenge_only_for_invalid_client_after_basic() {
        let invalid_client =
            OAuthError::new(ErrorCode::InvalidClient, "client authentication failed");
        let with = EndpointError::client_auth(invalid_client.clone(), true).into_response();
        assert_eq!(with.status(), StatusCode::UNAUTHORIZED);
        assert!(with.headers().contains_key(header::WWW_AUTHENTICATE));
        let without = EndpointError::client_auth(invalid_client, false).into_response();
        assert_eq!(without.status(), StatusCode::UNAUTHORIZED);
        assert!(!without.headers().contains_key(header::WWW_AUTHENTICATE));
        let grant =
            EndpointError::client_auth(OAuthError::new(ErrorCode::InvalidGrant, "bad code"), true)
                .into_response();
        assert_eq!(grant.status(), StatusCode::BAD_REQUEST);
        assert!(!grant.headers().contains_key(header::WWW_AUTHENTICATE));
    }
}
