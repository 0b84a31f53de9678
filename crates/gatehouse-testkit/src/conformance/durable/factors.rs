//! Users' second factors and recovery codes.

use crate::DurableBackend;
use crate::fixtures::{now, user};
use gatehouse_core::factor::{Factor, FactorKind};

fn factor(id: &str, user_id: &str) -> Factor {
    Factor {
        id: id.into(),
        user_id: user_id.into(),
        kind: FactorKind::Totp,
        label: "Phone".into(),
        sealed_secret: vec![1, 0, 2, 255],
        created_at: now(),
        confirmed_at: None,
        last_used_step: None,
        credential_id: None,
    }
}

fn passkey(id: &str, user_id: &str, credential_id: &str) -> Factor {
    Factor {
        kind: FactorKind::Passkey,
        label: "Laptop".into(),
        confirmed_at: Some(now()),
        credential_id: Some(credential_id.into()),
        ..factor(id, user_id)
    }
}

pub async fn passkeys_are_found_by_credential_id_which_is_unique(b: DurableBackend) {
    let store = &b.store;
    store.create_user(&user("u1", "alice")).await.unwrap();
    store.create_user(&user("u2", "bob")).await.unwrap();
    // Two TOTP factors (no credential id) do not collide on the unique index.
    store.create_factor(&factor("t1", "u1")).await.unwrap();
    store.confirm_factor("u1", "t1", now(), 1).await.unwrap();
    store.create_factor(&factor("t2", "u2")).await.unwrap();
    store.confirm_factor("u2", "t2", now(), 1).await.unwrap();
    store
        .create_factor(&passkey("p1", "u1", "Y3JlZC0x"))
        .await
        .unwrap();
    store
        .create_factor(&passkey("p2", "u1", "Y3JlZC0y"))
        .await
        .unwrap();
    assert_eq!(
        store
            .find_factor_by_credential_id("Y3JlZC0x")
            .await
            .unwrap(),
        Some(passkey("p1", "u1", "Y3JlZC0x"))
    );
    assert_eq!(
        store
            .find_factor_by_credential_id("Y3JlZC0z")
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .create_factor(&passkey("p3", "u2", "Y3JlZC0x"))
            .await
            .is_err(),
        "one credential belongs to one user"
    );
    assert_eq!(store.list_factors("u1").await.unwrap().len(), 3);
    // Deleting the user takes their passkeys with them.
    store.delete_user("u1").await.unwrap();
    assert_eq!(
        store
            .find_factor_by_credential_id("Y3JlZC0y")
            .await
            .unwrap(),
        None
    );
}

pub async fn a_passkeys_sealed_secret_is_replaced_only_for_its_user(b: DurableBackend) {
    let store = &b.store;
    store.create_user(&user("u1", "alice")).await.unwrap();
    store
        .create_factor(&passkey("p1", "u1", "Y3JlZC0x"))
        .await
        .unwrap();
    assert!(
        !store
            .update_factor_secret("u2", "p1", &[9, 9])
            .await
            .unwrap(),
        "another user's"
    );
    assert!(
        !store
            .update_factor_secret("u1", "p9", &[9, 9])
            .await
            .unwrap()
    );
    assert!(
        store
            .update_factor_secret("u1", "p1", &[7, 8, 9])
            .await
            .unwrap()
    );
    let found = store
        .find_factor_by_credential_id("Y3JlZC0x")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.sealed_secret, [7, 8, 9]);
    assert_eq!(found.kind, FactorKind::Passkey);
    assert_eq!(found.label, "Laptop");
}

pub async fn factors_are_confirmed_once_and_abandoned_enrolments_replaced(b: DurableBackend) {
    let store = &b.store;
    store.create_user(&user("u1", "alice")).await.unwrap();
    // One value, created once: two calls to `factor` may straddle a second.
    let first = factor("f1", "u1");
    store.create_factor(&first).await.unwrap();
    assert_eq!(store.list_factors("u1").await.unwrap(), [first]);
    // A second enrolment before the first was confirmed replaces it.
    store.create_factor(&factor("f2", "u1")).await.unwrap();
    let listed = store.list_factors("u1").await.unwrap();
    assert_eq!(
        listed.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
        ["f2"]
    );
    assert!(
        !store.use_factor_step("u1", "f2", 10).await.unwrap(),
        "unconfirmed"
    );
    assert!(
        !store.confirm_factor("u2", "f2", now(), 9).await.unwrap(),
        "another user"
    );
    // One instant, read once: two calls to `now` may straddle a second.
    let confirmed_at = now();
    assert!(
        store
            .confirm_factor("u1", "f2", confirmed_at, 9)
            .await
            .unwrap()
    );
    assert!(
        !store.confirm_factor("u1", "f2", now(), 9).await.unwrap(),
        "twice"
    );
    let confirmed = store.list_factors("u1").await.unwrap().remove(0);
    assert_eq!(confirmed.confirmed_at, Some(confirmed_at));
    assert_eq!(confirmed.last_used_step, Some(9));
    assert_eq!(confirmed.sealed_secret, [1, 0, 2, 255]);
    // A confirmed factor stays when another enrolment starts.
    store.create_factor(&factor("f3", "u1")).await.unwrap();
    assert_eq!(store.list_factors("u1").await.unwrap().len(), 2);
    assert!(
        store.create_factor(&factor("f2", "u1")).await.is_err(),
        "a taken id conflicts"
    );
}

pub async fn a_step_is_used_once_and_never_an_earlier_one(b: DurableBackend) {
    let store = &b.store;
    store.create_user(&user("u1", "alice")).await.unwrap();
    store.create_factor(&factor("f1", "u1")).await.unwrap();
    store.confirm_factor("u1", "f1", now(), 100).await.unwrap();
    assert!(
        !store.use_factor_step("u1", "f1", 100).await.unwrap(),
        "replay"
    );
    assert!(!store.use_factor_step("u1", "f1", 99).await.unwrap());
    assert!(!store.use_factor_step("u2", "f1", 101).await.unwrap());
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(8));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let store = b.store.clone();
        let start = start.clone();
        tasks.spawn(async move {
            start.wait().await;
            store.use_factor_step("u1", "f1", 101).await
        });
    }
    let mut won = 0;
    while let Some(result) = tasks.join_next().await {
        if result.unwrap().unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1, "exactly one of 8 concurrent uses of a step wins");
    assert_eq!(
        store.list_factors("u1").await.unwrap()[0].last_used_step,
        Some(101)
    );
}

pub async fn recovery_codes_are_replaced_used_once_and_go_with_the_last_factor(b: DurableBackend) {
    let store = &b.store;
    store.create_user(&user("u1", "alice")).await.unwrap();
    store.create_factor(&factor("f1", "u1")).await.unwrap();
    store.confirm_factor("u1", "f1", now(), 1).await.unwrap();
    store
        .replace_recovery_codes("u1", &["h1".into(), "h2".into()], now())
        .await
        .unwrap();
    store
        .replace_recovery_codes("u1", &["h3".into(), "h4".into()], now())
        .await
        .unwrap();
    let codes = store.list_recovery_codes("u1").await.unwrap();
    assert_eq!(
        codes
            .iter()
            .map(|c| c.code_hash.as_str())
            .collect::<Vec<_>>(),
        ["h3", "h4"]
    );
    assert!(codes.iter().all(|c| c.used_at.is_none()));
    assert!(
        !store.use_recovery_code("u1", "h1", now()).await.unwrap(),
        "replaced"
    );
    assert!(!store.use_recovery_code("u2", "h3", now()).await.unwrap());
    // One instant, read once: two calls to `now` may straddle a second.
    let used_at = now();
    assert!(store.use_recovery_code("u1", "h3", used_at).await.unwrap());
    assert!(
        !store.use_recovery_code("u1", "h3", now()).await.unwrap(),
        "used"
    );
    let codes = store.list_recovery_codes("u1").await.unwrap();
    assert_eq!(codes[0].used_at, Some(used_at));
    // An unconfirmed factor left behind does not keep the codes.
    store.create_factor(&factor("f2", "u1")).await.unwrap();
    assert!(!store.delete_factor("u1", "nope").await.unwrap());
    assert_eq!(store.list_recovery_codes("u1").await.unwrap().len(), 2);
    assert!(store.delete_factor("u1", "f1").await.unwrap());
    assert!(store.list_recovery_codes("u1").await.unwrap().is_empty());
    assert_eq!(store.list_factors("u1").await.unwrap().len(), 1);
}

pub async fn deleting_a_user_deletes_their_factors_and_codes(b: DurableBackend) {
    let store = &b.store;
    store.create_user(&user("u1", "alice")).await.unwrap();
    store.create_user(&user("u2", "bob")).await.unwrap();
    store.create_factor(&factor("f1", "u1")).await.unwrap();
    store.create_factor(&factor("f2", "u2")).await.unwrap();
    store
        .replace_recovery_codes("u1", &["h1".into()], now())
        .await
        .unwrap();
    store.delete_user("u1").await.unwrap();
    assert!(store.list_factors("u1").await.unwrap().is_empty());
    assert!(store.list_recovery_codes("u1").await.unwrap().is_empty());
    assert_eq!(store.list_factors("u2").await.unwrap().len(), 1);
    // A new user under the old id inherits nothing.
    store.create_user(&user("u1", "alice")).await.unwrap();
    assert!(store.list_factors("u1").await.unwrap().is_empty());
}
