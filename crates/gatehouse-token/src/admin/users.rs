//! `/admin/users`: the people who sign in. Passwords are write-only: hashed with argon2id,
//! never returned, never logged.
//!
//! Disabling or deleting a user revokes every refresh-token family of the user and ends the
//! opaque access tokens issued under those families, so API access stops at once and cannot be
//! renewed. Login sessions are not ended here: the sign-in flow refuses a disabled user's next
//! login, and sessions that already exist run until they expire.
//!
//! A lock placed by too many failed logins (`gatehouse_core::lockout`) is lifted by
//! `POST /admin/users/{id}/unlock`, and also by enabling the user or setting a new password:
//! an operator doing either means the user should be able to sign in now.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use gatehouse_core::ErrorCode;
use gatehouse_core::secret::SecretString;
use gatehouse_core::store::{StoreError, UserQuery};
use gatehouse_core::user::{Metadata, Role, User, Username, parse_metadata, parse_roles};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::error::PathParam;
use super::pagination::{PageParams, next_link};
use super::{AdminConfig, AdminState, ApiError, ErrorBody, patch, rfc3339};
use crate::password::hash_password;

const TAG: &str = "users";

/// A user as the admin API accepts it (create and full replacement).
#[derive(Debug, Deserialize, ToSchema)]
pub struct UserRequest {
    /// Unique case-insensitively; 1 to 64 characters without spaces.
    pub username: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Absolute http(s) URL of a profile picture.
    #[serde(default)]
    pub picture: Option<String>,
    #[serde(default)]
    pub disabled: Option<bool>,
    /// The operator's JSON object about the user, at most 16 KiB serialised; omitted or `null`
    /// is `{}` (on replace too: omitting it clears it).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// What the user may do in the operator console: `"admin"` (everything) and/or
    /// `"reviewer"` (registration requests only); duplicates are dropped, the answer is sorted.
    /// On create, omitted or `null` is `[]`; on replace, omit it (or send `null`) to keep the
    /// current roles, and send `[]` to take them all away.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub roles: Option<Vec<String>>,
    /// Write-only. On replace, omit it to keep the current password.
    #[serde(default, deserialize_with = "password_field")]
    #[schema(value_type = Option<String>, write_only)]
    pub password: Option<SecretString>,
}

/// Body of `PUT /admin/users/{id}/password`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordRequest {
    #[serde(deserialize_with = "required_password")]
    #[schema(value_type = String, write_only)]
    pub password: SecretString,
}

/// A password as a string, or nothing. A wrongly typed value is refused without echoing it.
fn password_field<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(SecretString::new(s))),
        Some(_) => Err(serde::de::Error::custom("password must be a string")),
    }
}

fn required_password<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    password_field(d)?.ok_or_else(|| serde::de::Error::custom("password must be a string"))
}

/// A user as the admin API answers it: exactly these fields, never a password or its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    /// UUID v4.
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture: Option<String>,
    pub disabled: bool,
    /// The operator's JSON object about the user (`{}` when none was set).
    #[schema(value_type = Object)]
    pub metadata: Metadata,
    /// The user's roles in the operator console, sorted (`[]` when none).
    #[schema(value_type = Vec<String>)]
    pub roles: Vec<Role>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl UserResponse {
    fn new(user: &User) -> Result<Self, ApiError> {
        Ok(Self {
            id: user.id.clone(),
            username: user.username.clone(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            name: user.name.clone(),
            picture: user.picture.clone(),
            disabled: user.disabled,
            metadata: user.metadata.clone(),
            roles: user.roles.clone(),
            created_at: rfc3339(user.created_at)?,
            updated_at: rfc3339(user.updated_at)?,
        })
    }
}

/// The profile fields of a request, checked.
struct Profile {
    username: String,
    email: Option<String>,
    email_verified: bool,
    name: Option<String>,
    picture: Option<String>,
    disabled: bool,
    metadata: Metadata,
    /// `None`: not given (none on create, unchanged on replace).
    roles: Option<Vec<Role>>,
}

impl UserRequest {
    fn parse(body: Result<Json<Self>, JsonRejection>) -> Result<Self, ApiError> {
        body.map(|Json(r)| r)
            .map_err(|e| ApiError::from_json_rejection(&e, ErrorCode::InvalidRequest))
    }

    fn into_parts(self, config: &AdminConfig) -> Result<(Profile, Option<SecretString>), ApiError> {
        let username = Username::parse(&self.username)
            .map_err(|e| ApiError::invalid_request(e.to_string()))?;
        let profile = Profile {
            username: username.as_str().to_owned(),
            email: non_empty(self.email).map(check_email).transpose()?,
            email_verified: self.email_verified.unwrap_or(false),
            name: non_empty(self.name).map(check_name).transpose()?,
            picture: non_empty(self.picture).map(check_picture).transpose()?,
            disabled: self.disabled.unwrap_or(false),
            metadata: check_metadata(self.metadata)?,
            roles: self.roles.map(|r| check_roles(Some(r))).transpose()?,
        };
        if let Some(password) = &self.password {
            check_password(password, config)?;
        }
        Ok((profile, self.password))
    }
}

/// A JSON object of at most 16 KiB serialised (`gatehouse_core::user::parse_metadata`).
pub(crate) fn check_metadata(value: Option<Value>) -> Result<Metadata, ApiError> {
    parse_metadata(value.unwrap_or(Value::Null))
        .map_err(|e| ApiError::invalid_request(e.to_string()))
}

/// Role names as [`User::roles`]; an unknown one is refused by name.
pub(crate) fn check_roles(names: Option<Vec<String>>) -> Result<Vec<Role>, ApiError> {
    parse_roles(names.iter().flatten().map(String::as_str))
        .map_err(|e| ApiError::invalid_request(e.to_string()))
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// A plausible address (one `@`, something on both sides, no spaces, at most 254 characters per
/// RFC 5321 §4.5.3.1.3). Whether it is real is what `email_verified` records.
pub(crate) fn check_email(email: String) -> Result<String, ApiError> {
    let plausible = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if plausible {
        Ok(email)
    } else {
        Err(ApiError::invalid_request(
            "email is not a valid email address",
        ))
    }
}

pub(crate) fn check_name(name: String) -> Result<String, ApiError> {
    if name.chars().count() > 256 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid_request(
            "name must be at most 256 characters without control characters",
        ));
    }
    Ok(name)
}

/// Shown as an image in client apps through the `picture` claim: an absolute http(s) URL only.
pub(crate) fn check_picture(picture: String) -> Result<String, ApiError> {
    let ok = url::Url::parse(&picture)
        .is_ok_and(|u| u.host().is_some() && matches!(u.scheme(), "https" | "http"));
    if ok {
        Ok(picture)
    } else {
        Err(ApiError::invalid_request(
            "picture must be an absolute http or https URL",
        ))
    }
}

/// Length only, counted in Unicode characters (NIST SP 800-63B §5.1.1.2: no composition rules).
fn check_password(password: &SecretString, config: &AdminConfig) -> Result<(), ApiError> {
    let length = password.expose().chars().count();
    let (min, max) = (config.min_password_length, AdminConfig::MAX_PASSWORD_LENGTH);
    if length < min || length > max {
        return Err(ApiError::invalid_request(format!(
            "password must be {min} to {max} characters long"
        )));
    }
    Ok(())
}

impl AdminState {
    async fn hash(&self, password: SecretString) -> Result<String, ApiError> {
        hash_password(password, self.config.password_hash)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "password hashing failed");
                ApiError::server_error()
            })
    }

    async fn load_user(&self, id: &str) -> Result<User, ApiError> {
        self.durable
            .get_user(id)
            .await?
            .ok_or_else(|| user_not_found(id))
    }

    /// `PUT` and `PATCH`: replaces the profile, keeps id and `created_at`, and keeps the password
    /// unless a new one is given.
    /// Mails `user` a link that confirms their address when it is new (or changed) and not
    /// marked verified, and mail is configured. Best effort: the change stands either way, and a
    /// failure is logged (the address stays unverified).
    async fn verify_new_email(&self, before: Option<&User>, user: &User) {
        let Some(service) = &self.service else {
            return;
        };
        let changed = before.is_none_or(|b| {
            !b.email
                .as_deref()
                .zip(user.email.as_deref())
                .is_some_and(|(old, new)| old.eq_ignore_ascii_case(new))
        });
        if !changed || user.email_verified || user.email.is_none() {
            return;
        }
        match service.send_email_verification(user, "en", None).await {
            Ok(true) => tracing::info!(user_id = %user.id, "email verification link sent"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(user_id = %user.id, error = %e, "sending an email verification link failed");
            }
        }
    }

    async fn replace_user(
        &self,
        existing: User,
        request: UserRequest,
    ) -> Result<UserResponse, ApiError> {
        let before = existing.clone();
        let (profile, password) = request.into_parts(&self.config)?;
        let lifts_lock = !profile.disabled && (existing.disabled || password.is_some());
        let password_hash = match password {
            Some(password) => Some(self.hash(password).await?),
            None => existing.password_hash,
        };
        let user = User {
            id: existing.id,
            username: profile.username,
            email: profile.email,
            email_verified: profile.email_verified,
            name: profile.name,
            picture: profile.picture,
            disabled: profile.disabled,
            metadata: profile.metadata,
            roles: profile.roles.unwrap_or(existing.roles),
            password_hash,
            created_at: existing.created_at,
            updated_at: self.now(),
        };
        self.durable
            .update_user(&user)
            .await
            .map_err(|e| user_write_error(e, &user))?;
        if user.disabled {
            // On every write that leaves the user disabled, not only on the change, so retrying a
            // request whose revocation failed still revokes whatever is live.
            self.end_grants_of(&user.id).await?;
        }
        if lifts_lock {
            self.lift_login_lock(&user.username).await?;
        }
        self.verify_new_email(Some(&before), &user).await;
        UserResponse::new(&user)
    }

    /// Ends everything the user authorized and every login session of the user (see
    /// [`crate::revocation::Revocations::end_user`]).
    async fn end_grants_of(&self, user_id: &str) -> Result<(), ApiError> {
        self.revocations.end_user(user_id).await?;
        Ok(())
    }
}

fn user_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("user {id:?} does not exist"))
}

fn user_write_error(e: StoreError, user: &User) -> ApiError {
    match e {
        StoreError::Conflict => {
            ApiError::conflict(format!("username {:?} is taken", user.username))
        }
        StoreError::NotFound => user_not_found(&user.id),
        e => e.into(),
    }
}

/// Creates a user, optionally with a password.
#[utoipa::path(post, path = "/admin/users", tag = TAG, request_body = UserRequest,
    responses(
        (status = 201, description = "Created", body = UserResponse),
        (status = 400, description = "Refused; `error` and `error_description` say why", body = ErrorBody),
        (status = 409, description = "The username is taken (compared case-insensitively)", body = ErrorBody),
    ))]
pub async fn create_user(
    State(state): State<AdminState>,
    body: Result<Json<UserRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<UserResponse>), ApiError> {
    let (profile, password) = UserRequest::parse(body)?.into_parts(&state.config)?;
    let password_hash = match password {
        Some(password) => Some(state.hash(password).await?),
        None => None,
    };
    let now = state.now();
    let user = User {
        id: uuid::Uuid::new_v4().to_string(),
        username: profile.username,
        email: profile.email,
        email_verified: profile.email_verified,
        name: profile.name,
        picture: profile.picture,
        disabled: profile.disabled,
        metadata: profile.metadata,
        roles: profile.roles.unwrap_or_default(),
        password_hash,
        created_at: now,
        updated_at: now,
    };
    state
        .durable
        .create_user(&user)
        .await
        .map_err(|e| user_write_error(e, &user))?;
    tracing::info!(user_id = %user.id, "user created");
    state.verify_new_email(None, &user).await;
    Ok((StatusCode::CREATED, Json(UserResponse::new(&user)?)))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListParams {
    /// Case-insensitive substring of the username or email.
    pub search: Option<String>,
    /// Exactly this username, compared case-insensitively as sign-in does: a list of the one
    /// user with it, or an empty list. Not combined with `search` or `role`.
    pub username: Option<String>,
    /// Only users with this role (`admin` or `reviewer`); combines with `search`.
    pub role: Option<String>,
    /// Items per page: 1 to 500 (larger values are clamped), 100 when omitted.
    pub page_size: Option<u32>,
    /// The token from the previous answer's `Link: <…>; rel="next"` header.
    pub page_token: Option<String>,
}

/// Lists users by id, optionally filtered (`search`, `role`), a page at a time; `?username=`
/// finds one user by name.
#[utoipa::path(get, path = "/admin/users", tag = TAG, params(UserListParams),
    responses(
        (status = 200, description = "One page of users", body = [UserResponse],
            headers(("Link" = String, description = "`<…>; rel=\"next\"` while more pages follow"))),
        (status = 400, description = "Refused; `error` and `error_description` say why", body = ErrorBody),
    ))]
pub async fn list_users(
    State(state): State<AdminState>,
    query: Result<Query<UserListParams>, QueryRejection>,
) -> Result<(HeaderMap, Json<Vec<UserResponse>>), ApiError> {
    let Query(params) = query.map_err(|e| ApiError::from_query_rejection(&e))?;
    let search = params.search.filter(|s| !s.is_empty());
    let role_name = params.role.filter(|r| !r.is_empty());
    let role = role_name
        .as_deref()
        .map(Role::parse)
        .transpose()
        .map_err(|e| ApiError::invalid_request(e.to_string()))?;
    if let Some(username) = params.username {
        if search.is_some() || role.is_some() {
            return Err(ApiError::invalid_request(
                "use either username (exact) or search (substring) and role, not both",
            ));
        }
        let found = state.durable.get_user_by_username(&username).await?;
        let items = found
            .iter()
            .map(UserResponse::new)
            .collect::<Result<Vec<_>, _>>()?;
        return Ok((HeaderMap::new(), Json(items)));
    }
    let page = PageParams {
        page_size: params.page_size,
        page_token: params.page_token,
    }
    .to_request()?;
    let found = state
        .durable
        .list_users(
            &UserQuery {
                search: search.clone(),
                role,
            },
            &page,
        )
        .await?;
    let items = found
        .items
        .iter()
        .map(UserResponse::new)
        .collect::<Result<Vec<_>, _>>()?;
    let filters: Vec<(&str, &str)> = search
        .as_deref()
        .map(|s| ("search", s))
        .into_iter()
        .chain(role_name.as_deref().map(|r| ("role", r)))
        .collect();
    let mut headers = HeaderMap::new();
    if let Some(link) = next_link("/admin/users", page.size, found.next.as_deref(), &filters) {
        headers.insert(header::LINK, link);
    }
    Ok((headers, Json(items)))
}

/// Reads one user.
#[utoipa::path(get, path = "/admin/users/{id}", tag = TAG, params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "The user", body = UserResponse), (status = 404, description = "No such user", body = ErrorBody)))]
pub async fn get_user(
    State(state): State<AdminState>,
    PathParam(id): PathParam,
) -> Result<Json<UserResponse>, ApiError> {
    Ok(Json(UserResponse::new(&state.load_user(&id).await?)?))
}

/// Replaces a user's profile; omitted fields are cleared. The password and the roles stay
/// unless given.
#[utoipa::path(put, path = "/admin/users/{id}", tag = TAG, params(("id" = String, Path, description = "User id")),
    request_body = UserRequest,
    responses(
        (status = 200, description = "The user", body = UserResponse), (status = 400, description = "Refused; `error` and `error_description` say why", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody),
    ))]
pub async fn replace_user(
    State(state): State<AdminState>,
    PathParam(id): PathParam,
    body: Result<Json<UserRequest>, JsonRejection>,
) -> Result<Json<UserResponse>, ApiError> {
    let request = UserRequest::parse(body)?;
    let existing = state.load_user(&id).await?;
    Ok(Json(state.replace_user(existing, request).await?))
}

/// Changes part of a user: a merge-patch object such as `{"disabled": true}` (RFC 7396) or a
/// JSON Patch array (RFC 6902). Disabling revokes the user's refresh tokens and ends their
/// access tokens.
#[utoipa::path(patch, path = "/admin/users/{id}", tag = TAG, params(("id" = String, Path, description = "User id")),
    request_body(content = Value, description = "A merge-patch object (RFC 7396) or a JSON Patch array (RFC 6902)",
        content_type = "application/json"),
    responses(
        (status = 200, description = "The user", body = UserResponse), (status = 400, description = "Refused; `error` and `error_description` say why", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody),
    ))]
pub async fn patch_user(
    State(state): State<AdminState>,
    PathParam(id): PathParam,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<UserResponse>, ApiError> {
    let Json(operations) =
        body.map_err(|e| ApiError::from_json_rejection(&e, ErrorCode::InvalidRequest))?;
    let existing = state.load_user(&id).await?;
    let mut document = serde_json::to_value(UserResponse::new(&existing)?)
        .map_err(|_| ApiError::server_error())?;
    patch::apply(&mut document, operations)?;
    if document.get("id").and_then(Value::as_str) != Some(existing.id.as_str()) {
        return Err(ApiError::invalid_request("id cannot be changed"));
    }
    let bytes = serde_json::to_vec(&document).map_err(|_| ApiError::server_error())?;
    let request = UserRequest::parse(Json::<UserRequest>::from_bytes(&bytes))?;
    Ok(Json(state.replace_user(existing, request).await?))
}

/// Sets a user's password. Every login session, refresh token and access token of the user ends.
#[utoipa::path(put, path = "/admin/users/{id}/password", tag = TAG, params(("id" = String, Path, description = "User id")),
    request_body = PasswordRequest,
    responses((status = 204, description = "Password set"), (status = 400, description = "Refused; `error` and `error_description` say why", body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody)))]
pub async fn set_password(
    State(state): State<AdminState>,
    PathParam(id): PathParam,
    body: Result<Json<PasswordRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(request) =
        body.map_err(|e| ApiError::from_json_rejection(&e, ErrorCode::InvalidRequest))?;
    check_password(&request.password, &state.config)?;
    let mut user = state.load_user(&id).await?;
    user.password_hash = Some(state.hash(request.password).await?);
    user.updated_at = state.now();
    state
        .durable
        .update_user(&user)
        .await
        .map_err(|e| user_write_error(e, &user))?;
    // Whoever knew the old password may hold sessions and tokens: they all end.
    state.end_grants_of(&user.id).await?;
    // The new password is meant to work now, not after a lock earned with the old one.
    state.lift_login_lock(&user.username).await?;
    tracing::info!(user_id = %id, "user password set; sessions and tokens ended");
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts the lock that too many failed logins placed on the user's username, and forgets the
/// failures counted so far. Succeeds whether or not the user was locked. A lock on the client
/// IP address is not lifted: it ends by itself.
#[utoipa::path(post, path = "/admin/users/{id}/unlock", tag = TAG, params(("id" = String, Path, description = "User id")),
    responses((status = 204, description = "The user can sign in again"), (status = 404, description = "No such user", body = ErrorBody)))]
pub async fn unlock_user(
    State(state): State<AdminState>,
    PathParam(id): PathParam,
) -> Result<StatusCode, ApiError> {
    let user = state.load_user(&id).await?;
    let was_locked = state.lift_login_lock(&user.username).await?;
    tracing::info!(user_id = %id, was_locked, "user unlocked");
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a user, after revoking their tokens and removing their consents.
#[utoipa::path(delete, path = "/admin/users/{id}", tag = TAG, params(("id" = String, Path, description = "User id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such user", body = ErrorBody)))]
pub async fn delete_user(
    State(state): State<AdminState>,
    PathParam(id): PathParam,
) -> Result<StatusCode, ApiError> {
    let user = state.load_user(&id).await?;
    state.end_grants_of(&user.id).await?;
    state
        .durable
        .delete_user(&user.id)
        .await
        .map_err(|e| user_write_error(e, &user))?;
    tracing::info!(user_id = %id, "user deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn user_and_password_requests_print_no_password() {
        let user: UserRequest =
            serde_json::from_str(r#"{"username":"alice","password":"user-password-1"}"#).unwrap();
        let password: PasswordRequest =
            serde_json::from_str(r#"{"password":"new-password-2"}"#).unwrap();
        let printed = format!("{user:?} {password:?} {user:#?} {password:#?}");
        for secret in ["user-password-1", "new-password-2"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(printed.contains("alice"));
    }

    #[test]
    fn metadata_must_be_a_small_object() {
        assert!(check_metadata(None).is_ok_and(|m| m.is_empty()));
        assert!(check_metadata(Some(serde_json::json!({"a": 1}))).is_ok_and(|m| m.len() == 1));
        assert!(check_metadata(Some(serde_json::json!([1]))).is_err());
        let big = serde_json::json!({"k": "x".repeat(17 * 1024)});
        assert!(check_metadata(Some(big)).is_err());
    }
}
