//! Users' second factors: TOTP enrolment and confirmation, checking a code or a recovery code
//! at sign-in (with the failed-login limits), removal, and recovery codes.
//!
//! The TOTP secret is sealed with the system secret before it is stored (`totp_sealing`) and
//! opened only here, to show it once at enrolment and to check codes; it is never logged nor
//! answered by the admin API. Recovery codes are shown once and stored as keyed hashes.

use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::factor::{
    self, Factor, FactorKind, MfaPolicy, RecoveryCode, check_totp, find_recovery_code,
    generate_recovery_codes, generate_totp_secret, hash_recovery_code, normalise_totp_code,
};
use gatehouse_core::lockout::{Lock, LoginLimits};
use gatehouse_core::user::User;

use crate::service::{TokenService, store_error};

/// Longest factor label, in characters.
pub const MAX_LABEL_CHARS: usize = 64;
/// Longest code looked at, in characters (a recovery code with spaces fits easily).
const MAX_CODE_CHARS: usize = 64;

/// A TOTP enrolment waiting for its first code: what the enrolment page shows, once.
#[derive(Clone)]
pub struct TotpEnrolment {
    pub factor_id: String,
    /// The secret in base32, grouped for typing.
    pub secret: String,
    /// The `otpauth://` URI the QR code carries.
    pub otpauth_uri: String,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrolment")
            .field("factor_id", &self.factor_id)
            .finish_non_exhaustive()
    }
}

/// Which second factor a sign-in used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactorMethod {
    Totp,
    RecoveryCode,
}

/// The answer to a second-factor attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecondFactorCheck {
    /// The code was right and is now spent; with the recovery codes left.
    Accepted {
        method: SecondFactorMethod,
        recovery_codes_left: u32,
    },
    /// A wrong, used or replayed code (counted as a failed login), with the attempts left when a
    /// limit applies.
    Refused { attempts_left: Option<u32> },
    /// Too many recent failures: refused without looking at the code.
    Locked(Lock),
}

/// What the login UI needs to know of a user's factors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FactorSummary {
    /// Confirmed factors only.
    pub factors: Vec<Factor>,
    pub recovery_codes_left: u32,
}

fn unused(codes: &[RecoveryCode]) -> u32 {
    u32::try_from(codes.iter().filter(|c| c.used_at.is_none()).count()).unwrap_or(u32::MAX)
}

impl TokenService {
    /// `GATEHOUSE_MFA`.
    pub fn mfa_policy(&self) -> MfaPolicy {
        self.settings.mfa
    }

    async fn existing_user(&self, user_id: &str) -> Result<User, OAuthError> {
        self.durable
            .get_user(user_id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| OAuthError::new(ErrorCode::NotFound, "no user has this id"))
    }

    /// Every factor of the user, unconfirmed ones included (the admin API's list).
    pub async fn all_factors(&self, user_id: &str) -> Result<Vec<Factor>, OAuthError> {
        self.durable
            .list_factors(user_id)
            .await
            .map_err(store_error)
    }

    /// The user's confirmed factors and how many recovery codes are left.
    pub async fn factor_summary(&self, user_id: &str) -> Result<FactorSummary, OAuthError> {
        let factors: Vec<Factor> = self
            .all_factors(user_id)
            .await?
            .into_iter()
            .filter(Factor::is_confirmed)
            .collect();
        let recovery_codes_left = if factors.is_empty() {
            0
        } else {
            unused(
                &self
                    .durable
                    .list_recovery_codes(user_id)
                    .await
                    .map_err(store_error)?,
            )
        };
        Ok(FactorSummary {
            factors,
            recovery_codes_left,
        })
    }

    /// Whether the user has a confirmed second factor.
    pub async fn has_second_factor(&self, user_id: &str) -> Result<bool, OAuthError> {
        Ok(self
            .all_factors(user_id)
            .await?
            .iter()
            .any(Factor::is_confirmed))
    }

    /// Starts a TOTP enrolment: a new secret, stored sealed and unconfirmed (replacing an
    /// abandoned enrolment), or the unconfirmed factor `resume` again (the page shown anew after
    /// a mistyped first code). `issuer_label` names the service in the authenticator app (the
    /// issuer's host when empty).
    pub async fn begin_totp_enrolment(
        &self,
        user_id: &str,
        label: &str,
        issuer_label: &str,
        resume: Option<&str>,
    ) -> Result<TotpEnrolment, OAuthError> {
        if label.chars().count() > MAX_LABEL_CHARS {
            return Err(OAuthError::invalid_request(
                "the factor's label is longer than 64 characters",
            ));
        }
        let user = self.existing_user(user_id).await?;
        let resumed = match resume {
            Some(id) => self
                .all_factors(&user.id)
                .await?
                .into_iter()
                .find(|f| f.id == id && !f.is_confirmed()),
            None => None,
        };
        let secret = match &resumed {
            Some(factor) => self.open_secret(factor)?,
            None => generate_totp_secret(),
        };
        let issuer = Some(issuer_label.trim())
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .or_else(|| {
                url::Url::parse(self.issuer())
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
            })
            .unwrap_or_else(|| "Gatehouse".into());
        let otpauth_uri = factor::otpauth_uri(&secret, &issuer, &user.username).map_err(|e| {
            tracing::error!(error = %e, "making an otpauth URI failed");
            OAuthError::server_error()
        })?;
        if let Some(factor) = resumed {
            return Ok(TotpEnrolment {
                factor_id: factor.id,
                secret: factor::display_totp_secret(&secret),
                otpauth_uri,
            });
        }
        let sealed_secret = self.totp_sealing.seal(&secret).map_err(|e| {
            tracing::error!(error = %e, "sealing a TOTP secret failed");
            OAuthError::server_error()
        })?;
        let record = Factor {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: user.id.clone(),
            kind: FactorKind::Totp,
            label: label.trim().to_owned(),
            sealed_secret,
            created_at: self.clock.now(),
            confirmed_at: None,
            last_used_step: None,
            credential_id: None,
        };
        self.durable
            .create_factor(&record)
            .await
            .map_err(store_error)?;
        Ok(TotpEnrolment {
            factor_id: record.id,
            secret: factor::display_totp_secret(&secret),
            otpauth_uri,
        })
    }

    fn open_secret(&self, factor: &Factor) -> Result<Vec<u8>, OAuthError> {
        self.totp_sealing.open(&factor.sealed_secret).map_err(|_| {
            tracing::error!(factor_id = %factor.id, "a TOTP secret does not open with the system secret");
            OAuthError::server_error()
        })
    }

    /// Confirms a TOTP enrolment with a code of its secret. `None`: the code is wrong (or the
    /// enrolment is gone). On the user's first factor, answers their new recovery codes, to be
    /// shown once; an empty list otherwise.
    pub async fn confirm_totp_enrolment(
        &self,
        user_id: &str,
        factor_id: &str,
        code: &str,
    ) -> Result<Option<Vec<String>>, OAuthError> {
        let factors = self.all_factors(user_id).await?;
        let had_one = factors.iter().any(Factor::is_confirmed);
        let Some(pending) = factors
            .iter()
            .find(|f| f.id == factor_id && !f.is_confirmed())
        else {
            return Ok(None);
        };
        let secret = self.open_secret(pending)?;
        let Some(step) = check_totp(&secret, code, self.clock.unix(), None) else {
            return Ok(None);
        };
        if !self
            .durable
            .confirm_factor(user_id, factor_id, self.clock.now(), step)
            .await
            .map_err(store_error)?
        {
            return Ok(None);
        }
        tracing::info!(user_id, factor_id, "a second factor was enrolled");
        if had_one {
            return Ok(Some(Vec::new()));
        }
        self.regenerate_recovery_codes(user_id).await.map(Some)
    }

    /// New recovery codes for a user with a confirmed factor, replacing the old ones; shown once.
    pub async fn regenerate_recovery_codes(
        &self,
        user_id: &str,
    ) -> Result<Vec<String>, OAuthError> {
        if !self.has_second_factor(user_id).await? {
            return Err(OAuthError::new(
                ErrorCode::InvalidRequest,
                "recovery codes need a second factor first",
            ));
        }
        let codes = generate_recovery_codes();
        let hashes: Vec<String> = codes
            .iter()
            .filter_map(|c| hash_recovery_code(&self.recovery_codes, user_id, c))
            .collect();
        self.durable
            .replace_recovery_codes(user_id, &hashes, self.clock.now())
            .await
            .map_err(store_error)?;
        Ok(codes)
    }

    /// Removes a factor; whether it existed. With the last confirmed factor the recovery codes
    /// go too.
    pub async fn remove_factor(&self, user_id: &str, factor_id: &str) -> Result<bool, OAuthError> {
        let removed = self
            .durable
            .delete_factor(user_id, factor_id)
            .await
            .map_err(store_error)?;
        if removed {
            tracing::info!(user_id, factor_id, "a second factor was removed");
        }
        Ok(removed)
    }

    /// Checks the second factor of a user who gave the right password: a TOTP code of one of
    /// their confirmed factors (a step after the last one used) or an unused recovery code. A
    /// right code is spent at once; a wrong one counts toward the same failed-login limits as a
    /// wrong password, and a locked username or IP is refused before the code is looked at.
    pub async fn verify_second_factor(
        &self,
        user_id: &str,
        code: &str,
        client_ip: &str,
    ) -> Result<SecondFactorCheck, OAuthError> {
        let user = self.existing_user(user_id).await?;
        let limits = LoginLimits {
            store: self.short_lived.as_ref(),
            keys: &self.login_limit_keys,
            policy: &self.settings.lockout,
        };
        let now = self.clock.unix();
        if let Some(lock) = limits
            .check(&user.username, client_ip, now)
            .await
            .map_err(store_error)?
        {
            return Ok(SecondFactorCheck::Locked(lock));
        }
        let accepted = if user.disabled || code.chars().count() > MAX_CODE_CHARS {
            None
        } else {
            self.spend_code(&user.id, code, now).await?
        };
        match accepted {
            Some(method) => {
                if let Err(e) = limits.record_success(&user.username).await {
                    tracing::warn!(error = %e, "resetting the failed-login counter failed");
                }
                let recovery_codes_left = unused(
                    &self
                        .durable
                        .list_recovery_codes(&user.id)
                        .await
                        .map_err(store_error)?,
                );
                Ok(SecondFactorCheck::Accepted {
                    method,
                    recovery_codes_left,
                })
            }
            None => {
                let failure = limits
                    .record_failure(&user.username, client_ip, now)
                    .await
                    .map_err(store_error)?;
                tracing::info!(user_id = %user.id, "a second-factor attempt failed");
                Ok(match failure.locked {
                    Some(lock) => {
                        tracing::warn!(
                            username = %user.username,
                            "a username or client IP was locked after repeated failed second factors"
                        );
                        SecondFactorCheck::Locked(lock)
                    }
                    None => SecondFactorCheck::Refused {
                        attempts_left: failure.attempts_left,
                    },
                })
            }
        }
    }

    /// Spends `code` if it is a fresh TOTP code of a confirmed factor or an unused recovery code.
    async fn spend_code(
        &self,
        user_id: &str,
        code: &str,
        now: i64,
    ) -> Result<Option<SecondFactorMethod>, OAuthError> {
        let factors = self.all_factors(user_id).await?;
        if normalise_totp_code(code).is_some() {
            for factor in factors
                .iter()
                .filter(|f| f.is_confirmed() && f.kind == FactorKind::Totp)
            {
                let secret = self.open_secret(factor)?;
                if let Some(step) = check_totp(&secret, code, now, factor.last_used_step) {
                    // The conditional update decides between racing uses of the same code.
                    return Ok(self
                        .durable
                        .use_factor_step(user_id, &factor.id, step)
                        .await
                        .map_err(store_error)?
                        .then_some(SecondFactorMethod::Totp));
                }
            }
            return Ok(None);
        }
        if !factors.iter().any(Factor::is_confirmed) {
            return Ok(None);
        }
        let codes = self
            .durable
            .list_recovery_codes(user_id)
            .await
            .map_err(store_error)?;
        let Some(hash) = find_recovery_code(&self.recovery_codes, user_id, code, &codes) else {
            return Ok(None);
        };
        Ok(self
            .durable
            .use_recovery_code(user_id, hash, self.clock.now())
            .await
            .map_err(store_error)?
            .then_some(SecondFactorMethod::RecoveryCode))
    }
}
