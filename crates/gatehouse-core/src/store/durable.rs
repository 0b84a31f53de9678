//! Durable storage ports.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{Page, PageRequest, StoreResult};
use crate::audit::{AuditEvent, AuditQuery};
use crate::client::{Client, ClientId};
use crate::factor::{Factor, RecoveryCode};
use crate::registration_request::{
    Logo, RegistrationRequest, RegistrationRequestQuery, RequestStatus,
};
use crate::scope::{ScopeDefinition, ScopeSet};
use crate::user::User;

#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Fails with `Conflict` when the id is taken.
    async fn create_client(&self, client: &Client) -> StoreResult<()>;
    async fn get_client(&self, id: &str) -> StoreResult<Option<Client>>;
    /// Clients ordered by id.
    async fn list_clients(&self, page: &PageRequest) -> StoreResult<Page<Client>>;
    /// Replaces the stored client with the same id, its incarnation included; `NotFound` when
    /// there is none.
    async fn update_client(&self, client: &Client) -> StoreResult<()>;
    /// Deletes the client and, in the same transaction, the consents given to it, and revokes
    /// its refresh-token families: nothing granted to it outlives it. `NotFound` when there is
    /// no such client (and then nothing changes).
    async fn delete_client(&self, id: &str) -> StoreResult<()>;
}

#[async_trait]
pub trait ScopeStore: Send + Sync {
    async fn create_scope(&self, scope: &ScopeDefinition) -> StoreResult<()>;
    async fn get_scope(&self, name: &str) -> StoreResult<Option<ScopeDefinition>>;
    /// The whole catalogue, ordered by name. Catalogues are small (tens of entries).
    async fn list_scopes(&self) -> StoreResult<Vec<ScopeDefinition>>;
    async fn update_scope(&self, scope: &ScopeDefinition) -> StoreResult<()>;
    async fn delete_scope(&self, name: &str) -> StoreResult<()>;
}

/// Filter for [`UserStore::list_users`]: a case-insensitive substring of username or email,
/// and a role the users must have; both when both are given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    pub search: Option<String>,
    pub role: Option<crate::user::Role>,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Fails with `Conflict` when the id or the username (case-insensitively) is taken.
    async fn create_user(&self, user: &User) -> StoreResult<()>;
    async fn get_user(&self, id: &str) -> StoreResult<Option<User>>;
    /// Case-insensitive lookup, as used by the login form.
    async fn get_user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    /// Users whose email is `email`, ignoring ASCII case, ordered by id, at most `limit`: whom a
    /// "forgot password" form that names an address writes to. Served by an index.
    async fn find_users_by_email(&self, email: &str, limit: u32) -> StoreResult<Vec<User>>;
    /// Users ordered by id.
    async fn list_users(&self, query: &UserQuery, page: &PageRequest) -> StoreResult<Page<User>>;
    /// Replaces the stored user; `Conflict` when the new username is taken by someone else.
    async fn update_user(&self, user: &User) -> StoreResult<()>;
    /// Deletes the user and, in the same transaction, their consents, and revokes their
    /// refresh-token families. `NotFound` when there is no such user (and then nothing changes).
    async fn delete_user(&self, id: &str) -> StoreResult<()>;
    /// Creates each of `users` whose id and username (case-insensitively) are both free, all in
    /// one transaction: on an error nothing is kept. Answers, per user and in order, whether it
    /// was created (`false`: its id or username is taken, by a stored user or an earlier one of
    /// `users`). With `dry_run` the transaction is rolled back: the answer says what would happen
    /// and nothing changes.
    async fn import_users(&self, users: &[User], dry_run: bool) -> StoreResult<Vec<bool>>;
}

/// A user's remembered decision to grant scopes to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub subject: String,
    pub client_id: ClientId,
    pub scope: ScopeSet,
    pub granted_at: OffsetDateTime,
    /// `None` means it does not expire.
    pub expires_at: Option<OffsetDateTime>,
}

#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// Inserts or replaces the consent for `(subject, client_id)`.
    async fn put_consent(&self, consent: &Consent) -> StoreResult<()>;
    async fn get_consent(&self, subject: &str, client_id: &str) -> StoreResult<Option<Consent>>;
    /// Every consent of a user, newest first.
    async fn list_consents(&self, subject: &str) -> StoreResult<Vec<Consent>>;
    /// Returns whether a consent was removed.
    async fn delete_consent(&self, subject: &str, client_id: &str) -> StoreResult<bool>;
}

/// One refresh token of a rotation family. Only the keyed hash of the token is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub token_hash: String,
    /// Every token rotated from the same grant shares a family (RFC 9700 §4.14.2).
    pub family_id: String,
    pub client_id: ClientId,
    /// The [`Client::incarnation`](crate::client::Client::incarnation) the family was granted to
    /// (empty in families of older releases). A successor keeps its family's.
    pub client_incarnation: String,
    pub subject: String,
    pub scope: ScopeSet,
    pub auth_time: Option<OffsetDateTime>,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// RFC 8707 resources the family was authorized for; every access token it yields is
    /// restricted to them or to the ones its refresh request names. A successor keeps its
    /// family's.
    pub resources: Vec<String>,
    /// RFC 9449 §5: the thumbprint of the DPoP key a public client's family is bound to (empty:
    /// not bound). A successor keeps its family's.
    pub dpop_jkt: String,
    /// The claims an external consent app added to the grant, for the ID and access tokens
    /// every refresh mints (empty: none). A successor keeps its family's.
    pub session_claims: crate::grant::SessionClaims,
}

/// The life state of a stored refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshTokenState {
    Active,
    /// Already exchanged for a successor: presenting it again is reuse.
    Rotated,
    /// Its family was revoked.
    Revoked,
}

/// What [`RefreshTokenStore::rotate_refresh_token`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
// Returned once per refresh and matched at once: boxing the token would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum RotateOutcome {
    /// The old token was active; it is now spent and `successor` is stored.
    Rotated {
        previous: RefreshToken,
    },
    /// The old token had already been rotated: the whole family has now been revoked.
    ReuseDetected {
        family_id: String,
    },
    /// The family was revoked earlier, or the token expired.
    Inactive,
    NotFound,
}

#[async_trait]
pub trait RefreshTokenStore: Send + Sync {
    /// Stores the first token of a new family.
    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()>;
    async fn get_refresh_token(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<(RefreshToken, RefreshTokenState)>>;
    /// Atomically spends `old_hash` and stores `successor` in the same family. Exactly one of any
    /// number of concurrent calls with the same `old_hash` gets `Rotated`; presenting a spent token
    /// revokes its family (reuse detection). `successor.family_id` is overwritten with the old
    /// token's family.
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        successor: &RefreshToken,
        now: OffsetDateTime,
    ) -> StoreResult<RotateOutcome>;
    /// Revokes a family; returns whether it existed and was live.
    async fn revoke_family(&self, family_id: &str) -> StoreResult<bool>;
    /// Revokes every family of a subject (optionally only for one client); returns the revoked
    /// family ids so their access tokens can be ended too.
    async fn revoke_families_of(
        &self,
        subject: &str,
        client_id: Option<&str>,
    ) -> StoreResult<Vec<String>>;
    /// Revokes every family granted to `client_id`, whoever the subject (a client switched
    /// off); returns how many were live.
    async fn revoke_families_of_client(&self, client_id: &str) -> StoreResult<u64>;
    /// Deletes up to `batch` tokens that expired before `now`; returns how many.
    async fn purge_expired_refresh_tokens(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> StoreResult<u64>;
}

/// A signing key. The private key is stored encrypted with the system secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub alg: String,
    pub encrypted_private_key: Vec<u8>,
    /// The public JWK as JSON text, published at `/.well-known/jwks.json`.
    pub public_jwk: String,
    pub created_at: OffsetDateTime,
    /// When a newer key took over signing; `None` for the key that signs now.
    pub retired_at: Option<OffsetDateTime>,
}

#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()>;
    /// Every key, newest first.
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    async fn retire_signing_key(&self, kid: &str, at: OffsetDateTime) -> StoreResult<()>;
    async fn delete_signing_key(&self, kid: &str) -> StoreResult<()>;
}

/// An initial access token (RFC 7591 §3): lets its bearer register clients at the public
/// registration endpoint. Only the keyed hash of the token is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationToken {
    /// A public handle for listing and revoking; not the token.
    pub id: String,
    pub token_hash: String,
    pub created_at: OffsetDateTime,
    /// `None` means it does not expire.
    pub expires_at: Option<OffsetDateTime>,
    /// `None` means any number of registrations.
    pub max_uses: Option<u32>,
    /// Clients registered with it so far.
    pub uses: u32,
}

#[async_trait]
pub trait RegistrationTokenStore: Send + Sync {
    /// Fails with `Conflict` when the id or the hash is taken.
    async fn insert_registration_token(&self, token: &RegistrationToken) -> StoreResult<()>;
    /// Counts one use of the token whose hash is `token_hash` if it exists, has not expired at
    /// `now` and has a use left; whether it did. Atomic: however many calls race, a token is
    /// never used more than `max_uses` times.
    async fn use_registration_token(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Gives back a use counted by [`Self::use_registration_token`] for a registration that then
    /// failed. Nothing happens to a token that is gone or has no use counted.
    async fn unuse_registration_token(&self, token_hash: &str) -> StoreResult<()>;
    /// Every token, newest first (there are few: operators hand them out by hand).
    async fn list_registration_tokens(&self) -> StoreResult<Vec<RegistrationToken>>;
    /// `NotFound` when there is no such token.
    async fn delete_registration_token(&self, id: &str) -> StoreResult<()>;
}

/// Partners' registration requests (partner onboarding).
#[async_trait]
pub trait RegistrationRequestStore: Send + Sync {
    /// Fails with `Conflict` when the id is taken.
    async fn create_registration_request(&self, request: &RegistrationRequest) -> StoreResult<()>;
    async fn get_registration_request(&self, id: &str) -> StoreResult<Option<RegistrationRequest>>;
    /// Requests matching `query`, oldest first (by `created_at`, then id). The page key is
    /// opaque.
    async fn list_registration_requests(
        &self,
        query: &RegistrationRequestQuery,
        page: &PageRequest,
    ) -> StoreResult<Page<RegistrationRequest>>;
    /// Replaces the stored request with the same id if its stored status is still `expected`,
    /// atomically, so two reviewers cannot both act on one request. `NotFound` when there is no
    /// such request, `Conflict` when its status is no longer `expected` (then nothing changes).
    /// `secret_revealed` is never changed here (see [`Self::claim_secret_reveal`]).
    async fn update_registration_request(
        &self,
        request: &RegistrationRequest,
        expected: RequestStatus,
    ) -> StoreResult<()>;
    /// Flips `secret_revealed` of an approved request from false to true; whether this call did.
    /// Atomic: of any number of concurrent calls exactly one gets `true`, and every later one
    /// `false`. `false` too for an unknown or not approved request.
    async fn claim_secret_reveal(&self, id: &str) -> StoreResult<bool>;
    /// Gives back a reveal claimed by [`Self::claim_secret_reveal`] whose secret could then not
    /// be set (a store outage), so the partner's retry reveals it. Nothing happens to an unknown
    /// request.
    async fn release_secret_reveal(&self, id: &str) -> StoreResult<()>;
}

/// Logos uploaded by partners, served from the public listener.
#[async_trait]
pub trait LogoStore: Send + Sync {
    /// Stores a logo under `id` (a fresh id: `Conflict` when it is taken). The caller has checked
    /// the bytes ([`check_logo`](crate::registration_request::check_logo)).
    async fn put_logo(&self, id: &str, content_type: &str, bytes: &[u8]) -> StoreResult<()>;
    async fn get_logo(&self, id: &str) -> StoreResult<Option<Logo>>;
}

/// The audit log: every change made through the admin API, kept for good (operators prune it
/// with SQL if they must).
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends one event; `Conflict` when its id is taken.
    async fn record_audit_event(&self, event: &AuditEvent) -> StoreResult<()>;
    /// The events matching `query`, newest first (by `at`, then by id, descending). The page key
    /// is opaque to callers: pass [`Page::next`] back as [`PageRequest::after`].
    async fn list_audit_events(
        &self,
        query: &AuditQuery,
        page: &PageRequest,
    ) -> StoreResult<Page<AuditEvent>>;
}

/// How much a client was used: tokens the token endpoint issued to it, and sign-ins to it (an
/// authorization code issued, or a device authorized).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientUsage {
    pub tokens_issued: u64,
    pub logins: u64,
}

/// Usage to add to a client's count of one day (UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageDelta {
    pub client_id: String,
    pub day: time::Date,
    pub usage: ClientUsage,
}

/// Per-client, per-day usage counts. The token service counts in memory and adds its counts in
/// batches, so counting costs the token endpoint no round trip.
#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Adds every delta to its client's count of its day, all in one transaction.
    async fn add_client_usage(&self, deltas: &[UsageDelta]) -> StoreResult<()>;
    /// The sum of a client's counts of `since` and the days after it.
    async fn client_usage(&self, client_id: &str, since: time::Date) -> StoreResult<ClientUsage>;
}

/// Users' second factors and recovery codes. Both are deleted with their user.
#[async_trait]
pub trait FactorStore: Send + Sync {
    /// Stores a new factor, after deleting the user's unconfirmed ones (an abandoned
    /// enrolment), in one transaction. `Conflict` when the id, or the passkey credential id, is
    /// taken.
    async fn create_factor(&self, factor: &Factor) -> StoreResult<()>;
    /// Every factor of a user, confirmed or not, oldest first.
    async fn list_factors(&self, user_id: &str) -> StoreResult<Vec<Factor>>;
    /// Confirms the user's unconfirmed factor `id` at `at`, with `step` as its last used step;
    /// whether it did (`false`: no such factor, or already confirmed).
    async fn confirm_factor(
        &self,
        user_id: &str,
        id: &str,
        at: OffsetDateTime,
        step: i64,
    ) -> StoreResult<bool>;
    /// Records `step` as the last used step of the user's confirmed factor `id` if it is later
    /// than the one recorded; whether it did. Atomic: of concurrent calls with the same step,
    /// exactly one gets `true`, so a code is accepted once.
    async fn use_factor_step(&self, user_id: &str, id: &str, step: i64) -> StoreResult<bool>;
    /// The factor whose passkey credential id is `credential_id` (base64url), whoever's it is.
    async fn find_factor_by_credential_id(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<Factor>>;
    /// Replaces the sealed secret of the user's confirmed factor `id` (a passkey's counter and
    /// backup state change as it is used); whether it did.
    async fn update_factor_secret(
        &self,
        user_id: &str,
        id: &str,
        sealed_secret: &[u8],
    ) -> StoreResult<bool>;
    /// Deletes the user's factor `id` and, when no confirmed factor of the user is left, their
    /// recovery codes, in one transaction; whether the factor existed.
    async fn delete_factor(&self, user_id: &str, id: &str) -> StoreResult<bool>;
    /// Replaces every recovery code of the user with `hashes`, in one transaction.
    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        hashes: &[String],
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Every recovery code of the user, used ones included.
    async fn list_recovery_codes(&self, user_id: &str) -> StoreResult<Vec<RecoveryCode>>;
    /// Marks the user's unused code `code_hash` used at `at`; whether it did. Atomic: of
    /// concurrent calls exactly one gets `true`.
    async fn use_recovery_code(
        &self,
        user_id: &str,
        code_hash: &str,
        at: OffsetDateTime,
    ) -> StoreResult<bool>;
}

/// The whole durable store, as the binary wires it.
#[async_trait]
pub trait DurableStore:
    ClientStore
    + ScopeStore
    + UserStore
    + ConsentStore
    + RefreshTokenStore
    + SigningKeyStore
    + RegistrationTokenStore
    + UsageStore
    + RegistrationRequestStore
    + LogoStore
    + AuditStore
    + FactorStore
{
    /// `"postgres"` or `"sqlite"`: named in readiness answers and logs.
    fn backend(&self) -> &'static str;
    /// A cheap round trip proving the store answers.
    async fn ping(&self) -> StoreResult<()>;
}
