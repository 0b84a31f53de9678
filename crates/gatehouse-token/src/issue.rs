//! Minting: opaque and JWT access tokens (RFC 9068), refresh tokens and ID tokens (OpenID
//! Connect Core §2). Opaque values carry a recognisable prefix, so secret scanners and operators
//! can tell what a leaked string is, and are stored only as keyed hashes.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_core::claims::{self, ClaimRequest, Release};
use gatehouse_core::client::{AccessTokenStrategy, Client, IdTokenClaims};
use gatehouse_core::error::OAuthError;
use gatehouse_core::grant::{
    AccessTokenRecord, GrantRevocationReason, RESERVED_ID_TOKEN_CLAIMS, SessionClaims,
    allowed_access_token_claims,
};
use gatehouse_core::scope::{RESERVED_CLAIMS, ScopeSet};
use gatehouse_core::secret::random_token;
use gatehouse_core::store::{Namespace, Records, RefreshToken};
use gatehouse_core::user::User;
use gatehouse_jose::SigningAlgorithm;
use serde::Serialize;
use sha2::Digest as _;
use std::collections::BTreeMap;
use time::OffsetDateTime;

use crate::service::{TokenService, store_error};

pub const ACCESS_TOKEN_PREFIX: &str = "gh_at_";
pub const REFRESH_TOKEN_PREFIX: &str = "gh_rt_";
pub const AUTHORIZATION_CODE_PREFIX: &str = "gh_ac_";

/// The successful token response (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3). Its `Debug`
/// shows the shape, never a token.
#[derive(Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |token: &Option<String>| token.as_ref().map(|_| format_args!("[redacted]"));
        f.debug_struct("TokenResponse")
            .field("access_token", &format_args!("[redacted]"))
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("refresh_token", &hidden(&self.refresh_token))
            .field("id_token", &hidden(&self.id_token))
            .finish()
    }
}

/// RFC 9068 §2.2 claims of a JWT access token.
#[derive(Serialize)]
struct JwtAccessTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a [String],
    exp: i64,
    iat: i64,
    jti: String,
    client_id: &'a str,
    /// The client's internal identity ([`Client::incarnation`]): a private claim, so this
    /// service's introspection and userinfo end the token when the client is deleted.
    client_incarnation: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
    /// The context class of the sign-in (`urn:gatehouse:acr:pwd` or `…:mfa`).
    #[serde(skip_serializing_if = "Option::is_none")]
    acr: Option<&'a str>,
    /// RFC 9449 §6.1: the DPoP key the token is bound to.
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<Confirmation<'a>>,
    /// An external consent app's `session.access_token` claims (none reserved), mirrored under
    /// `ext` as Hydra v2 does. Absent when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    ext: Option<&'a serde_json::Map<String, serde_json::Value>>,
    /// The same claims top level (RFC 9068 §2.2.3 private claims), but never one this token
    /// sets itself (`ext` included).
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

/// RFC 7800 `cnf` with RFC 9449 §6.1's `jkt`.
#[derive(Serialize)]
struct Confirmation<'a> {
    jkt: &'a str,
}

/// OpenID Connect Core §2 ID token claims.
#[derive(Serialize)]
struct IdToken<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    /// RFC 8176 methods of the sign-in (absent from ID tokens a refresh of a family of an older
    /// release mints: its methods are unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    amr: Option<&'a [String]>,
    /// Follows from `amr`: `urn:gatehouse:acr:mfa` with a second factor, else `…:pwd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    acr: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at_hash: Option<String>,
    /// The granted scopes' user claims, for clients registered with `id_token_claims: scopes`.
    #[serde(flatten)]
    user_claims: serde_json::Map<String, serde_json::Value>,
}

/// Who and what an ID token is about.
pub(crate) struct IdTokenGrant<'a> {
    pub client: &'a Client,
    /// The user, already read (and found active) by the grant.
    pub user: &'a User,
    pub scope: &'a ScopeSet,
    pub auth_time: i64,
    pub nonce: Option<&'a str>,
    /// Claims an external consent app added (`session.id_token`); reserved names and the
    /// user's own claims win over them.
    pub session_claims: Option<&'a serde_json::Map<String, serde_json::Value>>,
    /// The `id_token` member of the authorization request's `claims` parameter.
    pub requested: Option<&'a BTreeMap<String, ClaimRequest>>,
    pub access_token: &'a str,
    /// RFC 8176 methods of the sign-in; `None` when unknown (a refresh of an older family).
    pub amr: Option<&'a [String]>,
}

/// What a refresh-token family is restricted to besides its scope.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FamilyBinding<'a> {
    /// RFC 8707 resources the family was authorized for.
    pub resources: &'a [String],
    /// RFC 9449: the DPoP key's thumbprint (kept for public clients only).
    pub dpop_jkt: Option<&'a str>,
    /// An external consent app's `session.id_token` claims, for every refresh's ID token.
    pub id_token_claims: Option<&'a serde_json::Map<String, serde_json::Value>>,
    /// An external consent app's `session.access_token` claims, for every refresh's access token.
    pub access_token_claims: Option<&'a serde_json::Map<String, serde_json::Value>>,
    /// RFC 8176 methods of the sign-in, for every refresh's ID token (`amr`, `acr`) and access
    /// token (`acr`).
    pub amr: Option<&'a [String]>,
}

/// Who and what an access token is for.
pub(crate) struct AccessGrant<'a> {
    pub client: &'a Client,
    pub subject: Option<&'a str>,
    pub scope: &'a ScopeSet,
    pub audience: Vec<String>,
    pub grant_id: Option<&'a str>,
    pub auth_time: Option<i64>,
    /// When the authority behind the token was established, Unix milliseconds (see
    /// `AccessTokenRecord::authorized_at_ms`).
    pub authorized_at_ms: i64,
    /// RFC 9449: the thumbprint of the DPoP key the token is bound to.
    pub dpop_jkt: Option<&'a str>,
    /// An external consent app's `session.access_token` claims; reserved names are dropped.
    pub claims: Option<&'a serde_json::Map<String, serde_json::Value>>,
    /// The context class of the sign-in, when the token comes straight from one.
    pub acr: Option<&'a str>,
}

impl TokenService {
    pub(crate) fn access_token_strategy(&self, client: &Client) -> AccessTokenStrategy {
        match client.metadata.access_token_strategy {
            AccessTokenStrategy::Jwt => AccessTokenStrategy::Jwt,
            AccessTokenStrategy::Opaque => self.settings.access_token_strategy,
        }
    }

    /// Mints an access token; returns it with its lifetime in seconds.
    pub(crate) async fn mint_access_token(
        &self,
        grant: AccessGrant<'_>,
    ) -> Result<(String, u64), OAuthError> {
        let now = self.clock.unix();
        let ttl = self.settings.ttl_access_token;
        let expires_at = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
        let audience = if grant.audience.is_empty() {
            vec![self.settings.issuer.clone()]
        } else {
            grant.audience
        };
        // Filtered here again: a stored grant may hold what the code's issuance would refuse.
        let ext = allowed_access_token_claims(grant.claims);
        if self.access_token_strategy(grant.client) == AccessTokenStrategy::Jwt {
            let scope = grant.scope.to_string();
            let extra = ext
                .iter()
                .flatten()
                .filter(|(name, _)| name.as_str() != "ext")
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect();
            let claims = JwtAccessTokenClaims {
                iss: &self.settings.issuer,
                sub: grant.subject.unwrap_or(&grant.client.id),
                aud: &audience,
                exp: expires_at,
                iat: now,
                jti: random_token(16),
                client_id: &grant.client.id,
                client_incarnation: &grant.client.incarnation,
                scope: &scope,
                auth_time: grant.auth_time,
                acr: grant.acr,
                cnf: grant.dpop_jkt.map(|jkt| Confirmation { jkt }),
                ext: ext.as_ref(),
                extra,
            };
            let keys = self.keys();
            let signer = keys
                .signer(self.settings.access_token_algorithm)
                .map_err(|_| OAuthError::server_error())?;
            let token = signer
                .sign("at+jwt", &claims)
                .map_err(|_| OAuthError::server_error())?;
            return Ok((token, ttl.as_secs()));
        }
        let token = format!("{ACCESS_TOKEN_PREFIX}{}", random_token(32));
        let hash = self.token_hash(&token);
        let record = AccessTokenRecord {
            client_id: grant.client.id.clone(),
            client_incarnation: grant.client.incarnation.clone(),
            subject: grant.subject.map(str::to_owned),
            scope: grant.scope.clone(),
            audience,
            issued_at: now,
            expires_at,
            grant_id: grant.grant_id.map(str::to_owned),
            authorized_at_ms: grant.authorized_at_ms,
            dpop_jkt: grant.dpop_jkt.map(str::to_owned),
            ext,
            acr: grant.acr.map(str::to_owned),
        };
        Records::new(self.short_lived.as_ref())
            .put(Namespace::AccessToken, &hash, &record, ttl)
            .await
            .map_err(store_error)?;
        if let Some(grant_id) = grant.grant_id {
            // Remember which access tokens a grant issued, so revoking the grant ends them too.
            self.short_lived
                .set_add(&Namespace::AccessTokenIndex.key(grant_id), &hash, ttl)
                .await
                .map_err(store_error)?;
        }
        Ok((token, ttl.as_secs()))
    }

    /// Ends every opaque access token issued under `grant_id`.
    pub(crate) async fn revoke_access_tokens_of(&self, grant_id: &str) -> Result<(), OAuthError> {
        let hashes = self
            .short_lived
            .set_take(&Namespace::AccessTokenIndex.key(grant_id))
            .await
            .map_err(store_error)?;
        for hash in hashes {
            self.short_lived
                .delete(&Namespace::AccessToken.key(&hash))
                .await
                .map_err(store_error)?;
        }
        Ok(())
    }

    /// Deletes an opaque access token that was minted but never handed out (a request that
    /// failed after minting). Best effort: an undelivered token is a secret nobody holds.
    pub(crate) async fn forget_access_token(&self, access_token: &str) {
        if !access_token.starts_with(ACCESS_TOKEN_PREFIX) {
            return;
        }
        let key = Namespace::AccessToken.key(&self.token_hash(access_token));
        if let Err(e) = self.short_lived.delete(&key).await {
            tracing::warn!(error = %e, "an undelivered access token could not be deleted; it expires on its own");
        }
    }

    /// Ends a whole grant for cause, remembering why (for the refresh token's lifetime, best
    /// effort: without the note a later refresh is refused all the same, only less helpfully).
    pub(crate) async fn revoke_grant_because(
        &self,
        grant_id: &str,
        reason: GrantRevocationReason,
    ) -> Result<(), OAuthError> {
        if let Err(e) = Records::new(self.short_lived.as_ref())
            .put(
                Namespace::GrantRevocationReason,
                grant_id,
                &reason,
                self.settings.ttl_refresh_token,
            )
            .await
        {
            tracing::warn!(error = %e, "could not note why a grant was revoked");
        }
        self.revoke_grant(grant_id).await
    }

    /// Why the grant `grant_id` was revoked for cause, if that was noted.
    pub(crate) async fn grant_revocation_reason(
        &self,
        grant_id: &str,
    ) -> Option<GrantRevocationReason> {
        Records::new(self.short_lived.as_ref())
            .get(Namespace::GrantRevocationReason, grant_id)
            .await
            .ok()
            .flatten()
    }

    /// Ends a whole grant: its refresh-token family and its access tokens.
    pub(crate) async fn revoke_grant(&self, grant_id: &str) -> Result<(), OAuthError> {
        self.durable
            .revoke_family(grant_id)
            .await
            .map_err(store_error)?;
        self.revoke_access_tokens_of(grant_id).await
    }

    /// A fresh refresh-token value and the record to store for it (family = `grant_id`), with
    /// the family's resources, bound to `binding.dpop_jkt` when the client is public.
    pub(crate) fn new_refresh_token(
        &self,
        client: &Client,
        subject: &str,
        scope: &ScopeSet,
        grant_id: &str,
        auth_time: Option<i64>,
        binding: FamilyBinding<'_>,
    ) -> (String, RefreshToken) {
        let FamilyBinding {
            resources,
            dpop_jkt,
            id_token_claims,
            access_token_claims,
            amr,
        } = binding;
        let non_empty = |claims: Option<&serde_json::Map<String, serde_json::Value>>| {
            claims.filter(|c| !c.is_empty()).cloned()
        };
        let token = format!("{REFRESH_TOKEN_PREFIX}{}", random_token(32));
        let now = self.clock.now();
        let record = RefreshToken {
            token_hash: self.token_hash(&token),
            family_id: grant_id.to_owned(),
            client_id: client.id.clone(),
            client_incarnation: client.incarnation.clone(),
            subject: subject.to_owned(),
            scope: scope.clone(),
            auth_time: auth_time.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok()),
            issued_at: now,
            expires_at: now + self.settings.ttl_refresh_token,
            resources: resources.to_vec(),
            // RFC 9449 §5: only public clients' refresh tokens are bound; a confidential
            // client's are already bound to its credentials.
            dpop_jkt: dpop_jkt
                .filter(|_| client.is_public())
                .unwrap_or_default()
                .to_owned(),
            session_claims: SessionClaims {
                id_token: non_empty(id_token_claims),
                access_token: non_empty(access_token_claims),
                amr: amr.map(<[String]>::to_vec).unwrap_or_default(),
            },
        };
        (token, record)
    }

    /// Signs an ID token for `grant.client` about `grant.user`: the user claims the granted
    /// scopes cover go in for clients registered with `id_token_claims: scopes`, and those the
    /// request's `claims` parameter asked for in `id_token` for every client
    /// (`gatehouse_core::claims`).
    pub(crate) async fn mint_id_token(
        &self,
        grant: IdTokenGrant<'_>,
    ) -> Result<String, OAuthError> {
        let IdTokenGrant {
            client,
            user,
            scope,
            auth_time,
            nonce,
            session_claims,
            requested,
            access_token,
            amr,
        } = grant;
        let everything = client.metadata.id_token_claims == IdTokenClaims::Scopes;
        let requested = requested.filter(|r| !r.is_empty() && !everything);
        let mut user_claims = serde_json::Map::new();
        // Only an ID token that may carry user claims reads the (cached) catalogue.
        if everything || requested.is_some() {
            let catalogue = self.catalogue().await?;
            let release = match requested {
                Some(requested) => Release::Requested(requested),
                None => Release::Covered,
            };
            user_claims = claims::release(user, &user.metadata, scope, &catalogue, release);
        }
        // An external consent app's claims never override a reserved or a user claim.
        for (name, value) in session_claims.into_iter().flatten() {
            if !RESERVED_ID_TOKEN_CLAIMS.contains(&name.as_str()) && !user_claims.contains_key(name)
            {
                user_claims.insert(name.clone(), value.clone());
            }
        }
        // Defence in depth: nothing flattened in may repeat a claim this token sets itself.
        user_claims.retain(|name, _| !RESERVED_CLAIMS.contains(&name.as_str()));
        let subject = user.id.as_str();
        let now = self.clock.unix();
        let alg = self.settings.id_token_algorithm;
        let claims = IdToken {
            iss: &self.settings.issuer,
            sub: subject,
            aud: &client.id,
            exp: now.saturating_add(
                i64::try_from(self.settings.ttl_id_token.as_secs()).unwrap_or(i64::MAX),
            ),
            iat: now,
            auth_time,
            nonce,
            amr,
            acr: amr.map(gatehouse_core::factor::acr_for),
            at_hash: Some(at_hash(alg, access_token)),
            user_claims,
        };
        let keys = self.keys();
        let signer = keys.signer(alg).map_err(|_| OAuthError::server_error())?;
        signer
            .sign("JWT", &claims)
            .map_err(|_| OAuthError::server_error())
    }
}

/// OpenID Connect Core §3.1.3.6: the left half of the hash of the access token, with the hash
/// of the signing algorithm (SHA-512 for Ed25519, per the EdDSA registration).
pub fn at_hash(alg: SigningAlgorithm, access_token: &str) -> String {
    match alg {
        SigningAlgorithm::Rs256 | SigningAlgorithm::Es256 => {
            let digest = sha2::Sha256::digest(access_token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..16])
        }
        SigningAlgorithm::EdDsa => {
            let digest = sha2::Sha512::digest(access_token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..32])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_response_prints_no_token() {
        let response = TokenResponse {
            access_token: "gh_at_access-value-1".into(),
            token_type: "Bearer",
            expires_in: 3600,
            scope: Some("openid offline".into()),
            refresh_token: Some("gh_rt_refresh-value-2".into()),
            id_token: Some("eyJ.id-token-value-3.sig".into()),
        };
        let printed = format!("{response:?} {response:#?}");
        for secret in ["access-value-1", "refresh-value-2", "id-token-value-3"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(printed.contains("openid offline") && printed.contains("3600"));
    }
}
