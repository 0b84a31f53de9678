//! The token service: the one place that authenticates clients and mints codes and tokens.
//! The HTTP endpoints (`http/`) and the gRPC server (`grpc/`) are thin adapters over it.

use gatehouse_core::Clock;
use gatehouse_core::client::{Client, TokenEndpointAuthMethod};
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::registration::verify_client_secret;
use gatehouse_core::scope::ScopeDefinition;
use gatehouse_core::secret::{KeyedHasher, SecretString};
use gatehouse_core::store::{
    DurableStore, ShortLivedStore, SigningKeyRecord, StoreError, StoreResult,
};
use gatehouse_core::token_request::PresentedCredentials;
use gatehouse_jose::{KeyEncryption, KeyRing, SigningAlgorithm};
use std::sync::{Arc, RwLock};

use crate::cache::ClientCache;
use crate::revocation::Revocations;
use crate::settings::TokenSettings;

/// Keyed-hash purposes: a hash made for one kind of bearer value never matches another kind.
pub const TOKEN_HASH_PURPOSE: &str = "token";

pub struct TokenService {
    pub(crate) settings: TokenSettings,
    pub(crate) durable: Arc<dyn DurableStore>,
    pub(crate) short_lived: Arc<dyn ShortLivedStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) client_secrets: KeyedHasher,
    pub(crate) tokens: KeyedHasher,
    pub(crate) key_encryption: KeyEncryption,
    /// Seals `client_secret_jwt` secrets (purpose
    /// [`crate::client_auth::CLIENT_SECRET_SEALING_PURPOSE`]); shared with the admin API.
    pub(crate) client_secret_sealing: Arc<KeyEncryption>,
    /// Cache of clients' `jwks_uri` key sets.
    pub(crate) client_keys: crate::client_keys::ClientKeys,
    pub(crate) revocations: Revocations,
    /// Keys the failed-login counters (`gatehouse_core::lockout`).
    pub(crate) login_limit_keys: KeyedHasher,
    /// Seals users' TOTP secrets at rest (purpose
    /// [`gatehouse_core::factor::TOTP_SEALING_PURPOSE`]).
    pub(crate) totp_sealing: KeyEncryption,
    /// Keys the stored hashes of recovery codes.
    pub(crate) recovery_codes: KeyedHasher,
    /// Seals users' passkeys at rest (purpose
    /// [`gatehouse_core::factor::PASSKEY_SEALING_PURPOSE`]).
    pub(crate) passkey_sealing: KeyEncryption,
    /// The WebAuthn relying party of the issuer; `None` when the issuer cannot have passkeys.
    pub(crate) passkeys: Option<crate::passkeys::PasskeyRp>,
    /// Issues and checks DPoP nonces (RFC 9449 §8), the same on every replica.
    pub(crate) dpop_nonces: gatehouse_core::dpop::NonceKeys,
    keys: RwLock<Arc<KeyRing>>,
    clients: ClientCache,
    cors: crate::cors::CorsOrigins,
    scopes: crate::catalogue::ScopeCatalogue,
    /// Per-client usage counts not yet written to the durable store.
    pub(crate) usage: crate::usage::UsageCounters,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("issuer", &self.settings.issuer)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("signing keys: {0}")]
    Keys(#[from] gatehouse_jose::JoseError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl TokenService {
    /// Builds the service and makes sure a signing key exists for every algorithm Gatehouse
    /// signs with (generated on first start, stored encrypted with the system secret).
    ///
    /// `system_secrets[0]` is the current system secret; later entries are previous secrets still
    /// accepted for decrypting signing keys during a rotation of the system secret.
    pub async fn start(
        settings: TokenSettings,
        durable: Arc<dyn DurableStore>,
        short_lived: Arc<dyn ShortLivedStore>,
        clock: Arc<dyn Clock>,
        system_secrets: &[&[u8]],
    ) -> Result<Self, StartError> {
        let current = system_secrets.first().copied().unwrap_or_default();
        let key_encryption = KeyEncryption::new(system_secrets)?;
        let client_secret_sealing = Arc::new(KeyEncryption::for_purpose(
            system_secrets,
            crate::client_auth::CLIENT_SECRET_SEALING_PURPOSE,
        )?);
        let totp_sealing = KeyEncryption::for_purpose(
            system_secrets,
            gatehouse_core::factor::TOTP_SEALING_PURPOSE,
        )?;
        let passkey_sealing = KeyEncryption::for_purpose(
            system_secrets,
            gatehouse_core::factor::PASSKEY_SEALING_PURPOSE,
        )?;
        let passkeys = match crate::passkeys::PasskeyRp::for_issuer(&settings.issuer, current) {
            Ok(rp) => Some(rp),
            Err(why) => {
                tracing::warn!(issuer = %settings.issuer, reason = %why, "passkeys are off");
                None
            }
        };
        let mut records = durable.list_signing_keys().await?;
        let mut generated = false;
        for alg in SigningAlgorithm::ALL {
            if !records
                .iter()
                .any(|r| r.alg == alg.as_str() && r.retired_at.is_none())
            {
                let record = new_key_record(alg, &key_encryption, clock.now())?;
                durable.insert_signing_key(&record).await?;
                tracing::info!(kid = %record.kid, alg = alg.as_str(), "generated a signing key");
                generated = true;
            }
        }
        if generated {
            records = durable.list_signing_keys().await?;
        }
        let ring = KeyRing::from_records(&records, &key_encryption)?;
        let revocations = Revocations::new(
            durable.clone(),
            short_lived.clone(),
            clock.clone(),
            current,
            settings.revocation_cutoff_ttl(),
        );
        Ok(Self {
            clients: ClientCache::new(
                settings.client_cache_ttl,
                settings.client_cache_stale_if_error,
            ),
            cors: crate::cors::CorsOrigins::new(settings.client_cache_ttl),
            scopes: crate::catalogue::ScopeCatalogue::new(settings.client_cache_ttl),
            client_keys: crate::client_keys::ClientKeys::new(settings.allow_http_jwks_uri),
            client_secret_sealing,
            revocations,
            settings,
            durable,
            short_lived,
            clock,
            client_secrets: gatehouse_core::registration::client_secret_hasher(current),
            tokens: KeyedHasher::new(current, TOKEN_HASH_PURPOSE),
            login_limit_keys: KeyedHasher::new(current, gatehouse_core::lockout::KEY_PURPOSE),
            dpop_nonces: gatehouse_core::dpop::NonceKeys::new(current),
            totp_sealing,
            passkey_sealing,
            passkeys,
            recovery_codes: gatehouse_core::factor::recovery_code_hasher(current),
            key_encryption,
            keys: RwLock::new(Arc::new(ring)),
            usage: Default::default(),
        })
    }

    /// The key that seals `client_secret_jwt` secrets at rest (see
    /// [`crate::client_auth::seal_secret`]).
    pub fn client_secret_sealing(&self) -> &Arc<KeyEncryption> {
        &self.client_secret_sealing
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    pub fn durable(&self) -> &Arc<dyn DurableStore> {
        &self.durable
    }

    pub fn short_lived(&self) -> &Arc<dyn ShortLivedStore> {
        &self.short_lived
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The partner-onboarding rules over this service's stores and settings.
    pub fn partners(&self) -> crate::partners::Partners<'_> {
        crate::partners::Partners {
            durable: self.durable.as_ref(),
            clock: self.clock.as_ref(),
            hasher: &self.client_secrets,
            redirect_policy: self.settings.registration.redirect_policy,
            settings: self.settings.partners.clone(),
        }
    }

    /// Ends grants everywhere at once (consents, users, clients); shared with the admin API.
    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    /// The key ring signing right now.
    pub fn keys(&self) -> Arc<KeyRing> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Re-reads the keys from the store (after a rotation here or on another replica).
    pub async fn reload_keys(&self) -> Result<(), StartError> {
        let records = self.durable.list_signing_keys().await?;
        let ring = KeyRing::from_records(&records, &self.key_encryption)?;
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ring);
        Ok(())
    }

    /// `gatehouse keys rotate`: a new key takes over signing for `alg`; the previous one stays
    /// published (so tokens it signed still verify) until [`Self::purge_retired_keys`] removes it.
    pub async fn rotate_key(&self, alg: SigningAlgorithm) -> Result<SigningKeyRecord, StartError> {
        let now = self.clock.now();
        let record = new_key_record(alg, &self.key_encryption, now)?;
        self.durable.insert_signing_key(&record).await?;
        for old in self.durable.list_signing_keys().await? {
            if old.alg == alg.as_str() && old.retired_at.is_none() && old.kid != record.kid {
                self.durable.retire_signing_key(&old.kid, now).await?;
            }
        }
        self.reload_keys().await?;
        Ok(record)
    }

    /// Deletes keys retired longer ago than any token they signed can live.
    pub async fn purge_retired_keys(&self) -> Result<usize, StartError> {
        let longest = self
            .settings
            .ttl_id_token
            .max(self.settings.ttl_access_token);
        let cutoff = self.clock.now() - longest;
        let mut purged = 0;
        for key in self.durable.list_signing_keys().await? {
            if key.retired_at.is_some_and(|at| at < cutoff) {
                self.durable.delete_signing_key(&key.kid).await?;
                purged += 1;
            }
        }
        if purged > 0 {
            self.reload_keys().await?;
        }
        Ok(purged)
    }

    /// The client with this id, from the cache when fresh; `None` when there is none or an
    /// operator switched it off (`disabled`): a switched-off client is refused everywhere as an
    /// unknown one. While the durable store cannot be reached, the last known record (up to
    /// `client_cache_stale_if_error` old) still serves.
    pub async fn client(&self, id: &str) -> Result<Option<Arc<Client>>, OAuthError> {
        Ok(self
            .client_record(id)
            .await?
            .filter(|c| !c.metadata.disabled))
    }

    async fn client_record(&self, id: &str) -> Result<Option<Arc<Client>>, OAuthError> {
        if let Some(hit) = self.clients.get(id) {
            return Ok(hit);
        }
        match self.durable.get_client(id).await {
            Ok(client) => {
                let client = client.map(Arc::new);
                self.clients.put(id, client.clone());
                Ok(client)
            }
            Err(e @ StoreError::Unavailable { .. }) => match self.clients.get_stale(id) {
                Some(client) => {
                    tracing::debug!(
                        client_id = id,
                        "durable store unavailable; serving the last known client record"
                    );
                    Ok(Some(client))
                }
                None => Err(store_error(e)),
            },
            Err(e) => Err(store_error(e)),
        }
    }

    /// Writes this process's usage counts (tokens issued, sign-ins per client) to the durable
    /// store as counts of today (UTC); the binary calls it every few seconds and at shutdown. A
    /// failed write keeps the counts for the next call.
    pub async fn flush_usage(&self) -> StoreResult<()> {
        self.usage
            .flush(self.durable.as_ref(), self.clock.now().date())
            .await
    }

    /// Drops a client from the cache; the admin API calls it on every change.
    pub fn invalidate_client(&self, id: &str) {
        self.clients.invalidate(id);
        self.cors.invalidate();
    }

    /// The scope catalogue, cached like client records (see [`crate::catalogue`]).
    pub async fn catalogue(&self) -> Result<Arc<[ScopeDefinition]>, OAuthError> {
        self.scopes
            .all(self.durable.as_ref())
            .await
            .map_err(store_error)
    }

    /// Drops the cached catalogue; the admin API calls it on every change to a scope.
    pub fn invalidate_scopes(&self) {
        self.scopes.invalidate();
    }

    /// Moves whenever the catalogue is changed through this replica's admin API.
    pub fn catalogue_generation(&self) -> u64 {
        self.scopes.generation()
    }

    /// Whether a web page at `origin` may read this server's answers: for `client` when the
    /// request names one (its `allowed_cors_origins`), else any client's.
    pub async fn cors_allows(&self, origin: &str, client: Option<&str>) -> bool {
        match client {
            Some(id) => match self.client(id).await {
                Ok(Some(client)) => client
                    .metadata
                    .allowed_cors_origins
                    .iter()
                    .any(|o| o == origin),
                // An unknown client (or one that cannot be read now) gets the union's answer,
                // so the page can read the error.
                _ => self.cors.all(self.durable.as_ref()).await.contains(origin),
            },
            None => self.cors.all(self.durable.as_ref()).await.contains(origin),
        }
    }

    /// RFC 6749 §2.3: authenticates the client with the method it registered, and only that one,
    /// at `endpoint` (its path, e.g. `/oauth2/token`: a client assertion's `aud` may name it).
    /// A client presenting another method than its registered one is told which method to use
    /// (client ids and methods are no secret, and it is the first thing a developer must fix);
    /// every other failure is the same `invalid_client`, so a wrong secret and an unknown client
    /// read alike.
    pub async fn authenticate_client(
        &self,
        presented: &PresentedCredentials,
        endpoint: &str,
    ) -> Result<Arc<Client>, OAuthError> {
        let failed = || OAuthError::new(ErrorCode::InvalidClient, "client authentication failed");
        let client = self
            .client(presented.client_id())
            .await?
            .ok_or_else(failed)?;
        let registered = client.metadata.token_endpoint_auth_method;
        if presented.method() != registered {
            // Client ids and their registered method are no secret; naming the method is what
            // lets a developer fix the request.
            return Err(OAuthError::new(
                ErrorCode::InvalidClient,
                format!(
                    "this client authenticates with {}, not {}",
                    registered.as_str(),
                    presented.method().as_str()
                ),
            ));
        }
        let now = self.clock.now();
        let ok = match presented {
            PresentedCredentials::None { .. } => registered == TokenEndpointAuthMethod::None,
            PresentedCredentials::Post { secret, .. } => self.secret_matches(&client, secret, now),
            // Both readings of a Basic secret are checked, always, so timing does not tell which.
            PresentedCredentials::Basic {
                secret, secret_raw, ..
            } => {
                self.secret_matches(&client, secret, now)
                    | self.secret_matches(&client, secret_raw, now)
            }
            PresentedCredentials::Assertion { assertion, .. } => {
                // Its own errors say what is wrong with the assertion: its claims are the
                // client's own doing and tell nothing about other clients.
                self.verify_client_assertion(&client, assertion, endpoint)
                    .await?;
                true
            }
        };
        if ok { Ok(client) } else { Err(failed()) }
    }

    fn secret_matches(
        &self,
        client: &Client,
        secret: &SecretString,
        now: time::OffsetDateTime,
    ) -> bool {
        verify_client_secret(client, secret.expose(), &self.client_secrets, now)
    }

    /// The keyed hash under which a bearer value (code, token) is stored.
    pub fn token_hash(&self, value: &str) -> String {
        self.tokens.hash(value)
    }
}

fn new_key_record(
    alg: SigningAlgorithm,
    enc: &KeyEncryption,
    now: time::OffsetDateTime,
) -> Result<SigningKeyRecord, gatehouse_jose::JoseError> {
    let key = gatehouse_jose::generate(alg)?;
    Ok(SigningKeyRecord {
        kid: key.kid.clone(),
        alg: alg.as_str().to_owned(),
        encrypted_private_key: enc.seal(&key.pkcs8_der)?,
        public_jwk: serde_json::to_string(&key.public_jwk)
            .map_err(|e| gatehouse_jose::JoseError::InvalidKey(e.to_string()))?,
        created_at: now,
        retired_at: None,
    })
}

/// A store failure seen by a client: `temporarily_unavailable` when the backend is down (retry
/// later), `server_error` otherwise. The details go to the log, not to the client.
pub(crate) fn store_error(e: StoreError) -> OAuthError {
    match e {
        StoreError::Unavailable { backend, message } => {
            tracing::warn!(backend, %message, "store unavailable");
            OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "the service is temporarily unavailable; retry shortly",
            )
        }
        other => {
            tracing::error!(error = %other, "store failure");
            OAuthError::server_error()
        }
    }
}
