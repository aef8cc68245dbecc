//! The callback outbox of service applications' conversations: filled in the transaction
//! that produced the events, drained per conversation in order by whichever node holds the
//! conversation's delivery lease, with pinned batches, retry state, give-ups and the purge
//! of routes of ended conversations.

use ucwa_core::DynStore;
use ucwa_core::model::AppKind;
use ucwa_core::service::{CallbackFailure, DueCallback};

use crate::support::*;

async fn service_application(store: &DynStore, id: &str) {
    application_of_kind(&**store, id, AppKind::Service, T0).await;
}

/// The tags of a conversation's undelivered callbacks, in delivery order.
async fn outbox(store: &DynStore, session: &str) -> Vec<u64> {
    let (_, items) = store.callback_batch(session, 1_000).await.unwrap().expect("a route");
    assert!(items.windows(2).all(|p| p[0].id < p[1].id), "ids increase");
    items.iter().map(|i| i.body["tag"].as_u64().unwrap()).collect()
}

pub async fn events_of_a_routed_conversation_go_to_the_outbox_in_order(store: DynStore) {
    service_application(&store, "svc").await;
    application(&*store, "u").await;
    store.insert_callback_route(&route("conv1", "svc", Some(CALLBACK_URL), T0)).await.unwrap();
    // A conversation without a callback URL is long-polled.
    store.insert_callback_route(&route("conv2", "svc", None, T0)).await.unwrap();
    let events = vec![
        conversation_event("svc", "conv1", 1),
        conversation_event("svc", "conv2", 2),
        event("svc", 3),
        conversation_event("svc", "conv1", 4),
        // Another application's event about the same conversation id is its own.
        conversation_event("u", "conv1", 5),
    ];
    store.append_events(events, T0).await.unwrap();
    assert_eq!(outbox(&store, "conv1").await, [1, 4]);
    assert_eq!(tags(&log(&*store, "svc").await), [2, 3]);
    assert_eq!(tags(&log(&*store, "u").await), [5]);
    let (route, first) = store.callback_batch("conv1", 1).await.unwrap().unwrap();
    assert_eq!(route, crate::support::route("conv1", "svc", Some(CALLBACK_URL), T0));
    assert_eq!(first.len(), 1, "the limit holds");
    assert_eq!(first[0].sender_rel, "communication");
    assert_eq!(outbox(&store, "conv2").await, Vec::<u64>::new());
    assert_eq!(store.callback_batch("nope", 10).await.unwrap(), None);
}

pub async fn a_meeting_save_fills_the_outbox_in_the_same_transaction(store: DynStore) {
    service_application(&store, "svc").await;
    store.insert_callback_route(&route("bot", "svc", Some(CALLBACK_URL), T0)).await.unwrap();
    let mut current = conference("m1", T0 + DAY, T0);
    store.insert_meeting(&current).await.unwrap();
    let stale = current.clone();
    let joined = vec![conversation_event("svc", "bot", 1), conversation_event("svc", "bot", 2)];
    assert!(change(&*store, &mut current, join("bot", "svc", "sip:svc@example.com"), joined, T0).await);
    assert_eq!(outbox(&store, "bot").await, [1, 2]);
    // A save that loses its compare-and-swap leaves no callback behind.
    let mut late = stale;
    let lost = vec![conversation_event("svc", "bot", 3)];
    assert!(!change(&*store, &mut late, join("x", "app-x", "sip:x@example.com"), lost, T0).await);
    assert_eq!(outbox(&store, "bot").await, [1, 2]);
    assert!(log(&*store, "svc").await.is_empty());
}

/// Claims for `node` at `now` with a lease of an hour, taking what is due (up to ten).
async fn claim(store: &DynStore, node: &str, now: i64) -> Vec<String> {
    claim_for(store, node, now, now + HOUR, 10).await
}

/// Claims for `node` at `now` until `until`, up to `limit`, ten per application.
async fn claim_for(store: &DynStore, node: &str, now: i64, until: i64, limit: u32) -> Vec<String> {
    let due = store.claim_callbacks(node, now, until, 10, limit).await.unwrap();
    due.into_iter().map(|d| d.session_id).collect()
}

pub async fn due_conversations_are_claimed_oldest_first_by_one_node_at_a_time(store: DynStore) {
    service_application(&store, "svc").await;
    for session in ["c1", "c2", "c3", "quiet"] {
        store.insert_callback_route(&route(session, "svc", Some(CALLBACK_URL), T0)).await.unwrap();
    }
    store.insert_callback_route(&route("polled", "svc", None, T0)).await.unwrap();
    for (tag, session) in [(1, "c2"), (2, "c1"), (3, "c2"), (4, "c3"), (5, "polled")] {
        store.append_events(vec![conversation_event("svc", session, tag)], T0 + tag as i64).await.unwrap();
    }
    let now = T0 + 10;
    assert_eq!(claim_for(&store, "a", now, now + HOUR, 1).await, ["c2"], "oldest first; the limit");
    assert_eq!(claim(&store, "b", now).await, ["c1", "c3"], "none without events, none already held");
    assert!(claim(&store, "a", now).await.is_empty(), "a node's own lease keeps it out too");
    // Releasing makes a conversation claimable at once; only the holder can release.
    store.release_callback_lease("c1", "a").await.unwrap();
    assert!(claim(&store, "a", now).await.is_empty(), "a cannot release b's lease");
    store.release_callback_lease("c1", "b").await.unwrap();
    assert_eq!(claim(&store, "a", now).await, ["c1"]);
}

pub async fn a_lease_is_renewed_by_its_holder_and_taken_over_once_expired(store: DynStore) {
    service_application(&store, "svc").await;
    store.insert_callback_route(&route("c1", "svc", Some(CALLBACK_URL), T0)).await.unwrap();
    store.append_events(vec![conversation_event("svc", "c1", 1)], T0).await.unwrap();
    assert_eq!(claim_for(&store, "a", T0, T0 + 1_000, 10).await, ["c1"]);
    assert!(claim_for(&store, "b", T0 + 999, T0 + 5_000, 10).await.is_empty(), "held until T0+1000");
    assert!(store.renew_callback_lease("c1", "a", T0 + 2_000).await.unwrap());
    assert!(!store.renew_callback_lease("c1", "b", T0 + 9_000).await.unwrap(), "only the holder renews");
    assert!(claim_for(&store, "b", T0 + 1_500, T0 + 5_000, 10).await.is_empty(), "renewed");
    // The holder stops renewing (it died): another node takes over when the lease runs out.
    assert_eq!(claim_for(&store, "b", T0 + 2_000, T0 + 5_000, 10).await, ["c1"]);
    assert!(!store.renew_callback_lease("c1", "a", T0 + 9_000).await.unwrap(), "the old holder lost it");
    assert!(store.renew_callback_lease("c1", "b", T0 + 6_000).await.unwrap());
}

pub async fn a_pinned_batch_is_sent_again_unchanged_until_delivered(store: DynStore) {
    service_application(&store, "svc").await;
    store.insert_callback_route(&route("c1", "svc", Some(CALLBACK_URL), T0)).await.unwrap();
    store.append_events((1..=2).map(|tag| conversation_event("svc", "c1", tag)).collect(), T0).await.unwrap();
    let (route, first) = store.callback_batch("c1", 10).await.unwrap().unwrap();
    assert_eq!(route.batch_through, None);
    store.pin_callback_batch("c1", first[1].id).await.unwrap();
    // More events arrive, the attempt fails: the retry sends the same two events.
    store.append_events(vec![conversation_event("svc", "c1", 3)], T0 + 1).await.unwrap();
    store.callback_attempt_failed("c1", T0 + 2).await.unwrap();
    let (route, again) = store.callback_batch("c1", 10).await.unwrap().unwrap();
    assert_eq!(again, first);
    assert_eq!((route.batch_through, route.delivered), (Some(first[1].id), 0));
    store.pin_callback_batch("c1", first[0].id).await.unwrap();
    assert_eq!(store.callback_batch("c1", 10).await.unwrap().unwrap().1, first, "a pin is not moved");
    // Delivered: the pin goes, the next batch holds the rest.
    store.callback_delivered("c1", first[1].id, None).await.unwrap();
    let (route, rest) = store.callback_batch("c1", 10).await.unwrap().unwrap();
    assert_eq!((route.batch_through, route.delivered), (None, 1));
    assert_eq!(rest.iter().map(|i| i.body["tag"].as_u64().unwrap()).collect::<Vec<_>>(), [3]);
}

/// An application holding its `per_app` leases (on any node) gets no more, so its many due
/// conversations cannot crowd out another application's one; within one claim too.
pub async fn conversations_of_full_applications_are_left_out(store: DynStore) {
    service_application(&store, "slow").await;
    service_application(&store, "quick").await;
    for i in 0..20 {
        let session = format!("s{i:02}");
        store.insert_callback_route(&route(&session, "slow", Some(CALLBACK_URL), T0)).await.unwrap();
        store.append_events(vec![conversation_event("slow", &session, i)], T0 + i as i64).await.unwrap();
    }
    store.insert_callback_route(&route("q", "quick", Some(CALLBACK_URL), T0)).await.unwrap();
    store.append_events(vec![conversation_event("quick", "q", 99)], T0 + 99).await.unwrap();
    let now = T0 + 1_000;
    let sessions = |due: Vec<DueCallback>| due.into_iter().map(|d| d.session_id).collect::<Vec<_>>();
    let a = store.claim_callbacks("a", now, now + HOUR, 2, 5).await.unwrap();
    assert_eq!(a[0], DueCallback { session_id: "s00".into(), app_id: "slow".into() }, "with its application");
    assert_eq!(sessions(a), ["s00", "s01", "q"], "two of slow, then quick's one");
    let b = store.claim_callbacks("b", now, now + HOUR, 2, 5).await.unwrap();
    assert!(b.is_empty(), "slow's two leases on node a count on node b: {b:?}");
    // A released lease frees a place (and its conversation, still undelivered, takes it).
    store.release_callback_lease("s00", "a").await.unwrap();
    assert_eq!(sessions(store.claim_callbacks("b", now, now + HOUR, 2, 5).await.unwrap()), ["s00"]);
    // Expired leases stop counting.
    let later = now + HOUR;
    assert_eq!(sessions(store.claim_callbacks("b", later, later + HOUR, 2, 5).await.unwrap()), ["s00", "s01", "q"]);
}

pub async fn a_delivered_batch_leaves_the_outbox_and_resets_retries(store: DynStore) {
    service_application(&store, "svc").await;
    store.insert_callback_route(&route("c1", "svc", Some(CALLBACK_URL), T0)).await.unwrap();
    let events = (1..=3).map(|tag| conversation_event("svc", "c1", tag)).collect();
    store.append_events(events, T0).await.unwrap();
    let (_, items) = store.callback_batch("c1", 10).await.unwrap().unwrap();

    assert_eq!(store.callback_attempt_failed("c1", T0 + 1_000).await.unwrap(), 1);
    assert_eq!(store.callback_attempt_failed("c1", T0 + 2_000).await.unwrap(), 2);
    assert!(claim(&store, "a", T0 + 1_999).await.is_empty(), "backing off");
    assert_eq!(claim(&store, "a", T0 + 2_000).await, ["c1"]);
    store.release_callback_lease("c1", "a").await.unwrap();
    let (route, _) = store.callback_batch("c1", 10).await.unwrap().unwrap();
    assert_eq!((route.attempts, route.next_attempt_ms), (2, T0 + 2_000));

    store.callback_delivered("c1", items[1].id, Some("ctx-new")).await.unwrap();
    let (route, left) = store.callback_batch("c1", 10).await.unwrap().unwrap();
    assert_eq!(left, items[2..], "delivered through the second");
    assert_eq!((route.attempts, route.next_attempt_ms, route.delivered), (0, 0, 1));
    assert_eq!(route.context.as_deref(), Some("ctx-new"), "a new context replaces the old");
    assert_eq!(claim(&store, "a", T0).await, ["c1"], "due again at once");
    store.release_callback_lease("c1", "a").await.unwrap();

    store.callback_delivered("c1", items[2].id, None).await.unwrap();
    let (route, left) = store.callback_batch("c1", 10).await.unwrap().unwrap();
    assert!(left.is_empty());
    assert_eq!((route.delivered, route.context.as_deref()), (2, Some("ctx-new")), "no new context keeps the old");
    assert!(claim(&store, "a", T0 + DAY).await.is_empty());
    assert_eq!(store.callback_attempt_failed("nope", T0).await.unwrap(), 0, "no route, no count");
}

pub async fn giving_up_drops_the_outbox_and_records_the_failure(store: DynStore) {
    service_application(&store, "svc").await;
    store.insert_callback_route(&route("c1", "svc", Some(CALLBACK_URL), T0)).await.unwrap();
    store
        .append_events(vec![conversation_event("svc", "c1", 1), conversation_event("svc", "c1", 2)], T0)
        .await
        .unwrap();
    for attempt in 1..=3 {
        assert_eq!(store.callback_attempt_failed("c1", T0 + attempt).await.unwrap(), attempt as u32);
    }
    store.callback_give_up("c1", "connection refused", T0 + 5).await.unwrap();
    assert_eq!(outbox(&store, "c1").await, Vec::<u64>::new(), "undelivered callbacks dropped");
    let failure = CallbackFailure {
        app_id: "svc".into(),
        session_id: "c1".into(),
        url: CALLBACK_URL.into(),
        attempts: 3,
        last_error: "connection refused".into(),
        dropped: 2,
        failed_ms: T0 + 5,
    };
    assert_eq!(store.callback_failures().await.unwrap(), [failure]);
    // The route takes no more callbacks: later events of the conversation go to the log.
    store.append_events(vec![conversation_event("svc", "c1", 9)], T0 + 6).await.unwrap();
    assert_eq!(outbox(&store, "c1").await, Vec::<u64>::new());
    assert_eq!(tags(&log(&*store, "svc").await), [9]);
    assert!(claim(&store, "a", T0 + DAY).await.is_empty());
}

pub async fn routes_of_ended_conversations_are_purged(store: DynStore) {
    service_application(&store, "svc").await;
    let mut current = conference("m1", T0 + DAY, T0);
    store.insert_meeting(&current).await.unwrap();
    apply(&*store, &mut current, join("live", "svc", "sip:svc@example.com"), T0).await;
    for (session, created) in [("live", T0), ("pending", T0), ("ended", T0), ("young", T0 + 10)] {
        store.insert_callback_route(&route(session, "svc", Some(CALLBACK_URL), created)).await.unwrap();
    }
    store.append_events(vec![conversation_event("svc", "pending", 1)], T0).await.unwrap();
    assert_eq!(store.purge_callback_routes(T0 + 5).await.unwrap(), 1);
    assert_eq!(store.callback_batch("ended", 10).await.unwrap(), None);
    for kept in ["live", "pending", "young"] {
        assert!(store.callback_batch(kept, 10).await.unwrap().is_some(), "{kept} is kept");
    }
    // Deleting a route drops its undelivered callbacks; later events go to the log.
    store.delete_callback_route("pending").await.unwrap();
    assert_eq!(store.callback_batch("pending", 10).await.unwrap(), None);
    assert!(claim(&store, "a", T0 + DAY).await.is_empty());
    store.append_events(vec![conversation_event("svc", "pending", 2)], T0 + 1).await.unwrap();
    assert_eq!(tags(&log(&*store, "svc").await), [2]);
}
