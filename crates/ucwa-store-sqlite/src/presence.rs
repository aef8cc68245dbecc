//! What users publish about themselves (presence, note, location), presence subscriptions,
//! and finding users by name or address.

use sqlx::{FromRow, Sqlite, SqlitePool, Transaction};
use ucwa_core::model::{NewEvent, PresenceSubscription, Publication, PublicationChange, User};
use ucwa_core::store::StoreResult;

use crate::{events, unavailable};

#[derive(FromRow)]
struct UserRow {
    uri: String,
    display_name: String,
    password_hash: String,
}

/// Users whose display name or URI contains `query` (ASCII letter case ignored), by name.
/// `instr` rather than `LIKE`, so `%` and `_` in a query are plain characters.
pub async fn search_users(pool: &SqlitePool, query: &str, limit: u32) -> StoreResult<Vec<User>> {
    let rows: Vec<UserRow> = sqlx::query_as(
        "SELECT uri, display_name, password_hash FROM users
         WHERE ?1 = '' OR instr(lower(display_name), lower(?1)) > 0 OR instr(lower(uri), lower(?1)) > 0
         ORDER BY display_name COLLATE NOCASE, uri LIMIT ?2",
    )
    .bind(query)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(unavailable)?;
    Ok(rows
        .into_iter()
        .map(|r| User { uri: r.uri, display_name: r.display_name, password_hash: r.password_hash })
        .collect())
}

#[derive(FromRow)]
struct PublicationRow {
    availability: Option<String>,
    note: Option<String>,
    location: Option<String>,
}

pub async fn publication(pool: &SqlitePool, uri: &str) -> StoreResult<Publication> {
    let row: Option<PublicationRow> =
        sqlx::query_as("SELECT availability, note, location FROM publications WHERE uri = ?")
            .bind(uri)
            .fetch_optional(pool)
            .await
            .map_err(unavailable)?;
    Ok(row
        .map(|r| Publication { availability: r.availability, note: r.note, location: r.location })
        .unwrap_or_default())
}

/// Applies `change` and appends `new_events` in one transaction; returns the applications
/// to ring.
pub async fn publish(
    pool: &SqlitePool,
    uri: &str,
    change: &PublicationChange,
    new_events: &[NewEvent],
    now_ms: i64,
) -> StoreResult<Vec<String>> {
    let (column, value) = match change {
        PublicationChange::Availability(v) => ("availability", v),
        PublicationChange::Note(v) => ("note", v),
        PublicationChange::Location(v) => ("location", v),
    };
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(unavailable)?;
    // `column` is one of three fixed names above, never input.
    let sql = format!(
        "INSERT INTO publications (uri, {column}, updated_ms) VALUES (?, ?, ?)
         ON CONFLICT (uri) DO UPDATE SET {column} = excluded.{column}, updated_ms = excluded.updated_ms"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(uri)
        .bind(value.as_deref())
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
    let rung = events::append(&mut tx, new_events, now_ms).await?;
    tx.commit().await.map_err(unavailable)?;
    Ok(rung.into_iter().collect())
}

/// How many of `app_id`'s subscriptions are unexpired at `now_ms`.
async fn live_count(tx: &mut Transaction<'_, Sqlite>, app_id: &str, now_ms: i64) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM presence_subscriptions WHERE app_id = ? AND expires_ms > ?")
        .bind(app_id)
        .bind(now_ms)
        .fetch_one(&mut **tx)
        .await
        .map_err(unavailable)
}

/// Adds `uris` to a subscription after its current members (those it has are skipped).
async fn add_members(tx: &mut Transaction<'_, Sqlite>, id: &str, uris: &[String]) -> StoreResult<()> {
    let next: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(position), -1) + 1 FROM presence_subscription_members WHERE subscription_id = ?",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await
    .map_err(unavailable)?;
    for (offset, uri) in (0i64..).zip(uris) {
        sqlx::query(
            "INSERT INTO presence_subscription_members (subscription_id, position, uri) VALUES (?, ?, ?)
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(next + offset)
        .bind(uri)
        .execute(&mut **tx)
        .await
        .map_err(unavailable)?;
    }
    Ok(())
}

pub async fn insert_subscription(
    pool: &SqlitePool,
    subscription: &PresenceSubscription,
    max_live: u32,
    now_ms: i64,
) -> StoreResult<bool> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(unavailable)?;
    if live_count(&mut tx, &subscription.app_id, now_ms).await? >= i64::from(max_live) {
        return Ok(false);
    }
    sqlx::query("INSERT INTO presence_subscriptions (id, app_id, created_ms, expires_ms) VALUES (?, ?, ?, ?)")
        .bind(&subscription.id)
        .bind(&subscription.app_id)
        .bind(now_ms)
        .bind(subscription.expires_ms)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
    add_members(&mut tx, &subscription.id, &subscription.uris).await?;
    tx.commit().await.map_err(unavailable)?;
    Ok(true)
}

#[derive(FromRow)]
struct SubscriptionRow {
    id: String,
    app_id: String,
    expires_ms: i64,
}

pub async fn subscriptions(pool: &SqlitePool, app_id: &str, now_ms: i64) -> StoreResult<Vec<PresenceSubscription>> {
    let rows: Vec<SubscriptionRow> = sqlx::query_as(
        "SELECT id, app_id, expires_ms FROM presence_subscriptions WHERE app_id = ? AND expires_ms > ?
         ORDER BY created_ms, id",
    )
    .bind(app_id)
    .bind(now_ms)
    .fetch_all(pool)
    .await
    .map_err(unavailable)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let uris: Vec<String> = sqlx::query_scalar(
            "SELECT uri FROM presence_subscription_members WHERE subscription_id = ? ORDER BY position",
        )
        .bind(&row.id)
        .fetch_all(pool)
        .await
        .map_err(unavailable)?;
        out.push(PresenceSubscription { id: row.id, app_id: row.app_id, uris, expires_ms: row.expires_ms });
    }
    Ok(out)
}

pub async fn update_subscription(
    pool: &SqlitePool,
    app_id: &str,
    id: &str,
    expires_ms: Option<i64>,
    uris: &[String],
    now_ms: i64,
) -> StoreResult<bool> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(unavailable)?;
    let live: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM presence_subscriptions WHERE id = ? AND app_id = ? AND expires_ms > ?")
            .bind(id)
            .bind(app_id)
            .bind(now_ms)
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?;
    if live.is_none() {
        return Ok(false);
    }
    if let Some(expires_ms) = expires_ms {
        sqlx::query("UPDATE presence_subscriptions SET expires_ms = ? WHERE id = ?")
            .bind(expires_ms)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
    }
    add_members(&mut tx, id, uris).await?;
    tx.commit().await.map_err(unavailable)?;
    Ok(true)
}

pub async fn delete_subscription(pool: &SqlitePool, app_id: &str, id: &str) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM presence_subscriptions WHERE id = ? AND app_id = ?")
        .bind(id)
        .bind(app_id)
        .execute(pool)
        .await
        .map_err(unavailable)?;
    Ok(done.rows_affected() == 1)
}

pub async fn watchers(pool: &SqlitePool, uri: &str, now_ms: i64) -> StoreResult<Vec<String>> {
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
    .map_err(unavailable)
}

pub async fn purge_expired(pool: &SqlitePool, now_ms: i64) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM presence_subscriptions WHERE expires_ms <= ?")
        .bind(now_ms)
        .execute(pool)
        .await
        .map_err(unavailable)?;
    Ok(done.rows_affected())
}
