//! What a request spent that must come back when the request fails on the server's side.
//!
//! A client assertion's `jti` (RFC 7523) and a DPoP proof's `jti` (RFC 9449) are spent in the
//! short-lived store as soon as they are checked, before the grant runs. When the grant then
//! fails with a 5xx (a store outage), the client's retry with the same assertion or proof must
//! not be refused as a replay: "a 5xx never consumes a single-use thing". The checks record the
//! keys they spent here, in the scope of one token request ([`tracked`]), and the keys are
//! released when the answer is `server_error` or `temporarily_unavailable`.

use std::cell::RefCell;
use std::future::Future;

use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::store::ShortLivedStore;

tokio::task_local! {
    static SPENT: RefCell<Vec<String>>;
}

/// Records that the current request spent `key` (a short-lived-store key). Outside a
/// [`tracked`] scope (revocation, introspection, userinfo) nothing is recorded.
pub(crate) fn spent(key: String) {
    let _ = SPENT.try_with(|keys| keys.borrow_mut().push(key));
}

/// Whether an error is the server's (the request may be retried as it was).
fn server_side(error: &OAuthError) -> bool {
    matches!(
        error.code,
        ErrorCode::ServerError | ErrorCode::TemporarilyUnavailable
    )
}

/// Runs `request`; if it fails on the server's side, gives back every key it spent (best effort:
/// the store that failed may still be failing, and then the keys expire with their proofs).
pub(crate) async fn tracked<T, E>(
    store: &dyn ShortLivedStore,
    request: impl Future<Output = Result<T, E>>,
    error_of: impl Fn(&E) -> &OAuthError,
) -> Result<T, E> {
    let (result, keys) = SPENT
        .scope(RefCell::new(Vec::new()), async {
            let result = request.await;
            let keys = SPENT.with(|keys| keys.take());
            (result, keys)
        })
        .await;
    if let Err(e) = &result
        && server_side(error_of(e))
    {
        for key in keys {
            if let Err(e) = store.delete(&key).await {
                tracing::warn!(error = %e, "a spent jti could not be given back after a server error");
            }
        }
    }
    result
}
