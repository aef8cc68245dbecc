//! The event log (mailbox) and the delivered-batch record.
//!
//! # Why sequence numbers are gap-free and in commit order
//! A reader delivers events with a sequence number above the last one it delivered, and the
//! client acknowledges up to the highest it saw. If event 11 of an application could become
//! visible before event 10 (a global sequence, say, with transactions committing out of
//! order), a client could acknowledge 11 and never see 10. So numbers come from the
//! application's own row (`next_seq`), bumped inside the appending transaction while that
//! transaction holds the row's lock:
//!
//! 1. Every transaction that appends to an application first locks its row
//!    (`ucwa_lock_application`, a `SELECT ... FOR UPDATE`, in [`Append`] or
//!    [`lock_applications`]) and keeps the lock until it ends.
//! 2. While holding it, it reads `next_seq`, takes the next `n` numbers and writes
//!    `next_seq + n` (`ucwa_take_sequence`). A second appender blocks on the lock until the
//!    first commits or rolls back, and then reads the row as committed (the function's
//!    statement takes its snapshot after the lock is held), so it continues exactly where
//!    the first stopped: no number is taken twice or skipped (a rollback leaves `next_seq`
//!    as it was).
//! 3. PostgreSQL makes a transaction's writes visible before it releases its locks, so
//!    numbers `<= k` are visible to every snapshot that sees number `k + 1`: what a reader
//!    sees is always a prefix of the application's log.
//!
//! # Why this does not deadlock
//! A transaction that locks several application rows takes them all in one statement, one
//! row per id in ascending order (`lock_in_id_order`), and writes only rows it holds. The
//! other lock a transaction may
//! hold is its meeting's row (`meetings::save`/`delete`, always taken before the
//! applications, and at most one); nothing locks a meeting while holding an application row.
//! So every transaction acquires locks in the order (meeting, application ids ascending)
//! and no cycle of waits can form.
//!
//! # Why one statement
//! An append is one statement ([`Append`]), and so is a meeting save with its append
//! (`meetings::save`): run on the pool, the statement is its own transaction, so a row lock
//! is held from the moment the statement takes it to its commit, never across a network
//! round trip. The meeting join benchmark funnels every attendee's join and admit through
//! the organizer's one application, and when the locks were held across the five round trips
//! of a transaction (lock, number, insert, notify, commit) most of a join cycle was spent
//! waiting for that row (docs/BENCHMARKS.md, issue 9).
//!
//! # Why the row steps are functions
//! The lock and the bump are PL/pgSQL functions (migration `0007_append_functions.sql`).
//! The statement's snapshot is taken before it waits for any lock, so the row it finds
//! locked has often been committed anew by the time it gets it; written as plain SQL, the
//! lock and the `UPDATE` then re-checked that newer version by starting a second copy of
//! the statement's plan, every common table expression of a meeting save with it (8 % of
//! the database's CPU in the join benchmark). A volatile function's statement takes its own
//! snapshot when it starts: the lock's re-check is of a one-row plan, and the bump, run on
//! a row already locked, sees its newest version and is never re-checked.
//!
//! Single-row writes (`save_batch`, `touch_channel`,
//! `delete_application`) hold one application lock and wait for nothing else.
//! `expire_idle_applications` uses `SKIP LOCKED` and never waits.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{Postgres, Row, Transaction};
use ucwa_core::model::{DeliveredBatch, NewEvent, StoredEvent};
use ucwa_core::store::{AckCleanup, StoreResult};
use ucwa_core::stored::{EventRow, to_i64};

use crate::pool::Db;
use crate::{db_error, notify};

/// Locks the rows of `ids` in id order until the transaction ends; returns those active.
pub(crate) async fn lock_applications(
    tx: &mut Transaction<'_, Postgres>,
    ids: &[&str],
) -> StoreResult<BTreeSet<String>> {
    if ids.is_empty() {
        return Ok(BTreeSet::new());
    }
    // The status is checked on the locked rows, not in the look-up: see [`Append`].
    let sql = format!("SELECT id, status FROM {}", lock_in_id_order("unnest($1::text[])"));
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ids).fetch_all(&mut **tx).await.map_err(db_error)?;
    Ok(rows.into_iter().filter(|(_, status)| status.as_deref() == Some("active")).map(|(id, _)| id).collect())
}

/// The `FROM` item (`l`) that locks the application rows of the ids `ids` yields (a
/// set-returning expression), one at a time in id order, each found by primary key
/// (`ucwa_lock_application`); each row comes with its `id` and `status` (NULL for an id
/// with no application). The ids are sorted and distinct, and the function runs in the
/// projection above them, once per id and in their order: a subquery with a volatile
/// function in its output is never flattened into the query around it, nor a condition
/// pushed into it. The function's own statement is a primary-key probe whatever the
/// statistics (a generic plan of `WHERE id = ANY(...) ORDER BY id FOR UPDATE` read every
/// application before the table's first `ANALYZE`).
fn lock_in_id_order(ids: &str) -> String {
    format!(
        "(SELECT k.app AS id, ucwa_lock_application(k.app) AS status
          FROM (SELECT DISTINCT app FROM {ids} AS k(app) ORDER BY app) k) l"
    )
}

/// How many parameters an [`Append`] binds (`$1`..`$9`): a statement that appends as part of
/// a larger write numbers its own from `APPEND_PARAMS + 1`.
pub(crate) const APPEND_PARAMS: usize = 9;

/// An append of events as one part of one SQL statement (one round trip): the common table
/// expressions of [`Append::ctes`] lock the addressed applications, send the events of
/// conversations with a live callback route to the callback outbox, take each application's
/// sequence range, insert the rest into the log, and [`Append::RESULT`] sends the `NOTIFY`.
/// Its parameters are `$1`..`$9` ([`Append::bind`]).
///
/// The statement keeps the rules of the module documentation: `locked` takes the row locks in
/// id order (`lock_in_id_order`); an event reaches the outbox only after its application's
/// row is locked (`routed` joins `locked`), so outbox ids of one conversation follow commit
/// order; and `bumped` takes sequence numbers only for applications in `routed`, whose rows
/// this statement holds locked. `routed` checks the status the lock returned, from the
/// locked row. Events addressed to an application that no longer exists or has expired are
/// dropped. `locked` and `bumped` call volatile functions, so PostgreSQL evaluates each once
/// (a common table expression with one is never inlined), and every row of `bumped` is
/// computed: [`Append::RESULT`] reads them all.
pub(crate) struct Append {
    app_id: Vec<String>,
    conversation: Vec<Option<String>>,
    priority: Vec<i64>,
    sender_rel: Vec<String>,
    sender_href: Vec<String>,
    body: Vec<String>,
    now_ms: i64,
    payloads: Vec<String>,
}

impl Append {
    /// The expressions, each event row passing `gate` (an SQL condition, `TRUE` for none):
    /// a larger write makes its append conditional on its own success this way.
    pub(crate) fn ctes(gate: &str) -> String {
        format!(
            "new AS (
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[])
                     WITH ORDINALITY AS t(app, conv, prio, rel, href, body, ord)
                 WHERE {gate}),
             locked AS (SELECT l.id, l.status FROM {locks}),
             routed AS (
                 SELECT n.*, EXISTS (SELECT 1 FROM callback_routes r
                                     WHERE r.session_id = n.conv AND r.app_id = n.app AND NOT r.failed
                                       AND r.url IS NOT NULL) AS to_outbox
                 FROM new n JOIN locked l ON l.id = n.app AND l.status = 'active'),
             outbox AS (
                 INSERT INTO callback_outbox (session_id, app_id, created_ms, sender_rel, sender_href, body)
                 SELECT conv, app, $7, rel, href, body FROM routed WHERE to_outbox ORDER BY ord),
             counts AS (SELECT app, count(*) AS n FROM routed WHERE NOT to_outbox GROUP BY app),
             bumped AS (SELECT app AS id, ucwa_take_sequence(app, n) AS first FROM counts),
             logged AS (
                 INSERT INTO events (app_id, seq, priority, created_ms, sender_rel, sender_href, body)
                 SELECT r.app, b.first + row_number() OVER (PARTITION BY r.app ORDER BY r.ord) - 1, r.prio, $7,
                        r.rel, r.href, r.body
                 FROM routed r JOIN bumped b ON b.id = r.app WHERE NOT r.to_outbox)",
            locks = lock_in_id_order("(SELECT app FROM new)")
        )
    }

    /// The result columns: the applications whose log grew (`rung`), after sending the
    /// notifications for them (PostgreSQL delivers them at commit).
    pub(crate) const RESULT: &'static str = "ARRAY(SELECT id FROM bumped ORDER BY id) AS rung,
         (SELECT count(pg_notify($8, p)) FROM unnest($9::text[]) AS p WHERE EXISTS (SELECT 1 FROM bumped))
             AS notified";

    pub(crate) fn new(node: &str, events: &[NewEvent], now_ms: i64) -> Self {
        let mut this = Self {
            app_id: Vec::with_capacity(events.len()),
            conversation: Vec::with_capacity(events.len()),
            priority: Vec::with_capacity(events.len()),
            sender_rel: Vec::with_capacity(events.len()),
            sender_href: Vec::with_capacity(events.len()),
            body: Vec::with_capacity(events.len()),
            now_ms,
            payloads: Vec::new(),
        };
        for event in events {
            this.app_id.push(event.app_id.clone());
            this.conversation.push(event.conversation.clone());
            this.priority.push(event.priority.as_i64());
            this.sender_rel.push(event.sender_rel.clone());
            this.sender_href.push(event.sender_href.clone());
            this.body.push(event.body.to_string());
        }
        // Every addressed application is announced: one that turns out expired or routed to
        // callbacks costs another node a needless re-read at most, and the statement sends
        // nothing when no log grew.
        let addressed: BTreeSet<String> = this.app_id.iter().cloned().collect();
        this.payloads = notify::payloads(node, &addressed);
        this
    }

    /// Binds `$1`..`$9`.
    pub(crate) fn bind<'q>(
        &'q self,
        query: sqlx::query::Query<'q, Postgres, PgArguments>,
    ) -> sqlx::query::Query<'q, Postgres, PgArguments> {
        query
            .bind(&self.app_id)
            .bind(&self.conversation)
            .bind(&self.priority)
            .bind(&self.sender_rel)
            .bind(&self.sender_href)
            .bind(&self.body)
            .bind(self.now_ms)
            .bind(notify::CHANNEL)
            .bind(&self.payloads)
    }
}

/// The statement of [`append`]: an [`Append`] on its own.
static APPEND: LazyLock<String> = LazyLock::new(|| format!("WITH {} SELECT {}", Append::ctes("TRUE"), Append::RESULT));

/// Appends events in one statement (see [`Append`]) on `conn`: on the pool it is a
/// transaction of its own, in a transaction it is part of it. Returns the applications whose
/// log grew, to ring locally.
pub(crate) async fn append(
    conn: impl sqlx::Executor<'_, Database = Postgres>,
    node: &str,
    events: &[NewEvent],
    now_ms: i64,
) -> StoreResult<BTreeSet<String>> {
    if events.is_empty() {
        return Ok(BTreeSet::new());
    }
    let append = Append::new(node, events, now_ms);
    let row: PgRow =
        append.bind(sqlx::query(sqlx::AssertSqlSafe(APPEND.as_str()))).fetch_one(conn).await.map_err(db_error)?;
    let rung: Vec<String> = row.try_get("rung").map_err(db_error)?;
    Ok(rung.into_iter().collect())
}

pub(crate) async fn after(pool: &Db, app_id: &str, after_seq: i64, limit: u32) -> StoreResult<Vec<StoredEvent>> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT seq, priority, created_ms, sender_rel, sender_href, body FROM events
         WHERE app_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(app_id)
    .bind(after_seq)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    rows.into_iter().map(StoredEvent::try_from).collect()
}

pub(crate) async fn save_batch(
    pool: &Db,
    app_id: &str,
    batch: &DeliveredBatch,
    previous_no: u64,
    release: Option<u64>,
    now_ms: i64,
) -> StoreResult<bool> {
    // One statement, compare-and-swap on the previous batch number (a concurrent save on
    // another node waits for the row lock, then fails the re-checked condition). Asking for
    // this batch acknowledged the previous one, so its highest sequence number becomes the
    // acknowledged mark (the right-hand sides of an UPDATE see the old row); those events are
    // deleted in the background. With `release`, the same write frees the channel if that
    // ticket still holds it (`tenant::release_poll`'s rule): the delivering request's last
    // write, and one row lock less on an application every appender locks too.
    let saved = sqlx::query(
        "UPDATE applications SET acked_max_seq = batch_max_seq, batch_no = $1, batch_body = $2, batch_max_seq = $3,
             last_seen_ms = $4,
             poll_priority = CASE WHEN poll_ticket = $7 THEN NULL ELSE poll_priority END,
             poll_until_ms = CASE WHEN poll_ticket = $7 THEN $4 ELSE poll_until_ms END
         WHERE id = $5 AND batch_no = $6 AND status = 'active'",
    )
    .bind(to_i64(batch.no)?)
    .bind(&batch.body)
    .bind(batch.max_seq)
    .bind(now_ms)
    .bind(app_id)
    .bind(to_i64(previous_no)?)
    .bind(release.map(to_i64).transpose()?)
    .execute(pool)
    .await
    .map_err(db_error)?
    .rows_affected();
    Ok(saved == 1)
}

/// The share of a cleanup budget an application costs at least: its range costs about what
/// that many neighbouring events do, so a chunk over a thousand applications with one event
/// each stays as short as one over a long backlog (the SQLite store's rule).
const APPLICATION_COST: i64 = 10;

/// The statement of [`delete_acknowledged`]: `$1` applications at most, `$2` the budget,
/// `$3` [`APPLICATION_COST`].
const DELETE_ACKNOWLEDGED: &str = "WITH pending AS (
         SELECT id, purged_seq, acked_max_seq FROM applications WHERE acked_max_seq > purged_seq
         ORDER BY id LIMIT $1 FOR UPDATE),
     costed AS (
         SELECT id, purged_seq AS lo, acked_max_seq AS hi,
                (sum(greatest(acked_max_seq - purged_seq, $3)) OVER (ORDER BY id))::bigint
                    - greatest(acked_max_seq - purged_seq, $3) AS spent_before
         FROM pending),
     chosen AS (
         SELECT id, lo, least(hi, lo + ($2 - spent_before)) AS hi FROM costed WHERE spent_before < $2),
     gone AS (
         DELETE FROM events WHERE ctid = ANY(ARRAY(
             SELECT e.ctid FROM chosen c CROSS JOIN LATERAL (
                 SELECT ctid FROM events WHERE app_id = c.id AND seq > c.lo AND seq <= c.hi OFFSET 0) e))
         RETURNING 1),
     moved AS (UPDATE applications a SET purged_seq = c.hi FROM chosen c WHERE a.id = c.id)
     SELECT (SELECT count(*) FROM gone) AS deleted,
            (SELECT count(*) FROM pending) = $1 OR EXISTS (SELECT 1 FROM costed WHERE hi - lo > $2 - spent_before)
                AS more";

/// Deletes acknowledged events by key, at most `limit` in one statement: for each
/// application with some left (the partial index `applications_unpurged`), the range
/// `(purged_seq, acked_max_seq]` through the events primary key, cut short when the budget
/// runs out, and `purged_seq` moved to where it stopped. Every node runs this. The
/// applications are locked in id order, like appenders lock them, so a cleanup waits briefly
/// for an appender or another node's cleanup but never deadlocks with them, and holds the
/// locks only while the statement runs (an appender waiting behind it waits for no round
/// trip); it does not skip locked rows, since a pass that says nothing more is left must
/// have seen every application (a cleanup that waited re-checks the condition on the
/// committed row). The budget: each application
/// costs its range, at least [`APPLICATION_COST`]; applications are taken in id order while
/// the cost of those before them is below `limit`, the last one's range cut to what is left.
/// The events are found by one primary-key range scan per application and deleted by row
/// address. The `LATERAL` subquery carries `OFFSET 0` so that the planner cannot flatten it
/// into a join: flattened, the generic plan the prepared statement settles on estimates each
/// application's range at its share of the whole table and hash-joins a sequential scan of
/// every event, dead rows included, while holding the application locks every appender
/// waits for (5 ms a pass in the join benchmark). Kept as a subquery, the only plan is a
/// nested loop of primary-key range scans.
/// Returns how many events it deleted, and whether it stopped with some left: a full page of
/// applications (there may be more), or one whose range was cut short or not reached
/// (`hi - lo` beyond what the budget had left for it).
pub(crate) async fn delete_acknowledged(pool: &Db, limit: u32) -> StoreResult<AckCleanup> {
    let (deleted, more): (i64, bool) = sqlx::query_as(DELETE_ACKNOWLEDGED)
        .bind(i64::from(limit) / APPLICATION_COST + 1)
        .bind(i64::from(limit))
        .bind(APPLICATION_COST)
        .fetch_one(pool)
        .await
        .map_err(db_error)?;
    Ok(AckCleanup { deleted: u64::try_from(deleted).unwrap_or(0), more })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a failed unwrap is a failed test")]

    use sqlx::{Connection, PgConnection};

    use super::*;
    use crate::scratch::ScratchDatabase;

    /// A connection to a fresh store's database holding rows like those of the join benchmark:
    /// 1,200 applications with acknowledged events, every tenth of them active, 30 of them
    /// owning 2,500 events each; not analyzed yet ([`analyze`] gathers the statistics, which
    /// then invite other scans). Every statement it prepares gets a generic plan (planned
    /// without its parameters, as a prepared statement's plan settles after a few executions,
    /// against whatever statistics the tables had then).
    async fn skewed_database(test: &str) -> Option<(ScratchDatabase, PgConnection)> {
        let db = ScratchDatabase::create(test).await.unwrap()?;
        crate::PostgresStore::open(db.url()).await.unwrap(); // runs the migrations
        let mut conn = PgConnection::connect(db.url()).await.unwrap();
        sqlx::raw_sql(
            "INSERT INTO applications (id, owner_uri, anonymous, display_name, endpoint_id, user_agent, culture,
                 kind, status, timeout_s, low_s, medium_s, priority, created_ms, last_seen_ms, next_seq, acked_max_seq,
                 purged_seq)
             SELECT 'app' || a, 'sip:a@example.com', false, 'A', 'e' || a, 't', 'en', 'ucwa',
                    CASE WHEN a % 10 = 0 THEN 'active' ELSE 'expired' END, 60, 60, 60, 0, 0, 0, 2501, 2000, 0
             FROM generate_series(1, 1200) a;
             INSERT INTO events (app_id, seq, priority, created_ms, sender_rel, sender_href, body)
             SELECT 'app' || a, s, 0, 0, 'r', '/h', '{}' FROM generate_series(1, 30) a, generate_series(1, 2500) s;
             SET plan_cache_mode = force_generic_plan;",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        Some((db, conn))
    }

    async fn analyze(conn: &mut PgConnection) {
        sqlx::raw_sql("ANALYZE applications; ANALYZE events;").execute(conn).await.unwrap();
    }

    /// The plan of `sql` (parameter types `types`) executed with `args`, one line per node.
    async fn plan(conn: &mut PgConnection, types: &str, sql: &str, args: &str) -> String {
        static PREPARED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!("plan{}", PREPARED.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let prepare = format!("PREPARE {name}({types}) AS {sql}");
        sqlx::raw_sql(sqlx::AssertSqlSafe(prepare)).execute(&mut *conn).await.unwrap();
        let explain = format!("EXPLAIN EXECUTE {name}({args})");
        let lines: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(explain)).fetch_all(&mut *conn).await.unwrap();
        lines.into_iter().map(|(line,)| line).collect::<Vec<_>>().join("\n")
    }

    #[tokio::test]
    async fn the_acknowledged_event_cleanup_reads_by_key_whatever_the_statistics() {
        let Some((_db, mut conn)) = skewed_database("the_acknowledged_event_cleanup_reads_by_key").await else {
            return;
        };
        analyze(&mut conn).await;
        let plan = plan(&mut conn, "bigint, bigint, bigint", DELETE_ACKNOWLEDGED, "101, 1000, 10").await;
        assert!(!plan.contains("Seq Scan on events"), "the cleanup scans the events table:\n{plan}");
        assert!(plan.contains("events_pkey"), "the cleanup does not use the events key:\n{plan}");
        let _ = conn.close().await;
    }

    #[tokio::test]
    async fn an_append_locks_its_applications_by_key_whatever_the_statistics() {
        let Some((_db, mut conn)) = skewed_database("an_append_locks_its_applications_by_key").await else {
            return;
        };
        for analyzed in [false, true] {
            if analyzed {
                analyze(&mut conn).await;
            }
            // The statement itself reads no application: its functions do, one row each.
            let append = plan(
                &mut conn,
                "text[], text[], bigint[], text[], text[], text[], bigint, text, text[]",
                &APPEND,
                "ARRAY['app10'], ARRAY[NULL], ARRAY[2], ARRAY['r'], ARRAY['/h'], ARRAY['{}'], 0, 'c', ARRAY['p']",
            )
            .await;
            assert!(
                !append.contains("on applications"),
                "analyzed: {analyzed}, the append reads applications:\n{append}"
            );
            // The lock function's statement, as PL/pgSQL prepares it (`INTO` taken out, `app`
            // becomes `$1`); checked against the migration, so the two cannot drift apart.
            let migration = include_str!("../migrations/0007_append_functions.sql");
            assert!(migration.contains("SELECT status INTO found_status FROM applications WHERE id = app FOR UPDATE;"));
            let lock =
                plan(&mut conn, "text", "SELECT status FROM applications WHERE id = $1 FOR UPDATE", "'app10'").await;
            assert!(lock.contains("applications_pkey"), "analyzed: {analyzed}, no lock by key:\n{lock}");
        }
        let _ = conn.close().await;
    }
}
