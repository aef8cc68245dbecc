//! The node's connections to the database: `deadpool`'s managed pool around sqlx's
//! [`PgConnection`], in place of sqlx's own pool.
//!
//! Why not sqlx's pool: it pings every connection on its way back (a round trip after every
//! statement, in a task of its own, with no way to turn it off), so each statement cost two
//! round trips and two wake-ups of its backend (docs/BENCHMARKS.md, issue 9, sixth look). Here
//! a connection goes back as it is, and the pool tests it only when the next statement takes
//! it and [`ConnectionCheck`] says it may be dead.
//!
//! What sqlx's ping was also for, and how it is covered here:
//! - A transaction dropped without commit leaves a `ROLLBACK` queued in the connection's
//!   write buffer, and its row locks held until that is sent. [`Conn`]'s drop sees the queued
//!   bytes and sends them at once, in a task, before the connection goes back.
//! - A statement whose future was dropped part-way leaves its results unread: sqlx reads
//!   them away before the next statement on that connection, as it does on its own pool.
//! - A connection that broke (the link failed, or PostgreSQL ended the session: a backend
//!   terminated, an idle session timed out) must not go back: a statement that fails that way
//!   marks its [`Conn`], which is then closed instead of pooled. A transaction that fails that
//!   way leaves its `ROLLBACK` queued, which cannot be sent, so its connection is closed too.
//!
//! And what neither pool does: a database host that vanishes (power lost, a network that
//! drops packets) closes no connection, so a statement on one would wait for the kernel to
//! give up on the link, a quarter of an hour later, and hold its pooled connection that long.
//! Every statement waits for its answer at most the statement timeout
//! ([`PoolSettings::statement_timeout`]; a transaction, as a whole, at most the wait for its
//! connection plus that: [`Db::bounded`]); a connection whose statement went unanswered is
//! closed, and so are the pool's connections opened before it, untested ([`ConnectionCheck`]),
//! since a test of each would wait as long. A connection dropped part-way through its work (a
//! cancelled request, a transaction given up) is tested before it goes back.
//!
//! [`Db`] implements sqlx's [`Executor`], so the store's statements run on `&Db` as they ran
//! on `&PgPool`; a transaction takes a connection first ([`Db::acquire`], then `begin`).

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use deadpool::Runtime;
use deadpool::managed::{Manager, Metrics, Object, Pool, PoolError, RecycleError, RecycleResult, Timeouts};
use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use sqlx::postgres::{
    PgConnectOptions, PgConnection, PgDatabaseError, PgQueryResult, PgRow, PgSeverity, PgStatement, PgTypeInfo,
};
use sqlx::{ConnectOptions, Connection, Describe, Either, Execute, Executor, Postgres, Row, SqlStr};

use ucwa_core::store::{DatabaseStats, StoreError, StoreResult};

use crate::notify::ConnectionCheck;
use crate::{PoolSettings, is_unavailable};

/// A connection older than this is closed instead of being handed out again (sqlx's
/// default), so a node's connections are renewed now and then (for example onto a
/// database address that a failover moved).
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Idle connections beyond this are closed by [`Db::close_idle`] (sqlx's default).
const IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// How long closing a connection may take before it is dropped instead.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Why a new connection was refused: the server only reads.
const READ_ONLY: &str = "the database server only reads (transaction_read_only is on): a hot standby, \
     or default_transaction_read_only set for the database or role; a node needs the server that takes writes";
/// The first pause before connecting again while the database cannot be reached; it doubles
/// up to [`MAX_RETRY_PAUSE`].
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(10);
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Opens and checks connections for the pool.
pub(crate) struct Connector {
    options: PgConnectOptions,
    check: std::sync::Arc<ConnectionCheck>,
    /// How long a statement (or a test of a connection) waits for its answer.
    statement_timeout: Duration,
}

impl Connector {
    /// `work` on a connection, failing as a cut link when the database has not answered
    /// within the statement timeout; the caller then closes the connection (its answer may
    /// still come, after which the connection would be out of step).
    async fn in_time<T>(&self, work: impl Future<Output = Result<T, sqlx::Error>>) -> Result<T, sqlx::Error> {
        tokio::time::timeout(self.statement_timeout, work).await.unwrap_or_else(|_| {
            // Connections opened before this one may lead to the same silent host.
            self.check.unanswered();
            Err(no_answer(self.statement_timeout))
        })
    }

    /// Tests `conn` with a round trip (which first reads away anything a dropped statement
    /// left unread), within the statement timeout.
    async fn test(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        self.in_time(conn.ping()).await
    }
}

/// The error of a statement the database did not answer within `timeout`: an I/O error (the
/// link is presumed cut), so the request answers 503 and the connection is closed.
fn no_answer(timeout: Duration) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, NoAnswer(timeout)))
}

/// What [`no_answer`] carries, so [`is_no_answer`] tells it from the system's own time-outs.
#[derive(Debug)]
struct NoAnswer(Duration);

impl fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the database did not answer within {:?} (the statement timeout)", self.0)
    }
}

impl std::error::Error for NoAnswer {}

/// Whether `e` is [`no_answer`]'s.
fn is_no_answer(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Io(io) if io.get_ref().is_some_and(|inner| inner.is::<NoAnswer>()))
}

impl Manager for Connector {
    type Type = PgConnection;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<PgConnection, sqlx::Error> {
        let mut conn = self.options.connect().await?;
        // Every argument of `events.rs` and `meetings.rs` (a statement that waited for a row
        // lock re-reads it, a function's statement sees what committed before it started) is
        // READ COMMITTED's. A database or role whose default is REPEATABLE READ or SERIALIZABLE
        // would turn those waits into serialization failures, so each session says which
        // level it runs at. A `SET`, not the startup packet's `options`: PgBouncer refuses
        // startup options it does not know.
        //
        // In the same round trip, the check libpq's `target_session_attrs=read-write` makes: a
        // session that only reads is not pooled. After a failover, the database's name can
        // still lead to the old primary, back as a hot standby: a connection kept there would
        // serve stale reads (a token just issued unknown, a 401) and fail every write until
        // it aged out, half an hour later. Refused, it is tried again like an unreachable
        // database, so the node reaches the new primary as soon as the name does.
        //
        // And a bound on a transaction left open: a node whose machine is lost mid-transaction
        // sends no FIN, so PostgreSQL would hold that transaction's row locks (an
        // application's, a meeting's: every node's requests on them waiting) until its TCP
        // keepalive gave up, two hours by default. A node never leaves a transaction idle
        // between statements for as long as a statement may take, so the server ends such a
        // session after the statement timeout, unless the database sets a limit of its own.
        let setup = format!(
            "SET default_transaction_isolation = 'read committed';
             SELECT set_config('idle_in_transaction_session_timeout', '{}', false)
                 WHERE current_setting('idle_in_transaction_session_timeout') = '0';
             SHOW transaction_read_only",
            self.statement_timeout.as_millis()
        );
        let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(setup)).fetch_all(&mut conn).await?;
        let read_only = rows.last().map(|row| row.try_get::<String, _>(0)).transpose()?;
        if read_only.as_deref() == Some("on") {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.close()).await;
            return Err(sqlx::Error::Io(std::io::Error::other(READ_ONLY)));
        }
        Ok(conn)
    }

    async fn recycle(&self, conn: &mut PgConnection, metrics: &Metrics) -> RecycleResult<sqlx::Error> {
        if metrics.age() >= MAX_LIFETIME {
            return Err(RecycleError::message("past its lifetime"));
        }
        if self.check.presumed_silent(metrics.age()) {
            return Err(RecycleError::message("opened before a connection went unanswered"));
        }
        // `last_used` counts from when the connection was last handed out, so a connection
        // held for a long transaction counts as idle for that long too: tested more, never less.
        if self.check.needed(metrics.age(), metrics.last_used()) {
            self.test(conn).await?;
        }
        Ok(())
    }
}

/// A node's pool of connections. Cloning is cheap (the pool is shared).
#[derive(Clone)]
pub(crate) struct Db {
    pool: Pool<Connector>,
    /// How long [`Db::acquire`] waits for a connection in all.
    wait: Duration,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db").field("status", &self.pool.status()).finish()
    }
}

impl Db {
    /// A pool of connections to `options` as `settings` say, tested as `check` says. Opens
    /// nothing yet.
    pub(crate) fn new(
        options: PgConnectOptions,
        check: std::sync::Arc<ConnectionCheck>,
        settings: PoolSettings,
    ) -> Result<Self, sqlx::Error> {
        let size = usize::try_from(settings.size.max(1)).unwrap_or(usize::MAX);
        // LIFO: the most recently used connection first, so a node that needs few connections
        // keeps few backends warm and lets the others age out.
        let connector = Connector { options, check, statement_timeout: settings.statement_timeout };
        let pool = Pool::builder(connector)
            .max_size(size)
            .queue_mode(deadpool::managed::QueueMode::Lifo)
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| sqlx::Error::Configuration(e.to_string().into()))?;
        Ok(Self { pool, wait: settings.wait })
    }

    /// A connection, within the pool's wait: a free one (tested if it may be dead), or a new
    /// one. While the database cannot be reached (refused, cut, starting up, out of
    /// connections) it keeps trying with growing pauses until the wait is over, so a short
    /// restart delays requests instead of failing them; then it fails with the last error.
    /// Statements on it run unbounded: a transaction that takes one runs under
    /// [`Db::bounded`].
    pub(crate) async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        let deadline = Instant::now() + self.wait;
        let mut pause = FIRST_RETRY_PAUSE;
        // The last reason the database could not be reached, for the error at the deadline.
        let mut unreachable = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let timeouts = Timeouts { wait: Some(left), create: Some(left), recycle: Some(left) };
            let e = match self.pool.timeout_get(&timeouts).await {
                Ok(conn) => return Ok(Conn { conn: Some(conn), broken: false, busy: false }),
                Err(PoolError::Backend(e)) => e,
                Err(PoolError::Timeout(_)) => return Err(unreachable.unwrap_or(sqlx::Error::PoolTimedOut)),
                Err(PoolError::Closed) => return Err(sqlx::Error::PoolClosed),
                Err(e @ (PoolError::NoRuntimeSpecified | PoolError::PostCreateHook(_))) => {
                    return Err(sqlx::Error::Configuration(e.to_string().into()));
                }
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if !is_unavailable(&e) || is_misconfigured(&e) || left.is_zero() {
                return Err(e);
            }
            unreachable = Some(e);
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(MAX_RETRY_PAUSE);
        }
    }

    /// `statement`, which [`Conn::begins`] on a connection of this pool, within the statement
    /// timeout.
    async fn in_time<T>(&self, statement: impl Future<Output = Result<T, sqlx::Error>>) -> Result<T, sqlx::Error> {
        self.pool.manager().in_time(statement).await
    }

    /// `work`, which takes a connection of its own ([`Db::acquire`]) for a transaction, given
    /// up as unavailable when it has not finished within the pool's wait plus the statement
    /// timeout: the longest it may wait for its connection, then for its statements. (Its
    /// statements run on the connection directly, not through [`Db`]'s own bound.)
    pub(crate) async fn bounded<T>(&self, work: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        let connector = self.pool.manager();
        let bound = self.wait + connector.statement_timeout;
        tokio::time::timeout(bound, work).await.unwrap_or_else(|_| {
            // As for a statement: the connections of its age may lead to a silent host. (Its
            // own may go back to the pool untested, when the cut fell between statements.)
            connector.check.unanswered();
            Err(StoreError::Unavailable(format!("the database did not finish a transaction within {bound:?}")))
        })
    }

    /// Closes connections idle for longer than [`IDLE_TIMEOUT`].
    pub(crate) async fn close_idle(&self) {
        let idle = self.pool.retain(|_, metrics| metrics.last_used() < IDLE_TIMEOUT).removed;
        say_goodbye(idle).await;
    }

    /// Refuses new requests and closes the idle connections; connections in use close when
    /// they come back.
    pub(crate) async fn close(&self) {
        let idle = self.pool.retain(|_, _| false).removed;
        self.pool.close();
        say_goodbye(idle).await;
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }

    /// What the pool's connections are doing now, and how often the listener that tells it
    /// which to test lost its own.
    pub(crate) fn stats(&self) -> DatabaseStats {
        let status = self.pool.status();
        DatabaseStats {
            connections: status.size,
            in_use: status.size.saturating_sub(status.available),
            waiting: status.waiting,
            listener_losses: self.pool.manager().check.losses(),
        }
    }
}

/// Whether a connection failed for a reason that waiting does not change: a server
/// certificate the node does not trust, which rustls reports as an I/O error of kind
/// `InvalidData` (other I/O errors mean the database cannot be reached for now; a missing
/// Unix socket, `NotFound`, is a database still starting). It fails at once instead of after
/// the pool's wait, so a node that cannot trust its database says why as it starts, and
/// requests meanwhile get their 503 without waiting for it. (Certificate files that cannot be
/// read are named before the first connection: `check_tls_files` in `lib.rs`.)
fn is_misconfigured(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData)
}

/// Closes `connections` the polite way (PostgreSQL then logs no lost client), giving each a
/// moment at most.
async fn say_goodbye(connections: Vec<PgConnection>) {
    for conn in connections {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.close()).await;
    }
}

/// A connection taken from a [`Db`]; it goes back when dropped, unless a statement found it
/// broken.
pub(crate) struct Conn {
    conn: Option<Object<Connector>>,
    /// The server ended the session or the link failed: closed on drop, not pooled again.
    /// (sqlx's pool found such connections with its ping on release.)
    broken: bool,
    /// A statement of [`Db`]'s own is under way: dropped now, the connection is tested before
    /// it goes back.
    busy: bool,
}

impl Conn {
    /// A statement of [`Db`]'s own begins on this connection.
    fn begins(&mut self) -> &mut PgConnection {
        self.busy = true;
        self
    }

    /// `result` of the statement that [`Conn::begins`], noting whether it broke the
    /// connection. A broken one is news of a restart or a cut link that may reach the
    /// listener only a moment later: the pool tests its other connections from now on, so the
    /// statements after this one do not fail on them too. (One that went unanswered has had
    /// those closed instead: [`Connector::in_time`].)
    fn checked<T>(&mut self, result: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
        self.busy = false;
        if let Err(e) = &result
            && ends_the_session(e)
        {
            self.broken = true;
            if !is_no_answer(e)
                && let Some(pool) = self.conn.as_ref().and_then(Object::pool)
            {
                pool.manager().check.connection_cut();
            }
        }
        result
    }
}

/// Whether `e` leaves its connection unusable: the link failed, or PostgreSQL ended the
/// session (a `FATAL` error: the backend was terminated, the server is shutting down, an idle
/// session timed out).
fn ends_the_session(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(d) => d
            .try_downcast_ref::<PgDatabaseError>()
            .is_some_and(|pg| matches!(pg.severity(), PgSeverity::Fatal | PgSeverity::Panic)),
        _ => false,
    }
}

impl Deref for Conn {
    type Target = PgConnection;

    #[expect(clippy::expect_used, reason = "only drop takes the connection out")]
    fn deref(&self) -> &PgConnection {
        self.conn.as_ref().expect("a connection until dropped")
    }
}

impl DerefMut for Conn {
    #[expect(clippy::expect_used, reason = "only drop takes the connection out")]
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn.as_mut().expect("a connection until dropped")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else { return };
        if self.broken {
            drop(Object::take(conn));
            return;
        }
        if !self.busy && !conn.should_flush() {
            return; // back to the pool as it is
        }
        // Dropped part-way: a statement's answer is unread, or a `ROLLBACK` is queued, whose
        // transaction's locks are held until it is sent. A test sends it, reads everything
        // away and proves the database still answers; only then does the connection go back.
        // Without a runtime (the process is ending) the connection is closed instead.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            drop(Object::take(conn));
            return;
        };
        runtime.spawn(async move {
            let Some(pool) = Object::pool(&conn) else { return };
            if pool.manager().test(&mut conn).await.is_err() {
                drop(Object::take(conn));
            }
        });
    }
}

/// Statements run on a connection taken for each one, as on sqlx's pool. Rows are gathered
/// before the connection goes back, which suits this store: every query it runs is bounded
/// (one row, or a `LIMIT`).
impl<'p> Executor<'p> for &'_ Db {
    type Database = Postgres;

    fn execute<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<PgQueryResult, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let db = self.clone();
        Box::pin(async move {
            let mut conn = db.acquire().await?;
            let done = db.in_time(conn.begins().execute(query)).await;
            conn.checked(done)
        })
    }

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let db = self.clone();
        futures_util::stream::once(async move {
            let mut conn = db.acquire().await?;
            let steps: Result<Vec<_>, _> = db.in_time(conn.begins().fetch_many(query).try_collect()).await;
            let steps = conn.checked(steps)?;
            Ok::<_, sqlx::Error>(futures_util::stream::iter(steps.into_iter().map(Ok)))
        })
        .try_flatten()
        .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let db = self.clone();
        Box::pin(async move {
            let mut conn = db.acquire().await?;
            let row = db.in_time(conn.begins().fetch_optional(query)).await;
            conn.checked(row)
        })
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement, sqlx::Error>>
    where
        'p: 'e,
    {
        let db = self.clone();
        Box::pin(async move {
            let mut conn = db.acquire().await?;
            let statement = db.in_time(conn.begins().prepare_with(sql, parameters)).await;
            conn.checked(statement)
        })
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>>
    where
        'p: 'e,
    {
        let db = self.clone();
        Box::pin(async move {
            let mut conn = db.acquire().await?;
            let described = db.in_time(conn.begins().describe(sql)).await;
            conn.checked(described)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a failed unwrap is a failed test")]

    use std::str::FromStr;
    use std::sync::Arc;

    use super::*;
    use crate::scratch::ScratchDatabase;

    async fn one_connection(test: &str) -> Option<(ScratchDatabase, Db)> {
        let db = ScratchDatabase::create(test).await.unwrap()?;
        let options = PgConnectOptions::from_str(db.url()).unwrap();
        let settings = PoolSettings { size: 1, wait: Duration::from_secs(5), ..PoolSettings::default() };
        let pool = Db::new(options, Arc::new(ConnectionCheck::new()), settings).unwrap();
        Some((db, pool))
    }

    /// A transaction dropped without commit (a request cancelled part-way) gives up its locks
    /// at once, not when its connection is next used: the `ROLLBACK` sqlx queues goes out when
    /// the connection comes back.
    #[tokio::test]
    async fn a_transaction_dropped_without_commit_gives_up_its_locks_at_once() {
        let Some((db, pool)) = one_connection("a_transaction_dropped_without_commit_gives_up_its_locks_at_once").await
        else {
            return;
        };
        let mut conn = pool.acquire().await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("SELECT pg_advisory_xact_lock(42)").execute(&mut *tx).await.unwrap();
        drop(tx);
        drop(conn);
        let mut other = PgConnection::connect(db.url()).await.unwrap();
        let free = async {
            loop {
                let (got,): (bool,) =
                    sqlx::query_as("SELECT pg_try_advisory_lock(42)").fetch_one(&mut other).await.unwrap();
                if got {
                    return;
                }
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), free).await.expect("the lock was given up");
        // The connection went back to the pool, usable.
        let (one,): (i32,) = sqlx::query_as("SELECT 1").fetch_one(&pool).await.unwrap();
        assert_eq!(one, 1);
        pool.close().await;
    }

    /// A transaction its node leaves open (the node's machine lost mid-transaction: no FIN
    /// reaches the server, which sees a session idle in its transaction) gives up its locks
    /// after the statement timeout, not when the server's TCP keepalive gives up (two hours
    /// by default). The node holding it here is alive and silent, which the server cannot
    /// tell from a lost one.
    #[tokio::test]
    async fn a_transaction_left_open_gives_up_its_locks_after_the_statement_timeout() {
        let test = "a_transaction_left_open_gives_up_its_locks_after_the_statement_timeout";
        let Some(db) = ScratchDatabase::create(test).await.unwrap() else { return };
        let options = PgConnectOptions::from_str(db.url()).unwrap();
        let settings =
            PoolSettings { size: 1, statement_timeout: Duration::from_millis(300), ..PoolSettings::default() };
        let pool = Db::new(options, Arc::new(ConnectionCheck::new()), settings).unwrap();
        let mut conn = pool.acquire().await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("SELECT pg_advisory_xact_lock(42)").execute(&mut *tx).await.unwrap();
        let mut other = PgConnection::connect(db.url()).await.unwrap();
        let taken = sqlx::query("SELECT pg_advisory_lock(42)").execute(&mut other);
        tokio::time::timeout(Duration::from_secs(10), taken).await.expect("the lock was given up").unwrap();
        let e = sqlx::query("SELECT 1").execute(&mut *tx).await.expect_err("the server ended the session");
        assert!(ends_the_session(&e), "{e}");
        // A limit the database sets is kept.
        drop(tx);
        drop(conn);
        let mut admin = PgConnection::connect(db.url()).await.unwrap();
        let set = "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET idle_in_transaction_session_timeout = 60000', current_database()); END $$";
        sqlx::raw_sql(set).execute(&mut admin).await.unwrap();
        pool.close().await;
        let options = PgConnectOptions::from_str(db.url()).unwrap();
        let pool = Db::new(options, Arc::new(ConnectionCheck::new()), settings).unwrap();
        let (limit,): (String,) = sqlx::query_as("SELECT current_setting('idle_in_transaction_session_timeout')")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(limit, "1min");
        pool.close().await;
    }

    /// A statement dropped part-way leaves nothing behind for the next statement on its
    /// connection (the only one here).
    #[tokio::test]
    async fn a_statement_dropped_part_way_leaves_nothing_for_the_next() {
        let Some((_db, pool)) = one_connection("a_statement_dropped_part_way_leaves_nothing_for_the_next").await else {
            return;
        };
        let slow = sqlx::query_as::<_, (i32,)>("SELECT 7 FROM pg_sleep(0.2)").fetch_one(&pool);
        assert!(tokio::time::timeout(Duration::from_millis(20), slow).await.is_err(), "dropped part-way");
        let (one,): (i32,) = sqlx::query_as("SELECT 1").fetch_one(&pool).await.unwrap();
        assert_eq!(one, 1, "the next statement reads its own result");
        pool.close().await;
    }

    /// A connection whose session the server ended (here a terminated backend, as an
    /// administrator or an idle timeout would) fails the statement that finds out, and only
    /// that one: it is closed, not pooled again, though it was used a moment before (so no
    /// test before use would catch it).
    #[tokio::test]
    async fn a_connection_the_server_ended_fails_one_statement_only() {
        let Some((db, pool)) = one_connection("a_connection_the_server_ended_fails_one_statement_only").await else {
            return;
        };
        let (pid,): (i32,) = sqlx::query_as("SELECT pg_backend_pid()").fetch_one(&pool).await.unwrap();
        let mut admin = PgConnection::connect(db.url()).await.unwrap();
        sqlx::query("SELECT pg_terminate_backend($1, 5000)").bind(pid).execute(&mut admin).await.unwrap();
        let e = sqlx::query("SELECT 1").execute(&pool).await.expect_err("the ended session fails a statement");
        assert!(ends_the_session(&e), "{e}");
        for _ in 0..3 {
            let (other,): (i32,) = sqlx::query_as("SELECT pg_backend_pid()").fetch_one(&pool).await.unwrap();
            assert_ne!(other, pid, "a new connection");
        }
        pool.close().await;
    }

    /// Closing the pool closes its idle connections, and refuses new statements.
    #[tokio::test]
    async fn closing_the_pool_closes_its_connections() {
        let Some(db) = ScratchDatabase::create("closing_the_pool_closes_its_connections").await.unwrap() else {
            return;
        };
        let options = PgConnectOptions::from_str(db.url()).unwrap();
        let settings = PoolSettings { size: 4, wait: Duration::from_secs(5), ..PoolSettings::default() };
        let pool = Db::new(options, Arc::new(ConnectionCheck::new()), settings).unwrap();
        let held = futures_util::future::try_join_all((0..3).map(|_| pool.acquire())).await.unwrap();
        drop(held);
        let mut watcher = PgConnection::connect(db.url()).await.unwrap();
        let count =
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()";
        let (open,): (i64,) = sqlx::query_as(count).fetch_one(&mut watcher).await.unwrap();
        assert_eq!(open, 3, "three idle connections in the pool");
        pool.close().await;
        let gone = async {
            loop {
                let (open,): (i64,) = sqlx::query_as(count).fetch_one(&mut watcher).await.unwrap();
                if open == 0 {
                    return;
                }
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), gone).await.expect("every connection closed");
        assert!(matches!(pool.acquire().await.err(), Some(sqlx::Error::PoolClosed)));
    }

    /// While nothing listens, a pool keeps trying for its whole wait (a short restart of the
    /// database delays a request instead of failing it), then gives up with the reason, as an
    /// error that makes the request's answer 503.
    /// (Real time: the wait is the pool's own, and only its lower bound is checked.)
    #[tokio::test]
    async fn a_database_that_cannot_be_reached_is_tried_for_the_whole_wait() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let options = PgConnectOptions::new().host("127.0.0.1").port(port).username("nobody");
        let wait = Duration::from_millis(300);
        let pool = Db::new(
            options,
            Arc::new(ConnectionCheck::new()),
            PoolSettings { size: 1, wait, ..PoolSettings::default() },
        )
        .unwrap();
        let started = Instant::now();
        let e = pool.acquire().await.err().expect("nothing listens");
        assert!(matches!(e, sqlx::Error::Io(_)), "the reason, not a bare time-out: {e}");
        assert!(is_unavailable(&e), "{e} counts as unavailable");
        assert!(started.elapsed() >= wait, "tried for {:?} of {wait:?}", started.elapsed());
    }
}
