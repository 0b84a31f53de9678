//! The token endpoint's grants (RFC 6749 §4.1.3, §4.4, §6), one file and one [`Grant`] handler
//! each, dispatched by [`GrantType`] in [`handle`].
//!
//! The endpoint first parses `grant_type` (an unknown one is `unsupported_grant_type`),
//! authenticates the client and checks that it registered the grant; a handler only issues.
//! Adding a grant is a [`GrantType`] variant, a file here with its handler, and one arm in
//! [`handle`]: the compiler finds the rest (discovery and registration list `GrantType::ALL`).

mod authorization_code;
mod client_credentials;
mod device_code;
mod refresh_token;

use gatehouse_core::client::Client;
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::protocol::GrantType;
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::token_request::{Form, presented_credentials};

use tracing::Instrument as _;

use crate::dpop::ProofEndpoint;
use crate::issue::TokenResponse;
use crate::service::{TokenService, store_error};

/// A token request whose client is authenticated and registered for its grant.
pub(crate) struct GrantRequest<'a> {
    pub client: &'a Client,
    pub form: &'a Form,
    /// The thumbprint of the key of the request's verified DPoP proof (RFC 9449): the access
    /// token is bound to it.
    pub dpop_jkt: Option<&'a str>,
}

/// One grant type's handling at the token endpoint.
///
/// Handlers are unit structs dispatched statically by [`handle`], so the hot path allocates no
/// boxed future.
pub(crate) trait Grant {
    /// Issues the tokens of this grant, or says why not. A 5xx answer must leave any single-use
    /// credential of the request (a code, a refresh token) usable for the client's retry.
    async fn issue(
        &self,
        service: &TokenService,
        request: &GrantRequest<'_>,
    ) -> Result<TokenResponse, OAuthError>;
}

/// The handler of `grant_type`.
async fn handle(
    grant_type: GrantType,
    service: &TokenService,
    request: &GrantRequest<'_>,
) -> Result<TokenResponse, OAuthError> {
    match grant_type {
        GrantType::AuthorizationCode => {
            authorization_code::AuthorizationCodeGrant
                .issue(service, request)
                .await
        }
        GrantType::RefreshToken => {
            refresh_token::RefreshTokenGrant
                .issue(service, request)
                .await
        }
        GrantType::ClientCredentials => {
            client_credentials::ClientCredentialsGrant
                .issue(service, request)
                .await
        }
        GrantType::DeviceCode => device_code::DeviceCodeGrant.issue(service, request).await,
    }
}

/// A token-endpoint failure and how it must travel: `invalid_client` after an HTTP Basic attempt
/// carries 401 with `WWW-Authenticate: Basic` (RFC 6749 §5.2).
#[derive(Debug)]
pub struct TokenEndpointError {
    pub error: OAuthError,
    pub basic_auth_attempted: bool,
}

impl TokenService {
    /// `POST /oauth2/token` without a DPoP proof.
    pub async fn token(
        &self,
        authorization: Option<&str>,
        form: &Form,
    ) -> Result<TokenResponse, TokenEndpointError> {
        self.token_with_dpop(authorization, None, form).await
    }

    /// `POST /oauth2/token`, with the request's `DPoP` header if it has one (RFC 9449 §5).
    pub async fn token_with_dpop(
        &self,
        authorization: Option<&str>,
        dpop_proof: Option<&str>,
        form: &Form,
    ) -> Result<TokenResponse, TokenEndpointError> {
        let span = tracing::info_span!(
            "token_request",
            grant_type = tracing::field::Empty,
            client_id = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        // A 5xx gives back the assertion's and the proof's jti, so the client's retry works.
        let result = crate::single_use::tracked(
            self.short_lived.as_ref(),
            self.token_request(authorization, dpop_proof, form)
                .instrument(span.clone()),
            |e: &TokenEndpointError| &e.error,
        )
        .await;
        let grant_type = form
            .grant_type()
            .map_or("other", |grant_type| grant_type.as_str());
        span.record("grant_type", grant_type);
        match &result {
            Ok(_) => {
                span.record("outcome", "issued");
            }
            Err(e) => {
                span.record("outcome", e.error.code.as_str());
                metrics::counter!(
                    "gatehouse_token_requests_refused_total",
                    "grant_type" => grant_type,
                    "error" => e.error.code.as_str()
                )
                .increment(1);
            }
        }
        result
    }

    async fn token_request(
        &self,
        authorization: Option<&str>,
        dpop_proof: Option<&str>,
        form: &Form,
    ) -> Result<TokenResponse, TokenEndpointError> {
        let basic_auth_attempted = authorization.is_some();
        let fail = |error: OAuthError| TokenEndpointError {
            error,
            basic_auth_attempted,
        };
        let grant_type = form.grant_type().map_err(fail)?;
        let presented = presented_credentials(authorization, form).map_err(fail)?;
        let client = self
            .authenticate_client(&presented, "/oauth2/token")
            .await
            .map_err(fail)?;
        tracing::Span::current().record("client_id", client.id.as_str());
        if !client.may_use(grant_type) {
            return Err(fail(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!("this client is not allowed to use the {grant_type} grant"),
            )));
        }
        let dpop_jkt = match dpop_proof {
            Some(proof) => Some(
                self.check_dpop_proof(proof, ProofEndpoint::Token, "POST", None)
                    .await
                    .map_err(fail)?,
            ),
            None if client.metadata.dpop_bound_access_tokens => {
                return Err(fail(OAuthError::new(
                    ErrorCode::InvalidDpopProof,
                    "this client must send a DPoP proof with every token request",
                )));
            }
            None => None,
        };
        let request = GrantRequest {
            client: &client,
            form,
            dpop_jkt: dpop_jkt.as_deref(),
        };
        let result = handle(grant_type, self, &request).await.map(|mut tokens| {
            if dpop_jkt.is_some() {
                // RFC 9449 §5.1: the access token is bound to the proof's key.
                tokens.token_type = "DPoP";
            }
            tokens
        });
        let grant_type = grant_type.as_str();
        match &result {
            Ok(_) => {
                metrics::counter!(
                    "gatehouse_tokens_issued_total",
                    "grant_type" => grant_type,
                    "client_id" => client.id.to_string()
                )
                .increment(1);
                self.usage.count_token(client.id.as_str());
                tracing::debug!(client_id = %client.id, grant_type, "token issued");
            }
            Err(e) => {
                tracing::info!(client_id = %client.id, grant_type, error = e.code.as_str(), "token request refused")
            }
        }
        result.map_err(fail)
    }

    /// The user behind a grant must still exist and be enabled. The user read here is the one
    /// the ID token's claims come from: one durable read per token request.
    pub(crate) async fn require_active_user(
        &self,
        subject: &str,
    ) -> Result<gatehouse_core::user::User, OAuthError> {
        match self.durable.get_user(subject).await.map_err(store_error)? {
            Some(user) if !user.disabled => Ok(user),
            _ => Err(OAuthError::new(
                ErrorCode::InvalidGrant,
                "the user of this grant is disabled or no longer exists",
            )),
        }
    }
}

/// The optional `scope` parameter: must stay within `allowed`.
pub(crate) fn requested_scope(
    form: &Form,
    allowed: &ScopeSet,
) -> Result<Option<ScopeSet>, OAuthError> {
    let Some(raw) = form.get("scope") else {
        return Ok(None);
    };
    let scope = ScopeSet::parse(raw).map_err(|_| {
        OAuthError::new(ErrorCode::InvalidScope, "the scope parameter is malformed")
    })?;
    if let Some(refused) = scope.refused_by(allowed) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("these scopes exceed what was granted: {refused}"),
        ));
    }
    Ok(Some(scope))
}

/// RFC 8707 `resource` (repeatable) and Hydra's space-separated `audience`: each must be
/// permitted for the client (`gatehouse_core::resource::permitted`); none means the default
/// audience.
pub(crate) fn requested_audience(form: &Form, client: &Client) -> Result<Vec<String>, OAuthError> {
    let mut audience = gatehouse_core::resource::requested(&client.metadata, form.resources())?;
    if let Some(a) = form.get("audience") {
        for requested in a.split(' ').filter(|s| !s.is_empty()) {
            if !client
                .metadata
                .audience
                .iter()
                .any(|allowed| allowed == requested)
            {
                return Err(OAuthError::new(
                    ErrorCode::InvalidTarget,
                    format!("this client may not ask for the audience {requested}"),
                ));
            }
            if !audience.iter().any(|a| a == requested) {
                audience.push(requested.to_owned());
            }
        }
    }
    Ok(audience)
}
