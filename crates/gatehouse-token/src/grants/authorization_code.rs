//! RFC 6749 §4.1.3 with RFC 7636 §4.6: exchanging an authorization code.
//!
//! The code is taken atomically from the short-lived store, so of any number of concurrent
//! redemptions exactly one succeeds. A spent-code marker remembers the grant, so a replay is
//! answered with `invalid_grant` and revokes everything the first redemption issued (RFC 6749
//! §4.1.2, RFC 9700 §4.2.4).

use gatehouse_core::client::Client;
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::grant::{AuthorizationCodeRecord, SpentCodeRecord};
use gatehouse_core::store::{Namespace, Records};
use gatehouse_core::token_request::Form;

use crate::issue::{AccessGrant, TokenResponse};
use crate::service::{TokenService, store_error};

fn invalid_grant(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, description)
}

impl TokenService {
    pub(crate) async fn exchange_code(
        &self,
        client: &Client,
        form: &Form,
    ) -> Result<TokenResponse, OAuthError> {
        let code = form.require("code")?;
        let hash = self.token_hash(code);
        let records = Records::new(self.short_lived.as_ref());
        let Some(record) = records
            .take::<AuthorizationCodeRecord>(Namespace::AuthorizationCode, &hash)
            .await
            .map_err(store_error)?
        else {
            if let Some(spent) = records
                .get::<SpentCodeRecord>(Namespace::SpentAuthorizationCode, &hash)
                .await
                .map_err(store_error)?
            {
                tracing::warn!(client_id = %spent.client_id, "authorization code replayed; revoking its grant");
                self.revoke_grant(&spent.grant_id).await?;
                return Err(invalid_grant("the authorization code was already used"));
            }
            return Err(invalid_grant(
                "the authorization code is invalid or expired",
            ));
        };
        let spent = SpentCodeRecord {
            grant_id: record.grant_id.clone(),
            client_id: record.client_id.clone(),
        };
        records
            .put(
                Namespace::SpentAuthorizationCode,
                &hash,
                &spent,
                self.settings.ttl_refresh_token,
            )
            .await
            .map_err(store_error)?;

        let age = self.clock.unix().saturating_sub(record.issued_at);
        if age < 0 || age.unsigned_abs() > self.settings.ttl_auth_code.as_secs() {
            return Err(invalid_grant(
                "the authorization code is invalid or expired",
            ));
        }
        if record.client_id != client.id {
            return Err(invalid_grant(
                "the authorization code was issued to another client",
            ));
        }
        match (form.get("redirect_uri"), record.redirect_uri_given) {
            (Some(given), _) if given != record.redirect_uri => {
                return Err(invalid_grant(
                    "redirect_uri does not match the one of the authorization request",
                ));
            }
            (None, true) => {
                return Err(OAuthError::invalid_request(
                    "redirect_uri is required because the authorization request carried it",
                ));
            }
            _ => {}
        }
        match (&record.code_challenge, form.get("code_verifier")) {
            (Some(challenge), Some(verifier)) if challenge.verify(verifier) => {}
            (Some(_), Some(_)) => {
                return Err(invalid_grant(
                    "the code_verifier does not match the code_challenge",
                ));
            }
            (Some(_), None) => {
                return Err(OAuthError::invalid_request(
                    "the code_verifier parameter is missing",
                ));
            }
            // A verifier for a code issued without a challenge is a downgrade attempt (RFC 9700 §2.1.1).
            (None, Some(_)) => {
                return Err(invalid_grant(
                    "code_verifier was sent but the authorization request had no code_challenge",
                ));
            }
            (None, None) => {}
        }
        self.require_active_user(&record.subject).await?;

        let (access_token, expires_in) = self
            .mint_access_token(AccessGrant {
                client,
                subject: Some(&record.subject),
                scope: &record.scope,
                audience: Vec::new(),
                grant_id: Some(&record.grant_id),
                auth_time: Some(record.auth_time),
            })
            .await?;
        let refresh_token = if record.scope.grants_offline_access()
            && client
                .metadata
                .grant_types
                .iter()
                .any(|g| g == "refresh_token")
        {
            let (token, stored) = self.new_refresh_token(
                &client.id,
                &record.subject,
                &record.scope,
                &record.grant_id,
                Some(record.auth_time),
            );
            self.durable
                .insert_refresh_token(&stored)
                .await
                .map_err(store_error)?;
            Some(token)
        } else {
            None
        };
        let id_token = if record.scope.contains("openid") {
            Some(self.mint_id_token(
                client,
                &record.subject,
                record.auth_time,
                record.nonce.as_deref(),
                &access_token,
            )?)
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in,
            scope: Some(record.scope.to_string()),
            refresh_token,
            id_token,
        })
    }
}
