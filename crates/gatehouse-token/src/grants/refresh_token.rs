//! RFC 6749 §6 with rotation and reuse detection (RFC 9700 §4.14.2): every use of a refresh
//! token spends it and issues a successor in the same family; presenting a spent token revokes
//! the whole family and the access tokens it issued.

use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::grant::GrantRevocationReason;
use gatehouse_core::secret::constant_time_eq;
use gatehouse_core::store::{RefreshTokenState, RotateOutcome};
use time::OffsetDateTime;

use super::{Grant, GrantRequest, requested_scope};
use crate::issue::{AccessGrant, FamilyBinding, IdTokenGrant, TokenResponse};
use crate::service::{TokenService, store_error};

fn invalid_grant(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, description)
}

/// The answer for a token of a revoked family: why, when the revocation was for cause.
async fn revoked(service: &TokenService, family_id: &str) -> OAuthError {
    match service.grant_revocation_reason(family_id).await {
        Some(reason) => OAuthError::new(ErrorCode::InvalidGrant, reason.refresh_refused()),
        None => invalid_grant("the refresh token was revoked"),
    }
}

/// RFC 9449 §5: a refresh token bound to a DPoP key (a public client's) is only good with a
/// proof of that key. `bound` is the family's thumbprint, empty when not bound.
fn check_dpop_binding(bound: &str, presented: Option<&str>) -> Result<(), OAuthError> {
    if bound.is_empty() {
        return Ok(());
    }
    match presented {
        None => Err(OAuthError::new(
            ErrorCode::InvalidDpopProof,
            "this refresh token is bound to a DPoP key: send a DPoP proof of that key",
        )),
        Some(jkt) if constant_time_eq(jkt.as_bytes(), bound.as_bytes()) => Ok(()),
        Some(_) => Err(invalid_grant(
            "the refresh token is bound to another DPoP key",
        )),
    }
}

pub(crate) struct RefreshTokenGrant;

impl Grant for RefreshTokenGrant {
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
        let presented = form.require("refresh_token")?;
        let hash = service.token_hash(presented);
        let Some((current, state)) = service
            .durable
            .get_refresh_token(&hash)
            .await
            .map_err(store_error)?
        else {
            return Err(invalid_grant("the refresh token is invalid"));
        };
        // A token of another client, or of an earlier incarnation of this one, is answered like
        // an unknown one and left alone: its owner's family must not be revoked because somebody
        // else presented it.
        if current.client_id != client.id
            || (!current.client_incarnation.is_empty()
                && current.client_incarnation != client.incarnation)
        {
            return Err(invalid_grant("the refresh token is invalid"));
        }
        if state == RefreshTokenState::Revoked {
            return Err(revoked(service, &current.family_id).await);
        }
        check_dpop_binding(&current.dpop_jkt, dpop_jkt)?;
        // Narrowing applies to the new access token; the family keeps its original scope (RFC 6749 §6).
        let scope = requested_scope(form, &current.scope)?.unwrap_or_else(|| current.scope.clone());
        // So does naming a subset of the family's resources (RFC 8707 §2.2).
        let audience = gatehouse_core::resource::narrowed(&current.resources, form.resources())?;
        let user = service.require_active_user(&current.subject).await?;

        // Everything that can fail on the short-lived store happens before the rotation, the
        // single-use step: a 503 leaves the refresh token usable for the client's retry.
        let auth_time = current.auth_time.map(OffsetDateTime::unix_timestamp);
        // OpenID Connect Core §12.2: the original sign-in's methods, as the family keeps them
        // (unknown in families of older releases: then no `amr` and no `acr`).
        let amr = Some(current.session_claims.amr.as_slice()).filter(|m| !m.is_empty());
        let (access_token, expires_in) = service
            .mint_access_token(AccessGrant {
                client,
                subject: Some(&current.subject),
                scope: &scope,
                audience,
                grant_id: Some(&current.family_id),
                auth_time,
                authorized_at_ms: requested_at_ms,
                dpop_jkt,
                // The family keeps the consent app's claims: every refresh carries them.
                claims: current.session_claims.access_token.as_ref(),
                acr: amr.map(gatehouse_core::factor::acr_for),
            })
            .await?;
        let id_token = if scope.contains("openid") {
            let minted = service
                .mint_id_token(IdTokenGrant {
                    client,
                    user: &user,
                    scope: &scope,
                    auth_time: auth_time.unwrap_or_else(|| service.clock.unix()),
                    nonce: None,
                    session_claims: current.session_claims.id_token.as_ref(),
                    // The family keeps no `claims` request: the client's registration decides.
                    requested: None,
                    access_token: &access_token,
                    amr,
                })
                .await;
            match minted {
                Ok(id_token) => Some(id_token),
                Err(e) => {
                    // Nothing was spent; the access token minted above is never handed out.
                    service.forget_access_token(&access_token).await;
                    return Err(e);
                }
            }
        } else {
            None
        };
        let (new_token, successor) = service.new_refresh_token(
            client,
            &current.subject,
            &current.scope,
            &current.family_id,
            auth_time,
            // The store keeps the family's resources, key binding and claims for the successor.
            FamilyBinding {
                resources: &current.resources,
                dpop_jkt: None,
                id_token_claims: None,
                access_token_claims: None,
                amr: None,
            },
        );
        let outcome = service
            .durable
            .rotate_refresh_token(&hash, &successor, service.clock.now())
            .await;
        let refused = match outcome {
            Ok(RotateOutcome::Rotated { .. }) => {
                return Ok(TokenResponse {
                    access_token,
                    token_type: "Bearer",
                    expires_in,
                    scope: Some(scope.to_string()),
                    refresh_token: Some(new_token),
                    id_token,
                });
            }
            Ok(RotateOutcome::ReuseDetected { family_id }) => {
                tracing::warn!(client_id = %client.id, "refresh token reused; revoking its family");
                // The family is revoked by the rotation itself; this notes why and ends the
                // access tokens (the index holds the one minted above too).
                service
                    .revoke_grant_because(&family_id, GrantRevocationReason::RefreshTokenReused)
                    .await?;
                return Err(invalid_grant(
                    "the refresh token was already used; the grant has been revoked",
                ));
            }
            Ok(RotateOutcome::Inactive) => match service
                .grant_revocation_reason(&current.family_id)
                .await
            {
                Some(reason) => OAuthError::new(ErrorCode::InvalidGrant, reason.refresh_refused()),
                None => invalid_grant("the refresh token expired or was revoked"),
            },
            Ok(RotateOutcome::NotFound) => invalid_grant("the refresh token is invalid"),
            Err(e) => store_error(e),
        };
        // Not rotated: the access token minted for this request was never handed out.
        service.forget_access_token(&access_token).await;
        Err(refused)
    }
}
