//! Retention under a long churn, on a real SQLite file: thousands of person-to-person
//! conversations and ad hoc meetings start, exchange events and end, their applications
//! expire, and the housekeeping the server runs (acknowledgement cleanup, idle expiry,
//! `purge_finished` in bounded steps) keeps the row counts and the database file flat.
//! Time is simulated through the `now_ms` arguments: one round is one hour.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a failed unwrap is a failed test")]

use std::sync::Arc;

use sqlx::SqlitePool;
use ucwa_core::Store;
use ucwa_core::meeting::Command;
use ucwa_core::model::{AppKind, DeliveredBatch};
use ucwa_store_conformance::support::*;
use ucwa_store_sqlite::SqliteStore;

const ROUNDS: i64 = 16;
const USERS_PER_ROUND: usize = 20;
const CONVERSATIONS_PER_ROUND: usize = 200;
/// Every tenth conversation is an ad hoc meeting instead, joinable for two hours (the
/// server gives eight; shorter here so the steady state comes sooner).
const AD_HOC_EVERY: usize = 10;
const AD_HOC_LIFETIME: i64 = 2 * HOUR;
const RETENTION: i64 = 4 * HOUR;
const IDLE: i64 = 15 * 60_000;

/// Row counts of the tables that grow with use.
async fn rows(pool: &SqlitePool) -> [i64; 4] {
    let mut out = [0; 4];
    for (i, table) in ["meetings", "meeting_sessions", "applications", "events"].iter().enumerate() {
        let (n,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"))).fetch_one(pool).await.unwrap();
        out[i] = n;
    }
    out
}

/// Bytes of the database file once the write-ahead log is copied back into it. A checkpoint
/// that meets another one running (the store's upkeep runs a passive one every second, on
/// the wall clock) does nothing and reports `busy`; it is asked again until it has copied
/// everything, or the file would be measured short of pages still in the log.
async fn file_bytes(pool: &SqlitePool, path: &std::path::Path) -> u64 {
    for _ in 0..5_000 {
        let (busy, _frames, _copied): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(pool).await.unwrap();
        if busy == 0 {
            return std::fs::metadata(path).unwrap().len();
        }
        // A pause to let the other checkpoint finish, not a timing assumption.
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    panic!("the checkpoint stayed busy for 5,000 attempts");
}

/// One hour of use starting at `start`: a fresh set of users, their conversations, each
/// application acknowledging what it received.
async fn round(store: &SqliteStore, r: i64, start: i64) {
    let users: Vec<String> = (0..USERS_PER_ROUND).map(|u| format!("r{r}u{u}")).collect();
    for user in &users {
        application_of_kind(store, user, AppKind::Ucwa, start).await;
    }
    for c in 0..CONVERSATIONS_PER_ROUND {
        let now = start + c as i64;
        let (a, b) = (&users[c % USERS_PER_ROUND], &users[(c * 7 + 3) % USERS_PER_ROUND]);
        let id = format!("r{r}c{c}");
        let said = |tag| vec![event(a, tag), event(b, tag)];
        if c % AD_HOC_EVERY == 0 {
            let mut meeting = conference(&id, now + AD_HOC_LIFETIME, now);
            store.insert_meeting(&meeting).await.unwrap();
            let (s0, s1) = (format!("{id}s0"), format!("{id}s1"));
            assert!(change(store, &mut meeting, join(&s0, a, ORGANIZER), said(1), now).await);
            assert!(change(store, &mut meeting, join(&s1, b, "sip:b@example.com"), said(2), now).await);
            assert!(change(store, &mut meeting, leave(&s0), said(3), now + 1).await);
            assert!(change(store, &mut meeting, leave(&s1), said(4), now + 1).await);
        } else {
            let mut chat = two_party(&id, now);
            store.insert_meeting(&chat).await.unwrap();
            let (s0, s1) = (format!("{id}s0"), format!("{id}s1"));
            assert!(change(store, &mut chat, call(&s0, a, &s1, b), said(1), now).await);
            assert!(change(store, &mut chat, Command::Accept { session: s1.clone() }, said(2), now).await);
            assert!(change(store, &mut chat, leave(&s0), said(3), now + 1).await);
        }
    }
    // Each application fetches what it got, then asks for the next batch (acknowledging it).
    let end = start + 30 * 60_000;
    for user in &users {
        let max_seq = log(store, user).await.last().map_or(0, |e| e.seq);
        let batch = |no| DeliveredBatch { no, body: String::new(), max_seq };
        assert!(store.save_batch(user, &batch(1), 0, end).await.unwrap());
        assert!(store.save_batch(user, &batch(2), 1, end).await.unwrap());
    }
}

/// What the server's background work does at `now`.
async fn housekeeping(store: &SqliteStore, now: i64) {
    delete_all_acknowledged(store).await;
    store.expire_idle_applications(now - IDLE, &[]).await.unwrap();
    loop {
        let step = store.purge_finished(now - RETENTION, 256).await.unwrap();
        assert!(step.stranded_applications.is_empty(), "every conversation was ended");
        if !step.more {
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_and_file_stay_flat_under_a_long_churn_of_conversations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("churn.db");
    let url = format!("sqlite://{}", path.display());
    let store = Arc::new(SqliteStore::open(&url).await.unwrap());
    let inspect = SqlitePool::connect(&url).await.unwrap();
    let (mut warm_rows, mut warm_bytes) = ([0; 4], 0);
    let mut peak_rows = [0; 4];
    for r in 0..ROUNDS {
        let start = T0 + r * HOUR;
        round(&store, r, start).await;
        housekeeping(&store, start + HOUR).await;
        let counts = rows(&inspect).await;
        for (peak, n) in peak_rows.iter_mut().zip(counts) {
            *peak = (*peak).max(n);
        }
        // After 8 hours every kind of row has lived its full life (ad hoc meetings: joinable
        // for two hours, then kept for the retention) and the store is in its steady state.
        if r == 7 {
            (warm_rows, warm_bytes) = (counts, file_bytes(&inspect, &path).await);
        }
    }
    let end_rows = rows(&inspect).await;
    let end_bytes = file_bytes(&inspect, &path).await;
    let created = ROUNDS * CONVERSATIONS_PER_ROUND as i64;
    eprintln!(
        "{created} conversations: rows (meetings, sessions, applications, events) {warm_rows:?} at 8 h, {end_rows:?} at {ROUNDS} h, peak {peak_rows:?}; file {warm_bytes} -> {end_bytes} bytes"
    );

    // What the retention window can hold: conversations of the last 4 hours (plus the one
    // running), ad hoc meetings of the last 2 + 4 hours, and the applications of 4 hours.
    let meetings_bound = (RETENTION / HOUR + 1) * CONVERSATIONS_PER_ROUND as i64
        + ((AD_HOC_LIFETIME + RETENTION) / HOUR + 1) * (CONVERSATIONS_PER_ROUND / AD_HOC_EVERY) as i64;
    assert!(meetings_bound * 2 < created, "the window is a small part of what was created");
    assert!(peak_rows[0] <= meetings_bound, "meetings peaked at {} (bound {meetings_bound})", peak_rows[0]);
    assert_eq!(end_rows[1], 0, "no session outlives its conversation");
    assert!(peak_rows[2] <= (RETENTION / HOUR + 2) * USERS_PER_ROUND as i64, "applications peaked at {}", peak_rows[2]);
    assert_eq!(end_rows[3], 0, "every event was acknowledged, or dropped with its application");
    assert!(
        end_rows[0] <= warm_rows[0] && end_rows[2] <= warm_rows[2],
        "counts do not creep: {warm_rows:?} -> {end_rows:?}"
    );
    // The file keeps the pages freed by deletions and reuses them: it stops growing.
    assert!(end_bytes <= warm_bytes + warm_bytes / 10, "the file grew from {warm_bytes} to {end_bytes} bytes");
    store.close().await;
}
