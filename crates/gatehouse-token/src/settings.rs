//! What the token service needs to know from the configuration.

use gatehouse_core::client::AccessTokenStrategy;
use gatehouse_core::lockout::LockoutPolicy;
use gatehouse_core::registration::RegistrationPolicy;
use gatehouse_core::self_registration::SelfRegistrationPolicy;
use gatehouse_jose::SigningAlgorithm;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// Normalised without a trailing slash.
    pub issuer: String,
    pub ttl_auth_code: Duration,
    pub ttl_access_token: Duration,
    pub ttl_id_token: Duration,
    pub ttl_refresh_token: Duration,
    pub ttl_consent: Duration,
    /// How long a device code and its user code live (RFC 8628 §3.2 `expires_in`).
    pub ttl_device_code: Duration,
    /// The access-token format for clients that do not choose one. Clients registered with
    /// `access_token_strategy: jwt` get RFC 9068 JWTs whatever this says.
    pub access_token_strategy: AccessTokenStrategy,
    pub id_token_algorithm: SigningAlgorithm,
    pub access_token_algorithm: SigningAlgorithm,
    /// Require PKCE from confidential clients too.
    pub require_pkce: bool,
    /// RFC 9126 §5: accept authorization requests only when pushed (`/oauth2/par`), from every
    /// client (a client can also require it for itself).
    pub require_par: bool,
    /// RFC 9449 §8: DPoP proofs at the token endpoint must carry a nonce this server issued.
    pub dpop_require_nonce: bool,
    /// How long a client record may be served from the in-process cache. Changes made through
    /// this process's admin API invalidate it at once; other replicas see them after this.
    pub client_cache_ttl: Duration,
    /// How long the last known record of a client keeps authenticating it while the durable
    /// store cannot be reached (reads only; an admin change drops it at once in this process).
    pub client_cache_stale_if_error: Duration,
    /// Fetch clients' `jwks_uri` over plain http too. Only in dev mode (`--dev`): outside it a
    /// key set travels over https only.
    pub allow_http_jwks_uri: bool,
    /// Failed-login limits, enforced where passwords are checked (`AuthenticateUser`) and where
    /// second factors are (`VerifySecondFactor`).
    pub lockout: LockoutPolicy,
    /// `GATEHOUSE_MFA`: whether every user must sign in with a second factor.
    pub mfa: gatehouse_core::factor::MfaPolicy,
    /// Dynamic client registration (`/oauth2/register`).
    pub registration: RegistrationSettings,
    /// Partner onboarding (`GATEHOUSE_PARTNER_APPROVAL`, the owner's secret rotation grace).
    pub partners: crate::partners::PartnerSettings,
    /// End users' accounts: mail, password reset (`crate::accounts`).
    pub accounts: crate::accounts::AccountSettings,
}

/// Who may register clients at `/oauth2/register` (RFC 7591), and what they may ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrationSettings {
    /// Anyone may register, without an initial access token.
    pub open: bool,
    /// What a self-registered client may ask for.
    pub policy: SelfRegistrationPolicy,
    /// The redirect-URI rules, the admin API's (`allow_insecure_redirect_uris`).
    pub redirect_policy: RegistrationPolicy,
}

impl TokenSettings {
    pub fn for_issuer(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            ttl_auth_code: Duration::from_secs(600),
            ttl_access_token: Duration::from_secs(3600),
            ttl_id_token: Duration::from_secs(3600),
            ttl_refresh_token: Duration::from_secs(720 * 3600),
            ttl_consent: Duration::from_secs(180 * 24 * 3600),
            ttl_device_code: Duration::from_secs(600),
            access_token_strategy: AccessTokenStrategy::Opaque,
            id_token_algorithm: SigningAlgorithm::Rs256,
            access_token_algorithm: SigningAlgorithm::Rs256,
            require_pkce: false,
            require_par: false,
            dpop_require_nonce: false,
            client_cache_ttl: Duration::from_secs(5),
            client_cache_stale_if_error: Duration::from_secs(10 * 60),
            allow_http_jwks_uri: false,
            lockout: LockoutPolicy::default(),
            mfa: gatehouse_core::factor::MfaPolicy::Optional,
            registration: RegistrationSettings::default(),
            partners: crate::partners::PartnerSettings::default(),
            accounts: crate::accounts::AccountSettings::default(),
        }
    }

    /// How long revocation cut-offs are kept: past the end of every code (device codes
    /// included) and access token.
    pub fn revocation_cutoff_ttl(&self) -> Duration {
        crate::revocation::Revocations::cutoff_ttl(
            self.ttl_access_token,
            self.ttl_auth_code
                .max(self.ttl_device_code.saturating_mul(2)),
        )
    }
}
