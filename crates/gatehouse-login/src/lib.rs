//! Gatehouse's login and consent web UI.
//!
//! It holds no signing key and mints nothing: every code and token comes from the token service,
//! which it reaches over gRPC only ([`TokenServiceClient`], in `token_client.rs`), even when both
//! run in one process.

pub mod token_client;

pub use token_client::{
    AuthorizationContext, ClientDisplay, ConnectedApp, DEFAULT_DEADLINE, TokenIntrospection,
    TokenServiceClient, TokenServiceError, UserProfile,
};

/// The login UI's HTTP routes. Mounted on the public listener in `serve all` and on the login
/// listener in `serve login`.
pub fn router(token_service: TokenServiceClient) -> axum::Router {
    // The authorization endpoint, login, consent and account pages are mounted here as they land;
    // the client is kept in the router's state so each page reaches the token service over gRPC.
    axum::Router::new().with_state(token_service)
}
