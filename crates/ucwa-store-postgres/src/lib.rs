//! OpenUCWA's store for several nodes: PostgreSQL through sqlx. Any number of `ucwa-server`
//! processes may share one database; each opens its own [`PostgresStore`].
//!
//! # Layout
//! - `lib.rs`: [`PostgresStore`], opening (migrations run at start, under sqlx's advisory
//!   lock, so nodes starting together do not race) and the [`Store`] implementation.
//! - `events.rs`: the event log; sequence numbers and the lock order that keeps them right.
//! - `tenant.rs`: users, tokens, applications, sign-in failure windows, quotas.
//! - `presence.rs`: publications (presence, note, location), presence subscriptions, user
//!   search.
//! - `meetings.rs`: meetings and their sessions, compare-and-swap on the version.
//! - `service.rs`: service applications, callback routes, the outbox and its delivery lease.
//! - `retention.rs`: the bounded purge of finished meetings and ended applications.
//! - `notify.rs`: the doorbell across nodes (`LISTEN`/`NOTIFY`).
//! - `pool.rs`: the node's connections (`deadpool` around sqlx's `PgConnection`), which go
//!   back to the pool without a round trip, and whose statements wait for an answer a
//!   bounded time.
//! - [`scratch`]: a throwaway database per test (`UCWA_TEST_POSTGRES_URL`), and a link to it
//!   that a test can cut or silence.
//!
//! # Guarantees between nodes
//! - Per-application sequence numbers are gap-free and in commit order: they are allocated
//!   while holding the application's row lock, taken in id order (`events.rs` has the
//!   argument).
//! - A meeting is saved only if its stored version is still the one the command started
//!   from (`UPDATE ... WHERE version = $n`; the row lock makes a concurrent save wait and
//!   then fail the check), so the version stays the arbiter between nodes.
//! - Every commit that appended events sends `NOTIFY` (delivered by PostgreSQL only at
//!   commit); every node listens and rings its local [`Doorbell`]. A parked request re-reads
//!   the table on every ring, so a lost notification costs latency, never an event, and a
//!   listener that reconnects rings every parked request.
//! - Nothing is cached here: a row another node changed is read fresh
//!   ([`Store::sees_every_write`] is false).
//! - A pooled connection is tested before use only when it may be dead (idle for a while,
//!   or older than the node's last lost listening connection: `notify.rs`), not with a
//!   round trip before or after every statement (`pool.rs`).
//! - A service conversation's callbacks are delivered by whichever node holds its lease
//!   (`service.rs`).

mod events;
mod meetings;
mod notify;
mod pool;
mod presence;
mod retention;
pub mod scratch;
mod service;
mod tenant;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use ucwa_core::Doorbell;
use ucwa_core::channel::ChannelParams;
use ucwa_core::credentials::new_id;
use ucwa_core::meeting::Meeting;
use ucwa_core::model::{
    Application, DeliveredBatch, MeetingRecord, NewApplication, NewEvent, PresenceSubscription, Principal, Publication,
    PublicationChange, StoredEvent, TokenRecord, User,
};
use ucwa_core::service::{CallbackFailure, CallbackRoute, DueCallback, OutboxItem, ServiceApp};
use ucwa_core::store::{
    AckCleanup, DatabaseStats, MeetingSince, PollClaim, Purged, QuotaUsage, RequestScope, SessionLocation,
    SigninWindow, Store, StoreError, StoreResult,
};
use ucwa_core::stored;

use crate::notify::ConnectionCheck;
use crate::pool::Db;

/// Connections per node unless told otherwise (`--database-pool-size`). Each request holds
/// one for a query or a short transaction (never while parked); the listener has its own.
/// Statements are short (a fraction of a millisecond), so eight carry far more than a node's
/// own cores can send, while every connection running at once beyond the database's cores
/// adds lock waits and task switches, not throughput: on two shared cores, two nodes of 16
/// ran 7 % fewer join cycles than two of 8, for 12 % more database CPU per cycle
/// (docs/BENCHMARKS.md, issue 9, "Ninth look").
pub const DEFAULT_POOL_SIZE: u32 = 8;

/// How long, in milliseconds, a statement waits for a connection unless told otherwise
/// (`--database-wait-ms`).
pub const DEFAULT_POOL_WAIT_MS: u64 = 10_000;

/// How long, in milliseconds, a statement waits for the database's answer unless told
/// otherwise (`--database-statement-timeout-ms`). A request's statements take milliseconds,
/// the housekeeping's batches well under a second; ten seconds without an answer is a
/// database host that vanished or a database in deep trouble.
pub const DEFAULT_STATEMENT_TIMEOUT_MS: u64 = 10_000;

/// How a node uses its connections to the database.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Connections kept (at least one), besides the one that listens.
    pub size: u32,
    /// How long a statement waits for a connection (a free one, or a new one while the
    /// database cannot be reached) before it fails as unavailable: the longest a request
    /// waits for its 503 during a database restart or failover.
    pub wait: Duration,
    /// How long a statement, once on a connection, waits for the database's answer before it
    /// fails as unavailable and its connection is closed: the longest a request waits for its
    /// 503 when the database's host vanishes (no connection is closed, so nothing else would
    /// end the wait for a quarter of an hour). The node's own bound: PostgreSQL's
    /// `statement_timeout` is left as the database has it. Also how long the server keeps a
    /// session of the node idle in a transaction (`idle_in_transaction_session_timeout`,
    /// unless the database sets one), so a node lost mid-transaction does not hold its locks.
    pub statement_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            size: DEFAULT_POOL_SIZE,
            wait: Duration::from_millis(DEFAULT_POOL_WAIT_MS),
            statement_timeout: Duration::from_millis(DEFAULT_STATEMENT_TIMEOUT_MS),
        }
    }
}

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Whether `url`'s host part is a list (`host1:5432,host2:5432`), which sqlx would report only
/// as an "invalid port number". (A comma before the `@` is the user's or the password's.)
fn names_several_hosts(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    authority.rsplit_once('@').map_or(authority, |(_, host)| host).contains(',')
}

/// The PostgreSQL implementation of [`Store`].
pub struct PostgresStore {
    pool: Db,
    doorbell: Arc<Doorbell>,
    /// This process's name in `NOTIFY` payloads, so it skips the notifications of its own
    /// commits (it has rung for them already).
    node: String,
    background: Vec<tokio::task::JoinHandle<()>>,
}

/// A driver error as a [`StoreError`]. Besides a connection that fails or never comes free,
/// these SQLSTATEs pass: the connection classes (`08`), a server shutting down or starting
/// up (`57P01`-`57P03`), insufficient resources (class `53`: a full disk, out of memory, too
/// many connections; the statement was rolled back), a serialization failure or deadlock
/// (`40001`, `40P01`), a lock not available (`55P03`), a cancelled statement (`57014`, a
/// `statement_timeout` in the URL) and a read-only transaction (`25006`: a server turned
/// read-only under open connections; a new connection to one is refused, `pool.rs`).
fn db_error(e: sqlx::Error) -> StoreError {
    stored::sqlx_error(e, transient)
}

/// Whether [`db_error`] makes `e` unavailable (worth trying again in a moment).
fn is_unavailable(e: &sqlx::Error) -> bool {
    stored::sqlx_is_unavailable(e, transient)
}

fn transient(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(code, "57P01" | "57P02" | "57P03" | "40001" | "40P01" | "55P03" | "57014" | "25006")
}

/// Background upkeep, every second: deletes acknowledged events (kept off the delivery path,
/// see `events::save_batch`), pass by pass until one reaches the end of what was
/// acknowledged when it ran ([`AckCleanup::upkeep_tick`]). Every node runs it; nodes split
/// the work (`events::delete_acknowledged`).
async fn maintenance(pool: Db) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if pool.is_closed() {
            return;
        }
        pool.close_idle().await;
        if let Err(e) = AckCleanup::upkeep_tick(|limit| events::delete_acknowledged(&pool, limit)).await {
            tracing::warn!(error = %e, "deleting acknowledged events failed");
        }
    }
}

/// Reads each certificate and key file the connection names (`sslrootcert`, `sslcert` and
/// `sslkey` in the URL, or `PGSSLROOTCERT`, `PGSSLCERT` and `PGSSLKEY`), so that one that
/// cannot be read is refused at start under its own name: sqlx reads them on every connect
/// and reports only the operating system's error ("No such file or directory"), naming no
/// file. Inline PEM needs no check.
fn check_tls_files(options: &PgConnectOptions) -> StoreResult<()> {
    if matches!(options.get_ssl_mode(), PgSslMode::Disable) {
        return Ok(());
    }
    // sqlx has no getters for these; its URL rendering writes a file as "file: <path>".
    for (parameter, value) in options.to_url_lossy().query_pairs() {
        if !matches!(&*parameter, "sslrootcert" | "sslcert" | "sslkey") {
            continue;
        }
        if let Some(path) = value.strip_prefix("file: ") {
            std::fs::File::open(path)
                .map_err(|e| StoreError::Failed(format!("{parameter} {path} cannot be read: {e}")))?;
        }
    }
    Ok(())
}

/// Gives users stored before their search keys existed (migration 0008) their keys, folded
/// as `stored::search_key` folds, in one statement. Nodes opening at once may both do it,
/// with the same result.
async fn fill_search_keys(conn: &mut sqlx::PgConnection) -> StoreResult<()> {
    let stale: Vec<(String, String)> = sqlx::query_as("SELECT uri, display_name FROM users WHERE name_key IS NULL")
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
    if stale.is_empty() {
        return Ok(());
    }
    let uris: Vec<&str> = stale.iter().map(|(uri, _)| uri.as_str()).collect();
    let name_keys: Vec<String> = stale.iter().map(|(_, name)| stored::search_key(name)).collect();
    let uri_keys: Vec<String> = stale.iter().map(|(uri, _)| stored::search_key(uri)).collect();
    sqlx::query(
        "UPDATE users u SET name_key = k.name_key, uri_key = k.uri_key
         FROM unnest($1::text[], $2::text[], $3::text[]) AS k(uri, name_key, uri_key) WHERE u.uri = k.uri",
    )
    .bind(&uris)
    .bind(&name_keys)
    .bind(&uri_keys)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/database`, or
    /// `postgresql://`; libpq parameters such as `sslmode` in the query), applies pending
    /// migrations and starts listening for other nodes' commits.
    pub async fn open(url: &str) -> StoreResult<Self> {
        Self::open_with(url, PoolSettings::default()).await
    }

    /// [`PostgresStore::open`] with a pool as `settings` say.
    pub async fn open_with(url: &str, settings: PoolSettings) -> StoreResult<Self> {
        if names_several_hosts(url) {
            return Err(StoreError::Failed(
                "the database URL names several hosts (libpq's failover list), which the node's driver \
                 does not support: give one address, and let DNS, a virtual IP or a proxy follow the \
                 primary (a node keeps no connection to a server that only reads)"
                    .into(),
            ));
        }
        // No `extra_float_digits` in the startup packet (sqlx sends 2 by default): no column
        // here is a float, and PgBouncer refuses a startup parameter it does not track.
        let options = PgConnectOptions::from_str(url).map_err(db_error)?.extra_float_digits(None);
        // The URL's `application_name` (say, one per node) wins over the default.
        let options = match options.get_application_name() {
            Some(_) => options,
            None => options.application_name("ucwa-server"),
        };
        check_tls_files(&options)?;
        let check = Arc::new(ConnectionCheck::new());
        let pool = Db::new(options.clone(), check.clone(), settings).map_err(db_error)?;
        // Opened now, so a database that cannot be reached is noticed at start.
        let mut conn = pool.acquire().await.map_err(db_error)?;
        // Text travels and is kept as UTF-8. A database in another encoding would refuse the
        // characters it lacks one request at a time (500s), so it is refused here, before
        // anything is created in it.
        let (encoding,): (String,) = sqlx::query_as("SELECT current_setting('server_encoding')")
            .fetch_one(&mut *conn)
            .await
            .map_err(db_error)?;
        if encoding != "UTF8" {
            return Err(StoreError::Failed(format!(
                "the database's encoding is {encoding}; OpenUCWA needs a UTF8 database \
                 (CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0)"
            )));
        }
        // A DBA's `lock_timeout` or `statement_timeout` is for requests, not for a start-up:
        // a node waits for another node's migrations (sqlx's advisory lock, then the tables),
        // and a migration may take a while on a large table. This connection goes back to the
        // pool with the database's settings again.
        sqlx::raw_sql("SET lock_timeout = 0; SET statement_timeout = 0").execute(&mut *conn).await.map_err(db_error)?;
        sqlx::migrate!("./migrations")
            // `run` on a `&mut PgConnection` makes `open`'s future not `Send` (sqlx's
            // "`Acquire` is not general enough"); `run_direct` is sqlx's way around it.
            .run_direct(None, &mut *conn, false)
            .await
            .map_err(stored::migration_error)?;
        fill_search_keys(&mut conn).await?;
        sqlx::raw_sql("RESET lock_timeout; RESET statement_timeout").execute(&mut *conn).await.map_err(db_error)?;
        drop(conn);
        let doorbell = Arc::new(Doorbell::new());
        let node = new_id();
        let mut background = notify::Listener::start(&pool, options, node.clone(), doorbell.clone(), check).await?;
        background.push(tokio::spawn(maintenance(pool.clone())));
        Ok(Self { pool, doorbell, node, background })
    }

    /// This node's id in notifications and callback leases.
    pub fn node_id(&self) -> &str {
        &self.node
    }

    /// Rings the applications of a committed transaction; `None` means it did not commit.
    fn ring_if_committed(&self, rung: Option<Vec<String>>) -> bool {
        match rung {
            Some(apps) => {
                self.doorbell.ring(apps.iter().map(String::as_str));
                true
            }
            None => false,
        }
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn doorbell(&self) -> &Doorbell {
        &self.doorbell
    }

    fn database_stats(&self) -> Option<DatabaseStats> {
        Some(self.pool.stats())
    }

    async fn upsert_user(&self, user: &User) -> StoreResult<bool> {
        tenant::upsert_user(&self.pool, user).await
    }

    async fn find_user(&self, uri: &str) -> StoreResult<Option<User>> {
        tenant::find_user(&self.pool, uri).await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        tenant::list_users(&self.pool).await
    }

    async fn search_users(&self, query: &str, limit: u32) -> StoreResult<Vec<User>> {
        presence::search_users(&self.pool, query, limit).await
    }

    async fn publication(&self, uri: &str) -> StoreResult<Publication> {
        presence::publication(&self.pool, uri).await
    }

    async fn publish(
        &self,
        uri: &str,
        change: &PublicationChange,
        events: Vec<NewEvent>,
        now_ms: i64,
    ) -> StoreResult<()> {
        let rung = self.pool.bounded(presence::publish(&self.pool, &self.node, uri, change, &events, now_ms)).await?;
        self.doorbell.ring(rung.iter().map(String::as_str));
        Ok(())
    }

    async fn insert_presence_subscription(
        &self,
        subscription: &PresenceSubscription,
        max_live: u32,
        now_ms: i64,
    ) -> StoreResult<bool> {
        self.pool.bounded(presence::insert_subscription(&self.pool, subscription, max_live, now_ms)).await
    }

    async fn presence_subscriptions(&self, app_id: &str, now_ms: i64) -> StoreResult<Vec<PresenceSubscription>> {
        presence::subscriptions(&self.pool, app_id, now_ms).await
    }

    async fn update_presence_subscription(
        &self,
        app_id: &str,
        id: &str,
        expires_ms: Option<i64>,
        uris: &[String],
        now_ms: i64,
    ) -> StoreResult<bool> {
        self.pool.bounded(presence::update_subscription(&self.pool, app_id, id, expires_ms, uris, now_ms)).await
    }

    async fn delete_presence_subscription(&self, app_id: &str, id: &str) -> StoreResult<bool> {
        presence::delete_subscription(&self.pool, app_id, id).await
    }

    async fn presence_watchers(&self, uri: &str, now_ms: i64) -> StoreResult<Vec<String>> {
        presence::watchers(&self.pool, uri, now_ms).await
    }

    async fn purge_expired_presence_subscriptions(&self, now_ms: i64) -> StoreResult<u64> {
        presence::purge_expired(&self.pool, now_ms).await
    }

    async fn insert_token(&self, token: &TokenRecord) -> StoreResult<()> {
        tenant::insert_token(&self.pool, token).await
    }

    async fn find_token(&self, hash: &[u8], now_ms: i64) -> StoreResult<Option<TokenRecord>> {
        tenant::find_token(&self.pool, hash, now_ms).await
    }

    async fn find_request_scope(
        &self,
        hash: &[u8],
        now_ms: i64,
        app_id: &str,
        session_id: Option<&str>,
    ) -> StoreResult<Option<RequestScope>> {
        tenant::find_request_scope(&self.pool, hash, now_ms, app_id, session_id).await
    }

    async fn purge_expired_tokens(&self, now_ms: i64) -> StoreResult<u64> {
        tenant::purge_expired_tokens(&self.pool, now_ms).await
    }

    async fn signin_failures(&self, key: &str, now_ms: i64) -> StoreResult<Option<SigninWindow>> {
        tenant::signin_failures(&self.pool, key, now_ms).await
    }

    async fn record_signin_failure(&self, key: &str, now_ms: i64, window_ms: i64) -> StoreResult<()> {
        tenant::record_signin_failure(&self.pool, key, now_ms, window_ms).await
    }

    async fn revoke_tokens(&self, principal: &Principal) -> StoreResult<u64> {
        tenant::revoke_tokens(&self.pool, principal).await
    }

    async fn create_application(
        &self,
        new: &NewApplication,
        params: ChannelParams,
        now_ms: i64,
    ) -> StoreResult<(Application, bool)> {
        tenant::create_application(&self.pool, new, params, now_ms).await
    }

    async fn application(&self, id: &str) -> StoreResult<Option<Application>> {
        tenant::application(&self.pool, id).await
    }

    async fn online_applications(&self, uri: &str) -> StoreResult<Vec<Application>> {
        tenant::online_applications(&self.pool, uri).await
    }

    async fn quota_usage(&self, uri: &str, now_ms: i64) -> StoreResult<QuotaUsage> {
        tenant::quota_usage(&self.pool, uri, now_ms).await
    }

    async fn delete_application(&self, id: &str) -> StoreResult<bool> {
        self.pool.bounded(tenant::delete_application(&self.pool, id)).await
    }

    async fn make_available(&self, id: &str, events: Vec<NewEvent>, now_ms: i64) -> StoreResult<bool> {
        let rung = self.pool.bounded(tenant::make_available(&self.pool, &self.node, id, &events, now_ms)).await?;
        Ok(self.ring_if_committed(rung))
    }

    async fn touch_channel(&self, id: &str, params: ChannelParams, now_ms: i64) -> StoreResult<()> {
        tenant::touch_channel(&self.pool, id, params, now_ms).await
    }

    async fn expire_idle_applications(&self, idle_before_ms: i64, busy: &[String]) -> StoreResult<Vec<String>> {
        tenant::expire_idle_applications(&self.pool, idle_before_ms, busy).await
    }

    async fn append_events(&self, events: Vec<NewEvent>, now_ms: i64) -> StoreResult<()> {
        let rung = events::append(&self.pool, &self.node, &events, now_ms).await?;
        self.doorbell.ring(rung.iter().map(String::as_str));
        Ok(())
    }

    async fn claim_poll(
        &self,
        app_id: &str,
        claim: PollClaim,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Option<(u64, Vec<StoredEvent>)>> {
        tenant::claim_poll(&self.pool, &self.node, app_id, claim, after_seq, limit).await
    }

    async fn poll_holder(&self, app_id: &str) -> StoreResult<Option<u64>> {
        tenant::poll_holder(&self.pool, app_id).await
    }

    async fn release_poll(&self, app_id: &str, ticket: u64, now_ms: i64) -> StoreResult<()> {
        tenant::release_poll(&self.pool, app_id, ticket, now_ms).await
    }

    async fn events_after(&self, app_id: &str, after_seq: i64, limit: u32) -> StoreResult<Vec<StoredEvent>> {
        events::after(&self.pool, app_id, after_seq, limit).await
    }

    async fn save_batch(
        &self,
        app_id: &str,
        batch: &DeliveredBatch,
        previous_no: u64,
        now_ms: i64,
    ) -> StoreResult<bool> {
        events::save_batch(&self.pool, app_id, batch, previous_no, None, now_ms).await
    }

    async fn save_batch_and_release(
        &self,
        app_id: &str,
        batch: &DeliveredBatch,
        previous_no: u64,
        ticket: u64,
        now_ms: i64,
    ) -> StoreResult<bool> {
        events::save_batch(&self.pool, app_id, batch, previous_no, Some(ticket), now_ms).await
    }

    async fn delivered_batch(&self, app_id: &str, no: u64) -> StoreResult<Option<String>> {
        tenant::delivered_batch(&self.pool, app_id, no).await
    }

    async fn delete_acknowledged_events(&self, limit: u32) -> StoreResult<AckCleanup> {
        events::delete_acknowledged(&self.pool, limit).await
    }

    async fn insert_meeting(&self, record: &MeetingRecord) -> StoreResult<()> {
        meetings::insert(&self.pool, record).await
    }

    async fn meeting(&self, id: &str) -> StoreResult<Option<MeetingRecord>> {
        meetings::get(&self.pool, id).await
    }

    async fn meeting_version(&self, id: &str) -> StoreResult<Option<u64>> {
        meetings::version(&self.pool, id).await
    }

    async fn meeting_if_changed(&self, id: &str, version: u64) -> StoreResult<MeetingSince> {
        meetings::if_changed(&self.pool, id, version).await
    }

    async fn meetings_organized_by(&self, uri: &str, limit: u32) -> StoreResult<Vec<MeetingRecord>> {
        meetings::organized_by(&self.pool, uri, limit).await
    }

    async fn meetings_after(&self, after_id: &str, limit: u32) -> StoreResult<Vec<MeetingRecord>> {
        meetings::after(&self.pool, after_id, limit).await
    }

    async fn save_meeting(
        &self,
        after: &MeetingRecord,
        before: &Meeting,
        events: Vec<NewEvent>,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let rung = meetings::save(&self.pool, &self.node, after, before, &events, now_ms).await?;
        Ok(self.ring_if_committed(rung))
    }

    async fn delete_meeting(&self, id: &str, version: u64, events: Vec<NewEvent>, now_ms: i64) -> StoreResult<bool> {
        let rung = meetings::delete(&self.pool, &self.node, id, version, &events, now_ms).await?;
        Ok(self.ring_if_committed(rung))
    }

    async fn session_location(&self, session_id: &str) -> StoreResult<Option<SessionLocation>> {
        meetings::location(&self.pool, session_id).await
    }

    async fn find_operation(&self, app_id: &str, operation_id: &str) -> StoreResult<Option<SessionLocation>> {
        meetings::of_operation(&self.pool, app_id, operation_id).await
    }

    async fn sessions_of_application(&self, app_id: &str) -> StoreResult<Vec<SessionLocation>> {
        meetings::of_application(&self.pool, app_id).await
    }

    async fn meetings_due(&self, now_ms: i64) -> StoreResult<Vec<String>> {
        meetings::due(&self.pool, now_ms).await
    }

    async fn upsert_service_app(&self, app: &ServiceApp) -> StoreResult<bool> {
        service::upsert_service_app(&self.pool, app).await
    }

    async fn find_service_app(&self, uri: &str) -> StoreResult<Option<ServiceApp>> {
        service::find_service_app(&self.pool, uri).await
    }

    async fn list_service_apps(&self) -> StoreResult<Vec<ServiceApp>> {
        service::list_service_apps(&self.pool).await
    }

    async fn insert_callback_route(&self, route: &CallbackRoute) -> StoreResult<()> {
        service::insert_route(&self.pool, route).await
    }

    async fn delete_callback_route(&self, session_id: &str) -> StoreResult<()> {
        self.pool.bounded(service::delete_route(&self.pool, session_id)).await
    }

    async fn claim_callbacks(
        &self,
        node: &str,
        now_ms: i64,
        lease_until_ms: i64,
        per_app: u32,
        limit: u32,
    ) -> StoreResult<Vec<DueCallback>> {
        self.pool.bounded(service::claim(&self.pool, node, now_ms, lease_until_ms, per_app, limit)).await
    }

    async fn renew_callback_lease(&self, session_id: &str, node: &str, lease_until_ms: i64) -> StoreResult<bool> {
        service::renew_lease(&self.pool, session_id, node, lease_until_ms).await
    }

    async fn release_callback_lease(&self, session_id: &str, node: &str) -> StoreResult<()> {
        service::release_lease(&self.pool, session_id, node).await
    }

    async fn callback_batch(
        &self,
        session_id: &str,
        limit: u32,
    ) -> StoreResult<Option<(CallbackRoute, Vec<OutboxItem>)>> {
        service::batch(&self.pool, session_id, limit).await
    }

    async fn pin_callback_batch(&self, session_id: &str, through_id: i64) -> StoreResult<()> {
        service::pin_batch(&self.pool, session_id, through_id).await
    }

    async fn callback_delivered(&self, session_id: &str, through_id: i64, context: Option<&str>) -> StoreResult<()> {
        self.pool.bounded(service::delivered(&self.pool, session_id, through_id, context)).await
    }

    async fn callback_attempt_failed(&self, session_id: &str, next_attempt_ms: i64) -> StoreResult<u32> {
        service::attempt_failed(&self.pool, session_id, next_attempt_ms).await
    }

    async fn callback_give_up(&self, session_id: &str, last_error: &str, now_ms: i64) -> StoreResult<()> {
        self.pool.bounded(service::give_up(&self.pool, session_id, last_error, now_ms)).await
    }

    async fn callback_failures(&self) -> StoreResult<Vec<CallbackFailure>> {
        service::failures(&self.pool).await
    }

    async fn purge_callback_routes(&self, before_ms: i64) -> StoreResult<u64> {
        service::purge_routes(&self.pool, before_ms).await
    }

    async fn purge_finished(&self, before_ms: i64, limit: u32) -> StoreResult<Purged> {
        retention::purge_finished(&self.pool, before_ms, limit).await
    }

    async fn close(&self) {
        for task in &self.background {
            task.abort();
        }
        self.pool.close().await;
    }
}
