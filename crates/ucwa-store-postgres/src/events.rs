//! The event log (mailbox) and the delivered-batch record.
//!
//! # Why sequence numbers are gap-free and in commit order
//! A reader delivers events with a sequence number above the last one it delivered, and the
//! client acknowledges up to the highest it saw. If event 11 of an application could become
//! visible before event 10 (a global sequence, say, with transactions committing out of
//! order), a client could acknowledge 11 and never see 10. So numbers come from the
//! application's own row (`next_seq`), bumped inside the appending transaction while that
//! transaction holds the row's lock:
//!
//! 1. Every transaction that appends to an application first locks its row
//!    ([`lock_applications`], `SELECT ... FOR UPDATE`) and keeps the lock until it ends.
//! 2. While holding it, it reads `next_seq`, takes the next `n` numbers and writes
//!    `next_seq + n`. A second appender blocks on the lock until the first commits or rolls
//!    back, and then reads the row as committed (PostgreSQL re-reads a row it waited for),
//!    so it continues exactly where the first stopped: no number is taken twice or skipped
//!    (a rollback leaves `next_seq` as it was).
//! 3. PostgreSQL makes a transaction's writes visible before it releases its locks, so
//!    numbers `<= k` are visible to every snapshot that sees number `k + 1`: what a reader
//!    sees is always a prefix of the application's log.
//!
//! # Why this does not deadlock
//! A transaction that locks several application rows takes them all in one statement,
//! ordered by id (`ORDER BY id FOR UPDATE` locks in the sorted order, since the row-locking
//! step runs after the sort), before it writes any of them. The other lock a transaction may
//! hold is its meeting's row (`meetings::save`/`delete`, always taken before the
//! applications, and at most one); nothing locks a meeting while holding an application row.
//! So every transaction acquires locks in the order (meeting, application ids ascending)
//! and no cycle of waits can form. Single-row writes (`save_batch`, `touch_channel`,
//! `delete_application`) hold one application lock and wait for nothing else.
//! `expire_idle_applications` uses `SKIP LOCKED` and never waits.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use sqlx::{FromRow, PgPool, Postgres, Transaction};
use ucwa_core::channel::Priority;
use ucwa_core::model::{DeliveredBatch, NewEvent, StoredEvent};
use ucwa_core::store::{StoreError, StoreResult};

use crate::{notify, to_i64, unavailable};

/// Locks the rows of `ids` in id order until the transaction ends; returns those active.
pub(crate) async fn lock_applications(
    tx: &mut Transaction<'_, Postgres>,
    ids: &[&str],
) -> StoreResult<BTreeSet<String>> {
    if ids.is_empty() {
        return Ok(BTreeSet::new());
    }
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM applications WHERE id = ANY($1) AND status = 'active' ORDER BY id FOR UPDATE")
            .bind(ids)
            .fetch_all(&mut **tx)
            .await
            .map_err(unavailable)?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Appends events inside the caller's transaction (see the module documentation for the
/// numbering). Events addressed to an application that no longer exists or has expired are
/// dropped. Events of a service application's conversation that has a callback URL go to the
/// callback outbox instead (same transaction), never to the log. Sends the `NOTIFY` for the
/// applications whose log grew (delivered at commit) and returns them, to ring locally.
pub(crate) async fn append(
    tx: &mut Transaction<'_, Postgres>,
    node: &str,
    events: &[NewEvent],
    now_ms: i64,
) -> StoreResult<BTreeSet<String>> {
    if events.is_empty() {
        return Ok(BTreeSet::new());
    }
    let ids: BTreeSet<&str> = events.iter().map(|e| e.app_id.as_str()).collect();
    let active = lock_applications(tx, &ids.into_iter().collect::<Vec<_>>()).await?;
    let routed = callback_routes(tx, events, &active).await?;
    let (outbox, logged): (Vec<&NewEvent>, Vec<&NewEvent>) = events
        .iter()
        .filter(|e| active.contains(&e.app_id))
        .partition(|e| e.conversation.as_ref().is_some_and(|s| routed.contains(&(s.as_str(), e.app_id.as_str()))));
    enqueue_callbacks(tx, &outbox, now_ms).await?;

    // One sequence range per application, one statement for all of them: a meeting command
    // can address hundreds of applications.
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for event in &logged {
        *counts.entry(event.app_id.as_str()).or_default() += 1;
    }
    if counts.is_empty() {
        return Ok(BTreeSet::new());
    }
    let (apps, ns): (Vec<&str>, Vec<i64>) = counts.iter().map(|(a, n)| (*a, *n)).unzip();
    let firsts: Vec<(String, i64)> = sqlx::query_as(
        "UPDATE applications a SET next_seq = a.next_seq + c.n
         FROM unnest($1::text[], $2::bigint[]) AS c(id, n)
         WHERE a.id = c.id
         RETURNING a.id, a.next_seq - c.n",
    )
    .bind(&apps)
    .bind(&ns)
    .fetch_all(&mut **tx)
    .await
    .map_err(unavailable)?;
    let mut next: BTreeMap<String, i64> = firsts.into_iter().collect();
    let mut columns = EventColumns::default();
    for event in logged {
        let Some(seq) = next.get_mut(&event.app_id) else { continue };
        columns.push(event, *seq);
        *seq += 1;
    }
    sqlx::query(
        "INSERT INTO events (app_id, seq, priority, created_ms, sender_rel, sender_href, body)
         SELECT a, s, p, $4, r, h, b FROM unnest($1::text[], $2::bigint[], $3::bigint[], $5::text[], $6::text[], $7::text[])
             AS t(a, s, p, r, h, b)",
    )
    .bind(&columns.app_id)
    .bind(&columns.seq)
    .bind(&columns.priority)
    .bind(now_ms)
    .bind(&columns.sender_rel)
    .bind(&columns.sender_href)
    .bind(&columns.body)
    .execute(&mut **tx)
    .await
    .map_err(unavailable)?;
    let rung: BTreeSet<String> = next.into_keys().collect();
    notify::send(tx, node, &rung).await?;
    Ok(rung)
}

/// The events to insert, column by column (bound as arrays and `unnest`ed).
#[derive(Default)]
struct EventColumns {
    app_id: Vec<String>,
    seq: Vec<i64>,
    priority: Vec<i64>,
    sender_rel: Vec<String>,
    sender_href: Vec<String>,
    body: Vec<String>,
}

impl EventColumns {
    fn push(&mut self, event: &NewEvent, seq: i64) {
        self.app_id.push(event.app_id.clone());
        self.seq.push(seq);
        self.priority.push(event.priority.as_i64());
        self.sender_rel.push(event.sender_rel.clone());
        self.sender_href.push(event.sender_href.clone());
        self.body.push(event.body.to_string());
    }
}

/// The (conversation, application) pairs among `events` whose events go to the callback
/// outbox: a live route with a URL, of an application that is active (already locked).
async fn callback_routes<'e>(
    tx: &mut Transaction<'_, Postgres>,
    events: &'e [NewEvent],
    active: &BTreeSet<String>,
) -> StoreResult<HashSet<(&'e str, &'e str)>> {
    let sessions: BTreeSet<&str> =
        events.iter().filter(|e| active.contains(&e.app_id)).filter_map(|e| e.conversation.as_deref()).collect();
    if sessions.is_empty() {
        return Ok(HashSet::new());
    }
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT session_id, app_id FROM callback_routes
         WHERE session_id = ANY($1) AND NOT failed AND url IS NOT NULL",
    )
    .bind(sessions.into_iter().collect::<Vec<_>>())
    .fetch_all(&mut **tx)
    .await
    .map_err(unavailable)?;
    let rows: HashSet<(String, String)> = rows.into_iter().collect();
    Ok(events
        .iter()
        .filter_map(|e| Some((e.conversation.as_deref()?, e.app_id.as_str())))
        .filter(|(s, a)| rows.contains(&((*s).to_owned(), (*a).to_owned())))
        .collect())
}

/// Appends `events` to the callback outbox, in order. The application rows are locked
/// already, so outbox ids of one conversation follow commit order like sequence numbers do.
async fn enqueue_callbacks(tx: &mut Transaction<'_, Postgres>, events: &[&NewEvent], now_ms: i64) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let session: Vec<&str> = events.iter().map(|e| e.conversation.as_deref().unwrap_or_default()).collect();
    let app: Vec<&str> = events.iter().map(|e| e.app_id.as_str()).collect();
    let rel: Vec<&str> = events.iter().map(|e| e.sender_rel.as_str()).collect();
    let href: Vec<&str> = events.iter().map(|e| e.sender_href.as_str()).collect();
    let body: Vec<String> = events.iter().map(|e| e.body.to_string()).collect();
    sqlx::query(
        "INSERT INTO callback_outbox (session_id, app_id, created_ms, sender_rel, sender_href, body)
         SELECT s, a, $3, r, h, b FROM unnest($1::text[], $2::text[], $4::text[], $5::text[], $6::text[])
             WITH ORDINALITY AS t(s, a, r, h, b, ord)
         ORDER BY ord",
    )
    .bind(&session)
    .bind(&app)
    .bind(now_ms)
    .bind(&rel)
    .bind(&href)
    .bind(&body)
    .execute(&mut **tx)
    .await
    .map_err(unavailable)?;
    Ok(())
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

pub(crate) async fn after(pool: &PgPool, app_id: &str, after_seq: i64, limit: u32) -> StoreResult<Vec<StoredEvent>> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT seq, priority, created_ms, sender_rel, sender_href, body FROM events
         WHERE app_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
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

pub(crate) async fn save_batch(
    pool: &PgPool,
    app_id: &str,
    batch: &DeliveredBatch,
    previous_no: u64,
    now_ms: i64,
) -> StoreResult<bool> {
    // One statement, compare-and-swap on the previous batch number (a concurrent save on
    // another node waits for the row lock, then fails the re-checked condition). Asking for
    // this batch acknowledged the previous one, so its highest sequence number becomes the
    // acknowledged mark (the right-hand sides of an UPDATE see the old row); those events are
    // deleted in the background.
    let saved = sqlx::query(
        "UPDATE applications SET acked_max_seq = batch_max_seq, batch_no = $1, batch_body = $2, batch_max_seq = $3,
             last_seen_ms = $4
         WHERE id = $5 AND batch_no = $6 AND status = 'active'",
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

/// The share of a cleanup budget an application costs at least: its range costs about what
/// that many neighbouring events do, so a chunk over a thousand applications with one event
/// each stays as short as one over a long backlog (the SQLite store's rule).
const APPLICATION_COST: i64 = 10;

/// Deletes acknowledged events by key, at most `limit` in one short transaction: for each
/// application with some left (the partial index `applications_unpurged`), the range
/// `(purged_seq, acked_max_seq]` through the events primary key, cut short when the budget
/// runs out, and `purged_seq` moved to where it stopped. Every node runs this. The
/// applications are locked in id order in one statement, like appenders lock them, so a
/// cleanup waits briefly for an appender or another node's cleanup but never deadlocks with
/// them; it does not skip locked rows, since 0 must mean that nothing is left (a cleanup
/// that waited re-checks the condition on the committed row). Returns how many events it
/// deleted.
pub(crate) async fn delete_acknowledged(pool: &PgPool, limit: u32) -> StoreResult<u64> {
    let mut budget = i64::from(limit);
    let mut tx = pool.begin().await.map_err(unavailable)?;
    let pending: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT id, purged_seq, acked_max_seq FROM applications WHERE acked_max_seq > purged_seq
         ORDER BY id LIMIT $1 FOR UPDATE",
    )
    .bind(budget / APPLICATION_COST + 1)
    .fetch_all(&mut *tx)
    .await
    .map_err(unavailable)?;
    let (mut apps, mut from, mut upto) = (Vec::new(), Vec::new(), Vec::new());
    for (app, purged, acked) in pending {
        if budget <= 0 {
            break;
        }
        let end = acked.min(purged.saturating_add(budget));
        budget -= (end - purged).max(APPLICATION_COST);
        apps.push(app);
        from.push(purged);
        upto.push(end);
    }
    if apps.is_empty() {
        return Ok(0);
    }
    let deleted = sqlx::query(
        "DELETE FROM events e USING unnest($1::text[], $2::bigint[], $3::bigint[]) AS r(app, lo, hi)
         WHERE e.app_id = r.app AND e.seq > r.lo AND e.seq <= r.hi",
    )
    .bind(&apps)
    .bind(&from)
    .bind(&upto)
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?
    .rows_affected();
    sqlx::query(
        "UPDATE applications a SET purged_seq = r.hi FROM unnest($1::text[], $2::bigint[]) AS r(app, hi)
         WHERE a.id = r.app",
    )
    .bind(&apps)
    .bind(&upto)
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    Ok(deleted)
}
