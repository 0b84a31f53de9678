//! Signing keys and JWTs for Gatehouse.
//!
//! - [`generate`] makes a new RS256 (the OpenID Connect mandatory-to-implement algorithm), ES256
//!   or EdDSA key with aws-lc-rs.
//! - [`KeyEncryption`] seals private keys with AES-256-GCM under a key derived from the system
//!   secret, so the database never holds a usable private key.
//! - [`KeyRing`] is the in-memory view the token service signs with: the newest unretired key
//!   signs, every stored key is published in the JWKS until it is deleted.

pub mod dpop;
mod encryption;
mod keys;
mod ring;

pub use encryption::KeyEncryption;
pub use jsonwebtoken::Algorithm;
pub use jsonwebtoken::jwk::{Jwk, JwkSet};
pub use keys::{GeneratedKey, SigningAlgorithm, generate};
pub use ring::{KeyRing, Signer};

#[derive(Debug, thiserror::Error)]
pub enum JoseError {
    #[error("key generation failed")]
    KeyGeneration,
    #[error("the stored signing key could not be decrypted (wrong system secret?)")]
    Decryption,
    #[error("unsupported signing algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    #[error("invalid key material: {0}")]
    InvalidKey(String),
    #[error("no signing key is available")]
    NoSigningKey,
    #[error("JWT error: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
}
