//! Imported password hashes (`users import`): any text, parsed as a foreign password hash.
//! Never panics; an accepted hash is within the cost bounds sign-in relies on.
#![no_main]

use gatehouse_core::password_hash::{
    MAX_BCRYPT_COST, MAX_PBKDF2_SHA256_ITERATIONS, MAX_SCRYPT_MEMORY_BYTES, MAX_SCRYPT_P,
    PasswordHashFormat, parse_password_hash,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_password_hash(text) {
        Ok(PasswordHashFormat::Bcrypt { cost }) => assert!((4..=MAX_BCRYPT_COST).contains(&cost)),
        Ok(PasswordHashFormat::Pbkdf2 { iterations, .. }) => {
            assert!((1..=MAX_PBKDF2_SHA256_ITERATIONS).contains(&iterations));
        }
        Ok(PasswordHashFormat::Scrypt { log_n, r, p, .. }) => {
            let memory = 128u64 * u64::from(r) * (1u64 << log_n);
            assert!(memory <= MAX_SCRYPT_MEMORY_BYTES && p <= MAX_SCRYPT_P);
        }
        Ok(PasswordHashFormat::Argon2 { .. }) | Err(_) => {}
    }
});
