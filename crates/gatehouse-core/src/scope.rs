//! Scopes (RFC 6749 §3.3) and the scope catalogue shown on the consent screen.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Technical scopes: required by the protocol, never listed on the consent screen.
pub const TECHNICAL_SCOPES: [&str; 3] = ["openid", "offline", "offline_access"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid scope token {0:?}: scope tokens are non-empty and use printable ASCII except space, '\"' and '\\'"
)]
pub struct InvalidScope(pub String);

/// One scope token: `1*( %x21 / %x23-5B / %x5D-7E )` per RFC 6749 §3.3.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ScopeName(String);

impl ScopeName {
    pub fn parse(token: &str) -> Result<Self, InvalidScope> {
        let valid = !token.is_empty()
            && token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
        if valid {
            Ok(Self(token.to_owned()))
        } else {
            Err(InvalidScope(token.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_technical(&self) -> bool {
        TECHNICAL_SCOPES.contains(&self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for ScopeName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ScopeName::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for ScopeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A set of scopes in the order first given, without duplicates.
///
/// Order is kept because operators and partners read scope strings back (the CLI's `clients
/// list` table, the `scope` parameter on the callback) and expect them as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<ScopeName>);

impl ScopeSet {
    /// Parses a space-delimited scope string. Runs of spaces are tolerated; any invalid token
    /// fails the whole string.
    pub fn parse(s: &str) -> Result<Self, InvalidScope> {
        let mut set = Self::default();
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            set.insert(ScopeName::parse(token)?);
        }
        Ok(set)
    }

    pub fn insert(&mut self, scope: ScopeName) {
        if !self.0.contains(&scope) {
            self.0.push(scope);
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|s| s.as_str() == name)
    }

    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.0.iter().all(|s| other.contains(s.as_str()))
    }

    /// The scopes of `self` that `other` lacks.
    pub fn missing_from<'a>(
        &'a self,
        other: &'a ScopeSet,
    ) -> impl Iterator<Item = &'a ScopeName> + 'a {
        self.0.iter().filter(|s| !other.contains(s.as_str()))
    }

    /// The scopes of `self` that `allowed` lacks, space-separated for an error description
    /// (scope tokens hold no character RFC 6749 §5.2 forbids there); `None` when there are none.
    pub fn refused_by(&self, allowed: &ScopeSet) -> Option<String> {
        let refused: Vec<&str> = self.missing_from(allowed).map(ScopeName::as_str).collect();
        (!refused.is_empty()).then(|| refused.join(" "))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &ScopeName> {
        self.0.iter()
    }

    /// Whether a refresh token may be issued (`offline` is Hydra's name, `offline_access` OIDC's).
    pub fn grants_offline_access(&self) -> bool {
        self.contains("offline") || self.contains("offline_access")
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(s.as_str())?;
        }
        Ok(())
    }
}

impl FromIterator<ScopeName> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = ScopeName>>(iter: I) -> Self {
        let mut set = Self::default();
        for s in iter {
            set.insert(s);
        }
        set
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ScopeSet::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A catalogue entry: what the consent screen says about a scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeDefinition {
    pub name: ScopeName,
    pub label: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub hidden: bool,
    /// Custom claims this scope releases: each is read from the user's `metadata` under the same
    /// name, into `/userinfo` and the ID token. Never a claim the server controls
    /// ([`check_claim_name`]); the standard scopes' OpenID Connect claims need no entry here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<String>,
}

/// Registered JWT and OpenID Connect claims whose values the server sets (who, for whom, when,
/// how): no scope may release a value of its own under these names.
pub const RESERVED_CLAIMS: [&str; 17] = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "sid",
    "jti",
    "at_hash",
    "c_hash",
    "cnf",
    "scope",
    "client_id",
];

/// The standard claims the `profile` and `email` scopes release from the user record (OpenID
/// Connect Core §5.4). A custom claim may not take these names either: a relying party trusts
/// `email` and `email_verified` to be the server's, not an operator-set metadata value.
pub const STANDARD_USER_CLAIMS: [(&str, &[&str]); 2] = [
    (
        "profile",
        &["preferred_username", "name", "picture", "updated_at"],
    ),
    ("email", &["email", "email_verified"]),
];

/// Longest custom claim name.
pub const MAX_CLAIM_NAME_LEN: usize = 64;
/// Most custom claims one scope may release.
pub const MAX_CLAIMS_PER_SCOPE: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidClaim {
    #[error(
        "invalid claim name {0:?}: use 1 to 64 characters, a letter or '_' first, then letters, digits, '_', '-', '.' or ':'"
    )]
    Shape(String),
    #[error("{0:?} is a claim the server sets; a scope cannot release a value of its own for it")]
    Reserved(String),
    #[error("a scope releases at most 32 claims")]
    TooMany,
}

/// Whether the server sets `name` itself: a registered claim ([`RESERVED_CLAIMS`]) or one of the
/// standard user claims ([`STANDARD_USER_CLAIMS`]).
pub fn is_server_claim(name: &str) -> bool {
    RESERVED_CLAIMS.contains(&name)
        || STANDARD_USER_CLAIMS
            .iter()
            .any(|(_, claims)| claims.contains(&name))
}

/// A custom claim name: `[A-Za-z_][A-Za-z0-9_.:-]{0,63}`, never one the server sets.
pub fn check_claim_name(name: &str) -> Result<(), InvalidClaim> {
    let mut bytes = name.bytes();
    let shaped = name.len() <= MAX_CLAIM_NAME_LEN
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'));
    if !shaped {
        return Err(InvalidClaim::Shape(name.to_owned()));
    }
    if is_server_claim(name) {
        return Err(InvalidClaim::Reserved(name.to_owned()));
    }
    Ok(())
}

/// A scope's custom claims as an operator lists them: each checked, duplicates dropped, order
/// kept.
pub fn parse_claims<S: AsRef<str>>(names: &[S]) -> Result<Vec<String>, InvalidClaim> {
    let mut claims: Vec<String> = Vec::new();
    for name in names {
        let name = name.as_ref();
        check_claim_name(name)?;
        if !claims.iter().any(|c| c == name) {
            claims.push(name.to_owned());
        }
    }
    if claims.len() > MAX_CLAIMS_PER_SCOPE {
        return Err(InvalidClaim::TooMany);
    }
    Ok(claims)
}

/// The catalogue a fresh server starts with: the technical scopes (hidden: a user is never asked
/// about them) and the two OpenID Connect claim scopes the userinfo endpoint honours.
pub fn default_catalogue() -> Vec<ScopeDefinition> {
    let entry = |name: &str, label: &str, description: &str, hidden: bool| ScopeDefinition {
        name: ScopeName(name.to_owned()),
        label: label.to_owned(),
        description: description.to_owned(),
        hidden,
        claims: Vec::new(),
    };
    vec![
        entry(
            "openid",
            "Sign you in",
            "Confirms who you are to the application.",
            true,
        ),
        entry(
            "offline",
            "Stay connected",
            "Lets the application keep access while you are away.",
            true,
        ),
        entry(
            "offline_access",
            "Stay connected",
            "Lets the application keep access while you are away.",
            true,
        ),
        entry(
            "profile",
            "Your name and profile picture",
            "Your display name, username and picture.",
            false,
        ),
        entry(
            "email",
            "Your email address",
            "Your email address and whether it is verified.",
            false,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_partner_scope_string_in_order() {
        let s = ScopeSet::parse("openid offline offline_access urn:neoncloud:projects:read")
            .unwrap_or_default();
        assert_eq!(s.len(), 4);
        assert_eq!(
            s.to_string(),
            "openid offline offline_access urn:neoncloud:projects:read"
        );
        assert!(s.grants_offline_access());
    }

    #[test]
    fn rejects_quote_backslash_and_control_characters() {
        for bad in ["a\"b", "a\\b", "tab\there", "é", "\u{7f}"] {
            assert!(ScopeName::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(ScopeSet::parse("openid bad\"one").is_err());
    }

    #[test]
    fn deduplicates_and_tolerates_extra_spaces() {
        let s = ScopeSet::parse("  openid  openid email ").unwrap_or_default();
        assert_eq!(s.to_string(), "openid email");
    }

    #[test]
    fn subset_and_missing() {
        let client = ScopeSet::parse("openid profile email").unwrap_or_default();
        let asked = ScopeSet::parse("openid admin").unwrap_or_default();
        assert!(!asked.is_subset_of(&client));
        let missing: Vec<_> = asked
            .missing_from(&client)
            .map(|s| s.as_str().to_owned())
            .collect();
        assert_eq!(missing, vec!["admin"]);
    }

    #[test]
    fn default_catalogue_hides_technical_scopes() {
        for def in default_catalogue() {
            assert_eq!(def.hidden, def.name.is_technical(), "{}", def.name);
        }
    }

    #[test]
    fn a_set_reports_what_it_holds() {
        let empty = ScopeSet::default();
        assert!(empty.is_empty() && empty.iter().next().is_none());
        let set = ScopeSet::parse("openid profile").unwrap_or_default();
        assert!(!set.is_empty());
        assert_eq!(
            set.iter().map(ScopeName::as_str).collect::<Vec<_>>(),
            ["openid", "profile"]
        );
        let collected: ScopeSet = set.iter().cloned().collect();
        assert_eq!(collected, set);
    }

    #[test]
    fn offline_access_needs_one_of_its_two_names() {
        let has = |s: &str| {
            ScopeSet::parse(s)
                .unwrap_or_default()
                .grants_offline_access()
        };
        assert!(has("openid offline"));
        assert!(has("openid offline_access"));
        assert!(!has("openid profile"));
        assert!(!has(""));
    }

    #[test]
    fn a_fresh_catalogue_hides_the_technical_scopes_and_names_the_claim_scopes() {
        let catalogue = default_catalogue();
        let names: Vec<&str> = catalogue.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(
            names,
            ["openid", "offline", "offline_access", "profile", "email"]
        );
        for d in &catalogue {
            assert_eq!(d.hidden, d.name.is_technical(), "{}", d.name);
            assert!(!d.label.is_empty() && !d.description.is_empty());
        }
    }

    #[test]
    fn claim_names_have_a_sensible_shape() {
        for good in ["patreon", "_x", "neos:tier", "a.b-c_d", &"p".repeat(64)] {
            assert_eq!(check_claim_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "1st",
            "-x",
            "with space",
            "é",
            "a\"b",
            "a/b",
            &"p".repeat(65),
        ] {
            assert!(
                matches!(check_claim_name(bad), Err(InvalidClaim::Shape(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_scope_may_not_release_a_claim_the_server_sets() {
        for reserved in RESERVED_CLAIMS
            .iter()
            .chain(["email", "email_verified", "name", "preferred_username"].iter())
        {
            assert_eq!(
                check_claim_name(reserved),
                Err(InvalidClaim::Reserved((*reserved).to_owned()))
            );
        }
        assert!(parse_claims(&["patreon", "sub"]).is_err());
        assert!(!is_server_claim("patreon"));
    }

    #[test]
    fn parsed_claims_keep_their_order_without_duplicates_and_are_bounded() {
        assert_eq!(
            parse_claims(&["b", "a", "b"]),
            Ok(vec!["b".to_owned(), "a".to_owned()])
        );
        let many: Vec<String> = (0..=MAX_CLAIMS_PER_SCOPE)
            .map(|i| format!("c{i}"))
            .collect();
        assert_eq!(parse_claims(&many), Err(InvalidClaim::TooMany));
        assert_eq!(
            parse_claims(&many[1..]).map(|c| c.len()),
            Ok(MAX_CLAIMS_PER_SCOPE)
        );
    }
}
