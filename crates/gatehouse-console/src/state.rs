//! What the console is handed by the binary: the admin API and public routers it calls in
//! process, the short-lived store for its sessions, and its settings.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::secret::KeyedHasher;
use gatehouse_core::store::ShortLivedStore;
use gatehouse_login::Branding;
use url::Url;

use crate::api::AdminApi;

/// The console's settings.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// Where operators reach the console (`GATEHOUSE_CONSOLE_URL`): its origin is the only one
    /// the console answers (`Host`, `Origin`), its path is where the routes are mounted, and
    /// `<url>/callback` is the sign-in's redirect URI.
    pub url: Url,
    /// The issuer, whose `/oauth2/auth` operators sign in at.
    pub issuer: Url,
    pub branding: Branding,
    /// How long a console session lasts, from sign-in.
    pub session_ttl: Duration,
}

impl ConsoleConfig {
    /// Eight hours: a working day, after which the operator signs in again.
    pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);
}

/// The console's shared state.
#[derive(Clone)]
pub struct ConsoleState(Arc<Inner>);

struct Inner {
    api: AdminApi,
    public: axum::Router,
    short_lived: Arc<dyn ShortLivedStore>,
    config: ConsoleConfig,
    base_path: String,
    issuer_path: String,
    /// Keys the session and pre-login records' store keys and the CSRF tokens.
    keys: KeyedHasher,
    brand_css: String,
    /// Whether this process registered (or checked) the console's own client.
    client_ready: std::sync::atomic::AtomicBool,
}

impl ConsoleState {
    /// `admin_api` is the admin listener's routes without the admin token and browser guard;
    /// `public` the public listener's OAuth routes (the token endpoint is called in process).
    pub fn new(
        admin_api: axum::Router,
        public: axum::Router,
        short_lived: Arc<dyn ShortLivedStore>,
        config: ConsoleConfig,
        system_secret: &[u8],
    ) -> Self {
        let base_path = config.url.path().trim_end_matches('/').to_owned();
        let issuer_path = config.issuer.path().trim_end_matches('/').to_owned();
        let brand_css = gatehouse_login::branding::brand_css(&config.branding);
        Self(Arc::new(Inner {
            api: AdminApi::new(admin_api),
            public,
            short_lived,
            base_path,
            issuer_path,
            keys: KeyedHasher::new(system_secret, "console"),
            brand_css,
            config,
            client_ready: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    pub fn api(&self) -> &AdminApi {
        &self.0.api
    }

    pub(crate) fn public(&self) -> &axum::Router {
        &self.0.public
    }

    pub(crate) fn short_lived(&self) -> &dyn ShortLivedStore {
        self.0.short_lived.as_ref()
    }

    pub fn config(&self) -> &ConsoleConfig {
        &self.0.config
    }

    /// The console's path on the admin listener, without a trailing slash (`/console`).
    pub fn base_path(&self) -> &str {
        &self.0.base_path
    }

    /// `path` under the console: `/console/apps`.
    pub(crate) fn path(&self, path: &str) -> String {
        format!("{}{path}", self.0.base_path)
    }

    /// The issuer's path (`""` for an issuer at the root).
    pub(crate) fn issuer_path(&self) -> &str {
        &self.0.issuer_path
    }

    pub(crate) fn client_ready(&self) -> &std::sync::atomic::AtomicBool {
        &self.0.client_ready
    }

    pub(crate) fn keys(&self) -> &KeyedHasher {
        &self.0.keys
    }

    pub(crate) fn brand_css(&self) -> &str {
        &self.0.brand_css
    }

    /// The sign-in's redirect URI.
    pub fn redirect_uri(&self) -> String {
        format!(
            "{}{}/callback",
            self.config().url.origin().ascii_serialization(),
            self.base_path()
        )
    }

    /// Whether the console is served over https (its cookies are then `Secure`).
    pub(crate) fn secure(&self) -> bool {
        self.config().url.scheme() == "https"
    }
}
