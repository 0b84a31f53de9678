//! A browser-like driver of the login and consent flow, shared by the end-to-end tests: a
//! cookie jar, no automatic redirects (each hop is followed and checked), forms read from the
//! HTML.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION};

use gatehouse_testkit::e2e::Partner;
use gatehouse_testkit::fixtures::PKCE_VERIFIER;

/// The HTML of the form with `id`, from its start tag to its end tag.
pub fn form<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<form id=\"{id}\""))
        .unwrap_or_else(|| panic!("no form #{id} in:\n{html}"));
    let end = html[start..]
        .find("</form>")
        .map_or(html.len(), |e| start + e);
    &html[start..end]
}

/// The `action` of a form's HTML (the path the browser posts it to).
pub fn action(form_html: &str) -> String {
    let start = form_html
        .find("action=\"")
        .unwrap_or_else(|| panic!("no action in:\n{form_html}"))
        + "action=\"".len();
    let end = form_html[start..]
        .find('"')
        .map_or(form_html.len(), |e| start + e);
    form_html[start..end].to_owned()
}

/// The value of the input `name` in `html` (askama escapes attribute values).
pub fn input(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no input {name} in:\n{html}"))
        + marker.len();
    let end = start + html[start..].find('"').expect("a closing quote");
    html[start..end]
        .replace("&#43;", "+")
        .replace("&#61;", "=")
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&amp;", "&")
}

/// The `data-scope` of every listed scope on the consent page.
pub fn listed_scopes(html: &str) -> Vec<String> {
    let mut scopes: Vec<String> = html
        .split("data-scope=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect();
    scopes.sort();
    scopes
}

/// One hop of a browser: the status, the `Location` (when a redirect) and the body.
pub struct Hop {
    pub status: StatusCode,
    pub location: Option<String>,
    pub csp: Option<String>,
    /// Every `Set-Cookie` of the answer.
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Hop {
    pub async fn of(response: reqwest::Response) -> Self {
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let csp = response
            .headers()
            .get(CONTENT_SECURITY_POLICY)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let set_cookies = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect();
        let body = response.text().await.unwrap_or_default();
        Self {
            status,
            location,
            csp,
            set_cookies,
            body,
        }
    }

    /// The target of a `303 See Other` (what the login UI answers a form or the authorization
    /// request with).
    pub fn see_other(&self, context: &str) -> &str {
        assert_eq!(
            self.status,
            StatusCode::SEE_OTHER,
            "{context}: expected a redirect, got:\n{}",
            self.body
        );
        self.location.as_deref().expect("a Location header")
    }

    pub fn page(&self, context: &str) -> &str {
        assert_eq!(self.status, StatusCode::OK, "{context}:\n{}", self.body);
        &self.body
    }
}

impl std::fmt::Debug for Hop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let body: String = self.body.chars().take(600).collect();
        write!(f, "{} {:?}: {body}", self.status, self.location)
    }
}

/// One end user's browser on one listener (`base`, e.g. `http://127.0.0.1:4444`), with its own
/// cookie jar.
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Self::with_jar(base, std::sync::Arc::new(reqwest::cookie::Jar::default()))
    }

    /// A browser on `base` sharing `jar` (the same user's cookies on another host).
    pub fn with_jar(base: &str, jar: std::sync::Arc<reqwest::cookie::Jar>) -> Self {
        let http = reqwest::Client::builder()
            .cookie_provider(jar)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .expect("client");
        Self {
            http,
            base: base.to_owned(),
        }
    }

    fn absolute(&self, target: &str) -> String {
        if target.starts_with('/') {
            format!("{}{target}", self.base)
        } else {
            target.to_owned()
        }
    }

    /// GETs `target` (a path on `base` or an absolute URL). A transport error is a panic.
    pub async fn get(&self, target: &str) -> Hop {
        let url = self.absolute(target);
        Hop::of(
            self.http
                .get(&url)
                .send()
                .await
                .unwrap_or_else(|e| panic!("GET {url}: {e}")),
        )
        .await
    }

    /// POSTs `fields` as a form to `path` on `base`.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Hop {
        let url = self.absolute(path);
        Hop::of(
            self.http
                .post(&url)
                .form(fields)
                .send()
                .await
                .unwrap_or_else(|e| panic!("POST {url}: {e}")),
        )
        .await
    }

    /// Starts an authorization request for `partner`: the first hop after `/oauth2/auth`,
    /// followed when it leads to a page of the login UI.
    pub async fn start(&self, partner: &Partner, state: &str) -> Hop {
        let hop = self
            .get(&format!(
                "/oauth2/auth?{}",
                partner.authorization_query(state)
            ))
            .await;
        match hop.location.as_deref() {
            Some(to) if hop.status == StatusCode::SEE_OTHER && to.starts_with("/ui/") => {
                let to = to.to_owned();
                self.get(&to).await
            }
            _ => hop,
        }
    }

    /// Goes on from `hop` as a consenting user with `password`: submits the login form, then the
    /// consent form (remembering both), following the login UI's redirects, until the callback.
    /// Returns the callback's query, or the first hop that is neither (an error page).
    pub async fn finish(
        &self,
        partner: &Partner,
        password: &str,
        mut hop: Hop,
    ) -> Result<HashMap<String, String>, Hop> {
        for _ in 0..8 {
            if hop.status == StatusCode::SEE_OTHER {
                let to = hop.location.clone().unwrap_or_default();
                if to.starts_with(&partner.redirect_uri) {
                    let url = url::Url::parse(&to).expect("an absolute callback");
                    return Ok(url.query_pairs().into_owned().collect());
                }
                if !to.starts_with('/') {
                    return Err(hop);
                }
                hop = self.get(&to).await;
            } else if hop.status == StatusCode::OK && hop.body.contains("<form id=\"login-form\"") {
                let f = form(&hop.body, "login-form");
                let (csrf, challenge) = (input(f, "csrf_token"), input(f, "challenge"));
                hop = self
                    .post(
                        &action(f),
                        &[
                            ("csrf_token", csrf.as_str()),
                            ("challenge", challenge.as_str()),
                            ("username", partner.username),
                            ("password", password),
                            ("remember", "1"),
                        ],
                    )
                    .await;
            } else if hop.status == StatusCode::OK && hop.body.contains("<form id=\"consent-form\"")
            {
                let f = form(&hop.body, "consent-form");
                let (csrf, challenge) = (input(f, "csrf_token"), input(f, "challenge"));
                hop = self
                    .post(
                        &action(f),
                        &[
                            ("csrf_token", csrf.as_str()),
                            ("challenge", challenge.as_str()),
                            ("remember", "1"),
                            ("decision", "allow"),
                        ],
                    )
                    .await;
            } else {
                return Err(hop);
            }
        }
        Err(hop)
    }

    /// A whole flow as `partner`'s user: the authorization code, or the page it stopped at.
    pub async fn code(&self, partner: &Partner, state: &str) -> Result<String, Hop> {
        let hop = self.start(partner, state).await;
        let query = self.finish(partner, partner.password, hop).await?;
        assert_eq!(query.get("state").map(String::as_str), Some(state));
        Ok(query
            .get("code")
            .unwrap_or_else(|| panic!("no code in the callback: {query:?}"))
            .clone())
    }
}

/// The form of a token request redeeming `code` as `partner` (public client, PKCE).
pub fn code_form<'a>(partner: &'a Partner, code: &'a str) -> [(&'static str, &'a str); 5] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", partner.redirect_uri.as_str()),
        ("client_id", partner.client_id),
        ("code_verifier", PKCE_VERIFIER),
    ]
}

/// The form of a token request rotating `refresh_token` as `partner`.
pub fn refresh_form<'a>(
    partner: &'a Partner,
    refresh_token: &'a str,
) -> [(&'static str, &'a str); 3] {
    [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", partner.client_id),
    ]
}
