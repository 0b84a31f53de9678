//! The device authorization grant (RFC 8628): a device without a browser (a CLI, a TV) asks
//! `POST /oauth2/device/auth` for a `device_code` and a `user_code`; the user types the user code
//! on the login UI's `/device` page, signs in and consents there; the device meanwhile polls the
//! token endpoint with the device code (`grants/device_code.rs`).
//!
//! The authorization ([`DeviceAuthorization`]) is kept in the short-lived store under the keyed
//! hash of the device code, for twice the code's lifetime so a late poll is told
//! `expired_token`; the keyed hash of the user code points at it for the code's lifetime and is
//! taken when the user answers, so exactly one answer counts. Neither code is stored in clear.
//! A user code that matches nothing counts toward the per-IP limit of failed logins
//! ([`LoginLimits::record_ip_failure`]).

use std::time::Duration;

use gatehouse_core::authorize::{Prompt, ValidatedAuthorization};
use gatehouse_core::client::Client;
use gatehouse_core::device::{
    DEFAULT_INTERVAL_SECS, DeviceApproval, DeviceAuthorization, DeviceStatus, display_user_code,
    new_user_code, normalise_user_code,
};
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::factor::{amr_for, is_multi_factor};
use gatehouse_core::lockout::{Lock, LoginLimits};
use gatehouse_core::protocol::{GrantType, ResponseMode};
use gatehouse_core::redirect::RedirectUri;
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::secret::random_token;
use gatehouse_core::store::{Namespace, Records};
use serde::Serialize;

use crate::authorization::AuthorizationContext;
use crate::service::{TokenService, store_error};

/// The login UI's page where users enter their code, under the issuer.
pub const VERIFICATION_PATH: &str = "/device";

/// RFC 8628 §3.2: the device authorization response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceAuthorizationResponse {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: u64,
    pub interval: u64,
}

/// What a user code typed on the `/device` page found.
#[derive(Debug)]
pub enum DeviceLookup {
    /// A pending authorization: the handle to answer it with (the device code's keyed hash, no
    /// secret: polling needs the device code itself) and the request to show.
    Found {
        device_id: String,
        context: Box<AuthorizationContext>,
    },
    /// No pending authorization has this code (never said whether one existed), with the
    /// attempts left before the client IP is blocked, when a limit applies.
    NotValid { attempts_left: Option<u32> },
    /// Too many mistyped codes (or failed logins) from this IP.
    Locked(Lock),
}

/// The user's answer to a device authorization.
#[derive(Debug, Clone)]
pub enum DeviceDecision {
    Approve {
        subject: String,
        auth_time: i64,
        session_id: Option<String>,
        /// RFC 8176 methods of the sign-in (empty: a password).
        amr: Vec<String>,
    },
    Deny,
}

/// How many fresh user codes are tried when one is taken already.
const USER_CODE_ATTEMPTS: usize = 5;

impl TokenService {
    fn verification_uri(&self) -> String {
        format!("{}{VERIFICATION_PATH}", self.issuer())
    }

    /// How long a device authorization is kept: its lifetime again after it expired, so a late
    /// poll hears `expired_token` rather than `invalid_grant`.
    fn device_record_ttl(&self) -> Duration {
        self.settings.ttl_device_code.saturating_mul(2)
    }

    /// RFC 8628 §3.1-3.2: starts a device authorization for `client` (already authenticated).
    pub async fn start_device_authorization(
        &self,
        client: &Client,
        scope: Option<&str>,
    ) -> Result<DeviceAuthorizationResponse, OAuthError> {
        if !client.may_use(GrantType::DeviceCode) {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "this client is not allowed to use the device authorization grant",
            ));
        }
        let scope = match scope {
            None => ScopeSet::default(),
            Some(s) => ScopeSet::parse(s).map_err(|_| {
                OAuthError::new(ErrorCode::InvalidScope, "the scope parameter is malformed")
            })?,
        };
        if let Some(refused) = scope.refused_by(&client.metadata.scope) {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                format!("this client may not ask for these scopes: {refused}"),
            ));
        }
        let ttl = self.settings.ttl_device_code;
        let device_code = random_token(32);
        let device_hash = self.token_hash(&device_code);
        let records = Records::new(self.short_lived.as_ref());
        let mut user_code = None;
        for _ in 0..USER_CODE_ATTEMPTS {
            let candidate = new_user_code();
            if records
                .put_new(
                    Namespace::DeviceUserCode,
                    &self.token_hash(&candidate),
                    &device_hash,
                    ttl,
                )
                .await
                .map_err(store_error)?
            {
                user_code = Some(candidate);
                break;
            }
        }
        let Some(user_code) = user_code else {
            tracing::error!("no free user code after several attempts");
            return Err(OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "no user code is free; try again",
            ));
        };
        let expires_at = self
            .clock
            .unix()
            .saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
        let authorization = DeviceAuthorization {
            client_id: client.id.clone(),
            client_incarnation: client.incarnation.clone(),
            scope,
            user_code_hash: self.token_hash(&user_code),
            expires_at,
            status: DeviceStatus::Pending,
        };
        records
            .put(
                Namespace::DeviceCode,
                &device_hash,
                &authorization,
                self.device_record_ttl(),
            )
            .await
            .map_err(store_error)?;
        tracing::info!(client_id = %client.id, "device authorization started");
        let verification_uri = self.verification_uri();
        let shown = display_user_code(&user_code);
        Ok(DeviceAuthorizationResponse {
            device_code,
            verification_uri_complete: format!("{verification_uri}?user_code={shown}"),
            verification_uri,
            user_code: shown,
            expires_in: ttl.as_secs(),
            interval: DEFAULT_INTERVAL_SECS,
        })
    }

    /// The pending device authorization behind the user code someone typed at `client_ip`. A
    /// code that finds nothing counts toward the IP's limit; a blocked IP is not looked up.
    pub async fn device_authorization_for_user_code(
        &self,
        typed: &str,
        client_ip: &str,
    ) -> Result<DeviceLookup, OAuthError> {
        let limits = LoginLimits {
            store: self.short_lived.as_ref(),
            keys: &self.login_limit_keys,
            policy: &self.settings.lockout,
        };
        let now = self.clock.unix();
        if let Some(lock) = limits.check_ip(client_ip, now).await.map_err(store_error)? {
            return Ok(DeviceLookup::Locked(lock));
        }
        if let Some(found) = self.pending_device_authorization(typed).await? {
            return Ok(found);
        }
        let failure = limits
            .record_ip_failure(client_ip, now)
            .await
            .map_err(store_error)?;
        Ok(match failure.locked {
            Some(lock) => {
                tracing::warn!(
                    client_ip,
                    "a client IP was blocked after repeated wrong device user codes"
                );
                DeviceLookup::Locked(lock)
            }
            None => DeviceLookup::NotValid {
                attempts_left: failure.attempts_left,
            },
        })
    }

    async fn pending_device_authorization(
        &self,
        typed: &str,
    ) -> Result<Option<DeviceLookup>, OAuthError> {
        let Some(user_code) = normalise_user_code(typed) else {
            return Ok(None);
        };
        let records = Records::new(self.short_lived.as_ref());
        let Some(device_id) = records
            .get::<String>(Namespace::DeviceUserCode, &self.token_hash(&user_code))
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        let Some(authorization) = self.pending_device(&device_id).await? else {
            return Ok(None);
        };
        let Some(client) = self
            .client(authorization.client_id.as_str())
            .await?
            .filter(|c| c.incarnation == authorization.client_incarnation)
        else {
            return Ok(None);
        };
        let redirect_uri = RedirectUri::parse(&self.verification_uri(), true).map_err(|e| {
            tracing::error!(error = %e, "the verification URI is not a URI");
            OAuthError::server_error()
        })?;
        let request = ValidatedAuthorization {
            client_id: authorization.client_id.clone(),
            redirect_uri,
            redirect_uri_given: false,
            scope: authorization.scope.clone(),
            state: None,
            code_challenge: None,
            nonce: None,
            prompt: Prompt::default(),
            max_age: None,
            login_hint: None,
            ui_locales: None,
            response_mode: ResponseMode::Query,
            hinted_subject: None,
            resources: Vec::new(),
            claims: None,
            mfa_required: self.mfa_required_for(&client.metadata, false),
        };
        let scopes = self.describe_scopes(&authorization.scope).await?;
        Ok(Some(DeviceLookup::Found {
            device_id,
            context: Box::new(AuthorizationContext {
                request,
                client,
                scopes,
            }),
        }))
    }

    /// The authorization behind `device_id` while it is pending and not expired.
    async fn pending_device(
        &self,
        device_id: &str,
    ) -> Result<Option<DeviceAuthorization>, OAuthError> {
        let found: Option<DeviceAuthorization> = Records::new(self.short_lived.as_ref())
            .get(Namespace::DeviceCode, device_id)
            .await
            .map_err(store_error)?;
        let now = self.clock.unix();
        Ok(found.filter(|a| a.status == DeviceStatus::Pending && now < a.expires_at))
    }

    /// Records the user's answer to the device authorization `device_id`: once (the user code
    /// is taken), while it is pending.
    pub async fn complete_device_authorization(
        &self,
        device_id: &str,
        decision: DeviceDecision,
    ) -> Result<(), OAuthError> {
        let gone = || {
            OAuthError::new(
                ErrorCode::ExpiredToken,
                "the code expired or was already answered",
            )
        };
        let Some(mut authorization) = self.pending_device(device_id).await? else {
            return Err(gone());
        };
        if let DeviceDecision::Approve { subject, amr, .. } = &decision {
            // Defence in depth, as for codes: whoever calls, a client that requires a second
            // factor gets no device approved by a sign-in without one.
            if let Some(client) = self.client(authorization.client_id.as_str()).await?
                && self.mfa_required_for(&client.metadata, false)
                && !is_multi_factor(amr)
            {
                return Err(OAuthError::new(
                    ErrorCode::AccessDenied,
                    "this sign-in must use a second factor",
                ));
            }
            match self.user(subject).await? {
                Some(u) if !u.disabled => {}
                _ => {
                    return Err(OAuthError::new(
                        ErrorCode::AccessDenied,
                        "the user is disabled or no longer exists",
                    ));
                }
            }
        }
        let records = Records::new(self.short_lived.as_ref());
        if records
            .take::<String>(Namespace::DeviceUserCode, &authorization.user_code_hash)
            .await
            .map_err(store_error)?
            .is_none()
        {
            return Err(gone());
        }
        authorization.status = match decision {
            DeviceDecision::Approve {
                subject,
                auth_time,
                session_id,
                amr,
            } => DeviceStatus::Approved(DeviceApproval {
                subject,
                scope: authorization.scope.clone(),
                auth_time,
                session_id,
                approved_at_ms: self.clock.unix_ms(),
                grant_id: uuid::Uuid::new_v4().to_string(),
                amr: if amr.is_empty() { amr_for(false) } else { amr },
            }),
            DeviceDecision::Deny => DeviceStatus::Denied,
        };
        if let Err(e) = records
            .put(
                Namespace::DeviceCode,
                device_id,
                &authorization,
                self.device_record_ttl(),
            )
            .await
        {
            // A 5xx spends nothing: the user code goes back for the user's retry.
            let left = authorization.expires_at.saturating_sub(self.clock.unix());
            let left = Duration::from_secs(u64::try_from(left).unwrap_or(1).max(1));
            if let Err(again) = records
                .put(
                    Namespace::DeviceUserCode,
                    &authorization.user_code_hash,
                    &device_id,
                    left,
                )
                .await
            {
                tracing::warn!(error = %again, "giving a device user code back failed");
            }
            return Err(store_error(e));
        }
        let approved = matches!(authorization.status, DeviceStatus::Approved(_));
        if approved {
            self.usage.count_login(authorization.client_id.as_str());
        }
        tracing::info!(
            client_id = %authorization.client_id,
            approved,
            "device authorization answered"
        );
        Ok(())
    }
}
