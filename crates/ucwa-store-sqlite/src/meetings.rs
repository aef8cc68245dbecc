//! Meetings: a header row plus one row per session, saved with compare-and-swap on the
//! meeting's version.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};
use sqlx::{FromRow, SqlitePool};
use ucwa_core::meeting::Meeting;
use ucwa_core::model::{MeetingRecord, NewEvent};
use ucwa_core::store::{SessionLocation, StoreError, StoreResult};
use ucwa_core::stored::{self, MEETING_COLUMNS, MeetingRow, json, meeting_kind_name, to_i64};

use crate::db_error;
use crate::events::{self, EventRow};
use crate::writer::sql_error;

#[derive(FromRow)]
struct SessionRow {
    session_id: String,
    state: String,
}

async fn assemble(pool: &SqlitePool, row: MeetingRow) -> StoreResult<MeetingRecord> {
    let sessions: Vec<SessionRow> =
        sqlx::query_as(SESSIONS_OF).bind(&row.id).fetch_all(pool).await.map_err(db_error)?;
    build(row, sessions)
}

const SESSIONS_OF: &str = "SELECT session_id, state FROM meeting_sessions WHERE meeting_id = ?";

/// A meeting from its header and session rows.
fn build(row: MeetingRow, sessions: Vec<SessionRow>) -> StoreResult<MeetingRecord> {
    let sessions = sessions
        .into_iter()
        .map(|s| Ok((s.session_id, stored::session(&s.state)?)))
        .collect::<StoreResult<BTreeMap<_, _>>>()?;
    row.into_record(sessions)
}

/// A meeting header as written, serialised on the caller's thread.
pub(crate) struct Header {
    id: String,
    organizer_uri: String,
    settings: String,
    ended: bool,
    version: i64,
    settings_revision: i64,
    next_deadline_ms: Option<i64>,
    kind: &'static str,
    finished_ms: Option<i64>,
    pending: Option<String>,
}

impl Header {
    /// The header of `record` as saved at `now_ms`.
    pub(crate) fn of(record: &MeetingRecord, now_ms: i64) -> StoreResult<Self> {
        let m = &record.meeting;
        Ok(Header {
            id: m.id().to_owned(),
            organizer_uri: m.settings().organizer_uri.clone(),
            settings: json(m.settings())?,
            ended: m.is_ended(),
            version: to_i64(m.version())?,
            settings_revision: to_i64(record.settings_revision)?,
            next_deadline_ms: m.next_deadline(),
            kind: meeting_kind_name(m.kind()),
            finished_ms: m.finished_at(now_ms),
            pending: if record.pending.is_empty() { None } else { Some(json(&record.pending)?) },
        })
    }
}

pub(crate) fn insert(conn: &Connection, header: &Header, join_url: &str, created_ms: i64) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO meetings (id, organizer_uri, settings, ended, version, settings_revision, join_url, created_ms, next_deadline_ms, kind, finished_ms, pending)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .and_then(|mut s| {
        s.execute(params![
            header.id,
            header.organizer_uri,
            header.settings,
            header.ended,
            header.version,
            header.settings_revision,
            join_url,
            created_ms,
            header.next_deadline_ms,
            header.kind,
            header.finished_ms,
            header.pending
        ])
    })
    .map_err(sql_error)?;
    Ok(())
}

/// One meeting, read inline (see `reads`): the header and its sessions in one read
/// transaction, so they are of the same version.
pub(crate) fn get(conn: &Connection, id: &str) -> StoreResult<Option<MeetingRecord>> {
    let tx = conn.unchecked_transaction().map_err(sql_error)?;
    let header = format!("SELECT {MEETING_COLUMNS} FROM meetings WHERE id = ?");
    let row = tx
        .prepare_cached(&header)
        .and_then(|mut s| {
            s.query_row([id], |r| {
                Ok(MeetingRow {
                    id: r.get(0)?,
                    settings: r.get(1)?,
                    ended: r.get(2)?,
                    version: r.get(3)?,
                    settings_revision: r.get(4)?,
                    join_url: r.get(5)?,
                    created_ms: r.get(6)?,
                    kind: r.get(7)?,
                    pending: r.get(8)?,
                })
            })
            .optional()
        })
        .map_err(sql_error)?;
    let Some(row) = row else { return Ok(None) };
    let sessions: Vec<SessionRow> = tx
        .prepare_cached(SESSIONS_OF)
        .and_then(|mut s| s.query_map([id], |r| Ok(SessionRow { session_id: r.get(0)?, state: r.get(1)? }))?.collect())
        .map_err(sql_error)?;
    build(row, sessions).map(Some)
}

pub(crate) fn version(conn: &Connection, id: &str) -> StoreResult<Option<u64>> {
    let version: Option<i64> = conn
        .prepare_cached("SELECT version FROM meetings WHERE id = ?")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .map_err(sql_error)?;
    Ok(version.and_then(|v| u64::try_from(v).ok()))
}

pub(crate) async fn organized_by(pool: &SqlitePool, uri: &str, limit: u32) -> StoreResult<Vec<MeetingRecord>> {
    let sql = format!(
        "SELECT {MEETING_COLUMNS} FROM meetings WHERE organizer_uri = ? AND kind = 'Conference'
         ORDER BY created_ms DESC, id DESC LIMIT ?"
    );
    let rows: Vec<MeetingRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(uri).bind(limit).fetch_all(pool).await.map_err(db_error)?;
    let mut out = Vec::with_capacity(rows.len());
    // Newest first from the query (so the limit keeps the newest), oldest first out.
    for row in rows.into_iter().rev() {
        out.push(assemble(pool, row).await?);
    }
    Ok(out)
}

pub(crate) async fn after(pool: &SqlitePool, after_id: &str, limit: u32) -> StoreResult<Vec<MeetingRecord>> {
    let sql = format!("SELECT {MEETING_COLUMNS} FROM meetings WHERE id > ? ORDER BY id LIMIT ?");
    let rows: Vec<MeetingRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(db_error)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(assemble(pool, row).await?);
    }
    Ok(out)
}

/// What saving a meeting writes, prepared on the caller's thread (serialised sessions,
/// rendered events) so the writer thread only binds and steps.
pub(crate) struct Save {
    header: Header,
    before_version: i64,
    /// Session rows new or changed.
    written: Vec<SessionWrite>,
    removed: Vec<String>,
    events: Vec<EventRow>,
}

/// One `meeting_sessions` row as written.
struct SessionWrite {
    id: String,
    app_id: String,
    live: bool,
    /// The session as JSON.
    state: String,
    operation_id: Option<String>,
}

impl Save {
    pub(crate) fn new(
        after: &MeetingRecord,
        before: &Meeting,
        events: Vec<NewEvent>,
        now_ms: i64,
    ) -> StoreResult<Self> {
        let changes = after.meeting.session_changes(before);
        let written = changes
            .written
            .into_iter()
            .map(|(id, s)| {
                Ok(SessionWrite {
                    id: id.clone(),
                    app_id: s.app_id.clone(),
                    live: s.is_live(),
                    state: json(s)?,
                    operation_id: s.own_operation_id().map(str::to_owned),
                })
            })
            .collect::<StoreResult<_>>()?;
        Ok(Save {
            header: Header::of(after, now_ms)?,
            before_version: to_i64(before.version())?,
            written,
            removed: changes.removed.into_iter().cloned().collect(),
            events: events::rows(events),
        })
    }
}

/// Returns the applications to ring, or `None` when the version check failed.
pub(crate) fn save(conn: &Connection, save: &Save, now_ms: i64) -> StoreResult<Option<Vec<String>>> {
    let h = &save.header;
    let updated = conn
        .prepare_cached(
            "UPDATE meetings SET settings = ?, ended = ?, version = ?, settings_revision = ?, next_deadline_ms = ?, kind = ?,
                 finished_ms = ?, pending = ?
             WHERE id = ? AND version = ?",
        )
        .and_then(|mut s| {
            s.execute(params![
                h.settings,
                h.ended,
                h.version,
                h.settings_revision,
                h.next_deadline_ms,
                h.kind,
                h.finished_ms,
                h.pending,
                h.id,
                save.before_version
            ])
        })
        .map_err(sql_error)?;
    if updated != 1 {
        return Ok(None);
    }
    let mut upsert = conn
        .prepare_cached(
            "INSERT INTO meeting_sessions (session_id, meeting_id, app_id, live, state, operation_id)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (session_id) DO UPDATE SET live = excluded.live, state = excluded.state",
        )
        .map_err(sql_error)?;
    for w in &save.written {
        upsert.execute(params![w.id, h.id, w.app_id, w.live, w.state, w.operation_id]).map_err(|e| {
            // A session id conflict is an update (above); the only other unique rule is one
            // session per application and operationId.
            if matches!(&e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
            {
                StoreError::Conflict(format!("application {} started operation {:?} already", w.app_id, w.operation_id))
            } else {
                sql_error(e)
            }
        })?;
    }
    let mut remove = conn.prepare_cached("DELETE FROM meeting_sessions WHERE session_id = ?").map_err(sql_error)?;
    for id in &save.removed {
        remove.execute([id]).map_err(sql_error)?;
    }
    let rung = events::append(conn, &save.events, now_ms)?;
    Ok(Some(rung.into_iter().collect()))
}

pub(crate) fn delete(
    conn: &Connection,
    id: &str,
    version: u64,
    new_events: &[EventRow],
    now_ms: i64,
) -> StoreResult<Option<Vec<String>>> {
    let version = to_i64(version)?;
    conn.prepare_cached(
        "DELETE FROM meeting_sessions WHERE meeting_id = ?1 AND EXISTS (SELECT 1 FROM meetings WHERE id = ?1 AND version = ?2)",
    )
    .and_then(|mut s| s.execute(params![id, version]))
    .map_err(sql_error)?;
    let gone = conn
        .prepare_cached("DELETE FROM meetings WHERE id = ? AND version = ?")
        .and_then(|mut s| s.execute(params![id, version]))
        .map_err(sql_error)?;
    if gone != 1 {
        return Ok(None);
    }
    let rung = events::append(conn, new_events, now_ms)?;
    Ok(Some(rung.into_iter().collect()))
}

pub(crate) fn location(conn: &Connection, session_id: &str) -> StoreResult<Option<SessionLocation>> {
    let row = conn
        .prepare_cached("SELECT session_id, meeting_id, app_id FROM meeting_sessions WHERE session_id = ?")
        .and_then(|mut s| {
            s.query_row([session_id], |r| {
                Ok(SessionLocation { session_id: r.get(0)?, meeting_id: r.get(1)?, app_id: r.get(2)? })
            })
            .optional()
        })
        .map_err(sql_error)?;
    Ok(row)
}

pub(crate) async fn of_operation(
    pool: &SqlitePool,
    app_id: &str,
    operation_id: &str,
) -> StoreResult<Option<SessionLocation>> {
    let row: Option<SessionLocation> = sqlx::query_as(
        "SELECT session_id, meeting_id, app_id FROM meeting_sessions WHERE app_id = ? AND operation_id = ? LIMIT 1",
    )
    .bind(app_id)
    .bind(operation_id)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?;
    Ok(row)
}

pub(crate) async fn of_application(pool: &SqlitePool, app_id: &str) -> StoreResult<Vec<SessionLocation>> {
    let rows: Vec<SessionLocation> =
        sqlx::query_as("SELECT session_id, meeting_id, app_id FROM meeting_sessions WHERE app_id = ? AND live = 1")
            .bind(app_id)
            .fetch_all(pool)
            .await
            .map_err(db_error)?;
    Ok(rows)
}

pub(crate) async fn due(pool: &SqlitePool, now_ms: i64) -> StoreResult<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM meetings WHERE next_deadline_ms <= ?
         UNION SELECT id FROM meetings WHERE pending IS NOT NULL LIMIT 1000",
    )
    .bind(now_ms)
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
