//! Service application endpoints and the callback outbox of their conversations.
//!
//! The outbox is written inside the event append of the transaction that changed the
//! meeting (`events::append`), so a callback exists exactly when the state change committed.
//! Retry state is per conversation (its route row): only the head of a conversation's outbox
//! is ever attempted, which keeps delivery ordered.
//!
//! # One deliverer per conversation
//! Every node runs a delivery worker. A worker delivers a conversation only while it holds
//! the conversation's lease (`lease_owner`, `lease_until_ms` on the route): [`claim`] takes
//! due conversations whose lease has run out, at most `--callback-endpoint-concurrency` per
//! endpoint counting the leases other nodes hold, one claim at a time across nodes (an
//! advisory lock); the holder renews before each batch and releases when its turn ends. A node that dies stops renewing, and its conversations
//! become claimable when the lease expires: another node resumes from the head of the outbox,
//! in order (at least once: a batch in flight when the node died is sent again).

use sqlx::Connection;
use ucwa_core::service::{CallbackFailure, CallbackRoute, DueCallback, OutboxItem, ServiceApp};
use ucwa_core::store::{StoreError, StoreResult};
use ucwa_core::stored::{FailureRow, ROUTE_COLUMNS, RouteRow, SERVICE_APP_COLUMNS, ServiceAppRow};

use crate::db_error;
use crate::pool::Db;

pub(crate) async fn upsert_service_app(pool: &Db, app: &ServiceApp) -> StoreResult<bool> {
    // `xmax = 0` holds for a row this statement inserted, not for one it updated.
    let (created,): (bool,) = sqlx::query_as(
        "INSERT INTO service_apps (uri, display_name, secret_hash, signing_key, callback_url, created_ms, domains)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (uri) DO UPDATE SET display_name = excluded.display_name, secret_hash = excluded.secret_hash,
             signing_key = excluded.signing_key, callback_url = excluded.callback_url, domains = excluded.domains
         RETURNING xmax = 0",
    )
    .bind(&app.uri)
    .bind(&app.display_name)
    .bind(&app.secret_hash)
    .bind(&app.signing_key)
    .bind(&app.callback_url)
    .bind(app.created_ms)
    .bind(app.domains.join(";"))
    .fetch_one(pool)
    .await
    .map_err(db_error)?;
    Ok(created)
}

pub(crate) async fn find_service_app(pool: &Db, uri: &str) -> StoreResult<Option<ServiceApp>> {
    let sql = format!("SELECT {SERVICE_APP_COLUMNS} FROM service_apps WHERE uri = $1");
    let row: Option<ServiceAppRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(uri).fetch_optional(pool).await.map_err(db_error)?;
    Ok(row.map(ServiceApp::from))
}

pub(crate) async fn list_service_apps(pool: &Db) -> StoreResult<Vec<ServiceApp>> {
    let sql = format!("SELECT {SERVICE_APP_COLUMNS} FROM service_apps ORDER BY uri");
    let rows: Vec<ServiceAppRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await.map_err(db_error)?;
    Ok(rows.into_iter().map(ServiceApp::from).collect())
}

pub(crate) async fn insert_route(pool: &Db, route: &CallbackRoute) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO callback_routes (session_id, app_id, url, context, base_uri, next_attempt_ms, created_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
    .map_err(db_error)?;
    Ok(())
}

pub(crate) async fn delete_route(pool: &Db, session_id: &str) -> StoreResult<()> {
    let mut conn = pool.acquire().await.map_err(db_error)?;
    let mut tx = conn.begin().await.map_err(db_error)?;
    for sql in
        ["DELETE FROM callback_outbox WHERE session_id = $1", "DELETE FROM callback_routes WHERE session_id = $1"]
    {
        sqlx::query(sql).bind(session_id).execute(&mut *tx).await.map_err(db_error)?;
    }
    tx.commit().await.map_err(db_error)?;
    Ok(())
}

/// The advisory lock claims run under (any fixed number; "ucwa" in ASCII).
const CLAIM_LOCK: i64 = 0x7563_7761;

pub(crate) async fn claim(
    pool: &Db,
    node: &str,
    now_ms: i64,
    lease_until_ms: i64,
    per_app: u32,
    limit: u32,
) -> StoreResult<Vec<DueCallback>> {
    // Claims of all nodes run one at a time (a transaction-scoped advisory lock, held for one
    // statement), so each sees the leases the previous one took and the per-endpoint count
    // is exact. A claim is one indexed statement every POLL per node: serialising them costs
    // nothing measurable, and renewing, releasing and delivering never take this lock.
    let mut conn = pool.acquire().await.map_err(db_error)?;
    let mut tx = conn.begin().await.map_err(db_error)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(CLAIM_LOCK).execute(&mut *tx).await.map_err(db_error)?;
    let mut rows: Vec<(String, String, i64)> = sqlx::query_as(
        "WITH held AS (
             SELECT app_id, COUNT(*) AS n FROM callback_routes
             WHERE lease_owner IS NOT NULL AND lease_until_ms > $3 GROUP BY app_id
         ), due AS (
             SELECT r.session_id, r.app_id,
                    (SELECT MIN(id) FROM callback_outbox o WHERE o.session_id = r.session_id) AS head
             FROM callback_routes r
             WHERE NOT r.failed AND r.url IS NOT NULL AND r.next_attempt_ms <= $3 AND r.lease_until_ms <= $3
         ), ranked AS (
             SELECT d.session_id, d.app_id, d.head,
                    ROW_NUMBER() OVER (PARTITION BY d.app_id ORDER BY d.head) + COALESCE(h.n, 0) AS nth
             FROM due d LEFT JOIN held h ON h.app_id = d.app_id
             WHERE d.head IS NOT NULL
         ), picked AS (
             SELECT session_id, app_id, head FROM ranked WHERE nth <= $4 ORDER BY head LIMIT $5
         )
         UPDATE callback_routes r SET lease_owner = $1, lease_until_ms = $2
         FROM picked p WHERE r.session_id = p.session_id AND r.lease_until_ms <= $3
         RETURNING r.session_id, r.app_id, p.head",
    )
    .bind(node)
    .bind(lease_until_ms)
    .bind(now_ms)
    .bind(i64::from(per_app))
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await
    .map_err(db_error)?;
    tx.commit().await.map_err(db_error)?;
    // Oldest undelivered event first (RETURNING keeps no order).
    rows.sort_by_key(|(_, _, head)| *head);
    Ok(rows.into_iter().map(|(session_id, app_id, _)| DueCallback { session_id, app_id }).collect())
}

pub(crate) async fn renew_lease(pool: &Db, session_id: &str, node: &str, lease_until_ms: i64) -> StoreResult<bool> {
    let renewed =
        sqlx::query("UPDATE callback_routes SET lease_until_ms = $3 WHERE session_id = $1 AND lease_owner = $2")
            .bind(session_id)
            .bind(node)
            .bind(lease_until_ms)
            .execute(pool)
            .await
            .map_err(db_error)?
            .rows_affected();
    Ok(renewed == 1)
}

pub(crate) async fn release_lease(pool: &Db, session_id: &str, node: &str) -> StoreResult<()> {
    sqlx::query(
        "UPDATE callback_routes SET lease_owner = NULL, lease_until_ms = 0 WHERE session_id = $1 AND lease_owner = $2",
    )
    .bind(session_id)
    .bind(node)
    .execute(pool)
    .await
    .map_err(db_error)?;
    Ok(())
}

async fn route(pool: &Db, session_id: &str) -> StoreResult<Option<CallbackRoute>> {
    let sql = format!("SELECT {ROUTE_COLUMNS} FROM callback_routes WHERE session_id = $1");
    let row: Option<RouteRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(session_id).fetch_optional(pool).await.map_err(db_error)?;
    Ok(row.map(CallbackRoute::from))
}

pub(crate) async fn batch(
    pool: &Db,
    session_id: &str,
    limit: u32,
) -> StoreResult<Option<(CallbackRoute, Vec<OutboxItem>)>> {
    let Some(route) = route(pool, session_id).await? else { return Ok(None) };
    let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT id, sender_rel, sender_href, body FROM callback_outbox WHERE session_id = $1 AND id <= $3
         ORDER BY id LIMIT $2",
    )
    .bind(session_id)
    .bind(i64::from(limit))
    .bind(route.batch_through.unwrap_or(i64::MAX))
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

pub(crate) async fn delivered(pool: &Db, session_id: &str, through_id: i64, context: Option<&str>) -> StoreResult<()> {
    let mut conn = pool.acquire().await.map_err(db_error)?;
    let mut tx = conn.begin().await.map_err(db_error)?;
    sqlx::query("DELETE FROM callback_outbox WHERE session_id = $1 AND id <= $2")
        .bind(session_id)
        .bind(through_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    sqlx::query(
        "UPDATE callback_routes SET attempts = 0, next_attempt_ms = 0, delivered = delivered + 1,
             batch_through = NULL, context = COALESCE($1, context)
         WHERE session_id = $2",
    )
    .bind(context)
    .bind(session_id)
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    tx.commit().await.map_err(db_error)?;
    Ok(())
}

pub(crate) async fn pin_batch(pool: &Db, session_id: &str, through_id: i64) -> StoreResult<()> {
    sqlx::query("UPDATE callback_routes SET batch_through = COALESCE(batch_through, $2) WHERE session_id = $1")
        .bind(session_id)
        .bind(through_id)
        .execute(pool)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub(crate) async fn attempt_failed(pool: &Db, session_id: &str, next_attempt_ms: i64) -> StoreResult<u32> {
    let row: Option<(i64,)> = sqlx::query_as(
        "UPDATE callback_routes SET attempts = attempts + 1, next_attempt_ms = $1 WHERE session_id = $2
         RETURNING attempts",
    )
    .bind(next_attempt_ms)
    .bind(session_id)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?;
    Ok(row.map_or(0, |(a,)| u32::try_from(a).unwrap_or(u32::MAX)))
}

pub(crate) async fn give_up(pool: &Db, session_id: &str, last_error: &str, now_ms: i64) -> StoreResult<()> {
    let mut conn = pool.acquire().await.map_err(db_error)?;
    let mut tx = conn.begin().await.map_err(db_error)?;
    let dropped = sqlx::query("DELETE FROM callback_outbox WHERE session_id = $1")
        .bind(session_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    sqlx::query(
        "INSERT INTO callback_failures (app_id, session_id, url, attempts, last_error, dropped, failed_ms)
         SELECT app_id, session_id, COALESCE(url, ''), attempts, $1, $2, $3 FROM callback_routes WHERE session_id = $4",
    )
    .bind(last_error)
    .bind(i64::try_from(dropped).unwrap_or(i64::MAX))
    .bind(now_ms)
    .bind(session_id)
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    sqlx::query("UPDATE callback_routes SET failed = TRUE WHERE session_id = $1")
        .bind(session_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    tx.commit().await.map_err(db_error)?;
    Ok(())
}

pub(crate) async fn failures(pool: &Db) -> StoreResult<Vec<CallbackFailure>> {
    let rows: Vec<FailureRow> = sqlx::query_as(
        "SELECT app_id, session_id, url, attempts, last_error, dropped, failed_ms FROM callback_failures ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    Ok(rows.into_iter().map(CallbackFailure::from).collect())
}

pub(crate) async fn purge_routes(pool: &Db, before_ms: i64) -> StoreResult<u64> {
    let done = sqlx::query(
        "DELETE FROM callback_routes
         WHERE created_ms < $1
           AND NOT EXISTS (SELECT 1 FROM callback_outbox o WHERE o.session_id = callback_routes.session_id)
           AND NOT EXISTS (SELECT 1 FROM meeting_sessions s WHERE s.session_id = callback_routes.session_id AND s.live)",
    )
    .bind(before_ms)
    .execute(pool)
    .await
    .map_err(db_error)?;
    Ok(done.rows_affected())
}
