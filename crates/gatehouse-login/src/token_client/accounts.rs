//! The account pages' calls: what mail allows, "Forgot password?", and using mailed links.

use std::time::Duration;

use gatehouse_core::account_recovery::WeakPassword;
use gatehouse_core::error::OAuthError;
use gatehouse_core::secret::SecretString;
use gatehouse_proto::token::v1 as pb;
use tonic::{Code, Status};

use super::TokenServiceClient;

/// What the account pages may offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountSettings {
    /// Mail can be sent: "Forgot password?" is offered.
    pub mail_enabled: bool,
    pub password_reset_ttl: Duration,
    /// People may create their own accounts: "Create account" is offered.
    pub self_registration: bool,
    /// Passkeys can sign people in: "Sign in with a passkey" is offered.
    pub passkeys: bool,
}

/// What a mailed link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    PasswordReset,
    EmailVerification,
}

/// The user a live link is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTarget {
    pub subject: String,
    pub username: String,
    pub purpose: LinkPurpose,
    pub challenge: Option<String>,
}

/// The answers of the link RPCs the pages tell apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountCallError {
    /// Unknown, used, expired, or no longer applies (or self-registration is off).
    DeadLink,
    /// A self-registration's username was taken before its link was used.
    UsernameTaken,
    /// No mail can be sent.
    MailOff,
    Other(OAuthError),
}

fn account_error(status: &Status) -> AccountCallError {
    match status.code() {
        Code::NotFound => AccountCallError::DeadLink,
        Code::FailedPrecondition => AccountCallError::MailOff,
        Code::AlreadyExists => AccountCallError::UsernameTaken,
        _ => AccountCallError::Other(super::error(status.clone())),
    }
}

/// How a self-registration ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// The account exists and can sign in now (no mail configured).
    Created,
    /// A confirmation link was mailed.
    VerificationSent,
    /// Refused: `username_taken`, `invalid_username`, `invalid_email` or a weak-password code.
    Refused(String),
    TooMany(Duration),
}

/// How using a reset link ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordReset {
    Done {
        subject: String,
        username: String,
        challenge: Option<String>,
    },
    Refused(WeakPassword),
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

impl TokenServiceClient {
    pub async fn account_settings(&self) -> Result<AccountSettings, OAuthError> {
        let answer = self
            .call(pb::GetAccountSettingsRequest {}, |mut c, r| async move {
                c.get_account_settings(r).await
            })
            .await
            .map_err(super::error)?;
        Ok(AccountSettings {
            mail_enabled: answer.mail_enabled,
            password_reset_ttl: Duration::from_secs(answer.password_reset_ttl_seconds),
            self_registration: answer.self_registration,
            passkeys: answer.passkeys,
        })
    }

    /// "Forgot password?": `Ok(None)` when accepted (whether or not anyone gets a mail),
    /// `Ok(Some(retry_after))` when this IP asked too often.
    pub async fn request_password_reset(
        &self,
        login: &str,
        client_ip: &str,
        language: &str,
        challenge: Option<&str>,
    ) -> Result<Option<Duration>, AccountCallError> {
        let message = pb::RequestPasswordResetRequest {
            login: login.to_owned(),
            client_ip: client_ip.to_owned(),
            language: language.to_owned(),
            challenge: challenge.map(str::to_owned),
        };
        let answer = self
            .call(message, |mut c, r| async move {
                c.request_password_reset(r).await
            })
            .await
            .map_err(|s| account_error(&s))?;
        Ok((answer.retry_after_seconds > 0)
            .then(|| Duration::from_secs(answer.retry_after_seconds)))
    }

    pub async fn inspect_account_link(&self, token: &str) -> Result<LinkTarget, AccountCallError> {
        let message = pb::InspectAccountLinkRequest {
            token: token.to_owned(),
        };
        let answer = self
            .call(message, |mut c, r| async move {
                c.inspect_account_link(r).await
            })
            .await
            .map_err(|s| account_error(&s))?;
        let purpose = match answer.purpose.as_str() {
            "password_reset" => LinkPurpose::PasswordReset,
            "email_verification" => LinkPurpose::EmailVerification,
            _ => {
                return Err(AccountCallError::Other(OAuthError::server_error()));
            }
        };
        Ok(LinkTarget {
            subject: answer.subject,
            username: answer.username,
            purpose,
            challenge: non_empty(answer.challenge),
        })
    }

    pub async fn reset_password(
        &self,
        token: &str,
        new_password: &SecretString,
    ) -> Result<PasswordReset, AccountCallError> {
        let message = pb::ResetPasswordRequest {
            token: token.to_owned(),
            new_password: new_password.expose().to_owned(),
        };
        let answer = self
            .call(message, |mut c, r| async move { c.reset_password(r).await })
            .await
            .map_err(|s| account_error(&s))?;
        if !answer.refused.is_empty() {
            return WeakPassword::from_code(&answer.refused)
                .map(PasswordReset::Refused)
                .ok_or(AccountCallError::Other(OAuthError::server_error()));
        }
        Ok(PasswordReset::Done {
            subject: answer.subject,
            username: answer.username,
            challenge: non_empty(answer.challenge),
        })
    }

    /// Marks the address of a verification link verified; answers the address and the
    /// challenge to continue.
    pub async fn verify_email(
        &self,
        token: &str,
    ) -> Result<(String, Option<String>), AccountCallError> {
        let message = pb::VerifyEmailRequest {
            token: token.to_owned(),
        };
        let answer = self
            .call(message, |mut c, r| async move { c.verify_email(r).await })
            .await
            .map_err(|s| account_error(&s))?;
        Ok((answer.email, non_empty(answer.challenge)))
    }

    /// Self-registration: `password` as typed; the token service checks everything.
    pub async fn register_user(
        &self,
        username: &str,
        email: &str,
        password: &SecretString,
        client_ip: &str,
        language: &str,
        challenge: Option<&str>,
    ) -> Result<Registration, AccountCallError> {
        let message = pb::RegisterUserRequest {
            username: username.to_owned(),
            email: email.to_owned(),
            password: password.expose().to_owned(),
            client_ip: client_ip.to_owned(),
            language: language.to_owned(),
            challenge: challenge.map(str::to_owned),
        };
        let answer = self
            .call(message, |mut c, r| async move { c.register_user(r).await })
            .await
            .map_err(|s| account_error(&s))?;
        Ok(if answer.retry_after_seconds > 0 {
            Registration::TooMany(Duration::from_secs(answer.retry_after_seconds))
        } else if !answer.refused.is_empty() {
            Registration::Refused(answer.refused)
        } else if answer.verification_sent {
            Registration::VerificationSent
        } else {
            Registration::Created
        })
    }
}

/// How a change on the account page ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChange {
    Done,
    /// A value the rules refuse, by its code (`invalid_name`, `invalid_picture`,
    /// `invalid_email`, `same_email`, or a weak password's code).
    Refused(String),
    /// The current password was wrong; attempts left before a lock, when a limit applies.
    WrongPassword(Option<u32>),
    /// Too many failed attempts: try again after this long.
    Locked(Duration),
}

impl AccountChange {
    fn from_refusal(refusal: Option<pb::ChangeRefusal>) -> Self {
        match refusal {
            None => Self::Done,
            Some(r) if r.retry_after_seconds > 0 => {
                Self::Locked(Duration::from_secs(r.retry_after_seconds))
            }
            Some(r) if r.wrong_password => Self::WrongPassword(r.attempts_left),
            Some(r) => Self::Refused(r.refused),
        }
    }
}

impl TokenServiceClient {
    /// Sets the signed-in user's display name and picture URL (empty clears).
    pub async fn update_profile(
        &self,
        user_id: &str,
        name: &str,
        picture: &str,
    ) -> Result<AccountChange, AccountCallError> {
        let message = pb::UpdateProfileRequest {
            user_id: user_id.to_owned(),
            name: name.to_owned(),
            picture: picture.to_owned(),
        };
        let answer = self
            .call(message, |mut c, r| async move { c.update_profile(r).await })
            .await
            .map_err(|s| account_error(&s))?;
        Ok(if answer.refused.is_empty() {
            AccountChange::Done
        } else {
            AccountChange::Refused(answer.refused)
        })
    }

    /// Sets a new password once the current one is given.
    pub async fn change_password(
        &self,
        user_id: &str,
        current_password: &SecretString,
        new_password: &SecretString,
        client_ip: &str,
    ) -> Result<AccountChange, AccountCallError> {
        let message = pb::ChangePasswordRequest {
            user_id: user_id.to_owned(),
            current_password: current_password.expose().to_owned(),
            new_password: new_password.expose().to_owned(),
            client_ip: client_ip.to_owned(),
        };
        let answer = self
            .call(
                message,
                |mut c, r| async move { c.change_password(r).await },
            )
            .await
            .map_err(|s| account_error(&s))?;
        Ok(AccountChange::from_refusal(answer.refusal))
    }

    /// Mails a confirmation link to a new address once the current password is given.
    pub async fn request_email_change(
        &self,
        user_id: &str,
        current_password: &SecretString,
        new_email: &str,
        language: &str,
        client_ip: &str,
    ) -> Result<AccountChange, AccountCallError> {
        let message = pb::RequestEmailChangeRequest {
            user_id: user_id.to_owned(),
            current_password: current_password.expose().to_owned(),
            new_email: new_email.to_owned(),
            language: language.to_owned(),
            client_ip: client_ip.to_owned(),
        };
        let answer = self
            .call(message, |mut c, r| async move {
                c.request_email_change(r).await
            })
            .await
            .map_err(|s| account_error(&s))?;
        Ok(AccountChange::from_refusal(answer.refusal))
    }
}
