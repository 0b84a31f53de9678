//! Partner onboarding: the rules of registration requests, in the one place both the partner
//! portal's gRPC calls and the reviewers' admin API (and so the CLI) go through.
//!
//! - `GATEHOUSE_PARTNER_APPROVAL` ([`ApprovalMode`]): `manual` puts a new request in the review
//!   queue, `automatic` approves it at once, `off` refuses every partner operation.
//! - Approval creates the client exactly as requested ([`client_metadata`]) with a secret nobody
//!   has seen: the partner's one-time reveal sets a fresh one (no grace) and is the only time a
//!   secret is shown; a rotation by the owner gives a new one with the configured grace.
//! - A scope change of an approved app sends the request back to `pending` with its `client_id`
//!   kept; the client keeps its scopes until an operator approves again, which then updates
//!   the existing client. Rejecting such a change returns the request to `approved` with the
//!   client's scopes (the app stays live); asking for changes lets the partner resubmit.
//! - A partner sees and acts on their own requests only: another's is "not found".

use std::time::Duration;

use gatehouse_core::Clock;
use gatehouse_core::client::{Client, ClientId, ClientMetadata, TokenEndpointAuthMethod};
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::protocol::{GrantType, ResponseType};
use gatehouse_core::registration::{
    self, RegistrationPolicy, apply_defaults, generate_client_secret, parse_redirect_uris,
    validate_metadata,
};
use gatehouse_core::registration_request::{
    AppRequest, Logo, MAX_TEXT_CHARS, RegistrationRequest, RegistrationRequestQuery, RequestStatus,
    check_logo, check_scopes, new_logo_id, requestable,
};
use gatehouse_core::scope::ScopeDefinition;
use gatehouse_core::secret::{KeyedHasher, SecretString};
use gatehouse_core::store::{DurableStore, Page, PageRequest, StoreError};
use time::OffsetDateTime;

/// `GATEHOUSE_PARTNER_APPROVAL`: how partners' registration requests are decided.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ApprovalMode {
    /// A new request waits for an operator.
    #[default]
    Manual,
    /// A new request is approved at once.
    Automatic,
    /// Partner registration is off: every partner operation is refused and the portal hides.
    Off,
}

impl ApprovalMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Automatic => "automatic",
            Self::Off => "off",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Manual, Self::Automatic, Self::Off]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// What the partner rules need from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerSettings {
    pub approval: ApprovalMode,
    /// How long a client's previous secret keeps working after the owner rotates it
    /// (`client_secret_rotation_grace`, as the admin API's rotation).
    pub secret_rotation_grace: Duration,
}

impl Default for PartnerSettings {
    fn default() -> Self {
        Self {
            approval: ApprovalMode::Manual,
            secret_rotation_grace: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// Why a partner or reviewer operation failed.
#[derive(Debug)]
pub enum PartnerError {
    /// Partner registration is off (`GATEHOUSE_PARTNER_APPROVAL=off`).
    Off,
    /// A field is wrong: `invalid_request`, `invalid_redirect_uri` or `invalid_scope`, naming it.
    Invalid(OAuthError),
    /// No such request, or not the caller's.
    NotFound,
    /// The caller's account is disabled or gone.
    Forbidden,
    /// The request's status does not allow the action (or the one-time reveal was used).
    WrongStatus(String),
    /// The store failed (`temporarily_unavailable` or `server_error`).
    Store(OAuthError),
}

impl PartnerError {
    /// The OAuth error the transports answer with.
    pub fn oauth(&self) -> OAuthError {
        match self {
            Self::Off => OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "partner registration is turned off on this server",
            ),
            Self::Invalid(e) | Self::Store(e) => e.clone(),
            Self::NotFound => OAuthError::new(ErrorCode::NotFound, "no such registration request"),
            Self::Forbidden => OAuthError::new(
                ErrorCode::AccessDenied,
                "this account may not register apps",
            ),
            Self::WrongStatus(message) => OAuthError::new(ErrorCode::Conflict, message.clone()),
        }
    }
}

impl From<StoreError> for PartnerError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict => {
                Self::WrongStatus("the request was changed meanwhile; reload it".into())
            }
            other => Self::Store(crate::service::store_error(other)),
        }
    }
}

type Result<T> = std::result::Result<T, PartnerError>;

/// A fresh secret, shown once.
#[derive(Debug)]
pub struct ShownSecret {
    pub client_id: ClientId,
    pub secret: SecretString,
    /// Until when the previous secret is still accepted (rotation with a grace).
    pub previous_expires_at: Option<OffsetDateTime>,
}

/// An edit of an approved app by its owner; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppUpdate {
    pub description: Option<String>,
    pub logo_uri: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    /// A scope change sends the request back to review.
    pub scopes: Option<Vec<String>>,
}

/// The partner rules over the stores. Cheap to build per call.
pub struct Partners<'a> {
    pub durable: &'a dyn DurableStore,
    pub clock: &'a dyn Clock,
    /// Client secrets' keyed hasher (purpose `client-secret`).
    pub hasher: &'a KeyedHasher,
    pub redirect_policy: RegistrationPolicy,
    pub settings: PartnerSettings,
}

/// Most requests one partner's list shows.
pub const MAX_OWN_REQUESTS: u32 = 500;

impl Partners<'_> {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.clock.unix()).unwrap_or_else(|_| self.clock.now())
    }

    fn ensure_on(&self) -> Result<()> {
        if self.settings.approval == ApprovalMode::Off {
            return Err(PartnerError::Off);
        }
        Ok(())
    }

    /// The partner must be a live account.
    async fn ensure_partner(&self, subject: &str) -> Result<()> {
        if subject.is_empty() {
            return Err(PartnerError::Invalid(OAuthError::invalid_request(
                "subject is required",
            )));
        }
        match self.durable.get_user(subject).await? {
            Some(user) if !user.disabled => Ok(()),
            _ => Err(PartnerError::Forbidden),
        }
    }

    /// The scopes partners may request, by name: the catalogue's entries that are not hidden and
    /// the technical ones (`openid`, `offline`, `offline_access`; see
    /// [`gatehouse_core::registration_request::requestable`]).
    pub async fn visible_scopes(&self) -> Result<Vec<ScopeDefinition>> {
        self.ensure_on()?;
        let mut scopes: Vec<ScopeDefinition> = self
            .durable
            .list_scopes()
            .await?
            .into_iter()
            .filter(requestable)
            .collect();
        scopes.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
        Ok(scopes)
    }

    /// Normalises and checks an app, its scopes against the visible catalogue.
    async fn checked_app(&self, app: AppRequest) -> Result<AppRequest> {
        let app = app.normalized();
        app.validate(self.redirect_policy)
            .map_err(PartnerError::Invalid)?;
        let catalogue = self.durable.list_scopes().await?;
        check_scopes(&app, &catalogue).map_err(PartnerError::Invalid)?;
        Ok(app)
    }

    /// `owner`'s request `id`; another partner's is [`PartnerError::NotFound`] too.
    async fn own(&self, owner: &str, id: &str) -> Result<RegistrationRequest> {
        match self.durable.get_registration_request(id).await? {
            Some(request) if request.owner == owner => Ok(request),
            _ => Err(PartnerError::NotFound),
        }
    }

    /// Submits a new request, or resubmits `resubmit` (status `changes_requested`) with `app`.
    /// In automatic mode the request is approved at once.
    pub async fn submit(
        &self,
        owner: &str,
        app: AppRequest,
        resubmit: Option<&str>,
    ) -> Result<RegistrationRequest> {
        self.ensure_on()?;
        self.ensure_partner(owner).await?;
        let app = self.checked_app(app).await?;
        let now = self.now();
        let request = match resubmit {
            None => {
                let request = RegistrationRequest::new(owner, app, RequestStatus::Pending, now);
                self.durable.create_registration_request(&request).await?;
                request
            }
            Some(id) => {
                let stored = self.own(owner, id).await?;
                if stored.status != RequestStatus::ChangesRequested {
                    return Err(PartnerError::WrongStatus(format!(
                        "only a request with changes requested can be resubmitted; this one is {}",
                        stored.status
                    )));
                }
                if stored.client_id.is_some() && stored.app.confidential != app.confidential {
                    return Err(PartnerError::Invalid(OAuthError::invalid_request(
                        "confidential: an existing app cannot change whether it calls the API from a backend",
                    )));
                }
                let request = RegistrationRequest {
                    status: RequestStatus::Pending,
                    app,
                    review_reason: String::new(),
                    updated_at: now,
                    ..stored
                };
                self.durable
                    .update_registration_request(&request, RequestStatus::ChangesRequested)
                    .await?;
                request
            }
        };
        if self.settings.approval == ApprovalMode::Automatic {
            return self.approve(&request.id, None, "automatic approval").await;
        }
        Ok(request)
    }

    /// `owner`'s requests, newest first.
    pub async fn list_own(&self, owner: &str) -> Result<Vec<RegistrationRequest>> {
        self.ensure_on()?;
        let query = RegistrationRequestQuery {
            owner: Some(owner.to_owned()),
            ..RegistrationRequestQuery::default()
        };
        let mut page = self
            .durable
            .list_registration_requests(&query, &PageRequest::first(MAX_OWN_REQUESTS))
            .await?
            .items;
        page.reverse();
        Ok(page)
    }

    /// `owner`'s request `id`.
    pub async fn get_own(&self, owner: &str, id: &str) -> Result<RegistrationRequest> {
        self.ensure_on()?;
        self.own(owner, id).await
    }

    /// The one-time reveal: an approved confidential app's client gets a fresh secret (the
    /// unseen one ends at once) and it is answered, once.
    pub async fn reveal_secret(&self, owner: &str, id: &str) -> Result<ShownSecret> {
        self.ensure_on()?;
        self.ensure_partner(owner).await?;
        let request = self.own(owner, id).await?;
        let client_id = approved_confidential(&request)?;
        if request.secret_revealed {
            return Err(already_revealed());
        }
        let mut client = self.client_of(&client_id).await?;
        if !self.durable.claim_secret_reveal(id).await? {
            return Err(already_revealed());
        }
        let secret = generate_client_secret();
        client.secret = Some(registration::secret_hashes(&secret, self.hasher));
        client.updated_at = self.now();
        if let Err(e) = self.durable.update_client(&client).await {
            // Nothing was shown: the reveal goes back for the partner's retry.
            if let Err(undo) = self.durable.release_secret_reveal(id).await {
                tracing::error!(request = %id, error = %undo, "a failed secret reveal could not be given back; the partner must rotate the secret");
            }
            return Err(e.into());
        }
        Ok(ShownSecret {
            client_id,
            secret,
            previous_expires_at: None,
        })
    }

    /// A new secret for the owner's approved confidential app; the previous one keeps working
    /// for the configured grace. Uses up the one-time reveal, if it was not used.
    pub async fn rotate_secret(&self, owner: &str, id: &str) -> Result<ShownSecret> {
        self.ensure_on()?;
        self.ensure_partner(owner).await?;
        let request = self.own(owner, id).await?;
        let client_id = approved_confidential(&request)?;
        let mut client = self.client_of(&client_id).await?;
        // The reveal is for the first secret only; after a rotation it is spent.
        self.durable.claim_secret_reveal(id).await?;
        let now = self.now();
        let secret = generate_client_secret();
        let grace = time::Duration::try_from(self.settings.secret_rotation_grace)
            .unwrap_or(time::Duration::ZERO);
        let hashes = match &client.secret {
            Some(old) => registration::rotate_secret(old, &secret, self.hasher, now, grace),
            None => registration::secret_hashes(&secret, self.hasher),
        };
        let previous_expires_at = hashes.previous_expires_at;
        client.secret = Some(hashes);
        client.updated_at = now;
        self.durable.update_client(&client).await?;
        Ok(ShownSecret {
            client_id,
            secret,
            previous_expires_at,
        })
    }

    /// The owner edits an approved app: description, logo and redirect URIs apply to the client
    /// at once; a scope change sends the request back to review (the client keeps its scopes).
    pub async fn update_app(
        &self,
        owner: &str,
        id: &str,
        update: AppUpdate,
    ) -> Result<RegistrationRequest> {
        self.ensure_on()?;
        self.ensure_partner(owner).await?;
        let stored = self.own(owner, id).await?;
        let Some(client_id) = stored.client_id.clone() else {
            return Err(PartnerError::WrongStatus(format!(
                "only an approved app can be edited; this request is {}",
                stored.status
            )));
        };
        if stored.status != RequestStatus::Approved {
            return Err(PartnerError::WrongStatus(format!(
                "the app can be edited once its request is approved again; it is {}",
                stored.status
            )));
        }
        let mut app = stored.app.clone();
        if let Some(description) = update.description {
            app.description = description;
        }
        if let Some(logo_uri) = update.logo_uri {
            app.logo_uri = logo_uri;
        }
        if let Some(redirect_uris) = update.redirect_uris {
            app.redirect_uris = redirect_uris;
        }
        if let Some(scopes) = update.scopes {
            app.scopes = scopes;
        }
        let app = self.checked_app(app).await?;
        let (new_scopes, old_scopes) = (
            app.scope_set().map_err(PartnerError::Invalid)?,
            stored.app.scope_set().map_err(PartnerError::Invalid)?,
        );
        let scopes_changed =
            !(new_scopes.is_subset_of(&old_scopes) && old_scopes.is_subset_of(&new_scopes));

        let mut client = self.client_of(&client_id).await?;
        let mut live = stored.app.clone();
        live.description = app.description.clone();
        live.logo_uri = app.logo_uri.clone();
        live.redirect_uris = app.redirect_uris.clone();
        client.metadata.logo_uri = live.logo_uri.clone();
        client.metadata.redirect_uris =
            parse_redirect_uris("redirect_uris", &live.redirect_uris, self.redirect_policy)
                .map_err(PartnerError::Invalid)?;
        validate_metadata(&client.metadata).map_err(PartnerError::Invalid)?;

        let now = self.now();
        let request = RegistrationRequest {
            status: if scopes_changed {
                RequestStatus::Pending
            } else {
                RequestStatus::Approved
            },
            app,
            review_reason: String::new(),
            updated_at: now,
            ..stored
        };
        self.durable
            .update_registration_request(&request, RequestStatus::Approved)
            .await?;
        client.updated_at = now;
        self.durable.update_client(&client).await?;
        Ok(request)
    }

    /// Stores an uploaded logo (re-checked here: type, size, signature); its id.
    pub async fn put_logo(&self, owner: &str, content_type: &str, bytes: &[u8]) -> Result<String> {
        self.ensure_on()?;
        self.ensure_partner(owner).await?;
        check_logo(content_type, bytes).map_err(PartnerError::Invalid)?;
        let id = new_logo_id();
        self.durable.put_logo(&id, content_type, bytes).await?;
        Ok(id)
    }

    /// A stored logo (served even when partner registration is off: approved apps show it).
    pub async fn get_logo(&self, id: &str) -> Result<Logo> {
        self.durable
            .get_logo(id)
            .await?
            .ok_or(PartnerError::NotFound)
    }

    // --- The reviewers' side (admin API, CLI) --------------------------------------------------

    /// Requests matching `query`, oldest first.
    pub async fn list(
        &self,
        query: &RegistrationRequestQuery,
        page: &PageRequest,
    ) -> Result<Page<RegistrationRequest>> {
        Ok(self.durable.list_registration_requests(query, page).await?)
    }

    pub async fn get(&self, id: &str) -> Result<RegistrationRequest> {
        self.durable
            .get_registration_request(id)
            .await?
            .ok_or(PartnerError::NotFound)
    }

    async fn pending(&self, id: &str) -> Result<RegistrationRequest> {
        let request = self.get(id).await?;
        if request.status != RequestStatus::Pending {
            return Err(PartnerError::WrongStatus(format!(
                "the request is {}, not pending",
                request.status
            )));
        }
        Ok(request)
    }

    /// Approves a pending request, with the operator's `edits` of the app if any: creates its
    /// client (or, for an approved app's scope change, updates the existing one). The request is
    /// claimed first (pending → approved, guarded), so two reviewers cannot both approve.
    pub async fn approve(
        &self,
        id: &str,
        edits: Option<AppRequest>,
        reviewer: &str,
    ) -> Result<RegistrationRequest> {
        let stored = self.pending(id).await?;
        let app = match edits {
            Some(app) => self.checked_app(app).await?,
            None => stored.app.clone(),
        };
        if stored.client_id.is_some() && stored.app.confidential != app.confidential {
            return Err(PartnerError::Invalid(OAuthError::invalid_request(
                "confidential: an existing app cannot change whether it calls the API from a backend",
            )));
        }
        let now = self.now();
        let existing = stored.client_id.clone();
        let client_id = match &existing {
            Some(id) => id.clone(),
            None => ClientId::parse(&uuid::Uuid::new_v4().to_string())
                .map_err(|_| PartnerError::Store(OAuthError::server_error()))?,
        };
        let metadata = client_metadata(&stored.id, &stored.owner, &app, self.redirect_policy)
            .map_err(PartnerError::Invalid)?;
        let approved = RegistrationRequest {
            status: RequestStatus::Approved,
            app,
            review_reason: String::new(),
            reviewed_by: reviewer.to_owned(),
            client_id: Some(client_id.clone()),
            updated_at: now,
            ..stored.clone()
        };
        self.durable
            .update_registration_request(&approved, RequestStatus::Pending)
            .await?;
        let written = match existing {
            Some(_) => self.update_client_from(&client_id, metadata, now).await,
            None => {
                // A secret nobody sees: the partner's one-time reveal replaces it.
                let secret = (metadata.token_endpoint_auth_method != TokenEndpointAuthMethod::None)
                    .then(|| registration::secret_hashes(&generate_client_secret(), self.hasher));
                let client = Client {
                    id: client_id.clone(),
                    incarnation: Client::new_incarnation(),
                    metadata,
                    secret,
                    created_at: now,
                    updated_at: now,
                };
                self.durable
                    .create_client(&client)
                    .await
                    .map_err(PartnerError::from)
            }
        };
        if let Err(e) = written {
            // Give the request back to the queue; it is still ours (approved by us).
            let _ = self
                .durable
                .update_registration_request(&stored, RequestStatus::Approved)
                .await;
            return Err(e);
        }
        Ok(approved)
    }

    async fn update_client_from(
        &self,
        client_id: &ClientId,
        metadata: ClientMetadata,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut client = self.client_of(client_id).await?;
        let old = &client.metadata;
        // The partner's fields; whatever an operator set on the client otherwise stays.
        let merged = ClientMetadata {
            client_secret_sealed: old.client_secret_sealed.clone(),
            registration_access_token_hash: old.registration_access_token_hash.clone(),
            metadata: merge_json(&old.metadata, &metadata.metadata),
            ..metadata
        };
        client.metadata = merged;
        client.updated_at = now;
        Ok(self.durable.update_client(&client).await?)
    }

    /// Rejects a pending request with a reason. For an approved app's scope change, the change
    /// is refused and the request returns to `approved` with the client's scopes.
    pub async fn reject(
        &self,
        id: &str,
        reason: &str,
        reviewer: &str,
    ) -> Result<RegistrationRequest> {
        let reason = check_reason(reason)?;
        let stored = self.pending(id).await?;
        let mut request = RegistrationRequest {
            status: RequestStatus::Rejected,
            review_reason: reason,
            reviewed_by: reviewer.to_owned(),
            updated_at: self.now(),
            ..stored
        };
        if let Some(client_id) = &request.client_id {
            let client = self.client_of(client_id).await?;
            request.status = RequestStatus::Approved;
            request.app.scopes = client
                .metadata
                .scope
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect();
        }
        self.durable
            .update_registration_request(&request, RequestStatus::Pending)
            .await?;
        Ok(request)
    }

    /// Asks the partner for changes (with a reason); they may edit and resubmit.
    pub async fn request_changes(
        &self,
        id: &str,
        reason: &str,
        reviewer: &str,
    ) -> Result<RegistrationRequest> {
        let reason = check_reason(reason)?;
        let stored = self.pending(id).await?;
        let request = RegistrationRequest {
            status: RequestStatus::ChangesRequested,
            review_reason: reason,
            reviewed_by: reviewer.to_owned(),
            updated_at: self.now(),
            ..stored
        };
        self.durable
            .update_registration_request(&request, RequestStatus::Pending)
            .await?;
        Ok(request)
    }

    async fn client_of(&self, id: &ClientId) -> Result<Client> {
        self.durable
            .get_client(id.as_str())
            .await?
            .ok_or_else(|| PartnerError::WrongStatus("the app's client no longer exists".into()))
    }
}

fn already_revealed() -> PartnerError {
    PartnerError::WrongStatus(
        "the secret was already shown once; rotate it to get a new one".into(),
    )
}

/// The client of an approved confidential request.
fn approved_confidential(request: &RegistrationRequest) -> Result<ClientId> {
    let client_id = match (&request.client_id, request.status) {
        (Some(id), RequestStatus::Approved) => id.clone(),
        _ => {
            return Err(PartnerError::WrongStatus(format!(
                "the request is {}, not approved",
                request.status
            )));
        }
    };
    if !request.app.confidential {
        return Err(PartnerError::WrongStatus(
            "a public app (PKCE, no backend) has no client secret".into(),
        ));
    }
    Ok(client_id)
}

/// A review reason: required, bounded.
fn check_reason(reason: &str) -> Result<String> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(PartnerError::Invalid(OAuthError::invalid_request(
            "reason is required",
        )));
    }
    if reason.chars().count() > MAX_TEXT_CHARS {
        return Err(PartnerError::Invalid(OAuthError::invalid_request(format!(
            "reason must be at most {MAX_TEXT_CHARS} characters"
        ))));
    }
    Ok(reason.to_owned())
}

fn merge_json(old: &serde_json::Value, new: &serde_json::Value) -> serde_json::Value {
    let mut merged = old.as_object().cloned().unwrap_or_default();
    if let Some(new) = new.as_object() {
        for (k, v) in new {
            merged.insert(k.clone(), v.clone());
        }
    }
    serde_json::Value::Object(merged)
}

/// The client an approved request becomes: `client_name`, `client_uri` (the website),
/// `logo_uri`, `redirect_uris`, `scope`, `owner` (the partner's user id), grant types
/// `authorization_code` (+ `refresh_token` with `offline`/`offline_access`), response type
/// `code`, `client_secret_basic` (confidential) or `none` (public: PKCE required), and
/// `metadata.registration_request` = the request id. Checked with the admin API's rules.
pub fn client_metadata(
    request_id: &str,
    owner: &str,
    app: &AppRequest,
    policy: RegistrationPolicy,
) -> std::result::Result<ClientMetadata, OAuthError> {
    let mut grant_types = vec![GrantType::AuthorizationCode];
    if app.wants_refresh_tokens() {
        grant_types.push(GrantType::RefreshToken);
    }
    let mut metadata = ClientMetadata {
        client_name: app.name.clone(),
        client_uri: app.website.clone(),
        logo_uri: app.logo_uri.clone(),
        redirect_uris: parse_redirect_uris("redirect_uris", &app.redirect_uris, policy)?,
        scope: app.scope_set()?,
        owner: owner.to_owned(),
        grant_types,
        response_types: vec![ResponseType::Code],
        token_endpoint_auth_method: if app.confidential {
            TokenEndpointAuthMethod::ClientSecretBasic
        } else {
            TokenEndpointAuthMethod::None
        },
        metadata: serde_json::json!({ "registration_request": request_id }),
        ..ClientMetadata::default()
    };
    apply_defaults(&mut metadata);
    validate_metadata(&metadata)?;
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn app(confidential: bool, scopes: &[&str]) -> AppRequest {
        AppRequest {
            name: "Acme".into(),
            website: "https://acme.example".into(),
            redirect_uris: vec!["https://acme.example/cb".into()],
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            confidential,
            ..AppRequest::default()
        }
    }

    #[test]
    fn a_confidential_app_becomes_a_basic_auth_code_client() {
        let m = client_metadata(
            "rr_x",
            "user-1",
            &app(true, &["openid"]),
            RegistrationPolicy::default(),
        )
        .unwrap();
        assert_eq!(m.client_name, "Acme");
        assert_eq!(m.client_uri, "https://acme.example");
        assert_eq!(m.owner, "user-1");
        assert_eq!(m.grant_types, vec![GrantType::AuthorizationCode]);
        assert_eq!(m.response_types, vec![ResponseType::Code]);
        assert_eq!(
            m.token_endpoint_auth_method,
            TokenEndpointAuthMethod::ClientSecretBasic
        );
        assert_eq!(m.scope.to_string(), "openid");
        assert_eq!(m.metadata["registration_request"], "rr_x");
    }

    #[test]
    fn offline_scopes_add_refresh_tokens_and_public_apps_use_none() {
        for offline in ["offline", "offline_access"] {
            let m = client_metadata(
                "rr_x",
                "u",
                &app(false, &["openid", offline]),
                RegistrationPolicy::default(),
            )
            .unwrap();
            assert_eq!(
                m.grant_types,
                vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
            );
            assert_eq!(m.token_endpoint_auth_method, TokenEndpointAuthMethod::None);
        }
    }

    #[test]
    fn approval_modes_parse() {
        for m in [
            ApprovalMode::Manual,
            ApprovalMode::Automatic,
            ApprovalMode::Off,
        ] {
            assert_eq!(ApprovalMode::parse(m.as_str()), Some(m));
        }
        assert_eq!(ApprovalMode::parse("auto"), None);
    }

    #[test]
    fn reasons_are_required_and_bounded() {
        assert!(check_reason("  ").is_err());
        assert!(check_reason(&"x".repeat(MAX_TEXT_CHARS + 1)).is_err());
        assert_eq!(check_reason(" ok ").unwrap(), "ok");
    }
}
