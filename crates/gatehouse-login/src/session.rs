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
    /// The browser's `User-Agent` at sign-in, cut to [`MAX_USER_AGENT_CHARS`]: the account
    /// page names the browser by it. Empty in sessions of older releases.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user_agent: String,
    /// The client IP at sign-in.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ip: String,
    /// When the record expires, Unix seconds (0 in sessions of older releases).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub expires_at: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Characters of a `User-Agent` a session keeps.
pub const MAX_USER_AGENT_CHARS: usize = 256;

/// A visit: when and from where a session was last used (kept apart from the session, see
/// [`Namespace::LoginSessionSeen`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub at: i64,
    pub ip: String,
}

/// A live session of a user, as the account page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub session: LoginSession,
    /// The last visit recorded, if any since the sign-in.
    pub seen: Option<Seen>,
    /// Whether it is the session of the browser asking.
    pub current: bool,
}

impl Listed {
    /// When the session was last used: the last visit, else the sign-in.
    pub fn last_seen(&self) -> i64 {
        self.seen
            .as_ref()
            .map_or(self.session.auth_time, |seen| seen.at)
    }

    /// Where from the session was last used.
    pub fn last_ip(&self) -> &str {
        self.seen
            .as_ref()
            .map_or(self.session.ip.as_str(), |seen| seen.ip.as_str())
    }
}

/// A sign-in that has just succeeded: what its session records.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub subject: &'a str,
    /// Unix seconds.
    pub auth_time: i64,
    /// Remembered for this long (at most the configured lifetime), or for the browser's
    /// lifetime when `None`.
    pub remembered: Option<Duration>,
    /// The session id for the token service (`sid`): a new one, or the one of a session this
    /// sign-in steps up.
    pub sid: String,
    pub amr: Vec<String>,
    /// The client IP.
    pub ip: &'a str,
}

/// The `User-Agent` of a request, cut to [`MAX_USER_AGENT_CHARS`] characters.
pub fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_USER_AGENT_CHARS)
        .collect()
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

    /// Starts the session of a sign-in in the browser that sent `headers`, after ending the
    /// session that browser had (a new sign-in always gets a new cookie value: no fixation);
    /// answers it with the `Set-Cookie` to send.
    pub async fn start(
        &self,
        headers: &HeaderMap,
        sign_in: NewSession<'_>,
    ) -> StoreResult<(LoginSession, Option<HeaderValue>)> {
        if let Some(old) = self.load(headers).await? {
            self.end(&old).await?;
        }
        let cookie = random_token(32);
        let (ttl, lifetime) = if let Some(remembered) = sign_in.remembered {
            let ttl = remembered.min(self.ttl);
            (ttl, Lifetime::MaxAge(ttl))
        } else {
            (self.ttl.min(UNREMEMBERED_SESSION_TTL), Lifetime::Browser)
        };
        let session = LoginSession {
            subject: sign_in.subject.to_owned(),
            auth_time: sign_in.auth_time,
            remember: sign_in.remembered.is_some(),
            sid: sign_in.sid,
            amr: sign_in.amr,
            user_agent: user_agent(headers),
            ip: sign_in.ip.to_owned(),
            expires_at: sign_in
                .auth_time
                .saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
        };
        let subject = session.subject.as_str();
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

    /// Ends this browser's session; answers the `Set-Cookie` that deletes its cookie.
    pub async fn end(&self, found: &Found) -> StoreResult<Option<HeaderValue>> {
        self.end_key(&found.session.subject, &self.keys.hash(&found.cookie))
            .await?;
        Ok(self.expire_cookie())
    }

    /// Ends the session stored under `key` (the keyed hash of its cookie).
    async fn end_key(&self, subject: &str, key: &str) -> StoreResult<()> {
        let records = Records::new(self.store);
        records.delete(Namespace::LoginSession, key).await?;
        records.delete(Namespace::LoginSessionSeen, key).await?;
        self.store
            .set_remove(&self.index.login_sessions(subject), key)
            .await?;
        Ok(())
    }

    /// Records a visit of this browser's session at `now` from `ip`, so the account page can
    /// say when and where a session was last used. Best effort: a failure is logged, and the
    /// session goes on. Written to a record of its own, so it cannot bring back a session that
    /// was ended meanwhile.
    pub async fn record_visit(&self, found: &Found, now: i64, ip: &str) {
        let key = self.keys.hash(&found.cookie);
        let left = found.session.expires_at.saturating_sub(now);
        let ttl = if found.session.expires_at == 0 {
            self.ttl
        } else if left > 0 {
            Duration::from_secs(left.unsigned_abs())
        } else {
            return;
        };
        let seen = Seen {
            at: now,
            ip: ip.to_owned(),
        };
        if let Err(e) = Records::new(self.store)
            .put(Namespace::LoginSessionSeen, &key, &seen, ttl)
            .await
        {
            tracing::warn!(error = %e, "recording a session's visit failed");
        }
    }

    /// Every live session of `subject`, the one of `current` (this browser's) marked, most
    /// recently used first. Index entries of sessions that ended are dropped on the way.
    pub async fn list(&self, subject: &str, current: &Found) -> StoreResult<Vec<Listed>> {
        let index = self.index.login_sessions(subject);
        let keys = self.store.set_members(&index).await?;
        let records = Records::new(self.store);
        let sessions: Vec<Option<LoginSession>> =
            records.get_many(Namespace::LoginSession, &keys).await?;
        let seen: Vec<Option<Seen>> = records.get_many(Namespace::LoginSessionSeen, &keys).await?;
        let current_key = self.keys.hash(&current.cookie);
        let mut listed = Vec::with_capacity(keys.len());
        for ((key, session), seen) in keys.iter().zip(sessions).zip(seen) {
            match session {
                Some(session) if session.subject == subject => listed.push(Listed {
                    current: *key == current_key,
                    session,
                    seen,
                }),
                _ => {
                    self.store.set_remove(&index, key).await?;
                }
            }
        }
        listed.sort_by(|a, b| {
            b.current
                .cmp(&a.current)
                .then(b.last_seen().cmp(&a.last_seen()))
        });
        Ok(listed)
    }

    /// Ends `subject`'s sessions whose id is `sid`, other than `current` (signing this browser
    /// out is the sign-out button's job); answers how many ended.
    pub async fn end_sid(&self, subject: &str, sid: &str, current: &Found) -> StoreResult<usize> {
        self.end_where(subject, current, |session| session.sid == sid)
            .await
    }

    /// Ends every session of `subject` but `current`; answers how many ended.
    pub async fn end_others(&self, subject: &str, current: &Found) -> StoreResult<usize> {
        self.end_where(subject, current, |_| true).await
    }

    async fn end_where(
        &self,
        subject: &str,
        current: &Found,
        which: impl Fn(&LoginSession) -> bool,
    ) -> StoreResult<usize> {
        let index = self.index.login_sessions(subject);
        let keys = self.store.set_members(&index).await?;
        let current_key = self.keys.hash(&current.cookie);
        let records = Records::new(self.store);
        let sessions: Vec<Option<LoginSession>> =
            records.get_many(Namespace::LoginSession, &keys).await?;
        let mut ended = 0;
        for (key, session) in keys.iter().zip(sessions) {
            if *key == current_key {
                continue;
            }
            match session {
                Some(session) if session.subject == subject && which(&session) => {
                    self.end_key(subject, key).await?;
                    ended += 1;
                }
                Some(_) => {}
                None => {
                    self.store.set_remove(&index, key).await?;
                }
            }
        }
        Ok(ended)
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
                user_agent: String::new(),
                ip: String::new(),
                expires_at: 0,
            },
        };
        let printed = format!("{found:?} {found:#?}");
        assert!(!printed.contains("session-cookie-value-1"), "{printed}");
        assert!(printed.contains("alice"));
    }
}
