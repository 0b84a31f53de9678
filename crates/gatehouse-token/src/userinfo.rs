//! The UserInfo endpoint (OpenID Connect Core §5.3): claims about the user behind an access
//! token, gated by scope (§5.4): `profile` gives name, username, picture and update time;
//! `email` gives the address and whether it is verified; a catalogue scope with custom claims
//! gives those claims from the user's metadata (`gatehouse_core::claims`). The same rules fill
//! the ID token (`issue.rs`).

use gatehouse_core::claims::{Release, release};
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::scope::RESERVED_CLAIMS;
use gatehouse_core::secret::constant_time_eq;
use serde_json::{Map, Value, json};

use crate::service::{TokenService, store_error};

/// How an access token was presented: as a bearer token, or with a DPoP proof whose key has
/// this thumbprint (RFC 9449 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presentation<'a> {
    Bearer,
    Dpop { jkt: &'a str },
}

/// RFC 9449 §7.1: a bound token only with a proof of its key; a DPoP proof only with a bound
/// token.
pub fn check_presentation(
    bound_to: Option<&str>,
    presented: Presentation<'_>,
) -> Result<(), OAuthError> {
    match (bound_to, presented) {
        (None, Presentation::Bearer) => Ok(()),
        (Some(_), Presentation::Bearer) => Err(OAuthError::new(
            ErrorCode::InvalidToken,
            "this access token is DPoP-bound: present it with the DPoP scheme and a proof",
        )),
        (None, Presentation::Dpop { .. }) => Err(OAuthError::new(
            ErrorCode::InvalidToken,
            "this access token is not DPoP-bound: present it with the Bearer scheme",
        )),
        (Some(bound), Presentation::Dpop { jkt })
            if constant_time_eq(bound.as_bytes(), jkt.as_bytes()) =>
        {
            Ok(())
        }
        (Some(_), Presentation::Dpop { .. }) => Err(OAuthError::new(
            ErrorCode::InvalidDpopProof,
            "the DPoP proof is not signed by the key the access token is bound to",
        )),
    }
}

impl TokenService {
    /// Claims for the bearer of `token`. `invalid_token` when the token is not a live user token.
    pub async fn userinfo(&self, token: &str) -> Result<Map<String, Value>, OAuthError> {
        self.userinfo_presented(token, Presentation::Bearer).await
    }

    /// Claims for the holder of `token`, presented as `presented` (a DPoP proof already checked).
    pub async fn userinfo_presented(
        &self,
        token: &str,
        presented: Presentation<'_>,
    ) -> Result<Map<String, Value>, OAuthError> {
        let invalid = || {
            OAuthError::new(
                ErrorCode::InvalidToken,
                "the access token is invalid or expired",
            )
        };
        let access = self.active_access_token(token).await?.ok_or_else(invalid)?;
        check_presentation(access.dpop_jkt.as_deref(), presented)?;
        let subject = access.subject.ok_or_else(|| {
            OAuthError::new(
                ErrorCode::InvalidToken,
                "the access token was not issued to a user",
            )
        })?;
        let user = self
            .durable
            .get_user(&subject)
            .await
            .map_err(store_error)?
            .filter(|u| !u.disabled)
            .ok_or_else(invalid)?;
        let catalogue = self.catalogue().await?;
        let mut claims = release(
            &user,
            &user.metadata,
            &access.scope,
            &catalogue,
            Release::Covered,
        );
        // `sub` is the server's, set last: no released claim can stand in for it.
        claims.retain(|name, _| !RESERVED_CLAIMS.contains(&name.as_str()));
        claims.insert("sub".into(), json!(user.id));
        Ok(claims)
    }
}
