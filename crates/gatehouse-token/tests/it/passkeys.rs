//! Passkey ceremonies of the token service, answered by a software authenticator written here
//! (ES256 with aws-lc-rs, "none" attestation, CBOR by hand): registration, the second factor, the
//! discoverable sign-in, and what an attacker tries: a replayed or spent ceremony, another
//! user's ceremony, a credential whose user handle is not the owner's, a forged signature. Every
//! refusal counts toward the failed-login limits.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_core::factor::FactorKind;
use gatehouse_token::passkeys::{PasskeyCheck, PasskeyRegistered};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::oauth::{Env, ISSUER, SUBJECT, envs};

const RP_ID: &str = "id.gatehouse.test";
const IP: &str = "198.51.100.7";

/// An authenticator holding one ES256 credential.
struct SoftKey {
    key: EcdsaKeyPair,
    credential_id: Vec<u8>,
    user_handle: Vec<u8>,
    counter: u32,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// CBOR byte string header + bytes.
fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = bytes.len();
    if len < 24 {
        out.push(0x40 | len as u8);
    } else if len < 256 {
        out.extend([0x58, len as u8]);
    } else {
        out.push(0x59);
        out.extend((len as u16).to_be_bytes());
    }
    out.extend(bytes);
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    assert!(text.len() < 24);
    out.push(0x60 | text.len() as u8);
    out.extend(text.as_bytes());
}

fn client_data(kind: &str, challenge: &str) -> Vec<u8> {
    json!({
        "type": kind,
        "challenge": challenge,
        "origin": ISSUER,
        "crossOrigin": false,
    })
    .to_string()
    .into_bytes()
}

fn challenge_of(options: &str) -> String {
    let options: Value = serde_json::from_str(options).unwrap();
    options["publicKey"]["challenge"]
        .as_str()
        .unwrap()
        .to_owned()
}

impl SoftKey {
    fn new() -> Self {
        let mut credential_id = vec![0u8; 16];
        aws_lc_rs::rand::fill(&mut credential_id).unwrap();
        Self {
            key: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap(),
            credential_id,
            user_handle: Vec::new(),
            counter: 0,
        }
    }

    fn rp_id_hash() -> Vec<u8> {
        Sha256::digest(RP_ID.as_bytes()).to_vec()
    }

    /// `navigator.credentials.create` for `options` (the registration's JSON).
    fn create(&mut self, options: &str) -> String {
        let parsed: Value = serde_json::from_str(options).unwrap();
        self.user_handle = URL_SAFE_NO_PAD
            .decode(parsed["publicKey"]["user"]["id"].as_str().unwrap())
            .unwrap();
        let point = self.key.public_key().as_ref();
        assert_eq!(point.len(), 65);
        // COSE_Key: {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
        let mut cose = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
        cbor_bytes(&mut cose, &point[1..33]);
        cose.push(0x22);
        cbor_bytes(&mut cose, &point[33..65]);
        let mut auth_data = Self::rp_id_hash();
        auth_data.push(0x45); // UP | UV | AT
        auth_data.extend(0u32.to_be_bytes());
        auth_data.extend([0u8; 16]); // AAGUID
        auth_data.extend((self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&self.credential_id);
        auth_data.extend(cose);
        let mut attestation = vec![0xa3];
        cbor_text(&mut attestation, "fmt");
        cbor_text(&mut attestation, "none");
        cbor_text(&mut attestation, "attStmt");
        attestation.push(0xa0);
        cbor_text(&mut attestation, "authData");
        cbor_bytes(&mut attestation, &auth_data);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&attestation),
                "clientDataJSON": b64(&client_data("webauthn.create", &challenge_of(options))),
            },
            "extensions": {},
        })
        .to_string()
    }

    /// `navigator.credentials.get` for `options`, with `user_handle` as the authenticator's.
    fn get_as(&mut self, options: &str, user_handle: &[u8]) -> String {
        self.counter += 1;
        let mut auth_data = Self::rp_id_hash();
        auth_data.push(0x05); // UP | UV
        auth_data.extend(self.counter.to_be_bytes());
        let client_data = client_data("webauthn.get", &challenge_of(options));
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature = self.key.sign(&SystemRandom::new(), &signed).unwrap();
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(signature.as_ref()),
                "userHandle": b64(user_handle),
            },
            "extensions": {},
        })
        .to_string()
    }

    fn get(&mut self, options: &str) -> String {
        let handle = self.user_handle.clone();
        self.get_as(options, &handle)
    }
}

async fn register(env: &Env, user: &str, key: &mut SoftKey) -> PasskeyRegistered {
    let started = env.service.begin_passkey_registration(user).await.unwrap();
    let answer = key.create(&started.options_json);
    env.service
        .finish_passkey_registration(user, &started.ceremony_id, "Laptop", &answer)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_passkey_registers_and_signs_in_as_second_factor_and_alone() {
    for env in envs().await {
        assert!(env.service.passkeys_enabled());
        let mut key = SoftKey::new();
        let PasskeyRegistered::Registered { recovery_codes, .. } =
            register(&env, SUBJECT, &mut key).await
        else {
            panic!("{}: the registration was refused", env.name);
        };
        assert_eq!(recovery_codes.len(), 10, "the first factor brings codes");
        let factors = env.service.all_factors(SUBJECT).await.unwrap();
        assert_eq!(factors.len(), 1);
        assert_eq!(factors[0].kind, FactorKind::Passkey);
        assert_eq!(
            factors[0].credential_id.as_deref(),
            Some(b64(&key.credential_id).as_str())
        );
        assert!(env.service.has_second_factor(SUBJECT).await.unwrap());
        // The user handle is not the user id.
        assert_ne!(key.user_handle, SUBJECT.as_bytes());

        // Second factor.
        let started = env
            .service
            .begin_passkey_authentication(Some(SUBJECT))
            .await
            .unwrap()
            .unwrap();
        let answer = key.get(&started.options_json);
        match env
            .service
            .finish_passkey_authentication(&started.ceremony_id, Some(SUBJECT), &answer, IP)
            .await
            .unwrap()
        {
            PasskeyCheck::Accepted { user, amr } => {
                assert_eq!(user.id, SUBJECT);
                assert_eq!(amr, ["pwd", "hwk", "mfa"]);
            }
            other => panic!("{}: {other:?}", env.name),
        }

        // Discoverable sign-in: the credential names the user.
        let started = env
            .service
            .begin_passkey_authentication(None)
            .await
            .unwrap()
            .unwrap();
        let answer = key.get(&started.options_json);
        match env
            .service
            .finish_passkey_authentication(&started.ceremony_id, None, &answer, IP)
            .await
            .unwrap()
        {
            PasskeyCheck::Accepted { user, amr } => {
                assert_eq!(user.id, SUBJECT);
                assert_eq!(amr, ["hwk", "user", "mfa"]);
            }
            other => panic!("{}: {other:?}", env.name),
        }

        // The same authenticator cannot be registered twice.
        assert_eq!(
            register(&env, SUBJECT, &mut key).await,
            PasskeyRegistered::Refused,
            "{}",
            env.name
        );
    }
}

#[tokio::test]
async fn a_ceremony_is_finished_once_and_only_by_its_user() {
    for env in envs().await {
        env.user("user-bob", "bob").await;
        let mut key = SoftKey::new();
        let started = env
            .service
            .begin_passkey_registration(SUBJECT)
            .await
            .unwrap();
        let answer = key.create(&started.options_json);
        // Bob cannot finish Alice's registration (the ceremony is spent by trying).
        assert_eq!(
            env.service
                .finish_passkey_registration("user-bob", &started.ceremony_id, "x", &answer)
                .await
                .unwrap(),
            PasskeyRegistered::Refused
        );
        assert_eq!(
            env.service
                .finish_passkey_registration(SUBJECT, &started.ceremony_id, "x", &answer)
                .await
                .unwrap(),
            PasskeyRegistered::Refused,
            "{}: a ceremony is single use",
            env.name
        );
        assert!(env.service.all_factors(SUBJECT).await.unwrap().is_empty());
        register(&env, SUBJECT, &mut key).await;

        // A replayed assertion: its ceremony is gone.
        let started = env
            .service
            .begin_passkey_authentication(None)
            .await
            .unwrap()
            .unwrap();
        let answer = key.get(&started.options_json);
        let first = env
            .service
            .finish_passkey_authentication(&started.ceremony_id, None, &answer, IP)
            .await
            .unwrap();
        assert!(matches!(first, PasskeyCheck::Accepted { .. }), "{first:?}");
        let replay = env
            .service
            .finish_passkey_authentication(&started.ceremony_id, None, &answer, IP)
            .await
            .unwrap();
        assert!(
            matches!(replay, PasskeyCheck::Refused { .. }),
            "{}: {replay:?}",
            env.name
        );
        // An unknown ceremony id.
        let unknown = env
            .service
            .finish_passkey_authentication("no-such-ceremony", None, &answer, IP)
            .await
            .unwrap();
        assert!(matches!(unknown, PasskeyCheck::Refused { .. }));

        // Alice's passkey is not Bob's second factor, and a ceremony started for the second
        // factor is not a discoverable sign-in.
        let started = env
            .service
            .begin_passkey_authentication(Some(SUBJECT))
            .await
            .unwrap()
            .unwrap();
        let answer = key.get(&started.options_json);
        let as_bob = env
            .service
            .finish_passkey_authentication(&started.ceremony_id, Some("user-bob"), &answer, IP)
            .await
            .unwrap();
        assert!(matches!(as_bob, PasskeyCheck::Refused { .. }), "{as_bob:?}");
        assert!(
            env.service
                .begin_passkey_authentication(Some("user-bob"))
                .await
                .unwrap()
                .is_none(),
            "bob has no passkey"
        );
        let started = env
            .service
            .begin_passkey_authentication(Some(SUBJECT))
            .await
            .unwrap()
            .unwrap();
        let answer = key.get(&started.options_json);
        let switched = env
            .service
            .finish_passkey_authentication(&started.ceremony_id, None, &answer, IP)
            .await
            .unwrap();
        assert!(matches!(switched, PasskeyCheck::Refused { .. }));
    }
}

#[tokio::test]
async fn a_discoverable_answer_with_another_user_handle_or_a_forged_signature_is_refused() {
    for env in envs().await {
        env.user("user-bob", "bob").await;
        let mut alice = SoftKey::new();
        register(&env, SUBJECT, &mut alice).await;
        let mut bob = SoftKey::new();
        register(&env, "user-bob", &mut bob).await;

        // Alice's credential, but Bob's user handle: the credential id alone does not say whose
        // account the authenticator meant.
        let started = env
            .service
            .begin_passkey_authentication(None)
            .await
            .unwrap()
            .unwrap();
        let bobs_handle = bob.user_handle.clone();
        let answer = alice.get_as(&started.options_json, &bobs_handle);
        let check = env
            .service
            .finish_passkey_authentication(&started.ceremony_id, None, &answer, IP)
            .await
            .unwrap();
        assert!(
            matches!(check, PasskeyCheck::Refused { .. }),
            "{}: {check:?}",
            env.name
        );

        // Alice's credential id signed by another key.
        let mut forger = SoftKey::new();
        forger.credential_id = alice.credential_id.clone();
        forger.user_handle = alice.user_handle.clone();
        let started = env
            .service
            .begin_passkey_authentication(None)
            .await
            .unwrap()
            .unwrap();
        let answer = forger.get(&started.options_json);
        let check = env
            .service
            .finish_passkey_authentication(&started.ceremony_id, None, &answer, IP)
            .await
            .unwrap();
        assert!(matches!(check, PasskeyCheck::Refused { .. }), "{check:?}");

        // Garbage is refused, not an error.
        let started = env
            .service
            .begin_passkey_authentication(None)
            .await
            .unwrap()
            .unwrap();
        let check = env
            .service
            .finish_passkey_authentication(&started.ceremony_id, None, "{not json", IP)
            .await
            .unwrap();
        assert!(matches!(check, PasskeyCheck::Refused { .. }));
    }
}

#[tokio::test]
async fn failed_passkey_assertions_count_toward_the_lockout() {
    for env in envs().await {
        let mut key = SoftKey::new();
        register(&env, SUBJECT, &mut key).await;
        let mut forger = SoftKey::new();
        forger.credential_id = key.credential_id.clone();
        let mut locked = false;
        for _ in 0..20 {
            let started = env
                .service
                .begin_passkey_authentication(Some(SUBJECT))
                .await
                .unwrap()
                .unwrap();
            let answer = forger.get_as(&started.options_json, &key.user_handle);
            match env
                .service
                .finish_passkey_authentication(&started.ceremony_id, Some(SUBJECT), &answer, IP)
                .await
                .unwrap()
            {
                PasskeyCheck::Locked(_) => {
                    locked = true;
                    break;
                }
                PasskeyCheck::Refused { .. } => {}
                other => panic!("{other:?}"),
            }
        }
        assert!(locked, "{}: forged assertions end in a lock", env.name);
        // Locked: even the right passkey is refused without being checked.
        let started = env
            .service
            .begin_passkey_authentication(Some(SUBJECT))
            .await
            .unwrap()
            .unwrap();
        let answer = key.get(&started.options_json);
        let check = env
            .service
            .finish_passkey_authentication(&started.ceremony_id, Some(SUBJECT), &answer, IP)
            .await
            .unwrap();
        assert!(matches!(check, PasskeyCheck::Locked(_)), "{check:?}");
    }
}

#[tokio::test]
async fn the_admin_api_lists_a_passkey_without_its_material_and_removes_it() {
    use axum::http::{Method, StatusCode};
    for env in envs().await {
        let mut key = SoftKey::new();
        let PasskeyRegistered::Registered { factor_id, .. } =
            register(&env, SUBJECT, &mut key).await
        else {
            panic!("{}: refused", env.name);
        };
        let listed = env
            .admin_call(
                Method::GET,
                &format!("/admin/users/{SUBJECT}/factors"),
                None,
            )
            .await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
        let factor = &listed.body[0];
        assert_eq!(factor["kind"], "passkey", "{}", listed.body);
        assert_eq!(factor["label"], "Laptop");
        assert_eq!(factor["confirmed"], true);
        let text = listed.body.to_string();
        assert!(!text.contains(&b64(&key.credential_id)), "{text}");
        let point = key.key.public_key().as_ref();
        assert!(!text.contains(&b64(&point[1..33])), "{text}");

        let path = format!("/admin/users/{SUBJECT}/factors/{factor_id}");
        let removed = env.admin_call(Method::DELETE, &path, None).await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
        // A removed passkey signs nobody in.
        let started = env
            .service
            .begin_passkey_authentication(None)
            .await
            .unwrap()
            .unwrap();
        let answer = key.get(&started.options_json);
        let check = env
            .service
            .finish_passkey_authentication(&started.ceremony_id, None, &answer, IP)
            .await
            .unwrap();
        assert!(matches!(check, PasskeyCheck::Refused { .. }), "{check:?}");
    }
}
