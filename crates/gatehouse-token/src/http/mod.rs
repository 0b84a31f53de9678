//! The token service's public HTTP endpoints, on Ory Hydra's paths so partner apps configured
//! for Hydra work unchanged:
//!
//! | path | spec | file |
//! |---|---|---|
//! | `POST /oauth2/token` | RFC 6749 §3.2, §5 | [`token`] |
//! | `POST /oauth2/revoke` | RFC 7009 | [`revoke`] |
//! | `POST /oauth2/par` | RFC 9126 | [`par`] |
//! | `POST /oauth2/device/auth` | RFC 8628 | [`device`] |
//! | `POST /oauth2/register`, `GET`/`PUT`/`DELETE /oauth2/register/{client_id}` | RFC 7591, RFC 7592 | [`register`] |
//! | `POST /oauth2/introspect`, `POST /admin/oauth2/introspect` | RFC 7662 | [`introspect`] |
//! | `GET`/`POST /userinfo` | OpenID Connect Core §5.3, RFC 6750 | [`userinfo`] |
//! | `GET /.well-known/openid-configuration`, `/.well-known/oauth-authorization-server` | OpenID Connect Discovery, RFC 8414 | [`discovery`] |
//! | `GET /.well-known/jwks.json` | RFC 7517 | [`discovery`] |
//!
//! The token, revocation and userinfo endpoints answer CORS for the origins clients registered;
//! discovery and JWKS for every origin ([`cors`]).
//!
//! With an issuer that has a path (`https://host/api`) every path above is under it
//! (`/api/oauth2/token`), and RFC 8414's metadata is also at `/.well-known/oauth-authorization-server/api`.
//!
//! Handlers are thin: they read the request ([`form`]), call one [`TokenService`] method and map
//! its result; errors take their RFC shape in one place ([`error`]). Every answer of an endpoint
//! that handles tokens or credentials carries `Cache-Control: no-store` and `Pragma: no-cache`
//! (RFC 6749 §5.1), errors and `405` included, because the layer wraps the whole route.

mod cors;
mod device;
mod discovery;
mod error;
mod form;
pub(crate) mod introspect;
mod par;
mod register;
mod revoke;
mod token;
mod userinfo;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::service::TokenService;

pub use form::MAX_FORM_BYTES;

/// What the public handlers share: the service, and the pre-serialised discovery and JWKS
/// documents.
#[derive(Clone)]
struct PublicState {
    service: Arc<TokenService>,
    discovery: Arc<discovery::DiscoveryCache>,
    jwks: Arc<discovery::JwksCache>,
}

impl FromRef<PublicState> for Arc<TokenService> {
    fn from_ref(state: &PublicState) -> Self {
        Arc::clone(&state.service)
    }
}

/// The path of an issuer URL without its trailing slash: `""` for `https://host`, `/api` for
/// `https://host/api/`. Every public route lives under it.
pub fn issuer_path(issuer: &str) -> String {
    url::Url::parse(issuer)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default()
}

/// The endpoints of the public listener, under the issuer's path (OpenID Connect Discovery §4:
/// the configuration is at the issuer plus `/.well-known/openid-configuration`; RFC 8414 §3.1
/// puts the authorization-server metadata of `https://host/api` at
/// `/.well-known/oauth-authorization-server/api`, so that one is served at the root as well). No
/// fallback is set, so the binary can merge this router with others (the login UI in `serve all`).
pub fn public_router(service: Arc<TokenService>) -> Router {
    let base = issuer_path(service.issuer());
    let at = |path: &str| format!("{base}{path}");
    let state = PublicState {
        service,
        discovery: Arc::new(discovery::DiscoveryCache::new(
            discovery::DISCOVERY_CACHE_TTL,
        )),
        jwks: Arc::new(discovery::JwksCache::default()),
    };
    // What a single-page app calls from the browser answers CORS for registered origins;
    // introspection is for resource servers, never for pages.
    let cors = axum::middleware::from_fn_with_state(Arc::clone(&state.service), cors::cors);
    let sensitive = Router::new()
        .route(&at("/oauth2/token"), post(token::token))
        .route(&at("/oauth2/revoke"), post(revoke::revoke))
        .route(
            &at("/userinfo"),
            get(userinfo::userinfo_get).post(userinfo::userinfo_post),
        )
        .layer(cors.clone())
        .route(
            &at("/oauth2/introspect"),
            post(introspect::introspect_as_client),
        )
        .route(&at("/oauth2/par"), post(par::par))
        .route(
            &at("/oauth2/device/auth"),
            post(device::device_authorization),
        )
        .route(&at("/oauth2/register"), post(register::register))
        .route(
            &at("/oauth2/register/{client_id}"),
            get(register::read)
                .put(register::replace)
                .delete(register::delete),
        );
    let mut documents = Router::new()
        .route(
            &at("/.well-known/openid-configuration"),
            get(discovery::openid_configuration),
        )
        .route(
            &at("/.well-known/oauth-authorization-server"),
            get(discovery::openid_configuration),
        )
        .route(&at("/.well-known/jwks.json"), get(discovery::jwks));
    if !base.is_empty() {
        documents = documents.route(
            &format!("/.well-known/oauth-authorization-server{base}"),
            get(discovery::openid_configuration),
        );
    }
    no_store(sensitive)
        .merge(documents.layer(axum::middleware::from_fn(cors::public_preflight)))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .with_state(state)
}

/// `POST /admin/oauth2/introspect` for the admin listener (Hydra v2's path): every token, no
/// client authentication. The binary decides whether the admin listener needs a token.
pub fn admin_introspection_router(service: Arc<TokenService>) -> Router {
    let routes = Router::new().route(
        "/admin/oauth2/introspect",
        post(introspect::introspect_as_admin),
    );
    no_store(routes)
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .with_state(service)
}

/// RFC 6749 §5.1 / RFC 7009 / RFC 7662 / RFC 6750: responses carrying tokens, credentials or
/// user data must not be cached.
fn no_store<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::PRAGMA,
            HeaderValue::from_static("no-cache"),
        ))
}
