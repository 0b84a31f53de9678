//! End users' accounts, the token service's side: password-reset and email-verification links
//! (minted, mailed, checked and used here, the one component that holds user records), for the
//! login UI's pages (over gRPC) and the admin API (`POST /admin/users/{id}/password-reset`).
//!
//! A link's token is a 256-bit random value; only its keyed hash is stored, in the short-lived
//! store, with the link's lifetime (`gatehouse_core::account_recovery`). Using a link takes it
//! from the store atomically, so it works once; a failure after the take puts it back (a 5xx
//! spends nothing).
//!
//! "Forgot password?" must not tell whether an account exists: the login UI gets the same
//! answer either way, before anything is looked up, and the lookup and the mail happen in a
//! task of their own. Two limits keep it from being a mail cannon: per client IP (answered, so
//! the page can say "try later") and per account (silent, or it would tell).

use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::account_recovery::{
    AccountLink, LINK_TOKEN_BYTES, LinkPurpose, WeakPassword, check_new_password,
    password_fingerprint,
};
use gatehouse_core::error::OAuthError;
use gatehouse_core::lockout::LoginLimits;
use gatehouse_core::secret::{KeyedHasher, SecretString, random_token};
use gatehouse_core::store::{Namespace, Records, StoreError};
use gatehouse_core::user::User;
use gatehouse_mail::{Letter, LetterKind, Mailer};

use crate::password::{PasswordHashParams, hash_password};
use crate::service::TokenService;

/// Keyed-hash purpose of link tokens.
pub const LINK_HASH_PURPOSE: &str = "account-link";

/// Reset requests one client IP may make per [`REQUEST_WINDOW`].
pub const MAX_RESET_REQUESTS_PER_IP: u64 = 10;
/// Reset mails one account receives per [`REQUEST_WINDOW`], whoever asks.
pub const MAX_RESET_MAILS_PER_ACCOUNT: u64 = 3;
pub const REQUEST_WINDOW: Duration = Duration::from_secs(60 * 60);

/// Users an email address may name in one reset request (addresses are not unique).
const MAX_USERS_PER_EMAIL: u32 = 5;

/// How end users' accounts behave (configuration).
#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// How mail leaves; `None`: no mail, so no password reset or verification by mail.
    pub mailer: Option<Arc<Mailer>>,
    /// `GATEHOUSE_TTL_PASSWORD_RESET` (default 30 minutes).
    pub ttl_password_reset: Duration,
    /// `GATEHOUSE_RESET_ENDS_SESSIONS` (default true): a reset ends every session and grant.
    pub reset_ends_sessions: bool,
    /// `GATEHOUSE_SELF_REGISTRATION` (default false): people create their own accounts.
    pub self_registration: bool,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            mailer: None,
            ttl_password_reset: gatehouse_core::account_recovery::DEFAULT_PASSWORD_RESET_TTL,
            reset_ends_sessions: true,
            self_registration: false,
        }
    }
}

/// Registrations one client IP may start per [`REQUEST_WINDOW`].
pub const MAX_REGISTRATIONS_PER_IP: u64 = 10;

/// What a person asks for when creating their own account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub email: String,
    pub password: SecretString,
}

/// How a self-registration ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    /// No mail configured: the account exists and can sign in now.
    Created(Box<User>),
    /// A link went to the address; the account is created when it is used.
    VerificationSent,
    /// Refused, with the reason's code: `username_taken`, `invalid_username`, `invalid_email`,
    /// or a [`WeakPassword`] code. Nothing was stored.
    Refused(&'static str),
    /// This client IP started too many registrations.
    TooMany { retry_after: Duration },
}

/// The answer to "Forgot password?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetRequested {
    /// Whether or not anyone gets a mail.
    Accepted,
    /// This client IP asked too often; nothing happens.
    TooMany { retry_after: Duration },
}

/// Who a live link is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTarget {
    pub user: User,
    pub link: AccountLink,
}

/// How using a reset link ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetOutcome {
    Reset {
        user: Box<User>,
        challenge: Option<String>,
    },
    /// The new password breaks a rule; nothing changed and the link still works.
    Refused(WeakPassword),
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("no mail can be sent: GATEHOUSE_SMTP_URL is not set")]
    MailOff,
    #[error("the link is unknown, used, expired or no longer applies")]
    DeadLink,
    #[error("the user has no email address")]
    NoEmail,
    #[error("the user is disabled")]
    Disabled,
    #[error("sending the mail failed: {0}")]
    Mail(String),
    #[error("password hashing failed")]
    Hash,
    #[error("self-registration is off")]
    RegistrationOff,
    #[error("the username was taken meanwhile")]
    UsernameTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AccountError {
    pub fn into_oauth(self) -> OAuthError {
        match self {
            Self::MailOff => OAuthError::new(
                gatehouse_core::ErrorCode::TemporarilyUnavailable,
                "no mail can be sent: the server has no SMTP settings",
            ),
            Self::DeadLink => OAuthError::new(
                gatehouse_core::ErrorCode::NotFound,
                "the link is unknown, used, expired or no longer applies",
            ),
            Self::NoEmail => OAuthError::invalid_request("the user has no email address"),
            Self::Disabled => OAuthError::invalid_request("the user is disabled"),
            Self::Mail(_) => OAuthError::new(
                gatehouse_core::ErrorCode::TemporarilyUnavailable,
                "sending the mail failed",
            ),
            Self::Hash => OAuthError::server_error(),
            Self::RegistrationOff => OAuthError::new(
                gatehouse_core::ErrorCode::NotFound,
                "self-registration is off",
            ),
            Self::UsernameTaken => OAuthError::new(
                gatehouse_core::ErrorCode::Conflict,
                "the username was taken meanwhile",
            ),
            Self::Store(e) => crate::service::store_error(e),
        }
    }
}

/// The parts of the service a background mail task needs; cheap to clone into it.
#[derive(Clone)]
pub(crate) struct LinkMinter {
    durable: Arc<dyn gatehouse_core::store::DurableStore>,
    short_lived: Arc<dyn gatehouse_core::store::ShortLivedStore>,
    mailer: Arc<Mailer>,
    links: KeyedHasher,
    limits: KeyedHasher,
    issuer: String,
    ttl_password_reset: Duration,
    now: i64,
}

impl TokenService {
    pub fn account_settings(&self) -> &AccountSettings {
        &self.settings.accounts
    }

    fn link_keys(&self) -> KeyedHasher {
        self.tokens.derive(LINK_HASH_PURPOSE)
    }

    pub(crate) fn minter(&self) -> Result<LinkMinter, AccountError> {
        let mailer = self
            .settings
            .accounts
            .mailer
            .clone()
            .ok_or(AccountError::MailOff)?;
        Ok(LinkMinter {
            durable: self.durable.clone(),
            short_lived: self.short_lived.clone(),
            mailer,
            links: self.link_keys(),
            limits: self.login_limit_keys.clone(),
            issuer: self.settings.issuer.clone(),
            ttl_password_reset: self.settings.accounts.ttl_password_reset,
            now: self.clock.unix(),
        })
    }

    /// "Forgot password?" for `login` (a username or an email address) from `client_ip`. See
    /// the module documentation for why the answer comes first.
    pub async fn request_password_reset(
        &self,
        login: &str,
        client_ip: &str,
        language: &str,
        challenge: Option<String>,
    ) -> Result<ResetRequested, AccountError> {
        let minter = self.minter()?;
        let key = Namespace::RateLimit.key(&format!(
            "reset-ip:{}",
            self.login_limit_keys.hash(client_ip)
        ));
        let asked = self.short_lived.increment(&key, REQUEST_WINDOW).await?;
        if asked > MAX_RESET_REQUESTS_PER_IP {
            tracing::warn!(
                client_ip,
                "password reset requests from a client IP were limited"
            );
            return Ok(ResetRequested::TooMany {
                retry_after: REQUEST_WINDOW,
            });
        }
        let login = login.trim().to_owned();
        let language = language.to_owned();
        tokio::spawn(async move {
            if let Err(e) = minter.reset_for_login(&login, &language, challenge).await {
                // Neither the login (it may be an address) nor any link is logged.
                tracing::warn!(error = %e, "a requested password reset mail was not sent");
            }
        });
        Ok(ResetRequested::Accepted)
    }

    /// An operator sends `user` a reset link (admin API, CLI, console); errors are reported.
    /// Answers the address written to.
    pub async fn send_password_reset(&self, user: &User) -> Result<String, AccountError> {
        let minter = self.minter()?;
        if user.disabled {
            return Err(AccountError::Disabled);
        }
        let email = user.email.clone().ok_or(AccountError::NoEmail)?;
        minter.send_reset(user, &email, "en", None).await?;
        Ok(email)
    }

    /// Mails `user` a link that confirms their current address (a new or changed one). Without
    /// mail, nothing happens (the address stays unverified) and `Ok(false)` says so.
    pub async fn send_email_verification(
        &self,
        user: &User,
        language: &str,
        challenge: Option<String>,
    ) -> Result<bool, AccountError> {
        let minter = match self.minter() {
            Ok(minter) => minter,
            Err(AccountError::MailOff) => return Ok(false),
            Err(e) => return Err(e),
        };
        let Some(email) = user.email.clone().filter(|_| !user.email_verified) else {
            return Ok(false);
        };
        minter
            .send_verification(user, &email, language, challenge)
            .await?;
        Ok(true)
    }

    /// Mails the owner of `request` the operator's decision on it (approved, changes requested,
    /// rejected with the reason), with the way to the developer portal. Nothing happens without
    /// mail, without an address, or for a request in another state.
    pub async fn notify_partner(
        &self,
        request: &gatehouse_core::registration_request::RegistrationRequest,
    ) -> Result<(), AccountError> {
        use gatehouse_core::registration_request::RequestStatus;
        use gatehouse_mail::PartnerOutcome;
        let Some(mailer) = self.settings.accounts.mailer.clone() else {
            return Ok(());
        };
        let outcome = match request.status {
            RequestStatus::Approved => PartnerOutcome::Approved,
            RequestStatus::ChangesRequested => PartnerOutcome::ChangesRequested,
            RequestStatus::Rejected => PartnerOutcome::Rejected,
            RequestStatus::Pending => return Ok(()),
        };
        let Some(owner) = self.durable.get_user(&request.owner).await? else {
            return Ok(());
        };
        let Some(email) = owner.email.clone() else {
            return Ok(());
        };
        let letter = Letter {
            language: "en".to_owned(),
            greeting_name: owner.name.clone().unwrap_or_else(|| owner.username.clone()),
            kind: LetterKind::PartnerDecision {
                app: request.app.name.clone(),
                outcome,
                reason: Some(request.review_reason.clone()).filter(|r| !r.is_empty()),
                link: format!("{}/developers", self.settings.issuer),
            },
        };
        let delivered = mailer
            .send(&email, &letter)
            .await
            .map_err(|e| AccountError::Mail(e.to_string()))?;
        log_delivery(&owner.id, "partner decision", &delivered);
        Ok(())
    }

    /// Self-registration (`GATEHOUSE_SELF_REGISTRATION`). With mail, the address is confirmed
    /// before the account exists; without, the account is created at once.
    pub async fn register_user(
        &self,
        account: NewAccount,
        client_ip: &str,
        language: &str,
        challenge: Option<String>,
    ) -> Result<Registered, AccountError> {
        if !self.settings.accounts.self_registration {
            return Err(AccountError::RegistrationOff);
        }
        let key = Namespace::RateLimit.key(&format!(
            "register-ip:{}",
            self.login_limit_keys.hash(client_ip)
        ));
        if self.short_lived.increment(&key, REQUEST_WINDOW).await? > MAX_REGISTRATIONS_PER_IP {
            return Ok(Registered::TooMany {
                retry_after: REQUEST_WINDOW,
            });
        }
        let Ok(username) = gatehouse_core::user::Username::parse(account.username.trim()) else {
            return Ok(Registered::Refused("invalid_username"));
        };
        let email = account.email.trim().to_owned();
        if !gatehouse_core::account_recovery::is_plausible_email(&email) {
            return Ok(Registered::Refused("invalid_email"));
        }
        if let Err(weak) = check_new_password(username.as_str(), account.password.expose()) {
            return Ok(Registered::Refused(weak.code()));
        }
        if self
            .durable
            .get_user_by_username(username.as_str())
            .await?
            .is_some()
        {
            return Ok(Registered::Refused("username_taken"));
        }
        let password_hash = hash_password(account.password, PasswordHashParams::default())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "password hashing failed");
                AccountError::Hash
            })?;
        let now = self.clock.now();
        let user = User {
            id: uuid::Uuid::new_v4().to_string(),
            username: username.as_str().to_owned(),
            email: Some(email.clone()),
            email_verified: false,
            name: None,
            picture: None,
            disabled: false,
            password_hash: Some(password_hash.clone()),
            metadata: Default::default(),
            roles: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        let Ok(minter) = self.minter() else {
            return match self.durable.create_user(&user).await {
                Ok(()) => {
                    tracing::info!(subject = %user.id, "a user registered");
                    Ok(Registered::Created(Box::new(user)))
                }
                Err(StoreError::Conflict) => Ok(Registered::Refused("username_taken")),
                Err(e) => Err(e.into()),
            };
        };
        let purpose = LinkPurpose::Registration {
            username: user.username.clone(),
            email: email.clone(),
            password_hash,
        };
        minter
            .send_verification_link(&user, purpose, language, challenge)
            .await?;
        Ok(Registered::VerificationSent)
    }

    /// The user and record behind a live link, without using it.
    pub async fn inspect_link(&self, token: &str) -> Result<LinkTarget, AccountError> {
        let keys = self.link_keys();
        let link: AccountLink = Records::new(self.short_lived.as_ref())
            .get(Namespace::AccountLink, &keys.hash(token))
            .await?
            .ok_or(AccountError::DeadLink)?;
        if let LinkPurpose::Registration {
            username, email, ..
        } = &link.purpose
        {
            // The account does not exist yet; this is who it will be.
            let now = self.clock.now();
            let user = User {
                id: link.subject.clone(),
                username: username.clone(),
                email: Some(email.clone()),
                email_verified: false,
                name: None,
                picture: None,
                disabled: false,
                password_hash: None,
                metadata: Default::default(),
                roles: Vec::new(),
                created_at: now,
                updated_at: now,
            };
            return Ok(LinkTarget { user, link });
        }
        let user = self
            .durable
            .get_user(&link.subject)
            .await?
            .filter(|u| !u.disabled)
            .filter(|u| link.still_applies(&keys, u.password_hash.as_deref(), u.email.as_deref()))
            .ok_or(AccountError::DeadLink)?;
        Ok(LinkTarget { user, link })
    }

    /// Uses a reset link to set `new_password`.
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: SecretString,
    ) -> Result<ResetOutcome, AccountError> {
        let target = self.inspect_link(token).await?;
        if !matches!(target.link.purpose, LinkPurpose::PasswordReset { .. }) {
            return Err(AccountError::DeadLink);
        }
        if let Err(weak) = check_new_password(&target.user.username, new_password.expose()) {
            return Ok(ResetOutcome::Refused(weak));
        }
        // Hashed before the link is taken: the slow, failure-prone step spends nothing.
        let hash = hash_password(new_password, PasswordHashParams::default())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "password hashing failed");
                AccountError::Hash
            })?;
        let keys = self.link_keys();
        let id = keys.hash(token);
        let records = Records::new(self.short_lived.as_ref());
        let Some(link) = records
            .take::<AccountLink>(Namespace::AccountLink, &id)
            .await?
        else {
            // Used meanwhile by a concurrent request.
            return Err(AccountError::DeadLink);
        };
        let give_back = || async {
            let left = self.settings.accounts.ttl_password_reset;
            if let Err(e) = records.put(Namespace::AccountLink, &id, &link, left).await {
                tracing::warn!(error = %e, "giving a reset link back after a failure failed");
            }
        };
        // Read again after the take: the password may have changed in between.
        let current = match self.durable.get_user(&link.subject).await {
            Ok(Some(user))
                if !user.disabled
                    && link.still_applies(&keys, user.password_hash.as_deref(), None) =>
            {
                user
            }
            Ok(_) => return Err(AccountError::DeadLink),
            Err(e) => {
                give_back().await;
                return Err(e.into());
            }
        };
        let user = User {
            password_hash: Some(hash),
            // Not marked verified here: the address may have changed since the link was sent
            // (the link pins the password, not the address).
            updated_at: self.clock.now(),
            ..current
        };
        if let Err(e) = self.durable.update_user(&user).await {
            give_back().await;
            return Err(e.into());
        }
        tracing::info!(subject = %user.id, "a user reset their password");
        let limits = LoginLimits {
            store: self.short_lived.as_ref(),
            keys: &self.login_limit_keys,
            policy: &self.settings.lockout,
        };
        if let Err(e) = limits.unlock(&user.username).await {
            tracing::warn!(error = %e, "lifting the login lock after a password reset failed");
        }
        if self.settings.accounts.reset_ends_sessions {
            // The password is set; ending the sessions is retried by nothing, so report it.
            self.revocations.end_user(&user.id).await?;
        }
        Ok(ResetOutcome::Reset {
            user: Box::new(user),
            challenge: link.challenge,
        })
    }

    /// Uses an email-verification link.
    pub async fn verify_email(&self, token: &str) -> Result<(User, Option<String>), AccountError> {
        let target = self.inspect_link(token).await?;
        if let LinkPurpose::Registration { password_hash, .. } = &target.link.purpose {
            return self
                .complete_registration(token, target.user, password_hash.clone())
                .await;
        }
        let (email, change) = match &target.link.purpose {
            LinkPurpose::EmailVerification { email } => (email.clone(), false),
            LinkPurpose::EmailChange { email } => (email.clone(), true),
            _ => return Err(AccountError::DeadLink),
        };
        let keys = self.link_keys();
        let id = keys.hash(token);
        let records = Records::new(self.short_lived.as_ref());
        let Some(link) = records
            .take::<AccountLink>(Namespace::AccountLink, &id)
            .await?
        else {
            return Err(AccountError::DeadLink);
        };
        // Read again after the take: the user may have changed or been disabled meanwhile.
        let current = match self.durable.get_user(&link.subject).await {
            Ok(Some(user)) if !user.disabled => user,
            Ok(_) => return Err(AccountError::DeadLink),
            Err(e) => {
                let ttl = gatehouse_core::account_recovery::EMAIL_VERIFICATION_TTL;
                if let Err(e) = records.put(Namespace::AccountLink, &id, &link, ttl).await {
                    tracing::warn!(error = %e, "giving a verification link back after a failure failed");
                }
                return Err(e.into());
            }
        };
        let user = User {
            email: if change {
                Some(email.clone())
            } else {
                current.email.clone()
            },
            email_verified: true,
            updated_at: self.clock.now(),
            ..current
        };
        if user.email.as_deref().map(str::to_ascii_lowercase) != Some(email.to_ascii_lowercase()) {
            return Err(AccountError::DeadLink);
        }
        if let Err(e) = self.durable.update_user(&user).await {
            let ttl = gatehouse_core::account_recovery::EMAIL_VERIFICATION_TTL;
            if let Err(e) = records.put(Namespace::AccountLink, &id, &link, ttl).await {
                tracing::warn!(error = %e, "giving a verification link back after a failure failed");
            }
            return Err(e.into());
        }
        if change {
            tracing::info!(subject = %user.id, "a user changed their email address");
        } else {
            tracing::info!(subject = %user.id, "a user verified their email address");
        }
        Ok((user, link.challenge))
    }
}

impl LinkMinter {
    async fn reset_for_login(
        &self,
        login: &str,
        language: &str,
        challenge: Option<String>,
    ) -> Result<(), AccountError> {
        let users = match self.durable.get_user_by_username(login).await? {
            Some(user) => vec![user],
            None if login.contains('@') => {
                self.durable
                    .find_users_by_email(login, MAX_USERS_PER_EMAIL)
                    .await?
            }
            None => Vec::new(),
        };
        for user in users.into_iter().filter(|u| !u.disabled) {
            let Some(email) = user.email.clone() else {
                continue;
            };
            let key =
                Namespace::RateLimit.key(&format!("reset-user:{}", self.limits.hash(&user.id)));
            if self.short_lived.increment(&key, REQUEST_WINDOW).await? > MAX_RESET_MAILS_PER_ACCOUNT
            {
                tracing::warn!(subject = %user.id, "password reset mails to an account were limited");
                continue;
            }
            self.send_reset(&user, &email, language, challenge.clone())
                .await?;
        }
        Ok(())
    }

    /// Mints a reset link for `user`, stores it and mails it to `email`. A link whose mail was
    /// not sent is deleted again.
    async fn send_reset(
        &self,
        user: &User,
        email: &str,
        language: &str,
        challenge: Option<String>,
    ) -> Result<(), AccountError> {
        let token = random_token(LINK_TOKEN_BYTES);
        let id = self.links.hash(&token);
        let link = AccountLink {
            subject: user.id.clone(),
            purpose: LinkPurpose::PasswordReset {
                password_fingerprint: password_fingerprint(
                    &self.links,
                    user.password_hash.as_deref(),
                ),
            },
            challenge,
            issued_at: self.now,
        };
        let records = Records::new(self.short_lived.as_ref());
        records
            .put(Namespace::AccountLink, &id, &link, self.ttl_password_reset)
            .await?;
        let letter = Letter {
            language: language.to_owned(),
            greeting_name: user.name.clone().unwrap_or_else(|| user.username.clone()),
            kind: LetterKind::PasswordReset {
                username: user.username.clone(),
                link: format!("{}/ui/reset-password?token={token}", self.issuer),
                valid_for: self.ttl_password_reset,
            },
        };
        match self.mailer.send(email, &letter).await {
            Ok(delivered) => {
                log_delivery(&user.id, "password reset", &delivered);
                Ok(())
            }
            Err(e) => {
                let _ = records.delete(Namespace::AccountLink, &id).await;
                Err(AccountError::Mail(e.to_string()))
            }
        }
    }
}

impl TokenService {
    /// Creates a self-registered account whose link was just used: the address is confirmed.
    async fn complete_registration(
        &self,
        token: &str,
        pending: User,
        password_hash: String,
    ) -> Result<(User, Option<String>), AccountError> {
        let id = self.link_keys().hash(token);
        let records = Records::new(self.short_lived.as_ref());
        let Some(link) = records
            .take::<AccountLink>(Namespace::AccountLink, &id)
            .await?
        else {
            return Err(AccountError::DeadLink);
        };
        let now = self.clock.now();
        let user = User {
            email_verified: true,
            password_hash: Some(password_hash),
            created_at: now,
            updated_at: now,
            ..pending
        };
        match self.durable.create_user(&user).await {
            Ok(()) => {
                tracing::info!(subject = %user.id, "a user registered and confirmed their address");
                Ok((user, link.challenge))
            }
            // Someone else took the name meanwhile: this link can never succeed.
            Err(StoreError::Conflict) => Err(AccountError::UsernameTaken),
            Err(e) => {
                let ttl = gatehouse_core::account_recovery::EMAIL_VERIFICATION_TTL;
                if let Err(e) = records.put(Namespace::AccountLink, &id, &link, ttl).await {
                    tracing::warn!(error = %e, "giving a registration link back after a failure failed");
                }
                Err(e.into())
            }
        }
    }
}

impl LinkMinter {
    async fn send_verification(
        &self,
        user: &User,
        email: &str,
        language: &str,
        challenge: Option<String>,
    ) -> Result<(), AccountError> {
        let purpose = LinkPurpose::EmailVerification {
            email: email.to_owned(),
        };
        self.send_verification_link(user, purpose, language, challenge)
            .await
    }

    /// Stores a link for `purpose` (a verification, an address change or a registration) and
    /// mails it to the address the purpose confirms.
    pub(crate) async fn send_verification_link(
        &self,
        user: &User,
        purpose: LinkPurpose,
        language: &str,
        challenge: Option<String>,
    ) -> Result<(), AccountError> {
        let email = purpose
            .recipient()
            .map(str::to_owned)
            .ok_or(AccountError::NoEmail)?;
        let email = email.as_str();
        let ttl = gatehouse_core::account_recovery::EMAIL_VERIFICATION_TTL;
        let token = random_token(LINK_TOKEN_BYTES);
        let id = self.links.hash(&token);
        let link = AccountLink {
            subject: user.id.clone(),
            purpose,
            challenge,
            issued_at: self.now,
        };
        let records = Records::new(self.short_lived.as_ref());
        records.put(Namespace::AccountLink, &id, &link, ttl).await?;
        let letter = Letter {
            language: language.to_owned(),
            greeting_name: user.name.clone().unwrap_or_else(|| user.username.clone()),
            kind: LetterKind::EmailVerification {
                username: user.username.clone(),
                email: email.to_owned(),
                link: format!("{}/ui/verify-email?token={token}", self.issuer),
                valid_for: ttl,
            },
        };
        match self.mailer.send(email, &letter).await {
            Ok(delivered) => {
                log_delivery(&user.id, "email verification", &delivered);
                Ok(())
            }
            Err(e) => {
                let _ = records.delete(Namespace::AccountLink, &id).await;
                Err(AccountError::Mail(e.to_string()))
            }
        }
    }
}

/// Says where a mail went: in dev mode the file (whose content holds the link; the log never
/// does).
fn log_delivery(subject: &str, what: &str, delivered: &gatehouse_mail::Delivered) {
    match delivered {
        gatehouse_mail::Delivered::Smtp => {
            tracing::info!(subject, mail = what, "mail sent");
        }
        gatehouse_mail::Delivered::File(path) => {
            tracing::info!(subject, mail = what, file = %path.display(), "mail written to a file (dev mode)");
        }
    }
}
