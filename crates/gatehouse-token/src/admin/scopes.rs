//! `/admin/scopes`: the catalogue that tells the consent screen how to present each scope.
//!
//! A client may list scopes missing from the catalogue (Hydra's client commands must work on a
//! fresh server); the consent screen then shows them by name. The technical scopes (`openid`,
//! `offline`, `offline_access`) always exist and stay hidden.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use gatehouse_core::ErrorCode;
use gatehouse_core::scope::{ScopeDefinition, ScopeName, default_catalogue, parse_claims};
use gatehouse_core::store::{ScopeStore, StoreError, StoreResult};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::PathParam;
use super::{AdminState, ApiError, ErrorBody};

const TAG: &str = "scopes";

/// Inserts the default catalogue entries that are missing and leaves the others as the operator
/// edited them, so it is safe at every start-up. Returns how many were inserted.
pub async fn seed_default_scopes(store: &dyn ScopeStore) -> StoreResult<usize> {
    let mut inserted = 0;
    for definition in default_catalogue() {
        if store.get_scope(definition.name.as_str()).await?.is_some() {
            continue;
        }
        match store.create_scope(&definition).await {
            Ok(()) => inserted += 1,
            // Another instance seeded it between our read and our write.
            Err(StoreError::Conflict) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(inserted)
}

/// A catalogue entry as the admin API accepts it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ScopeRequest {
    /// An RFC 6749 §3.3 scope token. Required on create; on replace it may be omitted but must
    /// otherwise equal the path.
    #[serde(default)]
    pub name: Option<String>,
    /// What the consent screen shows, e.g. "Read projects".
    pub label: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Whether the consent screen leaves it out.
    #[serde(default)]
    pub hidden: Option<bool>,
    /// Custom claims the scope releases, each read from the user's `metadata` under the same
    /// name into `/userinfo` and the ID token. Names: a letter or `_` first, then letters,
    /// digits, `_`, `-`, `.` or `:`, at most 64 characters, at most 32 of them; never a claim
    /// the server sets (`sub`, `iss`, `aud`, `exp`, `iat`, `auth_time`, `nonce`, `acr`, `amr`,
    /// `azp`, `sid`, `jti`, `at_hash`, `c_hash`, `cnf`, `scope`, `client_id`, nor the standard
    /// `name`, `preferred_username`, `picture`, `updated_at`, `email`, `email_verified`).
    /// Omitted: none.
    #[serde(default)]
    #[schema(example = json!(["patreon"]))]
    pub claims: Option<Vec<String>>,
}

/// A catalogue entry: `{"name", "label", "description", "hidden", "claims"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeResponse {
    pub name: String,
    pub label: String,
    pub description: String,
    pub hidden: bool,
    /// The custom claims the scope releases from the user's metadata (empty for none).
    pub claims: Vec<String>,
}

impl From<ScopeDefinition> for ScopeResponse {
    fn from(d: ScopeDefinition) -> Self {
        Self {
            name: d.name.as_str().to_owned(),
            label: d.label,
            description: d.description,
            hidden: d.hidden,
            claims: d.claims,
        }
    }
}

impl ScopeRequest {
    fn parse(body: Result<Json<Self>, JsonRejection>) -> Result<Self, ApiError> {
        body.map(|Json(r)| r)
            .map_err(|e| ApiError::from_json_rejection(&e, ErrorCode::InvalidRequest))
    }

    fn into_definition(self, name: &str) -> Result<ScopeDefinition, ApiError> {
        let name = ScopeName::parse(name).map_err(|e| ApiError::invalid_request(e.to_string()))?;
        let label = self.label.trim().to_owned();
        if label.is_empty() {
            return Err(ApiError::invalid_request(
                "label must not be empty: the consent screen shows it",
            ));
        }
        let hidden = self.hidden.unwrap_or(false);
        if name.is_technical() && !hidden {
            return Err(ApiError::invalid_request(format!(
                "{name} is a technical scope and stays hidden from the consent screen"
            )));
        }
        let claims = parse_claims(self.claims.as_deref().unwrap_or_default())
            .map_err(|e| ApiError::invalid_request(format!("claims: {e}")))?;
        Ok(ScopeDefinition {
            name,
            label,
            description: self.description.unwrap_or_default(),
            hidden,
            claims,
        })
    }
}

fn scope_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("scope {name:?} is not in the catalogue"))
}

/// Adds a scope to the catalogue.
#[utoipa::path(post, path = "/admin/scopes", tag = TAG, request_body = ScopeRequest,
    responses(
        (status = 201, description = "Created", body = ScopeResponse),
        (status = 400, description = "Refused; `error` and `error_description` say why", body = ErrorBody),
        (status = 409, description = "A scope with this name exists", body = ErrorBody),
    ))]
pub async fn create_scope(
    State(state): State<AdminState>,
    body: Result<Json<ScopeRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<ScopeResponse>), ApiError> {
    let request = ScopeRequest::parse(body)?;
    let name = request
        .name
        .clone()
        .ok_or_else(|| ApiError::invalid_request("name is required"))?;
    let definition = request.into_definition(&name)?;
    state
        .durable
        .create_scope(&definition)
        .await
        .map_err(|e| match e {
            StoreError::Conflict => ApiError::conflict(format!("scope {name:?} already exists")),
            e => e.into(),
        })?;
    Ok((StatusCode::CREATED, Json(definition.into())))
}

/// The whole catalogue, by name.
#[utoipa::path(get, path = "/admin/scopes", tag = TAG, responses((status = 200, description = "The catalogue", body = [ScopeResponse])))]
pub async fn list_scopes(
    State(state): State<AdminState>,
) -> Result<Json<Vec<ScopeResponse>>, ApiError> {
    let scopes = state.durable.list_scopes().await?;
    Ok(Json(scopes.into_iter().map(ScopeResponse::from).collect()))
}

/// Reads one scope.
#[utoipa::path(get, path = "/admin/scopes/{name}", tag = TAG, params(("name" = String, Path, description = "Scope name")),
    responses((status = 200, description = "The scope", body = ScopeResponse), (status = 404, description = "No such scope", body = ErrorBody)))]
pub async fn get_scope(
    State(state): State<AdminState>,
    PathParam(name): PathParam,
) -> Result<Json<ScopeResponse>, ApiError> {
    let found = state
        .durable
        .get_scope(&name)
        .await?
        .ok_or_else(|| scope_not_found(&name))?;
    Ok(Json(found.into()))
}

/// Replaces a scope's label, description, visibility and custom claims.
#[utoipa::path(put, path = "/admin/scopes/{name}", tag = TAG, params(("name" = String, Path, description = "Scope name")),
    request_body = ScopeRequest,
    responses((status = 200, description = "The scope", body = ScopeResponse), (status = 400, description = "Refused; `error` and `error_description` say why", body = ErrorBody), (status = 404, description = "No such scope", body = ErrorBody)))]
pub async fn replace_scope(
    State(state): State<AdminState>,
    PathParam(name): PathParam,
    body: Result<Json<ScopeRequest>, JsonRejection>,
) -> Result<Json<ScopeResponse>, ApiError> {
    let request = ScopeRequest::parse(body)?;
    if request.name.as_deref().is_some_and(|n| n != name) {
        return Err(ApiError::invalid_request(
            "name cannot be changed; create a new scope instead",
        ));
    }
    let definition = request.into_definition(&name)?;
    state
        .durable
        .update_scope(&definition)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => scope_not_found(&name),
            e => e.into(),
        })?;
    Ok(Json(definition.into()))
}

/// Removes a scope from the catalogue. Clients listing it keep it; the consent screen then shows
/// it by name. The technical scopes cannot be removed.
#[utoipa::path(delete, path = "/admin/scopes/{name}", tag = TAG, params(("name" = String, Path, description = "Scope name")),
    responses((status = 204, description = "Deleted"), (status = 400, description = "Refused; `error` and `error_description` say why", body = ErrorBody), (status = 404, description = "No such scope", body = ErrorBody)))]
pub async fn delete_scope(
    State(state): State<AdminState>,
    PathParam(name): PathParam,
) -> Result<StatusCode, ApiError> {
    if ScopeName::parse(&name).is_ok_and(|s| s.is_technical()) {
        return Err(ApiError::invalid_request(format!(
            "{name} is a technical scope and cannot be removed"
        )));
    }
    state
        .durable
        .delete_scope(&name)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => scope_not_found(&name),
            e => e.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}
