//! Service application endpoints and the callback outbox of their conversations.
//!
//! The outbox is written by [`enqueue_callback`] inside the event append of the transaction
//! that changed the meeting, so a callback exists exactly when the state change committed,
//! and survives restarts. Retry state is per conversation (its route row): only the head of a
//! conversation's outbox is ever attempted, which keeps delivery ordered.

use rusqlite::{Connection, OptionalExtension, params};
use sqlx::SqlitePool;
use ucwa_core::service::{CallbackFailure, CallbackRoute, DueCallback, OutboxItem, ServiceApp};
use ucwa_core::store::{StoreError, StoreResult};
use ucwa_core::stored::{FailureRow, ROUTE_COLUMNS, RouteRow, SERVICE_APP_COLUMNS, ServiceAppRow};

use crate::events::EventRow;
use crate::writer::sql_error;
use crate::{db_error, upsert_created};

pub(crate) fn upsert_service_app(conn: &Connection, app: &ServiceApp) -> StoreResult<bool> {
    upsert_created(conn, "SELECT 1 FROM service_apps WHERE uri = ?", &app.uri, |c| {
        c.prepare_cached(
            "INSERT INTO service_apps (uri, display_name, secret_hash, signing_key, callback_url, created_ms, domains)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (uri) DO UPDATE SET display_name = excluded.display_name, secret_hash = excluded.secret_hash,
                 signing_key = excluded.signing_key, callback_url = excluded.callback_url,
                 domains = excluded.domains",
        )?
        .execute(params![
            app.uri,
            app.display_name,
            app.secret_hash,
            app.signing_key,
            app.callback_url,
            app.created_ms,
            app.domains.join(";")
        ])
    })
}

pub(crate) async fn find_service_app(pool: &SqlitePool, uri: &str) -> StoreResult<Option<ServiceApp>> {
    let sql = format!("SELECT {SERVICE_APP_COLUMNS} FROM service_apps WHERE uri = ?");
    let row: Option<ServiceAppRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(uri).fetch_optional(pool).await.map_err(db_error)?;
    Ok(row.map(ServiceApp::from))
}

pub(crate) async fn list_service_apps(pool: &SqlitePool) -> StoreResult<Vec<ServiceApp>> {
    let sql = format!("SELECT {SERVICE_APP_COLUMNS} FROM service_apps ORDER BY uri");
    let rows: Vec<ServiceAppRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await.map_err(db_error)?;
    Ok(rows.into_iter().map(ServiceApp::from).collect())
}

/// Puts `event` into the outbox if `session` is a live callback route of an active
/// application; `false` means the event belongs in the log.
pub(crate) fn enqueue_callback(conn: &Connection, session: &str, event: &EventRow, now_ms: i64) -> StoreResult<bool> {
    let routed = conn
        .prepare_cached(
            "SELECT 1 FROM callback_routes r JOIN applications a ON a.id = r.app_id AND a.status = 'active'
             WHERE r.session_id = ? AND r.app_id = ? AND r.failed = 0 AND r.url IS NOT NULL",
        )
        .and_then(|mut s| s.exists(params![session, event.app_id()]))
        .map_err(sql_error)?;
    if !routed {
        return Ok(false);
    }
    conn.prepare_cached(
        "INSERT INTO callback_outbox (session_id, app_id, created_ms, sender_rel, sender_href, body)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .and_then(|mut s| {
        s.execute(params![session, event.app_id(), now_ms, event.sender_rel(), event.sender_href(), event.body()])
    })
    .map_err(sql_error)?;
    Ok(true)
}

pub(crate) fn insert_route(conn: &Connection, route: &CallbackRoute) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO callback_routes (session_id, app_id, url, context, base_uri, next_attempt_ms, created_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .and_then(|mut s| {
        s.execute(params![
            route.session_id,
            route.app_id,
            route.url,
            route.context,
            route.base_uri,
            route.next_attempt_ms,
            route.created_ms
        ])
    })
    .map_err(sql_error)?;
    Ok(())
}

pub(crate) fn delete_route(conn: &Connection, session_id: &str) -> StoreResult<()> {
    for sql in ["DELETE FROM callback_outbox WHERE session_id = ?", "DELETE FROM callback_routes WHERE session_id = ?"]
    {
        conn.prepare_cached(sql).and_then(|mut s| s.execute([session_id])).map_err(sql_error)?;
    }
    Ok(())
}

pub(crate) async fn due(
    pool: &SqlitePool,
    now_ms: i64,
    busy: &[String],
    full_apps: &[String],
    limit: u32,
) -> StoreResult<Vec<DueCallback>> {
    // Oldest undelivered event first, so a busy conversation does not starve the others;
    // the exclusions are JSON arrays, so that an endpoint with a thousand due conversations
    // cannot fill the answer with ones the caller would skip.
    let json = |ids: &[String]| serde_json::to_string(ids).map_err(|e| StoreError::Corrupt(e.to_string()));
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT r.session_id, r.app_id FROM callback_routes r
         WHERE r.failed = 0 AND r.url IS NOT NULL AND r.next_attempt_ms <= ?
           AND EXISTS (SELECT 1 FROM callback_outbox o WHERE o.session_id = r.session_id)
           AND r.session_id NOT IN (SELECT value FROM json_each(?))
           AND r.app_id NOT IN (SELECT value FROM json_each(?))
         ORDER BY (SELECT MIN(id) FROM callback_outbox o WHERE o.session_id = r.session_id)
         LIMIT ?",
    )
    .bind(now_ms)
    .bind(json(busy)?)
    .bind(json(full_apps)?)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    Ok(rows.into_iter().map(|(session_id, app_id)| DueCallback { session_id, app_id }).collect())
}

async fn route(pool: &SqlitePool, session_id: &str) -> StoreResult<Option<CallbackRoute>> {
    let sql = format!("SELECT {ROUTE_COLUMNS} FROM callback_routes WHERE session_id = ?");
    let row: Option<RouteRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(session_id).fetch_optional(pool).await.map_err(db_error)?;
    Ok(row.map(CallbackRoute::from))
}

pub(crate) async fn batch(
    pool: &SqlitePool,
    session_id: &str,
    limit: u32,
) -> StoreResult<Option<(CallbackRoute, Vec<OutboxItem>)>> {
    let Some(route) = route(pool, session_id).await? else { return Ok(None) };
    let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT id, sender_rel, sender_href, body FROM callback_outbox WHERE session_id = ? AND id <= ?
         ORDER BY id LIMIT ?",
    )
    .bind(session_id)
    .bind(route.batch_through.unwrap_or(i64::MAX))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    let items = rows
        .into_iter()
        .map(|(id, sender_rel, sender_href, body)| {
            let body = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(format!("callback body: {e}")))?;
            Ok(OutboxItem { id, sender_rel, sender_href, body })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Some((route, items)))
}

pub(crate) fn delivered(
    conn: &Connection,
    session_id: &str,
    through_id: i64,
    context: Option<&str>,
) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM callback_outbox WHERE session_id = ? AND id <= ?")
        .and_then(|mut s| s.execute(params![session_id, through_id]))
        .map_err(sql_error)?;
    conn.prepare_cached(
        "UPDATE callback_routes SET attempts = 0, next_attempt_ms = 0, delivered = delivered + 1,
             batch_through = NULL, context = COALESCE(?, context)
         WHERE session_id = ?",
    )
    .and_then(|mut s| s.execute(params![context, session_id]))
    .map_err(sql_error)?;
    Ok(())
}

pub(crate) fn pin_batch(conn: &Connection, session_id: &str, through_id: i64) -> StoreResult<()> {
    conn.prepare_cached("UPDATE callback_routes SET batch_through = COALESCE(batch_through, ?) WHERE session_id = ?")
        .and_then(|mut s| s.execute(params![through_id, session_id]))
        .map_err(sql_error)?;
    Ok(())
}

pub(crate) fn attempt_failed(conn: &Connection, session_id: &str, next_attempt_ms: i64) -> StoreResult<u32> {
    let attempts: Option<i64> = conn
        .prepare_cached(
            "UPDATE callback_routes SET attempts = attempts + 1, next_attempt_ms = ? WHERE session_id = ? RETURNING attempts",
        )
        .and_then(|mut s| s.query_row(params![next_attempt_ms, session_id], |r| r.get(0)).optional())
        .map_err(sql_error)?;
    Ok(attempts.map_or(0, |a| u32::try_from(a).unwrap_or(u32::MAX)))
}

pub(crate) fn give_up(conn: &Connection, session_id: &str, last_error: &str, now_ms: i64) -> StoreResult<()> {
    let dropped = conn
        .prepare_cached("DELETE FROM callback_outbox WHERE session_id = ?")
        .and_then(|mut s| s.execute([session_id]))
        .map_err(sql_error)?;
    conn.prepare_cached(
        "INSERT INTO callback_failures (app_id, session_id, url, attempts, last_error, dropped, failed_ms)
         SELECT app_id, session_id, COALESCE(url, ''), attempts, ?, ?, ? FROM callback_routes WHERE session_id = ?",
    )
    .and_then(|mut s| s.execute(params![last_error, i64::try_from(dropped).unwrap_or(i64::MAX), now_ms, session_id]))
    .map_err(sql_error)?;
    conn.prepare_cached("UPDATE callback_routes SET failed = 1 WHERE session_id = ?")
        .and_then(|mut s| s.execute([session_id]))
        .map_err(sql_error)?;
    Ok(())
}

pub(crate) async fn failures(pool: &SqlitePool) -> StoreResult<Vec<CallbackFailure>> {
    let rows: Vec<FailureRow> = sqlx::query_as(
        "SELECT app_id, session_id, url, attempts, last_error, dropped, failed_ms FROM callback_failures ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    Ok(rows.into_iter().map(CallbackFailure::from).collect())
}

pub(crate) fn purge_routes(conn: &Connection, before_ms: i64) -> StoreResult<u64> {
    let done = conn
        .prepare_cached(
            "DELETE FROM callback_routes
             WHERE created_ms < ?
               AND NOT EXISTS (SELECT 1 FROM callback_outbox o WHERE o.session_id = callback_routes.session_id)
               AND NOT EXISTS (SELECT 1 FROM meeting_sessions s WHERE s.session_id = callback_routes.session_id AND s.live = 1)",
        )
        .and_then(|mut s| s.execute([before_ms]))
        .map_err(sql_error)?;
    Ok(done as u64)
}
