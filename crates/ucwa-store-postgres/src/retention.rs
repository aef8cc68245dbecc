//! Retention: deletes finished meetings, ended applications and old callback failures in
//! bounded chunks (`Store::purge_finished`), each kind in one short statement or
//! transaction of at most `limit` rows found through an index.
//!
//! Every node's housekeeping calls this. Rows are picked with `FOR UPDATE SKIP LOCKED`: two
//! nodes purging at once split the rows instead of waiting for each other, and a row some
//! transaction is changing right now (a meeting being saved, an application being
//! appended to) is left for the next step. The purge conditions are re-checked on the
//! locked row, so a meeting someone joined meanwhile is not deleted.

use sqlx::Connection;
use ucwa_core::store::{Purged, StoreResult};

use crate::db_error;
use crate::pool::Db;

pub(crate) async fn purge_finished(pool: &Db, before_ms: i64, limit: u32) -> StoreResult<Purged> {
    let limit = i64::from(limit);
    let meetings = sqlx::query(
        "DELETE FROM meetings WHERE id IN
             (SELECT id FROM meetings WHERE finished_ms < $1 ORDER BY finished_ms LIMIT $2 FOR UPDATE SKIP LOCKED)",
    )
    .bind(before_ms)
    .bind(limit)
    .execute(pool)
    .await
    .map_err(db_error)?
    .rows_affected();
    let applications = pool.bounded(purge_applications(pool, before_ms, limit)).await?;
    // Ids grow with `failed_ms` (both are assigned at the give-up), so the oldest come first.
    let callback_failures = sqlx::query(
        "DELETE FROM callback_failures WHERE id IN
             (SELECT id FROM callback_failures WHERE failed_ms < $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)",
    )
    .bind(before_ms)
    .bind(limit)
    .execute(pool)
    .await
    .map_err(db_error)?
    .rows_affected();
    // Live sessions of applications that expired before the cutoff or no longer exist,
    // through the partial index on live sessions: as many rows as conversations in progress.
    let stranded: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT s.app_id FROM meeting_sessions s LEFT JOIN applications a ON a.id = s.app_id
         WHERE s.live AND (a.id IS NULL OR (a.status = 'expired' AND a.last_seen_ms < $1))
         LIMIT $2",
    )
    .bind(before_ms)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    let stranded_applications: Vec<String> = stranded.into_iter().map(|(id,)| id).collect();
    let full = limit.unsigned_abs();
    let more = meetings >= full
        || applications >= full
        || callback_failures >= full
        || stranded_applications.len() as u64 >= full;
    Ok(Purged { meetings, applications, callback_failures, stranded_applications, more })
}

/// Expired applications not polled since before `before_ms` and without live sessions (those
/// are reported as stranded instead), with their events.
async fn purge_applications(pool: &Db, before_ms: i64, limit: i64) -> StoreResult<u64> {
    let mut conn = pool.acquire().await.map_err(db_error)?;
    let mut tx = conn.begin().await.map_err(db_error)?;
    // The rows first: their locks keep appenders out, who then find no application.
    let gone: Vec<(String,)> = sqlx::query_as(
        "DELETE FROM applications WHERE id IN
             (SELECT id FROM applications a WHERE status = 'expired' AND last_seen_ms < $1
                AND NOT EXISTS (SELECT 1 FROM meeting_sessions s WHERE s.app_id = a.id AND s.live)
              ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING id",
    )
    .bind(before_ms)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_error)?;
    let ids: Vec<String> = gone.into_iter().map(|(id,)| id).collect();
    if !ids.is_empty() {
        // Expiry dropped their logs already; this catches anything appended in between.
        // (Expired applications are never service applications: no callback rows.)
        sqlx::query("DELETE FROM events WHERE app_id = ANY($1)")
            .bind(&ids)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
    }
    tx.commit().await.map_err(db_error)?;
    Ok(ids.len() as u64)
}
