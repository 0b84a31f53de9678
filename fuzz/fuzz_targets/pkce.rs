//! PKCE (RFC 7636): the challenge and method from the authorization request, the verifier from
//! the token request. Input: challenge, NUL, method (empty = absent), NUL, verifier.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_core::pkce::PkceChallenge;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

/// RFC 7636 §4.1: a verifier is 43–128 unreserved characters.
fn well_formed(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\0');
    let challenge = parts.next().unwrap_or_default();
    let method = parts.next().filter(|m| !m.is_empty());
    let verifier = parts.next().unwrap_or_default();

    if let Ok(c) = PkceChallenge::from_request(challenge, method) {
        assert_eq!(method, Some("S256"), "only S256 is accepted");
        let ok = c.verify(verifier);
        assert!(
            !ok || well_formed(verifier),
            "a malformed verifier was accepted"
        );
    }
    // The challenge made from this verifier verifies exactly when the verifier is well formed.
    let made = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    match PkceChallenge::from_request(&made, Some("S256")) {
        Ok(c) => assert_eq!(c.verify(verifier), well_formed(verifier)),
        Err(e) => panic!("a real S256 challenge was refused: {e:?}"),
    }
});
