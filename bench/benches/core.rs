//! Criterion micro-benchmarks of the functions on Gatehouse's hot paths, to tell where a request's
//! time goes without the network: `cargo bench -p gatehouse-bench`.
//!
//! - client secret verification (every confidential token and introspection request),
//! - PKCE S256 verification (every code exchange),
//! - opaque token minting and its keyed hash (every opaque token issued or looked up),
//! - JWT signing per algorithm (every JWT access token and ID token),
//! - argon2id password verification with Gatehouse's parameters (every login).

// Benchmarks are test code: a failed setup should stop them loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_core::client::{Client, ClientId, ClientMetadata};
use gatehouse_core::pkce::PkceChallenge;
use gatehouse_core::registration::{
    client_secret_hasher, generate_client_secret, secret_hashes, verify_client_secret,
};
use gatehouse_core::secret::{KeyedHasher, random_token};
use gatehouse_core::store::SigningKeyRecord;
use gatehouse_jose::{KeyEncryption, KeyRing, SigningAlgorithm, generate};
use time::OffsetDateTime;

const SYSTEM_SECRET: &[u8] = b"benchmark-system-secret-at-least-32-bytes-long";

fn client_secret(c: &mut Criterion) {
    let hasher = client_secret_hasher(SYSTEM_SECRET);
    let secret = generate_client_secret();
    let now = OffsetDateTime::now_utc();
    let client = Client {
        id: ClientId::parse("bench").expect("a valid client id"),
        incarnation: gatehouse_core::client::Client::new_incarnation(),
        metadata: ClientMetadata::default(),
        secret: Some(secret_hashes(&secret, &hasher)),
        created_at: now,
        updated_at: now,
    };
    c.bench_function("verify_client_secret", |b| {
        b.iter(|| verify_client_secret(&client, black_box(secret.expose()), &hasher, now));
    });
}

fn pkce(c: &mut Criterion) {
    let verifier = random_token(32);
    let challenge = {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()))
    };
    let challenge = PkceChallenge::from_request(&challenge, Some("S256")).unwrap();
    c.bench_function("pkce_s256_verify", |b| {
        b.iter(|| challenge.verify(black_box(&verifier)));
    });
}

fn opaque_tokens(c: &mut Criterion) {
    let hasher = KeyedHasher::new(SYSTEM_SECRET, "token");
    c.bench_function("random_token_32", |b| {
        b.iter(|| random_token(black_box(32)))
    });
    let token = format!("gh_at_{}", random_token(32));
    c.bench_function("keyed_hash_token", |b| {
        b.iter(|| hasher.hash(black_box(&token)));
    });
    c.bench_function("mint_and_hash_opaque_token", |b| {
        b.iter(|| {
            let token = format!("gh_at_{}", random_token(32));
            hasher.hash(&token)
        });
    });
}

/// The claims of an RFC 9068 access token as Gatehouse mints them.
#[derive(serde::Serialize)]
struct AccessTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a [&'a str],
    exp: i64,
    iat: i64,
    jti: String,
    client_id: &'a str,
    scope: &'a str,
}

fn jwt_signing(c: &mut Criterion) {
    let encryption = KeyEncryption::new(&[SYSTEM_SECRET]).unwrap();
    let now = OffsetDateTime::now_utc();
    let records: Vec<SigningKeyRecord> = SigningAlgorithm::ALL
        .iter()
        .map(|&alg| {
            let key = generate(alg).unwrap();
            SigningKeyRecord {
                kid: key.kid.clone(),
                alg: alg.as_str().to_owned(),
                encrypted_private_key: encryption.seal(&key.pkcs8_der).unwrap(),
                public_jwk: serde_json::to_string(&key.public_jwk).unwrap(),
                created_at: now,
                retired_at: None,
            }
        })
        .collect();
    let ring = KeyRing::from_records(&records, &encryption).unwrap();
    let mut group = c.benchmark_group("jwt_sign");
    for alg in SigningAlgorithm::ALL {
        let signer = ring.signer(alg).unwrap();
        group.bench_function(alg.as_str(), |b| {
            b.iter(|| {
                let claims = AccessTokenClaims {
                    iss: "http://127.0.0.1:4444",
                    sub: "bench-client",
                    aud: &["http://127.0.0.1:4444"],
                    exp: 1_900_000_000,
                    iat: 1_899_996_400,
                    jti: random_token(16),
                    client_id: "bench-client",
                    scope: "",
                };
                signer.sign("at+jwt", black_box(&claims)).unwrap()
            });
        });
    }
    group.finish();

    // The same JWS with a bare aws-lc-rs key pair: the floor for the key ring. Before the ring
    // kept parsed keys, jsonwebtoken 11 (aws_lc_rs) parsed the PKCS#8 key again on every encode
    // and jwt_sign was 2.2-2.5 times slower than this (RS256 2.88 ms against 1.18 ms).
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let mut group = c.benchmark_group("jws_sign_cached_key");
    for (record, alg) in records.iter().zip(SigningAlgorithm::ALL) {
        let der = encryption.open(&record.encrypted_private_key).unwrap();
        let header = format!(
            r#"{{"alg":"{}","typ":"at+jwt","kid":"{}"}}"#,
            alg.as_str(),
            record.kid
        );
        enum Key {
            Rsa(aws_lc_rs::rsa::KeyPair),
            Ec(aws_lc_rs::signature::EcdsaKeyPair),
            Ed(aws_lc_rs::signature::Ed25519KeyPair),
        }
        let key = match alg {
            SigningAlgorithm::Rs256 => Key::Rsa(aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).unwrap()),
            SigningAlgorithm::Es256 => Key::Ec(
                aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
                    &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &der,
                )
                .unwrap(),
            ),
            SigningAlgorithm::EdDsa => {
                Key::Ed(aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(&der).unwrap())
            }
        };
        group.bench_function(alg.as_str(), |b| {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            b.iter(|| {
                let claims = AccessTokenClaims {
                    iss: "http://127.0.0.1:4444",
                    sub: "bench-client",
                    aud: &["http://127.0.0.1:4444"],
                    exp: 1_900_000_000,
                    iat: 1_899_996_400,
                    jti: random_token(16),
                    client_id: "bench-client",
                    scope: "",
                };
                let mut jws = b64.encode(&header);
                jws.push('.');
                jws.push_str(&b64.encode(serde_json::to_vec(black_box(&claims)).unwrap()));
                let sig = match &key {
                    Key::Rsa(k) => {
                        let mut sig = vec![0; k.public_modulus_len()];
                        k.sign(
                            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                            &rng,
                            jws.as_bytes(),
                            &mut sig,
                        )
                        .unwrap();
                        sig
                    }
                    Key::Ec(k) => k.sign(&rng, jws.as_bytes()).unwrap().as_ref().to_vec(),
                    Key::Ed(k) => k.sign(jws.as_bytes()).as_ref().to_vec(),
                };
                jws.push('.');
                jws.push_str(&b64.encode(sig));
                jws
            });
        });
    }
    group.finish();
}

fn password(c: &mut Criterion) {
    // Gatehouse's PasswordHashParams::default(): OWASP's argon2id m=19456 KiB, t=2, p=1.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let phc = argon2
        .hash_password(b"correct horse battery staple")
        .unwrap()
        .to_string();
    let parsed = PasswordHash::new(&phc).unwrap();
    let mut group = c.benchmark_group("password");
    group.sample_size(10);
    group.bench_function("argon2id_verify_m19456_t2_p1", |b| {
        b.iter(|| {
            Argon2::default()
                .verify_password(black_box(b"correct horse battery staple"), &parsed)
                .is_ok()
        });
    });
    // The same computation into a buffer allocated once: what the per-call 19 MiB zeroed
    // allocation (and, under glibc, its page faults) adds to each login.
    let mut blocks = vec![argon2::Block::default(); params.block_count()];
    let mut out = [0u8; 32];
    group.bench_function("argon2id_hash_into_reused_memory", |b| {
        b.iter(|| {
            argon2
                .hash_password_into_with_memory(
                    black_box(b"correct horse battery staple"),
                    b"sixteen-byte-salt",
                    &mut out,
                    &mut blocks,
                )
                .unwrap();
        });
    });
    group.finish();
}

criterion_group!(
    benches,
    client_secret,
    pkce,
    opaque_tokens,
    jwt_signing,
    password
);
criterion_main!(benches);
