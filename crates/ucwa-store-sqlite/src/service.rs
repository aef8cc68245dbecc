//! Service application endpoints and the callback outbox of their conversations.
//!
//! The outbox is written by [`enqueue_callback`] inside the event append of the transaction
//! that changed the meeting, so a callback exists exactly when the state change committed,
//! and survives restarts. Retry state is per conversation (its route row): only the head of a
//! conversation's outbox is ever attempted, which keeps delivery ordered.

use sqlx::{FromRow, Sqlite, SqlitePool, Transaction};
use ucwa_core::model::NewEvent;
use ucwa_core::service::{CallbackFailure, CallbackRoute, DueCallback, OutboxItem, ServiceApp};
use ucwa_core::store::{StoreError, StoreResult};

use crate::{unavailable, upsert_created};

#[derive(FromRow)]
struct ServiceAppRow {
    uri: String,
    display_name: String,
    secret_hash: String,
    signing_key: String,
    callback_url: Option<String>,
    created_ms: i64,
    domains: String,
}

impl From<ServiceAppRow> for ServiceApp {
    fn from(r: ServiceAppRow) -> Self {
        ServiceApp {
            uri: r.uri,
            display_name: r.display_name,
            secret_hash: r.secret_hash,
            signing_key: r.signing_key,
            callback_url: r.callback_url,
            created_ms: r.created_ms,
            domains: r.domains.split(';').filter(|d| !d.is_empty()).map(str::to_owned).collect(),
        }
    }
}

const SERVICE_APP_COLUMNS: &str = "uri, display_name, secret_hash, signing_key, callback_url, created_ms, domains";

pub async fn upsert_service_app(pool: &SqlitePool, app: &ServiceApp) -> StoreResult<bool> {
    let upsert = sqlx::query(
        "INSERT INTO service_apps (uri, display_name, secret_hash, signing_key, callback_url, created_ms, domains)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (uri) DO UPDATE SET display_name = excluded.display_name, secret_hash = excluded.secret_hash,
             signing_key = excluded.signing_key, callback_url = excluded.callback_url, domains = excluded.domains",
    )
    .bind(&app.uri)
    .bind(&app.display_name)
    .bind(&app.secret_hash)
    .bind(&app.signing_key)
    .bind(&app.callback_url)
    .bind(app.created_ms)
    .bind(app.domains.join(";"));
    upsert_created(pool, "SELECT 1 FROM service_apps WHERE uri = ?", &app.uri, upsert).await
}

pub async fn find_service_app(pool: &SqlitePool, uri: &str) -> StoreResult<Option<ServiceApp>> {
    let sql = format!("SELECT {SERVICE_APP_COLUMNS} FROM service_apps WHERE uri = ?");
    let row: Option<ServiceAppRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(uri).fetch_optional(pool).await.map_err(unavailable)?;
    Ok(row.map(ServiceApp::from))
}

pub async fn list_service_apps(pool: &SqlitePool) -> StoreResult<Vec<ServiceApp>> {
    let sql = format!("SELECT {SERVICE_APP_COLUMNS} FROM service_apps ORDER BY uri");
    let rows: Vec<ServiceAppRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await.map_err(unavailable)?;
    Ok(rows.into_iter().map(ServiceApp::from).collect())
}

/// Puts `event` into the outbox if `session` is a live callback route of an active
/// application; `false` means the event belongs in the log.
pub async fn enqueue_callback(
    tx: &mut Transaction<'_, Sqlite>,
    session: &str,
    event: &NewEvent,
    now_ms: i64,
) -> StoreResult<bool> {
    let route: Option<(String,)> = sqlx::query_as(
        "SELECT r.app_id FROM callback_routes r JOIN applications a ON a.id = r.app_id AND a.status = 'active'
         WHERE r.session_id = ? AND r.app_id = ? AND r.failed = 0 AND r.url IS NOT NULL",
    )
    .bind(session)
    .bind(&event.app_id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(unavailable)?;
    if route.is_none() {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO callback_outbox (session_id, app_id, created_ms, sender_rel, sender_href, body)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(session)
    .bind(&event.app_id)
    .bind(now_ms)
    .bind(&event.sender_rel)
    .bind(&event.sender_href)
    .bind(event.body.to_string())
    .execute(&mut **tx)
    .await
    .map_err(unavailable)?;
    Ok(true)
}

#[derive(FromRow)]
struct RouteRow {
    session_id: String,
    app_id: String,
    url: Option<String>,
    context: Option<String>,
    base_uri: String,
    attempts: i64,
    next_attempt_ms: i64,
    delivered: i64,
    created_ms: i64,
    batch_through: Option<i64>,
}

impl From<RouteRow> for CallbackRoute {
    fn from(r: RouteRow) -> Self {
        CallbackRoute {
            session_id: r.session_id,
            app_id: r.app_id,
            url: r.url,
            context: r.context,
            base_uri: r.base_uri,
            attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
            next_attempt_ms: r.next_attempt_ms,
            delivered: u64::try_from(r.delivered).unwrap_or(0),
            created_ms: r.created_ms,
            batch_through: r.batch_through,
        }
    }
}

pub async fn insert_route(pool: &SqlitePool, route: &CallbackRoute) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO callback_routes (session_id, app_id, url, context, base_uri, next_attempt_ms, created_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&route.session_id)
    .bind(&route.app_id)
    .bind(&route.url)
    .bind(&route.context)
    .bind(&route.base_uri)
    .bind(route.next_attempt_ms)
    .bind(route.created_ms)
    .execute(pool)
    .await
    .map_err(unavailable)?;
    Ok(())
}

pub async fn delete_route(pool: &SqlitePool, session_id: &str) -> StoreResult<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(unavailable)?;
    for sql in ["DELETE FROM callback_outbox WHERE session_id = ?", "DELETE FROM callback_routes WHERE session_id = ?"]
    {
        sqlx::query(sql).bind(session_id).execute(&mut *tx).await.map_err(unavailable)?;
    }
    tx.commit().await.map_err(unavailable)?;
    Ok(())
}

pub async fn due(
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
    .map_err(unavailable)?;
    Ok(rows.into_iter().map(|(session_id, app_id)| DueCallback { session_id, app_id }).collect())
}

const ROUTE_COLUMNS: &str =
    "session_id, app_id, url, context, base_uri, attempts, next_attempt_ms, delivered, created_ms, batch_through";

async fn route(pool: &SqlitePool, session_id: &str) -> StoreResult<Option<CallbackRoute>> {
    let sql = format!("SELECT {ROUTE_COLUMNS} FROM callback_routes WHERE session_id = ?");
    let row: Option<RouteRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(session_id).fetch_optional(pool).await.map_err(unavailable)?;
    Ok(row.map(CallbackRoute::from))
}

pub async fn batch(
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
    .map_err(unavailable)?;
    let items = rows
        .into_iter()
        .map(|(id, sender_rel, sender_href, body)| {
            let body = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(format!("callback body: {e}")))?;
            Ok(OutboxItem { id, sender_rel, sender_href, body })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Some((route, items)))
}

pub async fn delivered(pool: &SqlitePool, session_id: &str, through_id: i64, context: Option<&str>) -> StoreResult<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(unavailable)?;
    sqlx::query("DELETE FROM callback_outbox WHERE session_id = ? AND id <= ?")
        .bind(session_id)
        .bind(through_id)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
    sqlx::query(
        "UPDATE callback_routes SET attempts = 0, next_attempt_ms = 0, delivered = delivered + 1,
             batch_through = NULL, context = COALESCE(?, context)
         WHERE session_id = ?",
    )
    .bind(context)
    .bind(session_id)
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    Ok(())
}

pub async fn pin_batch(pool: &SqlitePool, session_id: &str, through_id: i64) -> StoreResult<()> {
    sqlx::query("UPDATE callback_routes SET batch_through = COALESCE(batch_through, ?) WHERE session_id = ?")
        .bind(through_id)
        .bind(session_id)
        .execute(pool)
        .await
        .map_err(unavailable)?;
    Ok(())
}

pub async fn attempt_failed(pool: &SqlitePool, session_id: &str, next_attempt_ms: i64) -> StoreResult<u32> {
    let row: Option<(i64,)> = sqlx::query_as(
        "UPDATE callback_routes SET attempts = attempts + 1, next_attempt_ms = ? WHERE session_id = ? RETURNING attempts",
    )
    .bind(next_attempt_ms)
    .bind(session_id)
    .fetch_optional(pool)
    .await
    .map_err(unavailable)?;
    Ok(row.map_or(0, |(a,)| u32::try_from(a).unwrap_or(u32::MAX)))
}

pub async fn give_up(pool: &SqlitePool, session_id: &str, last_error: &str, now_ms: i64) -> StoreResult<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(unavailable)?;
    let dropped = sqlx::query("DELETE FROM callback_outbox WHERE session_id = ?")
        .bind(session_id)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?
        .rows_affected();
    sqlx::query(
        "INSERT INTO callback_failures (app_id, session_id, url, attempts, last_error, dropped, failed_ms)
         SELECT app_id, session_id, COALESCE(url, ''), attempts, ?, ?, ? FROM callback_routes WHERE session_id = ?",
    )
    .bind(last_error)
    .bind(i64::try_from(dropped).unwrap_or(i64::MAX))
    .bind(now_ms)
    .bind(session_id)
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?;
    sqlx::query("UPDATE callback_routes SET failed = 1 WHERE session_id = ?")
        .bind(session_id)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    Ok(())
}

#[derive(FromRow)]
struct FailureRow {
    app_id: String,
    session_id: String,
    url: String,
    attempts: i64,
    last_error: String,
    dropped: i64,
    failed_ms: i64,
}

pub async fn failures(pool: &SqlitePool) -> StoreResult<Vec<CallbackFailure>> {
    let rows: Vec<FailureRow> = sqlx::query_as(
        "SELECT app_id, session_id, url, attempts, last_error, dropped, failed_ms FROM callback_failures ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .map_err(unavailable)?;
    Ok(rows
        .into_iter()
        .map(|r| CallbackFailure {
            app_id: r.app_id,
            session_id: r.session_id,
            url: r.url,
            attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
            last_error: r.last_error,
            dropped: u64::try_from(r.dropped).unwrap_or(0),
            failed_ms: r.failed_ms,
        })
        .collect())
}

pub async fn purge_routes(pool: &SqlitePool, before_ms: i64) -> StoreResult<u64> {
    let done = sqlx::query(
        "DELETE FROM callback_routes
         WHERE created_ms < ?
           AND NOT EXISTS (SELECT 1 FROM callback_outbox o WHERE o.session_id = callback_routes.session_id)
           AND NOT EXISTS (SELECT 1 FROM meeting_sessions s WHERE s.session_id = callback_routes.session_id AND s.live = 1)",
    )
    .bind(before_ms)
    .execute(pool)
    .await
    .map_err(unavailable)?;
    Ok(done.rows_affected())
}
