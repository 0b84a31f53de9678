//! RFC 8628 §3.4-3.5: polling with a device code.
//!
//! Each poll is judged by `gatehouse_core::device::poll` against the authorization and the last
//! poll of this device code (kept apart, so a poll never writes over the user's answer):
//! another client's code is answered as an unknown one and records nothing; then
//! `expired_token`, `slow_down` (the interval grows by 5 s for good), `authorization_pending`,
//! `access_denied`. An approved code issues once: the tokens are minted first and the code taken
//! last, so a store failure (a 5xx) leaves it redeemable; of concurrent polls one takes it.

use gatehouse_core::device::{DeviceAuthorization, PollState, PollVerdict, poll};
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::store::{Namespace, Records};

use super::authorization_code::UserGrant;
use super::{Grant, GrantRequest};
use crate::issue::TokenResponse;
use crate::service::{TokenService, store_error};

pub(crate) struct DeviceCodeGrant;

fn unknown() -> OAuthError {
    OAuthError::new(
        ErrorCode::InvalidGrant,
        "the device code is unknown, already used or not this client's",
    )
}

impl Grant for DeviceCodeGrant {
    async fn issue(
        &self,
        service: &TokenService,
        &GrantRequest {
            client,
            form,
            dpop_jkt,
        }: &GrantRequest<'_>,
    ) -> Result<TokenResponse, OAuthError> {
        let device_code = form.require("device_code")?;
        let hash = service.token_hash(device_code);
        let records = Records::new(service.short_lived.as_ref());
        let Some(authorization) = records
            .get::<DeviceAuthorization>(Namespace::DeviceCode, &hash)
            .await
            .map_err(store_error)?
        else {
            return Err(unknown());
        };
        if authorization.client_incarnation != client.incarnation {
            return Err(unknown());
        }
        let last = records
            .get::<PollState>(Namespace::DevicePoll, &hash)
            .await
            .map_err(store_error)?;
        let (verdict, next) = poll(
            &authorization,
            client.id.as_str(),
            last,
            service.clock.unix_ms(),
        );
        if let Some(next) = next {
            records
                .put(
                    Namespace::DevicePoll,
                    &hash,
                    &next,
                    service.settings.ttl_device_code.saturating_mul(2),
                )
                .await
                .map_err(store_error)?;
        }
        let approval = match verdict {
            PollVerdict::NotThisClient => return Err(unknown()),
            PollVerdict::Expired => {
                return Err(OAuthError::new(
                    ErrorCode::ExpiredToken,
                    "the device code expired; start again",
                ));
            }
            PollVerdict::SlowDown => {
                return Err(OAuthError::new(
                    ErrorCode::SlowDown,
                    "polled too soon; the interval is now 5 seconds longer",
                ));
            }
            PollVerdict::Pending => {
                return Err(OAuthError::new(
                    ErrorCode::AuthorizationPending,
                    "the user has not answered yet",
                ));
            }
            PollVerdict::Denied => {
                return Err(OAuthError::new(
                    ErrorCode::AccessDenied,
                    "the user denied the request",
                ));
            }
            PollVerdict::Approved(approval) => approval,
        };
        let user = service.require_active_user(&approval.subject).await?;
        if service
            .revocations
            .is_ended(
                Some(&approval.subject),
                &client.id,
                &authorization.client_incarnation,
                approval.approved_at_ms,
            )
            .await
            .map_err(store_error)?
        {
            return Err(unknown());
        }
        let password_only = gatehouse_core::factor::amr_for(false);
        let response = service
            .issue_for_user_grant(
                client,
                &UserGrant {
                    user: &user,
                    claims: None,
                    subject: &approval.subject,
                    scope: &approval.scope,
                    grant_id: &approval.grant_id,
                    auth_time: approval.auth_time,
                    nonce: None,
                    id_token_claims: None,
                    access_token_claims: None,
                    authorized_at_ms: approval.approved_at_ms,
                    // A device authorization request names no resources (RFC 8628 §3.1).
                    resources: &[],
                    audience: &[],
                    dpop_jkt,
                    // Approvals of older releases carry no methods: they came from a password.
                    amr: Some(if approval.amr.is_empty() {
                        &password_only
                    } else {
                        &approval.amr
                    }),
                },
            )
            .await?;
        match records
            .take::<DeviceAuthorization>(Namespace::DeviceCode, &hash)
            .await
            .map_err(store_error)?
        {
            Some(_) => {
                // Best effort: the poll state only matters while the code lives.
                if let Err(e) = records.delete(Namespace::DevicePoll, &hash).await {
                    tracing::debug!(error = %e, "forgetting a device code's polls failed");
                }
                Ok(response)
            }
            None => Err(unknown()),
        }
    }
}
