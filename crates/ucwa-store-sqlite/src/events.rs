//! The event log (mailbox) and the delivered-batch record.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{Connection, OptionalExtension, params};
use sqlx::SqlitePool;
use ucwa_core::model::{DeliveredBatch, NewEvent, StoredEvent};
use ucwa_core::store::{AckCleanup, StoreResult};
use ucwa_core::stored::{self, to_i64};

use crate::db_error;
use crate::writer::sql_error;

/// An event ready to insert: serialised by the caller, so the writer thread only binds.
pub(crate) struct EventRow {
    app_id: String,
    priority: i64,
    sender_rel: String,
    sender_href: String,
    body: String,
    conversation: Option<String>,
}

impl EventRow {
    pub(crate) fn app_id(&self) -> &str {
        &self.app_id
    }

    pub(crate) fn sender_rel(&self) -> &str {
        &self.sender_rel
    }

    pub(crate) fn sender_href(&self) -> &str {
        &self.sender_href
    }

    pub(crate) fn body(&self) -> &str {
        &self.body
    }
}

/// The rows of `events`, serialised here (on the caller's thread, not the writer's).
pub(crate) fn rows(events: Vec<NewEvent>) -> Vec<EventRow> {
    events
        .into_iter()
        .map(|e| EventRow {
            priority: e.priority.as_i64(),
            body: e.body.to_string(),
            app_id: e.app_id,
            sender_rel: e.sender_rel,
            sender_href: e.sender_href,
            conversation: e.conversation,
        })
        .collect()
}

/// Appends events inside the writer's transaction. Each application's sequence number
/// comes from its own row (`next_seq`), bumped in the same transaction: SQLite has a single
/// writer, so numbers are gap-free and visible in order. Events addressed to an application
/// that no longer exists or has expired are dropped. Events of a service application's
/// conversation that has a callback URL go to the callback outbox instead (same
/// transaction), never to the log. Returns the applications to ring after commit.
pub(crate) fn append(conn: &Connection, events: &[EventRow], now_ms: i64) -> StoreResult<BTreeSet<String>> {
    // Callback-routed events leave the log path first, in order.
    let mut logged: Vec<&EventRow> = Vec::with_capacity(events.len());
    for event in events {
        if let Some(session) = &event.conversation
            && crate::service::enqueue_callback(conn, session, event, now_ms)?
        {
            continue;
        }
        logged.push(event);
    }
    // One sequence range per application: a meeting command can address hundreds of
    // applications with several events each.
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for event in &logged {
        *counts.entry(event.app_id.as_str()).or_default() += 1;
    }
    let mut next: BTreeMap<&str, i64> = BTreeMap::new();
    let mut allocate = conn
        .prepare_cached(
            "UPDATE applications SET next_seq = next_seq + ?1 WHERE id = ?2 AND status = 'active' RETURNING next_seq - ?1",
        )
        .map_err(sql_error)?;
    for (app, count) in &counts {
        // Applications that are gone or expired get nothing.
        let first: Option<i64> = allocate.query_row(params![count, app], |r| r.get(0)).optional().map_err(sql_error)?;
        if let Some(first) = first {
            next.insert(app, first);
        }
    }
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO events (app_id, seq, priority, created_ms, sender_rel, sender_href, body)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .map_err(sql_error)?;
    for event in logged {
        let Some(seq) = next.get_mut(event.app_id.as_str()) else { continue };
        insert
            .execute(params![
                event.app_id,
                *seq,
                event.priority,
                now_ms,
                event.sender_rel,
                event.sender_href,
                event.body
            ])
            .map_err(sql_error)?;
        *seq += 1;
    }
    Ok(next.into_keys().map(str::to_owned).collect())
}

pub(crate) fn after(conn: &Connection, app_id: &str, after_seq: i64, limit: u32) -> StoreResult<Vec<StoredEvent>> {
    let rows: Vec<stored::EventRow> = conn
        .prepare_cached(
            "SELECT seq, priority, created_ms, sender_rel, sender_href, body FROM events
             WHERE app_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .and_then(|mut s| {
            s.query_map(params![app_id, after_seq, i64::from(limit)], |r| {
                Ok(stored::EventRow {
                    seq: r.get(0)?,
                    priority: r.get(1)?,
                    created_ms: r.get(2)?,
                    sender_rel: r.get(3)?,
                    sender_href: r.get(4)?,
                    body: r.get(5)?,
                })
            })?
            .collect()
        })
        .map_err(sql_error)?;
    rows.into_iter().map(StoredEvent::try_from).collect()
}

/// Saves `batch` as the delivered one if `previous_no` still is (compare-and-swap on the
/// batch number in the application row; the body goes to `delivered_batches`). Asking for this batch acknowledged the previous
/// one, so its highest sequence number becomes the acknowledged mark (the right-hand sides
/// of an UPDATE see the old row). The acknowledged events are never read again (`after`
/// starts past the delivered batch) and are deleted by `delete_acknowledged` off the
/// delivery path, which matters when one meeting change fans out to a thousand parked
/// requests that all save a batch through the one writer.
pub(crate) fn save_batch(
    conn: &Connection,
    app_id: &str,
    batch: &DeliveredBatch,
    previous_no: u64,
    now_ms: i64,
) -> StoreResult<bool> {
    let (no, previous) = (to_i64(batch.no)?, to_i64(previous_no)?);
    let saved = conn
        .prepare_cached(
            "UPDATE applications SET acked_max_seq = batch_max_seq, batch_no = ?, batch_max_seq = ?, last_seen_ms = ?
             WHERE id = ? AND batch_no = ? AND status = 'active'",
        )
        .and_then(|mut s| s.execute(params![no, batch.max_seq, now_ms, app_id, previous]))
        .map_err(sql_error)?;
    if saved == 1 {
        // The body has a table of its own (migration 0010): the application row stays small,
        // so the many updates of it never rewrite a batch.
        conn.prepare_cached(
            "INSERT INTO delivered_batches (app_id, body) VALUES (?, ?)
             ON CONFLICT (app_id) DO UPDATE SET body = excluded.body",
        )
        .and_then(|mut s| s.execute(params![app_id, batch.body]))
        .map_err(sql_error)?;
    }
    Ok(saved == 1)
}

/// The body of batch `no` if it is the last one delivered to `app_id`.
pub(crate) fn delivered_batch(conn: &Connection, app_id: &str, no: u64) -> StoreResult<Option<String>> {
    let no = to_i64(no)?;
    conn.prepare_cached(
        "SELECT b.body FROM delivered_batches b JOIN applications a ON a.id = b.app_id
         WHERE b.app_id = ? AND a.batch_no = ?",
    )
    .and_then(|mut s| s.query_row(params![app_id, no], |r| r.get(0)).optional())
    .map_err(sql_error)
}

/// Whether any application has acknowledged events left to delete (a read of the small
/// `applications_unpurged` index).
pub(crate) async fn any_acknowledged(pool: &SqlitePool) -> StoreResult<bool> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM applications WHERE acked_max_seq > purged_seq LIMIT 1")
        .fetch_optional(pool)
        .await
        .map_err(db_error)?;
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
/// thousand have one each. Returns how many events it deleted, and whether it stopped with
/// some left (an application's range cut short, or one left out).
pub(crate) fn delete_acknowledged(conn: &Connection, limit: u32) -> StoreResult<AckCleanup> {
    let mut budget = i64::from(limit);
    let most = budget / APPLICATION_COST + 1;
    let pending: Vec<(String, i64, i64)> = conn
        .prepare_cached(
            "SELECT id, purged_seq, acked_max_seq FROM applications WHERE acked_max_seq > purged_seq LIMIT ?",
        )
        .and_then(|mut s| s.query_map([most], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
        .map_err(sql_error)?;
    // A full page may have left applications out.
    let mut more = pending.len() as i64 == most;
    let mut delete =
        conn.prepare_cached("DELETE FROM events WHERE app_id = ? AND seq > ? AND seq <= ?").map_err(sql_error)?;
    let mut purged_to =
        conn.prepare_cached("UPDATE applications SET purged_seq = ? WHERE id = ?").map_err(sql_error)?;
    let mut deleted = 0;
    for (app, purged, acked) in pending {
        if budget <= 0 {
            more = true;
            break;
        }
        let upto = acked.min(purged.saturating_add(budget));
        deleted += delete.execute(params![app, purged, upto]).map_err(sql_error)? as u64;
        purged_to.execute(params![upto, app]).map_err(sql_error)?;
        more |= upto < acked;
        budget -= (upto - purged).max(APPLICATION_COST);
    }
    Ok(AckCleanup { deleted, more })
}
