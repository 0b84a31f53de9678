//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at `/oauth2/sessions/logout`.
//!
//! The request (`id_token_hint`, `client_id`, `post_logout_redirect_uri`, `state`, by GET or
//! POST) is checked by the token service, which holds the keys to verify the hint. With a valid
//! `id_token_hint` for the user signed in here, the session ends at once (RP-Initiated Logout
//! §2: only then may the question be skipped; in external UI mode with `GATEHOUSE_URLS_LOGOUT` the
//! logout app is asked all the same, as Hydra does); otherwise a signed-in user confirms on a page (a
//! POST with a CSRF token, so no other site can sign them out). The account page's "Sign out"
//! posts that same confirmation form directly: one step. Then the user goes to the registered
//! post-logout URI with `state`, or sees the signed-out page, which offers to sign in again
//! (at the client's site when the client is known). A refused request is an error page, never a
//! redirect.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::challenge::LogoutChallenge;
use crate::csrf::Purpose;
use crate::form::Fields;
use crate::i18n::Tr;
use crate::page::{LogoutPage, Page, Problem, SeeOther, language, store_failure, user_label};
use crate::redirect;
use crate::state::LoginState;
use crate::token_client::{ClientDisplay, ValidatedLogout};

pub async fn start_get(
    State(state): State<LoginState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    start(&state, &headers, &Fields::query(query.as_deref())).await
}

pub async fn start_post(
    State(state): State<LoginState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    start(&state, &headers, &Fields::parse(&body)).await
}

async fn start(state: &LoginState, headers: &HeaderMap, fields: &Fields) -> Response {
    let t = language(fields.get("ui_locales"), headers);
    let external = state.config().external.as_ref();
    if let Some(external) = external
        && let Some(verifier) = fields.get("logout_verifier")
    {
        return resume_external(state, t, headers, verifier, external).await;
    }
    let hint = fields.get("id_token_hint");
    let client_id = fields.get("client_id");
    let target = fields.get("post_logout_redirect_uri");
    let logout = if hint.is_some() || client_id.is_some() || target.is_some() {
        match state.token().validate_logout(hint, client_id, target).await {
            Ok(logout) => logout,
            Err(e) => {
                let problem = Problem::from_oauth(&e, Problem::BadLogout);
                return state.error_page(t, problem, Some(&e)).into_response();
            }
        }
    } else {
        ValidatedLogout {
            client: None,
            subject: None,
            post_logout_redirect_uri: None,
        }
    };
    let client_state = fields.get("state").map(str::to_owned);

    let found = match state.sessions().load(headers).await {
        Ok(found) => found,
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    };
    let Some(found) = found else {
        // Nobody is signed in here: nothing to confirm.
        return finish(
            state,
            t,
            logout.post_logout_redirect_uri.as_deref(),
            client_state.as_deref(),
            logout.client.as_ref(),
            None,
        );
    };
    let external_url = external.and_then(|e| e.logout_url.as_deref());
    // External UI mode with a logout app: the app is always asked (as Hydra does), even when
    // the client proved it holds this user's ID token.
    if external_url.is_none()
        && logout
            .subject
            .as_deref()
            .is_some_and(|hinted| hinted == found.session.subject)
    {
        // The app proved it holds this user's ID token: no question to ask.
        let cookie = match state.sessions().end(&found).await {
            Ok(cookie) => cookie,
            Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
        };
        tracing::info!("user signed out by the app");
        return finish(
            state,
            t,
            logout.post_logout_redirect_uri.as_deref(),
            client_state.as_deref(),
            logout.client.as_ref(),
            cookie,
        );
    }
    let browser = state.browser(headers);
    let pending = LogoutChallenge {
        post_logout_redirect_uri: logout.post_logout_redirect_uri.clone(),
        state: client_state,
        browser: state.challenges().browser_hash(&browser),
        client: logout.client.clone(),
        subject: external_url.map(|_| found.session.subject.clone()),
        sid: external_url.map(|_| found.session.sid.clone()),
        request_url: external_url.map(|_| request_url(state, fields)),
    };
    let id = match state.challenges().create_logout(&pending).await {
        Ok(id) => id,
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    };
    if let Some(url) = external_url {
        // External UI mode: the external app asks the user (Hydra's logout challenge).
        return match redirect::with_query(url, &[("logout_challenge", &id)]) {
            Some(location) => SeeOther::to(location)
                .cookie(browser.set_cookie(state.cookies()))
                .into_response(),
            None => state.error_page(t, Problem::Internal, None).into_response(),
        };
    }
    let label = match state.token().user(&found.session.subject).await {
        Ok(Some(user)) => user_label(user.name.as_deref(), &user.username),
        Ok(None) => found.session.subject.clone(),
        Err(e) => return state.failure_page(t, &e).into_response(),
    };
    let mut csp = state.base_csp();
    if let Some(uri) = &logout.post_logout_redirect_uri {
        csp = csp.with_form_target(uri);
    }
    Page::render(
        StatusCode::OK,
        &LogoutPage {
            page: state.chrome(t),
            client_name: logout
                .client
                .as_ref()
                .map(|c| c.name.clone())
                .filter(|n| !n.is_empty()),
            user_label: label,
            csrf: state.csrf().token(&browser, Purpose::Logout),
            logout_challenge: id,
        },
    )
    .csp(csp)
    .cookie(browser.set_cookie(state.cookies()))
    .into_response()
}

/// The logout URL as the client sent it (Hydra's `request_url`), the `id_token_hint` left out.
fn request_url(state: &LoginState, fields: &Fields) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            [
                "client_id",
                "post_logout_redirect_uri",
                "state",
                "ui_locales",
            ]
            .iter()
            .filter_map(|p| Some((*p, fields.get(p)?))),
        )
        .finish();
    format!("{}/oauth2/sessions/logout?{query}", state.issuer())
}

/// External UI mode: the browser back from the external logout app with the `logout_verifier`
/// of its accept. The verifier is single use and the challenge must be this browser's.
async fn resume_external(
    state: &LoginState,
    t: Tr,
    headers: &HeaderMap,
    verifier: &str,
    external: &crate::config::ExternalUi,
) -> Response {
    let challenges = state.challenges();
    let id = match challenges.take_verifier("logout", verifier).await {
        Ok(Some(id)) => id,
        Ok(None) => {
            return crate::external::fail(
                state,
                t,
                external,
                "invalid_request",
                "the logout verifier is unknown, expired or was used already",
            );
        }
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    };
    let browser = state.existing_browser(headers);
    let pending = match challenges.take_logout(&id, browser.as_ref()).await {
        Ok(Some(pending)) => pending,
        Ok(None) => {
            return crate::external::fail(
                state,
                t,
                external,
                "invalid_request",
                "the logout request expired or was started in another browser",
            );
        }
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    };
    let sessions = state.sessions();
    let cookie = match sessions.load(headers).await {
        Ok(Some(found)) => match sessions.end(&found).await {
            Ok(cookie) => cookie,
            Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
        },
        Ok(None) => sessions.expire_cookie(),
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    };
    tracing::info!("user signed out through the external app");
    finish(
        state,
        t,
        pending.post_logout_redirect_uri.as_deref(),
        pending.state.as_deref(),
        pending.client.as_ref(),
        cookie,
    )
}

/// The confirmation: ends the session, then redirects or shows the signed-out page.
pub async fn confirm(State(state): State<LoginState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = Fields::parse(&body);
    let t = language(None, &headers);
    let browser = state.existing_browser(&headers);
    if !state
        .csrf()
        .verify(browser.as_ref(), Purpose::Logout, form.get("csrf_token"))
    {
        return state.error_page(t, Problem::Csrf, None).into_response();
    }
    let pending = match form.get("logout_challenge") {
        Some(id) => match state.challenges().take_logout(id, browser.as_ref()).await {
            Ok(pending) => pending,
            Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
        },
        None => None,
    };
    let sessions = state.sessions();
    let cookie = match sessions.load(&headers).await {
        Ok(Some(found)) => match sessions.end(&found).await {
            Ok(cookie) => cookie,
            Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
        },
        Ok(None) => sessions.expire_cookie(),
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    };
    tracing::info!("user signed out");
    // An expired or missing confirmation (the account page's "Sign out" has none) still signs
    // out, but redirects nowhere.
    let (target, client_state, client) = pending
        .map(|p| (p.post_logout_redirect_uri, p.state, p.client))
        .unwrap_or_default();
    finish(
        &state,
        t,
        target.as_deref(),
        client_state.as_deref(),
        client.as_ref(),
        cookie,
    )
}

/// RP-Initiated Logout §3: to the registered URI with `state`, else the signed-out page (with
/// "Sign in again" to `client`, when known).
fn finish(
    state: &LoginState,
    t: Tr,
    target: Option<&str>,
    client_state: Option<&str>,
    client: Option<&ClientDisplay>,
    cookie: Option<HeaderValue>,
) -> Response {
    if let Some(target) = target {
        let params: Vec<(&str, &str)> = client_state.map(|s| ("state", s)).into_iter().collect();
        if let Some(location) = redirect::with_query(target, &params) {
            return SeeOther::to(location).cookie(cookie).into_response();
        }
    }
    state
        .signed_out_page(t, true, client)
        .cookie(cookie)
        .into_response()
}
