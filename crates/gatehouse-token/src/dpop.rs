//! DPoP (RFC 9449) in the token service: a proof checked end to end (signature with its own
//! key, the claims against the endpoint's public URL, the server nonce, and its `jti` spent once
//! across every replica through the short-lived store).
//!
//! URLs are compared with the endpoint's URL under the issuer, the public URL clients see, so a
//! TLS-terminating proxy in front of the service changes nothing.

use std::time::Duration;

use gatehouse_core::dpop::{self, ProofTarget, invalid_proof};
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::store::Namespace;

use crate::service::{TokenService, store_error};

/// Where a proof is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofEndpoint {
    /// `POST /oauth2/token`.
    Token,
    /// `GET|POST /userinfo`, with the access token the proof is for.
    Userinfo,
}

impl ProofEndpoint {
    fn path(self) -> &'static str {
        match self {
            Self::Token => "/oauth2/token",
            Self::Userinfo => "/userinfo",
        }
    }
}

/// `use_dpop_nonce` (RFC 9449 §8): the client retries with the nonce of the `DPoP-Nonce` header.
fn use_nonce(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::UseDpopNonce, description)
}

impl TokenService {
    /// The nonce to hand out now in `DPoP-Nonce`.
    pub fn dpop_nonce(&self) -> String {
        self.dpop_nonces.issue(self.clock.unix())
    }

    /// Checks the `DPoP` header `proof` of a request to `endpoint` with `method`; returns the
    /// thumbprint of the proof's key. `access_token` is the token presented with it at a resource
    /// (`ath`). Nonces are required at the token endpoint when the settings say so; a nonce sent
    /// there anyway must be one this server issued.
    pub async fn check_dpop_proof(
        &self,
        proof: &str,
        endpoint: ProofEndpoint,
        method: &str,
        access_token: Option<&str>,
    ) -> Result<String, OAuthError> {
        let verified = gatehouse_jose::dpop::verify_proof(proof)?;
        let now = self.clock.unix();
        let url = format!("{}{}", self.settings.issuer, endpoint.path());
        dpop::check_claims(
            &verified.claims,
            &ProofTarget {
                method,
                url: &url,
                access_token,
                now,
            },
        )?;
        // Nonces are the token endpoint's (RFC 9449 §8); /userinfo issues none, so a nonce a
        // client library caches for the origin and sends there too is not judged.
        if endpoint == ProofEndpoint::Token {
            match verified.claims.nonce.as_deref() {
                Some(nonce) if !self.dpop_nonces.accepts(nonce, now) => {
                    return Err(use_nonce("the DPoP proof nonce is invalid or expired"));
                }
                None if self.settings.dpop_require_nonce => {
                    return Err(use_nonce("this server requires a nonce in DPoP proofs"));
                }
                _ => {}
            }
        }
        // The jti is spent last, so a proof refused for another reason does not burn it.
        let replay_key = self.token_hash(&format!("{}:{}", verified.jkt, verified.claims.jti));
        let key = Namespace::DpopProofJti.key(&replay_key);
        let fresh = self
            .short_lived
            .put_new(&key, b"1", Duration::from_secs(dpop::JTI_RETENTION_SECS))
            .await
            .map_err(store_error)?;
        if !fresh {
            return Err(invalid_proof("the DPoP proof was already used (jti)"));
        }
        crate::single_use::spent(key);
        Ok(verified.jkt)
    }
}
