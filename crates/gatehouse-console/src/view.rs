//! The console's page chrome (layout, navigation, language switcher, stylesheets), its message
//! pages (403, unavailable, signed out) and the stylesheet and language routes.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_login::cookies::{self, Lifetime, Scope};
use gatehouse_login::i18n::Tr;
use gatehouse_login::page::{LanguageLink, Page, SeeOther};
use serde::Deserialize;

use crate::auth::Operator;
use crate::state::ConsoleState;

/// The query of an item's page (an app, a request, a user): `done` names the action that just
/// redirected there, for its notice.
#[derive(Deserialize, Default)]
pub struct ShowQuery {
    #[serde(default)]
    pub done: String,
}

const CONSOLE_CSS: &str = include_str!("../static/console.css");
/// The language picked with the console's switcher (a bundled language tag).
const LANGUAGE_COOKIE: &str = "gatehouse_console_lang";

/// One link of the console's navigation.
pub struct NavLink {
    pub href: String,
    pub label: String,
    pub current: bool,
}

/// What the console's layout needs.
pub struct Chrome {
    pub t: Tr,
    /// The console's path (`/console`), before every link and form action.
    pub base: String,
    pub product: String,
    pub css_href: String,
    pub brand_css_href: String,
    pub console_css_href: String,
    pub languages: Vec<LanguageLink>,
    pub nav: Vec<NavLink>,
    /// The signed-in operator's username, with the sign-out form's token.
    pub operator: Option<(String, String)>,
}

/// The language of a console page: the switcher's cookie, else `Accept-Language`.
pub fn language(headers: &HeaderMap) -> Tr {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let chosen = ["__Secure-", ""]
        .iter()
        .find_map(|prefix| cookies::get(headers, &format!("{prefix}{LANGUAGE_COOKIE}")));
    Tr::choose(None, chosen, accept)
}

impl ConsoleState {
    /// The chrome of a page at `page` (the path its language links return to), for `operator`.
    pub(crate) fn chrome(&self, t: Tr, page: &str, operator: Option<&Operator>) -> Chrome {
        let fingerprint = gatehouse_login::assets::fingerprint_of;
        let languages = gatehouse_login::i18n::locales()
            .iter()
            .map(|locale| {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("lang", locale.tag)
                    .append_pair("return", page)
                    .finish();
                LanguageLink {
                    tag: locale.tag,
                    name: Tr::language(locale.tag).get("language.name").to_owned(),
                    href: format!("{}?{query}", self.path("/language")),
                    current: locale.tag == t.lang(),
                }
            })
            .collect();
        let mut nav = Vec::new();
        if let Some(operator) = operator {
            let mut sections = vec![("/requests", "console.nav.requests")];
            if operator.admin {
                sections.extend([
                    ("/apps", "console.nav.apps"),
                    ("/scopes", "console.nav.scopes"),
                    ("/users", "console.nav.users"),
                    ("/keys", "console.nav.keys"),
                    ("/audit", "console.nav.audit"),
                ]);
            }
            for (path, key) in sections {
                let href = self.path(path);
                nav.push(NavLink {
                    current: page == href || page.starts_with(&format!("{href}/")),
                    href,
                    label: t.get(key).to_owned(),
                });
            }
        }
        Chrome {
            t,
            base: self.base_path().to_owned(),
            product: self.config().branding.product_name.clone(),
            css_href: format!(
                "{}?v={}",
                self.path("/static/gatehouse.css"),
                fingerprint(gatehouse_login::assets::stylesheet())
            ),
            brand_css_href: format!(
                "{}?v={}",
                self.path("/static/brand.css"),
                fingerprint(self.brand_css())
            ),
            console_css_href: format!(
                "{}?v={}",
                self.path("/static/console.css"),
                fingerprint(CONSOLE_CSS)
            ),
            languages,
            nav,
            operator: operator.map(|o| (o.username.clone(), o.csrf.clone())),
        }
    }
}

/// A message page's content: translation keys, and whether it offers to sign in again.
pub struct Notice {
    title: &'static str,
    text: &'static str,
    sign_in: bool,
}

impl Notice {
    pub fn key(title: &'static str, text: &'static str) -> Self {
        Self {
            title,
            text,
            sign_in: false,
        }
    }

    pub fn sign_in_again(title: &'static str, text: &'static str) -> Self {
        Self {
            title,
            text,
            sign_in: true,
        }
    }
}

#[derive(Template)]
#[template(path = "console_message.html")]
pub struct MessagePage {
    pub page: Chrome,
    pub title: String,
    pub text: String,
    pub sign_in_href: Option<String>,
}

/// A page that only says something (and maybe offers to sign in again).
pub fn message(
    state: &ConsoleState,
    t: Tr,
    status: StatusCode,
    operator: Option<&Operator>,
    notice: Notice,
) -> Response {
    Page::render(
        status,
        &MessagePage {
            page: state.chrome(t, &state.path(""), operator),
            title: t.get(notice.title).to_owned(),
            text: t.get(notice.text).to_owned(),
            sign_in_href: notice.sign_in.then(|| state.path("")),
        },
    )
    .into_response()
}

/// 403: signed in, but without the role the page needs.
pub fn forbidden(state: &ConsoleState, t: Tr, operator: Option<&Operator>) -> Response {
    message(
        state,
        t,
        StatusCode::FORBIDDEN,
        operator,
        Notice::key(
            "console.error.forbidden_title",
            "console.error.forbidden_text",
        ),
    )
}

/// 503: the short-lived store or the admin API failed.
pub fn unavailable(state: &ConsoleState, t: Tr) -> Response {
    message(
        state,
        t,
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        Notice::key("error.unavailable_title", "error.unavailable_text"),
    )
}

/// 404 for an item the admin API does not know.
pub fn not_found(state: &ConsoleState, t: Tr, operator: &Operator) -> Response {
    message(
        state,
        t,
        StatusCode::NOT_FOUND,
        Some(operator),
        Notice::key(
            "console.error.not_found_title",
            "console.error.not_found_text",
        ),
    )
}

/// `GET /console/static/{file}`: the login UI's stylesheet, the branding's, the console's.
pub async fn stylesheet(State(state): State<ConsoleState>, Path(file): Path<String>) -> Response {
    let body = match file.as_str() {
        "gatehouse.css" => gatehouse_login::assets::stylesheet().to_owned(),
        "brand.css" => state.brand_css().to_owned(),
        "console.css" => CONSOLE_CSS.to_owned(),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        body,
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct LanguageQuery {
    lang: String,
    #[serde(rename = "return")]
    return_to: Option<String>,
}

/// `GET /console/language?lang=de&return=/console/apps`: remembers the language, back to the page.
pub async fn switch_language(
    State(state): State<ConsoleState>,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let back = query
        .return_to
        .filter(|r| r.starts_with(state.base_path()) && !r.starts_with("//") && !r.contains('\\'))
        .unwrap_or_else(|| state.path(""));
    if !Tr::is_bundled(&query.lang) {
        return SeeOther::to(back).into_response();
    }
    let scope = Scope::new(state.config().url.scheme() == "https", state.base_path());
    SeeOther::to(back)
        .cookie(cookies::set(
            &cookies::name(LANGUAGE_COOKIE, &scope),
            &query.lang,
            Lifetime::MaxAge(std::time::Duration::from_secs(365 * 24 * 60 * 60)),
            &scope,
        ))
        .into_response()
}

/// A time from the admin API (RFC 3339) as the pages show it: `2026-12-06 19:30 UTC`.
pub fn when(rfc3339: &str) -> String {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|at| {
            let format =
                time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
            at.to_offset(time::UtcOffset::UTC).format(format).ok()
        })
        .unwrap_or_else(|| rfc3339.to_owned())
}
