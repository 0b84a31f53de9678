//! Proof Key for Code Exchange (RFC 7636), S256 only.
//!
//! `plain` is refused: it protects nothing against an attacker who can read the authorization
//! request, and RFC 9700 §2.1.1 tells servers to prefer S256. A challenge without a method means
//! `plain` (RFC 7636 §4.3), so it is refused as well.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::OAuthError;

/// A validated S256 code challenge: 43 base64url characters (a SHA-256 digest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PkceChallenge(String);

impl PkceChallenge {
    /// Parses `code_challenge` and `code_challenge_method` from an authorization request.
    pub fn from_request(challenge: &str, method: Option<&str>) -> Result<Self, OAuthError> {
        match method {
            Some("S256") => {}
            Some("plain") | None => {
                return Err(OAuthError::invalid_request(
                    "code_challenge_method must be S256; plain PKCE is not supported",
                ));
            }
            Some(_) => {
                return Err(OAuthError::invalid_request(
                    "unsupported code_challenge_method; use S256",
                ));
            }
        }
        if challenge.len() != 43 || !challenge.bytes().all(is_base64url) {
            return Err(OAuthError::invalid_request(
                "code_challenge must be the base64url-encoded SHA-256 of the code_verifier (43 characters)",
            ));
        }
        Ok(Self(challenge.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 7636 §4.6: `BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge`, in constant
    /// time. A verifier outside the §4.1 grammar never matches.
    pub fn verify(&self, verifier: &str) -> bool {
        if !(43..=128).contains(&verifier.len()) || !verifier.bytes().all(is_unreserved) {
            return false;
        }
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        computed.as_bytes().ct_eq(self.0.as_bytes()).into()
    }
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"` (RFC 7636 §4.1).
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::*;

    // The example of RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn verifies_the_rfc_7636_example() {
        let c = PkceChallenge::from_request(CHALLENGE, Some("S256")).map_err(|e| e.to_string());
        assert_eq!(c.as_ref().map(|c| c.verify(VERIFIER)), Ok(true));
    }

    #[test]
    fn wrong_or_malformed_verifier_fails() {
        let Ok(c) = PkceChallenge::from_request(CHALLENGE, Some("S256")) else {
            panic!("valid challenge refused")
        };
        assert!(!c.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"));
        assert!(!c.verify("short"));
        assert!(!c.verify(&"a".repeat(129)));
        assert!(!c.verify("dBjftJeZ4CVP+mB92K27uhbUJU1p1r/wW1gFWFOEjXk"));
    }

    #[test]
    fn plain_and_missing_method_are_refused() {
        assert!(PkceChallenge::from_request(CHALLENGE, Some("plain")).is_err());
        assert!(PkceChallenge::from_request(CHALLENGE, None).is_err());
        assert!(PkceChallenge::from_request(CHALLENGE, Some("S512")).is_err());
    }

    #[test]
    fn malformed_challenge_is_refused() {
        assert!(PkceChallenge::from_request("abc", Some("S256")).is_err());
        assert!(PkceChallenge::from_request(&"=".repeat(43), Some("S256")).is_err());
    }

    #[test]
    fn a_challenge_reads_back_as_given() {
        let c = PkceChallenge::from_request(CHALLENGE, Some("S256"));
        assert_eq!(c.as_ref().map(PkceChallenge::as_str), Ok(CHALLENGE));
    }

    #[test]
    fn a_verifier_outside_the_grammar_never_matches_even_if_it_hashes_right() {
        // 43 to 128 unreserved characters (RFC 7636 §4.1); each bad verifier is paired with the
        // challenge computed from it, so only the grammar check can refuse it.
        let challenge_of = |v: &str| {
            PkceChallenge::from_request(
                &URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())),
                Some("S256"),
            )
        };
        for bad in [
            "a".repeat(42),
            "a".repeat(129),
            format!("{}+", "a".repeat(42)),
            format!("{} ", "a".repeat(42)),
            format!("{}/", "a".repeat(42)),
        ] {
            let Ok(c) = challenge_of(&bad) else {
                panic!("challenge of {bad:?}");
            };
            assert!(!c.verify(&bad), "{bad:?}");
        }
        for good in [
            "a".repeat(43),
            "a".repeat(128),
            format!("{}-._~", "a".repeat(40)),
        ] {
            let Ok(c) = challenge_of(&good) else {
                panic!("challenge of {good:?}");
            };
            assert!(c.verify(&good), "{good:?}");
        }
    }
}
