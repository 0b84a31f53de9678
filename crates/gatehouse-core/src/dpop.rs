//! DPoP (RFC 9449): the rules of a proof that need no cryptography.
//!
//! The token service verifies a proof's signature with the key of its own `jwk` header (in
//! `gatehouse-jose`); everything else a proof must satisfy is decided here, without I/O or a
//! clock: the header (§4.2: `typ`, an asymmetric `alg` from [`SUPPORTED_ALGS`], a public `jwk`),
//! the key's RFC 7638 thumbprint (the `jkt` tokens are bound to), the claims against the request
//! (§4.3: `htm`, `htu`, `iat`, `ath`), and server-issued nonces (§8) that need no storage.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::error::{ErrorCode, OAuthError};
use crate::secret::{KeyedHasher, constant_time_eq};

/// The proof algorithms accepted, as advertised in `dpop_signing_alg_values_supported`: only
/// asymmetric ones (§4.2: never `none` nor a MAC).
pub const SUPPORTED_ALGS: [&str; 5] = ["ES256", "ES384", "PS256", "RS256", "EdDSA"];

/// A proof is accepted until this many seconds after its `iat` (§11.1).
pub const MAX_AGE_SECS: i64 = 60;
/// ... and from this many seconds before it, for clocks running ahead.
pub const MAX_CLOCK_AHEAD_SECS: i64 = 10;
/// How long a proof's `jti` is remembered: as long as any proof with that `iat` is accepted.
pub const JTI_RETENTION_SECS: u64 = (MAX_AGE_SECS + MAX_CLOCK_AHEAD_SECS) as u64;
/// A server nonce is valid in the window it was issued in and the next one.
pub const NONCE_WINDOW_SECS: i64 = 300;
/// The longest proof accepted, in bytes (an RSA-4096 key and the claims fit well within).
pub const MAX_PROOF_BYTES: usize = 8 * 1024;

/// A proof refused as `invalid_dpop_proof`, with why.
pub fn invalid_proof(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidDpopProof, description)
}

/// The parts of a proof's JOSE header that matter once it is parsed (§4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofHeader {
    pub alg: String,
    /// The public key, as sent (only public members are allowed in it).
    pub jwk: Map<String, Value>,
    /// Its RFC 7638 SHA-256 thumbprint, base64url: the `jkt` a token is bound to.
    pub jkt: String,
}

/// Parses and checks the decoded JOSE header of a proof: `typ` is `dpop+jwt`, `alg` is a
/// supported asymmetric algorithm, `jwk` is a public key (no private member).
pub fn parse_header(header_json: &[u8]) -> Result<ProofHeader, OAuthError> {
    let header: Map<String, Value> = serde_json::from_slice(header_json)
        .map_err(|_| invalid_proof("the DPoP proof header is not a JSON object"))?;
    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(invalid_proof("the DPoP proof typ must be dpop+jwt"));
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .filter(|alg| SUPPORTED_ALGS.contains(alg))
        .ok_or_else(|| invalid_proof("the DPoP proof alg is not supported"))?;
    let jwk = match header.get("jwk") {
        Some(Value::Object(jwk)) => jwk.clone(),
        _ => return Err(invalid_proof("the DPoP proof header carries no jwk")),
    };
    let jkt = jwk_thumbprint(&jwk)?;
    Ok(ProofHeader {
        alg: alg.to_owned(),
        jwk,
        jkt,
    })
}

/// Members that only a private (or symmetric) key has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// RFC 7638 §3: the SHA-256 thumbprint of a public JWK, base64url without padding. Only `EC`,
/// `RSA` and `OKP` keys qualify; a key with a private member is refused.
pub fn jwk_thumbprint(jwk: &Map<String, Value>) -> Result<String, OAuthError> {
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(invalid_proof("the DPoP proof jwk must be a public key"));
    }
    let member = |name: &str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid_proof("the DPoP proof jwk lacks a required member"))
    };
    // The required members in lexicographic order (§3.2), serialised without whitespace.
    let required: &[&str] = match jwk.get("kty").and_then(Value::as_str) {
        Some("EC") => &["crv", "kty", "x", "y"],
        Some("RSA") => &["e", "kty", "n"],
        Some("OKP") => &["crv", "kty", "x"],
        _ => {
            return Err(invalid_proof(
                "the DPoP proof jwk must be an EC, RSA or OKP key",
            ));
        }
    };
    let mut canonical = Map::new();
    for name in required {
        canonical.insert((*name).to_owned(), Value::String(member(name)?.to_owned()));
    }
    // serde_json's map keeps its keys sorted, and strings are escaped as RFC 7638 §3.3 asks.
    let text = Value::Object(canonical).to_string();
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes())))
}

/// The claims of a proof (§4.2).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProofClaims {
    pub jti: String,
    pub htm: String,
    pub htu: String,
    pub iat: i64,
    #[serde(default)]
    pub ath: Option<String>,
    #[serde(default)]
    pub nonce: Option<String>,
}

/// What the request a proof comes with looks like.
#[derive(Debug, Clone, Copy)]
pub struct ProofTarget<'a> {
    /// The HTTP method, upper case.
    pub method: &'a str,
    /// The endpoint's public URL (from the issuer), without query or fragment.
    pub url: &'a str,
    /// The access token presented with the proof, at a protected resource (§7.1).
    pub access_token: Option<&'a str>,
    /// Now, Unix seconds.
    pub now: i64,
}

/// §4.3 steps 8 to 11 (the nonce is [`NonceKeys::accepts`]'s): the method, the URL, the time
/// window, the `jti` present, and at a resource the `ath` of the presented token.
pub fn check_claims(claims: &ProofClaims, target: &ProofTarget<'_>) -> Result<(), OAuthError> {
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(invalid_proof(
            "the DPoP proof jti must be 1 to 256 characters",
        ));
    }
    if claims.htm != target.method {
        return Err(invalid_proof(
            "the DPoP proof htm does not match the request method",
        ));
    }
    if !htu_matches(&claims.htu, target.url) {
        return Err(invalid_proof(
            "the DPoP proof htu does not match this endpoint",
        ));
    }
    if claims.iat < target.now.saturating_sub(MAX_AGE_SECS) {
        return Err(invalid_proof("the DPoP proof is too old (iat)"));
    }
    if claims.iat > target.now.saturating_add(MAX_CLOCK_AHEAD_SECS) {
        return Err(invalid_proof("the DPoP proof iat is in the future"));
    }
    if let Some(token) = target.access_token {
        let expected = access_token_hash(token);
        let matches = claims
            .ath
            .as_deref()
            .is_some_and(|ath| constant_time_eq(ath.as_bytes(), expected.as_bytes()));
        if !matches {
            return Err(invalid_proof(
                "the DPoP proof ath does not match the access token",
            ));
        }
    }
    Ok(())
}

/// §4.3 step 9: `htu` matches the endpoint's URL ignoring query and fragment, after the
/// syntax- and scheme-based normalisation of RFC 3986 §6.2.2-6.2.3 (case of scheme and host,
/// default port, dot segments, percent-encoding case), which `url::Url` applies when parsing.
pub fn htu_matches(htu: &str, endpoint: &str) -> bool {
    let normalised = |raw: &str| {
        let mut url = url::Url::parse(raw).ok()?;
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        url.set_query(None);
        url.set_fragment(None);
        Some(url)
    };
    match (normalised(htu), normalised(endpoint)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// §4.2 `ath`: base64url of the SHA-256 of the access token's ASCII.
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// Server-issued DPoP nonces (§8) without storage: the keyed hash of the current time window,
/// so every replica sharing the system secret issues and accepts the same values. A nonce is
/// accepted in its window and the next one (between 5 and 10 minutes).
#[derive(Debug, Clone)]
pub struct NonceKeys {
    keys: KeyedHasher,
}

impl NonceKeys {
    pub const PURPOSE: &'static str = "dpop-nonce";

    pub fn new(system_secret: &[u8]) -> Self {
        Self {
            keys: KeyedHasher::new(system_secret, Self::PURPOSE),
        }
    }

    fn for_window(&self, window: i64) -> String {
        self.keys.hash(&window.to_string())
    }

    /// The nonce to hand out at `now` (Unix seconds).
    pub fn issue(&self, now: i64) -> String {
        self.for_window(now.div_euclid(NONCE_WINDOW_SECS))
    }

    /// Whether `nonce` was issued in the window of `now` or the one before.
    pub fn accepts(&self, nonce: &str, now: i64) -> bool {
        let window = now.div_euclid(NONCE_WINDOW_SECS);
        [window, window.saturating_sub(1)]
            .into_iter()
            .any(|w| constant_time_eq(self.for_window(w).as_bytes(), nonce.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    fn code(result: Result<impl std::fmt::Debug, OAuthError>) -> Option<ErrorCode> {
        result.err().map(|e| e.code)
    }

    /// RFC 7638 §3.1's example key and thumbprint.
    fn rfc7638_key() -> Map<String, Value> {
        object(json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29",
        }))
    }

    #[test]
    fn a_proof_may_take_up_to_8_kib() {
        // An RSA-4096 `jwk` with its claims takes about 1 KiB; 8 KiB is the documented bound.
        assert_eq!(MAX_PROOF_BYTES, 8192);
    }

    #[test]
    fn thumbprint_of_the_rfc_7638_example() {
        assert_eq!(
            jwk_thumbprint(&rfc7638_key()).ok().as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn thumbprint_uses_only_the_required_members_of_each_key_type() {
        let ec = object(json!({"kty": "EC", "crv": "P-256", "x": "ax", "y": "ay", "use": "sig"}));
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(
            br#"{"crv":"P-256","kty":"EC","x":"ax","y":"ay"}"#,
        ));
        assert_eq!(jwk_thumbprint(&ec).ok(), Some(expected));
        let okp = object(json!({"kty": "OKP", "crv": "Ed25519", "x": "ox", "kid": "k"}));
        let expected =
            URL_SAFE_NO_PAD.encode(Sha256::digest(br#"{"crv":"Ed25519","kty":"OKP","x":"ox"}"#));
        assert_eq!(jwk_thumbprint(&okp).ok(), Some(expected));
        let ec_without_y = object(json!({"kty": "EC", "crv": "P-256", "x": "ax"}));
        assert_eq!(
            code(jwk_thumbprint(&ec_without_y)),
            Some(ErrorCode::InvalidDpopProof)
        );
        let empty_member = object(json!({"kty": "OKP", "crv": "Ed25519", "x": ""}));
        assert!(jwk_thumbprint(&empty_member).is_err());
    }

    #[test]
    fn private_and_symmetric_keys_are_refused() {
        let mut private = rfc7638_key();
        private.insert("d".into(), json!("secret"));
        assert_eq!(
            code(jwk_thumbprint(&private)),
            Some(ErrorCode::InvalidDpopProof)
        );
        for member in PRIVATE_MEMBERS {
            let mut key = object(json!({"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}));
            key.insert(member.into(), json!("v"));
            assert!(jwk_thumbprint(&key).is_err(), "{member}");
        }
        let oct = object(json!({"kty": "oct", "k": "c2VjcmV0"}));
        assert!(jwk_thumbprint(&oct).is_err());
        let oct_without_k = object(json!({"kty": "oct"}));
        assert!(jwk_thumbprint(&oct_without_k).is_err());
    }

    fn header(value: Value) -> Result<ProofHeader, OAuthError> {
        parse_header(value.to_string().as_bytes())
    }

    fn ec_jwk() -> Value {
        json!({"kty": "EC", "crv": "P-256", "x": "ax", "y": "ay"})
    }

    #[test]
    fn a_header_needs_the_dpop_type_an_asymmetric_alg_and_a_public_jwk() {
        let good = header(json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": ec_jwk()}));
        let Ok(good) = good else { panic!("{good:?}") };
        assert_eq!(good.alg, "ES256");
        assert_eq!(good.jwk, object(ec_jwk()));
        assert_eq!(
            good.jkt,
            jwk_thumbprint(&object(ec_jwk())).unwrap_or_default()
        );
        for alg in SUPPORTED_ALGS {
            assert!(header(json!({"typ": "dpop+jwt", "alg": alg, "jwk": ec_jwk()})).is_ok());
        }
        for bad in [
            json!({"typ": "JWT", "alg": "ES256", "jwk": ec_jwk()}),
            json!({"alg": "ES256", "jwk": ec_jwk()}),
            json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": ec_jwk()}),
            json!({"typ": "dpop+jwt", "alg": "none", "jwk": ec_jwk()}),
            json!({"typ": "dpop+jwt", "jwk": ec_jwk()}),
            json!({"typ": "dpop+jwt", "alg": "ES256"}),
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": "text"}),
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "oct", "k": "a2V5"}}),
        ] {
            assert_eq!(
                code(header(bad.clone())),
                Some(ErrorCode::InvalidDpopProof),
                "{bad}"
            );
        }
        assert!(parse_header(b"not json").is_err());
        assert!(parse_header(b"[1]").is_err());
    }

    const URL: &str = "https://id.example/oauth2/token";
    const NOW: i64 = 1_800_000_000;

    fn claims() -> ProofClaims {
        ProofClaims {
            jti: "j1".into(),
            htm: "POST".into(),
            htu: URL.into(),
            iat: NOW,
            ath: None,
            nonce: None,
        }
    }

    fn target() -> ProofTarget<'static> {
        ProofTarget {
            method: "POST",
            url: URL,
            access_token: None,
            now: NOW,
        }
    }

    #[test]
    fn claims_must_match_the_request() {
        assert!(check_claims(&claims(), &target()).is_ok());
        let refused = |c: ProofClaims| code(check_claims(&c, &target()));
        let bad = Some(ErrorCode::InvalidDpopProof);
        assert_eq!(
            refused(ProofClaims {
                htm: "GET".into(),
                ..claims()
            }),
            bad
        );
        assert_eq!(
            refused(ProofClaims {
                htm: "post".into(),
                ..claims()
            }),
            bad
        );
        assert_eq!(
            refused(ProofClaims {
                htu: "https://id.example/userinfo".into(),
                ..claims()
            }),
            bad
        );
        assert_eq!(
            refused(ProofClaims {
                htu: "https://other.example/oauth2/token".into(),
                ..claims()
            }),
            bad
        );
        assert_eq!(
            refused(ProofClaims {
                jti: String::new(),
                ..claims()
            }),
            bad
        );
        assert_eq!(
            refused(ProofClaims {
                jti: "x".repeat(257),
                ..claims()
            }),
            bad
        );
        assert!(
            check_claims(
                &ProofClaims {
                    jti: "x".repeat(256),
                    ..claims()
                },
                &target()
            )
            .is_ok()
        );
    }

    #[test]
    fn iat_must_be_within_the_window() {
        let at = |iat: i64| check_claims(&ProofClaims { iat, ..claims() }, &target()).is_ok();
        assert!(at(NOW - MAX_AGE_SECS));
        assert!(!at(NOW - MAX_AGE_SECS - 1));
        assert!(at(NOW + MAX_CLOCK_AHEAD_SECS));
        assert!(!at(NOW + MAX_CLOCK_AHEAD_SECS + 1));
        assert!(!at(i64::MIN));
        assert!(!at(i64::MAX));
        assert_eq!(JTI_RETENTION_SECS, 70);
    }

    #[test]
    fn at_a_resource_ath_must_hash_the_presented_token() {
        let token = "gh_at_token";
        let target = ProofTarget {
            access_token: Some(token),
            ..target()
        };
        let with = |ath: Option<String>| check_claims(&ProofClaims { ath, ..claims() }, &target);
        assert!(with(Some(access_token_hash(token))).is_ok());
        assert_eq!(
            code(with(Some(access_token_hash("gh_at_other")))),
            Some(ErrorCode::InvalidDpopProof)
        );
        assert!(with(None).is_err());
        // RFC 9449 §7.1's example.
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn htu_compares_normalised_urls_without_query_or_fragment() {
        assert!(htu_matches(URL, URL));
        assert!(htu_matches("https://ID.EXAMPLE/oauth2/token", URL));
        assert!(htu_matches("HTTPS://id.example:443/oauth2/token", URL));
        assert!(htu_matches("https://id.example/oauth2/token?x=1#f", URL));
        assert!(htu_matches("https://id.example/a/../oauth2/token", URL));
        assert!(htu_matches("https://id.example", "https://id.example/"));
        assert!(!htu_matches("http://id.example/oauth2/token", URL));
        assert!(!htu_matches("https://id.example:8443/oauth2/token", URL));
        assert!(!htu_matches("https://id.example/oauth2/token/", URL));
        assert!(!htu_matches("https://id.example/OAUTH2/token", URL));
        assert!(!htu_matches("not a url", URL));
        assert!(!htu_matches(URL, "not a url"));
        assert!(!htu_matches(
            "ftp://id.example/oauth2/token",
            "ftp://id.example/oauth2/token"
        ));
    }

    #[test]
    fn nonces_are_accepted_in_their_window_and_the_next() {
        let keys = NonceKeys::new(b"system secret");
        let start = NOW - NOW.rem_euclid(NONCE_WINDOW_SECS);
        let nonce = keys.issue(start);
        assert_eq!(keys.issue(start + NONCE_WINDOW_SECS - 1), nonce);
        assert_ne!(keys.issue(start + NONCE_WINDOW_SECS), nonce);
        assert!(keys.accepts(&nonce, start));
        assert!(keys.accepts(&nonce, start + 2 * NONCE_WINDOW_SECS - 1));
        assert!(!keys.accepts(&nonce, start + 2 * NONCE_WINDOW_SECS));
        assert!(!keys.accepts(&nonce, start - 1));
        assert!(!keys.accepts("made-up", start));
        assert!(!NonceKeys::new(b"another secret").accepts(&nonce, start));
        assert_eq!(nonce.len(), 43);
    }

    #[test]
    fn claims_parse_with_optional_ath_and_nonce() {
        let parsed: Result<ProofClaims, _> = serde_json::from_value(
            json!({"jti": "j", "htm": "POST", "htu": URL, "iat": NOW, "nonce": "n"}),
        );
        let Ok(parsed) = parsed else {
            panic!("{parsed:?}")
        };
        assert_eq!(parsed.nonce.as_deref(), Some("n"));
        assert_eq!(parsed.ath, None);
        assert_eq!(invalid_proof("x").code, ErrorCode::InvalidDpopProof);
    }
}
