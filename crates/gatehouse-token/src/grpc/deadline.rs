//! gRPC deadlines (the `grpc-timeout` request header): a call does not run past its caller's
//! deadline, and ends with `DEADLINE_EXCEEDED` when it would.
//!
//! tonic's server also enforces `grpc-timeout`, but it answers `CANCELLED`, and it only does so
//! when the service is mounted on `tonic::transport::Server`. This wrapper stops the handler a
//! little earlier ([`EARLY`]) so the caller gets the code the gRPC spec names, wherever the
//! service is mounted. Stopping drops the handler's future: nothing of the call runs on.

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Duration;

use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::NamedService;

/// How much sooner than the caller's deadline a call is stopped, at most (never more than half
/// of the time the caller gave).
pub const EARLY: Duration = Duration::from_millis(5);

/// A gRPC service that honours its callers' deadlines.
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
}

impl<S> Deadline<S> {
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S: NamedService> NamedService for Deadline<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<http::Request<Body>> for Deadline<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let budget = request
            .headers()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout)
            .map(handler_budget);
        let call = self.inner.call(request);
        Box::pin(async move {
            let Some(budget) = budget else {
                return call.await;
            };
            match tokio::time::timeout(budget, call).await {
                Ok(answer) => answer,
                Err(_) => Ok(tonic::Status::deadline_exceeded(
                    "the call did not complete within its deadline",
                )
                .into_http()),
            }
        })
    }
}

/// How long the handler may run for a caller who gave it `timeout`.
fn handler_budget(timeout: Duration) -> Duration {
    timeout - EARLY.min(timeout / 2)
}

/// `grpc-timeout` per the gRPC over HTTP/2 spec: 1 to 8 ASCII digits and a unit (`H`ours,
/// `M`inutes, `S`econds, `m`illis, `u`micros, `n`anos). Anything else is ignored, as if no
/// deadline had been sent.
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at_checked(value.len().checked_sub(1)?)?;
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_of_the_spec() {
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(
            parse_grpc_timeout("4999999u"),
            Some(Duration::from_micros(4_999_999))
        );
        assert_eq!(
            parse_grpc_timeout("99999999n"),
            Some(Duration::from_nanos(99_999_999))
        );
    }

    #[test]
    fn ignores_malformed_values() {
        for bad in [
            "",
            "S",
            "5",
            "123456789S",
            "5s",
            "-5S",
            "5 S",
            "1.5S",
            "5SS",
            "é",
        ] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn handlers_stop_a_little_early_but_never_more_than_half_the_budget() {
        assert_eq!(
            handler_budget(Duration::from_secs(5)),
            Duration::from_millis(4995)
        );
        assert_eq!(
            handler_budget(Duration::from_millis(4)),
            Duration::from_millis(2)
        );
        assert_eq!(handler_budget(Duration::ZERO), Duration::ZERO);
    }
}
