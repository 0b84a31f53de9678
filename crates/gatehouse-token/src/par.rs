//! Pushed authorization requests (RFC 9126): a client sends its authorization request straight
//! to the token service, authenticated as at the token endpoint, and gets a short-lived,
//! single-use `request_uri` to send the user's browser with instead of the parameters.
//!
//! The request is validated completely when it is pushed (errors are answered to the client as
//! JSON, never in a redirect) and kept, validated, in the short-lived store under the keyed hash
//! of the `request_uri`'s random part. `/oauth2/auth?client_id=…&request_uri=…` then takes it
//! once ([`TokenService::validate_authorization`]); the other parameters of that request are
//! ignored (RFC 9126 §4).

use std::time::Duration;

use gatehouse_core::authorize::{AuthorizationParams, AuthorizeError, ValidatedAuthorization};
use gatehouse_core::client::{Client, ClientId};
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::secret::random_token;
use gatehouse_core::store::{Namespace, Records};
use serde::{Deserialize, Serialize};

use crate::authorization::AuthorizationContext;
use crate::service::{TokenService, store_error};

/// RFC 9126 §2.2: the scheme of the `request_uri`s this server hands out.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// How long a pushed request waits for the browser (RFC 9126 §2.2 suggests 5 to 600 seconds;
/// the browser is sent on at once).
pub const PUSHED_REQUEST_TTL: Duration = Duration::from_secs(60);

/// What the client is told after a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushedRequestUri {
    pub request_uri: String,
    pub expires_in: u64,
}

/// A pushed, validated request, as stored.
#[derive(Debug, Serialize, Deserialize)]
struct PushedRequest {
    client_id: ClientId,
    request: ValidatedAuthorization,
}

impl TokenService {
    /// RFC 9126 §2: validates `params` as an authorization request of `client` (already
    /// authenticated) and keeps it behind a fresh `request_uri`.
    pub async fn push_authorization_request(
        &self,
        client: &Client,
        mut params: AuthorizationParams,
    ) -> Result<PushedRequestUri, OAuthError> {
        if params.request_uri.is_some() {
            return Err(OAuthError::invalid_request(
                "request_uri must not be pushed (RFC 9126 §2.1)",
            ));
        }
        if params
            .client_id
            .as_deref()
            .is_some_and(|id| id != client.id.as_str())
        {
            return Err(OAuthError::invalid_request(
                "client_id differs from the authenticated client",
            ));
        }
        params.client_id = Some(client.id.to_string());
        let context = self
            .validate_request(&params, true)
            .await
            .map_err(|e| match e {
                AuthorizeError::Untrusted(error) | AuthorizeError::Redirect { error, .. } => error,
            })?;
        let id = random_token(32);
        let pushed = PushedRequest {
            client_id: client.id.clone(),
            request: context.request,
        };
        Records::new(self.short_lived.as_ref())
            .put(
                Namespace::PushedAuthorizationRequest,
                &self.token_hash(&id),
                &pushed,
                PUSHED_REQUEST_TTL,
            )
            .await
            .map_err(store_error)?;
        Ok(PushedRequestUri {
            request_uri: format!("{REQUEST_URI_PREFIX}{id}"),
            expires_in: PUSHED_REQUEST_TTL.as_secs(),
        })
    }

    /// RFC 9126 §4: the pushed request behind `id` (the random part of a `request_uri`), for
    /// the client `client_id` only, once.
    pub(crate) async fn pushed_authorization(
        &self,
        client_id: Option<&str>,
        id: &str,
    ) -> Result<AuthorizationContext, AuthorizeError> {
        let invalid = || {
            AuthorizeError::Untrusted(OAuthError::new(
                ErrorCode::InvalidRequestUri,
                "the request_uri is unknown, expired, already used or not this client's",
            ))
        };
        let Some(client_id) = client_id else {
            return Err(AuthorizeError::Untrusted(OAuthError::invalid_request(
                "the client_id parameter is missing",
            )));
        };
        let records = Records::new(self.short_lived.as_ref());
        let key = self.token_hash(id);
        let untrusted = |e| AuthorizeError::Untrusted(store_error(e));
        // Read, then take: another client presenting the URI (it travels through the browser)
        // learns nothing and cannot spend it.
        let found: Option<PushedRequest> = records
            .get(Namespace::PushedAuthorizationRequest, &key)
            .await
            .map_err(untrusted)?;
        if found.is_none_or(|p| p.client_id != client_id) {
            return Err(invalid());
        }
        let Some(pushed) = records
            .take::<PushedRequest>(Namespace::PushedAuthorizationRequest, &key)
            .await
            .map_err(untrusted)?
        else {
            return Err(invalid());
        };
        let client = self
            .client(client_id)
            .await
            .map_err(AuthorizeError::Untrusted)?
            .ok_or_else(invalid)?;
        let scopes = self
            .describe_scopes(&pushed.request.scope)
            .await
            .map_err(AuthorizeError::Untrusted)?;
        Ok(AuthorizationContext {
            request: pushed.request,
            client,
            scopes,
        })
    }
}
