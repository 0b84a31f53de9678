//! RFC 6749 error codes and the error value the engine hands to its transports.
//!
//! Authorization-endpoint errors travel as a redirect (or a page when the redirect URI is not
//! trusted); token-endpoint errors travel as JSON (RFC 6749 §5.2). Both carry an [`OAuthError`];
//! the transports decide how it travels.

use std::borrow::Cow;

/// Every error code Gatehouse emits, from RFC 6749 §4.1.2.1 and §5.2, RFC 7009, RFC 6750 §3.1,
/// RFC 7591 §3.2.2, RFC 8707 §2, RFC 9449 and OpenID Connect Core §3.1.2.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    InvalidTarget,
    AccessDenied,
    ServerError,
    TemporarilyUnavailable,
    UnsupportedTokenType,
    InvalidToken,
    InsufficientScope,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    InvalidRedirectUri,
    InvalidClientMetadata,
    NotFound,
    Conflict,
    /// OpenID Connect Core §6: the `request` parameter (a request object) is not supported.
    RequestNotSupported,
    /// OpenID Connect Core §6: the `request_uri` parameter is not supported.
    RequestUriNotSupported,
    /// OpenID Connect Core §3.1.2.6, RFC 9126 §4: the `request_uri` is unknown, expired, spent
    /// or another client's.
    InvalidRequestUri,
    /// RFC 9449 §5, §7.1: the `DPoP` proof is missing, malformed or does not match the request.
    InvalidDpopProof,
    /// RFC 9449 §8, §9: the server requires a nonce in the `DPoP` proof (given in `DPoP-Nonce`).
    UseDpopNonce,
    /// RFC 9101 §6.3: the request object is invalid (signature, claims, or not signed).
    InvalidRequestObject,
    /// RFC 8628 §3.5: the user has not yet answered the device authorization request.
    AuthorizationPending,
    /// RFC 8628 §3.5: polled before the interval passed; the interval grows by 5 seconds.
    SlowDown,
    /// RFC 8628 §3.5: the device code expired.
    ExpiredToken,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::InvalidRequestObject => "invalid_request_object",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        ALL_CODES.iter().copied().find(|c| c.as_str() == code)
    }

    /// The HTTP status an error with this code carries when it is answered directly (token,
    /// revocation, introspection, admin endpoints), per RFC 6749 §5.2 and RFC 6750 §3.1.
    pub const fn http_status(self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::AccessDenied | Self::InsufficientScope => 403,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

const ALL_CODES: [ErrorCode; 30] = [
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

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error: a code from the registry plus a human-readable description.
///
/// The description is written for the client developer and must never contain a secret, a
/// token or a password: it is returned to callers and may be logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: Cow<'static, str>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub fn server_error() -> Self {
        Self::new(
            ErrorCode::ServerError,
            "the server met an unexpected condition",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_wire_name() {
        for code in ALL_CODES {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::parse("made_up"), None);
        assert_eq!(ErrorCode::parse("slow_down"), Some(ErrorCode::SlowDown));
        assert_eq!(
            ErrorCode::parse("authorization_pending"),
            Some(ErrorCode::AuthorizationPending)
        );
        assert_eq!(
            ErrorCode::parse("expired_token"),
            Some(ErrorCode::ExpiredToken)
        );
    }

    #[test]
    fn invalid_client_is_401_and_invalid_grant_400() {
        assert_eq!(ErrorCode::InvalidClient.http_status(), 401);
        assert_eq!(ErrorCode::InvalidGrant.http_status(), 400);
        assert_eq!(ErrorCode::UnsupportedGrantType.http_status(), 400);
    }

    #[test]
    fn every_code_carries_the_status_of_rfc_6749_and_6750() {
        for code in ALL_CODES {
            let expected = match code {
                ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
                ErrorCode::AccessDenied | ErrorCode::InsufficientScope => 403,
                ErrorCode::NotFound => 404,
                ErrorCode::Conflict => 409,
                ErrorCode::ServerError => 500,
                ErrorCode::TemporarilyUnavailable => 503,
                _ => 400,
            };
            assert_eq!(code.http_status(), expected, "{code:?}");
        }
        assert_eq!(ErrorCode::AccessDenied.http_status(), 403);
        assert_eq!(ErrorCode::InsufficientScope.http_status(), 403);
        assert_eq!(ErrorCode::NotFound.http_status(), 404);
        assert_eq!(ErrorCode::Conflict.http_status(), 409);
        assert_eq!(ErrorCode::ServerError.http_status(), 500);
        assert_eq!(ErrorCode::TemporarilyUnavailable.http_status(), 503);
    }
}
