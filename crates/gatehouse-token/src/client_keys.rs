//! Clients' public keys published at their `jwks_uri` (RFC 7591 §2), for `private_key_jwt`.
//!
//! A fetch is bounded every way a partner's server (or whoever answers for it) could abuse it:
//! https only (plain http only in dev mode), no redirects, a timeout, and a size limit. Answers
//! are cached per URI for their `Cache-Control: max-age`, clamped to
//! [`MIN_MAX_AGE`]..[`MAX_MAX_AGE`]. A `kid` the cached set does not hold triggers a refresh
//! (the client rotated its keys), at most once per [`REFRESH_INTERVAL`] per URI, so assertions
//! naming made-up `kid`s cannot make this server fetch on every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_jose::JwkSet;

/// How long one fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest JWK Set accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Cache lifetime when the answer says nothing (or asks not to be cached).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(5 * 60);
/// Bounds of the cache lifetime, whatever `Cache-Control` says.
pub const MIN_MAX_AGE: Duration = Duration::from_secs(60);
pub const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// The least time between two fetches of one URI.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// How long to keep an answer, from its `Cache-Control` header: `max-age` clamped to the
/// bounds; `no-store`/`no-cache` or nothing readable gives the shortest or the default.
pub fn cache_lifetime(cache_control: Option<&str>) -> Duration {
    let Some(value) = cache_control else {
        return DEFAULT_MAX_AGE;
    };
    let mut max_age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return MIN_MAX_AGE;
        }
        if let Some(seconds) = lower.strip_prefix("max-age=") {
            max_age = seconds.trim_matches('"').parse::<u64>().ok();
        }
    }
    max_age.map_or(DEFAULT_MAX_AGE, |s| {
        Duration::from_secs(s).clamp(MIN_MAX_AGE, MAX_MAX_AGE)
    })
}

struct Entry {
    keys: Option<Arc<JwkSet>>,
    fresh_until: Instant,
    last_fetch: Instant,
}

/// The cache and the HTTP client of `jwks_uri` fetches; one per token service.
pub struct ClientKeys {
    http: reqwest::Client,
    allow_http: bool,
    entries: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for ClientKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKeys")
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

fn unusable(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, description)
}

impl ClientKeys {
    /// `allow_http`: accept plain-http `jwks_uri`s (dev mode only).
    pub fn new(allow_http: bool) -> Self {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("gatehouse")
            .build()
            .unwrap_or_default();
        Self {
            http,
            allow_http,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `uri` may be fetched at all.
    pub fn allowed(&self, uri: &str) -> bool {
        url::Url::parse(uri).is_ok_and(|u| {
            u.host().is_some()
                && (u.scheme() == "https" || (self.allow_http && u.scheme() == "http"))
        })
    }

    /// The key set at `uri`: the cached one while fresh, unless `refresh` (an unknown `kid`) and
    /// the last fetch is older than [`REFRESH_INTERVAL`]. A failed fetch keeps serving the last
    /// good set (and is not retried before the interval); with none, the client cannot be
    /// authenticated (`invalid_client`).
    pub async fn get(&self, uri: &str, refresh: bool) -> Result<Arc<JwkSet>, OAuthError> {
        if !self.allowed(uri) {
            return Err(unusable(
                "this client's jwks_uri is not an https URL; its keys cannot be fetched",
            ));
        }
        let now = Instant::now();
        let cached = {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            match entries.get_mut(uri) {
                Some(e) => {
                    let stale = now >= e.fresh_until;
                    let may_fetch = now.duration_since(e.last_fetch) >= REFRESH_INTERVAL;
                    if (stale || refresh) && may_fetch {
                        // Claimed before fetching, so concurrent requests do not all fetch.
                        e.last_fetch = now;
                        None
                    } else {
                        Some(e.keys.clone())
                    }
                }
                None => {
                    entries.insert(
                        uri.to_owned(),
                        Entry {
                            keys: None,
                            fresh_until: now,
                            last_fetch: now,
                        },
                    );
                    None
                }
            }
        };
        if let Some(keys) = cached {
            return keys.ok_or_else(|| unusable("this client's jwks_uri could not be fetched"));
        }
        let fetched = self.fetch(uri).await;
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.entry(uri.to_owned()).or_insert(Entry {
            keys: None,
            fresh_until: now,
            last_fetch: now,
        });
        match fetched {
            Ok((keys, lifetime)) => {
                let keys = Arc::new(keys);
                entry.keys = Some(keys.clone());
                entry.fresh_until = Instant::now() + lifetime;
                Ok(keys)
            }
            Err(reason) => {
                tracing::info!(jwks_uri = uri, %reason, "fetching a client's jwks_uri failed");
                entry
                    .keys
                    .clone()
                    .ok_or_else(|| unusable("this client's jwks_uri could not be fetched"))
            }
        }
    }

    async fn fetch(&self, uri: &str) -> Result<(JwkSet, Duration), String> {
        let mut response = self
            .http
            .get(uri)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err("too large".into());
        }
        let lifetime = cache_lifetime(
            response
                .headers()
                .get(reqwest::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
        );
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err("too large".into());
            }
            body.extend_from_slice(&chunk);
        }
        let keys: JwkSet = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        Ok((keys, lifetime))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age_is_honoured_within_bounds() {
        assert_eq!(cache_lifetime(None), DEFAULT_MAX_AGE);
        assert_eq!(
            cache_lifetime(Some("public, max-age=600")),
            Duration::from_secs(600)
        );
        assert_eq!(cache_lifetime(Some("max-age=1")), MIN_MAX_AGE);
        assert_eq!(cache_lifetime(Some("max-age=99999999")), MAX_MAX_AGE);
        assert_eq!(cache_lifetime(Some("no-store")), MIN_MAX_AGE);
        assert_eq!(cache_lifetime(Some("public, No-Cache")), MIN_MAX_AGE);
        assert_eq!(cache_lifetime(Some("max-age=abc")), DEFAULT_MAX_AGE);
        assert_eq!(cache_lifetime(Some("public")), DEFAULT_MAX_AGE);
    }

    #[test]
    fn only_https_is_fetched_outside_dev() {
        let strict = ClientKeys::new(false);
        assert!(strict.allowed("https://partner.example/jwks.json"));
        assert!(!strict.allowed("http://partner.example/jwks.json"));
        assert!(!strict.allowed("http://127.0.0.1:8080/jwks.json"));
        assert!(!strict.allowed("file:///etc/passwd"));
        assert!(!strict.allowed("not a url"));
        let dev = ClientKeys::new(true);
        assert!(dev.allowed("http://127.0.0.1:8080/jwks.json"));
        assert!(!dev.allowed("ftp://partner.example/jwks.json"));
    }
}
