//! The admin REST API: clients, the scope catalogue, users, initial access tokens and partners'
//! registration requests, shaped like Ory Hydra's v2 admin
//! API so operators' scripts and muscle memory carry over.
//!
//! Handlers are thin: the registration rules live in `gatehouse_core::registration`, storage
//! behind the ports in `gatehouse_core::store`. The OpenAPI document at `/admin/openapi.json` is
//! built from the same annotations that register the routes (`openapi.rs`), so it cannot drift.
//!
//! The binary mounts [`listener`] on the admin listener: [`router`] with the signing-key and
//! introspection routes, the browser guard (`guard.rs`) and, when configured,
//! [`require_admin_token`] (needed when the listener is not bound to loopback).

mod audit;
mod auth;
mod clients;
mod consents;
mod error;
mod factors;
mod guard;
mod openapi;
mod pagination;
mod patch;
mod registration_requests;
mod registration_tokens;
mod scopes;
mod user_import;
mod users;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use gatehouse_core::Clock;
use gatehouse_core::lockout::{LockoutPolicy, LoginLimits};
use gatehouse_core::registration::RegistrationPolicy;
use gatehouse_core::secret::KeyedHasher;
use gatehouse_core::store::{DurableStore, ShortLivedStore};
use time::OffsetDateTime;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::password::PasswordHashParams;
use crate::revocation::Revocations;

pub use audit::{
    AdminTokenPresented, AuditEventResponse, AuditRecorder, CLI_USER_AGENT_PREFIX, READ_ONLY_POSTS,
    action_of,
};
pub use auth::{RequireAdminToken, RequireAdminTokenService, require_admin_token};
pub use clients::{ClientRequest, ClientResponse};
pub use consents::ConsentResponse;
pub use error::{ApiError, ErrorBody};
pub use gatehouse_core::registration::{client_secret_hasher, verify_client_secret};
pub use guard::{BrowserGuard, refuse_browsers};
pub use openapi::openapi_document;
pub use registration_requests::{
    ADMIN_API_REVIEWER, AppBody, OwnerBody, RegistrationRequestResponse, Reviewer,
};
pub use registration_tokens::{RegistrationTokenRequest, RegistrationTokenResponse};
pub use scopes::{ScopeRequest, ScopeResponse, seed_default_scopes};
pub use user_import::{ImportReport, MAX_IMPORT_USERS, UserRecord};
pub use users::{PasswordRequest, UserRequest, UserResponse};

/// Operator settings of the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// How long a client's previous secret keeps working after `POST /admin/clients/{id}/secret`.
    /// A request may override it with `?grace_seconds=` (0 ends the old secret at once, for a leak).
    pub secret_rotation_grace: Duration,
    /// Allow plain-http redirect URIs on non-loopback hosts. For test environments only.
    pub allow_insecure_redirect_uris: bool,
    /// argon2id cost of newly set passwords.
    pub password_hash: PasswordHashParams,
    /// Minimum length of a user password, in Unicode characters.
    pub min_password_length: usize,
}

impl AdminConfig {
    /// One day: a planned rotation hands the new secret to a partner, often another organisation,
    /// who must deploy it before the old one stops working. An hour is too little for that hand-over
    /// and an outage teaches operators not to rotate; a leaked secret is rotated with
    /// `grace_seconds=0` instead.
    pub const DEFAULT_SECRET_ROTATION_GRACE: Duration = Duration::from_secs(24 * 60 * 60);

    /// Eight characters: the floor of NIST SP 800-63B §5.1.1.2 and OWASP's authentication cheat
    /// sheet. Length rules beyond that mostly push users to predictable padding; an operator whose
    /// users sign in with the password alone may raise it to 15 (SP 800-63B-4).
    pub const DEFAULT_MIN_PASSWORD_LENGTH: usize = 8;

    /// Upper bound of accepted passwords, so a request cannot make the server hash megabytes.
    pub const MAX_PASSWORD_LENGTH: usize = 1024;

    /// The longest grace period a request may ask for.
    pub const MAX_SECRET_ROTATION_GRACE: Duration = Duration::from_secs(30 * 24 * 60 * 60);

    pub(crate) fn registration_policy(&self) -> RegistrationPolicy {
        RegistrationPolicy {
            allow_insecure_redirect_uris: self.allow_insecure_redirect_uris,
        }
    }
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            secret_rotation_grace: Self::DEFAULT_SECRET_ROTATION_GRACE,
            allow_insecure_redirect_uris: false,
            password_hash: PasswordHashParams::default(),
            min_password_length: Self::DEFAULT_MIN_PASSWORD_LENGTH,
        }
    }
}

/// The token service's failed-login counters (`gatehouse_core::lockout`), so the admin API can
/// lift a user's lock: the same short-lived store, counter keys and policy.
#[derive(Clone)]
pub struct LoginLimitsAccess {
    pub short_lived: Arc<dyn ShortLivedStore>,
    /// Keyed with the system secret for purpose [`gatehouse_core::lockout::KEY_PURPOSE`].
    pub keys: KeyedHasher,
    pub policy: LockoutPolicy,
}

/// Everything the admin handlers need, built once by the binary.
#[derive(Clone)]
pub struct AdminState {
    pub durable: Arc<dyn DurableStore>,
    /// Ends what a deleted client, or a disabled, deleted or reset user, was granted.
    pub revocations: Revocations,
    pub clock: Arc<dyn Clock>,
    /// Keyed with the system secret for purpose `"client-secret"` (see [`client_secret_hasher`]).
    pub client_secret_hasher: KeyedHasher,
    pub config: AdminConfig,
    /// The failed-login counters whose locks `unlock`, `enable` and a new password lift; set by
    /// [`AdminState::with_login_limits`]. Without them there is no lock this API could lift.
    pub login_limits: Option<LoginLimitsAccess>,
    /// Seals the secrets of `client_secret_jwt` clients (the token service's, see
    /// [`crate::TokenService::client_secret_sealing`]); set by [`AdminState::with_secret_sealing`].
    /// Without it such clients cannot be registered.
    pub secret_sealing: Option<Arc<gatehouse_jose::KeyEncryption>>,
    /// The running token service, for what needs its mailer (verification links for new
    /// addresses, partners told of decisions); set by [`AdminState::with_service`]. Without it
    /// nothing is mailed.
    pub service: Option<Arc<crate::TokenService>>,
}

impl AdminState {
    /// `revocations` is the token service's ([`crate::TokenService::revocations`]), so the admin
    /// API ends grants exactly as the service checks them.
    pub fn new(
        durable: Arc<dyn DurableStore>,
        revocations: Revocations,
        clock: Arc<dyn Clock>,
        client_secret_hasher: KeyedHasher,
        config: AdminConfig,
    ) -> Self {
        Self {
            durable,
            revocations,
            clock,
            client_secret_hasher,
            config,
            login_limits: None,
            secret_sealing: None,
            service: None,
        }
    }

    /// The running service whose mailer the API uses (see [`AdminState::service`]).
    pub fn with_service(mut self, service: Arc<crate::TokenService>) -> Self {
        self.service = Some(service);
        self
    }

    /// The token service's failed-login counters, so unlocking a user reaches the locks its
    /// sign-in checks.
    pub fn with_login_limits(mut self, access: LoginLimitsAccess) -> Self {
        self.login_limits = Some(access);
        self
    }

    /// The token service's sealing key, so `client_secret_jwt` secrets open where assertions
    /// are verified.
    pub fn with_secret_sealing(mut self, sealing: Arc<gatehouse_jose::KeyEncryption>) -> Self {
        self.secret_sealing = Some(sealing);
        self
    }

    /// Lifts the failed-login lock of `username` (and forgets its failures); whether it was
    /// locked.
    pub(crate) async fn lift_login_lock(&self, username: &str) -> Result<bool, ApiError> {
        let Some(access) = &self.login_limits else {
            return Ok(false);
        };
        let limits = LoginLimits {
            store: access.short_lived.as_ref(),
            keys: &access.keys,
            policy: &access.policy,
        };
        Ok(limits.unlock(username).await?)
    }

    /// Now, to the second: the stores persist whole seconds, so a timestamp answered on creation
    /// reads back identical later.
    pub(crate) fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.clock.unix()).unwrap_or_else(|_| self.clock.now())
    }
}

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminState")
            .field("durable", &self.durable.backend())
            .field("revocations", &self.revocations)
            .field("clock", &self.clock)
            .field("config", &self.config)
            .field("login_limits", &self.login_limits.is_some())
            .finish_non_exhaustive()
    }
}

/// The admin API under `/admin`, including `/admin/openapi.json`.
///
/// Every successful change through it is recorded in the audit log (`audit.rs`: a route layer,
/// so it covers every route of [`openapi::api_router`]). Unknown paths and methods answer the
/// JSON error shape too, and every answer carries `Cache-Control: no-store` because some carry
/// a client secret.
pub fn router(state: AdminState) -> Router {
    let (routes, document) = openapi::api_router().split_for_parts();
    let recorder = AuditRecorder::from_state(&state);
    routes
        .merge(openapi::document_route(&document))
        .route_layer(axum::middleware::from_fn_with_state(
            recorder,
            audit::record,
        ))
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with_state(state)
}

/// The admin listener's routes as `gatehouse serve` mounts them: [`routes`], with browsers kept
/// out ([`guard`]) and, with `admin_token`, every request needing it.
pub fn listener(
    service: Arc<crate::TokenService>,
    client_secret_hasher: KeyedHasher,
    config: AdminConfig,
    admin_token: Option<gatehouse_core::secret::SecretString>,
) -> Router {
    protect(routes(service, client_secret_hasher, config), admin_token)
}

/// The admin API of a running token service without the listener's guards: clients, scopes,
/// users, the audit log ([`router`]), signing keys and admin introspection, every change
/// recorded in the audit log; a change to a client drops it from this process's cache. For
/// in-process callers such as the operator console, which put an
/// [`AuditActor`](gatehouse_core::audit::AuditActor) into each request's extensions.
pub fn routes(
    service: Arc<crate::TokenService>,
    client_secret_hasher: KeyedHasher,
    config: AdminConfig,
) -> Router {
    let state = AdminState::new(
        service.durable().clone(),
        service.revocations().clone(),
        service.clock().clone(),
        client_secret_hasher,
        config,
    )
    .with_login_limits(LoginLimitsAccess {
        short_lived: service.short_lived().clone(),
        keys: service.login_limit_keys.clone(),
        policy: service.settings().lockout,
    })
    .with_secret_sealing(service.client_secret_sealing().clone())
    .with_service(service.clone());
    let recorder = AuditRecorder::from_state(&state);
    // The routes that need the running service, recorded like the rest.
    let service_routes = crate::keys_api::router(service.clone())
        .merge(crate::accounts_api::router(service.clone()))
        .merge(crate::http::admin_introspection_router(service.clone()))
        .route_layer(axum::middleware::from_fn_with_state(
            recorder,
            audit::record,
        ));
    router(state)
        .merge(service_routes)
        .layer(axum::middleware::from_fn_with_state(
            service,
            crate::keys_api::invalidate_client_cache,
        ))
}

/// [`routes`] as the listener serves them: browsers kept out ([`guard`]) and, with
/// `admin_token`, every request needing it. The binary mounts the operator console beside
/// this, outside these layers.
pub fn protect(api: Router, admin_token: Option<gatehouse_core::secret::SecretString>) -> Router {
    let api = api.layer(axum::middleware::from_fn_with_state(
        BrowserGuard {
            token_required: admin_token.is_some(),
            bodyless_put_delete: false,
        },
        refuse_browsers,
    ));
    match admin_token {
        Some(token) => api.layer(require_admin_token(token)),
        None => api,
    }
}

/// RFC 3339, as Hydra writes `created_at`/`updated_at`.
pub(crate) fn rfc3339(at: OffsetDateTime) -> Result<String, ApiError> {
    at.format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| {
            tracing::error!(error = %e, "timestamp cannot be written as RFC 3339");
            ApiError::server_error()
        })
}
