//! Signing keys and the store itself.

use crate::DurableBackend;
use crate::fixtures::now;
use gatehouse_core::store::{SigningKeyRecord, StoreError};
use time::Duration;

fn key(kid: &str, age_days: i64) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.into(),
        alg: "ES256".into(),
        encrypted_private_key: (0..=255u8).rev().chain([0, 0, 1]).collect(),
        public_jwk: format!(r#"{{"kty":"EC","crv":"P-256","kid":"{kid}","x":"...","y":"..."}}"#),
        created_at: now() - Duration::days(age_days),
        retired_at: None,
    }
}

pub async fn signing_keys_lifecycle(b: DurableBackend) {
    let store = &b.store;
    let (old, new) = (key("k-old", 90), key("k-new", 1));
    store.insert_signing_key(&old).await.unwrap();
    store.insert_signing_key(&new).await.unwrap();
    assert_eq!(
        store.list_signing_keys().await.unwrap(),
        vec![new.clone(), old.clone()]
    );

    let duplicate = store.insert_signing_key(&key("k-old", 3)).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict)),
        "{duplicate:?}"
    );

    let at = now();
    store.retire_signing_key("k-old", at).await.unwrap();
    let retired = SigningKeyRecord {
        retired_at: Some(at),
        ..old
    };
    assert_eq!(
        store.list_signing_keys().await.unwrap(),
        vec![new.clone(), retired]
    );

    store.delete_signing_key("k-old").await.unwrap();
    assert_eq!(store.list_signing_keys().await.unwrap(), vec![new]);
}

pub async fn ping_names_the_backend_and_migrations_are_idempotent(b: DurableBackend) {
    b.store.ping().await.unwrap();
    assert_eq!(b.store.backend(), b.name());
    // The testkit migrated this database already: running it again applies nothing and breaks nothing.
    assert_eq!(gatehouse_store::migrate(&b.url).await.unwrap(), 0);
    assert_eq!(gatehouse_store::migrate(&b.url).await.unwrap(), 0);
    b.store.ping().await.unwrap();
}
