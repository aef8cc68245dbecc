//! Meetings: a header row plus one row per session, saved with compare-and-swap on the
//! meeting's version.

use std::collections::BTreeMap;

use sqlx::{FromRow, SqlitePool};
use ucwa_core::meeting::{Meeting, MeetingKind, Session};
use ucwa_core::model::{MeetingRecord, NewEvent};
use ucwa_core::store::{SessionLocation, StoreError, StoreResult};

use crate::{events, unavailable};

fn corrupt(what: &str, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn to_i64(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("counter {v} out of range")))
}

fn json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| corrupt("encode", e))
}

#[derive(FromRow)]
struct MeetingRow {
    id: String,
    settings: String,
    ended: bool,
    version: i64,
    settings_revision: i64,
    join_url: String,
    created_ms: i64,
    kind: String,
}

fn kind_name(kind: MeetingKind) -> &'static str {
    match kind {
        MeetingKind::Conference => "Conference",
        MeetingKind::TwoParty => "TwoParty",
    }
}

fn parse_kind(kind: &str) -> StoreResult<MeetingKind> {
    match kind {
        "Conference" => Ok(MeetingKind::Conference),
        "TwoParty" => Ok(MeetingKind::TwoParty),
        other => Err(StoreError::Corrupt(format!("meeting kind {other:?}"))),
    }
}

#[derive(FromRow)]
struct SessionRow {
    session_id: String,
    state: String,
}

const MEETING_COLUMNS: &str = "id, settings, ended, version, settings_revision, join_url, created_ms, kind";

async fn assemble(pool: &SqlitePool, row: MeetingRow) -> StoreResult<MeetingRecord> {
    let sessions: Vec<SessionRow> =
        sqlx::query_as("SELECT session_id, state FROM meeting_sessions WHERE meeting_id = ?")
            .bind(&row.id)
            .fetch_all(pool)
            .await
            .map_err(unavailable)?;
    let sessions = sessions
        .into_iter()
        .map(|s| Ok((s.session_id, serde_json::from_str::<Session>(&s.state).map_err(|e| corrupt("session", e))?)))
        .collect::<StoreResult<BTreeMap<_, _>>>()?;
    let settings = serde_json::from_str(&row.settings).map_err(|e| corrupt("meeting settings", e))?;
    let version = u64::try_from(row.version).map_err(|_| StoreError::Corrupt("negative version".into()))?;
    let kind = parse_kind(&row.kind)?;
    Ok(MeetingRecord {
        meeting: Meeting::restore(row.id, settings, sessions, row.ended, version).with_kind(kind),
        join_url: row.join_url,
        created_ms: row.created_ms,
        settings_revision: u64::try_from(row.settings_revision).unwrap_or(0),
    })
}

pub async fn insert(pool: &SqlitePool, record: &MeetingRecord) -> StoreResult<()> {
    let m = &record.meeting;
    sqlx::query(
        "INSERT INTO meetings (id, organizer_uri, settings, ended, version, settings_revision, join_url, created_ms, next_deadline_ms, kind, finished_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(m.id())
    .bind(&m.settings().organizer_uri)
    .bind(json(m.settings())?)
    .bind(m.is_ended())
    .bind(to_i64(m.version())?)
    .bind(to_i64(record.settings_revision)?)
    .bind(&record.join_url)
    .bind(record.created_ms)
    .bind(m.next_deadline())
    .bind(kind_name(m.kind()))
    .bind(m.finished_at(record.created_ms))
    .execute(pool)
    .await
    .map_err(unavailable)?;
    Ok(())
}

pub async fn get(pool: &SqlitePool, id: &str) -> StoreResult<Option<MeetingRecord>> {
    let sql = format!("SELECT {MEETING_COLUMNS} FROM meetings WHERE id = ?");
    let row: Option<MeetingRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await.map_err(unavailable)?;
    match row {
        Some(row) => Ok(Some(assemble(pool, row).await?)),
        None => Ok(None),
    }
}

pub async fn version(pool: &SqlitePool, id: &str) -> StoreResult<Option<u64>> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT version FROM meetings WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(unavailable)?;
    Ok(row.and_then(|(v,)| u64::try_from(v).ok()))
}

pub async fn organized_by(pool: &SqlitePool, uri: &str, limit: u32) -> StoreResult<Vec<MeetingRecord>> {
    let sql = format!(
        "SELECT {MEETING_COLUMNS} FROM meetings WHERE organizer_uri = ? AND kind = 'Conference'
         ORDER BY created_ms DESC, id DESC LIMIT ?"
    );
    let rows: Vec<MeetingRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(uri).bind(limit).fetch_all(pool).await.map_err(unavailable)?;
    let mut out = Vec::with_capacity(rows.len());
    // Newest first from the query (so the limit keeps the newest), oldest first out.
    for row in rows.into_iter().rev() {
        out.push(assemble(pool, row).await?);
    }
    Ok(out)
}

pub async fn after(pool: &SqlitePool, after_id: &str, limit: u32) -> StoreResult<Vec<MeetingRecord>> {
    let sql = format!("SELECT {MEETING_COLUMNS} FROM meetings WHERE id > ? ORDER BY id LIMIT ?");
    let rows: Vec<MeetingRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(unavailable)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(assemble(pool, row).await?);
    }
    Ok(out)
}

/// Returns the applications to ring, or `None` when the version check failed.
pub async fn save(
    pool: &SqlitePool,
    after: &MeetingRecord,
    before: &Meeting,
    new_events: &[NewEvent],
    now_ms: i64,
) -> StoreResult<Option<Vec<String>>> {
    let m = &after.meeting;
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(unavailable)?;
    let updated = sqlx::query(
        "UPDATE meetings SET settings = ?, ended = ?, version = ?, settings_revision = ?, next_deadline_ms = ?, kind = ?,
             finished_ms = ?
         WHERE id = ? AND version = ?",
    )
    .bind(json(m.settings())?)
    .bind(m.is_ended())
    .bind(to_i64(m.version())?)
    .bind(to_i64(after.settings_revision)?)
    .bind(m.next_deadline())
    .bind(kind_name(m.kind()))
    .bind(m.finished_at(now_ms))
    .bind(m.id())
    .bind(to_i64(before.version())?)
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?
    .rows_affected();
    if updated != 1 {
        return Ok(None);
    }
    let changes = m.session_changes(before);
    for (id, session) in changes.written {
        sqlx::query(
            "INSERT INTO meeting_sessions (session_id, meeting_id, app_id, live, state, operation_id)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (session_id) DO UPDATE SET live = excluded.live, state = excluded.state",
        )
        .bind(id)
        .bind(m.id())
        .bind(&session.app_id)
        .bind(session.is_live())
        .bind(json(session)?)
        .bind(session.own_operation_id())
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
    }
    for id in changes.removed {
        sqlx::query("DELETE FROM meeting_sessions WHERE session_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
    }
    let rung = events::append(&mut tx, new_events, now_ms).await?;
    tx.commit().await.map_err(unavailable)?;
    Ok(Some(rung.into_iter().collect()))
}

pub async fn delete(
    pool: &SqlitePool,
    id: &str,
    version: u64,
    new_events: &[NewEvent],
    now_ms: i64,
) -> StoreResult<Option<Vec<String>>> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(unavailable)?;
    sqlx::query("DELETE FROM meeting_sessions WHERE meeting_id = ? AND EXISTS (SELECT 1 FROM meetings WHERE id = ? AND version = ?)")
        .bind(id)
        .bind(id)
        .bind(to_i64(version)?)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
    let gone = sqlx::query("DELETE FROM meetings WHERE id = ? AND version = ?")
        .bind(id)
        .bind(to_i64(version)?)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?
        .rows_affected();
    if gone != 1 {
        return Ok(None);
    }
    let rung = events::append(&mut tx, new_events, now_ms).await?;
    tx.commit().await.map_err(unavailable)?;
    Ok(Some(rung.into_iter().collect()))
}

#[derive(FromRow)]
struct LocationRow {
    session_id: String,
    meeting_id: String,
    app_id: String,
}

impl From<LocationRow> for SessionLocation {
    fn from(r: LocationRow) -> Self {
        SessionLocation { session_id: r.session_id, meeting_id: r.meeting_id, app_id: r.app_id }
    }
}

pub async fn location(pool: &SqlitePool, session_id: &str) -> StoreResult<Option<SessionLocation>> {
    let row: Option<LocationRow> =
        sqlx::query_as("SELECT session_id, meeting_id, app_id FROM meeting_sessions WHERE session_id = ?")
            .bind(session_id)
            .fetch_optional(pool)
            .await
            .map_err(unavailable)?;
    Ok(row.map(SessionLocation::from))
}

pub async fn of_operation(pool: &SqlitePool, app_id: &str, operation_id: &str) -> StoreResult<Option<SessionLocation>> {
    let row: Option<LocationRow> = sqlx::query_as(
        "SELECT session_id, meeting_id, app_id FROM meeting_sessions WHERE app_id = ? AND operation_id = ? LIMIT 1",
    )
    .bind(app_id)
    .bind(operation_id)
    .fetch_optional(pool)
    .await
    .map_err(unavailable)?;
    Ok(row.map(SessionLocation::from))
}

pub async fn of_application(pool: &SqlitePool, app_id: &str) -> StoreResult<Vec<SessionLocation>> {
    let rows: Vec<LocationRow> =
        sqlx::query_as("SELECT session_id, meeting_id, app_id FROM meeting_sessions WHERE app_id = ? AND live = 1")
            .bind(app_id)
            .fetch_all(pool)
            .await
            .map_err(unavailable)?;
    Ok(rows.into_iter().map(SessionLocation::from).collect())
}

pub async fn due(pool: &SqlitePool, now_ms: i64) -> StoreResult<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT id FROM meetings WHERE next_deadline_ms <= ? LIMIT 1000")
        .bind(now_ms)
        .fetch_all(pool)
        .await
        .map_err(unavailable)?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
