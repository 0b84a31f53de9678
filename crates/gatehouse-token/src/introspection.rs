//! Token introspection (RFC 7662) and the bearer-token check shared with userinfo.
//!
//! An opaque access token costs two short-lived-store reads: its record, then the revocation
//! cut-offs that could end it (one `MGET`, see `revocation.rs`). A JWT access token is checked by
//! its signature and expiry, then the same cut-offs, so a revocation ends it here at once;
//! resource servers that verify JWTs themselves see it only at expiry (keep their lifetime short).
//! Refresh tokens are looked up in the durable store.

use gatehouse_core::grant::{AccessTokenRecord, allowed_access_token_claims};
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::store::{Namespace, Records, RefreshTokenState};
use jsonwebtoken::Validation;
use serde::{Deserialize, Serialize};

use crate::issue::{ACCESS_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX};
use crate::service::{TokenService, store_error};
use gatehouse_core::client::ClientId;
use gatehouse_core::error::OAuthError;

/// The RFC 7662 §2.2 response. Inactive tokens answer `{"active": false}` and nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<ClientId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// RFC 9449 §6.2: the DPoP key a bound access token is bound to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// An access token's extra claims from an external consent app (`session.access_token`),
    /// where Hydra's introspection puts them. Absent when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ext: Option<serde_json::Map<String, serde_json::Value>>,
    /// The context class of the sign-in the token came from, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
}

/// RFC 7800 `cnf`, with RFC 9449's `jkt` (the thumbprint of the DPoP key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub jkt: String,
}

impl Introspection {
    pub fn inactive() -> Self {
        Self::default()
    }
}

/// What a valid access token grants, whatever its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveAccessToken {
    pub client_id: ClientId,
    /// `None` for client_credentials tokens.
    pub subject: Option<String>,
    pub scope: ScopeSet,
    pub audience: Vec<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    /// RFC 9449: the thumbprint of the DPoP key the token is bound to; `None` for a bearer token.
    pub dpop_jkt: Option<String>,
    /// An external consent app's `session.access_token` claims (none reserved), if any.
    pub ext: Option<serde_json::Map<String, serde_json::Value>>,
    /// The context class of the sign-in the token came from, when known.
    pub acr: Option<String>,
}

#[derive(Deserialize)]
struct JwtAccessClaims {
    sub: String,
    client_id: ClientId,
    /// Absent in tokens of older releases.
    #[serde(default)]
    client_incarnation: String,
    #[serde(default)]
    scope: String,
    aud: OneOrMany,
    exp: i64,
    iat: i64,
    #[serde(default)]
    cnf: Option<Confirmation>,
    /// The consent app's claims, mirrored here when minted (the top-level copies are not read).
    #[serde(default)]
    ext: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    acr: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl TokenService {
    /// The access token `token` if it is live: issued here, not expired, not revoked, and not
    /// ended by a revocation of its user, its user's consent or its client (`revocation.rs`).
    pub async fn active_access_token(
        &self,
        token: &str,
    ) -> Result<Option<ActiveAccessToken>, OAuthError> {
        let Some((found, incarnation, authorized_at_ms)) = self.find_access_token(token).await?
        else {
            return Ok(None);
        };
        let ended = self
            .revocations
            .is_ended(
                found.subject.as_deref(),
                &found.client_id,
                &incarnation,
                authorized_at_ms,
            )
            .await
            .map_err(store_error)?;
        Ok((!ended).then_some(found))
    }

    /// An unexpired access token issued here, with its client incarnation and the instant its
    /// authority was established (Unix milliseconds).
    async fn find_access_token(
        &self,
        token: &str,
    ) -> Result<Option<(ActiveAccessToken, String, i64)>, OAuthError> {
        if token.starts_with(ACCESS_TOKEN_PREFIX) {
            let hash = self.token_hash(token);
            let record: Option<AccessTokenRecord> = Records::new(self.short_lived.as_ref())
                .get(Namespace::AccessToken, &hash)
                .await
                .map_err(store_error)?;
            return Ok(record
                .filter(|r| r.expires_at > self.clock.unix())
                .map(|r| {
                    let authorized_at_ms = r.authorized_at();
                    let found = ActiveAccessToken {
                        client_id: r.client_id,
                        subject: r.subject,
                        scope: r.scope,
                        audience: r.audience,
                        issued_at: r.issued_at,
                        expires_at: r.expires_at,
                        dpop_jkt: r.dpop_jkt,
                        ext: allowed_access_token_claims(r.ext.as_ref()),
                        acr: r.acr,
                    };
                    (found, r.client_incarnation, authorized_at_ms)
                }));
        }
        if token.matches('.').count() != 2 || token.len() > 16 * 1024 {
            return Ok(None);
        }
        let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.validate_aud = false;
        validation.set_issuer(&[self.settings.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 0;
        let Ok(header) = jsonwebtoken::decode_header(token) else {
            return Ok(None);
        };
        if header
            .typ
            .as_deref()
            .is_none_or(|t| !t.eq_ignore_ascii_case("at+jwt"))
        {
            // ID tokens and other JWTs we signed are not access tokens (RFC 9068 §4).
            return Ok(None);
        }
        let Ok(claims) = self.keys().verify::<JwtAccessClaims>(token, validation) else {
            return Ok(None);
        };
        let subject = (claims.sub != claims.client_id.as_str()).then_some(claims.sub);
        let audience = match claims.aud {
            OneOrMany::One(a) => vec![a],
            OneOrMany::Many(a) => a,
        };
        let found = ActiveAccessToken {
            client_id: claims.client_id,
            subject,
            scope: ScopeSet::parse(&claims.scope).unwrap_or_default(),
            audience,
            issued_at: claims.iat,
            expires_at: claims.exp,
            dpop_jkt: claims.cnf.map(|cnf| cnf.jkt),
            ext: allowed_access_token_claims(claims.ext.as_ref()),
            acr: claims.acr,
        };
        // A JWT carries its minting second only: a cut-off within that second ends it (fail
        // closed).
        Ok(Some((
            found,
            claims.client_incarnation,
            claims.iat.saturating_mul(1000),
        )))
    }

    /// RFC 7662. `requesting_client` is the authenticated caller on the public endpoint (it only
    /// sees its own tokens); `None` on the admin endpoint, which sees every token.
    pub async fn introspect(
        &self,
        token: &str,
        hint: Option<&str>,
        requesting_client: Option<&str>,
    ) -> Result<Introspection, OAuthError> {
        let refresh_first =
            hint == Some("refresh_token") || token.starts_with(REFRESH_TOKEN_PREFIX);
        let mut result = if refresh_first {
            self.introspect_refresh(token).await?
        } else {
            self.introspect_access(token).await?
        };
        if !result.active {
            result = if refresh_first {
                self.introspect_access(token).await?
            } else {
                self.introspect_refresh(token).await?
            };
        }
        if let Some(caller) = requesting_client
            && result.client_id.as_deref() != Some(caller)
        {
            return Ok(Introspection::inactive());
        }
        Ok(result)
    }

    async fn introspect_access(&self, token: &str) -> Result<Introspection, OAuthError> {
        let Some(t) = self.active_access_token(token).await? else {
            return Ok(Introspection::inactive());
        };
        Ok(Introspection {
            active: true,
            scope: Some(t.scope.to_string()),
            sub: Some(t.subject.clone().unwrap_or_else(|| t.client_id.to_string())),
            client_id: Some(t.client_id),
            exp: Some(t.expires_at),
            iat: Some(t.issued_at),
            token_type: Some(if t.dpop_jkt.is_some() {
                "DPoP"
            } else {
                "Bearer"
            }),
            aud: Some(t.audience),
            iss: Some(self.settings.issuer.clone()),
            cnf: t.dpop_jkt.map(|jkt| Confirmation { jkt }),
            ext: t.ext,
            acr: t.acr,
        })
    }

    async fn introspect_refresh(&self, token: &str) -> Result<Introspection, OAuthError> {
        if !token.starts_with(REFRESH_TOKEN_PREFIX) {
            return Ok(Introspection::inactive());
        }
        let hash = self.token_hash(token);
        match self
            .durable
            .get_refresh_token(&hash)
            .await
            .map_err(store_error)?
        {
            Some((t, RefreshTokenState::Active)) if t.expires_at > self.clock.now() => {
                Ok(Introspection {
                    active: true,
                    scope: Some(t.scope.to_string()),
                    aud: Some(vec![t.client_id.to_string()]),
                    client_id: Some(t.client_id),
                    sub: Some(t.subject),
                    exp: Some(t.expires_at.unix_timestamp()),
                    iat: Some(t.issued_at.unix_timestamp()),
                    token_type: Some("refresh_token"),
                    iss: Some(self.settings.issuer.clone()),
                    cnf: (!t.dpop_jkt.is_empty()).then_some(Confirmation { jkt: t.dpop_jkt }),
                    // As Hydra: the grant's access-token claims.
                    ext: allowed_access_token_claims(t.session_claims.access_token.as_ref()),
                    acr: None,
                })
            }
            _ => Ok(Introspection::inactive()),
        }
    }

    /// RFC 7009 §2.1: revokes `token` if it belongs to `client_id`. Unknown tokens, and tokens
    /// of other clients, are ignored: the answer is the same 200 either way, so revocation
    /// cannot be used to probe for tokens. Revoking a refresh token ends its family and the
    /// access tokens issued under it.
    pub async fn revoke(&self, token: &str, client_id: &str) -> Result<(), OAuthError> {
        if token.starts_with(REFRESH_TOKEN_PREFIX) {
            let hash = self.token_hash(token);
            if let Some((t, _)) = self
                .durable
                .get_refresh_token(&hash)
                .await
                .map_err(store_error)?
                && t.client_id == client_id
            {
                self.revoke_grant(&t.family_id).await?;
                tracing::info!(client_id, "refresh token family revoked");
            }
            return Ok(());
        }
        if token.starts_with(ACCESS_TOKEN_PREFIX) {
            let hash = self.token_hash(token);
            let records = Records::new(self.short_lived.as_ref());
            if let Some(record) = records
                .get::<AccessTokenRecord>(Namespace::AccessToken, &hash)
                .await
                .map_err(store_error)?
                && record.client_id == client_id
            {
                records
                    .delete(Namespace::AccessToken, &hash)
                    .await
                    .map_err(store_error)?;
                tracing::info!(client_id, "access token revoked");
            }
        }
        // JWT access tokens are self-contained and cannot be revoked before they expire.
        Ok(())
    }
}
