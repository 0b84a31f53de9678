//! The partner portal (`/developers`, under the issuer's path): a signed-in partner requests
//! apps, follows their review, sees an approved app's client id, reveals its secret once,
//! rotates it, and edits the app. The registration requests live in the token service; every
//! call names the partner by the login session's subject, and the token service answers only
//! that partner's requests (another partner's id reads as "not found").
//!
//! A visitor without a login session is sent to the login page, which comes back here
//! (`/ui/login?return=/developers…`, only to portal paths: [`return_path`]).
//! `GATEHOUSE_PARTNER_APPROVAL=off` hides the portal: every route answers 404.
//!
//! | route | what |
//! |---|---|
//! | `GET /developers` | the partner's requests and apps |
//! | `GET\|POST /developers/apps/new` | request an app (multipart: the logo upload) |
//! | `GET\|POST /developers/apps/{id}/edit` | edit and resubmit, or edit an approved app |
//! | `POST /developers/apps/{id}/reveal` | the one-time reveal of the client secret |
//! | `GET\|POST /developers/apps/{id}/rotate` | confirm, then rotate the client secret |
//! | `GET /developers/logos/{id}` | an uploaded logo |

pub mod form;
pub mod logo;
mod pages;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gatehouse_core::scope::ScopeDefinition;

use crate::csrf::{Browser, Purpose};
use crate::form::Fields;
use crate::i18n::Tr;
use crate::page::{ErrorPage, Page, SeeOther, language, scope_label, store_failure, user_label};
use crate::state::LoginState;
use crate::token_client::{
    AppFields, ApprovalMode, PartnerError, PartnerRequest, RequestStatus, ShownSecret,
};
use form::{AppForm, BodyProblem, FieldError};
use pages::{
    AppFormPage, DevelopersPage, RequestView, RotatePage, ScopeChoice, SecretPage, field_messages,
};

/// The portal's routes, added to the login UI's router.
pub fn routes(router: axum::Router<LoginState>, state: &LoginState) -> axum::Router<LoginState> {
    let at = |path: &str| state.path(path);
    router
        .route(&at("/developers"), get(list))
        .route(&at("/developers/apps/new"), get(new_form).post(create))
        .route(
            &at("/developers/apps/{id}/edit"),
            get(edit_form).post(update),
        )
        .route(&at("/developers/apps/{id}/reveal"), post(reveal))
        .route(
            &at("/developers/apps/{id}/rotate"),
            get(rotate_form).post(rotate),
        )
        .route(&at("/developers/logos/{id}"), get(serve_logo))
}

/// Where the login page may send someone back: a portal or account page on this origin,
/// nothing else. `base_path` is the issuer's path.
pub fn return_path(base_path: &str, value: &str) -> Option<String> {
    let rest = ["/developers", "/account"]
        .iter()
        .find_map(|section| value.strip_prefix(base_path)?.strip_prefix(section))?;
    let safe = (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
        && !value.contains("//")
        && !value.contains('\\')
        && value.len() <= 512
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'<' && b != b'>');
    safe.then(|| value.to_owned())
}

/// The signed-in partner.
struct Partner {
    subject: String,
    mode: ApprovalMode,
}

fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

/// The approval mode, the portal hidden when off.
async fn mode(state: &LoginState, t: Tr) -> Result<ApprovalMode, Response> {
    match state.token().approval_mode().await {
        Ok(ApprovalMode::Off) | Err(PartnerError::Off) => Err(not_found()),
        Ok(mode) => Ok(mode),
        Err(e) => Err(partner_failure(state, t, e)),
    }
}

/// The partner signed in here, or the answer that sends them to sign in (and back to `back`).
async fn partner(
    state: &LoginState,
    headers: &HeaderMap,
    t: Tr,
    back: &str,
) -> Result<Partner, Response> {
    let mode = mode(state, t).await?;
    match state.sessions().load(headers).await {
        Ok(Some(found)) => Ok(Partner {
            subject: found.session.subject,
            mode,
        }),
        Ok(None) => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("return", back)
                .finish();
            Err(SeeOther::to(format!("{}?{query}", state.path("/ui/login"))).into_response())
        }
        Err(e) => Err(state.failure_page(t, &store_failure(e)).into_response()),
    }
}

/// The page for a failed partner call that is not about a form field.
fn partner_failure(state: &LoginState, t: Tr, e: PartnerError) -> Response {
    match e {
        PartnerError::Off => not_found(),
        PartnerError::NotFound => message_page(
            state,
            t,
            StatusCode::NOT_FOUND,
            "developers.not_found_title",
            t.get("developers.not_found_text"),
        ),
        PartnerError::WrongState(_) => message_page(
            state,
            t,
            StatusCode::CONFLICT,
            "developers.title",
            t.get("developers.wrong_state"),
        ),
        PartnerError::Invalid(reason) => message_page(
            state,
            t,
            StatusCode::BAD_REQUEST,
            "error.request_title",
            &t.with("developers.error_service", "reason", &reason),
        ),
        PartnerError::Service(e) => state.failure_page(t, &e).into_response(),
    }
}

fn message_page(
    state: &LoginState,
    t: Tr,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    Page::render(
        status,
        &ErrorPage {
            page: state.chrome(t),
            code: status.as_u16().to_string(),
            title: t.get(title).to_owned(),
            message: message.to_owned(),
            detail: None,
            restart_href: None,
        },
    )
    .into_response()
}

/// `GET /developers`.
async fn list(
    State(state): State<LoginState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = Fields::query(query.as_deref());
    let t = language(None, &headers);
    let partner = match partner(&state, &headers, t, &state.path("/developers")).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    let user = match state.token().user(&partner.subject).await {
        Ok(Some(user)) if !user.disabled => user,
        Ok(_) => return SeeOther::to(state.path("/ui/login")).into_response(),
        Err(e) => return state.failure_page(t, &e).into_response(),
    };
    let (requests, catalogue) = match tokio::try_join!(
        state.token().list_registrations(&partner.subject),
        state.token().partner_scopes()
    ) {
        Ok(both) => both,
        Err(e) => return partner_failure(&state, t, e),
    };
    let label = |name: &str| label_of(&catalogue, name, t);
    let notice = [
        ("submitted", "developers.submitted"),
        ("approved", "developers.submitted_automatic"),
        ("updated", "developers.updated"),
        ("review", "developers.updated_review"),
    ]
    .into_iter()
    .find(|(flag, _)| query.flag(flag))
    .map(|(_, key)| t.get(key).to_owned());
    let browser = state.browser(&headers);
    let mut csp = state.base_csp();
    for r in &requests {
        csp = csp.with_image(&r.app.logo_uri);
    }
    Page::render(
        StatusCode::OK,
        &DevelopersPage {
            page: state.chrome(t),
            user_label: user_label(user.name.as_deref(), &user.username),
            intro: t
                .get(if partner.mode == ApprovalMode::Automatic {
                    "developers.intro_automatic"
                } else {
                    "developers.intro"
                })
                .to_owned(),
            notice,
            requests: requests
                .iter()
                .map(|r| RequestView::new(r, t, &label))
                .collect(),
            reveal_csrf: state.csrf().token(&browser, Purpose::PortalReveal),
            logout_csrf: state.csrf().token(&browser, Purpose::Logout),
        },
    )
    .csp(csp)
    .cookie(browser.set_cookie(state.cookies()))
    .into_response()
}

fn label_of(catalogue: &[ScopeDefinition], name: &str, t: Tr) -> String {
    catalogue
        .iter()
        .find(|s| s.name.as_str() == name)
        .map_or_else(|| name.to_owned(), |s| scope_label(s, t))
}

/// What the form page needs besides the form.
struct FormContext<'a> {
    t: Tr,
    mode: ApprovalMode,
    /// The request being edited.
    existing: Option<&'a PartnerRequest>,
    catalogue: &'a [ScopeDefinition],
}

impl FormContext<'_> {
    fn editing_approved(&self) -> bool {
        self.existing.is_some_and(|r| r.client_id.is_some())
    }

    fn page(
        &self,
        state: &LoginState,
        browser: &Browser,
        status: StatusCode,
        form: AppForm,
        errors: &[FieldError],
        general_error: Option<String>,
    ) -> Response {
        let t = self.t;
        let (heading, action, submit) = match self.existing {
            None => (
                t.get("developers.new_heading").to_owned(),
                state.path("/developers/apps/new"),
                "developers.submit_new",
            ),
            Some(r) => {
                let resubmit = r.client_id.is_none();
                (
                    t.with(
                        if resubmit {
                            "developers.resubmit_heading"
                        } else {
                            "developers.edit_heading"
                        },
                        "app",
                        &r.app.name,
                    ),
                    state.path(&format!("/developers/apps/{}/edit", r.id)),
                    if resubmit {
                        "developers.submit_resubmit"
                    } else {
                        "developers.submit_edit"
                    },
                )
            }
        };
        let mut notes = Vec::new();
        if self.existing.is_none() {
            notes.push(t.get("developers.new_intro").to_owned());
            if self.mode == ApprovalMode::Automatic {
                notes.push(t.get("developers.automatic_note").to_owned());
            }
        }
        if let Some(reason) = self
            .existing
            .and_then(|r| r.review_reason.as_deref())
            .filter(|_| {
                self.existing
                    .is_some_and(|r| r.status == RequestStatus::ChangesRequested)
            })
        {
            notes.push(t.with("developers.review_reason", "reason", reason));
        }
        let scopes = self
            .catalogue
            .iter()
            .map(|s| ScopeChoice {
                name: s.name.to_string(),
                label: scope_label(s, t),
                description: s.description.clone(),
                checked: form.scopes.iter().any(|c| c == s.name.as_str()),
            })
            .collect();
        let mut csp = state.base_csp();
        csp = csp.with_image(&form.logo_uri);
        Page::render(
            status,
            &AppFormPage {
                page: state.chrome(t),
                heading,
                notes,
                action,
                submit_label: t.get(submit).to_owned(),
                csrf: state.csrf().token(browser, Purpose::PortalApp),
                errors: field_messages(errors, t),
                general_error,
                scopes,
                editing_approved: self.editing_approved(),
                form,
            },
        )
        .csp(csp)
        .cookie(browser.set_cookie(state.cookies()))
        .into_response()
    }
}

/// `GET /developers/apps/new`.
async fn new_form(State(state): State<LoginState>, headers: HeaderMap) -> Response {
    let t = language(None, &headers);
    let partner = match partner(&state, &headers, t, &state.path("/developers/apps/new")).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    let catalogue = match state.token().partner_scopes().await {
        Ok(c) => c,
        Err(e) => return partner_failure(&state, t, e),
    };
    let context = FormContext {
        t,
        mode: partner.mode,
        existing: None,
        catalogue: &catalogue,
    };
    let browser = state.browser(&headers);
    context.page(
        &state,
        &browser,
        StatusCode::OK,
        AppForm::default(),
        &[],
        None,
    )
}

/// `GET /developers/apps/{id}/edit`.
async fn edit_form(
    State(state): State<LoginState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let t = language(None, &headers);
    let back = state.path("/developers");
    let partner = match partner(&state, &headers, t, &back).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    let (request, catalogue) = match tokio::try_join!(
        state.token().get_registration(&partner.subject, &id),
        state.token().partner_scopes()
    ) {
        Ok(both) => both,
        Err(e) => return partner_failure(&state, t, e),
    };
    if !matches!(
        request.status,
        RequestStatus::Approved | RequestStatus::ChangesRequested
    ) && request.client_id.is_none()
    {
        return partner_failure(&state, t, PartnerError::WrongState(String::new()));
    }
    let context = FormContext {
        t,
        mode: partner.mode,
        existing: Some(&request),
        catalogue: &catalogue,
    };
    let browser = state.browser(&headers);
    context.page(
        &state,
        &browser,
        StatusCode::OK,
        AppForm::from_app(&request.app),
        &[],
        None,
    )
}

/// `POST /developers/apps/new`.
async fn create(State(state): State<LoginState>, headers: HeaderMap, body: Body) -> Response {
    save(state, headers, body, None).await
}

/// `POST /developers/apps/{id}/edit`.
async fn update(
    State(state): State<LoginState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    save(state, headers, body, Some(id)).await
}

/// Checks and sends the app form: a new request, a resubmission, or an approved app's edit.
async fn save(state: LoginState, headers: HeaderMap, body: Body, id: Option<String>) -> Response {
    let t = language(None, &headers);
    // Hidden means hidden: no CSRF page either.
    if let Err(response) = mode(&state, t).await {
        return response;
    }
    let submitted = match form::read_form(&headers, body).await {
        Ok(s) => s,
        Err(BodyProblem::TooLarge) => {
            return message_page(
                &state,
                t,
                StatusCode::PAYLOAD_TOO_LARGE,
                "error.request_title",
                t.get("developers.body_too_large"),
            );
        }
        Err(BodyProblem::Unreadable) => {
            return message_page(
                &state,
                t,
                StatusCode::BAD_REQUEST,
                "error.request_title",
                t.get("error.request_text"),
            );
        }
    };
    let Some(browser) = state.existing_browser(&headers).filter(|b| {
        state.csrf().verify(
            Some(b),
            Purpose::PortalApp,
            submitted.fields.get("csrf_token"),
        )
    }) else {
        return state
            .error_page(t, crate::page::Problem::Csrf, None)
            .into_response();
    };
    let partner = match partner(&state, &headers, t, &state.path("/developers")).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    let token = state.token();
    let (existing, catalogue) = match id.as_deref() {
        Some(id) => match tokio::try_join!(
            token.get_registration(&partner.subject, id),
            token.partner_scopes()
        ) {
            Ok((r, c)) => (Some(r), c),
            Err(e) => return partner_failure(&state, t, e),
        },
        None => match token.partner_scopes().await {
            Ok(c) => (None, c),
            Err(e) => return partner_failure(&state, t, e),
        },
    };
    let context = FormContext {
        t,
        mode: partner.mode,
        existing: existing.as_ref(),
        catalogue: &catalogue,
    };
    let mut form = AppForm::from_fields(&submitted.fields);
    if let Some(r) = existing.as_ref().filter(|r| r.client_id.is_some()) {
        // What an approved app cannot change here comes from the request, not the form.
        form.name.clone_from(&r.app.name);
        form.contact_name.clone_from(&r.app.contact_name);
        form.reason.clone_from(&r.app.reason);
        form.website.clone_from(&r.app.website);
        form.confidential = Some(r.app.confidential);
    }
    let mut errors = Vec::new();
    // An uploaded logo is stored first, so a form sent back for another field keeps it (as its
    // address in the logo field).
    let own_logos = format!("{}/developers/logos/", state.issuer());
    if let Some(upload) = submitted.logo {
        match logo::check_logo(&upload.bytes) {
            Ok(kind) => {
                match token
                    .put_logo(&partner.subject, kind.content_type(), upload.bytes)
                    .await
                {
                    Ok(logo_id) => form.logo_uri = format!("{own_logos}{logo_id}"),
                    Err(PartnerError::Invalid(_)) => errors.push(FieldError {
                        field: "logo_file",
                        key: "developers.logo_not_image",
                        value: None,
                    }),
                    Err(PartnerError::Service(e)) => {
                        return context.page(
                            &state,
                            &browser,
                            service_status(&e),
                            form,
                            &[],
                            Some(service_message(t, &e)),
                        );
                    }
                    Err(e) => return partner_failure(&state, t, e),
                }
            }
            Err(problem) => errors.push(FieldError {
                field: "logo_file",
                key: problem.message_key(),
                value: None,
            }),
        }
    }
    let names: Vec<String> = catalogue.iter().map(|s| s.name.to_string()).collect();
    // Our own logo address passes under an http issuer too (local development).
    let own_logo = form.logo_uri.starts_with(&own_logos);
    let checked = if own_logo {
        let mut without = form.clone();
        without.logo_uri.clear();
        without.validate(&names).map(|app| AppFields {
            logo_uri: form.logo_uri.clone(),
            ..app
        })
    } else {
        form.validate(&names)
    };
    let app = match checked {
        Ok(app) if errors.is_empty() => app,
        Ok(_) => {
            return context.page(
                &state,
                &browser,
                StatusCode::BAD_REQUEST,
                form,
                &errors,
                None,
            );
        }
        Err(mut more) => {
            more.extend(errors);
            return context.page(&state, &browser, StatusCode::BAD_REQUEST, form, &more, None);
        }
    };
    let result = match &existing {
        Some(r) if r.client_id.is_some() => token.update_app(&partner.subject, &r.id, &app).await,
        Some(r) => {
            token
                .submit_registration(&partner.subject, Some(&r.id), &app)
                .await
        }
        None => {
            token
                .submit_registration(&partner.subject, None, &app)
                .await
        }
    };
    match result {
        Ok(saved) => {
            let flag = match (existing.is_some(), saved.status) {
                (false, RequestStatus::Approved) => "approved",
                (false, _) => "submitted",
                (true, RequestStatus::Pending) if saved.client_id.is_some() => "review",
                (true, RequestStatus::Pending) => "submitted",
                (true, _) => "updated",
            };
            SeeOther::to(format!("{}?{flag}=1", state.path("/developers"))).into_response()
        }
        Err(PartnerError::Invalid(reason)) => context.page(
            &state,
            &browser,
            StatusCode::BAD_REQUEST,
            form,
            &[],
            Some(t.with("developers.error_service", "reason", &reason)),
        ),
        Err(PartnerError::Service(e)) => context.page(
            &state,
            &browser,
            service_status(&e),
            form,
            &[],
            Some(service_message(t, &e)),
        ),
        Err(e) => partner_failure(&state, t, e),
    }
}

fn service_status(e: &gatehouse_core::error::OAuthError) -> StatusCode {
    match e.code {
        gatehouse_core::error::ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn service_message(t: Tr, e: &gatehouse_core::error::OAuthError) -> String {
    match e.code {
        gatehouse_core::error::ErrorCode::TemporarilyUnavailable => {
            t.get("error.unavailable_text").to_owned()
        }
        _ => t.get("error.internal_text").to_owned(),
    }
}

/// The POST's form when its CSRF token is the one for `purpose`.
fn checked_form(
    state: &LoginState,
    headers: &HeaderMap,
    body: &Bytes,
    purpose: Purpose,
) -> Option<Fields> {
    let form = Fields::parse(body);
    let browser = state.existing_browser(headers);
    state
        .csrf()
        .verify(browser.as_ref(), purpose, form.get("csrf_token"))
        .then_some(form)
}

fn csrf_refused(state: &LoginState, t: Tr) -> Response {
    state
        .error_page(t, crate::page::Problem::Csrf, None)
        .into_response()
}

/// The page that shows a secret once: never stored by a browser or a proxy.
fn secret_page(status: StatusCode, page: SecretPage) -> Response {
    let mut response = Page::render(status, &page).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// `POST /developers/apps/{id}/reveal`: the one-time reveal.
async fn reveal(
    State(state): State<LoginState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let t = language(None, &headers);
    if let Err(response) = mode(&state, t).await {
        return response;
    }
    if checked_form(&state, &headers, &body, Purpose::PortalReveal).is_none() {
        return csrf_refused(&state, t);
    }
    let partner = match partner(&state, &headers, t, &state.path("/developers")).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    let request = match state.token().get_registration(&partner.subject, &id).await {
        Ok(r) => r,
        Err(e) => return partner_failure(&state, t, e),
    };
    let heading = t.with("developers.secret_heading", "app", &request.app.name);
    match state
        .token()
        .reveal_client_secret(&partner.subject, &id)
        .await
    {
        Ok(shown) => {
            tracing::info!(request = %id, "a partner revealed a client secret");
            shown_secret(&state, t, heading, &id, &shown, false)
        }
        Err(PartnerError::WrongState(_)) if request.client_id.is_some() => secret_page(
            StatusCode::CONFLICT,
            SecretPage {
                page: state.chrome(t),
                heading,
                request_id: id,
                client_id: request.client_id.unwrap_or_default(),
                secret: None,
                grace: None,
            },
        ),
        Err(e) => partner_failure(&state, t, e),
    }
}

fn shown_secret(
    state: &LoginState,
    t: Tr,
    heading: String,
    id: &str,
    shown: &ShownSecret,
    rotated: bool,
) -> Response {
    let grace = rotated.then(|| match shown.old_secret_grace_seconds {
        Some(seconds) if seconds > 0 => t.with(
            "developers.secret_old_grace",
            "minutes",
            &seconds.div_ceil(60).to_string(),
        ),
        _ => t.get("developers.secret_old_ended").to_owned(),
    });
    secret_page(
        StatusCode::OK,
        SecretPage {
            page: state.chrome(t),
            heading,
            request_id: id.to_owned(),
            client_id: shown.client_id.clone(),
            secret: Some(shown.secret.expose().to_owned()),
            grace,
        },
    )
}

/// `GET /developers/apps/{id}/rotate`: the confirmation.
async fn rotate_form(
    State(state): State<LoginState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let t = language(None, &headers);
    let partner = match partner(&state, &headers, t, &state.path("/developers")).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    let request = match state.token().get_registration(&partner.subject, &id).await {
        Ok(r) if r.client_id.is_some() && r.app.confidential => r,
        Ok(_) => return partner_failure(&state, t, PartnerError::WrongState(String::new())),
        Err(e) => return partner_failure(&state, t, e),
    };
    let browser = state.browser(&headers);
    Page::render(
        StatusCode::OK,
        &RotatePage {
            page: state.chrome(t),
            heading: t.with("developers.rotate_heading", "app", &request.app.name),
            request_id: id,
            csrf: state.csrf().token(&browser, Purpose::PortalRotate),
        },
    )
    .cookie(browser.set_cookie(state.cookies()))
    .into_response()
}

/// `POST /developers/apps/{id}/rotate`: a new secret, shown once; the old one keeps working for
/// the configured grace.
async fn rotate(
    State(state): State<LoginState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let t = language(None, &headers);
    if let Err(response) = mode(&state, t).await {
        return response;
    }
    let Some(form) = checked_form(&state, &headers, &body, Purpose::PortalRotate) else {
        return csrf_refused(&state, t);
    };
    if !form.flag("confirm") {
        return SeeOther::to(state.path(&format!("/developers/apps/{id}/rotate"))).into_response();
    }
    let partner = match partner(&state, &headers, t, &state.path("/developers")).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    let request = match state.token().get_registration(&partner.subject, &id).await {
        Ok(r) => r,
        Err(e) => return partner_failure(&state, t, e),
    };
    match state
        .token()
        .rotate_client_secret(&partner.subject, &id)
        .await
    {
        Ok(shown) => {
            tracing::info!(request = %id, "a partner rotated a client secret");
            let heading = t.with("developers.secret_heading", "app", &request.app.name);
            shown_secret(&state, t, heading, &id, &shown, true)
        }
        Err(e) => partner_failure(&state, t, e),
    }
}

/// `GET /developers/logos/{id}`: an uploaded logo, with a policy that keeps it an image.
async fn serve_logo(
    State(state): State<LoginState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let t = language(None, &headers);
    if let Err(response) = mode(&state, t).await {
        return response;
    }
    if !logo::is_logo_id(&id) {
        return not_found();
    }
    let found = match state.token().get_logo(&id).await {
        Ok(Some(found)) => found,
        Ok(None) | Err(PartnerError::NotFound) => return not_found(),
        Err(e) => return partner_failure(&state, t, e),
    };
    let Some(kind) = logo::LogoType::from_content_type(&found.content_type) else {
        return not_found();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(kind.content_type()),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("inline"),
            ),
        ],
        found.bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_portal_and_account_paths_are_returned_to() {
        for good in [
            "/api/developers",
            "/api/developers/apps/new",
            "/api/developers?x=1",
            "/api/account",
            "/api/account/security",
            "/api/account/apps",
        ] {
            assert_eq!(return_path("/api", good).as_deref(), Some(good));
        }
        for bad in [
            "/developers",
            "/api/developersx",
            "https://evil.example/api/developers",
            "//evil.example/api/developers",
            "/api/developers//evil.example",
            "/api/developers/\\evil",
            "/api/developers/\"><script>",
            "/api/developers/\nx",
            "/account",
            "/api/accountx",
            "/api/account//evil.example",
            "/api/ui/login",
            "/api/oauth2/auth",
        ] {
            assert_eq!(return_path("/api", bad), None, "{bad}");
        }
    }
}
