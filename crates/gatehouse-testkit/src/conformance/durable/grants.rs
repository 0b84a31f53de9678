//! Consents and refresh-token families.

use std::collections::BTreeSet;

use crate::DurableBackend;
use crate::fixtures::{now, scopes, unique_id};
use gatehouse_core::grant::SessionClaims;
use gatehouse_core::store::{Consent, RefreshToken, RefreshTokenState, RotateOutcome};
use time::{Duration, OffsetDateTime};

fn token(
    hash: &str,
    family: &str,
    client_id: &str,
    subject: &str,
    lifetime: Duration,
) -> RefreshToken {
    let now = now();
    RefreshToken {
        token_hash: hash.into(),
        family_id: family.into(),
        client_id: crate::fixtures::client_id(client_id),
        client_incarnation: format!("{client_id}-incarnation"),
        subject: subject.into(),
        scope: scopes("openid offline profile"),
        auth_time: Some(now - Duration::minutes(5)),
        issued_at: now,
        expires_at: now + lifetime,
        resources: vec![
            "https://api.example.com/projects".into(),
            "urn:example:billing".into(),
        ],
        dpop_jkt: String::new(),
        session_claims: SessionClaims::default(),
    }
}

/// A successor as the token service builds it; the store overwrites `family_id` and keeps the
/// family's `client_incarnation` and `resources`.
fn successor(hash: &str) -> RefreshToken {
    RefreshToken {
        resources: Vec::new(),
        ..token(
            hash,
            "ignored-by-the-store",
            "app",
            "alice",
            Duration::days(30),
        )
    }
}

pub async fn consents_upsert_list_and_delete(b: DurableBackend) {
    let store = &b.store;
    let t0 = now() - Duration::days(2);
    let consent = |client_id: &str,
                   scope: &str,
                   granted_at: OffsetDateTime,
                   expires_at: Option<OffsetDateTime>| Consent {
        subject: "alice".into(),
        client_id: crate::fixtures::client_id(client_id),
        scope: scopes(scope),
        granted_at,
        expires_at,
    };
    let old = consent("app1", "openid", t0, None);
    let newer = consent(
        "app2",
        "openid email",
        t0 + Duration::days(1),
        Some(t0 + Duration::days(30)),
    );
    store.put_consent(&old).await.unwrap();
    store.put_consent(&newer).await.unwrap();
    store.put_consent(&old).await.unwrap(); // putting the same consent twice is harmless
    let bob = Consent {
        subject: "bob".into(),
        ..old.clone()
    };
    store.put_consent(&bob).await.unwrap();

    assert_eq!(
        store.get_consent("alice", "app1").await.unwrap(),
        Some(old.clone())
    );
    assert_eq!(store.get_consent("alice", "nope").await.unwrap(), None);
    assert_eq!(
        store.list_consents("alice").await.unwrap(),
        vec![newer.clone(), old.clone()]
    );

    // Granting again replaces the earlier decision, and the order follows.
    let regranted = consent(
        "app1",
        "openid profile email",
        t0 + Duration::days(2),
        Some(t0 + Duration::days(60)),
    );
    store.put_consent(&regranted).await.unwrap();
    assert_eq!(
        store.get_consent("alice", "app1").await.unwrap(),
        Some(regranted.clone())
    );
    assert_eq!(
        store.list_consents("alice").await.unwrap(),
        vec![regranted, newer.clone()]
    );

    assert!(store.delete_consent("alice", "app1").await.unwrap());
    assert!(!store.delete_consent("alice", "app1").await.unwrap());
    assert_eq!(store.list_consents("alice").await.unwrap(), vec![newer]);
    assert_eq!(store.list_consents("bob").await.unwrap(), vec![bob]);
    assert!(store.list_consents("nobody").await.unwrap().is_empty());
}

pub async fn rotation_spends_the_old_token_and_stores_the_successor(b: DurableBackend) {
    let store = &b.store;
    let first = token("rt1", "fam1", "app", "alice", Duration::days(30));
    let family_resources = first.resources.clone();
    store.insert_refresh_token(&first).await.unwrap();
    let next = successor("rt2");
    assert_eq!(
        store.get_refresh_token("rt1").await.unwrap(),
        Some((first.clone(), RefreshTokenState::Active))
    );

    let outcome = store
        .rotate_refresh_token("rt1", &next, now())
        .await
        .unwrap();
    assert_eq!(
        outcome,
        RotateOutcome::Rotated {
            previous: first.clone()
        }
    );
    assert_eq!(
        store.get_refresh_token("rt1").await.unwrap(),
        Some((first, RefreshTokenState::Rotated))
    );
    let (second, state) = store.get_refresh_token("rt2").await.unwrap().unwrap();
    assert_eq!(state, RefreshTokenState::Active);
    assert_eq!(
        second,
        RefreshToken {
            family_id: "fam1".into(),
            resources: family_resources,
            ..next
        },
        "the successor keeps its family's resources"
    );

    // The chain goes on from the successor.
    let outcome = store
        .rotate_refresh_token("rt2", &successor("rt3"), now())
        .await
        .unwrap();
    assert!(
        matches!(outcome, RotateOutcome::Rotated { ref previous } if previous.token_hash == "rt2"),
        "{outcome:?}"
    );

    let duplicate = store
        .insert_refresh_token(&token("rt3", "fam9", "app", "alice", Duration::days(1)))
        .await;
    assert!(
        matches!(duplicate, Err(gatehouse_core::store::StoreError::Conflict)),
        "{duplicate:?}"
    );
}

pub async fn reusing_a_rotated_token_revokes_the_family(b: DurableBackend) {
    let store = &b.store;
    store
        .insert_refresh_token(&token("rt1", "fam1", "app", "alice", Duration::days(30)))
        .await
        .unwrap();
    store
        .insert_refresh_token(&token("other", "fam2", "app", "alice", Duration::days(30)))
        .await
        .unwrap();
    store
        .rotate_refresh_token("rt1", &successor("rt2"), now())
        .await
        .unwrap();

    // RFC 9700 §4.14.2: the spent token came back, so someone holds a copy.
    let reuse = store
        .rotate_refresh_token("rt1", &successor("rt3"), now())
        .await
        .unwrap();
    assert_eq!(
        reuse,
        RotateOutcome::ReuseDetected {
            family_id: "fam1".into()
        }
    );
    assert_eq!(
        store.get_refresh_token("rt3").await.unwrap(),
        None,
        "no successor is stored on reuse"
    );
    assert_eq!(
        store.get_refresh_token("rt2").await.unwrap().unwrap().1,
        RefreshTokenState::Revoked
    );
    assert_eq!(
        store.get_refresh_token("rt1").await.unwrap().unwrap().1,
        RefreshTokenState::Revoked
    );
    assert_eq!(
        store
            .rotate_refresh_token("rt2", &successor("rt4"), now())
            .await
            .unwrap(),
        RotateOutcome::Inactive
    );
    // Presenting it yet again stays inactive rather than reporting reuse twice.
    assert_eq!(
        store
            .rotate_refresh_token("rt1", &successor("rt5"), now())
            .await
            .unwrap(),
        RotateOutcome::Inactive
    );
    // Other families are untouched.
    assert_eq!(
        store.get_refresh_token("other").await.unwrap().unwrap().1,
        RefreshTokenState::Active
    );
}

pub async fn concurrent_rotation_of_one_token_rotates_exactly_once(b: DurableBackend) {
    b.store
        .insert_refresh_token(&token("rt0", "fam1", "app", "alice", Duration::days(30)))
        .await
        .unwrap();
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let store = b.store.clone();
        let start = start.clone();
        tasks.spawn(async move {
            start.wait().await;
            store
                .rotate_refresh_token("rt0", &successor(&format!("next{i}")), now())
                .await
        });
    }
    let mut rotated = 0;
    while let Some(result) = tasks.join_next().await {
        match result.unwrap().unwrap() {
            RotateOutcome::Rotated { .. } => rotated += 1,
            RotateOutcome::ReuseDetected { family_id } => assert_eq!(family_id, "fam1"),
            RotateOutcome::Inactive => {}
            RotateOutcome::NotFound => panic!("the token exists"),
        }
    }
    assert_eq!(rotated, 1, "exactly one of 20 concurrent rotations wins");
    // The losers presented a spent token: the family, winner's successor included, is revoked.
    let successors: Vec<_> = {
        let mut found = Vec::new();
        for i in 0..20 {
            if let Some((t, state)) = b
                .store
                .get_refresh_token(&format!("next{i}"))
                .await
                .unwrap()
            {
                found.push((t.token_hash, state));
            }
        }
        found
    };
    assert_eq!(successors.len(), 1, "{successors:?}");
    assert_eq!(successors[0].1, RefreshTokenState::Revoked);
}

pub async fn expired_revoked_and_unknown_tokens_do_not_rotate(b: DurableBackend) {
    let store = &b.store;
    let mut expired = token("old", "fam1", "app", "alice", Duration::days(1));
    expired.issued_at = now() - Duration::days(2);
    expired.expires_at = now() - Duration::days(1);
    store.insert_refresh_token(&expired).await.unwrap();
    assert_eq!(
        store
            .rotate_refresh_token("old", &successor("n1"), now())
            .await
            .unwrap(),
        RotateOutcome::Inactive
    );
    // Expiry is judged by the caller's clock.
    let live = token("live", "fam2", "app", "alice", Duration::hours(1));
    store.insert_refresh_token(&live).await.unwrap();
    let later = now() + Duration::hours(2);
    assert_eq!(
        store
            .rotate_refresh_token("live", &successor("n2"), later)
            .await
            .unwrap(),
        RotateOutcome::Inactive
    );
    assert_eq!(
        store.get_refresh_token("live").await.unwrap().unwrap().1,
        RefreshTokenState::Active
    );

    assert!(store.revoke_family("fam2").await.unwrap());
    assert_eq!(
        store
            .rotate_refresh_token("live", &successor("n3"), now())
            .await
            .unwrap(),
        RotateOutcome::Inactive
    );
    assert_eq!(
        store
            .rotate_refresh_token("unknown", &successor("n4"), now())
            .await
            .unwrap(),
        RotateOutcome::NotFound
    );
    for hash in ["n1", "n2", "n3", "n4"] {
        assert_eq!(store.get_refresh_token(hash).await.unwrap(), None);
    }
}

pub async fn families_are_revoked_by_id_and_by_subject(b: DurableBackend) {
    let store = &b.store;
    let family = |n: usize| format!("fam{n}");
    let holders = [
        ("app1", "alice"),
        ("app1", "alice"),
        ("app2", "alice"),
        ("app1", "bob"),
    ];
    for (n, (client_id, subject)) in holders.iter().enumerate() {
        store
            .insert_refresh_token(&token(
                &unique_id("rt"),
                &family(n),
                client_id,
                subject,
                Duration::days(1),
            ))
            .await
            .unwrap();
    }
    let set = |ids: Vec<String>| ids.into_iter().collect::<BTreeSet<_>>();

    let app1 = store
        .revoke_families_of("alice", Some("app1"))
        .await
        .unwrap();
    assert_eq!(set(app1), set(vec![family(0), family(1)]));
    let rest = store.revoke_families_of("alice", None).await.unwrap();
    assert_eq!(rest, vec![family(2)]);
    assert!(
        store
            .revoke_families_of("alice", None)
            .await
            .unwrap()
            .is_empty(),
        "only live families are returned"
    );

    assert!(
        !store.revoke_family("fam0").await.unwrap(),
        "already revoked"
    );
    assert!(!store.revoke_family("no-such-family").await.unwrap());
    assert!(store.revoke_family("fam3").await.unwrap());
    assert!(
        store
            .revoke_families_of("bob", Some("app1"))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn families_are_revoked_by_client(b: DurableBackend) {
    let store = &b.store;
    for (n, (client_id, subject)) in [("app1", "alice"), ("app1", "bob"), ("app2", "alice")]
        .iter()
        .enumerate()
    {
        store
            .insert_refresh_token(&token(
                &unique_id("rt"),
                &format!("client-fam{n}"),
                client_id,
                subject,
                Duration::days(1),
            ))
            .await
            .unwrap();
    }
    assert_eq!(store.revoke_families_of_client("app1").await.unwrap(), 2);
    assert_eq!(
        store.revoke_families_of_client("app1").await.unwrap(),
        0,
        "only live families are counted"
    );
    assert_eq!(store.revoke_families_of_client("nobody").await.unwrap(), 0);
    assert!(
        store.revoke_family("client-fam2").await.unwrap(),
        "another client's family is left alone"
    );
}

pub async fn expired_tokens_are_purged_in_batches(b: DurableBackend) {
    let store = &b.store;
    for n in 0..5 {
        let mut t = token(
            &format!("expired{n}"),
            &format!("fam{n}"),
            "app",
            "alice",
            Duration::days(1),
        );
        t.issued_at = now() - Duration::days(3);
        t.expires_at = now() - Duration::days(2) + Duration::minutes(n);
        store.insert_refresh_token(&t).await.unwrap();
    }
    store
        .insert_refresh_token(&token(
            "live",
            "fam-live",
            "app",
            "alice",
            Duration::days(1),
        ))
        .await
        .unwrap();

    let mut purged = Vec::new();
    loop {
        let n = store.purge_expired_refresh_tokens(now(), 2).await.unwrap();
        purged.push(n);
        if n == 0 {
            break;
        }
    }
    assert_eq!(purged, [2, 2, 1, 0]);
    for n in 0..5 {
        assert_eq!(
            store
                .get_refresh_token(&format!("expired{n}"))
                .await
                .unwrap(),
            None
        );
    }
    assert_eq!(
        store.get_refresh_token("live").await.unwrap().unwrap().1,
        RefreshTokenState::Active
    );
    // The emptied families are gone too, so nothing is left to revoke for them.
    assert!(!store.revoke_family("fam0").await.unwrap());
    assert_eq!(
        store.revoke_families_of("alice", None).await.unwrap(),
        vec!["fam-live".to_owned()]
    );
}

/// A DPoP-bound family keeps its key's thumbprint through every rotation, whatever the successor
/// says (RFC 9449 §5: the binding is the family's).
pub async fn a_bound_family_keeps_its_key_through_rotation(b: DurableBackend) {
    let store = &b.store;
    let family = unique_id("fam");
    let bound = RefreshToken {
        dpop_jkt: "jkt-of-the-first-key".into(),
        ..token(
            &unique_id("rt"),
            &family,
            "app",
            "alice",
            Duration::days(30),
        )
    };
    store.insert_refresh_token(&bound).await.unwrap();
    let (found, _) = store
        .get_refresh_token(&bound.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.dpop_jkt, "jkt-of-the-first-key");

    let next = successor(&unique_id("rt"));
    assert!(next.dpop_jkt.is_empty());
    let outcome = store
        .rotate_refresh_token(&bound.token_hash, &next, now())
        .await
        .unwrap();
    assert!(
        matches!(outcome, RotateOutcome::Rotated { ref previous } if previous.dpop_jkt == "jkt-of-the-first-key"),
        "{outcome:?}"
    );
    let (rotated, state) = store
        .get_refresh_token(&next.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state, RefreshTokenState::Active);
    assert_eq!(rotated.dpop_jkt, "jkt-of-the-first-key");
}

/// An external consent app's extra claims and the sign-in's methods round-trip with a family's
/// token and are kept by every successor, whatever the successor says; a family without any
/// reads back empty.
pub async fn session_claims_round_trip_and_survive_rotation(b: DurableBackend) {
    let store = &b.store;
    let claims = SessionClaims {
        id_token: Some(
            serde_json::json!({"department": "research", "nested": {"a": [1, 2.5, null]}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ),
        access_token: Some(
            serde_json::json!({"tenant": "acme", "roles": ["admin", "billing"]})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ),
        amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
    };
    let with_claims = RefreshToken {
        session_claims: claims.clone(),
        ..token(
            &unique_id("rt"),
            &unique_id("fam"),
            "app",
            "alice",
            Duration::days(30),
        )
    };
    store.insert_refresh_token(&with_claims).await.unwrap();
    let (found, _) = store
        .get_refresh_token(&with_claims.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, with_claims);

    // Only the access-token half.
    let half = RefreshToken {
        session_claims: SessionClaims {
            id_token: None,
            access_token: claims.access_token.clone(),
            amr: Vec::new(),
        },
        ..token(
            &unique_id("rt"),
            &unique_id("fam"),
            "app",
            "bob",
            Duration::days(30),
        )
    };
    store.insert_refresh_token(&half).await.unwrap();
    let (found, _) = store
        .get_refresh_token(&half.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.session_claims, half.session_claims);

    let next = successor(&unique_id("rt"));
    assert!(next.session_claims.is_empty());
    let outcome = store
        .rotate_refresh_token(&with_claims.token_hash, &next, now())
        .await
        .unwrap();
    assert!(
        matches!(outcome, RotateOutcome::Rotated { ref previous } if previous.session_claims == claims),
        "{outcome:?}"
    );
    let (rotated, state) = store
        .get_refresh_token(&next.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state, RefreshTokenState::Active);
    assert_eq!(
        rotated.session_claims, claims,
        "the successor keeps its family's claims"
    );

    // A family without claims stays without.
    let plain = token(
        &unique_id("rt"),
        &unique_id("fam"),
        "app",
        "carol",
        Duration::days(30),
    );
    store.insert_refresh_token(&plain).await.unwrap();
    let (found, _) = store
        .get_refresh_token(&plain.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert!(found.session_claims.is_empty());
    assert_eq!(found, plain);
}
