//! The login page (`GET|POST /ui/login`).
//!
//! Wrong credentials answer the form again with status 401 and one generic message, the same
//! for an unknown user, a wrong password and a disabled user (the token service verifies an
//! unknown user against a dummy hash, so timing does not tell them apart either). The token
//! service counts failed attempts per username and per client IP (the one this UI trusts,
//! `client_ip.rs`); a locked attempt gets status 429 and is not checked at all. Success starts a
//! new login session.
//!
//! When the issuer can have passkeys, the page also offers "Sign in with a passkey" (a form that
//! `passkey.js` shows). Pressing it starts a discoverable assertion through
//! `POST /ui/login/passkey/options` (CSRF-checked; the page's own views start none, so a page
//! view costs no ceremony record and no extra round trip), and the browser's answer is finished by
//! `POST /ui/login/passkey`. A passkey asks for user
//! verification, so such a sign-in is multi-factor on its own (`amr` `hwk`/`swk`, `user`, `mfa`)
//! and needs no second step; a failed one counts toward the same limits as a wrong password.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;

use crate::authorize::{continue_after_login, with_cookie};
use crate::challenge::{Authenticated, Challenge, PendingSignIn};
use crate::client_ip::ClientIp;
use crate::csrf::{Browser, Purpose};
use crate::form::Fields;
use crate::i18n::Tr;
use crate::page::{LoginPage, Page, Problem, SeeOther, language, store_failure, user_label};
use crate::session::NewSession;
use crate::state::LoginState;
use crate::token_client::{PasskeySignIn, SignIn};

/// The challenge named by a page or form, if it belongs to this browser. `Err` is the page to
/// answer instead (expired, or the store failed).
pub(crate) async fn find_challenge(
    state: &LoginState,
    id: &str,
    browser: Option<&Browser>,
    t: Tr,
) -> Result<Challenge, Response> {
    match state.challenges().load(id, browser).await {
        Ok(Some(challenge)) => Ok(challenge),
        Ok(None) => Err(state.expired_page(t, id, browser).await.into_response()),
        Err(e) => Err(state.failure_page(t, &store_failure(e)).into_response()),
    }
}

pub async fn show(
    State(state): State<LoginState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = Fields::query(query.as_deref());
    let browser = state.browser(&headers);
    let challenge = match query.get("challenge") {
        Some(id) => {
            let t = language(None, &headers);
            match find_challenge(&state, id, Some(&browser), t).await {
                Ok(c) => Some((id.to_owned(), c)),
                Err(page) => return page,
            }
        }
        None => None,
    };
    let ui_locales = challenge
        .as_ref()
        .and_then(|(_, c)| c.request.ui_locales.as_deref())
        .or(query.get("ui_locales"));
    let t = language(ui_locales, &headers);
    let hinted = match challenge.as_ref() {
        Some((_, c)) => match hinted_account(&state, &headers, c).await {
            Ok(hinted) => hinted,
            Err(e) => return state.failure_page(t, &e).into_response(),
        },
        None => HintedAccount::default(),
    };
    let return_to = query
        .get("return")
        .filter(|_| challenge.is_none())
        .and_then(|v| crate::portal::return_path(&state.config().base_path, v));
    let form = LoginForm {
        challenge: challenge.as_ref(),
        return_to,
        username: hinted
            .username
            .or_else(|| {
                challenge
                    .as_ref()
                    .and_then(|(_, c)| c.request.login_hint.clone())
            })
            .unwrap_or_default(),
        remember: false,
        error: None,
        signed_in_as_other: hinted.signed_in_as_other,
        notice: (query.get("notice") == Some("password_changed"))
            .then(|| t.get("recovery.password_changed_notice").to_owned()),
    };
    form.page(&state, t, &browser, StatusCode::OK)
        .await
        .cookie(browser.set_cookie(state.cookies()))
        .into_response()
}

/// Longest username or password the form accepts, in characters (the admin API's password limit);
/// longer ones are refused before anything is sent to the token service.
pub const MAX_FIELD_CHARS: usize = 1024;

/// What the login page says when the request's `id_token_hint` names a user (OpenID Connect
/// Core §3.1.2.1): that user's username, prefilled, and who else is signed in, if anyone.
#[derive(Default)]
struct HintedAccount {
    username: Option<String>,
    signed_in_as_other: Option<String>,
}

async fn hinted_account(
    state: &LoginState,
    headers: &HeaderMap,
    challenge: &Challenge,
) -> Result<HintedAccount, gatehouse_core::error::OAuthError> {
    let Some(hinted) = &challenge.request.hinted_subject else {
        return Ok(HintedAccount::default());
    };
    let username = state.token().user(hinted).await?.map(|u| u.username);
    let session = state
        .sessions()
        .load(headers)
        .await
        .map_err(store_failure)?;
    let signed_in_as_other = match session {
        Some(found) if found.session.subject != *hinted => state
            .token()
            .user(&found.session.subject)
            .await?
            .map(|u| user_label(u.name.as_deref(), &u.username)),
        _ => None,
    };
    Ok(HintedAccount {
        username,
        signed_in_as_other,
    })
}

struct LoginForm<'a> {
    challenge: Option<&'a (String, Challenge)>,
    /// A portal page to return to after signing in (no challenge).
    return_to: Option<String>,
    username: String,
    remember: bool,
    /// The message shown above the form, already translated.
    error: Option<String>,
    signed_in_as_other: Option<String>,
    /// A confirmation shown above the form, already translated.
    notice: Option<String>,
}

impl LoginForm<'_> {
    async fn page(&self, state: &LoginState, t: Tr, browser: &Browser, status: StatusCode) -> Page {
        let settings = state.account_settings().await;
        let with_challenge = |path: &str| match self.challenge {
            Some((id, _)) => format!("{}?challenge={id}", state.path(path)),
            None => state.path(path),
        };
        let forgot_href = settings
            .mail_enabled
            .then(|| with_challenge("/ui/forgot-password"));
        // Not on the portal's sign-in: partner accounts are created by operators.
        let register_href = (settings.self_registration && self.return_to.is_none())
            .then(|| with_challenge("/ui/register"));
        let client_name = self.challenge.map(|(_, c)| c.client.name.clone());
        let heading = match &client_name {
            Some(name) => t.with("login.heading_client", "client", name),
            None => t.get("login.heading_account").to_owned(),
        };
        let passkey_options_href = settings
            .passkeys
            .then(|| state.path("/ui/login/passkey/options"));
        let mut csp = state.base_csp();
        if passkey_options_href.is_some() {
            // The script, and its request for the ceremony's options.
            csp = csp.with_own_scripts().with_own_requests();
        }
        if let Some((_, c)) = self.challenge {
            // Signing in may send the user straight back to the client.
            csp = csp.with_form_target(&c.request.redirect_uri);
        }
        let mut chrome = state.chrome(t);
        // Answered to a POST too (a failed sign-in): the switcher leads back to the GET form.
        let form = match (self.challenge, &self.return_to) {
            (Some((id, _)), _) => format!("{}?challenge={id}", state.path("/ui/login")),
            (None, Some(back)) => {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("return", back)
                    .finish();
                format!("{}?{query}", state.path("/ui/login"))
            }
            (None, None) => state.path("/ui/login"),
        };
        chrome.languages = state.language_links(t, &form);
        Page::render(
            status,
            &LoginPage {
                page: chrome,
                heading,
                client_name,
                challenge: self.challenge.map(|(id, _)| id.clone()),
                return_to: self.return_to.clone(),
                csrf: state.csrf().token(browser, Purpose::Login),
                username: self.username.clone(),
                error: self.error.clone(),
                remember: self.remember,
                signed_in_as_other: self
                    .signed_in_as_other
                    .as_deref()
                    .map(|user| t.with("login.signed_in_as_other", "user", user)),
                forgot_href,
                register_href,
                notice: self.notice.clone(),
                passkey_options_href,
            },
        )
        .csp(csp)
    }
}

pub async fn submit(
    State(state): State<LoginState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Fields::parse(&body);
    let browser = state.existing_browser(&headers);
    let challenge = match form.get("challenge") {
        Some(id) => {
            let t = language(None, &headers);
            match find_challenge(&state, id, browser.as_ref(), t).await {
                Ok(c) => Some((id.to_owned(), c)),
                Err(page) => return page,
            }
        }
        None => None,
    };
    let t = language(
        challenge
            .as_ref()
            .and_then(|(_, c)| c.request.ui_locales.as_deref()),
        &headers,
    );
    let Some(browser) = browser.filter(|b| {
        state
            .csrf()
            .verify(Some(b), Purpose::Login, form.get("csrf_token"))
    }) else {
        return state.error_page(t, Problem::Csrf, None).into_response();
    };

    let return_to = form
        .get("return")
        .filter(|_| challenge.is_none())
        .and_then(|v| crate::portal::return_path(&state.config().base_path, v));
    let username = form.get("username").unwrap_or_default().trim().to_owned();
    let remember = form.flag("remember");
    let too_long = |v: &str| v.len() > MAX_FIELD_CHARS && v.chars().count() > MAX_FIELD_CHARS;
    if too_long(&username) || form.get("password").is_some_and(too_long) {
        // Refused here, before the password is hashed or a message is sent; never echoed.
        return LoginForm {
            challenge: challenge.as_ref(),
            return_to: return_to.clone(),
            username: String::new(),
            remember,
            error: Some(t.get("login.error_too_long").to_owned()),
            signed_in_as_other: None,
            notice: None,
        }
        .page(&state, t, &browser, StatusCode::BAD_REQUEST)
        .await
        .into_response();
    }
    let again = async |status: StatusCode, error: String| {
        LoginForm {
            challenge: challenge.as_ref(),
            return_to: return_to.clone(),
            username: username.clone(),
            remember,
            error: Some(error),
            signed_in_as_other: None,
            notice: None,
        }
        .page(&state, t, &browser, status)
        .await
        .into_response()
    };
    let Some(password) = form.secret("password").filter(|_| !username.is_empty()) else {
        return again(
            StatusCode::UNAUTHORIZED,
            t.get("login.error_invalid").to_owned(),
        )
        .await;
    };

    let (user, needs) = match state
        .token()
        .authenticate_user(&username, &password, &ip)
        .await
    {
        Ok(SignIn::Authenticated(user, needs)) => (user, needs),
        Ok(SignIn::Locked { retry_after }) => {
            metrics::counter!("gatehouse_logins_total", "outcome" => "locked").increment(1);
            let mut page = again(
                StatusCode::TOO_MANY_REQUESTS,
                locked_message(t, retry_after),
            )
            .await;
            // RFC 9110 §10.2.3: whole seconds.
            page.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after.as_secs().max(1)),
            );
            return page;
        }
        Ok(SignIn::Refused {
            attempts_left,
            disabled,
        }) => {
            metrics::counter!("gatehouse_logins_total", "outcome" => "failure").increment(1);
            tracing::info!("a login attempt failed");
            let message = if disabled && state.config().reveal_disabled {
                t.get("login.error_disabled")
            } else if attempts_left == Some(1) {
                t.get("login.error_last_attempt")
            } else {
                t.get("login.error_invalid")
            };
            return again(StatusCode::UNAUTHORIZED, message.to_owned()).await;
        }
        Err(e) => return state.failure_page(t, &e).into_response(),
    };
    // OpenID Connect Core §3.1.2.1: a request whose id_token_hint names a user is answered for
    // that user or not at all.
    if let Some((_, c)) = &challenge
        && c.request
            .hinted_subject
            .as_ref()
            .is_some_and(|hinted| *hinted != user.id)
    {
        return again(
            StatusCode::FORBIDDEN,
            t.get("login.error_other_account").to_owned(),
        )
        .await;
    }

    // A user with a second factor, or one who must have one, is not signed in yet: the second
    // step comes first, and until it is done neither a session nor the challenge says so.
    let mfa_required = needs.mfa_required
        || challenge
            .as_ref()
            .is_some_and(|(_, c)| c.request.mfa_required);
    if needs.second_factor || mfa_required {
        let pending = PendingSignIn {
            subject: user.id.clone(),
            browser: state.challenges().browser_hash(&browser),
            remember,
            challenge: challenge.as_ref().map(|(id, _)| id.clone()),
            return_to,
            enrol: !needs.second_factor,
            factor_id: None,
            verified: false,
            sid: None,
        };
        tracing::info!(subject = %user.id, "password accepted; a second factor is needed");
        return crate::second_factor::start(&state, t, &pending, None).await;
    }

    // A new login always gets a new session (no fixation); the browser's old one ends.
    let sessions = state.sessions();
    let sign_in = NewSession {
        subject: &user.id,
        auth_time: state.now(),
        remembered: remember.then_some(sessions.ttl),
        sid: gatehouse_core::secret::random_token(16),
        amr: gatehouse_core::factor::amr_for(false),
        ip: &ip,
    };
    let (session, cookie) = match sessions.start(&headers, sign_in).await {
        Ok(created) => created,
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    };
    metrics::counter!("gatehouse_logins_total", "outcome" => "success").increment(1);
    tracing::info!(subject = %user.id, "user signed in");

    let response = match challenge {
        None => SeeOther::to(return_to.unwrap_or_else(|| state.path("/account"))).into_response(),
        Some((id, mut challenge)) => {
            challenge.authenticated = Some(Authenticated {
                subject: session.subject.clone(),
                auth_time: session.auth_time,
                sid: session.sid.clone(),
                amr: session.methods(),
            });
            continue_after_login(&state, t, &id, challenge, &session.subject).await
        }
    };
    with_cookie(response, cookie)
}

/// `POST /ui/login/passkey/options`: starts a discoverable passkey sign-in when the login page's
/// "Sign in with a passkey" is pressed, and answers `{"ceremony": id, "options": {…}}` for
/// `passkey.js`. Checked as the page's forms are (its CSRF token, bound to this browser): 403
/// without it; 404 when passkeys are off, 503 when the token service cannot start one.
pub async fn passkey_options(
    State(state): State<LoginState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Fields::parse(&body);
    let trusted = state.existing_browser(&headers).is_some_and(|b| {
        state
            .csrf()
            .verify(Some(&b), Purpose::Login, form.get("csrf_token"))
    });
    if !trusted {
        return (StatusCode::FORBIDDEN, Json(json!({ "error": "csrf" }))).into_response();
    }
    let unavailable = || {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": "temporarily_unavailable" })),
        )
            .into_response()
    };
    match state.token().begin_passkey_authentication(None).await {
        Ok(Some(ceremony)) => {
            match serde_json::from_str::<serde_json::Value>(&ceremony.options_json) {
                Ok(options) => {
                    Json(json!({ "ceremony": ceremony.ceremony_id, "options": options }))
                        .into_response()
                }
                Err(e) => {
                    tracing::error!(error = %e, "the token service's passkey options are not JSON");
                    unavailable()
                }
            }
        }
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "passkeys_off" })),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "starting a passkey sign-in failed");
            unavailable()
        }
    }
}

/// `POST /ui/login/passkey`: the browser's answer to the passkey sign-in the login page started.
/// The passkey names the user; the sign-in then continues the authorization request (or goes
/// to the portal page) as a password sign-in does.
pub async fn passkey(
    State(state): State<LoginState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Fields::parse(&body);
    let browser = state.existing_browser(&headers);
    let challenge = match form.get("challenge") {
        Some(id) => {
            let t = language(None, &headers);
            match find_challenge(&state, id, browser.as_ref(), t).await {
                Ok(c) => Some((id.to_owned(), c)),
                Err(page) => return page,
            }
        }
        None => None,
    };
    let t = language(
        challenge
            .as_ref()
            .and_then(|(_, c)| c.request.ui_locales.as_deref()),
        &headers,
    );
    let Some(browser) = browser.filter(|b| {
        state
            .csrf()
            .verify(Some(b), Purpose::Login, form.get("csrf_token"))
    }) else {
        return state.error_page(t, Problem::Csrf, None).into_response();
    };
    let return_to = form
        .get("return")
        .filter(|_| challenge.is_none())
        .and_then(|v| crate::portal::return_path(&state.config().base_path, v));
    let again = async |status: StatusCode, error: String| {
        LoginForm {
            challenge: challenge.as_ref(),
            return_to: return_to.clone(),
            username: String::new(),
            remember: false,
            error: Some(error),
            signed_in_as_other: None,
            notice: None,
        }
        .page(&state, t, &browser, status)
        .await
        .into_response()
    };
    let ceremony = form.get("ceremony").unwrap_or_default();
    let credential = form.get("credential").unwrap_or_default();
    if ceremony.is_empty() || credential.is_empty() {
        return again(
            StatusCode::UNAUTHORIZED,
            t.get("login.error_passkey").to_owned(),
        )
        .await;
    }
    let (user, amr) = match state
        .token()
        .finish_passkey_authentication(ceremony, None, credential, &ip)
        .await
    {
        Ok(PasskeySignIn::Accepted { user, amr }) => (user, amr),
        Ok(PasskeySignIn::Refused { .. }) => {
            metrics::counter!("gatehouse_logins_total", "outcome" => "failure").increment(1);
            tracing::info!("a passkey sign-in failed");
            return again(
                StatusCode::UNAUTHORIZED,
                t.get("login.error_passkey").to_owned(),
            )
            .await;
        }
        Ok(PasskeySignIn::Locked { retry_after }) => {
            metrics::counter!("gatehouse_logins_total", "outcome" => "locked").increment(1);
            let mut page = again(
                StatusCode::TOO_MANY_REQUESTS,
                locked_message(t, retry_after),
            )
            .await;
            page.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after.as_secs().max(1)),
            );
            return page;
        }
        Err(e) => return state.failure_page(t, &e).into_response(),
    };
    if let Some((_, c)) = &challenge
        && c.request
            .hinted_subject
            .as_ref()
            .is_some_and(|hinted| *hinted != user.id)
    {
        return again(
            StatusCode::FORBIDDEN,
            t.get("login.error_other_account").to_owned(),
        )
        .await;
    }
    tracing::info!(subject = %user.id, "passkey accepted");
    let pending = PendingSignIn {
        subject: user.id.clone(),
        browser: state.challenges().browser_hash(&browser),
        remember: false,
        challenge: challenge.as_ref().map(|(id, _)| id.clone()),
        return_to,
        enrol: false,
        factor_id: None,
        verified: true,
        sid: None,
    };
    crate::second_factor::complete(&state, t, &headers, &browser, &ip, pending, amr).await
}

/// "Try again in N minutes", rounded up so the user never comes back too early.
pub(crate) fn locked_message(t: Tr, retry_after: std::time::Duration) -> String {
    let minutes = retry_after.as_secs().div_ceil(60).max(1);
    if minutes == 1 {
        t.get("login.error_locked_one_minute").to_owned()
    } else {
        t.with("login.error_locked", "minutes", &minutes.to_string())
    }
}
