//! Reading the `Cookie` header and writing `Set-Cookie` (RFC 6265), with the attributes every
//! Gatehouse cookie carries: `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure` plus the
//! `__Host-` prefix when the issuer is https (so no subdomain can plant or read them).

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};

/// The session cookie's base name.
pub const SESSION: &str = "gatehouse_session";
/// The browser cookie: the random value CSRF tokens and challenges are bound to.
pub const BROWSER: &str = "gatehouse_browser";

/// The name a cookie has on the wire.
pub fn name(base: &str, secure: bool) -> String {
    if secure {
        format!("__Host-{base}")
    } else {
        base.to_owned()
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
pub fn set(name: &str, value: &str, lifetime: Lifetime, secure: bool) -> Option<HeaderValue> {
    let mut s = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    match lifetime {
        Lifetime::Browser => {}
        Lifetime::MaxAge(d) => s.push_str(&format!("; Max-Age={}", d.as_secs())),
        Lifetime::Expired => s.push_str("; Max-Age=0"),
    }
    if secure {
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
        let v = set(
            "__Host-x",
            "v",
            Lifetime::MaxAge(Duration::from_secs(60)),
            true,
        )
        .unwrap();
        assert_eq!(
            v.to_str().unwrap(),
            "__Host-x=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
        let v = set("x", "v", Lifetime::Browser, false).unwrap();
        assert!(!v.to_str().unwrap().contains("Max-Age"));
        assert_eq!(name("x", true), "__Host-x");
    }

    #[test]
    fn only_minted_tokens_are_accepted_as_values() {
        assert!(is_token(&gatehouse_core::secret::random_token(32)));
        assert!(!is_token("short"));
        assert!(!is_token(&"a".repeat(42).to_string().replace('a', "%")));
    }
}
