//! Pending authorization requests, held server-side behind an unguessable challenge id.
//!
//! Pages carry only the id (`random_token(32)`, 256 bits); the validated request, the client's
//! display data and the scope catalogue entries stay in the short-lived store. A challenge is
//! bound to the browser that started it (the keyed hash of its browser cookie), so an id that
//! leaks is useless elsewhere, and it is taken atomically when the code is issued (single use).

use std::time::Duration;

use gatehouse_core::authorize::ValidatedAuthorization;
use gatehouse_core::scope::ScopeDefinition;
use gatehouse_core::secret::{KeyedHasher, constant_time_eq, random_token};
use gatehouse_core::store::{Namespace, Records, ShortLivedStore, StoreResult};
use serde::{Deserialize, Serialize};

use crate::cookies;
use crate::csrf::Browser;
use crate::token_client::{AuthorizationContext, ClientDisplay};

/// Key prefix inside [`Namespace::Challenge`] for authorization challenges.
const AUTHORIZATION: &str = "authz.";
/// Key prefix inside [`Namespace::Challenge`] for logout confirmations.
const LOGOUT: &str = "logout.";
/// Key prefix inside [`Namespace::Challenge`] for the original requests of challenges.
const RESTART: &str = "restart.";
/// Key prefix inside [`Namespace::Challenge`] for sign-ins waiting for their second factor.
const SECOND_FACTOR: &str = "mfa.";
/// Key prefix inside [`Namespace::Challenge`] for the verifiers of an external app's answers
/// (`login_verifier`, `consent_verifier`, `logout_verifier`), under their keyed hashes.
const VERIFIER: &str = "verifier.";
/// How much longer than its challenge an original request is kept: long enough for a tab left
/// open overnight to start again from its expired page.
const RESTART_GRACE: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    pub request: ValidatedAuthorization,
    pub client: ClientDisplay,
    /// Every requested scope with its catalogue entry, in the order requested.
    pub scopes: Vec<ScopeDefinition>,
    /// Keyed hash of the browser cookie of the browser that started it.
    pub browser: String,
    /// Set once the user has signed in (or was signed in) for this request.
    pub authenticated: Option<Authenticated>,
    /// For a device authorization (RFC 8628, the `/device` page): its handle. The answer then
    /// goes to the token service, not to a redirect URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// In external UI mode (`GATEHOUSE_UI=external`): where the external app's answers stand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<crate::external::ExternalState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authenticated {
    pub subject: String,
    pub auth_time: i64,
    pub sid: String,
    /// RFC 8176 methods of the sign-in (empty in challenges of older releases: a password).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

impl Challenge {
    pub fn new(context: AuthorizationContext, browser_hash: String) -> Self {
        Self {
            request: context.request,
            client: context.client,
            scopes: context.scopes,
            browser: browser_hash,
            authenticated: None,
            device: None,
            external: None,
        }
    }

    /// The scopes to list on the consent screen: the technical and hidden ones left out.
    pub fn visible_scopes(&self) -> impl Iterator<Item = &ScopeDefinition> {
        self.scopes
            .iter()
            .filter(|s| !s.hidden && !s.name.is_technical())
    }
}

/// An RP-initiated logout waiting for the user's confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutChallenge {
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub browser: String,
    /// The client that asked, for the signed-out page's "sign in again".
    #[serde(default)]
    pub client: Option<ClientDisplay>,
    /// External UI mode: who is signed out, and the logout URL as the client sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_url: Option<String>,
}

/// A sign-in whose password was right (or a session that must step up), waiting for its second
/// factor: nothing is signed in until the code is accepted. Bound to the browser that gave the
/// password, like a challenge, and taken (single use) when the sign-in completes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSignIn {
    pub subject: String,
    /// Keyed hash of the browser cookie of the browser that gave the password.
    pub browser: String,
    pub remember: bool,
    /// The authorization request to continue with, if any.
    pub challenge: Option<String>,
    /// The portal page to return to (no challenge).
    pub return_to: Option<String>,
    /// The user has no factor and must enrol one first (`GATEHOUSE_MFA=required`, the client's
    /// `require_mfa` or `acr_values`).
    pub enrol: bool,
    /// The enrolment in progress, once its secret was shown.
    pub factor_id: Option<String>,
    /// The enrolment was confirmed: the recovery codes were shown, and the next step completes
    /// the sign-in.
    pub verified: bool,
    /// A step-up of a live session keeps its session id.
    pub sid: Option<String>,
}

/// The authorization request a challenge came from, kept beyond the challenge so its expired page
/// can start the same request again (a fresh validation, a fresh challenge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginalRequest {
    /// The recognised parameters, as the client sent them.
    pub params: Vec<(String, String)>,
    pub browser: String,
}

pub struct Challenges<'a> {
    pub store: &'a dyn ShortLivedStore,
    /// Hashes browser cookies for the binding.
    pub keys: &'a KeyedHasher,
    pub ttl: Duration,
}

impl Challenges<'_> {
    pub fn browser_hash(&self, browser: &Browser) -> String {
        self.keys.hash(browser.id())
    }

    fn bound_to(&self, stored: &str, browser: Option<&Browser>) -> bool {
        browser
            .is_some_and(|b| constant_time_eq(self.browser_hash(b).as_bytes(), stored.as_bytes()))
    }

    /// Stores a new challenge; answers its id.
    pub async fn create(&self, challenge: &Challenge) -> StoreResult<String> {
        let id = random_token(32);
        self.save(&id, challenge).await?;
        Ok(id)
    }

    /// Replaces the challenge stored under `id`.
    pub async fn save(&self, id: &str, challenge: &Challenge) -> StoreResult<()> {
        Records::new(self.store)
            .put(
                Namespace::Challenge,
                &key(AUTHORIZATION, id),
                challenge,
                self.ttl,
            )
            .await
    }

    /// The challenge `id`, when it exists and belongs to this browser.
    pub async fn load(
        &self,
        id: &str,
        browser: Option<&Browser>,
    ) -> StoreResult<Option<Challenge>> {
        if !cookies::is_token(id) {
            return Ok(None);
        }
        let found: Option<Challenge> = Records::new(self.store)
            .get(Namespace::Challenge, &key(AUTHORIZATION, id))
            .await?;
        Ok(found.filter(|c| self.bound_to(&c.browser, browser)))
    }

    /// Takes the challenge `id` (single use): of concurrent takers only one gets it. Its
    /// original request goes too: an answered request is not started again.
    pub async fn take(&self, id: &str) -> StoreResult<Option<Challenge>> {
        if !cookies::is_token(id) {
            return Ok(None);
        }
        let records = Records::new(self.store);
        let taken = records
            .take(Namespace::Challenge, &key(AUTHORIZATION, id))
            .await?;
        if taken.is_some() {
            records
                .delete(Namespace::Challenge, &key(RESTART, id))
                .await?;
        }
        Ok(taken)
    }

    /// Keeps the original request of challenge `id`, for a day longer than the challenge.
    pub async fn remember_request(&self, id: &str, original: &OriginalRequest) -> StoreResult<()> {
        Records::new(self.store)
            .put(
                Namespace::Challenge,
                &key(RESTART, id),
                original,
                self.ttl + RESTART_GRACE,
            )
            .await
    }

    /// The original request of challenge `id`, when it is still known and this browser sent it.
    pub async fn original_request(
        &self,
        id: &str,
        browser: Option<&Browser>,
    ) -> StoreResult<Option<OriginalRequest>> {
        if !cookies::is_token(id) {
            return Ok(None);
        }
        let found: Option<OriginalRequest> = Records::new(self.store)
            .get(Namespace::Challenge, &key(RESTART, id))
            .await?;
        Ok(found.filter(|r| self.bound_to(&r.browser, browser)))
    }

    /// Stores a new pending sign-in; answers its id.
    pub async fn create_pending(&self, pending: &PendingSignIn) -> StoreResult<String> {
        let id = random_token(32);
        self.save_pending(&id, pending).await?;
        Ok(id)
    }

    /// Replaces the pending sign-in stored under `id`.
    pub async fn save_pending(&self, id: &str, pending: &PendingSignIn) -> StoreResult<()> {
        Records::new(self.store)
            .put(
                Namespace::Challenge,
                &key(SECOND_FACTOR, id),
                pending,
                self.ttl,
            )
            .await
    }

    /// The pending sign-in `id`, when it is this browser's.
    pub async fn load_pending(
        &self,
        id: &str,
        browser: Option<&Browser>,
    ) -> StoreResult<Option<PendingSignIn>> {
        if !cookies::is_token(id) {
            return Ok(None);
        }
        let found: Option<PendingSignIn> = Records::new(self.store)
            .get(Namespace::Challenge, &key(SECOND_FACTOR, id))
            .await?;
        Ok(found.filter(|p| self.bound_to(&p.browser, browser)))
    }

    /// Takes the pending sign-in `id` (single use), when it is this browser's: of concurrent
    /// takers only one gets it.
    pub async fn take_pending(
        &self,
        id: &str,
        browser: Option<&Browser>,
    ) -> StoreResult<Option<PendingSignIn>> {
        if !cookies::is_token(id) {
            return Ok(None);
        }
        // Checked before taking: another browser's attempt must not spend this one's sign-in.
        if self.load_pending(id, browser).await?.is_none() {
            return Ok(None);
        }
        let taken: Option<PendingSignIn> = Records::new(self.store)
            .take(Namespace::Challenge, &key(SECOND_FACTOR, id))
            .await?;
        Ok(taken.filter(|p| self.bound_to(&p.browser, browser)))
    }

    pub async fn create_logout(&self, logout: &LogoutChallenge) -> StoreResult<String> {
        let id = random_token(32);
        Records::new(self.store)
            .put(Namespace::Challenge, &key(LOGOUT, &id), logout, self.ttl)
            .await?;
        Ok(id)
    }

    pub async fn take_logout(
        &self,
        id: &str,
        browser: Option<&Browser>,
    ) -> StoreResult<Option<LogoutChallenge>> {
        if !cookies::is_token(id) {
            return Ok(None);
        }
        let found: Option<LogoutChallenge> = Records::new(self.store)
            .take(Namespace::Challenge, &key(LOGOUT, id))
            .await?;
        Ok(found.filter(|c| self.bound_to(&c.browser, browser)))
    }
}

impl Challenges<'_> {
    /// The challenge `id`, whoever asks: the external app's admin calls carry no browser cookie.
    /// The binding is checked when the browser comes back with the verifier ([`Self::load`]).
    pub async fn load_unbound(&self, id: &str) -> StoreResult<Option<Challenge>> {
        if !cookies::is_token(id) {
            return Ok(None);
        }
        Records::new(self.store)
            .get(Namespace::Challenge, &key(AUTHORIZATION, id))
            .await
    }

    /// The verifier of `kind` (`login`, `consent`, `logout`) for the challenge `target`: a
    /// keyed hash of both, so the same answer can be named again (a `GET` of an answered
    /// challenge is 410 with the same `redirect_to`, as Hydra) without keeping the verifier;
    /// nobody without the system secret can make it.
    pub fn verifier_for(&self, kind: &str, target: &str) -> String {
        self.keys
            .derive("external-app verifier")
            .hash(&format!("{kind}.{target}"))
    }

    /// The single-use verifier of `kind` that leads to the challenge `target`
    /// ([`Self::verifier_for`]); stored under its keyed hash, for as long as a challenge lives.
    pub async fn create_verifier(&self, kind: &str, target: &str) -> StoreResult<String> {
        let verifier = self.verifier_for(kind, target);
        Records::new(self.store)
            .put(
                Namespace::Challenge,
                &self.verifier_key(kind, &verifier),
                &target.to_owned(),
                self.ttl,
            )
            .await?;
        Ok(verifier)
    }

    /// Takes the verifier (single use): the challenge id it leads to, once.
    pub async fn take_verifier(&self, kind: &str, verifier: &str) -> StoreResult<Option<String>> {
        if !cookies::is_token(verifier) {
            return Ok(None);
        }
        Records::new(self.store)
            .take(Namespace::Challenge, &self.verifier_key(kind, verifier))
            .await
    }

    fn verifier_key(&self, kind: &str, verifier: &str) -> String {
        key(VERIFIER, &self.keys.hash(&format!("{kind}.{verifier}")))
    }

    /// The logout challenge `id`, whoever asks (the external app's admin calls).
    pub async fn load_logout_unbound(&self, id: &str) -> StoreResult<Option<LogoutChallenge>> {
        if !cookies::is_token(id) {
            return Ok(None);
        }
        Records::new(self.store)
            .get(Namespace::Challenge, &key(LOGOUT, id))
            .await
    }

    /// Ends the logout challenge `id` unanswered (the external app rejected it).
    pub async fn delete_logout(&self, id: &str) -> StoreResult<bool> {
        if !cookies::is_token(id) {
            return Ok(false);
        }
        Records::new(self.store)
            .delete(Namespace::Challenge, &key(LOGOUT, id))
            .await
    }
}

fn key(kind: &str, id: &str) -> String {
    format!("{kind}{id}")
}
