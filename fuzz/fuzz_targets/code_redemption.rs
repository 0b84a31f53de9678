//! The code-redemption rules (RFC 6749 §4.1.3, RFC 7636 §4.6) as the token endpoint applies them
//! before issuing anything. Input: JSON of a code record's varying fields and the token
//! request's, split by NUL: `client_id NUL incarnation NUL public(0/1) NUL redirect_uri_given(0/1)
//! NUL redirect_uri NUL challenge NUL presented_redirect_uri NUL verifier NUL age_seconds`.
//! Whatever the input, the rules must not panic, and a redemption they accept must be the code's
//! own client and incarnation, within its lifetime, with the redirect URI repeated when it was
//! given and a verifier that matches the challenge (always present for a public client). A
//! spent code (its marker naming the same `client_id`) is a replay only for the client it was
//! issued to.
#![no_main]

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_core::client::{Client, ClientId, ClientMetadata, TokenEndpointAuthMethod};
use gatehouse_core::grant::{
    AuthorizationCodeRecord, MissingCode, Redemption, SpentCodeRecord, check_redemption,
    missing_code,
};
use gatehouse_core::pkce::PkceChallenge;
use gatehouse_core::redirect::RedirectUri;
use gatehouse_core::scope::ScopeSet;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

const NOW: i64 = 1_767_225_600;
const LIFETIME: Duration = Duration::from_secs(600);

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let f: Vec<&str> = text.splitn(10, '\0').collect();
    let field = |i: usize| f.get(i).copied().unwrap_or_default();
    fn opt(s: &str) -> Option<&str> {
        (!s.is_empty()).then_some(s)
    }
    let public = field(2) == "1";
    let Ok(client_id) = ClientId::parse(field(0)) else {
        return;
    };
    let client = Client {
        id: ClientId::parse("neoncli").unwrap_or_else(|e| panic!("{e}")),
        incarnation: "inc-1".into(),
        metadata: ClientMetadata {
            token_endpoint_auth_method: if public {
                TokenEndpointAuthMethod::None
            } else {
                TokenEndpointAuthMethod::ClientSecretBasic
            },
            ..ClientMetadata::default()
        },
        secret: None,
        created_at: time::OffsetDateTime::UNIX_EPOCH,
        updated_at: time::OffsetDateTime::UNIX_EPOCH,
    };
    let challenge = opt(field(5)).and_then(|c| PkceChallenge::from_request(c, Some("S256")).ok());
    let age: i64 = field(9).parse().unwrap_or(0);
    let record = AuthorizationCodeRecord {
        grant_id: "grant".into(),
        client_id,
        client_incarnation: field(1).into(),
        subject: "alice".into(),
        redirect_uri: RedirectUri::parse("http://127.0.0.1:5555/callback", false)
            .unwrap_or_else(|e| panic!("{e}")),
        redirect_uri_given: field(3) == "1",
        scope: ScopeSet::parse("openid").unwrap_or_default(),
        code_challenge: challenge.clone(),
        nonce: None,
        auth_time: NOW,
        session_id: None,
        issued_at: NOW.saturating_sub(age),
        issued_at_ms: 0,
        resources: Vec::new(),
        claims: None,
        id_token_claims: None,
        access_token_claims: None,
        amr: Vec::new(),
    };
    let request = Redemption {
        redirect_uri: opt(field(6)),
        code_verifier: opt(field(7)),
    };
    if check_redemption(&record, &client, request, NOW, LIFETIME).is_ok() {
        assert_eq!(record.client_id, client.id, "another client's code");
        assert!(
            record.client_incarnation.is_empty() || record.client_incarnation == client.incarnation,
            "an earlier incarnation's code"
        );
        assert!((0..=600).contains(&age), "a code of age {age}");
        if record.redirect_uri_given {
            assert_eq!(request.redirect_uri, Some(record.redirect_uri.as_str()));
        }
        if let Some(request_uri) = request.redirect_uri {
            assert_eq!(request_uri, record.redirect_uri.as_str());
        }
        match (&challenge, request.code_verifier) {
            (Some(c), Some(v)) => {
                let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
                assert_eq!(computed, c.as_str(), "a verifier that does not match");
            }
            (Some(_), None) => panic!("a challenge redeemed without a verifier"),
            (None, Some(_)) => panic!("a verifier for a code without a challenge"),
            (None, None) => assert!(!public, "a public client's code without PKCE"),
        }
    }
    let spent = SpentCodeRecord {
        grant_id: record.grant_id.clone(),
        client_id: record.client_id.clone(),
    };
    match missing_code(Some(&spent), &client) {
        MissingCode::Replayed { grant_id } => {
            assert_eq!(spent.client_id, client.id, "another client's replay revokes");
            assert_eq!(grant_id, spent.grant_id);
        }
        MissingCode::Unknown => assert_ne!(spent.client_id, client.id, "a replay not seen"),
    }
    assert_eq!(missing_code(None, &client), MissingCode::Unknown);
});
