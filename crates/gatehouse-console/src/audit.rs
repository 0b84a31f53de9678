//! The audit log: who changed what, filtered by actor, target, action and time, newest first,
//! paged. Admins only.

use askama::Template;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_login::page::Page;
use serde::Deserialize;
use serde_json::Value;

use crate::api::with_query;
use crate::auth::{self, Need};
use crate::state::ConsoleState;
use crate::view::{self, Chrome};

pub struct EventRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub changes: String,
}

impl EventRow {
    fn from_json(event: &Value) -> Self {
        let s = |p: &str| {
            event
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let name = s("/actor/name");
        let actor = if name.is_empty() {
            s("/actor/kind")
        } else {
            format!("{name} ({})", s("/actor/kind"))
        };
        let changes = event
            .get("changes")
            .and_then(Value::as_object)
            .map(|c| {
                c.iter()
                    .map(|(k, v)| match v {
                        Value::String(s) => format!("{k}: {s}"),
                        other => format!("{k}: {other}"),
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        Self {
            at: view::when(&s("/at")),
            actor,
            action: s("/action"),
            target: format!("{} {}", s("/target/kind"), s("/target/id"))
                .trim()
                .to_owned(),
            changes,
        }
    }
}

#[derive(Deserialize, Default)]
pub struct Filters {
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub since: String,
    #[serde(default)]
    pub until: String,
    #[serde(default)]
    page_token: String,
}

#[derive(Template)]
#[template(path = "console_audit.html")]
pub struct AuditPage {
    pub page: Chrome,
    pub filters: Filters,
    pub rows: Vec<EventRow>,
    pub next_href: Option<String>,
    pub error: Option<String>,
}

/// A time filter as RFC 3339: a `datetime-local` value (`2026-12-06T19:30`) is read as UTC.
fn rfc3339(value: &str) -> String {
    let value = value.trim();
    if value.len() == 16 && value.as_bytes().get(10) == Some(&b'T') {
        format!("{value}:00Z")
    } else {
        value.to_owned()
    }
}

/// `GET /console/audit`.
pub async fn list(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<Filters>,
) -> Response {
    let filters = query;
    let operator = match auth::require(&state, &headers, &uri.to_string(), Need::Admin).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let t = view::language(&headers);
    let (since, until) = (rfc3339(&filters.since), rfc3339(&filters.until));
    let answer = state
        .api()
        .get(
            Some(&operator),
            &with_query(
                "/admin/audit-events",
                &[
                    ("actor", &filters.actor),
                    ("target", &filters.target),
                    ("action", &filters.action),
                    ("since", &since),
                    ("until", &until),
                    ("page_size", "50"),
                    ("page_token", &filters.page_token),
                ],
            ),
        )
        .await;
    let (rows, error) = if answer.ok() {
        let rows = answer
            .body
            .as_array()
            .map(|a| a.iter().map(EventRow::from_json).collect())
            .unwrap_or_default();
        (rows, None)
    } else if answer.status.is_client_error() {
        (Vec::new(), Some(answer.error_text()))
    } else {
        return view::unavailable(&state, t);
    };
    let next_href = answer.next_page.map(|token| {
        with_query(
            &state.path("/audit"),
            &[
                ("actor", &filters.actor),
                ("target", &filters.target),
                ("action", &filters.action),
                ("since", &filters.since),
                ("until", &filters.until),
                ("page_token", &token),
            ],
        )
    });
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Page::render(
        status,
        &AuditPage {
            page: state.chrome(t, &uri.to_string(), Some(&operator)),
            filters,
            rows,
            next_href,
            error,
        },
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_datetime_is_read_as_utc() {
        assert_eq!(rfc3339("2026-12-06T19:30"), "2026-12-06T19:30:00Z");
        assert_eq!(
            rfc3339("2026-12-06T19:30:00+01:00"),
            "2026-12-06T19:30:00+01:00"
        );
        assert_eq!(rfc3339(""), "");
    }
}
