//! OAuth clients (partner applications) as registered by operators.
//!
//! The JSON shape follows RFC 7591 and Ory Hydra's admin API, so a client exported from Hydra
//! imports unchanged: unknown Hydra fields are ignored, and `null` reads as "not set".

use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;

use crate::protocol::{GrantType, ResponseType};
use crate::redirect::RedirectUri;
use crate::scope::ScopeSet;

crate::protocol::protocol_values! {
    /// How a client authenticates at the token endpoint (RFC 7591 §2).
    #[derive(Default)]
    pub enum TokenEndpointAuthMethod ("token_endpoint_auth_method") {
        /// A public client: no secret (RFC 6749 §2.1).
        None => "none",
        #[default]
        ClientSecretBasic => "client_secret_basic",
        ClientSecretPost => "client_secret_post",
        /// A JWT signed with one of the client's own keys (`jwks` or `jwks_uri`); RFC 7523 §2.2,
        /// OpenID Connect Core §9.
        PrivateKeyJwt => "private_key_jwt",
        /// A JWT MACed (HS256/384/512) with the client's secret; OpenID Connect Core §9. The
        /// secret is kept sealed at rest for these clients only (see [`SealedSecret`]).
        ClientSecretJwt => "client_secret_jwt",
    }
}

impl TokenEndpointAuthMethod {
    /// Whether the client proves itself with a signed JWT (`client_assertion`, RFC 7523).
    pub fn uses_assertion(self) -> bool {
        matches!(self, Self::PrivateKeyJwt | Self::ClientSecretJwt)
    }

    /// Whether the client holds a shared secret (`client_secret_*`).
    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            Self::ClientSecretBasic | Self::ClientSecretPost | Self::ClientSecretJwt
        )
    }
}

/// A `client_secret_jwt` client's secret, encrypted (AES-256-GCM) under a key derived from the
/// system secret, base64url-encoded. HMAC verification needs the secret itself, which a hash
/// cannot give back, so for these clients only the secret is kept sealed next to its hash; every
/// other client's secret exists only as a hash. Its `Debug` never shows the value.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SealedSecret(pub String);

impl SealedSecret {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "SealedSecret(none)"
        } else {
            "SealedSecret([redacted])"
        })
    }
}

crate::protocol::protocol_values! {
    /// The format of access tokens issued to a client.
    #[derive(Default)]
    pub enum AccessTokenStrategy ("access_token_strategy") {
        #[default]
        Opaque => "opaque",
        /// RFC 9068 JWT access tokens.
        Jwt => "jwt",
    }
}

crate::protocol::protocol_values! {
    /// Which user claims a client's ID tokens carry.
    #[derive(Default)]
    pub enum IdTokenClaims ("id_token_claims") {
        /// Only the protocol claims (`sub`, `auth_time`, `nonce`, …): the profile comes from
        /// `/userinfo` (OpenID Connect Core §5.4 for the scope-requested claims).
        #[default]
        Minimal => "minimal",
        /// Also the claims the granted `profile` and `email` scopes release, for libraries that
        /// read the profile from the ID token.
        Scopes => "scopes",
    }
}

/// Why a string is not a client id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("client_id must be 1 to {max} visible ASCII characters without spaces", max = ClientId::MAX_LEN)]
pub struct InvalidClientId;

/// A client's id: 1 to 255 visible ASCII characters without spaces (RFC 6749 Appendix A.1
/// allows VSCHAR; spaces are refused because ids travel in URL paths, tables and shell
/// commands). Read-only once parsed; it derefs to `str`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    pub const MAX_LEN: usize = 255;

    pub fn parse(id: &str) -> Result<Self, InvalidClientId> {
        if id.is_empty()
            || id.len() > Self::MAX_LEN
            || !id.bytes().all(|b| (0x21..=0x7E).contains(&b))
        {
            return Err(InvalidClientId);
        }
        Ok(Self(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::ops::Deref for ClientId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ClientId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for ClientId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for ClientId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ClientId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl<'de> Deserialize<'de> for ClientId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Everything about a client that an operator sets (RFC 7591 client metadata).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientMetadata {
    #[serde(default, deserialize_with = "null_as_default")]
    pub client_name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub redirect_uris: Vec<RedirectUri>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub grant_types: Vec<GrantType>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub response_types: Vec<ResponseType>,
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
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub skip_consent: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub access_token_strategy: AccessTokenStrategy,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: serde_json::Value,
    /// Browser origins (`https://app.example.com`) allowed to call the token, revocation,
    /// userinfo and discovery endpoints from a web page (CORS), as Hydra names the field.
    #[serde(default, deserialize_with = "null_as_default")]
    pub allowed_cors_origins: Vec<String>,
    /// Who the client belongs to (free text, e.g. the partner's organisation), as in Hydra.
    #[serde(default, deserialize_with = "null_as_default")]
    pub owner: String,
    /// Where the client publishes its public keys (RFC 7591 §2), for `private_key_jwt` and
    /// signed request objects; fetched over https only (plain http in dev mode).
    #[serde(default, deserialize_with = "null_as_default")]
    pub jwks_uri: String,
    /// The client's public keys inline, as a JWK Set (RFC 7591 §2); never with `jwks_uri`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub jwks: Option<serde_json::Value>,
    /// RFC 7591 §2: the only JWS algorithm the client's `client_assertion`s may use; empty
    /// means any supported algorithm that fits the method.
    #[serde(default, deserialize_with = "null_as_default")]
    pub token_endpoint_auth_signing_alg: String,
    /// Set by the server for `client_secret_jwt` clients; not part of the admin API.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "SealedSecret::is_empty"
    )]
    pub client_secret_sealed: SealedSecret,
    #[serde(default, deserialize_with = "null_as_default")]
    pub id_token_claims: IdTokenClaims,
    /// RFC 9126 §5: the client's authorization requests are accepted only when pushed
    /// (`/oauth2/par`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub require_pushed_authorization_requests: bool,
    /// RFC 8707 resource indicators (absolute URIs) the client may name with `resource`; access
    /// tokens issued for them carry them as `aud`. Empty: none (beyond `audience`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub allowed_resources: Vec<String>,
    /// RFC 9449 §5.2: every token request of the client must carry a DPoP proof, so its access
    /// tokens are always sender-constrained.
    #[serde(default, deserialize_with = "null_as_default")]
    pub dpop_bound_access_tokens: bool,
    /// RFC 9101 §10.5: the client's authorization requests are accepted only as a signed
    /// request object (`request`, by value or pushed).
    #[serde(default, deserialize_with = "null_as_default")]
    pub require_signed_request_object: bool,
    /// Every sign-in for this client must use a second factor (TOTP or a recovery code): its
    /// codes are issued only for sessions whose `amr` has `mfa`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub require_mfa: bool,
    /// Switched off by an operator: the client gets nothing (no authorization request, no token,
    /// no introspection) until switched on again. Switching it off ended everything it held
    /// (its incarnation's cut-off); switching it on starts a new incarnation, so nothing ended
    /// comes back. Never set by a client registering itself.
    #[serde(default, deserialize_with = "null_as_default")]
    pub disabled: bool,
    /// RFC 7592: the keyed hash of the registration access token of a client that registered
    /// itself (`None` for clients an operator registered). Never part of an API answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_access_token_hash: Option<String>,
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
            allowed_cors_origins: Vec::new(),
            owner: String::new(),
            jwks_uri: String::new(),
            jwks: None,
            token_endpoint_auth_signing_alg: String::new(),
            client_secret_sealed: SealedSecret::default(),
            id_token_claims: IdTokenClaims::default(),
            require_pushed_authorization_requests: false,
            allowed_resources: Vec::new(),
            dpop_bound_access_tokens: false,
            require_signed_request_object: false,
            require_mfa: false,
            disabled: false,
            registration_access_token_hash: None,
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
    pub id: ClientId,
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

    /// Whether the client registered `grant`.
    pub fn may_use(&self, grant: GrantType) -> bool {
        self.metadata.grant_types.contains(&grant)
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
            TokenEndpointAuthMethod::PrivateKeyJwt,
            TokenEndpointAuthMethod::ClientSecretJwt,
        ] {
            assert_eq!(TokenEndpointAuthMethod::parse(m.as_str()), Some(m));
        }
        assert_eq!(TokenEndpointAuthMethod::parse("tls_client_auth"), None);
    }

    #[test]
    fn only_the_jwt_methods_use_an_assertion_and_only_the_secret_methods_a_secret() {
        use TokenEndpointAuthMethod as M;
        let assertion: Vec<_> = M::ALL.iter().filter(|m| m.uses_assertion()).collect();
        assert_eq!(assertion, [&M::PrivateKeyJwt, &M::ClientSecretJwt]);
        let secret: Vec<_> = M::ALL.iter().filter(|m| m.uses_secret()).collect();
        assert_eq!(
            secret,
            [
                &M::ClientSecretBasic,
                &M::ClientSecretPost,
                &M::ClientSecretJwt
            ]
        );
    }

    #[test]
    fn a_sealed_secret_never_prints_and_is_not_written_when_absent() {
        let sealed = SealedSecret("c2VjcmV0LWNpcGhlcnRleHQ".into());
        assert_eq!(format!("{sealed:?}"), "SealedSecret([redacted])");
        assert_eq!(
            format!("{:?}", SealedSecret::default()),
            "SealedSecret(none)"
        );
        assert!(!sealed.is_empty() && SealedSecret::default().is_empty());
        let json = serde_json::to_value(ClientMetadata::default()).unwrap_or_default();
        assert!(json.get("client_secret_sealed").is_none(), "{json}");
        let with = ClientMetadata {
            client_secret_sealed: sealed.clone(),
            ..ClientMetadata::default()
        };
        let json = serde_json::to_value(&with).unwrap_or_default();
        assert_eq!(json["client_secret_sealed"], "c2VjcmV0LWNpcGhlcnRleHQ");
        let back: ClientMetadata = serde_json::from_value(json).unwrap_or_default();
        assert_eq!(back.client_secret_sealed, sealed);
    }

    #[test]
    fn a_client_id_reads_back_and_compares_as_its_string() {
        use std::borrow::Borrow;
        use std::collections::HashSet;
        let Ok(id) = ClientId::parse("neoncli") else {
            panic!("a valid id")
        };
        assert_eq!(id.as_str(), "neoncli");
        assert_eq!(&*id, "neoncli");
        assert_eq!(AsRef::<str>::as_ref(&id), "neoncli");
        assert_eq!(Borrow::<str>::borrow(&id), "neoncli");
        assert_eq!(id.to_string(), "neoncli");
        assert!(id == *"neoncli" && id == "neoncli");
        assert!(id != *"other" && id != "other");
        let set: HashSet<ClientId> = [id.clone()].into();
        assert!(set.contains("neoncli") && !set.contains("other"));
        assert_eq!(id.clone().into_string(), "neoncli");
        assert_eq!(
            serde_json::to_string(&id).ok().as_deref(),
            Some("\"neoncli\"")
        );
        assert!(serde_json::from_str::<ClientId>("\"neon cli\"").is_err());
    }

    #[test]
    fn incarnations_are_fresh_and_unguessable() {
        let (a, b) = (Client::new_incarnation(), Client::new_incarnation());
        assert_ne!(a, b);
        assert!(a.len() >= 22, "{a}");
    }

    #[test]
    fn a_client_may_use_only_the_grants_it_registered() {
        let client = Client {
            id: ClientId::parse("c").unwrap_or_else(|e| panic!("{e}")),
            incarnation: Client::new_incarnation(),
            metadata: ClientMetadata {
                grant_types: vec![GrantType::ClientCredentials],
                ..ClientMetadata::default()
            },
            secret: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        };
        assert!(client.may_use(GrantType::ClientCredentials));
        assert!(!client.may_use(GrantType::AuthorizationCode));
        assert!(!client.is_public());
    }
}
