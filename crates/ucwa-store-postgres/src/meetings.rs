//! Meetings: a header row plus one row per session, saved with compare-and-swap on the
//! meeting's version. The `UPDATE ... WHERE version = $before` takes the meeting's row lock;
//! a second node saving the same meeting waits for it, then re-checks the condition on the
//! committed row and fails it, so exactly one of two concurrent commands wins and the other
//! reloads and retries. Meetings are read with their sessions in one statement (a `LATERAL`
//! aggregate), and a node checking its copy gets the newer meeting in that same statement
//! when the version moved (`if_changed`).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use sqlx::postgres::PgRow;
use sqlx::{FromRow, Row};
use ucwa_core::meeting::Meeting;
use ucwa_core::model::{MeetingRecord, NewEvent};
use ucwa_core::store::{MeetingSince, SessionLocation, StoreError, StoreResult};
use ucwa_core::stored::{self, MEETING_COLUMNS, MeetingRow, json, meeting_kind_name, to_i64};

use crate::pool::Db;
use crate::{db_error, events};

/// The `pending` column of a record: its notices as JSON, NULL when there are none.
fn pending_column(record: &MeetingRecord) -> StoreResult<Option<String>> {
    if record.pending.is_empty() { Ok(None) } else { json(&record.pending).map(Some) }
}

pub(crate) async fn insert(pool: &Db, record: &MeetingRecord) -> StoreResult<()> {
    let m = &record.meeting;
    sqlx::query(
        "INSERT INTO meetings (id, organizer_uri, settings, ended, version, settings_revision, join_url, created_ms,
             next_deadline_ms, kind, finished_ms, pending)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
    .bind(meeting_kind_name(m.kind()))
    .bind(m.finished_at(record.created_ms))
    .bind(pending_column(record)?)
    .execute(pool)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// The meetings the query `meetings` yields (rows of [`MEETING_COLUMNS`], named `m`) with
/// their sessions, in one round trip: the sessions come as two aligned arrays from one
/// aggregate (`session_ids`, `session_states`, NULL for none), read only where `sessions_if`
/// (an SQL condition on `m`) holds. `first` are columns before the meeting's, `order` ends the
/// statement.
fn with_sessions(first: &str, meetings: &str, sessions_if: &str, order: &str) -> String {
    format!(
        "SELECT {first}m.*, s.ids AS session_ids, s.states AS session_states
         FROM ({meetings}) m
         LEFT JOIN LATERAL (SELECT array_agg(session_id) AS ids, array_agg(state) AS states
                            FROM meeting_sessions WHERE meeting_id = m.id AND {sessions_if}) s ON TRUE
         {order}"
    )
}

/// The one meeting `$1`, for [`with_sessions`].
fn the_meeting() -> String {
    format!("SELECT {MEETING_COLUMNS} FROM meetings WHERE id = $1")
}

/// The meeting of a [`with_sessions`] row.
fn record_of(row: &PgRow) -> StoreResult<MeetingRecord> {
    let header = MeetingRow::from_row(row).map_err(db_error)?;
    let ids: Option<Vec<String>> = row.try_get("session_ids").map_err(db_error)?;
    let states: Option<Vec<String>> = row.try_get("session_states").map_err(db_error)?;
    let mut sessions = BTreeMap::new();
    for (id, state) in ids.unwrap_or_default().into_iter().zip(states.unwrap_or_default()) {
        sessions.insert(id, stored::session(&state)?);
    }
    header.into_record(sessions)
}

pub(crate) async fn get(pool: &Db, id: &str) -> StoreResult<Option<MeetingRecord>> {
    static SQL: LazyLock<String> = LazyLock::new(|| with_sessions("", &the_meeting(), "TRUE", ""));
    let row = sqlx::query(sqlx::AssertSqlSafe(SQL.as_str())).bind(id).fetch_optional(pool).await.map_err(db_error)?;
    row.as_ref().map(record_of).transpose()
}

/// [`Store::meeting_if_changed`](ucwa_core::Store::meeting_if_changed) in one round trip:
/// the version, and the sessions only when it moved.
pub(crate) async fn if_changed(pool: &Db, id: &str, version: u64) -> StoreResult<MeetingSince> {
    static SQL: LazyLock<String> =
        LazyLock::new(|| with_sessions("m.version <> $2 AS changed, ", &the_meeting(), "m.version <> $2", ""));
    let row = sqlx::query(sqlx::AssertSqlSafe(SQL.as_str()))
        .bind(id)
        .bind(to_i64(version)?)
        .fetch_optional(pool)
        .await
        .map_err(db_error)?;
    let Some(row) = row else { return Ok(MeetingSince::Gone) };
    if !row.try_get::<bool, _>("changed").map_err(db_error)? {
        return Ok(MeetingSince::Unchanged);
    }
    Ok(MeetingSince::Changed(Box::new(record_of(&row)?)))
}

pub(crate) async fn version(pool: &Db, id: &str) -> StoreResult<Option<u64>> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT version FROM meetings WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(db_error)?;
    Ok(row.and_then(|(v,)| u64::try_from(v).ok()))
}

pub(crate) async fn organized_by(pool: &Db, uri: &str, limit: u32) -> StoreResult<Vec<MeetingRecord>> {
    // Newest first in the query (so the limit keeps the newest), oldest first out.
    static SQL: LazyLock<String> = LazyLock::new(|| {
        let newest = format!(
            "SELECT {MEETING_COLUMNS} FROM meetings WHERE organizer_uri = $1 AND kind = 'Conference'
             ORDER BY created_ms DESC, id DESC LIMIT $2"
        );
        with_sessions("", &newest, "TRUE", "ORDER BY m.created_ms, m.id")
    });
    let rows = sqlx::query(sqlx::AssertSqlSafe(SQL.as_str()))
        .bind(uri)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(db_error)?;
    rows.iter().map(record_of).collect()
}

pub(crate) async fn after(pool: &Db, after_id: &str, limit: u32) -> StoreResult<Vec<MeetingRecord>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        let page = format!("SELECT {MEETING_COLUMNS} FROM meetings WHERE id > $1 ORDER BY id LIMIT $2");
        with_sessions("", &page, "TRUE", "ORDER BY m.id")
    });
    let rows = sqlx::query(sqlx::AssertSqlSafe(SQL.as_str()))
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(db_error)?;
    rows.iter().map(record_of).collect()
}

/// Saves a meeting in one statement (one round trip): the compare-and-swap on the version
/// (`m`, which takes the meeting's row lock), the changed and forgotten sessions, and the
/// append of `new_events` (gated on `m`, so it locks the applications only after the meeting,
/// the order `events.rs` requires). Returns the applications to ring, or `None` when the
/// version check failed (then nothing was written).
pub(crate) async fn save(
    pool: &Db,
    node: &str,
    after: &MeetingRecord,
    before: &Meeting,
    new_events: &[NewEvent],
    now_ms: i64,
) -> StoreResult<Option<Vec<String>>> {
    // Two texts: the `DELETE` of forgotten sessions only where some are (it is rare), since
    // every part of the statement costs executor start-up on each save, wanted or not.
    fn save_sql(forget: bool) -> String {
        let p = |n: usize| format!("${}", events::APPEND_PARAMS + n);
        let forgotten = if forget {
            format!(
                "forgotten AS (
                 DELETE FROM meeting_sessions WHERE session_id = ANY({removed}) AND EXISTS (SELECT 1 FROM m)),",
                removed = p(16)
            )
        } else {
            String::new()
        };
        format!(
            "WITH m AS (
                 UPDATE meetings SET settings = {settings}, ended = {ended}, version = {version},
                     settings_revision = {revision}, next_deadline_ms = {deadline}, kind = {kind},
                     finished_ms = {finished}, pending = {pending}
                 WHERE id = {id} AND version = {before}
                 RETURNING id),
             written AS (
                 INSERT INTO meeting_sessions (session_id, meeting_id, app_id, live, state, operation_id)
                 SELECT s, {id}, a, l, st, op
                 FROM unnest({ids}::text[], {apps}::text[], {live}::bool[], {states}::text[], {ops}::text[])
                     AS t(s, a, l, st, op)
                 WHERE EXISTS (SELECT 1 FROM m)
                 ON CONFLICT (session_id) DO UPDATE SET live = excluded.live, state = excluded.state),
             {forgotten}
             {append}
             SELECT EXISTS (SELECT 1 FROM m) AS saved, {result}",
            settings = p(1),
            ended = p(2),
            version = p(3),
            revision = p(4),
            deadline = p(5),
            kind = p(6),
            finished = p(7),
            pending = p(8),
            id = p(9),
            before = p(10),
            ids = p(11),
            apps = p(12),
            live = p(13),
            states = p(14),
            ops = p(15),
            append = events::Append::ctes("EXISTS (SELECT 1 FROM m)"),
            result = events::Append::RESULT,
        )
    }
    static SAVE: LazyLock<String> = LazyLock::new(|| save_sql(false));
    static SAVE_AND_FORGET: LazyLock<String> = LazyLock::new(|| save_sql(true));
    let m = &after.meeting;
    let changes = m.session_changes(before);
    let (mut ids, mut apps, mut live, mut states, mut operations) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (id, session) in changes.written {
        ids.push(id.as_str());
        apps.push(session.app_id.as_str());
        live.push(session.is_live());
        states.push(json(session)?);
        operations.push(session.own_operation_id());
    }
    let forgotten: Vec<&str> = changes.removed.into_iter().map(String::as_str).collect();
    let append = events::Append::new(node, new_events, now_ms);
    let sql = if forgotten.is_empty() { SAVE.as_str() } else { SAVE_AND_FORGET.as_str() };
    let row = append
        .bind(sqlx::query(sqlx::AssertSqlSafe(sql)))
        .bind(json(m.settings())?)
        .bind(m.is_ended())
        .bind(to_i64(m.version())?)
        .bind(to_i64(after.settings_revision)?)
        .bind(m.next_deadline())
        .bind(meeting_kind_name(m.kind()))
        .bind(m.finished_at(now_ms))
        .bind(pending_column(after)?)
        .bind(m.id())
        .bind(to_i64(before.version())?)
        .bind(&ids)
        .bind(&apps)
        .bind(&live)
        .bind(&states)
        .bind(&operations);
    // `$16` of the save's own parameters exists only in the text that uses it.
    let row = if forgotten.is_empty() { row } else { row.bind(&forgotten) };
    let row = row.fetch_one(pool).await.map_err(|e| match &e {
        sqlx::Error::Database(d) if d.constraint() == Some("meeting_sessions_operation") => {
            StoreError::Conflict(format!("an application started this operation already ({d})"))
        }
        _ => db_error(e),
    })?;
    rung_if_saved(&row)
}

/// Deletes a meeting still at `version` (its sessions go with it, `ON DELETE CASCADE`) and
/// appends `new_events` in one statement, like [`save`]. `None` when the version check failed.
pub(crate) async fn delete(
    pool: &Db,
    node: &str,
    id: &str,
    version: u64,
    new_events: &[NewEvent],
    now_ms: i64,
) -> StoreResult<Option<Vec<String>>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH m AS (DELETE FROM meetings WHERE id = ${id} AND version = ${version} RETURNING id),
             {append}
             SELECT EXISTS (SELECT 1 FROM m) AS saved, {result}",
            id = events::APPEND_PARAMS + 1,
            version = events::APPEND_PARAMS + 2,
            append = events::Append::ctes("EXISTS (SELECT 1 FROM m)"),
            result = events::Append::RESULT,
        )
    });
    let append = events::Append::new(node, new_events, now_ms);
    let row = append
        .bind(sqlx::query(sqlx::AssertSqlSafe(SQL.as_str())))
        .bind(id)
        .bind(to_i64(version)?)
        .fetch_one(pool)
        .await
        .map_err(db_error)?;
    rung_if_saved(&row)
}

/// The applications to ring from the result of a gated write ([`save`], [`delete`]), or
/// `None` when its version check failed.
fn rung_if_saved(row: &PgRow) -> StoreResult<Option<Vec<String>>> {
    if !row.try_get::<bool, _>("saved").map_err(db_error)? {
        return Ok(None);
    }
    Ok(Some(row.try_get("rung").map_err(db_error)?))
}

pub(crate) async fn location(pool: &Db, session_id: &str) -> StoreResult<Option<SessionLocation>> {
    let row: Option<SessionLocation> =
        sqlx::query_as("SELECT session_id, meeting_id, app_id FROM meeting_sessions WHERE session_id = $1")
            .bind(session_id)
            .fetch_optional(pool)
            .await
            .map_err(db_error)?;
    Ok(row)
}

pub(crate) async fn of_operation(pool: &Db, app_id: &str, operation_id: &str) -> StoreResult<Option<SessionLocation>> {
    let row: Option<SessionLocation> = sqlx::query_as(
        "SELECT session_id, meeting_id, app_id FROM meeting_sessions WHERE app_id = $1 AND operation_id = $2 LIMIT 1",
    )
    .bind(app_id)
    .bind(operation_id)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?;
    Ok(row)
}

pub(crate) async fn of_application(pool: &Db, app_id: &str) -> StoreResult<Vec<SessionLocation>> {
    let rows: Vec<SessionLocation> =
        sqlx::query_as("SELECT session_id, meeting_id, app_id FROM meeting_sessions WHERE app_id = $1 AND live")
            .bind(app_id)
            .fetch_all(pool)
            .await
            .map_err(db_error)?;
    Ok(rows)
}

pub(crate) async fn due(pool: &Db, now_ms: i64) -> StoreResult<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM meetings WHERE next_deadline_ms <= $1
         UNION SELECT id FROM meetings WHERE pending IS NOT NULL LIMIT 1000",
    )
    .bind(now_ms)
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
