//! Apps (OAuth clients): list with search and paging, create with the partner form's fields,
//! edit, disable/enable, delete (after a confirmation), rotate the secret (shown once), and the
//! app's token and login counts. Admins only.

use askama::Template;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_login::i18n::Tr;
use gatehouse_login::page::{Page, SeeOther};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{Answer, segment, with_query};
use crate::auth::{self, Need, Operator};
use crate::form::Fields;
use crate::state::ConsoleState;
use crate::view::{self, Chrome};

/// Apps per page of the list.
const PAGE_SIZE: &str = "50";
/// How many pages of 500 a search reads (the admin API lists clients without a search filter).
const SEARCH_PAGES: usize = 20;

pub struct AppRow {
    pub client_id: String,
    pub name: String,
    pub confidential: bool,
    pub disabled: bool,
    pub redirect_uris: String,
}

impl AppRow {
    fn from_json(client: &Value) -> Self {
        let s = |k: &str| client.get(k).and_then(Value::as_str).unwrap_or_default();
        Self {
            client_id: s("client_id").to_owned(),
            name: s("client_name").to_owned(),
            confidential: s("token_endpoint_auth_method") != "none",
            disabled: client.get("disabled").and_then(Value::as_bool) == Some(true),
            redirect_uris: strings(client.get("redirect_uris")).join(", "),
        }
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "console_apps.html")]
pub struct AppsPage {
    pub page: Chrome,
    pub rows: Vec<AppRow>,
    pub q: String,
    pub next_href: Option<String>,
    pub notice: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page_token: String,
    #[serde(default)]
    deleted: String,
}

/// `GET /console/apps`.
pub async fn list(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<ListQuery>,
) -> Response {
    let operator = match auth::require(&state, &headers, &uri.to_string(), Need::Admin).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let t = view::language(&headers);
    let q = query.q.trim().to_lowercase();
    let mut rows = Vec::new();
    let mut next_href = None;
    if q.is_empty() {
        let answer = state
            .api()
            .get(
                Some(&operator),
                &with_query(
                    "/admin/clients",
                    &[("page_size", PAGE_SIZE), ("page_token", &query.page_token)],
                ),
            )
            .await;
        if !answer.ok() {
            return view::unavailable(&state, t);
        }
        rows.extend(items(&answer).iter().map(AppRow::from_json));
        next_href = answer
            .next_page
            .map(|token| with_query(&state.path("/apps"), &[("page_token", &token)]));
    } else {
        let mut token = String::new();
        for _ in 0..SEARCH_PAGES {
            let answer = state
                .api()
                .get(
                    Some(&operator),
                    &with_query(
                        "/admin/clients",
                        &[("page_size", "500"), ("page_token", &token)],
                    ),
                )
                .await;
            if !answer.ok() {
                return view::unavailable(&state, t);
            }
            rows.extend(items(&answer).iter().map(AppRow::from_json).filter(|r| {
                r.client_id.to_lowercase().contains(&q) || r.name.to_lowercase().contains(&q)
            }));
            match answer.next_page {
                Some(next) => token = next,
                None => break,
            }
        }
    }
    let notice = (!query.deleted.is_empty())
        .then(|| t.with("console.apps.deleted", "client", &query.deleted));
    Page::render(
        StatusCode::OK,
        &AppsPage {
            page: state.chrome(t, &uri.to_string(), Some(&operator)),
            rows,
            q: query.q,
            next_href,
            notice,
        },
    )
    .into_response()
}

fn items(answer: &Answer) -> Vec<Value> {
    answer.body.as_array().cloned().unwrap_or_default()
}

/// A scope offered by the app form.
pub struct ScopeChoice {
    pub name: String,
    pub label: String,
    pub checked: bool,
}

/// The partner form's fields, as typed.
#[derive(Default)]
pub struct AppForm {
    pub name: String,
    pub description: String,
    pub website: String,
    pub redirect_uris: String,
    pub scopes: Vec<ScopeChoice>,
    pub confidential: bool,
    pub logo_uri: String,
}

/// An existing app, shown above its edit form.
pub struct AppFacts {
    pub client_id: String,
    pub disabled: bool,
    pub created_at: String,
    /// `(tokens issued, logins, days)` when the admin API reports usage.
    pub usage: Option<(u64, u64, u64)>,
}

#[derive(Template)]
#[template(path = "console_app_form.html")]
pub struct AppFormPage {
    pub page: Chrome,
    pub csrf: String,
    pub form: AppForm,
    pub error: Option<String>,
    pub app: Option<AppFacts>,
    pub notice: Option<String>,
}

/// The catalogue's scopes as checkboxes, `selected` ticked; a selected scope the catalogue does
/// not list is still offered, so an edit keeps it.
async fn scope_choices(
    state: &ConsoleState,
    operator: &Operator,
    selected: &[String],
) -> Vec<ScopeChoice> {
    let answer = state.api().get(Some(operator), "/admin/scopes").await;
    let mut choices: Vec<ScopeChoice> = items(&answer)
        .iter()
        .filter_map(|s| {
            let name = s.get("name")?.as_str()?.to_owned();
            let label = s.get("label").and_then(Value::as_str).unwrap_or_default();
            Some(ScopeChoice {
                checked: selected.contains(&name),
                label: label.to_owned(),
                name,
            })
        })
        .collect();
    for name in selected {
        if !choices.iter().any(|c| &c.name == name) {
            choices.push(ScopeChoice {
                name: name.clone(),
                label: String::new(),
                checked: true,
            });
        }
    }
    choices
}

/// `GET /console/apps/new`.
pub async fn new_form(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let operator = match auth::require(&state, &headers, &uri.to_string(), Need::Admin).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let t = view::language(&headers);
    let selected = vec!["openid".to_owned()];
    let form = AppForm {
        scopes: scope_choices(&state, &operator, &selected).await,
        confidential: true,
        ..AppForm::default()
    };
    form_page(&state, t, &operator, form, None, None, None)
}

fn form_page(
    state: &ConsoleState,
    t: Tr,
    operator: &Operator,
    form: AppForm,
    app: Option<AppFacts>,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let here = match &app {
        Some(app) => state.path(&format!("/apps/{}", segment(&app.client_id))),
        None => state.path("/apps/new"),
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Page::render(
        status,
        &AppFormPage {
            page: state.chrome(t, &here, Some(operator)),
            csrf: operator.csrf.clone(),
            form,
            error,
            app,
            notice,
        },
    )
    .into_response()
}

/// The form as posted, with the catalogue's scopes for showing it again.
async fn posted_form(state: &ConsoleState, operator: &Operator, fields: &Fields) -> AppForm {
    let selected = fields.all("scope");
    AppForm {
        name: fields.get("name").to_owned(),
        description: fields.get("description").to_owned(),
        website: fields.get("website").to_owned(),
        redirect_uris: fields.lines("redirect_uris").join("\n"),
        scopes: scope_choices(state, operator, &selected).await,
        confidential: fields.get("type") != "public",
        logo_uri: fields.get("logo_uri").to_owned(),
    }
}

/// Grant types for the scopes: the code flow, and refresh tokens when offline access is asked.
fn grant_types(scopes: &[String]) -> Vec<&'static str> {
    if scopes
        .iter()
        .any(|s| s == "offline" || s == "offline_access")
    {
        vec!["authorization_code", "refresh_token"]
    } else {
        vec!["authorization_code"]
    }
}

/// The client fields the form sets.
fn client_fields(fields: &Fields) -> serde_json::Map<String, Value> {
    let scopes = fields.all("scope");
    let mut client = serde_json::Map::new();
    client.insert("client_name".into(), json!(fields.get("name")));
    client.insert("client_uri".into(), json!(fields.get("website")));
    client.insert("logo_uri".into(), json!(fields.get("logo_uri")));
    client.insert("redirect_uris".into(), json!(fields.lines("redirect_uris")));
    client.insert("scope".into(), json!(scopes.join(" ")));
    client.insert(
        "metadata".into(),
        json!({ "description": fields.get("description") }),
    );
    client
}

/// `POST /console/apps/new`.
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
    let confidential = fields.get("type") != "public";
    let mut client = client_fields(&fields);
    client.insert(
        "grant_types".into(),
        json!(grant_types(&fields.all("scope"))),
    );
    client.insert("response_types".into(), json!(["code"]));
    client.insert(
        "token_endpoint_auth_method".into(),
        json!(if confidential {
            "client_secret_basic"
        } else {
            "none"
        }),
    );
    let answer = state
        .api()
        .call(
            Some(&operator),
            Method::POST,
            "/admin/clients",
            Some(Value::Object(client)),
        )
        .await;
    if !answer.ok() {
        let form = posted_form(&state, &operator, &fields).await;
        return form_page(
            &state,
            t,
            &operator,
            form,
            None,
            Some(answer.error_text()),
            None,
        );
    }
    secret_page(&state, t, &operator, &answer, "console.apps.created")
}

#[derive(Template)]
#[template(path = "console_app_secret.html")]
pub struct SecretPage {
    pub page: Chrome,
    pub heading: String,
    pub client_id: String,
    pub name: String,
    pub secret: Option<String>,
}

/// The answer of a create or rotation: the client id and, once, its secret.
fn secret_page(
    state: &ConsoleState,
    t: Tr,
    operator: &Operator,
    answer: &Answer,
    heading: &str,
) -> Response {
    let client_id = answer.str("client_id");
    let secret = Some(answer.str("client_secret")).filter(|s| !s.is_empty());
    Page::render(
        StatusCode::OK,
        &SecretPage {
            page: state.chrome(t, &state.path("/apps"), Some(operator)),
            heading: t.get(heading).to_owned(),
            name: answer.str("client_name"),
            client_id,
            secret,
        },
    )
    .into_response()
}

/// The app and its form, from the admin API.
async fn load(
    state: &ConsoleState,
    operator: &Operator,
    id: &str,
) -> Result<(AppForm, AppFacts), Answer> {
    let answer = state
        .api()
        .get(Some(operator), &format!("/admin/clients/{}", segment(id)))
        .await;
    if !answer.ok() {
        return Err(answer);
    }
    let client = &answer.body;
    let selected: Vec<String> = answer
        .str("scope")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let usage = state
        .api()
        .get(
            Some(operator),
            &format!("/admin/clients/{}/usage", segment(id)),
        )
        .await;
    let count = |k: &str| usage.body.get(k).and_then(Value::as_u64);
    let usage = match (count("tokens_issued"), count("logins")) {
        (Some(tokens), Some(logins)) if usage.ok() => {
            Some((tokens, logins, count("days").unwrap_or(30)))
        }
        _ => None,
    };
    let form = AppForm {
        name: answer.str("client_name"),
        description: client
            .pointer("/metadata/description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        website: answer.str("client_uri"),
        redirect_uris: strings(client.get("redirect_uris")).join("\n"),
        scopes: scope_choices(state, operator, &selected).await,
        confidential: answer.str("token_endpoint_auth_method") != "none",
        logo_uri: answer.str("logo_uri"),
    };
    let facts = AppFacts {
        client_id: answer.str("client_id"),
        disabled: client.get("disabled").and_then(Value::as_bool) == Some(true),
        created_at: view::when(&answer.str("created_at")),
        usage,
    };
    Ok((form, facts))
}

/// `GET /console/apps/{id}`: the app, its counts, its actions and its edit form.
pub async fn show(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    Query(query): Query<view::ShowQuery>,
) -> Response {
    let operator = match auth::require(&state, &headers, &uri.to_string(), Need::Admin).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let t = view::language(&headers);
    let notice = Some(query).and_then(|q| match q.done.as_str() {
        "saved" => Some(t.get("console.apps.saved").to_owned()),
        "disabled" => Some(t.get("console.apps.disabled_notice").to_owned()),
        "enabled" => Some(t.get("console.apps.enabled_notice").to_owned()),
        _ => None,
    });
    match load(&state, &operator, &id).await {
        Ok((form, facts)) => form_page(&state, t, &operator, form, Some(facts), None, notice),
        Err(answer) if answer.status == StatusCode::NOT_FOUND => {
            view::not_found(&state, t, &operator)
        }
        Err(_) => view::unavailable(&state, t),
    }
}

/// `POST /console/apps/{id}`: saves the edit form (a merge patch of the form's fields).
pub async fn update(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    fields: Fields,
) -> Response {
    let operator = match auth::require_form(&state, &headers, &fields, Need::Admin).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let t = view::language(&headers);
    let path = format!("/admin/clients/{}", segment(&id));
    let existing = state.api().get(Some(&operator), &path).await;
    if existing.status == StatusCode::NOT_FOUND {
        return view::not_found(&state, t, &operator);
    }
    if !existing.ok() {
        return view::unavailable(&state, t);
    }
    let mut patch = client_fields(&fields);
    // Offline scopes need the refresh grant; other grants the app has stay.
    let mut grants = strings(existing.body.get("grant_types"));
    let wants_refresh = grant_types(&fields.all("scope")).contains(&"refresh_token");
    grants.retain(|g| g != "refresh_token");
    if wants_refresh {
        grants.push("refresh_token".to_owned());
    }
    patch.insert("grant_types".into(), json!(grants));
    let answer = state
        .api()
        .call(
            Some(&operator),
            Method::PATCH,
            &path,
            Some(Value::Object(patch)),
        )
        .await;
    if !answer.ok() {
        let form = posted_form(&state, &operator, &fields).await;
        let facts = match load(&state, &operator, &id).await {
            Ok((_, facts)) => Some(facts),
            Err(_) => None,
        };
        let form = AppForm {
            confidential: existing.str("token_endpoint_auth_method") != "none",
            ..form
        };
        return form_page(
            &state,
            t,
            &operator,
            form,
            facts,
            Some(answer.error_text()),
            None,
        );
    }
    SeeOther::to(state.path(&format!("/apps/{}?done=saved", segment(&id)))).into_response()
}

/// `POST /console/apps/{id}/{disable,enable,secret}`.
pub async fn act(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    fields: Fields,
) -> Response {
    let operator = match auth::require_form(&state, &headers, &fields, Need::Admin).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let t = view::language(&headers);
    let path = format!("/admin/clients/{}", segment(&id));
    let (answer, done) = match action.as_str() {
        "disable" | "enable" => (
            state
                .api()
                .call(
                    Some(&operator),
                    Method::PATCH,
                    &path,
                    Some(json!({ "disabled": action == "disable" })),
                )
                .await,
            if action == "disable" {
                "disabled"
            } else {
                "enabled"
            },
        ),
        "secret" => {
            let answer = state
                .api()
                .call(
                    Some(&operator),
                    Method::POST,
                    &format!("{path}/secret"),
                    Some(json!({})),
                )
                .await;
            if answer.ok() {
                return secret_page(&state, t, &operator, &answer, "console.apps.rotated");
            }
            (answer, "")
        }
        _ => return view::not_found(&state, t, &operator),
    };
    if answer.status == StatusCode::NOT_FOUND {
        return view::not_found(&state, t, &operator);
    }
    if !answer.ok() {
        return match load(&state, &operator, &id).await {
            Ok((form, facts)) => form_page(
                &state,
                t,
                &operator,
                form,
                Some(facts),
                Some(answer.error_text()),
                None,
            ),
            Err(_) => view::unavailable(&state, t),
        };
    }
    SeeOther::to(state.path(&format!("/apps/{}?done={done}", segment(&id)))).into_response()
}

#[derive(Template)]
#[template(path = "console_app_delete.html")]
pub struct DeletePage {
    pub page: Chrome,
    pub csrf: String,
    pub client_id: String,
    pub name: String,
}

/// `GET /console/apps/{id}/delete`: the confirmation.
pub async fn confirm_delete(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Response {
    let operator = match auth::require(&state, &headers, &uri.to_string(), Need::Admin).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let t = view::language(&headers);
    let answer = state
        .api()
        .get(Some(&operator), &format!("/admin/clients/{}", segment(&id)))
        .await;
    if answer.status == StatusCode::NOT_FOUND {
        return view::not_found(&state, t, &operator);
    }
    if !answer.ok() {
        return view::unavailable(&state, t);
    }
    Page::render(
        StatusCode::OK,
        &DeletePage {
            page: state.chrome(t, &uri.to_string(), Some(&operator)),
            csrf: operator.csrf.clone(),
            client_id: answer.str("client_id"),
            name: answer.str("client_name"),
        },
    )
    .into_response()
}

/// `POST /console/apps/{id}/delete`.
pub async fn delete(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    fields: Fields,
) -> Response {
    let operator = match auth::require_form(&state, &headers, &fields, Need::Admin).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let t = view::language(&headers);
    let answer = state
        .api()
        .call(
            Some(&operator),
            Method::DELETE,
            &format!("/admin/clients/{}", segment(&id)),
            None,
        )
        .await;
    if answer.status == StatusCode::NOT_FOUND {
        return view::not_found(&state, t, &operator);
    }
    if !answer.ok() {
        return view::unavailable(&state, t);
    }
    SeeOther::to(with_query(&state.path("/apps"), &[("deleted", &id)])).into_response()
}
