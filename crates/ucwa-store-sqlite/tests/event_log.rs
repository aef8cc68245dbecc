//! The event log against a real SQLite file: sequence numbers per application, batches
//! saved with compare-and-swap, and acknowledged events removed only once acknowledged.

use serde_json::json;
use ucwa_core::Store;
use ucwa_core::channel::{ChannelLimits, Priority};
use ucwa_core::model::{DeliveredBatch, NewApplication, NewEvent};
use ucwa_store_sqlite::SqliteStore;

async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    (dir, store)
}

async fn app(store: &SqliteStore, id: &str) {
    let new = NewApplication {
        id: id.into(),
        owner_uri: "sip:a@example.com".into(),
        anonymous: false,
        display_name: "A".into(),
        endpoint_id: id.into(),
        user_agent: "t".into(),
        culture: "en".into(),
        instance_id: None,
        kind: Default::default(),
    };
    store.create_application(&new, ChannelLimits::default().defaults(), 0).await.unwrap();
}

fn event(app: &str, tag: u32) -> NewEvent {
    NewEvent {
        app_id: app.into(),
        priority: Priority::High,
        sender_rel: "communication".into(),
        sender_href: "/c".into(),
        body: json!({ "tag": tag }),
        conversation: None,
    }
}

#[tokio::test]
async fn events_are_numbered_per_application_and_removed_once_acknowledged() {
    let (_dir, store) = store().await;
    app(&store, "a").await;
    app(&store, "b").await;
    // Interleaved across two applications in one append: each gets 1, 2, 3 in order.
    let batch: Vec<NewEvent> = (0..6).map(|i| event(if i % 2 == 0 { "a" } else { "b" }, i)).collect();
    store.append_events(batch, 1).await.unwrap();
    let a = store.events_after("a", 0, 100).await.unwrap();
    assert_eq!(a.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(a.iter().map(|e| e.body["tag"].as_u64().unwrap()).collect::<Vec<_>>(), [0, 2, 4]);
    let b = store.events_after("b", 0, 100).await.unwrap();
    assert_eq!(b.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);

    // Batch 1 delivers a's events: not yet acknowledged, so nothing may go.
    let one = DeliveredBatch { no: 1, body: "one".into(), max_seq: 3 };
    assert!(store.save_batch("a", &one, 0, 2).await.unwrap());
    assert!(!store.save_batch("a", &one, 0, 2).await.unwrap(), "compare-and-swap on the previous batch");
    assert_eq!(store.delete_acknowledged_events().await.unwrap(), 0);
    // Asking for batch 2 acknowledges batch 1: its three events go, b's stay.
    let two = DeliveredBatch { no: 2, body: "two".into(), max_seq: 3 };
    assert!(store.save_batch("a", &two, 1, 3).await.unwrap());
    assert_eq!(store.delete_acknowledged_events().await.unwrap(), 3);
    assert_eq!(store.events_after("b", 0, 100).await.unwrap().len(), 3);
    // Later events keep counting from where a left off.
    store.append_events(vec![event("a", 9)], 4).await.unwrap();
    assert_eq!(store.events_after("a", 3, 100).await.unwrap()[0].seq, 4);
}

#[tokio::test]
async fn events_for_missing_applications_are_dropped() {
    let (_dir, store) = store().await;
    app(&store, "a").await;
    store.append_events(vec![event("gone", 1), event("a", 2)], 1).await.unwrap();
    assert_eq!(store.events_after("a", 0, 10).await.unwrap().len(), 1);
    assert!(store.events_after("gone", 0, 10).await.unwrap().is_empty());
}
