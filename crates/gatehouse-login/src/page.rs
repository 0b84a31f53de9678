//! Rendering: the page chrome every template shares, the templates, and the responses pages
//! and redirects travel in (status, cookies, per-page CSP).

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::scope::ScopeDefinition;

use crate::branding::Branding;
use crate::cookies;
use crate::csrf::Browser;
use crate::headers::Csp;
use crate::i18n::Tr;
use crate::state::LoginState;
use crate::token_client::ClientDisplay;

/// What the base layout needs: language, branding and the stylesheet links.
pub struct Chrome {
    pub t: Tr,
    /// The issuer's path, before every link and form action of the UI (`""` at the root).
    pub base: String,
    pub brand: Branding,
    pub css_href: String,
    pub brand_css_href: String,
    /// The passkey script, which pages with a passkey form load.
    pub passkey_js_href: String,
    /// The language switcher: every bundled language, each linking back to this page.
    pub languages: Vec<LanguageLink>,
}

impl LoginState {
    pub(crate) fn chrome(&self, t: Tr) -> Chrome {
        // After a form POST there is no page to go back to: the switcher leads to the start.
        let page = CURRENT_PAGE
            .try_with(Clone::clone)
            .ok()
            .flatten()
            .unwrap_or_else(|| self.path("/"));
        Chrome {
            languages: self.language_links(t, &page),
            t,
            base: self.config().base_path.clone(),
            brand: self.config().branding.clone(),
            css_href: self.assets().css_href.clone(),
            brand_css_href: self.assets().brand_css_href.clone(),
            passkey_js_href: self.assets().passkey_js_href.clone(),
        }
    }
}

/// The language for a page: `ui_locales` when the request has one, else the language picked
/// with the switcher, else `Accept-Language`.
pub fn language(ui_locales: Option<&str>, headers: &HeaderMap) -> Tr {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    // Under whichever prefix the issuer's scheme gave it: a preference, not a credential.
    let chosen = ["__Host-", "__Secure-", ""]
        .iter()
        .find_map(|prefix| cookies::get(headers, &format!("{prefix}{}", cookies::LANGUAGE)));
    Tr::choose(ui_locales, chosen, accept)
}

tokio::task_local! {
    /// The page being answered, for the language switcher's links back to it: the request's
    /// path and query on a GET, unset otherwise (set by the security-headers middleware).
    pub(crate) static CURRENT_PAGE: Option<String>;
}

/// One entry of the language switcher.
pub struct LanguageLink {
    pub tag: &'static str,
    /// The language's name in that language.
    pub name: String,
    pub href: String,
    pub current: bool,
}

impl LoginState {
    /// The language switcher's links, each back to `page` (a path on this origin).
    pub(crate) fn language_links(&self, t: Tr, page: &str) -> Vec<LanguageLink> {
        crate::i18n::locales()
            .iter()
            .map(|locale| {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("lang", locale.tag)
                    .append_pair("return", page)
                    .finish();
                LanguageLink {
                    tag: locale.tag,
                    name: Tr::language(locale.tag).get("language.name").to_owned(),
                    href: format!("{}?{query}", self.path("/ui/language")),
                    current: locale.tag == t.lang(),
                }
            })
            .collect()
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub page: Chrome,
    pub heading: String,
    pub client_name: Option<String>,
    pub challenge: Option<String>,
    /// The portal page to return to after signing in; the page then says partner accounts
    /// are created by operators.
    pub return_to: Option<String>,
    pub csrf: String,
    pub username: String,
    pub error: Option<String>,
    pub remember: bool,
    /// Said when the request's `id_token_hint` names another user than the one signed in.
    pub signed_in_as_other: Option<String>,
    /// "Forgot password?", when mail can be sent.
    pub forgot_href: Option<String>,
    /// "Create an account", when self-registration is on.
    pub register_href: Option<String>,
    /// A confirmation above the form (the password was just changed).
    pub notice: Option<String>,
    /// "Sign in with a passkey", when passkeys are on (shown by the passkey script): where the
    /// script fetches the ceremony's options when the button is pressed.
    pub passkey_options_href: Option<String>,
}

/// A started passkey ceremony, as a passkey form carries it: the id it posts back, and the
/// options for the browser (in a `data-` attribute, read by `passkey.js`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyForm {
    pub ceremony_id: String,
    pub options_json: String,
}

impl From<crate::token_client::PasskeyCeremony> for PasskeyForm {
    fn from(c: crate::token_client::PasskeyCeremony) -> Self {
        Self {
            ceremony_id: c.ceremony_id,
            options_json: c.options_json,
        }
    }
}

/// An enrolment's QR code and secret, as the second-factor page shows them.
pub struct EnrolmentView {
    /// The QR code of the `otpauth://` URI, an inline SVG drawn here (no script, no request).
    pub qr_svg: String,
    /// The secret for typing by hand, grouped by four.
    pub secret: String,
}

/// The second-factor form: a code at sign-in, or the first code of an enrolment (at sign-in or
/// on the security page).
#[derive(Template)]
#[template(path = "second_factor.html")]
pub struct SecondFactorPage {
    pub page: Chrome,
    pub heading: String,
    pub intro: String,
    pub enrolment: Option<EnrolmentView>,
    /// Where the form posts (below the base path).
    pub action: String,
    /// Hidden fields besides the CSRF token.
    pub hidden: Vec<(String, String)>,
    pub csrf: String,
    pub code_label: String,
    pub code_hint: String,
    /// Only digits are typed (an enrolment), so phones show a number pad.
    pub numeric: bool,
    pub error: Option<String>,
    /// A link away (back to the security page), if any.
    pub cancel_href: Option<String>,
    /// "Use a passkey", when the user has one (shown by the passkey script).
    pub passkey: Option<PasskeyForm>,
}

/// Recovery codes, shown once, and the way on.
#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodesPage {
    pub page: Chrome,
    pub codes: Vec<String>,
    /// A form that goes on (the sign-in), or else a link (`continue_href`).
    pub action: Option<String>,
    pub hidden: Vec<(String, String)>,
    pub csrf: String,
    pub continue_href: String,
}

/// One factor on the security page.
pub struct FactorView {
    pub id: String,
    /// What kind it is ("Passkey", "Authenticator app").
    pub kind: String,
    pub name: String,
    pub added: String,
    pub remove_label: String,
}

/// `/account/security`: the user's second factors and recovery codes.
#[derive(Template)]
#[template(path = "security.html")]
pub struct SecurityPage {
    pub page: Chrome,
    pub user_label: String,
    pub factors: Vec<FactorView>,
    pub recovery_codes_left: u32,
    pub csrf: String,
    /// What just happened (`added`, `removed`), said once.
    pub notice: Option<String>,
    /// Why a form was refused (no code, a wrong one, too many; a passkey not added).
    pub error: Option<String>,
    /// "Add a passkey", when passkeys are on (shown by the passkey script).
    pub passkey: Option<PasskeyForm>,
}

/// The QR code of `text` as an inline SVG element, or `None` when it does not fit in a QR code.
pub fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // Inline in HTML: the XML declaration goes, the element stays.
    let start = svg.find("<svg")?;
    Some(svg[start..].to_owned())
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage {
    pub page: Chrome,
    pub client: ClientDisplay,
    pub user_label: String,
    pub scopes: Vec<ScopeDefinition>,
    /// `offline` or `offline_access` was requested: the page says, in plain words, that the app
    /// keeps access while the user is away (OpenID Connect Core §11).
    pub offline: bool,
    pub challenge: String,
    pub csrf: String,
    pub switch_csrf: String,
}

pub struct AppView {
    pub client_id: String,
    pub name: String,
    pub logo_uri: Option<String>,
    /// The visible scopes' labels, in plain words.
    pub scopes: Vec<String>,
    pub granted: String,
    pub revoke_label: String,
}

#[derive(Template)]
#[template(path = "apps.html")]
pub struct AppsPage {
    pub page: Chrome,
    pub user_label: String,
    pub apps: Vec<AppView>,
    /// Where the developer portal is; `None` when it is off.
    pub portal_href: Option<String>,
    pub csrf: String,
    /// The sign-out form's token (the logout confirmation's).
    pub logout_csrf: String,
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage {
    pub page: Chrome,
    pub client_name: Option<String>,
    pub user_label: String,
    pub csrf: String,
    pub logout_challenge: String,
}

/// RFC 8628 §3.3: where the user types the code their device shows.
#[derive(Template)]
#[template(path = "device.html")]
pub struct DevicePage {
    pub page: Chrome,
    pub csrf: String,
    /// As typed (or from `?user_code=`), to show again.
    pub user_code: String,
    pub error: Option<String>,
}

/// After the user answered a device's request: back to the device.
#[derive(Template)]
#[template(path = "device_done.html")]
pub struct DeviceDonePage {
    pub page: Chrome,
    pub approved: bool,
}

#[derive(Template)]
#[template(path = "signed_out.html")]
pub struct SignedOutPage {
    pub page: Chrome,
    /// What the page says under its heading, already translated.
    pub text: String,
    /// Where "Sign in (again)" leads: the client's site, or the account sign-in.
    pub sign_in_href: String,
    pub sign_in_label: String,
}

/// OAuth 2.0 Form Post Response Mode: the authorization response as a form the browser posts
/// to the client at once (the inline script, allowed by its hash alone), with a button for
/// browsers that run no script.
#[derive(Template)]
#[template(path = "form_post.html")]
pub struct FormPostPage {
    pub page: Chrome,
    /// The redirect URI, exactly as registered and requested.
    pub action: String,
    pub fields: Vec<(&'static str, String)>,
    /// Always [`FORM_POST_SCRIPT`], the script the page's CSP allows by hash.
    pub script: &'static str,
}

/// The one inline script of any page: the form post's automatic submission. Its hash is in the
/// form post page's CSP (a test keeps them in step).
pub const FORM_POST_SCRIPT: &str = r#"document.getElementById("form-post").submit();"#;
/// `'sha256-…'` of [`FORM_POST_SCRIPT`].
pub const FORM_POST_SCRIPT_HASH: &str = "'sha256-rHR4htEz+6ArZXWis0CMYugFQxT9psKa9os4dBS6ohw='";

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub page: Chrome,
    pub code: String,
    pub title: String,
    pub message: String,
    /// The error description, for the client's developer.
    pub detail: Option<String>,
    /// "Start again": the original request of an expired challenge.
    pub restart_href: Option<String>,
}

/// A rendered page with its status, cookies and CSP.
pub struct Page {
    status: StatusCode,
    html: String,
    cookies: Vec<HeaderValue>,
    csp: Option<Csp>,
}

impl Page {
    pub fn render(status: StatusCode, template: &impl Template) -> Self {
        let html = match template.render() {
            Ok(html) => html,
            Err(e) => {
                tracing::error!(error = %e, "rendering a page failed");
                return Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    html: "<!doctype html><title>Error</title><p>Internal error</p>".into(),
                    cookies: Vec::new(),
                    csp: None,
                };
            }
        };
        Self {
            status,
            html,
            cookies: Vec::new(),
            csp: None,
        }
    }

    pub fn cookie(mut self, cookie: Option<HeaderValue>) -> Self {
        self.cookies.extend(cookie);
        self
    }

    pub fn csp(mut self, csp: Csp) -> Self {
        self.csp = Some(csp);
        self
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            self.html,
        )
            .into_response();
        let headers = response.headers_mut();
        for cookie in self.cookies {
            headers.append(header::SET_COOKIE, cookie);
        }
        if let Some(csp) = self.csp {
            headers.insert(header::CONTENT_SECURITY_POLICY, csp.header_value());
        }
        response
    }
}

/// `303 See Other` (RFC 9110 §15.4.4): after a form POST the browser follows with a GET.
pub struct SeeOther {
    location: String,
    cookies: Vec<HeaderValue>,
}

impl SeeOther {
    pub fn to(location: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            cookies: Vec::new(),
        }
    }

    pub fn cookie(mut self, cookie: Option<HeaderValue>) -> Self {
        self.cookies.extend(cookie);
        self
    }
}

impl IntoResponse for SeeOther {
    fn into_response(self) -> Response {
        let Ok(location) = HeaderValue::from_str(&self.location) else {
            tracing::error!("a redirect location is not a valid header value");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let mut response = StatusCode::SEE_OTHER.into_response();
        let headers = response.headers_mut();
        headers.insert(header::LOCATION, location);
        for cookie in self.cookies {
            headers.append(header::SET_COOKIE, cookie);
        }
        response
    }
}

/// The kinds of error page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// An authorization request that cannot be redirected back (unknown client, unregistered
    /// redirect URI): RFC 6749 §4.1.2.1 says to inform the user, never to redirect.
    BadRequest,
    /// The challenge is unknown, expired, used or from another browser.
    Expired,
    /// A form without a valid CSRF token.
    Csrf,
    /// A logout request that cannot be honoured.
    BadLogout,
    Unavailable,
    Internal,
}

impl Problem {
    fn status(self) -> StatusCode {
        match self {
            Self::BadRequest | Self::Expired | Self::BadLogout => StatusCode::BAD_REQUEST,
            Self::Csrf => StatusCode::FORBIDDEN,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn keys(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::BadRequest => (
                "error.request_title",
                "error.request_text",
                "invalid_request",
            ),
            Self::Expired => ("error.expired_title", "error.expired_text", "expired"),
            Self::Csrf => ("error.csrf_title", "error.csrf_text", "csrf"),
            Self::BadLogout => ("error.logout_title", "error.logout_text", "invalid_request"),
            Self::Unavailable => (
                "error.unavailable_title",
                "error.unavailable_text",
                "temporarily_unavailable",
            ),
            Self::Internal => (
                "error.internal_title",
                "error.internal_text",
                "server_error",
            ),
        }
    }

    /// The page for an error the token service answered: retry-later and internal errors are
    /// what they are; anything else is the request's fault (`otherwise`).
    pub fn from_oauth(error: &OAuthError, otherwise: Self) -> Self {
        match error.code {
            ErrorCode::TemporarilyUnavailable => Self::Unavailable,
            ErrorCode::ServerError => Self::Internal,
            _ => otherwise,
        }
    }
}

impl LoginState {
    /// An error page in the user's language. `detail` (an OAuth error from a client's request)
    /// is shown under "technical details" for the client's developer.
    pub(crate) fn error_page(&self, t: Tr, problem: Problem, detail: Option<&OAuthError>) -> Page {
        let (title, message, code) = problem.keys();
        let code = detail.map_or(code, |e| e.code.as_str());
        Page::render(
            problem.status(),
            &ErrorPage {
                page: self.chrome(t),
                code: code.to_owned(),
                title: t.get(title).to_owned(),
                message: t.get(message).to_owned(),
                detail: detail
                    .filter(|_| matches!(problem, Problem::BadRequest | Problem::BadLogout))
                    .map(|e| e.description.to_string()),
                restart_href: None,
            },
        )
    }

    /// The page for an authorization request whose redirect URI is not registered for its
    /// client: names the app and the address it asked for (escaped by the template, shortened
    /// when long).
    pub(crate) fn unregistered_redirect_page(
        &self,
        t: Tr,
        client_name: &str,
        uri: &str,
        error: &OAuthError,
    ) -> Page {
        const MAX_SHOWN: usize = 200;
        let shown = if uri.chars().count() > MAX_SHOWN {
            format!("{}…", uri.chars().take(MAX_SHOWN).collect::<String>())
        } else {
            uri.to_owned()
        };
        // `{client}` first: whatever the URI contains is not a placeholder.
        let message = t
            .with("error.redirect_uri_text", "client", client_name)
            .replace("{uri}", &shown);
        Page::render(
            Problem::BadRequest.status(),
            &ErrorPage {
                page: self.chrome(t),
                code: error.code.as_str().to_owned(),
                title: t.get("error.request_title").to_owned(),
                message,
                detail: Some(error.description.to_string()),
                restart_href: None,
            },
        )
    }

    /// The page for challenge `id` when it is gone: with "start again" when its original
    /// request is still known to this browser, else the plain expired page.
    pub(crate) async fn expired_page(&self, t: Tr, id: &str, browser: Option<&Browser>) -> Page {
        match self.challenges().original_request(id, browser).await {
            Ok(Some(_)) => {
                let (title, _, code) = Problem::Expired.keys();
                let minutes = self.config().challenge_ttl.as_secs().div_ceil(60).max(1);
                Page::render(
                    Problem::Expired.status(),
                    &ErrorPage {
                        page: self.chrome(t),
                        code: code.to_owned(),
                        title: t.get(title).to_owned(),
                        message: if minutes == 1 {
                            t.get("error.expired_restart_text_one_minute").to_owned()
                        } else {
                            t.with(
                                "error.expired_restart_text",
                                "minutes",
                                &minutes.to_string(),
                            )
                        },
                        detail: None,
                        restart_href: Some(format!("{}?challenge={id}", self.path("/ui/restart"))),
                    },
                )
            }
            Ok(None) => self.error_page(t, Problem::Expired, None),
            Err(e) => self.failure_page(t, &store_failure(e)),
        }
    }

    /// "You are signed out", with a way back in: to `client`'s site when it has one ("Sign in
    /// again to …": the app starts its own request), else to the account sign-in. `again` says
    /// whether the user just signed out (or never was signed in).
    pub(crate) fn signed_out_page(
        &self,
        t: Tr,
        again: bool,
        client: Option<&ClientDisplay>,
    ) -> Page {
        let product = &self.config().branding.product_name;
        let client_site = client.and_then(|c| {
            let site = web_url(c.client_uri.as_deref())?;
            (!c.name.trim().is_empty()).then_some((site, c.name.as_str()))
        });
        let (sign_in_href, sign_in_label) = match client_site {
            Some((site, name)) => (site, t.with("signed_out.sign_in_client", "client", name)),
            None if again => (
                self.path("/ui/login"),
                t.get("signed_out.sign_in_again").to_owned(),
            ),
            None => (
                self.path("/ui/login"),
                t.get("signed_out.sign_in").to_owned(),
            ),
        };
        let text = if again {
            t.with("signed_out.text", "product", product)
        } else {
            t.with("signed_out.not_signed_in", "product", product)
        };
        Page::render(
            StatusCode::OK,
            &SignedOutPage {
                page: self.chrome(t),
                text,
                sign_in_href,
                sign_in_label,
            },
        )
    }

    /// The error page for a failure reaching the store or the token service.
    pub(crate) fn failure_page(&self, t: Tr, error: &OAuthError) -> Page {
        self.error_page(t, Problem::from_oauth(error, Problem::Internal), None)
    }
}

/// A store failure as the OAuth error pages show it.
pub fn store_failure(e: gatehouse_core::store::StoreError) -> OAuthError {
    match e {
        gatehouse_core::store::StoreError::Unavailable { backend, message } => {
            tracing::warn!(backend, %message, "short-lived store unavailable");
            OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "the service is temporarily unavailable; retry shortly",
            )
        }
        other => {
            tracing::error!(error = %other, "short-lived store failure");
            OAuthError::server_error()
        }
    }
}

/// A link or image URL a page may show: absolute http(s) only. Registration already checks
/// this; the pages check again, as client records can also arrive by import.
pub fn web_url(uri: Option<&str>) -> Option<String> {
    let uri = uri?;
    let parsed = url::Url::parse(uri).ok()?;
    (matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some()).then(|| uri.to_owned())
}

/// The client as the consent page shows it: only web links.
pub fn displayable(client: &ClientDisplay) -> ClientDisplay {
    ClientDisplay {
        logo_uri: web_url(client.logo_uri.as_deref()),
        client_uri: web_url(client.client_uri.as_deref()),
        policy_uri: web_url(client.policy_uri.as_deref()),
        tos_uri: web_url(client.tos_uri.as_deref()),
        ..client.clone()
    }
}

/// How the pages name a scope: its catalogue label, or, for a scope the catalogue does not
/// describe (the token service then gives its name as the label), a phrase around its name.
pub fn scope_label(scope: &ScopeDefinition, t: Tr) -> String {
    let label = scope.label.trim();
    if label.is_empty() || label == scope.name.as_str() {
        t.with("consent.scope_generic", "scope", scope.name.as_str())
    } else {
        scope.label.clone()
    }
}

/// How the pages name a user: "Alice Example (alice)" or just the username.
pub fn user_label(name: Option<&str>, username: &str) -> String {
    match name.filter(|n| !n.trim().is_empty() && *n != username) {
        Some(name) => format!("{name} ({username})"),
        None => username.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_urls_are_shown() {
        assert_eq!(
            web_url(Some("https://partner.example.com")).as_deref(),
            Some("https://partner.example.com")
        );
        for bad in [
            "javascript:alert(1)",
            "data:text/html,x",
            "/relative",
            "https://",
        ] {
            assert_eq!(web_url(Some(bad)), None, "{bad}");
        }
    }

    #[test]
    fn the_form_posts_script_hash_is_its_scripts() {
        use base64::Engine as _;
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(FORM_POST_SCRIPT.as_bytes());
        let hash = base64::engine::general_purpose::STANDARD.encode(digest);
        assert_eq!(FORM_POST_SCRIPT_HASH, format!("'sha256-{hash}'"));
    }
}
