//! The OpenAPI 3.1 document of the admin API, served at `/admin/openapi.json`.
//!
//! Routes are registered through `utoipa_axum::routes!`, which reads each handler's
//! `#[utoipa::path]` annotation both to mount the handler and to describe it: a route cannot
//! exist without its documentation, nor the other way round. The admin listener's routes that
//! need the running token service (signing keys in `keys_api.rs`, password-reset mails in
//! `accounts_api.rs`, introspection in
//! `http/introspect.rs`) are mounted by [`super::listener`]; their handlers carry the same
//! annotations and are listed in [`ApiDoc`]'s `paths`, and a test checks that every route the
//! listener mounts is documented.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi as _};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{
    AdminState, ApiError, audit, clients, consents, factors, registration_requests,
    registration_tokens, scopes, user_import, users,
};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Gatehouse admin API",
        description = "Clients, scope catalogue and users of a Gatehouse OAuth 2.0 / OpenID Connect server. \
            Shaped like Ory Hydra's v2 admin API. Errors are `{\"error\", \"error_description\"}`.",
    ),
    paths(
        crate::keys_api::list_keys,
        crate::keys_api::rotate_keys,
        crate::accounts_api::send_password_reset,
        crate::http::introspect::introspect_as_admin,
    ),
    tags(
        (name = "clients", description = "OAuth 2.0 clients (RFC 7591 metadata)"),
        (name = "scopes", description = "The scope catalogue shown on the consent screen"),
        (name = "users", description = "End users"),
        (name = "keys", description = "Signing keys: listing and rotation"),
        (name = "introspection", description = "Token introspection (RFC 7662) for operators"),
        (name = "registration-tokens", description = "Initial access tokens for dynamic client registration (RFC 7591)"),
        (name = "registration-requests", description = "Partners' requests for an app, reviewed by operators"),
        (name = "audit", description = "The audit log: every change made through this API, the console or the CLI"),
    ),
    modifiers(&AdminTokenScheme),
)]
struct ApiDoc;

/// Documents `GATEHOUSE_ADMIN_TOKEN`, which the listener requires when it is not on loopback.
struct AdminTokenScheme;

impl Modify for AdminTokenScheme {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "GATEHOUSE_ADMIN_TOKEN; required when the admin listener is not bound to loopback",
            ))
            .build();
        components.add_security_scheme("admin_token", SecurityScheme::Http(scheme));
    }
}

/// Every admin route with its documentation, not yet bound to a state.
pub(super) fn api_router() -> OpenApiRouter<AdminState> {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    OpenApiRouter::with_openapi(doc)
        .routes(routes!(clients::create_client, clients::list_clients))
        .routes(routes!(
            clients::get_client,
            clients::replace_client,
            clients::patch_client,
            clients::delete_client
        ))
        .routes(routes!(clients::rotate_secret))
        .routes(routes!(clients::client_usage))
        .routes(routes!(scopes::create_scope, scopes::list_scopes))
        .routes(routes!(
            scopes::get_scope,
            scopes::replace_scope,
            scopes::delete_scope
        ))
        .routes(routes!(users::create_user, users::list_users))
        .routes(routes!(
            users::get_user,
            users::replace_user,
            users::patch_user,
            users::delete_user
        ))
        .routes(routes!(users::set_password))
        .routes(routes!(users::unlock_user))
        .routes(routes!(user_import::import_users))
        .routes(routes!(user_import::export_users))
        .routes(routes!(
            registration_tokens::create_registration_token,
            registration_tokens::list_registration_tokens
        ))
        .routes(routes!(registration_tokens::delete_registration_token))
        .routes(routes!(registration_requests::list_registration_requests))
        .routes(routes!(registration_requests::get_registration_request))
        .routes(routes!(registration_requests::approve_registration_request))
        .routes(routes!(registration_requests::reject_registration_request))
        .routes(routes!(registration_requests::request_changes))
        .routes(routes!(consents::list_user_consents))
        .routes(routes!(consents::revoke_user_consent))
        .routes(routes!(factors::list_user_factors))
        .routes(routes!(factors::delete_user_factor))
        .routes(routes!(audit::list_audit_events))
}

/// The admin API's OpenAPI document, e.g. for a CI step that checks it in.
pub fn openapi_document() -> OpenApi {
    api_router().into_openapi()
}

/// `GET /admin/openapi.json`, serialised once.
pub(super) fn document_route(document: &OpenApi) -> Router<AdminState> {
    let json = document
        .to_pretty_json()
        .inspect_err(|e| tracing::error!(error = %e, "the OpenAPI document cannot be serialised"))
        .ok();
    Router::new().route(
        "/admin/openapi.json",
        get(move || {
            let json = json.clone();
            async move {
                match json {
                    Some(body) => {
                        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
                    }
                    None => ApiError::server_error().into_response(),
                }
            }
        }),
    )
}
