//! OAuth clients (partner applications) as registered by operators.
//!
//! The JSON shape follows RFC 7591 and Ory Hydra's admin API, so a client exported from Hydra
//! imports unchanged: unknown Hydra fields are ignored, and `null` reads as "not set".

use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;

use crate::scope::ScopeSet;

/// How a client authenticates at the token endpoint (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    None,
    #[default]
    ClientSecretBasic,
    ClientSecretPost,
}

impl TokenEndpointAuthMethod {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            _ => None,
        }
    }
}

/// The format of access tokens issued to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AccessTokenStrategy {
    #[default]
    Opaque,
    Jwt,
}

/// Everything about a client that an operator sets (RFC 7591 client metadata).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientMetadata {
    #[serde(default, deserialize_with = "null_as_default")]
    pub client_name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub redirect_uris: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub grant_types: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub response_types: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub scope: ScopeSet,
    #[serde(default, deserialize_with = "null_as_default")]
    pub audience: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    #[serde(default, deserialize_with = "null_as_default")]
    pub logo_uri: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub client_uri: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub policy_uri: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tos_uri: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub contacts: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub skip_consent: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub access_token_strategy: AccessTokenStrategy,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: serde_json::Value,
}

impl Default for ClientMetadata {
    fn default() -> Self {
        Self {
            client_name: String::new(),
            redirect_uris: Vec::new(),
            grant_types: Vec::new(),
            response_types: Vec::new(),
            scope: ScopeSet::default(),
            audience: Vec::new(),
            token_endpoint_auth_method: TokenEndpointAuthMethod::default(),
            logo_uri: String::new(),
            client_uri: String::new(),
            policy_uri: String::new(),
            tos_uri: String::new(),
            contacts: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            skip_consent: false,
            access_token_strategy: AccessTokenStrategy::default(),
            metadata: serde_json::Value::Object(Default::default()),
        }
    }
}

/// `null` in Hydra's exports means "not set": read it as the field's default.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Keyed hashes of a client's secret. The secret itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSecretHashes {
    pub current: String,
    /// The secret replaced by the last rotation, still accepted until `previous_expires_at`.
    pub previous: Option<String>,
    pub previous_expires_at: Option<OffsetDateTime>,
}

/// A registered client as the stores hold it.
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    pub id: String,
    /// The client's internal identity: random, given when the client is registered and never
    /// reused. A client deleted and registered again under the same `id` is a new incarnation,
    /// and every grant (code, refresh-token family, access token) is bound to the incarnation it
    /// was issued to, so the new one inherits nothing (RFC 7592 §2.3).
    pub incarnation: String,
    pub metadata: ClientMetadata,
    pub secret: Option<ClientSecretHashes>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Client {
    /// A fresh value for [`Client::incarnation`] (128 random bits).
    pub fn new_incarnation() -> String {
        crate::secret::random_token(16)
    }

    /// A public client holds no secret and authenticates with `none` (RFC 6749 §2.1).
    pub fn is_public(&self) -> bool {
        self.metadata.token_endpoint_auth_method == TokenEndpointAuthMethod::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hydra_export_with_nulls_and_unknown_fields_parses() {
        let json = r#"{
            "client_id": "neoncli", "client_name": "Neon CLI", "client_secret": "",
            "redirect_uris": ["http://127.0.0.1:5555/callback"], "grant_types": ["authorization_code","refresh_token"],
            "response_types": null, "scope": "openid offline", "audience": [], "owner": "", "policy_uri": "",
            "allowed_cors_origins": [], "tos_uri": "", "client_uri": "", "logo_uri": "", "contacts": null,
            "client_secret_expires_at": 0, "subject_type": "public", "jwks": {}, "token_endpoint_auth_method": "none",
            "userinfo_signed_response_alg": "none", "created_at": "2023-01-01T00:00:00Z", "metadata": null,
            "skip_consent": false, "access_token_strategy": "opaque"
        }"#;
        let parsed: Result<ClientMetadata, _> = serde_json::from_str(json);
        let Ok(m) = parsed else { panic!("{parsed:?}") };
        assert_eq!(m.client_name, "Neon CLI");
        assert_eq!(m.token_endpoint_auth_method, TokenEndpointAuthMethod::None);
        assert!(m.response_types.is_empty());
        assert_eq!(m.scope.to_string(), "openid offline");
        assert!(m.metadata.is_null());
    }

    #[test]
    fn auth_method_names_round_trip() {
        for m in [
            TokenEndpointAuthMethod::None,
            TokenEndpointAuthMethod::ClientSecretBasic,
            TokenEndpointAuthMethod::ClientSecretPost,
        ] {
            assert_eq!(TokenEndpointAuthMethod::parse(m.as_str()), Some(m));
        }
        assert_eq!(TokenEndpointAuthMethod::parse("private_key_jwt"), None);
    }
}
