//! Login sessions: who signed in in this browser, and when.
//!
//! The cookie holds a random value (256 bits); the short-lived store holds the session under the
//! keyed hash of that value, so a leaked store does not yield usable cookies. A new login always
//! mints a new value (no session fixation).

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use gatehouse_core::revocation::RevocationKeys;
use gatehouse_core::secret::{KeyedHasher, random_token};
use gatehouse_core::store::{Namespace, Records, ShortLivedStore, StoreResult};
use serde::{Deserialize, Serialize};

use crate::config::UNREMEMBERED_SESSION_TTL;
use crate::cookies::{self, Lifetime};

/// What a login session records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginSession {
    /// The user's id.
    pub subject: String,
    /// When the user authenticated, Unix seconds (the ID token's `auth_time`).
    pub auth_time: i64,
    /// Whether the cookie outlives the browser.
    pub remember: bool,
    /// A session id for the token service (`sid`), unrelated to the cookie value.
    pub sid: String,
    /// RFC 8176 methods the user signed in with (`pwd`, and `otp` + `mfa` after a second
    /// factor); empty in sessions of older releases: a password.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

impl LoginSession {
    /// The methods of this session's sign-in.
    pub fn methods(&self) -> Vec<String> {
        if self.amr.is_empty() {
            gatehouse_core::factor::amr_for(false)
        } else {
            self.amr.clone()
        }
    }
}

/// A session found from the request's cookie. Its `Debug` hides the cookie's value (a bearer
/// credential for the session).
#[derive(Clone)]
pub struct Found {
    pub cookie: String,
    pub session: LoginSession,
}

impl std::fmt::Debug for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Found")
            .field("cookie", &format_args!("[redacted]"))
            .field("session", &self.session)
            .finish()
    }
}

pub struct Sessions<'a> {
    pub store: &'a dyn ShortLivedStore,
    pub keys: &'a KeyedHasher,
    /// The per-user index of sessions (see [`RevocationKeys::login_sessions`]).
    pub index: &'a RevocationKeys,
    pub scope: &'a cookies::Scope,
    /// The remembered lifetime.
    pub ttl: Duration,
}

impl Sessions<'_> {
    fn cookie_name(&self) -> String {
        cookies::name(cookies::SESSION, self.scope)
    }

    /// The live session of this browser, if any.
    pub async fn load(&self, headers: &HeaderMap) -> StoreResult<Option<Found>> {
        let Some(cookie) =
            cookies::get(headers, &self.cookie_name()).filter(|v| cookies::is_token(v))
        else {
            return Ok(None);
        };
        let session: Option<LoginSession> = Records::new(self.store)
            .get(Namespace::LoginSession, &self.keys.hash(cookie))
            .await?;
        Ok(session.map(|session| Found {
            cookie: cookie.to_owned(),
            session,
        }))
    }

    /// Starts a session; answers it with the `Set-Cookie` to send.
    pub async fn create(
        &self,
        subject: &str,
        auth_time: i64,
        remember: bool,
    ) -> StoreResult<(LoginSession, Option<HeaderValue>)> {
        self.create_for(
            subject,
            auth_time,
            remember.then_some(self.ttl),
            random_token(16),
            gatehouse_core::factor::amr_for(false),
        )
        .await
    }

    /// Starts a session with the session id `sid`, remembered for `remembered` (at most the
    /// configured lifetime), or for the browser's lifetime when `None`.
    pub async fn create_for(
        &self,
        subject: &str,
        auth_time: i64,
        remembered: Option<Duration>,
        sid: String,
        amr: Vec<String>,
    ) -> StoreResult<(LoginSession, Option<HeaderValue>)> {
        let cookie = random_token(32);
        let session = LoginSession {
            subject: subject.to_owned(),
            auth_time,
            remember: remembered.is_some(),
            sid,
            amr,
        };
        let (ttl, lifetime) = if let Some(remembered) = remembered {
            let ttl = remembered.min(self.ttl);
            (ttl, Lifetime::MaxAge(ttl))
        } else {
            (self.ttl.min(UNREMEMBERED_SESSION_TTL), Lifetime::Browser)
        };
        let key = self.keys.hash(&cookie);
        Records::new(self.store)
            .put(Namespace::LoginSession, &key, &session, ttl)
            .await?;
        // Indexed per user, so disabling the user or resetting their password ends every session
        // (the token service takes the index: `Revocations::end_user`).
        self.store
            .set_add(&self.index.login_sessions(subject), &key, ttl)
            .await?;
        let set = cookies::set(&self.cookie_name(), &cookie, lifetime, self.scope);
        Ok((session, set))
    }

    /// Ends the session with this cookie value; answers the `Set-Cookie` that deletes it.
    pub async fn end(&self, cookie: &str) -> StoreResult<Option<HeaderValue>> {
        Records::new(self.store)
            .delete(Namespace::LoginSession, &self.keys.hash(cookie))
            .await?;
        Ok(self.expire_cookie())
    }

    /// Ends every login session of `subject` (the per-user index); answers how many there were.
    pub async fn end_all(&self, subject: &str) -> StoreResult<usize> {
        let keys = self
            .store
            .set_take(&self.index.login_sessions(subject))
            .await?;
        let records = Records::new(self.store);
        for key in &keys {
            records.delete(Namespace::LoginSession, key).await?;
        }
        Ok(keys.len())
    }

    pub fn expire_cookie(&self) -> Option<HeaderValue> {
        cookies::set(&self.cookie_name(), "", Lifetime::Expired, self.scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_found_session_prints_no_cookie_value() {
        let found = Found {
            cookie: "session-cookie-value-1".into(),
            session: LoginSession {
                subject: "alice".into(),
                auth_time: 0,
                remember: false,
                sid: "sid-1".into(),
                amr: Vec::new(),
            },
        };
        let printed = format!("{found:?} {found:#?}");
        assert!(!printed.contains("session-cookie-value-1"), "{printed}");
        assert!(printed.contains("alice"));
    }
}
