//! Users: search, create, disable/enable, unlock a locked username, reset the password (a new
//! random one, shown once), mail a password reset link, roles, connected apps with revoke, and
//! second factors with remove (for a user who lost their device and recovery codes). Admins
//! only.

use askama::Template;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_core::secret::random_token;
use gatehouse_login::i18n::Tr;
use gatehouse_login::page::{Page, SeeOther};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{segment, with_query};
use crate::auth::{self, Need, Operator};
use crate::form::Fields;
use crate::state::ConsoleState;
use crate::view::{self, Chrome};

/// The roles an operator can give (`gatehouse_core::user::Role`'s names).
const ROLES: [&str; 2] = ["admin", "reviewer"];

pub struct UserRow {
    pub id: String,
    pub username: String,
    pub name: String,
    pub email: String,
    pub disabled: bool,
    pub roles: Vec<String>,
    pub created_at: String,
}

impl UserRow {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    fn from_json(user: &Value) -> Self {
        let s = |k: &str| {
            user.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            id: s("id"),
            username: s("username"),
            name: s("name"),
            email: s("email"),
            disabled: user.get("disabled").and_then(Value::as_bool) == Some(true),
            roles: user
                .get("roles")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            created_at: view::when(&s("created_at")),
        }
    }
}

/// The create form, as typed.
#[derive(Default)]
pub struct NewUser {
    pub username: String,
    pub name: String,
    pub email: String,
    pub roles: Vec<String>,
}

impl NewUser {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

#[derive(Template)]
#[template(path = "console_users.html")]
pub struct UsersPage {
    pub page: Chrome,
    pub csrf: String,
    pub rows: Vec<UserRow>,
    pub q: String,
    pub next_href: Option<String>,
    pub form: NewUser,
    pub roles: [&'static str; 2],
    pub error: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page_token: String,
}

async fn list_page(
    state: &ConsoleState,
    t: Tr,
    operator: &Operator,
    query: ListQuery,
    form: NewUser,
    error: Option<String>,
) -> Response {
    let answer = state
        .api()
        .get(
            Some(operator),
            &with_query(
                "/admin/users",
                &[
                    ("search", query.q.trim()),
                    ("page_size", "50"),
                    ("page_token", &query.page_token),
                ],
            ),
        )
        .await;
    if !answer.ok() {
        return view::unavailable(state, t);
    }
    let rows = answer
        .body
        .as_array()
        .map(|a| a.iter().map(UserRow::from_json).collect())
        .unwrap_or_default();
    let next_href = answer.next_page.map(|token| {
        with_query(
            &state.path("/users"),
            &[("q", &query.q), ("page_token", &token)],
        )
    });
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Page::render(
        status,
        &UsersPage {
            page: state.chrome(t, &state.path("/users"), Some(operator)),
            csrf: operator.csrf.clone(),
            rows,
            q: query.q,
            next_href,
            form,
            roles: ROLES,
            error,
        },
    )
    .into_response()
}

/// `GET /console/users`.
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
    list_page(&state, t, &operator, query, NewUser::default(), None).await
}

#[derive(Template)]
#[template(path = "console_password.html")]
pub struct PasswordPage {
    pub page: Chrome,
    pub heading: String,
    pub user_id: String,
    pub username: String,
    pub password: String,
}

fn password_page(
    state: &ConsoleState,
    t: Tr,
    operator: &Operator,
    user: &UserRow,
    heading: &str,
    password: String,
) -> Response {
    Page::render(
        StatusCode::OK,
        &PasswordPage {
            page: state.chrome(t, &state.path("/users"), Some(operator)),
            heading: t.get(heading).to_owned(),
            user_id: user.id.clone(),
            username: user.username.clone(),
            password,
        },
    )
    .into_response()
}

/// A password for a new user or a reset: 144 random bits, shown once.
fn new_password() -> String {
    random_token(18)
}

/// `POST /console/users`: a new user with a random password (shown once).
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
    let form = NewUser {
        username: fields.get("username").to_owned(),
        name: fields.get("name").to_owned(),
        email: fields.get("email").to_owned(),
        roles: fields.all("role"),
    };
    let password = new_password();
    let mut user = json!({
        "username": form.username,
        "password": password,
        "roles": form.roles,
    });
    if !form.name.is_empty() {
        user["name"] = json!(form.name);
    }
    if !form.email.is_empty() {
        user["email"] = json!(form.email);
    }
    let answer = state
        .api()
        .call(Some(&operator), Method::POST, "/admin/users", Some(user))
        .await;
    if !answer.ok() {
        let error = Some(answer.error_text());
        return list_page(&state, t, &operator, ListQuery::default(), form, error).await;
    }
    let created = UserRow::from_json(&answer.body);
    password_page(
        &state,
        t,
        &operator,
        &created,
        "console.users.created",
        password,
    )
}

/// One second factor of the user, as the admin API lists it (never its secret).
pub struct FactorRow {
    pub id: String,
    pub kind: String,
    pub label: String,
    pub confirmed: bool,
    pub created_at: String,
    /// Empty when no code was ever accepted.
    pub last_used_at: String,
}

impl FactorRow {
    fn from_json(factor: &Value) -> Self {
        let s = |k: &str| factor.get(k).and_then(Value::as_str).unwrap_or_default();
        Self {
            id: s("id").to_owned(),
            kind: s("kind").to_owned(),
            label: s("label").to_owned(),
            confirmed: factor.get("confirmed").and_then(Value::as_bool) == Some(true),
            created_at: view::when(s("created_at")),
            last_used_at: factor
                .get("last_used_at")
                .and_then(Value::as_str)
                .map(view::when)
                .unwrap_or_default(),
        }
    }
}

pub struct ConsentRow {
    pub client_id: String,
    pub client_name: String,
    pub scope: String,
    pub granted_at: String,
}

#[derive(Template)]
#[template(path = "console_user.html")]
pub struct UserPage {
    pub page: Chrome,
    pub csrf: String,
    pub user: UserRow,
    pub roles: [&'static str; 2],
    pub consents: Option<Vec<ConsentRow>>,
    /// `None` when the admin API did not answer.
    pub factors: Option<Vec<FactorRow>>,
    pub notice: Option<String>,
    pub error: Option<String>,
}

/// `GET /console/users/{id}`.
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
    let done = query.done;
    let notice = match done.as_str() {
        "disabled" | "enabled" | "unlocked" | "roles" | "revoked" | "factor_removed" => {
            Some(t.get(&format!("console.users.done_{done}")).to_owned())
        }
        _ => None,
    };
    user_page(&state, t, &operator, &id, notice, None).await
}

async fn user_page(
    state: &ConsoleState,
    t: Tr,
    operator: &Operator,
    id: &str,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let path = format!("/admin/users/{}", segment(id));
    let answer = state.api().get(Some(operator), &path).await;
    if answer.status == StatusCode::NOT_FOUND {
        return view::not_found(state, t, operator);
    }
    if !answer.ok() {
        return view::unavailable(state, t);
    }
    let consents = state
        .api()
        .get(Some(operator), &format!("{path}/consents"))
        .await;
    let consents = consents.ok().then(|| {
        consents
            .body
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| {
                        let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default();
                        ConsentRow {
                            client_id: s("client_id").to_owned(),
                            client_name: s("client_name").to_owned(),
                            scope: s("scope").to_owned(),
                            granted_at: view::when(s("granted_at")),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    });
    let factors = state
        .api()
        .get(Some(operator), &format!("{path}/factors"))
        .await;
    let factors = factors.ok().then(|| {
        factors
            .body
            .as_array()
            .map(|a| a.iter().map(FactorRow::from_json).collect())
            .unwrap_or_default()
    });
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Page::render(
        status,
        &UserPage {
            page: state.chrome(
                t,
                &state.path(&format!("/users/{}", segment(id))),
                Some(operator),
            ),
            csrf: operator.csrf.clone(),
            user: UserRow::from_json(&answer.body),
            roles: ROLES,
            consents,
            factors,
            notice,
            error,
        },
    )
    .into_response()
}

/// `POST /console/users/{id}/{disable,enable,unlock,password,reset-link,roles,revoke,remove-factor}`.
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
    let path = format!("/admin/users/{}", segment(&id));
    let api = state.api();
    let answer = match action.as_str() {
        "disable" | "enable" => {
            api.call(
                Some(&operator),
                Method::PATCH,
                &path,
                Some(json!({ "disabled": action == "disable" })),
            )
            .await
        }
        "unlock" => {
            api.call(
                Some(&operator),
                Method::POST,
                &format!("{path}/unlock"),
                Some(json!({})),
            )
            .await
        }
        "roles" => {
            let roles: Vec<String> = fields
                .all("role")
                .into_iter()
                .filter(|r| ROLES.contains(&r.as_str()))
                .collect();
            api.call(
                Some(&operator),
                Method::PATCH,
                &path,
                Some(json!({ "roles": roles })),
            )
            .await
        }
        "remove-factor" => {
            let factor = fields.get("factor_id");
            api.call(
                Some(&operator),
                Method::DELETE,
                &format!("{path}/factors/{}", segment(factor)),
                None,
            )
            .await
        }
        "reset-link" => {
            let answer = api
                .call(
                    Some(&operator),
                    Method::POST,
                    &format!("{path}/password-reset"),
                    Some(json!({})),
                )
                .await;
            if answer.ok() {
                // Said on the page at once: the address is the API's answer, not in the URL.
                let minutes = answer
                    .body
                    .get("expires_in")
                    .and_then(Value::as_u64)
                    .unwrap_or_default()
                    .div_ceil(60);
                let notice = t
                    .get("console.users.reset_link_sent")
                    .replace("{minutes}", &minutes.to_string())
                    .replace("{email}", &answer.str("email"));
                return user_page(&state, t, &operator, &id, Some(notice), None).await;
            }
            answer
        }
        "revoke" => {
            let client = fields.get("client_id");
            api.call(
                Some(&operator),
                Method::DELETE,
                &format!("{path}/consents/{}", segment(client)),
                None,
            )
            .await
        }
        "password" => {
            let password = new_password();
            let answer = api
                .call(
                    Some(&operator),
                    Method::PUT,
                    &format!("{path}/password"),
                    Some(json!({ "password": password })),
                )
                .await;
            if answer.ok() {
                let user = api.get(Some(&operator), &path).await;
                let user = UserRow::from_json(&user.body);
                return password_page(
                    &state,
                    t,
                    &operator,
                    &user,
                    "console.users.password_reset",
                    password,
                );
            }
            answer
        }
        _ => return view::not_found(&state, t, &operator),
    };
    if answer.status == StatusCode::NOT_FOUND {
        return view::not_found(&state, t, &operator);
    }
    if !answer.ok() {
        return user_page(&state, t, &operator, &id, None, Some(answer.error_text())).await;
    }
    let done = match action.as_str() {
        "disable" => "disabled",
        "enable" => "enabled",
        "unlock" => "unlocked",
        "revoke" => "revoked",
        "remove-factor" => "factor_removed",
        _ => "roles",
    };
    SeeOther::to(state.path(&format!("/users/{}?done={done}", segment(&id)))).into_response()
}
