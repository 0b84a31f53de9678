//! Reading the `Cookie` header and writing `Set-Cookie` (RFC 6265), with the attributes every
//! Gatehouse cookie carries: `HttpOnly`, `SameSite=Lax`, `Path=` the issuer's path (`/` for an
//! issuer without one), and, when the issuer is https, `Secure` plus the `__Host-` prefix (so no
//! subdomain can plant or read them), or `__Secure-` for an issuer with a path (`__Host-` requires
//! `Path=/`).

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};

/// The session cookie's base name.
pub const SESSION: &str = "gatehouse_session";
/// The browser cookie: the random value CSRF tokens and challenges are bound to.
pub const BROWSER: &str = "gatehouse_browser";
/// The language picked with the pages' language switcher (a bundled language tag).
pub const LANGUAGE: &str = "gatehouse_lang";

/// Where the cookies apply: https or not, and the issuer's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub secure: bool,
    /// `/`, or the issuer's path (`/api`).
    pub path: String,
}

impl Scope {
    pub fn new(secure: bool, base_path: &str) -> Self {
        Self {
            secure,
            path: if base_path.is_empty() {
                "/".to_owned()
            } else {
                base_path.to_owned()
            },
        }
    }
}

/// The name a cookie has on the wire.
pub fn name(base: &str, scope: &Scope) -> String {
    match (scope.secure, scope.path.as_str()) {
        (false, _) => base.to_owned(),
        (true, "/") => format!("__Host-{base}"),
        (true, _) => format!("__Secure-{base}"),
    }
}

/// The value of cookie `name`, from any `Cookie` header.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// Whether a cookie value looks like one we minted (`random_token(32)`: 43 base64url
/// characters); anything else is ignored rather than looked up.
pub fn is_token(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// How long a cookie lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Until the browser closes (no `Max-Age`).
    Browser,
    MaxAge(Duration),
    /// Delete it now.
    Expired,
}

/// A `Set-Cookie` value. `value` is one of our tokens, so it needs no quoting.
pub fn set(name: &str, value: &str, lifetime: Lifetime, scope: &Scope) -> Option<HeaderValue> {
    let mut s = format!(
        "{name}={value}; Path={}; HttpOnly; SameSite=Lax",
        scope.path
    );
    match lifetime {
        Lifetime::Browser => {}
        Lifetime::MaxAge(d) => s.push_str(&format!("; Max-Age={}", d.as_secs())),
        Lifetime::Expired => s.push_str("; Max-Age=0"),
    }
    if scope.secure {
        s.push_str("; Secure");
    }
    HeaderValue::from_str(&s).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn finds_a_cookie_among_several_headers() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        h.append(
            header::COOKIE,
            HeaderValue::from_static("gatehouse_session=xyz"),
        );
        assert_eq!(get(&h, "b"), Some("2"));
        assert_eq!(get(&h, "gatehouse_session"), Some("xyz"));
        assert_eq!(get(&h, "c"), None);
    }

    #[test]
    fn set_cookie_carries_the_safe_attributes() {
        let root = Scope::new(true, "");
        let v = set(
            "__Host-x",
            "v",
            Lifetime::MaxAge(Duration::from_secs(60)),
            &root,
        )
        .unwrap();
        assert_eq!(
            v.to_str().unwrap(),
            "__Host-x=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
        let v = set("x", "v", Lifetime::Browser, &Scope::new(false, "")).unwrap();
        assert!(!v.to_str().unwrap().contains("Max-Age"));
        assert_eq!(name("x", &root), "__Host-x");
    }

    #[test]
    fn an_issuer_with_a_path_scopes_its_cookies_to_it() {
        let api = Scope::new(true, "/api");
        assert_eq!(name("x", &api), "__Secure-x", "__Host- requires Path=/");
        let v = set("__Secure-x", "v", Lifetime::Browser, &api).unwrap();
        assert_eq!(
            v.to_str().unwrap(),
            "__Secure-x=v; Path=/api; HttpOnly; SameSite=Lax; Secure"
        );
        assert_eq!(name("x", &Scope::new(false, "/api")), "x");
    }

    #[test]
    fn only_minted_tokens_are_accepted_as_values() {
        assert!(is_token(&gatehouse_core::secret::random_token(32)));
        assert!(!is_token("short"));
        assert!(!is_token(&"a".repeat(42).to_string().replace('a', "%")));
    }
}
