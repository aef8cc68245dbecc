//! Callback delivery leases on the embedded store: kept in memory (one process per database),
//! with the same rules as on PostgreSQL: a held lease keeps other claimers out until it is
//! released or expires, and only the holder can renew it.

use serde_json::json;
use ucwa_core::Store;
use ucwa_core::channel::{ChannelLimits, Priority};
use ucwa_core::model::{NewApplication, NewEvent};
use ucwa_core::service::CallbackRoute;
use ucwa_store_sqlite::SqliteStore;

#[tokio::test]
async fn a_lease_keeps_other_claimers_out_until_released_or_expired() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&format!("sqlite://{}", dir.path().join("t.db").display())).await.unwrap();
    let new = NewApplication {
        id: "svc".into(),
        owner_uri: "sip:bot@example.com".into(),
        anonymous: false,
        display_name: "Bot".into(),
        endpoint_id: "sip:bot@example.com".into(),
        user_agent: "t".into(),
        culture: "en".into(),
        instance_id: None,
        kind: Default::default(),
    };
    store.create_application(&new, ChannelLimits::default().defaults(), 0).await.unwrap();
    let route = CallbackRoute {
        session_id: "s1".into(),
        app_id: "svc".into(),
        url: Some("https://bot.example.com/cb".into()),
        context: None,
        base_uri: "https://ucwa.example.com".into(),
        attempts: 0,
        next_attempt_ms: 0,
        delivered: 0,
        created_ms: 0,
    };
    store.insert_callback_route(&route).await.unwrap();
    let event = NewEvent {
        app_id: "svc".into(),
        priority: Priority::High,
        sender_rel: "communication".into(),
        sender_href: "/c".into(),
        body: json!({}),
        conversation: Some("s1".into()),
    };
    store.append_events(vec![event], 1).await.unwrap();

    assert_eq!(store.claim_callbacks("A", 100, 1_000, 10).await.unwrap(), ["s1"]);
    assert!(store.claim_callbacks("B", 500, 2_000, 10).await.unwrap().is_empty(), "held by A until 1000");
    assert!(store.renew_callback_lease("s1", "A", 1_500).await.unwrap());
    assert!(!store.renew_callback_lease("s1", "B", 9_000).await.unwrap(), "only the holder renews");
    assert_eq!(store.claim_callbacks("B", 1_600, 3_000, 10).await.unwrap(), ["s1"], "expired: taken over");
    assert!(!store.renew_callback_lease("s1", "A", 9_000).await.unwrap(), "the old holder lost it");
    store.release_callback_lease("s1", "A").await.unwrap();
    assert!(store.claim_callbacks("A", 1_700, 4_000, 10).await.unwrap().is_empty(), "A cannot release B's lease");
    store.release_callback_lease("s1", "B").await.unwrap();
    assert_eq!(store.claim_callbacks("A", 1_700, 4_000, 10).await.unwrap(), ["s1"]);
    store.close().await;
}
