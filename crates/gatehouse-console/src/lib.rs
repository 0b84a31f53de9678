//! Gatehouse's operator console: `/console` on the admin listener.
//!
//! Server-rendered pages on the login UI's kit (its stylesheet, translations, CSP and page
//! rendering, from `gatehouse-login`), working without JavaScript. The console holds no store of
//! its own beyond the short-lived one for its sessions, and it never acts on the token service
//! directly: **every operation is a call to the admin API's router, in process** (`api.rs`), so
//! validation, revocation and the audit log happen in one place, with the signed-in operator
//! named on each call (`gatehouse_core::audit::AuditActor`).
//!
//! Operators sign in through Gatehouse's own login page: the console is a first-party OpenID
//! Connect client of its own issuer (`gatehouse-console`, public, PKCE S256, `skip_consent`),
//! registered before the first sign-in of each process ([`ensure_client`]). The authorization
//! code is redeemed by calling the public router's token endpoint in process (`auth.rs`). Only
//! users with the role `admin` (everything) or `reviewer` (registration requests only) may enter.
//!
//! | route (under the console's path, `/console` by default) | what |
//! |---|---|
//! | `GET /` | the first page the operator may see |
//! | `GET /callback`, `POST /sign-out` | sign-in's return, sign-out |
//! | `GET /language`, `GET /static/{file}` | the language switcher, the stylesheets |
//! | `GET /requests`, `GET /requests/{id}`, `POST /requests/{id}/{approve,reject,request-changes}` | registration requests |
//! | `GET /apps`, `GET\|POST /apps/new`, `GET\|POST /apps/{id}`, `POST /apps/{id}/{disable,enable,secret}`, `GET\|POST /apps/{id}/delete` | apps (clients) |
//! | `GET\|POST /scopes`, `GET\|POST /scopes/{name}` | the scope catalogue |
//! | `GET\|POST /users`, `GET /users/{id}`, `POST /users/{id}/{disable,enable,unlock,password,roles,revoke}` | users |
//! | `GET /keys`, `POST /keys/rotate` | signing keys |
//! | `GET /audit` | the audit log |

mod api;
mod apps;
mod audit;
mod auth;
mod form;
mod keys;
mod requests;
mod scopes;
mod state;
mod users;
mod view;

use axum::routing::{get, post};

pub use api::AdminApi;
pub use auth::{CLIENT_ID, ensure_client};
pub use state::{ConsoleConfig, ConsoleState};

/// The console's routes, under its path (`ConsoleConfig::base_path`). Mounted by the binary on
/// the admin listener, outside the admin token and the browser guard: the console checks its own
/// session, CSRF token and origin (`auth.rs`).
pub fn router(state: ConsoleState) -> axum::Router {
    let at = |path: &str| format!("{}{path}", state.base_path());
    axum::Router::new()
        .route(&at(""), get(auth::home))
        .route(&at("/"), get(auth::home))
        .route(&at("/callback"), get(auth::callback))
        .route(&at("/sign-out"), post(auth::sign_out))
        .route(&at("/language"), get(view::switch_language))
        .route(&at("/static/{file}"), get(view::stylesheet))
        .route(&at("/requests"), get(requests::list))
        .route(&at("/requests/{id}"), get(requests::show))
        .route(&at("/requests/{id}/{action}"), post(requests::act))
        .route(&at("/apps"), get(apps::list))
        .route(&at("/apps/new"), get(apps::new_form).post(apps::create))
        .route(&at("/apps/{id}"), get(apps::show).post(apps::update))
        .route(
            &at("/apps/{id}/delete"),
            get(apps::confirm_delete).post(apps::delete),
        )
        .route(&at("/apps/{id}/{action}"), post(apps::act))
        .route(&at("/scopes"), get(scopes::list).post(scopes::create))
        .route(
            &at("/scopes/{name}"),
            get(scopes::show).post(scopes::update),
        )
        .route(&at("/users"), get(users::list).post(users::create))
        .route(&at("/users/{id}"), get(users::show))
        .route(&at("/users/{id}/{action}"), post(users::act))
        .route(&at("/keys"), get(keys::list))
        .route(&at("/keys/rotate"), post(keys::rotate))
        .route(&at("/audit"), get(audit::list))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::origin_and_headers,
        ))
        .with_state(state)
}
