//! A browser's cookie jar for one origin: `Set-Cookie` in, `Cookie` out, with path matching and
//! deletion (`Max-Age=0` or an expiry in the past). One jar per simulated browser (per flow).

use hyper::header::{HeaderMap, SET_COOKIE};

#[derive(Debug, Default)]
pub struct Jar {
    /// (name, path, value)
    cookies: Vec<(String, String, String)>,
}

impl Jar {
    /// Takes every `Set-Cookie` of a response to a request for `request_path`.
    pub fn store(&mut self, request_path: &str, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            self.store_one(request_path, value);
        }
    }

    fn store_one(&mut self, request_path: &str, set_cookie: &str) {
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
        let mut path = default_path(request_path);
        let mut delete = false;
        for attr in parts {
            let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("path") && v.starts_with('/') {
                v.clone_into(&mut path);
            } else if k.eq_ignore_ascii_case("max-age") {
                delete |= v.parse::<i64>().is_ok_and(|s| s <= 0);
            } else if k.eq_ignore_ascii_case("expires") {
                // Servers delete a cookie with the epoch; no live cookie here expires in 1970.
                delete |= v.contains("1970");
            }
        }
        self.cookies.retain(|(n, p, _)| !(*n == name && *p == path));
        if !delete {
            self.cookies.push((name, path, value));
        }
    }

    /// The `Cookie` header for a request to `path`, if any cookie applies.
    pub fn header_for(&self, path: &str) -> Option<String> {
        let mut out = String::new();
        for (name, cookie_path, value) in &self.cookies {
            if path_matches(path, cookie_path) {
                if !out.is_empty() {
                    out.push_str("; ");
                }
                out.push_str(name);
                out.push('=');
                out.push_str(value);
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

/// RFC 6265 §5.1.4 default-path: the request path up to (not including) its last `/`.
fn default_path(request_path: &str) -> String {
    let path = request_path.split('?').next().unwrap_or("/");
    match path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => path[..i].to_owned(),
    }
}

/// RFC 6265 §5.1.4 path-match.
fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    let path = request_path.split('?').next().unwrap_or("/");
    path == cookie_path
        || (path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || path[cookie_path.len()..].starts_with('/')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(SET_COOKIE, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn sends_cookies_whose_path_matches_and_forgets_deleted_ones() {
        let mut jar = Jar::default();
        jar.store(
            "/oauth2/auth?x=1",
            &headers(&["a=1; Path=/; HttpOnly", "b=2; path=/interaction/abc", "c=3"]),
        );
        assert_eq!(jar.header_for("/ui/login").as_deref(), Some("a=1"));
        assert_eq!(
            jar.header_for("/interaction/abc/login").as_deref(),
            Some("a=1; b=2")
        );
        assert_eq!(jar.header_for("/oauth2/token").as_deref(), Some("a=1; c=3"));
        jar.store("/", &headers(&["a=; Path=/; Max-Age=0"]));
        assert_eq!(jar.header_for("/ui/login"), None);
        assert_eq!(jar.header_for("/interaction/abcd"), None);
    }
}
