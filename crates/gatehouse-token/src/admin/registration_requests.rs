//! `/admin/registration-requests`: the reviewers' side of partner onboarding. List (filters
//! `status`, `owner`, `search`, paged), read, approve (optionally with edits of the app), reject
//! and request changes (each with a reason). The rules are `crate::partners`', shared with the
//! partner portal's gRPC calls; acting on a request in the wrong status answers 409.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use gatehouse_core::ErrorCode;
use gatehouse_core::audit::{ActorKind, AuditActor};
use gatehouse_core::registration_request::{
    AppRequest, RegistrationRequest, RegistrationRequestQuery, RequestStatus,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::PathParam;
use super::pagination::{PageParams, next_link};
use super::{AdminState, ApiError, ErrorBody, rfc3339};
use crate::partners::{PartnerError, PartnerSettings, Partners};

const TAG: &str = "registration-requests";

/// Who reviews through the admin API when no operator is named on the request.
pub const ADMIN_API_REVIEWER: &str = "admin API";

impl From<PartnerError> for ApiError {
    fn from(e: PartnerError) -> Self {
        Self(e.oauth())
    }
}

impl AdminState {
    /// Tells the partner of an operator's decision by mail, when mail is configured and the
    /// partner has an address. Best effort: the decision stands and the portal shows it anyway.
    async fn notify_partner(&self, request: &RegistrationRequest) {
        let Some(service) = &self.service else {
            return;
        };
        if let Err(e) = service.notify_partner(request).await {
            tracing::warn!(request_id = %request.id, error = %e, "telling a partner of a decision by mail failed");
        }
    }

    /// The partner rules over the admin API's stores and settings.
    pub(crate) fn partners(&self) -> Partners<'_> {
        Partners {
            durable: self.durable.as_ref(),
            clock: self.clock.as_ref(),
            hasher: &self.client_secret_hasher,
            redirect_policy: self.config.registration_policy(),
            settings: PartnerSettings {
                secret_rotation_grace: self.config.secret_rotation_grace,
                ..PartnerSettings::default()
            },
        }
    }
}

/// The app a partner asked for.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct AppBody {
    pub name: String,
    /// What the app does.
    pub description: String,
    /// An https URL, or empty; becomes the client's `client_uri`.
    pub website: String,
    pub contact_name: String,
    /// Why the partner needs access.
    pub reason: String,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    /// Calls the API from a backend (`client_secret_basic`); otherwise a public client with PKCE.
    pub confidential: bool,
    pub logo_uri: String,
}

impl From<&AppRequest> for AppBody {
    fn from(app: &AppRequest) -> Self {
        Self {
            name: app.name.clone(),
            description: app.description.clone(),
            website: app.website.clone(),
            contact_name: app.contact_name.clone(),
            reason: app.reason.clone(),
            redirect_uris: app.redirect_uris.clone(),
            scopes: app.scopes.clone(),
            confidential: app.confidential,
            logo_uri: app.logo_uri.clone(),
        }
    }
}

/// The partner who asked.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct OwnerBody {
    /// The partner's user id.
    pub id: String,
    /// `null` when the user no longer exists.
    pub username: Option<String>,
}

/// A registration request as the admin API answers it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct RegistrationRequestResponse {
    /// `rr_…`.
    pub id: String,
    pub owner: OwnerBody,
    /// `pending`, `approved`, `rejected` or `changes_requested`.
    pub status: String,
    pub app: AppBody,
    /// The operator's reason for a rejection or a change request; empty otherwise.
    pub review_reason: String,
    /// Who reviewed it last; empty until reviewed.
    pub reviewed_by: String,
    /// The client made from it, once approved (kept while a scope change waits for review).
    pub client_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    pub updated_at: String,
}

impl RegistrationRequestResponse {
    fn new(request: &RegistrationRequest, username: Option<String>) -> Result<Self, ApiError> {
        Ok(Self {
            id: request.id.clone(),
            owner: OwnerBody {
                id: request.owner.clone(),
                username,
            },
            status: request.status.as_str().to_owned(),
            app: (&request.app).into(),
            review_reason: request.review_reason.clone(),
            reviewed_by: request.reviewed_by.clone(),
            client_id: request.client_id.as_ref().map(|c| c.as_str().to_owned()),
            created_at: rfc3339(request.created_at)?,
            updated_at: rfc3339(request.updated_at)?,
        })
    }
}

impl AdminState {
    async fn username_of(&self, id: &str) -> Result<Option<String>, ApiError> {
        Ok(self.durable.get_user(id).await?.map(|u| u.username))
    }

    async fn answer(
        &self,
        request: &RegistrationRequest,
    ) -> Result<Json<RegistrationRequestResponse>, ApiError> {
        let username = self.username_of(&request.owner).await?;
        Ok(Json(RegistrationRequestResponse::new(request, username)?))
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestListParams {
    /// `pending`, `approved`, `rejected` or `changes_requested`.
    pub status: Option<String>,
    /// The partner's user id.
    pub owner: Option<String>,
    /// Case-insensitive substring of the app's name, website or contact name.
    pub search: Option<String>,
    /// Items per page: 1 to 500 (larger values are clamped), 100 when omitted.
    pub page_size: Option<u32>,
    /// The token from the previous answer's `Link: <…>; rel="next"` header.
    pub page_token: Option<String>,
}

fn parse_status(status: &str) -> Result<RequestStatus, ApiError> {
    RequestStatus::parse(status).ok_or_else(|| {
        ApiError::invalid_request(format!(
            "status {status:?} is not pending, approved, rejected or changes_requested"
        ))
    })
}

/// Lists registration requests, oldest first, a page at a time.
#[utoipa::path(get, path = "/admin/registration-requests", tag = TAG, params(RequestListParams),
    responses(
        (status = 200, description = "One page of requests", body = [RegistrationRequestResponse],
            headers(("Link" = String, description = "`<…>; rel=\"next\"` while more pages follow"))),
        (status = 400, description = "Refused; `error` and `error_description` say why", body = ErrorBody),
    ))]
pub async fn list_registration_requests(
    State(state): State<AdminState>,
    query: Result<Query<RequestListParams>, QueryRejection>,
) -> Result<(HeaderMap, Json<Vec<RegistrationRequestResponse>>), ApiError> {
    let Query(params) = query.map_err(|e| ApiError::from_query_rejection(&e))?;
    let status = params.status.filter(|s| !s.is_empty());
    let owner = params.owner.filter(|s| !s.is_empty());
    let search = params.search.filter(|s| !s.is_empty());
    let filter = RegistrationRequestQuery {
        status: status.as_deref().map(parse_status).transpose()?,
        owner: owner.clone(),
        search: search.clone(),
    };
    let page = PageParams {
        page_size: params.page_size,
        page_token: params.page_token,
    }
    .to_request()?;
    let found = state.partners().list(&filter, &page).await?;
    let mut usernames: HashMap<String, Option<String>> = HashMap::new();
    let mut items = Vec::with_capacity(found.items.len());
    for request in &found.items {
        let username = match usernames.get(&request.owner) {
            Some(name) => name.clone(),
            None => {
                let name = state.username_of(&request.owner).await?;
                usernames.insert(request.owner.clone(), name.clone());
                name
            }
        };
        items.push(RegistrationRequestResponse::new(request, username)?);
    }
    let filters: Vec<(&str, &str)> = [
        ("status", status.as_deref()),
        ("owner", owner.as_deref()),
        ("search", search.as_deref()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    let mut headers = HeaderMap::new();
    if let Some(link) = next_link(
        "/admin/registration-requests",
        page.size,
        found.next.as_deref(),
        &filters,
    ) {
        headers.insert(header::LINK, link);
    }
    Ok((headers, Json(items)))
}

/// Reads one registration request.
#[utoipa::path(get, path = "/admin/registration-requests/{id}", tag = TAG,
    params(("id" = String, Path, description = "Request id (`rr_…`)")),
    responses(
        (status = 200, description = "The request", body = RegistrationRequestResponse),
        (status = 404, description = "No such request", body = ErrorBody),
    ))]
pub async fn get_registration_request(
    State(state): State<AdminState>,
    PathParam(id): PathParam,
) -> Result<Json<RegistrationRequestResponse>, ApiError> {
    let request = state.partners().get(&id).await?;
    state.answer(&request).await
}

/// Edits of the app an operator makes while approving; omitted fields stay as requested.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppEdits {
    pub name: Option<String>,
    pub description: Option<String>,
    pub website: Option<String>,
    pub contact_name: Option<String>,
    pub reason: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub confidential: Option<bool>,
    pub logo_uri: Option<String>,
}

impl AppEdits {
    fn apply(self, mut app: AppRequest) -> AppRequest {
        macro_rules! take {
            ($($field:ident),*) => { $( if let Some(v) = self.$field { app.$field = v; } )* };
        }
        take!(
            name,
            description,
            website,
            contact_name,
            reason,
            redirect_uris,
            scopes,
            confidential,
            logo_uri
        );
        app
    }
}

/// The optional body of an approval.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// The operator's edits of the app before its client is made.
    pub app: Option<AppEdits>,
}

/// The body of a rejection or a change request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReasonBody {
    /// Shown to the partner. Required, at most 2,000 characters.
    pub reason: String,
}

fn json_error(rejection: &JsonRejection) -> ApiError {
    ApiError::from_json_rejection(rejection, ErrorCode::InvalidRequest)
}

/// Who acts: the operator signed into the console (the audit log's actor, by username), else
/// a [`Reviewer`] a layer in front named, else the admin API.
fn reviewer(extensions: &axum::http::Extensions) -> String {
    if let Some(AuditActor {
        kind: ActorKind::User,
        name: Some(name),
        ..
    }) = extensions.get::<AuditActor>()
    {
        return name.clone();
    }
    extensions
        .get::<Reviewer>()
        .map_or_else(|| ADMIN_API_REVIEWER.to_owned(), |r| r.0.clone())
}

/// The operator acting on a request, when a layer in front of the admin API knows them (e.g. the
/// console's signed-in user). Without it, reviews are recorded as [`ADMIN_API_REVIEWER`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reviewer(pub String);

/// Approves a pending request: creates its client exactly as requested (or as edited here), or
/// for an approved app's scope change updates its client. The partner reveals the secret once in
/// the portal; it is never shown here.
#[utoipa::path(post, path = "/admin/registration-requests/{id}/approve", tag = TAG,
    params(("id" = String, Path, description = "Request id (`rr_…`)")),
    request_body(content = Option<ApproveBody>, description = "Optional: `{\"app\": {…edited fields…}}`"),
    responses(
        (status = 200, description = "The approved request, with its `client_id`", body = RegistrationRequestResponse),
        (status = 400, description = "An edited field is refused", body = ErrorBody),
        (status = 404, description = "No such request", body = ErrorBody),
        (status = 409, description = "The request is not pending", body = ErrorBody),
    ))]
pub async fn approve_registration_request(
    State(state): State<AdminState>,
    PathParam(id): PathParam,
    extensions: axum::http::Extensions,
    body: Bytes,
) -> Result<Json<RegistrationRequestResponse>, ApiError> {
    let body: ApproveBody = if body.iter().all(u8::is_ascii_whitespace) {
        ApproveBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid_request(format!("the body is not valid JSON: {e}")))?
    };
    let partners = state.partners();
    let edits = match body.app {
        Some(edits) => Some(edits.apply(partners.get(&id).await?.app)),
        None => None,
    };
    let approved = partners.approve(&id, edits, &reviewer(&extensions)).await?;
    tracing::info!(request_id = %approved.id, client_id = ?approved.client_id.as_ref().map(|c| c.as_str()), "registration request approved");
    state.notify_partner(&approved).await;
    state.answer(&approved).await
}

/// Rejects a pending request with a reason the partner sees. For an approved app's scope change
/// the change is refused and the request returns to `approved` with the client's scopes.
#[utoipa::path(post, path = "/admin/registration-requests/{id}/reject", tag = TAG,
    params(("id" = String, Path, description = "Request id (`rr_…`)")),
    request_body = ReasonBody,
    responses(
        (status = 200, description = "The rejected request", body = RegistrationRequestResponse),
        (status = 400, description = "No reason given", body = ErrorBody),
        (status = 404, description = "No such request", body = ErrorBody),
        (status = 409, description = "The request is not pending", body = ErrorBody),
    ))]
pub async fn reject_registration_request(
    State(state): State<AdminState>,
    PathParam(id): PathParam,
    extensions: axum::http::Extensions,
    body: Result<Json<ReasonBody>, JsonRejection>,
) -> Result<Json<RegistrationRequestResponse>, ApiError> {
    let Json(body) = body.map_err(|e| json_error(&e))?;
    let rejected = state
        .partners()
        .reject(&id, &body.reason, &reviewer(&extensions))
        .await?;
    tracing::info!(request_id = %rejected.id, "registration request rejected");
    state.notify_partner(&rejected).await;
    state.answer(&rejected).await
}

/// Asks the partner for changes, with a reason; they may edit and resubmit.
#[utoipa::path(post, path = "/admin/registration-requests/{id}/request-changes", tag = TAG,
    params(("id" = String, Path, description = "Request id (`rr_…`)")),
    request_body = ReasonBody,
    responses(
        (status = 200, description = "The request, now `changes_requested`", body = RegistrationRequestResponse),
        (status = 400, description = "No reason given", body = ErrorBody),
        (status = 404, description = "No such request", body = ErrorBody),
        (status = 409, description = "The request is not pending", body = ErrorBody),
    ))]
pub async fn request_changes(
    State(state): State<AdminState>,
    PathParam(id): PathParam,
    extensions: axum::http::Extensions,
    body: Result<Json<ReasonBody>, JsonRejection>,
) -> Result<Json<RegistrationRequestResponse>, ApiError> {
    let Json(body) = body.map_err(|e| json_error(&e))?;
    let changed = state
        .partners()
        .request_changes(&id, &body.reason, &reviewer(&extensions))
        .await?;
    tracing::info!(request_id = %changed.id, "changes requested on a registration request");
    state.notify_partner(&changed).await;
    state.answer(&changed).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::OAuthError;

    #[test]
    fn wrong_status_is_a_conflict_and_off_is_unavailable() {
        let e: ApiError = PartnerError::WrongStatus("not pending".into()).into();
        assert_eq!(e.code(), ErrorCode::Conflict);
        let e: ApiError = PartnerError::NotFound.into();
        assert_eq!(e.code(), ErrorCode::NotFound);
        let e: ApiError = PartnerError::Invalid(OAuthError::invalid_request("x")).into();
        assert_eq!(e.code(), ErrorCode::InvalidRequest);
    }

    #[test]
    fn the_reviewer_is_the_console_operator_when_known() {
        let mut extensions = axum::http::Extensions::new();
        assert_eq!(reviewer(&extensions), ADMIN_API_REVIEWER);
        extensions.insert(AuditActor::admin_token());
        assert_eq!(reviewer(&extensions), ADMIN_API_REVIEWER);
        extensions.insert(AuditActor::user("user-7", "olga"));
        assert_eq!(reviewer(&extensions), "olga");
    }

    #[test]
    fn edits_replace_only_the_fields_given() {
        let app = AppRequest {
            name: "Acme".into(),
            scopes: vec!["openid".into()],
            ..AppRequest::default()
        };
        let edited = AppEdits {
            scopes: Some(vec!["openid".into(), "profile".into()]),
            ..AppEdits::default()
        }
        .apply(app);
        assert_eq!(edited.name, "Acme");
        assert_eq!(edited.scopes.len(), 2);
    }
}
