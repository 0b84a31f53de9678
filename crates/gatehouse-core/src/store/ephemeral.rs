//! Short-lived storage port: a key-value store with TTLs, atomic take, counters and sets.
//!
//! One narrow trait serves every kind of short-lived state, because they all need the same few
//! operations and an adapter (Redis, memory) should be small enough to audit at a glance. Each
//! kind lives in its own key [`Namespace`], and [`Records`] gives typed, JSON-encoded access.
//! Keys passed in are already unguessable or hashed (challenge ids, keyed token hashes), never
//! a raw bearer secret.

use async_trait::async_trait;
use serde::{Serialize, de::DeserializeOwned};
use std::time::Duration;

use super::{StoreError, StoreResult};

#[async_trait]
pub trait ShortLivedStore: Send + Sync {
    /// `"redis"` or `"memory"`: named in readiness answers and logs.
    fn backend(&self) -> &'static str;
    async fn ping(&self) -> StoreResult<()>;
    /// Stores `value` under `key` for `ttl`, replacing any previous value.
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> StoreResult<()>;
    /// Stores only when `key` is free; returns whether it stored.
    async fn put_new(&self, key: &str, value: &[u8], ttl: Duration) -> StoreResult<bool>;
    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>>;
    /// The values of several keys in one round trip, in the order asked (`None` where absent).
    async fn get_many(&self, keys: &[String]) -> StoreResult<Vec<Option<Vec<u8>>>>;
    /// Atomic get-and-delete: of any number of concurrent takers exactly one gets the value.
    /// This is what makes authorization codes single-use.
    async fn take(&self, key: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Returns whether something was deleted.
    async fn delete(&self, key: &str) -> StoreResult<bool>;
    /// Adds one to the counter at `key` and returns the new count. The first increment starts a
    /// fixed window of length `window`, after which the counter is gone.
    async fn increment(&self, key: &str, window: Duration) -> StoreResult<u64>;
    /// Adds `member` to the set at `key`; the set lives at least `ttl` from now.
    async fn set_add(&self, key: &str, member: &str, ttl: Duration) -> StoreResult<()>;
    /// Removes the set at `key` and returns its members (any order).
    async fn set_take(&self, key: &str) -> StoreResult<Vec<String>>;
    /// The members of the set at `key` (any order), leaving it in place; empty when there is none.
    async fn set_members(&self, key: &str) -> StoreResult<Vec<String>>;
    /// Removes `member` from the set at `key`; whether it was there.
    async fn set_remove(&self, key: &str, member: &str) -> StoreResult<bool>;
}

/// The kinds of short-lived state, each in its own key prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// Authorization codes, keyed by the code's keyed hash.
    AuthorizationCode,
    /// Spent authorization codes, remembered so a replay can revoke what the code issued.
    SpentAuthorizationCode,
    /// Pending authorization requests behind login/consent challenge ids.
    Challenge,
    /// Login sessions, keyed by the session cookie's keyed hash.
    LoginSession,
    /// Opaque access tokens, keyed by the token's keyed hash.
    AccessToken,
    /// Sets of access-token hashes per grant, so a revoked grant ends its access tokens.
    AccessTokenIndex,
    /// Failed-login counters per username and per client IP.
    RateLimit,
    /// Revocation cut-offs: what a user, a consent or a client incarnation ended, checked where
    /// grants and access tokens are used (see `crate::revocation`).
    Revocation,
    /// Sets of login-session keys per user, so disabling a user or resetting a password ends
    /// every session of the user.
    LoginSessionIndex,
    /// Why a grant was revoked for cause (a replayed code, a reused refresh token), keyed by
    /// the grant id, so a later refresh can say why it is refused.
    GrantRevocationReason,
    /// Pushed authorization requests (RFC 9126), keyed by the `request_uri`'s keyed hash.
    PushedAuthorizationRequest,
    /// The `jti` of DPoP proofs already seen (RFC 9449 §11.1), keyed by the keyed hash of the
    /// proof key's thumbprint and the `jti`, kept as long as a proof's `iat` is accepted.
    DpopProofJti,
    /// `jti`s of client assertions (RFC 7523 §3) already used, until the assertion expires,
    /// keyed by [`crate::client_assertion::replay_key`].
    ClientAssertionJti,
    /// Device authorizations (RFC 8628), keyed by the device code's keyed hash.
    DeviceCode,
    /// The device code (its keyed hash) behind a user code, keyed by the user code's keyed hash.
    DeviceUserCode,
    /// When a device code was last polled and its interval, keyed by the device code's keyed hash.
    DevicePoll,
    /// Single-use links mailed to users (password reset, email verification), keyed by the
    /// link token's keyed hash (see `crate::account_recovery`).
    AccountLink,
    /// When and from where a login session was last used, keyed like [`Self::LoginSession`].
    /// Kept apart from the session so that recording a visit can never bring back a session
    /// that was ended meanwhile.
    LoginSessionSeen,
    /// WebAuthn ceremonies between their start and finish (the challenge and what it may be
    /// answered with), keyed by a random ceremony id and taken once.
    PasskeyCeremony,
}

impl Namespace {
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "gh:code:",
            Self::SpentAuthorizationCode => "gh:code-spent:",
            Self::Challenge => "gh:challenge:",
            Self::LoginSession => "gh:session:",
            Self::AccessToken => "gh:at:",
            Self::AccessTokenIndex => "gh:at-index:",
            Self::RateLimit => "gh:rl:",
            Self::Revocation => "gh:revoked:",
            Self::LoginSessionIndex => "gh:session-index:",
            Self::GrantRevocationReason => "gh:grant-revoked:",
            Self::PushedAuthorizationRequest => "gh:par:",
            Self::DpopProofJti => "gh:dpop-jti:",
            Self::ClientAssertionJti => "gh:jti:",
            Self::DeviceCode => "gh:device:",
            Self::DeviceUserCode => "gh:device-user:",
            Self::DevicePoll => "gh:device-poll:",
            Self::AccountLink => "gh:account-link:",
            Self::LoginSessionSeen => "gh:session-seen:",
            Self::PasskeyCeremony => "gh:passkey:",
        }
    }

    pub fn key(self, id: &str) -> String {
        let prefix = self.prefix();
        let mut key = String::with_capacity(prefix.len() + id.len());
        key.push_str(prefix);
        key.push_str(id);
        key
    }
}

/// Typed, JSON-encoded records over any [`ShortLivedStore`].
#[derive(Clone, Copy)]
pub struct Records<'a> {
    store: &'a dyn ShortLivedStore,
}

impl<'a> Records<'a> {
    pub fn new(store: &'a dyn ShortLivedStore) -> Self {
        Self { store }
    }

    pub async fn put<T: Serialize + Sync>(
        &self,
        ns: Namespace,
        id: &str,
        value: &T,
        ttl: Duration,
    ) -> StoreResult<()> {
        self.store.put(&ns.key(id), &encode(value)?, ttl).await
    }

    pub async fn put_new<T: Serialize + Sync>(
        &self,
        ns: Namespace,
        id: &str,
        value: &T,
        ttl: Duration,
    ) -> StoreResult<bool> {
        self.store.put_new(&ns.key(id), &encode(value)?, ttl).await
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        ns: Namespace,
        id: &str,
    ) -> StoreResult<Option<T>> {
        self.store
            .get(&ns.key(id))
            .await?
            .map(|b| decode(&b))
            .transpose()
    }

    /// The records `ids` in one round trip, in the order asked (`None` where absent).
    pub async fn get_many<T: DeserializeOwned>(
        &self,
        ns: Namespace,
        ids: &[String],
    ) -> StoreResult<Vec<Option<T>>> {
        let keys: Vec<String> = ids.iter().map(|id| ns.key(id)).collect();
        self.store
            .get_many(&keys)
            .await?
            .into_iter()
            .map(|b| b.map(|b| decode(&b)).transpose())
            .collect()
    }

    pub async fn take<T: DeserializeOwned>(
        &self,
        ns: Namespace,
        id: &str,
    ) -> StoreResult<Option<T>> {
        self.store
            .take(&ns.key(id))
            .await?
            .map(|b| decode(&b))
            .transpose()
    }

    pub async fn delete(&self, ns: Namespace, id: &str) -> StoreResult<bool> {
        self.store.delete(&ns.key(id)).await
    }
}

fn encode<T: Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(format!("encoding record: {e}")))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("decoding record: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn namespaces_do_not_collide() {
        let all = [
            Namespace::AuthorizationCode,
            Namespace::SpentAuthorizationCode,
            Namespace::Challenge,
            Namespace::LoginSession,
            Namespace::AccessToken,
            Namespace::AccessTokenIndex,
            Namespace::RateLimit,
            Namespace::Revocation,
            Namespace::LoginSessionIndex,
            Namespace::GrantRevocationReason,
            Namespace::PushedAuthorizationRequest,
            Namespace::DpopProofJti,
            Namespace::ClientAssertionJti,
            Namespace::DeviceCode,
            Namespace::DeviceUserCode,
            Namespace::DevicePoll,
            Namespace::AccountLink,
            Namespace::LoginSessionSeen,
            Namespace::PasskeyCeremony,
        ];
        for a in all {
            for b in all {
                if a != b {
                    assert!(!a.prefix().starts_with(b.prefix()), "{a:?} vs {b:?}");
                }
            }
        }
        assert_eq!(Namespace::Challenge.key("abc"), "gh:challenge:abc");
    }

    use crate::store::fake::FakeStore;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Note {
        text: String,
    }

    fn note(text: &str) -> Note {
        Note {
            text: text.to_owned(),
        }
    }

    const TTL: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn records_are_json_under_their_namespace_with_their_ttl() {
        let store = FakeStore::default();
        let records = Records::new(&store);
        records
            .put(Namespace::Challenge, "c1", &note("hello"), TTL)
            .await
            .unwrap();
        assert_eq!(store.keys(), ["gh:challenge:c1"]);
        assert_eq!(store.ttl("gh:challenge:c1"), Some(TTL));
        assert_eq!(
            store.get("gh:challenge:c1").await.unwrap().as_deref(),
            Some(br#"{"text":"hello"}"#.as_slice())
        );
        assert_eq!(
            records
                .get::<Note>(Namespace::Challenge, "c1")
                .await
                .unwrap(),
            Some(note("hello"))
        );
        assert_eq!(
            records
                .get::<Note>(Namespace::LoginSession, "c1")
                .await
                .unwrap(),
            None,
            "another namespace"
        );
    }

    #[tokio::test]
    async fn many_records_are_read_in_the_order_asked() {
        let store = FakeStore::default();
        let records = Records::new(&store);
        for id in ["a", "c"] {
            records
                .put(Namespace::LoginSessionSeen, id, &note(id), TTL)
                .await
                .unwrap();
        }
        records
            .put(Namespace::LoginSession, "b", &note("b"), TTL)
            .await
            .unwrap();
        let ids = ["c", "b", "a"].map(String::from);
        assert_eq!(
            records
                .get_many::<Note>(Namespace::LoginSessionSeen, &ids)
                .await
                .unwrap(),
            [Some(note("c")), None, Some(note("a"))],
            "b is in another namespace"
        );
        store
            .put("gh:session-seen:x", b"not json", TTL)
            .await
            .unwrap();
        assert!(
            records
                .get_many::<Note>(Namespace::LoginSessionSeen, &["x".into()])
                .await
                .is_err(),
            "a record that does not decode is corrupt"
        );
    }

    #[tokio::test]
    async fn put_new_stores_only_once_and_take_gives_the_value_once() {
        let store = FakeStore::default();
        let records = Records::new(&store);
        assert!(
            records
                .put_new(Namespace::AuthorizationCode, "h", &note("first"), TTL)
                .await
                .unwrap()
        );
        assert!(
            !records
                .put_new(Namespace::AuthorizationCode, "h", &note("second"), TTL)
                .await
                .unwrap()
        );
        assert_eq!(
            records
                .take::<Note>(Namespace::AuthorizationCode, "h")
                .await
                .unwrap(),
            Some(note("first"))
        );
        assert_eq!(
            records
                .take::<Note>(Namespace::AuthorizationCode, "h")
                .await
                .unwrap(),
            None
        );
        records
            .put(Namespace::AccessToken, "t", &note("x"), TTL)
            .await
            .unwrap();
        assert!(records.delete(Namespace::AccessToken, "t").await.unwrap());
        assert!(!records.delete(Namespace::AccessToken, "t").await.unwrap());
        assert!(store.keys().is_empty());
    }

    #[tokio::test]
    async fn a_record_that_does_not_decode_is_corrupt_not_absent() {
        let store = FakeStore::default();
        store.put("gh:at:bad", b"not json", TTL).await.unwrap();
        let records = Records::new(&store);
        assert!(matches!(
            records.get::<Note>(Namespace::AccessToken, "bad").await,
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            records.take::<Note>(Namespace::AccessToken, "bad").await,
            Err(StoreError::Corrupt(_))
        ));
    }

    #[tokio::test]
    async fn an_unreachable_store_is_reported_not_hidden() {
        let store = FakeStore::default();
        store.down.store(true, std::sync::atomic::Ordering::SeqCst);
        let records = Records::new(&store);
        assert!(matches!(
            records.get::<Note>(Namespace::AccessToken, "t").await,
            Err(StoreError::Unavailable { .. })
        ));
        assert!(matches!(
            records
                .put(Namespace::AccessToken, "t", &note("x"), TTL)
                .await,
            Err(StoreError::Unavailable { .. })
        ));
    }
}
