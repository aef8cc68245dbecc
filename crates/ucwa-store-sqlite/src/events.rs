//! The event log (mailbox) and the delivered-batch record.

use std::collections::BTreeSet;

use sqlx::{FromRow, Sqlite, SqlitePool, Transaction};
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
    let mut touched = BTreeSet::new();
    for event in events {
        if let Some(session) = &event.conversation
            && crate::service::enqueue_callback(tx, session, event, now_ms).await?
        {
            continue;
        }
        let seq: Option<(i64,)> = sqlx::query_as(
            "UPDATE applications SET next_seq = next_seq + 1 WHERE id = ? AND status = 'active' RETURNING next_seq - 1",
        )
        .bind(&event.app_id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(unavailable)?;
        let Some((seq,)) = seq else { continue };
        sqlx::query(
            "INSERT INTO events (app_id, seq, priority, created_ms, sender_rel, sender_href, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&event.app_id)
        .bind(seq)
        .bind(event.priority.as_i64())
        .bind(now_ms)
        .bind(&event.sender_rel)
        .bind(&event.sender_href)
        .bind(event.body.to_string())
        .execute(&mut **tx)
        .await
        .map_err(unavailable)?;
        touched.insert(event.app_id.clone());
    }
    Ok(touched)
}

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
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(unavailable)?;
    // The client acknowledged the previous batch by asking for this one: drop its events.
    // Both statements check that `previous_no` is still the last batch (compare-and-swap);
    // if it is not, nothing matched and the transaction is rolled back by dropping it.
    sqlx::query(
        "DELETE FROM events WHERE app_id = ?1 AND seq <= (
             SELECT batch_max_seq FROM applications WHERE id = ?1 AND batch_no = ?2 AND status = 'active')",
    )
    .bind(app_id)
    .bind(to_i64(previous_no)?)
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?;
    let saved = sqlx::query(
        "UPDATE applications SET batch_no = ?, batch_body = ?, batch_max_seq = ?, last_seen_ms = ?
         WHERE id = ? AND batch_no = ? AND status = 'active'",
    )
    .bind(to_i64(batch.no)?)
    .bind(&batch.body)
    .bind(batch.max_seq)
    .bind(now_ms)
    .bind(app_id)
    .bind(to_i64(previous_no)?)
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?
    .rows_affected();
    if saved != 1 {
        return Ok(false);
    }
    tx.commit().await.map_err(unavailable)?;
    Ok(true)
}
