//! The account pages: `GET /` (where the issuer's address leads: the account page, `profile.rs`),
//! connected apps (`GET /account/apps`, `POST /account/apps/revoke`): every app the signed-in
//! user granted access to, the scopes in plain words and when; revoking withdraws the consent
//! and has the token service revoke that app's refresh and access tokens for the user.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use time::macros::format_description;

use crate::authorize::with_cookie;
use crate::csrf::Purpose;
use crate::form::Fields;
use crate::i18n::Tr;
use crate::page::{
    AppView, AppsPage, Page, Problem, SeeOther, language, scope_label, store_failure, user_label,
    web_url,
};
use crate::session::Found;
use crate::state::LoginState;
use crate::token_client::ConnectedApp;

/// The user of a live session. A disabled or deleted user's session ends here, and the answer
/// sends them to sign in.
pub(crate) async fn session_user(
    state: &LoginState,
    found: &Found,
    t: Tr,
) -> Result<crate::token_client::UserProfile, Response> {
    match state.token().user(&found.session.subject).await {
        Ok(Some(user)) if !user.disabled => Ok(user),
        Ok(_) => {
            let cookie = state.sessions().end(found).await.ok().flatten();
            Err(with_cookie(
                SeeOther::to(state.path("/ui/login")).into_response(),
                cookie,
            ))
        }
        Err(e) => Err(state.failure_page(t, &e).into_response()),
    }
}

/// `GET /`: the account page when someone is signed in here, else a page that says so and offers
/// to sign in, so the issuer's own address never ends in a 404.
pub async fn home(State(state): State<LoginState>, headers: HeaderMap) -> Response {
    let t = language(None, &headers);
    match state.sessions().load(&headers).await {
        Ok(Some(_)) => SeeOther::to(state.path("/account")).into_response(),
        Ok(None) => state.signed_out_page(t, false, None).into_response(),
        Err(e) => state.failure_page(t, &store_failure(e)).into_response(),
    }
}

pub async fn show(
    State(state): State<LoginState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = Fields::query(query.as_deref());
    let t = language(query.get("ui_locales"), &headers);
    let found = match crate::profile::require_session(&state, &headers, t, "/account/apps").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let subject = &found.session.subject;
    let user = match session_user(&state, &found, t).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let apps = match state.token().list_consents(subject).await {
        Ok(apps) => apps,
        Err(e) => return state.failure_page(t, &e).into_response(),
    };
    // The portal's link, unless the portal is off (or its mode cannot be read just now).
    let portal_href = matches!(
        state.token().approval_mode().await,
        Ok(crate::token_client::ApprovalMode::Manual
            | crate::token_client::ApprovalMode::Automatic)
    )
    .then(|| state.path("/developers"));
    let browser = state.browser(&headers);
    let mut csp = state.base_csp();
    for logo in apps
        .iter()
        .filter_map(|a| a.client.as_ref()?.logo_uri.as_deref())
    {
        csp = csp.with_image(logo);
    }
    Page::render(
        StatusCode::OK,
        &AppsPage {
            page: state.chrome(t),
            user_label: user_label(user.name.as_deref(), &user.username),
            apps: apps.iter().map(|app| app_view(app, t)).collect(),
            portal_href,
            csrf: state.csrf().token(&browser, Purpose::Revoke),
            logout_csrf: state.csrf().token(&browser, Purpose::Logout),
            revoked: query.get("revoked").is_some(),
        },
    )
    .csp(csp)
    .cookie(browser.set_cookie(state.cookies()))
    .into_response()
}

fn app_view(app: &ConnectedApp, t: Tr) -> AppView {
    let name = app
        .client
        .as_ref()
        .map(|c| c.name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| t.get("apps.unknown_client").to_owned());
    let date = app
        .consent
        .granted_at
        .format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default();
    AppView {
        client_id: app.consent.client_id.to_string(),
        logo_uri: app
            .client
            .as_ref()
            .and_then(|c| web_url(c.logo_uri.as_deref())),
        scopes: app
            .scopes
            .iter()
            .filter(|s| !s.hidden && !s.name.is_technical())
            .map(|s| scope_label(s, t))
            .collect(),
        granted: t.with("apps.granted_on", "date", &date),
        revoke_label: t.with("apps.revoke_label", "client", &name),
        name,
    }
}

pub async fn revoke(State(state): State<LoginState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = Fields::parse(&body);
    let t = language(None, &headers);
    let browser = state.existing_browser(&headers);
    if !state
        .csrf()
        .verify(browser.as_ref(), Purpose::Revoke, form.get("csrf_token"))
    {
        return state.error_page(t, Problem::Csrf, None).into_response();
    }
    let found = match crate::profile::require_session(&state, &headers, t, "/account/apps").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let Some(client_id) = form.get("client_id") else {
        return SeeOther::to(state.path("/account/apps")).into_response();
    };
    match state
        .token()
        .revoke_consent(&found.session.subject, client_id)
        .await
    {
        Ok(_) => {
            tracing::info!(client_id, "the user revoked an app's access");
            SeeOther::to(state.path("/account/apps?revoked=1")).into_response()
        }
        Err(e) => state.failure_page(t, &e).into_response(),
    }
}
