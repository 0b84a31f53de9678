//! Registration requests: the queue with a status filter, a request's page, approve (as
//! requested or after editing the app's fields), reject with a reason, ask for changes with a
//! reason. Admins and reviewers.

use askama::Template;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_login::i18n::Tr;
use gatehouse_login::page::{Page, SeeOther};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{segment, with_query};
use crate::auth::{self, Need, Operator};
use crate::form::Fields;
use crate::state::ConsoleState;
use crate::view::{self, Chrome};

/// The statuses of a request (the filter's choices).
const STATUSES: [&str; 4] = ["pending", "approved", "rejected", "changes_requested"];

/// The app a partner asked for, as the page shows and edits it.
#[derive(Default, Clone, PartialEq, Eq)]
pub struct AppFields {
    pub name: String,
    pub description: String,
    pub website: String,
    pub contact_name: String,
    pub reason: String,
    pub redirect_uris: String,
    pub scopes: String,
    pub confidential: bool,
    pub logo_uri: String,
}

impl AppFields {
    fn from_json(app: Option<&Value>) -> Self {
        let s = |k: &str| {
            app.and_then(|a| a.get(k))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let list = |k: &str, sep: &str| {
            app.and_then(|a| a.get(k))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(sep)
                })
                .unwrap_or_default()
        };
        Self {
            name: s("name"),
            description: s("description"),
            website: s("website"),
            contact_name: s("contact_name"),
            reason: s("reason"),
            redirect_uris: list("redirect_uris", "\n"),
            scopes: list("scopes", " "),
            confidential: app
                .and_then(|a| a.get("confidential"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            logo_uri: s("logo_uri"),
        }
    }

    fn from_fields(fields: &Fields) -> Self {
        Self {
            name: fields.get("name").to_owned(),
            description: fields.get("description").to_owned(),
            website: fields.get("website").to_owned(),
            contact_name: fields.get("contact_name").to_owned(),
            reason: fields.get("reason_for_access").to_owned(),
            redirect_uris: fields.lines("redirect_uris").join("\n"),
            scopes: fields
                .get("scopes")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            confidential: fields.get("type") != "public",
            logo_uri: fields.get("logo_uri").to_owned(),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "description": self.description,
            "website": self.website,
            "contact_name": self.contact_name,
            "reason": self.reason,
            "redirect_uris": self.redirect_uris.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>(),
            "scopes": self.scopes.split_whitespace().collect::<Vec<_>>(),
            "confidential": self.confidential,
            "logo_uri": self.logo_uri,
        })
    }
}

pub struct RequestRow {
    pub id: String,
    pub owner: String,
    pub status: String,
    pub app: AppFields,
    pub review_reason: String,
    pub reviewed_by: String,
    pub client_id: String,
    pub created_at: String,
    pub updated_at: String,
}

impl RequestRow {
    /// The translation key of the status.
    pub fn status_key(&self) -> String {
        format!("console.requests.status_{}", self.status)
    }

    fn from_json(request: &Value) -> Self {
        let s = |p: &str| {
            request
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let owner = match (s("/owner/username"), s("/owner/id")) {
            (name, _) if !name.is_empty() => name,
            (_, id) => id,
        };
        Self {
            id: s("/id"),
            owner,
            status: s("/status"),
            app: AppFields::from_json(request.get("app")),
            review_reason: s("/review_reason"),
            reviewed_by: s("/reviewed_by"),
            client_id: s("/client_id"),
            created_at: view::when(&s("/created_at")),
            updated_at: view::when(&s("/updated_at")),
        }
    }
}

#[derive(Template)]
#[template(path = "console_requests.html")]
pub struct RequestsPage {
    pub page: Chrome,
    pub rows: Vec<RequestRow>,
    pub status: String,
    pub statuses: [&'static str; 4],
    pub next_href: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    /// Absent: pending; `all`: every status.
    status: Option<String>,
    #[serde(default)]
    page_token: String,
}

/// `GET /console/requests`: the queue (pending first by default).
pub async fn list(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<ListQuery>,
) -> Response {
    let operator = match auth::require(&state, &headers, &uri.to_string(), Need::Reviewer).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let t = view::language(&headers);
    let status = query.status.unwrap_or_else(|| "pending".to_owned());
    let filter = if STATUSES.contains(&status.as_str()) {
        status.as_str()
    } else {
        ""
    };
    let answer = state
        .api()
        .get(
            Some(&operator),
            &with_query(
                "/admin/registration-requests",
                &[
                    ("status", filter),
                    ("page_size", "50"),
                    ("page_token", &query.page_token),
                ],
            ),
        )
        .await;
    if !answer.ok() {
        return view::unavailable(&state, t);
    }
    let rows = answer
        .body
        .as_array()
        .map(|a| a.iter().map(RequestRow::from_json).collect())
        .unwrap_or_default();
    let next_href = answer.next_page.map(|token| {
        with_query(
            &state.path("/requests"),
            &[("status", &status), ("page_token", &token)],
        )
    });
    Page::render(
        StatusCode::OK,
        &RequestsPage {
            page: state.chrome(t, &uri.to_string(), Some(&operator)),
            rows,
            status: if filter.is_empty() {
                "all".to_owned()
            } else {
                status
            },
            statuses: STATUSES,
            next_href,
        },
    )
    .into_response()
}

#[derive(Template)]
#[template(path = "console_request.html")]
pub struct RequestPage {
    pub page: Chrome,
    pub csrf: String,
    pub item: RequestRow,
    /// The approve form's fields (the request's, or as the reviewer edited them).
    pub form: AppFields,
    pub notice: Option<String>,
    pub error: Option<String>,
}

/// `GET /console/requests/{id}`.
pub async fn show(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    Query(query): Query<view::ShowQuery>,
) -> Response {
    let operator = match auth::require(&state, &headers, &uri.to_string(), Need::Reviewer).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let t = view::language(&headers);
    let notice = Some(query).and_then(|q| match q.done.as_str() {
        "approve" | "reject" | "request-changes" => Some(
            t.get(&format!(
                "console.requests.done_{}",
                q.done.replace('-', "_")
            ))
            .to_owned(),
        ),
        _ => None,
    });
    request_page(&state, t, &operator, &id, None, notice, None).await
}

async fn request_page(
    state: &ConsoleState,
    t: Tr,
    operator: &Operator,
    id: &str,
    form: Option<AppFields>,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let answer = state
        .api()
        .get(
            Some(operator),
            &format!("/admin/registration-requests/{}", segment(id)),
        )
        .await;
    if answer.status == StatusCode::NOT_FOUND {
        return view::not_found(state, t, operator);
    }
    if !answer.ok() {
        return view::unavailable(state, t);
    }
    let request = RequestRow::from_json(&answer.body);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Page::render(
        status,
        &RequestPage {
            page: state.chrome(
                t,
                &state.path(&format!("/requests/{}", segment(id))),
                Some(operator),
            ),
            csrf: operator.csrf.clone(),
            form: form.unwrap_or_else(|| request.app.clone()),
            item: request,
            notice,
            error,
        },
    )
    .into_response()
}

/// `POST /console/requests/{id}/{approve,reject,request-changes}`.
pub async fn act(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    fields: Fields,
) -> Response {
    let operator = match auth::require_form(&state, &headers, &fields, Need::Reviewer).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let t = view::language(&headers);
    let path = format!("/admin/registration-requests/{}/{action}", segment(&id));
    let mut edited = None;
    let body = match action.as_str() {
        "approve" => {
            let current = state
                .api()
                .get(
                    Some(&operator),
                    &format!("/admin/registration-requests/{}", segment(&id)),
                )
                .await;
            if current.status == StatusCode::NOT_FOUND {
                return view::not_found(&state, t, &operator);
            }
            let requested = AppFields::from_json(current.body.get("app"));
            let form = AppFields::from_fields(&fields);
            // Approved as requested unless the reviewer changed a field.
            let body = if fields.get("name").is_empty() || form == requested {
                json!({})
            } else {
                json!({ "app": form.to_json() })
            };
            edited = Some(form);
            body
        }
        "reject" | "request-changes" => {
            let reason = fields.get("review_reason");
            if reason.is_empty() {
                let error = t.get("console.requests.reason_required").to_owned();
                return request_page(&state, t, &operator, &id, None, None, Some(error)).await;
            }
            json!({ "reason": reason })
        }
        _ => return view::not_found(&state, t, &operator),
    };
    let answer = state
        .api()
        .call(Some(&operator), Method::POST, &path, Some(body))
        .await;
    if answer.status == StatusCode::NOT_FOUND {
        return view::not_found(&state, t, &operator);
    }
    if !answer.ok() {
        let error = Some(answer.error_text());
        return request_page(&state, t, &operator, &id, edited, None, error).await;
    }
    SeeOther::to(state.path(&format!("/requests/{}?done={action}", segment(&id)))).into_response()
}
