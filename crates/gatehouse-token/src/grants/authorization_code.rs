//! RFC 6749 §4.1.3 with RFC 7636 §4.6: exchanging an authorization code.
//!
//! The single-use step comes last, so a failed answer never burns a code:
//!
//! 1. read the code (not yet taken) and check it against the client and the request
//!    (`gatehouse_core::grant::check_redemption`), the user and the revocation cut-offs;
//! 2. issue: the refresh token (its family is the code's grant id, created once however often a
//!    retry inserts it), the access token (indexed under the grant), the ID token;
//! 3. leave the spent-code marker, then take the code atomically (`GETDEL`).
//!
//! A store failure anywhere before step 3's take answers 503 with the code still redeemable; what
//! step 2 wrote was never handed out. Of concurrent redemptions exactly one takes the code; the
//! others, like any later replay, find the spent marker and revoke the whole grant, their own
//! tokens included (RFC 6749 §4.1.2, RFC 9700 §4.2.4). A code shown by another client is answered
//! as an unknown one and neither taken nor revoked.

use gatehouse_core::claims::ClaimsRequest;
use gatehouse_core::client::Client;
use gatehouse_core::error::OAuthError;
use gatehouse_core::grant::{
    AuthorizationCodeRecord, GrantRevocationReason, MissingCode, Redemption, SpentCodeRecord,
    check_redemption, missing_code, unknown_code,
};
use gatehouse_core::protocol::GrantType;
use gatehouse_core::store::{Namespace, Records};
use gatehouse_core::user::User;

use super::{Grant, GrantRequest};
use crate::issue::{AccessGrant, FamilyBinding, IdTokenGrant, TokenResponse};
use crate::service::{TokenService, store_error};

pub(crate) struct AuthorizationCodeGrant;

impl Grant for AuthorizationCodeGrant {
    async fn issue(
        &self,
        service: &TokenService,
        &GrantRequest {
            client,
            form,
            dpop_jkt,
        }: &GrantRequest<'_>,
    ) -> Result<TokenResponse, OAuthError> {
        let code = form.require("code")?;
        let hash = service.token_hash(code);
        let records = Records::new(service.short_lived.as_ref());
        let Some(record) = records
            .get::<AuthorizationCodeRecord>(Namespace::AuthorizationCode, &hash)
            .await
            .map_err(store_error)?
        else {
            return Err(service.spent_or_unknown(client, &hash).await);
        };
        check_redemption(
            &record,
            client,
            Redemption {
                redirect_uri: form.get("redirect_uri"),
                code_verifier: form.get("code_verifier"),
            },
            service.clock.unix(),
            service.settings.ttl_auth_code,
        )?;
        let user = service.require_active_user(&record.subject).await?;
        if service
            .revocations
            .is_ended(
                Some(&record.subject),
                &client.id,
                &record.client_incarnation,
                record.authorized_at_ms(),
            )
            .await
            .map_err(store_error)?
        {
            // The user, their consent or the client was revoked after the code was issued.
            return Err(unknown_code());
        }
        // RFC 8707 §2.2: the token request may name a subset of the authorized resources.
        let audience = gatehouse_core::resource::narrowed(&record.resources, form.resources())?;

        let response = service
            .issue_for_code(client, &record, &user, audience, dpop_jkt)
            .await?;

        let spent = SpentCodeRecord {
            grant_id: record.grant_id.clone(),
            client_id: record.client_id.clone(),
        };
        records
            .put(
                Namespace::SpentAuthorizationCode,
                &hash,
                &spent,
                service.settings.ttl_refresh_token,
            )
            .await
            .map_err(store_error)?;
        match records
            .take::<AuthorizationCodeRecord>(Namespace::AuthorizationCode, &hash)
            .await
            .map_err(store_error)?
        {
            Some(_) => Ok(response),
            // Another redemption took it between our read and our take.
            None => Err(service.spent_or_unknown(client, &hash).await),
        }
    }
}

/// A user's grant to a client, as a code or an approved device authorization carries it.
pub(crate) struct UserGrant<'a> {
    /// The user, as read to check they are still active: the ID token's claims come from it.
    pub user: &'a User,
    /// OpenID Connect Core §5.5: the claims the authorization request asked for.
    pub claims: Option<&'a ClaimsRequest>,
    pub subject: &'a str,
    pub scope: &'a gatehouse_core::scope::ScopeSet,
    pub grant_id: &'a str,
    pub auth_time: i64,
    pub nonce: Option<&'a str>,
    /// Claims an external consent app added to the ID token.
    pub id_token_claims: Option<&'a serde_json::Map<String, serde_json::Value>>,
    /// Claims an external consent app added for the access token.
    pub access_token_claims: Option<&'a serde_json::Map<String, serde_json::Value>>,
    pub authorized_at_ms: i64,
    /// RFC 8707: the resources the grant was authorized for (a refresh family keeps them).
    pub resources: &'a [String],
    /// The access token's audience: the resources this token request named (all of them when
    /// it named none).
    pub audience: &'a [String],
    /// RFC 9449: the thumbprint of the DPoP key the token request proved, if any.
    pub dpop_jkt: Option<&'a str>,
    /// RFC 8176 methods of the sign-in, when known (the ID token's `amr` and `acr`).
    pub amr: Option<&'a [String]>,
}

impl TokenService {
    /// Everything the code grants: refresh token (with offline access and the refresh grant),
    /// access token, ID token (with `openid`).
    async fn issue_for_code(
        &self,
        client: &Client,
        record: &AuthorizationCodeRecord,
        user: &User,
        audience: Vec<String>,
        dpop_jkt: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        // Codes of older releases carry no methods: they came from a password.
        let password_only = gatehouse_core::factor::amr_for(false);
        self.issue_for_user_grant(
            client,
            &UserGrant {
                user,
                claims: record.claims.as_ref(),
                subject: &record.subject,
                scope: &record.scope,
                grant_id: &record.grant_id,
                auth_time: record.auth_time,
                nonce: record.nonce.as_deref(),
                id_token_claims: record.id_token_claims.as_ref(),
                access_token_claims: record.access_token_claims.as_ref(),
                authorized_at_ms: record.authorized_at_ms(),
                amr: Some(if record.amr.is_empty() {
                    &password_only
                } else {
                    &record.amr
                }),
                resources: &record.resources,
                audience: &audience,
                dpop_jkt,
            },
        )
        .await
    }

    /// Everything a user's grant gives: refresh token (with offline access and the refresh
    /// grant), access token, ID token (with `openid`).
    pub(crate) async fn issue_for_user_grant(
        &self,
        client: &Client,
        grant: &UserGrant<'_>,
    ) -> Result<TokenResponse, OAuthError> {
        let refresh_token =
            if grant.scope.grants_offline_access() && client.may_use(GrantType::RefreshToken) {
                let (token, stored) = self.new_refresh_token(
                    client,
                    grant.subject,
                    grant.scope,
                    grant.grant_id,
                    Some(grant.auth_time),
                    FamilyBinding {
                        resources: grant.resources,
                        dpop_jkt: grant.dpop_jkt,
                        id_token_claims: grant.id_token_claims,
                        access_token_claims: grant.access_token_claims,
                        amr: grant.amr,
                    },
                );
                self.durable
                    .insert_refresh_token(&stored)
                    .await
                    .map_err(store_error)?;
                Some(token)
            } else {
                None
            };
        let (access_token, expires_in) = self
            .mint_access_token(AccessGrant {
                client,
                subject: Some(grant.subject),
                scope: grant.scope,
                audience: grant.audience.to_vec(),
                grant_id: Some(grant.grant_id),
                auth_time: Some(grant.auth_time),
                authorized_at_ms: grant.authorized_at_ms,
                dpop_jkt: grant.dpop_jkt,
                claims: grant.access_token_claims,
                acr: grant.amr.map(gatehouse_core::factor::acr_for),
            })
            .await?;
        let id_token = if grant.scope.contains("openid") {
            Some(
                self.mint_id_token(IdTokenGrant {
                    client,
                    user: grant.user,
                    scope: grant.scope,
                    auth_time: grant.auth_time,
                    nonce: grant.nonce,
                    session_claims: grant.id_token_claims,
                    requested: grant.claims.map(|c| &c.id_token),
                    access_token: &access_token,
                    amr: grant.amr,
                })
                .await?,
            )
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in,
            scope: Some(grant.scope.to_string()),
            refresh_token,
            id_token,
        })
    }

    /// The answer for a code that is not (or no longer) there. A spent code presented again by
    /// the client it was issued to is a replay: everything it issued is revoked. Anyone else
    /// learns nothing, and revokes nothing.
    async fn spent_or_unknown(&self, client: &Client, hash: &str) -> OAuthError {
        let spent = Records::new(self.short_lived.as_ref())
            .get::<SpentCodeRecord>(Namespace::SpentAuthorizationCode, hash)
            .await;
        let spent = match spent {
            Ok(spent) => spent,
            Err(e) => return store_error(e),
        };
        match missing_code(spent.as_ref(), client) {
            MissingCode::Replayed { grant_id } => {
                tracing::warn!(client_id = %client.id, "authorization code replayed; revoking its grant");
                match self
                    .revoke_grant_because(grant_id, GrantRevocationReason::CodeReplayed)
                    .await
                {
                    Ok(()) => OAuthError::new(
                        gatehouse_core::ErrorCode::InvalidGrant,
                        "the authorization code was already used; the tokens it issued are revoked",
                    ),
                    Err(e) => e,
                }
            }
            MissingCode::Unknown => unknown_code(),
        }
    }
}
