//! Client authentication with an ES256 key (RFC 7523 `private_key_jwt`): the key the benchmark's
//! client holds, and a fresh signed assertion per request, as a real client would make (a new
//! `jti` each time, so a server that refuses replays sees no repeats).
//!
//! Signed with aws-lc-rs directly: a JWS of three base64url parts is all it takes, and the
//! driver's own cost per request stays small and the same against every server.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, anyhow};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;

/// The `client_assertion_type` of a JWT assertion (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Writes a new P-256 key: `key.pk8` (PKCS#8 DER, the driver's) and `jwks.json` (the public JWK
/// Set, the servers'), both under `dir`, with key id `kid`.
pub fn generate(dir: &Path, kid: &str) -> anyhow::Result<()> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| anyhow!("generating a P-256 key failed"))?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
        .map_err(|e| anyhow!("reading the new key: {e}"))?;
    // The uncompressed point: 0x04 || x || y, 32 bytes each.
    let point = pair.public_key().as_ref();
    anyhow::ensure!(
        point.len() == 65 && point[0] == 4,
        "unexpected public key encoding"
    );
    let jwks = serde_json::json!({"keys": [{
        "kty": "EC",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        "kid": kid,
        "alg": "ES256",
        "use": "sig",
    }]});
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("key.pk8"), pkcs8.as_ref())?;
    std::fs::write(dir.join("jwks.json"), jwks.to_string())?;
    Ok(())
}

/// A client's signing key and what its assertions say.
#[derive(Debug)]
pub struct Signer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    /// The base64url header, the same for every assertion.
    header: String,
    client_id: String,
    audience: String,
}

impl Signer {
    /// Reads `key.pk8` as written by [`generate`]; assertions name `audience` (the token endpoint).
    pub fn load(key: &Path, kid: &str, client_id: &str, audience: &str) -> anyhow::Result<Self> {
        let der = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
            .map_err(|e| anyhow!("{} is not a P-256 PKCS#8 key: {e}", key.display()))?;
        let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": kid});
        Ok(Self {
            key,
            rng: SystemRandom::new(),
            header: URL_SAFE_NO_PAD.encode(header.to_string()),
            client_id: client_id.to_owned(),
            audience: audience.to_owned(),
        })
    }

    /// A new assertion: valid for 60 s, with a random `jti`.
    pub fn assertion(&self) -> anyhow::Result<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let mut jti = [0u8; 16];
        rand::rng().fill_bytes(&mut jti);
        let claims = serde_json::json!({
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.audience,
            "iat": now,
            "exp": now + 60,
            "jti": URL_SAFE_NO_PAD.encode(jti),
        });
        let signing_input = format!(
            "{}.{}",
            self.header,
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .map_err(|_| anyhow!("signing an assertion failed"))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

    #[test]
    fn assertions_verify_with_the_published_key_and_never_repeat() {
        let dir = std::env::temp_dir().join(format!("gh-bench-key-{}", std::process::id()));
        generate(&dir, "k1").unwrap();
        let signer = Signer::load(&dir.join("key.pk8"), "k1", "app", "http://s/token").unwrap();
        let (a, b) = (signer.assertion().unwrap(), signer.assertion().unwrap());
        assert_ne!(a, b, "a fresh jti each time");
        let jwks: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("jwks.json")).unwrap()).unwrap();
        let jwk = &jwks["keys"][0];
        let mut point = vec![4u8];
        for c in ["x", "y"] {
            point.extend(URL_SAFE_NO_PAD.decode(jwk[c].as_str().unwrap()).unwrap());
        }
        let (input, sig) = a.rsplit_once('.').unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
            .verify(input.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap())
            .unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(input.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            (claims["iss"].as_str(), claims["aud"].as_str()),
            (Some("app"), Some("http://s/token"))
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
