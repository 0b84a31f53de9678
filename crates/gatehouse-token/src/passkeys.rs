//! Passkeys (WebAuthn, with `webauthn-rs`): registering one on the account page, using one as
//! the second factor after a password, and signing in with one alone (a discoverable
//! credential: the authenticator names the account).
//!
//! Each ceremony has two requests: its start answers the options for
//! `navigator.credentials.create`/`get` and keeps the ceremony's state (the challenge, what may
//! answer it) in the short-lived store under a random id for [`CEREMONY_TTL`]; its finish takes
//! that state, once, and checks the browser's answer against it. A finished or expired ceremony
//! cannot be answered again.
//!
//! The relying party is the issuer: its host is the RP ID and its origin (scheme, host, port) the
//! only accepted origin. WebAuthn forbids IP addresses as RP IDs, so an issuer on an IP literal
//! has no passkeys ([`PasskeyRp::for_issuer`] says why, and the start logs it).
//!
//! A stored passkey (the credential's public key, counter and backup flags) is a
//! [`Factor`] of kind `passkey`, sealed like TOTP secrets. Nothing of a credential (its
//! public key, attestation or client data) is logged: only factor and user ids.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::factor::{
    Factor, FactorKind, PASSKEY_USER_HANDLE_PURPOSE, passkey_amr, passkey_user_handle,
};
use gatehouse_core::lockout::{Lock, LoginLimits};
use gatehouse_core::secret::{KeyedHasher, random_token};
use gatehouse_core::store::{Namespace, Records, StoreError};
use gatehouse_core::user::User;
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Webauthn, WebauthnBuilder,
};

use crate::factors::MAX_LABEL_CHARS;
use crate::service::{TokenService, store_error};

/// How long a started ceremony can be finished: the browser's prompt plus a person's pause.
pub const CEREMONY_TTL: Duration = Duration::from_secs(5 * 60);
/// Largest credential JSON looked at. A registration with a packed attestation and its
/// certificate chain fits in a few KiB; anything far bigger is not a browser's answer.
pub const MAX_CREDENTIAL_JSON_BYTES: usize = 64 * 1024;
/// Bytes of entropy of a ceremony id.
const CEREMONY_ID_BYTES: usize = 24;

/// The relying party of the issuer: the `webauthn-rs` instance and the key of user handles.
pub struct PasskeyRp {
    webauthn: Webauthn,
    user_handles: KeyedHasher,
}

impl std::fmt::Debug for PasskeyRp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyRp").finish_non_exhaustive()
    }
}

/// Why an issuer cannot have passkeys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasskeysUnavailable {
    #[error("the issuer is not a URL with a host")]
    NoHost,
    #[error("the issuer's host is an IP address, which WebAuthn does not accept as an RP ID")]
    IpHost,
    #[error("webauthn-rs refused the issuer as relying party: {0}")]
    Refused(String),
}

impl PasskeyRp {
    /// The relying party of `issuer`: RP ID its host, origin its scheme, host and port.
    pub fn for_issuer(issuer: &str, system_secret: &[u8]) -> Result<Self, PasskeysUnavailable> {
        let url = Url::parse(issuer).map_err(|_| PasskeysUnavailable::NoHost)?;
        let rp_id = match url.host() {
            Some(url::Host::Domain(domain)) => domain.to_owned(),
            Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => {
                return Err(PasskeysUnavailable::IpHost);
            }
            None => return Err(PasskeysUnavailable::NoHost),
        };
        let origin = Url::parse(&url.origin().ascii_serialization())
            .map_err(|_| PasskeysUnavailable::NoHost)?;
        let webauthn = WebauthnBuilder::new(&rp_id, &origin)
            .and_then(|b| b.rp_name(&rp_id).timeout(CEREMONY_TTL).build())
            .map_err(|e| PasskeysUnavailable::Refused(e.to_string()))?;
        Ok(Self {
            webauthn,
            user_handles: KeyedHasher::new(system_secret, PASSKEY_USER_HANDLE_PURPOSE),
        })
    }
}

/// A started ceremony: its id (to finish it with) and the options for the browser.
#[derive(Clone, PartialEq, Eq)]
pub struct PasskeyChallenge {
    pub ceremony_id: String,
    /// `PublicKeyCredentialCreationOptions` or `…RequestOptions` as JSON (`{"publicKey": …}`),
    /// binary values in base64url.
    pub options_json: String,
}

impl std::fmt::Debug for PasskeyChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyChallenge").finish_non_exhaustive()
    }
}

/// A finished registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasskeyRegistered {
    /// Stored; with new recovery codes when it is the user's first factor (shown once).
    Registered {
        factor_id: String,
        recovery_codes: Vec<String>,
    },
    /// The ceremony is unknown, spent, expired or another user's, the answer does not verify,
    /// or the credential is registered already.
    Refused,
}

/// The answer to a passkey sign-in or second factor.
#[derive(Debug, Clone)]
pub enum PasskeyCheck {
    /// The assertion verified for `user`, who is enabled; `amr` as RFC 8176 names the methods.
    Accepted { user: Box<User>, amr: Vec<String> },
    /// It did not (counted as a failed login), with the attempts left when a limit applies.
    Refused { attempts_left: Option<u32> },
    /// Too many recent failures: refused without checking.
    Locked(Lock),
}

/// What the short-lived store keeps between a ceremony's start and finish.
#[derive(Serialize, Deserialize)]
enum Ceremony {
    Registration {
        user_id: String,
        state: PasskeyRegistration,
    },
    /// A second factor: the user whose password was right, and their passkeys.
    Authentication {
        user_id: String,
        state: PasskeyAuthentication,
    },
    /// A sign-in without a username.
    Discoverable { state: DiscoverableAuthentication },
}

fn credential_id_of(raw: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(raw)
}

impl TokenService {
    /// Whether the issuer can have passkeys (see [`PasskeyRp::for_issuer`]).
    pub fn passkeys_enabled(&self) -> bool {
        self.passkeys.is_some()
    }

    fn rp(&self) -> Result<&PasskeyRp, OAuthError> {
        self.passkeys.as_ref().ok_or_else(|| {
            OAuthError::new(
                ErrorCode::RequestNotSupported,
                "passkeys are not available on this issuer",
            )
        })
    }

    fn open_passkey(&self, factor: &Factor) -> Result<Passkey, OAuthError> {
        let opened = self.passkey_sealing.open(&factor.sealed_secret).map_err(|_| {
            tracing::error!(factor_id = %factor.id, "a passkey does not open with the system secret");
            OAuthError::server_error()
        })?;
        serde_json::from_slice(&opened).map_err(|_| {
            tracing::error!(factor_id = %factor.id, "a stored passkey does not decode");
            OAuthError::server_error()
        })
    }

    fn seal_passkey(&self, passkey: &Passkey) -> Result<Vec<u8>, OAuthError> {
        let json = serde_json::to_vec(passkey).map_err(|_| OAuthError::server_error())?;
        self.passkey_sealing.seal(&json).map_err(|e| {
            tracing::error!(error = %e, "sealing a passkey failed");
            OAuthError::server_error()
        })
    }

    /// The user's confirmed passkeys, opened.
    async fn passkeys_of(&self, user_id: &str) -> Result<Vec<(Factor, Passkey)>, OAuthError> {
        let mut found = Vec::new();
        for factor in self.all_factors(user_id).await? {
            if factor.kind == FactorKind::Passkey && factor.is_confirmed() {
                let passkey = self.open_passkey(&factor)?;
                found.push((factor, passkey));
            }
        }
        Ok(found)
    }

    async fn keep_ceremony(&self, ceremony: &Ceremony) -> Result<String, OAuthError> {
        let id = random_token(CEREMONY_ID_BYTES);
        Records::new(self.short_lived.as_ref())
            .put(Namespace::PasskeyCeremony, &id, ceremony, CEREMONY_TTL)
            .await
            .map_err(store_error)?;
        Ok(id)
    }

    /// Takes the ceremony `id`, once; `None` when it is unknown, spent or expired.
    async fn take_ceremony(&self, id: &str) -> Result<Option<Ceremony>, OAuthError> {
        if id.is_empty() || id.len() > 64 {
            return Ok(None);
        }
        match Records::new(self.short_lived.as_ref())
            .take::<Ceremony>(Namespace::PasskeyCeremony, id)
            .await
        {
            Ok(ceremony) => Ok(ceremony),
            // A record of another version's shape: as good as expired.
            Err(StoreError::Corrupt(_)) => Ok(None),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Starts registering a passkey for the user: the options for `navigator.credentials.create`
    /// (the user's passkeys excluded, so one authenticator is not registered twice).
    pub async fn begin_passkey_registration(
        &self,
        user_id: &str,
    ) -> Result<PasskeyChallenge, OAuthError> {
        let rp = self.rp()?;
        let user = self
            .durable
            .get_user(user_id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| OAuthError::new(ErrorCode::NotFound, "no user has this id"))?;
        let exclude: Vec<_> = self
            .passkeys_of(&user.id)
            .await?
            .iter()
            .map(|(_, passkey)| passkey.cred_id().clone())
            .collect();
        let handle = passkey_user_handle(&rp.user_handles, &user.id);
        let display = user
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| user.username.clone());
        let (options, state) = rp
            .webauthn
            .start_passkey_registration(
                handle,
                &user.username,
                &display,
                (!exclude.is_empty()).then_some(exclude),
            )
            .map_err(|e| {
                tracing::error!(error = %e, "starting a passkey registration failed");
                OAuthError::server_error()
            })?;
        // A passkey is asked to be discoverable where the authenticator can keep it, so it can
        // sign in without a username later; one that cannot still serves as a second factor.
        // (The registration's check does not depend on it.)
        let mut options = serde_json::to_value(&options).map_err(|_| OAuthError::server_error())?;
        if let Some(selection) = options
            .pointer_mut("/publicKey/authenticatorSelection")
            .and_then(serde_json::Value::as_object_mut)
        {
            selection.insert("residentKey".into(), "preferred".into());
        }
        let options_json = options.to_string();
        let ceremony_id = self
            .keep_ceremony(&Ceremony::Registration {
                user_id: user.id,
                state,
            })
            .await?;
        Ok(PasskeyChallenge {
            ceremony_id,
            options_json,
        })
    }

    /// Finishes a registration with the browser's answer (`credential_json`, a
    /// `PublicKeyCredential` as JSON) and stores the passkey as a confirmed factor labelled
    /// `label`.
    pub async fn finish_passkey_registration(
        &self,
        user_id: &str,
        ceremony_id: &str,
        label: &str,
        credential_json: &str,
    ) -> Result<PasskeyRegistered, OAuthError> {
        let rp = self.rp()?;
        if label.chars().count() > MAX_LABEL_CHARS {
            return Err(OAuthError::invalid_request(
                "the factor's label is longer than 64 characters",
            ));
        }
        let Some(Ceremony::Registration {
            user_id: started_for,
            state,
        }) = self.take_ceremony(ceremony_id).await?
        else {
            return Ok(PasskeyRegistered::Refused);
        };
        if started_for != user_id || credential_json.len() > MAX_CREDENTIAL_JSON_BYTES {
            return Ok(PasskeyRegistered::Refused);
        }
        let Ok(credential) = serde_json::from_str::<RegisterPublicKeyCredential>(credential_json)
        else {
            tracing::info!(user_id, "a passkey registration answer does not parse");
            return Ok(PasskeyRegistered::Refused);
        };
        let passkey = match rp.webauthn.finish_passkey_registration(&credential, &state) {
            Ok(passkey) => passkey,
            Err(e) => {
                tracing::info!(user_id, error = %e, "a passkey registration did not verify");
                return Ok(PasskeyRegistered::Refused);
            }
        };
        let had_one = self.has_second_factor(user_id).await?;
        let now = self.clock.now();
        let record = Factor {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: user_id.to_owned(),
            kind: FactorKind::Passkey,
            label: label.trim().to_owned(),
            sealed_secret: self.seal_passkey(&passkey)?,
            created_at: now,
            confirmed_at: Some(now),
            last_used_step: None,
            credential_id: Some(credential_id_of(passkey.cred_id().as_ref())),
        };
        match self.durable.create_factor(&record).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                tracing::info!(user_id, "a passkey already registered was registered again");
                return Ok(PasskeyRegistered::Refused);
            }
            Err(e) => return Err(store_error(e)),
        }
        tracing::info!(user_id, factor_id = %record.id, "a passkey was registered");
        let recovery_codes = if had_one {
            Vec::new()
        } else {
            self.regenerate_recovery_codes(user_id).await?
        };
        Ok(PasskeyRegistered::Registered {
            factor_id: record.id,
            recovery_codes,
        })
    }

    /// Starts a passkey assertion: for `user_id`'s passkeys (a second factor; `None` when they
    /// have none), or, without a user, for any discoverable passkey of this issuer.
    pub async fn begin_passkey_authentication(
        &self,
        user_id: Option<&str>,
    ) -> Result<Option<PasskeyChallenge>, OAuthError> {
        let rp = self.rp()?;
        let failed = |e: webauthn_rs::prelude::WebauthnError| {
            tracing::error!(error = %e, "starting a passkey assertion failed");
            OAuthError::server_error()
        };
        let (options, ceremony) = match user_id {
            Some(user_id) => {
                let passkeys: Vec<Passkey> = self
                    .passkeys_of(user_id)
                    .await?
                    .into_iter()
                    .map(|(_, p)| p)
                    .collect();
                if passkeys.is_empty() {
                    return Ok(None);
                }
                let (options, state) = rp
                    .webauthn
                    .start_passkey_authentication(&passkeys)
                    .map_err(failed)?;
                (
                    options,
                    Ceremony::Authentication {
                        user_id: user_id.to_owned(),
                        state,
                    },
                )
            }
            None => {
                let (mut options, state) = rp
                    .webauthn
                    .start_discoverable_authentication()
                    .map_err(failed)?;
                // A button starts it, not the autofill of a username field.
                options.mediation = None;
                (options, Ceremony::Discoverable { state })
            }
        };
        let options_json =
            serde_json::to_string(&options).map_err(|_| OAuthError::server_error())?;
        let ceremony_id = self.keep_ceremony(&ceremony).await?;
        Ok(Some(PasskeyChallenge {
            ceremony_id,
            options_json,
        }))
    }

    /// Finishes a passkey assertion: as the second factor of `user_id` (whose password was
    /// right), or, without a user, as a sign-in by the passkey's owner. A failed assertion counts
    /// toward the failed-login limits like a wrong password or TOTP code, and a locked username
    /// or IP is refused before the assertion is checked. The stored passkey is updated (its
    /// counter and backup state) after a good one.
    pub async fn finish_passkey_authentication(
        &self,
        ceremony_id: &str,
        user_id: Option<&str>,
        credential_json: &str,
        client_ip: &str,
    ) -> Result<PasskeyCheck, OAuthError> {
        let rp = self.rp()?;
        let limits = LoginLimits {
            store: self.short_lived.as_ref(),
            keys: &self.login_limit_keys,
            policy: &self.settings.lockout,
        };
        let now = self.clock.unix();
        let ceremony = self.take_ceremony(ceremony_id).await?;
        let credential = (credential_json.len() <= MAX_CREDENTIAL_JSON_BYTES)
            .then(|| serde_json::from_str::<PublicKeyCredential>(credential_json).ok())
            .flatten();
        // Whose passkey it claims to be: the named user's, or the owner of the credential id.
        let claimed = match (user_id, &credential) {
            (Some(user_id), _) => self.durable.get_user(user_id).await.map_err(store_error)?,
            (None, Some(credential)) => {
                match self
                    .durable
                    .find_factor_by_credential_id(&credential_id_of(&credential.raw_id))
                    .await
                    .map_err(store_error)?
                {
                    Some(factor) if factor.kind == FactorKind::Passkey => self
                        .durable
                        .get_user(&factor.user_id)
                        .await
                        .map_err(store_error)?,
                    _ => None,
                }
            }
            (None, None) => None,
        };
        let lock = match &claimed {
            Some(user) => limits.check(&user.username, client_ip, now).await,
            None => limits.check_ip(client_ip, now).await,
        }
        .map_err(store_error)?;
        if let Some(lock) = lock {
            return Ok(PasskeyCheck::Locked(lock));
        }
        let verified = match (ceremony, credential, &claimed) {
            (Some(ceremony), Some(credential), Some(user)) if !user.disabled => {
                self.verify_assertion(rp, ceremony, user_id, &credential, user)
                    .await?
            }
            _ => None,
        };
        match (verified, claimed) {
            (Some(backup_eligible), Some(user)) => {
                if let Err(e) = limits.record_success(&user.username).await {
                    tracing::warn!(error = %e, "resetting the failed-login counter failed");
                }
                Ok(PasskeyCheck::Accepted {
                    amr: passkey_amr(backup_eligible, user_id.is_some()),
                    user: Box::new(user),
                })
            }
            (_, claimed) => {
                let failure = match &claimed {
                    Some(user) => {
                        tracing::info!(user_id = %user.id, "a passkey assertion failed");
                        limits.record_failure(&user.username, client_ip, now).await
                    }
                    None => {
                        tracing::info!("a passkey assertion named no known passkey");
                        limits.record_ip_failure(client_ip, now).await
                    }
                }
                .map_err(store_error)?;
                Ok(match failure.locked {
                    Some(lock) => {
                        tracing::warn!(
                            "a username or client IP was locked after repeated failed passkey assertions"
                        );
                        PasskeyCheck::Locked(lock)
                    }
                    None => PasskeyCheck::Refused {
                        attempts_left: failure.attempts_left,
                    },
                })
            }
        }
    }

    /// Checks `credential` against `ceremony` for `user`; whether the credential is backup
    /// eligible when it verified, `None` when it did not. Stores the updated passkey.
    async fn verify_assertion(
        &self,
        rp: &PasskeyRp,
        ceremony: Ceremony,
        second_factor_of: Option<&str>,
        credential: &PublicKeyCredential,
        user: &User,
    ) -> Result<Option<bool>, OAuthError> {
        let passkeys = self.passkeys_of(&user.id).await?;
        let used = credential_id_of(&credential.raw_id);
        let Some((factor, mut passkey)) = passkeys
            .into_iter()
            .find(|(f, _)| f.credential_id.as_deref() == Some(used.as_str()))
        else {
            return Ok(None);
        };
        let outcome = match (ceremony, second_factor_of) {
            (Ceremony::Authentication { user_id, state }, Some(named)) if user_id == named => rp
                .webauthn
                .finish_passkey_authentication(credential, &state),
            (Ceremony::Discoverable { state }, None) => {
                // The authenticator's user handle must be this user's: a credential id alone
                // does not say whose account the authenticator meant.
                let expected = passkey_user_handle(&rp.user_handles, &user.id);
                match rp.webauthn.identify_discoverable_authentication(credential) {
                    Ok((handle, _)) if handle == expected => rp
                        .webauthn
                        .finish_discoverable_authentication_v2(credential, state, &passkey),
                    _ => {
                        tracing::info!(user_id = %user.id, "a passkey answered with another user handle");
                        return Ok(None);
                    }
                }
            }
            _ => return Ok(None),
        };
        let result = match outcome {
            Ok(result) => result,
            Err(e) => {
                tracing::info!(user_id = %user.id, error = %e, "a passkey assertion did not verify");
                return Ok(None);
            }
        };
        if !result.user_verified() {
            return Ok(None);
        }
        if passkey.update_credential(&result) == Some(true) {
            let sealed = self.seal_passkey(&passkey)?;
            self.durable
                .update_factor_secret(&user.id, &factor.id, &sealed)
                .await
                .map_err(store_error)?;
        }
        Ok(Some(result.backup_eligible()))
    }
}
