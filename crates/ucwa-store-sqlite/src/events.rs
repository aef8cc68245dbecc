//! The event log (mailbox) and the delivered-batch record.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{FromRow, QueryBuilder, Sqlite, SqlitePool, Transaction};
use ucwa_core::channel::Priority;
use ucwa_core::model::{DeliveredBatch, NewEvent, StoredEvent};
use ucwa_core::store::{StoreError, StoreResult};

use crate::unavailable;

/// Appends events inside the caller's write transaction. Each application's sequence
/// number comes from its own row (`next_seq`), bumped in the same transaction: SQLite has
/// a single writer, so numbers are gap-free and visible in order. Events addressed to an
/// application that no longer exists or has expired are dropped. Events of a service
/// application's conversation that has a callback URL go to the callback outbox instead
/// (same transaction), never to the log. Returns the applications to ring after commit.
pub async fn append(
    tx: &mut Transaction<'_, Sqlite>,
    events: &[NewEvent],
    now_ms: i64,
) -> StoreResult<BTreeSet<String>> {
    // Callback-routed events leave the log path first, in order.
    let mut logged: Vec<&NewEvent> = Vec::with_capacity(events.len());
    for event in events {
        if let Some(session) = &event.conversation
            && crate::service::enqueue_callback(tx, session, event, now_ms).await?
        {
            continue;
        }
        logged.push(event);
    }
    // One sequence range per application: a meeting command can address hundreds of
    // applications with several events each, and a statement per event was most of its cost.
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for event in &logged {
        *counts.entry(event.app_id.as_str()).or_default() += 1;
    }
    let mut next: BTreeMap<&str, i64> = BTreeMap::new();
    for (app, count) in &counts {
        let first: Option<(i64,)> = sqlx::query_as(
            "UPDATE applications SET next_seq = next_seq + ? WHERE id = ? AND status = 'active' RETURNING next_seq - ?",
        )
        .bind(count)
        .bind(app)
        .bind(count)
        .fetch_optional(&mut **tx)
        .await
        .map_err(unavailable)?;
        // Applications that are gone or expired get nothing.
        if let Some((first,)) = first {
            next.insert(app, first);
        }
    }
    let rows: Vec<(&NewEvent, i64)> = logged
        .into_iter()
        .filter_map(|event| {
            let seq = next.get_mut(event.app_id.as_str())?;
            *seq += 1;
            Some((event, *seq - 1))
        })
        .collect();
    for chunk in rows.chunks(INSERT_CHUNK) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO events (app_id, seq, priority, created_ms, sender_rel, sender_href, body) ",
        );
        insert.push_values(chunk, |mut row, (event, seq)| {
            row.push_bind(&event.app_id)
                .push_bind(*seq)
                .push_bind(event.priority.as_i64())
                .push_bind(now_ms)
                .push_bind(&event.sender_rel)
                .push_bind(&event.sender_href)
                .push_bind(event.body.to_string());
        });
        insert.build().execute(&mut **tx).await.map_err(unavailable)?;
    }
    Ok(next.into_keys().map(str::to_owned).collect())
}

/// Rows per multi-row INSERT: 7 parameters each, well under SQLite's parameter limit.
const INSERT_CHUNK: usize = 500;

#[derive(FromRow)]
struct EventRow {
    seq: i64,
    priority: i64,
    created_ms: i64,
    sender_rel: String,
    sender_href: String,
    body: String,
}

pub async fn after(pool: &SqlitePool, app_id: &str, after_seq: i64, limit: u32) -> StoreResult<Vec<StoredEvent>> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT seq, priority, created_ms, sender_rel, sender_href, body FROM events
         WHERE app_id = ? AND seq > ? ORDER BY seq LIMIT ?",
    )
    .bind(app_id)
    .bind(after_seq)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(unavailable)?;
    rows.into_iter()
        .map(|r| {
            Ok(StoredEvent {
                seq: r.seq,
                priority: Priority::from_i64(r.priority),
                created_ms: r.created_ms,
                sender_rel: r.sender_rel,
                sender_href: r.sender_href,
                body: serde_json::from_str(&r.body).map_err(|e| StoreError::Corrupt(format!("event body: {e}")))?,
            })
        })
        .collect()
}

pub async fn save_batch(
    pool: &SqlitePool,
    app_id: &str,
    batch: &DeliveredBatch,
    previous_no: u64,
    now_ms: i64,
) -> StoreResult<bool> {
    let to_i64 = |v: u64| i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("batch number {v}")));
    // One statement, compare-and-swap on the previous batch number. Asking for this batch
    // acknowledged the previous one, so its highest sequence number becomes the acknowledged
    // mark (the right-hand sides of an UPDATE see the old row). The acknowledged events are
    // never read again (`after` starts past the delivered batch) and are deleted by
    // `delete_acknowledged` off the delivery path, which matters when one meeting change
    // fans out to a thousand parked requests that all save a batch through the one writer.
    let saved = sqlx::query(
        "UPDATE applications SET acked_max_seq = batch_max_seq, batch_no = ?, batch_body = ?, batch_max_seq = ?,
             last_seen_ms = ?
         WHERE id = ? AND batch_no = ? AND status = 'active'",
    )
    .bind(to_i64(batch.no)?)
    .bind(&batch.body)
    .bind(batch.max_seq)
    .bind(now_ms)
    .bind(app_id)
    .bind(to_i64(previous_no)?)
    .execute(pool)
    .await
    .map_err(unavailable)?
    .rows_affected();
    Ok(saved == 1)
}

/// Whether any application has acknowledged events left to delete (a read of the small
/// `applications_unpurged` index).
pub async fn any_acknowledged(pool: &SqlitePool) -> StoreResult<bool> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM applications WHERE acked_max_seq > purged_seq LIMIT 1")
        .fetch_optional(pool)
        .await
        .map_err(unavailable)?;
    Ok(row.is_some())
}

/// The share of a cleanup budget an application costs at least (see [`delete_acknowledged`]).
const APPLICATION_COST: i64 = 10;

/// Deletes acknowledged events by key, at most `limit` in one write transaction: for each
/// application with some left (the partial index `applications_unpurged`), the range
/// `(purged_seq, acked_max_seq]` through the events primary key, cut short when the budget
/// of `limit` is used up, and `purged_seq` moved to where it stopped. Sequence numbers of
/// one application are unique, so a range of `n` numbers deletes at most `n` events. An
/// application costs at least [`APPLICATION_COST`] of the budget: its two statements and the
/// pages its few events sit on cost about what that many neighbouring events do, so the
/// transaction stays short whether one application has a million acknowledged events or a
/// thousand have one each. Returns how many events it deleted.
pub async fn delete_acknowledged(pool: &SqlitePool, limit: u32) -> StoreResult<u64> {
    let mut budget = i64::from(limit);
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(unavailable)?;
    let pending: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT id, purged_seq, acked_max_seq FROM applications WHERE acked_max_seq > purged_seq LIMIT ?",
    )
    .bind(budget / APPLICATION_COST + 1)
    .fetch_all(&mut *tx)
    .await
    .map_err(unavailable)?;
    let mut deleted = 0;
    for (app, purged, acked) in pending {
        if budget <= 0 {
            break;
        }
        let upto = acked.min(purged.saturating_add(budget));
        deleted += sqlx::query("DELETE FROM events WHERE app_id = ? AND seq > ? AND seq <= ?")
            .bind(&app)
            .bind(purged)
            .bind(upto)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?
            .rows_affected();
        sqlx::query("UPDATE applications SET purged_seq = ? WHERE id = ?")
            .bind(upto)
            .bind(&app)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        budget -= (upto - purged).max(APPLICATION_COST);
    }
    tx.commit().await.map_err(unavailable)?;
    Ok(deleted)
}
