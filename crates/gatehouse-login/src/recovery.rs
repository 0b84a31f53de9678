//! Getting back into an account: "Forgot password?" (`GET|POST /ui/forgot-password`), the
//! new-password page a mailed link opens (`GET|POST /ui/reset-password`), and the confirmation
//! of an email address (`GET|POST /ui/verify-email`).
//!
//! The token service mints, mails and checks the links (`gatehouse_token::accounts`); these
//! pages only ask. "Forgot password?" answers every request with the same page ("check your
//! inbox"), whether or not an account matched, so the page cannot be used to find accounts. A
//! mailed link's page is a form: following a link (a mail scanner does) changes nothing; the
//! POST does. An authorization request in progress when the user asked (its challenge) is
//! continued afterwards: the user signs in with the new password and goes on to the app.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use askama::Template;
use gatehouse_core::account_recovery::{MAX_PASSWORD_CHARS, WeakPassword};

use crate::client_ip::ClientIp;
use crate::csrf::{Browser, Purpose};
use crate::form::Fields;
use crate::i18n::Tr;
use crate::page::{Chrome, Page, Problem, SeeOther, language};
use crate::state::LoginState;
use crate::token_client::{AccountCallError, LinkPurpose, PasswordReset, Registration};

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPage {
    page: Chrome,
    mail_enabled: bool,
    csrf: String,
    challenge: Option<String>,
    login: String,
    error: Option<String>,
    back_href: String,
}

#[derive(Template)]
#[template(path = "notice.html")]
pub(crate) struct NoticePage {
    pub page: Chrome,
    pub title: String,
    /// The id of the first paragraph (and, with `-action`, of the button).
    pub id: &'static str,
    pub paragraphs: Vec<String>,
    pub action: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "reset_password.html")]
struct ResetPage {
    page: Chrome,
    csrf: String,
    token: String,
    username: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "verify_email.html")]
struct VerifyPage {
    page: Chrome,
    csrf: String,
    token: String,
    username: String,
}

/// A link token as the pages accept it: the token service mints base64url values of 43
/// characters; anything else is not one of its links and is not sent on.
fn plausible_token(token: &str) -> bool {
    (32..=128).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A challenge id as it may travel in these pages' links and forms (it is only ever used to
/// build a link back to the login page, which checks it).
fn plausible_challenge(id: &str) -> Option<String> {
    plausible_token(id).then(|| id.to_owned())
}

impl LoginState {
    fn login_href(&self, challenge: Option<&str>) -> String {
        match challenge {
            Some(id) => format!("{}?challenge={id}", self.path("/ui/login")),
            None => self.path("/ui/login"),
        }
    }

    fn forgot_page(
        &self,
        t: Tr,
        browser: &Browser,
        form: ForgotForm,
        status: StatusCode,
    ) -> Response {
        let mail_enabled = form.mail_enabled;
        Page::render(
            status,
            &ForgotPage {
                page: self.chrome(t),
                mail_enabled,
                csrf: self.csrf().token(browser, Purpose::ForgotPassword),
                back_href: self.login_href(form.challenge.as_deref()),
                challenge: form.challenge,
                login: form.login,
                error: form.error,
            },
        )
        .cookie(browser.set_cookie(self.cookies()))
        .into_response()
    }

    fn notice(
        &self,
        t: Tr,
        status: StatusCode,
        title: &str,
        id: &'static str,
        paragraphs: Vec<String>,
        action: Option<(String, String)>,
    ) -> Response {
        Page::render(
            status,
            &NoticePage {
                page: self.chrome(t),
                title: title.to_owned(),
                id,
                paragraphs,
                action,
            },
        )
        .into_response()
    }

    /// The page for a link that is used, expired or unknown, with the way to a new one.
    fn dead_link_page(&self, t: Tr, challenge: Option<&str>) -> Response {
        let forgot = match challenge {
            Some(id) => format!("{}?challenge={id}", self.path("/ui/forgot-password")),
            None => self.path("/ui/forgot-password"),
        };
        self.notice(
            t,
            StatusCode::GONE,
            t.get("recovery.dead_title"),
            "dead-link",
            vec![t.get("recovery.dead_text").to_owned()],
            Some((forgot, t.get("recovery.dead_action").to_owned())),
        )
    }

    fn account_call_failure(&self, t: Tr, error: AccountCallError) -> Response {
        match error {
            AccountCallError::DeadLink => self.dead_link_page(t, None),
            AccountCallError::UsernameTaken => self.notice(
                t,
                StatusCode::CONFLICT,
                t.get("register.taken_title"),
                "username-taken",
                vec![t.get("register.taken_text").to_owned()],
                Some((self.path("/ui/register"), t.get("register.link").to_owned())),
            ),
            AccountCallError::MailOff => self.notice(
                t,
                StatusCode::SERVICE_UNAVAILABLE,
                t.get("recovery.forgot_title"),
                "mail-off",
                vec![t.get("recovery.mail_off").to_owned()],
                Some((
                    self.login_href(None),
                    t.get("recovery.back_to_sign_in").to_owned(),
                )),
            ),
            AccountCallError::Other(e) => self.failure_page(t, &e).into_response(),
        }
    }
}

struct ForgotForm {
    mail_enabled: bool,
    challenge: Option<String>,
    login: String,
    error: Option<String>,
}

pub async fn forgot_show(
    State(state): State<LoginState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = Fields::query(query.as_deref());
    let t = language(query.get("ui_locales"), &headers);
    let browser = state.browser(&headers);
    let settings = state.account_settings().await;
    state.forgot_page(
        t,
        &browser,
        ForgotForm {
            mail_enabled: settings.mail_enabled,
            challenge: query.get("challenge").and_then(plausible_challenge),
            login: String::new(),
            error: None,
        },
        StatusCode::OK,
    )
}

pub async fn forgot_submit(
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
            .verify(Some(b), Purpose::ForgotPassword, form.get("csrf_token"))
    }) else {
        return state.error_page(t, Problem::Csrf, None).into_response();
    };
    let challenge = form.get("challenge").and_then(plausible_challenge);
    let login = form.get("login").unwrap_or_default().trim().to_owned();
    let again = |error: &str, status| {
        state.forgot_page(
            t,
            &browser,
            ForgotForm {
                mail_enabled: true,
                challenge: challenge.clone(),
                login: String::new(),
                error: Some(t.get(error).to_owned()),
            },
            status,
        )
    };
    if login.is_empty() || login.chars().count() > MAX_PASSWORD_CHARS {
        return again("recovery.error_empty", StatusCode::BAD_REQUEST);
    }
    match state
        .token()
        .request_password_reset(&login, &ip, t.lang(), challenge.as_deref())
        .await
    {
        Ok(None) => {}
        Ok(Some(retry_after)) => {
            let mut page = again("recovery.error_too_many", StatusCode::TOO_MANY_REQUESTS);
            page.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after.as_secs().max(1)),
            );
            return page;
        }
        Err(e) => return state.account_call_failure(t, e),
    }
    let minutes = state
        .account_settings()
        .await
        .password_reset_ttl
        .as_secs()
        .div_ceil(60)
        .max(1);
    state.notice(
        t,
        StatusCode::OK,
        t.get("recovery.sent_title"),
        "reset-sent",
        vec![
            t.with("recovery.sent_text", "minutes", &minutes.to_string()),
            t.get("recovery.sent_spam").to_owned(),
        ],
        Some((
            state.login_href(challenge.as_deref()),
            t.get("recovery.back_to_sign_in").to_owned(),
        )),
    )
}

/// The token a link's page was opened with, or the page that says it is dead.
async fn live_link(
    state: &LoginState,
    t: Tr,
    token: Option<&str>,
    purpose: LinkPurpose,
) -> Result<(String, crate::token_client::LinkTarget), Response> {
    let Some(token) = token.filter(|t| plausible_token(t)) else {
        return Err(state.dead_link_page(t, None));
    };
    match state.token().inspect_account_link(token).await {
        Ok(target) if target.purpose == purpose => Ok((token.to_owned(), target)),
        Ok(_) => Err(state.dead_link_page(t, None)),
        Err(e) => Err(state.account_call_failure(t, e)),
    }
}

pub async fn reset_show(
    State(state): State<LoginState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = Fields::query(query.as_deref());
    let t = language(None, &headers);
    let (token, target) =
        match live_link(&state, t, query.get("token"), LinkPurpose::PasswordReset).await {
            Ok(live) => live,
            Err(page) => return page,
        };
    let browser = state.browser(&headers);
    Page::render(
        StatusCode::OK,
        &ResetPage {
            page: state.chrome(t),
            csrf: state.csrf().token(&browser, Purpose::ResetPassword),
            token,
            username: target.username,
            error: None,
        },
    )
    .cookie(browser.set_cookie(state.cookies()))
    .into_response()
}

pub(crate) fn weak_message(weak: WeakPassword) -> &'static str {
    match weak {
        WeakPassword::TooShort => "recovery.error_too_short",
        WeakPassword::TooLong => "recovery.error_too_long",
        WeakPassword::IsUsername => "recovery.error_is_username",
        WeakPassword::Common => "recovery.error_common",
    }
}

pub async fn reset_submit(
    State(state): State<LoginState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Fields::parse(&body);
    let t = language(None, &headers);
    let Some(browser) = state.existing_browser(&headers).filter(|b| {
        state
            .csrf()
            .verify(Some(b), Purpose::ResetPassword, form.get("csrf_token"))
    }) else {
        return state.error_page(t, Problem::Csrf, None).into_response();
    };
    let (token, target) =
        match live_link(&state, t, form.get("token"), LinkPurpose::PasswordReset).await {
            Ok(live) => live,
            Err(page) => return page,
        };
    let again = |message: &str, status| {
        Page::render(
            status,
            &ResetPage {
                page: state.chrome(t),
                csrf: state.csrf().token(&browser, Purpose::ResetPassword),
                token: token.clone(),
                username: target.username.clone(),
                error: Some(t.get(message).to_owned()),
            },
        )
        .into_response()
    };
    let password = form
        .secret("new_password")
        .unwrap_or_else(|| gatehouse_core::secret::SecretString::new(""));
    if password.expose().chars().count() > MAX_PASSWORD_CHARS {
        return again("recovery.error_too_long", StatusCode::UNPROCESSABLE_ENTITY);
    }
    if form.get("confirm_password") != Some(password.expose()) {
        return again("recovery.error_mismatch", StatusCode::UNPROCESSABLE_ENTITY);
    }
    match state.token().reset_password(&token, &password).await {
        Ok(PasswordReset::Refused(weak)) => {
            again(weak_message(weak), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Ok(PasswordReset::Done {
            subject, challenge, ..
        }) => {
            tracing::info!(%subject, "password reset through a mailed link");
            match challenge {
                // The request in progress goes on: sign in with the new password.
                Some(id) => SeeOther::to(format!(
                    "{}?challenge={id}&notice=password_changed",
                    state.path("/ui/login")
                ))
                .into_response(),
                None => state.notice(
                    t,
                    StatusCode::OK,
                    t.get("recovery.done_title"),
                    "password-changed",
                    vec![
                        t.get("recovery.done_text").to_owned(),
                        t.get("recovery.done_sessions").to_owned(),
                    ],
                    Some((
                        state.login_href(None),
                        t.get("recovery.done_action").to_owned(),
                    )),
                ),
            }
        }
        Err(e) => state.account_call_failure(t, e),
    }
}

pub async fn verify_show(
    State(state): State<LoginState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = Fields::query(query.as_deref());
    let t = language(None, &headers);
    let (token, target) = match live_link(
        &state,
        t,
        query.get("token"),
        LinkPurpose::EmailVerification,
    )
    .await
    {
        Ok(live) => live,
        Err(page) => return page,
    };
    let browser = state.browser(&headers);
    Page::render(
        StatusCode::OK,
        &VerifyPage {
            page: state.chrome(t),
            csrf: state.csrf().token(&browser, Purpose::VerifyEmail),
            token,
            username: target.username,
        },
    )
    .cookie(browser.set_cookie(state.cookies()))
    .into_response()
}

pub async fn verify_submit(
    State(state): State<LoginState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Fields::parse(&body);
    let t = language(None, &headers);
    if !state.existing_browser(&headers).is_some_and(|b| {
        state
            .csrf()
            .verify(Some(&b), Purpose::VerifyEmail, form.get("csrf_token"))
    }) {
        return state.error_page(t, Problem::Csrf, None).into_response();
    }
    let Some(token) = form.get("token").filter(|t| plausible_token(t)) else {
        return state.dead_link_page(t, None);
    };
    match state.token().verify_email(token).await {
        Ok((email, challenge)) => {
            let next = match challenge {
                Some(id) => state.login_href(Some(&id)),
                None => state.path("/account"),
            };
            state.notice(
                t,
                StatusCode::OK,
                t.get("recovery.verified_title"),
                "email-verified",
                vec![t.with("recovery.verified_text", "email", &email)],
                Some((next, t.get("recovery.verified_action").to_owned())),
            )
        }
        Err(e) => state.account_call_failure(t, e),
    }
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    page: Chrome,
    csrf: String,
    challenge: Option<String>,
    username: String,
    email: String,
    error: Option<String>,
    back_href: String,
}

impl LoginState {
    fn register_page(
        &self,
        t: Tr,
        browser: &Browser,
        challenge: Option<String>,
        (username, email): (String, String),
        error: Option<(&str, StatusCode)>,
    ) -> Response {
        let status = error.map_or(StatusCode::OK, |(_, s)| s);
        Page::render(
            status,
            &RegisterPage {
                page: self.chrome(t),
                csrf: self.csrf().token(browser, Purpose::Register),
                back_href: self.login_href(challenge.as_deref()),
                challenge,
                username,
                email,
                error: error.map(|(key, _)| t.get(key).to_owned()),
            },
        )
        .cookie(browser.set_cookie(self.cookies()))
        .into_response()
    }
}

/// Self-registration (`GATEHOUSE_SELF_REGISTRATION`): the form. Off, the page does not exist.
pub async fn register_show(
    State(state): State<LoginState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = Fields::query(query.as_deref());
    let t = language(query.get("ui_locales"), &headers);
    if !state.account_settings().await.self_registration {
        // Off, the page does not exist (as the portal when it is off).
        return StatusCode::NOT_FOUND.into_response();
    }
    let browser = state.browser(&headers);
    let challenge = query.get("challenge").and_then(plausible_challenge);
    state.register_page(t, &browser, challenge, Default::default(), None)
}

pub async fn register_submit(
    State(state): State<LoginState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Fields::parse(&body);
    let t = language(None, &headers);
    if !state.account_settings().await.self_registration {
        // Off, the page does not exist (as the portal when it is off).
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(browser) = state.existing_browser(&headers).filter(|b| {
        state
            .csrf()
            .verify(Some(b), Purpose::Register, form.get("csrf_token"))
    }) else {
        return state.error_page(t, Problem::Csrf, None).into_response();
    };
    let challenge = form.get("challenge").and_then(plausible_challenge);
    let username = form.get("username").unwrap_or_default().trim().to_owned();
    let email = form.get("email").unwrap_or_default().trim().to_owned();
    let password = form
        .secret("new_password")
        .unwrap_or_else(|| gatehouse_core::secret::SecretString::new(""));
    let again = |key: &str, status| {
        state.register_page(
            t,
            &browser,
            challenge.clone(),
            (username.clone(), email.clone()),
            Some((key, status)),
        )
    };
    if username.chars().count() > 64 || email.len() > 254 {
        return again(
            "register.error_invalid_username",
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    if password.expose().chars().count() > MAX_PASSWORD_CHARS {
        return again("recovery.error_too_long", StatusCode::UNPROCESSABLE_ENTITY);
    }
    if form.get("confirm_password") != Some(password.expose()) {
        return again("recovery.error_mismatch", StatusCode::UNPROCESSABLE_ENTITY);
    }
    let answer = state
        .token()
        .register_user(
            &username,
            &email,
            &password,
            &ip,
            t.lang(),
            challenge.as_deref(),
        )
        .await;
    match answer {
        Ok(Registration::VerificationSent) => state.notice(
            t,
            StatusCode::OK,
            t.get("register.sent_title"),
            "registration-sent",
            vec![t.with("register.sent_text", "email", &email)],
            None,
        ),
        Ok(Registration::Created) => state.notice(
            t,
            StatusCode::CREATED,
            t.get("register.created_title"),
            "registration-created",
            vec![t.get("register.created_text").to_owned()],
            Some((
                state.login_href(challenge.as_deref()),
                t.get("recovery.done_action").to_owned(),
            )),
        ),
        Ok(Registration::Refused(code)) => {
            let key = match code.as_str() {
                "username_taken" => "register.error_username_taken",
                "invalid_username" => "register.error_invalid_username",
                "invalid_email" => "register.error_invalid_email",
                other => WeakPassword::from_code(other)
                    .map_or("register.error_invalid_username", weak_message),
            };
            again(key, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Ok(Registration::TooMany(retry_after)) => {
            let mut page = again("register.error_too_many", StatusCode::TOO_MANY_REQUESTS);
            page.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after.as_secs().max(1)),
            );
            page
        }
        Err(e) => state.account_call_failure(t, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_link_shaped_tokens_are_sent_on() {
        assert!(plausible_token(&"a".repeat(43)));
        assert!(plausible_token(
            "abcdefghijklmnopqrstuvwxyz0123456789-_ABCDEFG"
        ));
        assert!(!plausible_token(&"a".repeat(31)));
        assert!(!plausible_token(&"a".repeat(129)));
        assert!(!plausible_token(&format!("{}/", "a".repeat(42))));
        assert!(!plausible_token(&format!("{}%", "a".repeat(42))));
    }
}
