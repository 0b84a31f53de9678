//! What the login UI needs to know from the configuration.

use std::time::Duration;

use gatehouse_core::secret::SecretString;

use crate::branding::Branding;

/// The login UI's settings. [`LoginConfig::new`] fills in the defaults.
#[derive(Debug, Clone)]
pub struct LoginConfig {
    /// The issuer, without a trailing slash: the `iss` of authorization responses (RFC 9207).
    pub issuer: String,
    /// Keys the CSRF tokens and the keyed hashes of session cookies.
    pub system_secret: SecretString,
    /// How long a remembered login session lasts (its cookie's `Max-Age`).
    pub session_ttl: Duration,
    /// How long an unfinished authorization request waits for the user.
    pub challenge_ttl: Duration,
    pub branding: Branding,
    /// Mark cookies `Secure` (and give them the `__Host-` prefix): on when the issuer is https.
    pub cookie_secure: bool,
    /// The issuer's path (`""`, or `/api` for `https://host/api`): every route, link, redirect and
    /// cookie of the UI is under it.
    pub base_path: String,
    /// Reverse proxies whose `X-Forwarded-For` names the client (for the per-IP login limit).
    pub trusted_proxies: Vec<crate::client_ip::IpNet>,
    /// Say "this account is disabled" when the password was right. Off by default, because it
    /// confirms the password to whoever typed it.
    pub reveal_disabled: bool,
    /// `GATEHOUSE_UI=external`: another app shows the login, consent and logout pages, driven
    /// by Hydra's login/consent challenge API (`external.rs`, `hydra_api.rs`). `None`: the
    /// built-in pages.
    pub external: Option<ExternalUi>,
}

/// Where an external login and consent app (Hydra's `urls.*`) takes the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalUi {
    /// `GATEHOUSE_URLS_LOGIN`: gets `?login_challenge=`.
    pub login_url: String,
    /// `GATEHOUSE_URLS_CONSENT`: gets `?consent_challenge=`.
    pub consent_url: String,
    /// `GATEHOUSE_URLS_LOGOUT`: gets `?logout_challenge=`; `None`: logout as built in.
    pub logout_url: Option<String>,
    /// `GATEHOUSE_URLS_ERROR`: gets `?error=&error_description=` for errors that cannot go to
    /// the client; `None`: the built-in error page.
    pub error_url: Option<String>,
}

impl LoginConfig {
    /// Defaults for `issuer`: 14-day remembered sessions, 15-minute challenges, the default
    /// branding, `Secure` cookies when the issuer is https.
    pub fn new(issuer: impl Into<String>, system_secret: SecretString) -> Self {
        let issuer: String = issuer.into();
        let base_path = url::Url::parse(&issuer)
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        Self {
            cookie_secure: issuer.starts_with("https://"),
            base_path,
            issuer: issuer.trim_end_matches('/').to_owned(),
            system_secret,
            session_ttl: Duration::from_secs(14 * 24 * 3600),
            challenge_ttl: Duration::from_secs(15 * 60),
            branding: Branding::default(),
            trusted_proxies: Vec::new(),
            reveal_disabled: false,
            external: None,
        }
    }
}

/// Login sessions without "remember me" still need a server-side lifetime: the cookie dies with
/// the browser, the record after this (or the remembered lifetime, if shorter).
pub(crate) const UNREMEMBERED_SESSION_TTL: Duration = Duration::from_secs(24 * 3600);
