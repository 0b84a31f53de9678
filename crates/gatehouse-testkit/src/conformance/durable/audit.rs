//! The audit log.

use crate::DurableBackend;
use gatehouse_core::audit::{ActorKind, AuditActor, AuditEvent, AuditQuery};
use gatehouse_core::store::{PageRequest, StoreError};
use serde_json::json;
use time::Duration;

/// A fixed instant, so bounds computed from it after recording still match.
fn now() -> time::OffsetDateTime {
    crate::admin::start_time()
}

/// An event `seconds_ago` before [`now`].
fn event(
    id: &str,
    seconds_ago: i64,
    actor: AuditActor,
    action: &str,
    target: (&str, Option<&str>),
) -> AuditEvent {
    AuditEvent {
        id: id.into(),
        at: now() - Duration::seconds(seconds_ago),
        actor,
        action: action.into(),
        target_kind: target.0.into(),
        target_id: target.1.map(str::to_owned),
        changes: serde_json::Map::new(),
    }
}

fn ids(page: &gatehouse_core::store::Page<AuditEvent>) -> Vec<&str> {
    page.items.iter().map(|e| e.id.as_str()).collect()
}

pub async fn audit_events_round_trip_newest_first(b: DurableBackend) {
    let store = &b.store;
    let serde_json::Value::Object(changes) = json!({
        "client_name": "Neon ünïcode",
        "client_secret": "[redacted]",
        "redirect_uris": ["https://app.example/cb"],
        "metadata": {"tier": 2, "none": null},
    }) else {
        unreachable!()
    };
    let created = AuditEvent {
        changes,
        ..event(
            "e1",
            30,
            AuditActor::user("u1", "alice"),
            "client.create",
            ("client", Some("neon")),
        )
    };
    let rotated = event(
        "e2",
        20,
        AuditActor::admin_token(),
        "key.rotate",
        ("key", None),
    );
    let deleted = event(
        "e3",
        10,
        AuditActor::cli("gatehouse-cli/0.1.0"),
        "client.delete",
        ("client", Some("neon")),
    );
    // Recorded out of order: the list is by time, not by insertion.
    for e in [&rotated, &deleted, &created] {
        store.record_audit_event(e).await.unwrap();
    }
    let all = store
        .list_audit_events(&AuditQuery::default(), &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        all.items,
        vec![deleted.clone(), rotated.clone(), created.clone()]
    );
    assert_eq!(all.next, None);

    let same_id = event(
        "e1",
        0,
        AuditActor::loopback(None),
        "user.delete",
        ("user", Some("u9")),
    );
    let again = store.record_audit_event(&same_id).await;
    assert!(matches!(again, Err(StoreError::Conflict)), "{again:?}");
}

pub async fn audit_events_are_filtered(b: DurableBackend) {
    let store = &b.store;
    let alice = AuditActor::user("u1", "alice");
    let events = [
        event(
            "e1",
            50,
            alice.clone(),
            "client.create",
            ("client", Some("neon")),
        ),
        event(
            "e2",
            40,
            alice.clone(),
            "client.secret.rotate",
            ("client", Some("neon")),
        ),
        event(
            "e3",
            30,
            AuditActor::admin_token(),
            "user.password.set",
            ("user", Some("u2")),
        ),
        event(
            "e4",
            20,
            AuditActor::cli("gatehouse-cli/0.1.0"),
            "clientx.create",
            ("clientx", Some("c")),
        ),
        event(
            "e5",
            10,
            AuditActor::loopback(Some("curl/8")),
            "registration_request.approve",
            ("registration_request", Some("r1")),
        ),
    ];
    for e in &events {
        store.record_audit_event(e).await.unwrap();
    }
    let find = async |query: AuditQuery| {
        let page = store
            .list_audit_events(&query, &PageRequest::first(50))
            .await
            .unwrap();
        ids(&page)
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let q = AuditQuery::default;
    // actor: kind, id or name.
    for actor in ["user", "u1", "alice"] {
        let query = AuditQuery {
            actor: Some(actor.into()),
            ..q()
        };
        assert_eq!(find(query).await, ["e2", "e1"], "actor={actor}");
    }
    let query = AuditQuery {
        actor: Some(ActorKind::AdminToken.as_str().into()),
        ..q()
    };
    assert_eq!(find(query).await, ["e3"]);
    let query = AuditQuery {
        actor: Some("cli".into()),
        ..q()
    };
    assert_eq!(find(query).await, ["e4"]);
    let query = AuditQuery {
        actor: Some("curl/8".into()),
        ..q()
    };
    assert_eq!(find(query).await, ["e5"]);
    let query = AuditQuery {
        actor: Some("ali".into()),
        ..q()
    };
    assert_eq!(
        find(query).await,
        Vec::<String>::new(),
        "no substring match"
    );
    // target: kind or id.
    let query = AuditQuery {
        target: Some("client".into()),
        ..q()
    };
    assert_eq!(find(query).await, ["e2", "e1"]);
    let query = AuditQuery {
        target: Some("u2".into()),
        ..q()
    };
    assert_eq!(find(query).await, ["e3"]);
    // action: exact, or a prefix with a trailing `*` whose `_`/`%` are literal.
    let query = AuditQuery {
        action: Some("client.create".into()),
        ..q()
    };
    assert_eq!(find(query).await, ["e1"]);
    let query = AuditQuery {
        action: Some("client.*".into()),
        ..q()
    };
    assert_eq!(find(query).await, ["e2", "e1"]);
    let query = AuditQuery {
        action: Some("client*".into()),
        ..q()
    };
    assert_eq!(find(query).await, ["e4", "e2", "e1"]);
    let query = AuditQuery {
        action: Some("registration_request.*".into()),
        ..q()
    };
    assert_eq!(find(query).await, ["e5"]);
    let query = AuditQuery {
        action: Some("registration%*".into()),
        ..q()
    };
    assert_eq!(find(query).await, Vec::<String>::new());
    // since/until: inclusive bounds.
    let query = AuditQuery {
        since: Some(now() - Duration::seconds(40)),
        until: Some(now() - Duration::seconds(20)),
        ..q()
    };
    assert_eq!(find(query).await, ["e4", "e3", "e2"]);
    // Everything together.
    let query = AuditQuery {
        actor: Some("alice".into()),
        target: Some("neon".into()),
        action: Some("client.*".into()),
        since: Some(now() - Duration::seconds(45)),
        until: None,
    };
    assert_eq!(find(query).await, ["e2"]);
}

pub async fn audit_events_paginate_through_ties(b: DurableBackend) {
    let store = &b.store;
    // Seven events, several in the same second: pages must neither skip nor repeat one.
    let seconds_ago = [5, 5, 5, 3, 3, 1, 1];
    for (n, ago) in seconds_ago.iter().enumerate() {
        store
            .record_audit_event(&event(
                &format!("e{n}"),
                *ago,
                AuditActor::admin_token(),
                "scope.update",
                ("scope", Some("openid")),
            ))
            .await
            .unwrap();
    }
    let query = AuditQuery {
        target: Some("scope".into()),
        ..AuditQuery::default()
    };
    let mut seen = Vec::new();
    let mut page = PageRequest::first(3);
    let mut pages = 0;
    loop {
        let found = store.list_audit_events(&query, &page).await.unwrap();
        assert!(found.items.len() <= 3);
        seen.extend(found.items.iter().map(|e| e.id.clone()));
        pages += 1;
        match found.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["e6", "e5", "e4", "e3", "e2", "e1", "e0"]);
}
