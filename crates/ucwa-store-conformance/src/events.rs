//! The event log: per-application sequence numbers (gap-free, in commit order), paging,
//! the delivered batch with its compare-and-swap, acknowledgement and its cleanup.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::task::JoinSet;
use ucwa_core::channel::Priority;
use ucwa_core::model::{AppKind, DeliveredBatch, NewEvent};
use ucwa_core::store::{AckCleanup, PollClaim};
use ucwa_core::{DynStore, Store};

use crate::support::*;

pub async fn sequence_numbers_are_per_application_and_gap_free(store: DynStore) {
    application(&*store, "a").await;
    application(&*store, "b").await;
    // Interleaved across two applications in one append: each gets 1, 2, 3 in order.
    let batch: Vec<NewEvent> = (0..6).map(|i| event(if i % 2 == 0 { "a" } else { "b" }, i)).collect();
    store.append_events(batch, T0).await.unwrap();
    let a = log(&*store, "a").await;
    assert_eq!(seqs(&a), [1, 2, 3]);
    assert_eq!(tags(&a), [0, 2, 4]);
    let b = log(&*store, "b").await;
    assert_eq!(seqs(&b), [1, 2, 3]);
    assert_eq!(tags(&b), [1, 3, 5]);
    // A later append keeps counting where a left off, and the event reads back as written.
    let mut low = event("a", 9);
    low.priority = Priority::Low;
    store.append_events(vec![low.clone()], T0 + 1).await.unwrap();
    let more = store.events_after("a", 3, 100).await.unwrap();
    assert_eq!(more.len(), 1);
    let e = &more[0];
    assert_eq!((e.seq, e.priority, e.created_ms), (4, Priority::Low, T0 + 1));
    assert_eq!((&e.sender_rel, &e.sender_href, &body(e)), (&low.sender_rel, &low.sender_href, &low.body));
}

/// Several tasks append at once while a reader watches: every read is a gap-free prefix
/// 1..=n (a reader never sees number n+1 before n is committed), and each writer's events
/// are numbered in the order it appended them.
pub async fn concurrent_appends_are_gap_free_and_in_commit_order(store: DynStore) {
    const WRITERS: u64 = 4;
    const APPENDS: u64 = 40;
    application(&*store, "a").await;
    application(&*store, "b").await;
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (store, done) = (store.clone(), done.clone());
        tokio::spawn(async move {
            let (mut reads, mut last) = (0u32, 0usize);
            while !done.load(Ordering::Acquire) {
                let seen = seqs(&log(&*store, "a").await);
                let expected: Vec<i64> = (1..=seen.len() as i64).collect();
                assert_eq!(seen, expected, "a reader saw a gap");
                assert!(seen.len() >= last, "committed events disappeared");
                last = seen.len();
                reads += 1;
                tokio::task::yield_now().await;
            }
            reads
        })
    };
    let mut writers = JoinSet::new();
    for w in 0..WRITERS {
        let store = store.clone();
        writers.spawn(async move {
            for i in 0..APPENDS {
                let tag = w * 1000 + i;
                // Two events for a, one for b, in one transaction.
                let events = vec![event("a", tag), event("b", tag), event("a", tag)];
                store.append_events(events, T0 + i as i64).await.unwrap();
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
    done.store(true, Ordering::Release);
    assert!(reader.await.unwrap() > 0, "the reader ran");
    for (app, per_append) in [("a", 2), ("b", 1)] {
        let events = log(&*store, app).await;
        let total = (WRITERS * APPENDS * per_append) as i64;
        assert_eq!(seqs(&events), (1..=total).collect::<Vec<_>>(), "{app}: gap-free");
        for w in 0..WRITERS {
            let mine: Vec<u64> = tags(&events).into_iter().filter(|t| t / 1000 == w).collect();
            assert!(mine.windows(2).all(|p| p[0] <= p[1]), "{app}: writer {w}'s events out of order: {mine:?}");
            assert_eq!(mine.len() as u64, APPENDS * per_append);
        }
    }
}

pub async fn events_after_pages_in_order(store: DynStore) {
    application(&*store, "a").await;
    store.append_events((0..10).map(|i| event("a", i)).collect(), T0).await.unwrap();
    let page = |after: i64| {
        let store = store.clone();
        async move { seqs(&store.events_after("a", after, 4).await.unwrap()) }
    };
    assert_eq!(page(0).await, [1, 2, 3, 4]);
    assert_eq!(page(4).await, [5, 6, 7, 8]);
    assert_eq!(page(8).await, [9, 10]);
    assert!(page(10).await.is_empty());
    assert!(store.events_after("nobody", 0, 4).await.unwrap().is_empty());
}

pub async fn events_for_missing_or_expired_applications_are_dropped(store: DynStore) {
    application(&*store, "a").await;
    application(&*store, "old").await;
    store.touch_channel("a", ucwa_core::channel::ChannelLimits::default().defaults(), T0 + DAY).await.unwrap();
    assert_eq!(store.expire_idle_applications(T0 + HOUR, &[]).await.unwrap(), ["old"]);
    store.append_events(vec![event("gone", 1), event("old", 2), event("a", 3)], T0 + DAY).await.unwrap();
    assert_eq!(tags(&log(&*store, "a").await), [3]);
    assert!(log(&*store, "gone").await.is_empty());
    assert!(log(&*store, "old").await.is_empty());
}

pub async fn appending_rings_the_doorbell_after_commit(store: DynStore) {
    application(&*store, "a").await;
    let bell = store.doorbell().subscribe("a");
    let rung = bell.notified();
    tokio::pin!(rung);
    rung.as_mut().enable();
    store.append_events(vec![event("a", 1)], T0).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), rung).await.expect("the append rang a's bell");
    // The event is readable by the time the bell rings.
    assert_eq!(tags(&log(&*store, "a").await), [1]);
}

/// A client asking for batch N+1 acknowledges batch N: until then batch N is kept for
/// replay and its events stay; afterwards they are never read again and the cleanup
/// deletes exactly those.
pub async fn a_saved_batch_is_replayed_until_the_next_acknowledges_it(store: DynStore) {
    application(&*store, "a").await;
    application(&*store, "b").await;
    store.append_events(vec![event("a", 1), event("a", 2), event("a", 3), event("b", 4)], T0).await.unwrap();

    let one = DeliveredBatch { no: 1, body: "batch one".into(), max_seq: 3 };
    assert!(store.save_batch("a", &one, 0, T0 + 2).await.unwrap());
    assert!(!store.save_batch("a", &one, 0, T0 + 2).await.unwrap(), "compare-and-swap on the previous batch");
    assert_delivered(&*store, "a", &one).await;
    let app = store.application("a").await.unwrap().unwrap();
    assert_eq!(app.last_seen_ms, T0 + 2, "channel activity recorded");
    delete_all_acknowledged(&*store).await;
    assert_eq!(seqs(&log(&*store, "a").await), [1, 2, 3], "delivered is not acknowledged");

    // Batch two acknowledges batch one: its events go, b's stay.
    let two = DeliveredBatch { no: 2, body: "batch two".into(), max_seq: 3 };
    assert!(store.save_batch("a", &two, 1, T0 + 3).await.unwrap());
    assert_delivered(&*store, "a", &two).await;
    assert_eq!(store.delivered_batch("a", 1).await.unwrap(), None, "only the last batch is replayed");
    delete_all_acknowledged(&*store).await;
    assert!(log(&*store, "a").await.is_empty());
    assert_eq!(tags(&log(&*store, "b").await), [4]);

    // Numbering continues; batch three delivers event 4, which only batch four acknowledges.
    store.append_events(vec![event("a", 5)], T0 + 4).await.unwrap();
    assert_eq!(seqs(&store.events_after("a", 3, 10).await.unwrap()), [4]);
    let three = DeliveredBatch { no: 3, body: "batch three".into(), max_seq: 4 };
    assert!(store.save_batch("a", &three, 2, T0 + 5).await.unwrap());
    delete_all_acknowledged(&*store).await;
    assert_eq!(seqs(&log(&*store, "a").await), [4]);
    let four = DeliveredBatch { no: 4, body: "batch four".into(), max_seq: 4 };
    assert!(store.save_batch("a", &four, 3, T0 + 6).await.unwrap());
    delete_all_acknowledged(&*store).await;
    assert!(log(&*store, "a").await.is_empty());
    // Batches of unknown applications are not saved.
    assert!(!store.save_batch("nobody", &one, 0, T0).await.unwrap());
    assert_eq!(store.delivered_batch("nobody", 1).await.unwrap(), None);
}

/// `batch` is the last delivered on the channel of `app`: its mark in the application, its
/// body for a replay.
async fn assert_delivered(store: &dyn Store, app: &str, batch: &DeliveredBatch) {
    assert_eq!(store.application(app).await.unwrap().unwrap().delivered, batch.mark());
    assert_eq!(store.delivered_batch(app, batch.no).await.unwrap().as_ref(), Some(&batch.body), "kept for replay");
}

/// A delivery that releases the channel frees it only when its batch is saved, and only for
/// the ticket that still holds it: a newer request that took over keeps the channel. (A store
/// written by one process keeps no holder, `Store::claim_poll`; there only the batch is
/// checked.)
pub async fn saving_a_batch_releases_only_its_own_ticket(store: DynStore) {
    application(&*store, "a").await;
    let shared = !store.sees_every_write();
    let until = T0 + 60_000;
    let first = claim(&*store, "a", 2, T0, until).await.expect("a free channel");
    let one = DeliveredBatch { no: 1, body: "batch one".into(), max_seq: 0 };
    assert!(!store.save_batch_and_release("a", &one, 7, first, T0 + 1).await.unwrap(), "a lost compare-and-swap");
    if shared {
        assert_eq!(claim(&*store, "a", 1, T0 + 1, until).await, None, "not released by a lost save");
    }
    assert!(store.save_batch_and_release("a", &one, 0, first, T0 + 2).await.unwrap());
    assert_delivered(&*store, "a", &one).await;
    // Released: a request of lower priority takes the channel now.
    let second = claim(&*store, "a", 1, T0 + 3, until).await.expect("released");
    let third = claim(&*store, "a", 2, T0 + 4, until).await.expect("a higher priority replaces");
    let two = DeliveredBatch { no: 2, body: "batch two".into(), max_seq: 0 };
    assert!(store.save_batch_and_release("a", &two, 1, second, T0 + 5).await.unwrap());
    assert_delivered(&*store, "a", &two).await;
    if shared {
        assert_eq!(store.poll_holder("a").await.unwrap(), Some(third));
        assert_eq!(claim(&*store, "a", 1, T0 + 6, until).await, None, "the newer request holds it");
    }
}

/// A claim reads the events after the mark it is given, up to its limit and in order; a
/// refused claim (a request of higher priority holds the channel, on a store several nodes
/// share) reads nothing.
pub async fn a_claim_reads_the_events_after_its_mark(store: DynStore) {
    application(&*store, "a").await;
    store.append_events((0..5).map(|i| event("a", i)).collect(), T0).await.unwrap();
    let until = T0 + 60_000;
    let high = PollClaim { priority: 2, now_ms: T0, until_ms: until };
    let (ticket, events) = store.claim_poll("a", high, 1, 3).await.unwrap().expect("a free channel");
    assert_eq!(seqs(&events), [2, 3, 4]);
    assert_eq!(tags(&events), [1, 2, 3]);
    let (_, rest) = store.claim_poll("a", high, 4, 256).await.unwrap().expect("the same priority replaces");
    assert_eq!(seqs(&rest), [5]);
    let (_, none) = store.claim_poll("a", high, 5, 256).await.unwrap().expect("the same priority replaces");
    assert!(none.is_empty());
    if !store.sees_every_write() {
        let low = PollClaim { priority: 1, now_ms: T0 + 1, until_ms: until };
        assert!(store.claim_poll("a", low, 0, 256).await.unwrap().is_none(), "a higher priority holds it");
        assert_ne!(store.poll_holder("a").await.unwrap(), Some(ticket), "replaced by the second claim");
    }
}

/// Two requests for the same next batch: exactly one is saved, and it is the one kept.
pub async fn only_one_of_racing_batches_is_saved(store: DynStore) {
    application(&*store, "a").await;
    let mut racers = JoinSet::new();
    for k in 0..8 {
        let store = store.clone();
        racers.spawn(async move {
            let batch = DeliveredBatch { no: 1, body: format!("racer {k}"), max_seq: 0 };
            (store.save_batch("a", &batch, 0, T0).await.unwrap(), batch)
        });
    }
    let mut winners = Vec::new();
    while let Some(raced) = racers.join_next().await {
        let (saved, batch) = raced.unwrap();
        if saved {
            winners.push(batch);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one winner");
    assert_delivered(&*store, "a", &winners[0]).await;
}

/// Applications cost a pass at least ten events' worth of its limit each, so a pass over
/// more applications than that allows leaves some out, and says so: 150 applications with
/// one acknowledged event each take two passes of 1,000.
pub async fn a_cleanup_pass_over_many_applications_says_when_it_left_some_out(store: DynStore) {
    let apps: Vec<String> = (0..150).map(|i| format!("app{i:03}")).collect();
    for app in &apps {
        application(&*store, app).await;
        store.append_events(vec![event(app, 1)], T0).await.unwrap();
        let batch = |no| DeliveredBatch { no, body: String::new(), max_seq: 1 };
        assert!(store.save_batch(app, &batch(1), 0, T0).await.unwrap());
        assert!(store.save_batch(app, &batch(2), 1, T0).await.unwrap());
    }
    let first = store.delete_acknowledged_events(1_000).await.unwrap();
    let second = if first.more { Some(store.delete_acknowledged_events(1_000).await.unwrap()) } else { None };
    assert!(!second.unwrap_or(first).more, "two passes of 1,000 over 150 applications left some: {first:?} {second:?}");
    // Unless the backend's own cleanup took part of the work (while the applications were
    // set up, or between the passes), the first pass took a hundred and said more was left.
    if first.deleted + second.map_or(0, |s| s.deleted) == 150 {
        let expected = (AckCleanup { deleted: 100, more: true }, Some(AckCleanup { deleted: 50, more: false }));
        assert_eq!((first, second), expected);
    }
    for app in &apps {
        assert!(log(&*store, app).await.is_empty(), "{app} kept an acknowledged event");
    }
}

/// A large backlog goes in chunks that each respect the limit, deleting every acknowledged
/// event and nothing else.
pub async fn acknowledged_events_are_deleted_in_bounded_chunks(store: DynStore) {
    const EVENTS: u64 = 4_000;
    for app in ["a", "b", "c"] {
        application(&*store, app).await;
        for chunk in 0..EVENTS / 500 {
            let events = (0..500).map(|i| event(app, chunk * 500 + i)).collect();
            store.append_events(events, T0).await.unwrap();
        }
    }
    // a acknowledges 2,500 events, b all of them, c none (its first batch is only delivered).
    let batch = |no, max_seq| DeliveredBatch { no, body: String::new(), max_seq };
    for (app, acked) in [("a", 2_500), ("b", EVENTS as i64)] {
        assert!(store.save_batch(app, &batch(1, acked), 0, T0).await.unwrap());
        assert!(store.save_batch(app, &batch(2, EVENTS as i64), 1, T0).await.unwrap());
    }
    assert!(store.save_batch("c", &batch(1, EVENTS as i64), 0, T0).await.unwrap());
    let mut passes = Vec::new();
    for _ in 0..100 {
        let pass = store.delete_acknowledged_events(700).await.unwrap();
        assert!(pass.deleted <= 700, "one call deleted {} events, more than its limit", pass.deleted);
        passes.push(pass);
        if !pass.more {
            break;
        }
    }
    let deleted: u64 = passes.iter().map(|p| p.deleted).sum();
    assert!(!passes[passes.len() - 1].more, "still more left after 100 passes: {passes:?}");
    // The backend's own cleanup may have taken part of the work meanwhile (then the logs
    // below still show that the pass that said "no more" was right). When it took none,
    // 6,500 events went in nine full passes that each said more was left, and a tenth.
    assert!(deleted <= 2_500 + EVENTS);
    if deleted == 2_500 + EVENTS {
        let shape: Vec<(u64, bool)> = passes.iter().map(|p| (p.deleted, p.more)).collect();
        let mut expected = vec![(700, true); 9];
        expected.push((200, false));
        assert_eq!(shape, expected);
    }
    assert_eq!(seqs(&log(&*store, "a").await), (2_501..=EVENTS as i64).collect::<Vec<_>>());
    assert!(log(&*store, "b").await.is_empty());
    assert_eq!(log(&*store, "c").await.len() as u64, EVENTS);
    // A service application's log works the same way.
    application_of_kind(&*store, "svc", AppKind::Service, T0).await;
    store.append_events(vec![event("svc", 1)], T0).await.unwrap();
    assert!(store.save_batch("svc", &batch(1, 1), 0, T0).await.unwrap());
    assert!(store.save_batch("svc", &batch(2, 1), 1, T0).await.unwrap());
    delete_all_acknowledged(&*store).await;
    assert!(log(&*store, "svc").await.is_empty());
}
