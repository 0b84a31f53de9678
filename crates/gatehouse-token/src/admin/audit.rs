//! The audit log's recorder: one middleware on the admin API's routes that writes an
//! [`AuditEvent`] for every successful (2xx) `POST`, `PUT`, `PATCH` and `DELETE`, and
//! `GET /admin/audit-events`, which reads them back.
//!
//! Being a route layer, the recorder covers every route mounted on the admin router before it is
//! applied, including routes added later, without their handlers doing anything: the action is
//! derived from the matched route ([`action_of`]), the target from its path parameters (or, for
//! a create, the new record's id in the answer), the changed fields from the JSON body (query
//! parameters included), each field that could hold a secret, password, hash, token or key kept
//! by name with the value `"[redacted]"` ([`gatehouse_core::audit::redact_changes`]).
//!
//! Not recorded: reads, failures (non-2xx), dry runs (`?dry_run=true` on the routes that have one,
//! [`DRY_RUN_ROUTES`]: nothing changed), and the `POST`s that change nothing ([`READ_ONLY_POSTS`]).
//! A `dry_run` parameter on any other route is no dry run: the route ignores it and changes
//! what it changes, so the change is recorded.
//!
//! The actor: an [`AuditActor`] request extension when present (the in-process operator console
//! puts one there; extensions cannot come from the network), else `admin_token` when
//! the admin-token layer accepted the request's token ([`AdminTokenPresented`]), else
//! `cli` for the `gatehouse` CLI's `User-Agent` (`gatehouse-cli/<version>`), else
//! `loopback`. Nothing a caller sends names an actor: the `User-Agent` only tells
//! the CLI from other programs on the loopback listener, where every caller is already trusted
//! alike.

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{MatchedPath, Query, RawPathParams, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gatehouse_core::Clock;
use gatehouse_core::audit::{
    AuditActor, AuditEvent, AuditQuery, REDACTED, is_secret_field, redact_changes,
};
use gatehouse_core::store::DurableStore;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

use super::pagination::{PageParams, next_link};
use super::{AdminState, ApiError, ErrorBody, rfc3339};

const TAG: &str = "audit";

/// Put into a request's extensions by the admin-token layer when it accepted the request's
/// token: the recorder then names `admin_token` as the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminTokenPresented;

/// The `User-Agent` the `gatehouse` CLI sends: `gatehouse-cli/<version>`.
pub const CLI_USER_AGENT_PREFIX: &str = "gatehouse-cli/";

/// `POST` routes that change nothing, so are not recorded (matched route templates).
pub const READ_ONLY_POSTS: &[&str] = &["/admin/oauth2/introspect"];

/// The routes whose `?dry_run=true` checks a change without making it (method, route template).
pub const DRY_RUN_ROUTES: &[(&str, &str)] =
    &[("POST", "/admin/clients"), ("POST", "/admin/users/import")];

/// Actions whose name the derivation rule ([`action_of`]) would get wrong or too vague:
/// (method, route template, action).
const ACTION_OVERRIDES: &[(&str, &str, &str)] = &[
    ("POST", "/admin/clients/{id}/secret", "client.secret.rotate"),
    (
        "DELETE",
        "/admin/users/{id}/consents/{client_id}",
        "user.consent.revoke",
    ),
];

/// The largest request body the recorder reads (and the admin API accepts: axum's default
/// body limit for JSON).
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The largest answer the recorder reads to find a created record's id.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// Above this many bytes of serialised changes, large values are left out (named with their size).
const MAX_CHANGES_BYTES: usize = 32 * 1024;

/// The store and clock the recorder writes events with.
#[derive(Clone)]
pub struct AuditRecorder {
    pub durable: Arc<dyn DurableStore>,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for AuditRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditRecorder")
            .field("durable", &self.durable.backend())
            .finish_non_exhaustive()
    }
}

impl AuditRecorder {
    pub fn from_state(state: &AdminState) -> Self {
        Self {
            durable: Arc::clone(&state.durable),
            clock: Arc::clone(&state.clock),
        }
    }

    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.clock.unix()).unwrap_or_else(|_| self.clock.now())
    }
}

/// The action of a change: `<target kind>.<verb>`.
///
/// The rule, on the route template below `/admin/`: the first segment, made singular with `_`
/// for `-`, is the target kind (`registration-tokens` → `registration_token`); a route with
/// nothing after the collection and its `{id}` gets the method's verb (`POST` `create`, `PUT`
/// and `PATCH` `update`, `DELETE` `delete`); literal segments after it are appended, a segment
/// followed by a parameter made singular (`users/{id}/consents/{client_id}`), and for `PUT`,
/// `PATCH` and `DELETE` the method's verb after them (`PUT users/{id}/password` →
/// `user.password.set`), while a `POST` to a literal segment is that action
/// (`registration-requests/{id}/approve` → `registration_request.approve`,
/// `keys/rotate` → `key.rotate`). [`ACTION_OVERRIDES`] names the exceptions.
pub fn action_of(method: &Method, template: &str) -> (String, String) {
    let segments: Vec<&str> = template
        .trim_start_matches('/')
        .split('/')
        .skip_while(|s| *s == "admin")
        .filter(|s| !s.is_empty())
        .collect();
    let is_param = |s: &str| s.starts_with('{');
    let word = |s: &str, singular: bool| {
        let s = s.replace('-', "_");
        match s.strip_suffix('s') {
            Some(stem) if singular && !stem.is_empty() => stem.to_owned(),
            _ => s,
        }
    };
    let kind = segments
        .first()
        .map(|s| word(s, true))
        .unwrap_or_else(|| "admin".to_owned());
    if let Some((_, _, action)) = ACTION_OVERRIDES
        .iter()
        .find(|(m, t, _)| *m == method.as_str() && *t == template)
    {
        return (kind, (*action).to_owned());
    }
    let mut parts = vec![kind.clone()];
    let rest: Vec<&str> = segments.iter().skip(1).copied().collect();
    for (i, segment) in rest.iter().enumerate() {
        if is_param(segment) {
            continue;
        }
        let followed_by_param = rest.get(i + 1).is_some_and(|s| is_param(s));
        parts.push(word(segment, followed_by_param));
    }
    let verb = match *method {
        Method::POST if parts.len() == 1 => Some("create"),
        Method::POST => None,
        Method::PUT if parts.len() == 1 => Some("update"),
        Method::PUT => Some("set"),
        Method::PATCH => Some("update"),
        Method::DELETE => Some("delete"),
        _ => None,
    };
    parts.extend(verb.map(str::to_owned));
    (kind, parts.join("."))
}

/// The actor of a request (see the module's documentation for the order).
fn actor_of(request: &Request) -> AuditActor {
    if let Some(actor) = request.extensions().get::<AuditActor>() {
        return actor.clone();
    }
    if request.extensions().get::<AdminTokenPresented>().is_some() {
        return AuditActor::admin_token();
    }
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    match user_agent {
        Some(ua) if ua.starts_with(CLI_USER_AGENT_PREFIX) => AuditActor::cli(ua),
        other => AuditActor::loopback(other),
    }
}

fn is_change(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// Whether a request is a dry run, which changes nothing: a route of [`DRY_RUN_ROUTES`] with
/// `dry_run=true` (the one spelling its handler reads as true), never contradicted by another
/// `dry_run` in the query.
fn is_dry_run(method: &Method, template: &str, query: Option<&str>) -> bool {
    if !DRY_RUN_ROUTES
        .iter()
        .any(|(m, t)| *m == method.as_str() && *t == template)
    {
        return false;
    }
    let values: Vec<String> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "dry_run")
        .map(|(_, v)| v.into_owned())
        .collect();
    !values.is_empty() && values.iter().all(|v| v == "true")
}

/// The middleware; see the module's documentation.
pub async fn record(
    State(recorder): State<AuditRecorder>,
    request: Request,
    next: Next,
) -> Response {
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let Some(template) = template.filter(|t| {
        is_change(request.method())
            && !(request.method() == Method::POST && READ_ONLY_POSTS.contains(&t.as_str()))
            && !is_dry_run(request.method(), t, request.uri().query())
    }) else {
        return next.run(request).await;
    };
    let method = request.method().clone();
    let actor = actor_of(&request);
    let query = request.uri().query().map(str::to_owned);
    let (mut parts, body) = request.into_parts();
    let params = path_params(&mut parts).await;
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return body_too_large(),
    };
    let request = Request::from_parts(parts, Body::from(bytes.clone()));
    let response = next.run(request).await;
    if !response.status().is_success() {
        return response;
    }
    let (kind, action) = action_of(&method, &template);
    let mut target_id = params.first().map(|(_, v)| v.clone());
    let (response, created_id) = if target_id.is_none() && method == Method::POST {
        created_record_id(response).await
    } else {
        (response, None)
    };
    if target_id.is_none() {
        target_id = created_id;
    }
    let changes = changes_of(&bytes, query.as_deref(), params.iter().skip(1));
    let event = AuditEvent {
        id: uuid::Uuid::now_v7().to_string(),
        at: recorder.now(),
        actor,
        action,
        target_kind: kind,
        target_id,
        changes,
    };
    // The change is made and cannot be taken back: answering 5xx now would tell the operator it
    // failed and invite a retry that repeats it (a second secret rotation, a second client).
    // So a failed audit write is logged at error level with everything the event held (no
    // secret is in it) and counted in `gatehouse_audit_write_failures_total` for an alert,
    // and the answer stays the handler's.
    if let Err(e) = recorder.durable.record_audit_event(&event).await {
        let changes = Value::Object(event.changes.clone()).to_string();
        metrics::counter!("gatehouse_audit_write_failures_total").increment(1);
        tracing::error!(
            error = %e,
            action = %event.action,
            target_kind = %event.target_kind,
            target_id = event.target_id.as_deref().unwrap_or_default(),
            actor_kind = %event.actor.kind,
            actor_id = event.actor.id.as_deref().unwrap_or_default(),
            changes = %changes,
            "an admin change was made but its audit event could not be recorded"
        );
    }
    response
}

/// The path parameters of a routed request, percent-decoded, in the route's order.
async fn path_params(parts: &mut axum::http::request::Parts) -> Vec<(String, String)> {
    use axum::extract::FromRequestParts as _;
    match RawPathParams::from_request_parts(parts, &()).await {
        Ok(params) => params
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn body_too_large() -> Response {
    let mut response = ApiError::invalid_request(format!(
        "the body is larger than the admin API accepts ({} MiB)",
        MAX_BODY_BYTES / (1024 * 1024)
    ))
    .into_response();
    *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    response
}

/// The id of the record a `POST` created, from its JSON answer (`client_id`, `id` or `name`);
/// the answer itself goes back unchanged. Nothing else of it is read: it may carry a secret.
async fn created_record_id(response: Response) -> (Response, Option<String>) {
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_ANSWER_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "reading an admin answer for its audit event failed");
            return (ApiError::server_error().into_response(), None);
        }
    };
    let id = serde_json::from_slice::<Map<String, Value>>(&bytes)
        .ok()
        .and_then(|answer| {
            ["client_id", "id", "name"]
                .iter()
                .find_map(|k| answer.get(*k).and_then(Value::as_str).map(str::to_owned))
        });
    (Response::from_parts(parts, Body::from(bytes)), id)
}

/// The changed fields: a JSON object body's fields; a JSON Patch's (RFC 6902) paths and values;
/// for another JSON array (an import), how many records it held; the query's parameters and
/// any path parameter after the target's id. Secrets redacted, large values left out.
fn changes_of<'a>(
    body: &Bytes,
    query: Option<&str>,
    extra_params: impl Iterator<Item = &'a (String, String)>,
) -> Map<String, Value> {
    let mut fields = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map,
        Ok(Value::Array(items)) if items.iter().all(is_patch_operation) => patch_fields(items),
        Ok(Value::Array(items)) => {
            let mut map = Map::new();
            map.insert("records".to_owned(), Value::from(items.len()));
            map
        }
        _ => Map::new(),
    };
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        fields
            .entry(name.into_owned())
            .or_insert_with(|| Value::String(value.into_owned()));
    }
    for (name, value) in extra_params {
        fields
            .entry(name.clone())
            .or_insert_with(|| Value::String(value.clone()));
    }
    bound_size(redact_changes(fields))
}

fn is_patch_operation(item: &Value) -> bool {
    item.get("op").is_some_and(Value::is_string) && item.get("path").is_some_and(Value::is_string)
}

/// A JSON Patch as fields: `/a/b` → `a.b`, the value set (`null` for `remove`). A field any of
/// whose path segments names a secret is redacted, e.g. `/metadata/api_key`.
fn patch_fields(operations: Vec<Value>) -> Map<String, Value> {
    let mut fields = Map::new();
    for operation in operations {
        let path = operation
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let name = path.trim_start_matches('/').replace('/', ".");
        let value = match operation.get("op").and_then(Value::as_str) {
            Some("remove") => Value::Null,
            _ => operation
                .get("value")
                .cloned()
                .or_else(|| operation.get("from").cloned())
                .unwrap_or(Value::Null),
        };
        let secret = path.split('/').any(is_secret_field);
        let value = if secret && !value.is_null() {
            Value::String(REDACTED.to_owned())
        } else {
            value
        };
        fields.insert(name, value);
    }
    fields
}

/// Changes of at most [`MAX_CHANGES_BYTES`]: past that, values over 1 KiB are replaced by a note
/// of their size.
fn bound_size(changes: Map<String, Value>) -> Map<String, Value> {
    let size = |v: &Value| serde_json::to_string(v).map(|s| s.len()).unwrap_or(0);
    let total: usize = changes.iter().map(|(k, v)| k.len() + size(v)).sum();
    if total <= MAX_CHANGES_BYTES {
        return changes;
    }
    changes
        .into_iter()
        .map(|(k, v)| {
            let n = size(&v);
            let v = if n > 1024 {
                Value::String(format!("[omitted: {n} bytes]"))
            } else {
                v
            };
            (k, v)
        })
        .collect()
}

/// An audit event as `GET /admin/audit-events` answers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventResponse {
    /// A UUID v7.
    pub id: String,
    /// RFC 3339.
    pub at: String,
    pub actor: ActorResponse,
    /// `<target kind>.<verb>`, e.g. `client.create`, `client.secret.rotate`, `user.password.set`,
    /// `registration_request.approve`.
    pub action: String,
    pub target: TargetResponse,
    /// The fields the change set; the value of any that could hold a secret, password, hash,
    /// token or key is `"[redacted]"`.
    #[schema(value_type = Object)]
    pub changes: Map<String, Value>,
}

/// Who made a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActorResponse {
    /// `user` (an operator signed into the console), `admin_token`, `cli` (the gatehouse CLI on
    /// the loopback listener) or `loopback` (another caller there).
    pub kind: String,
    /// The user id for `user`; `null` otherwise.
    pub id: Option<String>,
    /// The username for `user`; the `User-Agent` for `cli` and `loopback`.
    pub name: Option<String>,
}

/// What was changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetResponse {
    /// `client`, `user`, `scope`, `key`, `registration_token`, `registration_request`, …
    pub kind: String,
    /// The client id, user id, scope name, …; `null` when the change has no single target.
    pub id: Option<String>,
}

impl AuditEventResponse {
    fn new(event: AuditEvent) -> Result<Self, ApiError> {
        Ok(Self {
            at: rfc3339(event.at)?,
            actor: ActorResponse {
                kind: event.actor.kind.as_str().to_owned(),
                id: event.actor.id,
                name: event.actor.name,
            },
            action: event.action,
            target: TargetResponse {
                kind: event.target_kind,
                id: event.target_id,
            },
            changes: event.changes,
            id: event.id,
        })
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditListParams {
    /// An actor kind (`user`, `admin_token`, `cli`, `loopback`), or a user id or username.
    pub actor: Option<String>,
    /// A target kind (`client`, `user`, …) or a target id (client id, user id, scope name, …).
    pub target: Option<String>,
    /// An action (`client.create`), or a prefix ending in `*` (`client.*`).
    pub action: Option<String>,
    /// RFC 3339: events at or after this instant.
    pub since: Option<String>,
    /// RFC 3339: events at or before this instant.
    pub until: Option<String>,
    /// Items per page: 1 to 500 (larger values are clamped), 100 when omitted.
    pub page_size: Option<u32>,
    /// The token from the previous answer's `Link: <…>; rel="next"` header.
    pub page_token: Option<String>,
}

fn instant(name: &str, value: Option<&str>) -> Result<Option<OffsetDateTime>, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339).map_err(|_| {
                ApiError::invalid_request(format!(
                    "{name} must be an RFC 3339 instant such as 2026-01-31T12:00:00Z"
                ))
            })
        })
        .transpose()
}

/// Lists audit events, newest first, optionally filtered, a page at a time.
#[utoipa::path(get, path = "/admin/audit-events", tag = TAG, params(AuditListParams),
    responses(
        (status = 200, description = "One page of audit events, newest first", body = [AuditEventResponse],
            headers(("Link" = String, description = "`<…>; rel=\"next\"` while more pages follow"))),
        (status = 400, description = "Refused; `error` and `error_description` say why", body = ErrorBody),
    ))]
pub async fn list_audit_events(
    State(state): State<AdminState>,
    query: Result<Query<AuditListParams>, QueryRejection>,
) -> Result<(HeaderMap, Json<Vec<AuditEventResponse>>), ApiError> {
    let Query(params) = query.map_err(|e| ApiError::from_query_rejection(&e))?;
    let non_empty = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    let filter = AuditQuery {
        actor: non_empty(&params.actor),
        target: non_empty(&params.target),
        action: non_empty(&params.action),
        since: instant("since", params.since.as_deref())?,
        until: instant("until", params.until.as_deref())?,
    };
    let page = PageParams {
        page_size: params.page_size,
        page_token: params.page_token,
    }
    .to_request()?;
    let found = state
        .durable
        .list_audit_events(&filter, &page)
        .await
        .map_err(|e| match e {
            // A page token of another list decodes, but is no key of this one.
            gatehouse_core::store::StoreError::Corrupt(_) if page.after.is_some() => {
                ApiError::invalid_request("page_token is not one this server issued")
            }
            e => e.into(),
        })?;
    let items = found
        .items
        .into_iter()
        .map(AuditEventResponse::new)
        .collect::<Result<Vec<_>, _>>()?;
    let filters: Vec<(&str, &str)> = [
        ("actor", &params.actor),
        ("target", &params.target),
        ("action", &params.action),
        ("since", &params.since),
        ("until", &params.until),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_deref().filter(|v| !v.is_empty()).map(|v| (k, v)))
    .collect();
    let mut headers = HeaderMap::new();
    if let Some(link) = next_link(
        "/admin/audit-events",
        page.size,
        found.next.as_deref(),
        &filters,
    ) {
        headers.insert(header::LINK, link);
    }
    Ok((headers, Json(items)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(method: Method, template: &str) -> String {
        action_of(&method, template).1
    }

    #[test]
    fn actions_follow_the_route() {
        assert_eq!(action(Method::POST, "/admin/clients"), "client.create");
        assert_eq!(action(Method::PUT, "/admin/clients/{id}"), "client.update");
        assert_eq!(
            action(Method::PATCH, "/admin/clients/{id}"),
            "client.update"
        );
        assert_eq!(
            action(Method::DELETE, "/admin/clients/{id}"),
            "client.delete"
        );
        assert_eq!(
            action(Method::POST, "/admin/clients/{id}/secret"),
            "client.secret.rotate"
        );
        assert_eq!(
            action(Method::PUT, "/admin/users/{id}/password"),
            "user.password.set"
        );
        assert_eq!(
            action(Method::POST, "/admin/users/{id}/unlock"),
            "user.unlock"
        );
        assert_eq!(action(Method::POST, "/admin/users/import"), "user.import");
        assert_eq!(action(Method::POST, "/admin/keys/rotate"), "key.rotate");
        assert_eq!(
            action(Method::POST, "/admin/registration-tokens"),
            "registration_token.create"
        );
        assert_eq!(
            action(Method::DELETE, "/admin/registration-tokens/{id}"),
            "registration_token.delete"
        );
        assert_eq!(
            action(Method::POST, "/admin/registration-requests/{id}/approve"),
            "registration_request.approve"
        );
        assert_eq!(
            action(
                Method::POST,
                "/admin/registration-requests/{id}/request-changes"
            ),
            "registration_request.request_changes"
        );
        assert_eq!(
            action(Method::DELETE, "/admin/users/{id}/consents/{client_id}"),
            "user.consent.revoke"
        );
        assert_eq!(
            action(Method::DELETE, "/admin/users/{id}/factors/{factor_id}"),
            "user.factor.delete"
        );
        assert_eq!(
            action(Method::POST, "/admin/clients/{id}/disable"),
            "client.disable"
        );
        assert_eq!(action_of(&Method::PUT, "/admin/scopes/{name}").0, "scope");
    }

    #[test]
    fn dry_runs_are_recognised_only_where_a_route_has_them() {
        let post = Method::POST;
        assert!(is_dry_run(&post, "/admin/clients", Some("dry_run=true")));
        assert!(is_dry_run(
            &post,
            "/admin/users/import",
            Some("a=b&dry_run=true")
        ));
        assert!(!is_dry_run(&post, "/admin/clients", Some("dry_run=1")));
        assert!(!is_dry_run(&post, "/admin/clients", Some("dry_run=false")));
        assert!(!is_dry_run(
            &post,
            "/admin/clients",
            Some("dry_run=true&dry_run=false")
        ));
        assert!(!is_dry_run(&post, "/admin/clients", None));
        // Routes that ignore the parameter change what they change: no way around the log.
        assert!(!is_dry_run(
            &Method::DELETE,
            "/admin/users/{id}",
            Some("dry_run=true")
        ));
        assert!(!is_dry_run(
            &post,
            "/admin/keys/rotate",
            Some("dry_run=true")
        ));
    }

    #[test]
    fn patches_and_imports_become_fields_without_secrets() {
        let patch = Bytes::from(
            r#"[{"op":"replace","path":"/client_name","value":"B"},
                {"op":"add","path":"/metadata/api_key","value":"k-1"},
                {"op":"remove","path":"/contacts"}]"#,
        );
        let changes = changes_of(&patch, None, std::iter::empty());
        assert_eq!(changes["client_name"], "B");
        assert_eq!(changes["metadata.api_key"], REDACTED);
        assert_eq!(changes["contacts"], Value::Null);
        let import = Bytes::from(r#"[{"username":"a","password_hash":"$2b$12$x"}]"#);
        let changes = changes_of(&import, Some("x=1"), std::iter::empty());
        assert_eq!(changes["records"], 1);
        assert_eq!(changes["x"], "1");
        assert!(!Value::Object(changes).to_string().contains("$2b$"));
    }

    #[test]
    fn large_changes_are_bounded() {
        let long = vec!["x".repeat(1000); 40];
        let body = serde_json::json!({
            "a": long,
            "b": "small",
        });
        let changes = changes_of(&Bytes::from(body.to_string()), None, std::iter::empty());
        assert_eq!(changes["b"], "small");
        assert!(
            changes["a"]
                .as_str()
                .is_some_and(|s| s.starts_with("[omitted: "))
        );
    }
}
