//! User passwords: argon2id with OWASP's parameters, hashed and verified off the async runtime.
//! The one place passwords are hashed or checked: the admin API (setting a password) and the
//! token service's sign-in (`AuthenticateUser`, for the login UI) both call this module.
//!
//! Passwords are low-entropy, so unlike client secrets they get a deliberately slow, memory-hard
//! hash. One hash takes tens of milliseconds of CPU, which would stall every other request on a
//! runtime worker, so both directions run on `tokio::task::spawn_blocking`, at most one per CPU
//! at a time ([`hashing_slot`]).

use std::sync::{Arc, OnceLock};

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use gatehouse_core::password_hash::{PasswordHashFormat, Pbkdf2Digest, parse_password_hash};
use gatehouse_core::secret::SecretString;
use subtle::ConstantTimeEq as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A permit to run one argon2 computation; there are as many as CPUs this process may use.
///
/// Each computation holds `memory_kib` (19 MiB by default) for its whole run and is pure CPU, so
/// running more at once than there are CPUs adds no throughput, only memory: in a login storm at
/// concurrency 8 on one core, the blocking pool ran 8 at once and the process grew past 1 GB
/// (glibc keeps each thread's freed 19 MiB blocks in its arena). Waiting here costs a login the
/// same time it would have spent sharing the CPU.
async fn hashing_slot() -> Result<OwnedSemaphorePermit, PasswordError> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Arc::new(Semaphore::new(cpus))
    });
    Arc::clone(slots)
        .acquire_owned()
        .await
        .map_err(|_| PasswordError::Task)
}

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordHashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordHashParams {
    /// OWASP Password Storage Cheat Sheet: argon2id, m=19456 KiB (19 MiB), t=2, p=1.
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl PasswordHashParams {
    /// Checks the parameters are ones argon2 accepts, so a bad configuration fails at start-up
    /// rather than at the first password.
    pub fn validate(&self) -> Result<(), PasswordError> {
        self.to_argon2().map(drop)
    }

    fn to_argon2(self) -> Result<Argon2<'static>, PasswordError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| PasswordError::Params(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the stored password hash is not a valid PHC string")]
    MalformedHash,
    #[error("the password hashing task did not complete")]
    Task,
}

/// The argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) of `password`, with
/// a fresh random salt.
pub async fn hash_password(
    password: SecretString,
    params: PasswordHashParams,
) -> Result<String, PasswordError> {
    let slot = hashing_slot().await?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let argon2 = params.to_argon2()?;
        let hash = argon2
            .hash_password(password.expose().as_bytes())
            .map_err(|e| PasswordError::Hash(e.to_string()))?;
        Ok(hash.to_string())
    })
    .await
    .map_err(|_| PasswordError::Task)?
}

/// Whether `password` matches `phc`, using the parameters recorded in `phc` (so raising the
/// configured cost never locks out existing users). The comparison is constant-time.
///
/// Besides argon2id, `phc` may be any hash `users import` accepts
/// (`gatehouse_core::password_hash`): bcrypt, argon2i, PBKDF2-SHA-256/512 (PHC, passlib,
/// Django) or scrypt, each verified with its own algorithm, within the same cost bounds the
/// import checked (a stored hash beyond them is refused as malformed, never computed).
pub async fn verify_password(password: SecretString, phc: String) -> Result<bool, PasswordError> {
    let format = parse_password_hash(&phc).map_err(|_| PasswordError::MalformedHash)?;
    let slot = hashing_slot().await?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        verify_blocking(password.expose().as_bytes(), &phc, format)
    })
    .await
    .map_err(|_| PasswordError::Task)?
}

fn verify_blocking(
    password: &[u8],
    phc: &str,
    format: PasswordHashFormat,
) -> Result<bool, PasswordError> {
    match format {
        PasswordHashFormat::Argon2 { .. } => {
            let parsed = PasswordHash::new(phc).map_err(|_| PasswordError::MalformedHash)?;
            match Argon2::default().verify_password(password, &parsed) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                Err(e) => Err(PasswordError::Hash(e.to_string())),
            }
        }
        // bcrypt reads at most 72 bytes of a password, as every bcrypt does.
        PasswordHashFormat::Bcrypt { .. } => {
            bcrypt::verify(password, phc).map_err(|e| PasswordError::Hash(e.to_string()))
        }
        PasswordHashFormat::Pbkdf2 {
            digest,
            iterations,
            salt,
            hash,
        } => {
            let mut out = vec![0u8; hash.len()];
            match digest {
                Pbkdf2Digest::Sha256 => {
                    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, &salt, iterations, &mut out);
                }
                Pbkdf2Digest::Sha512 => {
                    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, &salt, iterations, &mut out);
                }
            }
            Ok(bool::from(out.ct_eq(&hash)))
        }
        PasswordHashFormat::Scrypt {
            log_n,
            r,
            p,
            salt,
            hash,
        } => {
            let params =
                scrypt::Params::new(log_n, r, p).map_err(|e| PasswordError::Hash(e.to_string()))?;
            let mut out = vec![0u8; hash.len()];
            scrypt::scrypt(password, &salt, &params, &mut out)
                .map_err(|e| PasswordError::Hash(e.to_string()))?;
            Ok(bool::from(out.ct_eq(&hash)))
        }
    }
}

/// Whether `phc` is not argon2id (an imported hash, or argon2i), so the sign-in that just
/// verified the password re-hashes it.
pub fn is_foreign(phc: &str) -> bool {
    !phc.starts_with("$argon2id$")
}

/// Whether `phc` was made with other parameters than `params` (or another algorithm), so the
/// sign-in flow can re-hash the password it just verified.
pub fn needs_rehash(phc: &str, params: PasswordHashParams) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    if parsed.algorithm.as_str() != "argon2id" {
        return true;
    }
    match Params::try_from(&parsed) {
        Ok(p) => {
            p.m_cost() != params.memory_kib
                || p.t_cost() != params.iterations
                || p.p_cost() != params.parallelism
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters keep the unit tests fast; the defaults are exercised by the admin tests.
    const CHEAP: PasswordHashParams = PasswordHashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[tokio::test]
    async fn hash_verifies_and_rejects_wrong_passwords() {
        let hash = hash_password(SecretString::new("correct horse"), CHEAP).await;
        let Ok(hash) = hash else { panic!("{hash:?}") };
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(!hash.contains("correct horse"));
        assert!(matches!(
            verify_password(SecretString::new("correct horse"), hash.clone()).await,
            Ok(true)
        ));
        assert!(matches!(
            verify_password(SecretString::new("wrong horse"), hash).await,
            Ok(false)
        ));
    }

    #[tokio::test]
    async fn same_password_gets_a_new_salt_each_time() {
        let a = hash_password(SecretString::new("pw-12345"), CHEAP)
            .await
            .ok();
        let b = hash_password(SecretString::new("pw-12345"), CHEAP)
            .await
            .ok();
        assert!(a.is_some() && a != b);
    }

    #[tokio::test]
    async fn malformed_hash_is_an_error_not_a_match() {
        assert!(matches!(
            verify_password(SecretString::new("x"), "not-a-phc-string".to_owned()).await,
            Err(PasswordError::MalformedHash)
        ));
    }

    #[tokio::test]
    async fn rehash_is_needed_when_parameters_change() {
        let hash = hash_password(SecretString::new("pw-12345"), CHEAP)
            .await
            .unwrap_or_default();
        assert!(!needs_rehash(&hash, CHEAP));
        assert!(needs_rehash(&hash, PasswordHashParams::default()));
        assert!(needs_rehash("garbage", CHEAP));
    }

    /// Each format made by its reference library (tests/fixtures/password-hashes) verifies its
    /// password, refuses another, and counts as foreign (re-hashed at sign-in).
    #[tokio::test]
    async fn every_imported_format_verifies_with_its_own_algorithm() {
        let fixtures = include_str!("../../../tests/fixtures/password-hashes/hashes.jsonl");
        let mut formats = Vec::new();
        for line in fixtures.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(f) = serde_json::from_str::<serde_json::Value>(line) else {
                panic!("{line}")
            };
            let (Some(format), Some(password), Some(hash)) = (
                f["format"].as_str(),
                f["password"].as_str(),
                f["hash"].as_str(),
            ) else {
                panic!("{line}")
            };
            let right = verify_password(SecretString::new(password), hash.to_owned()).await;
            assert!(matches!(right, Ok(true)), "{format}: {right:?}");
            let wrong =
                verify_password(SecretString::new("not the password"), hash.to_owned()).await;
            assert!(matches!(wrong, Ok(false)), "{format}: {wrong:?}");
            assert_eq!(is_foreign(hash), format != "argon2id", "{format}");
            formats.push(format.to_owned());
        }
        for expected in [
            "bcrypt-2a",
            "bcrypt-2b",
            "bcrypt-2y",
            "argon2id",
            "argon2i",
            "pbkdf2-sha256-passlib",
            "pbkdf2-sha512-passlib",
            "pbkdf2-sha256-phc",
            "pbkdf2-sha512-phc",
            "pbkdf2-sha256-django",
            "scrypt-passlib",
            "scrypt-phc",
        ] {
            assert!(formats.iter().any(|f| f == expected), "{expected} missing");
        }
    }

    /// A stored hash beyond the import's cost bounds (written to the database by other means)
    /// is refused as malformed, never computed.
    #[tokio::test]
    async fn a_stored_hash_with_an_absurd_cost_is_not_computed() {
        for hash in [
            "$2b$31$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "$pbkdf2-sha256$i=4000000000,l=32$c2FsdHNhbHQ$7OVfNaehgeZ0pYI6eHJgKr2o2nEGa3VS+qr2cBQvPIA",
            "$scrypt$ln=24,r=64,p=1$c2FsdHNhbHQ$7OVfNaehgeZ0pYI6eHJgKr2o2nEGa3VS+qr2cBQvPIA",
        ] {
            let started = std::time::Instant::now();
            let answer = verify_password(SecretString::new("x"), hash.to_owned()).await;
            assert!(
                matches!(answer, Err(PasswordError::MalformedHash)),
                "{hash}: {answer:?}"
            );
            assert!(started.elapsed() < std::time::Duration::from_secs(1));
        }
    }

    #[test]
    fn defaults_are_owasp_and_valid() {
        let p = PasswordHashParams::default();
        assert_eq!((p.memory_kib, p.iterations, p.parallelism), (19456, 2, 1));
        assert!(p.validate().is_ok());
        assert!(
            PasswordHashParams {
                memory_kib: 1,
                iterations: 0,
                parallelism: 0
            }
            .validate()
            .is_err()
        );
    }
}
