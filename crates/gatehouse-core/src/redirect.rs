//! Redirect URIs: the registration rules (RFC 6749 §3.1.2, RFC 8252 §7, RFC 9700 §2.1) and the
//! matching rule used at the authorization and token endpoints.
//!
//! Matching is by exact string comparison, with one exception RFC 8252 §7.3 requires for native
//! apps: for the loopback IP literals `127.0.0.1` and `[::1]` any port is accepted, and only the
//! port (RFC 9700 §4.1.3: "the only variation allowed is the port"). `localhost` is matched
//! exactly (RFC 8252 §8.3 advises against it, so we do not widen it).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use url::{Host, Url};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("redirect URI {0:?} is not an absolute URI")]
    NotAbsolute(String),
    #[error("redirect URI {0:?} must not contain a fragment")]
    Fragment(String),
    #[error(
        "redirect URI {0:?} uses plain http on a non-loopback host; use https (or enable allow_insecure_redirect_uris)"
    )]
    InsecureHttp(String),
    #[error("redirect URI {0:?} uses the forbidden scheme {1:?}")]
    ForbiddenScheme(String, String),
    #[error("redirect URI {0:?} must not contain user information")]
    UserInfo(String),
    #[error("redirect URI {0:?} contains a space or a control character")]
    NotAUri(String),
}

/// Schemes that execute or embed content instead of navigating to an app.
const FORBIDDEN_SCHEMES: [&str; 6] = ["javascript", "data", "vbscript", "file", "about", "blob"];

/// Checks one URI offered at client registration.
///
/// `allow_insecure_http` is the operator's opt-in for plain http on non-loopback hosts.
pub fn validate_registered(uri: &str, allow_insecure_http: bool) -> Result<(), RedirectUriError> {
    // Matching compares the URI as written, and the URL parser would silently drop a TAB or a
    // newline: refuse what RFC 3986 does not allow in a URI at all.
    if uri.chars().any(|c| c == ' ' || c.is_control()) {
        return Err(RedirectUriError::NotAUri(uri.to_owned()));
    }
    let parsed = Url::parse(uri).map_err(|_| RedirectUriError::NotAbsolute(uri.to_owned()))?;
    // Any `#` starts a fragment, and matching compares the URI as written.
    if uri.contains('#') {
        return Err(RedirectUriError::Fragment(uri.to_owned()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(RedirectUriError::UserInfo(uri.to_owned()));
    }
    let scheme = parsed.scheme();
    if FORBIDDEN_SCHEMES.contains(&scheme) {
        return Err(RedirectUriError::ForbiddenScheme(
            uri.to_owned(),
            scheme.to_owned(),
        ));
    }
    // Private-use URI schemes for native apps (RFC 8252 §7.1), e.g. `com.example.app:/cb`,
    // pass; http(s) needs a host, and plain http a loopback one unless the operator opts in.
    if matches!(scheme, "https" | "http") && parsed.host().is_none() {
        return Err(RedirectUriError::NotAbsolute(uri.to_owned()));
    }
    if scheme == "http" && !allow_insecure_http && !is_loopback_host(&parsed, true) {
        return Err(RedirectUriError::InsecureHttp(uri.to_owned()));
    }
    Ok(())
}

/// A registered redirection URI: passed [`validate_registered`] when the client was registered.
/// It is kept exactly as the operator wrote it, since matching compares strings (RFC 6749
/// §3.1.2.3), and derefs to `str`.
///
/// Read back from a store, it is checked again without the operator's policy (a URI registered
/// under `allow_insecure_redirect_uris` stays readable after the option is turned off).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Checks `uri` against the registration rules; `allow_insecure_http` is the operator's
    /// opt-in for plain http on non-loopback hosts.
    pub fn parse(uri: &str, allow_insecure_http: bool) -> Result<Self, RedirectUriError> {
        validate_registered(uri, allow_insecure_http)?;
        Ok(Self(uri.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URI a request names, when it matches one of `registered` by the rule in the module
    /// docs: the request's own spelling (it may differ from the registered URI only in the port
    /// of a loopback IP literal), which is where the response then goes.
    pub fn matching(registered: &[RedirectUri], requested: &str) -> Option<Self> {
        find_match(registered, requested).map(|_| Self(requested.to_owned()))
    }
}

impl std::ops::Deref for RedirectUri {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for RedirectUri {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for RedirectUri {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl<'de> Deserialize<'de> for RedirectUri {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Self::parse(&s, true).map_err(serde::de::Error::custom)
    }
}

/// Whether `url` points at this machine. `localhost` counts when `include_localhost` is set.
pub fn is_loopback_host(url: &Url, include_localhost: bool) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => include_localhost && d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Finds the registered URI that `requested` matches, per the rule in the module docs.
///
/// The loopback exception compares the raw strings with only the port taken out (RFC 8252 §7.3,
/// RFC 9700 §4.1.3): no URL normalisation happens, so `127.1`, `2130706433`, `HTTP://`, dot
/// segments, control characters or percent-encoding never turn into a match.
pub fn find_match<'a>(registered: &'a [RedirectUri], requested: &str) -> Option<&'a RedirectUri> {
    if let Some(exact) = registered.iter().find(|r| r.as_str() == requested) {
        return Some(exact);
    }
    let requested = without_loopback_port(requested)?;
    registered
        .iter()
        .find(|reg| without_loopback_port(reg).is_some_and(|reg| reg == requested))
}

/// The loopback IP literals RFC 8252 §7.3 names, as they must be written.
const LOOPBACK_PREFIXES: [&str; 2] = ["http://127.0.0.1", "http://[::1]"];

/// `uri` with its port removed, when it is a plain-http URI on a loopback IP literal spelled
/// exactly `127.0.0.1` or `[::1]` whose port (if any) is a decimal number in 1..=65535 without a
/// leading zero, and whose remainder has no fragment and no character outside the printable
/// ASCII range. `None` for anything else, which then only matches exactly.
fn without_loopback_port(uri: &str) -> Option<(&'static str, &str)> {
    let prefix = LOOPBACK_PREFIXES.into_iter().find(|p| uri.starts_with(p))?;
    let rest = &uri[prefix.len()..];
    let rest = match rest.strip_prefix(':') {
        Some(port_and_rest) => {
            let digits = port_and_rest.bytes().take_while(u8::is_ascii_digit).count();
            let (port, rest) = port_and_rest.split_at(digits);
            if port.is_empty() || port.starts_with('0') || port.parse::<u16>().is_err() {
                return None;
            }
            rest
        }
        None => rest,
    };
    let well_formed = (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
        && !rest.contains('#')
        && rest.bytes().all(|b| b.is_ascii_graphic());
    well_formed.then_some((prefix, rest))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic, clippy::unwrap_used)]
    use super::*;

    fn reg(list: &[&str]) -> Vec<RedirectUri> {
        list.iter()
            .map(|s| RedirectUri::parse(s, false).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    fn find_match<'a>(registered: &'a [RedirectUri], requested: &str) -> Option<&'a str> {
        super::find_match(registered, requested).map(RedirectUri::as_str)
    }

    #[test]
    fn registration_accepts_https_loopback_http_and_private_schemes() {
        for ok in [
            "https://app.example.com/cb",
            "http://127.0.0.1:5555/callback",
            "http://[::1]/cb",
            "http://localhost:3000/api/auth/callback/neon",
            "com.example.app:/oauth2redirect",
        ] {
            assert_eq!(validate_registered(ok, false), Ok(()), "{ok}");
        }
    }

    #[test]
    fn registration_refuses_fragment_relative_insecure_and_script_uris() {
        assert!(matches!(
            validate_registered("https://a.example/cb#x", false),
            Err(RedirectUriError::Fragment(_))
        ));
        assert!(matches!(
            validate_registered("/cb", false),
            Err(RedirectUriError::NotAbsolute(_))
        ));
        assert!(matches!(
            validate_registered("http://app.example/cb", false),
            Err(RedirectUriError::InsecureHttp(_))
        ));
        assert_eq!(validate_registered("http://app.example/cb", true), Ok(()));
        assert!(matches!(
            validate_registered("javascript:alert(1)", false),
            Err(RedirectUriError::ForbiddenScheme(..))
        ));
        assert!(matches!(
            validate_registered("data:text/html,hi", false),
            Err(RedirectUriError::ForbiddenScheme(..))
        ));
        assert!(matches!(
            validate_registered("https://u:p@a.example/cb", false),
            Err(RedirectUriError::UserInfo(_))
        ));
    }

    #[test]
    fn exact_match_is_required_for_ordinary_hosts() {
        let r = reg(&["https://app.example.com/cb"]);
        assert_eq!(
            find_match(&r, "https://app.example.com/cb"),
            Some("https://app.example.com/cb")
        );
        assert_eq!(find_match(&r, "https://app.example.com/cb/"), None);
        assert_eq!(find_match(&r, "https://app.example.com/cb?x=1"), None);
        assert_eq!(find_match(&r, "https://APP.example.com/cb"), None);
        assert_eq!(find_match(&r, "https://app.example.com:444/cb"), None);
    }

    #[test]
    fn loopback_ip_literals_match_any_port() {
        let r = reg(&["http://127.0.0.1/callback", "http://[::1]:8080/cb"]);
        assert_eq!(
            find_match(&r, "http://127.0.0.1:5555/callback"),
            Some("http://127.0.0.1/callback")
        );
        assert_eq!(
            find_match(&r, "http://[::1]:9999/cb"),
            Some("http://[::1]:8080/cb")
        );
        assert_eq!(find_match(&r, "http://127.0.0.1:5555/other"), None);
        assert_eq!(find_match(&r, "http://127.0.0.2:5555/callback"), None);
    }

    #[test]
    fn loopback_redirect_uris_match_exactly_except_the_port() {
        let r = reg(&["http://127.0.0.1/callback", "http://[::1]/cb"]);
        for (attack, why) in [
            ("http://127.1:5555/callback", "short IPv4 form"),
            ("http://2130706433:5555/callback", "decimal IPv4 form"),
            ("http://0x7f.0.0.1:5555/callback", "hex IPv4 form"),
            ("HTTP://127.0.0.1:5555/callback", "upper-case scheme"),
            ("http://127.0.0.1:5555/x/../callback", "dot segments"),
            ("http://127.0.0.1:5555/call\tback", "a TAB in the path"),
            ("http://127.0.0.1:5555/call\nback", "a newline in the path"),
            ("http://127.0.0.1:0/callback", "port 0"),
            ("http://127.0.0.1:/callback", "an empty port"),
            ("http://127.0.0.1:65536/callback", "a port out of range"),
            (
                "http://127.0.0.1:05555/callback",
                "a port with a leading zero",
            ),
            ("http://127.0.0.1:5555/callback/", "a trailing slash"),
            ("http://127.0.0.1:5555/%63allback", "a percent-encoded path"),
            ("http://127.0.0.1:5555/callback?", "an empty query"),
            ("http://user@127.0.0.1:5555/callback", "user information"),
            ("http://[0:0::1]:5555/cb", "another spelling of ::1"),
            ("http://[::1]:5555/cb#x", "a fragment"),
        ] {
            assert_eq!(find_match(&r, attack), None, "{why}: {attack:?}");
        }
        assert_eq!(
            find_match(&r, "http://127.0.0.1:5555/callback"),
            Some("http://127.0.0.1/callback")
        );
        assert_eq!(
            find_match(&r, "http://127.0.0.1:65535/callback"),
            Some("http://127.0.0.1/callback")
        );
        assert_eq!(find_match(&r, "http://[::1]:1/cb"), Some("http://[::1]/cb"));
    }

    #[test]
    fn localhost_is_matched_exactly() {
        let r = reg(&["http://localhost:3000/cb"]);
        assert_eq!(
            find_match(&r, "http://localhost:3000/cb"),
            Some("http://localhost:3000/cb")
        );
        assert_eq!(find_match(&r, "http://localhost:3001/cb"), None);
    }

    #[test]
    fn user_information_is_refused_with_or_without_a_password() {
        for uri in [
            "https://user@a.example/cb",
            "https://:pw@a.example/cb",
            "https://u:p@a.example/cb",
        ] {
            assert!(
                matches!(
                    validate_registered(uri, true),
                    Err(RedirectUriError::UserInfo(_))
                ),
                "{uri}"
            );
        }
    }

    #[test]
    fn spaces_and_control_characters_are_refused_at_registration() {
        // The URL parser would silently drop a TAB or newline; the URI is kept as written, so
        // it must not contain any.
        for uri in [
            "http://127.0.0.1/call\tback",
            "https://a.example/c\nb",
            "https://a.example/c b",
            "https://a.example/cb\u{7f}",
        ] {
            assert!(
                matches!(
                    validate_registered(uri, true),
                    Err(RedirectUriError::NotAUri(_))
                ),
                "{uri:?}"
            );
        }
    }

    #[test]
    fn a_redirect_uri_compares_as_its_string() {
        let uri = RedirectUri::parse("https://app.example/cb", false).unwrap();
        assert!(uri == *"https://app.example/cb" && uri == "https://app.example/cb");
        assert!(uri != *"https://app.example/cb/" && uri != "https://app.example/other");
        assert_eq!(uri.to_string(), "https://app.example/cb");
        assert_eq!(&*uri, "https://app.example/cb");
        assert!(serde_json::from_str::<RedirectUri>("\"/relative\"").is_err());
        assert_eq!(
            RedirectUri::matching(std::slice::from_ref(&uri), "https://app.example/cb").as_ref(),
            Some(&uri)
        );
        let loopback = RedirectUri::parse("http://127.0.0.1/cb", false).unwrap();
        assert_eq!(
            RedirectUri::matching(&[loopback], "http://127.0.0.1:5555/cb")
                .map(|m| m.to_string())
                .as_deref(),
            Some("http://127.0.0.1:5555/cb")
        );
    }

    #[test]
    fn only_a_well_formed_loopback_uri_loses_its_port() {
        assert_eq!(
            without_loopback_port("http://127.0.0.1:5555/cb?x=1"),
            Some(("http://127.0.0.1", "/cb?x=1"))
        );
        assert_eq!(
            without_loopback_port("http://[::1]"),
            Some(("http://[::1]", ""))
        );
        for refused in [
            "http://127.0.0.1:5555/cb#x",
            "http://127.0.0.1:5555/c\tb",
            "http://127.0.0.1:5555/c b",
            "http://127.0.0.1:5555cb",
            "https://127.0.0.1:5555/cb",
        ] {
            assert_eq!(without_loopback_port(refused), None, "{refused:?}");
        }
    }
}
