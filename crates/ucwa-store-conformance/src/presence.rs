//! What users publish (presence, note, location), presence subscriptions, and finding users.

use ucwa_core::DynStore;
use ucwa_core::model::{PresenceSubscription, Publication, PublicationChange, User};

use crate::support::*;

const ALICE: &str = "sip:alice@example.com";

fn person(uri: &str, name: &str) -> User {
    User { uri: uri.into(), display_name: name.into(), password_hash: "$argon2id$v=19$x".into() }
}

fn subscription(id: &str, app: &str, uris: &[&str], expires_ms: i64) -> PresenceSubscription {
    PresenceSubscription {
        id: id.into(),
        app_id: app.into(),
        uris: uris.iter().map(|u| (*u).to_owned()).collect(),
        expires_ms,
    }
}

/// Letter case is ignored beyond ASCII too ("émile" finds "Émile"), and names are ordered by
/// their lower-case form byte by byte (so "Eve" before "Émile"), alike on every store and
/// whatever a PostgreSQL database's locale would do with `lower` and its collation.
pub async fn users_are_found_by_name_or_address(store: DynStore) {
    for (uri, name) in [
        ("sip:bob@example.com", "Bob Jones"),
        ("sip:carol@example.com", "Carol Jones"),
        (ALICE, "Alice Smith"),
        ("sip:percent@example.com", "100% Sure"),
        ("sip:emile@example.com", "Émile Zola"),
        ("sip:eve@example.com", "Eve Adams"),
    ] {
        store.upsert_user(&person(uri, name)).await.unwrap();
    }
    let uris = |users: Vec<User>| users.into_iter().map(|u| u.uri).collect::<Vec<_>>();
    assert_eq!(
        uris(store.search_users("", 10).await.unwrap()),
        [
            "sip:percent@example.com",
            ALICE,
            "sip:bob@example.com",
            "sip:carol@example.com",
            "sip:eve@example.com",
            "sip:emile@example.com"
        ],
        "an empty query finds everyone, by name"
    );
    assert_eq!(uris(store.search_users("émile", 10).await.unwrap()), ["sip:emile@example.com"]);
    assert_eq!(uris(store.search_users("ÉMILE ZOLA", 10).await.unwrap()), ["sip:emile@example.com"]);
    assert_eq!(uris(store.search_users("JONES", 10).await.unwrap()), ["sip:bob@example.com", "sip:carol@example.com"]);
    assert_eq!(uris(store.search_users("jones", 1).await.unwrap()), ["sip:bob@example.com"], "limited");
    assert_eq!(uris(store.search_users("sip:carol@", 10).await.unwrap()), ["sip:carol@example.com"]);
    assert_eq!(uris(store.search_users("%", 10).await.unwrap()), ["sip:percent@example.com"], "no wildcards");
    assert!(store.search_users("nobody", 10).await.unwrap().is_empty());
}

pub async fn publications_are_changed_one_part_at_a_time_with_their_events(store: DynStore) {
    application(&*store, "watcher").await;
    assert_eq!(store.publication(ALICE).await.unwrap(), Publication::default(), "nothing set yet");
    let busy = PublicationChange::Availability(Some("Busy".into()));
    store.publish(ALICE, &busy, vec![event("watcher", 1)], T0).await.unwrap();
    store.publish(ALICE, &PublicationChange::Note(Some("Heads down".into())), vec![], T0 + 1).await.unwrap();
    store
        .publish(ALICE, &PublicationChange::Location(Some("Home".into())), vec![event("watcher", 2)], T0 + 2)
        .await
        .unwrap();
    let expected = Publication {
        availability: Some("Busy".into()),
        note: Some("Heads down".into()),
        location: Some("Home".into()),
    };
    assert_eq!(store.publication(ALICE).await.unwrap(), expected);
    store.publish(ALICE, &PublicationChange::Note(None), vec![], T0 + 3).await.unwrap();
    assert_eq!(store.publication(ALICE).await.unwrap(), Publication { note: None, ..expected }, "reset");
    assert_eq!(tags(&log(&*store, "watcher").await), [1, 2], "events appended with the change");
}

pub async fn subscriptions_are_capped_listed_extended_and_deleted(store: DynStore) {
    application(&*store, "app1").await;
    application(&*store, "app2").await;
    let first = subscription("s1", "app1", &[ALICE, "sip:bob@example.com", ALICE], T0 + 10);
    assert!(store.insert_presence_subscription(&first, 2, T0).await.unwrap());
    assert!(store.insert_presence_subscription(&subscription("s2", "app1", &[ALICE], T0 + 20), 2, T0).await.unwrap());
    assert!(
        !store.insert_presence_subscription(&subscription("s3", "app1", &[ALICE], T0 + 20), 2, T0).await.unwrap(),
        "capped"
    );
    // An expired one no longer counts.
    assert!(
        store.insert_presence_subscription(&subscription("s3", "app1", &[ALICE], T0 + 20), 2, T0 + 10).await.unwrap()
    );
    let live = store.presence_subscriptions("app1", T0).await.unwrap();
    let ids: Vec<&str> = live.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["s1", "s2", "s3"], "oldest first");
    assert_eq!(live[0].uris, [ALICE, "sip:bob@example.com"], "in the order given, once each");
    assert_eq!(store.presence_subscriptions("app1", T0 + 10).await.unwrap().len(), 2, "s1 expired at its instant");
    assert!(store.presence_subscriptions("app2", T0).await.unwrap().is_empty());

    let carol = vec!["sip:carol@example.com".to_owned(), ALICE.to_owned()];
    assert!(store.update_presence_subscription("app1", "s2", Some(T0 + 30), &carol, T0).await.unwrap());
    let s2 = store.presence_subscriptions("app1", T0).await.unwrap().into_iter().find(|s| s.id == "s2").unwrap();
    assert_eq!((s2.expires_ms, s2.uris), (T0 + 30, vec![ALICE.to_owned(), "sip:carol@example.com".to_owned()]));
    assert!(!store.update_presence_subscription("app2", "s2", None, &[], T0).await.unwrap(), "another application's");
    assert!(!store.update_presence_subscription("app1", "s1", None, &[], T0 + 10).await.unwrap(), "expired");
    assert!(!store.delete_presence_subscription("app2", "s2").await.unwrap());
    assert!(store.delete_presence_subscription("app1", "s2").await.unwrap());
    assert!(!store.delete_presence_subscription("app1", "s2").await.unwrap());
    assert_eq!(store.purge_expired_presence_subscriptions(T0 + 10).await.unwrap(), 1, "s1");
    assert_eq!(store.presence_subscriptions("app1", T0).await.unwrap().len(), 1, "s3 remains");
}

pub async fn watchers_are_active_applications_with_a_live_subscription(store: DynStore) {
    for app in ["app1", "app2", "app3", "gone"] {
        application(&*store, app).await;
    }
    for (id, app, expires) in
        [("s1", "app1", T0 + 10), ("s1b", "app1", T0 + 20), ("s2", "app2", T0 + 5), ("s4", "gone", T0 + 10)]
    {
        assert!(store.insert_presence_subscription(&subscription(id, app, &[ALICE], expires), 10, T0).await.unwrap());
    }
    store
        .insert_presence_subscription(&subscription("s3", "app3", &["sip:bob@example.com"], T0 + 10), 10, T0)
        .await
        .unwrap();
    assert_eq!(store.presence_watchers(ALICE, T0).await.unwrap(), ["app1", "app2", "gone"], "each once");
    assert_eq!(store.presence_watchers(ALICE, T0 + 5).await.unwrap(), ["app1", "gone"], "expired ones do not watch");
    assert!(store.delete_application("gone").await.unwrap());
    assert_eq!(
        store.presence_watchers(ALICE, T0).await.unwrap(),
        ["app1", "app2"],
        "subscriptions go with their application"
    );
    let expired = store.expire_idle_applications(T0 + HOUR, &["app2".to_owned(), "app3".to_owned()]).await.unwrap();
    assert_eq!(expired, ["app1"]);
    assert_eq!(store.presence_watchers(ALICE, T0).await.unwrap(), ["app2"], "expired applications do not watch");
}
