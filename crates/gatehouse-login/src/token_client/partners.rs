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

use super::TokenServiceClient;

fn not_yet() -> PartnerError {
    PartnerError::Service(OAuthError::new(
        gatehouse_core::error::ErrorCode::TemporarilyUnavailable,
        "partner operations are not available",
    ))
}

impl TokenServiceClient {
    pub async fn approval_mode(&self) -> Result<ApprovalMode, PartnerError> {
        Err(not_yet())
    }
    pub async fn partner_scopes(&self) -> Result<Vec<ScopeDefinition>, PartnerError> {
        Err(not_yet())
    }
    pub async fn list_registrations(
        &self,
        _subject: &str,
    ) -> Result<Vec<PartnerRequest>, PartnerError> {
        Err(not_yet())
    }
    pub async fn get_registration(
        &self,
        _subject: &str,
        _id: &str,
    ) -> Result<PartnerRequest, PartnerError> {
        Err(not_yet())
    }
    pub async fn submit_registration(
        &self,
        _subject: &str,
        _id: Option<&str>,
        _app: &AppFields,
    ) -> Result<PartnerRequest, PartnerError> {
        Err(not_yet())
    }
    pub async fn update_app(
        &self,
        _subject: &str,
        _id: &str,
        _app: &AppFields,
    ) -> Result<PartnerRequest, PartnerError> {
        Err(not_yet())
    }
    pub async fn reveal_client_secret(
        &self,
        _subject: &str,
        _id: &str,
    ) -> Result<ShownSecret, PartnerError> {
        Err(not_yet())
    }
    pub async fn rotate_client_secret(
        &self,
        _subject: &str,
        _id: &str,
    ) -> Result<ShownSecret, PartnerError> {
        Err(not_yet())
    }
    pub async fn put_logo(
        &self,
        _subject: &str,
        _content_type: &str,
        _bytes: Vec<u8>,
    ) -> Result<String, PartnerError> {
        Err(not_yet())
    }
    pub async fn get_logo(&self, _id: &str) -> Result<Option<Logo>, PartnerError> {
        Err(not_yet())
    }
}
