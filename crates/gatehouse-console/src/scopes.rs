//! The scope catalogue: list (name, label, description, hidden), create, edit. Admins only.

use askama::Template;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_login::i18n::Tr;
use gatehouse_login::page::{Page, SeeOther};
use serde_json::{Value, json};

use crate::api::segment;
use crate::auth::{self, Need, Operator};
use crate::form::Fields;
use crate::state::ConsoleState;
use crate::view::{self, Chrome};

#[derive(Default)]
pub struct ScopeRow {
    pub name: String,
    pub label: String,
    pub description: String,
    pub hidden: bool,
}

impl ScopeRow {
    fn from_json(scope: &Value) -> Self {
        let s = |k: &str| {
            scope
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            name: s("name"),
            label: s("label"),
            description: s("description"),
            hidden: scope.get("hidden").and_then(Value::as_bool) == Some(true),
        }
    }

    fn from_fields(fields: &Fields) -> Self {
        Self {
            name: fields.get("name").to_owned(),
            label: fields.get("label").to_owned(),
            description: fields.get("description").to_owned(),
            hidden: fields.checked("hidden"),
        }
    }
}

#[derive(Template)]
#[template(path = "console_scopes.html")]
pub struct ScopesPage {
    pub page: Chrome,
    pub csrf: String,
    pub rows: Vec<ScopeRow>,
    /// The create form, as typed.
    pub form: ScopeRow,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "console_scope.html")]
pub struct ScopePage {
    pub page: Chrome,
    pub csrf: String,
    pub form: ScopeRow,
    pub error: Option<String>,
    pub saved: bool,
}

async fn list_page(
    state: &ConsoleState,
    t: Tr,
    operator: &Operator,
    form: ScopeRow,
    error: Option<String>,
) -> Response {
    let answer = state.api().get(Some(operator), "/admin/scopes").await;
    if !answer.ok() {
        return view::unavailable(state, t);
    }
    let rows = answer
        .body
        .as_array()
        .map(|a| a.iter().map(ScopeRow::from_json).collect())
        .unwrap_or_default();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Page::render(
        status,
        &ScopesPage {
            page: state.chrome(t, &state.path("/scopes"), Some(operator)),
            csrf: operator.csrf.clone(),
            rows,
            form,
            error,
        },
    )
    .into_response()
}

/// `GET /console/scopes`.
pub async fn list(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let operator = match auth::require(&state, &headers, &uri.to_string(), Need::Admin).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let t = view::language(&headers);
    list_page(&state, t, &operator, ScopeRow::default(), None).await
}

/// `POST /console/scopes`: a new catalogue entry.
pub async fn create(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    fields: Fields,
) -> Response {
    let operator = match auth::require_form(&state, &headers, &fields, Need::Admin).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let t = view::language(&headers);
    let form = ScopeRow::from_fields(&fields);
    let answer = state
        .api()
        .call(
            Some(&operator),
            Method::POST,
            "/admin/scopes",
            Some(json!({
                "name": form.name,
                "label": form.label,
                "description": form.description,
                "hidden": form.hidden,
            })),
        )
        .await;
    if !answer.ok() {
        return list_page(&state, t, &operator, form, Some(answer.error_text())).await;
    }
    SeeOther::to(state.path(&format!("/scopes/{}?saved=1", segment(&form.name)))).into_response()
}

/// `GET /console/scopes/{name}`.
pub async fn show(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(name): Path<String>,
) -> Response {
    let operator = match auth::require(&state, &headers, &uri.to_string(), Need::Admin).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let t = view::language(&headers);
    let answer = state
        .api()
        .get(
            Some(&operator),
            &format!("/admin/scopes/{}", segment(&name)),
        )
        .await;
    if answer.status == StatusCode::NOT_FOUND {
        return view::not_found(&state, t, &operator);
    }
    if !answer.ok() {
        return view::unavailable(&state, t);
    }
    Page::render(
        StatusCode::OK,
        &ScopePage {
            page: state.chrome(
                t,
                &state.path(&format!("/scopes/{}", segment(&name))),
                Some(&operator),
            ),
            csrf: operator.csrf.clone(),
            form: ScopeRow::from_json(&answer.body),
            error: None,
            saved: uri.query().is_some_and(|q| q.contains("saved=1")),
        },
    )
    .into_response()
}

/// `POST /console/scopes/{name}`: label, description and hidden (the custom claims are kept).
pub async fn update(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    fields: Fields,
) -> Response {
    let operator = match auth::require_form(&state, &headers, &fields, Need::Admin).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let t = view::language(&headers);
    let path = format!("/admin/scopes/{}", segment(&name));
    let existing = state.api().get(Some(&operator), &path).await;
    if existing.status == StatusCode::NOT_FOUND {
        return view::not_found(&state, t, &operator);
    }
    if !existing.ok() {
        return view::unavailable(&state, t);
    }
    let form = ScopeRow {
        name: name.clone(),
        ..ScopeRow::from_fields(&fields)
    };
    let claims = existing.body.get("claims").cloned().unwrap_or(json!([]));
    let answer = state
        .api()
        .call(
            Some(&operator),
            Method::PUT,
            &path,
            Some(json!({
                "name": name,
                "label": form.label,
                "description": form.description,
                "hidden": form.hidden,
                "claims": claims,
            })),
        )
        .await;
    if !answer.ok() {
        return Page::render(
            StatusCode::BAD_REQUEST,
            &ScopePage {
                page: state.chrome(
                    t,
                    &state.path(&format!("/scopes/{}", segment(&name))),
                    Some(&operator),
                ),
                csrf: operator.csrf.clone(),
                form,
                error: Some(answer.error_text()),
                saved: false,
            },
        )
        .into_response();
    }
    SeeOther::to(state.path(&format!("/scopes/{}?saved=1", segment(&name)))).into_response()
}
