//! The token endpoint's grants (RFC 6749 §4.1.3, §4.4, §6), one file each, behind one dispatcher.

mod authorization_code;
mod client_credentials;
mod refresh_token;

use gatehouse_core::client::Client;
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::token_request::{Form, presented_credentials};

use tracing::Instrument as _;

use crate::issue::TokenResponse;
use crate::service::{TokenService, store_error};

/// A token-endpoint failure and how it must travel: `invalid_client` after an HTTP Basic attempt
/// carries 401 with `WWW-Authenticate: Basic` (RFC 6749 §5.2).
#[derive(Debug)]
pub struct TokenEndpointError {
    pub error: OAuthError,
    pub basic_auth_attempted: bool,
}

impl TokenService {
    /// `POST /oauth2/token`.
    pub async fn token(
        &self,
        authorization: Option<&str>,
        form: &Form,
    ) -> Result<TokenResponse, TokenEndpointError> {
        let span = tracing::info_span!(
            "token_request",
            grant_type = tracing::field::Empty,
            client_id = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        let result = self
            .token_request(authorization, form)
            .instrument(span.clone())
            .await;
        let grant_type: &'static str = match form.get("grant_type") {
            Some("authorization_code") => "authorization_code",
            Some("refresh_token") => "refresh_token",
            Some("client_credentials") => "client_credentials",
            _ => "other",
        };
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
        form: &Form,
    ) -> Result<TokenResponse, TokenEndpointError> {
        let basic_auth_attempted = authorization.is_some();
        let fail = |error: OAuthError| TokenEndpointError {
            error,
            basic_auth_attempted,
        };
        let grant_type = form.require("grant_type").map_err(fail)?;
        if !matches!(
            grant_type,
            "authorization_code" | "refresh_token" | "client_credentials"
        ) {
            return Err(fail(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "supported grant types: authorization_code, refresh_token, client_credentials",
            )));
        }
        let presented = presented_credentials(authorization, form).map_err(fail)?;
        let client = self.authenticate_client(&presented).await.map_err(fail)?;
        tracing::Span::current().record("client_id", client.id.as_str());
        if !client.metadata.grant_types.iter().any(|g| g == grant_type) {
            return Err(fail(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!("this client is not allowed to use the {grant_type} grant"),
            )));
        }
        let result = match grant_type {
            "authorization_code" => self.exchange_code(&client, form).await,
            "refresh_token" => self.refresh(&client, form).await,
            _ => self.client_credentials(&client, &presented, form).await,
        };
        match &result {
            Ok(_) => {
                metrics::counter!(
                    "gatehouse_tokens_issued_total",
                    "grant_type" => grant_type.to_owned(),
                    "client_id" => client.id.clone()
                )
                .increment(1);
                tracing::debug!(client_id = %client.id, grant_type, "token issued");
            }
            Err(e) => {
                tracing::info!(client_id = %client.id, grant_type, error = e.code.as_str(), "token request refused")
            }
        }
        result.map_err(fail)
    }

    /// The user behind a grant must still exist and be enabled.
    pub(crate) async fn require_active_user(&self, subject: &str) -> Result<(), OAuthError> {
        match self.durable.get_user(subject).await.map_err(store_error)? {
            Some(user) if !user.disabled => Ok(()),
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
    if !scope.is_subset_of(allowed) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "the requested scope exceeds what was granted",
        ));
    }
    Ok(Some(scope))
}

/// RFC 8707 `resource` / Hydra's space-separated `audience`: each must be permitted for the
/// client; none means the default audience.
pub(crate) fn requested_audience(form: &Form, client: &Client) -> Result<Vec<String>, OAuthError> {
    let mut audience: Vec<String> = Vec::new();
    if let Some(a) = form.get("audience") {
        audience.extend(a.split(' ').filter(|s| !s.is_empty()).map(str::to_owned));
    }
    if let Some(r) = form.get("resource") {
        audience.push(r.to_owned());
    }
    if let Some(bad) = audience
        .iter()
        .find(|a| !client.metadata.audience.contains(a))
    {
        return Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            format!("the audience {bad:?} is not permitted for this client"),
        ));
    }
    Ok(audience)
}
