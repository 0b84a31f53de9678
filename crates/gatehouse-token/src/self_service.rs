//! What signed-in users change themselves on the account page (`/account`): their profile, their
//! password and their email address.
//!
//! A stolen session cookie must not be enough to take the account over, so the two changes
//! that would hand it to someone else (the password, and the address password resets go to)
//! ask for the current password first; a wrong one counts toward the failed-login lock like a
//! wrong password at sign-in. A new address is not the user's until a link mailed to it is used:
//! until then the old one stays, verified as it was, so a typo cannot lock the user out.

use std::time::Duration;

use gatehouse_core::account_recovery::{LinkPurpose, check_new_password, is_plausible_email};
use gatehouse_core::secret::SecretString;
use gatehouse_core::user::User;

use crate::accounts::AccountError;
use crate::authorization::Authentication;
use crate::password::{PasswordHashParams, hash_password};
use crate::service::TokenService;

/// How a change the user asked for ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Done: the user as stored now (for an email change, as it stays until the link is used).
    Done(Box<User>),
    /// The current password was wrong; nothing changed.
    WrongPassword { attempts_left: Option<u32> },
    /// Too many failed attempts: refused without looking at the password.
    Locked { retry_after: Duration },
    /// A value the rules refuse, by its code: `invalid_name`, `invalid_picture`,
    /// `invalid_email`, `same_email`, or a weak password's code (`too_short`, `too_long`,
    /// `is_username`, `common`). Nothing changed.
    Refused(&'static str),
}

/// Most characters of a display name (as the admin API allows).
const MAX_NAME_CHARS: usize = 256;
/// Most bytes of a picture URL.
const MAX_PICTURE_BYTES: usize = 2048;

impl TokenService {
    /// The enabled user `user_id`; a deleted or disabled one is `Disabled` (their session is
    /// over).
    async fn enabled_user(&self, user_id: &str) -> Result<User, AccountError> {
        match self.durable.get_user(user_id).await? {
            Some(user) if !user.disabled => Ok(user),
            _ => Err(AccountError::Disabled),
        }
    }

    /// Checks the current password of `user` as a sign-in would (the lock, the counters).
    async fn reauthenticate(
        &self,
        user: &User,
        current_password: SecretString,
        client_ip: &str,
    ) -> Result<Option<Change>, AccountError> {
        match self
            .authenticate_user(&user.username, current_password, client_ip)
            .await
        {
            Ok(Authentication::Authenticated(found)) if found.id == user.id => Ok(None),
            Ok(Authentication::Locked(lock)) => Ok(Some(Change::Locked {
                retry_after: lock.retry_after,
            })),
            Ok(Authentication::Refused { attempts_left, .. }) => {
                Ok(Some(Change::WrongPassword { attempts_left }))
            }
            Ok(Authentication::Authenticated(_)) => Ok(Some(Change::WrongPassword {
                attempts_left: None,
            })),
            // A password over 1,024 characters is not the current one.
            Err(e) if e.code == gatehouse_core::ErrorCode::InvalidRequest => {
                Ok(Some(Change::WrongPassword {
                    attempts_left: None,
                }))
            }
            Err(_) => Err(AccountError::Hash),
        }
    }

    /// Sets the user's display name and picture URL; empty values clear them.
    pub async fn update_profile(
        &self,
        user_id: &str,
        name: &str,
        picture: &str,
    ) -> Result<Change, AccountError> {
        let name = name.trim();
        let picture = picture.trim();
        if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Ok(Change::Refused("invalid_name"));
        }
        let picture_ok = picture.is_empty()
            || (picture.len() <= MAX_PICTURE_BYTES
                && url::Url::parse(picture)
                    .is_ok_and(|u| u.host().is_some() && matches!(u.scheme(), "https" | "http")));
        if !picture_ok {
            return Ok(Change::Refused("invalid_picture"));
        }
        let current = self.enabled_user(user_id).await?;
        let user = User {
            name: (!name.is_empty()).then(|| name.to_owned()),
            picture: (!picture.is_empty()).then(|| picture.to_owned()),
            updated_at: self.clock.now(),
            ..current
        };
        self.durable.update_user(&user).await?;
        tracing::info!(subject = %user.id, "a user changed their profile");
        Ok(Change::Done(Box::new(user)))
    }

    /// Sets a new password once the current one is given. The caller's other login sessions
    /// are the login UI's to end; apps the user connected keep their access (the connected-apps
    /// page ends that).
    pub async fn change_password(
        &self,
        user_id: &str,
        current_password: SecretString,
        new_password: SecretString,
        client_ip: &str,
    ) -> Result<Change, AccountError> {
        let user = self.enabled_user(user_id).await?;
        // The rules first: a refused new password costs no attempt at the current one.
        if let Err(weak) = check_new_password(&user.username, new_password.expose()) {
            return Ok(Change::Refused(weak.code()));
        }
        if let Some(refusal) = self
            .reauthenticate(&user, current_password, client_ip)
            .await?
        {
            return Ok(refusal);
        }
        let hash = hash_password(new_password, PasswordHashParams::default())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "password hashing failed");
                AccountError::Hash
            })?;
        // Read again: a re-hash at sign-in or an operator may have written meanwhile.
        let current = self.enabled_user(user_id).await?;
        let user = User {
            password_hash: Some(hash),
            updated_at: self.clock.now(),
            ..current
        };
        self.durable.update_user(&user).await?;
        tracing::info!(subject = %user.id, "a user changed their password");
        Ok(Change::Done(Box::new(user)))
    }

    /// Mails a link to `new_email` once the current password is given; the address becomes the
    /// user's (verified) when the link is used (`verify_email`).
    pub async fn request_email_change(
        &self,
        user_id: &str,
        current_password: SecretString,
        new_email: &str,
        language: &str,
        client_ip: &str,
    ) -> Result<Change, AccountError> {
        let new_email = new_email.trim();
        if !is_plausible_email(new_email) {
            return Ok(Change::Refused("invalid_email"));
        }
        let user = self.enabled_user(user_id).await?;
        if user
            .email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(new_email))
            && user.email_verified
        {
            return Ok(Change::Refused("same_email"));
        }
        let minter = self.minter()?;
        if let Some(refusal) = self
            .reauthenticate(&user, current_password, client_ip)
            .await?
        {
            return Ok(refusal);
        }
        let purpose = LinkPurpose::EmailChange {
            email: new_email.to_owned(),
        };
        minter
            .send_verification_link(&user, purpose, language, None)
            .await?;
        tracing::info!(subject = %user.id, "a user asked to change their email address");
        Ok(Change::Done(Box::new(user)))
    }
}
