//! The authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OpenID Connect Core §3.1.2.1) and
//! its validation against the registered client.
//!
//! Errors travel two ways (RFC 6749 §4.1.2.1): while the client or its redirect URI is not
//! trusted, the error is shown to the user as a page ([`AuthorizeError::Untrusted`]); once the
//! redirect URI is known to be registered, every other error is redirected to it
//! ([`AuthorizeError::Redirect`]) with `state` and `iss`.

use serde::{Deserialize, Serialize};

use crate::claims::ClaimsRequest;
use crate::client::{Client, ClientId};
use crate::error::{ErrorCode, OAuthError};
use crate::pkce::PkceChallenge;
use crate::protocol::{GrantType, ResponseMode, ResponseType};
use crate::redirect::RedirectUri;
use crate::scope::ScopeSet;
use crate::secret::SecretString;

/// Longest `state` accepted. It travels in URLs, so it must stay well within URL limits.
pub const MAX_STATE_LEN: usize = 2048;
pub const MAX_NONCE_LEN: usize = 2048;

/// The raw parameters, as the HTTP layer extracted them (unknown ones are ignored, RFC 6749 §3.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub nonce: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub ui_locales: Option<String>,
    /// OpenID Connect Core §3.1.2.1: an ID token the client holds, naming the user it expects.
    /// Secret-bearing; checked by the token service, which holds the keys.
    #[serde(default, skip_serializing)]
    pub id_token_hint: Option<SecretString>,
    /// OAuth 2.0 Multiple Response Type Encoding Practices: only `query` is supported.
    pub response_mode: Option<String>,
    /// OpenID Connect Core §6.1 request object: not supported (`request_not_supported`).
    pub request: Option<String>,
    /// OpenID Connect Core §6.2 request object by reference: not supported
    /// (`request_uri_not_supported`).
    pub request_uri: Option<String>,
    /// The name of a parameter that appeared more than once (RFC 6749 §3.1 forbids it).
    pub duplicate: Option<String>,
    /// RFC 8707 resource indicators, the one parameter that may repeat.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource: Vec<String>,
    /// OpenID Connect Core §5.5: the `claims` parameter's JSON text, parsed by [`validate`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<String>,
    /// OpenID Connect Core §3.1.2.1: requested context classes, space-delimited
    /// ([`crate::factor::ACR_MFA`] asks for a second factor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr_values: Option<String>,
}

impl AuthorizationParams {
    /// The parameters `get_all` finds by name, each value in the order given (an empty value
    /// counts as absent, RFC 6749 §3.1); a single-valued parameter takes its first value, and
    /// `duplicate` is left for the caller, which knows how its transport repeats names.
    pub fn from_lookup(get_all: impl Fn(&str) -> Vec<String>) -> Self {
        let get = |name: &str| get_all(name).into_iter().next().filter(|v| !v.is_empty());
        Self {
            client_id: get("client_id"),
            redirect_uri: get("redirect_uri"),
            response_type: get("response_type"),
            scope: get("scope"),
            state: get("state"),
            code_challenge: get("code_challenge"),
            code_challenge_method: get("code_challenge_method"),
            nonce: get("nonce"),
            prompt: get("prompt"),
            max_age: get("max_age"),
            login_hint: get("login_hint"),
            ui_locales: get("ui_locales"),
            id_token_hint: get("id_token_hint").map(SecretString::new),
            response_mode: get("response_mode"),
            request: get("request"),
            request_uri: get("request_uri"),
            duplicate: None,
            resource: get_all("resource")
                .into_iter()
                .filter(|v| !v.is_empty())
                .collect(),
            claims: get("claims"),
            acr_values: get("acr_values"),
        }
    }
}

/// What `prompt` asks for (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// An authorization request that passed every check; what the login UI holds behind a challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatedAuthorization {
    pub client_id: ClientId,
    /// Where the response goes: the URI as the client sent it (which may differ from the
    /// registered one only in the port of a loopback IP literal).
    pub redirect_uri: RedirectUri,
    /// Whether the request carried `redirect_uri`; if so the token request must repeat it
    /// (RFC 6749 §4.1.3).
    pub redirect_uri_given: bool,
    pub scope: ScopeSet,
    pub state: Option<String>,
    pub code_challenge: Option<PkceChallenge>,
    pub nonce: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<u64>,
    pub login_hint: Option<String>,
    pub ui_locales: Option<String>,
    /// How the response travels back (`query` unless the request asked for `form_post`).
    #[serde(default)]
    pub response_mode: ResponseMode,
    /// The `sub` of a verified `id_token_hint`: the user the client expects to be signed in.
    /// Set by the token service (which checks the hint's signature), never by [`validate`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hinted_subject: Option<String>,
    /// RFC 8707 resources the access tokens of this authorization are for (their `aud`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// OpenID Connect Core §5.5: the claims the request asked for (released only within the
    /// granted scopes, see [`crate::claims`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<ClaimsRequest>,
    /// The sign-in must use a second factor: the request's `acr_values` ask for
    /// [`crate::factor::ACR_MFA`], or the client has `require_mfa` (the token service adds
    /// `GATEHOUSE_MFA=required`).
    #[serde(default)]
    pub mfa_required: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client or redirect URI cannot be trusted: show an error page, never redirect.
    Untrusted(OAuthError),
    /// Redirect the error to the client.
    Redirect {
        redirect_uri: RedirectUri,
        error: OAuthError,
        state: Option<String>,
    },
}

/// Server-wide rules for authorization requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthorizePolicy {
    /// Require PKCE from confidential clients too (it is always required from public clients).
    pub require_pkce: bool,
}

/// Validates `params` for `client` (`None` when no client has the given id).
pub fn validate(
    params: &AuthorizationParams,
    client: Option<&Client>,
    policy: AuthorizePolicy,
) -> Result<ValidatedAuthorization, AuthorizeError> {
    let untrusted = |description: &'static str| {
        AuthorizeError::Untrusted(OAuthError::invalid_request(description))
    };
    if params.client_id.is_none() {
        return Err(untrusted("the client_id parameter is missing"));
    }
    let Some(client) = client else {
        return Err(AuthorizeError::Untrusted(OAuthError::new(
            ErrorCode::InvalidClient,
            "no client is registered with this client_id",
        )));
    };
    if params
        .duplicate
        .as_deref()
        .is_some_and(|d| d == "client_id" || d == "redirect_uri")
    {
        return Err(untrusted("client_id and redirect_uri must not be repeated"));
    }
    let registered = &client.metadata.redirect_uris;
    let (redirect_uri, redirect_uri_given) = match params.redirect_uri.as_deref() {
        Some(requested) => match RedirectUri::matching(registered, requested) {
            Some(matched) => (matched, true),
            None => {
                return Err(untrusted(
                    "the redirect_uri is not registered for this client",
                ));
            }
        },
        None => match registered.as_slice() {
            [only] => (only.clone(), false),
            _ => {
                return Err(untrusted(
                    "redirect_uri is required because the client registered more than one",
                ));
            }
        },
    };

    let state = params.state.clone();
    if state.as_ref().is_some_and(|s| s.len() > MAX_STATE_LEN) {
        // Echoing an oversized state back would only produce an oversized redirect.
        return Err(AuthorizeError::Redirect {
            redirect_uri,
            error: OAuthError::invalid_request("the state parameter is too long"),
            state: None,
        });
    }
    // Error paths only: the description is copied so a message may name the offending value.
    let fail = |code: ErrorCode, description: &str| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        error: OAuthError::new(code, description.to_owned()),
        state: state.clone(),
    };

    if let Some(name) = &params.duplicate {
        return Err(AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            error: OAuthError::invalid_request(format!(
                "the {name} parameter must not be repeated"
            )),
            state: state.clone(),
        });
    }
    // OpenID Connect Core §6: request objects are refused by name, before anything they would
    // override is looked at.
    if params.request.is_some() {
        return Err(fail(
            ErrorCode::RequestNotSupported,
            "the request parameter (a request object) is not supported",
        ));
    }
    if params.request_uri.is_some() {
        return Err(fail(
            ErrorCode::RequestUriNotSupported,
            "the request_uri parameter is not supported",
        ));
    }
    if let Some(mode) = params.response_mode.as_deref()
        && !ResponseMode::parse(mode).is_some_and(|m| ResponseMode::SUPPORTED.contains(&m))
    {
        return Err(fail(
            ErrorCode::InvalidRequest,
            "unsupported response_mode: use query or form_post",
        ));
    }
    let response_type = match params.response_type.as_deref().map(ResponseType::parse) {
        None => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "the response_type parameter is missing",
            ));
        }
        Some(Some(response_type)) => response_type,
        Some(None) => {
            return Err(fail(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    };
    let meta = &client.metadata;
    if !meta.response_types.contains(&response_type)
        || !client.may_use(GrantType::AuthorizationCode)
    {
        return Err(fail(
            ErrorCode::UnauthorizedClient,
            "this client is not allowed to use the authorization code flow",
        ));
    }

    let scope = match params.scope.as_deref() {
        None => ScopeSet::default(),
        Some(s) => ScopeSet::parse(s)
            .map_err(|_| fail(ErrorCode::InvalidScope, "the scope parameter is malformed"))?,
    };
    if let Some(refused) = scope.refused_by(&meta.scope) {
        return Err(fail(
            ErrorCode::InvalidScope,
            &format!("this client may not ask for these scopes: {refused}"),
        ));
    }

    let resources = crate::resource::requested(meta, &params.resource).map_err(|error| {
        AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            error,
            state: state.clone(),
        }
    })?;

    let code_challenge = match (
        params.code_challenge.as_deref(),
        params.code_challenge_method.as_deref(),
    ) {
        (Some(challenge), method) => {
            Some(PkceChallenge::from_request(challenge, method).map_err(|e| {
                AuthorizeError::Redirect {
                    redirect_uri: redirect_uri.clone(),
                    error: e,
                    state: state.clone(),
                }
            })?)
        }
        (None, Some(_)) => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "code_challenge_method was given without code_challenge",
            ));
        }
        (None, None) if client.is_public() => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            ));
        }
        (None, None) if policy.require_pkce => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "PKCE is required by this server: send code_challenge with code_challenge_method=S256",
            ));
        }
        (None, None) => None,
    };

    let prompt =
        parse_prompt(params.prompt.as_deref()).map_err(|d| fail(ErrorCode::InvalidRequest, d))?;
    let max_age = match params.max_age.as_deref() {
        None => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            fail(
                ErrorCode::InvalidRequest,
                "max_age must be a non-negative integer",
            )
        })?),
    };
    if params
        .nonce
        .as_ref()
        .is_some_and(|n| n.len() > MAX_NONCE_LEN)
    {
        return Err(fail(
            ErrorCode::InvalidRequest,
            "the nonce parameter is too long",
        ));
    }

    let claims = match params.claims.as_deref() {
        None => None,
        Some(text) => {
            Some(
                ClaimsRequest::parse(text).map_err(|error| AuthorizeError::Redirect {
                    redirect_uri: redirect_uri.clone(),
                    error,
                    state: state.clone(),
                })?,
            )
        }
    }
    .filter(|c| !c.is_empty());

    Ok(ValidatedAuthorization {
        client_id: client.id.clone(),
        redirect_uri,
        redirect_uri_given,
        scope,
        state,
        code_challenge,
        nonce: params.nonce.clone(),
        prompt,
        max_age,
        login_hint: params.login_hint.clone(),
        ui_locales: params.ui_locales.clone(),
        response_mode: ResponseMode::requested(params.response_mode.as_deref()),
        hinted_subject: None,
        resources,
        claims,
        mfa_required: client.metadata.require_mfa
            || params
                .acr_values
                .as_deref()
                .is_some_and(crate::factor::acr_values_ask_for_mfa),
    })
}

fn parse_prompt(prompt: Option<&str>) -> Result<Prompt, &'static str> {
    let mut p = Prompt::default();
    for value in prompt
        .unwrap_or_default()
        .split(' ')
        .filter(|v| !v.is_empty())
    {
        match value {
            "none" => p.none = true,
            "login" => p.login = true,
            "consent" => p.consent = true,
            // Gatehouse has one account per browser session; choosing one is logging in again.
            "select_account" => p.login = true,
            _ => return Err("prompt must be none, login, consent or select_account"),
        }
    }
    if p.none && (p.login || p.consent) {
        return Err("prompt=none cannot be combined with other values");
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::client::{ClientMetadata, TokenEndpointAuthMethod};
    use time::OffsetDateTime;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client(public: bool, uris: &[&str]) -> Client {
        Client {
            id: ClientId::parse("neoncli").unwrap(),
            incarnation: "inc-1".into(),
            metadata: ClientMetadata {
                redirect_uris: uris
                    .iter()
                    .map(|s| RedirectUri::parse(s, false).unwrap())
                    .collect(),
                grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
                response_types: vec![ResponseType::Code],
                scope: ScopeSet::parse(
                    "openid offline offline_access profile email urn:neoncloud:projects:read",
                )
                .unwrap(),
                token_endpoint_auth_method: if public {
                    TokenEndpointAuthMethod::None
                } else {
                    TokenEndpointAuthMethod::ClientSecretBasic
                },
                ..ClientMetadata::default()
            },
            secret: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn params() -> AuthorizationParams {
        AuthorizationParams {
            client_id: Some("neoncli".into()),
            redirect_uri: Some("http://127.0.0.1:5555/callback".into()),
            response_type: Some("code".into()),
            scope: Some("openid offline urn:neoncloud:projects:read".into()),
            state: Some("xyz".into()),
            code_challenge: Some(CHALLENGE.into()),
            code_challenge_method: Some("S256".into()),
            ..AuthorizationParams::default()
        }
    }

    fn redirect_error(
        r: Result<ValidatedAuthorization, AuthorizeError>,
    ) -> (ErrorCode, Option<String>) {
        match r {
            Err(AuthorizeError::Redirect { error, state, .. }) => (error.code, state),
            other => panic!("expected a redirected error, got {other:?}"),
        }
    }

    #[test]
    fn valid_public_request_with_loopback_port() {
        let c = client(true, &["http://127.0.0.1/callback"]);
        let v = validate(&params(), Some(&c), AuthorizePolicy::default()).unwrap();
        assert_eq!(v.redirect_uri, "http://127.0.0.1:5555/callback");
        assert!(v.redirect_uri_given);
        assert_eq!(
            v.scope.to_string(),
            "openid offline urn:neoncloud:projects:read"
        );
        assert_eq!(v.state.as_deref(), Some("xyz"));
    }

    #[test]
    fn unknown_client_and_unregistered_redirect_are_pages_not_redirects() {
        let c = client(true, &["http://127.0.0.1/callback"]);
        assert!(matches!(
            validate(&params(), None, AuthorizePolicy::default()),
            Err(AuthorizeError::Untrusted(_))
        ));
        let mut p = params();
        p.redirect_uri = Some("https://evil.example/cb".into());
        assert!(matches!(
            validate(&p, Some(&c), AuthorizePolicy::default()),
            Err(AuthorizeError::Untrusted(_))
        ));
        p.redirect_uri = None;
        let two = client(true, &["http://127.0.0.1/a", "http://127.0.0.1/b"]);
        assert!(matches!(
            validate(&p, Some(&two), AuthorizePolicy::default()),
            Err(AuthorizeError::Untrusted(_))
        ));
    }

    #[test]
    fn the_claims_parameter_is_kept_and_a_malformed_one_is_redirected() {
        let c = client(true, &["http://127.0.0.1/callback"]);
        let mut p = params();
        p.claims =
            Some(r#"{"id_token":{"email":{"essential":true}},"userinfo":{"name":null}}"#.into());
        let v = validate(&p, Some(&c), AuthorizePolicy::default()).unwrap();
        let claims = v.claims.unwrap();
        assert!(claims.id_token["email"].essential);
        assert!(claims.userinfo.contains_key("name"));
        p.claims = Some("{}".into());
        assert_eq!(
            validate(&p, Some(&c), AuthorizePolicy::default())
                .unwrap()
                .claims,
            None
        );
        for bad in ["{not json", r#"{"id_token":5}"#, &"x".repeat(5000)] {
            p.claims = Some(bad.to_owned());
            assert_eq!(
                redirect_error(validate(&p, Some(&c), AuthorizePolicy::default())),
                (ErrorCode::InvalidRequest, Some("xyz".into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn resources_must_be_allowed_for_the_client_and_are_kept() {
        let mut c = client(true, &["http://127.0.0.1/callback"]);
        c.metadata.allowed_resources = vec!["https://api.neon.tech/projects".into()];
        let mut p = params();
        p.resource = vec![
            "https://api.neon.tech/projects".into(),
            "https://api.neon.tech/projects".into(),
        ];
        let v = validate(&p, Some(&c), AuthorizePolicy::default()).unwrap();
        assert_eq!(
            v.resources,
            vec!["https://api.neon.tech/projects".to_owned()]
        );
        p.resource.push("https://api.neon.tech/billing".into());
        assert_eq!(
            redirect_error(validate(&p, Some(&c), AuthorizePolicy::default())),
            (ErrorCode::InvalidTarget, Some("xyz".into()))
        );
        assert!(
            validate(&params(), Some(&c), AuthorizePolicy::default())
                .unwrap()
                .resources
                .is_empty()
        );
    }

    #[test]
    fn omitted_redirect_uri_uses_the_only_registered_one() {
        let c = client(true, &["http://127.0.0.1:5555/callback"]);
        let mut p = params();
        p.redirect_uri = None;
        let v = validate(&p, Some(&c), AuthorizePolicy::default()).unwrap();
        assert_eq!(v.redirect_uri, "http://127.0.0.1:5555/callback");
        assert!(!v.redirect_uri_given);
    }

    #[test]
    fn response_type_scope_and_pkce_errors_redirect_with_state() {
        let c = client(true, &["http://127.0.0.1:5555/callback"]);
        let mut p = params();
        p.response_type = Some("token".into());
        assert_eq!(
            redirect_error(validate(&p, Some(&c), AuthorizePolicy::default())),
            (ErrorCode::UnsupportedResponseType, Some("xyz".into()))
        );
        let mut p = params();
        p.scope = Some("openid admin billing".into());
        match validate(&p, Some(&c), AuthorizePolicy::default()) {
            Err(AuthorizeError::Redirect { error, .. }) => {
                assert_eq!(error.code, ErrorCode::InvalidScope);
                assert_eq!(
                    error.description, "this client may not ask for these scopes: admin billing",
                    "the refused scopes are named, the allowed one is not"
                );
            }
            other => panic!("{other:?}"),
        }
        let mut p = params();
        p.code_challenge_method = Some("plain".into());
        assert_eq!(
            redirect_error(validate(&p, Some(&c), AuthorizePolicy::default())).0,
            ErrorCode::InvalidRequest
        );
        let mut p = params();
        p.code_challenge_method = None;
        assert_eq!(
            redirect_error(validate(&p, Some(&c), AuthorizePolicy::default())).0,
            ErrorCode::InvalidRequest
        );
        let mut p = params();
        p.code_challenge = None;
        p.code_challenge_method = None;
        assert_eq!(
            redirect_error(validate(&p, Some(&c), AuthorizePolicy::default())).0,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn confidential_clients_may_skip_pkce_unless_required() {
        let c = client(false, &["https://app.example/cb"]);
        let mut p = params();
        p.redirect_uri = Some("https://app.example/cb".into());
        p.code_challenge = None;
        p.code_challenge_method = None;
        assert!(validate(&p, Some(&c), AuthorizePolicy::default()).is_ok());
        assert_eq!(
            redirect_error(validate(
                &p,
                Some(&c),
                AuthorizePolicy { require_pkce: true }
            ))
            .0,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn prompt_max_age_and_duplicates() {
        let c = client(true, &["http://127.0.0.1:5555/callback"]);
        let mut p = params();
        p.prompt = Some("login consent".into());
        p.max_age = Some("0".into());
        let v = validate(&p, Some(&c), AuthorizePolicy::default()).unwrap();
        assert!(v.prompt.login && v.prompt.consent && !v.prompt.none);
        assert_eq!(v.max_age, Some(0));
        p.prompt = Some("none login".into());
        assert_eq!(
            redirect_error(validate(&p, Some(&c), AuthorizePolicy::default())).0,
            ErrorCode::InvalidRequest
        );
        let mut p = params();
        p.max_age = Some("-1".into());
        assert_eq!(
            redirect_error(validate(&p, Some(&c), AuthorizePolicy::default())).0,
            ErrorCode::InvalidRequest
        );
        let mut p = params();
        p.duplicate = Some("scope".into());
        assert_eq!(
            redirect_error(validate(&p, Some(&c), AuthorizePolicy::default())).0,
            ErrorCode::InvalidRequest
        );
        p.duplicate = Some("redirect_uri".into());
        assert!(matches!(
            validate(&p, Some(&c), AuthorizePolicy::default()),
            Err(AuthorizeError::Untrusted(_))
        ));
    }

    #[test]
    fn request_objects_and_unsupported_response_modes_are_refused_by_name() {
        let c = client(true, &["http://127.0.0.1:5555/callback"]);
        let mut p = params();
        p.request = Some("eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9.".into());
        assert_eq!(
            redirect_error(validate(&p, Some(&c), AuthorizePolicy::default())),
            (ErrorCode::RequestNotSupported, Some("xyz".into()))
        );
        let mut p = params();
        p.request_uri = Some("https://client.example/request.jwt".into());
        assert_eq!(
            redirect_error(validate(&p, Some(&c), AuthorizePolicy::default())),
            (ErrorCode::RequestUriNotSupported, Some("xyz".into()))
        );
        for mode in ["fragment", "jwt", "QUERY", "form_post.jwt"] {
            let mut p = params();
            p.response_mode = Some(mode.into());
            assert_eq!(
                redirect_error(validate(&p, Some(&c), AuthorizePolicy::default())).0,
                ErrorCode::InvalidRequest,
                "{mode}"
            );
            assert_eq!(ResponseMode::requested(Some(mode)), ResponseMode::Query);
        }
        for (param, mode) in [
            (None, ResponseMode::Query),
            (Some("query"), ResponseMode::Query),
            (Some("form_post"), ResponseMode::FormPost),
        ] {
            let mut p = params();
            p.response_mode = param.map(Into::into);
            let validated = validate(&p, Some(&c), AuthorizePolicy::default());
            assert_eq!(validated.map(|v| v.response_mode), Ok(mode), "{param:?}");
        }
        assert_eq!(
            ErrorCode::RequestNotSupported.as_str(),
            "request_not_supported"
        );
        assert_eq!(
            ErrorCode::RequestUriNotSupported.as_str(),
            "request_uri_not_supported"
        );
    }

    #[test]
    fn oversized_state_is_not_echoed() {
        let c = client(true, &["http://127.0.0.1:5555/callback"]);
        let mut p = params();
        p.state = Some("s".repeat(MAX_STATE_LEN + 1));
        assert_eq!(
            redirect_error(validate(&p, Some(&c), AuthorizePolicy::default())),
            (ErrorCode::InvalidRequest, None)
        );
    }

    #[test]
    fn client_without_code_grant_is_unauthorized() {
        let mut c = client(false, &["https://app.example/cb"]);
        c.metadata.grant_types = vec![GrantType::ClientCredentials];
        c.metadata.response_types = vec![];
        let mut p = params();
        p.redirect_uri = Some("https://app.example/cb".into());
        assert_eq!(
            redirect_error(validate(&p, Some(&c), AuthorizePolicy::default())).0,
            ErrorCode::UnauthorizedClient
        );
    }

    #[test]
    fn state_and_nonce_may_be_exactly_as_long_as_the_limit() {
        let c = client(true, &["http://127.0.0.1/callback"]);
        let mut p = params();
        p.state = Some("s".repeat(MAX_STATE_LEN));
        p.nonce = Some("n".repeat(MAX_NONCE_LEN));
        let v = validate(&p, Some(&c), AuthorizePolicy::default()).unwrap();
        assert_eq!(v.nonce.map(|n| n.len()), Some(MAX_NONCE_LEN));
        p.nonce = Some("n".repeat(MAX_NONCE_LEN + 1));
        assert_eq!(
            redirect_error(validate(&p, Some(&c), AuthorizePolicy::default())),
            (ErrorCode::InvalidRequest, Some("s".repeat(MAX_STATE_LEN)))
        );
    }

    #[test]
    fn the_code_flow_needs_both_the_response_type_and_the_grant() {
        let mut c = client(true, &["http://127.0.0.1/callback"]);
        c.metadata.grant_types = vec![GrantType::ClientCredentials];
        c.metadata.response_types = vec![ResponseType::Code];
        assert_eq!(
            redirect_error(validate(&params(), Some(&c), AuthorizePolicy::default())).0,
            ErrorCode::UnauthorizedClient
        );
        let mut c = client(true, &["http://127.0.0.1/callback"]);
        c.metadata.response_types.clear();
        assert_eq!(
            redirect_error(validate(&params(), Some(&c), AuthorizePolicy::default())).0,
            ErrorCode::UnauthorizedClient
        );
    }

    #[test]
    fn every_prompt_value_means_what_openid_connect_says() {
        let prompt = |value: &str| parse_prompt(Some(value));
        assert_eq!(
            prompt("none"),
            Ok(Prompt {
                none: true,
                ..Prompt::default()
            })
        );
        assert_eq!(
            prompt("select_account"),
            Ok(Prompt {
                login: true,
                ..Prompt::default()
            })
        );
        assert_eq!(
            prompt("login consent"),
            Ok(Prompt {
                login: true,
                consent: true,
                none: false
            })
        );
        assert_eq!(parse_prompt(None), Ok(Prompt::default()));
        assert!(prompt("none login").is_err());
        assert!(prompt("create").is_err());
    }

    #[test]
    fn parameters_are_read_by_name_and_empty_ones_are_absent() {
        let p = AuthorizationParams::from_lookup(|name| {
            let values: &[&str] = match name {
                "client_id" => &["neoncli", "second"],
                "state" => &[""],
                "id_token_hint" => &["eyJ.hint.sig"],
                "request_uri" => &["urn:ietf:params:oauth:request_uri:x"],
                "resource" => &["https://a.example.com", "", "https://b.example.com"],
                _ => &[],
            };
            values.iter().map(|v| (*v).to_owned()).collect()
        });
        assert_eq!(
            p.client_id.as_deref(),
            Some("neoncli"),
            "the first value counts"
        );
        assert_eq!(p.state, None, "an empty parameter is an absent one");
        assert_eq!(
            p.id_token_hint.as_ref().map(SecretString::expose),
            Some("eyJ.hint.sig")
        );
        assert_eq!(
            p.request_uri.as_deref(),
            Some("urn:ietf:params:oauth:request_uri:x")
        );
        assert_eq!(
            p.resource,
            vec![
                "https://a.example.com".to_owned(),
                "https://b.example.com".to_owned()
            ],
            "every resource is kept, empty ones dropped"
        );
        assert_eq!((p.scope, p.duplicate), (None, None));
        let every = AuthorizationParams::from_lookup(|name| vec![format!("v-{name}")]);
        assert_eq!(every.response_mode.as_deref(), Some("v-response_mode"));
        assert_eq!(
            every.code_challenge_method.as_deref(),
            Some("v-code_challenge_method")
        );
    }
}
