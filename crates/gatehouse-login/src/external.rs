//! External UI mode (`GATEHOUSE_UI=external`), the browser's side: Ory Hydra's login and consent
//! flow, with another app showing the pages.
//!
//! `/oauth2/auth` validates the request as always and keeps it behind a challenge (the same
//! [`Challenge`], bound to the browser cookie, expiring after `GATEHOUSE_TTL_LOGIN_CHALLENGE`),
//! then sends the browser to `GATEHOUSE_URLS_LOGIN?login_challenge=<id>`. The app answers
//! through the admin API (`hydra_api.rs`), which records the answer in the challenge and hands
//! back `redirect_to`: the original authorization URL plus a single-use `login_verifier`. When
//! the browser comes back with it, [`resume`] takes the verifier, checks that the challenge
//! belongs to *this* browser, and goes on, as Hydra v2 does, to
//! `GATEHOUSE_URLS_CONSENT?consent_challenge=<id>` (a new id; the login challenge is spent),
//! every time: with `skip: true` when a remembered consent covers the request (the built-in
//! flow's rule, `flow.rs`, [`consent_needed`]). Only a client with `skip_consent` gets its code
//! at once.
//! The consent answer comes back the same way with a `consent_verifier`, and the code is issued
//! by the token service for the granted scope and audience.
//!
//! A rejection goes to the client with the app's `error` when it is one a client understands
//! ([`CLIENT_ERRORS`]), else `access_denied`. A verifier that is unknown, used, expired
//! or brought by another browser never reaches the client: it goes to `GATEHOUSE_URLS_ERROR`
//! when set, else to the built-in error page.

use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::secret::random_token;
use serde::{Deserialize, Serialize};

use crate::authorize::{
    PARAMS, consent_needed, issue_code_for, redirect_error, redirect_error_code, with_cookie,
};
use crate::challenge::{Authenticated, Challenge};
use crate::config::ExternalUi;
use crate::csrf::Browser;
use crate::form::Fields;
use crate::i18n::Tr;
use crate::page::{Problem, SeeOther, language, store_failure};
use crate::redirect;
use crate::session::NewSession;
use crate::state::LoginState;

/// Which answer the challenge waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Login,
    Consent,
}

impl Phase {
    /// The verifier's kind and its query parameter's prefix.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Consent => "consent",
        }
    }
}

/// What the external app has said about a challenge so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalState {
    pub phase: Phase,
    /// The authorization URL as the client sent it (Hydra's `request_url`); the verifiers are
    /// appended to it.
    pub request_url: String,
    /// Login: the browser has a usable login session. Consent: a remembered consent covers it.
    pub skip: bool,
    /// The login session id (`sid`): the live session's, else a new one.
    pub session_id: String,
    /// Unix seconds.
    pub requested_at: i64,
    /// In the consent phase: the login challenge it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_challenge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<LoginAccepted>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentAccepted>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<Rejection>,
}

impl ExternalState {
    /// Whether the current phase has been answered (a second answer is refused).
    pub fn answered(&self) -> bool {
        self.rejected.is_some()
            || match self.phase {
                Phase::Login => self.login.is_some(),
                Phase::Consent => self.consent.is_some(),
            }
    }
}

/// `PUT …/login/accept`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginAccepted {
    pub subject: String,
    pub remember: bool,
    /// Seconds; 0: the configured session lifetime.
    pub remember_for: u64,
    pub acr: Option<String>,
    pub amr: Vec<String>,
    pub context: Option<serde_json::Value>,
}

/// `PUT …/consent/accept`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentAccepted {
    pub grant_scope: ScopeSet,
    /// The access tokens' audience; `None`: the requested resources.
    pub audience: Option<Vec<String>>,
    pub remember: bool,
    /// `session.id_token`: extra ID token claims (reserved names refused on accept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_claims: Option<serde_json::Map<String, serde_json::Value>>,
    /// `session.access_token`: extra access token claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_claims: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `PUT …/reject`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// The error the client gets: one of [`CLIENT_ERRORS`] (checked on reject).
    #[serde(default = "access_denied")]
    pub error: String,
    pub description: String,
}

fn access_denied() -> String {
    "access_denied".into()
}

/// The authorization endpoint's error codes a client understands (RFC 6749 §4.1.2.1, OpenID
/// Connect Core §3.1.2.6): an external app's rejection passes these through; anything else
/// reaches the client as `access_denied` (Hydra's default `request_denied` included).
pub const CLIENT_ERRORS: [&str; 10] = [
    "access_denied",
    "login_required",
    "consent_required",
    "interaction_required",
    "account_selection_required",
    "invalid_request",
    "invalid_scope",
    "temporarily_unavailable",
    "server_error",
    "unauthorized_client",
];

/// The longest `error_description` a rejection hands to the client, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// The error code and description a rejection reaches the client with.
pub fn client_error(error: Option<&str>, description: Option<&str>) -> (String, String) {
    let code = error
        .filter(|e| CLIENT_ERRORS.contains(e))
        .unwrap_or("access_denied");
    // RFC 6749 §4.1.2.1: the description is printable ASCII without `"` and `\`.
    let description: String = description
        .unwrap_or_default()
        .chars()
        .filter(|c| matches!(c, ' '..='~') && *c != '"' && *c != '\\')
        .take(MAX_DESCRIPTION_CHARS)
        .collect();
    let description = if description.trim().is_empty() {
        "the request was denied".to_owned()
    } else {
        description
    };
    (code.to_owned(), description)
}

/// The authorization URL the client sent (its recognised parameters, the `id_token_hint` left
/// out: a token is not moved into a URL another app sees).
fn request_url(state: &LoginState, fields: &Fields) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            PARAMS
                .iter()
                .filter(|p| **p != "id_token_hint")
                .filter_map(|p| Some((*p, fields.get(p)?))),
        )
        .finish();
    format!("{}/oauth2/auth?{query}", state.issuer())
}

/// A validated request in external mode: keep it behind a login challenge and send the browser
/// to the external login app.
pub(crate) async fn begin(
    state: &LoginState,
    t: Tr,
    browser: &Browser,
    mut challenge: Challenge,
    fields: &Fields,
    external: &ExternalUi,
) -> Response {
    let request = &challenge.request;
    if request.prompt.none && challenge.authenticated.is_none() {
        return redirect_error(
            state,
            t,
            request.response_mode,
            &request.redirect_uri,
            &OAuthError::new(
                ErrorCode::LoginRequired,
                "the user is not signed in and prompt=none was requested",
            ),
            request.state.as_deref(),
        );
    }
    challenge.external = Some(ExternalState {
        phase: Phase::Login,
        request_url: request_url(state, fields),
        skip: challenge.authenticated.is_some(),
        session_id: challenge
            .authenticated
            .as_ref()
            .map_or_else(|| random_token(16), |a| a.sid.clone()),
        requested_at: state.now(),
        login_challenge: None,
        login: None,
        consent: None,
        rejected: None,
    });
    let id = match state.challenges().create(&challenge).await {
        Ok(id) => id,
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    };
    match redirect::with_query(&external.login_url, &[("login_challenge", &id)]) {
        Some(location) => SeeOther::to(location)
            .cookie(browser.set_cookie(state.cookies()))
            .into_response(),
        None => state.error_page(t, Problem::Internal, None).into_response(),
    }
}

/// The browser back from the external app with `login_verifier` or `consent_verifier`; `None`
/// when the request carries neither (a new authorization request).
pub(crate) async fn resume(
    state: &LoginState,
    headers: &HeaderMap,
    ip: &str,
    fields: &Fields,
    external: &ExternalUi,
) -> Option<Response> {
    let (phase, verifier) = match (fields.get("login_verifier"), fields.get("consent_verifier")) {
        (Some(v), None) => (Phase::Login, v),
        (None, Some(v)) => (Phase::Consent, v),
        (None, None) => return None,
        (Some(_), Some(_)) => {
            let t = language(None, headers);
            return Some(fail(
                state,
                t,
                external,
                "invalid_request",
                "a request carries one verifier",
            ));
        }
    };
    Some(resume_with(state, headers, ip, phase, verifier, external).await)
}

async fn resume_with(
    state: &LoginState,
    headers: &HeaderMap,
    ip: &str,
    phase: Phase,
    verifier: &str,
    external: &ExternalUi,
) -> Response {
    let t = language(None, headers);
    let challenges = state.challenges();
    let id = match challenges.take_verifier(phase.kind(), verifier).await {
        Ok(Some(id)) => id,
        Ok(None) => {
            return fail(
                state,
                t,
                external,
                "invalid_request",
                "the verifier is unknown, expired or was used already",
            );
        }
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    };
    let browser = state.existing_browser(headers);
    let challenge = match challenges.load(&id, browser.as_ref()).await {
        Ok(Some(challenge)) => challenge,
        Ok(None) => {
            tracing::info!("a verifier came back expired or from another browser");
            return fail(
                state,
                t,
                external,
                "invalid_request",
                "the request expired or was started in another browser",
            );
        }
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    };
    let t = language(challenge.request.ui_locales.as_deref(), headers);
    let Some(ext) = challenge.external.clone().filter(|e| e.phase == phase) else {
        return fail(
            state,
            t,
            external,
            "invalid_request",
            "the verifier does not belong to this step",
        );
    };
    if let Some(rejection) = &ext.rejected {
        return match challenges.take(&id).await {
            Ok(Some(_)) => {
                let request = &challenge.request;
                tracing::info!(client_id = %request.client_id, "the external app rejected the request");
                redirect_error_code(
                    state,
                    t,
                    request.response_mode,
                    &request.redirect_uri,
                    (&rejection.error, &rejection.description),
                    request.state.as_deref(),
                )
            }
            Ok(None) => fail(state, t, external, "invalid_request", "the request expired"),
            Err(e) => state.failure_page(t, &store_failure(e)).into_response(),
        };
    }
    match phase {
        Phase::Login => after_login(state, t, headers, ip, &id, challenge, ext, external).await,
        Phase::Consent => after_consent(state, t, &id, challenge, ext, external).await,
    }
}

/// The login was accepted: a login session when asked to remember, then the code at once or on
/// to the consent app.
// The steps' shared context, passed down as it is: a struct would only rename it.
#[allow(clippy::too_many_arguments)]
async fn after_login(
    state: &LoginState,
    t: Tr,
    headers: &HeaderMap,
    ip: &str,
    id: &str,
    mut challenge: Challenge,
    mut ext: ExternalState,
    external: &ExternalUi,
) -> Response {
    let Some(login) = ext.login.clone() else {
        return fail(
            state,
            t,
            external,
            "invalid_request",
            "the login was not answered",
        );
    };
    let now = state.now();
    let mut cookie = None;
    let (auth_time, sid) = match &challenge.authenticated {
        Some(auth) if ext.skip && auth.subject == login.subject => {
            (auth.auth_time, auth.sid.clone())
        }
        _ if login.remember => {
            // A new login always gets a new session (no fixation); the browser's old one ends.
            let sessions = state.sessions();
            let remembered = match login.remember_for {
                0 => state.config().session_ttl,
                secs => Duration::from_secs(secs),
            };
            let sign_in = NewSession {
                subject: &login.subject,
                auth_time: now,
                remembered: Some(remembered),
                sid: ext.session_id.clone(),
                amr: login.amr.clone(),
                ip,
            };
            match sessions.start(headers, sign_in).await {
                Ok((session, set)) => {
                    cookie = set;
                    (session.auth_time, session.sid)
                }
                Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
            }
        }
        _ => (now, ext.session_id.clone()),
    };
    challenge.authenticated = Some(Authenticated {
        subject: login.subject.clone(),
        auth_time,
        sid,
        amr: login.amr.clone(),
    });
    let needed = match consent_needed(state, &challenge, &login.subject).await {
        Ok(needed) => needed,
        Err(e) => return with_cookie(state.failure_page(t, &e).into_response(), cookie),
    };
    let challenges = state.challenges();
    // The login challenge is spent either way: single use.
    match challenges.take(id).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return with_cookie(
                fail(state, t, external, "invalid_request", "the request expired"),
                cookie,
            );
        }
        Err(e) => {
            return with_cookie(
                state.failure_page(t, &store_failure(e)).into_response(),
                cookie,
            );
        }
    }
    let request = &challenge.request;
    // Hydra v2: the consent app is asked every time (with `skip: true` when a remembered consent
    // covers the request), except for a client with `skip_consent`.
    let skip_app = challenge.client.skip_consent && !request.prompt.consent;
    let response = if skip_app {
        issue_code_for(state, t, &challenge, &request.scope, None).await
    } else if needed && request.prompt.none {
        redirect_error(
            state,
            t,
            request.response_mode,
            &request.redirect_uri,
            &OAuthError::new(
                ErrorCode::ConsentRequired,
                "the user has not consented and prompt=none was requested",
            ),
            request.state.as_deref(),
        )
    } else {
        ext.phase = Phase::Consent;
        ext.login_challenge = Some(id.to_owned());
        ext.skip = !needed;
        challenge.external = Some(ext);
        match challenges.create(&challenge).await {
            Ok(consent_id) => {
                match redirect::with_query(
                    &external.consent_url,
                    &[("consent_challenge", &consent_id)],
                ) {
                    Some(location) => SeeOther::to(location).into_response(),
                    None => state.error_page(t, Problem::Internal, None).into_response(),
                }
            }
            Err(e) => state.failure_page(t, &store_failure(e)).into_response(),
        }
    };
    with_cookie(response, cookie)
}

/// The consent was accepted: remember it when asked, then the code for the granted scope and
/// audience.
async fn after_consent(
    state: &LoginState,
    t: Tr,
    id: &str,
    mut challenge: Challenge,
    ext: ExternalState,
    external: &ExternalUi,
) -> Response {
    let (Some(grant), Some(auth)) = (ext.consent, challenge.authenticated.clone()) else {
        return fail(
            state,
            t,
            external,
            "invalid_request",
            "the consent was not answered",
        );
    };
    match state.challenges().take(id).await {
        Ok(Some(_)) => {}
        Ok(None) => return fail(state, t, external, "invalid_request", "the request expired"),
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    }
    // As it was taken (its `external` still holds the answer), to give back after a failure on
    // the server's side.
    let taken = challenge.clone();
    if grant.remember
        && let Err(e) = state
            .token()
            .record_consent(
                &auth.subject,
                &challenge.request.client_id,
                &grant.grant_scope,
            )
            .await
    {
        let page = state.failure_page(t, &e).into_response();
        if page.status().is_server_error() {
            give_back(state, id, &taken).await;
        }
        return page;
    }
    if let Some(audience) = grant.audience {
        challenge.request.resources = audience;
    }
    let extra = crate::token_client::ExtraClaims {
        id_token: grant.id_token_claims,
        access_token: grant.access_token_claims,
        // The sign-in's methods come from the challenge (the login app's `amr`).
        amr: Vec::new(),
    };
    let answer = issue_code_for(state, t, &challenge, &grant.grant_scope, Some(&extra)).await;
    if answer.status().is_server_error() {
        give_back(state, id, &taken).await;
    }
    answer
}

/// A failure on the server's side spends nothing: the consent challenge and its verifier (the
/// same one: verifiers are derived from the challenge id) are stored again, so the browser's
/// retry of the same `redirect_to` goes on.
async fn give_back(state: &LoginState, id: &str, challenge: &Challenge) {
    let challenges = state.challenges();
    let restored = match challenges.save(id, challenge).await {
        Ok(()) => challenges
            .create_verifier(Phase::Consent.kind(), id)
            .await
            .map(drop),
        Err(e) => Err(e),
    };
    if let Err(e) = restored {
        tracing::warn!(error = %e, "a consent challenge could not be given back after a server-side failure");
    }
}

/// An error that cannot go to the client: to `GATEHOUSE_URLS_ERROR` when set, else the
/// built-in error page.
pub(crate) fn fail(
    state: &LoginState,
    t: Tr,
    external: &ExternalUi,
    error: &str,
    description: &str,
) -> Response {
    if let Some(url) = &external.error_url
        && let Some(location) =
            redirect::with_query(url, &[("error", error), ("error_description", description)])
    {
        return SeeOther::to(location).into_response();
    }
    state.error_page(t, Problem::Expired, None).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejection_passes_on_only_errors_clients_understand() {
        for code in CLIENT_ERRORS {
            assert_eq!(client_error(Some(code), Some("d")).0, code);
        }
        for other in [
            None,
            Some("request_denied"),
            Some("invalid_grant"),
            Some(""),
            Some("Access_Denied"),
        ] {
            assert_eq!(client_error(other, None).0, "access_denied", "{other:?}");
        }
    }

    #[test]
    fn a_rejections_description_is_bounded_printable_ascii() {
        let (_, d) = client_error(None, Some(&"é\"\\\n<x>".repeat(400)));
        assert!(d.chars().count() <= MAX_DESCRIPTION_CHARS);
        assert!(
            d.chars()
                .all(|c| matches!(c, ' '..='~') && c != '"' && c != '\\')
        );
        assert_eq!(client_error(None, Some("é\n")).1, "the request was denied");
    }
}
