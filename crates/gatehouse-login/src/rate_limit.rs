//! Failed-login limits, per username and per client IP.
//!
//! Counters live in the short-lived store ([`Namespace::RateLimit`]), so every replica sees the
//! same numbers. A failure increments both counters (each a fixed window); reaching a limit
//! places a lock that lasts [`LockoutPolicy::lockout`]. A locked username or IP is refused before
//! the password is checked. A success resets the username's counter. Usernames and IPs are
//! stored only as keyed hashes.

use gatehouse_core::secret::KeyedHasher;
use gatehouse_core::store::{Namespace, ShortLivedStore, StoreResult};

use crate::config::LockoutPolicy;

/// Why an attempt is refused before the password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    User,
    Ip,
}

pub struct RateLimiter<'a> {
    pub store: &'a dyn ShortLivedStore,
    pub keys: &'a KeyedHasher,
    pub policy: &'a LockoutPolicy,
}

/// Whether the `count`-th failure within the window reaches the limit `max`.
pub fn reaches_limit(count: u64, max: u32) -> bool {
    max > 0 && count >= u64::from(max)
}

impl RateLimiter<'_> {
    fn key(&self, kind: &str, value: &str) -> String {
        Namespace::RateLimit.key(&format!("login-{kind}:{}", self.keys.hash(value)))
    }

    fn user(&self, username: &str) -> String {
        normalise(username)
    }

    pub async fn check(&self, username: &str, ip: &str) -> StoreResult<Option<Blocked>> {
        if self.store.get(&self.key("ip-lock", ip)).await?.is_some() {
            return Ok(Some(Blocked::Ip));
        }
        if self
            .store
            .get(&self.key("user-lock", &self.user(username)))
            .await?
            .is_some()
        {
            return Ok(Some(Blocked::User));
        }
        Ok(None)
    }

    pub async fn record_failure(&self, username: &str, ip: &str) -> StoreResult<()> {
        let user = self.user(username);
        let window = self.policy.window;
        let failures = self
            .store
            .increment(&self.key("user", &user), window)
            .await?;
        if reaches_limit(failures, self.policy.max_failures_per_user) {
            self.store
                .put(&self.key("user-lock", &user), b"1", self.policy.lockout)
                .await?;
            self.store.delete(&self.key("user", &user)).await?;
            tracing::warn!("a username was locked after repeated failed logins");
        }
        let failures = self.store.increment(&self.key("ip", ip), window).await?;
        if reaches_limit(failures, self.policy.max_failures_per_ip) {
            self.store
                .put(&self.key("ip-lock", ip), b"1", self.policy.lockout)
                .await?;
            self.store.delete(&self.key("ip", ip)).await?;
            tracing::warn!(ip, "a client IP was blocked after repeated failed logins");
        }
        Ok(())
    }

    pub async fn record_success(&self, username: &str) -> StoreResult<()> {
        self.store
            .delete(&self.key("user", &self.user(username)))
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
}
