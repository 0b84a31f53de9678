//! Partner onboarding: a partner's request for an OAuth client, reviewed by an operator.
//!
//! A [`RegistrationRequest`] carries the app as the partner described it ([`AppRequest`]),
//! its review state ([`RequestStatus`]) and, once approved, the client made from it. The app is
//! validated here with the same rules as the admin API's client registration (redirect URIs with
//! the RFC 8252 loopback rule, logo and website links), with bounded lengths; whether its scopes
//! are in the visible catalogue is checked where the catalogue is known ([`check_scopes`]).
//!
//! A scope change of an approved app goes back to review: the request becomes `pending` again
//! while it keeps its `client_id`, and the client keeps its old scopes until an operator approves
//! the request again (approval then updates the existing client instead of creating one).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::client::ClientId;
use crate::error::{ErrorCode, OAuthError};
use crate::registration::{
    RegistrationPolicy, parse_redirect_uris, validate_link_uri, validate_logo_uri,
};
use crate::scope::{ScopeDefinition, ScopeSet};

/// The prefix of every request id.
pub const REQUEST_ID_PREFIX: &str = "rr_";
/// Bytes of randomness in a request id.
const REQUEST_ID_BYTES: usize = 16;

/// Longest app name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest description, reason and review reason, in characters.
pub const MAX_TEXT_CHARS: usize = 2_000;
/// Longest contact name, in characters.
pub const MAX_CONTACT_CHARS: usize = 200;
/// Longest website or logo URI, in bytes.
pub const MAX_URI_BYTES: usize = 2_000;
/// Most redirect URIs one app may register.
pub const MAX_REDIRECT_URIS: usize = 20;
/// Most scopes one app may ask for.
pub const MAX_SCOPES: usize = 50;

/// The largest logo the logo store accepts: 256 KB.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;
/// Content types the logo store accepts (an SVG is sanitised before it is stored).
pub const LOGO_CONTENT_TYPES: [&str; 3] = ["image/png", "image/jpeg", "image/svg+xml"];
/// The prefix of every logo id.
pub const LOGO_ID_PREFIX: &str = "logo_";

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Waiting for an operator (new, resubmitted, or an approved app's scope change).
    Pending,
    /// A client exists for it (`client_id`).
    Approved,
    /// Refused, with the operator's reason; final.
    Rejected,
    /// The operator asked the partner to change something (the reason says what); the partner
    /// may edit and resubmit.
    ChangesRequested,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 4] = [
        Self::Pending,
        Self::Approved,
        Self::Rejected,
        Self::ChangesRequested,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::ChangesRequested => "changes_requested",
        }
    }

    /// Parses the wire name (`pending`, `approved`, `rejected`, `changes_requested`).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

impl fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The app as the partner describes it (and an operator may edit before approving).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AppRequest {
    pub name: String,
    /// What the app does.
    #[serde(default)]
    pub description: String,
    /// An https URL, or empty; becomes the client's `client_uri`.
    #[serde(default)]
    pub website: String,
    #[serde(default)]
    pub contact_name: String,
    /// Why the partner needs access.
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Requested scopes, in the order asked (no duplicates).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Calls the API from a backend: `client_secret_basic`; otherwise a public client with PKCE.
    #[serde(default)]
    pub confidential: bool,
    /// An https URL (plain http only on a loopback host), perhaps of a logo stored by
    /// Gatehouse, or empty.
    #[serde(default)]
    pub logo_uri: String,
}

fn invalid(description: impl Into<Cow<'static, str>>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequest, description)
}

fn check_chars(field: &str, value: &str, max: usize, required: bool) -> Result<(), OAuthError> {
    if required && value.trim().is_empty() {
        return Err(invalid(format!("{field} is required")));
    }
    if value.chars().count() > max {
        return Err(invalid(format!("{field} must be at most {max} characters")));
    }
    // Line breaks and tabs are fine in prose; other control characters are not.
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(invalid(format!("{field} contains a control character")));
    }
    Ok(())
}

fn check_https(field: &str, value: &str) -> Result<(), OAuthError> {
    if value.is_empty() {
        return Ok(());
    }
    if value.len() > MAX_URI_BYTES {
        return Err(invalid(format!(
            "{field} must be at most {MAX_URI_BYTES} bytes"
        )));
    }
    let https = url::Url::parse(value).is_ok_and(|u| u.scheme() == "https" && u.host().is_some());
    if !https {
        return Err(invalid(format!("{field} must be an absolute https URL")));
    }
    Ok(())
}

impl AppRequest {
    /// Trims the one-line fields and drops empty redirect URIs and repeated scopes, as a form
    /// would send them ("one per line").
    pub fn normalized(mut self) -> Self {
        for field in [
            &mut self.name,
            &mut self.website,
            &mut self.contact_name,
            &mut self.logo_uri,
        ] {
            *field = field.trim().to_owned();
        }
        self.redirect_uris = self
            .redirect_uris
            .into_iter()
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty())
            .collect();
        let mut seen = std::collections::HashSet::new();
        self.scopes = self
            .scopes
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty() && seen.insert(s.clone()))
            .collect();
        self
    }

    /// The rules that need no catalogue: required fields, bounded lengths, https links, the
    /// admin API's redirect URI rules (RFC 6749 §3.1.2, RFC 8252 loopback) under `policy`, and
    /// scopes that are valid scope tokens. Errors are `invalid_request` (`invalid_redirect_uri`
    /// for a redirect URI) with a message naming the field.
    pub fn validate(&self, policy: RegistrationPolicy) -> Result<(), OAuthError> {
        check_chars("name", &self.name, MAX_NAME_CHARS, true)?;
        check_chars("description", &self.description, MAX_TEXT_CHARS, false)?;
        check_chars("contact_name", &self.contact_name, MAX_CONTACT_CHARS, false)?;
        check_chars("reason", &self.reason, MAX_TEXT_CHARS, false)?;
        check_https("website", &self.website)?;
        validate_link_uri("website", &self.website).map_err(|e| invalid(e.description))?;
        // As the admin API's: https, or plain http on a loopback host (a logo Gatehouse stores
        // is served from its own issuer, which is http on loopback in local development).
        if self.logo_uri.len() > MAX_URI_BYTES {
            return Err(invalid(format!(
                "logo_uri must be at most {MAX_URI_BYTES} bytes"
            )));
        }
        validate_logo_uri(&self.logo_uri).map_err(|e| invalid(e.description))?;
        if self.redirect_uris.is_empty() {
            return Err(OAuthError::new(
                ErrorCode::InvalidRedirectUri,
                "redirect_uris: at least one redirect URI is required",
            ));
        }
        if self.redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(OAuthError::new(
                ErrorCode::InvalidRedirectUri,
                format!("redirect_uris: at most {MAX_REDIRECT_URIS} redirect URIs"),
            ));
        }
        if let Some(long) = self.redirect_uris.iter().find(|u| u.len() > MAX_URI_BYTES) {
            return Err(OAuthError::new(
                ErrorCode::InvalidRedirectUri,
                format!(
                    "redirect_uris: {:?}… is longer than {MAX_URI_BYTES} bytes",
                    long.chars().take(40).collect::<String>()
                ),
            ));
        }
        parse_redirect_uris("redirect_uris", &self.redirect_uris, policy)?;
        if self.scopes.is_empty() {
            return Err(invalid("scopes: choose at least one scope"));
        }
        if self.scopes.len() > MAX_SCOPES {
            return Err(invalid(format!("scopes: at most {MAX_SCOPES} scopes")));
        }
        self.scope_set()?;
        Ok(())
    }

    /// The requested scopes as a [`ScopeSet`].
    pub fn scope_set(&self) -> Result<ScopeSet, OAuthError> {
        ScopeSet::parse(&self.scopes.join(" ")).map_err(|e| invalid(format!("scopes: {e}")))
    }

    /// Whether the client made from this app gets the `refresh_token` grant: it asks for
    /// `offline` or `offline_access`.
    pub fn wants_refresh_tokens(&self) -> bool {
        self.scopes
            .iter()
            .any(|s| s == "offline" || s == "offline_access")
    }
}

/// Whether partners may request `scope`: a catalogue entry that is not hidden, or one of the
/// protocol's technical scopes (`openid`, `offline`, `offline_access`), which the catalogue hides
/// from the consent screen but every app may need.
pub fn requestable(scope: &ScopeDefinition) -> bool {
    !scope.hidden || scope.name.is_technical()
}

/// Every requested scope must be in the catalogue and [`requestable`] (`invalid_scope`
/// otherwise).
pub fn check_scopes(app: &AppRequest, catalogue: &[ScopeDefinition]) -> Result<(), OAuthError> {
    for scope in &app.scopes {
        let visible = catalogue
            .iter()
            .any(|d| d.name.as_str() == scope && requestable(d));
        if !visible {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                format!("scopes: {scope:?} is not a scope partners may request"),
            ));
        }
    }
    Ok(())
}

/// A partner's registration request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRequest {
    /// `rr_` + random ([`new_request_id`]).
    pub id: String,
    /// The partner's user id: the only one who may see or act on it.
    pub owner: String,
    pub status: RequestStatus,
    pub app: AppRequest,
    /// The operator's reason for a rejection or a change request (empty otherwise).
    pub review_reason: String,
    /// Who reviewed it last (empty until reviewed).
    pub reviewed_by: String,
    /// The client made from it, once approved (kept while an approved app's scope change is
    /// pending).
    pub client_id: Option<ClientId>,
    /// Whether the partner has used the one-time reveal of the client secret.
    pub secret_revealed: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl RegistrationRequest {
    /// A new request of `owner` for `app`, with the given initial status.
    pub fn new(owner: &str, app: AppRequest, status: RequestStatus, now: OffsetDateTime) -> Self {
        Self {
            id: new_request_id(),
            owner: owner.to_owned(),
            status,
            app,
            review_reason: String::new(),
            reviewed_by: String::new(),
            client_id: None,
            secret_revealed: false,
            created_at: now,
            updated_at: now,
        }
    }
}

/// A fresh request id: `rr_` + 128 random bits.
pub fn new_request_id() -> String {
    format!(
        "{REQUEST_ID_PREFIX}{}",
        crate::secret::random_token(REQUEST_ID_BYTES)
    )
}

/// A fresh logo id: `logo_` + 128 random bits.
pub fn new_logo_id() -> String {
    format!(
        "{LOGO_ID_PREFIX}{}",
        crate::secret::random_token(REQUEST_ID_BYTES)
    )
}

/// Filters of a request list; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrationRequestQuery {
    pub status: Option<RequestStatus>,
    pub owner: Option<String>,
    /// A case-insensitive substring of the app's name, website or contact name.
    pub search: Option<String>,
}

/// A stored logo.
#[derive(Clone, PartialEq, Eq)]
pub struct Logo {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Logo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logo")
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Checks a logo before it is stored: one of [`LOGO_CONTENT_TYPES`], non-empty, at most
/// [`MAX_LOGO_BYTES`], and bytes that start like the type they claim. (Sanitising an SVG is the
/// uploader's job; this is the last line.)
pub fn check_logo(content_type: &str, bytes: &[u8]) -> Result<(), OAuthError> {
    if !LOGO_CONTENT_TYPES.contains(&content_type) {
        return Err(invalid(format!(
            "logo: content type {content_type:?} is not PNG, JPEG or SVG"
        )));
    }
    if bytes.is_empty() {
        return Err(invalid("logo: the file is empty"));
    }
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(invalid("logo: the file is larger than 256 KB"));
    }
    let looks_right = match content_type {
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        _ => std::str::from_utf8(bytes).is_ok_and(|s| s.contains("<svg")),
    };
    if !looks_right {
        return Err(invalid(format!(
            "logo: the file is not a {content_type} image"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::scope::ScopeName;

    fn app() -> AppRequest {
        AppRequest {
            name: "Acme".into(),
            description: "Reads projects".into(),
            website: "https://acme.example".into(),
            contact_name: "Ada".into(),
            reason: "integration".into(),
            redirect_uris: vec!["https://acme.example/cb".into()],
            scopes: vec!["openid".into(), "projects:read".into()],
            confidential: true,
            logo_uri: String::new(),
        }
    }

    fn accepted(a: &AppRequest) -> bool {
        a.validate(RegistrationPolicy::default()).is_ok()
    }

    /// An https URL of exactly `len` bytes.
    fn url_of(len: usize) -> String {
        let base = "https://acme.example/";
        format!("{base}{}", "a".repeat(len - base.len()))
    }

    #[test]
    fn every_limit_stops_exactly_at_its_bound() {
        let mut a = app();
        a.name = "x".repeat(MAX_NAME_CHARS);
        assert!(accepted(&a), "a name of the longest length");
        let mut a = app();
        a.website = url_of(MAX_URI_BYTES);
        assert!(accepted(&a), "a website of the longest length");
        a.website = url_of(MAX_URI_BYTES + 1);
        assert!(!accepted(&a));
        let mut a = app();
        a.logo_uri = url_of(MAX_URI_BYTES);
        assert!(accepted(&a), "a logo URI of the longest length");
        a.logo_uri = url_of(MAX_URI_BYTES + 1);
        assert!(!accepted(&a));
        let mut a = app();
        a.redirect_uris = vec![url_of(MAX_URI_BYTES)];
        assert!(accepted(&a), "a redirect URI of the longest length");
        a.redirect_uris = vec![url_of(MAX_URI_BYTES + 1)];
        assert!(!accepted(&a));
        let mut a = app();
        a.redirect_uris = (0..MAX_REDIRECT_URIS)
            .map(|n| format!("https://acme.example/cb{n}"))
            .collect();
        assert!(accepted(&a), "the most redirect URIs");
        a.redirect_uris.push("https://acme.example/one-more".into());
        assert!(!accepted(&a));
        let mut a = app();
        a.scopes = (0..MAX_SCOPES).map(|n| format!("scope{n}")).collect();
        assert!(accepted(&a), "the most scopes");
        a.scopes.push("one-more".into());
        assert!(!accepted(&a));
    }

    #[test]
    fn prose_may_break_lines_but_not_carry_other_control_characters() {
        let mut a = app();
        a.description = "Reads projects.\r\n\tNightly.".into();
        assert!(accepted(&a));
        a.description = "Reads\u{7} projects".into();
        assert!(!accepted(&a));
    }

    #[test]
    fn the_scope_set_and_the_refresh_grant_follow_the_scopes() {
        let mut a = app();
        assert_eq!(a.scope_set().unwrap().to_string(), "openid projects:read");
        assert!(!a.wants_refresh_tokens());
        for offline in ["offline", "offline_access"] {
            a.scopes = vec!["openid".into(), offline.into()];
            assert!(a.wants_refresh_tokens(), "{offline}");
        }
    }

    #[test]
    fn a_logo_may_be_256_kib_of_png_or_jpeg_and_not_a_byte_more() {
        let png = |len: usize| {
            let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
            bytes.resize(len, 0);
            bytes
        };
        assert_eq!(MAX_LOGO_BYTES, 262_144);
        assert!(check_logo("image/png", &png(MAX_LOGO_BYTES)).is_ok());
        assert!(check_logo("image/png", &png(MAX_LOGO_BYTES + 1)).is_err());
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
        jpeg.resize(64, 0);
        assert!(check_logo("image/jpeg", &jpeg).is_ok());
        assert!(check_logo("image/jpeg", &png(64)).is_err());
    }

    #[test]
    fn a_complete_app_is_valid() {
        assert!(app().validate(RegistrationPolicy::default()).is_ok());
    }

    #[test]
    fn loopback_http_redirects_pass_and_other_http_fails() {
        let mut a = app();
        a.redirect_uris = vec!["http://127.0.0.1/cb".into()];
        assert!(a.validate(RegistrationPolicy::default()).is_ok());
        a.redirect_uris = vec!["http://acme.example/cb".into()];
        let e = a.validate(RegistrationPolicy::default()).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRedirectUri);
    }

    #[test]
    fn fields_are_bounded_and_required() {
        let mut a = app();
        a.name = " ".into();
        assert!(a.validate(RegistrationPolicy::default()).is_err());
        let mut a = app();
        a.name = "x".repeat(MAX_NAME_CHARS + 1);
        assert!(a.validate(RegistrationPolicy::default()).is_err());
        let mut a = app();
        a.description = "x".repeat(MAX_TEXT_CHARS + 1);
        assert!(a.validate(RegistrationPolicy::default()).is_err());
        let mut a = app();
        a.scopes.clear();
        assert!(a.validate(RegistrationPolicy::default()).is_err());
        let mut a = app();
        a.redirect_uris.clear();
        assert!(a.validate(RegistrationPolicy::default()).is_err());
    }

    #[test]
    fn website_and_logo_must_be_https() {
        let mut a = app();
        a.website = "http://acme.example".into();
        assert!(a.validate(RegistrationPolicy::default()).is_err());
        let mut a = app();
        a.logo_uri = "javascript:alert(1)".into();
        assert!(a.validate(RegistrationPolicy::default()).is_err());
        let mut a = app();
        a.logo_uri = "https://acme.example/logo.png".into();
        assert!(a.validate(RegistrationPolicy::default()).is_ok());
        a.logo_uri = "http://127.0.0.1:4444/developers/logos/logo_x".into();
        assert!(a.validate(RegistrationPolicy::default()).is_ok());
        a.logo_uri = "http://acme.example/logo.png".into();
        assert!(a.validate(RegistrationPolicy::default()).is_err());
    }

    #[test]
    fn normalizing_drops_blank_lines_and_repeats() {
        let mut a = app();
        a.redirect_uris = vec![" https://a.example/cb ".into(), "".into()];
        a.scopes = vec!["openid".into(), "openid".into()];
        let a = a.normalized();
        assert_eq!(a.redirect_uris, vec!["https://a.example/cb".to_owned()]);
        assert_eq!(a.scopes, vec!["openid".to_owned()]);
    }

    #[test]
    fn hidden_and_unknown_scopes_are_refused() {
        let def = |name: &str, hidden: bool| ScopeDefinition {
            name: ScopeName::parse(name).unwrap(),
            label: name.into(),
            description: String::new(),
            hidden,
            claims: vec![],
        };
        let catalogue = vec![def("openid", true), def("projects:read", true)];
        let e = check_scopes(&app(), &catalogue).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidScope);
        // Technical scopes are hidden from the consent screen, not from partners.
        let catalogue = vec![def("openid", true), def("projects:read", false)];
        assert!(check_scopes(&app(), &catalogue).is_ok());
        let catalogue = vec![def("projects:read", false)];
        assert!(
            check_scopes(&app(), &catalogue).is_err(),
            "not in the catalogue"
        );
        let mut unknown = app();
        unknown.scopes = vec!["projects:delete".into()];
        assert!(
            check_scopes(&unknown, &catalogue).is_err(),
            "a scope the catalogue does not have, beside one it has"
        );
    }

    #[test]
    fn status_names_round_trip() {
        for s in RequestStatus::ALL {
            assert_eq!(RequestStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(RequestStatus::parse("approve"), None);
    }

    #[test]
    fn logos_are_checked() {
        assert!(check_logo("image/png", b"\x89PNG\r\n\x1a\nrest").is_ok());
        assert!(check_logo("image/gif", b"GIF89a").is_err());
        assert!(check_logo("image/png", b"<svg/>").is_err());
        assert!(check_logo("image/png", &vec![0u8; MAX_LOGO_BYTES + 1]).is_err());
        assert!(
            check_logo(
                "image/svg+xml",
                b"<svg xmlns='http://www.w3.org/2000/svg'/>"
            )
            .is_ok()
        );
    }

    #[test]
    fn ids_have_their_prefix() {
        assert!(new_request_id().starts_with("rr_"));
        assert!(new_logo_id().starts_with("logo_"));
    }
}
