//! The login UI's typed client of the token service (`gatehouse.token.v1`, see `proto/`).
//!
//! Every method answers in domain types and fails with the OAuth error the token service
//! answered, decoded from the status details by `gatehouse_proto::status` (the same code that
//! encoded it). A token service that cannot be reached, or does not answer within the call's
//! deadline, reads as `temporarily_unavailable`: the page asks the user to retry.
//!
//! Each call carries a deadline ([`DEFAULT_DEADLINE`], see [`TokenServiceClient::with_deadline`]):
//! it is sent as `grpc-timeout`, so the token service stops working on a call nobody waits for,
//! and enforced here as well, so a hung connection cannot hold a page.

use std::future::Future;
use std::time::Duration;

use gatehouse_core::authorize::{AuthorizationParams, AuthorizeError, ValidatedAuthorization};
use gatehouse_core::error::OAuthError;
use gatehouse_core::scope::{ScopeDefinition, ScopeSet};
use gatehouse_core::secret::SecretString;
use gatehouse_core::store::Consent;
use gatehouse_proto::convert::MalformedMessage;
use gatehouse_proto::status::oauth_from_status;
use gatehouse_proto::token::v1 as pb;
use gatehouse_proto::token::v1::token_service_client::TokenServiceClient as GeneratedClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Request, Response, Status};

mod accounts;
mod partners;
pub use accounts::{
    AccountCallError, AccountChange, AccountSettings, LinkPurpose, LinkTarget, PasswordReset,
    Registration,
};
pub use partners::{
    AppFields, ApprovalMode, Logo, PartnerError, PartnerRequest, RequestStatus, ShownSecret,
};

/// How long a call may take unless [`TokenServiceClient::with_deadline`] says otherwise.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);

/// The login UI's handle on the token service. Cheap to clone: clones share one connection.
#[derive(Debug, Clone)]
pub struct TokenServiceClient {
    inner: GeneratedClient<Channel>,
    /// The same connection, for the gRPC health service.
    channel: Channel,
    deadline: Duration,
    metadata_hook: Option<MetadataHook>,
}

/// Adds metadata to every outgoing call. The binary uses it to carry the trace context
/// (`traceparent`) across the gRPC hop, so this crate needs no telemetry dependency.
#[derive(Clone)]
pub struct MetadataHook(
    pub std::sync::Arc<dyn Fn(&mut tonic::metadata::MetadataMap) + Send + Sync>,
);

impl std::fmt::Debug for MetadataHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetadataHook")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenServiceError {
    #[error("invalid token service URL {0:?}")]
    InvalidUrl(String),
    #[error("TLS to the token service: {0}")]
    Tls(String),
    #[error("token service unreachable: {0}")]
    Unreachable(String),
}

/// Mutual TLS to the token service (PEM): the CA that verifies its certificate, and this
/// caller's certificate and private key.
#[derive(Clone)]
pub struct ClientTls {
    pub ca_pem: String,
    pub identity: Option<(String, SecretString)>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field(
                "identity",
                &self.identity.as_ref().map(|_| "[certificate and key]"),
            )
            .finish_non_exhaustive()
    }
}

/// What the consent screen shows about a client. Links are `None` when not registered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClientDisplay {
    pub client_id: String,
    pub name: String,
    pub logo_uri: Option<String>,
    pub client_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub tos_uri: Option<String>,
    /// First-party clients skip the consent screen.
    pub skip_consent: bool,
}

/// A validated authorization request with what the consent screen shows about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationContext {
    /// Keep it (server-side, behind the challenge id) and hand it back to
    /// [`TokenServiceClient::issue_authorization_code`].
    pub request: ValidatedAuthorization,
    pub client: ClientDisplay,
    /// Every requested scope with its catalogue entry, in the order requested.
    pub scopes: Vec<ScopeDefinition>,
}

impl AuthorizationContext {
    /// The scopes to list on the consent screen: the technical and hidden ones left out.
    pub fn visible_scopes(&self) -> impl Iterator<Item = &ScopeDefinition> {
        self.scopes.iter().filter(|s| !s.hidden)
    }
}

/// Claims an external consent app adds to the tokens of one authorization (Hydra's
/// `session.id_token` and `session.access_token`), and the methods of the sign-in (the ID
/// token's `amr`; empty: a password).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtraClaims {
    pub id_token: Option<serde_json::Map<String, serde_json::Value>>,
    pub access_token: Option<serde_json::Map<String, serde_json::Value>>,
    pub amr: Vec<String>,
}

/// Who approved a device authorization, and how they signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceApprover<'a> {
    pub subject: &'a str,
    /// When they authenticated, Unix seconds.
    pub auth_time: i64,
    pub session_id: Option<&'a str>,
    /// RFC 8176 methods of the sign-in: a client that requires a second factor is refused an
    /// approval without one.
    pub amr: &'a [String],
}

/// The answer to a sign-in attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// The password was right. The sign-in is complete only after the second factor when
    /// `factors.second_factor` (or an enrolment when one is required).
    Authenticated(UserProfile, FactorNeeds),
    /// An unknown user, a wrong password or a disabled user: one answer for all three, with the
    /// attempts left before a lock when a limit applies. `disabled` is set only when the
    /// password was right but the account is disabled (whether to say so is the UI's choice).
    Refused {
        attempts_left: Option<u32>,
        disabled: bool,
    },
    /// Too many recent failures for this username or from this IP: not checked at all. Try
    /// again after `retry_after`.
    Locked { retry_after: std::time::Duration },
}

/// What a sign-in must do after the password.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FactorNeeds {
    /// The user has a second factor: ask for it.
    pub second_factor: bool,
    /// `GATEHOUSE_MFA=required`: a user without a factor enrols one first.
    pub mfa_required: bool,
}

/// A user's confirmed second factor, as the security page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorInfo {
    pub id: String,
    /// `"totp"` or `"passkey"`.
    pub kind: String,
    pub label: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last accepted code.
    pub last_used_at: Option<i64>,
}

/// A TOTP enrolment to show: the secret and the `otpauth://` URI of its QR code. Its `Debug`
/// hides both.
#[derive(Clone)]
pub struct TotpEnrolment {
    pub factor_id: String,
    pub secret: SecretString,
    pub otpauth_uri: SecretString,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrolment")
            .field("factor_id", &self.factor_id)
            .finish_non_exhaustive()
    }
}

/// The answer to a second-factor attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecondFactor {
    Accepted { recovery_codes_left: u32 },
    Refused { attempts_left: Option<u32> },
    Locked { retry_after: std::time::Duration },
}

/// A started passkey ceremony: its id (posted back with the answer) and the options the page's
/// script hands to `navigator.credentials` (JSON). Neither is secret: the challenge in the
/// options is bound to the ceremony, which is single use and kept server-side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyCeremony {
    pub ceremony_id: String,
    pub options_json: String,
}

/// The answer to a passkey assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasskeySignIn {
    /// The passkey's owner, and the sign-in's RFC 8176 methods.
    Accepted {
        user: UserProfile,
        amr: Vec<String>,
    },
    Refused {
        attempts_left: Option<u32>,
    },
    Locked {
        retry_after: std::time::Duration,
    },
}

/// What a user code typed on the `/device` page found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceLookup {
    /// A pending device authorization: its handle (keep it server-side) and the request to show.
    Found {
        device_id: String,
        context: Box<AuthorizationContext>,
    },
    /// Nothing pending has this code; the attempts left before this IP is blocked.
    NotValid { attempts_left: Option<u32> },
    /// Too many wrong codes or failed logins from this IP: try again after `retry_after`.
    Locked { retry_after: std::time::Duration },
}

/// What the login UI knows about a user (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProfile {
    pub id: String,
    pub username: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub picture: Option<String>,
    pub disabled: bool,
}

/// A consent as the connected-apps page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedApp {
    pub consent: Consent,
    /// `None` when the client no longer exists.
    pub client: Option<ClientDisplay>,
    /// The granted scopes with their catalogue entries.
    pub scopes: Vec<ScopeDefinition>,
}

/// A logout request the token service checked (RP-Initiated Logout 1.0 §2, §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedLogout {
    /// The client named by the hint's `aud` or by `client_id`, if any.
    pub client: Option<ClientDisplay>,
    /// The `sub` of the `id_token_hint`, when one was given.
    pub subject: Option<String>,
    /// Registered for `client`; `None` when none was requested.
    pub post_logout_redirect_uri: Option<String>,
}

/// RFC 7662 §2.2. An inactive token has `active == false` and nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenIntrospection {
    pub active: bool,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub sub: Option<String>,
    pub exp: Option<i64>,
    pub iat: Option<i64>,
    pub token_type: Option<String>,
    pub aud: Vec<String>,
    pub iss: Option<String>,
}

impl TokenServiceClient {
    /// Connects lazily: the first call opens the channel, and a lost connection is re-opened by
    /// the next call, so the UI survives a restart of the token service. With `tls` the link is
    /// `https://`, the token service's certificate is verified against `tls`'s CA for the URL's
    /// host, and this caller presents its own certificate (mutual TLS).
    pub fn connect_lazy(url: &str, tls: Option<&ClientTls>) -> Result<Self, TokenServiceError> {
        let mut endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|_| TokenServiceError::InvalidUrl(url.to_owned()))?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true);
        if let Some(tls) = tls {
            let mut config =
                ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&tls.ca_pem));
            if let Some((cert, key)) = &tls.identity {
                config = config.identity(Identity::from_pem(cert, key.expose()));
            }
            endpoint = endpoint
                .tls_config(config)
                .map_err(|e| TokenServiceError::Tls(e.to_string()))?;
        }
        let channel = endpoint.connect_lazy();
        Ok(Self {
            inner: GeneratedClient::new(channel.clone()),
            channel,
            deadline: DEFAULT_DEADLINE,
            metadata_hook: None,
        })
    }

    /// The same client, adding metadata to every call through `hook`.
    pub fn with_metadata_hook(self, hook: MetadataHook) -> Self {
        Self {
            metadata_hook: Some(hook),
            ..self
        }
    }

    /// The same client with another per-call deadline.
    pub fn with_deadline(self, deadline: Duration) -> Self {
        Self { deadline, ..self }
    }

    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The issuer the token service mints for; also the login UI's readiness probe.
    pub async fn issuer(&self) -> Result<String, TokenServiceError> {
        let info = self
            .call(pb::GetServerInfoRequest {}, |mut c, r| async move {
                c.get_server_info(r).await
            })
            .await
            .map_err(|status| TokenServiceError::Unreachable(status.message().to_owned()))?;
        Ok(info.issuer)
    }

    /// Whether the token service reports itself ready (its gRPC health service: `SERVING` while
    /// its own stores answer, `NOT_SERVING` when one does not or it is draining). The login UI's
    /// readiness includes it, so a login process whose token service cannot issue is not sent
    /// traffic either.
    pub async fn serving(&self) -> Result<bool, TokenServiceError> {
        use tonic_health::pb::HealthCheckRequest;
        use tonic_health::pb::health_check_response::ServingStatus;
        let mut health = tonic_health::pb::health_client::HealthClient::new(self.channel.clone());
        let mut request = Request::new(HealthCheckRequest {
            service: String::new(),
        });
        request.set_timeout(self.deadline);
        let answer = tokio::time::timeout(self.deadline, health.check(request))
            .await
            .map_err(|_| {
                TokenServiceError::Unreachable("no answer from the health service".into())
            })?
            .map_err(|status| TokenServiceError::Unreachable(status.message().to_owned()))?;
        Ok(answer.into_inner().status() == ServingStatus::Serving)
    }

    /// RFC 6749 §4.1.1: checks an authorization request. The error says whether to redirect it
    /// to the client ([`AuthorizeError::Redirect`]) or show it as a page
    /// ([`AuthorizeError::Untrusted`], also when the token service cannot be reached).
    pub async fn validate_authorization(
        &self,
        params: &AuthorizationParams,
    ) -> Result<AuthorizationContext, AuthorizeError> {
        let message = pb::ValidateAuthorizationRequestRequest {
            params: Some(params.into()),
        };
        let answer = self
            .call(message, |mut c, r| async move {
                c.validate_authorization_request(r).await
            })
            .await
            .map_err(|status| AuthorizeError::from(&oauth_from_status(&status)))?;
        let untrusted = |e: MalformedMessage| AuthorizeError::Untrusted(bad_answer(e));
        Ok(AuthorizationContext {
            request: answer
                .request
                .ok_or_else(|| MalformedMessage::missing("request"))
                .and_then(TryInto::try_into)
                .map_err(untrusted)?,
            client: answer
                .client
                .map(client_display)
                .ok_or_else(|| untrusted(MalformedMessage::missing("client")))?,
            scopes: scopes(answer.scopes).map_err(untrusted)?,
        })
    }

    /// Checks a username and password of an end user at `client_ip`. The token service enforces
    /// the failed-login limits: an unknown user, a wrong password and a disabled user are one
    /// answer ([`SignIn::Refused`]), a locked username or IP another ([`SignIn::Locked`]).
    pub async fn authenticate_user(
        &self,
        username: &str,
        password: &SecretString,
        client_ip: &str,
    ) -> Result<SignIn, OAuthError> {
        let message = pb::AuthenticateUserRequest {
            username: username.to_owned(),
            password: password.expose().to_owned(),
            client_ip: Some(client_ip.to_owned()),
        };
        let answer = self
            .call(
                message,
                |mut c, r| async move { c.authenticate_user(r).await },
            )
            .await
            .map_err(error)?;
        let locked = answer.locked();
        Ok(match (answer.user, locked) {
            (Some(user), _) => SignIn::Authenticated(
                user_profile(user),
                FactorNeeds {
                    second_factor: answer.second_factor,
                    mfa_required: answer.mfa_required,
                },
            ),
            (None, pb::Lockout::None) => SignIn::Refused {
                attempts_left: answer.attempts_left,
                disabled: answer.disabled,
            },
            (None, _) => SignIn::Locked {
                retry_after: std::time::Duration::from_secs(answer.retry_after_seconds.max(1)),
            },
        })
    }

    /// The user's confirmed second factors and how many recovery codes they have left.
    pub async fn list_factors(&self, user_id: &str) -> Result<(Vec<FactorInfo>, u32), OAuthError> {
        let message = pb::ListFactorsRequest {
            user_id: user_id.to_owned(),
        };
        let answer = self
            .call(message, |mut c, r| async move { c.list_factors(r).await })
            .await
            .map_err(error)?;
        Ok((
            answer
                .factors
                .into_iter()
                .map(|f| FactorInfo {
                    id: f.id,
                    kind: f.kind,
                    label: f.label,
                    created_at: f.created_at,
                    last_used_at: f.last_used_at,
                })
                .collect(),
            answer.recovery_codes_left,
        ))
    }

    /// Starts a TOTP enrolment for the user (replacing an unconfirmed one), or shows the
    /// unconfirmed one `resume` again.
    pub async fn begin_totp_enrolment(
        &self,
        user_id: &str,
        label: &str,
        issuer_label: &str,
        resume: Option<&str>,
    ) -> Result<TotpEnrolment, OAuthError> {
        let message = pb::BeginTotpEnrolmentRequest {
            user_id: user_id.to_owned(),
            label: label.to_owned(),
            issuer_label: issuer_label.to_owned(),
            resume_factor_id: resume.map(str::to_owned),
        };
        let answer = self
            .call(message, |mut c, r| async move {
                c.begin_totp_enrolment(r).await
            })
            .await
            .map_err(error)?;
        Ok(TotpEnrolment {
            factor_id: answer.factor_id,
            secret: SecretString::new(answer.secret),
            otpauth_uri: SecretString::new(answer.otpauth_uri),
        })
    }

    /// Confirms an enrolment with a code: `None` when the code is wrong, else the recovery codes
    /// to show once (none when the user already had a factor).
    pub async fn confirm_totp_enrolment(
        &self,
        user_id: &str,
        factor_id: &str,
        code: &SecretString,
    ) -> Result<Option<Vec<SecretString>>, OAuthError> {
        let message = pb::ConfirmTotpEnrolmentRequest {
            user_id: user_id.to_owned(),
            factor_id: factor_id.to_owned(),
            code: code.expose().to_owned(),
        };
        let answer = self
            .call(message, |mut c, r| async move {
                c.confirm_totp_enrolment(r).await
            })
            .await
            .map_err(error)?;
        Ok(answer.confirmed.then(|| {
            answer
                .recovery_codes
                .into_iter()
                .map(SecretString::new)
                .collect()
        }))
    }

    /// Checks a TOTP code or a recovery code of a user whose password was right.
    pub async fn verify_second_factor(
        &self,
        user_id: &str,
        code: &SecretString,
        client_ip: &str,
    ) -> Result<SecondFactor, OAuthError> {
        let message = pb::VerifySecondFactorRequest {
            user_id: user_id.to_owned(),
            code: code.expose().to_owned(),
            client_ip: Some(client_ip.to_owned()),
        };
        let answer = self
            .call(message, |mut c, r| async move {
                c.verify_second_factor(r).await
            })
            .await
            .map_err(error)?;
        Ok(if answer.accepted {
            SecondFactor::Accepted {
                recovery_codes_left: answer.recovery_codes_left,
            }
        } else if answer.locked() == pb::Lockout::None {
            SecondFactor::Refused {
                attempts_left: answer.attempts_left,
            }
        } else {
            SecondFactor::Locked {
                retry_after: std::time::Duration::from_secs(answer.retry_after_seconds.max(1)),
            }
        })
    }

    /// Removes one of the user's factors; whether it existed.
    pub async fn remove_factor(&self, user_id: &str, factor_id: &str) -> Result<bool, OAuthError> {
        let message = pb::RemoveFactorRequest {
            user_id: user_id.to_owned(),
            factor_id: factor_id.to_owned(),
        };
        let answer = self
            .call(message, |mut c, r| async move { c.remove_factor(r).await })
            .await
            .map_err(error)?;
        Ok(answer.removed)
    }

    /// Starts registering a passkey for the user; `None` when passkeys are off.
    pub async fn begin_passkey_registration(
        &self,
        user_id: &str,
    ) -> Result<Option<PasskeyCeremony>, OAuthError> {
        let message = pb::BeginPasskeyRegistrationRequest {
            user_id: user_id.to_owned(),
        };
        let answer = self
            .call(message, |mut c, r| async move {
                c.begin_passkey_registration(r).await
            })
            .await
            .map_err(error)?;
        Ok(ceremony(answer))
    }

    /// Finishes a passkey registration with the browser's answer: `None` when it was refused,
    /// else the new recovery codes (empty unless it is the user's first factor).
    pub async fn finish_passkey_registration(
        &self,
        user_id: &str,
        ceremony_id: &str,
        label: &str,
        credential_json: &str,
    ) -> Result<Option<Vec<SecretString>>, OAuthError> {
        let message = pb::FinishPasskeyRegistrationRequest {
            user_id: user_id.to_owned(),
            ceremony_id: ceremony_id.to_owned(),
            label: label.to_owned(),
            credential_json: credential_json.to_owned(),
        };
        let answer = self
            .call(message, |mut c, r| async move {
                c.finish_passkey_registration(r).await
            })
            .await
            .map_err(error)?;
        Ok(answer.registered.then(|| {
            answer
                .recovery_codes
                .into_iter()
                .map(SecretString::new)
                .collect()
        }))
    }

    /// Starts a passkey assertion: for `user_id`'s passkeys (a second factor), or for any
    /// discoverable one (`None`). `None` when passkeys are off or the user has none.
    pub async fn begin_passkey_authentication(
        &self,
        user_id: Option<&str>,
    ) -> Result<Option<PasskeyCeremony>, OAuthError> {
        let message = pb::BeginPasskeyAuthenticationRequest {
            user_id: user_id.map(str::to_owned),
        };
        let answer = self
            .call(message, |mut c, r| async move {
                c.begin_passkey_authentication(r).await
            })
            .await
            .map_err(error)?;
        Ok(ceremony(answer))
    }

    /// Finishes a passkey assertion started with the same `user_id`.
    pub async fn finish_passkey_authentication(
        &self,
        ceremony_id: &str,
        user_id: Option<&str>,
        credential_json: &str,
        client_ip: &str,
    ) -> Result<PasskeySignIn, OAuthError> {
        let message = pb::FinishPasskeyAuthenticationRequest {
            ceremony_id: ceremony_id.to_owned(),
            user_id: user_id.map(str::to_owned),
            credential_json: credential_json.to_owned(),
            client_ip: Some(client_ip.to_owned()),
        };
        let answer = self
            .call(message, |mut c, r| async move {
                c.finish_passkey_authentication(r).await
            })
            .await
            .map_err(error)?;
        let locked = answer.locked();
        Ok(match (answer.accepted, answer.user, locked) {
            (true, Some(user), _) => PasskeySignIn::Accepted {
                user: user_profile(user),
                amr: answer.amr,
            },
            (_, _, pb::Lockout::None) => PasskeySignIn::Refused {
                attempts_left: answer.attempts_left,
            },
            _ => PasskeySignIn::Locked {
                retry_after: std::time::Duration::from_secs(answer.retry_after_seconds.max(1)),
            },
        })
    }

    /// New recovery codes for the user, replacing the old ones; shown once.
    pub async fn regenerate_recovery_codes(
        &self,
        user_id: &str,
    ) -> Result<Vec<SecretString>, OAuthError> {
        let message = pb::RegenerateRecoveryCodesRequest {
            user_id: user_id.to_owned(),
        };
        let answer = self
            .call(message, |mut c, r| async move {
                c.regenerate_recovery_codes(r).await
            })
            .await
            .map_err(error)?;
        Ok(answer
            .recovery_codes
            .into_iter()
            .map(SecretString::new)
            .collect())
    }

    /// The client `client_id` as pages show it, and whether `redirect_uri` is one of its
    /// registered redirect URIs; `None` when no client has this id.
    pub async fn describe_client(
        &self,
        client_id: &str,
        redirect_uri: Option<&str>,
    ) -> Result<Option<(ClientDisplay, bool)>, OAuthError> {
        let message = pb::DescribeClientRequest {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.map(str::to_owned),
        };
        match self
            .call(
                message,
                |mut c, r| async move { c.describe_client(r).await },
            )
            .await
        {
            Ok(answer) => Ok(answer
                .client
                .map(|c| (client_display(c), answer.redirect_uri_registered))),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(error(status)),
        }
    }

    /// The user with this id, `None` when there is none.
    pub async fn user(&self, id: &str) -> Result<Option<UserProfile>, OAuthError> {
        let message = pb::GetUserRequest { id: id.to_owned() };
        match self
            .call(message, |mut c, r| async move { c.get_user(r).await })
            .await
        {
            Ok(answer) => Ok(answer.user.map(user_profile)),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(error(status)),
        }
    }

    /// Issues an authorization code for `subject` after consent to `granted` (a subset of the
    /// request's scope). `auth_time` is when the user authenticated, in Unix seconds.
    pub async fn issue_authorization_code(
        &self,
        request: &ValidatedAuthorization,
        subject: &str,
        granted: &ScopeSet,
        auth_time: i64,
        session_id: Option<&str>,
    ) -> Result<SecretString, OAuthError> {
        self.issue_authorization_code_with(
            request,
            subject,
            granted,
            auth_time,
            session_id,
            &ExtraClaims::default(),
        )
        .await
    }

    /// [`Self::issue_authorization_code`] with claims an external consent app added
    /// (`session.id_token`, `session.access_token`); the token service refuses reserved names.
    pub async fn issue_authorization_code_with(
        &self,
        request: &ValidatedAuthorization,
        subject: &str,
        granted: &ScopeSet,
        auth_time: i64,
        session_id: Option<&str>,
        extra: &ExtraClaims,
    ) -> Result<SecretString, OAuthError> {
        let json = |claims: &Option<serde_json::Map<String, serde_json::Value>>| {
            claims
                .as_ref()
                .filter(|c| !c.is_empty())
                .map(|c| serde_json::Value::Object(c.clone()).to_string())
        };
        let message = pb::IssueAuthorizationCodeRequest {
            request: Some(request.into()),
            subject: subject.to_owned(),
            granted_scope: granted.to_string(),
            auth_time,
            session_id: session_id.map(str::to_owned),
            id_token_claims: json(&extra.id_token),
            access_token_claims: json(&extra.access_token),
            amr: extra.amr.clone(),
        };
        let answer = self
            .call(message, |mut c, r| async move {
                c.issue_authorization_code(r).await
            })
            .await
            .map_err(error)?;
        Ok(SecretString::new(answer.code))
    }

    /// Remembers that `subject` granted `scope` to `client_id`; answers the consent as stored
    /// (every scope granted so far).
    pub async fn record_consent(
        &self,
        subject: &str,
        client_id: &str,
        scope: &ScopeSet,
    ) -> Result<Consent, OAuthError> {
        let message = pb::RecordConsentRequest {
            subject: subject.to_owned(),
            client_id: client_id.to_owned(),
            scope: scope.to_string(),
        };
        let answer = self
            .call(message, |mut c, r| async move { c.record_consent(r).await })
            .await
            .map_err(error)?;
        answer
            .consent
            .ok_or_else(|| MalformedMessage::missing("consent"))
            .and_then(TryInto::try_into)
            .map_err(bad_answer)
    }

    /// The live consent of `subject` for `client_id`, if any.
    pub async fn consent(
        &self,
        subject: &str,
        client_id: &str,
    ) -> Result<Option<Consent>, OAuthError> {
        let message = pb::GetConsentRequest {
            subject: subject.to_owned(),
            client_id: client_id.to_owned(),
        };
        let answer = self
            .call(message, |mut c, r| async move { c.get_consent(r).await })
            .await
            .map_err(error)?;
        answer
            .consent
            .map(TryInto::try_into)
            .transpose()
            .map_err(bad_answer)
    }

    /// Every live consent of `subject`, for the connected-apps page.
    pub async fn list_consents(&self, subject: &str) -> Result<Vec<ConnectedApp>, OAuthError> {
        let message = pb::ListConsentsRequest {
            subject: subject.to_owned(),
        };
        let answer = self
            .call(message, |mut c, r| async move { c.list_consents(r).await })
            .await
            .map_err(error)?;
        answer
            .apps
            .into_iter()
            .map(|app| {
                Ok(ConnectedApp {
                    consent: app
                        .consent
                        .ok_or_else(|| MalformedMessage::missing("consent"))?
                        .try_into()?,
                    client: app.client.map(client_display),
                    scopes: scopes(app.scopes)?,
                })
            })
            .collect::<Result<_, MalformedMessage>>()
            .map_err(bad_answer)
    }

    /// Withdraws the consent and revokes the client's tokens for the user. Answers whether a
    /// consent existed.
    pub async fn revoke_consent(&self, subject: &str, client_id: &str) -> Result<bool, OAuthError> {
        let message = pb::RevokeConsentRequest {
            subject: subject.to_owned(),
            client_id: client_id.to_owned(),
        };
        let answer = self
            .call(message, |mut c, r| async move { c.revoke_consent(r).await })
            .await
            .map_err(error)?;
        Ok(answer.existed)
    }

    /// RP-Initiated Logout 1.0: checks the `id_token_hint` (expired ones accepted), finds the
    /// client and checks the `post_logout_redirect_uri` is registered for it. A refused request
    /// is an `invalid_request`: show a page, never redirect.
    pub async fn validate_logout(
        &self,
        id_token_hint: Option<&str>,
        client_id: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
    ) -> Result<ValidatedLogout, OAuthError> {
        let message = pb::ValidateLogoutRequestRequest {
            id_token_hint: id_token_hint.map(str::to_owned),
            client_id: client_id.map(str::to_owned),
            post_logout_redirect_uri: post_logout_redirect_uri.map(str::to_owned),
        };
        let answer = self
            .call(message, |mut c, r| async move {
                c.validate_logout_request(r).await
            })
            .await
            .map_err(error)?;
        Ok(ValidatedLogout {
            client: answer.client.map(client_display),
            subject: answer.subject.filter(|s| !s.is_empty()),
            post_logout_redirect_uri: answer.post_logout_redirect_uri.filter(|s| !s.is_empty()),
        })
    }

    /// RFC 7662 introspection of any token (the gRPC listener is internal).
    pub async fn introspect(
        &self,
        token: &str,
        token_type_hint: Option<&str>,
    ) -> Result<TokenIntrospection, OAuthError> {
        let message = pb::IntrospectRequest {
            token: token.to_owned(),
            token_type_hint: token_type_hint.map(str::to_owned),
        };
        let a = self
            .call(message, |mut c, r| async move { c.introspect(r).await })
            .await
            .map_err(error)?;
        Ok(TokenIntrospection {
            active: a.active,
            scope: a.scope,
            client_id: a.client_id,
            sub: a.sub,
            exp: a.exp,
            iat: a.iat,
            token_type: a.token_type,
            aud: a.aud,
            iss: a.iss,
        })
    }

    /// RFC 7009: revokes `token` if it belongs to `client_id`; answers the same either way.
    pub async fn revoke(&self, token: &str, client_id: &str) -> Result<(), OAuthError> {
        let message = pb::RevokeRequest {
            token: token.to_owned(),
            client_id: client_id.to_owned(),
            token_type_hint: None,
        };
        self.call(message, |mut c, r| async move { c.revoke(r).await })
            .await
            .map_err(error)?;
        Ok(())
    }

    /// RFC 8628 §3.3: the pending device authorization behind the user code someone typed at
    /// `client_ip`. The token service counts a code that finds nothing toward the IP's limit.
    pub async fn lookup_device_authorization(
        &self,
        user_code: &str,
        client_ip: &str,
    ) -> Result<DeviceLookup, OAuthError> {
        let message = pb::LookupDeviceAuthorizationRequest {
            user_code: user_code.to_owned(),
            client_ip: Some(client_ip.to_owned()),
        };
        let answer = self
            .call(message, |mut c, r| async move {
                c.lookup_device_authorization(r).await
            })
            .await
            .map_err(error)?;
        if answer.locked() != pb::Lockout::None {
            return Ok(DeviceLookup::Locked {
                retry_after: Duration::from_secs(answer.retry_after_seconds.max(1)),
            });
        }
        if answer.device_id.is_empty() {
            return Ok(DeviceLookup::NotValid {
                attempts_left: answer.attempts_left,
            });
        }
        Ok(DeviceLookup::Found {
            device_id: answer.device_id,
            context: Box::new(AuthorizationContext {
                request: answer
                    .request
                    .ok_or_else(|| MalformedMessage::missing("request"))
                    .and_then(TryInto::try_into)
                    .map_err(bad_answer)?,
                client: answer
                    .client
                    .map(client_display)
                    .ok_or_else(|| bad_answer(MalformedMessage::missing("client")))?,
                scopes: scopes(answer.scopes).map_err(bad_answer)?,
            }),
        })
    }

    /// Records the user's answer to the device authorization `device_id`: `Some(approver)`
    /// approves for that user, `None` denies.
    pub async fn complete_device_authorization(
        &self,
        device_id: &str,
        approved_by: Option<DeviceApprover<'_>>,
    ) -> Result<(), OAuthError> {
        let message = pb::CompleteDeviceAuthorizationRequest {
            device_id: device_id.to_owned(),
            approved: approved_by.is_some(),
            subject: approved_by
                .map(|a| a.subject.to_owned())
                .unwrap_or_default(),
            auth_time: approved_by.map(|a| a.auth_time).unwrap_or_default(),
            session_id: approved_by.and_then(|a| a.session_id.map(str::to_owned)),
            amr: approved_by.map(|a| a.amr.to_vec()).unwrap_or_default(),
        };
        self.call(message, |mut c, r| async move {
            c.complete_device_authorization(r).await
        })
        .await
        .map_err(error)?;
        Ok(())
    }

    /// One call under the deadline: sent as `grpc-timeout` and enforced locally. tonic's channel
    /// also enforces `grpc-timeout` and reports it as `CANCELLED`; a cancellation once the
    /// deadline has passed is reported as what it is, `DEADLINE_EXCEEDED`.
    async fn call<M, A, F, Fut>(&self, message: M, rpc: F) -> Result<A, Status>
    where
        F: FnOnce(GeneratedClient<Channel>, Request<M>) -> Fut,
        Fut: Future<Output = Result<Response<A>, Status>>,
    {
        let mut request = Request::new(message);
        request.set_timeout(self.deadline);
        if let Some(hook) = &self.metadata_hook {
            (hook.0)(request.metadata_mut());
        }
        let started = tokio::time::Instant::now();
        let expired = || {
            Status::deadline_exceeded(format!("no answer within {} ms", self.deadline.as_millis()))
        };
        match tokio::time::timeout(self.deadline, rpc(self.inner.clone(), request)).await {
            Ok(Ok(answer)) => Ok(answer.into_inner()),
            Ok(Err(status))
                if status.code() == Code::Cancelled && started.elapsed() >= self.deadline =>
            {
                Err(expired())
            }
            Ok(Err(status)) => Err(status),
            Err(_) => Err(expired()),
        }
    }
}

fn error(status: Status) -> OAuthError {
    OAuthError::from(&oauth_from_status(&status))
}

/// The token service answered something this client cannot read: a version mismatch, never the
/// user's fault.
fn bad_answer(e: MalformedMessage) -> OAuthError {
    tracing::error!(error = %e, "unreadable answer from the token service");
    OAuthError::server_error()
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn client_display(c: pb::ClientInfo) -> ClientDisplay {
    ClientDisplay {
        client_id: c.client_id,
        name: c.name,
        logo_uri: non_empty(c.logo_uri),
        client_uri: non_empty(c.client_uri),
        policy_uri: non_empty(c.policy_uri),
        tos_uri: non_empty(c.tos_uri),
        skip_consent: c.skip_consent,
    }
}

fn user_profile(u: pb::User) -> UserProfile {
    UserProfile {
        id: u.id,
        username: u.username,
        name: u.name,
        email: u.email,
        email_verified: u.email_verified,
        picture: u.picture,
        disabled: u.disabled,
    }
}

fn scopes(list: Vec<pb::ScopeInfo>) -> Result<Vec<ScopeDefinition>, MalformedMessage> {
    list.into_iter().map(TryInto::try_into).collect()
}

/// A started ceremony, or `None` for the empty answer (passkeys off, no passkey).
fn ceremony(answer: pb::PasskeyChallenge) -> Option<PasskeyCeremony> {
    (!answer.ceremony_id.is_empty()).then_some(PasskeyCeremony {
        ceremony_id: answer.ceremony_id,
        options_json: answer.options_json,
    })
}
