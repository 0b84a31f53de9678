//! Small builders for domain values, so tests state only what they care about.

use gatehouse_core::client::{Client, ClientId, ClientMetadata, ClientSecretHashes};
use gatehouse_core::protocol::{GrantType, ResponseType};
use gatehouse_core::redirect::RedirectUri;
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::user::User;
use time::OffsetDateTime;

/// The current time truncated to whole seconds: the durable stores keep Unix seconds, so values
/// built from this compare equal after a round trip.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// A random id with a readable prefix, e.g. `client-3f2a…`.
pub fn unique_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Parses a scope string the test wrote; panics on a typo.
pub fn scopes(s: &str) -> ScopeSet {
    ScopeSet::parse(s).unwrap_or_else(|e| panic!("fixture scope string {s:?}: {e}"))
}

/// Parses a client id the test wrote; panics on a typo.
pub fn client_id(id: &str) -> ClientId {
    ClientId::parse(id).unwrap_or_else(|e| panic!("fixture client id {id:?}: {e}"))
}

/// Parses a redirect URI the test wrote (plain http allowed anywhere); panics on a typo.
pub fn redirect_uri(uri: &str) -> RedirectUri {
    RedirectUri::parse(uri, true).unwrap_or_else(|e| panic!("fixture redirect URI {uri:?}: {e}"))
}

/// Parses redirect URIs the test wrote.
pub fn redirect_uris(uris: &[&str]) -> Vec<RedirectUri> {
    uris.iter().map(|uri| redirect_uri(uri)).collect()
}

/// A confidential client with a redirect URI, the code and refresh grants, and a secret hash.
pub fn client(id: &str) -> Client {
    let now = now();
    Client {
        id: client_id(id),
        incarnation: Client::new_incarnation(),
        metadata: ClientMetadata {
            client_name: format!("Test client {id}"),
            redirect_uris: redirect_uris(&["https://app.example.com/callback"]),
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            response_types: vec![ResponseType::Code],
            scope: scopes("openid offline profile"),
            ..ClientMetadata::default()
        },
        secret: Some(ClientSecretHashes {
            current: "hash-of-secret".to_owned(),
            previous: None,
            previous_expires_at: None,
        }),
        created_at: now,
        updated_at: now,
    }
}

/// An enabled user with a verified email and no password.
pub fn user(id: &str, username: &str) -> User {
    let now = now();
    User {
        id: id.to_owned(),
        username: username.to_owned(),
        email: Some(format!("{}@example.com", username.to_lowercase())),
        email_verified: true,
        name: Some(format!("User {username}")),
        picture: None,
        disabled: false,
        password_hash: None,
        metadata: Default::default(),
        roles: Vec::new(),
        created_at: now,
        updated_at: now,
    }
}

/// RFC 7636 Appendix B's PKCE code verifier.
pub const PKCE_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// The S256 challenge of [`PKCE_VERIFIER`]: `BASE64URL(SHA256(verifier))`.
pub const PKCE_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Argon2 parameters cheap enough for tests; the service verifies a hash with the parameters
/// stored in it, so users created with these sign in as fast as the test needs.
pub fn cheap_password_params(memory_kib: u32) -> gatehouse_token::password::PasswordHashParams {
    gatehouse_token::password::PasswordHashParams {
        memory_kib,
        iterations: 1,
        parallelism: 1,
    }
}

/// A system secret of the test's own, e.g. `grpc-test-…`: Redis is shared between tests, and
/// what a service keys with its secret (revocation cut-offs, failed-login counters, sessions) is
/// keyed by ids the tests share.
pub fn random_system_secret(prefix: &str) -> String {
    format!("{prefix}-{}", gatehouse_core::secret::random_token(32))
}
