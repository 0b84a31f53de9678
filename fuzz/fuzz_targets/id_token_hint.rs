//! An attacker-supplied `id_token_hint`, verified against a key ring of one key per algorithm
//! (generated once). The first input byte picks how the rest is used:
//! - 0: the rest is the token, as sent;
//! - 1: a genuine token with one segment (picked by the next byte) replaced by the rest;
//! - 2: the rest is a JOSE header (JSON; `KID` is replaced by a real kid), with a genuine
//!   payload and signature;
//! - 3: the rest is the claims (JSON), under a genuine header, with a genuine signature of other claims.
//!
//! A token whose header or claims were changed must never verify.
#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_core::store::SigningKeyRecord;
use gatehouse_jose::{KeyEncryption, KeyRing, SigningAlgorithm, generate};
use jsonwebtoken::Validation;
use libfuzzer_sys::fuzz_target;
use serde::{Deserialize, Serialize};

const ISSUER: &str = "https://id.example.com";

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Claims {
    iss: String,
    sub: String,
    aud: serde_json::Value,
    #[serde(default)]
    exp: Option<i64>,
}

struct Fixture {
    ring: KeyRing,
    /// A genuine ID token per algorithm.
    tokens: Vec<String>,
    kids: Vec<String>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let enc = match KeyEncryption::new(&[b"fuzz-system-secret-of-sufficient-length".as_slice()])
        {
            Ok(e) => e,
            Err(e) => panic!("encryption: {e}"),
        };
        let mut records = Vec::new();
        for alg in SigningAlgorithm::ALL {
            let key = match generate(alg) {
                Ok(k) => k,
                Err(e) => panic!("generate: {e}"),
            };
            let (Ok(sealed), Ok(jwk)) = (
                enc.seal(&key.pkcs8_der),
                serde_json::to_string(&key.public_jwk),
            ) else {
                panic!("seal");
            };
            records.push(SigningKeyRecord {
                kid: key.kid.clone(),
                alg: alg.as_str().to_owned(),
                encrypted_private_key: sealed,
                public_jwk: jwk,
                created_at: time::OffsetDateTime::UNIX_EPOCH,
                retired_at: None,
            });
        }
        let ring = match KeyRing::from_records(&records, &enc) {
            Ok(r) => r,
            Err(e) => panic!("ring: {e}"),
        };
        let claims = Claims {
            iss: ISSUER.into(),
            sub: "user-1".into(),
            aud: "fuzz-app".into(),
            exp: Some(1),
        };
        let mut tokens = Vec::new();
        for alg in SigningAlgorithm::ALL {
            match ring.signer(alg).and_then(|s| s.sign("JWT", &claims)) {
                Ok(t) => tokens.push(t),
                Err(e) => panic!("sign: {e}"),
            }
        }
        let kids = records.iter().map(|r| r.kid.clone()).collect();
        Fixture { ring, tokens, kids }
    })
}

/// The validation `end_session` uses for a hint: expiry and audience are not checked.
fn validation() -> Validation {
    let mut v = Validation::new(jsonwebtoken::Algorithm::RS256);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.set_issuer(&[ISSUER]);
    v.set_required_spec_claims(&["iss", "sub", "aud"]);
    v
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let pick = rest.first().copied().unwrap_or(0) as usize;
    let genuine = &f.tokens[pick % f.tokens.len()];
    let segments: Vec<&str> = genuine.split('.').collect();
    let text = String::from_utf8_lossy(rest);
    let (token, may_verify) = match mode % 4 {
        0 => (text.into_owned(), None),
        1 => {
            let mut s: Vec<String> = segments.iter().map(|s| (*s).to_owned()).collect();
            let i = pick % 3;
            let replacement =
                String::from_utf8_lossy(rest.get(1..).unwrap_or_default()).into_owned();
            let same = replacement == s[i];
            s[i] = replacement;
            // Another encoding of the signature may still verify; header and claims may not change.
            (s.join("."), (i != 2).then_some(same))
        }
        2 => {
            let kid = &f.kids[pick % f.kids.len()];
            let header = text.replace("KID", kid);
            let token = format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(header.as_bytes()),
                segments[1],
                segments[2]
            );
            let same = token == *genuine;
            (token, Some(same))
        }
        _ => {
            let token = format!(
                "{}.{}.{}",
                segments[0],
                URL_SAFE_NO_PAD.encode(rest),
                segments[2]
            );
            let same = token == *genuine;
            (token, Some(same))
        }
    };
    let verified = f.ring.verify::<Claims>(&token, validation());
    if let (Ok(claims), Some(same)) = (&verified, may_verify) {
        // The signature covers the header and claims bytes as sent: a change there never verifies.
        assert!(same, "a tampered token verified: {token:?} -> {claims:?}");
    }
});
