//! The login UI's state: the token service client, the short-lived store, the configuration
//! and the keys derived from the system secret. Built once by the binary.

use std::sync::Arc;

use axum::http::HeaderMap;
use gatehouse_core::Clock;
use gatehouse_core::revocation::RevocationKeys;
use gatehouse_core::secret::KeyedHasher;
use gatehouse_core::store::ShortLivedStore;

use crate::assets::Assets;
use crate::challenge::Challenges;
use crate::config::LoginConfig;
use crate::cookies;
use crate::csrf::{Browser, Csrf};
use crate::headers::Csp;
use crate::session::Sessions;
use crate::token_client::TokenServiceClient;

/// Everything a handler needs. Cheap to clone.
#[derive(Clone)]
pub struct LoginState {
    inner: Arc<Inner>,
}

struct Inner {
    token: TokenServiceClient,
    store: Arc<dyn ShortLivedStore>,
    clock: Arc<dyn Clock>,
    config: LoginConfig,
    csrf: Csrf,
    session_keys: KeyedHasher,
    browser_keys: KeyedHasher,
    /// Keys the per-user session index the token service takes when it ends a user's sessions.
    revocation_keys: RevocationKeys,
    cookie_scope: cookies::Scope,
    assets: Assets,
    base_csp: Csp,
    /// What mail allows, asked of the token service once (its configuration does not change
    /// while it runs), so the login page costs no extra call.
    account_settings: tokio::sync::OnceCell<crate::token_client::AccountSettings>,
}

impl std::fmt::Debug for LoginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginState")
            .field("issuer", &self.inner.config.issuer)
            .finish_non_exhaustive()
    }
}

impl LoginState {
    pub fn new(
        token: TokenServiceClient,
        store: Arc<dyn ShortLivedStore>,
        config: LoginConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let secret = config.system_secret.expose().as_bytes();
        let b = &config.branding;
        let base_csp = Csp::base(
            b.extra_css_url.as_deref(),
            &[b.logo_url.as_deref(), b.favicon_url.as_deref()],
        );
        Self {
            inner: Arc::new(Inner {
                csrf: Csrf::new(secret),
                session_keys: KeyedHasher::new(secret, "login-ui/session"),
                browser_keys: KeyedHasher::new(secret, "login-ui/browser"),
                revocation_keys: RevocationKeys::new(secret),
                cookie_scope: cookies::Scope::new(config.cookie_secure, &config.base_path),
                assets: Assets::new(&config.branding, &config.base_path),
                base_csp,
                account_settings: tokio::sync::OnceCell::new(),
                token,
                store,
                clock,
                config,
            }),
        }
    }

    /// The external login and consent app, in external UI mode.
    pub fn external(&self) -> Option<&crate::config::ExternalUi> {
        self.inner.config.external.as_ref()
    }

    pub(crate) fn token(&self) -> &TokenServiceClient {
        &self.inner.token
    }

    pub(crate) fn config(&self) -> &LoginConfig {
        &self.inner.config
    }

    pub(crate) fn now(&self) -> i64 {
        self.inner.clock.unix()
    }

    pub(crate) fn csrf(&self) -> &Csrf {
        &self.inner.csrf
    }

    pub(crate) fn assets(&self) -> &Assets {
        &self.inner.assets
    }

    pub(crate) fn base_csp(&self) -> Csp {
        self.inner.base_csp.clone()
    }

    /// Where the UI's cookies apply (https or not, the issuer's path).
    pub(crate) fn cookies(&self) -> &cookies::Scope {
        &self.inner.cookie_scope
    }

    /// `path` (e.g. `/ui/login`) under the issuer's path: what links, forms and redirects use.
    pub(crate) fn path(&self, path: &str) -> String {
        format!("{}{path}", self.inner.config.base_path)
    }

    pub(crate) fn issuer(&self) -> &str {
        &self.inner.config.issuer
    }

    /// This browser's cookie, minted when absent (pages that show a form).
    pub(crate) fn browser(&self, headers: &HeaderMap) -> Browser {
        Browser::from_headers(headers, self.cookies())
    }

    /// This browser's cookie only if it sent one (form submissions).
    pub(crate) fn existing_browser(&self, headers: &HeaderMap) -> Option<Browser> {
        Browser::existing(headers, self.cookies())
    }

    pub(crate) fn sessions(&self) -> Sessions<'_> {
        Sessions {
            store: self.inner.store.as_ref(),
            keys: &self.inner.session_keys,
            index: &self.inner.revocation_keys,
            scope: self.cookies(),
            ttl: self.inner.config.session_ttl,
        }
    }

    /// What mail allows. Until the token service has answered once, mail reads as off (the
    /// login page then shows no "Forgot password?"), and the next page asks again.
    pub(crate) async fn account_settings(&self) -> crate::token_client::AccountSettings {
        if let Some(settings) = self.inner.account_settings.get() {
            return *settings;
        }
        match self.token().account_settings().await {
            Ok(settings) => {
                let _ = self.inner.account_settings.set(settings);
                settings
            }
            Err(e) => {
                tracing::warn!(error = %e.description, "the token service did not say what mail allows");
                crate::token_client::AccountSettings {
                    mail_enabled: false,
                    password_reset_ttl: std::time::Duration::ZERO,
                    self_registration: false,
                    passkeys: false,
                }
            }
        }
    }

    pub(crate) fn challenges(&self) -> Challenges<'_> {
        Challenges {
            store: self.inner.store.as_ref(),
            keys: &self.inner.browser_keys,
            ttl: self.inner.config.challenge_ttl,
        }
    }
}
