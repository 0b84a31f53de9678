//! The consent page (`GET|POST /ui/consent`) and "not you?" (`POST /ui/consent/switch`).
//!
//! Lists the requested scopes by their catalogue labels and descriptions (a scope the catalogue
//! does not describe as "Access “name” data"), leaving out technical and hidden ones; when `offline` or `offline_access` is requested it says in plain words that
//! the app keeps access while the user is away (OpenID Connect Core §11), and only then does a
//! remembered consent hold offline access. Deny sends `access_denied` to the client; Allow has the token service issue
//! the code for every requested scope (hidden ones included) and, with "remember", records the
//! consent so the next request for the same scopes skips this page.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::scope::ScopeDefinition;

use crate::authorize::{issue_code, redirect_error, with_cookie};
use crate::challenge::Challenge;
use crate::csrf::Purpose;
use crate::form::Fields;
use crate::login::find_challenge;
use crate::page::{
    ConsentPage, Page, Problem, SeeOther, displayable, language, scope_label, store_failure,
    user_label,
};
use crate::state::LoginState;

fn to_login(state: &LoginState, id: &str) -> Response {
    SeeOther::to(format!("{}?challenge={id}", state.path("/ui/login"))).into_response()
}

/// The signed-in subject this challenge was authenticated for, when this browser's session is
/// still that user's. `None` means: sign in (again).
async fn signed_in_subject(
    state: &LoginState,
    headers: &HeaderMap,
    challenge: &Challenge,
) -> Result<Option<String>, OAuthError> {
    let Some(auth) = &challenge.authenticated else {
        return Ok(None);
    };
    let session = state
        .sessions()
        .load(headers)
        .await
        .map_err(store_failure)?;
    Ok(session
        .filter(|found| found.session.subject == auth.subject)
        .map(|found| found.session.subject))
}

pub async fn show(
    State(state): State<LoginState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = Fields::query(query.as_deref());
    let browser = state.browser(&headers);
    let id = query.get("challenge").unwrap_or_default();
    let challenge = match find_challenge(&state, id, Some(&browser), language(None, &headers)).await
    {
        Ok(c) => c,
        Err(page) => return page,
    };
    let t = language(challenge.request.ui_locales.as_deref(), &headers);
    let subject = match signed_in_subject(&state, &headers, &challenge).await {
        Ok(Some(subject)) => subject,
        Ok(None) => return to_login(&state, id),
        Err(e) => return state.failure_page(t, &e).into_response(),
    };
    let user = match state.token().user(&subject).await {
        Ok(Some(user)) if !user.disabled => user,
        Ok(_) => return to_login(&state, id),
        Err(e) => return state.failure_page(t, &e).into_response(),
    };
    let client = displayable(&challenge.client);
    let mut csp = state
        .base_csp()
        .with_form_target(&challenge.request.redirect_uri);
    if let Some(logo) = &client.logo_uri {
        csp = csp.with_image(logo);
    }
    Page::render(
        StatusCode::OK,
        &ConsentPage {
            page: state.chrome(t),
            user_label: user_label(user.name.as_deref(), &user.username),
            scopes: challenge
                .visible_scopes()
                .map(|s| ScopeDefinition {
                    label: scope_label(s, t),
                    ..s.clone()
                })
                .collect(),
            offline: challenge.request.scope.grants_offline_access(),
            client,
            challenge: id.to_owned(),
            csrf: state.csrf().token(&browser, Purpose::Consent),
            switch_csrf: state.csrf().token(&browser, Purpose::SwitchAccount),
        },
    )
    .csp(csp)
    .cookie(browser.set_cookie(state.cookies()))
    .into_response()
}

pub async fn submit(State(state): State<LoginState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = Fields::parse(&body);
    let browser = state.existing_browser(&headers);
    let id = form.get("challenge").unwrap_or_default();
    let challenge =
        match find_challenge(&state, id, browser.as_ref(), language(None, &headers)).await {
            Ok(c) => c,
            Err(page) => return page,
        };
    let t = language(challenge.request.ui_locales.as_deref(), &headers);
    if !state
        .csrf()
        .verify(browser.as_ref(), Purpose::Consent, form.get("csrf_token"))
    {
        return state.error_page(t, Problem::Csrf, None).into_response();
    }
    let subject = match signed_in_subject(&state, &headers, &challenge).await {
        Ok(Some(subject)) => subject,
        Ok(None) => return to_login(&state, id),
        Err(e) => return state.failure_page(t, &e).into_response(),
    };
    let allow = match form.get("decision") {
        Some("allow") => true,
        Some("deny") => false,
        _ => {
            return state
                .error_page(t, Problem::BadRequest, None)
                .into_response();
        }
    };
    // Single use: of two submissions of this form, only one goes on.
    let challenge = match state.challenges().take(id).await {
        Ok(Some(c)) => c,
        Ok(None) => return state.error_page(t, Problem::Expired, None).into_response(),
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    };
    let request = &challenge.request;
    metrics::counter!("gatehouse_consent_decisions_total", "decision" => if allow { "allow" } else { "deny" }).increment(1);
    if !allow && let Some(device_id) = &challenge.device {
        tracing::info!(client_id = %request.client_id, "the user denied a device");
        return crate::device::answer(&state, t, device_id, None).await;
    }
    if !allow {
        tracing::info!(client_id = %request.client_id, "the user denied consent");
        return redirect_error(
            &state,
            t,
            request.response_mode,
            &request.redirect_uri,
            &OAuthError::new(ErrorCode::AccessDenied, "the user denied the request"),
            request.state.as_deref(),
        );
    }
    if form.flag("remember")
        && let Err(e) = state
            .token()
            .record_consent(&subject, &request.client_id, &request.scope)
            .await
    {
        let page = state.failure_page(t, &e).into_response();
        if page.status().is_server_error() {
            give_back(&state, id, &challenge).await;
        }
        return page;
    }
    let answer = issue_code(&state, t, &challenge).await;
    if answer.status().is_server_error() {
        give_back(&state, id, &challenge).await;
    }
    answer
}

/// A failure on the server's side spends nothing: the challenge taken for this answer is stored
/// again, so the same form sent once more (after an outage) goes on.
async fn give_back(state: &LoginState, id: &str, challenge: &crate::challenge::Challenge) {
    if let Err(e) = state.challenges().save(id, challenge).await {
        tracing::warn!(error = %e, "a challenge could not be given back after a server-side failure");
    }
}

/// "Not you?": ends this browser's session and asks for a login for the same request.
pub async fn switch_account(
    State(state): State<LoginState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Fields::parse(&body);
    let browser = state.existing_browser(&headers);
    let id = form.get("challenge").unwrap_or_default();
    let mut challenge =
        match find_challenge(&state, id, browser.as_ref(), language(None, &headers)).await {
            Ok(c) => c,
            Err(page) => return page,
        };
    let t = language(challenge.request.ui_locales.as_deref(), &headers);
    if !state.csrf().verify(
        browser.as_ref(),
        Purpose::SwitchAccount,
        form.get("csrf_token"),
    ) {
        return state.error_page(t, Problem::Csrf, None).into_response();
    }
    let sessions = state.sessions();
    let cookie = match sessions.load(&headers).await {
        Ok(Some(found)) => match sessions.end(&found).await {
            Ok(cookie) => cookie,
            Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
        },
        Ok(None) => None,
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    };
    challenge.authenticated = None;
    if let Err(e) = state.challenges().save(id, &challenge).await {
        return state.failure_page(t, &store_failure(e)).into_response();
    }
    with_cookie(to_login(&state, id), cookie)
}
