//! The gRPC server of the token service (`gatehouse.token.v1.TokenService`, `proto/`): a thin
//! adapter over [`TokenService`]. Each handler parses its message into domain types (through
//! `gatehouse_proto::convert`), calls one service method and maps the answer back; errors
//! become statuses through `gatehouse_proto::status`, the one place OAuth errors and gRPC
//! codes meet.
//!
//! Requests carry passwords and bearer tokens: no handler logs a request message, and the
//! secret-bearing messages print `[redacted]` under `Debug` anyway.

mod access;
mod accounts;
mod deadline;
mod partners;

use std::sync::Arc;

use gatehouse_core::authorize::ValidatedAuthorization;
use gatehouse_core::client::ClientId;
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::redirect::find_match;
use gatehouse_core::secret::SecretString;
use gatehouse_core::store::Consent;
use gatehouse_proto::convert::{MalformedMessage, parse_client_id, parse_scope};
use gatehouse_proto::status::{status_from_authorize, status_from_domain};
use gatehouse_proto::token::v1 as pb;
use gatehouse_proto::token::v1::token_service_server::{
    TokenService as TokenServiceRpc, TokenServiceServer,
};
use tonic::{Request, Response, Status};

pub use access::{Access, Callers, ROLE_URI_PREFIX, Role, roles_of};
pub use deadline::{Deadline, EARLY, parse_grpc_timeout};

use crate::authorization::Authentication;
use crate::device::{DeviceDecision, DeviceLookup};
use crate::factors::{SecondFactorCheck, SecondFactorMethod};
use crate::passkeys::{PasskeyCheck, PasskeyRegistered};
use crate::service::TokenService;
use gatehouse_core::lockout::Blocked;

/// Largest request message accepted. The biggest legitimate one is an uploaded logo (`PutLogo`:
/// at most 256 KiB of image, refused above that by the handler); the rest are a few KiB.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024 + 4 * 1024;

/// The token service's gRPC contract, implemented over [`TokenService`].
#[derive(Debug, Clone)]
pub struct TokenGrpc {
    service: Arc<TokenService>,
}

impl TokenGrpc {
    pub fn new(service: Arc<TokenService>) -> Self {
        Self { service }
    }

    /// The issuer the service mints for.
    pub fn issuer(&self) -> &str {
        self.service.issuer()
    }

    /// The service to add to a tonic server: callers checked against `callers` ([`Access`]:
    /// with mutual TLS, each role calls only its RPCs), caller deadlines enforced ([`Deadline`])
    /// and request messages capped at [`MAX_MESSAGE_BYTES`]. Its gRPC name is that of
    /// `TokenServiceServer<TokenGrpc>`, which is what the health reporter takes.
    pub fn into_server(self, callers: Callers) -> Access<Deadline<TokenServiceServer<Self>>> {
        Access::new(
            Deadline::new(
                TokenServiceServer::new(self).max_decoding_message_size(MAX_MESSAGE_BYTES),
            ),
            callers,
        )
    }
}

/// gRPC server reflection (v1) for what the gRPC listener serves: the token service and
/// `grpc.health.v1`.
pub fn reflection_service() -> Result<
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    tonic_reflection::server::Error,
> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(gatehouse_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
}

fn domain(error: &OAuthError) -> Status {
    status_from_domain(error)
}

fn malformed(error: MalformedMessage) -> Status {
    domain(&error.into())
}

/// A required string field: an empty one is an `invalid_request`.
fn required<'a>(field: &'static str, value: &'a str) -> Result<&'a str, Status> {
    if value.is_empty() {
        Err(malformed(MalformedMessage::missing(field)))
    } else {
        Ok(value)
    }
}

impl TokenGrpc {
    /// A request message that came back from the login UI re-establishes what
    /// [`ValidatedAuthorization`] promises: the client still exists, the redirect URI is still
    /// registered for it and the scope is still within the client's.
    async fn revalidate(
        &self,
        request: pb::AuthorizationRequest,
    ) -> Result<ValidatedAuthorization, Status> {
        let request = ValidatedAuthorization::try_from(request).map_err(malformed)?;
        let client = self
            .service
            .client(&request.client_id)
            .await
            .map_err(|e| domain(&e))?
            .ok_or_else(|| {
                domain(&OAuthError::new(
                    ErrorCode::InvalidClient,
                    "the client no longer exists",
                ))
            })?;
        if find_match(&client.metadata.redirect_uris, &request.redirect_uri).is_none() {
            return Err(domain(&OAuthError::invalid_request(
                "the redirect_uri is not registered for this client",
            )));
        }
        if !request.scope.is_subset_of(&client.metadata.scope) {
            return Err(domain(&OAuthError::new(
                ErrorCode::InvalidScope,
                "the requested scope exceeds what this client may ask for",
            )));
        }
        Ok(request)
    }

    async fn connected_app(&self, consent: &Consent) -> Result<pb::ConnectedApp, Status> {
        let client = self
            .service
            .client(&consent.client_id)
            .await
            .map_err(|e| domain(&e))?;
        let scopes = self
            .service
            .describe_scopes(&consent.scope)
            .await
            .map_err(|e| domain(&e))?;
        Ok(pb::ConnectedApp {
            consent: Some(consent.into()),
            client: client.as_deref().map(Into::into),
            scopes: scopes.iter().map(Into::into).collect(),
        })
    }
}

#[tonic::async_trait]
impl TokenServiceRpc for TokenGrpc {
    async fn get_server_info(
        &self,
        _request: Request<pb::GetServerInfoRequest>,
    ) -> Result<Response<pb::GetServerInfoResponse>, Status> {
        Ok(Response::new(pb::GetServerInfoResponse {
            issuer: self.issuer().to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }))
    }

    async fn validate_authorization_request(
        &self,
        request: Request<pb::ValidateAuthorizationRequestRequest>,
    ) -> Result<Response<pb::ValidateAuthorizationRequestResponse>, Status> {
        let params = request.into_inner().params.unwrap_or_default().into();
        let context = self
            .service
            .validate_authorization(&params)
            .await
            .map_err(|e| status_from_authorize(&e))?;
        Ok(Response::new(pb::ValidateAuthorizationRequestResponse {
            request: Some((&context.request).into()),
            client: Some(context.client.as_ref().into()),
            scopes: context.scopes.iter().map(Into::into).collect(),
        }))
    }

    async fn describe_client(
        &self,
        request: Request<pb::DescribeClientRequest>,
    ) -> Result<Response<pb::DescribeClientResponse>, Status> {
        let request = request.into_inner();
        let client_id = required("client_id", &request.client_id)?;
        match self
            .service
            .describe_client(client_id, request.redirect_uri.as_deref())
            .await
            .map_err(|e| domain(&e))?
        {
            Some((client, registered)) => Ok(Response::new(pb::DescribeClientResponse {
                client: Some(client.as_ref().into()),
                redirect_uri_registered: registered,
            })),
            None => Err(domain(&OAuthError::new(
                ErrorCode::NotFound,
                "no client has this id",
            ))),
        }
    }

    async fn authenticate_user(
        &self,
        request: Request<pb::AuthenticateUserRequest>,
    ) -> Result<Response<pb::AuthenticateUserResponse>, Status> {
        // The end user's address as the caller trusts it; without one, the caller's own address,
        // so a direct caller cannot escape the per-IP limit by leaving it out.
        let peer = request.remote_addr().map(|a| a.ip().to_string());
        let pb::AuthenticateUserRequest {
            username,
            password,
            client_ip,
        } = request.into_inner();
        let client_ip = client_ip
            .filter(|ip| !ip.is_empty())
            .or(peer)
            .unwrap_or_default();
        let outcome = self
            .service
            .authenticate_user(&username, SecretString::new(password), &client_ip)
            .await
            .map_err(|e| domain(&e))?;
        let mut answer = pb::AuthenticateUserResponse::default();
        match outcome {
            Authentication::Authenticated(user) => {
                answer.second_factor = self
                    .service
                    .has_second_factor(&user.id)
                    .await
                    .map_err(|e| domain(&e))?;
                answer.mfa_required =
                    self.service.mfa_policy() == gatehouse_core::factor::MfaPolicy::Required;
                answer.user = Some(user.as_ref().into());
            }
            Authentication::Refused {
                attempts_left,
                disabled,
            } => {
                answer.attempts_left = attempts_left;
                answer.disabled = disabled;
            }
            Authentication::Locked(lock) => {
                answer.set_locked(match lock.blocked {
                    Blocked::User => pb::Lockout::Username,
                    Blocked::Ip => pb::Lockout::ClientIp,
                });
                answer.retry_after_seconds = lock.retry_after.as_secs();
            }
        }
        Ok(Response::new(answer))
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        let request = request.into_inner();
        let id = required("id", &request.id)?;
        match self.service.user(id).await.map_err(|e| domain(&e))? {
            Some(user) => Ok(Response::new(pb::GetUserResponse {
                user: Some((&user).into()),
            })),
            None => Err(domain(&OAuthError::new(
                ErrorCode::NotFound,
                "no user has this id",
            ))),
        }
    }

    async fn issue_authorization_code(
        &self,
        request: Request<pb::IssueAuthorizationCodeRequest>,
    ) -> Result<Response<pb::IssueAuthorizationCodeResponse>, Status> {
        let request = request.into_inner();
        let subject = required("subject", &request.subject)?;
        let granted = parse_scope("granted_scope", &request.granted_scope).map_err(malformed)?;
        let authorization = self
            .revalidate(
                request
                    .request
                    .ok_or_else(|| malformed(MalformedMessage::missing("request")))?,
            )
            .await?;
        let claims = |name: &'static str, json: Option<&str>| match json {
            None => Ok(None),
            Some(json) => match serde_json::from_str::<serde_json::Value>(json) {
                Ok(serde_json::Value::Object(map)) => Ok(Some(map)),
                _ => Err(malformed(MalformedMessage {
                    code: gatehouse_core::error::ErrorCode::InvalidRequest,
                    field: name,
                    reason: "must be a JSON object".into(),
                })),
            },
        };
        let extra = crate::authorization::CodeClaims {
            amr: request.amr,
            id_token: claims("id_token_claims", request.id_token_claims.as_deref())?,
            access_token: claims(
                "access_token_claims",
                request.access_token_claims.as_deref(),
            )?,
        };
        let code = self
            .service
            .issue_authorization_code_with(
                &authorization,
                subject,
                &granted,
                request.auth_time,
                request.session_id.as_deref(),
                extra,
            )
            .await
            .map_err(|e| domain(&e))?;
        Ok(Response::new(pb::IssueAuthorizationCodeResponse { code }))
    }

    async fn record_consent(
        &self,
        request: Request<pb::RecordConsentRequest>,
    ) -> Result<Response<pb::RecordConsentResponse>, Status> {
        let request = request.into_inner();
        let subject = required("subject", &request.subject)?;
        let client_id = parse_client_id("client_id", &request.client_id).map_err(malformed)?;
        let scope = parse_scope("scope", &request.scope).map_err(malformed)?;
        let consent = self
            .service
            .record_consent(subject, &client_id, &scope)
            .await
            .map_err(|e| domain(&e))?;
        Ok(Response::new(pb::RecordConsentResponse {
            consent: Some((&consent).into()),
        }))
    }

    async fn get_consent(
        &self,
        request: Request<pb::GetConsentRequest>,
    ) -> Result<Response<pb::GetConsentResponse>, Status> {
        let request = request.into_inner();
        let subject = required("subject", &request.subject)?;
        let client_id = required("client_id", &request.client_id)?;
        let consent = self
            .service
            .consent(subject, client_id)
            .await
            .map_err(|e| domain(&e))?;
        Ok(Response::new(pb::GetConsentResponse {
            consent: consent.as_ref().map(Into::into),
        }))
    }

    async fn list_consents(
        &self,
        request: Request<pb::ListConsentsRequest>,
    ) -> Result<Response<pb::ListConsentsResponse>, Status> {
        let request = request.into_inner();
        let subject = required("subject", &request.subject)?;
        let consents = self
            .service
            .list_consents(subject)
            .await
            .map_err(|e| domain(&e))?;
        let mut apps = Vec::with_capacity(consents.len());
        for consent in &consents {
            apps.push(self.connected_app(consent).await?);
        }
        Ok(Response::new(pb::ListConsentsResponse { apps }))
    }

    async fn revoke_consent(
        &self,
        request: Request<pb::RevokeConsentRequest>,
    ) -> Result<Response<pb::RevokeConsentResponse>, Status> {
        let request = request.into_inner();
        let subject = required("subject", &request.subject)?;
        let client_id = required("client_id", &request.client_id)?;
        let existed = self
            .service
            .revoke_consent(subject, client_id)
            .await
            .map_err(|e| domain(&e))?;
        Ok(Response::new(pb::RevokeConsentResponse { existed }))
    }

    async fn validate_logout_request(
        &self,
        request: Request<pb::ValidateLogoutRequestRequest>,
    ) -> Result<Response<pb::ValidateLogoutRequestResponse>, Status> {
        let request = request.into_inner();
        let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        let logout = self
            .service
            .validate_logout(
                non_empty(&request.id_token_hint).as_deref(),
                non_empty(&request.client_id).as_deref(),
                non_empty(&request.post_logout_redirect_uri).as_deref(),
            )
            .await
            .map_err(|e| domain(&e))?;
        Ok(Response::new(pb::ValidateLogoutRequestResponse {
            client: logout.client.as_deref().map(Into::into),
            subject: logout.subject,
            post_logout_redirect_uri: logout.post_logout_redirect_uri,
        }))
    }

    async fn lookup_device_authorization(
        &self,
        request: Request<pb::LookupDeviceAuthorizationRequest>,
    ) -> Result<Response<pb::LookupDeviceAuthorizationResponse>, Status> {
        // As for AuthenticateUser: without the end user's address, the caller's own counts.
        let peer = request.remote_addr().map(|a| a.ip().to_string());
        let pb::LookupDeviceAuthorizationRequest {
            user_code,
            client_ip,
        } = request.into_inner();
        let client_ip = client_ip
            .filter(|ip| !ip.is_empty())
            .or(peer)
            .unwrap_or_default();
        let outcome = self
            .service
            .device_authorization_for_user_code(&user_code, &client_ip)
            .await
            .map_err(|e| domain(&e))?;
        let mut answer = pb::LookupDeviceAuthorizationResponse::default();
        match outcome {
            DeviceLookup::Found { device_id, context } => {
                answer.device_id = device_id;
                answer.request = Some((&context.request).into());
                answer.client = Some(context.client.as_ref().into());
                answer.scopes = context.scopes.iter().map(Into::into).collect();
            }
            DeviceLookup::NotValid { attempts_left } => answer.attempts_left = attempts_left,
            DeviceLookup::Locked(lock) => {
                answer.set_locked(pb::Lockout::ClientIp);
                answer.retry_after_seconds = lock.retry_after.as_secs();
            }
        }
        Ok(Response::new(answer))
    }

    async fn complete_device_authorization(
        &self,
        request: Request<pb::CompleteDeviceAuthorizationRequest>,
    ) -> Result<Response<pb::CompleteDeviceAuthorizationResponse>, Status> {
        let request = request.into_inner();
        let device_id = required("device_id", &request.device_id)?;
        let decision = if request.approved {
            DeviceDecision::Approve {
                subject: required("subject", &request.subject)?.to_owned(),
                auth_time: request.auth_time,
                session_id: request.session_id.filter(|s| !s.is_empty()),
                amr: request.amr,
            }
        } else {
            DeviceDecision::Deny
        };
        self.service
            .complete_device_authorization(device_id, decision)
            .await
            .map_err(|e| domain(&e))?;
        Ok(Response::new(pb::CompleteDeviceAuthorizationResponse {}))
    }

    async fn list_factors(
        &self,
        request: Request<pb::ListFactorsRequest>,
    ) -> Result<Response<pb::ListFactorsResponse>, Status> {
        let request = request.into_inner();
        let user_id = required("user_id", &request.user_id)?;
        let summary = self
            .service
            .factor_summary(user_id)
            .await
            .map_err(|e| domain(&e))?;
        Ok(Response::new(pb::ListFactorsResponse {
            factors: summary.factors.iter().map(factor_message).collect(),
            recovery_codes_left: summary.recovery_codes_left,
        }))
    }

    async fn begin_totp_enrolment(
        &self,
        request: Request<pb::BeginTotpEnrolmentRequest>,
    ) -> Result<Response<pb::BeginTotpEnrolmentResponse>, Status> {
        let request = request.into_inner();
        let user_id = required("user_id", &request.user_id)?;
        let enrolment = self
            .service
            .begin_totp_enrolment(
                user_id,
                &request.label,
                &request.issuer_label,
                request.resume_factor_id.as_deref(),
            )
            .await
            .map_err(|e| domain(&e))?;
        Ok(Response::new(pb::BeginTotpEnrolmentResponse {
            factor_id: enrolment.factor_id,
            secret: enrolment.secret,
            otpauth_uri: enrolment.otpauth_uri,
        }))
    }

    async fn confirm_totp_enrolment(
        &self,
        request: Request<pb::ConfirmTotpEnrolmentRequest>,
    ) -> Result<Response<pb::ConfirmTotpEnrolmentResponse>, Status> {
        let request = request.into_inner();
        let user_id = required("user_id", &request.user_id)?;
        let factor_id = required("factor_id", &request.factor_id)?;
        let confirmed = self
            .service
            .confirm_totp_enrolment(user_id, factor_id, &request.code)
            .await
            .map_err(|e| domain(&e))?;
        Ok(Response::new(pb::ConfirmTotpEnrolmentResponse {
            confirmed: confirmed.is_some(),
            recovery_codes: confirmed.unwrap_or_default(),
        }))
    }

    async fn verify_second_factor(
        &self,
        request: Request<pb::VerifySecondFactorRequest>,
    ) -> Result<Response<pb::VerifySecondFactorResponse>, Status> {
        // As in AuthenticateUser: without the end user's address, the caller's own counts.
        let peer = request.remote_addr().map(|a| a.ip().to_string());
        let request = request.into_inner();
        let user_id = required("user_id", &request.user_id)?;
        let client_ip = request
            .client_ip
            .filter(|ip| !ip.is_empty())
            .or(peer)
            .unwrap_or_default();
        let outcome = self
            .service
            .verify_second_factor(user_id, &request.code, &client_ip)
            .await
            .map_err(|e| domain(&e))?;
        let mut answer = pb::VerifySecondFactorResponse::default();
        match outcome {
            SecondFactorCheck::Accepted {
                method,
                recovery_codes_left,
            } => {
                answer.accepted = true;
                answer.method = match method {
                    SecondFactorMethod::Totp => "totp",
                    SecondFactorMethod::RecoveryCode => "recovery_code",
                }
                .into();
                answer.recovery_codes_left = recovery_codes_left;
            }
            SecondFactorCheck::Refused { attempts_left } => answer.attempts_left = attempts_left,
            SecondFactorCheck::Locked(lock) => {
                answer.set_locked(match lock.blocked {
                    Blocked::User => pb::Lockout::Username,
                    Blocked::Ip => pb::Lockout::ClientIp,
                });
                answer.retry_after_seconds = lock.retry_after.as_secs();
            }
        }
        Ok(Response::new(answer))
    }

    async fn remove_factor(
        &self,
        request: Request<pb::RemoveFactorRequest>,
    ) -> Result<Response<pb::RemoveFactorResponse>, Status> {
        let request = request.into_inner();
        let user_id = required("user_id", &request.user_id)?;
        let factor_id = required("factor_id", &request.factor_id)?;
        let removed = self
            .service
            .remove_factor(user_id, factor_id)
            .await
            .map_err(|e| domain(&e))?;
        Ok(Response::new(pb::RemoveFactorResponse { removed }))
    }

    async fn regenerate_recovery_codes(
        &self,
        request: Request<pb::RegenerateRecoveryCodesRequest>,
    ) -> Result<Response<pb::RegenerateRecoveryCodesResponse>, Status> {
        let request = request.into_inner();
        let user_id = required("user_id", &request.user_id)?;
        let recovery_codes = self
            .service
            .regenerate_recovery_codes(user_id)
            .await
            .map_err(|e| domain(&e))?;
        Ok(Response::new(pb::RegenerateRecoveryCodesResponse {
            recovery_codes,
        }))
    }

    async fn begin_passkey_registration(
        &self,
        request: Request<pb::BeginPasskeyRegistrationRequest>,
    ) -> Result<Response<pb::PasskeyChallenge>, Status> {
        let request = request.into_inner();
        let user_id = required("user_id", &request.user_id)?;
        if !self.service.passkeys_enabled() {
            return Ok(Response::new(pb::PasskeyChallenge::default()));
        }
        let challenge = self
            .service
            .begin_passkey_registration(user_id)
            .await
            .map_err(|e| domain(&e))?;
        Ok(Response::new(pb::PasskeyChallenge {
            ceremony_id: challenge.ceremony_id,
            options_json: challenge.options_json,
        }))
    }

    async fn finish_passkey_registration(
        &self,
        request: Request<pb::FinishPasskeyRegistrationRequest>,
    ) -> Result<Response<pb::FinishPasskeyRegistrationResponse>, Status> {
        let request = request.into_inner();
        let user_id = required("user_id", &request.user_id)?;
        let ceremony_id = required("ceremony_id", &request.ceremony_id)?;
        let outcome = self
            .service
            .finish_passkey_registration(
                user_id,
                ceremony_id,
                &request.label,
                &request.credential_json,
            )
            .await
            .map_err(|e| domain(&e))?;
        Ok(Response::new(match outcome {
            PasskeyRegistered::Registered {
                factor_id,
                recovery_codes,
            } => pb::FinishPasskeyRegistrationResponse {
                registered: true,
                factor_id,
                recovery_codes,
            },
            PasskeyRegistered::Refused => pb::FinishPasskeyRegistrationResponse::default(),
        }))
    }

    async fn begin_passkey_authentication(
        &self,
        request: Request<pb::BeginPasskeyAuthenticationRequest>,
    ) -> Result<Response<pb::PasskeyChallenge>, Status> {
        let request = request.into_inner();
        if !self.service.passkeys_enabled() {
            return Ok(Response::new(pb::PasskeyChallenge::default()));
        }
        let user_id = request.user_id.filter(|u| !u.is_empty());
        let challenge = self
            .service
            .begin_passkey_authentication(user_id.as_deref())
            .await
            .map_err(|e| domain(&e))?;
        Ok(Response::new(
            challenge
                .map(|c| pb::PasskeyChallenge {
                    ceremony_id: c.ceremony_id,
                    options_json: c.options_json,
                })
                .unwrap_or_default(),
        ))
    }

    async fn finish_passkey_authentication(
        &self,
        request: Request<pb::FinishPasskeyAuthenticationRequest>,
    ) -> Result<Response<pb::FinishPasskeyAuthenticationResponse>, Status> {
        // As in AuthenticateUser: without the end user's address, the caller's own counts.
        let peer = request.remote_addr().map(|a| a.ip().to_string());
        let request = request.into_inner();
        let ceremony_id = required("ceremony_id", &request.ceremony_id)?;
        let client_ip = request
            .client_ip
            .filter(|ip| !ip.is_empty())
            .or(peer)
            .unwrap_or_default();
        let user_id = request.user_id.filter(|u| !u.is_empty());
        let outcome = self
            .service
            .finish_passkey_authentication(
                ceremony_id,
                user_id.as_deref(),
                &request.credential_json,
                &client_ip,
            )
            .await
            .map_err(|e| domain(&e))?;
        let mut answer = pb::FinishPasskeyAuthenticationResponse::default();
        match outcome {
            PasskeyCheck::Accepted { user, amr } => {
                answer.accepted = true;
                answer.user = Some(user.as_ref().into());
                answer.amr = amr;
            }
            PasskeyCheck::Refused { attempts_left } => answer.attempts_left = attempts_left,
            PasskeyCheck::Locked(lock) => {
                answer.set_locked(match lock.blocked {
                    Blocked::User => pb::Lockout::Username,
                    Blocked::Ip => pb::Lockout::ClientIp,
                });
                answer.retry_after_seconds = lock.retry_after.as_secs();
            }
        }
        Ok(Response::new(answer))
    }

    async fn introspect(
        &self,
        request: Request<pb::IntrospectRequest>,
    ) -> Result<Response<pb::IntrospectResponse>, Status> {
        let request = request.into_inner();
        let token = required("token", &request.token)?;
        let found = self
            .service
            .introspect(token, request.token_type_hint.as_deref(), None)
            .await
            .map_err(|e| domain(&e))?;
        Ok(Response::new(pb::IntrospectResponse {
            active: found.active,
            scope: found.scope,
            client_id: found.client_id.map(ClientId::into_string),
            sub: found.sub,
            exp: found.exp,
            iat: found.iat,
            token_type: found.token_type.map(str::to_owned),
            aud: found.aud.unwrap_or_default(),
            iss: found.iss,
        }))
    }

    async fn revoke(
        &self,
        request: Request<pb::RevokeRequest>,
    ) -> Result<Response<pb::RevokeResponse>, Status> {
        let request = request.into_inner();
        let token = required("token", &request.token)?;
        let client_id = required("client_id", &request.client_id)?;
        self.service
            .revoke(token, client_id)
            .await
            .map_err(|e| domain(&e))?;
        Ok(Response::new(pb::RevokeResponse {}))
    }

    async fn get_partner_settings(
        &self,
        request: Request<pb::GetPartnerSettingsRequest>,
    ) -> Result<Response<pb::GetPartnerSettingsResponse>, Status> {
        self.partner_get_partner_settings(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_partner_scopes(
        &self,
        request: Request<pb::ListPartnerScopesRequest>,
    ) -> Result<Response<pb::ListPartnerScopesResponse>, Status> {
        self.partner_list_partner_scopes(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn submit_registration_request(
        &self,
        request: Request<pb::SubmitRegistrationRequestRequest>,
    ) -> Result<Response<pb::SubmitRegistrationRequestResponse>, Status> {
        self.partner_submit_registration_request(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_registration_requests(
        &self,
        request: Request<pb::ListRegistrationRequestsRequest>,
    ) -> Result<Response<pb::ListRegistrationRequestsResponse>, Status> {
        self.partner_list_registration_requests(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_registration_request(
        &self,
        request: Request<pb::GetRegistrationRequestRequest>,
    ) -> Result<Response<pb::GetRegistrationRequestResponse>, Status> {
        self.partner_get_registration_request(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn reveal_client_secret(
        &self,
        request: Request<pb::RevealClientSecretRequest>,
    ) -> Result<Response<pb::RevealClientSecretResponse>, Status> {
        self.partner_reveal_client_secret(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn rotate_client_secret(
        &self,
        request: Request<pb::RotateClientSecretRequest>,
    ) -> Result<Response<pb::RotateClientSecretResponse>, Status> {
        self.partner_rotate_client_secret(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn update_partner_app(
        &self,
        request: Request<pb::UpdatePartnerAppRequest>,
    ) -> Result<Response<pb::UpdatePartnerAppResponse>, Status> {
        self.partner_update_partner_app(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_account_settings(
        &self,
        _request: Request<pb::GetAccountSettingsRequest>,
    ) -> Result<Response<pb::GetAccountSettingsResponse>, Status> {
        Ok(Response::new(self.account_get_settings()))
    }

    async fn request_password_reset(
        &self,
        request: Request<pb::RequestPasswordResetRequest>,
    ) -> Result<Response<pb::RequestPasswordResetResponse>, Status> {
        let peer = request.remote_addr().map(|a| a.ip().to_string());
        self.account_request_password_reset(request.into_inner(), peer)
            .await
            .map(Response::new)
    }

    async fn inspect_account_link(
        &self,
        request: Request<pb::InspectAccountLinkRequest>,
    ) -> Result<Response<pb::InspectAccountLinkResponse>, Status> {
        self.account_inspect_link(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn reset_password(
        &self,
        request: Request<pb::ResetPasswordRequest>,
    ) -> Result<Response<pb::ResetPasswordResponse>, Status> {
        self.account_reset_password(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn register_user(
        &self,
        request: Request<pb::RegisterUserRequest>,
    ) -> Result<Response<pb::RegisterUserResponse>, Status> {
        let peer = request.remote_addr().map(|a| a.ip().to_string());
        self.account_register_user(request.into_inner(), peer)
            .await
            .map(Response::new)
    }

    async fn update_profile(
        &self,
        request: Request<pb::UpdateProfileRequest>,
    ) -> Result<Response<pb::UpdateProfileResponse>, Status> {
        self.account_update_profile(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::ChangePasswordResponse>, Status> {
        let peer = request.remote_addr().map(|a| a.ip().to_string());
        self.account_change_password(request.into_inner(), peer)
            .await
            .map(Response::new)
    }

    async fn request_email_change(
        &self,
        request: Request<pb::RequestEmailChangeRequest>,
    ) -> Result<Response<pb::RequestEmailChangeResponse>, Status> {
        let peer = request.remote_addr().map(|a| a.ip().to_string());
        self.account_request_email_change(request.into_inner(), peer)
            .await
            .map(Response::new)
    }

    async fn verify_email(
        &self,
        request: Request<pb::VerifyEmailRequest>,
    ) -> Result<Response<pb::VerifyEmailResponse>, Status> {
        self.account_verify_email(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn put_logo(
        &self,
        request: Request<pb::PutLogoRequest>,
    ) -> Result<Response<pb::PutLogoResponse>, Status> {
        self.partner_put_logo(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_logo(
        &self,
        request: Request<pb::GetLogoRequest>,
    ) -> Result<Response<pb::GetLogoResponse>, Status> {
        self.partner_get_logo(request.into_inner())
            .await
            .map(Response::new)
    }
}

/// A factor as the login UI sees it: never its secret.
fn factor_message(factor: &gatehouse_core::factor::Factor) -> pb::Factor {
    pb::Factor {
        id: factor.id.clone(),
        kind: factor.kind.as_str().into(),
        label: factor.label.clone(),
        created_at: factor.created_at.unix_timestamp(),
        last_used_at: factor
            .last_used_step
            .map(|step| step.saturating_mul(gatehouse_core::factor::TOTP_STEP_SECONDS as i64)),
    }
}
