//! Signing keys: list (algorithm, kid, state, created) and rotate. Admins only.

use askama::Template;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_login::page::{Page, SeeOther};
use serde_json::{Value, json};

use crate::auth::{self, Need};
use crate::form::Fields;
use crate::state::ConsoleState;
use crate::view::{self, Chrome};

pub struct KeyRow {
    pub alg: String,
    pub kid: String,
    pub active: bool,
    pub created_at: String,
    pub retired_at: String,
}

#[derive(Template)]
#[template(path = "console_keys.html")]
pub struct KeysPage {
    pub page: Chrome,
    pub csrf: String,
    pub rows: Vec<KeyRow>,
    pub rotated: bool,
}

/// `GET /console/keys`.
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
    let answer = state.api().get(Some(&operator), "/admin/keys").await;
    if !answer.ok() {
        return view::unavailable(&state, t);
    }
    let rows = answer
        .body
        .as_array()
        .map(|keys| {
            keys.iter()
                .map(|k| {
                    let s = |f: &str| k.get(f).and_then(Value::as_str).unwrap_or_default();
                    KeyRow {
                        alg: s("alg").to_owned(),
                        kid: s("kid").to_owned(),
                        active: k.get("active").and_then(Value::as_bool) == Some(true),
                        created_at: view::when(s("created_at")),
                        retired_at: if s("retired_at").is_empty() {
                            String::new()
                        } else {
                            view::when(s("retired_at"))
                        },
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Page::render(
        StatusCode::OK,
        &KeysPage {
            page: state.chrome(t, &state.path("/keys"), Some(&operator)),
            csrf: operator.csrf.clone(),
            rows,
            rotated: uri.query().is_some_and(|q| q.contains("rotated=1")),
        },
    )
    .into_response()
}

/// `POST /console/keys/rotate`: a new key for every algorithm (the old ones stay published).
pub async fn rotate(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    fields: Fields,
) -> Response {
    let operator = match auth::require_form(&state, &headers, &fields, Need::Admin).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let t = view::language(&headers);
    let body = match fields.get("alg") {
        "" => json!({}),
        alg => json!({ "alg": alg }),
    };
    let answer = state
        .api()
        .call(
            Some(&operator),
            Method::POST,
            "/admin/keys/rotate",
            Some(body),
        )
        .await;
    if !answer.ok() {
        return view::unavailable(&state, t);
    }
    SeeOther::to(state.path("/keys?rotated=1")).into_response()
}
