//! Clients, scopes and users.

use crate::DurableBackend;
use crate::fixtures::{client, now, scopes, user};
use gatehouse_core::client::{ClientSecretHashes, TokenEndpointAuthMethod};
use gatehouse_core::scope::{ScopeDefinition, ScopeName, default_catalogue};
use gatehouse_core::store::{
    Consent, PageRequest, RefreshToken, RefreshTokenState, StoreError, UserQuery,
};
use time::Duration;

pub async fn client_round_trips_and_updates(b: DurableBackend) {
    let store = &b.store;
    let mut c = client("app");
    c.metadata.metadata = serde_json::json!({"team": "billing", "tier": 2});
    store.create_client(&c).await.unwrap();
    assert_eq!(store.get_client("app").await.unwrap(), Some(c.clone()));
    assert_eq!(store.get_client("other").await.unwrap(), None);

    let mut updated = c.clone();
    updated.metadata.client_name = "Renamed".into();
    updated.metadata.token_endpoint_auth_method = TokenEndpointAuthMethod::ClientSecretPost;
    // Switching a client back on starts a new incarnation.
    updated.metadata.disabled = true;
    updated.incarnation = "second-incarnation".into();
    updated.secret = Some(ClientSecretHashes {
        current: "new-hash".into(),
        previous: Some("hash-of-secret".into()),
        previous_expires_at: Some(now() + Duration::hours(1)),
    });
    updated.updated_at = c.updated_at + Duration::seconds(5);
    store.update_client(&updated).await.unwrap();
    assert_eq!(
        store.get_client("app").await.unwrap(),
        Some(updated.clone())
    );

    // A public client holds no secret at all.
    let mut public = updated.clone();
    public.metadata.token_endpoint_auth_method = TokenEndpointAuthMethod::None;
    public.secret = None;
    store.update_client(&public).await.unwrap();
    assert_eq!(store.get_client("app").await.unwrap(), Some(public));

    // `created_at` is set once, at creation.
    let mut moved = updated.clone();
    moved.created_at = c.created_at + Duration::days(1);
    store.update_client(&moved).await.unwrap();
    assert_eq!(
        store.get_client("app").await.unwrap().unwrap().created_at,
        c.created_at
    );
}

pub async fn duplicate_client_id_conflicts(b: DurableBackend) {
    b.store.create_client(&client("dup")).await.unwrap();
    let again = b.store.create_client(&client("dup")).await;
    assert!(matches!(again, Err(StoreError::Conflict)), "{again:?}");
}

pub async fn clients_paginate_in_id_order(b: DurableBackend) {
    for id in ["c", "a", "e", "b", "d"] {
        b.store.create_client(&client(id)).await.unwrap();
    }
    let ids = |page: &gatehouse_core::store::Page<gatehouse_core::client::Client>| {
        page.items.iter().map(|c| c.id.clone()).collect::<Vec<_>>()
    };
    let first = b.store.list_clients(&PageRequest::first(2)).await.unwrap();
    assert_eq!(ids(&first), ["a", "b"]);
    assert_eq!(first.next.as_deref(), Some("b"));
    let second = b
        .store
        .list_clients(&PageRequest {
            size: 2,
            after: first.next,
        })
        .await
        .unwrap();
    assert_eq!(ids(&second), ["c", "d"]);
    assert_eq!(second.next.as_deref(), Some("d"));
    let last = b
        .store
        .list_clients(&PageRequest {
            size: 2,
            after: second.next,
        })
        .await
        .unwrap();
    assert_eq!(ids(&last), ["e"]);
    assert_eq!(last.next, None);

    // A page that ends exactly at the last row has no next page.
    let all = b.store.list_clients(&PageRequest::first(5)).await.unwrap();
    assert_eq!(ids(&all), ["a", "b", "c", "d", "e"]);
    assert_eq!(all.next, None);
}

fn refresh_token(hash: &str, family: &str, client_id: &str, subject: &str) -> RefreshToken {
    let now = now();
    RefreshToken {
        token_hash: hash.into(),
        family_id: family.into(),
        client_id: crate::fixtures::client_id(client_id),
        client_incarnation: "incarnation".into(),
        subject: subject.into(),
        scope: scopes("openid offline"),
        auth_time: None,
        issued_at: now,
        expires_at: now + Duration::days(30),
        resources: Vec::new(),
        dpop_jkt: String::new(),
        session_claims: Default::default(),
    }
}

/// Deleting a client takes everything granted to it along, in one transaction: its consents go
/// and its refresh-token families are revoked; other clients' are untouched.
pub async fn delete_client_ends_what_was_granted_to_it(b: DurableBackend) {
    let store = &b.store;
    store.create_client(&client("gone")).await.unwrap();
    store.create_client(&client("kept")).await.unwrap();
    for client_id in ["gone", "kept"] {
        let consent = Consent {
            subject: "alice".into(),
            client_id: crate::fixtures::client_id(client_id),
            scope: scopes("openid"),
            granted_at: now(),
            expires_at: None,
        };
        store.put_consent(&consent).await.unwrap();
        store
            .insert_refresh_token(&refresh_token(
                &format!("rt-{client_id}"),
                &format!("family-{client_id}"),
                client_id,
                "alice",
            ))
            .await
            .unwrap();
    }
    store.delete_client("gone").await.unwrap();
    assert_eq!(store.get_client("gone").await.unwrap(), None);
    assert_eq!(store.get_consent("alice", "gone").await.unwrap(), None);
    let (_, state) = store.get_refresh_token("rt-gone").await.unwrap().unwrap();
    assert_eq!(state, RefreshTokenState::Revoked);
    assert!(store.get_consent("alice", "kept").await.unwrap().is_some());
    assert!(store.get_client("kept").await.unwrap().is_some());
    let (_, state) = store.get_refresh_token("rt-kept").await.unwrap().unwrap();
    assert_eq!(state, RefreshTokenState::Active);
    assert!(matches!(
        store.delete_client("gone").await,
        Err(StoreError::NotFound)
    ));
}

/// Deleting a user likewise: consents gone, refresh-token families revoked.
pub async fn delete_user_ends_what_the_user_granted(b: DurableBackend) {
    let store = &b.store;
    store.create_client(&client("app")).await.unwrap();
    for (id, name) in [("gone", "Gone"), ("kept", "Kept")] {
        store.create_user(&user(id, name)).await.unwrap();
        store
            .put_consent(&Consent {
                subject: id.into(),
                client_id: crate::fixtures::client_id("app"),
                scope: scopes("openid"),
                granted_at: now(),
                expires_at: None,
            })
            .await
            .unwrap();
        store
            .insert_refresh_token(&refresh_token(
                &format!("rt-{id}"),
                &format!("family-{id}"),
                "app",
                id,
            ))
            .await
            .unwrap();
    }
    store.delete_user("gone").await.unwrap();
    assert_eq!(store.get_user("gone").await.unwrap(), None);
    assert_eq!(store.get_consent("gone", "app").await.unwrap(), None);
    let (_, state) = store.get_refresh_token("rt-gone").await.unwrap().unwrap();
    assert_eq!(state, RefreshTokenState::Revoked);
    assert!(store.get_consent("kept", "app").await.unwrap().is_some());
    let (token, state) = store.get_refresh_token("rt-kept").await.unwrap().unwrap();
    assert_eq!(state, RefreshTokenState::Active);
    assert_eq!(
        token.client_incarnation, "incarnation",
        "the incarnation round-trips"
    );
}

pub async fn missing_rows_are_not_found(b: DurableBackend) {
    let store = &b.store;
    let not_found = |r: Result<(), StoreError>| matches!(r, Err(StoreError::NotFound));
    assert!(not_found(store.update_client(&client("nobody")).await));
    assert!(not_found(store.delete_client("nobody").await));
    let scope = ScopeDefinition {
        name: ScopeName::parse("nothing").unwrap(),
        label: "Nothing".into(),
        description: String::new(),
        hidden: false,
        claims: Vec::new(),
    };
    assert!(not_found(store.update_scope(&scope).await));
    assert!(not_found(store.delete_scope("nothing").await));
    assert!(not_found(
        store.update_user(&user("nobody", "nobody")).await
    ));
    assert!(not_found(store.delete_user("nobody").await));
    assert!(not_found(store.retire_signing_key("nokey", now()).await));
    assert!(not_found(store.delete_signing_key("nokey").await));
}

pub async fn scope_claims_round_trip(b: DurableBackend) {
    let store = &b.store;
    let mut patreon = ScopeDefinition {
        name: ScopeName::parse("patreon").unwrap(),
        label: "Your Patreon membership".into(),
        description: String::new(),
        hidden: false,
        claims: vec!["patreon".into(), "neos:tier".into()],
    };
    store.create_scope(&patreon).await.unwrap();
    assert_eq!(
        store.get_scope("patreon").await.unwrap().as_ref(),
        Some(&patreon)
    );
    let listed = store.list_scopes().await.unwrap();
    assert_eq!(
        listed.iter().find(|s| s.name == patreon.name),
        Some(&patreon)
    );

    patreon.claims = vec!["patreon".into()];
    store.update_scope(&patreon).await.unwrap();
    assert_eq!(
        store.get_scope("patreon").await.unwrap().as_ref(),
        Some(&patreon)
    );
    patreon.claims.clear();
    store.update_scope(&patreon).await.unwrap();
    assert_eq!(store.get_scope("patreon").await.unwrap(), Some(patreon));
}

pub async fn scope_catalogue_crud(b: DurableBackend) {
    let store = &b.store;
    for scope in default_catalogue() {
        store.create_scope(&scope).await.unwrap();
    }
    let mut expected = default_catalogue();
    expected.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(store.list_scopes().await.unwrap(), expected);

    let again = store.create_scope(&default_catalogue()[0]).await;
    assert!(matches!(again, Err(StoreError::Conflict)), "{again:?}");

    let mut email = store.get_scope("email").await.unwrap().unwrap();
    email.label = "Email".into();
    email.description = "Where we write to you.".into();
    email.hidden = true;
    store.update_scope(&email).await.unwrap();
    assert_eq!(store.get_scope("email").await.unwrap(), Some(email));

    store.delete_scope("email").await.unwrap();
    assert_eq!(store.get_scope("email").await.unwrap(), None);
    assert_eq!(store.list_scopes().await.unwrap().len(), expected.len() - 1);
}

pub async fn users_are_found_by_email_ignoring_case_in_id_order(b: DurableBackend) {
    let store = &b.store;
    for (id, username, email) in [
        ("u3", "carol", Some("Shared@Example.com")),
        ("u1", "alice", Some("shared@example.com")),
        ("u2", "bob", Some("bob@example.com")),
        ("u4", "dave", None),
        ("u5", "erin", Some("SHARED@example.COM")),
    ] {
        let mut u = user(id, username);
        u.email = email.map(str::to_owned);
        store.create_user(&u).await.unwrap();
    }
    let ids = |users: Vec<gatehouse_core::user::User>| {
        users.into_iter().map(|u| u.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store
            .find_users_by_email("shared@EXAMPLE.com", 10)
            .await
            .unwrap()),
        ["u1", "u3", "u5"]
    );
    assert_eq!(
        ids(store
            .find_users_by_email("shared@example.com", 2)
            .await
            .unwrap()),
        ["u1", "u3"]
    );
    assert_eq!(
        ids(store
            .find_users_by_email("bob@example.com", 10)
            .await
            .unwrap()),
        ["u2"]
    );
    // An exact match, never a pattern or a part.
    for other in ["%@example.com", "example.com", "", "bob@example.co"] {
        assert!(
            store
                .find_users_by_email(other, 10)
                .await
                .unwrap()
                .is_empty(),
            "{other:?}"
        );
    }
}

pub async fn users_round_trip_and_are_found_by_username_ignoring_case(b: DurableBackend) {
    let store = &b.store;
    let mut alice = user("u1", "Alice");
    alice.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
    alice.picture = Some("https://example.com/alice.png".into());
    store.create_user(&alice).await.unwrap();
    assert_eq!(store.get_user("u1").await.unwrap(), Some(alice.clone()));
    assert_eq!(
        store.get_user_by_username("aLiCe").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.get_user_by_username("bob").await.unwrap(), None);

    let mut renamed = alice.clone();
    renamed.username = "Alicia".into();
    renamed.email = None;
    renamed.email_verified = false;
    renamed.disabled = true;
    renamed.updated_at = alice.updated_at + Duration::seconds(1);
    store.update_user(&renamed).await.unwrap();
    assert_eq!(
        store.get_user_by_username("alicia").await.unwrap(),
        Some(renamed)
    );
    assert_eq!(store.get_user_by_username("alice").await.unwrap(), None);

    store.delete_user("u1").await.unwrap();
    assert_eq!(store.get_user("u1").await.unwrap(), None);
}

/// A user's metadata comes back as it was written, through create and update, nested values,
/// numbers and non-ASCII text included; a user created without any has the empty object.
pub async fn user_metadata_round_trips(b: DurableBackend) {
    let store = &b.store;
    let plain = user("u0", "plain");
    store.create_user(&plain).await.unwrap();
    let read = store.get_user("u0").await.unwrap().unwrap();
    assert!(read.metadata.is_empty(), "{:?}", read.metadata);

    let mut alice = user("u1", "alice");
    let serde_json::Value::Object(metadata) = serde_json::json!({
        "plan": "pro",
        "seats": 12,
        "ratio": 0.5,
        "tags": ["a", "b"],
        "nested": {"ünïcödé": "日本", "null": null, "flag": true},
    }) else {
        unreachable!()
    };
    alice.metadata = metadata;
    store.create_user(&alice).await.unwrap();
    assert_eq!(store.get_user("u1").await.unwrap(), Some(alice.clone()));
    assert_eq!(
        store.get_user_by_username("ALICE").await.unwrap(),
        Some(alice.clone())
    );

    let mut changed = alice.clone();
    changed.metadata.remove("tags");
    changed
        .metadata
        .insert("seats".into(), serde_json::json!(13));
    store.update_user(&changed).await.unwrap();
    assert_eq!(store.get_user("u1").await.unwrap(), Some(changed.clone()));
    let listed = store
        .list_users(
            &UserQuery::default(),
            &PageRequest {
                size: 10,
                after: None,
            },
        )
        .await
        .unwrap();
    assert!(listed.items.contains(&changed), "{:?}", listed.items);

    changed.metadata.clear();
    store.update_user(&changed).await.unwrap();
    assert!(
        store
            .get_user("u1")
            .await
            .unwrap()
            .unwrap()
            .metadata
            .is_empty()
    );
}

/// An import creates the users whose id and username are free, skips the others (a stored
/// user's, or an earlier one of the same batch), keeps nothing on a dry run, and a second run
/// creates nothing.
pub async fn users_import_all_or_nothing_and_skip_taken_ones(b: DurableBackend) {
    let store = &b.store;
    store.create_user(&user("u1", "Alice")).await.unwrap();
    let batch = [
        user("u2", "bob"),
        user("u1", "someone-else"),
        user("u3", "ALICE"),
        user("u4", "BOB"),
        user("u2", "bob-again"),
        user("u5", "carol"),
    ];
    let expected = vec![true, false, false, false, false, true];
    assert_eq!(store.import_users(&batch, true).await.unwrap(), expected);
    assert_eq!(
        store.get_user("u2").await.unwrap(),
        None,
        "a dry run keeps nothing"
    );
    assert_eq!(store.import_users(&batch, false).await.unwrap(), expected);
    assert_eq!(store.get_user("u2").await.unwrap(), Some(batch[0].clone()));
    assert_eq!(store.get_user("u5").await.unwrap(), Some(batch[5].clone()));
    assert_eq!(
        store.import_users(&batch, false).await.unwrap(),
        vec![false; batch.len()]
    );
    assert_eq!(
        store.import_users(&[], false).await.unwrap(),
        Vec::<bool>::new()
    );
}

pub async fn duplicate_username_conflicts_ignoring_case(b: DurableBackend) {
    let store = &b.store;
    store.create_user(&user("u1", "Alice")).await.unwrap();
    let same_name = store.create_user(&user("u2", "ALICE")).await;
    assert!(
        matches!(same_name, Err(StoreError::Conflict)),
        "{same_name:?}"
    );
    let same_id = store.create_user(&user("u1", "someone")).await;
    assert!(matches!(same_id, Err(StoreError::Conflict)), "{same_id:?}");

    store.create_user(&user("u2", "bob")).await.unwrap();
    let taken = store.update_user(&user("u2", "alice")).await;
    assert!(matches!(taken, Err(StoreError::Conflict)), "{taken:?}");
    // Changing only the case of one's own name is fine.
    store.update_user(&user("u2", "BOB")).await.unwrap();
}

pub async fn users_are_searched_and_paginated(b: DurableBackend) {
    let store = &b.store;
    let mut carol = user("u3", "carol");
    carol.email = Some("Carol.Smith@Example.org".into());
    let mut percent = user("u4", "100%real");
    percent.email = None;
    for u in [user("u1", "alice"), user("u2", "Bob"), carol, percent] {
        store.create_user(&u).await.unwrap();
    }
    let search = |s: &str| UserQuery {
        search: Some(s.into()),
        ..UserQuery::default()
    };
    let ids = |page: gatehouse_core::store::Page<gatehouse_core::user::User>| {
        page.items.into_iter().map(|u| u.id).collect::<Vec<_>>()
    };
    let all = PageRequest::first(10);
    assert_eq!(
        ids(store.list_users(&UserQuery::default(), &all).await.unwrap()),
        ["u1", "u2", "u3", "u4"]
    );
    assert_eq!(
        ids(store.list_users(&search("BO"), &all).await.unwrap()),
        ["u2"]
    );
    assert_eq!(
        ids(store
            .list_users(&search("smith@example"), &all)
            .await
            .unwrap()),
        ["u3"]
    );
    assert_eq!(
        ids(store.list_users(&search("example."), &all).await.unwrap()),
        ["u1", "u2", "u3"]
    );
    // LIKE wildcards in the search are literal characters.
    assert_eq!(
        ids(store.list_users(&search("0%r"), &all).await.unwrap()),
        ["u4"]
    );
    assert_eq!(
        ids(store.list_users(&search("%"), &all).await.unwrap()),
        ["u4"]
    );
    assert_eq!(
        ids(store.list_users(&search("_"), &all).await.unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(store.list_users(&search(""), &all).await.unwrap()).len(),
        4
    );

    let first = store
        .list_users(&UserQuery::default(), &PageRequest::first(3))
        .await
        .unwrap();
    assert_eq!(first.next.as_deref(), Some("u3"));
    let rest = store
        .list_users(
            &UserQuery::default(),
            &PageRequest {
                size: 3,
                after: first.next,
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(rest), ["u4"]);
    let page = store
        .list_users(&search("example"), &PageRequest::first(1))
        .await
        .unwrap();
    assert_eq!(page.next.as_deref(), Some("u1"));
    let page = store
        .list_users(
            &search("example"),
            &PageRequest {
                size: 1,
                after: page.next,
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(page), ["u2"]);
}

pub async fn user_roles_round_trip_and_filter_lists(b: DurableBackend) {
    use gatehouse_core::user::Role;
    let store = &b.store;
    let mut admin = user("u1", "admin-alice");
    admin.roles = vec![Role::Admin];
    let mut both = user("u2", "bob");
    both.roles = vec![Role::Admin, Role::Reviewer];
    let mut reviewer = user("u3", "carol");
    reviewer.roles = vec![Role::Reviewer];
    let plain = user("u4", "dave");
    for u in [&admin, &both, &reviewer, &plain] {
        store.create_user(u).await.unwrap();
    }
    assert_eq!(store.get_user("u2").await.unwrap(), Some(both.clone()));
    assert_eq!(store.get_user("u4").await.unwrap().unwrap().roles, vec![]);

    let ids = |page: gatehouse_core::store::Page<gatehouse_core::user::User>| {
        page.items.into_iter().map(|u| u.id).collect::<Vec<_>>()
    };
    let with = |role: Role, search: Option<&str>| UserQuery {
        search: search.map(str::to_owned),
        role: Some(role),
    };
    let all = PageRequest::first(10);
    assert_eq!(
        ids(store
            .list_users(&with(Role::Admin, None), &all)
            .await
            .unwrap()),
        ["u1", "u2"]
    );
    assert_eq!(
        ids(store
            .list_users(&with(Role::Reviewer, None), &all)
            .await
            .unwrap()),
        ["u2", "u3"]
    );
    // The role and the search both apply; "admin" in a username is no role.
    assert_eq!(
        ids(store
            .list_users(&with(Role::Reviewer, Some("admin")), &all)
            .await
            .unwrap()),
        Vec::<String>::new()
    );
    // Pages of a filtered list hold only matching users.
    let first = store
        .list_users(&with(Role::Admin, None), &PageRequest::first(1))
        .await
        .unwrap();
    assert_eq!(ids(first.clone()), ["u1"]);
    let second = store
        .list_users(
            &with(Role::Admin, None),
            &PageRequest {
                size: 1,
                after: first.next,
            },
        )
        .await
        .unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].id, "u2");
    assert_eq!(second.next, None);

    // Roles change with the user and can be taken away.
    let mut demoted = both.clone();
    demoted.roles = vec![Role::Reviewer];
    store.update_user(&demoted).await.unwrap();
    assert_eq!(
        ids(store
            .list_users(&with(Role::Admin, None), &all)
            .await
            .unwrap()),
        ["u1"]
    );
    demoted.roles = vec![];
    store.update_user(&demoted).await.unwrap();
    assert_eq!(store.get_user("u2").await.unwrap().unwrap().roles, vec![]);

    // An import keeps them.
    let mut imported = user("u5", "erin");
    imported.roles = vec![Role::Reviewer];
    assert_eq!(
        store
            .import_users(std::slice::from_ref(&imported), false)
            .await
            .unwrap(),
        [true]
    );
    assert_eq!(store.get_user("u5").await.unwrap(), Some(imported));
}
