//! What a grant leaves behind in the short-lived store: authorization codes and opaque
//! access-token records. Both are stored under the keyed hash of the bearer value, never the
//! value itself.

use serde::{Deserialize, Serialize};

use crate::pkce::PkceChallenge;
use crate::scope::ScopeSet;

/// An issued authorization code (RFC 6749 §4.1.2), kept until redeemed or expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationCodeRecord {
    /// Identifies everything issued from this code: the refresh-token family id and the key of
    /// the access-token index, so a replayed code can revoke both (RFC 6749 §4.1.2).
    pub grant_id: String,
    pub client_id: String,
    pub subject: String,
    pub redirect_uri: String,
    /// Whether the authorization request carried `redirect_uri` (then the token request must
    /// carry the same value, RFC 6749 §4.1.3).
    pub redirect_uri_given: bool,
    pub scope: ScopeSet,
    pub code_challenge: Option<PkceChallenge>,
    pub nonce: Option<String>,
    /// When the user authenticated (Unix seconds), for the ID token's `auth_time`.
    pub auth_time: i64,
    pub session_id: Option<String>,
    pub issued_at: i64,
}

/// An opaque access token's record, what introspection and userinfo read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenRecord {
    pub client_id: String,
    /// The user, or `None` for a client_credentials token (whose subject is the client).
    // Absent fields are left out: every live opaque token is one record, so bytes count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub scope: ScopeSet,
    pub audience: Vec<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    /// The grant (code / refresh family) it was issued under, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
}

impl AccessTokenRecord {
    /// The `sub` to report: the user, or the client itself (RFC 9068 §2.2 for client credentials).
    pub fn sub(&self) -> &str {
        self.subject.as_deref().unwrap_or(&self.client_id)
    }
}

/// Marker left when a code is redeemed, so a replay can be recognised and answered by revoking
/// what the first redemption issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpentCodeRecord {
    pub grant_id: String,
    pub client_id: String,
}
