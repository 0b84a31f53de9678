//! `POST /admin/users/import` and `GET /admin/users/export`: users from and to other systems.
//!
//! Both speak one record format, a JSON object per user with exactly the fields of
//! [`UserRecord`] (`id`, `username`, `email`, `email_verified`, `name`, `picture`, `disabled`,
//! `metadata`, `roles`, `password_hash`). The import takes a JSON array of such objects (at most
//! [`MAX_IMPORT_USERS`]; the CLI sends a JSON-lines file in batches); the export answers JSON
//! lines, one record per line, password hashes included.
//!
//! Every record is checked as `POST /admin/users` checks a user, plus the password hash
//! (`gatehouse_core::password_hash`: the accepted formats and their cost bounds). Records that
//! pass are created in one transaction (`UserStore::import_users`): a server error keeps none.
//! A record whose `id` or username is taken is skipped, so a second import of the same file
//! creates nothing. Record *n* of the array is reported as line *n*.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use gatehouse_core::ErrorCode;
use gatehouse_core::password_hash::parse_password_hash;
use gatehouse_core::store::{PageRequest, UserQuery};
use gatehouse_core::user::{User, Username};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::users::{check_email, check_metadata, check_name, check_picture, check_roles};
use super::{AdminState, ApiError, ErrorBody};

const TAG: &str = "users";

/// Most users one import request may carry.
pub const MAX_IMPORT_USERS: usize = 1000;
/// Longest imported `id`.
const MAX_ID_CHARS: usize = 255;
/// Users read per page while exporting.
const EXPORT_PAGE: u32 = 500;

/// One user of an import or an export: exactly these fields; any other (`created_at`,
/// `password`, …) makes the record invalid.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRecord {
    /// Keeps the subject (`sub`) of the other system; a new UUID when omitted. 1 to 255
    /// characters without spaces or control characters.
    #[serde(default)]
    pub id: Option<String>,
    pub username: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub picture: Option<String>,
    #[serde(default)]
    pub disabled: bool,
    /// A JSON object of at most 16 KiB serialised.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// The operator-console roles (`admin`, `reviewer`); omitted: none.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    /// bcrypt, argon2id/argon2i, PBKDF2-SHA-256/512 (PHC, passlib, Django) or scrypt (PHC,
    /// passlib); omitted: the user has no password until one is set.
    #[serde(default)]
    pub password_hash: Option<String>,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("username", &self.username)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// Check every record and report what would be created, without creating anything.
    #[serde(default)]
    pub dry_run: bool,
}

/// A user created (or, on a dry run, that would be).
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportedLine {
    /// 1-based position in the request's array.
    pub line: usize,
    pub id: String,
    pub username: String,
}

/// A record refused, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvalidLine {
    pub line: usize,
    pub reason: String,
}

/// What an import did (or, on a dry run, would do).
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    pub created: Vec<ImportedLine>,
    /// Users whose `id` or username (case-insensitively) already exists: left as they are.
    pub skipped: Vec<ImportedLine>,
    pub invalid: Vec<InvalidLine>,
}

/// One record checked into the user to create.
fn check_record(value: Value, state: &AdminState) -> Result<User, String> {
    if !value.is_object() {
        return Err("not a JSON object".into());
    }
    let record: UserRecord = serde_json::from_value(value).map_err(|e| e.to_string())?;
    let described = |e: ApiError| e.0.description.into_owned();
    let username = Username::parse(&record.username).map_err(|e| e.to_string())?;
    let id = match record.id {
        Some(id) => {
            let ok = !id.is_empty()
                && id.chars().count() <= MAX_ID_CHARS
                && !id.chars().any(|c| c.is_whitespace() || c.is_control());
            if !ok {
                return Err(format!(
                    "id must be 1 to {MAX_ID_CHARS} characters without spaces or control characters"
                ));
            }
            id
        }
        None => uuid::Uuid::new_v4().to_string(),
    };
    let non_empty = |v: Option<String>| v.filter(|v| !v.is_empty());
    let email = non_empty(record.email)
        .map(check_email)
        .transpose()
        .map_err(described)?;
    if record.email_verified && email.is_none() {
        return Err("email_verified needs an email".into());
    }
    let password_hash = match record.password_hash.filter(|h| !h.is_empty()) {
        Some(hash) => {
            parse_password_hash(&hash).map_err(|e| e.to_string())?;
            Some(hash)
        }
        None => None,
    };
    let now = state.now();
    Ok(User {
        id,
        username: username.as_str().to_owned(),
        email,
        email_verified: record.email_verified,
        name: non_empty(record.name)
            .map(check_name)
            .transpose()
            .map_err(described)?,
        picture: non_empty(record.picture)
            .map(check_picture)
            .transpose()
            .map_err(described)?,
        disabled: record.disabled,
        password_hash,
        metadata: check_metadata(record.metadata).map_err(described)?,
        roles: check_roles(record.roles).map_err(described)?,
        created_at: now,
        updated_at: now,
    })
}

/// Imports users: a JSON array of user records (see the CLI's `users import` for JSON lines).
/// Valid records whose `id` and username are free are created, all in one transaction;
/// taken ones are skipped; invalid ones are reported with their position and reason. The answer
/// is 200 with the report whether or not some records were invalid.
#[utoipa::path(post, path = "/admin/users/import", tag = TAG, params(ImportParams),
    request_body(content = Vec<UserRecord>, description = "At most 1000 user records", content_type = "application/json"),
    responses(
        (status = 200, description = "The report: created, skipped, invalid", body = ImportReport),
        (status = 400, description = "Not a JSON array, or more than 1000 records", body = ErrorBody),
        (status = 413, description = "The body is larger than the admin API accepts (2 MiB)", body = ErrorBody),
    ))]
pub async fn import_users(
    State(state): State<AdminState>,
    query: Result<Query<ImportParams>, QueryRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<ImportReport>, ApiError> {
    let Query(params) = query.map_err(|e| ApiError::from_query_rejection(&e))?;
    let Json(body) =
        body.map_err(|e| ApiError::from_json_rejection(&e, ErrorCode::InvalidRequest))?;
    let Value::Array(records) = body else {
        return Err(ApiError::invalid_request(
            "the body must be a JSON array of user records",
        ));
    };
    if records.len() > MAX_IMPORT_USERS {
        return Err(ApiError::invalid_request(format!(
            "at most {MAX_IMPORT_USERS} users per request; send the rest in further requests"
        )));
    }
    let mut invalid = Vec::new();
    let mut users = Vec::new();
    let mut lines = Vec::new();
    for (index, record) in records.into_iter().enumerate() {
        let line = index + 1;
        match check_record(record, &state) {
            Ok(user) => {
                users.push(user);
                lines.push(line);
            }
            Err(reason) => invalid.push(InvalidLine { line, reason }),
        }
    }
    let outcome = state.durable.import_users(&users, params.dry_run).await?;
    let mut report = ImportReport {
        dry_run: params.dry_run,
        created: Vec::new(),
        skipped: Vec::new(),
        invalid,
    };
    for ((user, line), created) in users.into_iter().zip(lines).zip(outcome) {
        let entry = ImportedLine {
            line,
            id: user.id,
            username: user.username,
        };
        if created {
            report.created.push(entry);
        } else {
            report.skipped.push(entry);
        }
    }
    tracing::info!(
        dry_run = params.dry_run,
        created = report.created.len(),
        skipped = report.skipped.len(),
        invalid = report.invalid.len(),
        "users imported"
    );
    Ok(Json(report))
}

/// Exports every user as JSON lines (`application/x-ndjson`), ordered by id: the fields of the
/// import's user records, password hashes included. Read from the store a page at a time.
#[utoipa::path(get, path = "/admin/users/export", tag = TAG,
    responses((status = 200, description = "One user record per line, password hashes included",
        content_type = "application/x-ndjson", body = String)))]
pub async fn export_users(
    State(state): State<AdminState>,
) -> Result<(HeaderMap, String), ApiError> {
    let mut out = String::new();
    let mut after = None;
    loop {
        let page = state
            .durable
            .list_users(
                &UserQuery::default(),
                &PageRequest {
                    size: EXPORT_PAGE,
                    after,
                },
            )
            .await?;
        for user in page.items {
            let record = UserRecord {
                id: Some(user.id),
                username: user.username,
                email: user.email,
                email_verified: user.email_verified,
                name: user.name,
                picture: user.picture,
                disabled: user.disabled,
                metadata: Some(Value::Object(user.metadata)),
                roles: Some(user.roles.iter().map(|r| r.as_str().to_owned()).collect()),
                password_hash: user.password_hash,
            };
            let line = serde_json::to_string(&record).map_err(|_| ApiError::server_error())?;
            out.push_str(&line);
            out.push('\n');
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    tracing::info!("users exported");
    Ok((headers, out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_record_prints_no_password_hash() {
        let record: UserRecord =
            serde_json::from_str(r#"{"username":"a","password_hash":"$2b$12$secret"}"#).unwrap();
        assert!(!format!("{record:?}").contains("secret"));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let refused =
            serde_json::from_str::<UserRecord>(r#"{"username":"a","created_at":"2026-01-01"}"#);
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .contains("unknown field `created_at`")
        );
    }
}
