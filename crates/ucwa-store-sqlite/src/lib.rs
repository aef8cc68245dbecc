//! OpenUCWA's embedded store: SQLite, one file, no server to run.
//!
//! Three ways in: every write goes to one rusqlite connection on a thread of its own
//! (`writer`: whole transactions per hand-off, group commit); the hot point reads run inline
//! on rusqlite connections (`reads`); reads that scan, and the migrations, use sqlx.
//!
//! Write transactions start with `BEGIN IMMEDIATE`, so a transaction that reads and then
//! writes never has to upgrade its lock (the source of `SQLITE_BUSY` deadlocks); SQLite
//! serialises writers, which also makes per-application sequence allocation trivially
//! gap-free and in commit order. The database runs in WAL mode so readers (parked event
//! requests) never block the writer.
//!
//! After each commit that appended events, the store rings its [`Doorbell`] for the
//! applications concerned; nothing is rung for a rolled-back transaction.
//!
//! Applications are cached in memory: every authenticated request reads its application,
//! and a SQLite database has exactly one server process writing it (the embedded,
//! single-node mode), so this process sees every change and drops the cached copy on each
//! write. A multi-node backend cannot do this without a version check.
//!
//! Behaviour is specified by the conformance suite (`ucwa-store-conformance`), which
//! `tests/conformance.rs` runs against a real file; `tests/upgrade.rs` checks what opening
//! a database of an earlier release does to its rows.
//!
//! # Layout
//! - `writer`: the writing connection's thread and group commit.
//! - `reads`: the connections of the inline point reads.
//! - `tenant`: users, tokens, applications and their idle expiry.
//! - `events`: the event log, the delivered batch, acknowledgement cleanup by key.
//! - `meetings`: meeting headers and session rows, compare-and-swap saves.
//! - `presence`: what users publish (presence, note, location), presence subscriptions,
//!   user search.
//! - `service`: service application endpoints, callback routes and the outbox.
//! - `retention`: deleting what finished long ago, in bounded steps.
//! - this file: opening the database, the upkeep task, the application cache, the `Store`
//!   implementation.

mod events;
mod meetings;
mod presence;
mod reads;
mod retention;
mod service;
mod tenant;
mod writer;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use ucwa_core::Doorbell;
use ucwa_core::channel::ChannelParams;
use ucwa_core::meeting::Meeting;
use ucwa_core::model::{
    Application, DeliveredBatch, MeetingRecord, NewApplication, NewEvent, PresenceSubscription, Principal, Publication,
    PublicationChange, StoredEvent, TokenRecord, User,
};
use ucwa_core::service::{CallbackFailure, CallbackRoute, DueCallback, OutboxItem, ServiceApp};
use ucwa_core::store::{
    AckCleanup, PollClaim, Purged, QuotaUsage, SessionLocation, SigninWindow, Store, StoreError, StoreResult,
};

use crate::writer::Writer;

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    /// Connections for reads that scan (listings, housekeeping).
    readers: SqlitePool,
    /// Connections for the hot point reads, run inline (see `reads`).
    reads: reads::Reads,
    /// The one connection that writes, on its own thread (see `writer`).
    writer: Arc<Writer>,
    doorbell: Doorbell,
    /// Read-through cache of application rows; entries are dropped on every write to them.
    /// A `std` mutex: held for a map operation only, never across `.await`.
    apps: Mutex<HashMap<String, Application>>,
    /// Bumped after every application write. A reader caches what it read only if no write
    /// finished meanwhile: otherwise a read that began before a commit could cache the old
    /// row after the writer had already dropped it.
    app_writes: AtomicU64,
    maintenance: tokio::task::JoinHandle<()>,
    /// Callback delivery leases by session id. One process uses a SQLite database, so the
    /// leases live in its memory; they keep this node's own worker from delivering a
    /// conversation twice at once and count an endpoint's conversations in flight. A `std`
    /// mutex, never held across `.await`.
    leases: Mutex<HashMap<String, Lease>>,
}

/// Who delivers a conversation's callbacks, until when, and for which application.
struct Lease {
    node: String,
    until_ms: i64,
    app_id: String,
}

/// Background upkeep, every second: deletes acknowledged events (kept off the delivery
/// path, see `events::save_batch`) and copies the write-ahead log back into the database.
/// The checkpoint is `PASSIVE`: it never waits for readers or writers, so a parked request
/// or a commit is never held up by it.
async fn maintenance(readers: SqlitePool, writer: Arc<Writer>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if readers.is_closed() {
            return;
        }
        // Look first (a read), write only when there is something to delete: a needless
        // write would still queue behind, and in front of, real ones.
        match events::any_acknowledged(&readers).await {
            Ok(true) => {
                let pass = |limit| writer.run(move |conn| events::delete_acknowledged(conn, limit));
                if let Err(e) = AckCleanup::upkeep_tick(pass).await {
                    tracing::warn!(error = %e, "deleting acknowledged events failed");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "looking for acknowledged events failed"),
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&readers).await {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

/// A driver error as a [`StoreError`]: besides a connection that fails or never comes free,
/// a database busy or locked past the busy timeout (another process writing) passes.
fn db_error(e: sqlx::Error) -> StoreError {
    ucwa_core::stored::sqlx_error(e, |code| code.parse::<i32>().is_ok_and(writer::is_transient))
}

/// Runs `upsert` (an `INSERT ... ON CONFLICT DO UPDATE`) on the writer; `true` when it
/// created the row, i.e. `exists` (`SELECT 1 ... WHERE <key> = ?`) found none for `key`.
fn upsert_created(
    conn: &rusqlite::Connection,
    exists: &'static str,
    key: &str,
    upsert: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<usize>,
) -> StoreResult<bool> {
    let existed = conn.prepare_cached(exists).and_then(|mut s| s.exists([key])).map_err(writer::sql_error)?;
    upsert(conn).map_err(writer::sql_error)?;
    Ok(!existed)
}

/// Gives users stored before their search keys existed (migration 0015) their keys, folded
/// as `stored::search_key` folds, in one transaction.
async fn fill_search_keys(setup: &SqlitePool) -> StoreResult<()> {
    let stale: Vec<(String, String)> = sqlx::query_as("SELECT uri, display_name FROM users WHERE name_key IS NULL")
        .fetch_all(setup)
        .await
        .map_err(db_error)?;
    if stale.is_empty() {
        return Ok(());
    }
    let mut tx = setup.begin().await.map_err(db_error)?;
    for (uri, name) in &stale {
        sqlx::query("UPDATE users SET name_key = ?, uri_key = ? WHERE uri = ?")
            .bind(ucwa_core::stored::search_key(name))
            .bind(ucwa_core::stored::search_key(uri))
            .bind(uri)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
    }
    tx.commit().await.map_err(db_error)
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path/to/file.db`) and
    /// applies pending migrations. Parent directories are created too.
    pub async fn open(url: &str) -> StoreResult<Self> {
        Self::open_with(url, true).await
    }

    /// Opens the database at `url` only if it exists (the source of `store copy`).
    pub async fn open_existing(url: &str) -> StoreResult<Self> {
        Self::open_with(url, false).await
    }

    async fn open_with(url: &str, create: bool) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(db_error)?
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across application crashes in WAL mode; only an OS crash or
            // power loss can lose the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            // Checkpoints run in the background (see `maintenance`), not inside whichever
            // commit happens to cross the WAL size limit: that commit would pay for copying
            // pages and syncing the database file, which is where the latency tail came from.
            .pragma("wal_autocheckpoint", "0")
            .foreign_keys(true);
        if !create && !options.get_filename().exists() {
            return Err(StoreError::Failed(format!("{} does not exist", options.get_filename().display())));
        }
        if let Some(parent) = options.get_filename().parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Failed(format!("cannot create {}: {e}", parent.display())))?;
        }
        // Migrations run on a connection of their own before anything else opens the file.
        let setup =
            SqlitePoolOptions::new().max_connections(1).connect_with(options.clone()).await.map_err(db_error)?;
        sqlx::migrate!("./migrations").run(&setup).await.map_err(ucwa_core::stored::migration_error)?;
        fill_search_keys(&setup).await?;
        setup.close().await;
        // One connection writes (`writer`: its own thread, whole transactions, group
        // commit); the others read. SQLite admits one writer at a time anyway, and letting
        // several connections race for its lock makes the losers sleep in SQLite's busy
        // handler (millisecond naps, the source of the latency tail under load). WAL lets
        // readers run meanwhile.
        let writer = Arc::new(Writer::open(options.get_filename())?);
        let reads = reads::Reads::new(options.get_filename().to_owned());
        let readers = SqlitePoolOptions::new().max_connections(6).connect_with(options).await.map_err(db_error)?;
        let maintenance = tokio::spawn(maintenance(readers.clone(), writer.clone()));
        Ok(Self {
            readers,
            reads,
            writer,
            doorbell: Doorbell::new(),
            apps: Mutex::new(HashMap::new()),
            app_writes: AtomicU64::new(0),
            maintenance,
            leases: Mutex::new(HashMap::new()),
        })
    }

    fn cached_app(&self, id: &str) -> Option<Application> {
        self.apps.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    fn cache_app(&self, app: &Application, writes_before_read: u64) {
        let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        if self.app_writes.load(Ordering::Acquire) != writes_before_read {
            return;
        }
        // Bounded: a full cache starts over rather than growing with every application ever seen.
        if apps.len() >= 100_000 {
            apps.clear();
        }
        apps.insert(app.id.clone(), app.clone());
    }

    /// Applies a committed write to the cached row, if there is one.
    fn update_cached_app(&self, id: &str, change: impl FnOnce(&mut Application)) {
        let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        self.app_writes.fetch_add(1, Ordering::AcqRel);
        if let Some(app) = apps.get_mut(id) {
            change(app);
        }
    }

    /// Call after a write to these applications has committed (or failed).
    fn forget_apps<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        self.app_writes.fetch_add(1, Ordering::AcqRel);
        for id in ids {
            apps.remove(id);
        }
    }
}

impl SqliteStore {
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
impl Store for SqliteStore {
    fn doorbell(&self) -> &Doorbell {
        &self.doorbell
    }

    /// One server process per database file: the embedded mode.
    fn sees_every_write(&self) -> bool {
        true
    }

    async fn upsert_user(&self, user: &User) -> StoreResult<bool> {
        let user = user.clone();
        self.writer.run(move |c| tenant::upsert_user(c, &user)).await
    }

    async fn find_user(&self, uri: &str) -> StoreResult<Option<User>> {
        tenant::find_user(&self.readers, uri).await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        tenant::list_users(&self.readers).await
    }

    async fn search_users(&self, query: &str, limit: u32) -> StoreResult<Vec<User>> {
        presence::search_users(&self.readers, query, limit).await
    }

    async fn publication(&self, uri: &str) -> StoreResult<Publication> {
        presence::publication(&self.readers, uri).await
    }

    async fn publish(
        &self,
        uri: &str,
        change: &PublicationChange,
        events: Vec<NewEvent>,
        now_ms: i64,
    ) -> StoreResult<()> {
        let (uri, change, rows) = (uri.to_owned(), change.clone(), events::rows(events));
        let rung = self.writer.run(move |c| presence::publish(c, &uri, &change, &rows, now_ms)).await?;
        self.doorbell.ring(rung.iter().map(String::as_str));
        Ok(())
    }

    async fn insert_presence_subscription(
        &self,
        subscription: &PresenceSubscription,
        max_live: u32,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let subscription = subscription.clone();
        self.writer.run(move |c| presence::insert_subscription(c, &subscription, max_live, now_ms)).await
    }

    async fn presence_subscriptions(&self, app_id: &str, now_ms: i64) -> StoreResult<Vec<PresenceSubscription>> {
        presence::subscriptions(&self.readers, app_id, now_ms).await
    }

    async fn update_presence_subscription(
        &self,
        app_id: &str,
        id: &str,
        expires_ms: Option<i64>,
        uris: &[String],
        now_ms: i64,
    ) -> StoreResult<bool> {
        let (app_id, id, uris) = (app_id.to_owned(), id.to_owned(), uris.to_vec());
        self.writer.run(move |c| presence::update_subscription(c, &app_id, &id, expires_ms, &uris, now_ms)).await
    }

    async fn delete_presence_subscription(&self, app_id: &str, id: &str) -> StoreResult<bool> {
        let (app_id, id) = (app_id.to_owned(), id.to_owned());
        self.writer.run(move |c| presence::delete_subscription(c, &app_id, &id)).await
    }

    async fn presence_watchers(&self, uri: &str, now_ms: i64) -> StoreResult<Vec<String>> {
        presence::watchers(&self.readers, uri, now_ms).await
    }

    async fn purge_expired_presence_subscriptions(&self, now_ms: i64) -> StoreResult<u64> {
        self.writer.run(move |c| presence::purge_expired(c, now_ms)).await
    }

    async fn insert_token(&self, token: &TokenRecord) -> StoreResult<()> {
        let token = token.clone();
        self.writer.run(move |c| tenant::insert_token(c, &token)).await
    }

    async fn find_token(&self, hash: &[u8], now_ms: i64) -> StoreResult<Option<TokenRecord>> {
        tenant::find_token(&self.readers, hash, now_ms).await
    }

    async fn purge_expired_tokens(&self, now_ms: i64) -> StoreResult<u64> {
        self.writer.run(move |c| tenant::purge_expired_tokens(c, now_ms)).await
    }

    async fn signin_failures(&self, key: &str, now_ms: i64) -> StoreResult<Option<SigninWindow>> {
        tenant::signin_failures(&self.readers, key, now_ms).await
    }

    async fn record_signin_failure(&self, key: &str, now_ms: i64, window_ms: i64) -> StoreResult<()> {
        let key = key.to_owned();
        self.writer.run(move |c| tenant::record_signin_failure(c, &key, now_ms, window_ms)).await
    }

    async fn quota_usage(&self, uri: &str, now_ms: i64) -> StoreResult<QuotaUsage> {
        tenant::quota_usage(&self.readers, uri, now_ms).await
    }

    async fn revoke_tokens(&self, principal: &Principal) -> StoreResult<u64> {
        let principal = principal.clone();
        self.writer.run(move |c| tenant::revoke_tokens(c, &principal)).await
    }

    async fn create_application(
        &self,
        new: &NewApplication,
        params: ChannelParams,
        now_ms: i64,
    ) -> StoreResult<(Application, bool)> {
        let new = new.clone();
        self.writer.run(move |c| tenant::create_application(c, &new, params, now_ms)).await
    }

    async fn application(&self, id: &str) -> StoreResult<Option<Application>> {
        if let Some(app) = self.cached_app(id) {
            return Ok(Some(app));
        }
        let writes = self.app_writes.load(Ordering::Acquire);
        let app = self.reads.with(|c| tenant::application(c, id))?;
        if let Some(app) = &app {
            self.cache_app(app, writes);
        }
        Ok(app)
    }

    async fn online_applications(&self, uri: &str) -> StoreResult<Vec<Application>> {
        tenant::online_applications(&self.readers, uri).await
    }

    async fn delete_application(&self, id: &str) -> StoreResult<bool> {
        let owned = id.to_owned();
        let deleted = self.writer.run(move |c| tenant::delete_application(c, &owned)).await;
        self.forget_apps([id]);
        deleted
    }

    async fn make_available(&self, id: &str, events: Vec<NewEvent>, now_ms: i64) -> StoreResult<bool> {
        let (owned, rows) = (id.to_owned(), events::rows(events));
        let made = self.writer.run(move |c| tenant::make_available(c, &owned, &rows, now_ms)).await;
        self.forget_apps([id]);
        Ok(self.ring_if_committed(made?))
    }

    async fn touch_channel(&self, id: &str, params: ChannelParams, now_ms: i64) -> StoreResult<()> {
        let owned = id.to_owned();
        let touched = self.writer.run(move |c| tenant::touch_channel(c, &owned, params, now_ms)).await;
        self.forget_apps([id]);
        touched
    }

    async fn expire_idle_applications(&self, idle_before_ms: i64, busy: &[String]) -> StoreResult<Vec<String>> {
        // A read first: the write transaction only when something is idle.
        if !tenant::any_idle(&self.readers, idle_before_ms).await? {
            return Ok(Vec::new());
        }
        let busy = busy.to_vec();
        let expired = self.writer.run(move |c| tenant::expire_idle_applications(c, idle_before_ms, &busy)).await?;
        self.forget_apps(expired.iter().map(String::as_str));
        Ok(expired)
    }

    async fn append_events(&self, events: Vec<NewEvent>, now_ms: i64) -> StoreResult<()> {
        let rows = events::rows(events);
        let rung = self.writer.run(move |c| events::append(c, &rows, now_ms)).await?;
        self.doorbell.ring(rung.iter().map(String::as_str));
        Ok(())
    }

    /// One process writes this database: its own table of parked requests decides.
    async fn claim_poll(
        &self,
        app_id: &str,
        _claim: PollClaim,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Option<(u64, Vec<StoredEvent>)>> {
        Ok(Some((0, self.events_after(app_id, after_seq, limit).await?)))
    }

    async fn poll_holder(&self, _app_id: &str) -> StoreResult<Option<u64>> {
        Ok(Some(0))
    }

    async fn release_poll(&self, _app_id: &str, _ticket: u64, _now_ms: i64) -> StoreResult<()> {
        Ok(())
    }

    async fn events_after(&self, app_id: &str, after_seq: i64, limit: u32) -> StoreResult<Vec<StoredEvent>> {
        self.reads.with(|c| events::after(c, app_id, after_seq, limit))
    }

    async fn save_batch(
        &self,
        app_id: &str,
        batch: &DeliveredBatch,
        previous_no: u64,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let (owned, delivered) = (app_id.to_owned(), batch.clone());
        let saved = self.writer.run(move |c| events::save_batch(c, &owned, &delivered, previous_no, now_ms)).await;
        match saved {
            // Every poll saves a batch; keeping the cached row current (rather than dropping
            // it) spares the next poll a read.
            Ok(true) => self.update_cached_app(app_id, |app| {
                app.delivered = batch.mark();
                app.last_seen_ms = now_ms;
            }),
            _ => self.forget_apps([app_id]),
        }
        saved
    }

    async fn delivered_batch(&self, app_id: &str, no: u64) -> StoreResult<Option<String>> {
        self.reads.with(|c| events::delivered_batch(c, app_id, no))
    }

    async fn delete_acknowledged_events(&self, limit: u32) -> StoreResult<AckCleanup> {
        self.writer.run(move |c| events::delete_acknowledged(c, limit)).await
    }

    async fn insert_meeting(&self, record: &MeetingRecord) -> StoreResult<()> {
        let header = meetings::Header::of(record, record.created_ms)?;
        let (join_url, created_ms) = (record.join_url.clone(), record.created_ms);
        self.writer.run(move |c| meetings::insert(c, &header, &join_url, created_ms)).await
    }

    async fn meeting(&self, id: &str) -> StoreResult<Option<MeetingRecord>> {
        self.reads.with(|c| meetings::get(c, id))
    }

    async fn meeting_version(&self, id: &str) -> StoreResult<Option<u64>> {
        self.reads.with(|c| meetings::version(c, id))
    }

    async fn meetings_organized_by(&self, uri: &str, limit: u32) -> StoreResult<Vec<MeetingRecord>> {
        meetings::organized_by(&self.readers, uri, limit).await
    }

    async fn meetings_after(&self, after_id: &str, limit: u32) -> StoreResult<Vec<MeetingRecord>> {
        meetings::after(&self.readers, after_id, limit).await
    }

    async fn save_meeting(
        &self,
        after: &MeetingRecord,
        before: &Meeting,
        events: Vec<NewEvent>,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let save = meetings::Save::new(after, before, events, now_ms)?;
        let rung = self.writer.run(move |c| meetings::save(c, &save, now_ms)).await?;
        Ok(self.ring_if_committed(rung))
    }

    async fn delete_meeting(&self, id: &str, version: u64, events: Vec<NewEvent>, now_ms: i64) -> StoreResult<bool> {
        let (owned, rows) = (id.to_owned(), events::rows(events));
        let rung = self.writer.run(move |c| meetings::delete(c, &owned, version, &rows, now_ms)).await?;
        Ok(self.ring_if_committed(rung))
    }

    async fn session_location(&self, session_id: &str) -> StoreResult<Option<SessionLocation>> {
        self.reads.with(|c| meetings::location(c, session_id))
    }

    async fn find_operation(&self, app_id: &str, operation_id: &str) -> StoreResult<Option<SessionLocation>> {
        meetings::of_operation(&self.readers, app_id, operation_id).await
    }

    async fn sessions_of_application(&self, app_id: &str) -> StoreResult<Vec<SessionLocation>> {
        meetings::of_application(&self.readers, app_id).await
    }

    async fn meetings_due(&self, now_ms: i64) -> StoreResult<Vec<String>> {
        meetings::due(&self.readers, now_ms).await
    }

    async fn upsert_service_app(&self, app: &ServiceApp) -> StoreResult<bool> {
        let app = app.clone();
        self.writer.run(move |c| service::upsert_service_app(c, &app)).await
    }

    async fn find_service_app(&self, uri: &str) -> StoreResult<Option<ServiceApp>> {
        service::find_service_app(&self.readers, uri).await
    }

    async fn list_service_apps(&self) -> StoreResult<Vec<ServiceApp>> {
        service::list_service_apps(&self.readers).await
    }

    async fn insert_callback_route(&self, route: &CallbackRoute) -> StoreResult<()> {
        let route = route.clone();
        self.writer.run(move |c| service::insert_route(c, &route)).await
    }

    async fn delete_callback_route(&self, session_id: &str) -> StoreResult<()> {
        let owned = session_id.to_owned();
        self.writer.run(move |c| service::delete_route(c, &owned)).await
    }

    async fn claim_callbacks(
        &self,
        node: &str,
        now_ms: i64,
        lease_until_ms: i64,
        per_app: u32,
        limit: u32,
    ) -> StoreResult<Vec<DueCallback>> {
        let (mut busy, mut held) = (Vec::new(), HashMap::<String, u32>::new());
        for (session, lease) in self.leases.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            if lease.until_ms > now_ms {
                busy.push(session.clone());
                *held.entry(lease.app_id.clone()).or_default() += 1;
            }
        }
        let mut claimed = Vec::new();
        // Another round when an application filled up within the answer and left room (the
        // query cannot count per application as it goes).
        for _ in 0..4 {
            let room = limit.saturating_sub(u32::try_from(claimed.len()).unwrap_or(u32::MAX));
            if room == 0 {
                break;
            }
            let full: Vec<String> = held.iter().filter(|(_, n)| **n >= per_app).map(|(a, _)| a.clone()).collect();
            let due = service::due(&self.readers, now_ms, &busy, &full, room).await?;
            let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
            let mut skipped = false;
            for due in due {
                let app_held = held.entry(due.app_id.clone()).or_default();
                // Another claim may have taken it while the query ran.
                let free = leases.get(&due.session_id).is_none_or(|l| l.until_ms <= now_ms);
                if *app_held >= per_app || !free {
                    skipped = true;
                    continue;
                }
                *app_held += 1;
                busy.push(due.session_id.clone());
                let lease = Lease { node: node.to_owned(), until_ms: lease_until_ms, app_id: due.app_id.clone() };
                leases.insert(due.session_id.clone(), lease);
                claimed.push(due);
            }
            if !skipped {
                break;
            }
        }
        Ok(claimed)
    }

    async fn renew_callback_lease(&self, session_id: &str, node: &str, lease_until_ms: i64) -> StoreResult<bool> {
        let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        match leases.get_mut(session_id) {
            Some(lease) if lease.node == node => {
                lease.until_ms = lease_until_ms;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release_callback_lease(&self, session_id: &str, node: &str) -> StoreResult<()> {
        let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        if leases.get(session_id).is_some_and(|l| l.node == node) {
            leases.remove(session_id);
        }
        Ok(())
    }

    async fn callback_batch(
        &self,
        session_id: &str,
        limit: u32,
    ) -> StoreResult<Option<(CallbackRoute, Vec<OutboxItem>)>> {
        service::batch(&self.readers, session_id, limit).await
    }

    async fn pin_callback_batch(&self, session_id: &str, through_id: i64) -> StoreResult<()> {
        let owned = session_id.to_owned();
        self.writer.run(move |c| service::pin_batch(c, &owned, through_id)).await
    }

    async fn callback_delivered(&self, session_id: &str, through_id: i64, context: Option<&str>) -> StoreResult<()> {
        let (owned, context) = (session_id.to_owned(), context.map(str::to_owned));
        self.writer.run(move |c| service::delivered(c, &owned, through_id, context.as_deref())).await
    }

    async fn callback_attempt_failed(&self, session_id: &str, next_attempt_ms: i64) -> StoreResult<u32> {
        let owned = session_id.to_owned();
        self.writer.run(move |c| service::attempt_failed(c, &owned, next_attempt_ms)).await
    }

    async fn callback_give_up(&self, session_id: &str, last_error: &str, now_ms: i64) -> StoreResult<()> {
        let (owned, error) = (session_id.to_owned(), last_error.to_owned());
        self.writer.run(move |c| service::give_up(c, &owned, &error, now_ms)).await
    }

    async fn callback_failures(&self) -> StoreResult<Vec<CallbackFailure>> {
        service::failures(&self.readers).await
    }

    async fn purge_callback_routes(&self, before_ms: i64) -> StoreResult<u64> {
        self.writer.run(move |c| service::purge_routes(c, before_ms)).await
    }

    async fn purge_finished(&self, before_ms: i64, limit: u32) -> StoreResult<Purged> {
        let purge = retention::purge_finished(&self.readers, &self.writer, before_ms, limit).await?;
        self.forget_apps(purge.deleted_applications.iter().map(String::as_str));
        Ok(purge.purged)
    }

    async fn close(&self) {
        self.maintenance.abort();
        // A final full checkpoint leaves a compact database file behind.
        let _ = self.writer.checkpoint().await;
        self.readers.close().await;
    }
}
