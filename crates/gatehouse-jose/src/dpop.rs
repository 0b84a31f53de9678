//! DPoP proofs (RFC 9449 §4.3): the signature, verified with the key of the proof's own `jwk`
//! header; the header and claim rules are `gatehouse_core::dpop`'s. [`ProofSigner`] makes proofs
//! as a client does, for tests and the interoperability driver.

use std::str::FromStr as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_core::dpop::{self, ProofClaims, invalid_proof};
use gatehouse_core::error::OAuthError;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};

use crate::{JoseError, SigningAlgorithm, generate};

/// A proof whose signature and header are valid; its claims are still to be checked against
/// the request (`gatehouse_core::dpop::check_claims`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The RFC 7638 thumbprint of the proof's key.
    pub jkt: String,
    pub claims: ProofClaims,
}

/// Verifies a proof's header (§4.3 steps 2-7) and signature with the public key it carries.
pub fn verify_proof(proof: &str) -> Result<VerifiedProof, OAuthError> {
    if proof.len() > dpop::MAX_PROOF_BYTES {
        return Err(invalid_proof("the DPoP proof is too long"));
    }
    let mut parts = proof.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid_proof("the DPoP proof is not a signed JWT"));
    };
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| invalid_proof("the DPoP proof header is not base64url"))?;
    let header = dpop::parse_header(&header)?;
    let unusable = || invalid_proof("the DPoP proof jwk is not a usable public key");
    let jwk: Jwk =
        serde_json::from_value(serde_json::Value::Object(header.jwk)).map_err(|_| unusable())?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| unusable())?;
    let alg = jsonwebtoken::Algorithm::from_str(&header.alg)
        .map_err(|_| invalid_proof("the DPoP proof alg is not supported"))?;
    let mut validation = Validation::new(alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<ProofClaims>(proof, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::Json(_) => {
                invalid_proof("the DPoP proof lacks jti, htm, htu or iat")
            }
            _ => invalid_proof("the DPoP proof signature does not verify with its jwk"),
        })?
        .claims;
    Ok(VerifiedProof {
        jkt: header.jkt,
        claims,
    })
}

/// A client's DPoP key, making proofs (RFC 9449 §4.2) as a client library does.
pub struct ProofSigner {
    alg: SigningAlgorithm,
    key: EncodingKey,
    jwk: Jwk,
}

impl std::fmt::Debug for ProofSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofSigner")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl ProofSigner {
    /// A new key of `alg`.
    pub fn generate(alg: SigningAlgorithm) -> Result<Self, JoseError> {
        let generated = generate(alg)?;
        let mut jwk = generated.public_jwk;
        jwk.common = Default::default();
        Ok(Self {
            alg,
            key: alg.encoding_key(&generated.pkcs8_der)?,
            jwk,
        })
    }

    /// The public key, as the `jwk` header carries it.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// The key's RFC 7638 thumbprint (`cnf.jkt`).
    pub fn jkt(&self) -> Result<String, JoseError> {
        Ok(self
            .jwk
            .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)?)
    }

    /// A proof with these claims, `typ` `dpop+jwt` and this key in `jwk`.
    pub fn sign(&self, claims: &serde_json::Value) -> Result<String, JoseError> {
        let mut header = Header::new(self.alg.jwt_algorithm());
        header.typ = Some("dpop+jwt".to_owned());
        header.jwk = Some(self.jwk.clone());
        self.sign_with_header(&header, claims)
    }

    /// A proof with any header, signed with this key (for tests of refused headers).
    pub fn sign_with_header(
        &self,
        header: &Header,
        claims: &serde_json::Value,
    ) -> Result<String, JoseError> {
        Ok(jsonwebtoken::encode(header, claims, &self.key)?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use gatehouse_core::error::ErrorCode;
    use serde_json::json;

    fn claims() -> serde_json::Value {
        json!({"jti": "j1", "htm": "POST", "htu": "https://id.example/oauth2/token", "iat": 1_800_000_000})
    }

    fn code(proof: &str) -> Option<ErrorCode> {
        verify_proof(proof).err().map(|e| e.code)
    }

    #[test]
    fn proofs_of_every_key_type_verify_and_name_their_key() {
        for alg in SigningAlgorithm::ALL {
            let signer = ProofSigner::generate(alg).unwrap();
            let proof = signer.sign(&claims()).unwrap();
            let verified = verify_proof(&proof).unwrap();
            assert_eq!(verified.jkt, signer.jkt().unwrap(), "{alg:?}");
            assert_eq!(verified.claims.jti, "j1");
            assert_eq!(verified.claims.htm, "POST");
        }
    }

    #[test]
    fn a_proof_signed_by_another_key_than_its_jwk_is_refused() {
        let signer = ProofSigner::generate(SigningAlgorithm::Es256).unwrap();
        let other = ProofSigner::generate(SigningAlgorithm::Es256).unwrap();
        let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(other.jwk().clone());
        let proof = signer.sign_with_header(&header, &claims()).unwrap();
        assert_eq!(code(&proof), Some(ErrorCode::InvalidDpopProof));
    }

    #[test]
    fn hs256_and_none_proofs_are_refused() {
        let signer = ProofSigner::generate(SigningAlgorithm::Es256).unwrap();
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(signer.jwk().clone());
        let hs = jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(b"k")).unwrap();
        assert_eq!(code(&hs), Some(ErrorCode::InvalidDpopProof));

        let none_header = URL_SAFE_NO_PAD
            .encode(json!({"typ": "dpop+jwt", "alg": "none", "jwk": signer.jwk()}).to_string());
        let body = URL_SAFE_NO_PAD.encode(claims().to_string());
        assert_eq!(
            code(&format!("{none_header}.{body}.")),
            Some(ErrorCode::InvalidDpopProof)
        );
    }

    #[test]
    fn a_proof_with_another_type_or_a_mismatched_alg_is_refused() {
        let signer = ProofSigner::generate(SigningAlgorithm::Es256).unwrap();
        let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
        header.typ = Some("JWT".into());
        header.jwk = Some(signer.jwk().clone());
        let proof = signer.sign_with_header(&header, &claims()).unwrap();
        assert_eq!(code(&proof), Some(ErrorCode::InvalidDpopProof));

        // The header says RS256 over an EC key's signature.
        let proof = signer.sign(&claims()).unwrap();
        let (_, rest) = proof.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD
            .encode(json!({"typ": "dpop+jwt", "alg": "RS256", "jwk": signer.jwk()}).to_string());
        assert_eq!(
            code(&format!("{forged}.{rest}")),
            Some(ErrorCode::InvalidDpopProof)
        );
    }

    #[test]
    fn malformed_proofs_are_refused() {
        let signer = ProofSigner::generate(SigningAlgorithm::Es256).unwrap();
        let proof = signer.sign(&json!({"htm": "POST"})).unwrap();
        assert_eq!(code(&proof), Some(ErrorCode::InvalidDpopProof));
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.b.c",
            &"a".repeat(dpop::MAX_PROOF_BYTES + 1),
        ] {
            assert_eq!(code(bad), Some(ErrorCode::InvalidDpopProof), "{bad}");
        }
        let good = signer.sign(&claims()).unwrap();
        let (head, _) = good.rsplit_once('.').unwrap();
        assert_eq!(
            code(&format!("{head}.AAAA")),
            Some(ErrorCode::InvalidDpopProof)
        );
    }
}
