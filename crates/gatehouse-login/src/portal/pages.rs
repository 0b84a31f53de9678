//! The portal's templates and the views they show.

use askama::Template;

use crate::i18n::Tr;
use crate::page::Chrome;
use crate::portal::form::{AppForm, FieldError};
use crate::token_client::{PartnerRequest, RequestStatus};

/// One request on "your apps".
pub struct RequestView {
    pub id: String,
    pub name: String,
    pub status: &'static str,
    pub status_label: String,
    pub review_reason: Option<String>,
    /// A scope change of an approved app waits for review: the client keeps what it had.
    pub scope_change_pending: bool,
    pub client_id: Option<String>,
    pub type_label: String,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub logo_uri: Option<String>,
    pub can_reveal: bool,
    pub can_rotate: bool,
    pub can_edit: bool,
    pub edit_label: String,
}

impl RequestView {
    /// `label` names a scope for the page (the catalogue's label, or a phrase around its name).
    pub fn new(r: &PartnerRequest, t: Tr, label: &dyn Fn(&str) -> String) -> Self {
        let approved = r.client_id.is_some();
        let status_key = match r.status {
            RequestStatus::Pending => "developers.status_pending",
            RequestStatus::Approved => "developers.status_approved",
            RequestStatus::Rejected => "developers.status_rejected",
            RequestStatus::ChangesRequested => "developers.status_changes_requested",
        };
        let confidential = r.app.confidential;
        Self {
            id: r.id.clone(),
            name: r.app.name.clone(),
            status: r.status.as_str(),
            status_label: t.get(status_key).to_owned(),
            review_reason: r
                .review_reason
                .as_deref()
                .filter(|reason| !reason.trim().is_empty())
                .filter(|_| {
                    matches!(
                        r.status,
                        RequestStatus::Rejected | RequestStatus::ChangesRequested
                    )
                })
                .map(|reason| t.with("developers.review_reason", "reason", reason)),
            scope_change_pending: r.status == RequestStatus::Pending && approved,
            client_id: r.client_id.clone(),
            type_label: t
                .get(if confidential {
                    "developers.type_confidential"
                } else {
                    "developers.type_public"
                })
                .to_owned(),
            redirect_uris: r.app.redirect_uris.clone(),
            scopes: r.app.scopes.iter().map(|s| label(s)).collect(),
            logo_uri: crate::page::web_url(Some(&r.app.logo_uri)),
            can_reveal: approved && confidential && !r.secret_revealed,
            can_rotate: approved && confidential && r.secret_revealed,
            can_edit: matches!(
                r.status,
                RequestStatus::Approved | RequestStatus::ChangesRequested
            ),
            edit_label: t
                .get(if r.status == RequestStatus::ChangesRequested {
                    "developers.resubmit"
                } else {
                    "developers.edit"
                })
                .to_owned(),
        }
    }
}

#[derive(Template)]
#[template(path = "developers.html")]
pub struct DevelopersPage {
    pub page: Chrome,
    pub user_label: String,
    pub intro: String,
    pub notice: Option<String>,
    pub requests: Vec<RequestView>,
    pub reveal_csrf: String,
    pub logout_csrf: String,
}

/// A scope the form offers.
pub struct ScopeChoice {
    pub name: String,
    pub label: String,
    pub description: String,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "developers_form.html")]
pub struct AppFormPage {
    pub page: Chrome,
    pub heading: String,
    pub notes: Vec<String>,
    pub action: String,
    pub submit_label: String,
    pub csrf: String,
    pub form: AppForm,
    /// Field name and translated message.
    pub errors: Vec<(&'static str, String)>,
    /// What the token service refused, when it was not one field.
    pub general_error: Option<String>,
    pub scopes: Vec<ScopeChoice>,
    /// An approved app: only the redirect URIs, logo, description and scopes are editable.
    pub editing_approved: bool,
}

impl AppFormPage {
    /// The first message for `field`.
    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

/// Translates field errors.
pub fn field_messages(errors: &[FieldError], t: Tr) -> Vec<(&'static str, String)> {
    errors
        .iter()
        .map(|e| {
            let message = match &e.value {
                Some(value) => t.with(e.key, "uri", value),
                None => t.get(e.key).to_owned(),
            };
            (e.field, message)
        })
        .collect()
}

#[derive(Template)]
#[template(path = "developers_secret.html")]
pub struct SecretPage {
    pub page: Chrome,
    pub heading: String,
    pub request_id: String,
    pub client_id: String,
    /// `None`: already revealed.
    pub secret: Option<String>,
    pub grace: Option<String>,
}

#[derive(Template)]
#[template(path = "developers_rotate.html")]
pub struct RotatePage {
    pub page: Chrome,
    pub heading: String,
    pub request_id: String,
    pub csrf: String,
}
