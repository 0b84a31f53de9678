//! Password hashes imported from other systems (`users import`): which formats are accepted,
//! their layout parsed, and bounds on the cost each may carry, so a hostile import cannot make
//! sign-in a CPU or memory bomb. No cryptography here: `gatehouse-token/src/password.rs`
//! verifies each with its own algorithm (RustCrypto crates) and re-hashes it to argon2id at the
//! first successful sign-in.
//!
//! Accepted:
//! - bcrypt: `$2a$`, `$2b$`, `$2y$` (cost 4 to [`MAX_BCRYPT_COST`]);
//! - argon2id and argon2i, PHC (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`);
//! - PBKDF2-SHA-256 and PBKDF2-SHA-512: PHC as RustCrypto writes it
//!   (`$pbkdf2-sha256$i=…,l=…$salt$hash`), passlib's variant (`$pbkdf2-sha512$rounds$salt$hash`
//!   in passlib's base64 with `.` for `+`), and Django's `pbkdf2_sha256$iterations$salt$hash`;
//! - scrypt, PHC (`$scrypt$ln=…,r=…,p=…$salt$hash`), passlib's spelling of it included.
//!
//! firebase-scrypt, argon2d, MD5/SHA crypt and anything else are refused.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

/// Highest bcrypt cost accepted (2^14 rounds: about a second).
pub const MAX_BCRYPT_COST: u32 = 14;
/// Highest PBKDF2-SHA-256 iteration count accepted (OWASP 2023 asks for 600,000).
pub const MAX_PBKDF2_SHA256_ITERATIONS: u32 = 2_000_000;
/// Highest PBKDF2-SHA-512 iteration count accepted (OWASP 2023 asks for 210,000).
pub const MAX_PBKDF2_SHA512_ITERATIONS: u32 = 1_000_000;
/// Largest argon2 memory cost accepted, in KiB (128 MiB).
pub const MAX_ARGON2_MEMORY_KIB: u32 = 128 * 1024;
/// Largest argon2 memory × passes accepted, in KiB (e.g. 64 MiB × 8).
pub const MAX_ARGON2_WORK_KIB: u64 = 512 * 1024;
/// Largest scrypt memory (128 · r · 2^ln bytes) accepted: 128 MiB.
pub const MAX_SCRYPT_MEMORY_BYTES: u64 = 128 * 1024 * 1024;
/// Largest scrypt parallelism accepted.
pub const MAX_SCRYPT_P: u32 = 4;
/// Longest salt and derived key accepted, in bytes.
const MAX_BYTES: usize = 128;
/// Longest hash string accepted.
const MAX_HASH_CHARS: usize = 512;

/// The digest of a PBKDF2 hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pbkdf2Digest {
    Sha256,
    Sha512,
}

/// An accepted password hash, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordHashFormat {
    /// `$argon2id$` or `$argon2i$` PHC string; the argon2 crate verifies the whole string.
    Argon2 { variant_id: bool },
    /// `$2a$`/`$2b$`/`$2y$`; the bcrypt crate verifies the whole string.
    Bcrypt { cost: u32 },
    Pbkdf2 {
        digest: Pbkdf2Digest,
        iterations: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Scrypt {
        log_n: u8,
        r: u32,
        p: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
}

impl PasswordHashFormat {
    /// A short name for reports and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Argon2 {
                variant_id: true, ..
            } => "argon2id",
            Self::Argon2 { .. } => "argon2i",
            Self::Bcrypt { .. } => "bcrypt",
            Self::Pbkdf2 {
                digest: Pbkdf2Digest::Sha256,
                ..
            } => "pbkdf2-sha256",
            Self::Pbkdf2 { .. } => "pbkdf2-sha512",
            Self::Scrypt { .. } => "scrypt",
        }
    }
}

/// Why a password hash is refused; the text says which rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("password_hash: {0}")]
pub struct RefusedHash(pub String);

fn refuse<T>(why: impl Into<String>) -> Result<T, RefusedHash> {
    Err(RefusedHash(why.into()))
}

/// Parses `hash` as one of the accepted formats, within the cost bounds.
pub fn parse_password_hash(hash: &str) -> Result<PasswordHashFormat, RefusedHash> {
    if hash.len() > MAX_HASH_CHARS {
        return refuse(format!("longer than {MAX_HASH_CHARS} characters"));
    }
    if hash.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return refuse("contains spaces or control characters");
    }
    if hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$") {
        return bcrypt(hash);
    }
    if let Some(rest) = hash.strip_prefix("$argon2id$") {
        return argon2(rest, true);
    }
    if let Some(rest) = hash.strip_prefix("$argon2i$") {
        return argon2(rest, false);
    }
    if let Some(rest) = hash.strip_prefix("$pbkdf2-sha256$") {
        return pbkdf2_phc(rest, Pbkdf2Digest::Sha256);
    }
    if let Some(rest) = hash.strip_prefix("$pbkdf2-sha512$") {
        return pbkdf2_phc(rest, Pbkdf2Digest::Sha512);
    }
    if let Some(rest) = hash.strip_prefix("pbkdf2_sha256$") {
        return django_pbkdf2(rest);
    }
    if let Some(rest) = hash.strip_prefix("$scrypt$") {
        return scrypt(rest);
    }
    if hash.contains("firebase") {
        return refuse(
            "firebase-scrypt hashes are not supported (they need the project's signer key); \
             import these users without a password_hash and have them set a new one",
        );
    }
    if hash.starts_with("$argon2d$") {
        return refuse("argon2d is not accepted; use argon2id or argon2i");
    }
    if hash.starts_with("$2x$") {
        return refuse("bcrypt $2x$ (the crypt_blowfish bug's variant) is not accepted");
    }
    refuse(
        "unknown format; accepted: bcrypt ($2a$/$2b$/$2y$), argon2id/argon2i (PHC), \
         pbkdf2-sha256/pbkdf2-sha512 (PHC, passlib, Django pbkdf2_sha256$), scrypt (PHC, passlib)",
    )
}

fn bcrypt(hash: &str) -> Result<PasswordHashFormat, RefusedHash> {
    // $2b$12$ + 22 characters of salt + 31 of hash.
    let bytes = hash.as_bytes();
    if bytes.len() != 60 || bytes.get(6) != Some(&b'$') {
        return refuse("bcrypt: expected $2b$NN$ and 53 characters");
    }
    let cost: u32 = hash
        .get(4..6)
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| RefusedHash("bcrypt: the cost is not a number".into()))?;
    if !(4..=MAX_BCRYPT_COST).contains(&cost) {
        return refuse(format!(
            "bcrypt: cost {cost} is outside 4 to {MAX_BCRYPT_COST}"
        ));
    }
    let body_ok = hash.get(7..).is_some_and(|b| {
        b.bytes()
            .all(|c| c == b'.' || c == b'/' || c.is_ascii_alphanumeric())
    });
    if !body_ok {
        return refuse("bcrypt: the salt and hash are not bcrypt's base64");
    }
    Ok(PasswordHashFormat::Bcrypt { cost })
}

/// `key=value,key=value` into (key, number) pairs.
fn params(text: &str) -> Result<Vec<(&str, u64)>, RefusedHash> {
    text.split(',')
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| RefusedHash(format!("parameter {kv:?} is not key=value")))?;
            let v = v
                .parse::<u64>()
                .map_err(|_| RefusedHash(format!("parameter {k} is not a number")))?;
            Ok((k, v))
        })
        .collect()
}

fn param(list: &[(&str, u64)], key: &str, what: &str) -> Result<u64, RefusedHash> {
    list.iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| *v)
        .ok_or_else(|| RefusedHash(format!("{what}: parameter {key} is missing")))
}

/// PHC base64 (standard alphabet, no padding), or passlib's (`.` for `+`).
fn b64(text: &str, what: &str) -> Result<Vec<u8>, RefusedHash> {
    let normal = text.replace('.', "+");
    let bytes = STANDARD_NO_PAD
        .decode(normal.trim_end_matches('='))
        .map_err(|_| RefusedHash(format!("{what} is not base64")))?;
    sized(bytes, what)
}

fn sized(bytes: Vec<u8>, what: &str) -> Result<Vec<u8>, RefusedHash> {
    if bytes.is_empty() || bytes.len() > MAX_BYTES {
        return refuse(format!("{what} must be 1 to {MAX_BYTES} bytes"));
    }
    Ok(bytes)
}

fn argon2(rest: &str, variant_id: bool) -> Result<PasswordHashFormat, RefusedHash> {
    let what = if variant_id { "argon2id" } else { "argon2i" };
    let parts: Vec<&str> = rest.split('$').collect();
    let (version, costs, salt, hash) = match parts.as_slice() {
        [v, c, s, h] => (Some(*v), *c, *s, *h),
        [c, s, h] => (None, *c, *s, *h),
        _ => return refuse(format!("{what}: expected $v=19$m=…,t=…,p=…$salt$hash")),
    };
    if let Some(v) = version
        && v != "v=19"
        && v != "v=16"
    {
        return refuse(format!("{what}: unknown version {v:?}"));
    }
    let list = params(costs).map_err(|e| RefusedHash(format!("{what}: {}", e.0)))?;
    let m = param(&list, "m", what)?;
    let t = param(&list, "t", what)?;
    let p = param(&list, "p", what)?;
    if m > u64::from(MAX_ARGON2_MEMORY_KIB) {
        return refuse(format!(
            "{what}: memory m={m} KiB is over {MAX_ARGON2_MEMORY_KIB}"
        ));
    }
    if t == 0 || m.saturating_mul(t) > MAX_ARGON2_WORK_KIB {
        return refuse(format!(
            "{what}: m × t = {} KiB is over {MAX_ARGON2_WORK_KIB}",
            m.saturating_mul(t)
        ));
    }
    if p == 0 || p > 16 {
        return refuse(format!("{what}: parallelism p={p} is outside 1 to 16"));
    }
    b64(salt, &format!("{what}: the salt"))?;
    b64(hash, &format!("{what}: the hash"))?;
    Ok(PasswordHashFormat::Argon2 { variant_id })
}

fn check_iterations(digest: Pbkdf2Digest, iterations: u64) -> Result<u32, RefusedHash> {
    let max = match digest {
        Pbkdf2Digest::Sha256 => MAX_PBKDF2_SHA256_ITERATIONS,
        Pbkdf2Digest::Sha512 => MAX_PBKDF2_SHA512_ITERATIONS,
    };
    match u32::try_from(iterations) {
        Ok(i) if (1..=max).contains(&i) => Ok(i),
        _ => refuse(format!(
            "pbkdf2: {iterations} iterations is outside 1 to {max}"
        )),
    }
}

/// RustCrypto: `i=600000,l=32$salt$hash`; passlib: `29000$salt$hash`.
fn pbkdf2_phc(rest: &str, digest: Pbkdf2Digest) -> Result<PasswordHashFormat, RefusedHash> {
    let [costs, salt, hash] = rest.split('$').collect::<Vec<_>>()[..] else {
        return refuse("pbkdf2: expected $pbkdf2-sha256$i=…$salt$hash");
    };
    let iterations = if costs.bytes().all(|b| b.is_ascii_digit()) && !costs.is_empty() {
        costs
            .parse::<u64>()
            .map_err(|_| RefusedHash("pbkdf2: the rounds are not a number".into()))?
    } else {
        let list = params(costs).map_err(|e| RefusedHash(format!("pbkdf2: {}", e.0)))?;
        param(&list, "i", "pbkdf2")?
    };
    let iterations = check_iterations(digest, iterations)?;
    let salt = b64(salt, "pbkdf2: the salt")?;
    let hash = b64(hash, "pbkdf2: the hash")?;
    if hash.len() < 16 {
        return refuse("pbkdf2: the hash is shorter than 16 bytes");
    }
    Ok(PasswordHashFormat::Pbkdf2 {
        digest,
        iterations,
        salt,
        hash,
    })
}

/// Django: `870000$salt$base64(hash)`; the salt is used as its UTF-8 text.
fn django_pbkdf2(rest: &str) -> Result<PasswordHashFormat, RefusedHash> {
    let [iterations, salt, hash] = rest.split('$').collect::<Vec<_>>()[..] else {
        return refuse("pbkdf2_sha256: expected pbkdf2_sha256$iterations$salt$hash");
    };
    let iterations = iterations
        .parse::<u64>()
        .map_err(|_| RefusedHash("pbkdf2_sha256: the iterations are not a number".into()))?;
    let iterations = check_iterations(Pbkdf2Digest::Sha256, iterations)?;
    let salt = sized(salt.as_bytes().to_vec(), "pbkdf2_sha256: the salt")?;
    let hash = STANDARD
        .decode(hash)
        .map_err(|_| RefusedHash("pbkdf2_sha256: the hash is not base64".into()))?;
    let hash = sized(hash, "pbkdf2_sha256: the hash")?;
    if hash.len() < 16 {
        return refuse("pbkdf2_sha256: the hash is shorter than 16 bytes");
    }
    Ok(PasswordHashFormat::Pbkdf2 {
        digest: Pbkdf2Digest::Sha256,
        iterations,
        salt,
        hash,
    })
}

fn scrypt(rest: &str) -> Result<PasswordHashFormat, RefusedHash> {
    let [costs, salt, hash] = rest.split('$').collect::<Vec<_>>()[..] else {
        return refuse("scrypt: expected $scrypt$ln=…,r=…,p=…$salt$hash");
    };
    let list = params(costs).map_err(|e| RefusedHash(format!("scrypt: {}", e.0)))?;
    let ln = param(&list, "ln", "scrypt")?;
    let r = param(&list, "r", "scrypt")?;
    let p = param(&list, "p", "scrypt")?;
    if !(1..=24).contains(&ln) || r == 0 || r > 64 {
        return refuse(format!("scrypt: ln={ln}, r={r} are out of range"));
    }
    let memory = 128u64.saturating_mul(r).saturating_mul(1u64 << ln);
    if memory > MAX_SCRYPT_MEMORY_BYTES {
        return refuse(format!(
            "scrypt: 128 · r · 2^ln = {memory} bytes is over {MAX_SCRYPT_MEMORY_BYTES}"
        ));
    }
    if p == 0 || p > u64::from(MAX_SCRYPT_P) {
        return refuse(format!("scrypt: p={p} is outside 1 to {MAX_SCRYPT_P}"));
    }
    let salt = b64(salt, "scrypt: the salt")?;
    let hash = b64(hash, "scrypt: the hash")?;
    if hash.len() < 16 {
        return refuse("scrypt: the hash is shorter than 16 bytes");
    }
    Ok(PasswordHashFormat::Scrypt {
        log_n: u8::try_from(ln).unwrap_or(u8::MAX),
        r: u32::try_from(r).unwrap_or(u32::MAX),
        p: u32::try_from(p).unwrap_or(u32::MAX),
        salt,
        hash,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn refused(h: &str) -> String {
        parse_password_hash(h).map(|f| f.name()).unwrap_err().0
    }

    fn b64_of(len: usize) -> String {
        STANDARD_NO_PAD.encode(vec![7u8; len])
    }

    fn argon2id(costs: &str) -> String {
        format!("$argon2id$v=19${costs}$c29tZXNhbHQ${}", b64_of(32))
    }

    #[test]
    fn the_length_and_character_rules_stop_exactly_at_their_bounds() {
        assert!(!refused(&"x".repeat(MAX_HASH_CHARS)).contains("longer than"));
        assert!(refused(&"x".repeat(MAX_HASH_CHARS + 1)).contains("longer than"));
        assert!(refused("$2b$12$ R9h/cIPz0gi.URNNX3kh2O").contains("spaces"));
        let salt = |len| {
            format!(
                "$argon2id$v=19$m=65536,t=3,p=4${}${}",
                b64_of(len),
                b64_of(32)
            )
        };
        assert_eq!(name(&salt(MAX_BYTES)), Ok("argon2id"));
        assert!(refused(&salt(MAX_BYTES + 1)).contains("1 to 128 bytes"));
        assert!(
            refused(&format!("$argon2id$v=19$m=65536,t=3,p=4$${}", b64_of(32)))
                .contains("1 to 128 bytes")
        );
    }

    #[test]
    fn argon2_versions_and_costs_stop_exactly_at_their_bounds() {
        let unversioned = format!("$argon2id$m=65536,t=3,p=4$c29tZXNhbHQ${}", b64_of(32));
        assert_eq!(name(&unversioned), Ok("argon2id"));
        assert_eq!(
            name(&argon2id("m=65536,t=3,p=4").replace("v=19", "v=16")),
            Ok("argon2id")
        );
        assert!(refused(&argon2id("m=65536,t=3,p=4").replace("v=19", "v=18")).contains("version"));
        assert_eq!(name(&argon2id("m=131072,t=1,p=1")), Ok("argon2id"));
        assert!(refused(&argon2id("m=131073,t=1,p=1")).contains("memory"));
        assert_eq!(name(&argon2id("m=131072,t=4,p=1")), Ok("argon2id"));
        assert!(refused(&argon2id("m=131072,t=5,p=1")).contains("m × t"));
        assert!(refused(&argon2id("m=1024,t=0,p=1")).contains("m × t"));
        assert_eq!(name(&argon2id("m=65536,t=3,p=16")), Ok("argon2id"));
        assert!(refused(&argon2id("m=65536,t=3,p=17")).contains("parallelism"));
        assert!(refused(&argon2id("m=65536,t=3,p=0")).contains("parallelism"));
    }

    #[test]
    fn pbkdf2_and_scrypt_hash_lengths_and_costs_stop_exactly_at_their_bounds() {
        let phc = |len| format!("$pbkdf2-sha256$i=1000,l=32$c2FsdHNhbHQ${}", b64_of(len));
        assert_eq!(name(&phc(16)), Ok("pbkdf2-sha256"));
        assert!(refused(&phc(15)).contains("shorter than 16"));
        let django = |len| {
            format!(
                "pbkdf2_sha256$1000$saltsalt${}",
                STANDARD.encode(vec![7u8; len])
            )
        };
        assert_eq!(name(&django(16)), Ok("pbkdf2-sha256"));
        assert!(refused(&django(15)).contains("shorter than 16"));

        let scrypt = |costs: &str, len| format!("$scrypt${costs}$c29tZXNhbHQ${}", b64_of(len));
        assert_eq!(name(&scrypt("ln=10,r=8,p=1", 16)), Ok("scrypt"));
        assert!(refused(&scrypt("ln=10,r=8,p=1", 15)).contains("shorter than 16"));
        assert_eq!(name(&scrypt("ln=1,r=64,p=1", 32)), Ok("scrypt"));
        assert!(refused(&scrypt("ln=1,r=65,p=1", 32)).contains("out of range"));
        assert!(refused(&scrypt("ln=1,r=0,p=1", 32)).contains("out of range"));
        // 128 · r · 2^ln bytes: exactly the bound with r=8, ln=17; twice it with ln=18.
        assert_eq!(name(&scrypt("ln=17,r=8,p=1", 32)), Ok("scrypt"));
        assert!(refused(&scrypt("ln=18,r=8,p=1", 32)).contains("bytes is over"));
        assert!(refused(&scrypt("ln=20,r=8,p=1", 32)).contains("bytes is over"));
        assert_eq!(name(&scrypt("ln=10,r=8,p=4", 32)), Ok("scrypt"));
        assert!(refused(&scrypt("ln=10,r=8,p=5", 32)).contains("outside 1 to 4"));
    }

    fn name(h: &str) -> Result<&'static str, String> {
        parse_password_hash(h).map(|f| f.name()).map_err(|e| e.0)
    }

    #[test]
    fn each_accepted_format_is_recognised() {
        let bcrypt = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
        assert_eq!(name(bcrypt), Ok("bcrypt"));
        assert_eq!(name(&bcrypt.replace("$2b$", "$2a$")), Ok("bcrypt"));
        assert_eq!(name(&bcrypt.replace("$2b$", "$2y$")), Ok("bcrypt"));
        assert_eq!(
            name("$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"),
            Ok("argon2id")
        );
        assert_eq!(
            name("$argon2i$v=19$m=16,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"),
            Ok("argon2i")
        );
        assert_eq!(
            name(
                "$pbkdf2-sha256$i=600000,l=32$c2FsdHNhbHQ$7OVfNaehgeZ0pYI6eHJgKr2o2nEGa3VS+qr2cBQvPIA"
            ),
            Ok("pbkdf2-sha256")
        );
        assert_eq!(
            name(
                "$pbkdf2-sha512$25000$LyWE0HrL.YPwPgmB8L7X$ocp4YbDNwvmgUq6OUx1GPCi9FDR8q.VFmVw7gvWLtMbIHsHl"
            ),
            Ok("pbkdf2-sha512")
        );
        assert_eq!(
            name("pbkdf2_sha256$870000$saltsalt$ZmFrZWhhc2hmYWtlaGFzaGZha2VoYXNoZmFrZWhhc2g="),
            Ok("pbkdf2-sha256")
        );
        assert_eq!(
            name(
                "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E"
            ),
            Ok("scrypt")
        );
    }

    #[test]
    fn absurd_costs_are_refused_with_the_reason() {
        let bcrypt = "$2b$31$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
        assert!(name(bcrypt).unwrap_err().contains("cost 31"));
        assert!(
            name("$pbkdf2-sha256$i=4000000000,l=32$c2FsdHNhbHQ$7OVfNaehgeZ0pYI6eHJgKr2o2nEGa3VS+qr2cBQvPIA")
                .unwrap_err()
                .contains("iterations")
        );
        assert!(
            name("pbkdf2_sha256$99999999$salt$ZmFrZWhhc2hmYWtlaGFzaGZha2VoYXNoZmFrZWhhc2g=")
                .unwrap_err()
                .contains("iterations")
        );
        assert!(
            name("$scrypt$ln=30,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E")
                .is_err()
        );
        assert!(
            name("$scrypt$ln=16,r=8,p=64$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E")
                .unwrap_err()
                .contains("p=64")
        );
        assert!(
            name("$argon2id$v=19$m=4194304,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG")
                .unwrap_err()
                .contains("memory")
        );
        assert!(
            name("$argon2id$v=19$m=65536,t=1000,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG")
                .unwrap_err()
                .contains("m × t")
        );
    }

    #[test]
    fn unknown_and_out_of_scope_formats_are_refused() {
        for (hash, says) in [
            ("plaintext", "unknown format"),
            ("$1$salt$hash", "unknown format"),
            ("$firebase-scrypt$abc", "firebase-scrypt"),
            ("$argon2d$v=19$m=16,t=2,p=1$c29tZXNhbHQ$aGFzaA", "argon2d"),
            ("$2b$12$short", "53 characters"),
            ("", "unknown format"),
            ("$pbkdf2-sha256$i=1000$bad", "expected"),
        ] {
            let refused = name(hash).unwrap_err();
            assert!(refused.contains(says), "{hash}: {refused}");
        }
    }

    #[test]
    fn malformed_hashes_never_panic() {
        for hash in [
            "$",
            "$$$$",
            "$2b$",
            "$2b$aé$",
            "$argon2id$",
            "$argon2id$v=19$m=,t=,p=$$",
            "$argon2id$v=19$m=18446744073709551615,t=18446744073709551615,p=1$c2FsdA$aGFzaA",
            "$scrypt$ln=63,r=18446744073709551615,p=1$c2FsdA$aGFzaA",
            "$scrypt$ln=64,r=1,p=1$c2FsdA$aGFzaA",
            "pbkdf2_sha256$$$",
            "pbkdf2_sha256$1$é$=",
            "$pbkdf2-sha512$i=1,l=99999999$$",
        ] {
            assert!(parse_password_hash(hash).is_err(), "{hash}");
        }
    }
}
