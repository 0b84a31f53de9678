//! The account page (`GET /account`): the signed-in user's profile (`POST /account/profile`:
//! name and picture URL), password (`POST /account/password`: the current one first), email
//! address (`POST /account/email`: the current password first, then a link to the new address)
//! and where they are signed in (`POST /account/sessions/end`: one other session by its id;
//! `POST /account/sessions/end-others`: every session but this one). Every form carries a CSRF
//! token; nothing here needs JavaScript.
//!
//! A changed password ends the user's other sessions here (the token service does not hold the
//! login UI's sessions' cookies, only their index): whoever knew the old password is signed
//! out. Apps the user connected keep their access; the connected-apps page ends that.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::account_recovery::WeakPassword;
use gatehouse_core::secret::SecretString;
use time::macros::format_description;

use crate::client_ip::ClientIp;
use crate::csrf::{Browser, Purpose};
use crate::form::Fields;
use crate::i18n::Tr;
use crate::page::{Chrome, Page, Problem, SeeOther, language, store_failure, user_label};
use crate::session::{Found, Listed};
use crate::state::LoginState;
use crate::token_client::{AccountCallError, AccountChange, UserProfile};

const PAGE: &str = "/account";

/// One session in the list.
pub struct SessionView {
    pub sid: String,
    /// "Firefox on Linux".
    pub device: String,
    pub ip: String,
    pub signed_in: String,
    pub last_seen: String,
    pub current: bool,
    /// The sign-out button's accessible name: which session it ends.
    pub end_label: String,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub page: Chrome,
    pub user_label: String,
    pub username: String,
    pub name: String,
    pub picture: String,
    pub email: Option<String>,
    pub email_verified: bool,
    /// Whether mail can be sent: an address can be changed only by confirming it.
    pub mail_enabled: bool,
    pub sessions: Vec<SessionView>,
    /// Where the developer portal is; `None` when it is off.
    pub portal_href: Option<String>,
    pub csrf: String,
    pub logout_csrf: String,
    /// What just happened, said once.
    pub notice: Option<String>,
    /// Why the last form was refused, and which form (`profile`, `email`, `password`, so the
    /// message sits by it).
    pub error: Option<(&'static str, String)>,
}

impl AccountPage {
    /// The refusal to show by the form `section`, if the last one was refused.
    fn error_for(&self, section: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(s, _)| *s == section)
            .map(|(_, message)| message.as_str())
    }
}

/// The signed-in user's session, or the response that sends them to sign in (and back).
pub(crate) async fn require_session(
    state: &LoginState,
    headers: &HeaderMap,
    t: Tr,
    page: &str,
) -> Result<Found, Response> {
    match state.sessions().load(headers).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("return", &state.path(page))
                .finish();
            Err(SeeOther::to(format!("{}?{query}", state.path("/ui/login"))).into_response())
        }
        Err(e) => Err(state.failure_page(t, &store_failure(e)).into_response()),
    }
}

/// For a form of an account page: the session and the browser whose CSRF token (for
/// `purpose`) the form carries.
pub(crate) async fn form_session(
    state: &LoginState,
    headers: &HeaderMap,
    form: &Fields,
    t: Tr,
    purpose: Purpose,
    page: &str,
) -> Result<(Found, Browser), Response> {
    let Some(browser) = state.existing_browser(headers).filter(|b| {
        state
            .csrf()
            .verify(Some(b), purpose, form.get("csrf_token"))
    }) else {
        return Err(state.error_page(t, Problem::Csrf, None).into_response());
    };
    let found = require_session(state, headers, t, page).await?;
    Ok((found, browser))
}

fn when(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|d| {
            d.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// A person's name for a browser from its `User-Agent`: the family and the system, enough to
/// tell one's own devices apart ("Firefox on Linux"). Written here rather than taken from a
/// user-agent database crate: the page needs a dozen families, not a full parser and its
/// regular-expression tables in the binary.
pub fn describe_user_agent(user_agent: &str, t: Tr) -> String {
    let ua = user_agent;
    // Order matters: Edge and Opera say "Chrome", Chrome says "Safari".
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("HeadlessChrome/", "Chromium"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| *name);
    let system = [
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Android", "Android"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(browser), Some(system)) => t
            .with("account.device_on", "browser", browser)
            .replace("{system}", system),
        (Some(name), None) | (None, Some(name)) => name.to_owned(),
        (None, None) => t.get("account.device_unknown").to_owned(),
    }
}

fn session_view(listed: &Listed, t: Tr) -> SessionView {
    let device = describe_user_agent(&listed.session.user_agent, t);
    let ip = listed.last_ip().to_owned();
    SessionView {
        sid: listed.session.sid.clone(),
        end_label: t
            .with("account.session_end_label", "device", &device)
            .replace("{ip}", &ip),
        device,
        ip,
        signed_in: t.with(
            "account.session_signed_in",
            "when",
            &when(listed.session.auth_time),
        ),
        last_seen: t.with(
            "account.session_last_seen",
            "when",
            &when(listed.last_seen()),
        ),
        current: listed.current,
    }
}

/// What the page says about the last form.
enum Said {
    /// A change was made (or nothing was asked).
    Notice(Option<String>),
    /// The form `section` was refused, with this message and status.
    Refused {
        section: &'static str,
        message: String,
        status: StatusCode,
    },
}

/// Renders the page for `found`'s user.
async fn render(
    state: &LoginState,
    headers: &HeaderMap,
    t: Tr,
    found: &Found,
    user: &UserProfile,
    said: Said,
) -> Response {
    let (notice, error, status) = match said {
        Said::Notice(notice) => (notice, None, StatusCode::OK),
        Said::Refused {
            section,
            message,
            status,
        } => (None, Some((section, message)), status),
    };
    let sessions = match state.sessions().list(&found.session.subject, found).await {
        Ok(sessions) => sessions,
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    };
    let portal_href = matches!(
        state.token().approval_mode().await,
        Ok(crate::token_client::ApprovalMode::Manual
            | crate::token_client::ApprovalMode::Automatic)
    )
    .then(|| state.path("/developers"));
    let mail_enabled = state.account_settings().await.mail_enabled;
    let browser = state.browser(headers);
    Page::render(
        status,
        &AccountPage {
            page: state.chrome(t),
            user_label: user_label(user.name.as_deref(), &user.username),
            username: user.username.clone(),
            name: user.name.clone().unwrap_or_default(),
            picture: user.picture.clone().unwrap_or_default(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            mail_enabled,
            sessions: sessions.iter().map(|s| session_view(s, t)).collect(),
            portal_href,
            csrf: state.csrf().token(&browser, Purpose::Account),
            logout_csrf: state.csrf().token(&browser, Purpose::Logout),
            notice,
            error,
        },
    )
    .csp(state.base_csp())
    .cookie(browser.set_cookie(state.cookies()))
    .into_response()
}

/// `GET /account`.
pub async fn show(
    State(state): State<LoginState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = Fields::query(query.as_deref());
    let t = language(query.get("ui_locales"), &headers);
    let found = match state.sessions().load(&headers).await {
        Ok(Some(found)) => found,
        // The issuer's own address never ends in a 404 or a bare redirect: a page that says so
        // and offers to sign in.
        Ok(None) => return state.signed_out_page(t, false, None).into_response(),
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    };
    let user = match crate::account::session_user(&state, &found, t).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    state
        .sessions()
        .record_visit(&found, state.now(), &ip)
        .await;
    let notice = query
        .get("done")
        .and_then(|done| match done {
            "profile" => Some("account.done_profile"),
            "password" => Some("account.done_password"),
            "email" => Some("account.done_email"),
            "session" => Some("account.done_session"),
            "others" => Some("account.done_others"),
            _ => None,
        })
        .map(|key| t.get(key).to_owned());
    render(&state, &headers, t, &found, &user, Said::Notice(notice)).await
}

/// The page again with `error` by the form `section`.
async fn refused(
    state: &LoginState,
    headers: &HeaderMap,
    t: Tr,
    found: &Found,
    section: &'static str,
    message: String,
    status: StatusCode,
) -> Response {
    let user = match crate::account::session_user(state, found, t).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let said = Said::Refused {
        section,
        message,
        status,
    };
    render(state, headers, t, found, &user, said).await
}

fn done(state: &LoginState, what: &str) -> Response {
    SeeOther::to(format!("{}?done={what}", state.path(PAGE))).into_response()
}

/// What a refused change says, and with which status.
fn change_refusal(t: Tr, change: &AccountChange) -> (String, StatusCode) {
    match change {
        AccountChange::Done => (String::new(), StatusCode::OK),
        AccountChange::WrongPassword(Some(1)) => (
            t.get("account.error_wrong_password_last").to_owned(),
            StatusCode::UNAUTHORIZED,
        ),
        AccountChange::WrongPassword(_) => (
            t.get("account.error_wrong_password").to_owned(),
            StatusCode::UNAUTHORIZED,
        ),
        AccountChange::Locked(retry_after) => (
            crate::login::locked_message(t, *retry_after),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        AccountChange::Refused(code) => {
            let key = match WeakPassword::from_code(code) {
                Some(weak) => crate::recovery::weak_message(weak),
                None => match code.as_str() {
                    "invalid_name" => "account.error_invalid_name",
                    "invalid_picture" => "account.error_invalid_picture",
                    "same_email" => "account.error_same_email",
                    _ => "account.error_invalid_email",
                },
            };
            (t.get(key).to_owned(), StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

/// The page again after the token service refused `change` for the form `section`; a lock says
/// when to come back (`Retry-After`).
async fn refused_change(
    state: &LoginState,
    headers: &HeaderMap,
    t: Tr,
    found: &Found,
    section: &'static str,
    change: &AccountChange,
) -> Response {
    let (message, status) = change_refusal(t, change);
    let mut response = refused(state, headers, t, found, section, message, status).await;
    if let AccountChange::Locked(retry_after) = change
        && let Ok(value) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// `POST /account/profile`: name and picture URL.
pub async fn update_profile(
    State(state): State<LoginState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Fields::parse(&body);
    let t = language(None, &headers);
    let (found, _) = match form_session(&state, &headers, &form, t, Purpose::Account, PAGE).await {
        Ok(pair) => pair,
        Err(response) => return response,
    };
    let name = form.get("name").unwrap_or_default();
    let picture = form.get("picture").unwrap_or_default();
    match state
        .token()
        .update_profile(&found.session.subject, name, picture)
        .await
    {
        Ok(AccountChange::Done) => done(&state, "profile"),
        Ok(change) => refused_change(&state, &headers, t, &found, "profile", &change).await,
        Err(e) => account_failure(&state, t, e),
    }
}

/// `POST /account/password`: the current password and the new one (twice). Other sessions
/// end; this one goes on.
pub async fn change_password(
    State(state): State<LoginState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Fields::parse(&body);
    let t = language(None, &headers);
    let (found, _) = match form_session(&state, &headers, &form, t, Purpose::Account, PAGE).await {
        Ok(pair) => pair,
        Err(response) => return response,
    };
    let current = form
        .secret("current_password")
        .unwrap_or_else(|| SecretString::new(String::new()));
    let new = form
        .secret("new_password")
        .unwrap_or_else(|| SecretString::new(String::new()));
    let confirm = form
        .secret("confirm_password")
        .unwrap_or_else(|| SecretString::new(String::new()));
    if current.expose().is_empty() {
        let message = t.get("account.error_current_missing").to_owned();
        return refused(
            &state,
            &headers,
            t,
            &found,
            "password",
            message,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    if new.expose() != confirm.expose() {
        let message = t.get("recovery.error_mismatch").to_owned();
        return refused(
            &state,
            &headers,
            t,
            &found,
            "password",
            message,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let subject = found.session.subject.clone();
    match state
        .token()
        .change_password(&subject, &current, &new, &ip)
        .await
    {
        Ok(AccountChange::Done) => {
            match state.sessions().end_others(&subject, &found).await {
                Ok(ended) => {
                    tracing::info!(subject = %subject, ended, "a password change ended the user's other sessions");
                }
                // The password is changed; the page says the other sessions may live on.
                Err(e) => {
                    tracing::error!(error = %e, "ending the other sessions after a password change failed");
                    return state.failure_page(t, &store_failure(e)).into_response();
                }
            }
            done(&state, "password")
        }
        Ok(change) => refused_change(&state, &headers, t, &found, "password", &change).await,
        Err(e) => account_failure(&state, t, e),
    }
}

/// `POST /account/email`: the new address and the current password; a link goes to the new
/// address.
pub async fn change_email(
    State(state): State<LoginState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Fields::parse(&body);
    let t = language(None, &headers);
    let (found, _) = match form_session(&state, &headers, &form, t, Purpose::Account, PAGE).await {
        Ok(pair) => pair,
        Err(response) => return response,
    };
    let email = form.get("email").unwrap_or_default().trim().to_owned();
    let current = form
        .secret("current_password")
        .unwrap_or_else(|| SecretString::new(String::new()));
    if current.expose().is_empty() {
        let message = t.get("account.error_current_missing").to_owned();
        return refused(
            &state,
            &headers,
            t,
            &found,
            "email",
            message,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match state
        .token()
        .request_email_change(&found.session.subject, &current, &email, t.lang(), &ip)
        .await
    {
        Ok(AccountChange::Done) => done(&state, "email"),
        Ok(change) => refused_change(&state, &headers, t, &found, "email", &change).await,
        Err(AccountCallError::MailOff) => {
            let message = t.get("account.email_mail_off").to_owned();
            refused(
                &state,
                &headers,
                t,
                &found,
                "email",
                message,
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .await
        }
        Err(e) => account_failure(&state, t, e),
    }
}

fn account_failure(state: &LoginState, t: Tr, error: AccountCallError) -> Response {
    match error {
        AccountCallError::Other(e) => state.failure_page(t, &e).into_response(),
        // The user was disabled or deleted meanwhile: their session is over.
        AccountCallError::MailOff
        | AccountCallError::DeadLink
        | AccountCallError::UsernameTaken => SeeOther::to(state.path("/ui/login")).into_response(),
    }
}

/// `POST /account/sessions/end`: signs out the session `sid` (another browser or device).
pub async fn end_session(
    State(state): State<LoginState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Fields::parse(&body);
    let t = language(None, &headers);
    let (found, _) = match form_session(&state, &headers, &form, t, Purpose::Account, PAGE).await {
        Ok(pair) => pair,
        Err(response) => return response,
    };
    let sid = form.get("sid").unwrap_or_default();
    let subject = &found.session.subject;
    match state.sessions().end_sid(subject, sid, &found).await {
        Ok(ended) => {
            tracing::info!(subject = %subject, ended, "a user signed out one of their sessions");
            done(&state, "session")
        }
        Err(e) => state.failure_page(t, &store_failure(e)).into_response(),
    }
}

/// `POST /account/sessions/end-others`: signs out every session but this one.
pub async fn end_other_sessions(
    State(state): State<LoginState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Fields::parse(&body);
    let t = language(None, &headers);
    let (found, _) = match form_session(&state, &headers, &form, t, Purpose::Account, PAGE).await {
        Ok(pair) => pair,
        Err(response) => return response,
    };
    let subject = &found.session.subject;
    match state.sessions().end_others(subject, &found).await {
        Ok(ended) => {
            tracing::info!(subject = %subject, ended, "a user signed out everywhere else");
            done(&state, "others")
        }
        Err(e) => state.failure_page(t, &store_failure(e)).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_are_named_by_family_and_system() {
        let t = Tr::language("en");
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
                "Safari on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0 Mobile/15E148 Safari/604.1",
                "Chrome on iOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            ("curl/8.5.0", "curl"),
            ("", "Unknown browser"),
            ("something else", "Unknown browser"),
        ];
        for (ua, expected) in cases {
            assert_eq!(describe_user_agent(ua, t), expected, "{ua}");
        }
        assert_eq!(
            describe_user_agent(
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                Tr::language("de")
            ),
            "Firefox unter Linux"
        );
    }
}
