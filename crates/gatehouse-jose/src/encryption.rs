//! Encryption of private keys at rest: AES-256-GCM under a key derived from the system secret.
//!
//! Sealed format: `0x01 || nonce (12 bytes) || ciphertext || tag (16 bytes)`. The version byte
//! leaves room for another scheme without a data migration. A random 96-bit nonce is safe here:
//! a deployment seals a handful of keys, far below the 2^32 messages at which nonce collisions
//! become a concern.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::JoseError;

const VERSION: u8 = 1;

pub struct KeyEncryption {
    keys: Vec<LessSafeKey>,
}

impl std::fmt::Debug for KeyEncryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryption([redacted])")
    }
}

impl KeyEncryption {
    /// `secrets[0]` encrypts; every secret is tried for decryption, so the system secret can be
    /// rotated by listing the new one first and the old one after it until keys are re-sealed.
    pub fn new(secrets: &[&[u8]]) -> Result<Self, JoseError> {
        Self::for_purpose(secrets, "signing-key-encryption")
    }

    /// The same scheme under a key derived for another `purpose`, so what is sealed for one use
    /// (signing keys, `client_secret_jwt` secrets) never opens for another.
    pub fn for_purpose(secrets: &[&[u8]], purpose: &str) -> Result<Self, JoseError> {
        let keys = secrets
            .iter()
            .map(|secret| {
                let derived =
                    gatehouse_core::secret::KeyedHasher::new(secret, purpose).hash("aes-256-gcm");
                let raw = base64_decode(&derived)?;
                UnboundKey::new(&AES_256_GCM, &raw)
                    .map(LessSafeKey::new)
                    .map_err(|_| JoseError::InvalidKey("AES key".into()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(JoseError::InvalidKey("no system secret given".into()));
        }
        Ok(Self { keys })
    }

    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, JoseError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| JoseError::KeyGeneration)?;
        let mut in_out = plaintext.to_vec();
        let key = self.keys.first().ok_or(JoseError::NoSigningKey)?;
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from([VERSION]),
            &mut in_out,
        )
        .map_err(|_| JoseError::KeyGeneration)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, JoseError> {
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != VERSION {
            return Err(JoseError::Decryption);
        }
        let nonce: [u8; NONCE_LEN] = sealed[1..=NONCE_LEN]
            .try_into()
            .map_err(|_| JoseError::Decryption)?;
        for key in &self.keys {
            let mut in_out = sealed[1 + NONCE_LEN..].to_vec();
            if let Ok(plain) = key.open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from([VERSION]),
                &mut in_out,
            ) {
                return Ok(plain.to_vec());
            }
        }
        Err(JoseError::Decryption)
    }
}

fn base64_decode(s: &str) -> Result<Vec<u8>, JoseError> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| JoseError::InvalidKey("derived key".into()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper_detection() {
        let enc = KeyEncryption::new(&[b"a-system-secret-of-sufficient-length!"]).unwrap();
        let sealed = enc.seal(b"private key bytes").unwrap();
        assert!(
            !sealed.windows(7).any(|w| w == b"private"),
            "ciphertext must not contain the plaintext"
        );
        assert_eq!(enc.open(&sealed).unwrap(), b"private key bytes");
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(enc.open(&tampered).is_err());
    }

    #[test]
    fn what_is_sealed_for_one_purpose_does_not_open_for_another() {
        let secret: &[u8] = b"a-system-secret-of-sufficient-length!";
        let signing = KeyEncryption::new(&[secret]).unwrap();
        let other = KeyEncryption::for_purpose(&[secret], "client-secret-sealing").unwrap();
        let sealed = other.seal(b"client secret").unwrap();
        assert_eq!(other.open(&sealed).unwrap(), b"client secret");
        assert!(signing.open(&sealed).is_err());
        let explicit = KeyEncryption::for_purpose(&[secret], "signing-key-encryption").unwrap();
        assert_eq!(explicit.open(&signing.seal(b"k").unwrap()).unwrap(), b"k");
    }

    #[test]
    fn old_secret_still_opens_during_rotation() {
        let old = KeyEncryption::new(&[b"old-secret-old-secret-old-secret!!"]).unwrap();
        let sealed = old.seal(b"k").unwrap();
        let rotated = KeyEncryption::new(&[
            b"new-secret-new-secret-new-secret!!",
            b"old-secret-old-secret-old-secret!!",
        ])
        .unwrap();
        assert_eq!(rotated.open(&sealed).unwrap(), b"k");
        let new_only = KeyEncryption::new(&[b"new-secret-new-secret-new-secret!!"]).unwrap();
        assert!(new_only.open(&sealed).is_err());
    }
}
