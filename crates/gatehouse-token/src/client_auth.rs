//! Verification of JWT client assertions (`private_key_jwt`, `client_secret_jwt`): the signature
//! with the client's keys or sealed secret, then the claim rules of
//! [`gatehouse_core::client_assertion`], then the `jti` replay check in the short-lived store
//! (shared by every replica).

use std::str::FromStr;
use std::time::Duration;

use gatehouse_core::client::{Client, SealedSecret};
use gatehouse_core::client_assertion::{check_alg, check_claims, peek, replay_key};
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::secret::SecretString;
use gatehouse_core::store::Namespace;
use gatehouse_jose::{Algorithm, Jwk, JwkSet, KeyEncryption};
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;

use crate::service::{TokenService, store_error};

/// The [`KeyEncryption`] purpose under which `client_secret_jwt` secrets are sealed.
pub const CLIENT_SECRET_SEALING_PURPOSE: &str = "client-secret-sealing";

fn failed(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, description)
}

/// Seals a `client_secret_jwt` client's secret for storage in its metadata.
pub fn seal_secret(
    sealing: &KeyEncryption,
    secret: &SecretString,
) -> Result<SealedSecret, gatehouse_jose::JoseError> {
    use base64::Engine as _;
    let sealed = sealing.seal(secret.expose().as_bytes())?;
    Ok(SealedSecret(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed),
    ))
}

fn open_secret(sealing: &KeyEncryption, sealed: &SealedSecret) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&sealed.0)
        .ok()?;
    sealing.open(&bytes).ok()
}

/// A validation of the signature and `alg` only: the claims are checked by
/// [`check_claims`], against the service's clock.
fn signature_only(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    v
}

/// The keys of `set` that could have made a signature with `alg` and `kid`.
fn candidates<'a>(set: &'a JwkSet, kid: Option<&str>, alg: Algorithm) -> Vec<&'a Jwk> {
    set.keys
        .iter()
        .filter(|k| kid.is_none() || k.common.key_id.as_deref() == kid)
        .filter(|k| {
            k.common
                .key_algorithm
                .is_none_or(|a| a.to_string() == format!("{alg:?}"))
        })
        .collect()
}

fn verify_with(assertion: &str, keys: &[&Jwk], alg: Algorithm) -> Option<Value> {
    keys.iter().find_map(|jwk| {
        let key = DecodingKey::from_jwk(jwk).ok()?;
        jsonwebtoken::decode::<Value>(assertion, &key, &signature_only(alg))
            .ok()
            .map(|d| d.claims)
    })
}

impl TokenService {
    /// The URLs an assertion's `aud` may name at `endpoint` (a path such as `/oauth2/par`):
    /// the issuer, the token endpoint (RFC 7523 §3) and the endpoint itself (RFC 9126 §2).
    pub(crate) fn assertion_audiences(&self, endpoint: &str) -> Vec<String> {
        let issuer = self.issuer();
        vec![
            issuer.to_owned(),
            format!("{issuer}/oauth2/token"),
            format!("{issuer}{endpoint}"),
        ]
    }

    /// Verifies `assertion` for `client` (already known to be registered with the method the
    /// assertion's `alg` stands for) at `endpoint`, and spends its `jti`.
    pub(crate) async fn verify_client_assertion(
        &self,
        client: &Client,
        assertion: &SecretString,
        endpoint: &str,
    ) -> Result<(), OAuthError> {
        let assertion = assertion.expose();
        let method = client.metadata.token_endpoint_auth_method;
        let peeked = peek(assertion).ok_or_else(|| failed("malformed client_assertion"))?;
        check_alg(
            method,
            &client.metadata.token_endpoint_auth_signing_alg,
            &peeked.alg,
        )?;
        let claims = self
            .verify_client_jwt(client, assertion, &peeked)
            .await?
            .ok_or_else(|| {
                failed("the client_assertion's signature does not verify with the client's keys")
            })?;
        let now = self.clock.now().unix_timestamp();
        let accepted = check_claims(
            &claims,
            &client.id,
            &self.assertion_audiences(endpoint),
            now,
        )?;
        let key = Namespace::ClientAssertionJti.key(&replay_key(&client.id, &accepted.jti));
        let fresh = self
            .short_lived
            .put_new(&key, b"1", Duration::from_secs(accepted.replay_window(now)))
            .await
            .map_err(store_error)?;
        if !fresh {
            tracing::info!(client_id = %client.id, "a client assertion was replayed");
            return Err(failed("this client_assertion was already used (jti)"));
        }
        crate::single_use::spent(key);
        Ok(())
    }

    /// The claims of `jwt` (whose header `peeked` read) when its signature verifies with one of
    /// `client`'s keys: a MAC (HS*) with its sealed `client_secret_jwt` secret, any other
    /// algorithm with its `jwks` or `jwks_uri`; `None` when it does not verify. The caller has
    /// already decided which algorithms it accepts (never `none`).
    pub(crate) async fn verify_client_jwt(
        &self,
        client: &Client,
        jwt: &str,
        peeked: &gatehouse_core::client_assertion::UnverifiedJwt,
    ) -> Result<Option<Value>, OAuthError> {
        let alg = Algorithm::from_str(&peeked.alg)
            .map_err(|_| failed("the JWT's alg is not supported"))?;
        if peeked.alg.starts_with("HS") {
            let secret = open_secret(&self.client_secret_sealing, &client.metadata.client_secret_sealed)
                .ok_or_else(|| {
                    tracing::info!(client_id = %client.id, "a MACed JWT for a client without a sealed secret");
                    failed("client authentication failed")
                })?;
            let key = DecodingKey::from_secret(&secret);
            return Ok(
                jsonwebtoken::decode::<Value>(jwt, &key, &signature_only(alg))
                    .ok()
                    .map(|d| d.claims),
            );
        }
        self.verify_with_client_keys(client, jwt, peeked.kid.as_deref(), alg)
            .await
    }

    /// `private_key_jwt`: the keys from `jwks`, or from `jwks_uri` (fetched again once when the
    /// `kid` is unknown, within the fetch rate limit).
    async fn verify_with_client_keys(
        &self,
        client: &Client,
        assertion: &str,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Option<Value>, OAuthError> {
        if let Some(jwks) = &client.metadata.jwks {
            let set: JwkSet = serde_json::from_value(jwks.clone())
                .map_err(|_| failed("this client's jwks cannot be read"))?;
            return Ok(verify_with(assertion, &candidates(&set, kid, alg), alg));
        }
        let uri = &client.metadata.jwks_uri;
        if uri.is_empty() {
            return Err(failed("this client has no keys (jwks or jwks_uri)"));
        }
        let set = self.client_keys.get(uri, false).await?;
        let keys = candidates(&set, kid, alg);
        if keys.is_empty() && kid.is_some() {
            let set = self.client_keys.get(uri, true).await?;
            return Ok(verify_with(assertion, &candidates(&set, kid, alg), alg));
        }
        Ok(verify_with(assertion, &keys, alg))
    }
}
