//! The one typed configuration of a Gatehouse process.
//!
//! Layers, later wins: built-in defaults < `--config FILE` (TOML) < `GATEHOUSE_*` environment
//! variables (plus the conventional `DATABASE_URL` and `REDIS_URL`) < command-line flags.
//! Keys are flat (`ttl_auth_code` in a file is `GATEHOUSE_TTL_AUTH_CODE` in the environment) so
//! every key has exactly one obvious spelling in each layer.

use figment::providers::{Env, Format as _, Serialized, Toml};
use figment::value::Dict;
use figment::{Figment, Provider as _};
use gatehouse_core::secret::SecretString;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// Every key this binary accepts, as written in a config file. The environment spelling is
/// `GATEHOUSE_` + the upper-cased key, except `database_url` and `redis_url`.
pub const KEYS: &[&str] = &[
    "issuer",
    "public_addr",
    "admin_addr",
    "grpc_addr",
    "login_addr",
    "login_admin_addr",
    "token_grpc_url",
    "grpc_tls_cert",
    "grpc_tls_key",
    "grpc_client_ca",
    "grpc_insecure",
    "token_grpc_ca",
    "token_grpc_client_cert",
    "token_grpc_client_key",
    "database_url",
    "database_pool_size",
    "database_acquire_timeout",
    "redis_url",
    "data_dir",
    "dev",
    "auto_migrate",
    "system_secret",
    "system_secret_previous",
    "admin_token",
    "allow_insecure_redirect_uris",
    "ttl_auth_code",
    "ttl_access_token",
    "ttl_id_token",
    "ttl_refresh_token",
    "ttl_login_session",
    "ttl_consent",
    "ttl_device_code",
    "ttl_login_challenge",
    "client_secret_rotation_grace",
    "access_token_strategy",
    "access_token_alg",
    "id_token_alg",
    "require_pkce",
    "require_par",
    "dpop_require_nonce",
    "open_registration",
    "registration_allowed_scopes",
    "registration_allowed_grant_types",
    "registration_allowed_auth_methods",
    "partner_approval",
    "mfa",
    "shutdown_grace",
    "shutdown_delay",
    "log",
    "log_format",
    "ui_product_name",
    "ui_logo_url",
    "ui_favicon_url",
    "ui_primary_color",
    "ui_support_url",
    "ui_footer",
    "ui_extra_css_url",
    "login_max_failures_per_user",
    "login_max_failures_per_ip",
    "login_failure_window",
    "login_lockout",
    "login_reveal_disabled",
    "trusted_proxies",
    "ui",
    "urls_login",
    "urls_consent",
    "urls_logout",
    "urls_error",
    "console_url",
    "smtp_url",
    "mail_from",
    "ttl_password_reset",
    "reset_ends_sessions",
    "self_registration",
];

/// Environment variables read by the CLI rather than the server; accepted, not configuration.
/// (`GATEHOUSE_ADMIN_TOKEN`, which the CLI reads too, is also a server key.)
const CLIENT_ONLY_ENV: &[&str] = &["GATEHOUSE_ADMIN_URL"];

/// The environment spelling of `key`: `DATABASE_URL` and `REDIS_URL` are conventional names
/// (`GATEHOUSE_DATABASE_URL` and `GATEHOUSE_REDIS_URL` are read too); the rest are
/// `GATEHOUSE_` + the upper-cased key.
pub fn env_name(key: &str) -> String {
    if key == "database_url" || key == "redis_url" {
        key.to_ascii_uppercase()
    } else {
        format!("GATEHOUSE_{}", key.to_ascii_uppercase())
    }
}

/// The flag spelling of `key` (only some keys have a flag).
fn flag_name(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

/// Where a setting's value came from, so a message blames the place the operator wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Origin {
    #[default]
    Default,
    /// A command-line flag.
    Flag,
    /// The named environment variable.
    Env(String),
    /// The `--config` file.
    File(PathBuf),
}

impl Origin {
    /// How a message names the place `key` was set: `flag --public-addr`,
    /// `environment variable GATEHOUSE_PUBLIC_ADDR`, `key public_addr in FILE`.
    pub fn describe(&self, key: &str) -> String {
        match self {
            Self::Default => format!("the default of {key}"),
            Self::Flag => format!("flag {}", flag_name(key)),
            Self::Env(name) => format!("environment variable {name}"),
            Self::File(path) => format!("key {key} in {}", path.display()),
        }
    }

    /// The setting as the operator would write it: `--public-addr VALUE`, `GATEHOUSE_PUBLIC_ADDR=VALUE`,
    /// `public_addr = VALUE in FILE`; a default is shown as the environment variable that changes it.
    pub fn assignment(&self, key: &str, value: &str) -> String {
        match self {
            Self::Default => format!("{}={value}, the default", env_name(key)),
            Self::Flag => format!("{} {value}", flag_name(key)),
            Self::Env(name) => format!("{name}={value}"),
            Self::File(path) => format!("{key} = {value:?} in {}", path.display()),
        }
    }
}

/// The origin of every key that was set somewhere other than the defaults.
#[derive(Debug, Clone, Default)]
pub struct Origins(BTreeMap<String, Origin>);

impl Origins {
    /// Where `key` came from ([`Origin::Default`] when nothing set it).
    pub fn of(&self, key: &str) -> Origin {
        self.0.get(key).cloned().unwrap_or_default()
    }
}

/// The candidate closest to `name` by edit distance, when one is close enough to be a typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    let allowed = match name.chars().count() {
        0..=4 => 1,
        5..=12 => 2,
        _ => 3,
    };
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&name, &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(distance, _)| *distance <= allowed)
        .min()
        .map(|(_, c)| c)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

/// RFC 6749 §4.1.2: "A maximum authorization code lifetime of 10 minutes is RECOMMENDED."
const RECOMMENDED_AUTH_CODE_TTL: Duration = Duration::from_secs(600);
/// The longest authorization-code lifetime accepted (the 30 minutes some partner guides promise).
const MAX_AUTH_CODE_TTL: Duration = Duration::from_secs(1800);

/// Its `Debug` hides every secret setting (see [`Config::SECRET_KEYS`]).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Public base URL; the `iss` of every token. Normalised without a trailing slash.
    pub issuer: String,
    pub public_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    /// The login UI's own listener in `serve login` (in `serve all` it shares the public one).
    pub login_addr: SocketAddr,
    /// Health and `/metrics` of a `serve login` process (it has no admin API).
    pub login_admin_addr: SocketAddr,
    /// Where a separate login process finds the token service's gRPC listener.
    pub token_grpc_url: Option<String>,
    /// The token service's gRPC server certificate (PEM): with the key and the client CA, the
    /// listener takes only mutual TLS.
    pub grpc_tls_cert: Option<PathBuf>,
    /// The private key of `grpc_tls_cert` (PEM, PKCS#8).
    pub grpc_tls_key: Option<PathBuf>,
    /// The CA (PEM) whose client certificates the gRPC listener accepts; their roles decide what
    /// each caller may call.
    pub grpc_client_ca: Option<PathBuf>,
    /// Serve gRPC off loopback without TLS, for a service mesh that already does mutual TLS.
    pub grpc_insecure: bool,
    /// The CA (PEM) that verifies the token service's certificate, for callers (`serve login`).
    pub token_grpc_ca: Option<PathBuf>,
    /// The caller's client certificate (PEM) for the token service's gRPC listener.
    pub token_grpc_client_cert: Option<PathBuf>,
    /// The private key of `token_grpc_client_cert` (PEM, PKCS#8).
    pub token_grpc_client_key: Option<PathBuf>,
    pub database_url: Option<String>,
    /// Postgres connections per process (at least 1).
    pub database_pool_size: u32,
    /// How long a request waits for a pooled Postgres connection before it fails.
    #[serde(with = "human_duration")]
    pub database_acquire_timeout: Duration,
    pub redis_url: Option<String>,
    /// Holds the embedded SQLite database and, in dev mode, the generated system secret.
    pub data_dir: PathBuf,
    pub dev: bool,
    pub auto_migrate: bool,
    #[serde(deserialize_with = "string_like")]
    pub system_secret: Option<String>,
    /// Previous system secrets (comma-separated), still accepted for decrypting signing keys
    /// while the system secret is rotated.
    #[serde(deserialize_with = "string_like")]
    pub system_secret_previous: Option<String>,
    #[serde(deserialize_with = "string_like")]
    pub admin_token: Option<String>,
    pub allow_insecure_redirect_uris: bool,
    #[serde(with = "human_duration")]
    pub ttl_auth_code: Duration,
    #[serde(with = "human_duration")]
    pub ttl_access_token: Duration,
    #[serde(with = "human_duration")]
    pub ttl_id_token: Duration,
    #[serde(with = "human_duration")]
    pub ttl_refresh_token: Duration,
    #[serde(with = "human_duration")]
    pub ttl_login_session: Duration,
    #[serde(with = "human_duration")]
    pub ttl_consent: Duration,
    /// How long a device code and its user code live (RFC 8628 `expires_in`).
    #[serde(with = "human_duration")]
    pub ttl_device_code: Duration,
    /// How long an unfinished authorization request waits for the user to sign in and consent.
    #[serde(with = "human_duration")]
    pub ttl_login_challenge: Duration,
    #[serde(with = "human_duration")]
    pub client_secret_rotation_grace: Duration,
    #[serde(with = "human_duration")]
    pub shutdown_grace: Duration,
    /// After SIGTERM, how long the listeners keep serving while readiness says 503 `draining`,
    /// so a load balancer stops sending new connections before they close.
    #[serde(with = "human_duration")]
    pub shutdown_delay: Duration,
    /// `opaque` (default) or `jwt` (RFC 9068) access tokens for clients that do not choose.
    pub access_token_strategy: String,
    /// Signing algorithm of JWT access tokens: RS256, ES256 or EdDSA.
    pub access_token_alg: String,
    /// Signing algorithm of ID tokens: RS256 (default, mandatory to implement), ES256 or EdDSA.
    pub id_token_alg: String,
    /// Require PKCE from confidential clients too (always required from public clients).
    pub require_pkce: bool,
    /// Accept authorization requests only when pushed first (RFC 9126 PAR), from every client.
    pub require_par: bool,
    /// Require a server-issued nonce in DPoP proofs at the token endpoint (RFC 9449 §8).
    pub dpop_require_nonce: bool,
    /// Anyone may register a client at `POST /oauth2/register` without an initial access token.
    pub open_registration: bool,
    /// Scopes a self-registered client may ask for (space- or comma-separated).
    pub registration_allowed_scopes: String,
    /// Grant types a self-registered client may ask for (space- or comma-separated).
    pub registration_allowed_grant_types: String,
    /// Client authentication methods a self-registered client may choose (space- or
    /// comma-separated).
    pub registration_allowed_auth_methods: String,
    /// Partner onboarding (`/developers`): `manual` (an operator reviews each request),
    /// `automatic` (approved at once) or `off` (the portal is hidden).
    pub partner_approval: String,
    /// Second factors: `optional` (users with one are asked for it) or `required` (users without
    /// one enrol at their next sign-in).
    pub mfa: String,
    /// Log filter (`tracing` env-filter syntax). `GATEHOUSE_LOG`, else `RUST_LOG`, else `info`.
    pub log: Option<String>,
    pub log_format: LogFormat,
    /// Login UI branding: the product name in titles and the header.
    pub ui_product_name: String,
    /// Logo shown in the login UI's header (http(s) URL or a path on this origin).
    pub ui_logo_url: Option<String>,
    pub ui_favicon_url: Option<String>,
    /// `#rgb` or `#rrggbb`; text on it and links in it are adjusted for WCAG AA contrast.
    pub ui_primary_color: String,
    pub ui_support_url: Option<String>,
    pub ui_footer: Option<String>,
    /// An extra stylesheet loaded after the built-in ones.
    pub ui_extra_css_url: Option<String>,
    /// Failed logins for one username within `login_failure_window` that lock it (0: no limit).
    pub login_max_failures_per_user: u32,
    /// Failed logins from one client IP within `login_failure_window` that block it (0: no limit).
    pub login_max_failures_per_ip: u32,
    #[serde(with = "human_duration")]
    pub login_failure_window: Duration,
    /// How long a locked username or blocked IP stays locked.
    #[serde(with = "human_duration")]
    pub login_lockout: Duration,
    /// Tell a user whose password was right that their account is disabled. Off by default:
    /// the answer then shows that the password was right, which an attacker could use.
    pub login_reveal_disabled: bool,
    /// Reverse proxies (IPs or CIDR ranges, comma-separated, or a TOML array) whose
    /// `X-Forwarded-For` names the client for the per-IP login limit. Empty: the connection's
    /// address is the client.
    #[serde(deserialize_with = "comma_list")]
    pub trusted_proxies: String,
    /// `builtin` (default): Gatehouse's own login and consent pages; `external`: another app's,
    /// through Hydra's login/consent challenge API on the admin listener.
    pub ui: String,
    /// External UI: where the browser goes with `?login_challenge=` (required in external mode).
    pub urls_login: Option<String>,
    /// External UI: where the browser goes with `?consent_challenge=` (required in external mode).
    pub urls_consent: Option<String>,
    /// External UI: where RP-initiated logout goes with `?logout_challenge=` (optional).
    pub urls_logout: Option<String>,
    /// Where operators reach the console (`GATEHOUSE_CONSOLE_URL`); default
    /// `http://<admin listener address>/console`. Its origin is the only one the console answers,
    /// and `<url>/callback` its sign-in's redirect URI.
    pub console_url: Option<String>,
    /// External UI: where errors that cannot go to the client are shown (optional).
    pub urls_error: Option<String>,
    /// Outgoing mail (password reset, email verification, partner notices): `smtp://host:25`,
    /// `smtps://user:pass@host:465`, `smtp://user:pass@host:587?tls=required`. Without it, dev
    /// mode writes mails as `.eml` files to `<data_dir>/mail/`; outside dev mode, features that
    /// need mail are off.
    #[serde(deserialize_with = "string_like")]
    pub smtp_url: Option<String>,
    /// The sender of those mails: `Name <address>` or an address (required with `smtp_url`).
    pub mail_from: Option<String>,
    /// How long a password-reset link works.
    #[serde(with = "human_duration")]
    pub ttl_password_reset: Duration,
    /// A password reset ends every login session, refresh-token family and access token of the
    /// user.
    pub reset_ends_sessions: bool,
    /// People may create their own accounts ("Create an account" on the login page); with mail,
    /// an account exists once its address is confirmed.
    pub self_registration: bool,
    /// Where each setting came from; not a setting itself.
    #[serde(skip)]
    pub origins: Origins,
}

impl Default for Config {
    fn default() -> Self {
        let hours = |h: u64| Duration::from_secs(h * 3600);
        Self {
            issuer: "http://127.0.0.1:4444".into(),
            public_addr: SocketAddr::from(([127, 0, 0, 1], 4444)),
            admin_addr: SocketAddr::from(([127, 0, 0, 1], 4445)),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 4446)),
            login_addr: SocketAddr::from(([127, 0, 0, 1], 4447)),
            login_admin_addr: SocketAddr::from(([127, 0, 0, 1], 4448)),
            token_grpc_url: None,
            grpc_tls_cert: None,
            grpc_tls_key: None,
            grpc_client_ca: None,
            grpc_insecure: false,
            token_grpc_ca: None,
            token_grpc_client_cert: None,
            token_grpc_client_key: None,
            database_url: None,
            database_pool_size: gatehouse_store::PoolSettings::DEFAULT_MAX_CONNECTIONS,
            database_acquire_timeout: gatehouse_store::PoolSettings::DEFAULT_ACQUIRE_TIMEOUT,
            redis_url: None,
            data_dir: PathBuf::from("data"),
            dev: false,
            auto_migrate: true,
            system_secret: None,
            system_secret_previous: None,
            admin_token: None,
            allow_insecure_redirect_uris: false,
            ttl_auth_code: Duration::from_secs(600),
            ttl_access_token: hours(1),
            ttl_id_token: hours(1),
            ttl_refresh_token: hours(720),
            ttl_login_session: hours(24 * 14),
            ttl_consent: hours(24 * 180),
            ttl_device_code: Duration::from_secs(600),
            ttl_login_challenge: Duration::from_secs(15 * 60),
            client_secret_rotation_grace: hours(24),
            shutdown_grace: Duration::from_secs(20),
            shutdown_delay: Duration::ZERO,
            access_token_strategy: "opaque".into(),
            access_token_alg: "RS256".into(),
            id_token_alg: "RS256".into(),
            require_pkce: false,
            require_par: false,
            dpop_require_nonce: false,
            open_registration: false,
            registration_allowed_scopes: gatehouse_core::self_registration::DEFAULT_ALLOWED_SCOPES
                .into(),
            registration_allowed_grant_types: "authorization_code refresh_token".into(),
            registration_allowed_auth_methods: "client_secret_basic client_secret_post none".into(),
            partner_approval: "manual".into(),
            mfa: "optional".into(),
            log: None,
            log_format: LogFormat::Human,
            ui_product_name: "Gatehouse".into(),
            ui_logo_url: None,
            ui_favicon_url: None,
            ui_primary_color: gatehouse_login::branding::DEFAULT_PRIMARY_COLOR.into(),
            ui_support_url: None,
            ui_footer: None,
            ui_extra_css_url: None,
            login_max_failures_per_user: 5,
            login_max_failures_per_ip: 50,
            login_failure_window: Duration::from_secs(15 * 60),
            login_lockout: Duration::from_secs(15 * 60),
            login_reveal_disabled: false,
            trusted_proxies: String::new(),
            ui: "builtin".into(),
            urls_login: None,
            console_url: None,
            urls_consent: None,
            urls_logout: None,
            urls_error: None,
            smtp_url: None,
            mail_from: None,
            ttl_password_reset: gatehouse_core::account_recovery::DEFAULT_PASSWORD_RESET_TTL,
            reset_ends_sessions: true,
            self_registration: false,
            origins: Origins::default(),
        }
    }
}

/// A configuration problem, worded as one line: the key, what is wrong, how to fix it.
#[derive(Debug)]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
    pub fix: String,
    /// A line that says it all by itself, printed instead of the key/problem/fix form.
    line: Option<String>,
}

impl ConfigError {
    pub fn new(key: &str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            problem: problem.into(),
            fix: fix.into(),
            line: None,
        }
    }

    /// An error about `key` whose message is exactly `line`.
    pub fn plain(key: &str, line: impl Into<String>) -> Self {
        let line = line.into();
        Self {
            key: key.to_owned(),
            problem: line.clone(),
            fix: String::new(),
            line: Some(line),
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.line {
            Some(line) => f.write_str(line),
            None => write!(
                f,
                "configuration error: {}: {}; {}",
                self.key, self.problem, self.fix
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Which processes' roles this configuration will run; some rules depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    All,
    Token,
    Login,
    /// `migrate` and other one-shot commands: only the database matters.
    OneShot,
}

/// Loads the layered configuration. `overrides` is the flags' layer (only keys that were given).
pub fn load(
    file: Option<&Path>,
    overrides: &serde_json::Map<String, serde_json::Value>,
) -> Result<Config, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    let mut file_values = Dict::new();
    if let Some(path) = file {
        if !path.is_file() {
            return Err(ConfigError::new(
                "--config",
                format!("file {} does not exist or is not a file", path.display()),
                "pass the path of a TOML configuration file",
            ));
        }
        // A syntax error is left to the extraction below, which names the line.
        if let Ok(mut profiles) = Toml::file(path).data() {
            file_values = profiles
                .remove(&figment::Profile::Default)
                .unwrap_or_default();
        }
        if let Some(unknown) = file_values.keys().find(|k| !KEYS.contains(&k.as_str())) {
            let line = match did_you_mean(unknown, KEYS.iter().copied()) {
                Some(key) => format!(
                    "unknown key {unknown} in {}; did you mean {key}?",
                    path.display()
                ),
                None => format!(
                    "unknown key {unknown} in {}; docs/configuration.md lists the keys",
                    path.display()
                ),
            };
            return Err(ConfigError::plain(unknown, line));
        }
        figment = figment.merge(Toml::file(path));
    }
    let origins = origins(file, &file_values, overrides);
    let env = Env::prefixed("GATEHOUSE_")
        .filter(|k| KEYS.iter().any(|key| k.as_str().eq_ignore_ascii_case(key)));
    figment = figment
        .merge(env)
        .merge(
            Env::raw()
                .only(&["DATABASE_URL", "REDIS_URL"])
                .map(|k| k.as_str().to_ascii_lowercase().into()),
        )
        .merge(Serialized::defaults(overrides.clone()));
    let mut config: Config = figment
        .extract()
        .map_err(|e| describe_figment_error(&e, &origins, &file_values, overrides))?;
    config.origins = origins;
    if config.log.is_none() {
        config.log = std::env::var("RUST_LOG").ok();
    }
    // Empty strings in the environment mean "unset", as shells and compose files produce them.
    for value in [
        &mut config.grpc_tls_cert,
        &mut config.grpc_tls_key,
        &mut config.grpc_client_ca,
        &mut config.token_grpc_ca,
        &mut config.token_grpc_client_cert,
        &mut config.token_grpc_client_key,
    ] {
        if value.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            *value = None;
        }
    }
    for value in [
        &mut config.database_url,
        &mut config.redis_url,
        &mut config.system_secret,
        &mut config.system_secret_previous,
        &mut config.admin_token,
        &mut config.token_grpc_url,
        &mut config.ui_logo_url,
        &mut config.ui_favicon_url,
        &mut config.ui_support_url,
        &mut config.ui_footer,
        &mut config.ui_extra_css_url,
        &mut config.console_url,
        &mut config.smtp_url,
        &mut config.mail_from,
    ] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            *value = None;
        }
    }
    Ok(config)
}

/// Where each key's value comes from, by the layers' order (later wins).
fn origins(
    file: Option<&Path>,
    file_values: &Dict,
    overrides: &serde_json::Map<String, serde_json::Value>,
) -> Origins {
    let mut origins = BTreeMap::new();
    if let Some(path) = file {
        for key in file_values.keys() {
            origins.insert(key.clone(), Origin::File(path.to_path_buf()));
        }
    }
    let mut env: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
    env.sort();
    for name in &env {
        if name.len() > PREFIX.len() && name[..PREFIX.len()].eq_ignore_ascii_case(PREFIX) {
            let key = name[PREFIX.len()..].to_ascii_lowercase();
            if KEYS.contains(&key.as_str()) {
                origins.insert(key, Origin::Env(name.clone()));
            }
        }
    }
    for raw in ["DATABASE_URL", "REDIS_URL"] {
        if std::env::var_os(raw).is_some() {
            origins.insert(raw.to_ascii_lowercase(), Origin::Env(raw.to_owned()));
        }
    }
    for key in overrides.keys() {
        origins.insert(key.clone(), Origin::Flag);
    }
    Origins(origins)
}

const PREFIX: &str = "GATEHOUSE_";

/// A `GATEHOUSE_*` environment variable that no key reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSetting {
    pub name: String,
    /// The known variable it is closest to, when it looks like a typo of one.
    pub suggestion: Option<String>,
}

impl UnknownSetting {
    /// `unknown setting GATEHOUSE_ISUER; did you mean GATEHOUSE_ISSUER?`
    pub fn message(&self) -> String {
        match &self.suggestion {
            Some(known) => format!("unknown setting {}; did you mean {known}?", self.name),
            None => format!(
                "unknown setting {}; no setting has a similar name (docs/configuration.md lists them)",
                self.name
            ),
        }
    }
}

/// `GATEHOUSE_*` variables in the environment that no key reads, so a typo does not go unnoticed
/// (sorted by name). The CLI's own variables and the test suite's `GATEHOUSE_TEST_*` are known.
pub fn unknown_environment_keys() -> Vec<UnknownSetting> {
    unknown_settings(std::env::vars().map(|(k, _)| k))
}

fn unknown_settings(names: impl IntoIterator<Item = String>) -> Vec<UnknownSetting> {
    let known: Vec<String> = KEYS
        .iter()
        .map(|k| format!("{PREFIX}{}", k.to_ascii_uppercase()))
        .chain(CLIENT_ONLY_ENV.iter().map(|k| (*k).to_owned()))
        .collect();
    let mut unknown: Vec<UnknownSetting> = names
        .into_iter()
        .filter(|k| k.starts_with(PREFIX))
        .filter(|k| {
            let key = k[PREFIX.len()..].to_ascii_lowercase();
            !KEYS.contains(&key.as_str())
                && !CLIENT_ONLY_ENV.contains(&k.as_str())
                && !k.starts_with("GATEHOUSE_TEST_")
        })
        .map(|name| {
            let suggestion = did_you_mean(
                &name[PREFIX.len()..],
                known.iter().map(|k| &k[PREFIX.len()..]),
            )
            .map(|k| format!("{PREFIX}{k}"));
            UnknownSetting { name, suggestion }
        })
        .collect();
    unknown.sort_by(|a, b| a.name.cmp(&b.name));
    unknown
}

/// What a key's value must look like, for the keys whose parser's own words would not say it.
fn expected(key: &str) -> Option<String> {
    let port = match key {
        "public_addr" => Some(4444),
        "admin_addr" => Some(4445),
        "grpc_addr" => Some(4446),
        "login_addr" => Some(4447),
        "login_admin_addr" => Some(4448),
        _ => None,
    };
    if let Some(port) = port {
        return Some(format!("HOST:PORT, e.g. 0.0.0.0:{port}"));
    }
    let defaults = serde_json::to_value(Config::default()).ok()?;
    let default = defaults.get(key)?;
    Some(
        match (key, default) {
            ("log_format", _) => "human or json",
            ("trusted_proxies", _) => {
                "IP addresses or CIDR ranges, comma-separated or as a list, e.g. 10.0.0.0/8,127.0.0.1"
            }
            (k, _) if k.starts_with("ttl_") || k.ends_with("_grace") || k.ends_with("_delay") => {
                "a duration such as 30s, 10m or 720h"
            }
            ("login_failure_window" | "login_lockout" | "database_acquire_timeout", _) => {
                "a duration such as 30s, 10m or 720h"
            }
            (_, serde_json::Value::Bool(_)) => "true or false",
            (_, serde_json::Value::Number(_)) => "a whole number, e.g. 5",
            _ => return None,
        }
        .to_owned(),
    )
}

/// One line for a value that did not parse: the key, where the value came from (a flag, an
/// environment variable or the file), and what is expected. Secret values are not repeated.
fn describe_figment_error(
    e: &figment::Error,
    origins: &Origins,
    file_values: &Dict,
    overrides: &serde_json::Map<String, serde_json::Value>,
) -> ConfigError {
    let key = e
        .path
        .first()
        .cloned()
        .unwrap_or_else(|| "configuration".into());
    let origin = origins.of(&key);
    let value = match &origin {
        Origin::Flag => overrides.get(&key).map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        Origin::Env(name) => std::env::var(name).ok(),
        Origin::File(_) => file_values
            .get(&key)
            .and_then(|v| serde_json::to_value(v).ok())
            .map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            }),
        Origin::Default => None,
    };
    let shown = match value {
        Some(_) if Config::SECRET_KEYS.contains(&key.as_str()) => "the value".to_owned(),
        Some(v) => format!("{v:?}"),
        None => "the value".to_owned(),
    };
    let problem = format!("{shown} from {} is not valid", origin.describe(&key));
    let fix = match expected(&key) {
        Some(expected) => format!("expected {expected}"),
        None => match &e.kind {
            figment::error::Kind::Message(message) => message.clone(),
            kind => kind.to_string(),
        },
    };
    ConfigError::new(&key, problem, fix)
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut settings = serde_json::to_value(self).map_err(|_| std::fmt::Error)?;
        if let Some(settings) = settings.as_object_mut() {
            for key in Self::SECRET_KEYS {
                if let Some(value) = settings.get_mut(*key).filter(|v| !v.is_null()) {
                    *value = serde_json::Value::from("[redacted]");
                }
            }
        }
        write!(f, "Config {settings:#}")
    }
}

impl Config {
    /// Settings that hold a secret: the secrets themselves, and URLs that may carry a password.
    pub const SECRET_KEYS: &'static [&'static str] = &[
        "system_secret",
        "system_secret_previous",
        "admin_token",
        "database_url",
        "redis_url",
        "smtp_url",
    ];

    /// Checks the rules that span keys or depend on the role. Returns the config with the issuer
    /// normalised.
    /// The start-up warning for an authorization-code lifetime above RFC 6749 §4.1.2's
    /// recommended 10 minutes, if there is one to give.
    pub fn auth_code_ttl_warning(&self) -> Option<String> {
        (self.ttl_auth_code > RECOMMENDED_AUTH_CODE_TTL).then(|| {
            format!(
                "GATEHOUSE_TTL_AUTH_CODE is {}s: above the 10 minutes RFC 6749 §4.1.2 recommends; a stolen code stays redeemable that long (PKCE and single use still apply)",
                self.ttl_auth_code.as_secs()
            )
        })
    }

    pub fn validate(mut self, role: Role) -> Result<Self, ConfigError> {
        let issuer = Url::parse(&self.issuer).map_err(|e| {
            ConfigError::new(
                "issuer",
                format!("{:?} is not an absolute URL ({e})", self.issuer),
                "set GATEHOUSE_ISSUER to e.g. https://auth.example.com",
            )
        })?;
        if !matches!(issuer.scheme(), "http" | "https")
            || issuer.query().is_some()
            || issuer.fragment().is_some()
        {
            return Err(ConfigError::new(
                "issuer",
                format!(
                    "{:?} must be an http(s) URL without query or fragment",
                    self.issuer
                ),
                "set GATEHOUSE_ISSUER to e.g. https://auth.example.com",
            ));
        }
        if issuer.scheme() == "http"
            && !self.dev
            && !gatehouse_core::redirect::is_loopback_host(&issuer, true)
        {
            return Err(ConfigError::new(
                "issuer",
                format!("{:?} uses plain http on a public host", self.issuer),
                "use https (OpenID Connect Discovery requires it), or GATEHOUSE_DEV=true for local experiments",
            ));
        }
        self.issuer = self.issuer.trim_end_matches('/').to_owned();

        for (key, ttl) in [
            ("ttl_auth_code", self.ttl_auth_code),
            ("ttl_access_token", self.ttl_access_token),
            ("ttl_id_token", self.ttl_id_token),
            ("ttl_refresh_token", self.ttl_refresh_token),
            ("ttl_login_session", self.ttl_login_session),
            ("ttl_consent", self.ttl_consent),
            ("ttl_device_code", self.ttl_device_code),
            ("ttl_login_challenge", self.ttl_login_challenge),
        ] {
            if ttl.is_zero() {
                return Err(ConfigError::new(
                    key,
                    "must be longer than zero",
                    "use a duration such as 10m, 1h or 720h",
                ));
            }
        }
        if self.ttl_auth_code > MAX_AUTH_CODE_TTL {
            // RFC 6749 §4.1.2 recommends 10 minutes at most; 30 minutes is allowed (with a
            // warning at start-up, `auth_code_ttl_warning`) because partners of systems
            // Gatehouse replaces were promised codes that live that long.
            return Err(ConfigError::new(
                "ttl_auth_code",
                "must be at most 30m (RFC 6749 §4.1.2 recommends 10m)",
                "set GATEHOUSE_TTL_AUTH_CODE to 10m or less (30m at most)",
            ));
        }

        if let Some(url) = &self.database_url
            && !(url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite:"))
        {
            return Err(ConfigError::new(
                "database_url",
                "must start with postgres://, postgresql:// or sqlite:",
                "set DATABASE_URL to e.g. postgres://user@host/db",
            ));
        }
        if self.database_pool_size == 0 {
            return Err(ConfigError::new(
                "database_pool_size",
                "must be at least 1",
                "set GATEHOUSE_DATABASE_POOL_SIZE to the Postgres connections each process may open, e.g. 10",
            ));
        }
        if self.database_acquire_timeout.is_zero() {
            return Err(ConfigError::new(
                "database_acquire_timeout",
                "must be longer than zero",
                "set GATEHOUSE_DATABASE_ACQUIRE_TIMEOUT to a duration such as 3s",
            ));
        }
        if let Some(url) = &self.redis_url
            && let Err(problem) = gatehouse_store::check_redis_url(url)
        {
            return Err(ConfigError::new(
                "redis_url",
                problem,
                "set REDIS_URL to e.g. redis://127.0.0.1:6379, redis+cluster://10.0.0.1:6379,10.0.0.2:6379 or redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster (docs/operations.md, \"Redis\")",
            ));
        }
        self.validate_external_ui()?;
        self.console_url()?;
        if !matches!(self.access_token_strategy.as_str(), "opaque" | "jwt") {
            return Err(ConfigError::new(
                "access_token_strategy",
                format!("{:?} is not opaque or jwt", self.access_token_strategy),
                "set GATEHOUSE_ACCESS_TOKEN_STRATEGY to opaque or jwt",
            ));
        }
        self.registration_policy()?;
        self.partner_approval()?;
        self.mail_settings().check().map_err(mail_error)?;
        self.mfa()?;
        for (key, value) in [
            ("access_token_alg", &self.access_token_alg),
            ("id_token_alg", &self.id_token_alg),
        ] {
            if gatehouse_jose::SigningAlgorithm::parse(value).is_err() {
                return Err(ConfigError::new(
                    key,
                    format!("{value:?} is not a supported algorithm"),
                    format!(
                        "set GATEHOUSE_{} to RS256, ES256 or EdDSA",
                        key.to_ascii_uppercase()
                    ),
                ));
            }
        }
        if matches!(role, Role::Token | Role::Login) && self.redis_url.is_none() {
            return Err(ConfigError::new(
                "redis_url",
                "serve token and serve login run as separate processes and must share short-lived state, so the in-memory store cannot be used",
                "set REDIS_URL (or run both in one process with `gatehouse serve all`)",
            ));
        }
        if role == Role::Login && self.token_grpc_url.is_none() {
            return Err(ConfigError::new(
                "token_grpc_url",
                "is required for serve login",
                "set GATEHOUSE_TOKEN_GRPC_URL to the token service's gRPC URL, e.g. http://token:4446",
            ));
        }
        if let Some(url) = &self.token_grpc_url
            && Url::parse(url)
                .map(|u| !matches!(u.scheme(), "http" | "https"))
                .unwrap_or(true)
        {
            return Err(ConfigError::new(
                "token_grpc_url",
                format!("{url:?} is not an http(s) URL"),
                "set GATEHOUSE_TOKEN_GRPC_URL to e.g. http://127.0.0.1:4446",
            ));
        }
        self.validate_grpc_tls(role)?;
        if let Some(secret) = &self.system_secret
            && secret.len() < 32
        {
            return Err(ConfigError::new(
                "system_secret",
                "is shorter than 32 characters",
                "generate one with `openssl rand -base64 48` and set GATEHOUSE_SYSTEM_SECRET",
            ));
        }
        if role != Role::OneShot && self.system_secret.is_none() && !self.dev {
            return Err(ConfigError::new(
                "system_secret",
                "is not set",
                "set GATEHOUSE_SYSTEM_SECRET (at least 32 characters, e.g. from `openssl rand -base64 48`), or pass --dev to generate one for local use",
            ));
        }
        if matches!(role, Role::All | Role::Token)
            && self.origins.of("public_addr") != Origin::Default
            && self.origins.of("issuer") == Origin::Default
        {
            if self.dev {
                // Development: the issuer follows the listener (a wildcard bind is reached over
                // loopback).
                let mut addr = self.public_addr;
                if addr.ip().is_unspecified() {
                    addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                self.issuer = format!("http://{addr}");
            } else {
                return Err(ConfigError::new(
                    "issuer",
                    format!(
                        "GATEHOUSE_ISSUER is not set, but the public listener was moved ({})",
                        self.origins
                            .of("public_addr")
                            .assignment("public_addr", &self.public_addr.to_string())
                    ),
                    "set GATEHOUSE_ISSUER to the public URL clients use, e.g. https://auth.example.com (the default issuer would name 127.0.0.1:4444)",
                ));
            }
        }
        if role == Role::Login
            && self.ui == "external"
            && !self.login_admin_addr.ip().is_loopback()
            && self.admin_token.is_none()
        {
            return Err(ConfigError::new(
                "admin_token",
                format!(
                    "is required because, with GATEHOUSE_UI=external, the login admin listener serves the login/consent challenge API and binds to the non-loopback address {}",
                    self.login_admin_addr
                ),
                "set GATEHOUSE_ADMIN_TOKEN to a long random value, or bind GATEHOUSE_LOGIN_ADMIN_ADDR to 127.0.0.1",
            ));
        }
        if matches!(role, Role::All | Role::Token)
            && !self.admin_addr.ip().is_loopback()
            && self.admin_token.is_none()
        {
            return Err(ConfigError::new(
                "admin_token",
                format!(
                    "is required because the admin listener binds to the non-loopback address {}",
                    self.admin_addr
                ),
                "set GATEHOUSE_ADMIN_TOKEN to a long random value, or bind GATEHOUSE_ADMIN_ADDR to 127.0.0.1",
            ));
        }
        if let Some(token) = &self.admin_token
            && token.len() < 32
        {
            return Err(ConfigError::new(
                "admin_token",
                "is shorter than 32 characters",
                "set GATEHOUSE_ADMIN_TOKEN to a long random value",
            ));
        }
        self.validate_ui()?;
        Ok(self)
    }

    /// Whether the token service's gRPC listener takes mutual TLS.
    pub fn grpc_server_tls(&self) -> bool {
        self.grpc_tls_cert.is_some()
    }

    /// The gRPC link's TLS keys: a listener off loopback has mutual TLS or an explicit opt-out, a
    /// caller off loopback talks TLS, and what is configured is complete.
    fn validate_grpc_tls(&self, role: Role) -> Result<(), ConfigError> {
        let server = [
            ("grpc_tls_cert", &self.grpc_tls_cert),
            ("grpc_tls_key", &self.grpc_tls_key),
            ("grpc_client_ca", &self.grpc_client_ca),
        ];
        if server.iter().any(|(_, v)| v.is_some())
            && let Some((missing, _)) = server.iter().find(|(_, v)| v.is_none())
        {
            return Err(ConfigError::new(
                missing,
                format!(
                    "GATEHOUSE_{} is not set, but other gRPC TLS settings are",
                    missing.to_ascii_uppercase()
                ),
                "set GATEHOUSE_GRPC_TLS_CERT, GATEHOUSE_GRPC_TLS_KEY and GATEHOUSE_GRPC_CLIENT_CA together (`gatehouse certs grpc --out DIR` writes all three)",
            ));
        }
        if self.grpc_server_tls() && self.grpc_insecure {
            return Err(ConfigError::new(
                "grpc_insecure",
                "is set together with the gRPC TLS files",
                "unset GATEHOUSE_GRPC_INSECURE, or the GATEHOUSE_GRPC_TLS_* files",
            ));
        }
        if matches!(role, Role::All | Role::Token)
            && !self.grpc_addr.ip().is_loopback()
            && !self.grpc_server_tls()
            && !self.grpc_insecure
        {
            return Err(ConfigError::new(
                "grpc_addr",
                format!(
                    "GATEHOUSE_GRPC_ADDR binds {} off loopback without mutual TLS, so anyone who reaches the port could mint codes for any user",
                    self.grpc_addr
                ),
                "set GATEHOUSE_GRPC_TLS_CERT, GATEHOUSE_GRPC_TLS_KEY and GATEHOUSE_GRPC_CLIENT_CA (`gatehouse certs grpc --out DIR` writes them), bind GATEHOUSE_GRPC_ADDR to 127.0.0.1, or set GATEHOUSE_GRPC_INSECURE=true behind a service mesh that already does mutual TLS",
            ));
        }
        if self.token_grpc_client_cert.is_some() != self.token_grpc_client_key.is_some() {
            let missing = if self.token_grpc_client_cert.is_none() {
                "token_grpc_client_cert"
            } else {
                "token_grpc_client_key"
            };
            return Err(ConfigError::new(
                missing,
                "the client certificate and its key go together",
                "set GATEHOUSE_TOKEN_GRPC_CLIENT_CERT and GATEHOUSE_TOKEN_GRPC_CLIENT_KEY together",
            ));
        }
        let calls_over_tls = self.token_grpc_ca.is_some();
        if calls_over_tls && self.token_grpc_client_cert.is_none() {
            return Err(ConfigError::new(
                "token_grpc_client_cert",
                "is required with GATEHOUSE_TOKEN_GRPC_CA: the token service accepts only callers with a client certificate",
                "set GATEHOUSE_TOKEN_GRPC_CLIENT_CERT and GATEHOUSE_TOKEN_GRPC_CLIENT_KEY to the login certificate (`gatehouse certs grpc` writes login.crt and login.key)",
            ));
        }
        if let Some(url) = &self.token_grpc_url
            && let Ok(parsed) = Url::parse(url)
        {
            if parsed.scheme() == "https" && !calls_over_tls {
                return Err(ConfigError::new(
                    "token_grpc_ca",
                    format!("is required to reach {url} over TLS"),
                    "set GATEHOUSE_TOKEN_GRPC_CA to the CA of the token service's certificate (ca.crt), and the client certificate variables",
                ));
            }
            if parsed.scheme() == "http" && calls_over_tls {
                return Err(ConfigError::new(
                    "token_grpc_url",
                    format!("{url:?} is plain http, but GATEHOUSE_TOKEN_GRPC_CA is set"),
                    "use https:// in GATEHOUSE_TOKEN_GRPC_URL",
                ));
            }
            if role == Role::Login
                && parsed.scheme() == "http"
                && !crate::config::is_loopback_url(&parsed)
                && !self.grpc_insecure
            {
                return Err(ConfigError::new(
                    "token_grpc_url",
                    format!(
                        "{url:?} is plain http to another host: passwords would cross the network in clear"
                    ),
                    "use https:// with GATEHOUSE_TOKEN_GRPC_CA, GATEHOUSE_TOKEN_GRPC_CLIENT_CERT and GATEHOUSE_TOKEN_GRPC_CLIENT_KEY, or set GATEHOUSE_GRPC_INSECURE=true behind a service mesh that already does mutual TLS",
                ));
            }
        }
        if role == Role::All
            && self.grpc_server_tls()
            && self.token_grpc_url.is_none()
            && !calls_over_tls
        {
            return Err(ConfigError::new(
                "token_grpc_ca",
                "is required with the gRPC TLS files in serve all: the in-process login UI calls the gRPC listener with a client certificate",
                "set GATEHOUSE_TOKEN_GRPC_CA, GATEHOUSE_TOKEN_GRPC_CLIENT_CERT and GATEHOUSE_TOKEN_GRPC_CLIENT_KEY (ca.crt, login.crt, login.key); the server certificate must name localhost",
            ));
        }
        Ok(())
    }

    /// The login UI's branding and lockout keys.
    fn validate_ui(&self) -> Result<(), ConfigError> {
        if self.ui_product_name.trim().is_empty() {
            return Err(ConfigError::new(
                "ui_product_name",
                "is empty",
                "set GATEHOUSE_UI_PRODUCT_NAME to the name users know the service by",
            ));
        }
        if !gatehouse_login::branding::is_valid_color(&self.ui_primary_color) {
            return Err(ConfigError::new(
                "ui_primary_color",
                format!(
                    "{:?} is not a #rgb or #rrggbb colour",
                    self.ui_primary_color
                ),
                "set GATEHOUSE_UI_PRIMARY_COLOR to e.g. #1f5fbf",
            ));
        }
        for (key, value) in [
            ("ui_logo_url", &self.ui_logo_url),
            ("ui_favicon_url", &self.ui_favicon_url),
            ("ui_support_url", &self.ui_support_url),
            ("ui_extra_css_url", &self.ui_extra_css_url),
        ] {
            if let Some(url) = value
                && !is_page_url(url)
            {
                return Err(ConfigError::new(
                    key,
                    format!("{url:?} is not an http(s) URL or an absolute path"),
                    format!(
                        "set GATEHOUSE_{} to e.g. https://cdn.example.com/file or /path",
                        key.to_ascii_uppercase()
                    ),
                ));
            }
        }
        for net in self
            .trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if gatehouse_login::client_ip::IpNet::parse(net).is_none() {
                return Err(ConfigError::new(
                    "trusted_proxies",
                    format!("{net:?} is not an IP address or CIDR range"),
                    "set GATEHOUSE_TRUSTED_PROXIES to e.g. 10.0.0.0/8,127.0.0.1",
                ));
            }
        }
        for (key, value) in [
            ("login_failure_window", self.login_failure_window),
            ("login_lockout", self.login_lockout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::new(
                    key,
                    "must be longer than zero",
                    "use a duration such as 15m",
                ));
            }
        }
        Ok(())
    }

    /// How mail leaves: SMTP with `smtp_url`, `.eml` files in `<data_dir>/mail/` in dev mode
    /// without it, else none (`Ok(None)`: features that need mail are off).
    ///
    /// Call it inside the runtime (the SMTP connection pool is a task); validation checks the
    /// same settings with [`Self::mail_settings`] alone.
    pub fn mailer(&self) -> Result<Option<gatehouse_mail::Mailer>, ConfigError> {
        gatehouse_mail::Mailer::from_settings(&self.mail_settings()).map_err(mail_error)
    }

    fn mail_settings(&self) -> gatehouse_mail::MailSettings {
        let (color, text_color) = gatehouse_login::branding::brand_colors(&self.ui_primary_color);
        gatehouse_mail::MailSettings {
            smtp_url: self.smtp_url.clone().map(SecretString::new),
            from: self.mail_from.clone(),
            dev_dir: self.dev.then(|| self.data_dir.join("mail")),
            brand: gatehouse_mail::Brand {
                product: self.ui_product_name.clone(),
                color,
                text_color,
            },
        }
    }
}

/// A mail setting's problem, blamed on its key.
fn mail_error(e: gatehouse_mail::MailSetupError) -> ConfigError {
    use gatehouse_mail::MailSetupError as E;
    let (key, fix) = match &e {
        E::SmtpUrl(_) => (
            "smtp_url",
            "use smtp://host:25, smtps://user:password@host:465 or smtp://user:password@host:587?tls=required",
        ),
        E::MissingFrom | E::BadFrom(_) => (
            "mail_from",
            "set GATEHOUSE_MAIL_FROM to e.g. \"Example ID <id@example.com>\"",
        ),
        E::Directory(..) => ("data_dir", "make the data directory writable"),
    };
    ConfigError::new(key, e.to_string(), fix)
}

impl Config {
    /// How partners' registration requests are decided (`partner_approval`).
    pub fn partner_approval(&self) -> Result<gatehouse_token::partners::ApprovalMode, ConfigError> {
        gatehouse_token::partners::ApprovalMode::parse(&self.partner_approval).ok_or_else(|| {
            ConfigError::new(
                "partner_approval",
                format!(
                    "{:?} is not manual, automatic or off",
                    self.partner_approval
                ),
                "set GATEHOUSE_PARTNER_APPROVAL to manual, automatic or off",
            )
        })
    }

    /// Whether every user must sign in with a second factor (`mfa`).
    pub fn mfa(&self) -> Result<gatehouse_core::factor::MfaPolicy, ConfigError> {
        gatehouse_core::factor::MfaPolicy::parse(&self.mfa).ok_or_else(|| {
            ConfigError::new(
                "mfa",
                format!("{:?} is not optional or required", self.mfa),
                "set GATEHOUSE_MFA to optional or required",
            )
        })
    }

    /// The failed-login limits, enforced by the token service where passwords are checked.
    /// What a self-registered client may ask for (`registration_allowed_*`).
    pub fn registration_policy(
        &self,
    ) -> Result<gatehouse_core::self_registration::SelfRegistrationPolicy, ConfigError> {
        use gatehouse_core::client::TokenEndpointAuthMethod;
        use gatehouse_core::protocol::GrantType;
        use gatehouse_core::scope::ScopeSet;
        fn words(list: &str) -> impl Iterator<Item = &str> {
            list.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|w| !w.is_empty())
        }
        fn each<T>(
            key: &'static str,
            list: &str,
            parse: fn(&str) -> Option<T>,
            names: String,
        ) -> Result<Vec<T>, ConfigError> {
            words(list)
                .map(|w| {
                    parse(w).ok_or_else(|| {
                        ConfigError::new(
                            key,
                            format!("{w:?} is not supported"),
                            format!("set {} to some of: {names}", env_name(key)),
                        )
                    })
                })
                .collect()
        }
        let scopes = words(&self.registration_allowed_scopes)
            .collect::<Vec<_>>()
            .join(" ");
        let allowed_scopes = ScopeSet::parse(&scopes).map_err(|e| {
            ConfigError::new(
                "registration_allowed_scopes",
                e.to_string(),
                "set GATEHOUSE_REGISTRATION_ALLOWED_SCOPES to space-separated scope names",
            )
        })?;
        Ok(gatehouse_core::self_registration::SelfRegistrationPolicy {
            allowed_scopes,
            allowed_grant_types: each(
                "registration_allowed_grant_types",
                &self.registration_allowed_grant_types,
                GrantType::parse,
                GrantType::names(),
            )?,
            // The key-based methods are for clients an operator registers (the self-registration
            // policy refuses them whatever this says), so naming them here is a mistake.
            allowed_auth_methods: each(
                "registration_allowed_auth_methods",
                &self.registration_allowed_auth_methods,
                |name| {
                    TokenEndpointAuthMethod::parse(name).filter(|m| {
                        !matches!(
                            m,
                            TokenEndpointAuthMethod::PrivateKeyJwt
                                | TokenEndpointAuthMethod::ClientSecretJwt
                        )
                    })
                },
                "none, client_secret_basic, client_secret_post".to_owned(),
            )?,
        })
    }

    pub fn lockout(&self) -> gatehouse_core::lockout::LockoutPolicy {
        gatehouse_core::lockout::LockoutPolicy {
            max_failures_per_user: self.login_max_failures_per_user,
            max_failures_per_ip: self.login_max_failures_per_ip,
            window: self.login_failure_window,
            lockout: self.login_lockout,
        }
    }

    /// `GATEHOUSE_UI` and the `GATEHOUSE_URLS_*` of an external login and consent app.
    /// The operator console's URL: `console_url`, else `http://<admin listener>/console` (a
    /// wildcard bind is reached over loopback).
    pub fn console_url(&self) -> Result<Url, ConfigError> {
        let Some(url) = &self.console_url else {
            let addr = if self.admin_addr.ip().is_unspecified() {
                SocketAddr::from(([127, 0, 0, 1], self.admin_addr.port()))
            } else {
                self.admin_addr
            };
            return Url::parse(&format!("http://{addr}/console")).map_err(|e| {
                ConfigError::plain(
                    "admin_addr",
                    format!("no console URL can be made of it: {e}"),
                )
            });
        };
        Url::parse(url.trim_end_matches('/'))
            .ok()
            .filter(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && u.query().is_none()
                    && u.fragment().is_none()
                    && u.path() != "/"
            })
            .ok_or_else(|| {
                ConfigError::new(
                    "console_url",
                    format!("{url:?} is not an absolute http(s) URL with a path and no query"),
                    "set GATEHOUSE_CONSOLE_URL to e.g. https://admin.example.com/console",
                )
            })
    }

    fn validate_external_ui(&self) -> Result<(), ConfigError> {
        match self.ui.as_str() {
            "builtin" => return Ok(()),
            "external" => {}
            other => {
                return Err(ConfigError::new(
                    "ui",
                    format!("{other:?} is not builtin or external"),
                    "set GATEHOUSE_UI to builtin (the default) or external",
                ));
            }
        }
        for (key, value, required) in [
            ("urls_login", &self.urls_login, true),
            ("urls_consent", &self.urls_consent, true),
            ("urls_logout", &self.urls_logout, false),
            ("urls_error", &self.urls_error, false),
        ] {
            match value.as_deref().filter(|v| !v.is_empty()) {
                None if required => {
                    return Err(ConfigError::new(
                        key,
                        "is required when GATEHOUSE_UI=external",
                        format!(
                            "set {} to the URL of your app's page, e.g. https://login.example.com/{}",
                            env_name(key),
                            key.trim_start_matches("urls_")
                        ),
                    ));
                }
                None => {}
                Some(url) => {
                    let parsed = Url::parse(url).ok().filter(|u| {
                        matches!(u.scheme(), "http" | "https") && u.fragment().is_none()
                    });
                    if parsed.is_none() {
                        return Err(ConfigError::new(
                            key,
                            format!("{url:?} is not an absolute http(s) URL without fragment"),
                            format!(
                                "set {} to e.g. https://login.example.com/page",
                                env_name(key)
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The login UI's settings, from this configuration and the resolved system secret.
    pub fn login_config(&self, system_secret: &SecretString) -> gatehouse_login::LoginConfig {
        let mut login =
            gatehouse_login::LoginConfig::new(self.issuer.clone(), system_secret.clone());
        login.session_ttl = self.ttl_login_session;
        login.challenge_ttl = self.ttl_login_challenge;
        login.reveal_disabled = self.login_reveal_disabled;
        if self.ui == "external"
            && let (Some(login_url), Some(consent_url)) = (&self.urls_login, &self.urls_consent)
        {
            let optional = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
            login.external = Some(gatehouse_login::ExternalUi {
                login_url: login_url.clone(),
                consent_url: consent_url.clone(),
                logout_url: optional(&self.urls_logout),
                error_url: optional(&self.urls_error),
            });
        }
        login.trusted_proxies = self
            .trusted_proxies
            .split(',')
            .filter_map(gatehouse_login::client_ip::IpNet::parse)
            .collect();
        login.branding = gatehouse_login::Branding {
            product_name: self.ui_product_name.clone(),
            logo_url: self.ui_logo_url.clone(),
            favicon_url: self.ui_favicon_url.clone(),
            primary_color: self.ui_primary_color.clone(),
            support_url: self.ui_support_url.clone(),
            footer: self.ui_footer.clone(),
            extra_css_url: self.ui_extra_css_url.clone(),
        };
        login
    }

    /// The SQLite URL of the embedded default.
    pub fn embedded_database_url(&self) -> String {
        format!(
            "sqlite://{}?mode=rwc",
            self.data_dir.join("gatehouse.db").display()
        )
    }

    /// The Postgres pool of this process.
    pub fn pool_settings(&self) -> gatehouse_store::PoolSettings {
        gatehouse_store::PoolSettings {
            max_connections: self.database_pool_size,
            acquire_timeout: self.database_acquire_timeout,
        }
    }

    /// The database this process uses: `DATABASE_URL`, else the embedded SQLite file.
    pub fn effective_database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| self.embedded_database_url())
    }
}

/// Whether `url` points at this machine (a loopback IP or `localhost`).
pub fn is_loopback_url(url: &Url) -> bool {
    gatehouse_core::redirect::is_loopback_host(url, true)
}

/// A URL a page may link to: http(s) with a host, or a path on the login UI's own origin.
fn is_page_url(url: &str) -> bool {
    if url.starts_with('/') {
        return !url.starts_with("//") && !url.contains(char::is_whitespace);
    }
    Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// Secrets may look like numbers or booleans to the environment parser; take them as text.
fn string_like<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    })
}

/// A list as a comma-separated string or as a list (a TOML array); kept comma-separated.
fn comma_list<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        List(Vec<String>),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::Text(text) => text,
        Raw::List(items) => items.join(","),
    })
}

/// Durations as humans write them (`10m`, `30s`, `720h`, `1h 30m`), or a plain number of seconds.
mod human_duration {
    use super::*;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Seconds(s) => Ok(Duration::from_secs(s)),
            Raw::Text(t) => humantime::parse_duration(t.trim()).map_err(|_| {
                serde::de::Error::custom(format!(
                    "invalid duration {t:?}: use a number with a unit, e.g. 30s, 10m, 720h"
                ))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn overrides(
        pairs: &[(&str, serde_json::Value)],
    ) -> serde_json::Map<String, serde_json::Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn a_config_prints_no_secret() {
        let config = Config {
            system_secret: Some("system-secret-value-1".into()),
            system_secret_previous: Some("previous-secret-value-2".into()),
            admin_token: Some("admin-token-value-3".into()),
            database_url: Some("postgres://gatehouse:db-password-4@db/gatehouse".into()),
            redis_url: Some("redis://:redis-password-5@cache:6379".into()),
            ..Config::default()
        };
        let printed = format!("{config:?} {config:#?}");
        for secret in [
            "system-secret-value-1",
            "previous-secret-value-2",
            "admin-token-value-3",
            "db-password-4",
            "redis-password-5",
        ] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(printed.contains("issuer") && printed.contains("[redacted]"));
        for key in Config::SECRET_KEYS {
            assert!(KEYS.contains(key), "{key} is not a configuration key");
        }
    }

    #[test]
    fn defaults_match_the_documented_ports_and_lifetimes() {
        let c = Config::default();
        assert_eq!(c.public_addr.port(), 4444);
        assert_eq!(c.admin_addr.port(), 4445);
        assert_eq!(c.grpc_addr.port(), 4446);
        assert_eq!(c.ttl_auth_code, Duration::from_secs(600));
        assert_eq!(c.ttl_refresh_token, Duration::from_secs(720 * 3600));
    }

    #[test]
    fn every_config_field_is_a_listed_key() {
        let value = serde_json::to_value(Config::default()).unwrap();
        let fields: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
        for f in &fields {
            assert!(KEYS.contains(&f.as_str()), "{f} missing from KEYS");
        }
        assert_eq!(fields.len(), KEYS.len());
    }

    #[tokio::test]
    async fn mail_goes_by_smtp_or_to_files_in_dev_mode_or_nowhere() {
        let dir = tempfile::tempdir().unwrap();
        let base = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        assert!(
            base.mailer().unwrap().is_none(),
            "outside dev mode without SMTP: no mail"
        );
        let dev = Config {
            dev: true,
            ..base.clone()
        };
        let mailer = dev.mailer().unwrap().unwrap();
        assert!(mailer.describe().contains("mail"), "{}", mailer.describe());
        assert!(dir.path().join("mail").is_dir());
        let smtp = Config {
            smtp_url: Some("smtp://user:hunter2@127.0.0.1:2525?tls=required".into()),
            ..base.clone()
        };
        let err = smtp.mailer().unwrap_err();
        assert_eq!(err.key, "mail_from");
        assert!(err.to_string().contains("GATEHOUSE_MAIL_FROM"), "{err}");
        let ok = Config {
            mail_from: Some("Neon ID <id@neon.test>".into()),
            ..smtp.clone()
        };
        assert_eq!(ok.mailer().unwrap().unwrap().describe(), "SMTP");
        let bad = Config {
            smtp_url: Some("http://user:hunter2@host".into()),
            ..ok.clone()
        };
        let err = bad.mailer().unwrap_err();
        assert_eq!(err.key, "smtp_url");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        // The URL is a secret setting: never shown.
        assert!(!format!("{ok:?}").contains("hunter2"));
    }

    #[test]
    fn mfa_defaults_to_optional_and_refuses_other_words() {
        use gatehouse_core::factor::MfaPolicy;
        assert_eq!(Config::default().mfa().ok(), Some(MfaPolicy::Optional));
        let required = Config {
            mfa: "required".into(),
            ..Config::default()
        };
        assert_eq!(required.mfa().ok(), Some(MfaPolicy::Required));
        let typo = Config {
            mfa: "always".into(),
            ..Config::default()
        };
        let err = typo.mfa().unwrap_err().to_string();
        assert!(
            err.contains("mfa") && err.contains("GATEHOUSE_MFA"),
            "{err}"
        );
    }

    #[test]
    fn partner_approval_defaults_to_manual_and_refuses_other_words() {
        use gatehouse_token::partners::ApprovalMode;
        assert_eq!(
            Config::default().partner_approval().ok(),
            Some(ApprovalMode::Manual)
        );
        let off = Config {
            partner_approval: "off".into(),
            ..Config::default()
        };
        assert_eq!(off.partner_approval().ok(), Some(ApprovalMode::Off));
        let typo = Config {
            partner_approval: "auto".into(),
            ..Config::default()
        };
        let err = typo.partner_approval().unwrap_err().to_string();
        assert!(
            err.contains("partner_approval") && err.contains("GATEHOUSE_PARTNER_APPROVAL"),
            "{err}"
        );
    }

    #[test]
    fn flags_override_and_durations_parse() {
        let c = load(
            None,
            &overrides(&[("ttl_auth_code", "30s".into()), ("dev", true.into())]),
        )
        .unwrap();
        assert_eq!(c.ttl_auth_code, Duration::from_secs(30));
        assert!(c.dev);
    }

    #[test]
    fn bad_duration_names_the_key() {
        let err = load(None, &overrides(&[("ttl_access_token", "soon".into())])).unwrap_err();
        let line = err.to_string();
        assert!(
            line.contains("ttl_access_token")
                && line.contains("\"soon\" from flag --ttl-access-token")
                && line.contains("expected a duration such as 30s"),
            "{line}"
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn issuer_is_normalised_and_checked() {
        let mut c = Config {
            dev: true,
            ..Config::default()
        };
        c.issuer = "http://127.0.0.1:4444/".into();
        assert_eq!(
            c.clone().validate(Role::All).unwrap().issuer,
            "http://127.0.0.1:4444"
        );
        c.issuer = "not a url".into();
        assert_eq!(c.clone().validate(Role::All).unwrap_err().key, "issuer");
        c.issuer = "http://auth.example.com".into();
        c.dev = false;
        c.system_secret = Some("x".repeat(40));
        assert_eq!(c.validate(Role::All).unwrap_err().key, "issuer");
    }

    #[test]
    fn split_processes_refuse_the_memory_store() {
        let c = Config {
            system_secret: Some("s".repeat(32)),
            ..Config::default()
        };
        assert_eq!(
            c.clone().validate(Role::Token).unwrap_err().key,
            "redis_url"
        );
        assert!(c.validate(Role::All).is_ok());
    }

    #[test]
    fn redis_urls_of_every_topology_are_accepted_and_malformed_ones_refused() {
        let with = |url: &str| Config {
            system_secret: Some("s".repeat(32)),
            redis_url: Some(url.into()),
            ..Config::default()
        };
        for url in [
            "redis://127.0.0.1:6379",
            "rediss://app:pw@cache:6380/1",
            "redis+cluster://10.0.0.1:6379,10.0.0.2:6379",
            "rediss+cluster://app:pw@10.0.0.1:6379",
            "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster/2",
            "rediss+sentinel://app:pw@10.0.0.1:26379/mymaster",
        ] {
            assert!(with(url).validate(Role::Token).is_ok(), "{url}");
        }
        for url in [
            "memcached://cache:11211",
            "redis+sentinel://10.0.0.1:26379",
            "redis+cluster://10.0.0.1:6379/3",
        ] {
            let err = with(url).validate(Role::Token).unwrap_err();
            assert_eq!(err.key, "redis_url", "{url}");
        }
        let err = with("redis+sentinel://app:hunter2@s:1/")
            .validate(Role::Token)
            .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn secret_required_outside_dev_and_admin_token_off_loopback() {
        let c = Config::default();
        assert_eq!(
            c.clone().validate(Role::All).unwrap_err().key,
            "system_secret"
        );
        assert!(c.clone().validate(Role::OneShot).is_ok());
        let exposed = Config {
            dev: true,
            admin_addr: "0.0.0.0:4445".parse().unwrap(),
            ..Config::default()
        };
        assert_eq!(exposed.validate(Role::All).unwrap_err().key, "admin_token");
    }

    #[test]
    fn login_ui_keys_are_checked_and_reach_the_login_config() {
        let dev = || Config {
            dev: true,
            ..Config::default()
        };
        let c = Config {
            ui_primary_color: "orange".into(),
            ..dev()
        };
        assert_eq!(c.validate(Role::All).unwrap_err().key, "ui_primary_color");
        let c = Config {
            ui_logo_url: Some("javascript:alert(1)".into()),
            ..dev()
        };
        assert_eq!(c.validate(Role::All).unwrap_err().key, "ui_logo_url");
        let c = Config {
            login_lockout: Duration::ZERO,
            ..dev()
        };
        assert_eq!(c.validate(Role::All).unwrap_err().key, "login_lockout");

        let c = load(
            None,
            &overrides(&[
                ("ui_product_name", "Neon".into()),
                ("ui_primary_color", "#00e599".into()),
                ("ui_logo_url", "/brand/logo.svg".into()),
                ("login_max_failures_per_user", 3.into()),
                ("login_failure_window", "5m".into()),
                ("issuer", "https://oauth2.example.com/".into()),
                ("system_secret", "s".repeat(40).into()),
            ]),
        )
        .unwrap()
        .validate(Role::All)
        .unwrap();
        let login = c.login_config(&SecretString::new("s".repeat(40)));
        assert_eq!(login.branding.product_name, "Neon");
        assert_eq!(login.branding.logo_url.as_deref(), Some("/brand/logo.svg"));
        assert_eq!(c.lockout().max_failures_per_user, 3);
        assert_eq!(c.lockout().max_failures_per_ip, 50);
        assert_eq!(c.lockout().window, Duration::from_secs(300));
        assert_eq!(login.issuer, "https://oauth2.example.com");
        assert!(login.cookie_secure, "https issuer means Secure cookies");
    }

    #[test]
    fn misspelt_settings_get_the_closest_known_name() {
        let unknown = unknown_settings(
            [
                "GATEHOUSE_ISUER",
                "GATEHOUSE_TTL_ACCES_TOKEN",
                "GATEHOUSE_FLUX_CAPACITOR",
                "GATEHOUSE_ISSUER",
                "GATEHOUSE_ADMIN_URL",
                "GATEHOUSE_ADMIN_TOKEN",
                "GATEHOUSE_TEST_POSTGRES_URL",
                "PATH",
            ]
            .map(String::from),
        );
        let found: Vec<_> = unknown
            .iter()
            .map(|u| (u.name.as_str(), u.suggestion.as_deref()))
            .collect();
        assert_eq!(
            found,
            [
                ("GATEHOUSE_FLUX_CAPACITOR", None),
                ("GATEHOUSE_ISUER", Some("GATEHOUSE_ISSUER")),
                (
                    "GATEHOUSE_TTL_ACCES_TOKEN",
                    Some("GATEHOUSE_TTL_ACCESS_TOKEN")
                ),
            ]
        );
        assert_eq!(
            unknown[1].message(),
            "unknown setting GATEHOUSE_ISUER; did you mean GATEHOUSE_ISSUER?"
        );
        assert_eq!(did_you_mean("isuer", KEYS.iter().copied()), Some("issuer"));
        assert_eq!(did_you_mean("colour", KEYS.iter().copied()), None);
        assert_eq!(
            did_you_mean("ADMIN_URL", ["ADMIN_ADDR", "ADMIN_URL"]),
            Some("ADMIN_URL")
        );
    }

    #[test]
    fn trusted_proxies_take_a_list_or_a_comma_separated_string() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gatehouse.toml");
        std::fs::write(
            &file,
            "dev = true\ntrusted_proxies = [\"10.0.0.0/8\", \"127.0.0.1\"]\n",
        )
        .unwrap();
        let c = load(Some(&file), &serde_json::Map::new())
            .unwrap()
            .validate(Role::All)
            .unwrap();
        assert_eq!(c.trusted_proxies, "10.0.0.0/8,127.0.0.1");
        let login = c.login_config(&SecretString::new("s".repeat(40)));
        assert_eq!(login.trusted_proxies.len(), 2);

        std::fs::write(
            &file,
            "dev = true\ntrusted_proxies = \"10.0.0.0/8, 127.0.0.1\"\n",
        )
        .unwrap();
        let c = load(Some(&file), &serde_json::Map::new()).unwrap();
        assert_eq!(c.trusted_proxies, "10.0.0.0/8, 127.0.0.1");

        std::fs::write(
            &file,
            "dev = true\ntrusted_proxies = [\"10.0.0.0/8\", \"proxy\"]\n",
        )
        .unwrap();
        let err = load(Some(&file), &serde_json::Map::new())
            .unwrap()
            .validate(Role::All)
            .unwrap_err();
        assert_eq!(err.key, "trusted_proxies");
        std::fs::write(&file, "trusted_proxies = [1, 2]\n").unwrap();
        let line = load(Some(&file), &serde_json::Map::new())
            .unwrap_err()
            .to_string();
        assert!(
            line.contains("trusted_proxies")
                && line.contains("in ")
                && line.contains("expected IP addresses"),
            "{line}"
        );
        assert!(!line.contains("Raw"), "{line}");
    }

    #[test]
    fn the_issuer_follows_a_moved_public_address_only_in_dev_mode() {
        let moved = |dev: bool| {
            let mut pairs = vec![("public_addr", "0.0.0.0:5000".into())];
            if dev {
                pairs.push(("dev", true.into()));
            } else {
                pairs.push(("system_secret", "s".repeat(40).into()));
            }
            load(None, &overrides(&pairs)).unwrap().validate(Role::All)
        };
        assert_eq!(moved(true).unwrap().issuer, "http://127.0.0.1:5000");
        let err = moved(false).unwrap_err();
        assert_eq!(err.key, "issuer");
        assert!(err.to_string().contains("GATEHOUSE_ISSUER"), "{err}");
        let c = load(
            None,
            &overrides(&[
                ("public_addr", "0.0.0.0:5000".into()),
                ("issuer", "https://auth.example.com".into()),
                ("system_secret", "s".repeat(40).into()),
            ]),
        )
        .unwrap()
        .validate(Role::All)
        .unwrap();
        assert_eq!(c.issuer, "https://auth.example.com");
    }

    #[test]
    fn auth_code_lifetime_is_capped_at_thirty_minutes_with_a_warning_above_ten() {
        let with = |secs| Config {
            dev: true,
            ttl_auth_code: Duration::from_secs(secs),
            ..Config::default()
        };
        assert_eq!(
            with(1801).validate(Role::All).unwrap_err().key,
            "ttl_auth_code"
        );
        let thirty = with(1800).validate(Role::All).unwrap();
        assert!(thirty.auth_code_ttl_warning().unwrap().contains("1800s"));
        let ten = with(600).validate(Role::All).unwrap();
        assert_eq!(ten.auth_code_ttl_warning(), None);
    }
}
