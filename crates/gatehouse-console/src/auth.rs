//! Who may use the console: sign-in through the issuer's own login page (OpenID Connect
//! authorization code + PKCE), the console session, the role gate, CSRF and the origin check.
//!
//! - **Sign-in**: `/console` without a session sends the browser to `<issuer>/oauth2/auth` as the
//!   public client [`CLIENT_ID`] with `state`, `nonce` and an S256 challenge. The verifier, nonce
//!   and the page to return to wait in the short-lived store under the keyed hash of `state` (ten
//!   minutes, single use); `state` itself is also in a cookie, so a callback the operator's
//!   browser did not start (login CSRF) is refused. `/callback` redeems the code at the public
//!   token endpoint, in process, and reads `sub` from the ID token.
//! - **Session**: a random cookie (`gatehouse_console`, `Path=` the console's path, `HttpOnly`,
//!   `SameSite=Lax`, `Secure` and `__Secure-` when the console URL is https), separate from the
//!   login UI's; the record lives in the short-lived store under the cookie's keyed hash and
//!   expires with it. Each request reads the user again through the admin API, so a disabled
//!   user or a removed role loses the console at once.
//! - **Role gate**: `admin` may do everything, `reviewer` only registration requests; anyone
//!   else gets a 403 page.
//! - **CSRF**: every form carries HMAC(system secret, "csrf" ∥ session cookie): bound to the
//!   session, unforgeable without the secret, compared in constant time.
//! - **Origin**: the console answers only on its own origin (`Host` must be the console URL's,
//!   so DNS rebinding fails), and refuses a POST whose `Origin` or `Sec-Fetch-Site` says
//!   another site sent it.

use std::time::Duration;

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_core::audit::AuditActor;
use gatehouse_core::secret::{constant_time_eq, random_token};
use gatehouse_login::cookies::{self, Lifetime, Scope};
use gatehouse_login::i18n::Tr;
use gatehouse_login::page::SeeOther;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Digest as _;
use tower::ServiceExt as _;

use crate::form::Fields;
use crate::state::ConsoleState;
use crate::view::{self, Notice};

/// The console's client id at its own issuer.
pub const CLIENT_ID: &str = "gatehouse-console";

/// The session cookie's base name.
const SESSION_COOKIE: &str = "gatehouse_console";
/// The cookie holding a pending sign-in's `state`.
const LOGIN_COOKIE: &str = "gatehouse_console_login";
/// How long a sign-in may take at the login page.
const LOGIN_TTL: Duration = Duration::from_secs(10 * 60);

/// The roles that open the console (`gatehouse_core::user::Role`'s names).
const ROLE_ADMIN: &str = "admin";
const ROLE_REVIEWER: &str = "reviewer";

/// The signed-in operator of a request.
#[derive(Debug, Clone)]
pub struct Operator {
    pub user_id: String,
    pub username: String,
    /// Role `admin`: everything; else a reviewer (registration requests only).
    pub admin: bool,
    /// The CSRF token of this session's forms.
    pub csrf: String,
}

impl Operator {
    /// How the audit log names this operator (the request extension of every admin API call).
    pub fn audit_actor(&self) -> AuditActor {
        AuditActor::user(self.user_id.clone(), self.username.clone())
    }
}

/// What a page needs of the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `admin` or `reviewer`.
    Reviewer,
    Admin,
}

#[derive(Serialize, Deserialize)]
struct SessionRecord {
    user_id: String,
    username: String,
}

#[derive(Serialize, Deserialize)]
struct PendingSignIn {
    verifier: String,
    nonce: String,
    return_to: String,
}

impl ConsoleState {
    fn cookie_scope(&self) -> Scope {
        Scope::new(self.secure(), self.base_path())
    }

    fn cookie_name(&self, base: &str) -> String {
        cookies::name(base, &self.cookie_scope())
    }

    fn session_key(&self, cookie: &str) -> String {
        format!("console/session/{}", self.keys().hash(cookie))
    }

    fn csrf_token(&self, cookie: &str) -> String {
        self.keys().hash(&format!("csrf\u{0}{cookie}"))
    }

    fn session_cookie<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        cookies::get(headers, &self.cookie_name(SESSION_COOKIE)).filter(|v| cookies::is_token(v))
    }
}

/// The operator of this request when they may see a page that needs `need`; else the answer:
/// the sign-in redirect (no session), or a 403 page.
pub(crate) async fn require(
    state: &ConsoleState,
    headers: &HeaderMap,
    return_to: &str,
    need: Need,
) -> Result<Operator, Response> {
    let t = view::language(headers);
    let Some(cookie) = state.session_cookie(headers) else {
        return Err(start_sign_in(state, return_to).await);
    };
    let record: Option<SessionRecord> =
        match state.short_lived().get(&state.session_key(cookie)).await {
            Ok(bytes) => bytes.and_then(|b| serde_json::from_slice(&b).ok()),
            Err(e) => {
                tracing::warn!(error = %e, "console: reading a session failed");
                return Err(view::unavailable(state, t));
            }
        };
    let Some(record) = record else {
        return Err(start_sign_in(state, return_to).await);
    };
    let roles = match user_roles(state, &record.user_id).await {
        Ok(roles) => roles,
        Err(response) => return Err(response(state, t)),
    };
    let admin = roles.iter().any(|r| r == ROLE_ADMIN);
    let reviewer = roles.iter().any(|r| r == ROLE_REVIEWER);
    let allowed = match need {
        Need::Admin => admin,
        Need::Reviewer => admin || reviewer,
    };
    let operator = Operator {
        user_id: record.user_id,
        username: record.username,
        admin,
        csrf: state.csrf_token(cookie),
    };
    if !allowed {
        return Err(view::forbidden(state, t, Some(&operator)));
    }
    Ok(operator)
}

type Refusal = fn(&ConsoleState, Tr) -> Response;

/// The user's roles, read through the admin API; a missing or disabled user has none.
async fn user_roles(state: &ConsoleState, user_id: &str) -> Result<Vec<String>, Refusal> {
    let answer = state
        .api()
        .get(
            None,
            &format!("/admin/users/{}", crate::api::segment(user_id)),
        )
        .await;
    if answer.status == StatusCode::NOT_FOUND {
        return Ok(Vec::new());
    }
    if !answer.ok() {
        return Err(view::unavailable);
    }
    if answer.body.get("disabled").and_then(Value::as_bool) == Some(true) {
        return Ok(Vec::new());
    }
    Ok(answer
        .body
        .get("roles")
        .and_then(Value::as_array)
        .map(|roles| {
            roles
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default())
}

/// Checks a form's CSRF token against the operator's session: the refusal page when it fails.
pub(crate) fn csrf_refusal(
    state: &ConsoleState,
    headers: &HeaderMap,
    operator: &Operator,
    fields: &Fields,
) -> Option<Response> {
    let submitted = fields.get("csrf_token");
    if constant_time_eq(operator.csrf.as_bytes(), submitted.as_bytes()) && !submitted.is_empty() {
        None
    } else {
        let t = view::language(headers);
        Some(view::message(
            state,
            t,
            StatusCode::FORBIDDEN,
            Some(operator),
            Notice::key("console.error.csrf_title", "console.error.csrf_text"),
        ))
    }
}

/// `require` + `check_csrf`: the operator of a form POST.
pub(crate) async fn require_form(
    state: &ConsoleState,
    headers: &HeaderMap,
    fields: &Fields,
    need: Need,
) -> Result<Operator, Response> {
    let operator = require(state, headers, &state.path(""), need).await?;
    match csrf_refusal(state, headers, &operator, fields) {
        Some(refusal) => Err(refusal),
        None => Ok(operator),
    }
}

/// `GET /console`: the first page the operator may use.
pub(crate) async fn home(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    match require(&state, &headers, &state.path(""), Need::Reviewer).await {
        Ok(operator) if operator.admin => SeeOther::to(state.path("/apps")).into_response(),
        Ok(_) => SeeOther::to(state.path("/requests")).into_response(),
        Err(response) => response,
    }
}

/// Sends the browser to the issuer's authorization endpoint.
async fn start_sign_in(state: &ConsoleState, return_to: &str) -> Response {
    // The console's client is registered the first time someone signs in after a start, so a
    // deployment whose console nobody opens has no client it did not ask for.
    if !state
        .client_ready()
        .load(std::sync::atomic::Ordering::Acquire)
    {
        match ensure_client(state).await {
            Ok(()) => state
                .client_ready()
                .store(true, std::sync::atomic::Ordering::Release),
            Err(e) => {
                tracing::error!(error = %e, client_id = CLIENT_ID, "console: its client could not be registered");
                return view::unavailable(state, Tr::language("en"));
            }
        }
    }
    let sign_in = random_token(32);
    let pending = PendingSignIn {
        verifier: random_token(32),
        nonce: random_token(16),
        return_to: safe_return(state.base_path(), return_to),
    };
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(pending.verifier.as_bytes()));
    let key = format!("console/sign-in/{}", state.keys().hash(&sign_in));
    let stored = match serde_json::to_vec(&pending) {
        Ok(bytes) => state.short_lived().put(&key, &bytes, LOGIN_TTL).await,
        Err(e) => {
            tracing::error!(error = %e, "console: encoding a sign-in failed");
            return view::unavailable(state, Tr::language("en"));
        }
    };
    if let Err(e) = stored {
        tracing::warn!(error = %e, "console: storing a sign-in failed");
        return view::unavailable(state, Tr::language("en"));
    }
    let mut url = state.config().issuer.clone();
    let path = format!("{}/oauth2/auth", state.issuer_path());
    url.set_path(&path);
    url.query_pairs_mut()
        .clear()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", &state.redirect_uri())
        .append_pair("scope", "openid")
        .append_pair("state", &sign_in)
        .append_pair("nonce", &pending.nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    SeeOther::to(url.to_string())
        .cookie(cookies::set(
            &state.cookie_name(LOGIN_COOKIE),
            &sign_in,
            Lifetime::MaxAge(LOGIN_TTL),
            &state.cookie_scope(),
        ))
        .into_response()
}

/// A page to return to after sign-in: under the console, else the console's start.
fn safe_return(base: &str, return_to: &str) -> String {
    let inside = return_to == base
        || return_to
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('/') || rest.starts_with('?'));
    if inside && !return_to.starts_with("//") && !return_to.contains('\\') {
        return_to.to_owned()
    } else {
        base.to_owned()
    }
}

#[derive(Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    iss: Option<String>,
}

/// `GET /console/callback`: the issuer's answer.
pub(crate) async fn callback(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let t = view::language(&headers);
    let refused = |text: &'static str| {
        view::message(
            &state,
            t,
            StatusCode::BAD_REQUEST,
            None,
            Notice::sign_in_again("console.error.sign_in_title", text),
        )
    };
    let cookie_state = cookies::get(&headers, &state.cookie_name(LOGIN_COOKIE));
    let (Some(sign_in), Some(cookie_state)) = (query.state.as_deref(), cookie_state) else {
        return refused("console.error.sign_in_text");
    };
    if !constant_time_eq(sign_in.as_bytes(), cookie_state.as_bytes()) {
        return refused("console.error.sign_in_text");
    }
    let key = format!("console/sign-in/{}", state.keys().hash(sign_in));
    let pending: Option<PendingSignIn> = match state.short_lived().take(&key).await {
        Ok(bytes) => bytes.and_then(|b| serde_json::from_slice(&b).ok()),
        Err(e) => {
            tracing::warn!(error = %e, "console: reading a sign-in failed");
            return view::unavailable(&state, t);
        }
    };
    let Some(pending) = pending else {
        return refused("console.error.sign_in_text");
    };
    if query.error.is_some() {
        return refused("console.error.sign_in_denied");
    }
    let issuer = state.config().issuer.as_str().trim_end_matches('/');
    if query
        .iss
        .as_deref()
        .is_some_and(|iss| iss.trim_end_matches('/') != issuer)
    {
        return refused("console.error.sign_in_text");
    }
    let Some(code) = query.code else {
        return refused("console.error.sign_in_text");
    };
    let Some(sub) = redeem(&state, &code, &pending).await else {
        return refused("console.error.sign_in_text");
    };
    let user = state
        .api()
        .get(None, &format!("/admin/users/{}", crate::api::segment(&sub)))
        .await;
    if !user.ok() {
        return refused("console.error.sign_in_text");
    }
    let cookie = random_token(32);
    let record = SessionRecord {
        user_id: sub,
        username: user.str("username"),
    };
    let stored = match serde_json::to_vec(&record) {
        Ok(bytes) => {
            state
                .short_lived()
                .put(
                    &state.session_key(&cookie),
                    &bytes,
                    state.config().session_ttl,
                )
                .await
        }
        Err(e) => {
            tracing::error!(error = %e, "console: encoding a session failed");
            return view::unavailable(&state, t);
        }
    };
    if let Err(e) = stored {
        tracing::warn!(error = %e, "console: storing a session failed");
        return view::unavailable(&state, t);
    }
    let scope = state.cookie_scope();
    SeeOther::to(pending.return_to)
        .cookie(cookies::set(
            &state.cookie_name(SESSION_COOKIE),
            &cookie,
            Lifetime::MaxAge(state.config().session_ttl),
            &scope,
        ))
        .cookie(cookies::set(
            &state.cookie_name(LOGIN_COOKIE),
            "",
            Lifetime::Expired,
            &scope,
        ))
        .into_response()
}

/// Redeems the code at the public token endpoint, in process, and returns the ID token's `sub`.
async fn redeem(state: &ConsoleState, code: &str, pending: &PendingSignIn) -> Option<String> {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", &state.redirect_uri())
        .append_pair("client_id", CLIENT_ID)
        .append_pair("code_verifier", &pending.verifier)
        .finish();
    let request = axum::http::Request::builder()
        .method(Method::POST)
        .uri(format!("{}/oauth2/token", state.issuer_path()))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(axum::body::Body::from(form))
        .ok()?;
    let response = match state.public().clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1024 * 1024)
        .await
        .ok()?;
    let answer: Value = serde_json::from_slice(&bytes).ok()?;
    if !status.is_success() {
        let error = answer
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or_default();
        tracing::warn!(%status, error, "console: the code was not redeemed");
        return None;
    }
    let id_token = answer.get("id_token").and_then(Value::as_str)?;
    // No signature check: this ID token did not travel. It is the answer of this process's own
    // token endpoint to a request made in process (no network, no browser in between), the same
    // trust as reading the store. The claims that bind it to this sign-in are still checked.
    let claims = id_token_claims(id_token)?;
    let issuer = state.config().issuer.as_str().trim_end_matches('/');
    let aud_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == CLIENT_ID,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(CLIENT_ID)),
        _ => false,
    };
    let iss_ok = claims
        .get("iss")
        .and_then(Value::as_str)
        .is_some_and(|iss| iss.trim_end_matches('/') == issuer);
    let nonce_ok = claims.get("nonce").and_then(Value::as_str) == Some(pending.nonce.as_str());
    if !(aud_ok && iss_ok && nonce_ok) {
        tracing::warn!(
            aud_ok,
            iss_ok,
            nonce_ok,
            "console: the ID token does not match the sign-in"
        );
        return None;
    }
    claims.get("sub").and_then(Value::as_str).map(str::to_owned)
}

/// The claims of a compact JWS (its payload, base64url JSON).
fn id_token_claims(jwt: &str) -> Option<Value> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `POST /console/sign-out`.
pub(crate) async fn sign_out(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    fields: Fields,
) -> Response {
    let t = view::language(&headers);
    let operator = match require_form(&state, &headers, &fields, Need::Reviewer).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    if let Some(cookie) = state.session_cookie(&headers)
        && let Err(e) = state.short_lived().delete(&state.session_key(cookie)).await
    {
        tracing::warn!(error = %e, "console: deleting a session failed");
        return view::unavailable(&state, t);
    }
    tracing::info!(user = %operator.user_id, "console: signed out");
    let mut response = view::message(
        &state,
        t,
        StatusCode::OK,
        None,
        Notice::sign_in_again("console.signed_out.title", "console.signed_out.text"),
    );
    if let Some(expired) = cookies::set(
        &state.cookie_name(SESSION_COOKIE),
        "",
        Lifetime::Expired,
        &state.cookie_scope(),
    ) {
        response.headers_mut().append(header::SET_COOKIE, expired);
    }
    response
}

/// The console answers only on its own origin, and adds the login UI's security headers.
pub(crate) async fn origin_and_headers(
    State(state): State<ConsoleState>,
    request: Request,
    next: Next,
) -> Response {
    // HTTP/2 carries the host in the request target's authority, not in `Host`.
    let authority = request.uri().authority().map(|a| a.as_str().to_owned());
    if let Err(reason) = check_origin(
        &state.config().url,
        request.method(),
        request.headers(),
        authority.as_deref(),
    ) {
        tracing::warn!(reason, "console: a request from another origin was refused");
        let t = view::language(request.headers());
        let mut response = view::message(
            &state,
            t,
            StatusCode::FORBIDDEN,
            None,
            Notice::key("console.error.origin_title", "console.error.origin_text"),
        );
        add_security_headers(response.headers_mut());
        return response;
    }
    let mut response = next.run(request).await;
    add_security_headers(response.headers_mut());
    response
}

fn check_origin(
    url: &url::Url,
    method: &Method,
    headers: &HeaderMap,
    authority: Option<&str>,
) -> Result<(), &'static str> {
    let expected_host = match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => return Err("the console URL has no host"),
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or(authority)
        .unwrap_or_default();
    if !host.eq_ignore_ascii_case(&expected_host) {
        return Err("Host is not the console's");
    }
    if matches!(*method, Method::GET | Method::HEAD) {
        return Ok(());
    }
    let site = headers
        .get("sec-fetch-site")
        .map(|v| v.to_str().unwrap_or_default());
    if site.is_some_and(|site| !matches!(site, "same-origin" | "none")) {
        return Err("Sec-Fetch-Site is not same-origin");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let own = url.origin().ascii_serialization();
        match origin.to_str() {
            Ok(origin) if origin == own => {}
            // Pages sent with `Referrer-Policy: no-referrer` post with `Origin: null`; so does
            // a sandboxed frame, but that one's fetch metadata says `cross-site`.
            Ok("null") if site == Some("same-origin") => {}
            _ => return Err("Origin is not the console's"),
        }
    }
    Ok(())
}

fn add_security_headers(headers: &mut HeaderMap) {
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            gatehouse_login::headers::Csp::default().header_value(),
        );
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// Registers (or brings up to date) the console's own client at its issuer, through the admin
/// API: public, PKCE, `skip_consent`, scope `openid`, redirect URI `<console URL>/callback`.
/// Called before the first sign-in of each process (an idempotent check after that).
pub async fn ensure_client(state: &ConsoleState) -> Result<(), String> {
    let client = json!({
        "client_id": CLIENT_ID,
        "client_name": "Gatehouse console",
        "redirect_uris": [state.redirect_uri()],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "scope": "openid",
        "token_endpoint_auth_method": "none",
        "skip_consent": true,
    });
    let path = format!("/admin/clients/{CLIENT_ID}");
    let existing = state.api().get(None, &path).await;
    let answer = if existing.status == StatusCode::NOT_FOUND {
        state
            .api()
            .call(None, Method::POST, "/admin/clients", Some(client))
            .await
    } else if existing.ok() {
        let same = existing.body.get("redirect_uris") == client.get("redirect_uris")
            && existing.body.get("skip_consent") == Some(&Value::Bool(true))
            && existing.str("token_endpoint_auth_method") == "none"
            && existing.str("scope") == "openid";
        if same {
            return Ok(());
        }
        state
            .api()
            .call(None, Method::PUT, &path, Some(client))
            .await
    } else {
        existing
    };
    if answer.ok() {
        Ok(())
    } else {
        Err(answer.error_text())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_pages_of_the_console_are_returned_to() {
        assert_eq!(
            safe_return("/console", "/console/apps?q=a"),
            "/console/apps?q=a"
        );
        assert_eq!(safe_return("/console", "/console"), "/console");
        for outside in [
            "/consoles",
            "https://evil.example/console",
            "//evil.example",
            "/admin/clients",
            "/console/\\evil",
        ] {
            assert_eq!(safe_return("/console", outside), "/console", "{outside}");
        }
    }

    #[test]
    fn the_console_answers_only_its_own_origin() {
        let url = url::Url::parse("http://127.0.0.1:4445/console").unwrap();
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_static(v));
            }
            h
        };
        let own = headers(&[("host", "127.0.0.1:4445")]);
        assert!(check_origin(&url, &Method::GET, &own, None).is_ok());
        assert!(check_origin(&url, &Method::POST, &own, None).is_ok());
        let same = headers(&[
            ("host", "127.0.0.1:4445"),
            ("origin", "http://127.0.0.1:4445"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(check_origin(&url, &Method::POST, &same, None).is_ok());
        // DNS rebinding: another name for the same address.
        let rebound = headers(&[("host", "evil.example:4445")]);
        assert!(check_origin(&url, &Method::GET, &rebound, None).is_err());
        assert!(check_origin(&url, &Method::GET, &HeaderMap::new(), None).is_err());
        assert!(
            check_origin(
                &url,
                &Method::GET,
                &HeaderMap::new(),
                Some("127.0.0.1:4445")
            )
            .is_ok()
        );
        // Cross-site form posts.
        let foreign = headers(&[
            ("host", "127.0.0.1:4445"),
            ("origin", "https://evil.example"),
        ]);
        assert!(check_origin(&url, &Method::POST, &foreign, None).is_err());
        let cross = headers(&[("host", "127.0.0.1:4445"), ("sec-fetch-site", "cross-site")]);
        assert!(check_origin(&url, &Method::POST, &cross, None).is_err());
        let sibling = headers(&[("host", "127.0.0.1:4445"), ("sec-fetch-site", "same-site")]);
        assert!(check_origin(&url, &Method::POST, &sibling, None).is_err());
        // `Origin: null` (a no-referrer page's own form) only with same-origin fetch metadata.
        let own_null = headers(&[
            ("host", "127.0.0.1:4445"),
            ("origin", "null"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(check_origin(&url, &Method::POST, &own_null, None).is_ok());
        let sandboxed = headers(&[
            ("host", "127.0.0.1:4445"),
            ("origin", "null"),
            ("sec-fetch-site", "cross-site"),
        ]);
        assert!(check_origin(&url, &Method::POST, &sandboxed, None).is_err());
        let bare_null = headers(&[("host", "127.0.0.1:4445"), ("origin", "null")]);
        assert!(check_origin(&url, &Method::POST, &bare_null, None).is_err());
    }

    #[test]
    fn id_token_claims_are_read_from_the_payload() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"u1","nonce":"n"}"#);
        let claims = id_token_claims(&format!("e30.{payload}.sig")).unwrap();
        assert_eq!(claims["sub"], "u1");
        assert!(id_token_claims("garbage").is_none());
        assert!(id_token_claims("a.!!!.c").is_none());
    }
}
