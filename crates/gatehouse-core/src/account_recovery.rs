//! Account recovery: the rules a new password must meet, and the single-use links mailed to
//! users (password reset, email verification).
//!
//! A link carries a random token of 256 bits; the short-lived store keeps only its keyed hash
//! (like every bearer secret here), under [`crate::store::Namespace::AccountLink`], until the
//! link's lifetime ends. The stored record names what the link is for and pins what must still be
//! true when it is used: a reset link dies once the password it would replace has changed (so
//! one reset ends every other link in flight), a verification link dies once the address it
//! would verify is no longer the user's.

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::secret::KeyedHasher;

/// The shortest password accepted when a user chooses one (NIST SP 800-63B §5.1.1.2: at least
/// 8 characters).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest password accepted anywhere, in characters (the login form's and the admin API's
/// limit too): long enough for any passphrase, short enough that hashing it is no denial of
/// service.
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// How long a password-reset link lives unless configured (`GATEHOUSE_TTL_PASSWORD_RESET`).
pub const DEFAULT_PASSWORD_RESET_TTL: Duration = Duration::from_secs(30 * 60);
/// How long an email-verification link lives.
pub const EMAIL_VERIFICATION_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Bytes of entropy in a link's token.
pub const LINK_TOKEN_BYTES: usize = 32;

/// The 10,000 most common passwords (the head of the list zxcvbn ranks passwords by, itself
/// from leaked password corpora), lower-cased, one per line; shipped in the binary.
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| COMMON_PASSWORDS.lines().collect())
}

/// Whether `password` is one of the 10,000 most common passwords, ignoring case.
pub fn is_common_password(password: &str) -> bool {
    common_passwords().contains(password.to_lowercase().as_str())
}

/// Why a password a user chose is refused. Each has its own message on the page, so the user
/// knows what to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("the password is shorter than 8 characters")]
    TooShort,
    #[error("the password is longer than 1024 characters")]
    TooLong,
    #[error("the password is the username")]
    IsUsername,
    #[error("the password is one of the most common passwords")]
    Common,
}

impl WeakPassword {
    /// The stable code of the refusal, as the token service reports it and the pages look up
    /// their message.
    pub const fn code(self) -> &'static str {
        match self {
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::IsUsername => "is_username",
            Self::Common => "common",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        [
            Self::TooShort,
            Self::TooLong,
            Self::IsUsername,
            Self::Common,
        ]
        .into_iter()
        .find(|w| w.code() == code)
    }
}

/// The rules for a password a user chooses (reset, change, self-registration): 8 to 1,024
/// characters, not the username (ignoring case and surrounding space), not one of the 10,000
/// most common passwords. No composition rules (NIST SP 800-63B §5.1.1.2).
pub fn check_new_password(username: &str, password: &str) -> Result<(), WeakPassword> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(WeakPassword::TooShort);
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(WeakPassword::TooLong);
    }
    if password.trim().to_lowercase() == username.trim().to_lowercase() {
        return Err(WeakPassword::IsUsername);
    }
    if is_common_password(password) {
        return Err(WeakPassword::Common);
    }
    Ok(())
}

/// What a mailed link is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "purpose", rename_all = "snake_case")]
pub enum LinkPurpose {
    /// Choose a new password. Valid while the user's password hash is still the one whose
    /// fingerprint is pinned here.
    PasswordReset { password_fingerprint: String },
    /// Confirm that the user receives mail at `email`. Valid while that is still the user's
    /// address.
    EmailVerification { email: String },
    /// A signed-in user's new address, mailed to it: when the link is used, `email` becomes
    /// the user's address, verified. Until then the old address stays.
    EmailChange { email: String },
    /// A self-registration waiting for its address to be confirmed: the account is created
    /// (with `subject` as its id) only when the link is used, so nothing unconfirmed is ever
    /// stored durably. `password_hash` is argon2id.
    Registration {
        username: String,
        email: String,
        password_hash: String,
    },
}

/// A link's record in the short-lived store, under the keyed hash of its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountLink {
    /// The user's id.
    pub subject: String,
    #[serde(flatten)]
    pub purpose: LinkPurpose,
    /// An authorization request in progress when the link was asked for (the login UI's
    /// challenge id), so the user can continue it afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
    /// When the link was issued, Unix seconds.
    pub issued_at: i64,
}

/// The fingerprint of a password hash that a reset link pins: a keyed hash, so the record
/// in the short-lived store reveals nothing about the password hash. A user without a password
/// has the fingerprint of the empty string.
pub fn password_fingerprint(keys: &KeyedHasher, password_hash: Option<&str>) -> String {
    keys.hash(password_hash.unwrap_or_default())
}

impl LinkPurpose {
    /// The address a link for this purpose is mailed to: the one it confirms; `None` for a
    /// reset link (it goes to the user's address).
    pub fn recipient(&self) -> Option<&str> {
        match self {
            Self::PasswordReset { .. } => None,
            Self::EmailVerification { email }
            | Self::EmailChange { email }
            | Self::Registration { email, .. } => Some(email),
        }
    }
}

impl AccountLink {
    /// Whether the link still applies to `user_password_hash` and `user_email`, the user's
    /// current values: a reset link after another reset, or a verification link after the
    /// address changed, is dead.
    pub fn still_applies(
        &self,
        keys: &KeyedHasher,
        user_password_hash: Option<&str>,
        user_email: Option<&str>,
    ) -> bool {
        match &self.purpose {
            LinkPurpose::PasswordReset {
                password_fingerprint: pinned,
            } => keys.verify(user_password_hash.unwrap_or_default(), pinned),
            LinkPurpose::EmailVerification { email } => {
                user_email.is_some_and(|current| current.eq_ignore_ascii_case(email))
            }
            // There is no user yet: the link applies until it is used or expires.
            LinkPurpose::Registration { .. } => true,
            // The address it names is not the user's yet: it applies until used or expired.
            LinkPurpose::EmailChange { .. } => true,
        }
    }
}

/// Whether `email` looks like an address mail can be sent to: one `@` with a non-empty local
/// part and a domain with a dot, no spaces or control characters, at most 254 characters
/// (RFC 5321 §4.5.3.1.3). The mail library checks the full grammar when sending.
pub fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_list_has_ten_thousand_distinct_lower_case_passwords() {
        assert_eq!(COMMON_PASSWORDS.lines().count(), 10_000);
        assert_eq!(common_passwords().len(), 10_000);
        assert!(
            COMMON_PASSWORDS
                .lines()
                .all(|p| p == p.to_lowercase() && !p.is_empty())
        );
    }

    #[test]
    fn a_new_password_needs_eight_to_1024_characters_counted_as_characters() {
        assert_eq!(
            check_new_password("alice", "x7#kq2!"),
            Err(WeakPassword::TooShort)
        );
        assert_eq!(check_new_password("alice", "x7#kq2!m"), Ok(()));
        // Eight characters, sixteen bytes.
        assert_eq!(check_new_password("alice", "ääääääää"), Ok(()));
        assert_eq!(
            check_new_password("alice", "äääääää"),
            Err(WeakPassword::TooShort)
        );
        let longest = "ä".repeat(MAX_PASSWORD_CHARS);
        assert_eq!(check_new_password("alice", &longest), Ok(()));
        assert_eq!(
            check_new_password("alice", &format!("{longest}x")),
            Err(WeakPassword::TooLong)
        );
    }

    #[test]
    fn the_username_and_common_passwords_are_refused_in_any_case() {
        assert_eq!(
            check_new_password("Margaret9", " margaret9 "),
            Err(WeakPassword::IsUsername)
        );
        assert_eq!(
            check_new_password("alice", "PassWord1"),
            Err(WeakPassword::Common)
        );
        assert_eq!(
            check_new_password("alice", "baseball"),
            Err(WeakPassword::Common)
        );
        // The last entry of the list is on it; a passphrase is not.
        let last = COMMON_PASSWORDS.lines().last().unwrap();
        assert!(is_common_password(last));
        assert!(!is_common_password("correct horse battery staple"));
    }

    #[test]
    fn refusals_have_stable_codes() {
        for weak in [
            WeakPassword::TooShort,
            WeakPassword::TooLong,
            WeakPassword::IsUsername,
            WeakPassword::Common,
        ] {
            assert_eq!(WeakPassword::from_code(weak.code()), Some(weak));
        }
        assert_eq!(WeakPassword::from_code("weak"), None);
    }

    #[test]
    fn a_reset_link_dies_when_the_password_changes() {
        let keys = KeyedHasher::new(b"secret", "account-links");
        let link = AccountLink {
            subject: "u1".into(),
            purpose: LinkPurpose::PasswordReset {
                password_fingerprint: password_fingerprint(&keys, Some("$argon2id$old")),
            },
            challenge: None,
            issued_at: 0,
        };
        assert!(link.still_applies(&keys, Some("$argon2id$old"), None));
        assert!(!link.still_applies(&keys, Some("$argon2id$new"), None));
        assert!(!link.still_applies(&keys, None, None));
        let without = AccountLink {
            purpose: LinkPurpose::PasswordReset {
                password_fingerprint: password_fingerprint(&keys, None),
            },
            ..link
        };
        assert!(without.still_applies(&keys, None, None));
        assert!(!without.still_applies(&keys, Some("$argon2id$set"), None));
    }

    #[test]
    fn a_verification_link_dies_when_the_address_changes() {
        let keys = KeyedHasher::new(b"secret", "account-links");
        let link = AccountLink {
            subject: "u1".into(),
            purpose: LinkPurpose::EmailVerification {
                email: "Alice@Example.com".into(),
            },
            challenge: Some("c1".into()),
            issued_at: 0,
        };
        assert!(link.still_applies(&keys, None, Some("alice@example.com")));
        assert!(!link.still_applies(&keys, None, Some("alice@example.org")));
        assert!(!link.still_applies(&keys, None, None));
    }

    #[test]
    fn an_email_change_link_applies_until_used_and_goes_to_the_new_address() {
        let keys = KeyedHasher::new(b"secret", "account-links");
        let purpose = LinkPurpose::EmailChange {
            email: "new@example.org".into(),
        };
        assert_eq!(purpose.recipient(), Some("new@example.org"));
        let link = AccountLink {
            subject: "u1".into(),
            purpose,
            challenge: None,
            issued_at: 0,
        };
        // The user's address is still the old one: that is what the link is about to change.
        assert!(link.still_applies(&keys, Some("$argon2id$x"), Some("old@example.com")));
        assert!(link.still_applies(&keys, None, None));
        let json = serde_json::to_value(&link).unwrap();
        assert_eq!(json["purpose"], "email_change");
        assert_eq!(serde_json::from_value::<AccountLink>(json).unwrap(), link);
        assert_eq!(
            LinkPurpose::PasswordReset {
                password_fingerprint: "f".into()
            }
            .recipient(),
            None
        );
        assert_eq!(
            LinkPurpose::Registration {
                username: "bob".into(),
                email: "bob@example.com".into(),
                password_hash: "h".into()
            }
            .recipient(),
            Some("bob@example.com")
        );
    }

    #[test]
    fn links_are_stored_as_tagged_json() {
        let link = AccountLink {
            subject: "u1".into(),
            purpose: LinkPurpose::EmailVerification {
                email: "a@example.com".into(),
            },
            challenge: None,
            issued_at: 7,
        };
        let json = serde_json::to_value(&link).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"subject": "u1", "purpose": "email_verification",
                "email": "a@example.com", "issued_at": 7})
        );
        assert_eq!(serde_json::from_value::<AccountLink>(json).unwrap(), link);
    }

    #[test]
    fn plausible_addresses() {
        for good in ["a@example.com", "first.last+tag@sub.example.co.uk"] {
            assert!(is_plausible_email(good), "{good}");
        }
        for bad in [
            "",
            "alice",
            "@example.com",
            "a@b@example.com",
            "a@localhost",
            "a@.example.com",
            "a@example.com.",
            "a b@example.com",
            "a@exa\nmple.com",
        ] {
            assert!(!is_plausible_email(bad), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(242));
        assert_eq!(long.len(), 254);
        assert!(is_plausible_email(&long));
        assert!(!is_plausible_email(&format!("a{long}")));
    }
}
