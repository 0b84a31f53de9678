//! What a client may ask for when it registers itself (RFC 7591 dynamic registration), on top of
//! the rules every client follows ([`crate::registration`]).
//!
//! An operator registering a client through the admin API is trusted; a client registering itself
//! over the public endpoint is not. The same parsing and validation run on both, then
//! [`check_self_registered`] refuses what only an operator may grant: scopes, grants and
//! authentication methods outside the server's [`SelfRegistrationPolicy`], skipping the consent
//! screen, and the `owner`, `audience` and `metadata` fields an operator uses to classify and
//! empower clients. Every refusal is `invalid_client_metadata` naming the field.
//!
//! Initial access tokens (RFC 7591 §3) and registration access tokens (RFC 7592 §3) are random
//! bearer values stored only as keyed hashes under [`REGISTRATION_TOKEN_PURPOSE`].

use crate::client::{ClientMetadata, TokenEndpointAuthMethod};
use crate::error::{ErrorCode, OAuthError};
use crate::protocol::GrantType;
use crate::scope::ScopeSet;
use crate::secret::{KeyedHasher, SecretString, random_token};

/// The [`KeyedHasher`] purpose under which initial and registration access tokens are hashed.
pub const REGISTRATION_TOKEN_PURPOSE: &str = "registration-token";

/// Entropy of an initial or registration access token: 256 bits.
pub const REGISTRATION_TOKEN_BYTES: usize = 32;

/// The scopes a self-registered client may ask for unless the operator says otherwise: the
/// identity scopes of the default catalogue. Each of them is shown to (or implied for) the user
/// on the consent screen, which a self-registered client can never skip; scopes that reach an API
/// are for clients an operator registered.
pub const DEFAULT_ALLOWED_SCOPES: &str = "openid offline offline_access profile email";

/// What the public registration endpoint lets a client ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfRegistrationPolicy {
    /// A requested `scope` must be a subset; an omitted one becomes all of these.
    pub allowed_scopes: ScopeSet,
    pub allowed_grant_types: Vec<GrantType>,
    pub allowed_auth_methods: Vec<TokenEndpointAuthMethod>,
}

impl Default for SelfRegistrationPolicy {
    /// [`DEFAULT_ALLOWED_SCOPES`]; the authorization code and refresh token grants (never
    /// `client_credentials`, which would hand a stranger tokens with no user behind them); every
    /// client authentication method.
    fn default() -> Self {
        Self {
            allowed_scopes: ScopeSet::parse(DEFAULT_ALLOWED_SCOPES).unwrap_or_default(),
            allowed_grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            allowed_auth_methods: TokenEndpointAuthMethod::ALL.to_vec(),
        }
    }
}

fn refuse(description: String) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, description)
}

/// The checks a self-registered client passes after the common ones
/// ([`crate::registration::validate_metadata`]): only what `policy` allows, and nothing only an
/// operator may set.
pub fn check_self_registered(
    metadata: &ClientMetadata,
    policy: &SelfRegistrationPolicy,
) -> Result<(), OAuthError> {
    if metadata.skip_consent {
        return Err(refuse(
            "skip_consent cannot be set by a client registering itself".to_owned(),
        ));
    }
    if metadata.disabled {
        return Err(refuse(
            "disabled cannot be set by a client registering itself".to_owned(),
        ));
    }
    if !metadata.owner.is_empty() {
        return Err(refuse(
            "owner cannot be set by a client registering itself".to_owned(),
        ));
    }
    if !metadata.audience.is_empty() {
        return Err(refuse(
            "audience cannot be set by a client registering itself".to_owned(),
        ));
    }
    if metadata
        .metadata
        .as_object()
        .is_some_and(|fields| !fields.is_empty())
    {
        return Err(refuse(
            "metadata cannot be set by a client registering itself".to_owned(),
        ));
    }
    if !metadata.allowed_resources.is_empty() {
        return Err(refuse(
            "allowed_resources cannot be set by a client registering itself".to_owned(),
        ));
    }
    // Key-based client authentication and request-object keys are for clients an operator
    // registers: a self-registered client's secret is kept as a hash only (no sealed copy for
    // client_secret_jwt), and a jwks_uri would make the server fetch a URL a stranger chose.
    if matches!(
        metadata.token_endpoint_auth_method,
        TokenEndpointAuthMethod::PrivateKeyJwt | TokenEndpointAuthMethod::ClientSecretJwt
    ) {
        return Err(refuse(format!(
            "token_endpoint_auth_method {} is for clients an operator registers",
            metadata.token_endpoint_auth_method.as_str()
        )));
    }
    if metadata.jwks.is_some() || !metadata.jwks_uri.is_empty() {
        return Err(refuse(
            "jwks and jwks_uri are for clients an operator registers".to_owned(),
        ));
    }
    if let Some(refused) = metadata.scope.refused_by(&policy.allowed_scopes) {
        return Err(refuse(format!(
            "scope {refused} is not open to self-registered clients; allowed: {}",
            policy.allowed_scopes
        )));
    }
    if let Some(grant) = metadata
        .grant_types
        .iter()
        .find(|g| !policy.allowed_grant_types.contains(g))
    {
        return Err(refuse(format!(
            "grant type {} is not open to self-registered clients; allowed: {}",
            grant.as_str(),
            names(policy.allowed_grant_types.iter().map(|g| g.as_str()))
        )));
    }
    if !policy
        .allowed_auth_methods
        .contains(&metadata.token_endpoint_auth_method)
    {
        return Err(refuse(format!(
            "token_endpoint_auth_method {} is not open to self-registered clients; allowed: {}",
            metadata.token_endpoint_auth_method.as_str(),
            names(policy.allowed_auth_methods.iter().map(|m| m.as_str()))
        )));
    }
    Ok(())
}

fn names<'a>(list: impl Iterator<Item = &'a str>) -> String {
    let joined: Vec<&str> = list.collect();
    if joined.is_empty() {
        "none".to_owned()
    } else {
        joined.join(" ")
    }
}

/// The hasher for initial and registration access tokens, derived from the client-secret hasher
/// so that whoever can check client secrets can check these.
pub fn registration_token_hasher(client_secret_hasher: &KeyedHasher) -> KeyedHasher {
    client_secret_hasher.derive(REGISTRATION_TOKEN_PURPOSE)
}

/// A fresh initial or registration access token: 256 random bits, base64url.
pub fn generate_registration_token() -> SecretString {
    SecretString::new(random_token(REGISTRATION_TOKEN_BYTES))
}

/// Whether `presented` is the registration access token whose hash the client holds
/// (constant-time; a client without one accepts none).
pub fn verify_registration_access_token(
    metadata: &ClientMetadata,
    presented: &str,
    hasher: &KeyedHasher,
) -> bool {
    match &metadata.registration_access_token_hash {
        Some(stored) => hasher.verify(presented, stored),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::*;

    fn grant(name: &str) -> GrantType {
        match GrantType::parse(name) {
            Some(g) => g,
            None => panic!("{name}"),
        }
    }

    fn scope(s: &str) -> ScopeSet {
        match ScopeSet::parse(s) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    /// What an app registering itself typically asks for.
    fn app() -> ClientMetadata {
        ClientMetadata {
            client_name: "Partner app".to_owned(),
            grant_types: vec![grant("authorization_code"), grant("refresh_token")],
            scope: scope("openid offline_access profile"),
            token_endpoint_auth_method: TokenEndpointAuthMethod::None,
            ..ClientMetadata::default()
        }
    }

    fn refusal(metadata: &ClientMetadata, policy: &SelfRegistrationPolicy) -> String {
        match check_self_registered(metadata, policy) {
            Err(e) => {
                assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
                e.description.into_owned()
            }
            Ok(()) => panic!("accepted {metadata:?}"),
        }
    }

    #[test]
    fn an_ordinary_app_is_accepted_by_the_default_policy() {
        assert_eq!(
            check_self_registered(&app(), &SelfRegistrationPolicy::default()),
            Ok(())
        );
        let mut everything = app();
        everything.scope = scope(DEFAULT_ALLOWED_SCOPES);
        everything.token_endpoint_auth_method = TokenEndpointAuthMethod::ClientSecretPost;
        everything.metadata = serde_json::json!({});
        assert_eq!(
            check_self_registered(&everything, &SelfRegistrationPolicy::default()),
            Ok(())
        );
    }

    #[test]
    fn the_default_policy_is_the_safe_one() {
        let policy = SelfRegistrationPolicy::default();
        assert_eq!(policy.allowed_scopes.to_string(), DEFAULT_ALLOWED_SCOPES);
        assert_eq!(
            policy.allowed_grant_types,
            vec![grant("authorization_code"), grant("refresh_token")]
        );
        assert!(
            !policy
                .allowed_grant_types
                .contains(&grant("client_credentials"))
        );
        assert_eq!(
            policy.allowed_auth_methods,
            TokenEndpointAuthMethod::ALL.to_vec()
        );
    }

    #[test]
    fn a_scope_beyond_the_policy_is_refused_and_named() {
        let mut m = app();
        m.scope = scope("openid urn:neoncloud:projects:write");
        let said = refusal(&m, &SelfRegistrationPolicy::default());
        assert!(said.contains("urn:neoncloud:projects:write"), "{said}");
        assert!(!said.contains("openid is"), "{said}");
    }

    #[test]
    fn client_credentials_is_refused_unless_allowed() {
        let mut m = app();
        m.grant_types = vec![grant("client_credentials")];
        m.token_endpoint_auth_method = TokenEndpointAuthMethod::ClientSecretBasic;
        let said = refusal(&m, &SelfRegistrationPolicy::default());
        assert!(said.contains("client_credentials"), "{said}");
        assert!(said.contains("authorization_code refresh_token"), "{said}");
        let mut policy = SelfRegistrationPolicy::default();
        policy.allowed_grant_types.push(grant("client_credentials"));
        assert_eq!(check_self_registered(&m, &policy), Ok(()));
    }

    #[test]
    fn resources_keys_and_key_based_methods_are_for_operators() {
        let policy = SelfRegistrationPolicy::default();
        let mut m = app();
        m.allowed_resources = vec!["https://api.example.com".into()];
        assert!(refusal(&m, &policy).contains("allowed_resources"));
        for method in [
            TokenEndpointAuthMethod::PrivateKeyJwt,
            TokenEndpointAuthMethod::ClientSecretJwt,
        ] {
            let mut m = app();
            m.token_endpoint_auth_method = method;
            let said = refusal(&m, &policy);
            assert!(said.contains(method.as_str()), "{said}");
        }
        let mut m = app();
        m.jwks_uri = "https://app.example.com/jwks.json".into();
        assert!(refusal(&m, &policy).contains("jwks_uri"));
        let mut m = app();
        m.jwks = Some(serde_json::json!({"keys": []}));
        assert!(refusal(&m, &policy).contains("jwks"));
    }

    #[test]
    fn an_auth_method_outside_the_policy_is_refused() {
        let policy = SelfRegistrationPolicy {
            allowed_auth_methods: vec![TokenEndpointAuthMethod::ClientSecretBasic],
            ..SelfRegistrationPolicy::default()
        };
        let said = refusal(&app(), &policy);
        assert!(said.contains("token_endpoint_auth_method none"), "{said}");
        assert!(said.ends_with("allowed: client_secret_basic"), "{said}");
        let nothing = SelfRegistrationPolicy {
            allowed_auth_methods: vec![],
            ..SelfRegistrationPolicy::default()
        };
        assert!(refusal(&app(), &nothing).ends_with("allowed: none"));
    }

    #[test]
    fn operator_only_fields_are_refused() {
        let policy = SelfRegistrationPolicy::default();
        let mut m = app();
        m.skip_consent = true;
        assert!(refusal(&m, &policy).starts_with("skip_consent"));
        let mut m = app();
        m.disabled = true;
        assert!(refusal(&m, &policy).starts_with("disabled"));
        let mut m = app();
        m.owner = "acme".to_owned();
        assert!(refusal(&m, &policy).starts_with("owner"));
        let mut m = app();
        m.audience = vec!["https://api.example.com".to_owned()];
        assert!(refusal(&m, &policy).starts_with("audience"));
        let mut m = app();
        m.metadata = serde_json::json!({"tier": "gold"});
        assert!(refusal(&m, &policy).starts_with("metadata"));
    }

    #[test]
    fn registration_access_tokens_verify_only_against_their_own_hash() {
        let hasher =
            registration_token_hasher(&KeyedHasher::new(b"system secret", "client-secret"));
        let token = generate_registration_token();
        assert!(token.expose().len() >= 43);
        assert_ne!(token, generate_registration_token());
        let mut m = app();
        assert!(!verify_registration_access_token(
            &m,
            token.expose(),
            &hasher
        ));
        m.registration_access_token_hash = Some(hasher.hash(token.expose()));
        assert!(verify_registration_access_token(
            &m,
            token.expose(),
            &hasher
        ));
        assert!(!verify_registration_access_token(&m, "another", &hasher));
        let other = registration_token_hasher(&KeyedHasher::new(b"other secret", "client-secret"));
        assert!(!verify_registration_access_token(
            &m,
            token.expose(),
            &other
        ));
        let secrets = KeyedHasher::new(b"system secret", "client-secret");
        assert_ne!(secrets.hash("x"), hasher.hash("x"));
    }
}
