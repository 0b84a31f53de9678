//! The account pages' RPCs (password reset, email verification), thin over [`crate::accounts`].
//!
//! Errors: no mail configured is `FAILED_PRECONDITION`, a mail not sent `UNAVAILABLE`, a dead
//! link `NOT_FOUND`, a store failure
//! `UNAVAILABLE`/`INTERNAL` as everywhere; each with the OAuth error in the details. A refused
//! password is an answer (`refused`), not an error: the page shows why.

use gatehouse_core::account_recovery::LinkPurpose;
use gatehouse_core::secret::SecretString;
use gatehouse_proto::status::{status_from_domain, status_from_domain_with_code};
use gatehouse_proto::token::v1 as pb;
use tonic::{Code, Status};

use super::TokenGrpc;
use crate::accounts::{AccountError, NewAccount, Registered, ResetOutcome, ResetRequested};
use crate::self_service::Change;

/// Nothing changed, and why; `None` when the change was made.
fn refusal(change: Change) -> Option<pb::ChangeRefusal> {
    match change {
        Change::Done(_) => None,
        Change::Refused(code) => Some(pb::ChangeRefusal {
            refused: code.to_owned(),
            ..Default::default()
        }),
        Change::WrongPassword { attempts_left } => Some(pb::ChangeRefusal {
            wrong_password: true,
            attempts_left,
            ..Default::default()
        }),
        Change::Locked { retry_after } => Some(pb::ChangeRefusal {
            retry_after_seconds: retry_after.as_secs().max(1),
            ..Default::default()
        }),
    }
}

/// The end user's IP as the login UI passes it, else the caller's own, so that a direct caller
/// cannot escape the per-IP limits by leaving it out.
fn end_user_ip(client_ip: String, peer: Option<String>) -> String {
    Some(client_ip)
        .filter(|ip| !ip.is_empty())
        .or(peer)
        .unwrap_or_default()
}

fn status(error: AccountError) -> Status {
    let code = match &error {
        AccountError::MailOff | AccountError::NoEmail | AccountError::Disabled => {
            Some(Code::FailedPrecondition)
        }
        AccountError::Mail(_) => Some(Code::Unavailable),
        AccountError::DeadLink | AccountError::RegistrationOff => Some(Code::NotFound),
        AccountError::UsernameTaken => Some(Code::AlreadyExists),
        AccountError::Hash | AccountError::Store(_) => None,
    };
    let oauth = error.into_oauth();
    match code {
        Some(code) => status_from_domain_with_code(code, &oauth),
        None => status_from_domain(&oauth),
    }
}

impl TokenGrpc {
    pub(super) fn account_get_settings(&self) -> pb::GetAccountSettingsResponse {
        let settings = self.service.account_settings();
        pb::GetAccountSettingsResponse {
            mail_enabled: settings.mailer.is_some(),
            password_reset_ttl_seconds: settings.ttl_password_reset.as_secs(),
            self_registration: settings.self_registration,
            passkeys: self.service.passkeys_enabled(),
        }
    }

    pub(super) async fn account_request_password_reset(
        &self,
        request: pb::RequestPasswordResetRequest,
        peer: Option<String>,
    ) -> Result<pb::RequestPasswordResetResponse, Status> {
        let client_ip = end_user_ip(request.client_ip, peer);
        let answer = self
            .service
            .request_password_reset(
                &request.login,
                &client_ip,
                &request.language,
                request.challenge.filter(|c| !c.is_empty()),
            )
            .await
            .map_err(status)?;
        Ok(pb::RequestPasswordResetResponse {
            retry_after_seconds: match answer {
                ResetRequested::Accepted => 0,
                ResetRequested::TooMany { retry_after } => retry_after.as_secs().max(1),
            },
        })
    }

    pub(super) async fn account_inspect_link(
        &self,
        request: pb::InspectAccountLinkRequest,
    ) -> Result<pb::InspectAccountLinkResponse, Status> {
        let target = self
            .service
            .inspect_link(&request.token)
            .await
            .map_err(status)?;
        Ok(pb::InspectAccountLinkResponse {
            subject: target.user.id,
            username: target.user.username,
            purpose: match target.link.purpose {
                LinkPurpose::PasswordReset { .. } => "password_reset",
                // A new address is confirmed on the same page as any other.
                LinkPurpose::EmailVerification { .. }
                | LinkPurpose::EmailChange { .. }
                | LinkPurpose::Registration { .. } => "email_verification",
            }
            .to_owned(),
            challenge: target.link.challenge,
        })
    }

    pub(super) async fn account_reset_password(
        &self,
        request: pb::ResetPasswordRequest,
    ) -> Result<pb::ResetPasswordResponse, Status> {
        let outcome = self
            .service
            .reset_password(&request.token, SecretString::new(request.new_password))
            .await
            .map_err(status)?;
        Ok(match outcome {
            ResetOutcome::Refused(weak) => pb::ResetPasswordResponse {
                refused: weak.code().to_owned(),
                ..Default::default()
            },
            ResetOutcome::Reset { user, challenge } => pb::ResetPasswordResponse {
                refused: String::new(),
                subject: user.id,
                username: user.username,
                challenge,
            },
        })
    }

    pub(super) async fn account_update_profile(
        &self,
        request: pb::UpdateProfileRequest,
    ) -> Result<pb::UpdateProfileResponse, Status> {
        let change = self
            .service
            .update_profile(&request.user_id, &request.name, &request.picture)
            .await
            .map_err(status)?;
        Ok(pb::UpdateProfileResponse {
            refused: refusal(change).map(|r| r.refused).unwrap_or_default(),
        })
    }

    pub(super) async fn account_change_password(
        &self,
        request: pb::ChangePasswordRequest,
        peer: Option<String>,
    ) -> Result<pb::ChangePasswordResponse, Status> {
        let client_ip = end_user_ip(request.client_ip, peer);
        let change = self
            .service
            .change_password(
                &request.user_id,
                SecretString::new(request.current_password),
                SecretString::new(request.new_password),
                &client_ip,
            )
            .await
            .map_err(status)?;
        Ok(pb::ChangePasswordResponse {
            refusal: refusal(change),
        })
    }

    pub(super) async fn account_request_email_change(
        &self,
        request: pb::RequestEmailChangeRequest,
        peer: Option<String>,
    ) -> Result<pb::RequestEmailChangeResponse, Status> {
        let client_ip = end_user_ip(request.client_ip, peer);
        let change = self
            .service
            .request_email_change(
                &request.user_id,
                SecretString::new(request.current_password),
                &request.new_email,
                &request.language,
                &client_ip,
            )
            .await
            .map_err(status)?;
        Ok(pb::RequestEmailChangeResponse {
            refusal: refusal(change),
        })
    }

    pub(super) async fn account_verify_email(
        &self,
        request: pb::VerifyEmailRequest,
    ) -> Result<pb::VerifyEmailResponse, Status> {
        let (user, challenge) = self
            .service
            .verify_email(&request.token)
            .await
            .map_err(status)?;
        Ok(pb::VerifyEmailResponse {
            subject: user.id,
            email: user.email.unwrap_or_default(),
            challenge,
        })
    }

    pub(super) async fn account_register_user(
        &self,
        request: pb::RegisterUserRequest,
        peer: Option<String>,
    ) -> Result<pb::RegisterUserResponse, Status> {
        let client_ip = end_user_ip(request.client_ip, peer);
        let answer = self
            .service
            .register_user(
                NewAccount {
                    username: request.username,
                    email: request.email,
                    password: SecretString::new(request.password),
                },
                &client_ip,
                &request.language,
                request.challenge.filter(|c| !c.is_empty()),
            )
            .await
            .map_err(status)?;
        let mut response = pb::RegisterUserResponse::default();
        match answer {
            Registered::Created(user) => response.subject = user.id,
            Registered::VerificationSent => response.verification_sent = true,
            Registered::Refused(code) => code.clone_into(&mut response.refused),
            Registered::TooMany { retry_after } => {
                response.retry_after_seconds = retry_after.as_secs().max(1);
            }
        }
        Ok(response)
    }
}
