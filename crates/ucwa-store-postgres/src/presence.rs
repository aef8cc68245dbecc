//! What users publish about themselves (presence, note, location), presence subscriptions,
//! and finding users by name or address: the SQLite store's `presence` module on PostgreSQL.
//!
//! Between nodes: a publication is one upsert of its row, committed with its events (so the
//! watchers' `NOTIFY` leaves at commit); the per-application cap on live subscriptions is
//! counted under the application's row lock, so two nodes adding at once cannot both pass it.

use sqlx::{Connection, FromRow, Postgres, Transaction};
use ucwa_core::model::{NewEvent, PresenceSubscription, Publication, PublicationChange, User};
use ucwa_core::store::StoreResult;
use ucwa_core::stored::search_key;

use crate::pool::Db;
use crate::{db_error, events};

/// Users whose display name or URI contains `query` (letter case ignored), by name: the
/// folded keys (`stored::search_key`) compared byte by byte (`COLLATE "C"`), as on SQLite.
/// `strpos` rather than `LIKE`, so `%` and `_` in a query are plain characters.
pub(crate) async fn search_users(pool: &Db, query: &str, limit: u32) -> StoreResult<Vec<User>> {
    let rows: Vec<User> = sqlx::query_as(
        "SELECT uri, display_name, password_hash FROM users
         WHERE $1 = '' OR strpos(name_key, $1) > 0 OR strpos(uri_key, $1) > 0
         ORDER BY name_key COLLATE \"C\", uri COLLATE \"C\" LIMIT $2",
    )
    .bind(search_key(query))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    Ok(rows)
}

pub(crate) async fn publication(pool: &Db, uri: &str) -> StoreResult<Publication> {
    let row: Option<Publication> =
        sqlx::query_as("SELECT availability, note, location FROM publications WHERE uri = $1")
            .bind(uri)
            .fetch_optional(pool)
            .await
            .map_err(db_error)?;
    Ok(row.unwrap_or_default())
}

/// Applies `change` and appends `new_events` in one transaction; returns the applications
/// to ring.
pub(crate) async fn publish(
    pool: &Db,
    node: &str,
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
    let mut conn = pool.acquire().await.map_err(db_error)?;
    let mut tx = conn.begin().await.map_err(db_error)?;
    // `column` is one of three fixed names above, never input.
    let sql = format!(
        "INSERT INTO publications (uri, {column}, updated_ms) VALUES ($1, $2, $3)
         ON CONFLICT (uri) DO UPDATE SET {column} = excluded.{column}, updated_ms = excluded.updated_ms"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(uri)
        .bind(value.as_deref())
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    let rung = events::append(&mut *tx, node, new_events, now_ms).await?;
    tx.commit().await.map_err(db_error)?;
    Ok(rung.into_iter().collect())
}

/// Adds `uris` to a subscription after its current members (those it has are skipped).
async fn add_members(tx: &mut Transaction<'_, Postgres>, id: &str, uris: &[String]) -> StoreResult<()> {
    if uris.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO presence_subscription_members (subscription_id, position, uri)
         SELECT $1, (SELECT COALESCE(MAX(position), -1) FROM presence_subscription_members WHERE subscription_id = $1)
                    + t.n, t.uri
         FROM unnest($2::text[]) WITH ORDINALITY AS t(uri, n)
         ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(uris)
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub(crate) async fn insert_subscription(
    pool: &Db,
    subscription: &PresenceSubscription,
    max_live: u32,
    now_ms: i64,
) -> StoreResult<bool> {
    let mut conn = pool.acquire().await.map_err(db_error)?;
    let mut tx = conn.begin().await.map_err(db_error)?;
    // The application's row lock serialises the count and the insert across nodes.
    let live: Option<i64> = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM presence_subscriptions WHERE app_id = a.id AND expires_ms > $2)
         FROM applications a WHERE a.id = $1 FOR UPDATE",
    )
    .bind(&subscription.app_id)
    .bind(now_ms)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db_error)?;
    if live.is_none_or(|n| n >= i64::from(max_live)) {
        return Ok(false);
    }
    sqlx::query("INSERT INTO presence_subscriptions (id, app_id, created_ms, expires_ms) VALUES ($1, $2, $3, $4)")
        .bind(&subscription.id)
        .bind(&subscription.app_id)
        .bind(now_ms)
        .bind(subscription.expires_ms)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    add_members(&mut tx, &subscription.id, &subscription.uris).await?;
    tx.commit().await.map_err(db_error)?;
    Ok(true)
}

#[derive(FromRow)]
struct SubscriptionRow {
    id: String,
    app_id: String,
    expires_ms: i64,
    uris: Vec<String>,
}

pub(crate) async fn subscriptions(pool: &Db, app_id: &str, now_ms: i64) -> StoreResult<Vec<PresenceSubscription>> {
    let rows: Vec<SubscriptionRow> = sqlx::query_as(
        "SELECT s.id, s.app_id, s.expires_ms,
                ARRAY(SELECT m.uri FROM presence_subscription_members m WHERE m.subscription_id = s.id
                      ORDER BY m.position) AS uris
         FROM presence_subscriptions s WHERE s.app_id = $1 AND s.expires_ms > $2
         ORDER BY s.created_ms, s.id",
    )
    .bind(app_id)
    .bind(now_ms)
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    Ok(rows
        .into_iter()
        .map(|r| PresenceSubscription { id: r.id, app_id: r.app_id, uris: r.uris, expires_ms: r.expires_ms })
        .collect())
}

pub(crate) async fn update_subscription(
    pool: &Db,
    app_id: &str,
    id: &str,
    expires_ms: Option<i64>,
    uris: &[String],
    now_ms: i64,
) -> StoreResult<bool> {
    let mut conn = pool.acquire().await.map_err(db_error)?;
    let mut tx = conn.begin().await.map_err(db_error)?;
    let live: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM presence_subscriptions WHERE id = $1 AND app_id = $2 AND expires_ms > $3 FOR UPDATE",
    )
    .bind(id)
    .bind(app_id)
    .bind(now_ms)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db_error)?;
    if live.is_none() {
        return Ok(false);
    }
    if let Some(expires_ms) = expires_ms {
        sqlx::query("UPDATE presence_subscriptions SET expires_ms = $1 WHERE id = $2")
            .bind(expires_ms)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
    }
    add_members(&mut tx, id, uris).await?;
    tx.commit().await.map_err(db_error)?;
    Ok(true)
}

pub(crate) async fn delete_subscription(pool: &Db, app_id: &str, id: &str) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM presence_subscriptions WHERE id = $1 AND app_id = $2")
        .bind(id)
        .bind(app_id)
        .execute(pool)
        .await
        .map_err(db_error)?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn watchers(pool: &Db, uri: &str, now_ms: i64) -> StoreResult<Vec<String>> {
    sqlx::query_scalar(
        "SELECT DISTINCT s.app_id FROM presence_subscription_members m
         JOIN presence_subscriptions s ON s.id = m.subscription_id
         JOIN applications a ON a.id = s.app_id
         WHERE m.uri = $1 AND s.expires_ms > $2 AND a.status = 'active'
         ORDER BY s.app_id",
    )
    .bind(uri)
    .bind(now_ms)
    .fetch_all(pool)
    .await
    .map_err(db_error)
}

pub(crate) async fn purge_expired(pool: &Db, now_ms: i64) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM presence_subscriptions WHERE expires_ms <= $1")
        .bind(now_ms)
        .execute(pool)
        .await
        .map_err(db_error)?;
    Ok(done.rows_affected())
}
