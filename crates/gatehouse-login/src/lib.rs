//! Gatehouse's login and consent web UI: the authorization endpoint (`/oauth2/auth`), the login,
//! consent, connected-apps and logout pages.
//!
//! It holds no signing key and mints nothing: every code and token comes from the token service,
//! which it reaches over gRPC only ([`TokenServiceClient`], in `token_client.rs`), even when both
//! run in one process. Its own state is short-lived and lives in the short-lived store: pending
//! authorization requests behind unguessable challenge ids (`challenge.rs`) and login sessions
//! keyed by the keyed hash of the session cookie (`session.rs`), indexed per user so the token
//! service can end them. Failed logins are counted where passwords are checked, in the token
//! service; this UI passes on the client IP it trusts (`client_ip.rs`).
//!
//! Handlers are thin (`authorize.rs`, `login.rs`, `consent.rs`, `account.rs`, `logout.rs`); the
//! decisions of the flow (skip login? skip consent? which `prompt=none` error?) are pure
//! functions in `flow.rs`.

mod account;
pub mod assets;
mod authorize;
pub mod branding;
mod challenge;
pub mod client_ip;
mod config;
mod consent;
pub mod cookies;
pub mod csrf;
mod device;
mod external;
mod flow;
mod form;
pub mod headers;
pub mod hydra_api;
pub mod i18n;
mod language;
mod login;
mod logout;
pub mod page;
mod portal;
mod profile;
mod recovery;
mod redirect;
mod second_factor;
mod security;
mod session;
mod state;
pub mod token_client;

use axum::routing::{get, post};

pub use branding::Branding;
pub use config::{ExternalUi, LoginConfig};
pub use hydra_api::router as hydra_admin_router;
pub use state::LoginState;
pub use token_client::{
    AppFields, ApprovalMode, PartnerError, PartnerRequest, RequestStatus, ShownSecret,
};
pub use token_client::{
    AuthorizationContext, ClientDisplay, ClientTls, ConnectedApp, DEFAULT_DEADLINE, DeviceLookup,
    ExtraClaims, MetadataHook, SignIn, TokenIntrospection, TokenServiceClient, TokenServiceError,
    UserProfile, ValidatedLogout,
};

/// The login UI's HTTP routes, under the issuer's path (`LoginConfig::base_path`: `/api/ui/login`
/// for the issuer `https://host/api`). Mounted on the public listener in `serve all` and on the
/// login listener in `serve login`.
///
/// | route | what |
/// |---|---|
/// | `GET\|POST /oauth2/auth` | RFC 6749 §4.1.1 authorization endpoint |
/// | `GET\|POST /ui/login` | login page and form |
/// | `GET /ui/restart` | an expired challenge's original request, started again |
/// | `GET\|POST /ui/consent`, `POST /ui/consent/switch` | consent page, its form, "not you?" |
/// | `GET\|POST /device` | RFC 8628: enter a device's user code, then sign in and consent as usual |
/// | `GET /`, `GET /account` | connected apps when signed in, else "you are signed out" |
/// | `GET /account/apps`, `POST /account/apps/revoke` | connected apps |
/// | `GET\|POST /oauth2/sessions/logout`, `POST /oauth2/sessions/logout/confirm` | RP-initiated logout |
/// | `GET /ui/language` | the language switcher: remembers the language, back to the page |
/// | `GET /ui/static/{file}` | the stylesheets and the passkey script |
/// | `POST /ui/login/passkey` | sign-in with a passkey alone (discoverable credential) |
/// | `POST /account/security/passkeys` | registering a passkey |
/// | `GET\|POST /ui/forgot-password`, `GET\|POST /ui/reset-password`, `GET\|POST /ui/verify-email` | getting back in: password reset and email confirmation by mailed link (`recovery.rs`) |
/// | `/developers…` | the partner portal (`portal/mod.rs`) |
pub fn router(state: LoginState) -> axum::Router {
    let at = |path: &str| state.path(path);
    let mut router = axum::Router::new().route(&at("/"), get(account::home));
    if !state.config().base_path.is_empty() {
        // The issuer itself (`/api`) as well as `/api/`.
        router = router.route(&at(""), get(account::home));
    }
    router = portal::routes(router, &state);
    router
        .route(
            &at("/oauth2/auth"),
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route(&at("/ui/login"), get(login::show).post(login::submit))
        .route(&at("/ui/login/passkey"), post(login::passkey))
        .route(
            &at("/ui/login/passkey/options"),
            post(login::passkey_options),
        )
        .route(
            &at("/ui/login/second-factor"),
            get(second_factor::show).post(second_factor::submit),
        )
        .route(
            &at("/ui/login/second-factor/continue"),
            post(second_factor::continue_sign_in),
        )
        .route(&at("/account/security"), get(security::show))
        .route(&at("/account/security/totp"), post(security::begin))
        .route(
            &at("/account/security/totp/confirm"),
            post(security::confirm),
        )
        .route(&at("/account/security/remove"), post(security::remove))
        .route(
            &at("/account/security/passkeys"),
            post(security::add_passkey),
        )
        .route(
            &at("/account/security/recovery-codes"),
            post(security::recovery_codes),
        )
        .route(&at("/ui/restart"), get(authorize::restart))
        .route(&at("/ui/consent"), get(consent::show).post(consent::submit))
        .route(&at("/ui/consent/switch"), post(consent::switch_account))
        .route(&at("/device"), get(device::show).post(device::submit))
        .route(&at("/account"), get(profile::show))
        .route(&at("/account/profile"), post(profile::update_profile))
        .route(&at("/account/password"), post(profile::change_password))
        .route(&at("/account/email"), post(profile::change_email))
        .route(&at("/account/sessions/end"), post(profile::end_session))
        .route(
            &at("/account/sessions/end-others"),
            post(profile::end_other_sessions),
        )
        .route(&at("/account/apps"), get(account::show))
        .route(&at("/account/apps/revoke"), post(account::revoke))
        .route(
            &at("/oauth2/sessions/logout"),
            get(logout::start_get).post(logout::start_post),
        )
        .route(
            &at("/oauth2/sessions/logout/confirm"),
            post(logout::confirm),
        )
        .route(
            &at("/ui/forgot-password"),
            get(recovery::forgot_show).post(recovery::forgot_submit),
        )
        .route(
            &at("/ui/reset-password"),
            get(recovery::reset_show).post(recovery::reset_submit),
        )
        .route(
            &at("/ui/register"),
            get(recovery::register_show).post(recovery::register_submit),
        )
        .route(
            &at("/ui/verify-email"),
            get(recovery::verify_show).post(recovery::verify_submit),
        )
        .route(&at("/ui/language"), get(language::switch))
        .route(&at("/ui/static/{file}"), get(assets::serve))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            headers::security_headers,
        ))
        .with_state(state)
}
