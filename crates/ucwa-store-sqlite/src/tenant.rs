//! Users, tokens and applications.

use rusqlite::{Connection, OptionalExtension, params};
use sqlx::SqlitePool;
use ucwa_core::channel::ChannelParams;
use ucwa_core::model::{Application, NewApplication, Principal, TokenRecord, User};
use ucwa_core::store::{QuotaUsage, SigninWindow, StoreResult};
use ucwa_core::stored::{APPLICATION_COLUMNS, ApplicationRow, TokenRow, search_key, token_kind, token_scope};

use crate::events::{self, EventRow};
use crate::writer::sql_error;
use crate::{db_error, upsert_created};

pub(crate) fn upsert_user(conn: &Connection, user: &User) -> StoreResult<bool> {
    upsert_created(conn, "SELECT 1 FROM users WHERE uri = ?", &user.uri, |c| {
        c.prepare_cached(
            "INSERT INTO users (uri, display_name, password_hash, name_key, uri_key) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (uri) DO UPDATE SET display_name = excluded.display_name,
                 password_hash = excluded.password_hash, name_key = excluded.name_key, uri_key = excluded.uri_key",
        )?
        .execute(params![
            user.uri,
            user.display_name,
            user.password_hash,
            search_key(&user.display_name),
            search_key(&user.uri)
        ])
    })
}

pub(crate) async fn find_user(pool: &SqlitePool, uri: &str) -> StoreResult<Option<User>> {
    let row: Option<User> = sqlx::query_as("SELECT uri, display_name, password_hash FROM users WHERE uri = ?")
        .bind(uri)
        .fetch_optional(pool)
        .await
        .map_err(db_error)?;
    Ok(row)
}

pub(crate) async fn list_users(pool: &SqlitePool) -> StoreResult<Vec<User>> {
    let rows: Vec<User> = sqlx::query_as("SELECT uri, display_name, password_hash FROM users ORDER BY uri")
        .fetch_all(pool)
        .await
        .map_err(db_error)?;
    Ok(rows)
}

pub(crate) async fn quota_usage(pool: &SqlitePool, uri: &str, now_ms: i64) -> StoreResult<QuotaUsage> {
    let (applications, meetings): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM applications WHERE owner_uri = ? AND status = 'active'),
                (SELECT COUNT(*) FROM meetings WHERE organizer_uri = ? AND (finished_ms IS NULL OR finished_ms > ?))",
    )
    .bind(uri)
    .bind(uri)
    .bind(now_ms)
    .fetch_one(pool)
    .await
    .map_err(db_error)?;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(QuotaUsage { applications: count(applications), meetings: count(meetings) })
}

/// The `kind` column of a principal's tokens.
pub(crate) fn revoke_tokens(conn: &Connection, principal: &Principal) -> StoreResult<u64> {
    let deleted = conn
        .prepare_cached("DELETE FROM tokens WHERE uri = ? AND kind = ?")
        .and_then(|mut s| s.execute(params![principal.uri(), token_kind(principal)]))
        .map_err(sql_error)?;
    Ok(deleted as u64)
}

pub(crate) fn insert_token(conn: &Connection, token: &TokenRecord) -> StoreResult<()> {
    let kind = token_kind(&token.principal);
    let (meeting_uri, origins) = token_scope(&token.principal);
    conn.prepare_cached(
        "INSERT INTO tokens (hash, kind, uri, meeting_uri, origins, expires_ms) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .and_then(|mut s| {
        s.execute(params![token.hash, kind, token.principal.uri(), meeting_uri, origins, token.expires_ms])
    })
    .map_err(sql_error)?;
    Ok(())
}

pub(crate) async fn find_token(pool: &SqlitePool, hash: &[u8], now_ms: i64) -> StoreResult<Option<TokenRecord>> {
    let row: Option<TokenRow> = sqlx::query_as(
        "SELECT hash, kind, uri, meeting_uri, origins, expires_ms FROM tokens WHERE hash = ? AND expires_ms > ?",
    )
    .bind(hash)
    .bind(now_ms)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?;
    row.map(TokenRecord::try_from).transpose()
}

pub(crate) fn purge_expired_tokens(conn: &Connection, now_ms: i64) -> StoreResult<u64> {
    let done = conn
        .prepare_cached("DELETE FROM tokens WHERE expires_ms <= ?")
        .and_then(|mut s| s.execute([now_ms]))
        .map_err(sql_error)?;
    conn.prepare_cached("DELETE FROM signin_failures WHERE until_ms <= ?")
        .and_then(|mut s| s.execute([now_ms]))
        .map_err(sql_error)?;
    Ok(done as u64)
}

pub(crate) async fn signin_failures(pool: &SqlitePool, key: &str, now_ms: i64) -> StoreResult<Option<SigninWindow>> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT failures, until_ms FROM signin_failures WHERE name = ? AND until_ms > ?")
            .bind(key)
            .bind(now_ms)
            .fetch_optional(pool)
            .await
            .map_err(db_error)?;
    Ok(row.map(|(n, until_ms)| SigninWindow { failures: u32::try_from(n).unwrap_or(u32::MAX), until_ms }))
}

pub(crate) fn record_signin_failure(conn: &Connection, key: &str, now_ms: i64, window_ms: i64) -> StoreResult<()> {
    conn.prepare_cached(SIGNIN_FAILURE)
        .and_then(|mut s| s.execute(params![key, now_ms, window_ms]))
        .map_err(sql_error)?;
    Ok(())
}

/// Counts a failure in the open window, or opens a new one (?1 key, ?2 now, ?3 window).
const SIGNIN_FAILURE: &str = "INSERT INTO signin_failures (name, until_ms, failures) VALUES (?1, ?2 + ?3, 1)
     ON CONFLICT (name) DO UPDATE SET
         failures = CASE WHEN signin_failures.until_ms <= ?2 THEN 1 ELSE signin_failures.failures + 1 END,
         until_ms = CASE WHEN signin_failures.until_ms <= ?2 THEN ?2 + ?3 ELSE signin_failures.until_ms END";

/// A row of [`APPLICATION_COLUMNS`] read on the writer's connection.
fn read_application(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApplicationRow> {
    Ok(ApplicationRow {
        id: r.get(0)?,
        owner_uri: r.get(1)?,
        anonymous: r.get(2)?,
        display_name: r.get(3)?,
        endpoint_id: r.get(4)?,
        user_agent: r.get(5)?,
        culture: r.get(6)?,
        instance_id: r.get(7)?,
        kind: r.get(8)?,
        status: r.get(9)?,
        available: r.get(10)?,
        created_ms: r.get(11)?,
        last_seen_ms: r.get(12)?,
        timeout_s: r.get(13)?,
        low_s: r.get(14)?,
        medium_s: r.get(15)?,
        priority: r.get(16)?,
        batch_no: r.get(17)?,
        batch_max_seq: r.get(18)?,
    })
}

pub(crate) fn application(conn: &Connection, id: &str) -> StoreResult<Option<Application>> {
    let sql = format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE id = ?");
    let row = conn
        .prepare_cached(&sql)
        .and_then(|mut s| s.query_row([id], read_application).optional())
        .map_err(sql_error)?;
    row.map(Application::try_from).transpose()
}

/// Active applications of `uri` that called `makeMeAvailable`: where invitations ring.
pub(crate) async fn online_applications(pool: &SqlitePool, uri: &str) -> StoreResult<Vec<Application>> {
    let sql = format!(
        "SELECT {APPLICATION_COLUMNS} FROM applications WHERE owner_uri = ? AND anonymous = 0 AND available = 1 \
         AND status = 'active' ORDER BY created_ms, id"
    );
    let rows: Vec<ApplicationRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(uri).fetch_all(pool).await.map_err(db_error)?;
    rows.into_iter().map(Application::try_from).collect()
}

pub(crate) fn create_application(
    conn: &Connection,
    new: &NewApplication,
    params: ChannelParams,
    now_ms: i64,
) -> StoreResult<(Application, bool)> {
    let by_endpoint = format!(
        "SELECT {APPLICATION_COLUMNS} FROM applications WHERE kind = ? AND owner_uri = ? AND endpoint_id = ? AND status = 'active'"
    );
    let existing: Option<ApplicationRow> = conn
        .prepare_cached(&by_endpoint)
        .and_then(|mut s| {
            s.query_row(params![new.kind.as_str(), new.owner_uri, new.endpoint_id], read_application).optional()
        })
        .map_err(sql_error)?;
    if let Some(row) = existing {
        return Ok((Application::try_from(row)?, false));
    }
    conn.prepare_cached(
        "INSERT INTO applications (id, owner_uri, anonymous, display_name, endpoint_id, user_agent, culture, instance_id,
             kind, status, created_ms, last_seen_ms, timeout_s, low_s, medium_s, priority)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?)",
    )
    .and_then(|mut s| {
        s.execute(params![
            new.id,
            new.owner_uri,
            new.anonymous,
            new.display_name,
            new.endpoint_id,
            new.user_agent,
            new.culture,
            new.instance_id,
            new.kind.as_str(),
            now_ms,
            now_ms,
            i64::from(params.timeout_s),
            i64::from(params.low_s),
            i64::from(params.medium_s),
            i64::from(params.priority)
        ])
    })
    .map_err(sql_error)?;
    let by_id = format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE id = ?");
    let row =
        conn.prepare_cached(&by_id).and_then(|mut s| s.query_row([&new.id], read_application)).map_err(sql_error)?;
    Ok((Application::try_from(row)?, true))
}

pub(crate) fn delete_application(conn: &Connection, id: &str) -> StoreResult<bool> {
    for sql in ["DELETE FROM events WHERE app_id = ?", "DELETE FROM delivered_batches WHERE app_id = ?"] {
        conn.prepare_cached(sql).and_then(|mut s| s.execute([id])).map_err(sql_error)?;
    }
    let gone = conn
        .prepare_cached("DELETE FROM applications WHERE id = ?")
        .and_then(|mut s| s.execute([id]))
        .map_err(sql_error)?;
    Ok(gone == 1)
}

/// Marks the application available and appends `events`; `None` if it already was.
/// Returns the applications to ring.
pub(crate) fn make_available(
    conn: &Connection,
    id: &str,
    new_events: &[EventRow],
    now_ms: i64,
) -> StoreResult<Option<Vec<String>>> {
    let changed = conn
        .prepare_cached("UPDATE applications SET available = 1 WHERE id = ? AND available = 0 AND status = 'active'")
        .and_then(|mut s| s.execute([id]))
        .map_err(sql_error)?
        == 1;
    if !changed {
        return Ok(None);
    }
    let rung = events::append(conn, new_events, now_ms)?;
    Ok(Some(rung.into_iter().collect()))
}

pub(crate) fn touch_channel(conn: &Connection, id: &str, params: ChannelParams, now_ms: i64) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE applications SET last_seen_ms = ?, timeout_s = ?, low_s = ?, medium_s = ?, priority = ?
         WHERE id = ? AND status = 'active'",
    )
    .and_then(|mut s| {
        s.execute(params![
            now_ms,
            i64::from(params.timeout_s),
            i64::from(params.low_s),
            i64::from(params.medium_s),
            i64::from(params.priority),
            id
        ])
    })
    .map_err(sql_error)?;
    Ok(())
}

/// Whether any application that can expire has been idle since before `idle_before_ms`.
pub(crate) async fn any_idle(pool: &SqlitePool, idle_before_ms: i64) -> StoreResult<bool> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT 1 FROM applications WHERE status = 'active' AND kind != 'service' AND last_seen_ms < ? LIMIT 1",
    )
    .bind(idle_before_ms)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?;
    Ok(row.is_some())
}

pub(crate) fn expire_idle_applications(
    conn: &Connection,
    idle_before_ms: i64,
    busy: &[String],
) -> StoreResult<Vec<String>> {
    // Service applications are logical per-endpoint entries without a P-GET: they never
    // expire by inactivity (docs/protocol.md, ms:rtc:saas:applications).
    let candidates: Vec<String> = conn
        .prepare_cached(
            "SELECT id FROM applications WHERE status = 'active' AND kind != 'service' AND last_seen_ms < ?",
        )
        .and_then(|mut s| s.query_map([idle_before_ms], |r| r.get(0))?.collect())
        .map_err(sql_error)?;
    let mut expire = conn
        .prepare_cached("UPDATE applications SET status = 'expired', purged_seq = acked_max_seq WHERE id = ?")
        .map_err(sql_error)?;
    let mut drop_batch = conn.prepare_cached("DELETE FROM delivered_batches WHERE app_id = ?").map_err(sql_error)?;
    let mut drop_log = conn.prepare_cached("DELETE FROM events WHERE app_id = ?").map_err(sql_error)?;
    let mut expired = Vec::new();
    for id in candidates.into_iter().filter(|id| !busy.contains(id)) {
        // Its whole log goes, so nothing acknowledged is left for the cleanup either.
        expire.execute([&id]).map_err(sql_error)?;
        drop_batch.execute([&id]).map_err(sql_error)?;
        drop_log.execute([&id]).map_err(sql_error)?;
        expired.push(id);
    }
    Ok(expired)
}
