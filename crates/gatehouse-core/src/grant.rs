//! What a grant leaves behind in the short-lived store: authorization codes and opaque
//! access-token records. Both are stored under the keyed hash of the bearer value, never the
//! value itself. Also the rules a code must pass before the token endpoint issues anything for it
//! ([`check_redemption`]): pure, so they are unit-tested and fuzzed without a store.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::client::{Client, ClientId};
use crate::error::{ErrorCode, OAuthError};
use crate::pkce::PkceChallenge;
use crate::redirect::RedirectUri;
use crate::scope::ScopeSet;

/// An issued authorization code (RFC 6749 §4.1.2), kept until redeemed or expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationCodeRecord {
    /// Identifies everything issued from this code: the refresh-token family id and the key of
    /// the access-token index, so a replayed code can revoke both (RFC 6749 §4.1.2).
    pub grant_id: String,
    pub client_id: ClientId,
    /// The [`Client::incarnation`] the code was issued to (empty in codes of older releases).
    #[serde(default)]
    pub client_incarnation: String,
    pub subject: String,
    pub redirect_uri: RedirectUri,
    /// Whether the authorization request carried `redirect_uri` (then the token request must
    /// carry the same value, RFC 6749 §4.1.3).
    pub redirect_uri_given: bool,
    pub scope: ScopeSet,
    pub code_challenge: Option<PkceChallenge>,
    pub nonce: Option<String>,
    /// When the user authenticated (Unix seconds), for the ID token's `auth_time`.
    pub auth_time: i64,
    pub session_id: Option<String>,
    pub issued_at: i64,
    /// `issued_at` in milliseconds, for revocation cut-offs (0 in codes of older releases).
    #[serde(default)]
    pub issued_at_ms: i64,
    /// RFC 8707 resources the authorization was for: the audience of its access tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// OpenID Connect Core §5.5: the claims the authorization request asked for, so the ID
    /// token issued for this code carries the requested ones its scope covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<crate::claims::ClaimsRequest>,
    /// Claims an external consent app added to the ID token (never a reserved one, see
    /// [`RESERVED_ID_TOKEN_CLAIMS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_claims: Option<serde_json::Map<String, serde_json::Value>>,
    /// Claims an external consent app added for the access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_claims: Option<serde_json::Map<String, serde_json::Value>>,
    /// RFC 8176 methods of the sign-in (the ID token's `amr`; its `acr` follows from them).
    /// Empty in codes of older releases: a password.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

/// ID token claims an external consent app (`session.id_token`) may not set: the ones Gatehouse
/// sets and the ones a relying party checks.
pub const RESERVED_ID_TOKEN_CLAIMS: [&str; 16] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "c_hash",
    "sid",
    "jti",
    "s_hash",
];

/// Access token claims an external consent app (`session.access_token`) may not set.
pub const RESERVED_ACCESS_TOKEN_CLAIMS: [&str; 14] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "client_id",
    "client_incarnation",
    "scope",
    "cnf",
    "auth_time",
    "acr",
    "amr",
];

/// The extra claims an external consent app added to a grant (Hydra's `session.id_token` and
/// `session.access_token`), and the methods of the sign-in behind it, as a refresh-token family
/// keeps them so every token a refresh mints carries them too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// Claims for the ID token (never a [`RESERVED_ID_TOKEN_CLAIMS`] one when minted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<serde_json::Map<String, serde_json::Value>>,
    /// Claims for the access token (never a [`RESERVED_ACCESS_TOKEN_CLAIMS`] one when minted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<serde_json::Map<String, serde_json::Value>>,
    /// RFC 8176 methods of the sign-in that started the grant: an ID token minted at refresh
    /// must say what the original sign-in said (OpenID Connect Core §12.2), and its access
    /// tokens keep the `acr` that follows. Empty in families of older releases: unknown, so
    /// their refreshed tokens carry neither `amr` nor `acr`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

impl SessionClaims {
    /// Whether there is nothing at all: no claim and no method (then nothing is stored).
    pub fn is_empty(&self) -> bool {
        self.id_token.as_ref().is_none_or(serde_json::Map::is_empty)
            && self
                .access_token
                .as_ref()
                .is_none_or(serde_json::Map::is_empty)
            && self.amr.is_empty()
    }
}

/// The access-token claims of `claims` that a minted token may carry: every one but the
/// [`RESERVED_ACCESS_TOKEN_CLAIMS`], and `None` when that leaves none.
pub fn allowed_access_token_claims(
    claims: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    let allowed: serde_json::Map<String, serde_json::Value> = claims?
        .iter()
        .filter(|(name, _)| !RESERVED_ACCESS_TOKEN_CLAIMS.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    (!allowed.is_empty()).then_some(allowed)
}

/// The first reserved name among `claims`, if any.
pub fn reserved_claim<'a>(
    claims: &'a serde_json::Map<String, serde_json::Value>,
    reserved: &[&str],
) -> Option<&'a str> {
    claims
        .keys()
        .map(String::as_str)
        .find(|k| reserved.contains(k))
}

impl AuthorizationCodeRecord {
    /// When the user's authorization behind this code was established, in Unix milliseconds.
    pub fn authorized_at_ms(&self) -> i64 {
        match self.issued_at_ms {
            0 => self.issued_at.saturating_mul(1000),
            ms => ms,
        }
    }
}

/// An opaque access token's record, what introspection and userinfo read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenRecord {
    pub client_id: ClientId,
    /// The [`Client::incarnation`] the token was issued to (empty in records of older releases).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_incarnation: String,
    /// The user, or `None` for a client_credentials token (whose subject is the client).
    // Absent fields are left out: every live opaque token is one record, so bytes count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub scope: ScopeSet,
    pub audience: Vec<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    /// The grant (code / refresh family) it was issued under, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// When the authority behind the token was established, Unix milliseconds: the code's
    /// issuance, or the refresh or client-credentials request. Revocation cut-offs compare
    /// against it (0 in records of older releases: `issued_at` counts).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub authorized_at_ms: i64,
    /// RFC 9449 §6: the thumbprint of the DPoP key the token is bound to (`cnf.jkt`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// Claims an external consent app added for the access token (`session.access_token`, no
    /// reserved one): introspection shows them under `ext`. Absent when there are none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext: Option<serde_json::Map<String, serde_json::Value>>,
    /// The context class of the sign-in the token came from (`None`: no sign-in, or minted by a
    /// refresh), answered by introspection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

impl AccessTokenRecord {
    /// The `sub` to report: the user, or the client itself (RFC 9068 §2.2 for client credentials).
    pub fn sub(&self) -> &str {
        self.subject.as_deref().unwrap_or(self.client_id.as_str())
    }

    /// See [`AccessTokenRecord::authorized_at_ms`] (the field).
    pub fn authorized_at(&self) -> i64 {
        match self.authorized_at_ms {
            0 => self.issued_at.saturating_mul(1000),
            ms => ms,
        }
    }
}

/// Marker left when a code is redeemed, so a replay can be recognised and answered by revoking
/// what the first redemption issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpentCodeRecord {
    pub grant_id: String,
    pub client_id: ClientId,
}

/// Why a grant was revoked for cause, remembered so that a client presenting one of its refresh
/// tokens later learns why it no longer works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantRevocationReason {
    /// The authorization code that started the grant was presented twice (RFC 6749 §4.1.2).
    CodeReplayed,
    /// A refresh token of the grant was presented after it had been rotated (RFC 9700 §4.14.2).
    RefreshTokenReused,
}

impl GrantRevocationReason {
    /// The `error_description` of a refresh refused because of this revocation.
    pub const fn refresh_refused(self) -> &'static str {
        match self {
            Self::CodeReplayed => {
                "the refresh token was revoked because the authorization code that issued it was used twice; start a new authorization"
            }
            Self::RefreshTokenReused => {
                "the refresh token was revoked because a refresh token of this grant was used twice; start a new authorization"
            }
        }
    }
}

/// What a code that is no longer redeemable means for `client` presenting it: a replay by the
/// client it was issued to revokes the grant it started; to anyone else it is unknown, and
/// revokes nothing (RFC 6749 §4.1.2, RFC 9700 §4.2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MissingCode<'a> {
    /// Revoke the grant with this id, then answer `invalid_grant`.
    Replayed { grant_id: &'a str },
    /// Answer as for a code that never existed ([`unknown_code`]).
    Unknown,
}

/// Judges a code that was not found: `spent` is its spent-code marker, if one is left.
pub fn missing_code<'a>(spent: Option<&'a SpentCodeRecord>, client: &Client) -> MissingCode<'a> {
    match spent {
        Some(spent) if spent.client_id == client.id => MissingCode::Replayed {
            grant_id: &spent.grant_id,
        },
        _ => MissingCode::Unknown,
    }
}

/// One answer for every code that is not this client's to redeem: unknown, expired, issued to
/// another client or to an earlier incarnation of this one. The description never confirms that a
/// code exists.
pub fn unknown_code() -> OAuthError {
    OAuthError::new(
        ErrorCode::InvalidGrant,
        "the authorization code is invalid or expired",
    )
}

/// What the token request says about the code it presents. Its `Debug` hides the verifier.
#[derive(Clone, Copy, Default)]
pub struct Redemption<'a> {
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
}

impl std::fmt::Debug for Redemption<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redemption")
            .field("redirect_uri", &self.redirect_uri)
            .field(
                "code_verifier",
                &self.code_verifier.map(|_| format_args!("[redacted]")),
            )
            .finish()
    }
}

/// RFC 6749 §4.1.3 and RFC 7636 §4.6: whether `client` may redeem the code `record` with
/// `request`, `now` (Unix seconds) being within `lifetime` of its issuance. Checked before anything
/// is issued or taken, so a refused request burns nothing.
pub fn check_redemption(
    record: &AuthorizationCodeRecord,
    client: &Client,
    request: Redemption<'_>,
    now: i64,
    lifetime: Duration,
) -> Result<(), OAuthError> {
    let invalid_grant =
        |description: &'static str| OAuthError::new(ErrorCode::InvalidGrant, description);
    // The code was issued to another client, or to a deleted client registered again under the
    // same id: to this caller it does not exist.
    if record.client_id != client.id
        || (!record.client_incarnation.is_empty()
            && record.client_incarnation != client.incarnation)
    {
        return Err(unknown_code());
    }
    let age = now.saturating_sub(record.issued_at);
    if age < 0 || age.unsigned_abs() > lifetime.as_secs() {
        return Err(unknown_code());
    }
    match (request.redirect_uri, record.redirect_uri_given) {
        (Some(given), _) if given != record.redirect_uri.as_str() => {
            return Err(invalid_grant(
                "redirect_uri does not match the one of the authorization request",
            ));
        }
        (None, true) => {
            return Err(OAuthError::invalid_request(
                "redirect_uri is required because the authorization request carried it",
            ));
        }
        _ => {}
    }
    match (&record.code_challenge, request.code_verifier) {
        (Some(challenge), Some(verifier)) if challenge.verify(verifier) => Ok(()),
        (Some(_), Some(_)) => Err(invalid_grant(
            "the code_verifier does not match the code_challenge",
        )),
        (Some(_), None) => Err(OAuthError::invalid_request(
            "the code_verifier parameter is missing",
        )),
        // A verifier for a code issued without a challenge is a downgrade attempt (RFC 9700 §2.1.1).
        (None, Some(_)) => Err(invalid_grant(
            "code_verifier was sent but the authorization request had no code_challenge",
        )),
        // A public client's code always carries a challenge (RFC 9700 §2.1.1); one without was
        // not made by a checked authorization request.
        (None, None) if client.is_public() => Err(invalid_grant(
            "the authorization code of a public client must carry a PKCE challenge",
        )),
        (None, None) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn session_claims_are_empty_only_without_any_claim() {
        let some = || {
            Some(
                serde_json::json!({"tier": "gold"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            )
        };
        assert!(SessionClaims::default().is_empty());
        let empty_maps = SessionClaims {
            id_token: Some(serde_json::Map::new()),
            access_token: Some(serde_json::Map::new()),
            amr: Vec::new(),
        };
        assert!(empty_maps.is_empty());
        let id_only = SessionClaims {
            id_token: some(),
            ..SessionClaims::default()
        };
        assert!(!id_only.is_empty());
        let access_only = SessionClaims {
            access_token: some(),
            ..SessionClaims::default()
        };
        assert!(!access_only.is_empty());
        let methods_only = SessionClaims {
            amr: crate::factor::amr_for(true),
            ..SessionClaims::default()
        };
        assert!(!methods_only.is_empty());
    }

    #[test]
    fn a_family_record_of_an_older_release_loads_without_methods() {
        let older: SessionClaims = serde_json::from_str(r#"{"id_token":{"tier":"gold"}}"#).unwrap();
        assert!(older.amr.is_empty());
        assert!(older.id_token.is_some());
        let newer = SessionClaims {
            amr: crate::factor::amr_for(true),
            ..SessionClaims::default()
        };
        let text = serde_json::to_string(&newer).unwrap();
        assert_eq!(text, r#"{"amr":["pwd","otp","mfa"]}"#);
        assert_eq!(serde_json::from_str::<SessionClaims>(&text).unwrap(), newer);
    }

    #[test]
    fn the_first_reserved_name_is_found() {
        let claims = serde_json::json!({"tier": "gold", "sub": "someone-else"});
        let claims = claims.as_object().unwrap();
        assert_eq!(
            reserved_claim(claims, &RESERVED_ID_TOKEN_CLAIMS),
            Some("sub")
        );
        let harmless = serde_json::json!({"tier": "gold"});
        assert_eq!(
            reserved_claim(harmless.as_object().unwrap(), &RESERVED_ID_TOKEN_CLAIMS),
            None
        );
    }
    use crate::client::{ClientMetadata, TokenEndpointAuthMethod};
    use time::OffsetDateTime;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const NOW: i64 = 1_767_225_600;
    const TEN_MINUTES: Duration = Duration::from_secs(600);

    fn client(public: bool) -> Client {
        Client {
            id: ClientId::parse("neoncli").unwrap(),
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
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn code() -> AuthorizationCodeRecord {
        AuthorizationCodeRecord {
            grant_id: "g".into(),
            client_id: ClientId::parse("neoncli").unwrap(),
            client_incarnation: "inc-1".into(),
            subject: "alice".into(),
            redirect_uri: RedirectUri::parse("http://127.0.0.1:5555/callback", false).unwrap(),
            redirect_uri_given: true,
            scope: ScopeSet::parse("openid").unwrap(),
            code_challenge: Some(PkceChallenge::from_request(CHALLENGE, Some("S256")).unwrap()),
            nonce: None,
            auth_time: NOW - 10,
            session_id: None,
            issued_at: NOW - 5,
            issued_at_ms: (NOW - 5) * 1000 + 250,
            resources: Vec::new(),
            claims: None,
            id_token_claims: None,
            access_token_claims: None,
            amr: Vec::new(),
        }
    }

    fn good() -> Redemption<'static> {
        Redemption {
            redirect_uri: Some("http://127.0.0.1:5555/callback"),
            code_verifier: Some(VERIFIER),
        }
    }

    fn check(
        record: &AuthorizationCodeRecord,
        client: &Client,
        r: Redemption<'_>,
    ) -> Result<(), ErrorCode> {
        check_redemption(record, client, r, NOW, TEN_MINUTES).map_err(|e| e.code)
    }

    #[test]
    fn a_good_redemption_passes() {
        assert_eq!(check(&code(), &client(true), good()), Ok(()));
        assert_eq!(code().authorized_at_ms(), (NOW - 5) * 1000 + 250);
    }

    #[test]
    fn another_client_or_incarnation_sees_an_unknown_code() {
        let mut other = client(true);
        other.id = ClientId::parse("thief").unwrap();
        let stolen = check_redemption(&code(), &other, good(), NOW, TEN_MINUTES).unwrap_err();
        assert_eq!(stolen, unknown_code());
        let mut reborn = client(true);
        reborn.incarnation = "inc-2".into();
        assert_eq!(
            check_redemption(&code(), &reborn, good(), NOW, TEN_MINUTES).unwrap_err(),
            unknown_code()
        );
        let mut legacy = code();
        legacy.client_incarnation = String::new();
        assert_eq!(
            check(&legacy, &reborn, good()),
            Ok(()),
            "codes of older releases"
        );
    }

    #[test]
    fn expired_and_future_codes_are_unknown() {
        let mut old = code();
        old.issued_at = NOW - 601;
        assert_eq!(
            check_redemption(&old, &client(true), good(), NOW, TEN_MINUTES).unwrap_err(),
            unknown_code()
        );
        old.issued_at = NOW - 600;
        assert_eq!(check(&old, &client(true), good()), Ok(()));
        old.issued_at = NOW + 1;
        assert_eq!(
            check(&old, &client(true), good()),
            Err(ErrorCode::InvalidGrant)
        );
    }

    #[test]
    fn redirect_uri_must_repeat_the_requests() {
        let wrong = Redemption {
            redirect_uri: Some("http://127.0.0.1:5556/callback"),
            ..good()
        };
        assert_eq!(
            check(&code(), &client(true), wrong),
            Err(ErrorCode::InvalidGrant)
        );
        let missing = Redemption {
            redirect_uri: None,
            ..good()
        };
        assert_eq!(
            check(&code(), &client(true), missing),
            Err(ErrorCode::InvalidRequest)
        );
        let mut implicit = code();
        implicit.redirect_uri_given = false;
        assert_eq!(check(&implicit, &client(true), missing), Ok(()));
    }

    #[test]
    fn pkce_is_verified_and_cannot_be_downgraded_or_skipped() {
        let wrong = Redemption {
            code_verifier: Some("x".repeat(43).leak()),
            ..good()
        };
        assert_eq!(
            check(&code(), &client(true), wrong),
            Err(ErrorCode::InvalidGrant)
        );
        let none = Redemption {
            code_verifier: None,
            ..good()
        };
        assert_eq!(
            check(&code(), &client(true), none),
            Err(ErrorCode::InvalidRequest)
        );
        let mut plain = code();
        plain.code_challenge = None;
        assert_eq!(
            check(&plain, &client(false), good()),
            Err(ErrorCode::InvalidGrant),
            "downgrade"
        );
        assert_eq!(
            check(&plain, &client(false), none),
            Ok(()),
            "confidential without PKCE"
        );
        assert_eq!(
            check(&plain, &client(true), none),
            Err(ErrorCode::InvalidGrant),
            "a public client's code without a challenge"
        );
    }

    #[test]
    fn a_redemption_prints_no_verifier() {
        let printed = format!("{:?} {:#?}", good(), good());
        assert!(!printed.contains(VERIFIER), "{printed}");
        assert!(printed.contains("[redacted]") && printed.contains("5555/callback"));
    }

    #[test]
    fn a_missing_code_is_a_replay_only_for_the_client_it_was_issued_to() {
        let spent = SpentCodeRecord {
            grant_id: "g".into(),
            client_id: ClientId::parse("neoncli").unwrap(),
        };
        assert_eq!(
            missing_code(Some(&spent), &client(true)),
            MissingCode::Replayed { grant_id: "g" }
        );
        let mut other = client(true);
        other.id = ClientId::parse("thief").unwrap();
        assert_eq!(missing_code(Some(&spent), &other), MissingCode::Unknown);
        assert_eq!(missing_code(None, &client(true)), MissingCode::Unknown);
    }

    #[test]
    fn a_code_may_be_redeemed_in_the_second_it_was_issued() {
        let mut fresh = code();
        fresh.issued_at = NOW;
        assert_eq!(check(&fresh, &client(true), good()), Ok(()));
    }

    fn access_record(subject: Option<&str>, authorized_at_ms: i64) -> AccessTokenRecord {
        AccessTokenRecord {
            client_id: ClientId::parse("neoncli").unwrap(),
            client_incarnation: String::new(),
            subject: subject.map(str::to_owned),
            scope: ScopeSet::parse("openid").unwrap(),
            audience: Vec::new(),
            issued_at: NOW,
            expires_at: NOW + 3600,
            grant_id: None,
            authorized_at_ms,
            dpop_jkt: None,
            ext: None,
            acr: None,
        }
    }

    #[test]
    fn an_access_token_record_without_extra_claims_stores_no_ext() {
        let plain = serde_json::to_string(&access_record(Some("alice"), 0)).unwrap();
        assert!(!plain.contains("ext"), "{plain}");
        let mut with = access_record(Some("alice"), 0);
        with.ext = serde_json::json!({"tenant": "acme"}).as_object().cloned();
        let text = serde_json::to_string(&with).unwrap();
        assert_eq!(
            serde_json::from_str::<AccessTokenRecord>(&text).unwrap(),
            with
        );
    }

    #[test]
    fn reserved_access_token_claims_are_never_allowed() {
        let claims = serde_json::json!({
            "sub": "mallory", "client_id": "x", "scope": "admin", "cnf": {"jkt": "k"},
            "exp": 1, "client_incarnation": "i", "tenant": "acme",
        });
        let allowed = allowed_access_token_claims(claims.as_object()).unwrap();
        assert_eq!(allowed.keys().collect::<Vec<_>>(), ["tenant"]);
        let only_reserved = serde_json::json!({"sub": "mallory"});
        assert_eq!(allowed_access_token_claims(only_reserved.as_object()), None);
        assert_eq!(allowed_access_token_claims(None), None);
        assert!(SessionClaims::default().is_empty());
        let empty_maps = SessionClaims {
            id_token: Some(serde_json::Map::new()),
            access_token: Some(serde_json::Map::new()),
            amr: Vec::new(),
        };
        assert!(empty_maps.is_empty());
    }

    #[test]
    fn an_access_tokens_subject_is_the_user_or_else_the_client() {
        assert_eq!(access_record(Some("alice"), 0).sub(), "alice");
        assert_eq!(access_record(None, 0).sub(), "neoncli");
    }

    #[test]
    fn authority_dates_from_the_recorded_millisecond_or_else_the_issue_second() {
        assert_eq!(access_record(None, 0).authorized_at(), NOW * 1000);
        assert_eq!(
            access_record(None, NOW * 1000 - 7).authorized_at(),
            NOW * 1000 - 7
        );
    }

    #[test]
    fn an_access_token_record_stores_only_what_it_has() {
        let bare = serde_json::to_value(access_record(None, 0)).unwrap();
        for absent in [
            "subject",
            "grant_id",
            "authorized_at_ms",
            "client_incarnation",
        ] {
            assert!(bare.get(absent).is_none(), "{absent} in {bare}");
        }
        let full = serde_json::to_value(access_record(Some("alice"), 5)).unwrap();
        assert_eq!(full["authorized_at_ms"], 5);
        assert_eq!(full["subject"], "alice");
        let back: AccessTokenRecord = serde_json::from_value(full).unwrap();
        assert_eq!(back, access_record(Some("alice"), 5));
    }

    #[test]
    fn a_revocation_reason_says_why_and_what_to_do() {
        let replayed = GrantRevocationReason::CodeReplayed.refresh_refused();
        let reused = GrantRevocationReason::RefreshTokenReused.refresh_refused();
        assert!(replayed.contains("authorization code") && replayed.contains("used twice"));
        assert!(reused.contains("refresh token of this grant") && reused.contains("used twice"));
        for description in [replayed, reused] {
            assert!(
                description.ends_with("start a new authorization"),
                "{description}"
            );
            // RFC 6749 §5.2: error_description holds no '"' or '\\'.
            assert!(!description.contains(['"', '\\']), "{description}");
        }
        assert_eq!(
            serde_json::to_string(&GrantRevocationReason::CodeReplayed)
                .ok()
                .as_deref(),
            Some("\"code_replayed\"")
        );
    }
}
