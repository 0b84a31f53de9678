//! RFC 6749 §4.4: the client acts on its own behalf. Confidential clients only; no refresh
//! token and no ID token (there is no user).

use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::scope::ScopeSet;

use super::{Grant, GrantRequest, requested_audience, requested_scope};
use crate::issue::{AccessGrant, TokenResponse};
use crate::service::TokenService;

pub(crate) struct ClientCredentialsGrant;

impl Grant for ClientCredentialsGrant {
    async fn issue(
        &self,
        service: &TokenService,
        &GrantRequest {
            client,
            form,
            dpop_jkt,
        }: &GrantRequest<'_>,
    ) -> Result<TokenResponse, OAuthError> {
        let requested_at_ms = service.clock.unix_ms();
        // The client authenticated with its registered method (`TokenService::authenticate_client`),
        // so a public client is exactly one that presented no secret.
        if client.is_public() {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "public clients cannot use the client_credentials grant",
            ));
        }
        // Without a scope parameter the token carries no scope: least privilege by default.
        let scope =
            requested_scope(form, &client.metadata.scope)?.unwrap_or_else(ScopeSet::default);
        let audience = requested_audience(form, client)?;
        let (access_token, expires_in) = service
            .mint_access_token(AccessGrant {
                client,
                subject: None,
                scope: &scope,
                audience,
                grant_id: None,
                auth_time: None,
                authorized_at_ms: requested_at_ms,
                dpop_jkt,
                claims: None,
                acr: None,
            })
            .await?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in,
            scope: (!scope.is_empty()).then(|| scope.to_string()),
            refresh_token: None,
            id_token: None,
        })
    }
}
