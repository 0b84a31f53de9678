//! Bearer-token protection of the admin listener (`GATEHOUSE_ADMIN_TOKEN`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::{HeaderValue, Request, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::ErrorCode;
use gatehouse_core::secret::{KeyedHasher, SecretString, constant_time_eq, random_token};
use tower::{Layer, Service};

use super::ApiError;

/// A layer that lets a request through only with `Authorization: Bearer <token>`; anything else
/// gets 401 with the JSON error shape and a `WWW-Authenticate` challenge (RFC 6750 §3).
///
/// ```text
/// let admin = gatehouse_token::admin::router(state).layer(require_admin_token(token));
/// ```
pub fn require_admin_token(token: SecretString) -> RequireAdminToken {
    // Both sides are hashed under a per-process random key before the constant-time comparison,
    // so neither the token's content nor its length shows in the timing.
    let hasher = KeyedHasher::new(random_token(32).as_bytes(), "admin-token");
    let expected = hasher.hash(token.expose());
    RequireAdminToken {
        check: Arc::new(TokenCheck { hasher, expected }),
    }
}

struct TokenCheck {
    hasher: KeyedHasher,
    expected: String,
}

/// Why a request was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// No `Bearer` credentials at all (RFC 6750 §3.1: no error code in the challenge).
    Missing,
    /// Credentials that are not the admin token.
    Invalid,
}

impl TokenCheck {
    fn check(&self, authorization: Option<&HeaderValue>) -> Result<(), Refusal> {
        let presented = authorization
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .ok_or(Refusal::Missing)?;
        if constant_time_eq(
            self.hasher.hash(presented).as_bytes(),
            self.expected.as_bytes(),
        ) {
            Ok(())
        } else {
            Err(Refusal::Invalid)
        }
    }
}

/// The credentials of a `Bearer` authorization; the scheme is case-insensitive (RFC 9110 §11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (description, challenge) = match self {
            Self::Missing => (
                "a bearer token is required: send Authorization: Bearer <admin token>",
                r#"Bearer realm="gatehouse-admin""#,
            ),
            Self::Invalid => (
                "the admin token is not valid",
                r#"Bearer realm="gatehouse-admin", error="invalid_token""#,
            ),
        };
        // invalid_token answers 401 (RFC 6750 §3.1).
        let mut response = ApiError::new(ErrorCode::InvalidToken, description).into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
        response
    }
}

/// The [`Layer`] made by [`require_admin_token`].
#[derive(Clone)]
pub struct RequireAdminToken {
    check: Arc<TokenCheck>,
}

impl std::fmt::Debug for RequireAdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequireAdminToken([redacted])")
    }
}

impl<S> Layer<S> for RequireAdminToken {
    type Service = RequireAdminTokenService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireAdminTokenService {
            inner,
            check: Arc::clone(&self.check),
        }
    }
}

/// The [`Service`] made by [`RequireAdminToken`].
#[derive(Clone)]
pub struct RequireAdminTokenService<S> {
    inner: S,
    check: Arc<TokenCheck>,
}

impl<S, B> Service<Request<B>> for RequireAdminTokenService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Error: Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        match self
            .check
            .check(request.headers().get(header::AUTHORIZATION))
        {
            Ok(()) => {
                // The audit log names the admin token as the actor of what follows.
                request.extensions_mut().insert(super::AdminTokenPresented);
                Box::pin(self.inner.call(request))
            }
            Err(refusal) => Box::pin(std::future::ready(Ok(refusal.into_response()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_a_token() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer"), None);
    }
}
