//! Users, tokens and applications.

use std::sync::LazyLock;

use sqlx::{Connection, FromRow, Row};
use ucwa_core::channel::ChannelParams;
use ucwa_core::model::{Application, NewApplication, NewEvent, Principal, StoredEvent, TokenRecord, User};
use ucwa_core::store::{PollClaim, QuotaUsage, RequestScope, SessionLocation, SigninWindow, StoreError, StoreResult};
use ucwa_core::stored::{
    APPLICATION_COLUMNS, ApplicationRow, EventRow, TokenRow, search_key, to_i64, token_kind, token_scope,
};

use crate::pool::Db;
use crate::{db_error, events, notify};

pub(crate) async fn upsert_user(pool: &Db, user: &User) -> StoreResult<bool> {
    // `xmax = 0` holds for a row this statement inserted, not for one it updated.
    let (created,): (bool,) = sqlx::query_as(
        "INSERT INTO users (uri, display_name, password_hash, name_key, uri_key) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (uri) DO UPDATE SET display_name = excluded.display_name,
             password_hash = excluded.password_hash, name_key = excluded.name_key, uri_key = excluded.uri_key
         RETURNING xmax = 0",
    )
    .bind(&user.uri)
    .bind(&user.display_name)
    .bind(&user.password_hash)
    .bind(search_key(&user.display_name))
    .bind(search_key(&user.uri))
    .fetch_one(pool)
    .await
    .map_err(db_error)?;
    Ok(created)
}

pub(crate) async fn find_user(pool: &Db, uri: &str) -> StoreResult<Option<User>> {
    let row: Option<User> = sqlx::query_as("SELECT uri, display_name, password_hash FROM users WHERE uri = $1")
        .bind(uri)
        .fetch_optional(pool)
        .await
        .map_err(db_error)?;
    Ok(row)
}

pub(crate) async fn list_users(pool: &Db) -> StoreResult<Vec<User>> {
    let rows: Vec<User> = sqlx::query_as("SELECT uri, display_name, password_hash FROM users ORDER BY uri")
        .fetch_all(pool)
        .await
        .map_err(db_error)?;
    Ok(rows)
}

pub(crate) async fn quota_usage(pool: &Db, uri: &str, now_ms: i64) -> StoreResult<QuotaUsage> {
    let (applications, meetings): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM applications WHERE owner_uri = $1 AND status = 'active'),
                (SELECT COUNT(*) FROM meetings WHERE organizer_uri = $1 AND (finished_ms IS NULL OR finished_ms > $2))",
    )
    .bind(uri)
    .bind(now_ms)
    .fetch_one(pool)
    .await
    .map_err(db_error)?;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(QuotaUsage { applications: count(applications), meetings: count(meetings) })
}

/// The `kind` column of a principal's tokens.
pub(crate) async fn revoke_tokens(pool: &Db, principal: &Principal) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM tokens WHERE uri = $1 AND kind = $2")
        .bind(principal.uri())
        .bind(token_kind(principal))
        .execute(pool)
        .await
        .map_err(db_error)?;
    Ok(done.rows_affected())
}

pub(crate) async fn insert_token(pool: &Db, token: &TokenRecord) -> StoreResult<()> {
    let kind = token_kind(&token.principal);
    let (meeting_uri, origins) = token_scope(&token.principal);
    sqlx::query(
        "INSERT INTO tokens (hash, kind, uri, meeting_uri, origins, expires_ms) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&token.hash)
    .bind(kind)
    .bind(token.principal.uri())
    .bind(meeting_uri)
    .bind(origins)
    .bind(token.expires_ms)
    .execute(pool)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub(crate) async fn find_token(pool: &Db, hash: &[u8], now_ms: i64) -> StoreResult<Option<TokenRecord>> {
    let row: Option<TokenRow> = sqlx::query_as(
        "SELECT hash, kind, uri, meeting_uri, origins, expires_ms FROM tokens WHERE hash = $1 AND expires_ms > $2",
    )
    .bind(hash)
    .bind(now_ms)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?;
    row.map(TokenRecord::try_from).transpose()
}

/// A valid token, the application `app_id` and where session `session_id` lives, in one
/// statement: every request on an application's resources starts with the first two, every
/// request on a session under it with all three, and a round trip costs more than any of
/// these reads (docs/BENCHMARKS.md, issue 9). The token's and the session's columns are
/// renamed so that the application's keep the names [`ApplicationRow`] decodes.
pub(crate) async fn find_request_scope(
    pool: &Db,
    hash: &[u8],
    now_ms: i64,
    app_id: &str,
    session_id: Option<&str>,
) -> StoreResult<Option<RequestScope>> {
    // Built once: every request on an application sends it.
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT t.hash AS token_hash, t.kind AS token_kind, t.uri AS token_uri, t.meeting_uri AS token_meeting_uri,
                    t.origins AS token_origins, t.expires_ms AS token_expires_ms, a.*,
                    s.session_id AS session_id, s.meeting_id AS session_meeting_id, s.app_id AS session_app_id
             FROM tokens t LEFT JOIN (SELECT {APPLICATION_COLUMNS} FROM applications WHERE id = $3) a ON true
             LEFT JOIN meeting_sessions s ON s.session_id = $4
             WHERE t.hash = $1 AND t.expires_ms > $2"
        )
    });
    let row = sqlx::query(sqlx::AssertSqlSafe(SQL.as_str()))
        .bind(hash)
        .bind(now_ms)
        .bind(app_id)
        .bind(session_id)
        .fetch_optional(pool)
        .await
        .map_err(db_error)?;
    let Some(row) = row else { return Ok(None) };
    let decode = |e: sqlx::Error| StoreError::Corrupt(format!("token, application or session row: {e}"));
    let token = TokenRow {
        hash: row.try_get("token_hash").map_err(decode)?,
        kind: row.try_get("token_kind").map_err(decode)?,
        uri: row.try_get("token_uri").map_err(decode)?,
        meeting_uri: row.try_get("token_meeting_uri").map_err(decode)?,
        origins: row.try_get("token_origins").map_err(decode)?,
        expires_ms: row.try_get("token_expires_ms").map_err(decode)?,
    };
    let application = match row.try_get::<Option<String>, _>("id").map_err(decode)? {
        Some(_) => Some(Application::try_from(ApplicationRow::from_row(&row).map_err(decode)?)?),
        None => None,
    };
    let session = match row.try_get::<Option<String>, _>("session_id").map_err(decode)? {
        Some(session_id) => Some(SessionLocation {
            session_id,
            meeting_id: row.try_get("session_meeting_id").map_err(decode)?,
            app_id: row.try_get("session_app_id").map_err(decode)?,
        }),
        None => None,
    };
    Ok(Some(RequestScope { token: TokenRecord::try_from(token)?, application, session }))
}

pub(crate) async fn purge_expired_tokens(pool: &Db, now_ms: i64) -> StoreResult<u64> {
    let done =
        sqlx::query("DELETE FROM tokens WHERE expires_ms <= $1").bind(now_ms).execute(pool).await.map_err(db_error)?;
    sqlx::query("DELETE FROM signin_failures WHERE until_ms <= $1")
        .bind(now_ms)
        .execute(pool)
        .await
        .map_err(db_error)?;
    Ok(done.rows_affected())
}

pub(crate) async fn signin_failures(pool: &Db, key: &str, now_ms: i64) -> StoreResult<Option<SigninWindow>> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT failures, until_ms FROM signin_failures WHERE name = $1 AND until_ms > $2")
            .bind(key)
            .bind(now_ms)
            .fetch_optional(pool)
            .await
            .map_err(db_error)?;
    Ok(row.map(|(n, until_ms)| SigninWindow { failures: u32::try_from(n).unwrap_or(u32::MAX), until_ms }))
}

/// Counts the failure in the open window or opens a new one, in one statement: two nodes
/// counting at once both count (the row lock orders them).
pub(crate) async fn record_signin_failure(pool: &Db, key: &str, now_ms: i64, window_ms: i64) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO signin_failures (name, until_ms, failures) VALUES ($1, $2 + $3, 1)
         ON CONFLICT (name) DO UPDATE SET
             failures = CASE WHEN signin_failures.until_ms <= $2 THEN 1 ELSE signin_failures.failures + 1 END,
             until_ms = CASE WHEN signin_failures.until_ms <= $2 THEN $2 + $3 ELSE signin_failures.until_ms END",
    )
    .bind(key)
    .bind(now_ms)
    .bind(window_ms)
    .execute(pool)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub(crate) async fn application(pool: &Db, id: &str) -> StoreResult<Option<Application>> {
    let sql = format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE id = $1");
    let row: Option<ApplicationRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await.map_err(db_error)?;
    row.map(Application::try_from).transpose()
}

/// The body of batch `no` if it is the last one delivered to `id` (the column is read only
/// here: application look-ups leave it in TOAST).
pub(crate) async fn delivered_batch(pool: &Db, id: &str, no: u64) -> StoreResult<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as("SELECT batch_body FROM applications WHERE id = $1 AND batch_no = $2")
        .bind(id)
        .bind(to_i64(no)?)
        .fetch_optional(pool)
        .await
        .map_err(db_error)?;
    Ok(row.map(|(body,)| body))
}

/// Active applications of `uri` that called `makeMeAvailable`: where invitations ring.
pub(crate) async fn online_applications(pool: &Db, uri: &str) -> StoreResult<Vec<Application>> {
    let sql = format!(
        "SELECT {APPLICATION_COLUMNS} FROM applications WHERE owner_uri = $1 AND NOT anonymous AND available \
         AND status = 'active' ORDER BY created_ms, id"
    );
    let rows: Vec<ApplicationRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(uri).fetch_all(pool).await.map_err(db_error)?;
    rows.into_iter().map(Application::try_from).collect()
}

pub(crate) async fn create_application(
    pool: &Db,
    new: &NewApplication,
    params: ChannelParams,
    now_ms: i64,
) -> StoreResult<(Application, bool)> {
    // The partial unique index settles two nodes creating the same endpoint's application at
    // once: one inserts, the other finds the winner's row. The row can end (expire, be
    // deleted) between the two statements, hence the second round.
    for _ in 0..2 {
        let sql = format!(
            "INSERT INTO applications (id, owner_uri, anonymous, display_name, endpoint_id, user_agent, culture,
                 instance_id, kind, status, created_ms, last_seen_ms, timeout_s, low_s, medium_s, priority)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active', $10, $10, $11, $12, $13, $14)
             ON CONFLICT (kind, owner_uri, endpoint_id) WHERE status = 'active' DO NOTHING
             RETURNING {APPLICATION_COLUMNS}"
        );
        let inserted: Option<ApplicationRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&new.id)
            .bind(&new.owner_uri)
            .bind(new.anonymous)
            .bind(&new.display_name)
            .bind(&new.endpoint_id)
            .bind(&new.user_agent)
            .bind(&new.culture)
            .bind(&new.instance_id)
            .bind(new.kind.as_str())
            .bind(now_ms)
            .bind(i64::from(params.timeout_s))
            .bind(i64::from(params.low_s))
            .bind(i64::from(params.medium_s))
            .bind(i64::from(params.priority))
            .fetch_optional(pool)
            .await
            .map_err(db_error)?;
        if let Some(row) = inserted {
            return Ok((Application::try_from(row)?, true));
        }
        let sql = format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications
             WHERE kind = $1 AND owner_uri = $2 AND endpoint_id = $3 AND status = 'active'"
        );
        let existing: Option<ApplicationRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(new.kind.as_str())
            .bind(&new.owner_uri)
            .bind(&new.endpoint_id)
            .fetch_optional(pool)
            .await
            .map_err(db_error)?;
        if let Some(row) = existing {
            return Ok((Application::try_from(row)?, false));
        }
    }
    Err(StoreError::Unavailable("the application kept changing while being created".into()))
}

pub(crate) async fn delete_application(pool: &Db, id: &str) -> StoreResult<bool> {
    let mut conn = pool.acquire().await.map_err(db_error)?;
    let mut tx = conn.begin().await.map_err(db_error)?;
    // The row first: its lock keeps appenders out until commit, after which they find no
    // application and drop their events, so no event is left behind.
    let gone = sqlx::query("DELETE FROM applications WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    sqlx::query("DELETE FROM events WHERE app_id = $1").bind(id).execute(&mut *tx).await.map_err(db_error)?;
    tx.commit().await.map_err(db_error)?;
    Ok(gone == 1)
}

/// Marks the application available and appends `events`; `None` if it already was.
/// Returns the applications to ring.
pub(crate) async fn make_available(
    pool: &Db,
    node: &str,
    id: &str,
    new_events: &[NewEvent],
    now_ms: i64,
) -> StoreResult<Option<Vec<String>>> {
    let mut conn = pool.acquire().await.map_err(db_error)?;
    let mut tx = conn.begin().await.map_err(db_error)?;
    // Every application row this transaction will touch, locked in id order first (see
    // events.rs on deadlocks).
    let mut ids: Vec<&str> = new_events.iter().map(|e| e.app_id.as_str()).chain([id]).collect();
    ids.sort_unstable();
    ids.dedup();
    events::lock_applications(&mut tx, &ids).await?;
    let changed =
        sqlx::query("UPDATE applications SET available = TRUE WHERE id = $1 AND NOT available AND status = 'active'")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected()
            == 1;
    if !changed {
        return Ok(None);
    }
    let rung = events::append(&mut *tx, node, new_events, now_ms).await?;
    tx.commit().await.map_err(db_error)?;
    Ok(Some(rung.into_iter().collect()))
}

pub(crate) async fn touch_channel(pool: &Db, id: &str, params: ChannelParams, now_ms: i64) -> StoreResult<()> {
    sqlx::query(
        "UPDATE applications SET last_seen_ms = $1, timeout_s = $2, low_s = $3, medium_s = $4, priority = $5
         WHERE id = $6 AND status = 'active'",
    )
    .bind(now_ms)
    .bind(i64::from(params.timeout_s))
    .bind(i64::from(params.low_s))
    .bind(i64::from(params.medium_s))
    .bind(i64::from(params.priority))
    .bind(id)
    .execute(pool)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Applications expired per transaction. A backlog (every application of a deployment that
/// was down for a day) is expired batch by batch, each well within the bound on a transaction
/// ([`Db::bounded`]), which a single transaction over all of them could exceed every time.
const EXPIRY_BATCH: usize = 500;

pub(crate) async fn expire_idle_applications(
    pool: &Db,
    idle_before_ms: i64,
    busy: &[String],
) -> StoreResult<Vec<String>> {
    let mut expired = Vec::new();
    loop {
        let batch = match pool.bounded(expire_idle_batch(pool, idle_before_ms, busy)).await {
            Ok(batch) => batch,
            Err(e) if expired.is_empty() => return Err(e),
            // The batches before committed: report them (their conversations end now); the
            // next sweep carries on with the rest.
            Err(e) => {
                tracing::warn!(error = %e, "expiring idle applications stopped part-way");
                return Ok(expired);
            }
        };
        let last = batch.len() < EXPIRY_BATCH;
        expired.extend(batch);
        if last {
            return Ok(expired);
        }
    }
}

/// Up to [`EXPIRY_BATCH`] of [`expire_idle_applications`], in one transaction.
async fn expire_idle_batch(pool: &Db, idle_before_ms: i64, busy: &[String]) -> StoreResult<Vec<String>> {
    let mut conn = pool.acquire().await.map_err(db_error)?;
    let mut tx = conn.begin().await.map_err(db_error)?;
    // Service applications are logical per-endpoint entries without a P-GET: they never
    // expire by inactivity. A request parked on any node keeps its application active until
    // its end (`poll_until_ms`, see `claim_poll`); `busy` are this node's. Rows another
    // transaction holds are skipped (they are in use, and
    // waiting could deadlock with an appender); the next sweep gets them if still idle. The
    // idle condition is re-checked on the locked row.
    let expired: Vec<(String,)> = sqlx::query_as(
        "UPDATE applications SET status = 'expired', batch_body = ''
         WHERE id IN (SELECT id FROM applications
                      WHERE status = 'active' AND kind <> 'service' AND GREATEST(last_seen_ms, poll_until_ms) < $1
                        AND NOT (id = ANY($2))
                      ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING id",
    )
    .bind(idle_before_ms)
    .bind(busy)
    .bind(EXPIRY_BATCH as i64)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_error)?;
    let expired: Vec<String> = expired.into_iter().map(|(id,)| id).collect();
    if !expired.is_empty() {
        sqlx::query("DELETE FROM events WHERE app_id = ANY($1)")
            .bind(&expired)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
    }
    tx.commit().await.map_err(db_error)?;
    Ok(expired)
}

/// Takes the application's channel (see `Store::claim_poll`) and reads the events after
/// `after_seq` in the same statement (`ucwa_events_after`, migration 0009: its snapshot is
/// taken after the claim got the row, so it sees what an appender holding the row committed
/// meanwhile). The read runs once per claimed row: it is the inner side of a `LEFT JOIN`
/// whose outer side is the claim, so a refused claim reads nothing, and a claim with no
/// events yields one row whose event columns are NULL.
///
/// The same statement tells the other nodes, whose parked request for it must check whether
/// it still holds it; only when a request held it, though. A claim that finds the channel
/// released (the usual case: a client's next poll after the previous one was answered) has
/// nobody to tell, and each `NOTIFY` queues behind a lock that every notifying commit of the
/// database takes. Whether it was free is read from the row the `UPDATE` locked
/// (`poll_was_free`).
pub(crate) async fn claim_poll(
    pool: &Db,
    node: &str,
    app_id: &str,
    claim: PollClaim,
    after_seq: i64,
    limit: u32,
) -> StoreResult<Option<(u64, Vec<StoredEvent>)>> {
    let rows = sqlx::query(
        "WITH claimed AS (
             UPDATE applications SET poll_ticket = poll_ticket + 1, poll_priority = $2, poll_until_ms = $4,
                 poll_was_free = poll_priority IS NULL
             WHERE id = $1 AND status = 'active'
               AND (poll_priority IS NULL OR poll_priority <= $2 OR poll_until_ms <= $3)
             RETURNING poll_ticket, poll_was_free),
         -- Evaluated once per claimed row that replaced a holder: no claim, no notification.
         told AS (SELECT pg_notify($5, $6) FROM claimed WHERE NOT poll_was_free)
         SELECT c.poll_ticket, (SELECT count(*) FROM told) AS told,
                e.seq, e.priority, e.created_ms, e.sender_rel, e.sender_href, e.body
         FROM claimed c LEFT JOIN LATERAL ucwa_events_after($1, $7, $8) e ON TRUE
         ORDER BY e.seq",
    )
    .bind(app_id)
    .bind(i64::from(claim.priority))
    .bind(claim.now_ms)
    .bind(claim.until_ms)
    .bind(notify::CHANNEL)
    .bind(notify::claim_payload(node, app_id))
    .bind(after_seq)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    let Some(first) = rows.first() else { return Ok(None) };
    let ticket: i64 = first.try_get("poll_ticket").map_err(db_error)?;
    let mut events = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.try_get::<Option<i64>, _>("seq").map_err(db_error)?.is_some() {
            events.push(StoredEvent::try_from(EventRow::from_row(row).map_err(db_error)?)?);
        }
    }
    Ok(Some((u64::try_from(ticket).unwrap_or(0), events)))
}

pub(crate) async fn poll_holder(pool: &Db, app_id: &str) -> StoreResult<Option<u64>> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT poll_ticket FROM applications WHERE id = $1")
        .bind(app_id)
        .fetch_optional(pool)
        .await
        .map_err(db_error)?;
    Ok(row.map(|(ticket,)| u64::try_from(ticket).unwrap_or(0)))
}

pub(crate) async fn release_poll(pool: &Db, app_id: &str, ticket: u64, now_ms: i64) -> StoreResult<()> {
    sqlx::query(
        "UPDATE applications SET poll_priority = NULL, poll_until_ms = $3
         WHERE id = $1 AND poll_ticket = $2",
    )
    .bind(app_id)
    .bind(i64::try_from(ticket).unwrap_or(i64::MAX))
    .bind(now_ms)
    .execute(pool)
    .await
    .map_err(db_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a failed unwrap is a failed test")]

    use std::time::Duration;

    use sqlx::postgres::PgListener;
    use ucwa_core::Store;
    use ucwa_store_conformance::support::{application, claim, event, seqs};

    use super::*;
    use crate::scratch::ScratchDatabase;

    /// The next notification other than a node's heartbeat (`<node>|`).
    async fn next(listener: &mut PgListener) -> String {
        loop {
            let n = tokio::time::timeout(Duration::from_secs(10), listener.recv()).await.unwrap().unwrap();
            if !n.payload().ends_with('|') {
                return n.payload().to_owned();
            }
        }
    }

    /// Whether a claim was announced is checked without waiting for silence: PostgreSQL
    /// delivers notifications in commit order, so when a marker sent after the claim arrives
    /// first, the claim sent none.
    #[tokio::test]
    async fn a_claim_tells_the_other_nodes_only_when_it_replaces_a_holder() {
        let Some(db) =
            ScratchDatabase::create("a_claim_tells_the_other_nodes_only_when_it_replaces_a_holder").await.unwrap()
        else {
            return;
        };
        let store = crate::PostgresStore::open(db.url()).await.unwrap();
        application(&store, "x").await;
        let mut listener = PgListener::connect(db.url()).await.unwrap();
        listener.listen(notify::CHANNEL).await.unwrap();
        let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
        let silent = async |listener: &mut PgListener| {
            sqlx::query("SELECT pg_notify($1, 'marker')").bind(notify::CHANNEL).execute(&pool).await.unwrap();
            next(listener).await == "marker"
        };
        let until = 60_000;

        let first = claim(&store, "x", 1, 1, until).await.expect("a free channel");
        assert!(silent(&mut listener).await, "a claim of a free channel is not announced");
        let second = claim(&store, "x", 2, 2, until).await.expect("a higher priority replaces");
        assert_ne!(first, second);
        let told = next(&mut listener).await;
        assert_eq!(notify::announced(&told, "another node").unwrap().1, ["x"], "the replaced holder is told");
        store.release_poll("x", second, 3).await.unwrap();
        claim(&store, "x", 1, 4, until).await.expect("released");
        assert!(silent(&mut listener).await, "a claim after a release is not announced");
        store.close().await;
    }

    /// A claim that waits for its application's row, held by an appender, reads the events
    /// that appender commits: the read takes its snapshot after the claim got the row.
    #[tokio::test]
    async fn a_claim_that_waits_for_an_appender_reads_what_it_committed() {
        let Some(db) = ScratchDatabase::create("a_claim_that_waits_for_an_appender_reads").await.unwrap() else {
            return;
        };
        let store = std::sync::Arc::new(crate::PostgresStore::open(db.url()).await.unwrap());
        application(&*store, "x").await;
        store.append_events(vec![event("x", 0)], 1).await.unwrap();
        // An appender holding the row, its second event not yet committed.
        let mut appender = sqlx::PgConnection::connect(db.url()).await.unwrap();
        let mut tx = appender.begin().await.unwrap();
        events::append(&mut *tx, "test", &[event("x", 1)], 2).await.unwrap();
        let claiming = {
            let store = store.clone();
            tokio::spawn(async move {
                let claim = PollClaim { priority: 1, now_ms: 3, until_ms: 60_000 };
                store.claim_poll("x", claim, 0, 256).await.unwrap()
            })
        };
        // Commit only once the claim waits for the row lock.
        let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
        let waiting = "SELECT count(*) FROM pg_stat_activity
                       WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%claimed%'";
        let give_up = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (n,): (i64,) = sqlx::query_as(waiting).fetch_one(&pool).await.unwrap();
            if n == 1 {
                break;
            }
            assert!(std::time::Instant::now() < give_up, "the claim never waited for the appender's row lock");
        }
        tx.commit().await.unwrap();
        let (_, events) = claiming.await.unwrap().expect("a free channel");
        assert_eq!(seqs(&events), [1, 2], "the claim missed the event committed while it waited");
        store.close().await;
    }
}
