//! Failed-login limits, per username and per client IP, enforced where passwords are checked
//! (the token service), so a second login process or a direct caller of its gRPC API cannot go
//! around them.
//!
//! Counters live in the short-lived store ([`Namespace::RateLimit`]), so every replica sees the
//! same numbers. A failure increments both counters (each a fixed window); reaching a limit
//! places a lock that lasts [`LockoutPolicy::lockout`]; its value is the Unix second it ends, so a
//! refused attempt can say when to try again. A locked username or IP is refused before the
//! password is checked. A success resets the username's counter; an operator can lift a
//! username's lock ([`LoginLimits::unlock`]). Usernames and IPs are stored only as keyed hashes.

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

/// A lock in force: what is locked and for how much longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lock {
    pub blocked: Blocked,
    /// Until the lock ends, in whole seconds (at least 1).
    pub retry_after: Duration,
}

/// What a counted failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failure {
    /// The lock this failure placed, if it reached a limit.
    pub locked: Option<Lock>,
    /// Failures left before the username or the IP is locked, whichever comes first; `None`
    /// when neither has a limit (or when this failure locked).
    pub attempts_left: Option<u32>,
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

    /// The lock on `username` or `ip` in force at `now` (Unix seconds), if any; the IP's first.
    pub async fn check(&self, username: &str, ip: &str, now: i64) -> StoreResult<Option<Lock>> {
        let keys = [
            self.key("ip-lock", ip),
            self.key("user-lock", &normalise(username)),
        ];
        let locks = self.store.get_many(&keys).await?;
        let lock = |blocked, value: &[u8]| Lock {
            blocked,
            retry_after: self.remaining(value, now),
        };
        Ok(match locks.as_slice() {
            [Some(ip), _] => Some(lock(Blocked::Ip, ip)),
            [_, Some(user)] => Some(lock(Blocked::User, user)),
            _ => None,
        })
    }

    /// What is left of a lock whose stored value is its end; a value from before ends were
    /// stored reads as a whole lockout.
    fn remaining(&self, value: &[u8], now: i64) -> Duration {
        let end = std::str::from_utf8(value)
            .ok()
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|end| *end > 1);
        let seconds = match end {
            Some(end) => end.saturating_sub(now).max(1).unsigned_abs(),
            None => self.policy.lockout.as_secs().max(1),
        };
        Duration::from_secs(seconds)
    }

    /// Counts a failure for `username` and `ip` at `now`; says what it locked, if anything (the
    /// IP when both reached their limit), and how many attempts are left otherwise.
    pub async fn record_failure(&self, username: &str, ip: &str, now: i64) -> StoreResult<Failure> {
        let user = normalise(username);
        let window = self.policy.window;
        let lockout = self.policy.lockout;
        let end = now.saturating_add(i64::try_from(lockout.as_secs()).unwrap_or(i64::MAX));
        let lock = |blocked| Lock {
            blocked,
            retry_after: Duration::from_secs(lockout.as_secs().max(1)),
        };
        let mut failure = Failure::default();
        let user_failures = self
            .store
            .increment(&self.key("user", &user), window)
            .await?;
        if reaches_limit(user_failures, self.policy.max_failures_per_user) {
            self.store
                .put(
                    &self.key("user-lock", &user),
                    end.to_string().as_bytes(),
                    lockout,
                )
                .await?;
            self.store.delete(&self.key("user", &user)).await?;
            failure.locked = Some(lock(Blocked::User));
        }
        let (ip_failures, ip_lock) = self.ip_failure(ip, now).await?;
        if ip_lock.is_some() {
            failure.locked = ip_lock;
        }
        if failure.locked.is_none() {
            failure.attempts_left = [
                left(user_failures, self.policy.max_failures_per_user),
                left(ip_failures, self.policy.max_failures_per_ip),
            ]
            .into_iter()
            .flatten()
            .min();
        }
        Ok(failure)
    }

    /// Counts a failure from `ip`; answers the count in the window and the lock it placed.
    async fn ip_failure(&self, ip: &str, now: i64) -> StoreResult<(u64, Option<Lock>)> {
        let lockout = self.policy.lockout;
        let failures = self
            .store
            .increment(&self.key("ip", ip), self.policy.window)
            .await?;
        if !reaches_limit(failures, self.policy.max_failures_per_ip) {
            return Ok((failures, None));
        }
        let end = now.saturating_add(i64::try_from(lockout.as_secs()).unwrap_or(i64::MAX));
        self.store
            .put(
                &self.key("ip-lock", ip),
                end.to_string().as_bytes(),
                lockout,
            )
            .await?;
        self.store.delete(&self.key("ip", ip)).await?;
        Ok((
            failures,
            Some(Lock {
                blocked: Blocked::Ip,
                retry_after: Duration::from_secs(lockout.as_secs().max(1)),
            }),
        ))
    }

    /// The lock on `ip` in force at `now`, for attempts that name no user (a mistyped device
    /// user code): the same per-IP limit as failed logins.
    pub async fn check_ip(&self, ip: &str, now: i64) -> StoreResult<Option<Lock>> {
        Ok(self
            .store
            .get(&self.key("ip-lock", ip))
            .await?
            .map(|value| Lock {
                blocked: Blocked::Ip,
                retry_after: self.remaining(&value, now),
            }))
    }

    /// Counts a failure from `ip` that names no user (a mistyped device user code) toward the
    /// per-IP limit of failed logins; says whether it locked the IP, or the attempts left.
    pub async fn record_ip_failure(&self, ip: &str, now: i64) -> StoreResult<Failure> {
        let (failures, locked) = self.ip_failure(ip, now).await?;
        Ok(Failure {
            locked,
            attempts_left: match locked {
                Some(_) => None,
                None => left(failures, self.policy.max_failures_per_ip),
            },
        })
    }

    pub async fn record_success(&self, username: &str) -> StoreResult<()> {
        self.store
            .delete(&self.key("user", &normalise(username)))
            .await
            .map(drop)
    }

    /// Lifts `username`'s lock and forgets its failures; returns whether it was locked.
    pub async fn unlock(&self, username: &str) -> StoreResult<bool> {
        let user = normalise(username);
        self.store.delete(&self.key("user", &user)).await?;
        self.store.delete(&self.key("user-lock", &user)).await
    }
}

/// Failures left before `count` reaches the limit `max` (`None`: no limit).
fn left(count: u64, max: u32) -> Option<u32> {
    (max > 0).then(|| u32::try_from(u64::from(max).saturating_sub(count)).unwrap_or(u32::MAX))
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

    const NOW: i64 = 1_767_225_600;

    fn locked(blocked: Blocked, seconds: u64) -> Option<Lock> {
        Some(Lock {
            blocked,
            retry_after: Duration::from_secs(seconds),
        })
    }

    #[tokio::test]
    async fn a_username_locks_after_its_limit_whatever_its_case() {
        let (store, keys) = (FakeStore::default(), KeyedHasher::new(b"secret", "lockout"));
        let l = limits(&store, &keys);
        let first = l.record_failure("Alice", "10.0.0.1", NOW).await.unwrap();
        assert_eq!(
            first,
            Failure {
                locked: None,
                attempts_left: Some(2)
            }
        );
        let second = l.record_failure(" alice", "10.0.0.2", NOW).await.unwrap();
        assert_eq!(second.attempts_left, Some(1), "the attempt before the lock");
        assert_eq!(l.check("ALICE", "10.0.0.3", NOW).await.unwrap(), None);
        let third = l.record_failure("alice ", "10.0.0.4", NOW).await.unwrap();
        assert_eq!(
            third,
            Failure {
                locked: locked(Blocked::User, 600),
                attempts_left: None
            }
        );
        assert_eq!(
            l.check("Alice", "10.0.0.9", NOW + 60).await.unwrap(),
            locked(Blocked::User, 540),
            "the lock says when it ends"
        );
        assert_eq!(l.check("bob", "10.0.0.9", NOW).await.unwrap(), None);
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
            let failure = l.record_failure(user, "10.0.0.1", NOW).await.unwrap();
            assert_eq!(failure.locked, None, "failure {i}");
        }
        let fifth = l.record_failure("e", "10.0.0.1", NOW).await.unwrap();
        assert_eq!(fifth.locked, locked(Blocked::Ip, 600));
        assert_eq!(
            l.check("z", "10.0.0.1", NOW).await.unwrap(),
            locked(Blocked::Ip, 600)
        );
        assert_eq!(l.check("z", "10.0.0.2", NOW).await.unwrap(), None);
        // Both locked: the address is named.
        for _ in 0..3 {
            l.record_failure("z", "10.0.0.2", NOW).await.unwrap();
        }
        assert_eq!(
            l.check("z", "10.0.0.1", NOW).await.unwrap(),
            locked(Blocked::Ip, 600)
        );
        assert_eq!(
            l.check("z", "10.0.0.3", NOW).await.unwrap(),
            locked(Blocked::User, 600)
        );
    }

    #[tokio::test]
    async fn attempts_left_counts_the_nearer_limit() {
        let (store, keys) = (FakeStore::default(), KeyedHasher::new(b"secret", "lockout"));
        let l = limits(&store, &keys);
        for user in ["a", "b", "c"] {
            l.record_failure(user, "10.0.0.1", NOW).await.unwrap();
        }
        // "d" has 2 left of 3, the address 1 left of 5.
        let failure = l.record_failure("d", "10.0.0.1", NOW).await.unwrap();
        assert_eq!(failure.attempts_left, Some(1));
        let unlimited = LoginLimits {
            store: &store,
            keys: &keys,
            policy: &LockoutPolicy {
                max_failures_per_user: 0,
                max_failures_per_ip: 0,
                ..POLICY
            },
        };
        assert_eq!(
            unlimited
                .record_failure("x", "10.9.9.9", NOW)
                .await
                .unwrap(),
            Failure::default()
        );
    }

    #[tokio::test]
    async fn a_success_forgets_the_users_failures() {
        let (store, keys) = (FakeStore::default(), KeyedHasher::new(b"secret", "lockout"));
        let l = limits(&store, &keys);
        l.record_failure("alice", "10.0.0.1", NOW).await.unwrap();
        l.record_failure("alice", "10.0.0.2", NOW).await.unwrap();
        l.record_success("Alice").await.unwrap();
        assert_eq!(
            l.record_failure("alice", "10.0.0.3", NOW)
                .await
                .unwrap()
                .locked,
            None
        );
        assert_eq!(
            l.record_failure("alice", "10.0.0.4", NOW)
                .await
                .unwrap()
                .locked,
            None
        );
        assert_eq!(
            l.record_failure("alice", "10.0.0.5", NOW)
                .await
                .unwrap()
                .locked,
            locked(Blocked::User, 600)
        );
    }

    #[tokio::test]
    async fn an_operator_can_lift_a_username_lock() {
        let (store, keys) = (FakeStore::default(), KeyedHasher::new(b"secret", "lockout"));
        let l = limits(&store, &keys);
        assert!(!l.unlock("alice").await.unwrap(), "nothing to lift");
        for ip in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
            l.record_failure("alice", ip, NOW).await.unwrap();
        }
        assert!(l.check("alice", "10.0.0.9", NOW).await.unwrap().is_some());
        assert!(l.unlock("ALICE").await.unwrap());
        assert_eq!(l.check("alice", "10.0.0.9", NOW).await.unwrap(), None);
        // The failures before the lock are forgotten too.
        assert_eq!(
            l.record_failure("alice", "10.0.0.4", NOW)
                .await
                .unwrap()
                .attempts_left,
            Some(2)
        );
    }

    #[tokio::test]
    async fn failures_without_a_user_count_toward_the_address_limit() {
        let (store, keys) = (FakeStore::default(), KeyedHasher::new(b"secret", "lockout"));
        let l = limits(&store, &keys);
        assert_eq!(l.check_ip("10.0.0.1", NOW).await.unwrap(), None);
        l.record_failure("alice", "10.0.0.1", NOW).await.unwrap();
        for left in [3, 2, 1] {
            assert_eq!(
                l.record_ip_failure("10.0.0.1", NOW).await.unwrap(),
                Failure {
                    locked: None,
                    attempts_left: Some(left)
                }
            );
        }
        assert_eq!(l.check_ip("10.0.0.1", NOW).await.unwrap(), None);
        assert_eq!(
            l.record_ip_failure("10.0.0.1", NOW).await.unwrap(),
            Failure {
                locked: locked(Blocked::Ip, 600),
                attempts_left: None
            }
        );
        assert_eq!(
            l.check_ip("10.0.0.1", NOW + 100).await.unwrap(),
            locked(Blocked::Ip, 500)
        );
        assert_eq!(
            l.check("alice", "10.0.0.1", NOW).await.unwrap(),
            locked(Blocked::Ip, 600),
            "and locks sign-in from there too"
        );
        assert_eq!(l.check_ip("10.0.0.2", NOW).await.unwrap(), None);
        assert!(
            !store.keys().iter().any(|k| k.contains("10.0.0")),
            "no address in clear"
        );
        let unlimited = LoginLimits {
            store: &store,
            keys: &keys,
            policy: &LockoutPolicy {
                max_failures_per_ip: 0,
                ..POLICY
            },
        };
        assert_eq!(
            unlimited.record_ip_failure("10.9.9.9", NOW).await.unwrap(),
            Failure::default()
        );
    }

    #[tokio::test]
    async fn a_lock_written_before_ends_were_stored_lasts_a_whole_lockout() {
        let (store, keys) = (FakeStore::default(), KeyedHasher::new(b"secret", "lockout"));
        let l = limits(&store, &keys);
        let key = l.key("user-lock", "alice");
        store.put(&key, b"1", POLICY.lockout).await.unwrap();
        assert_eq!(
            l.check("alice", "10.0.0.1", NOW).await.unwrap(),
            locked(Blocked::User, 600)
        );
        store
            .put(&key, (NOW - 5).to_string().as_bytes(), POLICY.lockout)
            .await
            .unwrap();
        assert_eq!(
            l.check("alice", "10.0.0.1", NOW).await.unwrap(),
            locked(Blocked::User, 1),
            "a lock still in the store never says zero"
        );
    }
}
