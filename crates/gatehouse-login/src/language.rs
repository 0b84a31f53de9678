//! `GET /ui/language?lang=…&return=…`: the language switcher every page carries (links, no
//! script). It remembers the picked language in a cookie for a year and goes back to the page;
//! `return` must be a path on this origin, anything else leads to the start page, so the switch
//! is no open redirect. The cookie wins over `Accept-Language`, never over a request's
//! `ui_locales` (see `i18n.rs`).

use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};

use crate::cookies::{self, Lifetime};
use crate::form::Fields;
use crate::i18n::Tr;
use crate::page::SeeOther;
use crate::state::LoginState;

/// How long the picked language is remembered.
const REMEMBERED: Duration = Duration::from_secs(365 * 24 * 3600);

/// Longest `return` path accepted.
const MAX_RETURN: usize = 4096;

pub async fn switch(State(state): State<LoginState>, RawQuery(query): RawQuery) -> Response {
    let query = Fields::query(query.as_deref());
    let target = query
        .get("return")
        .filter(|r| is_local_path(r))
        .map_or_else(|| state.path("/"), str::to_owned);
    let scope = state.cookies();
    let cookie = query
        .get("lang")
        .filter(|tag| Tr::is_bundled(tag))
        .and_then(|tag| {
            cookies::set(
                &cookies::name(cookies::LANGUAGE, scope),
                tag,
                Lifetime::MaxAge(REMEMBERED),
                scope,
            )
        });
    SeeOther::to(target).cookie(cookie).into_response()
}

/// A path on this origin: `/…`, but not `//host` or `/\host` (which browsers read as another
/// host), ASCII only (a request's own path and query always are), no whitespace or control
/// characters.
pub fn is_local_path(value: &str) -> bool {
    value.starts_with('/')
        && !value.starts_with("//")
        && !value.contains('\\')
        && value.len() <= MAX_RETURN
        && value.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_on_this_origin_are_returned_to() {
        for good in [
            "/",
            "/ui/login?challenge=abc",
            "/api/account/apps?revoked=1",
        ] {
            assert!(is_local_path(good), "{good}");
        }
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example/",
            "\\\\evil.example",
            "/ui/login\r\nSet-Cookie: x=1",
            "/ a",
            "/ü",
            "javascript:alert(1)",
        ] {
            assert!(!is_local_path(bad), "{bad:?}");
        }
        assert!(!is_local_path(&format!("/{}", "a".repeat(MAX_RETURN))));
    }
}
