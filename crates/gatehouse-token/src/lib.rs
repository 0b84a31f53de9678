//! Gatehouse's token service: the only component that holds signing keys and mints codes and
//! tokens. It serves the gRPC contract of `proto/gatehouse/token/v1` (used by the login UI and
//! internal services), the public OAuth endpoints and the admin API.

pub mod accounts;
pub mod accounts_api;
pub mod admin;
pub mod authorization;
pub mod cache;
pub mod catalogue;
pub mod client_auth;
pub mod client_keys;
pub mod cors;
pub mod device;
pub mod dpop;
pub mod factors;
pub mod grants;
pub mod grpc;
pub mod http;
pub mod introspection;
pub mod issue;
pub mod keys_api;
pub mod logout;
pub mod par;
pub mod partners;
pub mod passkeys;
pub mod password;
pub mod revocation;
pub mod self_service;
pub mod service;
pub mod settings;
mod single_use;
mod usage;
pub mod userinfo;

pub use grants::TokenEndpointError;
pub use service::TokenService;
pub use settings::TokenSettings;
