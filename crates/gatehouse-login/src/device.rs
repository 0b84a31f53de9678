//! The device page (`GET|POST /device`, RFC 8628 §3.3): the user types the code their device
//! shows (any case, the dash optional), or arrives with it in `?user_code=` from
//! `verification_uri_complete`; then signs in and consents as for any app (the consent page is
//! never skipped for a device); then the page says they can return to their device.
//!
//! A code that finds nothing is answered "not valid" and nothing more (whether it ever existed
//! is not said); the token service counts it toward the per-IP limit of failed logins, and a
//! blocked IP gets status 429.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::challenge::{Authenticated, Challenge};
use crate::client_ip::ClientIp;
use crate::csrf::{Browser, Purpose};
use crate::form::Fields;
use crate::i18n::Tr;
use crate::page::{DeviceDonePage, DevicePage, Page, Problem, SeeOther, language, store_failure};
use crate::state::LoginState;
use crate::token_client::DeviceLookup;

/// Longest code field read: a user code is 9 characters; anything much longer is not one.
const MAX_CODE_CHARS: usize = 64;

fn form_page(
    state: &LoginState,
    t: Tr,
    browser: &Browser,
    user_code: &str,
    error: Option<String>,
    status: StatusCode,
) -> Page {
    let mut chrome = state.chrome(t);
    chrome.languages = state.language_links(t, &state.path("/device"));
    Page::render(
        status,
        &DevicePage {
            page: chrome,
            csrf: state.csrf().token(browser, Purpose::Device),
            user_code: user_code.to_owned(),
            error,
        },
    )
    .csp(state.base_csp())
    .cookie(browser.set_cookie(state.cookies()))
}

pub async fn show(
    State(state): State<LoginState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = Fields::query(query.as_deref());
    let t = language(None, &headers);
    let browser = state.browser(&headers);
    let code: String = query
        .get("user_code")
        .unwrap_or_default()
        .chars()
        .take(MAX_CODE_CHARS)
        .collect::<String>()
        .to_uppercase();
    form_page(&state, t, &browser, &code, None, StatusCode::OK).into_response()
}

pub async fn submit(
    State(state): State<LoginState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Fields::parse(&body);
    let t = language(None, &headers);
    let Some(browser) = state.existing_browser(&headers).filter(|b| {
        state
            .csrf()
            .verify(Some(b), Purpose::Device, form.get("csrf_token"))
    }) else {
        return state.error_page(t, Problem::Csrf, None).into_response();
    };
    let typed = form.get("user_code").unwrap_or_default().trim();
    let shown: String = typed.chars().take(MAX_CODE_CHARS).collect();
    let lookup = if typed.chars().count() > MAX_CODE_CHARS {
        // Not a code; still counted, so long guesses cost the same as short ones.
        state.token().lookup_device_authorization("", &ip).await
    } else {
        state.token().lookup_device_authorization(typed, &ip).await
    };
    let (device_id, context) = match lookup {
        Ok(DeviceLookup::Found { device_id, context }) => (device_id, context),
        Ok(DeviceLookup::NotValid { attempts_left }) => {
            metrics::counter!("gatehouse_device_codes_total", "outcome" => "not_valid")
                .increment(1);
            let message = if attempts_left == Some(1) {
                t.get("device.error_last_attempt")
            } else {
                t.get("device.error_invalid")
            };
            return form_page(
                &state,
                t,
                &browser,
                &shown,
                Some(message.to_owned()),
                StatusCode::BAD_REQUEST,
            )
            .into_response();
        }
        Ok(DeviceLookup::Locked { retry_after }) => {
            metrics::counter!("gatehouse_device_codes_total", "outcome" => "locked").increment(1);
            let minutes = retry_after.as_secs().div_ceil(60).max(1);
            let message = t.with("device.error_locked", "minutes", &minutes.to_string());
            let mut page = form_page(
                &state,
                t,
                &browser,
                &shown,
                Some(message),
                StatusCode::TOO_MANY_REQUESTS,
            )
            .into_response();
            page.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after.as_secs().max(1)),
            );
            return page;
        }
        Err(e) => return state.failure_page(t, &e).into_response(),
    };
    metrics::counter!("gatehouse_device_codes_total", "outcome" => "found").increment(1);
    let mut challenge = Challenge::new(*context, state.challenges().browser_hash(&browser));
    challenge.device = Some(device_id);
    let session = match state.sessions().load(&headers).await {
        // A password-only session does not answer a request that needs a second factor: the
        // user signs in again, with it.
        Ok(found) => found.filter(|f| {
            !challenge.request.mfa_required
                || gatehouse_core::factor::is_multi_factor(&f.session.methods())
        }),
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    };
    if let Some(found) = &session {
        challenge.authenticated = Some(Authenticated {
            subject: found.session.subject.clone(),
            auth_time: found.session.auth_time,
            sid: found.session.sid.clone(),
            amr: found.session.methods(),
        });
    }
    let next = if session.is_some() {
        "/ui/consent"
    } else {
        "/ui/login"
    };
    match state.challenges().create(&challenge).await {
        Ok(id) => SeeOther::to(format!("{}?challenge={id}", state.path(next))).into_response(),
        Err(e) => state.failure_page(t, &store_failure(e)).into_response(),
    }
}

/// Sends the user's answer (`approved_by` the user, or denied) to the token service and says
/// they can return to their device.
pub(crate) async fn answer(
    state: &LoginState,
    t: Tr,
    device_id: &str,
    approved_by: Option<crate::token_client::DeviceApprover<'_>>,
) -> Response {
    match state
        .token()
        .complete_device_authorization(device_id, approved_by)
        .await
    {
        Ok(()) => Page::render(
            StatusCode::OK,
            &DeviceDonePage {
                page: state.chrome(t),
                approved: approved_by.is_some(),
            },
        )
        .csp(state.base_csp())
        .into_response(),
        Err(e) => {
            let problem = Problem::from_oauth(&e, Problem::Expired);
            state.error_page(t, problem, Some(&e)).into_response()
        }
    }
}
