//! Secrets that cannot leak into logs, random token minting, and keyed hashing.
//!
//! Every bearer secret Gatehouse mints (client secrets, codes, access and refresh tokens,
//! challenge and session ids) carries at least 256 bits of entropy, so a keyed fast hash
//! (HMAC-SHA-256 with the system secret) is the right way to store it: brute force is hopeless and
//! verification stays cheap on the hot path. Passwords, which are low-entropy, use argon2id instead.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use rand::Rng as _;
use sha2::Sha256;
use std::fmt;
use subtle::ConstantTimeEq;

/// A string that must never be printed: `Debug` and `Display` show `[redacted]`.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself. Call sites are easy to audit with a search for `expose`.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A URL-safe random token of `bytes` bytes of entropy (base64url without padding).
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(&buf)
}

/// Constant-time equality of two byte strings.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// HMAC-SHA-256 keyed with (a key derived from) the system secret.
#[derive(Clone)]
pub struct KeyedHasher {
    key: [u8; 32],
}

impl fmt::Debug for KeyedHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyedHasher([redacted])")
    }
}

type HmacSha256 = Hmac<Sha256>;

impl KeyedHasher {
    /// Derives a purpose-bound key from the system secret, so a hash made for one purpose can never
    /// be replayed as another.
    pub fn new(system_secret: &[u8], purpose: &str) -> Self {
        let mut mac = mac_for(system_secret);
        mac.update(b"gatehouse/");
        mac.update(purpose.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(&mac.finalize().into_bytes());
        Self { key }
    }

    /// The keyed hash of `value`, base64url-encoded (43 characters): what the stores persist.
    pub fn hash(&self, value: &str) -> String {
        let mut mac = mac_for(&self.key);
        mac.update(value.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// A hasher for another purpose, derived from this one's key: whoever holds one can make
    /// the other, and their hashes of the same value never match.
    pub fn derive(&self, purpose: &str) -> Self {
        Self::new(&self.key, purpose)
    }

    /// Whether `candidate` hashes to `stored`, compared in constant time.
    pub fn verify(&self, candidate: &str, stored: &str) -> bool {
        constant_time_eq(self.hash(candidate).as_bytes(), stored.as_bytes())
    }
}

fn mac_for(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail; the fallback only satisfies the types.
    <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_string_never_prints() {
        let s = SecretString::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn random_tokens_are_url_safe_and_long() {
        let t = random_token(32);
        assert_eq!(t.len(), 43);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(t, random_token(32));
    }

    #[test]
    fn keyed_hash_depends_on_key_and_purpose() {
        let a = KeyedHasher::new(b"secret-one", "client-secret");
        let b = KeyedHasher::new(b"secret-two", "client-secret");
        let c = KeyedHasher::new(b"secret-one", "access-token");
        let h = a.hash("value");
        assert_eq!(h.len(), 43);
        assert!(a.verify("value", &h));
        assert!(!a.verify("valuf", &h));
        assert_ne!(h, b.hash("value"));
        assert_ne!(h, c.hash("value"));
    }

    #[test]
    fn derived_hashers_are_stable_and_distinct() {
        let base = KeyedHasher::new(b"secret-one", "client-secret");
        let derived = base.derive("registration-token");
        let again = KeyedHasher::new(b"secret-one", "client-secret").derive("registration-token");
        assert_eq!(derived.hash("value"), again.hash("value"));
        assert_ne!(derived.hash("value"), base.hash("value"));
        assert_ne!(derived.hash("value"), base.derive("other").hash("value"));
        let elsewhere =
            KeyedHasher::new(b"secret-two", "client-secret").derive("registration-token");
        assert_ne!(derived.hash("value"), elsewhere.hash("value"));
    }
}
