//! The account's sign-in security (`GET /account/security`): the signed-in user's authenticator
//! apps (TOTP), adding one (`POST /account/security/totp`: QR code and key, then
//! `POST /account/security/totp/confirm` with its first code; the first factor's recovery codes
//! are shown once), removing one (`POST /account/security/remove`) and new recovery codes
//! (`POST /account/security/recovery-codes`, shown once), and passkeys: the page starts a
//! registration each time it is shown (its options ride in the "Add a passkey" form, which
//! `passkey.js` shows and answers), finished by `POST /account/security/passkeys`. Every form
//! carries a CSRF token.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use time::macros::format_description;

use crate::csrf::{Browser, Purpose};
use crate::form::Fields;
use crate::i18n::Tr;
use crate::page::{
    FactorView, Page, PasskeyForm, Problem, RecoveryCodesPage, SecondFactorPage, SecurityPage,
    SeeOther, language, store_failure, user_label,
};
use crate::second_factor::enrolment_view;
use crate::session::Found;
use crate::state::LoginState;
use crate::token_client::{FactorInfo, TotpEnrolment};

const PAGE: &str = "/account/security";

/// The signed-in user's session, or the response that sends them to sign in (and back here).
async fn require_session(
    state: &LoginState,
    headers: &HeaderMap,
    t: Tr,
) -> Result<Found, Response> {
    match state.sessions().load(headers).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("return", &state.path(PAGE))
                .finish();
            Err(SeeOther::to(format!("{}?{query}", state.path("/ui/login"))).into_response())
        }
        Err(e) => Err(state.failure_page(t, &store_failure(e)).into_response()),
    }
}

/// For a form: the session and the browser whose CSRF token the form carries.
async fn form_session(
    state: &LoginState,
    headers: &HeaderMap,
    form: &Fields,
    t: Tr,
) -> Result<(Found, Browser), Response> {
    let Some(browser) = state.existing_browser(headers).filter(|b| {
        state
            .csrf()
            .verify(Some(b), Purpose::Security, form.get("csrf_token"))
    }) else {
        return Err(state.error_page(t, Problem::Csrf, None).into_response());
    };
    let found = require_session(state, headers, t).await?;
    Ok((found, browser))
}

fn date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|d| d.format(format_description!("[year]-[month]-[day]")).ok())
        .unwrap_or_default()
}

fn factor_view(factor: &FactorInfo, t: Tr) -> FactorView {
    let passkey = factor.kind == "passkey";
    let name = if !factor.label.is_empty() {
        factor.label.clone()
    } else if passkey {
        t.get("security.default_passkey_name").to_owned()
    } else {
        t.get("security.default_name").to_owned()
    };
    FactorView {
        id: factor.id.clone(),
        kind: t
            .get(if passkey {
                "security.kind_passkey"
            } else {
                "security.kind_totp"
            })
            .to_owned(),
        added: t.with("security.added_on", "date", &date(factor.created_at)),
        remove_label: t.with("security.remove_label", "name", &name),
        name,
    }
}

pub async fn show(
    State(state): State<LoginState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = Fields::query(query.as_deref());
    let t = language(query.get("ui_locales"), &headers);
    let found = match require_session(&state, &headers, t).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let subject = &found.session.subject;
    let user = match crate::account::session_user(&state, &found, t).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let (factors, recovery_codes_left) = match state.token().list_factors(subject).await {
        Ok(listed) => listed,
        Err(e) => return state.failure_page(t, &e).into_response(),
    };
    let notice = match query.get("done") {
        Some("added") => Some(t.get("security.added").to_owned()),
        Some("removed") => Some(t.get("security.removed").to_owned()),
        Some("passkey_added") => Some(t.get("security.passkey_added").to_owned()),
        _ => None,
    };
    let problem = (query.get("done") == Some("passkey_failed"))
        .then(|| t.get("security.passkey_failed").to_owned());
    // Without passkeys (an issuer on an IP address) or when the start fails, the page is the
    // same minus the passkey form.
    let passkey = match state.token().begin_passkey_registration(subject).await {
        Ok(ceremony) => ceremony.map(PasskeyForm::from),
        Err(e) => {
            tracing::warn!(error = %e, "starting a passkey registration failed");
            None
        }
    };
    let mut csp = state.base_csp();
    if passkey.is_some() {
        csp = csp.with_own_scripts();
    }
    let browser = state.browser(&headers);
    Page::render(
        StatusCode::OK,
        &SecurityPage {
            page: state.chrome(t),
            user_label: user_label(user.name.as_deref(), &user.username),
            factors: factors.iter().map(|f| factor_view(f, t)).collect(),
            recovery_codes_left,
            csrf: state.csrf().token(&browser, Purpose::Security),
            notice,
            problem,
            passkey,
        },
    )
    .csp(csp)
    .cookie(browser.set_cookie(state.cookies()))
    .into_response()
}

fn enrol_page(
    state: &LoginState,
    t: Tr,
    browser: &Browser,
    enrolment: &TotpEnrolment,
    error: Option<String>,
) -> Response {
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    Page::render(
        status,
        &SecondFactorPage {
            page: state.chrome(t),
            heading: t.get("security.add").to_owned(),
            intro: t.get("mfa.enrol_intro_account").to_owned(),
            enrolment: enrolment_view(enrolment),
            action: format!("{PAGE}/totp/confirm"),
            hidden: vec![("factor_id".into(), enrolment.factor_id.clone())],
            csrf: state.csrf().token(browser, Purpose::Security),
            code_label: t.get("mfa.enrol_code").to_owned(),
            code_hint: t.get("mfa.enrol_code_hint").to_owned(),
            numeric: true,
            error,
            cancel_href: Some(state.path(PAGE)),
            passkey: None,
        },
    )
    .csp(state.base_csp())
    .into_response()
}

/// `POST /account/security/totp`: a new secret, its QR code and the form for its first code.
pub async fn begin(State(state): State<LoginState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = Fields::parse(&body);
    let t = language(None, &headers);
    let (found, browser) = match form_session(&state, &headers, &form, t).await {
        Ok(pair) => pair,
        Err(response) => return response,
    };
    match state
        .token()
        .begin_totp_enrolment(
            &found.session.subject,
            "",
            &state.config().branding.product_name,
            None,
        )
        .await
    {
        Ok(enrolment) => enrol_page(&state, t, &browser, &enrolment, None),
        Err(e) => state.failure_page(t, &e).into_response(),
    }
}

/// `POST /account/security/totp/confirm`: the first code; then the recovery codes when this is
/// the user's first factor.
pub async fn confirm(State(state): State<LoginState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = Fields::parse(&body);
    let t = language(None, &headers);
    let (found, browser) = match form_session(&state, &headers, &form, t).await {
        Ok(pair) => pair,
        Err(response) => return response,
    };
    let subject = &found.session.subject;
    let factor_id = form.get("factor_id").unwrap_or_default();
    let code = form
        .secret("code")
        .filter(|c| !c.expose().trim().is_empty() && c.expose().len() <= 64);
    let confirmed = match code {
        Some(code) if !factor_id.is_empty() => {
            match state
                .token()
                .confirm_totp_enrolment(subject, factor_id, &code)
                .await
            {
                Ok(confirmed) => confirmed,
                Err(e) => return state.failure_page(t, &e).into_response(),
            }
        }
        _ => None,
    };
    let Some(codes) = confirmed else {
        // The same secret again, so an app that already scanned it keeps working.
        return match state
            .token()
            .begin_totp_enrolment(
                subject,
                "",
                &state.config().branding.product_name,
                Some(factor_id).filter(|id| !id.is_empty()),
            )
            .await
        {
            Ok(enrolment) => enrol_page(
                &state,
                t,
                &browser,
                &enrolment,
                Some(t.get("mfa.error_enrol").to_owned()),
            ),
            Err(e) => state.failure_page(t, &e).into_response(),
        };
    };
    tracing::info!(subject = %subject, "a second factor was enrolled");
    if codes.is_empty() {
        return SeeOther::to(format!("{}?done=added", state.path(PAGE))).into_response();
    }
    recovery_page(
        &state,
        t,
        codes.iter().map(|c| c.expose().to_owned()).collect(),
    )
}

fn recovery_page(state: &LoginState, t: Tr, codes: Vec<String>) -> Response {
    Page::render(
        StatusCode::OK,
        &RecoveryCodesPage {
            page: state.chrome(t),
            codes,
            action: None,
            hidden: Vec::new(),
            csrf: String::new(),
            continue_href: state.path(PAGE),
        },
    )
    .csp(state.base_csp())
    .into_response()
}

/// `POST /account/security/passkeys`: the browser's answer to the registration the page
/// started; then the recovery codes when this is the user's first factor.
pub async fn add_passkey(
    State(state): State<LoginState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Fields::parse(&body);
    let t = language(None, &headers);
    let (found, _) = match form_session(&state, &headers, &form, t).await {
        Ok(pair) => pair,
        Err(response) => return response,
    };
    let subject = &found.session.subject;
    let ceremony = form.get("ceremony").unwrap_or_default();
    let credential = form.get("credential").unwrap_or_default();
    let label: String = form
        .get("label")
        .unwrap_or_default()
        .trim()
        .chars()
        .take(crate::security::MAX_LABEL_CHARS)
        .collect();
    let failed =
        || SeeOther::to(format!("{}?done=passkey_failed", state.path(PAGE))).into_response();
    if ceremony.is_empty() || credential.is_empty() {
        return failed();
    }
    match state
        .token()
        .finish_passkey_registration(subject, ceremony, &label, credential)
        .await
    {
        Ok(Some(codes)) if codes.is_empty() => {
            tracing::info!(subject = %subject, "a passkey was registered");
            SeeOther::to(format!("{}?done=passkey_added", state.path(PAGE))).into_response()
        }
        Ok(Some(codes)) => {
            tracing::info!(subject = %subject, "a passkey was registered as the first factor");
            recovery_page(
                &state,
                t,
                codes.iter().map(|c| c.expose().to_owned()).collect(),
            )
        }
        Ok(None) => failed(),
        Err(e) => state.failure_page(t, &e).into_response(),
    }
}

/// Longest passkey label kept, in characters (the token service refuses longer ones).
pub(crate) const MAX_LABEL_CHARS: usize = 64;

/// `POST /account/security/remove`: removes one of the user's factors.
pub async fn remove(State(state): State<LoginState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = Fields::parse(&body);
    let t = language(None, &headers);
    let (found, _) = match form_session(&state, &headers, &form, t).await {
        Ok(pair) => pair,
        Err(response) => return response,
    };
    let factor_id = form.get("factor_id").unwrap_or_default();
    if factor_id.is_empty() {
        return state
            .error_page(t, Problem::BadRequest, None)
            .into_response();
    }
    match state
        .token()
        .remove_factor(&found.session.subject, factor_id)
        .await
    {
        Ok(_) => SeeOther::to(format!("{}?done=removed", state.path(PAGE))).into_response(),
        Err(e) => state.failure_page(t, &e).into_response(),
    }
}

/// `POST /account/security/recovery-codes`: new recovery codes, shown once.
pub async fn recovery_codes(
    State(state): State<LoginState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Fields::parse(&body);
    let t = language(None, &headers);
    let (found, _) = match form_session(&state, &headers, &form, t).await {
        Ok(pair) => pair,
        Err(response) => return response,
    };
    match state
        .token()
        .regenerate_recovery_codes(&found.session.subject)
        .await
    {
        Ok(codes) => recovery_page(
            &state,
            t,
            codes.iter().map(|c| c.expose().to_owned()).collect(),
        ),
        Err(e) => state.failure_page(t, &e).into_response(),
    }
}
