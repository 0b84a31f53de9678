//! Key generation with aws-lc-rs.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey};

use crate::JoseError;

/// The algorithms Gatehouse signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    Rs256,
    Es256,
    EdDsa,
}

impl SigningAlgorithm {
    pub const ALL: [Self; 3] = [Self::Rs256, Self::Es256, Self::EdDsa];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Result<Self, JoseError> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| JoseError::UnsupportedAlgorithm(s.to_owned()))
    }

    pub const fn jwt_algorithm(self) -> Algorithm {
        match self {
            Self::Rs256 => Algorithm::RS256,
            Self::Es256 => Algorithm::ES256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }

    /// Builds the signing key from PKCS#8 v1 DER.
    pub(crate) fn encoding_key(self, pkcs8_der: &[u8]) -> Result<EncodingKey, JoseError> {
        match self {
            // jsonwebtoken's `from_rsa_der` wants PKCS#1, which aws-lc-rs does not export; its PEM
            // reader accepts PKCS#8.
            Self::Rs256 => Ok(EncodingKey::from_rsa_pem(pem_wrap(pkcs8_der).as_bytes())?),
            Self::Es256 => Ok(EncodingKey::from_ec_der(pkcs8_der)),
            Self::EdDsa => Ok(EncodingKey::from_ed_der(pkcs8_der)),
        }
    }
}

/// A freshly generated key: the private part (PKCS#8 DER, to be sealed before storing) and the
/// public JWK with `kid`, `alg` and `use`.
pub struct GeneratedKey {
    pub kid: String,
    pub alg: SigningAlgorithm,
    pub pkcs8_der: Vec<u8>,
    pub public_jwk: Jwk,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

pub fn generate(alg: SigningAlgorithm) -> Result<GeneratedKey, JoseError> {
    let pkcs8_der = match alg {
        SigningAlgorithm::Rs256 => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(|_| JoseError::KeyGeneration)?;
            let der: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| JoseError::KeyGeneration)?;
            der.as_ref().to_vec()
        }
        SigningAlgorithm::Es256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .and_then(|p| p.to_pkcs8v1())
            .map_err(|_| JoseError::KeyGeneration)?
            .as_ref()
            .to_vec(),
        // PKCS#8 v1 (48 bytes): jsonwebtoken's JWK export rejects v2.
        SigningAlgorithm::EdDsa => Ed25519KeyPair::generate()
            .and_then(|p| p.to_pkcs8v1())
            .map_err(|_| JoseError::KeyGeneration)?
            .as_ref()
            .to_vec(),
    };
    let public_jwk = public_jwk(alg, &pkcs8_der, None)?;
    // RFC 7638 thumbprint as kid: stable, unique per key, and reveals nothing.
    let kid = public_jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)?;
    let public_jwk = public_jwk_with_kid(public_jwk, &kid);
    Ok(GeneratedKey {
        kid,
        alg,
        pkcs8_der,
        public_jwk,
    })
}

pub(crate) fn public_jwk(
    alg: SigningAlgorithm,
    pkcs8_der: &[u8],
    kid: Option<&str>,
) -> Result<Jwk, JoseError> {
    let key = alg.encoding_key(pkcs8_der)?;
    let jwk = Jwk::from_encoding_key(&key, alg.jwt_algorithm())?;
    Ok(match kid {
        Some(kid) => public_jwk_with_kid(jwk, kid),
        None => jwk,
    })
}

fn public_jwk_with_kid(mut jwk: Jwk, kid: &str) -> Jwk {
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk
}

fn pem_wrap(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::with_capacity(b64.len() + 64);
    pem.push_str("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}
