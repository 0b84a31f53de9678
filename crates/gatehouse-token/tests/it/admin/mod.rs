//! The admin REST API, end to end through its router.

mod audit;
mod auth;
mod client_validation;
mod clients;
mod consents;
mod factors;
mod openapi;
mod password_reset;
mod raw_rows;
mod registration_requests;
mod roles;
mod scopes;
mod secrets;
mod user_import;
mod users;

use serde_json::{Value, json};

/// The seed's CLI client, as `gatehouse clients create` sends it.
pub fn neoncli() -> Value {
    json!({
        "client_id": "neoncli",
        "client_name": "Neon CLI",
        "redirect_uris": ["http://127.0.0.1:5555/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": "openid offline offline_access urn:neoncloud:projects:read",
        "token_endpoint_auth_method": "none"
    })
}

/// A confidential web client with only the fields an operator must give.
pub fn web_client(id: &str) -> Value {
    json!({"client_id": id, "client_name": "Neon Console", "redirect_uris": ["https://console.neon.example/callback"]})
}

/// `base` with `key` set to `value`.
pub fn with(base: &Value, key: &str, value: Value) -> Value {
    let mut out = base.clone();
    out.as_object_mut().unwrap().insert(key.to_owned(), value);
    out
}

/// `base` without `key`.
pub fn without(base: &Value, key: &str) -> Value {
    let mut out = base.clone();
    out.as_object_mut().unwrap().remove(key);
    out
}
