//! Second factors: TOTP (RFC 6238), passkeys (WebAuthn) and single-use recovery codes, the MFA
//! policy, and the authentication method references (`amr`, RFC 8176) and context class (`acr`)
//! they yield.
//!
//! No I/O here: the token service seals a factor's secret with the system secret before it
//! reaches the durable store ([`FactorStore`](crate::store::FactorStore)), and opens it to check a
//! code with [`check_totp`]. A code is accepted once: a factor remembers the last 30 s step whose
//! code it accepted, and only a later step is accepted after it (RFC 6238 §5.2).

use std::fmt;

use time::OffsetDateTime;
use totp_rs::{Algorithm, Builder, Secret};

use crate::secret::{KeyedHasher, constant_time_eq};

/// Seconds per TOTP step (RFC 6238's default, what every authenticator app uses).
pub const TOTP_STEP_SECONDS: u64 = 30;
/// Digits of a TOTP code.
pub const TOTP_DIGITS: usize = 6;
/// Steps either side of now whose code is accepted, for clocks that drift (RFC 6238 §5.2).
pub const TOTP_SKEW_STEPS: i64 = 1;
/// Bytes of a TOTP secret: 160 bits, as RFC 4226 §4 recommends for HMAC-SHA-1.
pub const TOTP_SECRET_BYTES: usize = 20;
/// Recovery codes handed out at once.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Characters of a recovery code, not counting the hyphen shown in the middle.
pub const RECOVERY_CODE_CHARS: usize = 10;
/// What recovery codes are made of: lower-case letters and digits without the ones people
/// confuse (0/o, 1/l/i), 31 of them: a code carries about 49 bits.
const RECOVERY_ALPHABET: &[u8; 31] = b"23456789abcdefghjkmnpqrstuvwxyz";
/// Keyed-hash purpose of stored recovery codes.
pub const RECOVERY_CODE_PURPOSE: &str = "recovery-code";
/// Sealing purpose of TOTP secrets (`gatehouse_jose::KeyEncryption::for_purpose`).
pub const TOTP_SEALING_PURPOSE: &str = "totp-secret";
/// Sealing purpose of stored passkeys (the credential's public key, counter and flags): not
/// secret in the cryptographic sense, but sealed like TOTP secrets so a copy of the database
/// cannot swap in a key of its own.
pub const PASSKEY_SEALING_PURPOSE: &str = "passkey";
/// Keyed-hash purpose of WebAuthn user handles (see [`passkey_user_handle`]).
pub const PASSKEY_USER_HANDLE_PURPOSE: &str = "passkey-user-handle";

/// RFC 8176 method: a password.
pub const AMR_PWD: &str = "pwd";
/// RFC 8176 method: a one-time password (TOTP or a recovery code).
pub const AMR_OTP: &str = "otp";
/// RFC 8176 method: more than one factor.
pub const AMR_MFA: &str = "mfa";
/// RFC 8176 method: proof of possession of a hardware-secured key (a passkey that cannot leave
/// its authenticator: not backup eligible).
pub const AMR_HWK: &str = "hwk";
/// RFC 8176 method: proof of possession of a software-secured key (a synced passkey: backup
/// eligible, so its private key can be copied to other devices).
pub const AMR_SWK: &str = "swk";
/// RFC 8176 method: a user presence test (the authenticator's touch or prompt).
pub const AMR_USER: &str = "user";
/// The context class of a sign-in with a second factor; an authorization request asking for it
/// in `acr_values` gets a second factor asked for.
pub const ACR_MFA: &str = "urn:gatehouse:acr:mfa";
/// The context class of a sign-in with a password only.
pub const ACR_PWD: &str = "urn:gatehouse:acr:pwd";
/// What discovery's `acr_values_supported` lists.
pub const ACR_VALUES_SUPPORTED: [&str; 2] = [ACR_PWD, ACR_MFA];

/// The `acr` of a sign-in whose methods were `amr`.
pub fn acr_for(amr: &[String]) -> &'static str {
    if amr.iter().any(|m| m == AMR_MFA) {
        ACR_MFA
    } else {
        ACR_PWD
    }
}

/// The `amr` of a sign-in with a password and, when `second_factor`, a one-time code.
pub fn amr_for(second_factor: bool) -> Vec<String> {
    if second_factor {
        vec![AMR_PWD.into(), AMR_OTP.into(), AMR_MFA.into()]
    } else {
        vec![AMR_PWD.into()]
    }
}

/// The `amr` of a sign-in with a passkey. Every passkey ceremony requires user verification (a
/// PIN or biometric on the authenticator) on top of possession of the key, so it is multi-factor
/// on its own:
///
/// - after a password (`with_password`): `pwd`, the key, `mfa`;
/// - without one (a discoverable sign-in): the key, `user` (the authenticator tested the user's
///   presence and verified them), `mfa`.
///
/// The key is `swk` when the credential is backup eligible (a synced passkey, whose private key
/// lives in software that copies it between devices), else `hwk` (it never leaves its device).
pub fn passkey_amr(backup_eligible: bool, with_password: bool) -> Vec<String> {
    let key = if backup_eligible { AMR_SWK } else { AMR_HWK };
    if with_password {
        vec![AMR_PWD.into(), key.into(), AMR_MFA.into()]
    } else {
        vec![key.into(), AMR_USER.into(), AMR_MFA.into()]
    }
}

/// The WebAuthn user handle of a user: a UUID made of a keyed hash of the user id, never the id
/// itself, so an authenticator (and whoever reads it) does not learn our user ids, and the same
/// user has the same handle on every authenticator.
pub fn passkey_user_handle(hasher: &KeyedHasher, user_id: &str) -> uuid::Uuid {
    use base64::Engine as _;
    // The hash is base64url of an HMAC-SHA-256: its first 16 bytes, marked as a random UUID.
    let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(hasher.hash(user_id))
        .unwrap_or_default();
    let mut bytes = [0u8; 16];
    for (b, d) in bytes.iter_mut().zip(digest) {
        *b = d;
    }
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// Whether a sign-in with methods `amr` used a second factor.
pub fn is_multi_factor(amr: &[String]) -> bool {
    amr.iter().any(|m| m == AMR_MFA)
}

/// Whether space-delimited `acr_values` ask for a second factor.
pub fn acr_values_ask_for_mfa(acr_values: &str) -> bool {
    acr_values.split(' ').any(|v| v == ACR_MFA)
}

/// `GATEHOUSE_MFA`: whether every user must have a second factor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MfaPolicy {
    /// Users choose; those with a factor are asked for it.
    #[default]
    Optional,
    /// Users without a factor enrol one at their next sign-in, before continuing.
    Required,
}

impl MfaPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Optional => "optional",
            Self::Required => "required",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "optional" => Some(Self::Optional),
            "required" => Some(Self::Required),
            _ => None,
        }
    }
}

/// The kinds of second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorKind {
    Totp,
    /// A WebAuthn credential; its sealed secret is the serialized credential (public key,
    /// counter, flags), and [`Factor::credential_id`] names it.
    Passkey,
}

impl FactorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Passkey => "passkey",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "totp" => Some(Self::Totp),
            "passkey" => Some(Self::Passkey),
            _ => None,
        }
    }
}

/// A user's second factor as stored. The secret is sealed: only the token service opens it.
#[derive(Clone, PartialEq, Eq)]
pub struct Factor {
    pub id: String,
    pub user_id: String,
    pub kind: FactorKind,
    /// What the user calls it (e.g. "Phone"); may be empty.
    pub label: String,
    pub sealed_secret: Vec<u8>,
    pub created_at: OffsetDateTime,
    /// `None` while the enrolment waits for its first code: such a factor is not asked for.
    pub confirmed_at: Option<OffsetDateTime>,
    /// The last TOTP step whose code was accepted; only later steps are accepted after it.
    pub last_used_step: Option<i64>,
    /// A passkey's credential id (base64url, unpadded), unique across users; `None` for TOTP.
    pub credential_id: Option<String>,
}

impl fmt::Debug for Factor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Factor")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("kind", &self.kind)
            .field("label", &self.label)
            .field("sealed_secret", &"[redacted]")
            .field("created_at", &self.created_at)
            .field("confirmed_at", &self.confirmed_at)
            .field("last_used_step", &self.last_used_step)
            .field("credential_id", &self.credential_id)
            .finish()
    }
}

impl Factor {
    pub fn is_confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

/// One stored recovery code: its keyed hash and when it was used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryCode {
    pub code_hash: String,
    pub created_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
}

/// Why a TOTP secret cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the TOTP secret is unusable: {0}")]
pub struct TotpSecretError(String);

fn totp(secret: &[u8], account: &str, issuer: &str) -> Result<totp_rs::Totp, TotpSecretError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(TOTP_DIGITS as u8)
        .with_skew(0)
        .with_step_duration(TOTP_STEP_SECONDS)
        .with_secret(Secret::from(secret.to_vec()))
        .with_account_name(otpauth_label(account))
        .with_issuer(Some(otpauth_label(issuer)))
        .build()
        .map_err(|e| TotpSecretError(e.to_string()))
}

/// The otpauth URI spec forbids `:` in the issuer and account name (it separates them).
fn otpauth_label(s: &str) -> String {
    let cleaned: String = s.chars().filter(|c| *c != ':').collect();
    if cleaned.is_empty() {
        "account".into()
    } else {
        cleaned
    }
}

/// A fresh random TOTP secret.
pub fn generate_totp_secret() -> Vec<u8> {
    let mut secret = vec![0u8; TOTP_SECRET_BYTES];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut secret);
    secret
}

/// The secret as people type it into an authenticator app: base32 (RFC 4648), in groups of 4.
pub fn display_totp_secret(secret: &[u8]) -> String {
    let encoded = Secret::from(secret.to_vec()).to_base32();
    encoded
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `otpauth://totp/…` URI an authenticator app reads from the QR code.
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> Result<String, TotpSecretError> {
    totp(secret, account, issuer)?
        .to_url()
        .map_err(|e| TotpSecretError(e.to_string()))
}

/// The TOTP step of Unix second `unix`.
pub fn totp_step(unix: i64) -> i64 {
    unix.div_euclid(TOTP_STEP_SECONDS as i64)
}

/// The code of `secret` at Unix second `unix` (tests and enrolment checks).
pub fn totp_code(secret: &[u8], unix: i64) -> Result<String, TotpSecretError> {
    let at = u64::try_from(unix).map_err(|_| TotpSecretError("time before 1970".into()))?;
    Ok(totp(secret, "", "")?.generate(at).to_string())
}

/// The digits of a typed TOTP code (spaces dropped), if it looks like one.
pub fn normalise_totp_code(typed: &str) -> Option<String> {
    let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == TOTP_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// The step whose code `typed` is, within [`TOTP_SKEW_STEPS`] of `now` (Unix seconds) and later
/// than `last_used_step`; `None` when there is none (a wrong code, or a replayed one). Every
/// candidate is compared, in constant time, so timing tells nothing about which matched.
pub fn check_totp(
    secret: &[u8],
    typed: &str,
    now: i64,
    last_used_step: Option<i64>,
) -> Option<i64> {
    let code = normalise_totp_code(typed)?;
    let totp = totp(secret, "", "").ok()?;
    let current = totp_step(now);
    let mut matched = None;
    for step in current - TOTP_SKEW_STEPS..=current + TOTP_SKEW_STEPS {
        let Ok(at) = u64::try_from(step.saturating_mul(TOTP_STEP_SECONDS as i64)) else {
            continue;
        };
        let expected = totp.generate(at).to_string();
        let fresh = last_used_step.is_none_or(|last| step > last);
        if constant_time_eq(expected.as_bytes(), code.as_bytes()) && fresh && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

/// [`RECOVERY_CODE_COUNT`] fresh recovery codes, as shown to the user (`xxxxx-xxxxx`).
pub fn generate_recovery_codes() -> Vec<String> {
    let mut rng = rand::rng();
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            let chars: String = (0..RECOVERY_CODE_CHARS)
                .map(|_| {
                    let i = rand::RngExt::random_range(&mut rng, 0..RECOVERY_ALPHABET.len());
                    char::from(RECOVERY_ALPHABET[i])
                })
                .collect();
            let (a, b) = chars.split_at(RECOVERY_CODE_CHARS / 2);
            format!("{a}-{b}")
        })
        .collect()
}

/// A typed recovery code in its canonical form (lower case, no spaces or hyphens), if it can be
/// one.
pub fn normalise_recovery_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    (code.len() == RECOVERY_CODE_CHARS && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)))
        .then_some(code)
}

/// The hasher of recovery codes, from the system secret.
pub fn recovery_code_hasher(system_secret: &[u8]) -> KeyedHasher {
    KeyedHasher::new(system_secret, RECOVERY_CODE_PURPOSE)
}

/// The stored form of `code` (as shown or typed) of `user_id`: bound to the user, so the same
/// code of two users hashes apart. `None` when it cannot be a recovery code.
pub fn hash_recovery_code(hasher: &KeyedHasher, user_id: &str, code: &str) -> Option<String> {
    let code = normalise_recovery_code(code)?;
    Some(hasher.hash(&format!("{user_id}\n{code}")))
}

/// The hash of the unused one of `stored` that `typed` is, if any. Every unused code is
/// compared in constant time, whichever matches.
pub fn find_recovery_code<'a>(
    hasher: &KeyedHasher,
    user_id: &str,
    typed: &str,
    stored: &'a [RecoveryCode],
) -> Option<&'a str> {
    let candidate = hash_recovery_code(hasher, user_id, typed)?;
    let mut found = None;
    for code in stored.iter().filter(|c| c.used_at.is_none()) {
        if constant_time_eq(candidate.as_bytes(), code.code_hash.as_bytes()) && found.is_none() {
            found = Some(code.code_hash.as_str());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_match_rfc_6238_vectors() {
        // RFC 6238 Appendix B, SHA-1, the last six digits.
        assert_eq!(totp_code(SECRET, 59).unwrap(), "287082");
        assert_eq!(totp_code(SECRET, 1_111_111_109).unwrap(), "081804");
        assert_eq!(totp_code(SECRET, 2_000_000_000).unwrap(), "279037");
    }

    #[test]
    fn a_code_is_accepted_within_one_step_of_now_and_answers_its_step() {
        let now = 1_111_111_109;
        let code = totp_code(SECRET, now).unwrap();
        assert_eq!(check_totp(SECRET, &code, now, None), Some(totp_step(now)));
        assert_eq!(
            check_totp(SECRET, &code, now + 30, None),
            Some(totp_step(now))
        );
        assert_eq!(
            check_totp(SECRET, &code, now - 30, None),
            Some(totp_step(now))
        );
        assert_eq!(check_totp(SECRET, &code, now + 90, None), None);
        assert_eq!(check_totp(SECRET, "000000", now, None), None);
        assert_eq!(check_totp(SECRET, "12345", now, None), None);
        assert_eq!(
            check_totp(SECRET, &format!("{} {}", &code[..3], &code[3..]), now, None),
            Some(totp_step(now)),
            "spaces are ignored"
        );
    }

    #[test]
    fn a_used_step_and_earlier_ones_are_refused() {
        let now = 1_111_111_109;
        let code = totp_code(SECRET, now).unwrap();
        let step = totp_step(now);
        assert_eq!(check_totp(SECRET, &code, now, Some(step)), None, "replay");
        assert_eq!(check_totp(SECRET, &code, now, Some(step + 1)), None);
        assert_eq!(check_totp(SECRET, &code, now, Some(step - 1)), Some(step));
    }

    #[test]
    fn otpauth_uri_names_issuer_and_account_and_secret() {
        let uri = otpauth_uri(SECRET, "Gate:house", "alice").unwrap();
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(
            uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            "{uri}"
        );
        assert!(uri.contains("issuer=Gatehouse"), "{uri}");
        assert!(uri.contains("alice"), "{uri}");
        assert_eq!(
            display_totp_secret(SECRET),
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
        );
        assert_eq!(generate_totp_secret().len(), TOTP_SECRET_BYTES);
        assert_ne!(generate_totp_secret(), generate_totp_secret());
    }

    #[test]
    fn recovery_codes_are_ten_distinct_typeable_codes() {
        let codes = generate_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODE_COUNT);
        for code in &codes {
            assert_eq!(code.len(), RECOVERY_CODE_CHARS + 1);
            assert_eq!(code.as_bytes()[5], b'-');
            assert!(normalise_recovery_code(code).is_some(), "{code}");
        }
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
        assert_eq!(
            normalise_recovery_code(" ABCDE-fghjk ").as_deref(),
            Some("abcdefghjk")
        );
        assert_eq!(
            normalise_recovery_code("abcde-fghj0"),
            None,
            "0 is not used"
        );
        assert_eq!(normalise_recovery_code("abcde_fghjk"), None);
        assert_eq!(normalise_recovery_code("abcde"), None);
    }

    #[test]
    fn recovery_codes_are_found_only_unused_and_only_for_their_user() {
        let hasher = recovery_code_hasher(b"system-secret");
        let now = OffsetDateTime::UNIX_EPOCH;
        let stored = |hash: String, used: bool| RecoveryCode {
            code_hash: hash,
            created_at: now,
            used_at: used.then_some(now),
        };
        let codes = [
            stored(
                hash_recovery_code(&hasher, "u1", "abcde-fghjk").unwrap(),
                false,
            ),
            stored(
                hash_recovery_code(&hasher, "u1", "zzzzz-zzzzz").unwrap(),
                true,
            ),
        ];
        assert_eq!(
            find_recovery_code(&hasher, "u1", "ABCDEFGHJK", &codes),
            Some(codes[0].code_hash.as_str())
        );
        assert_eq!(
            find_recovery_code(&hasher, "u1", "zzzzz-zzzzz", &codes),
            None,
            "used"
        );
        assert_eq!(
            find_recovery_code(&hasher, "u2", "abcde-fghjk", &codes),
            None,
            "another user's"
        );
        assert_eq!(find_recovery_code(&hasher, "u1", "123456", &codes), None);
    }

    #[test]
    fn amr_and_acr() {
        assert_eq!(amr_for(false), ["pwd"]);
        assert_eq!(amr_for(true), ["pwd", "otp", "mfa"]);
        assert_eq!(acr_for(&amr_for(false)), ACR_PWD);
        assert_eq!(acr_for(&amr_for(true)), ACR_MFA);
        assert!(acr_values_ask_for_mfa("urn:x urn:gatehouse:acr:mfa"));
        assert!(!acr_values_ask_for_mfa("urn:gatehouse:acr:pwd"));
        assert_eq!(MfaPolicy::parse("required"), Some(MfaPolicy::Required));
        assert_eq!(MfaPolicy::parse("sometimes"), None);
        assert_eq!(MfaPolicy::default().as_str(), "optional");
    }

    #[test]
    fn passkey_amr_names_the_key_kind_and_is_multi_factor() {
        assert_eq!(passkey_amr(false, true), ["pwd", "hwk", "mfa"]);
        assert_eq!(passkey_amr(true, true), ["pwd", "swk", "mfa"]);
        assert_eq!(passkey_amr(false, false), ["hwk", "user", "mfa"]);
        assert_eq!(passkey_amr(true, false), ["swk", "user", "mfa"]);
        for amr in [passkey_amr(true, false), passkey_amr(false, true)] {
            assert!(is_multi_factor(&amr));
            assert_eq!(acr_for(&amr), ACR_MFA);
        }
        assert_eq!(FactorKind::parse("passkey"), Some(FactorKind::Passkey));
        assert_eq!(FactorKind::Passkey.as_str(), "passkey");
    }

    #[test]
    fn passkey_user_handles_are_stable_per_user_and_hide_the_id() {
        let hasher = KeyedHasher::new(b"system-secret", PASSKEY_USER_HANDLE_PURPOSE);
        let other = KeyedHasher::new(b"other-secret", PASSKEY_USER_HANDLE_PURPOSE);
        let id = "0191b6c4-3c1e-7a52-9d6e-2f4a1b3c5d7e";
        let handle = passkey_user_handle(&hasher, id);
        assert_eq!(handle, passkey_user_handle(&hasher, id));
        assert_ne!(handle, passkey_user_handle(&hasher, "another-user"));
        assert_ne!(handle, passkey_user_handle(&other, id), "keyed");
        assert_ne!(handle.to_string(), id);
    }

    #[test]
    fn factor_debug_redacts_the_secret() {
        let factor = Factor {
            id: "f".into(),
            user_id: "u".into(),
            kind: FactorKind::Totp,
            label: String::new(),
            sealed_secret: b"sealed-bytes".to_vec(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            confirmed_at: None,
            last_used_step: None,
            credential_id: None,
        };
        assert!(!format!("{factor:?}").contains("115"));
        assert!(format!("{factor:?}").contains("[redacted]"));
    }
}
