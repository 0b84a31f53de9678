//! The second step of a sign-in (`GET|POST /ui/login/second-factor`, `POST
//! /ui/login/second-factor/continue`): a TOTP code, a recovery code or a passkey after the
//! password, or, for a user without a factor where one is required, enrolment (QR code, first
//! code, recovery codes). A user with a passkey gets a "Use a passkey" form too: the page starts
//! an assertion for their passkeys, `passkey.js` answers it, and the answer is posted here.
//!
//! Nothing is signed in until this step is done: the password step leaves only a pending sign-in
//! ([`PendingSignIn`]) behind a random id, bound to the browser that gave the password, and
//! taken once when the sign-in completes. The challenge stays unauthenticated meanwhile, so the
//! consent page cannot be reached around this step. Wrong codes count toward the same
//! failed-login limits as wrong passwords (the token service's `VerifySecondFactor`).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::factor::amr_for;
use gatehouse_core::secret::random_token;

use crate::authorize::{continue_after_login, with_cookie};
use crate::challenge::{Authenticated, PendingSignIn};
use crate::client_ip::ClientIp;
use crate::csrf::{Browser, Purpose};
use crate::form::Fields;
use crate::i18n::Tr;
use crate::login::find_challenge;
use crate::page::{
    EnrolmentView, Page, PasskeyForm, Problem, RecoveryCodesPage, SecondFactorPage, SeeOther,
    language, qr_svg, store_failure,
};
use crate::session::NewSession;
use crate::state::LoginState;
use crate::token_client::{PasskeySignIn, SecondFactor, TotpEnrolment};

const PAGE: &str = "/ui/login/second-factor";
const CONTINUE: &str = "/ui/login/second-factor/continue";

/// Leaves `pending` for the second step and sends the browser there.
pub(crate) async fn start(
    state: &LoginState,
    t: Tr,
    pending: &PendingSignIn,
    cookie: Option<HeaderValue>,
) -> Response {
    match state.challenges().create_pending(pending).await {
        Ok(id) => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("pending", &id)
                .finish();
            SeeOther::to(format!("{}?{query}", state.path(PAGE)))
                .cookie(cookie)
                .into_response()
        }
        Err(e) => state.failure_page(t, &store_failure(e)).into_response(),
    }
}

/// The language of the pending sign-in's request, if it has one.
async fn language_of(state: &LoginState, pending: &PendingSignIn, headers: &HeaderMap) -> Tr {
    let ui_locales = match &pending.challenge {
        Some(id) => state
            .challenges()
            .load_unbound(id)
            .await
            .ok()
            .flatten()
            .and_then(|c| c.request.ui_locales),
        None => None,
    };
    language(ui_locales.as_deref(), headers)
}

/// The product's name, as the authenticator app lists the account.
fn issuer_label(state: &LoginState) -> String {
    state.config().branding.product_name.clone()
}

/// An enrolment's QR code and secret for the page.
pub(crate) fn enrolment_view(enrolment: &TotpEnrolment) -> Option<EnrolmentView> {
    Some(EnrolmentView {
        qr_svg: qr_svg(enrolment.otpauth_uri.expose())?,
        secret: enrolment.secret.expose().to_owned(),
    })
}

struct Form<'a> {
    id: &'a str,
    pending: &'a PendingSignIn,
    enrolment: Option<EnrolmentView>,
    error: Option<String>,
    passkey: Option<PasskeyForm>,
    /// The user has passkeys only: the page leads with the passkey.
    passkeys_only: bool,
    /// The client's redirect URI, when finishing this step may lead straight there (a
    /// remembered consent): browsers apply `form-action` to the redirects after a form post.
    form_target: Option<String>,
}

/// The redirect URI of the pending sign-in's authorization request, if it has one.
async fn form_target(state: &LoginState, pending: &PendingSignIn) -> Option<String> {
    let id = pending.challenge.as_deref()?;
    state
        .challenges()
        .load_unbound(id)
        .await
        .ok()
        .flatten()
        .map(|c| c.request.redirect_uri.as_str().to_owned())
}

/// A passkey assertion for the pending user's passkeys, when they have one and are not
/// enrolling; `None` otherwise, or when it cannot be started (the page then offers codes only).
/// With it, whether passkeys are all the user has (no authenticator app), so the page does not
/// ask for an app's code first.
async fn passkey_for(state: &LoginState, pending: &PendingSignIn) -> (Option<PasskeyForm>, bool) {
    if pending.enrol {
        return (None, false);
    }
    let form = match state
        .token()
        .begin_passkey_authentication(Some(&pending.subject))
        .await
    {
        Ok(ceremony) => ceremony.map(PasskeyForm::from),
        Err(e) => {
            tracing::warn!(error = %e, "starting a passkey assertion failed");
            None
        }
    };
    let passkeys_only = form.is_some()
        && state
            .token()
            .list_factors(&pending.subject)
            .await
            .is_ok_and(|(factors, _)| factors.iter().all(|f| f.kind == "passkey"));
    (form, passkeys_only)
}

fn page(state: &LoginState, t: Tr, browser: &Browser, form: Form<'_>, status: StatusCode) -> Page {
    let enrolling = form.pending.enrol;
    let key = |sign_in: &'static str, enrol: &'static str| {
        t.get(if enrolling { enrol } else { sign_in }).to_owned()
    };
    let mut csp = state.base_csp();
    if form.passkey.is_some() {
        csp = csp.with_own_scripts();
    }
    if let Some(target) = &form.form_target {
        csp = csp.with_form_target(target);
    }
    Page::render(
        status,
        &SecondFactorPage {
            page: state.chrome(t),
            heading: if form.passkeys_only {
                t.get("mfa.heading_passkey").to_owned()
            } else {
                key("mfa.heading", "mfa.enrol_heading")
            },
            intro: if form.passkeys_only {
                t.get("mfa.intro_passkey").to_owned()
            } else {
                key("mfa.intro", "mfa.enrol_intro")
            },
            enrolment: form.enrolment,
            action: PAGE.to_owned(),
            hidden: vec![("pending".into(), form.id.to_owned())],
            csrf: state.csrf().token(browser, Purpose::SecondFactor),
            code_label: key("mfa.code", "mfa.enrol_code"),
            code_hint: key("mfa.code_hint", "mfa.enrol_code_hint"),
            numeric: enrolling,
            error: form.error,
            cancel_href: None,
            passkey: form.passkey,
        },
    )
    .csp(csp)
}

/// The enrolment of `pending` to show: its factor again when it has one, else a new one (kept
/// in the pending sign-in).
async fn enrolment_for(
    state: &LoginState,
    id: &str,
    pending: &mut PendingSignIn,
) -> Result<TotpEnrolment, gatehouse_core::error::OAuthError> {
    let enrolment = state
        .token()
        .begin_totp_enrolment(
            &pending.subject,
            "",
            &issuer_label(state),
            pending.factor_id.as_deref(),
        )
        .await?;
    if pending.factor_id.as_deref() != Some(enrolment.factor_id.as_str()) {
        pending.factor_id = Some(enrolment.factor_id.clone());
        state
            .challenges()
            .save_pending(id, pending)
            .await
            .map_err(store_failure)?;
    }
    Ok(enrolment)
}

pub async fn show(
    State(state): State<LoginState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = Fields::query(query.as_deref());
    let id = query.get("pending").unwrap_or_default();
    let browser = state.existing_browser(&headers);
    let t = language(None, &headers);
    let mut pending = match state.challenges().load_pending(id, browser.as_ref()).await {
        Ok(Some(pending)) => pending,
        Ok(None) => return state.error_page(t, Problem::Expired, None).into_response(),
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    };
    let Some(browser) = browser else {
        return state.error_page(t, Problem::Expired, None).into_response();
    };
    let t = language_of(&state, &pending, &headers).await;
    if pending.verified {
        return recovery_page(
            &state,
            t,
            &browser,
            id,
            Vec::new(),
            form_target(&state, &pending).await,
        )
        .into_response();
    }
    let enrolment = if pending.enrol {
        match enrolment_for(&state, id, &mut pending).await {
            Ok(enrolment) => enrolment_view(&enrolment),
            Err(e) => return state.failure_page(t, &e).into_response(),
        }
    } else {
        None
    };
    let (passkey, passkeys_only) = passkey_for(&state, &pending).await;
    let form = Form {
        id,
        pending: &pending,
        enrolment,
        error: None,
        passkey,
        passkeys_only,
        form_target: form_target(&state, &pending).await,
    };
    page(&state, t, &browser, form, StatusCode::OK).into_response()
}

pub async fn submit(
    State(state): State<LoginState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Fields::parse(&body);
    let id = form.get("pending").unwrap_or_default().to_owned();
    let browser = state.existing_browser(&headers);
    let t = language(None, &headers);
    let Some(browser) = browser.filter(|b| {
        state
            .csrf()
            .verify(Some(b), Purpose::SecondFactor, form.get("csrf_token"))
    }) else {
        return state.error_page(t, Problem::Csrf, None).into_response();
    };
    let mut pending = match state.challenges().load_pending(&id, Some(&browser)).await {
        Ok(Some(pending)) => pending,
        Ok(None) => return state.error_page(t, Problem::Expired, None).into_response(),
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    };
    let t = language_of(&state, &pending, &headers).await;
    let code = form
        .secret("code")
        .filter(|c| !c.expose().trim().is_empty() && c.expose().len() <= 64);

    if pending.enrol {
        if pending.verified {
            return recovery_page(
                &state,
                t,
                &browser,
                &id,
                Vec::new(),
                form_target(&state, &pending).await,
            )
            .into_response();
        }
        let confirmed = match (code, pending.factor_id.clone()) {
            (Some(code), Some(factor_id)) => {
                match state
                    .token()
                    .confirm_totp_enrolment(&pending.subject, &factor_id, &code)
                    .await
                {
                    Ok(confirmed) => confirmed,
                    Err(e) => return state.failure_page(t, &e).into_response(),
                }
            }
            _ => None,
        };
        let Some(codes) = confirmed else {
            let enrolment = match enrolment_for(&state, &id, &mut pending).await {
                Ok(enrolment) => enrolment_view(&enrolment),
                Err(e) => return state.failure_page(t, &e).into_response(),
            };
            let form = Form {
                id: &id,
                pending: &pending,
                enrolment,
                error: Some(t.get("mfa.error_enrol").to_owned()),
                passkey: None,
                passkeys_only: false,
                form_target: form_target(&state, &pending).await,
            };
            return page(&state, t, &browser, form, StatusCode::UNAUTHORIZED).into_response();
        };
        pending.verified = true;
        if let Err(e) = state.challenges().save_pending(&id, &pending).await {
            return state.failure_page(t, &store_failure(e)).into_response();
        }
        tracing::info!(subject = %pending.subject, "a second factor was enrolled at sign-in");
        let codes = codes.iter().map(|c| c.expose().to_owned()).collect();
        let target = form_target(&state, &pending).await;
        return recovery_page(&state, t, &browser, &id, codes, target).into_response();
    }

    let again = async |error: String, status: StatusCode| {
        let (passkey, passkeys_only) = passkey_for(&state, &pending).await;
        let form = Form {
            id: &id,
            pending: &pending,
            enrolment: None,
            error: Some(error),
            passkey,
            passkeys_only,
            form_target: form_target(&state, &pending).await,
        };
        page(&state, t, &browser, form, status).into_response()
    };
    let passkey_answer = form
        .get("credential")
        .filter(|c| !c.is_empty())
        .zip(form.get("ceremony").filter(|c| !c.is_empty()));
    if let Some((credential, ceremony)) = passkey_answer {
        return match state
            .token()
            .finish_passkey_authentication(ceremony, Some(&pending.subject), credential, &ip)
            .await
        {
            Ok(PasskeySignIn::Accepted { user, amr }) if user.id == pending.subject => {
                match state.challenges().take_pending(&id, Some(&browser)).await {
                    Ok(Some(pending)) => {
                        complete(&state, t, &headers, &browser, &ip, pending, amr).await
                    }
                    Ok(None) => state.error_page(t, Problem::Expired, None).into_response(),
                    Err(e) => state.failure_page(t, &store_failure(e)).into_response(),
                }
            }
            Ok(PasskeySignIn::Accepted { .. } | PasskeySignIn::Refused { .. }) => {
                metrics::counter!("gatehouse_logins_total", "outcome" => "second_factor_failure")
                    .increment(1);
                tracing::info!("a passkey second-factor attempt failed");
                again(
                    t.get("mfa.error_passkey").to_owned(),
                    StatusCode::UNAUTHORIZED,
                )
                .await
            }
            Ok(PasskeySignIn::Locked { retry_after }) => {
                metrics::counter!("gatehouse_logins_total", "outcome" => "locked").increment(1);
                let mut page = again(
                    crate::login::locked_message(t, retry_after),
                    StatusCode::TOO_MANY_REQUESTS,
                )
                .await;
                page.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after.as_secs().max(1)),
                );
                page
            }
            Err(e) => state.failure_page(t, &e).into_response(),
        };
    }
    let Some(code) = code else {
        return again(
            t.get("mfa.error_invalid").to_owned(),
            StatusCode::UNAUTHORIZED,
        )
        .await;
    };
    match state
        .token()
        .verify_second_factor(&pending.subject, &code, &ip)
        .await
    {
        Ok(SecondFactor::Accepted { .. }) => {}
        Ok(SecondFactor::Refused { attempts_left }) => {
            metrics::counter!("gatehouse_logins_total", "outcome" => "second_factor_failure")
                .increment(1);
            tracing::info!("a second-factor attempt failed");
            let key = if attempts_left == Some(1) {
                "mfa.error_last_attempt"
            } else {
                "mfa.error_invalid"
            };
            return again(t.get(key).to_owned(), StatusCode::UNAUTHORIZED).await;
        }
        Ok(SecondFactor::Locked { retry_after }) => {
            metrics::counter!("gatehouse_logins_total", "outcome" => "locked").increment(1);
            let mut page = again(
                crate::login::locked_message(t, retry_after),
                StatusCode::TOO_MANY_REQUESTS,
            )
            .await;
            page.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after.as_secs().max(1)),
            );
            return page;
        }
        Err(e) => return state.failure_page(t, &e).into_response(),
    }
    match state.challenges().take_pending(&id, Some(&browser)).await {
        Ok(Some(pending)) => {
            complete(&state, t, &headers, &browser, &ip, pending, amr_for(true)).await
        }
        Ok(None) => state.error_page(t, Problem::Expired, None).into_response(),
        Err(e) => state.failure_page(t, &store_failure(e)).into_response(),
    }
}

/// `POST /ui/login/second-factor/continue`: after the recovery codes of an enrolment at
/// sign-in, the sign-in completes.
pub async fn continue_sign_in(
    State(state): State<LoginState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Fields::parse(&body);
    let id = form.get("pending").unwrap_or_default().to_owned();
    let t = language(None, &headers);
    let Some(browser) = state.existing_browser(&headers).filter(|b| {
        state
            .csrf()
            .verify(Some(b), Purpose::SecondFactor, form.get("csrf_token"))
    }) else {
        return state.error_page(t, Problem::Csrf, None).into_response();
    };
    match state.challenges().load_pending(&id, Some(&browser)).await {
        Ok(Some(pending)) if pending.verified => {}
        // Not verified: the code step comes first.
        Ok(Some(_)) => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("pending", &id)
                .finish();
            return SeeOther::to(format!("{}?{query}", state.path(PAGE))).into_response();
        }
        Ok(None) => return state.error_page(t, Problem::Expired, None).into_response(),
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    }
    match state.challenges().take_pending(&id, Some(&browser)).await {
        Ok(Some(pending)) if pending.verified => {
            let t = language_of(&state, &pending, &headers).await;
            complete(&state, t, &headers, &browser, &ip, pending, amr_for(true)).await
        }
        Ok(_) => state.error_page(t, Problem::Expired, None).into_response(),
        Err(e) => state.failure_page(t, &store_failure(e)).into_response(),
    }
}

fn recovery_page(
    state: &LoginState,
    t: Tr,
    browser: &Browser,
    id: &str,
    codes: Vec<String>,
    form_target: Option<String>,
) -> Page {
    let mut csp = state.base_csp();
    if let Some(target) = &form_target {
        csp = csp.with_form_target(target);
    }
    Page::render(
        StatusCode::OK,
        &RecoveryCodesPage {
            page: state.chrome(t),
            codes,
            action: Some(CONTINUE.to_owned()),
            hidden: vec![("pending".into(), id.to_owned())],
            csrf: state.csrf().token(browser, Purpose::SecondFactor),
            continue_href: state.path("/account"),
        },
    )
    .csp(csp)
}

/// The sign-in is complete: a new session that records its methods `amr` (the browser's old
/// one ends), then on to the authorization request or the page the user came from. Also the end
/// of a sign-in with a passkey alone (`login::passkey`).
pub(crate) async fn complete(
    state: &LoginState,
    t: Tr,
    headers: &HeaderMap,
    browser: &Browser,
    ip: &str,
    pending: PendingSignIn,
    amr: Vec<String>,
) -> Response {
    let sessions = state.sessions();
    let sign_in = NewSession {
        subject: &pending.subject,
        auth_time: state.now(),
        remembered: pending.remember.then_some(sessions.ttl),
        sid: pending.sid.clone().unwrap_or_else(|| random_token(16)),
        amr,
        ip,
    };
    let (session, cookie) = match sessions.start(headers, sign_in).await {
        Ok(created) => created,
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    };
    metrics::counter!("gatehouse_logins_total", "outcome" => "success").increment(1);
    tracing::info!(subject = %session.subject, "user signed in with a second factor");
    let response = match &pending.challenge {
        None => SeeOther::to(
            pending
                .return_to
                .clone()
                .unwrap_or_else(|| state.path("/account")),
        )
        .into_response(),
        Some(id) => match find_challenge(state, id, Some(browser), t).await {
            Ok(mut challenge) => {
                challenge.authenticated = Some(Authenticated {
                    subject: session.subject.clone(),
                    auth_time: session.auth_time,
                    sid: session.sid.clone(),
                    amr: session.methods(),
                });
                continue_after_login(state, t, id, challenge, &session.subject).await
            }
            Err(page) => page,
        },
    };
    with_cookie(response, cookie)
}
