//! Failed-login limits, per username and per client IP, enforced where passwords are checked
//! (the token service), so a second login process or a direct caller of its gRPC API cannot go
//! around them.
//!
//! Counters live in the short-lived store ([`Namespace::RateLimit`]), so every replica sees the
//! same numbers. A failure increments both counters (each a fixed window); reaching a limit
//! places a lock that lasts [`LockoutPolicy::lockout`]. A locked username or IP is refused before
//! the password is checked. A success resets the username's counter. Usernames and IPs are
//! stored only as keyed hashes.

use std::time::Duration;

use crate::secret::KeyedHasher;
use crate::store::{Namespace, ShortLivedStore, StoreResult};

/// Keyed-hash purpose of the counters' keys.
pub const KEY_PURPOSE: &str = "login-limits";

/// Failed-login limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures for one username within `window` that lock it for `lockout` (0: no limit).
    pub max_failures_per_user: u32,
    /// Failures from one client IP within `window` that block it for `lockout` (0: no limit).
    pub max_failures_per_ip: u32,
    pub window: Duration,
    pub lockout: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            max_failures_per_user: 5,
            max_failures_per_ip: 50,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(15 * 60),
        }
    }
}

/// Why an attempt is refused before the password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    User,
    Ip,
}

/// The limits over one short-lived store.
pub struct LoginLimits<'a> {
    pub store: &'a dyn ShortLivedStore,
    pub keys: &'a KeyedHasher,
    pub policy: &'a LockoutPolicy,
}

/// Whether the `count`-th failure within the window reaches the limit `max`.
pub fn reaches_limit(count: u64, max: u32) -> bool {
    max > 0 && count >= u64::from(max)
}

impl LoginLimits<'_> {
    fn key(&self, kind: &str, value: &str) -> String {
        Namespace::RateLimit.key(&format!("login-{kind}:{}", self.keys.hash(value)))
    }

    /// Whether `username` or `ip` is locked right now.
    pub async fn check(&self, username: &str, ip: &str) -> StoreResult<Option<Blocked>> {
        let keys = [
            self.key("ip-lock", ip),
            self.key("user-lock", &normalise(username)),
        ];
        let locks = self.store.get_many(&keys).await?;
        Ok(match locks.as_slice() {
            [Some(_), _] => Some(Blocked::Ip),
            [_, Some(_)] => Some(Blocked::User),
            _ => None,
        })
    }

    /// Counts a failure for `username` and `ip`; answers what it locked, if anything (the IP
    /// when both reached their limit).
    pub async fn record_failure(&self, username: &str, ip: &str) -> StoreResult<Option<Blocked>> {
        let user = normalise(username);
        let window = self.policy.window;
        let mut locked = None;
        let failures = self
            .store
            .increment(&self.key("user", &user), window)
            .await?;
        if reaches_limit(failures, self.policy.max_failures_per_user) {
            self.store
                .put(&self.key("user-lock", &user), b"1", self.policy.lockout)
                .await?;
            self.store.delete(&self.key("user", &user)).await?;
            locked = Some(Blocked::User);
        }
        let failures = self.store.increment(&self.key("ip", ip), window).await?;
        if reaches_limit(failures, self.policy.max_failures_per_ip) {
            self.store
                .put(&self.key("ip-lock", ip), b"1", self.policy.lockout)
                .await?;
            self.store.delete(&self.key("ip", ip)).await?;
            locked = Some(Blocked::Ip);
        }
        Ok(locked)
    }

    pub async fn record_success(&self, username: &str) -> StoreResult<()> {
        self.store
            .delete(&self.key("user", &normalise(username)))
            .await
            .map(drop)
    }
}

/// Usernames differ only in case and surrounding space for counting purposes.
fn normalise(username: &str) -> String {
    username.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_limit_is_reached_at_the_configured_count() {
        assert!(!reaches_limit(4, 5));
        assert!(reaches_limit(5, 5));
        assert!(reaches_limit(6, 5));
        assert!(!reaches_limit(1_000, 0), "zero disables the limit");
    }

    #[test]
    fn usernames_are_counted_case_insensitively() {
        assert_eq!(normalise("  Alice "), normalise("alice"));
    }

    use crate::store::fake::FakeStore;

    const POLICY: LockoutPolicy = LockoutPolicy {
        max_failures_per_user: 3,
        max_failures_per_ip: 5,
        window: Duration::from_secs(900),
        lockout: Duration::from_secs(600),
    };

    fn limits<'a>(store: &'a FakeStore, keys: &'a KeyedHasher) -> LoginLimits<'a> {
        LoginLimits {
            store,
            keys,
            policy: &POLICY,
        }
    }

    #[tokio::test]
    async fn a_username_locks_after_its_limit_whatever_its_case() {
        let (store, keys) = (FakeStore::default(), KeyedHasher::new(b"secret", "lockout"));
        let l = limits(&store, &keys);
        assert_eq!(l.record_failure("Alice", "10.0.0.1").await.unwrap(), None);
        assert_eq!(l.record_failure(" alice", "10.0.0.2").await.unwrap(), None);
        assert_eq!(l.check("ALICE", "10.0.0.3").await.unwrap(), None);
        assert_eq!(
            l.record_failure("alice ", "10.0.0.4").await.unwrap(),
            Some(Blocked::User)
        );
        assert_eq!(
            l.check("Alice", "10.0.0.9").await.unwrap(),
            Some(Blocked::User)
        );
        assert_eq!(l.check("bob", "10.0.0.9").await.unwrap(), None);
        let lock = store
            .keys()
            .into_iter()
            .find(|k| k.contains("login-user-lock:"))
            .unwrap();
        assert_eq!(store.ttl(&lock), Some(POLICY.lockout));
        assert!(lock.starts_with(Namespace::RateLimit.prefix()));
        assert!(
            !store.keys().iter().any(|k| k.contains("alice")),
            "no username in clear"
        );
    }

    #[tokio::test]
    async fn an_address_locks_after_its_limit_and_wins_over_the_user() {
        let (store, keys) = (FakeStore::default(), KeyedHasher::new(b"secret", "lockout"));
        let l = limits(&store, &keys);
        for (i, user) in ["a", "b", "c", "d"].into_iter().enumerate() {
            assert_eq!(
                l.record_failure(user, "10.0.0.1").await.unwrap(),
                None,
                "failure {i}"
            );
        }
        assert_eq!(
            l.record_failure("a", "10.0.0.1").await.unwrap(),
            Some(Blocked::Ip)
        );
        assert_eq!(l.check("z", "10.0.0.1").await.unwrap(), Some(Blocked::Ip));
        assert_eq!(l.check("z", "10.0.0.2").await.unwrap(), None);
        // Both locked: the address is named.
        for _ in 0..3 {
            l.record_failure("z", "10.0.0.2").await.unwrap();
        }
        assert_eq!(l.check("z", "10.0.0.1").await.unwrap(), Some(Blocked::Ip));
        assert_eq!(l.check("z", "10.0.0.3").await.unwrap(), Some(Blocked::User));
    }

    #[tokio::test]
    async fn a_success_forgets_the_users_failures() {
        let (store, keys) = (FakeStore::default(), KeyedHasher::new(b"secret", "lockout"));
        let l = limits(&store, &keys);
        l.record_failure("alice", "10.0.0.1").await.unwrap();
        l.record_failure("alice", "10.0.0.2").await.unwrap();
        l.record_success("Alice").await.unwrap();
        assert_eq!(l.record_failure("alice", "10.0.0.3").await.unwrap(), None);
        assert_eq!(l.record_failure("alice", "10.0.0.4").await.unwrap(), None);
        assert_eq!(
            l.record_failure("alice", "10.0.0.5").await.unwrap(),
            Some(Blocked::User)
        );
    }
}
