//! Initial access tokens for dynamic client registration.

use crate::DurableBackend;
use crate::fixtures::now;
use gatehouse_core::store::{RegistrationToken, StoreError};
use time::Duration;

fn token(id: &str, age_minutes: i64) -> RegistrationToken {
    RegistrationToken {
        id: id.into(),
        token_hash: format!("hash-of-{id}"),
        created_at: now() - Duration::minutes(age_minutes),
        expires_at: None,
        max_uses: None,
        uses: 0,
    }
}

pub async fn registration_tokens_lifecycle(b: DurableBackend) {
    let store = &b.store;
    let unlimited = token("rt-unlimited", 30);
    let twice = RegistrationToken {
        max_uses: Some(2),
        expires_at: Some(now() + Duration::days(7)),
        ..token("rt-twice", 20)
    };
    let expired = RegistrationToken {
        expires_at: Some(now() - Duration::seconds(1)),
        ..token("rt-expired", 10)
    };
    for t in [&unlimited, &twice, &expired] {
        store.insert_registration_token(t).await.unwrap();
    }
    assert_eq!(
        store.list_registration_tokens().await.unwrap(),
        vec![expired.clone(), twice.clone(), unlimited.clone()]
    );
    for duplicate in [
        token("rt-twice", 1),
        RegistrationToken {
            token_hash: "hash-of-rt-twice".into(),
            ..token("rt-other", 1)
        },
    ] {
        let refused = store.insert_registration_token(&duplicate).await;
        assert!(matches!(refused, Err(StoreError::Conflict)), "{refused:?}");
    }

    let at = now();
    assert!(
        store
            .use_registration_token("hash-of-rt-twice", at)
            .await
            .unwrap()
    );
    assert!(
        store
            .use_registration_token("hash-of-rt-twice", at)
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_registration_token("hash-of-rt-twice", at)
            .await
            .unwrap()
    );
    // A use given back (its registration failed) can be used again, once.
    store
        .unuse_registration_token("hash-of-rt-twice")
        .await
        .unwrap();
    assert!(
        store
            .use_registration_token("hash-of-rt-twice", at)
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_registration_token("hash-of-rt-twice", at)
            .await
            .unwrap()
    );
    // Past its expiry even a token with uses left is refused.
    let later = at + Duration::days(8);
    assert!(
        !store
            .use_registration_token("hash-of-rt-expired", at)
            .await
            .unwrap()
    );
    for _ in 0..5 {
        assert!(
            store
                .use_registration_token("hash-of-rt-unlimited", later)
                .await
                .unwrap()
        );
    }
    assert!(
        !store
            .use_registration_token("hash-of-unknown", at)
            .await
            .unwrap()
    );
    // Giving back to a token without counted uses, or to none, changes nothing.
    store
        .unuse_registration_token("hash-of-rt-expired")
        .await
        .unwrap();
    store
        .unuse_registration_token("hash-of-unknown")
        .await
        .unwrap();

    let listed = store.list_registration_tokens().await.unwrap();
    let uses: Vec<(String, u32)> = listed.iter().map(|t| (t.id.clone(), t.uses)).collect();
    assert_eq!(
        uses,
        vec![
            ("rt-expired".to_owned(), 0),
            ("rt-twice".to_owned(), 2),
            ("rt-unlimited".to_owned(), 5),
        ]
    );

    store.delete_registration_token("rt-twice").await.unwrap();
    let gone = store.delete_registration_token("rt-twice").await;
    assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
    assert!(
        !store
            .use_registration_token("hash-of-rt-twice", at)
            .await
            .unwrap()
    );
    assert_eq!(store.list_registration_tokens().await.unwrap().len(), 2);
}

pub async fn concurrent_uses_never_exceed_max_uses(b: DurableBackend) {
    let limited = RegistrationToken {
        max_uses: Some(3),
        ..token("rt-three", 1)
    };
    b.store.insert_registration_token(&limited).await.unwrap();
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let store = b.store.clone();
        let start = start.clone();
        tasks.spawn(async move {
            start.wait().await;
            store
                .use_registration_token("hash-of-rt-three", now())
                .await
        });
    }
    let mut used = 0;
    while let Some(result) = tasks.join_next().await {
        if result.unwrap().unwrap() {
            used += 1;
        }
    }
    assert_eq!(used, 3, "20 concurrent registrations, 3 allowed");
    let stored = b.store.list_registration_tokens().await.unwrap();
    assert_eq!(stored[0].uses, 3);
}
