//! The account's sign-in security (`GET /account/security`): the signed-in user's authenticator
//! apps (TOTP), adding one (`POST /account/security/totp`: QR code and key, then
//! `POST /account/security/totp/confirm` with its first code; the first factor's recovery codes
//! are shown once), removing one (`POST /account/security/remove`) and new recovery codes
//! (`POST /account/security/recovery-codes`, shown once), and passkeys: the page starts a
//! registration each time it is shown (its options ride in the "Add a passkey" form, which
//! `passkey.js` shows and answers), finished by `POST /account/security/passkeys`. Every form
//! carries a CSRF token.
//!
//! A session is not proof of the second factor: whoever holds a stolen session cookie must not
//! turn it off. So once the user has a factor, every change to their factors (removing one,
//! adding another, new recovery codes) takes a current code of the app or a recovery code in
//! the same form, checked and spent like one at sign-in, wrong ones counted by the same
//! failed-login limits.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::macros::format_description;

use crate::client_ip::ClientIp;
use crate::csrf::{Browser, Purpose};
use crate::form::Fields;
use crate::i18n::Tr;
use crate::page::{
    FactorView, Page, PasskeyForm, Problem, RecoveryCodesPage, SecondFactorPage, SecurityPage,
    SeeOther, language, user_label,
};
use crate::second_factor::enrolment_view;
use crate::session::Found;
use crate::state::LoginState;
use crate::token_client::{FactorInfo, SecondFactor, TotpEnrolment};

const PAGE: &str = "/account/security";

/// The signed-in user's session, or the response that sends them to sign in (and back here).
async fn require_session(
    state: &LoginState,
    headers: &HeaderMap,
    t: Tr,
) -> Result<Found, Response> {
    crate::profile::require_session(state, headers, t, PAGE).await
}

/// For a form: the session and the browser whose CSRF token the form carries.
async fn form_session(
    state: &LoginState,
    headers: &HeaderMap,
    form: &Fields,
    t: Tr,
) -> Result<(Found, Browser), Response> {
    crate::profile::form_session(state, headers, form, t, Purpose::Security, PAGE).await
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
    let notice = match query.get("done") {
        Some("added") => Some(t.get("security.added").to_owned()),
        Some("removed") => Some(t.get("security.removed").to_owned()),
        Some("passkey_added") => Some(t.get("security.passkey_added").to_owned()),
        _ => None,
    };
    let error = (query.get("done") == Some("passkey_failed"))
        .then(|| t.get("security.passkey_failed").to_owned());
    let browser = state.browser(&headers);
    let shown = Shown {
        notice,
        error,
        status: StatusCode::OK,
    };
    security_page(&state, t, &found, &browser, shown).await
}

/// What the security page says besides the factors.
struct Shown {
    /// What just happened (`added`, `removed`).
    notice: Option<String>,
    /// Why a form was refused.
    error: Option<String>,
    status: StatusCode,
}

/// The security page of the signed-in user, with a notice or a form's error.
async fn security_page(
    state: &LoginState,
    t: Tr,
    found: &Found,
    browser: &Browser,
    shown: Shown,
) -> Response {
    let user = match crate::account::session_user(state, found, t).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let (factors, recovery_codes_left) =
        match state.token().list_factors(&found.session.subject).await {
            Ok(listed) => listed,
            Err(e) => return state.failure_page(t, &e).into_response(),
        };
    // Without passkeys (an issuer on an IP address) or when the start fails, the page is the
    // same minus the passkey form.
    let passkey = match state
        .token()
        .begin_passkey_registration(&found.session.subject)
        .await
    {
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
    Page::render(
        shown.status,
        &SecurityPage {
            page: state.chrome(t),
            user_label: user_label(user.name.as_deref(), &user.username),
            factors: factors.iter().map(|f| factor_view(f, t)).collect(),
            recovery_codes_left,
            csrf: state.csrf().token(browser, Purpose::Security),
            notice: shown.notice,
            error: shown.error,
            passkey,
        },
    )
    .csp(csp)
    .cookie(browser.set_cookie(state.cookies()))
    .into_response()
}

/// Why a change to the factors was refused, as the page says it.
enum Unproven {
    /// No code, or a wrong or spent one (401).
    Refused(String),
    /// Too many recent failures (429 with `Retry-After`).
    Locked(std::time::Duration),
    /// The token service failed: its page.
    Failed(Response),
}

/// Whether the form carries proof of the second factor: a current code of the user's app or
/// one of their recovery codes, spent here.
async fn prove(
    state: &LoginState,
    t: Tr,
    subject: &str,
    form: &Fields,
    client_ip: &str,
) -> Result<(), Unproven> {
    let code = form
        .secret("code")
        .filter(|c| !c.expose().trim().is_empty() && c.expose().len() <= 64);
    let Some(code) = code else {
        return Err(Unproven::Refused(
            t.get("security.error_no_code").to_owned(),
        ));
    };
    match state
        .token()
        .verify_second_factor(subject, &code, client_ip)
        .await
    {
        Ok(SecondFactor::Accepted { .. }) => Ok(()),
        Ok(SecondFactor::Refused { attempts_left }) => {
            tracing::info!(subject, "a second-factor proof on the security page failed");
            let key = if attempts_left == Some(1) {
                "mfa.error_last_attempt"
            } else {
                "mfa.error_invalid"
            };
            Err(Unproven::Refused(t.get(key).to_owned()))
        }
        Ok(SecondFactor::Locked { retry_after }) => Err(Unproven::Locked(retry_after)),
        Err(e) => Err(Unproven::Failed(state.failure_page(t, &e).into_response())),
    }
}

/// The security page again, saying why a change was refused.
async fn refused(
    state: &LoginState,
    t: Tr,
    found: &Found,
    browser: &Browser,
    why: Unproven,
) -> Response {
    let (message, status, retry_after) = match why {
        Unproven::Refused(message) => (message, StatusCode::UNAUTHORIZED, None),
        Unproven::Locked(retry_after) => (
            crate::login::locked_message(t, retry_after),
            StatusCode::TOO_MANY_REQUESTS,
            Some(retry_after),
        ),
        Unproven::Failed(response) => return response,
    };
    let shown = Shown {
        notice: None,
        error: Some(message),
        status,
    };
    let mut response = security_page(state, t, found, browser, shown).await;
    if let Some(retry_after) = retry_after {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after.as_secs().max(1)),
        );
    }
    response
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
/// A user who has a factor already proves it first: otherwise a stolen session could add the
/// thief's app and remove the owner's with its codes.
pub async fn begin(
    State(state): State<LoginState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Fields::parse(&body);
    let t = language(None, &headers);
    let (found, browser) = match form_session(&state, &headers, &form, t).await {
        Ok(pair) => pair,
        Err(response) => return response,
    };
    let has_factor = match state.token().list_factors(&found.session.subject).await {
        Ok((factors, _)) => !factors.is_empty(),
        Err(e) => return state.failure_page(t, &e).into_response(),
    };
    if has_factor && let Err(why) = prove(&state, t, &found.session.subject, &form, &ip).await {
        return refused(&state, t, &found, &browser, why).await;
    }
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
        let resume = Some(factor_id).filter(|id| !id.is_empty());
        let enrolment = match state
            .token()
            .begin_totp_enrolment(subject, "", &state.config().branding.product_name, resume)
            .await
        {
            Ok(enrolment) => enrolment,
            Err(e) => return state.failure_page(t, &e).into_response(),
        };
        // Not the enrolment the form named (none, or not one in progress): a new key, which a
        // user with a factor gets only with a proof, through `begin`.
        if resume != Some(enrolment.factor_id.as_str()) {
            let has_factor = match state.token().list_factors(subject).await {
                Ok((factors, _)) => !factors.is_empty(),
                Err(e) => return state.failure_page(t, &e).into_response(),
            };
            if has_factor {
                let why = Unproven::Refused(t.get("security.error_no_code").to_owned());
                return refused(&state, t, &found, &browser, why).await;
            }
        }
        return enrol_page(
            &state,
            t,
            &browser,
            &enrolment,
            Some(t.get("mfa.error_enrol").to_owned()),
        );
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
/// started; then the recovery codes when this is the user's first factor. A user who has a
/// factor already proves it first, as for adding an app.
pub async fn add_passkey(
    State(state): State<LoginState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Fields::parse(&body);
    let t = language(None, &headers);
    let (found, browser) = match form_session(&state, &headers, &form, t).await {
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
        .take(MAX_LABEL_CHARS)
        .collect();
    let failed =
        || SeeOther::to(format!("{}?done=passkey_failed", state.path(PAGE))).into_response();
    if ceremony.is_empty() || credential.is_empty() {
        return failed();
    }
    let has_factor = match state.token().list_factors(subject).await {
        Ok((factors, _)) => !factors.is_empty(),
        Err(e) => return state.failure_page(t, &e).into_response(),
    };
    if has_factor && let Err(why) = prove(&state, t, subject, &form, &ip).await {
        return refused(&state, t, &found, &browser, why).await;
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

/// `POST /account/security/remove`: removes one of the user's factors, with a code of the app
/// or a recovery code as proof.
pub async fn remove(
    State(state): State<LoginState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Fields::parse(&body);
    let t = language(None, &headers);
    let (found, browser) = match form_session(&state, &headers, &form, t).await {
        Ok(pair) => pair,
        Err(response) => return response,
    };
    let factor_id = form.get("factor_id").unwrap_or_default();
    if factor_id.is_empty() {
        return state
            .error_page(t, Problem::BadRequest, None)
            .into_response();
    }
    if let Err(why) = prove(&state, t, &found.session.subject, &form, &ip).await {
        return refused(&state, t, &found, &browser, why).await;
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

/// `POST /account/security/recovery-codes`: new recovery codes, shown once, with a code of the
/// app or a recovery code as proof (new codes would otherwise be a way around it).
pub async fn recovery_codes(
    State(state): State<LoginState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Fields::parse(&body);
    let t = language(None, &headers);
    let (found, browser) = match form_session(&state, &headers, &form, t).await {
        Ok(pair) => pair,
        Err(response) => return response,
    };
    if let Err(why) = prove(&state, t, &found.session.subject, &form, &ip).await {
        return refused(&state, t, &found, &browser, why).await;
    }
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
