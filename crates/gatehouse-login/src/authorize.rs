//! `GET|POST /oauth2/auth`: the authorization endpoint (RFC 6749 §4.1.1, OpenID Connect Core
//! §3.1.2.1).
//!
//! The token service validates the request over gRPC. An untrusted error (unknown client,
//! unregistered redirect URI) is an error page with status 400, never a redirect; every other
//! error is redirected to the client with `error`, `error_description`, `state` and `iss`
//! (RFC 9207). A valid request is held behind a challenge id and continues at the login page,
//! the consent page, or (live session, consent not needed) straight back to the client.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::authorize::{AuthorizationParams, AuthorizeError};
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::protocol::ResponseMode;
use gatehouse_core::scope::ScopeSet;

use crate::challenge::{Authenticated, Challenge, OriginalRequest, PendingSignIn};
use crate::client_ip::ClientIp;
use crate::flow::{self, Next};
use crate::form::Fields;
use crate::i18n::Tr;
use crate::page::{
    FORM_POST_SCRIPT, FORM_POST_SCRIPT_HASH, FormPostPage, Page, Problem, SeeOther, language,
    store_failure,
};
use crate::redirect;
use crate::state::LoginState;
use crate::token_client::ExtraClaims;

/// The parameters the endpoint reads; any other is ignored (RFC 6749 §3.1).
pub(crate) const PARAMS: [&str; 16] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "prompt",
    "max_age",
    "login_hint",
    "ui_locales",
    "id_token_hint",
    "response_mode",
    "request",
    "request_uri",
];

pub async fn authorize_get(
    State(state): State<LoginState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    start(&state, &headers, &ip, &Fields::query(query.as_deref())).await
}

/// RFC 6749 §3.1: the endpoint MAY support POST, with the parameters form-encoded.
pub async fn authorize_post(
    State(state): State<LoginState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    start(&state, &headers, &ip, &Fields::parse(&body)).await
}

/// The request's parameters: empty ones count as absent (RFC 6749 §3.1), and the first one
/// given more than once is named in `duplicate` for the token service to refuse.
pub fn params(fields: &Fields) -> AuthorizationParams {
    let duplicate = PARAMS
        .iter()
        .find(|p| fields.names().filter(|n| n == *p).count() > 1)
        .map(|p| (*p).to_owned());
    AuthorizationParams {
        duplicate,
        ..AuthorizationParams::from_lookup(|name| fields.get_all(name))
    }
}

async fn start(state: &LoginState, headers: &HeaderMap, ip: &str, fields: &Fields) -> Response {
    let external = state.config().external.as_ref();
    if let Some(external) = external
        && let Some(response) = crate::external::resume(state, headers, ip, fields, external).await
    {
        return response;
    }
    let params = params(fields);
    let t = language(params.ui_locales.as_deref(), headers);
    let validated = state.token().validate_authorization(&params).await;
    // Errors found while validating go back in the mode the request asked for, if it is one
    // that is answered.
    let requested_mode = ResponseMode::requested(params.response_mode.as_deref());
    if fields.not_utf8() {
        // A parameter that is not UTF-8 would be passed on mangled (U+FFFD): refused. Once the
        // client and redirect URI are trusted the error goes to the client, without a `state`
        // (it may be the mangled parameter).
        let error = OAuthError::invalid_request("the request parameters must be UTF-8");
        let redirect_uri = match validated {
            Ok(context) => context.request.redirect_uri,
            Err(AuthorizeError::Redirect { redirect_uri, .. }) => redirect_uri,
            Err(AuthorizeError::Untrusted(error)) => {
                return untrusted_page(state, t, &params, &error).await;
            }
        };
        return redirect_error(state, t, requested_mode, &redirect_uri, &error, None);
    }
    let context = match validated {
        Ok(context) => context,
        Err(AuthorizeError::Untrusted(error)) => {
            return untrusted_page(state, t, &params, &error).await;
        }
        Err(AuthorizeError::Redirect {
            redirect_uri,
            error,
            state: client_state,
        }) => {
            return redirect_error(
                state,
                t,
                requested_mode,
                &redirect_uri,
                &error,
                client_state.as_deref(),
            );
        }
    };

    let browser = state.browser(headers);
    let mut challenge = Challenge::new(context, state.challenges().browser_hash(&browser));
    let session = match state.sessions().load(headers).await {
        Ok(found) => found,
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    };
    let request = &challenge.request;
    // A session of another user than the one an id_token_hint names is not used for this request
    // (OpenID Connect Core §3.1.2.1): with prompt=none that is login_required.
    let usable = session.filter(|found| {
        !flow::needs_login(
            request.prompt,
            request.max_age,
            Some(found.session.auth_time),
            state.now(),
        ) && flow::session_matches_hint(request.hinted_subject.as_deref(), &found.session.subject)
    });
    // A password-only session where this request needs a second factor steps up: the second
    // factor is asked for, not the password again (with prompt=none: login_required).
    let step_up = usable.as_ref().is_some_and(|found| {
        request.mfa_required && !gatehouse_core::factor::is_multi_factor(&found.session.methods())
    });
    let (usable, step_up) = match (usable, step_up) {
        (Some(found), true) if !request.prompt.none => (None, Some(found)),
        (_, true) => (None, None),
        (usable, false) => (usable, None),
    };
    if let Some(found) = &usable {
        // Single sign-on: the session is used, which the account page's list of sessions shows.
        state.sessions().record_visit(found, state.now(), ip).await;
        challenge.authenticated = Some(Authenticated {
            subject: found.session.subject.clone(),
            auth_time: found.session.auth_time,
            sid: found.session.sid.clone(),
            amr: found.session.methods(),
        });
    }
    if let Some(external) = external {
        return crate::external::begin(state, t, &browser, challenge, fields, external).await;
    }
    let consent_needed = match &challenge.authenticated {
        Some(auth) => match consent_needed(state, &challenge, &auth.subject).await {
            Ok(needed) => needed,
            Err(e) => return state.failure_page(t, &e).into_response(),
        },
        None => true,
    };
    let next = flow::next_step(challenge.request.prompt, usable.is_some(), consent_needed);
    let page = match next {
        Next::Fail(code) => {
            let description = match code {
                ErrorCode::LoginRequired => {
                    "the user is not signed in and prompt=none was requested"
                }
                _ => "the user has not consented and prompt=none was requested",
            };
            return redirect_error(
                state,
                t,
                challenge.request.response_mode,
                &challenge.request.redirect_uri,
                &OAuthError::new(code, description),
                challenge.request.state.as_deref(),
            );
        }
        Next::IssueCode => return issue_code(state, t, &challenge).await,
        Next::Login => "/ui/login",
        Next::Consent => "/ui/consent",
    };
    let challenges = state.challenges();
    let id = match challenges.create(&challenge).await {
        Ok(id) => id,
        Err(e) => return state.failure_page(t, &store_failure(e)).into_response(),
    };
    // Kept so an expired page can start the request again; a best effort, the request goes on
    // without it. Not with an id_token_hint: the token is not stored, nor moved into a URL.
    if params.id_token_hint.is_none() {
        let original = OriginalRequest {
            params: PARAMS
                .iter()
                .filter_map(|p| Some(((*p).to_owned(), fields.get(p)?.to_owned())))
                .collect(),
            browser: challenge.browser.clone(),
        };
        if let Err(e) = challenges.remember_request(&id, &original).await {
            tracing::warn!(error = %e, "keeping the original authorization request failed");
        }
    }
    if let Some(found) = step_up
        && next == Next::Login
    {
        let has_factor = match state.token().list_factors(&found.session.subject).await {
            Ok((factors, _)) => !factors.is_empty(),
            Err(e) => return state.failure_page(t, &e).into_response(),
        };
        let pending = PendingSignIn {
            subject: found.session.subject.clone(),
            browser: challenge.browser.clone(),
            remember: found.session.remember,
            challenge: Some(id),
            return_to: None,
            enrol: !has_factor,
            factor_id: None,
            verified: false,
            sid: Some(found.session.sid.clone()),
        };
        return crate::second_factor::start(
            state,
            t,
            &pending,
            browser.set_cookie(state.cookies()),
        )
        .await;
    }
    SeeOther::to(format!("{}?challenge={id}", state.path(page)))
        .cookie(browser.set_cookie(state.cookies()))
        .into_response()
}

/// `GET /ui/restart?challenge=…`: the expired page's "start again": the original request of an
/// expired challenge, sent to the authorization endpoint again by this browser. Validated anew
/// there, so nothing of the old challenge carries over.
pub async fn restart(
    State(state): State<LoginState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = Fields::query(query.as_deref());
    let t = language(None, &headers);
    let browser = state.existing_browser(&headers);
    let id = query.get("challenge").unwrap_or_default();
    match state
        .challenges()
        .original_request(id, browser.as_ref())
        .await
    {
        Ok(Some(original)) => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&original.params)
                .finish();
            SeeOther::to(format!("{}?{query}", state.path("/oauth2/auth"))).into_response()
        }
        Ok(None) => state.error_page(t, Problem::Expired, None).into_response(),
        Err(e) => state.failure_page(t, &store_failure(e)).into_response(),
    }
}

/// The page for a request that cannot go back to the client (RFC 6749 §4.1.2.1). When the
/// client is known but the redirect URI is not one of its registered ones, the page names both
/// (as text: the URI is never a link), so the user sees which app sent them where.
async fn untrusted_page(
    state: &LoginState,
    t: Tr,
    params: &AuthorizationParams,
    error: &OAuthError,
) -> Response {
    let problem = Problem::from_oauth(error, Problem::BadRequest);
    if problem == Problem::BadRequest
        && error.code == ErrorCode::InvalidRequest
        && !matches!(
            params.duplicate.as_deref(),
            Some("client_id" | "redirect_uri")
        )
        && let (Some(client_id), Some(uri)) = (&params.client_id, &params.redirect_uri)
    {
        match state
            .token()
            .describe_client(client_id, Some(uri.as_str()))
            .await
        {
            Ok(Some((client, false))) => {
                let name = Some(client.name.trim())
                    .filter(|n| !n.is_empty())
                    .unwrap_or(client_id);
                return state
                    .unregistered_redirect_page(t, name, uri, error)
                    .into_response();
            }
            Ok(_) => {}
            // The plain page below still says what matters.
            Err(e) => tracing::warn!(error = %e.description, "describing a client failed"),
        }
    }
    state.error_page(t, problem, Some(error)).into_response()
}

/// Whether `subject` must see the consent screen for this request (see [`flow::needs_consent`]).
pub(crate) async fn consent_needed(
    state: &LoginState,
    challenge: &Challenge,
    subject: &str,
) -> Result<bool, OAuthError> {
    // RFC 8628 §5.4: a device request is always confirmed, so a code someone else sent cannot
    // connect their device to this account unseen.
    if challenge.device.is_some() {
        return Ok(true);
    }
    let request = &challenge.request;
    let remembered = if request.prompt.consent || challenge.client.skip_consent {
        None
    } else {
        state
            .token()
            .consent(subject, &request.client_id)
            .await?
            .map(|c| c.scope)
    };
    Ok(flow::needs_consent(
        request.prompt,
        challenge.client.skip_consent,
        &request.scope,
        remembered.as_ref(),
    ))
}

/// After sign-in: straight back to the client when consent is not needed (the challenge is
/// then spent), else on to the consent page.
pub(crate) async fn continue_after_login(
    state: &LoginState,
    t: Tr,
    id: &str,
    challenge: Challenge,
    subject: &str,
) -> Response {
    match consent_needed(state, &challenge, subject).await {
        Err(e) => state.failure_page(t, &e).into_response(),
        Ok(true) => match state.challenges().save(id, &challenge).await {
            Ok(()) => SeeOther::to(format!("{}?challenge={id}", state.path("/ui/consent")))
                .into_response(),
            Err(e) => state.failure_page(t, &store_failure(e)).into_response(),
        },
        Ok(false) => match state.challenges().take(id).await {
            Ok(Some(_)) => issue_code(state, t, &challenge).await,
            Ok(None) => state.error_page(t, Problem::Expired, None).into_response(),
            Err(e) => state.failure_page(t, &store_failure(e)).into_response(),
        },
    }
}

/// RFC 6749 §4.1.2: the token service issues the code for every requested scope, and the user
/// goes back to the client with `code`, `scope`, `state` and `iss`.
pub(crate) async fn issue_code(state: &LoginState, t: Tr, challenge: &Challenge) -> Response {
    issue_code_for(state, t, challenge, &challenge.request.scope, None).await
}

/// [`issue_code`] for `granted` (a subset of the requested scope), with the claims an external
/// consent app added.
pub(crate) async fn issue_code_for(
    state: &LoginState,
    t: Tr,
    challenge: &Challenge,
    granted: &ScopeSet,
    extra: Option<&ExtraClaims>,
) -> Response {
    let request = &challenge.request;
    let Some(auth) = &challenge.authenticated else {
        return state.error_page(t, Problem::Internal, None).into_response();
    };
    if let Some(device_id) = &challenge.device {
        return crate::device::answer(
            state,
            t,
            device_id,
            Some(crate::token_client::DeviceApprover {
                subject: &auth.subject,
                auth_time: auth.auth_time,
                session_id: Some(&auth.sid),
                amr: &auth.amr,
            }),
        )
        .await;
    }
    let issued = state
        .token()
        .issue_authorization_code_with(
            request,
            &auth.subject,
            granted,
            auth.auth_time,
            Some(&auth.sid),
            &ExtraClaims {
                amr: auth.amr.clone(),
                ..extra.cloned().unwrap_or_default()
            },
        )
        .await;
    match issued {
        Ok(code) => {
            let params = redirect::code_params(
                code.expose(),
                &granted.to_string(),
                request.state.as_deref(),
                state.issuer(),
            );
            respond(
                state,
                t,
                request.response_mode,
                &request.redirect_uri,
                params,
            )
        }
        // The user was disabled or deleted since signing in.
        Err(error) if error.code == ErrorCode::AccessDenied => redirect_error(
            state,
            t,
            request.response_mode,
            &request.redirect_uri,
            &error,
            request.state.as_deref(),
        ),
        Err(error) => {
            let problem = Problem::from_oauth(&error, Problem::BadRequest);
            state.error_page(t, problem, Some(&error)).into_response()
        }
    }
}

/// RFC 6749 §4.1.2.1 with RFC 9207's `iss`.
pub(crate) fn redirect_error(
    state: &LoginState,
    t: Tr,
    mode: ResponseMode,
    redirect_uri: &str,
    error: &OAuthError,
    client_state: Option<&str>,
) -> Response {
    let params = redirect::error_params(error, client_state, state.issuer());
    respond(state, t, mode, redirect_uri, params)
}

/// As [`redirect_error`], with an error code checked by the caller (`redirect::error_code_params`).
pub(crate) fn redirect_error_code(
    state: &LoginState,
    t: Tr,
    mode: ResponseMode,
    redirect_uri: &str,
    (code, description): (&str, &str),
    client_state: Option<&str>,
) -> Response {
    let params = redirect::error_code_params(code, description, client_state, state.issuer());
    respond(state, t, mode, redirect_uri, params)
}

/// Sends the authorization response to the client the way the request asked: a redirect with
/// the parameters in the query, or a page whose form posts them (`form_post`).
fn respond(
    state: &LoginState,
    t: Tr,
    mode: ResponseMode,
    redirect_uri: &str,
    params: Vec<(&'static str, String)>,
) -> Response {
    match mode {
        ResponseMode::FormPost => Page::render(
            StatusCode::OK,
            &FormPostPage {
                page: state.chrome(t),
                action: redirect_uri.to_owned(),
                fields: params,
                script: FORM_POST_SCRIPT,
            },
        )
        .csp(
            state
                .base_csp()
                .with_form_target(redirect_uri)
                .with_script_hash(FORM_POST_SCRIPT_HASH),
        )
        .into_response(),
        // Validation never lets another mode through.
        ResponseMode::Query | ResponseMode::Fragment => {
            match redirect::in_query(redirect_uri, &params) {
                Some(location) => SeeOther::to(location).into_response(),
                None => state.error_page(t, Problem::Internal, None).into_response(),
            }
        }
    }
}

/// Adds a `Set-Cookie` to any response.
pub(crate) fn with_cookie(mut response: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_named_and_unknown_ones_ignored() {
        let p = params(&Fields::parse(
            b"client_id=neoncli&scope=openid&scope=offline&grant_type=authorization_code&state=",
        ));
        assert_eq!(p.client_id.as_deref(), Some("neoncli"));
        assert_eq!(p.duplicate.as_deref(), Some("scope"));
        assert_eq!(p.state, None, "an empty parameter is an absent one");
        let p = params(&Fields::parse(
            b"client_id=a&grant_type=x&grant_type=y&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb",
        ));
        assert_eq!(p.duplicate, None, "unknown parameters may repeat");
        assert_eq!(p.redirect_uri.as_deref(), Some("http://127.0.0.1/cb"));
    }
}
