//! Row shapes shared by both backends, and their conversion to domain types.
//!
//! Rows are read as tuples (no `FromRow` derive, hence no sqlx proc-macros). Each tuple's field
//! order matches the column-list macro next to it, which every `SELECT`/`RETURNING` uses.
//! Timestamps are whole Unix seconds (see the comment atop the migrations).

use gatehouse_core::audit::{ActorKind, AuditActor, AuditEvent, AuditQuery};
use gatehouse_core::client::{Client, ClientId, ClientMetadata, ClientSecretHashes};
use gatehouse_core::grant::SessionClaims;
use gatehouse_core::registration_request::{AppRequest, RegistrationRequest, RequestStatus};
use gatehouse_core::scope::{ScopeDefinition, ScopeName, ScopeSet};
use gatehouse_core::store::{
    Consent, Page, PageRequest, RefreshToken, RefreshTokenState, RegistrationToken,
    SigningKeyRecord, StoreError, StoreResult,
};
use gatehouse_core::user::User;
use sqlx::types::Json;
use time::OffsetDateTime;

pub(super) fn unix(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

pub(super) fn unix_opt(t: Option<OffsetDateTime>) -> Option<i64> {
    t.map(unix)
}

pub(super) fn time(column: &str, seconds: i64) -> StoreResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(seconds)
        .map_err(|e| StoreError::Corrupt(format!("{column} = {seconds}: {e}")))
}

pub(super) fn time_opt(column: &str, seconds: Option<i64>) -> StoreResult<Option<OffsetDateTime>> {
    seconds.map(|s| time(column, s)).transpose()
}

fn scope_set(column: &str, text: &str) -> StoreResult<ScopeSet> {
    ScopeSet::parse(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

/// The page size as a SQL `LIMIT` that fetches one extra row, which tells whether a next page
/// exists without a second query.
pub(super) fn limit_plus_one(size: u32) -> i64 {
    i64::from(size.clamp(1, PageRequest::MAX_SIZE)) + 1
}

/// Cuts the extra row fetched by [`limit_plus_one`] and names the key the next page starts after.
pub(super) fn page<T>(mut items: Vec<T>, size: u32, key: impl Fn(&T) -> String) -> Page<T> {
    let size = size.clamp(1, PageRequest::MAX_SIZE) as usize;
    let next = if items.len() > size {
        items.truncate(size);
        items.last().map(key)
    } else {
        None
    };
    Page { items, next }
}

macro_rules! client_columns {
    () => {
        "id, incarnation, metadata, secret_hash, previous_secret_hash, previous_secret_expires_at, created_at, updated_at"
    };
}
pub(super) use client_columns;

pub(super) type ClientRow = (
    String,
    String,
    Json<ClientMetadata>,
    Option<String>,
    Option<String>,
    Option<i64>,
    i64,
    i64,
);

pub(super) fn client(row: ClientRow) -> StoreResult<Client> {
    let (
        id,
        incarnation,
        Json(metadata),
        secret_hash,
        previous,
        previous_expires_at,
        created_at,
        updated_at,
    ) = row;
    let secret = match secret_hash {
        Some(current) => Some(ClientSecretHashes {
            current,
            previous,
            previous_expires_at: time_opt("previous_secret_expires_at", previous_expires_at)?,
        }),
        None => None,
    };
    Ok(Client {
        id: parse_client_id("clients.id", &id)?,
        incarnation,
        metadata,
        secret,
        created_at: time("created_at", created_at)?,
        updated_at: time("updated_at", updated_at)?,
    })
}

/// The secret columns of a client: `(secret_hash, previous_secret_hash, previous_secret_expires_at)`.
pub(super) fn client_secret_columns(client: &Client) -> (Option<&str>, Option<&str>, Option<i64>) {
    match &client.secret {
        Some(s) => (
            Some(s.current.as_str()),
            s.previous.as_deref(),
            unix_opt(s.previous_expires_at),
        ),
        None => (None, None, None),
    }
}

macro_rules! scope_columns {
    () => {
        "name, label, description, hidden, claims"
    };
}
pub(super) use scope_columns;

pub(super) type ScopeRow = (String, String, String, bool, String);

fn parse_client_id(column: &str, id: &str) -> StoreResult<ClientId> {
    ClientId::parse(id).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

pub(super) fn scope(
    (name, label, description, hidden, claims): ScopeRow,
) -> StoreResult<ScopeDefinition> {
    let name =
        ScopeName::parse(&name).map_err(|e| StoreError::Corrupt(format!("scopes.name: {e}")))?;
    Ok(ScopeDefinition {
        name,
        label,
        description,
        hidden,
        claims: claims
            .split(' ')
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

macro_rules! user_columns {
    () => {
        "id, username, email, email_verified, name, picture, disabled, password_hash, created_at, updated_at, metadata, roles"
    };
}
pub(super) use user_columns;

pub(super) type UserRow = (
    String,
    String,
    Option<String>,
    bool,
    Option<String>,
    Option<String>,
    bool,
    Option<String>,
    i64,
    i64,
    String,
    String,
);

pub(super) fn user(row: UserRow) -> StoreResult<User> {
    let (
        id,
        username,
        email,
        email_verified,
        name,
        picture,
        disabled,
        password_hash,
        created_at,
        updated_at,
        metadata,
        roles,
    ) = row;
    let metadata = serde_json::from_str(&metadata)
        .map_err(|e| StoreError::Corrupt(format!("users.metadata of {id:?}: {e}")))?;
    let roles = gatehouse_core::user::parse_roles_column(&roles)
        .map_err(|e| StoreError::Corrupt(format!("users.roles of {id:?}: {e}")))?;
    Ok(User {
        id,
        username,
        email,
        email_verified,
        name,
        picture,
        disabled,
        password_hash,
        metadata,
        roles,
        created_at: time("created_at", created_at)?,
        updated_at: time("updated_at", updated_at)?,
    })
}

/// The case-folded username that carries the uniqueness constraint; the same folding as
/// `gatehouse_core::user::Username::normalized`.
pub(super) fn normalize_username(username: &str) -> String {
    username.to_lowercase()
}

/// A `LIKE` pattern matching `needle` anywhere, with the pattern characters escaped (`\` is the
/// escape character named in the queries).
pub(super) fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

macro_rules! consent_columns {
    () => {
        "subject, client_id, scope, granted_at, expires_at"
    };
}
pub(super) use consent_columns;

pub(super) type ConsentRow = (String, String, String, i64, Option<i64>);

pub(super) fn consent(
    (subject, client_id, scope, granted_at, expires_at): ConsentRow,
) -> StoreResult<Consent> {
    Ok(Consent {
        subject,
        client_id: parse_client_id("consents.client_id", &client_id)?,
        scope: scope_set("consents.scope", &scope)?,
        granted_at: time("granted_at", granted_at)?,
        expires_at: time_opt("expires_at", expires_at)?,
    })
}

macro_rules! refresh_columns {
    () => {
        "token_hash, family_id, client_id, client_incarnation, subject, scope, auth_time, issued_at, expires_at, resources, dpop_jkt, session_claims"
    };
}
pub(super) use refresh_columns;

pub(super) type RefreshRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    i64,
    i64,
    String,
    String,
    Option<String>,
);

/// RFC 8707 resources in a column: space-separated (a resource indicator is a URI, which has
/// no spaces).
pub(super) fn resources_column(resources: &[String]) -> String {
    resources.join(" ")
}

/// An external consent app's extra claims in a column: JSON, NULL when there are none.
pub(super) fn session_claims_column(claims: &SessionClaims) -> StoreResult<Option<String>> {
    if claims.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(claims)
        .map(Some)
        .map_err(|e| StoreError::Corrupt(format!("refresh_tokens.session_claims: {e}")))
}

fn session_claims(text: Option<String>) -> StoreResult<SessionClaims> {
    match text {
        None => Ok(SessionClaims::default()),
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| StoreError::Corrupt(format!("refresh_tokens.session_claims: {e}"))),
    }
}

pub(super) fn refresh_token(row: RefreshRow) -> StoreResult<RefreshToken> {
    let (
        token_hash,
        family_id,
        client_id,
        client_incarnation,
        subject,
        scope,
        auth_time,
        issued_at,
        expires_at,
        resources,
        dpop_jkt,
        claims,
    ) = row;
    Ok(RefreshToken {
        token_hash,
        family_id,
        client_id: parse_client_id("refresh_tokens.client_id", &client_id)?,
        client_incarnation,
        subject,
        scope: scope_set("refresh_tokens.scope", &scope)?,
        auth_time: time_opt("auth_time", auth_time)?,
        issued_at: time("issued_at", issued_at)?,
        expires_at: time("expires_at", expires_at)?,
        resources: resources.split_whitespace().map(str::to_owned).collect(),
        dpop_jkt,
        session_claims: session_claims(claims)?,
    })
}

/// A token row plus `rotated_at` and the family's `revoked_at`.
pub(super) type RefreshStateRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    i64,
    i64,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

pub(super) fn refresh_token_with_state(
    row: RefreshStateRow,
) -> StoreResult<(RefreshToken, RefreshTokenState)> {
    let (
        hash,
        family,
        client,
        incarnation,
        subject,
        scope,
        auth_time,
        issued_at,
        expires_at,
        resources,
        dpop_jkt,
        claims,
        rotated_at,
        revoked_at,
    ) = row;
    let token = refresh_token((
        hash,
        family,
        client,
        incarnation,
        subject,
        scope,
        auth_time,
        issued_at,
        expires_at,
        resources,
        dpop_jkt,
        claims,
    ))?;
    let state = if revoked_at.is_some() {
        RefreshTokenState::Revoked
    } else if rotated_at.is_some() {
        RefreshTokenState::Rotated
    } else {
        RefreshTokenState::Active
    };
    Ok((token, state))
}

macro_rules! signing_key_columns {
    () => {
        "kid, alg, encrypted_private_key, public_jwk, created_at, retired_at"
    };
}
pub(super) use signing_key_columns;

pub(super) type SigningKeyRow = (String, String, Vec<u8>, String, i64, Option<i64>);

pub(super) fn signing_key(row: SigningKeyRow) -> StoreResult<SigningKeyRecord> {
    let (kid, alg, encrypted_private_key, public_jwk, created_at, retired_at) = row;
    Ok(SigningKeyRecord {
        kid,
        alg,
        encrypted_private_key,
        public_jwk,
        created_at: time("created_at", created_at)?,
        retired_at: time_opt("retired_at", retired_at)?,
    })
}

macro_rules! registration_token_columns {
    () => {
        "id, token_hash, created_at, expires_at, max_uses, uses"
    };
}
pub(super) use registration_token_columns;

pub(super) type RegistrationTokenRow = (String, String, i64, Option<i64>, Option<i64>, i64);

pub(super) fn registration_token(row: RegistrationTokenRow) -> StoreResult<RegistrationToken> {
    let (id, token_hash, created_at, expires_at, max_uses, uses) = row;
    let count = |column: &str, n: i64| {
        u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("{column} = {n}")))
    };
    Ok(RegistrationToken {
        id,
        token_hash,
        created_at: time("created_at", created_at)?,
        expires_at: time_opt("expires_at", expires_at)?,
        max_uses: max_uses.map(|n| count("max_uses", n)).transpose()?,
        uses: count("uses", uses)?,
    })
}

macro_rules! registration_request_columns {
    () => {
        "id, owner, status, app, review_reason, reviewed_by, client_id, secret_revealed, created_at, updated_at"
    };
}
pub(super) use registration_request_columns;

pub(super) type RegistrationRequestRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    bool,
    i64,
    i64,
);

/// The app of a request as stored: JSON text.
pub(super) fn app_json(app: &AppRequest) -> StoreResult<String> {
    serde_json::to_string(app).map_err(|e| StoreError::Corrupt(format!("app: {e}")))
}

/// What the request list's `search` looks in: the app's name, website and contact name,
/// lower-cased.
pub(super) fn request_search_text(app: &AppRequest) -> String {
    format!("{}\n{}\n{}", app.name, app.website, app.contact_name).to_lowercase()
}

pub(super) fn registration_request(
    row: RegistrationRequestRow,
) -> StoreResult<RegistrationRequest> {
    let (
        id,
        owner,
        status,
        app,
        review_reason,
        reviewed_by,
        client_id,
        secret_revealed,
        created_at,
        updated_at,
    ) = row;
    let status = RequestStatus::parse(&status)
        .ok_or_else(|| StoreError::Corrupt(format!("status = {status:?}")))?;
    let app: AppRequest =
        serde_json::from_str(&app).map_err(|e| StoreError::Corrupt(format!("app: {e}")))?;
    let client_id = client_id
        .map(|c| ClientId::parse(&c).map_err(|_| StoreError::Corrupt(format!("client_id = {c:?}"))))
        .transpose()?;
    Ok(RegistrationRequest {
        id,
        owner,
        status,
        app,
        review_reason,
        reviewed_by,
        client_id,
        secret_revealed,
        created_at: time("created_at", created_at)?,
        updated_at: time("updated_at", updated_at)?,
    })
}

macro_rules! audit_event_columns {
    () => {
        "id, at, actor_kind, actor_id, actor_name, action, target_kind, target_id, changes"
    };
}
pub(super) use audit_event_columns;

pub(super) type AuditEventRow = (
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<String>,
    String,
);

/// An event's changes as the column keeps them: a JSON object as compact text.
pub(super) fn changes_column(changes: &serde_json::Map<String, serde_json::Value>) -> String {
    // A map of JSON values with string keys always serialises.
    serde_json::to_string(changes).unwrap_or_else(|_| "{}".to_owned())
}

pub(super) fn audit_event(row: AuditEventRow) -> StoreResult<AuditEvent> {
    let (id, at, actor_kind, actor_id, actor_name, action, target_kind, target_id, changes) = row;
    let kind = ActorKind::parse(&actor_kind)
        .map_err(|e| StoreError::Corrupt(format!("audit_events.actor_kind of {id:?}: {e}")))?;
    let changes = serde_json::from_str(&changes)
        .map_err(|e| StoreError::Corrupt(format!("audit_events.changes of {id:?}: {e}")))?;
    Ok(AuditEvent {
        at: time("at", at)?,
        actor: AuditActor {
            kind,
            id: actor_id,
            name: actor_name,
        },
        action,
        target_kind,
        target_id,
        changes,
        id,
    })
}

/// The page key of an event: `"<at>:<id>"` (ids have no `:`, but only the first one splits).
pub(super) fn audit_page_key(event: &AuditEvent) -> String {
    format!("{}:{}", unix(event.at), event.id)
}

/// The bind values of an audit query, in the order the query uses them.
pub(super) struct AuditFilter {
    pub actor: Option<String>,
    pub target: Option<String>,
    pub action_exact: Option<String>,
    /// A `LIKE` pattern for `action=prefix*`.
    pub action_prefix: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub after_at: Option<i64>,
    pub after_id: Option<String>,
}

impl AuditFilter {
    pub(super) fn new(query: &AuditQuery, page: &PageRequest) -> StoreResult<Self> {
        let non_empty = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        let (action_exact, action_prefix) = match non_empty(&query.action) {
            Some(action) => match action.strip_suffix('*') {
                Some(prefix) => (None, Some(prefix_pattern(prefix))),
                None => (Some(action), None),
            },
            None => (None, None),
        };
        let (after_at, after_id) = match page.after.as_deref() {
            None => (None, None),
            Some(key) => {
                let parsed = key
                    .split_once(':')
                    .and_then(|(at, id)| at.parse::<i64>().ok().map(|at| (at, id.to_owned())));
                match parsed {
                    Some((at, id)) => (Some(at), Some(id)),
                    // The admin API hands out only keys this store made; anything else is no
                    // page of it.
                    None => return Err(StoreError::Corrupt(format!("audit page key {key:?}"))),
                }
            }
        };
        Ok(Self {
            actor: non_empty(&query.actor),
            target: non_empty(&query.target),
            action_exact,
            action_prefix,
            since: unix_opt(query.since),
            until: unix_opt(query.until),
            after_at,
            after_id,
        })
    }
}

/// A `LIKE` pattern matching what starts with `prefix`, its pattern characters escaped.
fn prefix_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("A_b%c\\"), "%a\\_b\\%c\\\\%");
    }

    #[test]
    fn action_prefixes_escape_wildcards() {
        assert_eq!(
            prefix_pattern("registration_request."),
            "registration\\_request.%"
        );
    }

    #[test]
    fn limit_fetches_one_extra_row() {
        assert_eq!(limit_plus_one(0), 2);
        assert_eq!(limit_plus_one(10), 11);
        assert_eq!(limit_plus_one(10_000), 501);
    }
}
