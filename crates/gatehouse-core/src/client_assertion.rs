//! Client authentication with a signed JWT (RFC 7523 §2.2 and §3, OpenID Connect Core §9):
//! `private_key_jwt` (signed with one of the client's keys) and `client_secret_jwt` (MACed with
//! the client's secret).
//!
//! The rules live here as pure functions: which algorithms a method allows, how to read an
//! assertion's header and subject before its signature is checked, and which claims a verified
//! assertion must carry. The signature itself, the client's keys and the `jti` replay store are
//! the token service's.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::client::TokenEndpointAuthMethod;
use crate::error::{ErrorCode, OAuthError};

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest an assertion may live (`exp` after now), in seconds. An assertion is made for one
/// request; bounding its life bounds how long its `jti` must be remembered.
pub const MAX_LIFETIME_SECS: i64 = 300;

/// Clock skew forgiven on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: i64 = 30;

/// Signature algorithms accepted for `private_key_jwt` (never `none`, never a MAC).
pub const ASYMMETRIC_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// MAC algorithms accepted for `client_secret_jwt` only.
pub const HMAC_ALGS: &[&str] = &["HS256", "HS384", "HS512"];

/// The longest `jti` accepted, in bytes.
pub const MAX_JTI_LEN: usize = 256;

/// The algorithms `method` allows (none for the methods that send no assertion).
pub fn algs_for(method: TokenEndpointAuthMethod) -> &'static [&'static str] {
    match method {
        TokenEndpointAuthMethod::PrivateKeyJwt => ASYMMETRIC_ALGS,
        TokenEndpointAuthMethod::ClientSecretJwt => HMAC_ALGS,
        _ => &[],
    }
}

/// Every algorithm accepted for some method, for discovery's
/// `token_endpoint_auth_signing_alg_values_supported`.
pub fn supported_algs() -> Vec<&'static str> {
    ASYMMETRIC_ALGS.iter().chain(HMAC_ALGS).copied().collect()
}

/// The method an assertion signed with `alg` stands for: a MAC is `client_secret_jwt`, anything
/// else `private_key_jwt` (an unsupported `alg` is refused later, by [`check_alg`]).
pub fn method_of_alg(alg: &str) -> TokenEndpointAuthMethod {
    if alg.starts_with("HS") {
        TokenEndpointAuthMethod::ClientSecretJwt
    } else {
        TokenEndpointAuthMethod::PrivateKeyJwt
    }
}

fn invalid_client(description: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, description)
}

/// Whether an assertion signed with `alg` may authenticate a client registered with `method` and
/// `registered_alg` (its `token_endpoint_auth_signing_alg`, empty for any).
pub fn check_alg(
    method: TokenEndpointAuthMethod,
    registered_alg: &str,
    alg: &str,
) -> Result<(), OAuthError> {
    if !algs_for(method).contains(&alg) {
        return Err(invalid_client(format!(
            "{} assertions must be signed with one of {}",
            method.as_str(),
            algs_for(method).join(", ")
        )));
    }
    if !registered_alg.is_empty() && registered_alg != alg {
        return Err(invalid_client(format!(
            "this client's assertions must be signed with {registered_alg}"
        )));
    }
    Ok(())
}

/// Registration rule for `token_endpoint_auth_signing_alg`: empty, or an algorithm the method
/// allows (and only for the JWT methods).
pub fn validate_signing_alg(method: TokenEndpointAuthMethod, alg: &str) -> Result<(), OAuthError> {
    if alg.is_empty() {
        return Ok(());
    }
    if !method.uses_assertion() {
        return Err(OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            "token_endpoint_auth_signing_alg applies only to private_key_jwt and client_secret_jwt",
        ));
    }
    if algs_for(method).contains(&alg) {
        Ok(())
    } else {
        Err(OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            format!(
                "token_endpoint_auth_signing_alg for {} must be one of {}",
                method.as_str(),
                algs_for(method).join(", ")
            ),
        ))
    }
}

/// What can be read from a compact JWS before its signature is checked: enough to find the
/// client and its key, and nothing to trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedJwt {
    pub alg: String,
    pub kid: Option<String>,
    /// The payload's `sub`, which names the client of a client assertion.
    pub subject: Option<String>,
    /// The payload's `iss`.
    pub issuer: Option<String>,
}

fn decode_json_part(part: &str) -> Option<serde_json::Map<String, Value>> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Reads the header and the naming claims of a compact JWS (three base64url parts); `None` when
/// it is not one, or its header has no `alg`.
pub fn peek(jwt: &str) -> Option<UnverifiedJwt> {
    let mut parts = jwt.split('.');
    let (header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header = decode_json_part(header)?;
    let payload = decode_json_part(payload)?;
    let text = |map: &serde_json::Map<String, Value>, name: &str| {
        map.get(name).and_then(Value::as_str).map(str::to_owned)
    };
    Some(UnverifiedJwt {
        alg: text(&header, "alg")?,
        kid: text(&header, "kid"),
        subject: text(&payload, "sub"),
        issuer: text(&payload, "iss"),
    })
}

/// A verified assertion's claims that the replay check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedAssertion {
    pub jti: String,
    /// `exp`, in seconds since the Unix epoch.
    pub expires_at: i64,
}

impl AcceptedAssertion {
    /// How long the `jti` must be remembered after `now` (seconds): until the assertion can no
    /// longer be accepted, at least one second.
    pub fn replay_window(&self, now: i64) -> u64 {
        u64::try_from(self.expires_at + LEEWAY_SECS - now)
            .unwrap_or(0)
            .max(1)
    }
}

/// A numeric date claim (RFC 7519 §2), `None` when absent; a non-number is an error.
fn numeric_date(claims: &Value, name: &str) -> Result<Option<i64>, OAuthError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| invalid_client(format!("the assertion's {name} is not a number"))),
    }
}

/// RFC 7523 §3 on an assertion whose signature was verified: `iss` and `sub` are the client,
/// `aud` names this server (one of `audiences`: the issuer or the endpoint's URL), `exp` is in
/// the future but no more than [`MAX_LIFETIME_SECS`] away, `nbf` and `iat` are not in the future,
/// and a `jti` is present (its replay is checked by the caller). `now` is in seconds since the
/// Unix epoch.
pub fn check_claims(
    claims: &Value,
    client_id: &str,
    audiences: &[String],
    now: i64,
) -> Result<AcceptedAssertion, OAuthError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(client_id) || text("sub") != Some(client_id) {
        return Err(invalid_client(
            "the assertion's iss and sub must both be the client_id",
        ));
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => audiences.contains(aud),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|aud| audiences.iter().any(|a| a == aud)),
        _ => false,
    };
    if !audience_ok {
        return Err(invalid_client(
            "the assertion's aud must be this server's issuer or the endpoint's URL",
        ));
    }
    let Some(exp) = numeric_date(claims, "exp")? else {
        return Err(invalid_client("the assertion has no exp"));
    };
    if exp + LEEWAY_SECS <= now {
        return Err(invalid_client("the assertion has expired"));
    }
    if exp > now + MAX_LIFETIME_SECS + LEEWAY_SECS {
        return Err(invalid_client(format!(
            "the assertion lives too long; exp may be at most {MAX_LIFETIME_SECS} seconds ahead"
        )));
    }
    if numeric_date(claims, "nbf")?.is_some_and(|nbf| nbf > now + LEEWAY_SECS) {
        return Err(invalid_client("the assertion is not valid yet (nbf)"));
    }
    if numeric_date(claims, "iat")?.is_some_and(|iat| iat > now + LEEWAY_SECS) {
        return Err(invalid_client(
            "the assertion was issued in the future (iat)",
        ));
    }
    let jti = match text("jti") {
        Some(jti) if !jti.is_empty() && jti.len() <= MAX_JTI_LEN => jti.to_owned(),
        Some(_) => {
            return Err(invalid_client(format!(
                "the assertion's jti must be 1 to {MAX_JTI_LEN} bytes"
            )));
        }
        None => return Err(invalid_client("the assertion has no jti")),
    };
    Ok(AcceptedAssertion {
        jti,
        expires_at: exp,
    })
}

/// The short-lived-store key under which a client's `jti` is remembered: a hash, so any `jti`
/// makes a short key, and one client's `jti` never collides with another's.
pub fn replay_key(client_id: &str, jti: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(client_id.as_bytes());
    hasher.update([0]);
    hasher.update(jti.as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Members of a JWK that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4).
const PRIVATE_JWK_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Registration rule for `jwks`: a JWK Set (`{"keys": [...]}`) of at least one public key
/// (`kty` RSA, EC or OKP); a private or symmetric key is refused, so a client's secret key
/// material is never stored here by mistake.
pub fn validate_jwks(jwks: &Value) -> Result<(), OAuthError> {
    let invalid = |d: &'static str| OAuthError::new(ErrorCode::InvalidClientMetadata, d);
    let Some(keys) = jwks.get("keys").and_then(Value::as_array) else {
        return Err(invalid("jwks must be a JWK Set: {\"keys\": [...]}"));
    };
    if keys.is_empty() {
        return Err(invalid("jwks must hold at least one key"));
    }
    for key in keys {
        let Some(key) = key.as_object() else {
            return Err(invalid("every key in jwks must be a JSON object"));
        };
        if !matches!(
            key.get("kty").and_then(Value::as_str),
            Some("RSA" | "EC" | "OKP")
        ) {
            return Err(invalid("every key in jwks must have kty RSA, EC or OKP"));
        }
        if PRIVATE_JWK_MEMBERS.iter().any(|m| key.contains_key(*m)) {
            return Err(invalid(
                "jwks must hold public keys only; remove the private key members (d, p, q, …)",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::*;
    use TokenEndpointAuthMethod as M;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn audiences() -> Vec<String> {
        vec![
            "https://id.example.com".to_owned(),
            "https://id.example.com/oauth2/token".to_owned(),
        ]
    }

    fn claims() -> Value {
        json!({
            "iss": "billing", "sub": "billing", "aud": "https://id.example.com",
            "exp": NOW + 60, "iat": NOW, "nbf": NOW, "jti": "j-1",
        })
    }

    fn with(name: &str, value: Value) -> Value {
        let mut c = claims();
        c[name] = value;
        c
    }

    fn without(name: &str) -> Value {
        let mut c = claims();
        if let Some(map) = c.as_object_mut() {
            map.remove(name);
        }
        c
    }

    fn check(c: &Value) -> Result<AcceptedAssertion, OAuthError> {
        check_claims(c, "billing", &audiences(), NOW)
    }

    fn refused(c: &Value) -> String {
        match check(c) {
            Ok(a) => panic!("accepted {a:?}"),
            Err(e) => {
                assert_eq!(e.code, ErrorCode::InvalidClient);
                e.description.to_string()
            }
        }
    }

    #[test]
    fn a_good_assertion_is_accepted_with_its_jti_and_exp() {
        assert_eq!(
            check(&claims()),
            Ok(AcceptedAssertion {
                jti: "j-1".into(),
                expires_at: NOW + 60
            })
        );
    }

    #[test]
    fn iss_and_sub_must_both_be_the_client() {
        assert!(refused(&with("iss", json!("other"))).contains("iss and sub"));
        refused(&with("sub", json!("other")));
        refused(&without("iss"));
        refused(&without("sub"));
        assert!(check_claims(&claims(), "other", &audiences(), NOW).is_err());
    }

    #[test]
    fn aud_is_the_issuer_or_the_endpoint_alone_or_in_a_list() {
        assert!(check(&with("aud", json!("https://id.example.com/oauth2/token"))).is_ok());
        assert!(
            check(&with(
                "aud",
                json!(["https://x.example", "https://id.example.com"])
            ))
            .is_ok()
        );
        assert!(refused(&with("aud", json!("https://evil.example"))).contains("aud"));
        refused(&with("aud", json!(["https://evil.example"])));
        refused(&with("aud", json!([])));
        refused(&with("aud", json!(7)));
        refused(&without("aud"));
    }

    #[test]
    fn exp_is_required_in_the_future_and_bounded() {
        assert!(refused(&without("exp")).contains("no exp"));
        refused(&with("exp", json!("soon")));
        // Expired beyond the leeway.
        assert!(refused(&with("exp", json!(NOW - LEEWAY_SECS))).contains("expired"));
        // Within the leeway: still accepted.
        assert!(check(&with("exp", json!(NOW - LEEWAY_SECS + 1))).is_ok());
        // At most five minutes (plus leeway) ahead.
        let far = NOW + MAX_LIFETIME_SECS + LEEWAY_SECS;
        assert!(check(&with("exp", json!(far))).is_ok());
        assert!(refused(&with("exp", json!(far + 1))).contains("too long"));
        // A fractional numeric date is read.
        assert_eq!(
            check(&with("exp", json!((NOW + 10) as f64 + 0.5))).map(|a| a.expires_at),
            Ok(NOW + 10)
        );
    }

    #[test]
    fn nbf_and_iat_may_not_be_in_the_future() {
        assert!(check(&with("nbf", json!(NOW + LEEWAY_SECS))).is_ok());
        assert!(refused(&with("nbf", json!(NOW + LEEWAY_SECS + 1))).contains("nbf"));
        assert!(check(&with("iat", json!(NOW + LEEWAY_SECS))).is_ok());
        assert!(refused(&with("iat", json!(NOW + LEEWAY_SECS + 1))).contains("iat"));
        refused(&with("iat", json!("now")));
        assert!(check(&without("nbf")).is_ok());
        assert!(check(&without("iat")).is_ok());
        assert!(check(&with("nbf", Value::Null)).is_ok());
    }

    #[test]
    fn jti_is_required_and_bounded() {
        assert!(refused(&without("jti")).contains("no jti"));
        assert!(refused(&with("jti", json!(""))).contains("jti"));
        assert!(check(&with("jti", json!("x".repeat(MAX_JTI_LEN)))).is_ok());
        refused(&with("jti", json!("x".repeat(MAX_JTI_LEN + 1))));
    }

    #[test]
    fn the_replay_window_lasts_until_the_assertion_is_dead() {
        let a = AcceptedAssertion {
            jti: "j".into(),
            expires_at: NOW + 60,
        };
        assert_eq!(a.replay_window(NOW), (60 + LEEWAY_SECS) as u64);
        assert_eq!(a.replay_window(NOW + 60 + LEEWAY_SECS), 1);
        assert_eq!(a.replay_window(NOW + 1000), 1);
    }

    #[test]
    fn replay_keys_are_per_client_and_fixed_length() {
        let k = replay_key("billing", "j-1");
        assert_eq!(k.len(), 64);
        assert_eq!(k, replay_key("billing", "j-1"));
        assert_ne!(k, replay_key("other", "j-1"));
        assert_ne!(k, replay_key("billing", "j-2"));
        assert_ne!(replay_key("a", "bc"), replay_key("ab", "c"));
        assert!(k.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn each_method_has_its_algorithms_and_none_is_never_one() {
        assert_eq!(algs_for(M::PrivateKeyJwt), ASYMMETRIC_ALGS);
        assert_eq!(algs_for(M::ClientSecretJwt), HMAC_ALGS);
        assert!(algs_for(M::ClientSecretBasic).is_empty());
        assert!(algs_for(M::None).is_empty());
        assert!(!supported_algs().contains(&"none"));
        assert_eq!(
            supported_algs().len(),
            ASYMMETRIC_ALGS.len() + HMAC_ALGS.len()
        );
        assert_eq!(method_of_alg("HS256"), M::ClientSecretJwt);
        assert_eq!(method_of_alg("ES256"), M::PrivateKeyJwt);
        assert_eq!(method_of_alg("none"), M::PrivateKeyJwt);
    }

    #[test]
    fn check_alg_refuses_confusion_none_and_a_mismatch_with_the_registered_alg() {
        assert_eq!(check_alg(M::PrivateKeyJwt, "", "ES256"), Ok(()));
        assert_eq!(check_alg(M::ClientSecretJwt, "", "HS256"), Ok(()));
        assert!(check_alg(M::PrivateKeyJwt, "", "HS256").is_err());
        assert!(check_alg(M::ClientSecretJwt, "", "RS256").is_err());
        assert!(check_alg(M::PrivateKeyJwt, "", "none").is_err());
        assert_eq!(check_alg(M::PrivateKeyJwt, "PS256", "PS256"), Ok(()));
        let e = check_alg(M::PrivateKeyJwt, "PS256", "RS256").err();
        assert_eq!(e.map(|e| e.code), Some(ErrorCode::InvalidClient));
        assert!(check_alg(M::ClientSecretBasic, "", "HS256").is_err());
    }

    #[test]
    fn the_registered_alg_must_fit_the_method() {
        assert_eq!(validate_signing_alg(M::ClientSecretBasic, ""), Ok(()));
        assert_eq!(validate_signing_alg(M::PrivateKeyJwt, "ES256"), Ok(()));
        assert_eq!(validate_signing_alg(M::ClientSecretJwt, "HS512"), Ok(()));
        for (method, alg) in [
            (M::PrivateKeyJwt, "HS256"),
            (M::ClientSecretJwt, "ES256"),
            (M::PrivateKeyJwt, "none"),
            (M::ClientSecretBasic, "RS256"),
        ] {
            let e = validate_signing_alg(method, alg).err();
            assert_eq!(
                e.map(|e| e.code),
                Some(ErrorCode::InvalidClientMetadata),
                "{method} {alg}"
            );
        }
    }

    fn b64(v: &Value) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn peek_reads_alg_kid_sub_and_iss_without_trusting_them() {
        let jwt = format!(
            "{}.{}.sig",
            b64(&json!({"alg": "ES256", "kid": "k1"})),
            b64(&json!({"sub": "billing", "iss": "billing-iss"}))
        );
        assert_eq!(
            peek(&jwt),
            Some(UnverifiedJwt {
                alg: "ES256".into(),
                kid: Some("k1".into()),
                subject: Some("billing".into()),
                issuer: Some("billing-iss".into()),
            })
        );
        let bare = format!("{}.{}.", b64(&json!({"alg": "HS256"})), b64(&json!({})));
        assert_eq!(
            peek(&bare),
            Some(UnverifiedJwt {
                alg: "HS256".into(),
                kid: None,
                subject: None,
                issuer: None
            })
        );
        assert_eq!(peek("a.b"), None);
        assert_eq!(peek(&format!("{jwt}.extra")), None);
        assert_eq!(
            peek(&format!("{}.{}.s", b64(&json!({})), b64(&json!({})))),
            None
        );
        assert_eq!(
            peek(&format!(
                "{}.{}.s",
                b64(&json!({"alg": "ES256"})),
                b64(&json!([1]))
            )),
            None
        );
        assert_eq!(peek("!!.!!.!!"), None);
    }

    #[test]
    fn jwks_holds_public_keys_only() {
        let rsa = json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"});
        assert_eq!(validate_jwks(&json!({"keys": [rsa]})), Ok(()));
        assert_eq!(
            validate_jwks(
                &json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "x"}, {"kty": "EC"}]})
            ),
            Ok(())
        );
        for bad in [
            json!({}),
            json!({"keys": "x"}),
            json!({"keys": []}),
            json!({"keys": [1]}),
            json!({"keys": [{"n": "AQAB"}]}),
            json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
            json!({"keys": [{"kty": "EC", "x": "x", "y": "y", "d": "private"}]}),
            json!({"keys": [{"kty": "RSA", "n": "n", "e": "e", "p": "p"}]}),
            json!({"keys": [rsa, {"kty": "OKP", "x": "x", "d": "d"}]}),
        ] {
            let e = validate_jwks(&bad).err();
            assert_eq!(
                e.map(|e| e.code),
                Some(ErrorCode::InvalidClientMetadata),
                "{bad}"
            );
        }
    }
}
