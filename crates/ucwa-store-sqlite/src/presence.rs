//! What users publish about themselves (presence, note, location), presence subscriptions,
//! and finding users by name or address.

use rusqlite::{Connection, params};
use sqlx::{FromRow, SqlitePool};
use ucwa_core::model::{PresenceSubscription, Publication, PublicationChange, User};
use ucwa_core::store::StoreResult;
use ucwa_core::stored::search_key;

use crate::db_error;
use crate::events::{self, EventRow};
use crate::writer::sql_error;

/// Users whose display name or URI contains `query` (letter case ignored), by name: the
/// folded keys (`stored::search_key`) compared byte by byte. `instr` rather than `LIKE`, so
/// `%` and `_` in a query are plain characters.
pub(crate) async fn search_users(pool: &SqlitePool, query: &str, limit: u32) -> StoreResult<Vec<User>> {
    let rows: Vec<User> = sqlx::query_as(
        "SELECT uri, display_name, password_hash FROM users
         WHERE ?1 = '' OR instr(name_key, ?1) > 0 OR instr(uri_key, ?1) > 0
         ORDER BY name_key, uri LIMIT ?2",
    )
    .bind(search_key(query))
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    Ok(rows)
}

pub(crate) async fn publication(pool: &SqlitePool, uri: &str) -> StoreResult<Publication> {
    let row: Option<Publication> =
        sqlx::query_as("SELECT availability, note, location FROM publications WHERE uri = ?")
            .bind(uri)
            .fetch_optional(pool)
            .await
            .map_err(db_error)?;
    Ok(row.unwrap_or_default())
}

/// Applies `change` and appends `new_events` in the writer's transaction; returns the
/// applications to ring after commit.
pub(crate) fn publish(
    conn: &Connection,
    uri: &str,
    change: &PublicationChange,
    new_events: &[EventRow],
    now_ms: i64,
) -> StoreResult<Vec<String>> {
    let (column, value) = match change {
        PublicationChange::Availability(v) => ("availability", v),
        PublicationChange::Note(v) => ("note", v),
        PublicationChange::Location(v) => ("location", v),
    };
    // `column` is one of three fixed names above, never input.
    let sql = format!(
        "INSERT INTO publications (uri, {column}, updated_ms) VALUES (?, ?, ?)
         ON CONFLICT (uri) DO UPDATE SET {column} = excluded.{column}, updated_ms = excluded.updated_ms"
    );
    conn.prepare_cached(&sql).and_then(|mut s| s.execute(params![uri, value.as_deref(), now_ms])).map_err(sql_error)?;
    let rung = events::append(conn, new_events, now_ms)?;
    Ok(rung.into_iter().collect())
}

/// How many of `app_id`'s subscriptions are unexpired at `now_ms`.
fn live_count(conn: &Connection, app_id: &str, now_ms: i64) -> StoreResult<i64> {
    conn.prepare_cached("SELECT COUNT(*) FROM presence_subscriptions WHERE app_id = ? AND expires_ms > ?")
        .and_then(|mut s| s.query_row(params![app_id, now_ms], |r| r.get(0)))
        .map_err(sql_error)
}

/// Adds `uris` to a subscription after its current members (those it has are skipped).
fn add_members(conn: &Connection, id: &str, uris: &[String]) -> StoreResult<()> {
    let next: i64 = conn
        .prepare_cached(
            "SELECT COALESCE(MAX(position), -1) + 1 FROM presence_subscription_members WHERE subscription_id = ?",
        )
        .and_then(|mut s| s.query_row([id], |r| r.get(0)))
        .map_err(sql_error)?;
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO presence_subscription_members (subscription_id, position, uri) VALUES (?, ?, ?)
             ON CONFLICT DO NOTHING",
        )
        .map_err(sql_error)?;
    for (offset, uri) in (0i64..).zip(uris) {
        insert.execute(params![id, next + offset, uri]).map_err(sql_error)?;
    }
    Ok(())
}

pub(crate) fn insert_subscription(
    conn: &Connection,
    subscription: &PresenceSubscription,
    max_live: u32,
    now_ms: i64,
) -> StoreResult<bool> {
    if live_count(conn, &subscription.app_id, now_ms)? >= i64::from(max_live) {
        return Ok(false);
    }
    conn.prepare_cached("INSERT INTO presence_subscriptions (id, app_id, created_ms, expires_ms) VALUES (?, ?, ?, ?)")
        .and_then(|mut s| s.execute(params![subscription.id, subscription.app_id, now_ms, subscription.expires_ms]))
        .map_err(sql_error)?;
    add_members(conn, &subscription.id, &subscription.uris)?;
    Ok(true)
}

#[derive(FromRow)]
struct SubscriptionRow {
    id: String,
    app_id: String,
    expires_ms: i64,
}

pub(crate) async fn subscriptions(
    pool: &SqlitePool,
    app_id: &str,
    now_ms: i64,
) -> StoreResult<Vec<PresenceSubscription>> {
    let rows: Vec<SubscriptionRow> = sqlx::query_as(
        "SELECT id, app_id, expires_ms FROM presence_subscriptions WHERE app_id = ? AND expires_ms > ?
         ORDER BY created_ms, id",
    )
    .bind(app_id)
    .bind(now_ms)
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let uris: Vec<String> = sqlx::query_scalar(
            "SELECT uri FROM presence_subscription_members WHERE subscription_id = ? ORDER BY position",
        )
        .bind(&row.id)
        .fetch_all(pool)
        .await
        .map_err(db_error)?;
        out.push(PresenceSubscription { id: row.id, app_id: row.app_id, uris, expires_ms: row.expires_ms });
    }
    Ok(out)
}

pub(crate) fn update_subscription(
    conn: &Connection,
    app_id: &str,
    id: &str,
    expires_ms: Option<i64>,
    uris: &[String],
    now_ms: i64,
) -> StoreResult<bool> {
    let live = conn
        .prepare_cached("SELECT 1 FROM presence_subscriptions WHERE id = ? AND app_id = ? AND expires_ms > ?")
        .and_then(|mut s| s.exists(params![id, app_id, now_ms]))
        .map_err(sql_error)?;
    if !live {
        return Ok(false);
    }
    if let Some(expires_ms) = expires_ms {
        conn.prepare_cached("UPDATE presence_subscriptions SET expires_ms = ? WHERE id = ?")
            .and_then(|mut s| s.execute(params![expires_ms, id]))
            .map_err(sql_error)?;
    }
    add_members(conn, id, uris)?;
    Ok(true)
}

pub(crate) fn delete_subscription(conn: &Connection, app_id: &str, id: &str) -> StoreResult<bool> {
    let deleted = conn
        .prepare_cached("DELETE FROM presence_subscriptions WHERE id = ? AND app_id = ?")
        .and_then(|mut s| s.execute(params![id, app_id]))
        .map_err(sql_error)?;
    Ok(deleted == 1)
}

pub(crate) async fn watchers(pool: &SqlitePool, uri: &str, now_ms: i64) -> StoreResult<Vec<String>> {
    sqlx::query_scalar(
        "SELECT DISTINCT s.app_id FROM presence_subscription_members m
         JOIN presence_subscriptions s ON s.id = m.subscription_id
         JOIN applications a ON a.id = s.app_id
         WHERE m.uri = ? AND s.expires_ms > ? AND a.status = 'active'
         ORDER BY s.app_id",
    )
    .bind(uri)
    .bind(now_ms)
    .fetch_all(pool)
    .await
    .map_err(db_error)
}

pub(crate) fn purge_expired(conn: &Connection, now_ms: i64) -> StoreResult<u64> {
    let deleted = conn
        .prepare_cached("DELETE FROM presence_subscriptions WHERE expires_ms <= ?")
        .and_then(|mut s| s.execute([now_ms]))
        .map_err(sql_error)?;
    Ok(deleted as u64)
}
