//! Revocation that ends access everywhere at once (RFC 7009, RFC 7662 §2.2, RFC 7592 §2.3).
//!
//! Refresh-token families and consents live in the durable store and are revoked there. Access
//! tokens and authorization codes live in the short-lived store under keyed hashes, so they
//! cannot be found by user or client; and JWT access tokens are not stored at all. What ends
//! them is a *cut-off* in the short-lived store, checked wherever a code or an access token is
//! used (token endpoint, introspection, userinfo):
//!
//! - **user** (disabled, deleted, password reset): everything the user authorized before the
//!   cut-off is over;
//! - **consent** (a user withdraws a client's access): everything the user authorized for that
//!   client before the cut-off is over;
//! - **client incarnation** (the client was deleted): everything issued to that incarnation is
//!   over, whenever it was issued, so a replica still holding the deleted client in its cache
//!   cannot mint anything that works.
//!
//! Cut-offs are Unix milliseconds and live as long as the longest-lived thing they end; they are
//! compared with the instant a token's authority was established (`authorized_at_ms`: when its
//! code was issued, or when the refresh or client-credentials request was made), so a token
//! minted by a request that raced the revocation is ended too.

use crate::secret::KeyedHasher;
use crate::store::Namespace;

/// Keyed-hash purpose of the revocation keys.
pub const KEY_PURPOSE: &str = "revocation";

/// The short-lived-store keys of cut-offs and of the per-user login-session index. Ids are
/// keyed-hashed with the system secret, like every other key of the store: no user id is stored
/// in clear, and two deployments sharing one Redis never read each other's cut-offs.
#[derive(Clone, Debug)]
pub struct RevocationKeys(KeyedHasher);

impl RevocationKeys {
    pub fn new(system_secret: &[u8]) -> Self {
        Self(KeyedHasher::new(system_secret, KEY_PURPOSE))
    }

    fn key(&self, ns: Namespace, what: &str) -> String {
        ns.key(&self.0.hash(what))
    }

    /// The cut-off of everything `subject` authorized.
    pub fn user(&self, subject: &str) -> String {
        self.key(Namespace::Revocation, &format!("user:{subject}"))
    }

    /// The cut-off of everything `subject` authorized for `client_id`. The subject is
    /// length-prefixed, so no pair of ids can spell another pair's key.
    pub fn consent(&self, subject: &str, client_id: &str) -> String {
        self.key(
            Namespace::Revocation,
            &format!("consent:{}:{subject}:{client_id}", subject.len()),
        )
    }

    /// The marker of a deleted client incarnation.
    pub fn client(&self, incarnation: &str) -> String {
        self.key(Namespace::Revocation, &format!("client:{incarnation}"))
    }

    /// The set of `subject`'s login-session keys.
    pub fn login_sessions(&self, subject: &str) -> String {
        self.key(Namespace::LoginSessionIndex, subject)
    }

    /// The cut-off keys that can end a grant of `subject` (if any) for `client_id` in
    /// incarnation `client_incarnation`, in the order [`Cutoffs::read`] expects.
    pub fn cutoff_keys(
        &self,
        subject: Option<&str>,
        client_id: &str,
        client_incarnation: &str,
    ) -> Vec<String> {
        let mut keys = Vec::with_capacity(3);
        keys.push(self.client(client_incarnation));
        if let Some(subject) = subject {
            keys.push(self.user(subject));
            keys.push(self.consent(subject, client_id));
        }
        keys
    }
}

/// A cut-off's stored value.
pub fn encode(at_ms: i64) -> Vec<u8> {
    at_ms.to_string().into_bytes()
}

/// The cut-offs that apply to one grant, read with one `get_many` of [`RevocationKeys::cutoff_keys`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cutoffs {
    pub client_deleted: bool,
    pub user: Option<i64>,
    pub consent: Option<i64>,
}

impl Cutoffs {
    /// Reads the answer to `get_many(cutoff_keys(..))`. An unreadable value counts as a cut-off
    /// at the end of time: failing closed.
    pub fn read(values: &[Option<Vec<u8>>]) -> Self {
        let at = |v: Option<&Option<Vec<u8>>>| {
            v.and_then(Option::as_ref).map(|bytes| {
                std::str::from_utf8(bytes)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .unwrap_or(i64::MAX)
            })
        };
        Self {
            client_deleted: values.first().is_some_and(Option::is_some),
            user: at(values.get(1)),
            consent: at(values.get(2)),
        }
    }

    /// Whether a grant whose authority was established at `authorized_at_ms` has been ended.
    /// A grant made in the same millisecond as a cut-off is ended (fail closed).
    pub fn end(&self, authorized_at_ms: i64) -> bool {
        self.client_deleted
            || self.user.is_some_and(|c| authorized_at_ms <= c)
            || self.consent.is_some_and(|c| authorized_at_ms <= c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_collide_across_kinds_pairs_or_deployments() {
        let keys = RevocationKeys::new(b"system-secret-one");
        assert_ne!(keys.consent("a:b", "c"), keys.consent("a", "b:c"));
        assert_ne!(keys.user("x"), keys.client("x"));
        assert!(
            keys.user("alice")
                .starts_with(Namespace::Revocation.prefix())
        );
        assert!(!keys.user("alice").contains("alice"), "no user id in clear");
        assert!(
            keys.login_sessions("alice")
                .starts_with(Namespace::LoginSessionIndex.prefix())
        );
        assert_ne!(
            keys.user("alice"),
            RevocationKeys::new(b"system-secret-two").user("alice")
        );
        assert_eq!(keys.cutoff_keys(None, "app", "inc").len(), 1);
        assert_eq!(
            keys.cutoff_keys(Some("alice"), "app", "inc"),
            [
                keys.client("inc"),
                keys.user("alice"),
                keys.consent("alice", "app")
            ]
        );
    }

    #[test]
    fn a_cutoff_ends_what_was_authorized_before_it_and_nothing_after() {
        let values = vec![None, Some(encode(1_000)), None];
        let c = Cutoffs::read(&values);
        assert!(c.end(999));
        assert!(c.end(1_000), "the same millisecond fails closed");
        assert!(!c.end(1_001));
        let c = Cutoffs::read(&[None, None, Some(encode(5_000))]);
        assert!(c.end(4_000) && !c.end(6_000));
        assert!(!Cutoffs::read(&[None, None, None]).end(0));
        assert!(!Cutoffs::read(&[None]).end(0), "a client-only read");
    }

    #[test]
    fn a_deleted_incarnation_ends_everything_it_was_given() {
        let c = Cutoffs::read(&[Some(b"1".to_vec())]);
        assert!(c.end(i64::MAX));
    }

    #[test]
    fn an_unreadable_cutoff_fails_closed() {
        let c = Cutoffs::read(&[None, Some(b"garbage".to_vec())]);
        assert!(c.end(i64::MAX - 1));
    }

    #[test]
    fn each_incarnation_has_its_own_marker() {
        let keys = RevocationKeys::new(b"system-secret-one");
        assert!(
            keys.client("inc-1")
                .starts_with(Namespace::Revocation.prefix())
        );
        assert_ne!(keys.client("inc-1"), keys.client("inc-2"));
        assert_ne!(keys.client("inc-1"), keys.user("inc-1"));
        assert!(
            !keys.client("inc-1").contains("inc-1"),
            "no incarnation in clear"
        );
    }
}
