//! The partner portal's calls: registration requests and their apps, for the signed-in
//! partner (the subject the login session names), the visible scope catalogue, logos, and the
//! approval mode.
//!
//! The token service answers with gRPC statuses the portal tells apart ([`PartnerError`]):
//! invalid argument (with the reason), permission denied and not found (another partner's
//! request looks like none at all), failed precondition (the request is not in a state that
//! allows it), unavailable (the portal is off, or the service is down).

use gatehouse_core::error::OAuthError;
use gatehouse_core::secret::SecretString;

/// The fields of an app request, as the partner filled them in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppFields {
    pub name: String,
    pub description: String,
    pub website: String,
    pub contact_name: String,
    pub reason: String,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    /// Calls the API from a backend: `client_secret_basic`; else a public client with PKCE.
    pub confidential: bool,
    pub logo_uri: String,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    Pending,
    Approved,
    Rejected,
    ChangesRequested,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::ChangesRequested => "changes_requested",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            "changes_requested" => Self::ChangesRequested,
            _ => return None,
        })
    }
}

/// One of the partner's registration requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerRequest {
    pub id: String,
    pub status: RequestStatus,
    pub app: AppFields,
    /// The operator's reason (rejected, changes requested).
    pub review_reason: Option<String>,
    /// The client, once approved (kept while a scope change waits for review).
    pub client_id: Option<String>,
    pub secret_revealed: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `GATEHOUSE_PARTNER_APPROVAL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalMode {
    Manual,
    Automatic,
    /// The portal answers 404 everywhere.
    Off,
}

/// A client secret shown once.
#[derive(Debug, Clone)]
pub struct ShownSecret {
    pub client_id: String,
    pub secret: SecretString,
    /// How long the previous secret keeps working (rotation), in seconds.
    pub old_secret_grace_seconds: Option<u64>,
}

/// A stored logo.
#[derive(Debug, Clone)]
pub struct Logo {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// How a partner operation failed.
#[derive(Debug, Clone, PartialEq)]
pub enum PartnerError {
    /// The token service refused a field: its message.
    Invalid(String),
    /// Not this partner's, or no such request.
    NotFound,
    /// The request's status does not allow this (e.g. a second secret reveal).
    WrongState(String),
    /// The portal is off (`GATEHOUSE_PARTNER_APPROVAL=off`).
    Off,
    /// Anything else: unreachable, internal.
    Service(OAuthError),
}

use gatehouse_core::scope::ScopeDefinition;
use gatehouse_proto::token::v1 as pb;
use tonic::{Code, Status};

use super::{TokenServiceClient, bad_answer, error, scopes};

fn partner_error(status: Status) -> PartnerError {
    match status.code() {
        Code::InvalidArgument => PartnerError::Invalid(status.message().to_owned()),
        Code::NotFound | Code::PermissionDenied => PartnerError::NotFound,
        Code::FailedPrecondition => PartnerError::WrongState(status.message().to_owned()),
        _ => PartnerError::Service(error(status)),
    }
}

fn app_message(app: &AppFields) -> pb::PartnerApp {
    pb::PartnerApp {
        name: app.name.clone(),
        description: app.description.clone(),
        website: app.website.clone(),
        contact_name: app.contact_name.clone(),
        reason: app.reason.clone(),
        redirect_uris: app.redirect_uris.clone(),
        scopes: app.scopes.clone(),
        confidential: app.confidential,
        logo_uri: app.logo_uri.clone(),
    }
}

fn request(message: Option<pb::PartnerRequest>) -> Result<PartnerRequest, PartnerError> {
    let malformed = |what: &'static str| {
        PartnerError::Service(bad_answer(
            gatehouse_proto::convert::MalformedMessage::missing(what),
        ))
    };
    let r = message.ok_or_else(|| malformed("request"))?;
    let status = RequestStatus::parse(&r.status).ok_or_else(|| malformed("status"))?;
    let app = r.app.unwrap_or_default();
    Ok(PartnerRequest {
        id: r.id,
        status,
        app: AppFields {
            name: app.name,
            description: app.description,
            website: app.website,
            contact_name: app.contact_name,
            reason: app.reason,
            redirect_uris: app.redirect_uris,
            scopes: app.scopes,
            confidential: app.confidential,
            logo_uri: app.logo_uri,
        },
        review_reason: Some(r.review_reason).filter(|s| !s.is_empty()),
        client_id: r.client_id.filter(|s| !s.is_empty()),
        secret_revealed: r.secret_revealed,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

impl TokenServiceClient {
    /// `GATEHOUSE_PARTNER_APPROVAL` as the token service has it.
    pub async fn approval_mode(&self) -> Result<ApprovalMode, PartnerError> {
        let answer = self
            .call(pb::GetPartnerSettingsRequest {}, |mut c, r| async move {
                c.get_partner_settings(r).await
            })
            .await
            .map_err(partner_error)?;
        Ok(match answer.approval_mode.as_str() {
            "manual" => ApprovalMode::Manual,
            "automatic" => ApprovalMode::Automatic,
            _ => ApprovalMode::Off,
        })
    }

    /// The scopes a partner may request: the visible catalogue.
    pub async fn partner_scopes(&self) -> Result<Vec<ScopeDefinition>, PartnerError> {
        let answer = self
            .call(pb::ListPartnerScopesRequest {}, |mut c, r| async move {
                c.list_partner_scopes(r).await
            })
            .await
            .map_err(partner_error)?;
        scopes(answer.scopes).map_err(|e| PartnerError::Service(bad_answer(e)))
    }

    /// Every request of `subject`.
    pub async fn list_registrations(
        &self,
        subject: &str,
    ) -> Result<Vec<PartnerRequest>, PartnerError> {
        let message = pb::ListRegistrationRequestsRequest {
            subject: subject.to_owned(),
        };
        let answer = self
            .call(message, |mut c, r| async move {
                c.list_registration_requests(r).await
            })
            .await
            .map_err(partner_error)?;
        answer
            .requests
            .into_iter()
            .map(|r| request(Some(r)))
            .collect()
    }

    /// The request `id` of `subject`; another partner's is [`PartnerError::NotFound`].
    pub async fn get_registration(
        &self,
        subject: &str,
        id: &str,
    ) -> Result<PartnerRequest, PartnerError> {
        let message = pb::GetRegistrationRequestRequest {
            subject: subject.to_owned(),
            id: id.to_owned(),
        };
        let answer = self
            .call(message, |mut c, r| async move {
                c.get_registration_request(r).await
            })
            .await
            .map_err(partner_error)?;
        request(answer.request)
    }

    /// A new request, or the resubmission of `id` after the operator asked for changes.
    pub async fn submit_registration(
        &self,
        subject: &str,
        id: Option<&str>,
        app: &AppFields,
    ) -> Result<PartnerRequest, PartnerError> {
        let message = pb::SubmitRegistrationRequestRequest {
            subject: subject.to_owned(),
            app: Some(app_message(app)),
            id: id.map(str::to_owned),
        };
        let answer = self
            .call(message, |mut c, r| async move {
                c.submit_registration_request(r).await
            })
            .await
            .map_err(partner_error)?;
        request(answer.request)
    }

    /// Edits an approved app: description, logo and redirect URIs apply at once; a change of
    /// scopes sends the request back to review.
    pub async fn update_app(
        &self,
        subject: &str,
        id: &str,
        app: &AppFields,
    ) -> Result<PartnerRequest, PartnerError> {
        let message = pb::UpdatePartnerAppRequest {
            subject: subject.to_owned(),
            id: id.to_owned(),
            description: Some(app.description.clone()),
            logo_uri: Some(app.logo_uri.clone()),
            redirect_uris_set: true,
            redirect_uris: app.redirect_uris.clone(),
            scopes_set: true,
            scopes: app.scopes.clone(),
        };
        let answer = self
            .call(
                message,
                |mut c, r| async move { c.update_partner_app(r).await },
            )
            .await
            .map_err(partner_error)?;
        request(answer.request)
    }

    /// The one-time reveal of an approved app's secret; a second one is
    /// [`PartnerError::WrongState`].
    pub async fn reveal_client_secret(
        &self,
        subject: &str,
        id: &str,
    ) -> Result<ShownSecret, PartnerError> {
        let message = pb::RevealClientSecretRequest {
            subject: subject.to_owned(),
            id: id.to_owned(),
        };
        let answer = self
            .call(message, |mut c, r| async move {
                c.reveal_client_secret(r).await
            })
            .await
            .map_err(partner_error)?;
        Ok(ShownSecret {
            client_id: answer.client_id,
            secret: SecretString::new(answer.client_secret),
            old_secret_grace_seconds: None,
        })
    }

    /// A new secret for an approved app; the previous one keeps working for the grace the
    /// token service is configured with.
    pub async fn rotate_client_secret(
        &self,
        subject: &str,
        id: &str,
    ) -> Result<ShownSecret, PartnerError> {
        let message = pb::RotateClientSecretRequest {
            subject: subject.to_owned(),
            id: id.to_owned(),
        };
        let answer = self
            .call(message, |mut c, r| async move {
                c.rotate_client_secret(r).await
            })
            .await
            .map_err(partner_error)?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        Ok(ShownSecret {
            client_id: answer.client_id,
            secret: SecretString::new(answer.client_secret),
            old_secret_grace_seconds: answer
                .previous_secret_expires_at
                .map(|until| u64::try_from(until.saturating_sub(now)).unwrap_or(0)),
        })
    }

    /// Stores a logo the portal checked; answers its id.
    pub async fn put_logo(
        &self,
        subject: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<String, PartnerError> {
        let message = pb::PutLogoRequest {
            subject: subject.to_owned(),
            content_type: content_type.to_owned(),
            data: bytes,
        };
        let answer = self
            .call(message, |mut c, r| async move { c.put_logo(r).await })
            .await
            .map_err(partner_error)?;
        Ok(answer.logo_id)
    }

    /// A stored logo; `None` when there is none with this id.
    pub async fn get_logo(&self, id: &str) -> Result<Option<Logo>, PartnerError> {
        let message = pb::GetLogoRequest { id: id.to_owned() };
        match self
            .call(message, |mut c, r| async move { c.get_logo(r).await })
            .await
        {
            Ok(answer) => Ok(Some(Logo {
                content_type: answer.content_type,
                bytes: answer.data,
            })),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(partner_error(status)),
        }
    }
}
