//! Retention: deletes finished meetings, ended applications and old callback failures in
//! bounded chunks (`Store::purge_finished`).
//!
//! Each kind is one short write transaction of at most `limit` rows of its table, found
//! through an index (`meetings_finished`, `applications_idle`, the failures' id order), and
//! opened only after a read has seen that there is something to delete: SQLite has one
//! writer, and an empty write transaction would still queue in front of real ones.

use rusqlite::{Connection, params};
use sqlx::SqlitePool;
use ucwa_core::store::{Purged, StoreResult};

use crate::db_error;
use crate::writer::{Writer, sql_error};

/// What [`purge_finished`] deleted, plus the ids of the applications deleted (the caller
/// drops them from its cache).
pub(crate) struct Purge {
    pub purged: Purged,
    pub deleted_applications: Vec<String>,
}

pub(crate) async fn purge_finished(
    readers: &SqlitePool,
    writer: &Writer,
    before_ms: i64,
    limit: u32,
) -> StoreResult<Purge> {
    let meetings = purge_meetings(readers, writer, before_ms, limit).await?;
    let deleted_applications = purge_applications(readers, writer, before_ms, limit).await?;
    let callback_failures = purge_callback_failures(readers, writer, before_ms, limit).await?;
    let stranded_applications = stranded_applications(readers, before_ms, limit).await?;
    let applications = deleted_applications.len() as u64;
    let full = u64::from(limit);
    let more = meetings >= full
        || applications >= full
        || callback_failures >= full
        || stranded_applications.len() as u64 >= full;
    Ok(Purge {
        purged: Purged { meetings, applications, callback_failures, stranded_applications, more },
        deleted_applications,
    })
}

/// Whether `probe` (a `SELECT 1 ... LIMIT 1` bound to `before_ms`) finds anything.
async fn any(readers: &SqlitePool, probe: &'static str, before_ms: i64) -> StoreResult<bool> {
    let row: Option<(i64,)> = sqlx::query_as(probe).bind(before_ms).fetch_optional(readers).await.map_err(db_error)?;
    Ok(row.is_some())
}

/// The ids `select` (one column, a `?` for `before_ms`, then `LIMIT ?`) finds, on the writer.
fn ids(conn: &Connection, select: &str, before_ms: i64, limit: u32) -> StoreResult<Vec<String>> {
    conn.prepare_cached(select)
        .and_then(|mut s| s.query_map(params![before_ms, i64::from(limit)], |r| r.get(0))?.collect())
        .map_err(sql_error)
}

/// Runs `DELETE FROM <table> WHERE <column> IN (ids)`.
fn delete_in(conn: &Connection, table_and_column: &'static str, ids: &[String]) -> StoreResult<u64> {
    let marks = vec!["?"; ids.len()].join(", ");
    let sql = format!("DELETE FROM {table_and_column} IN ({marks})");
    let done = conn.prepare(&sql).and_then(|mut s| s.execute(rusqlite::params_from_iter(ids))).map_err(sql_error)?;
    Ok(done as u64)
}

async fn purge_meetings(readers: &SqlitePool, writer: &Writer, before_ms: i64, limit: u32) -> StoreResult<u64> {
    if !any(readers, "SELECT 1 FROM meetings WHERE finished_ms < ? LIMIT 1", before_ms).await? {
        return Ok(0);
    }
    writer
        .run(move |conn| {
            let select = "SELECT id FROM meetings WHERE finished_ms < ? ORDER BY finished_ms LIMIT ?";
            let ids = ids(conn, select, before_ms, limit)?;
            if ids.is_empty() {
                return Ok(0);
            }
            // Finished meetings have no live sessions; disconnected ones not yet forgotten go too.
            delete_in(conn, "meeting_sessions WHERE meeting_id", &ids)?;
            delete_in(conn, "meetings WHERE id", &ids)
        })
        .await
}

/// Expired applications not polled since before `before_ms`, without live sessions (those
/// are reported as stranded instead, so the meetings they are in learn that they left).
const ENDED_APPLICATIONS: &str = "SELECT id FROM applications a WHERE status = 'expired' AND last_seen_ms < ?
       AND NOT EXISTS (SELECT 1 FROM meeting_sessions s WHERE s.app_id = a.id AND s.live = 1) LIMIT ?";

async fn purge_applications(
    readers: &SqlitePool,
    writer: &Writer,
    before_ms: i64,
    limit: u32,
) -> StoreResult<Vec<String>> {
    let probe = "SELECT 1 FROM applications WHERE status = 'expired' AND last_seen_ms < ? LIMIT 1";
    if !any(readers, probe, before_ms).await? {
        return Ok(Vec::new());
    }
    writer
        .run(move |conn| {
            let ids = ids(conn, ENDED_APPLICATIONS, before_ms, limit)?;
            if ids.is_empty() {
                return Ok(ids);
            }
            // Expiry already dropped their logs; this catches anything appended in between. By
            // key: the events primary key starts with the application id. (Expired applications
            // are never service applications, so they have no callback routes or outbox rows.)
            delete_in(conn, "events WHERE app_id", &ids)?;
            delete_in(conn, "delivered_batches WHERE app_id", &ids)?;
            delete_in(conn, "applications WHERE id", &ids)?;
            Ok(ids)
        })
        .await
}

async fn purge_callback_failures(
    readers: &SqlitePool,
    writer: &Writer,
    before_ms: i64,
    limit: u32,
) -> StoreResult<u64> {
    if !any(readers, "SELECT 1 FROM callback_failures WHERE failed_ms < ? LIMIT 1", before_ms).await? {
        return Ok(0);
    }
    // Ids grow with `failed_ms` (both are assigned at the give-up), so the oldest come first.
    writer
        .run(move |conn| {
            let done = conn
                .prepare_cached(
                    "DELETE FROM callback_failures WHERE id IN
                         (SELECT id FROM callback_failures WHERE failed_ms < ? ORDER BY id LIMIT ?)",
                )
                .and_then(|mut s| s.execute(params![before_ms, i64::from(limit)]))
                .map_err(sql_error)?;
            Ok(done as u64)
        })
        .await
}

/// Applications with live sessions that expired before `before_ms` or no longer exist.
/// Reads the live sessions through their partial index (`meeting_sessions_app`): as many
/// rows as conversations in progress, on a reader connection.
async fn stranded_applications(readers: &SqlitePool, before_ms: i64, limit: u32) -> StoreResult<Vec<String>> {
    let select = "SELECT DISTINCT s.app_id FROM meeting_sessions s LEFT JOIN applications a ON a.id = s.app_id
         WHERE s.live = 1 AND (a.id IS NULL OR (a.status = 'expired' AND a.last_seen_ms < ?))
         LIMIT ?";
    let rows: Vec<(String,)> =
        sqlx::query_as(select).bind(before_ms).bind(i64::from(limit)).fetch_all(readers).await.map_err(db_error)?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
