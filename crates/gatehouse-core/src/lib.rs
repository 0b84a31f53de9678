//! Gatehouse's OAuth 2.0 / OpenID Connect engine.
//!
//! This crate holds the domain types, the protocol rules and the storage *ports* (traits) that the
//! adapters in `gatehouse-store` implement. It performs no I/O and depends on no runtime, database
//! driver or web framework: everything here is testable with plain `cargo test -p gatehouse-core`.

pub mod account_recovery;
pub mod audit;
pub mod authorize;
pub mod claims;
pub mod client;
pub mod client_assertion;
pub mod clock;
pub mod device;
pub mod dpop;
pub mod error;
pub mod factor;
pub mod grant;
pub mod lockout;
pub mod password_hash;
pub mod pkce;
pub mod protocol;
pub mod redirect;
pub mod registration;
pub mod registration_request;
pub mod request_object;
pub mod resource;
pub mod revocation;
pub mod scope;
pub mod secret;
pub mod self_registration;
pub mod store;
pub mod token_request;
pub mod user;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{ErrorCode, OAuthError};
