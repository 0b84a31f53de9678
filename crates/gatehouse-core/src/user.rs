//! End users: the people who sign in and grant consent.

use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid username {0:?}: use 1 to 64 characters without spaces or control characters")]
pub struct InvalidUsername(pub String);

/// A username as typed. Uniqueness is case-insensitive: [`Username::normalized`] is the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, InvalidUsername> {
        let ok = !s.is_empty()
            && s.chars().count() <= 64
            && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidUsername(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that must be unique.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A user as the stores hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture: Option<String>,
    pub disabled: bool,
    /// The argon2id PHC string; `None` until a password is set (such a user cannot sign in).
    pub password_hash: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_unique_case_insensitively() {
        let a = Username::parse("Alice").map(|u| u.normalized());
        let b = Username::parse("aLICE").map(|u| u.normalized());
        assert_eq!(a, b);
    }

    #[test]
    fn usernames_without_spaces_or_controls() {
        assert!(Username::parse("").is_err());
        assert!(Username::parse("a b").is_err());
        assert!(Username::parse("a\u{0}").is_err());
        assert!(Username::parse(&"x".repeat(65)).is_err());
        assert!(Username::parse("jürgen.müller@example.com").is_ok());
    }

    #[test]
    fn a_username_keeps_its_spelling_and_folds_for_uniqueness() {
        let name = Username::parse("Alice.Example").map_err(|e| e.to_string());
        assert_eq!(name.as_ref().map(Username::as_str), Ok("Alice.Example"));
        assert_eq!(name.map(|n| n.normalized()), Ok("alice.example".to_owned()));
    }
}
