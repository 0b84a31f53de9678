//! Per-client, per-day usage counts.

use crate::DurableBackend;
use crate::fixtures::{client, now};
use gatehouse_core::store::{ClientUsage, UsageDelta};
use time::Duration;

fn delta(client_id: &str, days_ago: i64, tokens_issued: u64, logins: u64) -> UsageDelta {
    UsageDelta {
        client_id: client_id.into(),
        day: (now() - Duration::days(days_ago)).date(),
        usage: ClientUsage {
            tokens_issued,
            logins,
        },
    }
}

pub async fn usage_adds_up_per_client_from_a_day_on(b: DurableBackend) {
    let store = &b.store;
    let today = now().date();
    assert_eq!(
        store.client_usage("nobody", today).await.unwrap(),
        ClientUsage::default()
    );
    store
        .add_client_usage(&[
            delta("app", 0, 3, 1),
            delta("app", 2, 5, 2),
            delta("app", 40, 100, 100),
            delta("other", 0, 7, 7),
        ])
        .await
        .unwrap();
    // Adding again to the same day adds up, in the same batch or a later one.
    store
        .add_client_usage(&[delta("app", 0, 1, 0), delta("app", 0, 1, 1)])
        .await
        .unwrap();
    store.add_client_usage(&[]).await.unwrap();
    assert_eq!(
        store
            .client_usage("app", (now() - Duration::days(29)).date())
            .await
            .unwrap(),
        ClientUsage {
            tokens_issued: 10,
            logins: 4
        }
    );
    assert_eq!(
        store.client_usage("app", today).await.unwrap(),
        ClientUsage {
            tokens_issued: 5,
            logins: 2
        },
        "only today's count"
    );
    assert_eq!(
        store
            .client_usage("app", (now() - Duration::days(2)).date())
            .await
            .unwrap()
            .tokens_issued,
        10,
        "`since` is inclusive"
    );
    assert_eq!(
        store
            .client_usage("other", (now() - Duration::days(29)).date())
            .await
            .unwrap(),
        ClientUsage {
            tokens_issued: 7,
            logins: 7
        }
    );
}

pub async fn deleting_a_client_forgets_its_usage(b: DurableBackend) {
    let store = &b.store;
    store.create_client(&client("counted")).await.unwrap();
    store
        .add_client_usage(&[delta("counted", 0, 2, 2)])
        .await
        .unwrap();
    store.delete_client("counted").await.unwrap();
    assert_eq!(
        store
            .client_usage("counted", (now() - Duration::days(29)).date())
            .await
            .unwrap(),
        ClientUsage::default()
    );
}
