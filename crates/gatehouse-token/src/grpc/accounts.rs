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
        }
    }

    pub(super) async fn account_request_password_reset(
        &self,
        request: pb::RequestPasswordResetRequest,
        peer: Option<String>,
    ) -> Result<pb::RequestPasswordResetResponse, Status> {
        // As for AuthenticateUser: without the end user's address, the caller's own, so a
        // direct caller cannot escape the per-IP limit by leaving it out.
        let client_ip = Some(request.client_ip)
            .filter(|ip| !ip.is_empty())
            .or(peer)
            .unwrap_or_default();
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
                LinkPurpose::EmailVerification { .. } | LinkPurpose::Registration { .. } => {
                    "email_verification"
                }
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
        let client_ip = Some(request.client_ip)
            .filter(|ip| !ip.is_empty())
            .or(peer)
            .unwrap_or_default();
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
