//! Which claims about a user a grant releases, and the `claims` request parameter (OpenID
//! Connect Core §5.5).
//!
//! A claim is released only when a granted scope covers it: `profile` and `email` cover their
//! standard claims (§5.4), a catalogue scope covers the custom claims it names
//! ([`ScopeDefinition::claims`]), read from the user's metadata. `/userinfo` releases everything
//! the granted scopes cover. The ID token releases it all to clients registered with
//! `id_token_claims: scopes`, and to every client the claims its `claims` parameter asked for in
//! `id_token` (optional or essential alike) when a granted scope covers them. A `claims` request
//! never widens a grant: a claim no granted scope covers is not released, however it is asked for.
//!
//! A claim the server sets (`sub`, `iss`, `aud`, …: [`is_server_claim`]) is never taken from
//! metadata, whatever a catalogue says: the catalogue refuses such names, and [`release`] skips
//! them again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::OAuthError;
use crate::scope::{ScopeDefinition, ScopeSet, is_server_claim};
use crate::user::User;

/// Longest `claims` parameter accepted, in bytes. A real request names a few dozen claims; the
/// bound keeps an attacker's parameter from costing memory in the challenge and the code record.
pub const MAX_CLAIMS_PARAM_LEN: usize = 4096;
/// Deepest JSON nesting accepted in a `claims` parameter (the outer object is depth 1; a claim's
/// `values` array of strings is depth 4).
pub const MAX_CLAIMS_PARAM_DEPTH: usize = 6;

/// One requested claim (§5.5.1): `null` or `{"essential": …, "value": …, "values": […]}`.
/// `value` and `values` are accepted and not acted on: the server releases what the user has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRequest {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub essential: bool,
}

/// The `claims` request parameter, as far as it matters here: which claims are asked for in the
/// userinfo response and in the ID token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimsRequest {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub userinfo: BTreeMap<String, ClaimRequest>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub id_token: BTreeMap<String, ClaimRequest>,
}

fn invalid(description: &'static str) -> OAuthError {
    OAuthError::invalid_request(description)
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(members) => 1 + members.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

impl ClaimsRequest {
    /// Parses the parameter's JSON text. Refused (`invalid_request`): more than
    /// [`MAX_CLAIMS_PARAM_LEN`] bytes, not JSON, nested deeper than [`MAX_CLAIMS_PARAM_DEPTH`],
    /// not an object, a `userinfo` or `id_token` member that is not an object, a claim request
    /// that is neither `null` nor an object, an `essential` that is not a boolean, `values` that
    /// is not an array. Other top-level members are ignored (§5.5).
    pub fn parse(text: &str) -> Result<Self, OAuthError> {
        if text.len() > MAX_CLAIMS_PARAM_LEN {
            return Err(invalid("the claims parameter is too long"));
        }
        // serde_json refuses nesting beyond 128 levels by itself; the bound above keeps the
        // parse small, the depth check keeps what is stored flat.
        let value: Value = serde_json::from_str(text)
            .map_err(|_| invalid("the claims parameter is not a JSON object"))?;
        Self::from_value(&value)
    }

    /// The same rules on a JSON value (a request object's `claims` claim).
    pub fn from_value(value: &Value) -> Result<Self, OAuthError> {
        if depth(value) > MAX_CLAIMS_PARAM_DEPTH {
            return Err(invalid("the claims parameter is nested too deeply"));
        }
        let Value::Object(members) = value else {
            return Err(invalid("the claims parameter is not a JSON object"));
        };
        Ok(Self {
            userinfo: member(members, "userinfo")?,
            id_token: member(members, "id_token")?,
        })
    }

    /// The JSON text stored and passed on (normalised: only what was understood).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    pub fn is_empty(&self) -> bool {
        self.userinfo.is_empty() && self.id_token.is_empty()
    }
}

fn member(
    members: &Map<String, Value>,
    name: &str,
) -> Result<BTreeMap<String, ClaimRequest>, OAuthError> {
    let requests = match members.get(name) {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(requests)) => requests,
        Some(_) => {
            return Err(invalid(
                "the claims parameter's userinfo and id_token must be JSON objects",
            ));
        }
    };
    let mut out = BTreeMap::new();
    for (claim, request) in requests {
        let request = match request {
            Value::Null => ClaimRequest::default(),
            Value::Object(fields) => {
                let essential = match fields.get("essential") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => return Err(invalid("a claim's essential must be true or false")),
                };
                if fields
                    .get("values")
                    .is_some_and(|v| !v.is_array() && !v.is_null())
                {
                    return Err(invalid("a claim's values must be a JSON array"));
                }
                ClaimRequest { essential }
            }
            _ => {
                return Err(invalid(
                    "each requested claim must be null or a JSON object",
                ));
            }
        };
        out.insert(claim.clone(), request);
    }
    Ok(out)
}

/// Which claims a response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release<'a> {
    /// Every claim the granted scopes cover (`/userinfo`; the ID tokens of clients registered
    /// with `id_token_claims: scopes`).
    Covered,
    /// Only the claims named here that the granted scopes cover (an ID token's `claims`
    /// request).
    Requested(&'a BTreeMap<String, ClaimRequest>),
}

impl Release<'_> {
    fn wants(&self, claim: &str) -> bool {
        match self {
            Release::Covered => true,
            Release::Requested(names) => names.contains_key(claim),
        }
    }
}

/// The custom claim names the granted scopes name in the catalogue, never a server claim.
fn custom_claims<'a>(
    scope: &'a ScopeSet,
    catalogue: &'a [ScopeDefinition],
) -> impl Iterator<Item = &'a str> + 'a {
    catalogue
        .iter()
        .filter(|d| scope.contains(d.name.as_str()))
        .flat_map(|d| d.claims.iter().map(String::as_str))
        .filter(|c| !is_server_claim(c))
}

/// The claims about `user` that `scope` releases under `release` (never `sub`, which the caller
/// sets): `profile` gives name, username, picture and update time; `email` the address and
/// whether it is verified; a catalogue scope with custom claims the values of `metadata` under
/// those names (a name absent from `metadata` is left out). A custom claim never replaces a
/// standard one, and a server claim never comes from `metadata`.
pub fn release(
    user: &User,
    metadata: &Map<String, Value>,
    scope: &ScopeSet,
    catalogue: &[ScopeDefinition],
    release: Release<'_>,
) -> Map<String, Value> {
    let mut claims = Map::new();
    let mut put = |name: &str, value: Value| {
        if release.wants(name) && !claims.contains_key(name) {
            claims.insert(name.to_owned(), value);
        }
    };
    if scope.contains("profile") {
        put("preferred_username", json!(user.username));
        put(
            "name",
            json!(user.name.clone().unwrap_or_else(|| user.username.clone())),
        );
        if let Some(picture) = &user.picture {
            put("picture", json!(picture));
        }
        put("updated_at", json!(user.updated_at.unix_timestamp()));
    }
    if scope.contains("email")
        && let Some(email) = &user.email
    {
        put("email", json!(email));
        put("email_verified", json!(user.email_verified));
    }
    for name in custom_claims(scope, catalogue) {
        if let Some(value) = metadata.get(name) {
            put(name, value.clone());
        }
    }
    claims
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn nested(levels: usize) -> String {
        // `levels` objects inside each other under an ignored top-level member.
        let mut inner = "{}".to_owned();
        for _ in 1..levels.saturating_sub(1) {
            inner = format!("{{\"a\":{inner}}}");
        }
        format!("{{\"x\":{inner}}}")
    }

    #[test]
    fn the_size_and_depth_bounds_are_exact() {
        assert!(ClaimsRequest::parse(&nested(MAX_CLAIMS_PARAM_DEPTH)).is_ok());
        let deep = ClaimsRequest::parse(&nested(MAX_CLAIMS_PARAM_DEPTH + 1)).unwrap_err();
        assert!(deep.description.contains("nested too deeply"), "{deep:?}");
        let padded = |len: usize| format!("{{\"x\":\"{}\"}}", "a".repeat(len - 8));
        assert_eq!(padded(MAX_CLAIMS_PARAM_LEN).len(), MAX_CLAIMS_PARAM_LEN);
        assert!(ClaimsRequest::parse(&padded(MAX_CLAIMS_PARAM_LEN)).is_ok());
        let long = ClaimsRequest::parse(&padded(MAX_CLAIMS_PARAM_LEN + 1)).unwrap_err();
        assert!(long.description.contains("too long"), "{long:?}");
    }

    #[test]
    fn a_request_for_userinfo_claims_only_is_not_empty() {
        let userinfo = ClaimsRequest::parse(r#"{"userinfo":{"email":null}}"#).unwrap();
        assert!(!userinfo.is_empty());
        let id_token = ClaimsRequest::parse(r#"{"id_token":{"email":null}}"#).unwrap();
        assert!(!id_token.is_empty());
        assert!(ClaimsRequest::parse("{}").unwrap().is_empty());
    }
    use crate::error::ErrorCode;
    use crate::scope::ScopeName;
    use time::OffsetDateTime;

    fn user() -> User {
        User {
            id: "user-alice".into(),
            username: "alice".into(),
            email: Some("alice@example.com".into()),
            email_verified: true,
            name: Some("Alice".into()),
            picture: None,
            disabled: false,
            password_hash: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
            metadata: Default::default(),
            roles: Vec::new(),
        }
    }

    fn catalogue(claims: &[&str]) -> Vec<ScopeDefinition> {
        vec![ScopeDefinition {
            name: ScopeName::parse("patreon").unwrap(),
            label: "Your Patreon membership".into(),
            description: String::new(),
            hidden: false,
            claims: claims.iter().map(|c| (*c).to_owned()).collect(),
        }]
    }

    fn metadata() -> Map<String, Value> {
        json!({"patreon": {"tier": "gold"}, "sub": "admin", "iss": "https://evil.example",
               "email": "mallory@example.com", "other": 1})
        .as_object()
        .cloned()
        .unwrap()
    }

    fn scope(s: &str) -> ScopeSet {
        ScopeSet::parse(s).unwrap()
    }

    fn refused(text: &str) -> String {
        match ClaimsRequest::parse(text) {
            Ok(r) => panic!("accepted {text}: {r:?}"),
            Err(e) => {
                assert_eq!(e.code, ErrorCode::InvalidRequest);
                e.description.to_string()
            }
        }
    }

    #[test]
    fn parses_optional_and_essential_requests_with_values() {
        let r = ClaimsRequest::parse(
            r#"{"userinfo":{"email":null,"name":{"essential":true}},
                "id_token":{"email":{"essential":false,"value":"a@b.c"},
                            "acr":{"values":["urn:x","urn:y"]}},"other":5}"#,
        )
        .unwrap();
        assert_eq!(r.userinfo.len(), 2);
        assert!(r.userinfo["name"].essential && !r.userinfo["email"].essential);
        assert_eq!(r.id_token.keys().collect::<Vec<_>>(), ["acr", "email"]);
        assert_eq!(
            ClaimsRequest::parse("{}").unwrap(),
            ClaimsRequest::default()
        );
        assert!(
            ClaimsRequest::parse(r#"{"id_token":null}"#)
                .unwrap()
                .is_empty()
        );
        // What is stored reads back the same.
        assert_eq!(ClaimsRequest::parse(&r.to_json()).unwrap(), r);
    }

    #[test]
    fn malformed_claims_parameters_are_invalid_requests() {
        refused("not json");
        refused("[]");
        refused(r#""text""#);
        refused(r#"{"id_token":[]}"#);
        refused(r#"{"userinfo":"email"}"#);
        refused(r#"{"id_token":{"email":true}}"#);
        refused(r#"{"id_token":{"email":{"essential":"yes"}}}"#);
        refused(r#"{"id_token":{"email":{"values":"x"}}}"#);
    }

    #[test]
    fn a_huge_or_deeply_nested_claims_parameter_is_refused() {
        let names: Vec<String> = (0..400).map(|i| format!("\"c{i}\":null")).collect();
        let huge = format!("{{\"id_token\":{{{}}}}}", names.join(","));
        assert!(huge.len() > MAX_CLAIMS_PARAM_LEN);
        assert!(refused(&huge).contains("too long"));
        let nested = format!(
            "{{\"id_token\":{{\"x\":{{\"value\":{}1{}}}}}}}",
            "[".repeat(10),
            "]".repeat(10)
        );
        assert!(refused(&nested).contains("too deeply"));
        let deepest = format!("{}{}", "[".repeat(2000), "]".repeat(2000));
        refused(&deepest);
        // A request object's claim is held to the same depth.
        let value: Value = serde_json::from_str(&nested).unwrap();
        assert!(ClaimsRequest::from_value(&value).is_err());
    }

    #[test]
    fn a_granted_custom_scope_releases_its_claims_from_metadata() {
        let claims = release(
            &user(),
            &metadata(),
            &scope("openid patreon"),
            &catalogue(&["patreon", "missing"]),
            Release::Covered,
        );
        assert_eq!(Value::Object(claims), json!({"patreon": {"tier": "gold"}}));
        let without = release(
            &user(),
            &metadata(),
            &scope("openid profile"),
            &catalogue(&["patreon"]),
            Release::Covered,
        );
        assert!(!without.contains_key("patreon"));
        assert_eq!(without["preferred_username"], "alice");
    }

    #[test]
    fn metadata_never_supplies_a_server_claim_even_if_a_catalogue_names_it() {
        // A catalogue written before the check, or straight into the store.
        let claims = release(
            &user(),
            &metadata(),
            &scope("openid email patreon"),
            &catalogue(&["sub", "iss", "email", "patreon"]),
            Release::Covered,
        );
        assert!(!claims.contains_key("sub") && !claims.contains_key("iss"));
        assert_eq!(claims["email"], "alice@example.com");
        let requested = ClaimsRequest::parse(r#"{"id_token":{"sub":null,"iss":null}}"#).unwrap();
        let claims = release(
            &user(),
            &metadata(),
            &scope("openid patreon"),
            &catalogue(&["sub", "iss"]),
            Release::Requested(&requested.id_token),
        );
        assert!(claims.is_empty(), "{claims:?}");
    }

    #[test]
    fn a_claims_request_releases_only_what_a_granted_scope_covers() {
        let requested =
            ClaimsRequest::parse(r#"{"id_token":{"email":{"essential":true},"patreon":null}}"#)
                .unwrap();
        let asked = Release::Requested(&requested.id_token);
        let cat = catalogue(&["patreon"]);
        let granted = release(&user(), &metadata(), &scope("openid email"), &cat, asked);
        assert_eq!(
            Value::Object(granted),
            json!({"email": "alice@example.com"})
        );
        let not_granted = release(&user(), &metadata(), &scope("openid profile"), &cat, asked);
        assert!(not_granted.is_empty(), "{not_granted:?}");
        let patreon = release(&user(), &metadata(), &scope("openid patreon"), &cat, asked);
        assert_eq!(Value::Object(patreon), json!({"patreon": {"tier": "gold"}}));
    }
}
