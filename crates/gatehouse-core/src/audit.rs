//! The audit log: who changed what through the admin API (and so through the operator console
//! and the CLI, which are its clients), when, and which fields.
//!
//! An [`AuditEvent`] never holds a secret, password, hash, token or key material: the recorder
//! (the admin API's audit middleware) replaces the value of every such field with
//! [`REDACTED`] before an event is built, using [`redact_changes`] here.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// Who made a change: the kind of caller, and who exactly when that is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// `user`: an operator signed into the console (id = user id, name = username).
    User,
    /// `admin_token`: a request that presented `GATEHOUSE_ADMIN_TOKEN`.
    AdminToken,
    /// `cli`: the `gatehouse` CLI on the loopback-only admin listener, without a token (it sends
    /// `User-Agent: gatehouse-cli/<version>`).
    Cli,
    /// `loopback`: any other caller of the loopback-only admin listener.
    Loopback,
}

/// An actor kind that is not one of [`ActorKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown actor kind {0:?}: use user, admin_token, cli or loopback")]
pub struct UnknownActorKind(pub String);

impl ActorKind {
    pub const ALL: [ActorKind; 4] = [
        ActorKind::User,
        ActorKind::AdminToken,
        ActorKind::Cli,
        ActorKind::Loopback,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::AdminToken => "admin_token",
            ActorKind::Cli => "cli",
            ActorKind::Loopback => "loopback",
        }
    }

    pub fn parse(s: &str) -> Result<Self, UnknownActorKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownActorKind(s.to_owned()))
    }
}

impl std::fmt::Display for ActorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who made a change.
///
/// The operator console puts one into each admin API request it makes in process, as a request
/// extension (`request.extensions_mut().insert(AuditActor::user(id, username))`); requests from
/// outside get theirs from the admin token or the `User-Agent` (never from a header naming an
/// actor).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AuditActor {
    pub kind: ActorKind,
    /// The user id for [`ActorKind::User`]; `None` for the other kinds.
    pub id: Option<String>,
    /// The username for [`ActorKind::User`]; the client's `User-Agent` (shortened) for
    /// [`ActorKind::Cli`] and [`ActorKind::Loopback`]; `None` for [`ActorKind::AdminToken`].
    pub name: Option<String>,
}

/// The longest actor name kept (a `User-Agent` can be long).
pub const MAX_ACTOR_NAME_CHARS: usize = 128;

impl AuditActor {
    /// An operator signed into the console.
    pub fn user(id: impl Into<String>, username: impl Into<String>) -> Self {
        Self {
            kind: ActorKind::User,
            id: Some(id.into()),
            name: Some(username.into()),
        }
    }

    /// A request that presented the admin token.
    pub fn admin_token() -> Self {
        Self {
            kind: ActorKind::AdminToken,
            id: None,
            name: None,
        }
    }

    /// The CLI on loopback; `user_agent` as it sent it.
    pub fn cli(user_agent: &str) -> Self {
        Self {
            kind: ActorKind::Cli,
            id: None,
            name: Some(shorten(user_agent)),
        }
    }

    /// Anything else on the loopback listener; its `User-Agent`, if it sent one.
    pub fn loopback(user_agent: Option<&str>) -> Self {
        Self {
            kind: ActorKind::Loopback,
            id: None,
            name: user_agent.filter(|ua| !ua.is_empty()).map(shorten),
        }
    }
}

/// At most [`MAX_ACTOR_NAME_CHARS`] characters, control characters dropped.
fn shorten(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_ACTOR_NAME_CHARS)
        .collect()
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// A UUID v7, so ids sort by the time they were made.
    pub id: String,
    /// When the change was made (whole seconds, as every stored timestamp).
    pub at: OffsetDateTime,
    pub actor: AuditActor,
    /// What was done, `<target kind>.<verb>`: `client.create`, `client.secret.rotate`,
    /// `user.password.set`, `registration_request.approve`, …
    pub action: String,
    /// What kind of thing was changed: `client`, `user`, `scope`, `key`, …
    pub target_kind: String,
    /// Which one (a client id, user id, scope name, …); `None` when the change has no single
    /// target (e.g. a key rotation of every algorithm, a user import).
    pub target_id: Option<String>,
    /// The fields the request set, secrets as [`REDACTED`].
    pub changes: Map<String, Value>,
}

/// Filter of [`AuditStore::list_audit_events`](crate::store::AuditStore::list_audit_events);
/// every field given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// An actor kind (`user`, `admin_token`, `cli`, `loopback`), or an actor's id or name
    /// (a user id or username), exactly.
    pub actor: Option<String>,
    /// A target kind (`client`, `user`, …) or a target id, exactly.
    pub target: Option<String>,
    /// An action exactly (`client.create`), or every action under a prefix written with a
    /// trailing `*` (`client.*`).
    pub action: Option<String>,
    /// At or after this instant.
    pub since: Option<OffsetDateTime>,
    /// At or before this instant.
    pub until: Option<OffsetDateTime>,
}

/// What a redacted value is replaced with: the field's name stays, so an auditor sees that a
/// password or secret was set, never what it was.
pub const REDACTED: &str = "[redacted]";

/// Words that make a field name one whose value may be a secret, password, hash, token or key
/// material (matched in the lowercased name, anywhere in it).
const SECRET_WORDS: &[&str] = &[
    "secret",
    "password",
    "passwd",
    "passphrase",
    "hash",
    "token",
    "key",
    "jwk",
    "private",
    "credential",
    "assertion",
    "cookie",
    "authorization",
    "otp",
    "seed",
    "salt",
    "signature",
    "cert",
    "pem",
];

/// Field names that contain one of [`SECRET_WORDS`] but only ever hold a public setting (an
/// algorithm, a method's name, a lifetime), so their values are kept.
const PUBLIC_FIELDS: &[&str] = &[
    "token_endpoint_auth_method",
    "token_endpoint_auth_signing_alg",
    "access_token_strategy",
    "id_token_signed_response_alg",
    "id_token_claims",
    "userinfo_signed_response_alg",
    "request_object_signing_alg",
    "authorization_signed_response_alg",
    "tls_client_certificate_bound_access_tokens",
    "dpop_bound_access_tokens",
    "skip_consent",
    "backchannel_logout_session_required",
    "frontchannel_logout_session_required",
];

/// Whether the value of a field called `name` may hold a secret, password, hash, token or key
/// material, and so must never be recorded.
pub fn is_secret_field(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if PUBLIC_FIELDS.contains(&lower.as_str()) {
        return false;
    }
    SECRET_WORDS.iter().any(|w| lower.contains(w))
}

/// Whether a string value looks like key material or a bearer credential whatever field it is
/// in: a PEM block, or one of Gatehouse's own token prefixes.
fn looks_secret(text: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "gh_at_", "gh_rt_", "gh_ac_", "$argon2", "$2a$", "$2b$", "$2y$", "$scrypt$", "$pbkdf2",
    ];
    let trimmed = text.trim_start();
    trimmed.contains("-----BEGIN") || PREFIXES.iter().any(|p| trimmed.starts_with(p))
}

/// The longest string value kept in an event's changes; longer ones are cut (with `…`).
pub const MAX_CHANGE_STRING_CHARS: usize = 1024;

/// The deepest nesting of objects and arrays kept; deeper values are replaced by `"…"`.
const MAX_CHANGE_DEPTH: usize = 8;

/// `fields` as an event's `changes`: the value of every field named like a secret
/// ([`is_secret_field`]), at any depth, and every string that looks like key material or a token,
/// replaced with [`REDACTED`]; long strings cut at [`MAX_CHANGE_STRING_CHARS`].
pub fn redact_changes(fields: Map<String, Value>) -> Map<String, Value> {
    fields
        .into_iter()
        .map(|(name, value)| {
            let value = redact_field(&name, value, 0);
            (name, value)
        })
        .collect()
}

fn redact_field(name: &str, value: Value, depth: usize) -> Value {
    if is_secret_field(name) && !value.is_null() {
        return Value::String(REDACTED.to_owned());
    }
    redact_value(value, depth)
}

fn redact_value(value: Value, depth: usize) -> Value {
    if depth >= MAX_CHANGE_DEPTH {
        return Value::String("…".to_owned());
    }
    match value {
        Value::String(s) if looks_secret(&s) => Value::String(REDACTED.to_owned()),
        Value::String(s) if s.chars().count() > MAX_CHANGE_STRING_CHARS => {
            let mut cut: String = s.chars().take(MAX_CHANGE_STRING_CHARS).collect();
            cut.push('…');
            Value::String(cut)
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = redact_field(&k, v, depth + 1);
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| redact_value(v, depth + 1))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn strings_are_kept_up_to_the_longest_length_and_nesting_is_cut_at_its_depth() {
        let longest = "word ".repeat(MAX_CHANGE_STRING_CHARS / 5);
        let longest = format!(
            "{longest}{}",
            "x".repeat(MAX_CHANGE_STRING_CHARS - longest.len())
        );
        let kept = redact_changes(object(json!({"description": longest.clone()})));
        assert_eq!(kept["description"], json!(longest));
        let cut = redact_changes(object(json!({"description": format!("{longest}y")})));
        assert_ne!(cut["description"], json!(format!("{longest}y")));

        let mut nested = json!("deep");
        for _ in 0..(MAX_CHANGE_DEPTH + 2) {
            nested = json!([nested]);
        }
        let changes = redact_changes(object(json!({"list": nested})));
        let text = serde_json::to_string(&changes).unwrap_or_default();
        assert!(!text.contains("deep"), "{text}");
        assert!(text.contains('…'), "{text}");
        let mut nested = json!("deep");
        for _ in 0..(MAX_CHANGE_DEPTH + 2) {
            nested = json!({ "inner": nested });
        }
        let changes = redact_changes(object(json!({"metadata": nested})));
        let text = serde_json::to_string(&changes).unwrap_or_default();
        assert!(!text.contains("deep"), "{text}");
        assert!(text.contains('…'), "{text}");
    }

    #[test]
    fn actor_kinds_have_their_names() {
        for kind in ActorKind::ALL {
            assert_eq!(ActorKind::parse(kind.as_str()), Ok(kind));
            assert_eq!(
                serde_json::to_value(kind).ok(),
                Some(Value::String(kind.as_str().to_owned()))
            );
        }
        assert!(ActorKind::parse("root").is_err());
        assert_eq!(ActorKind::AdminToken.as_str(), "admin_token");
    }

    #[test]
    fn secret_fields_are_redacted_at_every_depth_and_kept_by_name() {
        let changes = redact_changes(object(json!({
            "client_name": "Neon",
            "client_secret": "s3cr3t-value",
            "password": "hunter22-long",
            "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$abc$def",
            "jwks": {"keys": [{"kty": "RSA", "d": "private-part"}]},
            "token_endpoint_auth_method": "client_secret_basic",
            "metadata": {"api_key": "k-123", "plan": "pro", "deep": [{"refresh_token": "x"}]},
            "redirect_uris": ["https://app.example/cb"],
            "note": "-----BEGIN PRIVATE KEY-----\nMIIE...",
            "other": "gh_rt_abcdef",
            "nothing": null,
        })));
        assert_eq!(changes["client_name"], "Neon");
        assert_eq!(changes["client_secret"], REDACTED);
        assert_eq!(changes["password"], REDACTED);
        assert_eq!(changes["password_hash"], REDACTED);
        assert_eq!(changes["jwks"], REDACTED);
        assert_eq!(changes["token_endpoint_auth_method"], "client_secret_basic");
        assert_eq!(changes["metadata"]["api_key"], REDACTED);
        assert_eq!(changes["metadata"]["plan"], "pro");
        assert_eq!(changes["metadata"]["deep"][0]["refresh_token"], REDACTED);
        assert_eq!(changes["redirect_uris"][0], "https://app.example/cb");
        assert_eq!(changes["note"], REDACTED);
        assert_eq!(changes["other"], REDACTED);
        assert_eq!(changes["nothing"], Value::Null);
        let text = Value::Object(changes).to_string();
        for secret in [
            "s3cr3t",
            "hunter22",
            "argon2id",
            "private-part",
            "k-123",
            "MIIE",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    #[test]
    fn long_and_deep_values_are_cut() {
        let changes = redact_changes(object(json!({
            "description": "x".repeat(5000),
            "deep": [[[[[[[[[["bottom"]]]]]]]]]],
        })));
        let description = changes["description"].as_str().unwrap_or_default();
        assert_eq!(description.chars().count(), MAX_CHANGE_STRING_CHARS + 1);
        assert!(!Value::Object(changes).to_string().contains("bottom"));
    }

    #[test]
    fn actor_names_are_short_and_printable() {
        let long = format!("gatehouse-cli/1.0 {}\n", "y".repeat(500));
        let actor = AuditActor::cli(&long);
        let name = actor.name.unwrap_or_default();
        assert_eq!(name.chars().count(), MAX_ACTOR_NAME_CHARS);
        assert!(!name.contains('\n'));
        assert_eq!(AuditActor::loopback(Some("")).name, None);
        assert_eq!(
            AuditActor::user("u1", "alice"),
            AuditActor {
                kind: ActorKind::User,
                id: Some("u1".into()),
                name: Some("alice".into())
            }
        );
    }
}
