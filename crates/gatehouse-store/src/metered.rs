//! Store decorators that record the latency and outcome of every operation as metrics
//! (`gatehouse_store_operations_total`, `gatehouse_store_operation_duration_seconds`), by store
//! backend and operation. The binary wraps whatever adapters it opened in these.

use async_trait::async_trait;
use gatehouse_core::audit::{AuditEvent, AuditQuery};
use gatehouse_core::client::Client;
use gatehouse_core::factor::{Factor, RecoveryCode};
use gatehouse_core::registration_request::{
    Logo, RegistrationRequest, RegistrationRequestQuery, RequestStatus,
};
use gatehouse_core::scope::ScopeDefinition;
use gatehouse_core::store::{
    AuditStore, ClientStore, ClientUsage, Consent, ConsentStore, DurableStore, FactorStore,
    LogoStore, Page, PageRequest, RefreshToken, RefreshTokenState, RefreshTokenStore,
    RegistrationRequestStore, RegistrationToken, RegistrationTokenStore, RotateOutcome, ScopeStore,
    ShortLivedStore, SigningKeyRecord, SigningKeyStore, StoreResult, UsageDelta, UsageStore,
    UserQuery, UserStore,
};
use gatehouse_core::user::User;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

async fn timed<T>(
    backend: &'static str,
    operation: &'static str,
    f: impl Future<Output = StoreResult<T>>,
) -> StoreResult<T> {
    let started = Instant::now();
    let result = f.await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(gatehouse_core::store::StoreError::NotFound) => "not_found",
        Err(gatehouse_core::store::StoreError::Conflict) => "conflict",
        Err(gatehouse_core::store::StoreError::Unavailable { .. }) => "unavailable",
        Err(gatehouse_core::store::StoreError::Corrupt(_)) => "corrupt",
    };
    metrics::counter!("gatehouse_store_operations_total", "store" => backend, "operation" => operation, "outcome" => outcome).increment(1);
    metrics::histogram!("gatehouse_store_operation_duration_seconds", "store" => backend, "operation" => operation)
        .record(started.elapsed().as_secs_f64());
    result
}

/// A short-lived store with metrics.
pub struct MeteredShortLived(pub Arc<dyn ShortLivedStore>);

#[async_trait]
impl ShortLivedStore for MeteredShortLived {
    fn backend(&self) -> &'static str {
        self.0.backend()
    }
    async fn ping(&self) -> StoreResult<()> {
        timed(self.backend(), "ping", self.0.ping()).await
    }
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> StoreResult<()> {
        timed(self.backend(), "put", self.0.put(key, value, ttl)).await
    }
    async fn put_new(&self, key: &str, value: &[u8], ttl: Duration) -> StoreResult<bool> {
        timed(self.backend(), "put_new", self.0.put_new(key, value, ttl)).await
    }
    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        timed(self.backend(), "get", self.0.get(key)).await
    }
    async fn get_many(&self, keys: &[String]) -> StoreResult<Vec<Option<Vec<u8>>>> {
        timed(self.backend(), "get_many", self.0.get_many(keys)).await
    }
    async fn take(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        timed(self.backend(), "take", self.0.take(key)).await
    }
    async fn delete(&self, key: &str) -> StoreResult<bool> {
        timed(self.backend(), "delete", self.0.delete(key)).await
    }
    async fn increment(&self, key: &str, window: Duration) -> StoreResult<u64> {
        timed(self.backend(), "increment", self.0.increment(key, window)).await
    }
    async fn set_add(&self, key: &str, member: &str, ttl: Duration) -> StoreResult<()> {
        timed(self.backend(), "set_add", self.0.set_add(key, member, ttl)).await
    }
    async fn set_take(&self, key: &str) -> StoreResult<Vec<String>> {
        timed(self.backend(), "set_take", self.0.set_take(key)).await
    }
    async fn set_members(&self, key: &str) -> StoreResult<Vec<String>> {
        timed(self.backend(), "set_members", self.0.set_members(key)).await
    }
    async fn set_remove(&self, key: &str, member: &str) -> StoreResult<bool> {
        timed(self.backend(), "set_remove", self.0.set_remove(key, member)).await
    }
}

/// A durable store with metrics.
pub struct MeteredDurable(pub Arc<dyn DurableStore>);

#[async_trait]
impl ClientStore for MeteredDurable {
    async fn create_client(&self, client: &Client) -> StoreResult<()> {
        timed(
            self.0.backend(),
            "create_client",
            self.0.create_client(client),
        )
        .await
    }
    async fn get_client(&self, id: &str) -> StoreResult<Option<Client>> {
        timed(self.0.backend(), "get_client", self.0.get_client(id)).await
    }
    async fn list_clients(&self, page: &PageRequest) -> StoreResult<Page<Client>> {
        timed(self.0.backend(), "list_clients", self.0.list_clients(page)).await
    }
    async fn update_client(&self, client: &Client) -> StoreResult<()> {
        timed(
            self.0.backend(),
            "update_client",
            self.0.update_client(client),
        )
        .await
    }
    async fn delete_client(&self, id: &str) -> StoreResult<()> {
        timed(self.0.backend(), "delete_client", self.0.delete_client(id)).await
    }
}

#[async_trait]
impl ScopeStore for MeteredDurable {
    async fn create_scope(&self, scope: &ScopeDefinition) -> StoreResult<()> {
        timed(self.0.backend(), "create_scope", self.0.create_scope(scope)).await
    }
    async fn get_scope(&self, name: &str) -> StoreResult<Option<ScopeDefinition>> {
        timed(self.0.backend(), "get_scope", self.0.get_scope(name)).await
    }
    async fn list_scopes(&self) -> StoreResult<Vec<ScopeDefinition>> {
        timed(self.0.backend(), "list_scopes", self.0.list_scopes()).await
    }
    async fn update_scope(&self, scope: &ScopeDefinition) -> StoreResult<()> {
        timed(self.0.backend(), "update_scope", self.0.update_scope(scope)).await
    }
    async fn delete_scope(&self, name: &str) -> StoreResult<()> {
        timed(self.0.backend(), "delete_scope", self.0.delete_scope(name)).await
    }
}

#[async_trait]
impl UserStore for MeteredDurable {
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        timed(self.0.backend(), "create_user", self.0.create_user(user)).await
    }
    async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
        timed(self.0.backend(), "get_user", self.0.get_user(id)).await
    }
    async fn get_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        timed(
            self.0.backend(),
            "get_user_by_username",
            self.0.get_user_by_username(username),
        )
        .await
    }
    async fn find_users_by_email(&self, email: &str, limit: u32) -> StoreResult<Vec<User>> {
        timed(
            self.0.backend(),
            "find_users_by_email",
            self.0.find_users_by_email(email, limit),
        )
        .await
    }
    async fn list_users(&self, query: &UserQuery, page: &PageRequest) -> StoreResult<Page<User>> {
        timed(
            self.0.backend(),
            "list_users",
            self.0.list_users(query, page),
        )
        .await
    }
    async fn update_user(&self, user: &User) -> StoreResult<()> {
        timed(self.0.backend(), "update_user", self.0.update_user(user)).await
    }
    async fn delete_user(&self, id: &str) -> StoreResult<()> {
        timed(self.0.backend(), "delete_user", self.0.delete_user(id)).await
    }
    async fn import_users(&self, users: &[User], dry_run: bool) -> StoreResult<Vec<bool>> {
        timed(
            self.0.backend(),
            "import_users",
            self.0.import_users(users, dry_run),
        )
        .await
    }
}

#[async_trait]
impl ConsentStore for MeteredDurable {
    async fn put_consent(&self, consent: &Consent) -> StoreResult<()> {
        timed(self.0.backend(), "put_consent", self.0.put_consent(consent)).await
    }
    async fn get_consent(&self, subject: &str, client_id: &str) -> StoreResult<Option<Consent>> {
        timed(
            self.0.backend(),
            "get_consent",
            self.0.get_consent(subject, client_id),
        )
        .await
    }
    async fn list_consents(&self, subject: &str) -> StoreResult<Vec<Consent>> {
        timed(
            self.0.backend(),
            "list_consents",
            self.0.list_consents(subject),
        )
        .await
    }
    async fn delete_consent(&self, subject: &str, client_id: &str) -> StoreResult<bool> {
        timed(
            self.0.backend(),
            "delete_consent",
            self.0.delete_consent(subject, client_id),
        )
        .await
    }
}

#[async_trait]
impl RefreshTokenStore for MeteredDurable {
    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        timed(
            self.0.backend(),
            "insert_refresh_token",
            self.0.insert_refresh_token(token),
        )
        .await
    }
    async fn get_refresh_token(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<(RefreshToken, RefreshTokenState)>> {
        timed(
            self.0.backend(),
            "get_refresh_token",
            self.0.get_refresh_token(token_hash),
        )
        .await
    }
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        successor: &RefreshToken,
        now: OffsetDateTime,
    ) -> StoreResult<RotateOutcome> {
        timed(
            self.0.backend(),
            "rotate_refresh_token",
            self.0.rotate_refresh_token(old_hash, successor, now),
        )
        .await
    }
    async fn revoke_family(&self, family_id: &str) -> StoreResult<bool> {
        timed(
            self.0.backend(),
            "revoke_family",
            self.0.revoke_family(family_id),
        )
        .await
    }
    async fn revoke_families_of_client(&self, client_id: &str) -> StoreResult<u64> {
        timed(
            self.0.backend(),
            "revoke_families_of_client",
            self.0.revoke_families_of_client(client_id),
        )
        .await
    }
    async fn revoke_families_of(
        &self,
        subject: &str,
        client_id: Option<&str>,
    ) -> StoreResult<Vec<String>> {
        timed(
            self.0.backend(),
            "revoke_families_of",
            self.0.revoke_families_of(subject, client_id),
        )
        .await
    }
    async fn purge_expired_refresh_tokens(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> StoreResult<u64> {
        timed(
            self.0.backend(),
            "purge_expired_refresh_tokens",
            self.0.purge_expired_refresh_tokens(now, batch),
        )
        .await
    }
}

#[async_trait]
impl SigningKeyStore for MeteredDurable {
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        timed(
            self.0.backend(),
            "insert_signing_key",
            self.0.insert_signing_key(key),
        )
        .await
    }
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        timed(
            self.0.backend(),
            "list_signing_keys",
            self.0.list_signing_keys(),
        )
        .await
    }
    async fn retire_signing_key(&self, kid: &str, at: OffsetDateTime) -> StoreResult<()> {
        timed(
            self.0.backend(),
            "retire_signing_key",
            self.0.retire_signing_key(kid, at),
        )
        .await
    }
    async fn delete_signing_key(&self, kid: &str) -> StoreResult<()> {
        timed(
            self.0.backend(),
            "delete_signing_key",
            self.0.delete_signing_key(kid),
        )
        .await
    }
}

#[async_trait]
impl UsageStore for MeteredDurable {
    async fn add_client_usage(&self, deltas: &[UsageDelta]) -> StoreResult<()> {
        timed(
            self.0.backend(),
            "add_client_usage",
            self.0.add_client_usage(deltas),
        )
        .await
    }
    async fn client_usage(&self, client_id: &str, since: time::Date) -> StoreResult<ClientUsage> {
        timed(
            self.0.backend(),
            "client_usage",
            self.0.client_usage(client_id, since),
        )
        .await
    }
}

#[async_trait]
impl RegistrationTokenStore for MeteredDurable {
    async fn insert_registration_token(&self, token: &RegistrationToken) -> StoreResult<()> {
        timed(
            self.0.backend(),
            "insert_registration_token",
            self.0.insert_registration_token(token),
        )
        .await
    }
    async fn use_registration_token(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        timed(
            self.0.backend(),
            "use_registration_token",
            self.0.use_registration_token(token_hash, now),
        )
        .await
    }
    async fn unuse_registration_token(&self, token_hash: &str) -> StoreResult<()> {
        timed(
            self.0.backend(),
            "unuse_registration_token",
            self.0.unuse_registration_token(token_hash),
        )
        .await
    }
    async fn list_registration_tokens(&self) -> StoreResult<Vec<RegistrationToken>> {
        timed(
            self.0.backend(),
            "list_registration_tokens",
            self.0.list_registration_tokens(),
        )
        .await
    }
    async fn delete_registration_token(&self, id: &str) -> StoreResult<()> {
        timed(
            self.0.backend(),
            "delete_registration_token",
            self.0.delete_registration_token(id),
        )
        .await
    }
}

#[async_trait]
impl RegistrationRequestStore for MeteredDurable {
    async fn create_registration_request(&self, request: &RegistrationRequest) -> StoreResult<()> {
        timed(
            self.0.backend(),
            "create_registration_request",
            self.0.create_registration_request(request),
        )
        .await
    }
    async fn get_registration_request(&self, id: &str) -> StoreResult<Option<RegistrationRequest>> {
        timed(
            self.0.backend(),
            "get_registration_request",
            self.0.get_registration_request(id),
        )
        .await
    }
    async fn list_registration_requests(
        &self,
        query: &RegistrationRequestQuery,
        page: &PageRequest,
    ) -> StoreResult<Page<RegistrationRequest>> {
        timed(
            self.0.backend(),
            "list_registration_requests",
            self.0.list_registration_requests(query, page),
        )
        .await
    }
    async fn update_registration_request(
        &self,
        request: &RegistrationRequest,
        expected: RequestStatus,
    ) -> StoreResult<()> {
        timed(
            self.0.backend(),
            "update_registration_request",
            self.0.update_registration_request(request, expected),
        )
        .await
    }
    async fn claim_secret_reveal(&self, id: &str) -> StoreResult<bool> {
        timed(
            self.0.backend(),
            "claim_secret_reveal",
            self.0.claim_secret_reveal(id),
        )
        .await
    }
    async fn release_secret_reveal(&self, id: &str) -> StoreResult<()> {
        timed(
            self.0.backend(),
            "release_secret_reveal",
            self.0.release_secret_reveal(id),
        )
        .await
    }
}

#[async_trait]
impl AuditStore for MeteredDurable {
    async fn record_audit_event(&self, event: &AuditEvent) -> StoreResult<()> {
        timed(
            self.0.backend(),
            "record_audit_event",
            self.0.record_audit_event(event),
        )
        .await
    }
    async fn list_audit_events(
        &self,
        query: &AuditQuery,
        page: &PageRequest,
    ) -> StoreResult<Page<AuditEvent>> {
        timed(
            self.0.backend(),
            "list_audit_events",
            self.0.list_audit_events(query, page),
        )
        .await
    }
}

#[async_trait]
impl LogoStore for MeteredDurable {
    async fn put_logo(&self, id: &str, content_type: &str, bytes: &[u8]) -> StoreResult<()> {
        timed(
            self.0.backend(),
            "put_logo",
            self.0.put_logo(id, content_type, bytes),
        )
        .await
    }
    async fn get_logo(&self, id: &str) -> StoreResult<Option<Logo>> {
        timed(self.0.backend(), "get_logo", self.0.get_logo(id)).await
    }
}

#[async_trait]
impl FactorStore for MeteredDurable {
    async fn create_factor(&self, factor: &Factor) -> StoreResult<()> {
        timed(
            self.0.backend(),
            "create_factor",
            self.0.create_factor(factor),
        )
        .await
    }
    async fn list_factors(&self, user_id: &str) -> StoreResult<Vec<Factor>> {
        timed(
            self.0.backend(),
            "list_factors",
            self.0.list_factors(user_id),
        )
        .await
    }
    async fn confirm_factor(
        &self,
        user_id: &str,
        id: &str,
        at: OffsetDateTime,
        step: i64,
    ) -> StoreResult<bool> {
        timed(
            self.0.backend(),
            "confirm_factor",
            self.0.confirm_factor(user_id, id, at, step),
        )
        .await
    }
    async fn use_factor_step(&self, user_id: &str, id: &str, step: i64) -> StoreResult<bool> {
        timed(
            self.0.backend(),
            "use_factor_step",
            self.0.use_factor_step(user_id, id, step),
        )
        .await
    }
    async fn find_factor_by_credential_id(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<Factor>> {
        timed(
            self.0.backend(),
            "find_factor_by_credential_id",
            self.0.find_factor_by_credential_id(credential_id),
        )
        .await
    }
    async fn update_factor_secret(
        &self,
        user_id: &str,
        id: &str,
        sealed_secret: &[u8],
    ) -> StoreResult<bool> {
        timed(
            self.0.backend(),
            "update_factor_secret",
            self.0.update_factor_secret(user_id, id, sealed_secret),
        )
        .await
    }
    async fn delete_factor(&self, user_id: &str, id: &str) -> StoreResult<bool> {
        timed(
            self.0.backend(),
            "delete_factor",
            self.0.delete_factor(user_id, id),
        )
        .await
    }
    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        hashes: &[String],
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        timed(
            self.0.backend(),
            "replace_recovery_codes",
            self.0.replace_recovery_codes(user_id, hashes, at),
        )
        .await
    }
    async fn list_recovery_codes(&self, user_id: &str) -> StoreResult<Vec<RecoveryCode>> {
        timed(
            self.0.backend(),
            "list_recovery_codes",
            self.0.list_recovery_codes(user_id),
        )
        .await
    }
    async fn use_recovery_code(
        &self,
        user_id: &str,
        code_hash: &str,
        at: OffsetDateTime,
    ) -> StoreResult<bool> {
        timed(
            self.0.backend(),
            "use_recovery_code",
            self.0.use_recovery_code(user_id, code_hash, at),
        )
        .await
    }
}

#[async_trait]
impl DurableStore for MeteredDurable {
    fn backend(&self) -> &'static str {
        self.0.backend()
    }
    async fn ping(&self) -> StoreResult<()> {
        timed(self.0.backend(), "ping", self.0.ping()).await
    }
}
