//! Ending grants everywhere at once: the I/O around the cut-off model of
//! `gatehouse_core::revocation`, shared by the token service (consent withdrawal, checks at the
//! token endpoint, introspection and userinfo) and the admin API (users and clients).
//!
//! Every operation writes its cut-off *first*: if the short-lived store cannot take it, nothing
//! else has changed and the caller answers 503; once it is written, what it ends is over on every
//! replica at the next check, whatever happens to the durable writes that follow (a retry
//! completes them).

use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::Clock;
use gatehouse_core::revocation::{self, Cutoffs, RevocationKeys};
use gatehouse_core::store::{DurableStore, Namespace, ShortLivedStore, StoreResult};

/// Margin added to the longest lifetime a cut-off must outlive: clock skew between replicas, and
/// tokens minted from a client record a replica still held in its cache (or served stale while
/// the durable store was down) after the client was deleted.
const CUTOFF_MARGIN: Duration = Duration::from_secs(15 * 60);

#[derive(Clone)]
pub struct Revocations {
    durable: Arc<dyn DurableStore>,
    short_lived: Arc<dyn ShortLivedStore>,
    clock: Arc<dyn Clock>,
    keys: RevocationKeys,
    cutoff_ttl: Duration,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations")
            .field("cutoff_ttl", &self.cutoff_ttl)
            .finish_non_exhaustive()
    }
}

impl Revocations {
    /// `cutoff_ttl` must be longer than any access token or code lives: see [`Self::cutoff_ttl`].
    /// `system_secret` keys the store keys (the login UI derives the session index's the same
    /// way).
    pub fn new(
        durable: Arc<dyn DurableStore>,
        short_lived: Arc<dyn ShortLivedStore>,
        clock: Arc<dyn Clock>,
        system_secret: &[u8],
        cutoff_ttl: Duration,
    ) -> Self {
        Self {
            durable,
            short_lived,
            clock,
            keys: RevocationKeys::new(system_secret),
            cutoff_ttl,
        }
    }

    /// How long cut-offs are kept for these lifetimes: past the end of everything they end.
    pub fn cutoff_ttl(ttl_access_token: Duration, ttl_auth_code: Duration) -> Duration {
        ttl_access_token.max(ttl_auth_code) + CUTOFF_MARGIN
    }

    async fn put_cutoff(&self, key: &str) -> StoreResult<()> {
        self.short_lived
            .put(
                key,
                &revocation::encode(self.clock.unix_ms()),
                self.cutoff_ttl,
            )
            .await
    }

    /// A user was disabled, deleted or had their password reset: every code and access token
    /// they authorized until now ends, their refresh-token families are revoked and their login
    /// sessions end.
    pub async fn end_user(&self, subject: &str) -> StoreResult<()> {
        self.put_cutoff(&self.keys.user(subject)).await?;
        let families = self.durable.revoke_families_of(subject, None).await?;
        let sessions = self.end_login_sessions(subject).await?;
        tracing::info!(
            subject,
            families = families.len(),
            sessions,
            "every grant and session of the user ended"
        );
        Ok(())
    }

    /// A user withdrew a client's access: every code and access token the user authorized for
    /// it until now ends, and the refresh-token families of the pair are revoked.
    pub async fn end_consent(&self, subject: &str, client_id: &str) -> StoreResult<()> {
        self.put_cutoff(&self.keys.consent(subject, client_id))
            .await?;
        let families = self
            .durable
            .revoke_families_of(subject, Some(client_id))
            .await?;
        tracing::info!(
            subject,
            client_id,
            families = families.len(),
            "the user's grants to the client ended"
        );
        Ok(())
    }

    /// A client incarnation is about to be deleted: everything ever issued to it ends. The
    /// durable delete (consents, refresh families, the client) follows; if it fails, call
    /// [`Self::restore_client`] so the client that still exists keeps working.
    pub async fn end_client(&self, incarnation: &str) -> StoreResult<()> {
        self.put_cutoff(&self.keys.client(incarnation)).await
    }

    /// Undoes [`Self::end_client`] for a client whose deletion failed.
    pub async fn restore_client(&self, incarnation: &str) -> StoreResult<()> {
        self.short_lived
            .delete(&self.keys.client(incarnation))
            .await
            .map(drop)
    }

    /// Whether a grant of `subject` (none for client credentials) to `client_id` in incarnation
    /// `client_incarnation`, authorized at `authorized_at_ms`, has been ended. One round trip.
    pub async fn is_ended(
        &self,
        subject: Option<&str>,
        client_id: &str,
        client_incarnation: &str,
        authorized_at_ms: i64,
    ) -> StoreResult<bool> {
        let keys = self
            .keys
            .cutoff_keys(subject, client_id, client_incarnation);
        let values = self.short_lived.get_many(&keys).await?;
        let mut cutoffs = Cutoffs::read(&values);
        // Grants from before incarnations were recorded cannot be tied to one.
        cutoffs.client_deleted &= !client_incarnation.is_empty();
        Ok(cutoffs.end(authorized_at_ms))
    }

    /// Ends every login session of `subject` (the login UI indexes them per user); returns how
    /// many there were.
    async fn end_login_sessions(&self, subject: &str) -> StoreResult<usize> {
        let sessions = self
            .short_lived
            .set_take(&self.keys.login_sessions(subject))
            .await?;
        for session in &sessions {
            self.short_lived
                .delete(&Namespace::LoginSession.key(session))
                .await?;
        }
        Ok(sessions.len())
    }
}
