//! End users: the people who sign in and grant consent.

use serde_json::{Map, Value};
use time::OffsetDateTime;

/// An operator's JSON object attached to a user ([`User::metadata`]).
pub type Metadata = Map<String, Value>;

/// The largest [`User::metadata`] accepted, in bytes of its compact JSON serialisation.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// Why a value is not acceptable as [`User::metadata`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidMetadata {
    #[error("metadata must be a JSON object")]
    NotAnObject,
    #[error("metadata is {0} bytes serialised; at most 16384 (16 KiB) are allowed")]
    TooLarge(usize),
}

/// Checks an operator-supplied value as user metadata: a JSON object of at most
/// [`MAX_METADATA_BYTES`] serialised (compact). `null` is the empty object.
pub fn parse_metadata(value: Value) -> Result<Metadata, InvalidMetadata> {
    let map = match value {
        Value::Null => Metadata::new(),
        Value::Object(map) => map,
        _ => return Err(InvalidMetadata::NotAnObject),
    };
    check_metadata_size(&map)?;
    Ok(map)
}

/// The size rule of [`parse_metadata`] alone.
pub fn check_metadata_size(map: &Metadata) -> Result<(), InvalidMetadata> {
    let size = metadata_json(map).len();
    if size > MAX_METADATA_BYTES {
        return Err(InvalidMetadata::TooLarge(size));
    }
    Ok(())
}

/// The compact JSON text of `map`, as the stores keep it.
pub fn metadata_json(map: &Metadata) -> String {
    // A map of JSON values with string keys always serialises.
    serde_json::to_string(map).unwrap_or_else(|_| "{}".to_owned())
}

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

/// What a user may do in the operator console (and nothing else: roles grant no OAuth scope).
///
/// Written and parsed as `"admin"` and `"reviewer"`, in the admin API, the CLI and the stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// `admin`: the whole operator console.
    Admin,
    /// `reviewer`: registration requests only.
    Reviewer,
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: use admin or reviewer")]
pub struct UnknownRole(pub String);

impl Role {
    /// Every role, in their sort order.
    pub const ALL: [Role; 2] = [Role::Admin, Role::Reviewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
        }
    }

    /// Exactly `"admin"` or `"reviewer"` (no case folding, no spaces).
    pub fn parse(s: &str) -> Result<Self, UnknownRole> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Sorted, without duplicates: the one shape [`User::roles`] has.
pub fn normalize_roles(mut roles: Vec<Role>) -> Vec<Role> {
    roles.sort_unstable();
    roles.dedup();
    roles
}

/// Role names (e.g. from a JSON array or CLI flags) as [`User::roles`]: each must be a known
/// role; the first unknown one is named in the error.
pub fn parse_roles<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Vec<Role>, UnknownRole> {
    let roles = names
        .into_iter()
        .map(Role::parse)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(normalize_roles(roles))
}

/// The roles as the stores keep them: names separated by one space (`""` for none).
pub fn roles_column(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The inverse of [`roles_column`]; any run of whitespace separates.
pub fn parse_roles_column(text: &str) -> Result<Vec<Role>, UnknownRole> {
    parse_roles(text.split_whitespace())
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
    /// The password hash: argon2id (PHC) for passwords set here, or an imported foreign hash
    /// until the first sign-in re-hashes it; `None` until a password is set (such a user cannot
    /// sign in).
    pub password_hash: Option<String>,
    /// Operators' JSON object (admin API, CLI, import); at most [`MAX_METADATA_BYTES`]
    /// serialised, empty by default. Never shown to the user or put in tokens by Gatehouse itself.
    pub metadata: Metadata,
    /// What the user may do in the operator console: sorted, no duplicates
    /// ([`normalize_roles`]); empty for an end user.
    pub roles: Vec<Role>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_may_be_16_kib_and_not_a_byte_more() {
        // {"k":"…"} is 8 bytes around the value.
        let of = |len: usize| {
            let mut map = Metadata::new();
            map.insert(
                "k".to_owned(),
                serde_json::Value::String("v".repeat(len - 8)),
            );
            map
        };
        assert_eq!(
            metadata_json(&of(MAX_METADATA_BYTES)).len(),
            MAX_METADATA_BYTES
        );
        assert!(check_metadata_size(&of(MAX_METADATA_BYTES)).is_ok());
        assert!(check_metadata_size(&of(MAX_METADATA_BYTES + 1)).is_err());
        assert_eq!(MAX_METADATA_BYTES, 16384);
    }

    #[test]
    fn metadata_is_an_object_of_at_most_16_kib() {
        use serde_json::json;
        assert_eq!(parse_metadata(Value::Null), Ok(Metadata::new()));
        assert_eq!(
            parse_metadata(json!({"plan": "pro"})).map(|m| m.len()),
            Ok(1)
        );
        for not_object in [json!([1]), json!("x"), json!(1), json!(true)] {
            assert_eq!(
                parse_metadata(not_object),
                Err(InvalidMetadata::NotAnObject)
            );
        }
        // {"k":"…"} is 8 bytes around the value.
        let at_limit = json!({ "k": "x".repeat(MAX_METADATA_BYTES - 8) });
        assert!(parse_metadata(at_limit).is_ok());
        let over = json!({ "k": "x".repeat(MAX_METADATA_BYTES - 7) });
        assert_eq!(
            parse_metadata(over),
            Err(InvalidMetadata::TooLarge(MAX_METADATA_BYTES + 1))
        );
    }

    #[test]
    fn roles_parse_exactly_and_come_out_sorted_without_duplicates() {
        assert_eq!(Role::parse("admin"), Ok(Role::Admin));
        assert_eq!(Role::parse("reviewer"), Ok(Role::Reviewer));
        for bad in ["Admin", " admin", "", "root", "admin reviewer"] {
            assert_eq!(Role::parse(bad), Err(UnknownRole(bad.to_owned())));
        }
        assert_eq!(
            parse_roles(["reviewer", "admin", "reviewer"]),
            Ok(vec![Role::Admin, Role::Reviewer])
        );
        assert_eq!(
            parse_roles(["admin", "superuser"]).map_err(|e| e.to_string()),
            Err("unknown role \"superuser\": use admin or reviewer".to_owned())
        );
        assert_eq!(parse_roles([]), Ok(vec![]));
    }

    #[test]
    fn roles_round_trip_through_their_column_and_json() {
        let roles = vec![Role::Admin, Role::Reviewer];
        assert_eq!(roles_column(&roles), "admin reviewer");
        assert_eq!(parse_roles_column("admin reviewer"), Ok(roles.clone()));
        assert_eq!(parse_roles_column(""), Ok(vec![]));
        assert_eq!(roles_column(&[]), "");
        let json = serde_json::to_string(&roles).unwrap_or_default();
        assert_eq!(json, r#"["admin","reviewer"]"#);
        let back: Result<Vec<Role>, _> = serde_json::from_str(&json);
        assert_eq!(back.ok(), Some(roles));
        assert!(serde_json::from_str::<Vec<Role>>(r#"["owner"]"#).is_err());
    }

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
