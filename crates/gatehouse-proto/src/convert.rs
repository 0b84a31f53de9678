//! Messages ⇄ domain types. Domain → message never fails; message → domain re-parses every
//! value through the domain constructors (scopes, PKCE challenges, timestamps), because the
//! message came over the wire.

use gatehouse_core::authorize::{AuthorizationParams, Prompt, ValidatedAuthorization};
use gatehouse_core::claims::ClaimsRequest;
use gatehouse_core::client::{Client, ClientId};
use gatehouse_core::error::{ErrorCode, OAuthError as DomainError};
use gatehouse_core::pkce::PkceChallenge;
use gatehouse_core::protocol::ResponseMode;
use gatehouse_core::redirect::RedirectUri;
use gatehouse_core::scope::{ScopeDefinition, ScopeName, ScopeSet};
use gatehouse_core::secret::SecretString;
use gatehouse_core::store::Consent;
use gatehouse_core::user::User;
use time::OffsetDateTime;

use crate::token::v1 as pb;

/// A message field that does not hold a valid value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedMessage {
    /// The OAuth error it stands for when a caller sent it (`invalid_request`, or
    /// `invalid_scope` for a scope string).
    pub code: ErrorCode,
    pub field: &'static str,
    pub reason: String,
}

impl MalformedMessage {
    fn new(code: ErrorCode, field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            code,
            field,
            reason: reason.into(),
        }
    }

    pub fn missing(field: &'static str) -> Self {
        Self::new(ErrorCode::InvalidRequest, field, "is missing")
    }
}

impl std::fmt::Display for MalformedMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.field, self.reason)
    }
}

impl std::error::Error for MalformedMessage {}

impl From<MalformedMessage> for DomainError {
    fn from(e: MalformedMessage) -> Self {
        DomainError::new(e.code, e.to_string())
    }
}

/// A space-delimited scope string from a message (RFC 6749 §3.3).
pub fn parse_scope(field: &'static str, scope: &str) -> Result<ScopeSet, MalformedMessage> {
    ScopeSet::parse(scope)
        .map_err(|e| MalformedMessage::new(ErrorCode::InvalidScope, field, e.to_string()))
}

/// A client id from a message; it named a registered client when the token service sent it.
pub fn parse_client_id(field: &'static str, id: &str) -> Result<ClientId, MalformedMessage> {
    if id.is_empty() {
        return Err(MalformedMessage::missing(field));
    }
    ClientId::parse(id)
        .map_err(|e| MalformedMessage::new(ErrorCode::InvalidRequest, field, e.to_string()))
}

/// A redirect URI from a message: one the token service matched against a registered one, so
/// it is checked as stored URIs are (without the operator's registration policy).
pub fn parse_redirect_uri(field: &'static str, uri: &str) -> Result<RedirectUri, MalformedMessage> {
    if uri.is_empty() {
        return Err(MalformedMessage::missing(field));
    }
    RedirectUri::parse(uri, true)
        .map_err(|e| MalformedMessage::new(ErrorCode::InvalidRequest, field, e.to_string()))
}

fn timestamp(field: &'static str, unix: i64) -> Result<OffsetDateTime, MalformedMessage> {
    OffsetDateTime::from_unix_timestamp(unix)
        .map_err(|_| MalformedMessage::new(ErrorCode::InvalidRequest, field, "is out of range"))
}

impl From<&AuthorizationParams> for pb::AuthorizationParams {
    fn from(p: &AuthorizationParams) -> Self {
        Self {
            client_id: p.client_id.clone(),
            redirect_uri: p.redirect_uri.clone(),
            response_type: p.response_type.clone(),
            scope: p.scope.clone(),
            state: p.state.clone(),
            code_challenge: p.code_challenge.clone(),
            code_challenge_method: p.code_challenge_method.clone(),
            nonce: p.nonce.clone(),
            prompt: p.prompt.clone(),
            max_age: p.max_age.clone(),
            login_hint: p.login_hint.clone(),
            ui_locales: p.ui_locales.clone(),
            duplicate: p.duplicate.clone(),
            id_token_hint: p.id_token_hint.as_ref().map(|h| h.expose().to_owned()),
            response_mode: p.response_mode.clone(),
            request: p.request.clone(),
            request_uri: p.request_uri.clone(),
            resource: p.resource.clone(),
            claims: p.claims.clone(),
            acr_values: p.acr_values.clone(),
        }
    }
}

impl From<pb::AuthorizationParams> for AuthorizationParams {
    fn from(p: pb::AuthorizationParams) -> Self {
        Self {
            client_id: p.client_id,
            redirect_uri: p.redirect_uri,
            response_type: p.response_type,
            scope: p.scope,
            state: p.state,
            code_challenge: p.code_challenge,
            code_challenge_method: p.code_challenge_method,
            nonce: p.nonce,
            prompt: p.prompt,
            max_age: p.max_age,
            login_hint: p.login_hint,
            ui_locales: p.ui_locales,
            duplicate: p.duplicate,
            id_token_hint: p.id_token_hint.map(SecretString::new),
            response_mode: p.response_mode,
            request: p.request,
            request_uri: p.request_uri,
            resource: p.resource,
            claims: p.claims,
            acr_values: p.acr_values,
        }
    }
}

impl From<&ValidatedAuthorization> for pb::AuthorizationRequest {
    fn from(v: &ValidatedAuthorization) -> Self {
        Self {
            client_id: v.client_id.to_string(),
            redirect_uri: v.redirect_uri.to_string(),
            redirect_uri_given: v.redirect_uri_given,
            scope: v.scope.to_string(),
            state: v.state.clone(),
            code_challenge: v.code_challenge.as_ref().map(|c| c.as_str().to_owned()),
            nonce: v.nonce.clone(),
            prompt_none: v.prompt.none,
            prompt_login: v.prompt.login,
            prompt_consent: v.prompt.consent,
            max_age: v.max_age,
            login_hint: v.login_hint.clone(),
            ui_locales: v.ui_locales.clone(),
            hinted_subject: v.hinted_subject.clone(),
            response_mode: v.response_mode.as_str().to_owned(),
            resources: v.resources.clone(),
            claims: v.claims.as_ref().map(ClaimsRequest::to_json),
            mfa_required: v.mfa_required,
        }
    }
}

impl TryFrom<pb::AuthorizationRequest> for ValidatedAuthorization {
    type Error = MalformedMessage;

    fn try_from(r: pb::AuthorizationRequest) -> Result<Self, Self::Error> {
        let code_challenge = r
            .code_challenge
            .map(|c| PkceChallenge::from_request(&c, Some("S256")))
            .transpose()
            .map_err(|e| {
                MalformedMessage::new(
                    ErrorCode::InvalidRequest,
                    "request.code_challenge",
                    e.description,
                )
            })?;
        Ok(Self {
            scope: parse_scope("request.scope", &r.scope)?,
            client_id: parse_client_id("request.client_id", &r.client_id)?,
            redirect_uri: parse_redirect_uri("request.redirect_uri", &r.redirect_uri)?,
            redirect_uri_given: r.redirect_uri_given,
            state: r.state,
            code_challenge,
            nonce: r.nonce,
            prompt: Prompt {
                none: r.prompt_none,
                login: r.prompt_login,
                consent: r.prompt_consent,
            },
            max_age: r.max_age,
            login_hint: r.login_hint,
            ui_locales: r.ui_locales,
            hinted_subject: r.hinted_subject.filter(|s| !s.is_empty()),
            response_mode: ResponseMode::requested(Some(r.response_mode.as_str())),
            resources: r.resources,
            claims: r
                .claims
                .map(|c| ClaimsRequest::parse(&c))
                .transpose()
                .map_err(|e| {
                    MalformedMessage::new(
                        ErrorCode::InvalidRequest,
                        "request.claims",
                        e.description,
                    )
                })?,
            mfa_required: r.mfa_required,
        })
    }
}

impl From<&ScopeDefinition> for pb::ScopeInfo {
    fn from(d: &ScopeDefinition) -> Self {
        Self {
            name: d.name.to_string(),
            label: d.label.clone(),
            description: d.description.clone(),
            hidden: d.hidden,
        }
    }
}

impl TryFrom<pb::ScopeInfo> for ScopeDefinition {
    type Error = MalformedMessage;

    fn try_from(s: pb::ScopeInfo) -> Result<Self, Self::Error> {
        let name = ScopeName::parse(&s.name).map_err(|e| {
            MalformedMessage::new(ErrorCode::InvalidScope, "scope.name", e.to_string())
        })?;
        Ok(Self {
            name,
            label: s.label,
            description: s.description,
            hidden: s.hidden,
            // What the consent screen needs; the claims stay with the token service.
            claims: Vec::new(),
        })
    }
}

impl From<&Consent> for pb::Consent {
    fn from(c: &Consent) -> Self {
        Self {
            subject: c.subject.clone(),
            client_id: c.client_id.to_string(),
            scope: c.scope.to_string(),
            granted_at: c.granted_at.unix_timestamp(),
            expires_at: c.expires_at.map(OffsetDateTime::unix_timestamp),
        }
    }
}

impl TryFrom<pb::Consent> for Consent {
    type Error = MalformedMessage;

    fn try_from(c: pb::Consent) -> Result<Self, Self::Error> {
        Ok(Self {
            scope: parse_scope("consent.scope", &c.scope)?,
            granted_at: timestamp("consent.granted_at", c.granted_at)?,
            expires_at: c
                .expires_at
                .map(|t| timestamp("consent.expires_at", t))
                .transpose()?,
            client_id: parse_client_id("consent.client_id", &c.client_id)?,
            subject: c.subject,
        })
    }
}

/// What the login UI may know about a user: never the password hash.
impl From<&User> for pb::User {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.clone(),
            username: u.username.clone(),
            name: u.name.clone(),
            email: u.email.clone(),
            email_verified: u.email_verified,
            picture: u.picture.clone(),
            disabled: u.disabled,
        }
    }
}

impl From<&Client> for pb::ClientInfo {
    fn from(c: &Client) -> Self {
        let m = &c.metadata;
        Self {
            client_id: c.id.to_string(),
            name: m.client_name.clone(),
            logo_uri: m.logo_uri.clone(),
            client_uri: m.client_uri.clone(),
            policy_uri: m.policy_uri.clone(),
            tos_uri: m.tos_uri.clone(),
            skip_consent: m.skip_consent,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn validated() -> ValidatedAuthorization {
        ValidatedAuthorization {
            client_id: ClientId::parse("neoncli").unwrap(),
            redirect_uri: RedirectUri::parse("http://127.0.0.1:5555/callback", false).unwrap(),
            redirect_uri_given: true,
            scope: ScopeSet::parse("openid offline urn:neoncloud:projects:read")
                .unwrap_or_default(),
            state: Some("xyz".into()),
            code_challenge: PkceChallenge::from_request(CHALLENGE, Some("S256")).ok(),
            nonce: Some("n-0S6_WzA2Mj".into()),
            prompt: Prompt {
                none: false,
                login: true,
                consent: true,
            },
            max_age: Some(0),
            login_hint: Some("alice".into()),
            ui_locales: Some("de en".into()),
            hinted_subject: Some("user-alice".into()),
            response_mode: ResponseMode::FormPost,
            resources: vec!["https://api.neon.tech/projects".into()],
            claims: ClaimsRequest::parse(
                r#"{"id_token":{"email":{"essential":true},"patreon":null}}"#,
            )
            .ok(),
            mfa_required: true,
        }
    }

    #[test]
    fn validated_requests_round_trip() {
        let v = validated();
        assert_eq!(
            ValidatedAuthorization::try_from(pb::AuthorizationRequest::from(&v)),
            Ok(v)
        );
        let bare = ValidatedAuthorization {
            state: None,
            code_challenge: None,
            nonce: None,
            prompt: Prompt::default(),
            max_age: None,
            login_hint: None,
            ui_locales: None,
            scope: ScopeSet::default(),
            response_mode: ResponseMode::Query,
            resources: Vec::new(),
            claims: None,
            mfa_required: false,
            ..validated()
        };
        assert_eq!(
            ValidatedAuthorization::try_from(pb::AuthorizationRequest::from(&bare)),
            Ok(bare)
        );
    }

    #[test]
    fn tampered_requests_are_refused() {
        let mut r = pb::AuthorizationRequest::from(&validated());
        r.code_challenge = Some("short".into());
        assert_eq!(
            ValidatedAuthorization::try_from(r).map_err(|e| e.field),
            Err("request.code_challenge")
        );
        let mut r = pb::AuthorizationRequest::from(&validated());
        r.scope = "openid bad\"scope".into();
        assert_eq!(
            ValidatedAuthorization::try_from(r).map_err(|e| e.code),
            Err(ErrorCode::InvalidScope)
        );
        let mut r = pb::AuthorizationRequest::from(&validated());
        r.client_id.clear();
        assert_eq!(
            ValidatedAuthorization::try_from(r).map_err(|e| e.code),
            Err(ErrorCode::InvalidRequest)
        );
    }

    #[test]
    fn params_keep_absent_and_empty_apart() {
        let p = AuthorizationParams {
            client_id: Some("c".into()),
            state: Some(String::new()),
            duplicate: Some("scope".into()),
            resource: vec![
                "https://a.example.com".into(),
                "https://b.example.com".into(),
            ],
            ..AuthorizationParams::default()
        };
        assert_eq!(
            AuthorizationParams::from(pb::AuthorizationParams::from(&p)),
            p
        );
    }

    #[test]
    fn consents_round_trip_in_whole_seconds() {
        let at = OffsetDateTime::from_unix_timestamp(1_767_225_600)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let c = Consent {
            subject: "u1".into(),
            client_id: ClientId::parse("c1").unwrap(),
            scope: ScopeSet::parse("openid profile").unwrap_or_default(),
            granted_at: at,
            expires_at: Some(at + time::Duration::days(180)),
        };
        assert_eq!(Consent::try_from(pb::Consent::from(&c)), Ok(c.clone()));
        let forever = Consent {
            expires_at: None,
            ..c
        };
        assert_eq!(Consent::try_from(pb::Consent::from(&forever)), Ok(forever));
    }
}
