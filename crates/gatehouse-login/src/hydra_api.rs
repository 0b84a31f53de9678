//! External UI mode, the app's side: Ory Hydra v2's login, consent and logout challenge API
//! (`/admin/oauth2/auth/requests/…`, `/admin/oauth2/auth/sessions/…`), with Hydra's paths and
//! JSON shapes, over the same challenges, sessions and token-service calls as the built-in
//! pages (`challenge.rs`, `session.rs`, `token_client.rs`).
//!
//! The binary mounts [`router`] on the admin listener (`serve all`) or the login-admin listener
//! (`serve login`), behind the admin listener's browser guard and admin token. These calls carry
//! no browser cookie: the challenge's binding to the browser is checked when the browser comes
//! back with the verifier (`external.rs`).
//!
//! A `GET` of an answered challenge is 410 with the answer's `redirect_to` (as Hydra) until the
//! browser has used it; a second answer is refused with 409 (Hydra answers the same
//! `redirect_to` again); an unknown, expired or used challenge is 404. Errors are Hydra's `ErrorOAuth2` shape:
//! `{"error", "error_description", "status_code"}`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, put};
use gatehouse_core::authorize::ValidatedAuthorization;
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::grant::{
    RESERVED_ACCESS_TOKEN_CLAIMS, RESERVED_ID_TOKEN_CLAIMS, reserved_claim,
};
use gatehouse_core::scope::ScopeSet;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::challenge::Challenge;
use crate::external::{ConsentAccepted, ExternalState, LoginAccepted, Phase, Rejection};
use crate::form::Fields;
use crate::redirect;
use crate::state::LoginState;
use crate::token_client::ClientDisplay;

/// The routes, at Hydra v2's admin paths.
///
/// | route | what |
/// |---|---|
/// | `GET /admin/oauth2/auth/requests/login?login_challenge=` | `OAuth2LoginRequest` |
/// | `PUT /admin/oauth2/auth/requests/login/accept?login_challenge=` | `OAuth2RedirectTo` |
/// | `PUT /admin/oauth2/auth/requests/login/reject?login_challenge=` | `OAuth2RedirectTo` |
/// | `GET /admin/oauth2/auth/requests/consent?consent_challenge=` | `OAuth2ConsentRequest` |
/// | `PUT /admin/oauth2/auth/requests/consent/accept?consent_challenge=` | `OAuth2RedirectTo` |
/// | `PUT /admin/oauth2/auth/requests/consent/reject?consent_challenge=` | `OAuth2RedirectTo` |
/// | `GET /admin/oauth2/auth/requests/logout?logout_challenge=` | `OAuth2LogoutRequest` |
/// | `PUT /admin/oauth2/auth/requests/logout/accept?logout_challenge=` | `OAuth2RedirectTo` |
/// | `PUT /admin/oauth2/auth/requests/logout/reject?logout_challenge=` | 204 |
/// | `GET /admin/oauth2/auth/sessions/consent?subject=` | `[OAuth2ConsentSession]` |
/// | `DELETE /admin/oauth2/auth/sessions/consent?subject=[&client=][&all=true]` | 204 |
/// | `DELETE /admin/oauth2/auth/sessions/login?subject=` | 204 |
pub fn router(state: LoginState) -> Router {
    const REQUESTS: &str = "/admin/oauth2/auth/requests";
    Router::new()
        .route(&format!("{REQUESTS}/login"), get(get_login))
        .route(&format!("{REQUESTS}/login/accept"), put(accept_login))
        .route(&format!("{REQUESTS}/login/reject"), put(reject_login))
        .route(&format!("{REQUESTS}/consent"), get(get_consent))
        .route(&format!("{REQUESTS}/consent/accept"), put(accept_consent))
        .route(&format!("{REQUESTS}/consent/reject"), put(reject_consent))
        .route(&format!("{REQUESTS}/logout"), get(get_logout))
        .route(&format!("{REQUESTS}/logout/accept"), put(accept_logout))
        .route(&format!("{REQUESTS}/logout/reject"), put(reject_logout))
        .route(
            "/admin/oauth2/auth/sessions/consent",
            get(list_consent_sessions).delete(revoke_consent_sessions),
        )
        .route(
            "/admin/oauth2/auth/sessions/login",
            axum::routing::delete(end_login_sessions),
        )
        .with_state(state)
}

/// Hydra's `ErrorOAuth2` answer.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl ApiError {
    fn not_found(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            error: "Not Found",
            description: description.into(),
        }
    }

    fn bad_request(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
            description: description.into(),
        }
    }

    fn conflict() -> Self {
        Self {
            status: StatusCode::CONFLICT,
            error: "Conflict",
            description: "the challenge has been answered already".into(),
        }
    }

    fn unavailable() -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: "temporarily_unavailable",
            description: "a store or the token service is unavailable; try again".into(),
        }
    }

    fn from_oauth(e: &OAuthError) -> Self {
        match e.code {
            ErrorCode::TemporarilyUnavailable => Self::unavailable(),
            ErrorCode::ServerError => Self {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                error: "server_error",
                description: e.description.to_string(),
            },
            _ => Self {
                status: StatusCode::BAD_REQUEST,
                error: "invalid_request",
                description: e.description.to_string(),
            },
        }
    }
}

impl From<gatehouse_core::store::StoreError> for ApiError {
    fn from(e: gatehouse_core::store::StoreError) -> Self {
        tracing::warn!(error = %e, "a challenge could not be read or written");
        Self::unavailable()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": self.error,
            "error_description": self.description,
            "status_code": self.status.as_u16(),
        });
        (self.status, Json(body)).into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

fn query_param(query: Option<&str>, name: &str) -> Result<String, ApiError> {
    Fields::query(query)
        .get(name)
        .map(str::to_owned)
        .ok_or_else(|| ApiError::bad_request(format!("the {name} parameter is missing")))
}

/// A JSON body; an empty one reads as `{}`.
fn body<T: for<'de> Deserialize<'de>>(bytes: &Bytes) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("the body is not the expected JSON: {e}")))
}

fn redirect_to(url: Option<String>) -> ApiResult {
    let url = url.ok_or_else(|| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        error: "server_error",
        description: "the redirect URL cannot be built".into(),
    })?;
    Ok(Json(json!({ "redirect_to": url })).into_response())
}

/// The challenge `id` waiting in `phase`, with its external state.
async fn pending(
    state: &LoginState,
    id: &str,
    phase: Phase,
) -> Result<(Challenge, ExternalState), ApiError> {
    let challenge = state.challenges().load_unbound(id).await?;
    challenge
        .and_then(|c| {
            let ext = c.external.clone().filter(|e| e.phase == phase)?;
            Some((c, ext))
        })
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no {} request with this challenge: unknown, expired or used",
                phase.kind()
            ))
        })
}

/// Saves `ext` into the challenge and answers `redirect_to` with a new verifier.
async fn answer(
    state: &LoginState,
    id: &str,
    mut challenge: Challenge,
    ext: ExternalState,
) -> ApiResult {
    let phase = ext.phase;
    let request_url = ext.request_url.clone();
    challenge.external = Some(ext);
    let challenges = state.challenges();
    challenges.save(id, &challenge).await?;
    let verifier = challenges.create_verifier(phase.kind(), id).await?;
    let name = format!("{}_verifier", phase.kind());
    redirect_to(redirect::with_query(
        &request_url,
        &[(name.as_str(), verifier.as_str())],
    ))
}

/// Hydra's `OAuth2Client` for what the login UI knows of a client.
fn client_json(client: &ClientDisplay) -> Value {
    let mut c = Map::new();
    c.insert("client_id".into(), json!(client.client_id));
    c.insert("client_name".into(), json!(client.name));
    for (key, value) in [
        ("logo_uri", &client.logo_uri),
        ("client_uri", &client.client_uri),
        ("policy_uri", &client.policy_uri),
        ("tos_uri", &client.tos_uri),
    ] {
        c.insert(key.into(), json!(value.clone().unwrap_or_default()));
    }
    c.insert("skip_consent".into(), json!(client.skip_consent));
    Value::Object(c)
}

/// Hydra's `OAuth2ConsentRequestOpenIDConnectContext`.
fn oidc_context(request: &ValidatedAuthorization) -> Value {
    let mut c = Map::new();
    c.insert("acr_values".into(), json!([]));
    if let Some(hint) = &request.login_hint {
        c.insert("login_hint".into(), json!(hint));
    }
    let locales: Vec<&str> = request
        .ui_locales
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .filter(|l| !l.is_empty())
        .collect();
    c.insert("ui_locales".into(), json!(locales));
    if let Some(sub) = &request.hinted_subject {
        c.insert("id_token_hint_claims".into(), json!({ "sub": sub }));
    }
    Value::Object(c)
}

fn scopes(scope: &ScopeSet) -> Vec<&str> {
    scope.iter().map(|s| s.as_str()).collect()
}

/// Hydra: a `GET` of a challenge answered already is 410 with the `redirect_to` of the answer
/// (the SDK's `OAuth2RedirectTo`), until the browser has used it.
fn gone_if_answered(state: &LoginState, id: &str, ext: &ExternalState) -> Option<Response> {
    if !ext.answered() {
        return None;
    }
    let verifier = state.challenges().verifier_for(ext.phase.kind(), id);
    let name = format!("{}_verifier", ext.phase.kind());
    Some(
        match redirect::with_query(&ext.request_url, &[(name.as_str(), verifier.as_str())]) {
            Some(url) => (StatusCode::GONE, Json(json!({ "redirect_to": url }))).into_response(),
            None => ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                error: "server_error",
                description: "the redirect URL cannot be built".into(),
            }
            .into_response(),
        },
    )
}

async fn get_login(State(state): State<LoginState>, RawQuery(query): RawQuery) -> ApiResult {
    let id = query_param(query.as_deref(), "login_challenge")?;
    let (challenge, ext) = pending(&state, &id, Phase::Login).await?;
    if let Some(gone) = gone_if_answered(&state, &id, &ext) {
        return Ok(gone);
    }
    let request = &challenge.request;
    Ok(Json(json!({
        "challenge": id,
        "client": client_json(&challenge.client),
        "oidc_context": oidc_context(request),
        "request_url": ext.request_url,
        "requested_access_token_audience": request.resources,
        "requested_scope": scopes(&request.scope),
        "session_id": ext.session_id,
        "skip": ext.skip,
        "subject": challenge.authenticated.as_ref().map(|a| a.subject.as_str()).unwrap_or_default(),
    }))
    .into_response())
}

/// Hydra's `AcceptOAuth2LoginRequest`; `extend_session_lifespan`, `force_subject_identifier`
/// and `identity_provider_session_id` are accepted and ignored.
#[derive(Debug, Deserialize)]
struct AcceptLogin {
    subject: Option<String>,
    remember: Option<bool>,
    remember_for: Option<i64>,
    acr: Option<String>,
    amr: Option<Vec<String>>,
    context: Option<Value>,
}

async fn accept_login(
    State(state): State<LoginState>,
    RawQuery(query): RawQuery,
    bytes: Bytes,
) -> ApiResult {
    let id = query_param(query.as_deref(), "login_challenge")?;
    let accept: AcceptLogin = body(&bytes)?;
    let (challenge, mut ext) = pending(&state, &id, Phase::Login).await?;
    if ext.answered() {
        return Err(ApiError::conflict());
    }
    let subject = accept
        .subject
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request("subject is required"))?;
    if ext.skip
        && let Some(auth) = &challenge.authenticated
        && auth.subject != subject
    {
        return Err(ApiError::bad_request(
            "skip is true: the subject must be the signed-in user's",
        ));
    }
    let remember_for = u64::try_from(accept.remember_for.unwrap_or(0))
        .map_err(|_| ApiError::bad_request("remember_for must not be negative"))?;
    ext.login = Some(LoginAccepted {
        subject,
        remember: accept.remember.unwrap_or(false),
        remember_for,
        acr: accept.acr,
        amr: accept.amr.unwrap_or_default(),
        context: accept.context,
    });
    answer(&state, &id, challenge, ext).await
}

/// Hydra's `RejectOAuth2Request`.
#[derive(Debug, Deserialize)]
struct Reject {
    error: Option<String>,
    error_description: Option<String>,
    error_hint: Option<String>,
}

async fn reject(state: &LoginState, id: &str, phase: Phase, bytes: &Bytes) -> ApiResult {
    let reject: Reject = body(bytes)?;
    let (challenge, mut ext) = pending(state, id, phase).await?;
    if ext.answered() {
        return Err(ApiError::conflict());
    }
    let (error, description) = crate::external::client_error(
        reject.error.as_deref(),
        reject
            .error_description
            .as_deref()
            .or(reject.error_hint.as_deref())
            .filter(|d| !d.is_empty()),
    );
    ext.rejected = Some(Rejection { error, description });
    answer(state, id, challenge, ext).await
}

async fn reject_login(
    State(state): State<LoginState>,
    RawQuery(query): RawQuery,
    bytes: Bytes,
) -> ApiResult {
    let id = query_param(query.as_deref(), "login_challenge")?;
    reject(&state, &id, Phase::Login, &bytes).await
}

async fn get_consent(State(state): State<LoginState>, RawQuery(query): RawQuery) -> ApiResult {
    let id = query_param(query.as_deref(), "consent_challenge")?;
    let (challenge, ext) = pending(&state, &id, Phase::Consent).await?;
    if let Some(gone) = gone_if_answered(&state, &id, &ext) {
        return Ok(gone);
    }
    let request = &challenge.request;
    let login = ext.login.as_ref();
    Ok(Json(json!({
        "acr": login.and_then(|l| l.acr.clone()),
        "amr": login.map(|l| l.amr.clone()).unwrap_or_default(),
        "challenge": id,
        "client": client_json(&challenge.client),
        "consent_request_id": id,
        "context": login.and_then(|l| l.context.clone()),
        "login_challenge": ext.login_challenge,
        "login_session_id": challenge.authenticated.as_ref().map(|a| a.sid.clone()),
        "oidc_context": oidc_context(request),
        "request_url": ext.request_url,
        "requested_access_token_audience": request.resources,
        "requested_scope": scopes(&request.scope),
        "skip": ext.skip,
        "subject": challenge.authenticated.as_ref().map(|a| a.subject.clone()),
    }))
    .into_response())
}

/// Hydra's `AcceptOAuth2ConsentRequest`; `remember_for`, `handled_at` and `context` are accepted
/// and ignored (a remembered consent lasts `GATEHOUSE_TTL_CONSENT`).
#[derive(Debug, Deserialize)]
struct AcceptConsent {
    grant_scope: Option<Vec<String>>,
    grant_access_token_audience: Option<Vec<String>>,
    remember: Option<bool>,
    session: Option<ConsentSession>,
}

#[derive(Debug, Deserialize)]
struct ConsentSession {
    id_token: Option<Value>,
    access_token: Option<Value>,
}

/// Extra claims: a JSON object without reserved names (`null` is none).
fn extra_claims(
    value: Option<Value>,
    what: &str,
    reserved: &[&str],
) -> Result<Option<Map<String, Value>>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => {
            if let Some(name) = reserved_claim(&map, reserved) {
                return Err(ApiError::bad_request(format!(
                    "session.{what} must not set the reserved claim {name}"
                )));
            }
            Ok(Some(map))
        }
        Some(_) => Err(ApiError::bad_request(format!(
            "session.{what} must be a JSON object"
        ))),
    }
}

async fn accept_consent(
    State(state): State<LoginState>,
    RawQuery(query): RawQuery,
    bytes: Bytes,
) -> ApiResult {
    let id = query_param(query.as_deref(), "consent_challenge")?;
    let accept: AcceptConsent = body(&bytes)?;
    let (challenge, mut ext) = pending(&state, &id, Phase::Consent).await?;
    if ext.answered() {
        return Err(ApiError::conflict());
    }
    let request = &challenge.request;
    let grant_scope = ScopeSet::parse(&accept.grant_scope.unwrap_or_default().join(" "))
        .map_err(|_| ApiError::bad_request("grant_scope holds an invalid scope"))?;
    if let Some(refused) = grant_scope.refused_by(&request.scope) {
        return Err(ApiError::bad_request(format!(
            "grant_scope may only hold requested scopes; not requested: {refused}"
        )));
    }
    if let Some(audience) = &accept.grant_access_token_audience
        && let Some(refused) = audience.iter().find(|a| !request.resources.contains(a))
    {
        return Err(ApiError::bad_request(format!(
            "grant_access_token_audience may only hold requested audiences; not requested: {refused}"
        )));
    }
    let (id_token, access_token) = match accept.session {
        Some(session) => (session.id_token, session.access_token),
        None => (None, None),
    };
    ext.consent = Some(ConsentAccepted {
        grant_scope,
        audience: accept.grant_access_token_audience,
        remember: accept.remember.unwrap_or(false),
        id_token_claims: extra_claims(id_token, "id_token", &RESERVED_ID_TOKEN_CLAIMS)?,
        access_token_claims: extra_claims(
            access_token,
            "access_token",
            &RESERVED_ACCESS_TOKEN_CLAIMS,
        )?,
    });
    answer(&state, &id, challenge, ext).await
}

async fn reject_consent(
    State(state): State<LoginState>,
    RawQuery(query): RawQuery,
    bytes: Bytes,
) -> ApiResult {
    let id = query_param(query.as_deref(), "consent_challenge")?;
    reject(&state, &id, Phase::Consent, &bytes).await
}

async fn get_logout(State(state): State<LoginState>, RawQuery(query): RawQuery) -> ApiResult {
    let id = query_param(query.as_deref(), "logout_challenge")?;
    let logout = state
        .challenges()
        .load_logout_unbound(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("no logout request with this challenge"))?;
    let mut body = Map::new();
    body.insert("challenge".into(), json!(id));
    if let Some(client) = &logout.client {
        body.insert("client".into(), client_json(client));
    }
    body.insert("request_url".into(), json!(logout.request_url));
    body.insert("rp_initiated".into(), json!(true));
    body.insert("sid".into(), json!(logout.sid));
    body.insert("subject".into(), json!(logout.subject));
    Ok(Json(Value::Object(body)).into_response())
}

async fn accept_logout(State(state): State<LoginState>, RawQuery(query): RawQuery) -> ApiResult {
    let id = query_param(query.as_deref(), "logout_challenge")?;
    let challenges = state.challenges();
    if challenges.load_logout_unbound(&id).await?.is_none() {
        return Err(ApiError::not_found("no logout request with this challenge"));
    }
    let verifier = challenges.create_verifier("logout", &id).await?;
    redirect_to(redirect::with_query(
        &format!("{}/oauth2/sessions/logout", state.issuer()),
        &[("logout_verifier", verifier.as_str())],
    ))
}

async fn reject_logout(State(state): State<LoginState>, RawQuery(query): RawQuery) -> ApiResult {
    let id = query_param(query.as_deref(), "logout_challenge")?;
    if !state.challenges().delete_logout(&id).await? {
        return Err(ApiError::not_found("no logout request with this challenge"));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn rfc3339(at: time::OffsetDateTime) -> Option<String> {
    at.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

async fn list_consent_sessions(
    State(state): State<LoginState>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let subject = query_param(query.as_deref(), "subject")?;
    let apps = state
        .token()
        .list_consents(&subject)
        .await
        .map_err(|e| ApiError::from_oauth(&e))?;
    let sessions: Vec<Value> = apps
        .iter()
        .map(|app| {
            let consent = &app.consent;
            let client = app.client.clone().unwrap_or_else(|| ClientDisplay {
                client_id: consent.client_id.to_string(),
                name: String::new(),
                logo_uri: None,
                client_uri: None,
                policy_uri: None,
                tos_uri: None,
                skip_consent: false,
            });
            let remember_for = consent
                .expires_at
                .map(|e| (e - consent.granted_at).whole_seconds().max(0))
                .unwrap_or(0);
            json!({
                "consent_request": {
                    "challenge": "",
                    "client": client_json(&client),
                    "requested_scope": scopes(&consent.scope),
                    "requested_access_token_audience": [],
                    "skip": false,
                    "subject": consent.subject,
                },
                "grant_scope": scopes(&consent.scope),
                "grant_access_token_audience": [],
                "handled_at": rfc3339(consent.granted_at),
                "remember": true,
                "remember_for": remember_for,
                "session": { "access_token": {}, "id_token": {} },
            })
        })
        .collect();
    Ok(Json(sessions).into_response())
}

async fn revoke_consent_sessions(
    State(state): State<LoginState>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let fields = Fields::query(query.as_deref());
    let subject = query_param(query.as_deref(), "subject")?;
    let token = state.token();
    let clients: Vec<String> = match (fields.get("client"), fields.get("all")) {
        (Some(client), _) => vec![client.to_owned()],
        (None, Some("true")) => token
            .list_consents(&subject)
            .await
            .map_err(|e| ApiError::from_oauth(&e))?
            .into_iter()
            .map(|app| app.consent.client_id.to_string())
            .collect(),
        (None, _) => {
            return Err(ApiError::bad_request(
                "name a client (client=) or revoke every consent (all=true)",
            ));
        }
    };
    for client in clients {
        // Withdraws the consent and ends the client's access for the subject everywhere: the
        // consent cut-off, the refresh families (as "remove access" on the account page).
        token
            .revoke_consent(&subject, &client)
            .await
            .map_err(|e| ApiError::from_oauth(&e))?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn end_login_sessions(
    State(state): State<LoginState>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let fields = Fields::query(query.as_deref());
    let Some(subject) = fields.get("subject") else {
        return Err(ApiError::bad_request(if fields.get("sid").is_some() {
            "ending one session by sid is not supported; end the subject's sessions (subject=)"
        } else {
            "the subject parameter is missing"
        }));
    };
    let ended = state.sessions().end_all(subject).await?;
    tracing::info!(ended, "login sessions ended through the admin API");
    Ok(StatusCode::NO_CONTENT.into_response())
}
