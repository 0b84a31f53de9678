//! OpenID Connect RP-Initiated Logout 1.0: what the login UI asks before it ends a session.
//!
//! The login UI holds no key, so the token service checks the `id_token_hint` (signed by one of
//! its keys, issued by this issuer; an expired hint is accepted, §2: "the OP SHOULD accept ID
//! Tokens … when the RP … is logging out the End-User") and that a
//! `post_logout_redirect_uri` is registered for the client, by exact comparison (§3).

use std::sync::Arc;

use gatehouse_core::client::Client;
use gatehouse_core::error::OAuthError;
use jsonwebtoken::Validation;
use serde::Deserialize;

use crate::service::TokenService;

/// Longest `id_token_hint` looked at; our ID tokens are far smaller.
const MAX_HINT_LEN: usize = 16 * 1024;

/// A logout request that passed every check.
#[derive(Debug, Clone)]
pub struct ValidatedLogout {
    /// The client named by the hint's `aud` or by `client_id`, if any.
    pub client: Option<Arc<Client>>,
    /// The hint's `sub`, when a hint was given.
    pub subject: Option<String>,
    /// Registered for `client`; `None` when none was requested.
    pub post_logout_redirect_uri: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
pub(crate) struct HintClaims {
    pub(crate) sub: String,
    aud: Audience,
}

impl HintClaims {
    /// Whether the hint was issued to `client_id`.
    pub(crate) fn issued_to(&self, client_id: &str) -> bool {
        audience_contains(&self.aud, client_id)
    }
}

impl TokenService {
    /// Checks a logout request (RP-Initiated Logout 1.0 §2, §3). Every failure is an
    /// `invalid_request` whose description says what to fix; none names a secret.
    pub async fn validate_logout(
        &self,
        id_token_hint: Option<&str>,
        client_id: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
    ) -> Result<ValidatedLogout, OAuthError> {
        let hint = match id_token_hint {
            Some(token) => Some(self.verify_id_token_hint(token)?),
            None => None,
        };
        let client_id = match (&hint, client_id) {
            (Some(h), Some(given)) => {
                if !audience_contains(&h.aud, given) {
                    return Err(OAuthError::invalid_request(
                        "client_id does not match the audience of the id_token_hint",
                    ));
                }
                Some(given.to_owned())
            }
            (Some(h), None) => match &h.aud {
                Audience::One(a) => Some(a.clone()),
                Audience::Many(list) if list.len() == 1 => list.first().cloned(),
                Audience::Many(_) => {
                    return Err(OAuthError::invalid_request(
                        "the id_token_hint has several audiences: send client_id too",
                    ));
                }
            },
            (None, given) => given.map(str::to_owned),
        };
        let client = match &client_id {
            Some(id) => Some(self.client(id).await?.ok_or_else(|| {
                OAuthError::invalid_request("no client is registered with this client_id")
            })?),
            None => None,
        };
        let post_logout_redirect_uri = match (post_logout_redirect_uri, &client) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(OAuthError::invalid_request(
                    "post_logout_redirect_uri needs an id_token_hint or a client_id",
                ));
            }
            (Some(uri), Some(client)) => {
                if !client
                    .metadata
                    .post_logout_redirect_uris
                    .iter()
                    .any(|r| r == uri)
                {
                    return Err(OAuthError::invalid_request(
                        "the post_logout_redirect_uri is not registered for this client",
                    ));
                }
                Some(uri.to_owned())
            }
        };
        Ok(ValidatedLogout {
            client,
            subject: hint.map(|h| h.sub),
            post_logout_redirect_uri,
        })
    }

    /// An ID token we signed for this issuer, expired or not. Access tokens (`typ: at+jwt`) are
    /// refused: they are not ID tokens.
    pub(crate) fn verify_id_token_hint(&self, token: &str) -> Result<HintClaims, OAuthError> {
        let refused = || OAuthError::invalid_request("the id_token_hint is not a valid ID token");
        if token.len() > MAX_HINT_LEN || token.matches('.').count() != 2 {
            return Err(refused());
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| refused())?;
        if header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt"))
        {
            return Err(refused());
        }
        let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.set_issuer(&[self.settings.issuer.as_str()]);
        validation.set_required_spec_claims(&["iss", "sub", "aud"]);
        self.keys()
            .verify::<HintClaims>(token, validation)
            .map_err(|_| refused())
    }
}

fn audience_contains(aud: &Audience, client_id: &str) -> bool {
    match aud {
        Audience::One(a) => a == client_id,
        Audience::Many(list) => list.iter().any(|a| a == client_id),
    }
}
