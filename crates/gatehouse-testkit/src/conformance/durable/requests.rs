//! Partners' registration requests and their logos.

use crate::DurableBackend;
use crate::fixtures::now;
use gatehouse_core::client::ClientId;
use gatehouse_core::registration_request::{
    AppRequest, RegistrationRequest, RegistrationRequestQuery, RequestStatus,
};
use gatehouse_core::store::{PageRequest, StoreError};
use time::Duration;

fn app(name: &str) -> AppRequest {
    AppRequest {
        name: name.into(),
        description: "What it does".into(),
        website: format!("https://{}.example", name.to_lowercase()),
        contact_name: "Ada Lovelace".into(),
        reason: "integration".into(),
        redirect_uris: vec![
            "https://app.example/cb".into(),
            "http://127.0.0.1/cb".into(),
        ],
        scopes: vec!["openid".into(), "projects:read".into()],
        confidential: true,
        logo_uri: String::new(),
    }
}

fn request(id: &str, owner: &str, name: &str, age_minutes: i64) -> RegistrationRequest {
    let at = now() - Duration::minutes(age_minutes);
    RegistrationRequest {
        id: id.into(),
        owner: owner.into(),
        status: RequestStatus::Pending,
        app: app(name),
        review_reason: String::new(),
        reviewed_by: String::new(),
        client_id: None,
        secret_revealed: false,
        created_at: at,
        updated_at: at,
    }
}

pub async fn registration_requests_round_trip_and_update_with_a_status_guard(b: DurableBackend) {
    let store = &b.store;
    let original = request("rr_one", "user-a", "Acme", 5);
    store.create_registration_request(&original).await.unwrap();
    let duplicate = store.create_registration_request(&original).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict)),
        "{duplicate:?}"
    );
    assert_eq!(
        store.get_registration_request("rr_one").await.unwrap(),
        Some(original.clone())
    );
    assert_eq!(
        store.get_registration_request("rr_none").await.unwrap(),
        None
    );

    let approved = RegistrationRequest {
        status: RequestStatus::Approved,
        reviewed_by: "operator".into(),
        client_id: Some(ClientId::parse("client-of-rr_one").unwrap()),
        updated_at: now(),
        ..original.clone()
    };
    store
        .update_registration_request(&approved, RequestStatus::Pending)
        .await
        .unwrap();
    assert_eq!(
        store.get_registration_request("rr_one").await.unwrap(),
        Some(approved.clone())
    );
    // A second reviewer acting on what they saw as pending loses, and changes nothing.
    let rejected = RegistrationRequest {
        status: RequestStatus::Rejected,
        review_reason: "no".into(),
        ..original.clone()
    };
    let late = store
        .update_registration_request(&rejected, RequestStatus::Pending)
        .await;
    assert!(matches!(late, Err(StoreError::Conflict)), "{late:?}");
    assert_eq!(
        store.get_registration_request("rr_one").await.unwrap(),
        Some(approved)
    );
    let missing = store
        .update_registration_request(&request("rr_none", "u", "X", 0), RequestStatus::Pending)
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
}

pub async fn registration_requests_are_filtered_searched_and_paged(b: DurableBackend) {
    let store = &b.store;
    let mut rejected = request("rr_c", "user-b", "Gamma Tools", 10);
    rejected.status = RequestStatus::Rejected;
    for r in [
        request("rr_b", "user-a", "Beta", 30),
        request("rr_a", "user-a", "Alpha_App", 20),
        rejected,
        request("rr_d", "user-b", "Delta", 5),
    ] {
        store.create_registration_request(&r).await.unwrap();
    }
    let ids =
        |items: &[RegistrationRequest]| items.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    let all = store
        .list_registration_requests(
            &RegistrationRequestQuery::default(),
            &PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(
        ids(&all.items),
        ["rr_b", "rr_a", "rr_c", "rr_d"],
        "oldest first"
    );
    assert_eq!(all.next, None);

    let first = store
        .list_registration_requests(&RegistrationRequestQuery::default(), &PageRequest::first(3))
        .await
        .unwrap();
    assert_eq!(ids(&first.items), ["rr_b", "rr_a", "rr_c"]);
    let rest = store
        .list_registration_requests(
            &RegistrationRequestQuery::default(),
            &PageRequest {
                size: 3,
                after: first.next.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&rest.items), ["rr_d"]);
    assert_eq!(rest.next, None);

    let pending_of_b = store
        .list_registration_requests(
            &RegistrationRequestQuery {
                status: Some(RequestStatus::Pending),
                owner: Some("user-b".into()),
                search: None,
            },
            &PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(ids(&pending_of_b.items), ["rr_d"]);

    // Case-insensitive substring of name, website or contact; LIKE wildcards are literal.
    let search = |s: &str| RegistrationRequestQuery {
        search: Some(s.into()),
        ..RegistrationRequestQuery::default()
    };
    let found = store
        .list_registration_requests(&search("gAMMA"), &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(ids(&found.items), ["rr_c"]);
    let found = store
        .list_registration_requests(&search("a_a"), &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(ids(&found.items), ["rr_a"]);
    let found = store
        .list_registration_requests(&search("delta.example"), &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(ids(&found.items), ["rr_d"]);
    let found = store
        .list_registration_requests(&search("%"), &PageRequest::first(10))
        .await
        .unwrap();
    assert!(found.items.is_empty());
}

pub async fn concurrent_secret_reveals_claim_exactly_once(b: DurableBackend) {
    let store = &b.store;
    let pending = request("rr_pending", "user-a", "Pending", 2);
    store.create_registration_request(&pending).await.unwrap();
    assert!(
        !store.claim_secret_reveal("rr_pending").await.unwrap(),
        "only an approved request's secret is revealed"
    );
    assert!(!store.claim_secret_reveal("rr_unknown").await.unwrap());

    let approved = RegistrationRequest {
        status: RequestStatus::Approved,
        client_id: Some(ClientId::parse("client-x").unwrap()),
        ..request("rr_approved", "user-a", "Approved", 1)
    };
    store.create_registration_request(&approved).await.unwrap();
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let store = b.store.clone();
        let start = start.clone();
        tasks.spawn(async move {
            start.wait().await;
            store.claim_secret_reveal("rr_approved").await
        });
    }
    let mut won = 0;
    while let Some(result) = tasks.join_next().await {
        if result.unwrap().unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1, "16 concurrent reveals, exactly one wins");
    assert!(!store.claim_secret_reveal("rr_approved").await.unwrap());
    // A reveal given back (its secret could not be set) can be claimed again, once.
    store.release_secret_reveal("rr_approved").await.unwrap();
    store.release_secret_reveal("rr_unknown").await.unwrap();
    assert!(store.claim_secret_reveal("rr_approved").await.unwrap());
    assert!(!store.claim_secret_reveal("rr_approved").await.unwrap());
    let stored = store
        .get_registration_request("rr_approved")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.secret_revealed);
    // An update never gives the reveal back.
    let edited = RegistrationRequest {
        secret_revealed: false,
        ..stored
    };
    store
        .update_registration_request(&edited, RequestStatus::Approved)
        .await
        .unwrap();
    assert!(
        store
            .get_registration_request("rr_approved")
            .await
            .unwrap()
            .unwrap()
            .secret_revealed
    );
}

pub async fn logos_round_trip(b: DurableBackend) {
    let store = &b.store;
    let png = b"\x89PNG\r\n\x1a\n\x00\xffbytes".to_vec();
    store.put_logo("logo_a", "image/png", &png).await.unwrap();
    let logo = store.get_logo("logo_a").await.unwrap().unwrap();
    assert_eq!(logo.content_type, "image/png");
    assert_eq!(logo.bytes, png);
    let taken = store.put_logo("logo_a", "image/png", b"x").await;
    assert!(matches!(taken, Err(StoreError::Conflict)), "{taken:?}");
    assert_eq!(store.get_logo("logo_b").await.unwrap(), None);
}
