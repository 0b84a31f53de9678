//! Client registration rules (RFC 7591 §2, RFC 6749 §2–3, RFC 8252) and the client-secret
//! lifecycle, as pure functions.
//!
//! The admin API turns an operator's request into [`ClientMetadata`], fills Hydra's defaults with
//! [`apply_defaults`] and checks the result with [`validate_metadata`] before it writes anything,
//! so an invalid client is never half-stored. Every rule fails with the RFC 7591 §3.2.2 code that
//! names it: `invalid_redirect_uri` for redirection URIs, `invalid_client_metadata` for the rest.
//!
//! Secrets live here too (minting, rotation, verification) so that the admin API and the token
//! endpoint share one implementation of "which secrets does this client accept right now".

use std::borrow::Cow;

use time::{Duration, OffsetDateTime};
use url::Url;

use crate::client::{
    AccessTokenStrategy, Client, ClientId, ClientMetadata, ClientSecretHashes, IdTokenClaims,
    TokenEndpointAuthMethod,
};
use crate::error::{ErrorCode, OAuthError};
use crate::protocol::{GrantType, ResponseType};
use crate::redirect::{RedirectUri, is_loopback_host};
use crate::scope::ScopeSet;
use crate::secret::{KeyedHasher, SecretString, random_token};

/// The [`KeyedHasher`] purpose under which client secrets are hashed.
pub const CLIENT_SECRET_PURPOSE: &str = "client-secret";

/// Operator-chosen secrets must be at least this long. A generated secret is 43 characters.
pub const MIN_CLIENT_SECRET_LEN: usize = 32;

/// Entropy of a generated secret: 256 bits, which is what makes a fast keyed hash safe to store.
pub const GENERATED_SECRET_BYTES: usize = 32;

/// Hydra's default `scope` for a client registered without one.
pub const DEFAULT_SCOPE: &str = "openid offline offline_access";

/// Operator settings that change what registration accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegistrationPolicy {
    /// Allow plain `http` redirect URIs on non-loopback hosts (test environments only).
    pub allow_insecure_redirect_uris: bool,
}

fn invalid_metadata(description: impl Into<Cow<'static, str>>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, description)
}

fn invalid_redirect_uri(description: impl Into<Cow<'static, str>>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRedirectUri, description)
}

/// Parses the space-separated `scope` field (RFC 6749 §3.3 tokens).
pub fn parse_scope(scope: &str) -> Result<ScopeSet, OAuthError> {
    ScopeSet::parse(scope).map_err(|e| invalid_metadata(format!("scope: {e}")))
}

/// Parses `token_endpoint_auth_method`; an empty string means "not set", as in Hydra's exports.
pub fn parse_auth_method(method: &str) -> Result<TokenEndpointAuthMethod, OAuthError> {
    parse_named(
        "token_endpoint_auth_method",
        method,
        TokenEndpointAuthMethod::parse,
        TokenEndpointAuthMethod::names,
    )
}

/// Parses `access_token_strategy`; an empty string means "not set".
pub fn parse_access_token_strategy(strategy: &str) -> Result<AccessTokenStrategy, OAuthError> {
    parse_named(
        "access_token_strategy",
        strategy,
        AccessTokenStrategy::parse,
        AccessTokenStrategy::names,
    )
}

/// Parses `id_token_claims`; an empty string means "not set".
pub fn parse_id_token_claims(claims: &str) -> Result<IdTokenClaims, OAuthError> {
    parse_named(
        "id_token_claims",
        claims,
        IdTokenClaims::parse,
        IdTokenClaims::names,
    )
}

/// One protocol value of a metadata field: the default when empty, else one of `names`.
fn parse_named<T: Default>(
    field: &str,
    value: &str,
    parse: fn(&str) -> Option<T>,
    names: fn() -> String,
) -> Result<T, OAuthError> {
    if value.is_empty() {
        return Ok(T::default());
    }
    parse(value).ok_or_else(|| {
        invalid_metadata(format!(
            "{field} {value:?} is not supported; use {}",
            names()
        ))
    })
}

/// Parses `allowed_cors_origins`: each an origin as browsers send it in `Origin` (scheme, host
/// and port only; RFC 6454 §7), so the comparison on each request is exact string equality. A
/// trailing slash is forgiven; a path, query, fragment or user information is refused, and plain
/// http only on a loopback host unless insecure redirect URIs are allowed.
pub fn parse_cors_origins(
    origins: &[String],
    policy: RegistrationPolicy,
) -> Result<Vec<String>, OAuthError> {
    let mut parsed: Vec<String> = Vec::with_capacity(origins.len());
    for origin in origins {
        let refuse = || {
            invalid_metadata(format!(
                "allowed_cors_origins: {origin:?} is not an origin; use scheme://host[:port], e.g. https://app.example.com"
            ))
        };
        let url = Url::parse(origin).map_err(|_| refuse())?;
        let bare = url.path() == "/"
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty()
            && url.password().is_none()
            && url.host().is_some()
            && !origin.trim_end_matches('/').ends_with(':');
        if !bare || !matches!(url.scheme(), "https" | "http") {
            return Err(refuse());
        }
        if url.scheme() == "http"
            && !policy.allow_insecure_redirect_uris
            && !is_loopback_host(&url, true)
        {
            return Err(invalid_metadata(format!(
                "allowed_cors_origins: {origin:?} is plain http; use https (plain http only on loopback)"
            )));
        }
        let origin = url.origin().ascii_serialization();
        if !parsed.contains(&origin) {
            parsed.push(origin);
        }
    }
    Ok(parsed)
}

/// Parses a client id chosen by the operator (see [`ClientId`] for the rule).
pub fn parse_client_id(id: &str) -> Result<ClientId, OAuthError> {
    ClientId::parse(id).map_err(|e| invalid_metadata(e.to_string()))
}

/// Parses `grant_types`: only the grants Gatehouse implements ([`GrantType`]).
pub fn parse_grant_types(names: &[String]) -> Result<Vec<GrantType>, OAuthError> {
    names
        .iter()
        .map(|name| {
            GrantType::parse(name).ok_or_else(|| {
                invalid_metadata(format!(
                    "grant type {name:?} is not supported; use {}",
                    GrantType::names()
                ))
            })
        })
        .collect()
}

/// Parses `response_types`: only those Gatehouse answers ([`ResponseType`]).
pub fn parse_response_types(names: &[String]) -> Result<Vec<ResponseType>, OAuthError> {
    names
        .iter()
        .map(|name| {
            ResponseType::parse(name).ok_or_else(|| {
                invalid_metadata(format!(
                    "response type {name:?} is not supported; use {}",
                    ResponseType::names()
                ))
            })
        })
        .collect()
}

/// Parses the redirection URIs of `field` (`redirect_uris` or `post_logout_redirect_uris`):
/// RFC 6749 §3.1.2 and RFC 8252 §7 under the operator's policy, via [`RedirectUri::parse`];
/// the error names the field.
pub fn parse_redirect_uris(
    field: &str,
    uris: &[String],
    policy: RegistrationPolicy,
) -> Result<Vec<RedirectUri>, OAuthError> {
    uris.iter()
        .map(|uri| {
            RedirectUri::parse(uri, policy.allow_insecure_redirect_uris)
                .map_err(|e| invalid_redirect_uri(format!("{field}: {e}")))
        })
        .collect()
}

/// Checks a secret the operator chose instead of letting the server generate one.
///
/// Public clients (`none`) hold no secret at all. Otherwise the secret must be at least
/// [`MIN_CLIENT_SECRET_LEN`] characters of VSCHAR (RFC 6749 Appendix A.2), the only characters that
/// survive `client_secret_basic` no matter how a client library encodes them.
pub fn validate_chosen_secret(
    secret: &SecretString,
    method: TokenEndpointAuthMethod,
) -> Result<(), OAuthError> {
    if !method.uses_secret() {
        return Err(invalid_metadata(format!(
            "a client with token_endpoint_auth_method {method} holds no secret and cannot have a client_secret"
        )));
    }
    let s = secret.expose();
    if s.chars().count() < MIN_CLIENT_SECRET_LEN {
        return Err(invalid_metadata(format!(
            "client_secret must be at least {MIN_CLIENT_SECRET_LEN} characters; omit it to have one generated"
        )));
    }
    if !s.bytes().all(|b| (0x20..=0x7E).contains(&b)) {
        return Err(invalid_metadata(
            "client_secret must use printable ASCII characters only",
        ));
    }
    Ok(())
}

/// Fills the fields an operator left out with Hydra's defaults. Empty means "left out", as in
/// Hydra: `grant_types` becomes `["authorization_code"]`, `response_types` becomes `["code"]` when
/// the authorization code grant is allowed, `scope` becomes [`DEFAULT_SCOPE`], and a `null`
/// `metadata` becomes `{}`; a `code` response type on a client without the authorization code
/// grant is dropped.
pub fn apply_defaults(metadata: &mut ClientMetadata) {
    if metadata.grant_types.is_empty() {
        metadata.grant_types = vec![GrantType::AuthorizationCode];
    }
    let code_grant = metadata.grant_types.contains(&GrantType::AuthorizationCode);
    if metadata.response_types.is_empty() && code_grant {
        metadata.response_types = vec![ResponseType::Code];
    }
    // Hydra's CLI writes `response_types: ["code"]` on every client, client_credentials-only ones
    // included. RFC 7591 §2.1 lets the server repair such inconsistent metadata, and a Hydra export
    // must import unchanged, so the unusable `code` is dropped rather than refused.
    if !code_grant
        && metadata
            .response_types
            .iter()
            .all(|r| *r == ResponseType::Code)
    {
        metadata.response_types.clear();
    }
    if metadata.scope.is_empty() {
        metadata.scope = ScopeSet::parse(DEFAULT_SCOPE).unwrap_or_default();
    }
    if metadata.metadata.is_null() {
        metadata.metadata = serde_json::Value::Object(serde_json::Map::new());
    }
}

/// The rules between fields, in the order an operator would fix them. Each field was parsed at
/// the edge (the `parse_*` functions above); call after [`apply_defaults`].
pub fn validate_metadata(metadata: &ClientMetadata) -> Result<(), OAuthError> {
    validate_grant_types(&metadata.grant_types)?;
    validate_response_types(&metadata.response_types, &metadata.grant_types)?;
    validate_auth_method(metadata.token_endpoint_auth_method, &metadata.grant_types)?;
    if metadata.grant_types.contains(&GrantType::AuthorizationCode)
        && metadata.redirect_uris.is_empty()
    {
        return Err(invalid_redirect_uri(
            "a client with the authorization_code grant needs at least one redirect URI",
        ));
    }
    validate_logo_uri(&metadata.logo_uri)?;
    for (field, value) in [
        ("jwks_uri", &metadata.jwks_uri),
        ("client_uri", &metadata.client_uri),
        ("policy_uri", &metadata.policy_uri),
        ("tos_uri", &metadata.tos_uri),
    ] {
        validate_link_uri(field, value)?;
    }
    crate::resource::validate_allowed(&metadata.allowed_resources)?;
    validate_client_keys(metadata)?;
    Ok(())
}

/// The client's keys and the JWT methods (RFC 7591 §2): `jwks` and `jwks_uri` are never both
/// set, `jwks` holds public keys only, `private_key_jwt` needs keys, and
/// `token_endpoint_auth_signing_alg` fits the method.
pub fn validate_client_keys(metadata: &ClientMetadata) -> Result<(), OAuthError> {
    use crate::client_assertion::{validate_jwks, validate_signing_alg};
    if let Some(jwks) = &metadata.jwks {
        if !metadata.jwks_uri.is_empty() {
            return Err(invalid_metadata(
                "set either jwks or jwks_uri, not both (RFC 7591 §2)",
            ));
        }
        validate_jwks(jwks)?;
    }
    if metadata.token_endpoint_auth_method == TokenEndpointAuthMethod::PrivateKeyJwt
        && metadata.jwks.is_none()
        && metadata.jwks_uri.is_empty()
    {
        return Err(invalid_metadata(
            "token_endpoint_auth_method private_key_jwt needs the client's public keys: set jwks or jwks_uri",
        ));
    }
    validate_signing_alg(
        metadata.token_endpoint_auth_method,
        &metadata.token_endpoint_auth_signing_alg,
    )
}

/// `refresh_token` only next to `authorization_code` or the device grant: refresh tokens are
/// issued from user grants only (RFC 6749 §4.4.3 advises against them for client credentials).
pub fn validate_grant_types(grant_types: &[GrantType]) -> Result<(), OAuthError> {
    if grant_types.contains(&GrantType::RefreshToken)
        && !grant_types.contains(&GrantType::AuthorizationCode)
        && !grant_types.contains(&GrantType::DeviceCode)
    {
        return Err(invalid_metadata(
            "grant type refresh_token requires grant type authorization_code or urn:ietf:params:oauth:grant-type:device_code",
        ));
    }
    Ok(())
}

/// Consistently with the grants (RFC 7591 §2.1): response type `code` if and only if grant type
/// `authorization_code`.
pub fn validate_response_types(
    response_types: &[ResponseType],
    grant_types: &[GrantType],
) -> Result<(), OAuthError> {
    match (
        grant_types.contains(&GrantType::AuthorizationCode),
        response_types.contains(&ResponseType::Code),
    ) {
        (true, false) => Err(invalid_metadata(
            "grant type authorization_code requires response type code",
        )),
        (false, true) => Err(invalid_metadata(
            "response type code requires grant type authorization_code; add the grant or remove the response type",
        )),
        _ => Ok(()),
    }
}

/// A public client (`none`) cannot use the client credentials grant: without a secret there is
/// nothing to authenticate (RFC 6749 §4.4 requires confidential clients). That public clients
/// must use PKCE is enforced at the authorization endpoint.
pub fn validate_auth_method(
    method: TokenEndpointAuthMethod,
    grant_types: &[GrantType],
) -> Result<(), OAuthError> {
    if method == TokenEndpointAuthMethod::None
        && grant_types.contains(&GrantType::ClientCredentials)
    {
        return Err(invalid_metadata(
            "grant type client_credentials needs a confidential client; use client_secret_basic, client_secret_post, client_secret_jwt or private_key_jwt",
        ));
    }
    Ok(())
}

/// The consent page loads the logo in the user's browser: https, or plain http on a loopback
/// host for local development.
pub fn validate_logo_uri(uri: &str) -> Result<(), OAuthError> {
    if uri.is_empty() {
        return Ok(());
    }
    let ok = Url::parse(uri).is_ok_and(|u| {
        u.host().is_some()
            && (u.scheme() == "https" || (u.scheme() == "http" && is_loopback_host(&u, true)))
    });
    if ok {
        Ok(())
    } else {
        Err(invalid_metadata(
            "logo_uri must be an absolute https URL (plain http only on loopback)",
        ))
    }
}

/// `client_uri`, `policy_uri` and `tos_uri` are shown to users as links: absolute http(s) URLs
/// only, so a `javascript:` or `data:` link can never reach the consent page.
pub fn validate_link_uri(field: &str, uri: &str) -> Result<(), OAuthError> {
    if uri.is_empty() {
        return Ok(());
    }
    let ok =
        Url::parse(uri).is_ok_and(|u| u.host().is_some() && matches!(u.scheme(), "https" | "http"));
    if ok {
        Ok(())
    } else {
        Err(invalid_metadata(format!(
            "{field} must be an absolute http or https URL"
        )))
    }
}

/// The hasher for client secrets, bound to [`CLIENT_SECRET_PURPOSE`].
pub fn client_secret_hasher(system_secret: &[u8]) -> KeyedHasher {
    KeyedHasher::new(system_secret, CLIENT_SECRET_PURPOSE)
}

/// A fresh secret: 256 random bits, base64url (43 characters from the URL-safe alphabet, so it
/// reads the same whether or not a client library form-encodes it for `client_secret_basic`).
pub fn generate_client_secret() -> SecretString {
    SecretString::new(random_token(GENERATED_SECRET_BYTES))
}

/// What to store for a client whose only valid secret is `secret`.
pub fn secret_hashes(secret: &SecretString, hasher: &KeyedHasher) -> ClientSecretHashes {
    ClientSecretHashes {
        current: hasher.hash(secret.expose()),
        previous: None,
        previous_expires_at: None,
    }
}

/// Rotation without downtime: `new_secret` becomes current and the old current one stays valid
/// until `now + grace`. A secret replaced earlier is dropped at once, so at most two are ever
/// valid. A zero grace ends the old secret immediately (for a leaked secret).
pub fn rotate_secret(
    old: &ClientSecretHashes,
    new_secret: &SecretString,
    hasher: &KeyedHasher,
    now: OffsetDateTime,
    grace: Duration,
) -> ClientSecretHashes {
    let mut hashes = secret_hashes(new_secret, hasher);
    if grace.is_positive() {
        hashes.previous = Some(old.current.clone());
        hashes.previous_expires_at = Some(now.saturating_add(grace));
    }
    hashes
}

/// Whether `presented` is a secret `client` accepts at `now`: its current secret, or the one
/// replaced by the last rotation while that rotation's grace period lasts. Both are compared in
/// constant time, and both comparisons always run, so timing does not tell which one matched.
///
/// Decoding a form-encoded `client_secret_basic` secret (RFC 6749 §2.3.1) is the caller's job.
pub fn verify_client_secret(
    client: &Client,
    presented: &str,
    hasher: &KeyedHasher,
    now: OffsetDateTime,
) -> bool {
    let Some(hashes) = &client.secret else {
        return false;
    };
    let current = hasher.verify(presented, &hashes.current);
    let previous = match (&hashes.previous, hashes.previous_expires_at) {
        (Some(previous), Some(expires_at)) => {
            hasher.verify(presented, previous) & (now < expires_at)
        }
        _ => false,
    };
    current | previous
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn uris(list: &[&str]) -> Vec<RedirectUri> {
        parse_redirect_uris("redirect_uris", &strings(list), STRICT)
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn grants(list: &[&str]) -> Vec<GrantType> {
        parse_grant_types(&strings(list)).unwrap_or_else(|e| panic!("{e:?}"))
    }

    /// A partner's public CLI client, after defaults.
    fn neoncli() -> ClientMetadata {
        let mut m = ClientMetadata {
            client_name: "Neon CLI".to_owned(),
            redirect_uris: uris(&["http://127.0.0.1:5555/callback"]),
            grant_types: grants(&["authorization_code", "refresh_token"]),
            response_types: vec![ResponseType::Code],
            scope: parse_scope("openid offline offline_access urn:neoncloud:projects:read")
                .unwrap_or_default(),
            token_endpoint_auth_method: TokenEndpointAuthMethod::None,
            ..ClientMetadata::default()
        };
        apply_defaults(&mut m);
        m
    }

    fn code_of<T>(result: Result<T, OAuthError>) -> Option<ErrorCode> {
        result.err().map(|e| e.code)
    }

    const STRICT: RegistrationPolicy = RegistrationPolicy {
        allow_insecure_redirect_uris: false,
    };

    #[test]
    fn seed_client_is_valid() {
        assert_eq!(validate_metadata(&neoncli()), Ok(()));
    }

    #[test]
    fn defaults_follow_hydra() {
        let mut m = ClientMetadata {
            metadata: serde_json::Value::Null,
            ..ClientMetadata::default()
        };
        apply_defaults(&mut m);
        assert_eq!(m.grant_types, vec![GrantType::AuthorizationCode]);
        assert_eq!(m.response_types, vec![ResponseType::Code]);
        assert_eq!(m.scope.to_string(), "openid offline offline_access");
        assert_eq!(
            m.token_endpoint_auth_method,
            TokenEndpointAuthMethod::ClientSecretBasic
        );
        assert_eq!(m.metadata, serde_json::json!({}));
    }

    #[test]
    fn defaults_give_no_response_type_without_the_code_grant() {
        let mut m = ClientMetadata {
            grant_types: vec![GrantType::ClientCredentials],
            ..ClientMetadata::default()
        };
        apply_defaults(&mut m);
        assert!(m.response_types.is_empty());
        // Hydra's CLI writes response_types ["code"] on client_credentials clients too.
        m.response_types = vec![ResponseType::Code];
        apply_defaults(&mut m);
        assert!(m.response_types.is_empty());
    }

    #[test]
    fn an_explicit_response_type_list_is_kept_as_given() {
        let mut m = neoncli();
        m.response_types = vec![ResponseType::Code, ResponseType::Code];
        apply_defaults(&mut m);
        assert_eq!(m.response_types, [ResponseType::Code, ResponseType::Code]);
    }

    #[test]
    fn defaults_keep_what_the_operator_set() {
        let mut m = neoncli();
        m.metadata = serde_json::json!({"team": "cli"});
        let before = m.clone();
        apply_defaults(&mut m);
        assert_eq!(m, before);
    }

    #[test]
    fn redirect_uris_must_be_absolute_without_fragment() {
        for bad in ["/callback", "https://app.example.com/cb#frag"] {
            assert_eq!(
                code_of(parse_redirect_uris(
                    "redirect_uris",
                    &strings(&[bad]),
                    STRICT
                )),
                Some(ErrorCode::InvalidRedirectUri),
                "{bad}"
            );
        }
    }

    #[test]
    fn plain_http_only_on_loopback_unless_opted_in() {
        for ok in [
            "http://127.0.0.1:5555/callback",
            "http://[::1]/cb",
            "http://localhost:3000/cb",
        ] {
            let parsed = parse_redirect_uris("redirect_uris", &strings(&[ok]), STRICT);
            assert!(parsed.is_ok(), "{ok}: {parsed:?}");
        }
        let insecure = strings(&["http://app.example.com/cb"]);
        assert_eq!(
            code_of(parse_redirect_uris("redirect_uris", &insecure, STRICT)),
            Some(ErrorCode::InvalidRedirectUri)
        );
        let lax = RegistrationPolicy {
            allow_insecure_redirect_uris: true,
        };
        assert!(parse_redirect_uris("redirect_uris", &insecure, lax).is_ok());
    }

    #[test]
    fn private_use_schemes_are_allowed_and_script_schemes_refused() {
        let mut m = neoncli();
        m.redirect_uris = uris(&["com.neoncloud.app:/oauth2redirect"]);
        assert_eq!(validate_metadata(&m), Ok(()));
        for bad in ["javascript:alert(1)", "data:text/html,hi"] {
            assert_eq!(
                code_of(parse_redirect_uris(
                    "redirect_uris",
                    &strings(&[bad]),
                    STRICT
                )),
                Some(ErrorCode::InvalidRedirectUri),
                "{bad}"
            );
        }
    }

    #[test]
    fn redirect_error_names_the_field() {
        let err = parse_redirect_uris(
            "post_logout_redirect_uris",
            &strings(&["http://app.example.com/bye"]),
            STRICT,
        )
        .err();
        assert_eq!(
            err.as_ref().map(|e| e.code),
            Some(ErrorCode::InvalidRedirectUri)
        );
        assert!(err.is_some_and(|e| e.description.starts_with("post_logout_redirect_uris:")));
    }

    #[test]
    fn authorization_code_needs_a_redirect_uri() {
        let mut m = neoncli();
        m.redirect_uris.clear();
        assert_eq!(
            code_of(validate_metadata(&m)),
            Some(ErrorCode::InvalidRedirectUri)
        );
    }

    #[test]
    fn unsupported_grant_types_are_refused() {
        for bad in [
            "implicit",
            "password",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
        ] {
            let err = parse_grant_types(&strings(&["authorization_code", bad])).err();
            assert_eq!(
                err.as_ref().map(|e| e.code),
                Some(ErrorCode::InvalidClientMetadata),
                "{bad}"
            );
            assert_eq!(
                err.map(|e| e.description).as_deref(),
                Some(format!(
                    "grant type {bad:?} is not supported; use authorization_code, refresh_token, client_credentials or urn:ietf:params:oauth:grant-type:device_code"
                ).as_str())
            );
        }
    }

    #[test]
    fn refresh_token_needs_authorization_code() {
        assert_eq!(
            code_of(validate_grant_types(&grants(&["refresh_token"]))),
            Some(ErrorCode::InvalidClientMetadata)
        );
        assert_eq!(
            code_of(validate_grant_types(&grants(&[
                "client_credentials",
                "refresh_token"
            ]))),
            Some(ErrorCode::InvalidClientMetadata)
        );
        assert_eq!(
            validate_grant_types(&grants(&["authorization_code", "refresh_token"])),
            Ok(())
        );
        assert_eq!(
            validate_grant_types(&grants(&[
                "urn:ietf:params:oauth:grant-type:device_code",
                "refresh_token"
            ])),
            Ok(()),
            "the device grant is a user grant too"
        );
    }

    #[test]
    fn unsupported_response_types_are_refused() {
        for bad in ["token", "id_token", "code id_token"] {
            assert_eq!(
                code_of(parse_response_types(&strings(&["code", bad]))),
                Some(ErrorCode::InvalidClientMetadata),
                "{bad}"
            );
        }
        assert_eq!(
            parse_response_types(&strings(&["code"])),
            Ok(vec![ResponseType::Code])
        );
    }

    #[test]
    fn code_response_type_if_and_only_if_code_grant() {
        let code = [ResponseType::Code];
        let code_grant = [GrantType::AuthorizationCode];
        let machine = [GrantType::ClientCredentials];
        assert_eq!(
            code_of(validate_response_types(&[], &code_grant)),
            Some(ErrorCode::InvalidClientMetadata)
        );
        assert_eq!(
            code_of(validate_response_types(&code, &machine)),
            Some(ErrorCode::InvalidClientMetadata)
        );
        assert_eq!(validate_response_types(&[], &machine), Ok(()));
        assert_eq!(validate_response_types(&code, &code_grant), Ok(()));
    }

    #[test]
    fn public_clients_cannot_use_client_credentials() {
        let grants = [GrantType::ClientCredentials];
        assert_eq!(
            code_of(validate_auth_method(TokenEndpointAuthMethod::None, &grants)),
            Some(ErrorCode::InvalidClientMetadata)
        );
        assert_eq!(
            validate_auth_method(TokenEndpointAuthMethod::ClientSecretPost, &grants),
            Ok(())
        );
    }

    #[test]
    fn public_clients_cannot_have_a_secret() {
        let secret = SecretString::new("x".repeat(40));
        assert_eq!(
            code_of(validate_chosen_secret(
                &secret,
                TokenEndpointAuthMethod::None
            )),
            Some(ErrorCode::InvalidClientMetadata)
        );
        assert_eq!(
            validate_chosen_secret(&secret, TokenEndpointAuthMethod::ClientSecretBasic),
            Ok(())
        );
        assert_eq!(
            validate_chosen_secret(&secret, TokenEndpointAuthMethod::ClientSecretJwt),
            Ok(())
        );
        assert_eq!(
            code_of(validate_chosen_secret(
                &secret,
                TokenEndpointAuthMethod::PrivateKeyJwt
            )),
            Some(ErrorCode::InvalidClientMetadata)
        );
    }

    #[test]
    fn chosen_secrets_need_32_printable_ascii_characters() {
        let basic = TokenEndpointAuthMethod::ClientSecretBasic;
        let short = SecretString::new("x".repeat(MIN_CLIENT_SECRET_LEN - 1));
        assert_eq!(
            code_of(validate_chosen_secret(&short, basic)),
            Some(ErrorCode::InvalidClientMetadata)
        );
        let exact = SecretString::new("x".repeat(MIN_CLIENT_SECRET_LEN));
        assert_eq!(validate_chosen_secret(&exact, basic), Ok(()));
        let non_ascii = SecretString::new("é".repeat(MIN_CLIENT_SECRET_LEN));
        assert_eq!(
            code_of(validate_chosen_secret(&non_ascii, basic)),
            Some(ErrorCode::InvalidClientMetadata)
        );
    }

    #[test]
    fn secret_errors_never_echo_the_secret() {
        let secret = SecretString::new("short-secret-value");
        let err = validate_chosen_secret(&secret, TokenEndpointAuthMethod::ClientSecretBasic).err();
        assert!(err.is_some_and(|e| !e.description.contains("short-secret-value")));
    }

    #[test]
    fn scope_tokens_follow_rfc_6749() {
        assert!(parse_scope("openid urn:neoncloud:projects:read").is_ok());
        assert_eq!(
            parse_scope("openid bad\"scope").err().map(|e| e.code),
            Some(ErrorCode::InvalidClientMetadata)
        );
        assert_eq!(
            parse_scope("bad\\scope").err().map(|e| e.code),
            Some(ErrorCode::InvalidClientMetadata)
        );
    }

    #[test]
    fn auth_methods_and_strategies_parse_or_explain() {
        assert_eq!(
            parse_auth_method(""),
            Ok(TokenEndpointAuthMethod::ClientSecretBasic)
        );
        assert_eq!(parse_auth_method("none"), Ok(TokenEndpointAuthMethod::None));
        assert_eq!(
            parse_auth_method("private_key_jwt"),
            Ok(TokenEndpointAuthMethod::PrivateKeyJwt)
        );
        let err = parse_auth_method("tls_client_auth").err();
        assert_eq!(
            err.as_ref().map(|e| e.code),
            Some(ErrorCode::InvalidClientMetadata)
        );
        assert_eq!(
            err.map(|e| e.description).as_deref(),
            Some(
                "token_endpoint_auth_method \"tls_client_auth\" is not supported; use none, client_secret_basic, client_secret_post, private_key_jwt or client_secret_jwt"
            )
        );
        assert_eq!(
            parse_access_token_strategy(""),
            Ok(AccessTokenStrategy::Opaque)
        );
        assert_eq!(
            parse_access_token_strategy("jwt"),
            Ok(AccessTokenStrategy::Jwt)
        );
        let err = parse_access_token_strategy("macaroon").err();
        assert_eq!(
            err.map(|e| e.description).as_deref(),
            Some("access_token_strategy \"macaroon\" is not supported; use opaque or jwt")
        );
    }

    #[test]
    fn client_ids_are_visible_ascii_without_spaces() {
        assert_eq!(
            parse_client_id("neoncli").map(ClientId::into_string),
            Ok("neoncli".to_owned())
        );
        assert!(parse_client_id("3f1c9a2e-aaaa-bbbb-cccc-0123456789ab").is_ok());
        assert!(parse_client_id(&"x".repeat(ClientId::MAX_LEN)).is_ok());
        for bad in ["", "neon cli", "tab\t", "ünïcode"] {
            assert_eq!(
                code_of(parse_client_id(bad)),
                Some(ErrorCode::InvalidClientMetadata),
                "{bad:?}"
            );
        }
        assert!(parse_client_id(&"x".repeat(ClientId::MAX_LEN + 1)).is_err());
    }

    #[test]
    fn logo_uri_is_https_or_loopback_http() {
        assert_eq!(validate_logo_uri(""), Ok(()));
        assert_eq!(
            validate_logo_uri("https://cdn.example.com/logo.png"),
            Ok(())
        );
        assert_eq!(validate_logo_uri("http://127.0.0.1:8080/logo.png"), Ok(()));
        assert_eq!(validate_logo_uri("http://localhost/logo.png"), Ok(()));
        for bad in [
            "http://cdn.example.com/logo.png",
            "data:image/png;base64,AAAA",
            "logo.png",
            "javascript:x",
        ] {
            assert_eq!(
                code_of(validate_logo_uri(bad)),
                Some(ErrorCode::InvalidClientMetadata),
                "{bad}"
            );
        }
    }

    #[test]
    fn link_uris_are_absolute_http_urls() {
        assert_eq!(
            validate_link_uri("tos_uri", "https://neon.example/tos"),
            Ok(())
        );
        assert_eq!(
            validate_link_uri("tos_uri", "http://neon.example/tos"),
            Ok(())
        );
        for bad in [
            "javascript:alert(1)",
            "data:text/html,x",
            "/tos",
            "ftp://neon.example/tos",
        ] {
            assert_eq!(
                code_of(validate_link_uri("tos_uri", bad)),
                Some(ErrorCode::InvalidClientMetadata),
                "{bad}"
            );
        }
        let mut m = neoncli();
        m.policy_uri = "javascript:alert(1)".to_owned();
        let err = validate_metadata(&m).err();
        assert!(err.is_some_and(|e| e.description.starts_with("policy_uri")));
    }

    fn client_with(hashes: ClientSecretHashes) -> Client {
        Client {
            id: parse_client_id("c").unwrap_or_else(|e| panic!("{e:?}")),
            incarnation: "inc-1".into(),
            metadata: ClientMetadata::default(),
            secret: Some(hashes),
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn generated_secrets_are_256_bit_url_safe() {
        let s = generate_client_secret();
        assert_eq!(s.expose().len(), 43);
        assert!(
            s.expose()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(s, generate_client_secret());
    }

    #[test]
    fn stored_hash_is_not_the_secret_and_verifies() {
        let hasher = client_secret_hasher(b"system-secret");
        let secret = generate_client_secret();
        let hashes = secret_hashes(&secret, &hasher);
        assert_ne!(hashes.current, secret.expose());
        let client = client_with(hashes);
        let now = OffsetDateTime::UNIX_EPOCH;
        assert!(verify_client_secret(&client, secret.expose(), &hasher, now));
        assert!(!verify_client_secret(&client, "wrong", &hasher, now));
        let other = client_secret_hasher(b"another-system-secret");
        assert!(!verify_client_secret(&client, secret.expose(), &other, now));
    }

    #[test]
    fn rotated_secret_stays_valid_for_the_grace_period_only() {
        let hasher = client_secret_hasher(b"system-secret");
        let (old, new) = (generate_client_secret(), generate_client_secret());
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
        let client = client_with(rotate_secret(
            &secret_hashes(&old, &hasher),
            &new,
            &hasher,
            now,
            Duration::hours(1),
        ));
        assert!(verify_client_secret(&client, new.expose(), &hasher, now));
        assert!(verify_client_secret(
            &client,
            old.expose(),
            &hasher,
            now + Duration::minutes(59)
        ));
        assert!(!verify_client_secret(
            &client,
            old.expose(),
            &hasher,
            now + Duration::hours(1)
        ));
        assert!(verify_client_secret(
            &client,
            new.expose(),
            &hasher,
            now + Duration::days(30)
        ));
    }

    #[test]
    fn zero_grace_ends_the_old_secret_at_once_and_only_two_are_ever_valid() {
        let hasher = client_secret_hasher(b"system-secret");
        let (a, b, c) = (
            generate_client_secret(),
            generate_client_secret(),
            generate_client_secret(),
        );
        let now = OffsetDateTime::UNIX_EPOCH;
        let immediate = rotate_secret(
            &secret_hashes(&a, &hasher),
            &b,
            &hasher,
            now,
            Duration::ZERO,
        );
        assert!(!verify_client_secret(
            &client_with(immediate),
            a.expose(),
            &hasher,
            now
        ));
        let once = rotate_secret(
            &secret_hashes(&a, &hasher),
            &b,
            &hasher,
            now,
            Duration::hours(1),
        );
        let twice = client_with(rotate_secret(&once, &c, &hasher, now, Duration::hours(1)));
        assert!(!verify_client_secret(&twice, a.expose(), &hasher, now));
        assert!(verify_client_secret(&twice, b.expose(), &hasher, now));
        assert!(verify_client_secret(&twice, c.expose(), &hasher, now));
    }

    #[test]
    fn public_clients_verify_nothing() {
        let hasher = client_secret_hasher(b"system-secret");
        let mut client = client_with(secret_hashes(&generate_client_secret(), &hasher));
        client.secret = None;
        assert!(!verify_client_secret(
            &client,
            "",
            &hasher,
            OffsetDateTime::UNIX_EPOCH
        ));
    }

    #[test]
    fn a_secret_rotated_to_itself_stays_valid() {
        let hasher = client_secret_hasher(b"system-secret");
        let secret = generate_client_secret();
        let now = OffsetDateTime::UNIX_EPOCH;
        let same = client_with(rotate_secret(
            &secret_hashes(&secret, &hasher),
            &secret,
            &hasher,
            now,
            Duration::hours(1),
        ));
        assert!(verify_client_secret(&same, secret.expose(), &hasher, now));
    }

    #[test]
    fn cors_origins_are_bare_origins_normalised_and_https_off_loopback() {
        let list = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            parse_cors_origins(
                &list(&[
                    "https://App.example.com/",
                    "https://app.example.com",
                    "http://127.0.0.1:5173",
                    "https://spa.example.com:8443"
                ]),
                STRICT
            ),
            Ok(list(&[
                "https://app.example.com",
                "http://127.0.0.1:5173",
                "https://spa.example.com:8443"
            ]))
        );
        for bad in [
            "https://app.example.com/path",
            "https://app.example.com?x=1",
            "https://app.example.com#f",
            "https://user@app.example.com",
            "app.example.com",
            "*",
            "null",
            "ftp://app.example.com",
            "http://app.example.com",
        ] {
            let err = parse_cors_origins(&list(&[bad]), STRICT).map_err(|e| e.code);
            assert_eq!(err, Err(ErrorCode::InvalidClientMetadata), "{bad}");
        }
        let lax = RegistrationPolicy {
            allow_insecure_redirect_uris: true,
        };
        assert_eq!(
            parse_cors_origins(&list(&["http://app.test"]), lax),
            Ok(list(&["http://app.test"]))
        );
    }

    #[test]
    fn id_token_claims_default_to_minimal_and_refuse_unknown_values() {
        assert_eq!(parse_id_token_claims(""), Ok(IdTokenClaims::Minimal));
        assert_eq!(parse_id_token_claims("scopes"), Ok(IdTokenClaims::Scopes));
        match parse_id_token_claims("all") {
            Err(err) => {
                assert_eq!(err.code, ErrorCode::InvalidClientMetadata);
                assert!(err.description.contains("minimal or scopes"), "{err:?}");
            }
            Ok(claims) => panic!("accepted {claims:?}"),
        }
    }

    #[test]
    fn jwks_uri_must_be_an_http_url() {
        let mut m = neoncli();
        m.jwks_uri = "javascript:alert(1)".into();
        assert_eq!(
            validate_metadata(&m).map_err(|e| e.code),
            Err(ErrorCode::InvalidClientMetadata)
        );
        m.jwks_uri = "https://partner.example.com/jwks.json".into();
        assert_eq!(validate_metadata(&m), Ok(()));
    }

    #[test]
    fn allowed_resources_are_checked_with_the_other_fields() {
        let mut m = neoncli();
        m.allowed_resources = vec!["projects-api".into()];
        assert_eq!(
            validate_metadata(&m).map_err(|e| e.code),
            Err(ErrorCode::InvalidClientMetadata)
        );
        m.allowed_resources = vec!["https://api.neon.tech/projects".into()];
        assert_eq!(validate_metadata(&m), Ok(()));
    }

    fn keyed(method: TokenEndpointAuthMethod) -> ClientMetadata {
        ClientMetadata {
            token_endpoint_auth_method: method,
            grant_types: vec![GrantType::ClientCredentials],
            response_types: vec![],
            ..neoncli()
        }
    }

    fn public_jwks() -> serde_json::Value {
        serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "x", "y": "y"}]})
    }

    #[test]
    fn private_key_jwt_needs_keys_from_jwks_or_jwks_uri_but_not_both() {
        let mut m = keyed(TokenEndpointAuthMethod::PrivateKeyJwt);
        let e = code_of(validate_metadata(&m));
        assert_eq!(e, Some(ErrorCode::InvalidClientMetadata));
        m.jwks = Some(public_jwks());
        assert_eq!(validate_metadata(&m), Ok(()));
        m.jwks_uri = "https://partner.example.com/jwks.json".into();
        assert_eq!(
            code_of(validate_metadata(&m)),
            Some(ErrorCode::InvalidClientMetadata)
        );
        m.jwks = None;
        assert_eq!(validate_metadata(&m), Ok(()));
        // A client of another method may publish keys too (for request objects).
        let mut secret = keyed(TokenEndpointAuthMethod::ClientSecretJwt);
        assert_eq!(validate_metadata(&secret), Ok(()));
        secret.jwks = Some(public_jwks());
        assert_eq!(validate_metadata(&secret), Ok(()));
    }

    #[test]
    fn registered_jwks_must_be_public_keys() {
        let mut m = keyed(TokenEndpointAuthMethod::PrivateKeyJwt);
        m.jwks = Some(serde_json::json!({"keys": [{"kty": "EC", "x": "x", "y": "y", "d": "d"}]}));
        assert_eq!(
            code_of(validate_metadata(&m)),
            Some(ErrorCode::InvalidClientMetadata)
        );
    }

    #[test]
    fn the_registered_signing_alg_must_fit_the_method() {
        let mut m = keyed(TokenEndpointAuthMethod::PrivateKeyJwt);
        m.jwks = Some(public_jwks());
        m.token_endpoint_auth_signing_alg = "ES256".into();
        assert_eq!(validate_metadata(&m), Ok(()));
        m.token_endpoint_auth_signing_alg = "HS256".into();
        assert_eq!(
            code_of(validate_metadata(&m)),
            Some(ErrorCode::InvalidClientMetadata)
        );
    }
}
