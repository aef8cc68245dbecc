//! OpenUCWA's embedded store: SQLite through sqlx, one file, no server to run.
//!
//! Write transactions start with `BEGIN IMMEDIATE`, so a transaction that reads and then
//! writes never has to upgrade its lock (the source of `SQLITE_BUSY` deadlocks); SQLite
//! serialises writers, which also makes per-application sequence allocation trivially
//! gap-free and in commit order. The database runs in WAL mode so readers (parked event
//! requests) never block the writer.
//!
//! After each commit that appended events, the store rings its [`Doorbell`] for the
//! applications concerned; nothing is rung for a rolled-back transaction.

mod events;
mod meetings;
mod tenant;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use ucwa_core::Doorbell;
use ucwa_core::channel::ChannelParams;
use ucwa_core::meeting::Meeting;
use ucwa_core::model::{
    Application, DeliveredBatch, MeetingRecord, NewApplication, NewEvent, StoredEvent, TokenRecord, User,
};
use ucwa_core::store::{SessionLocation, Store, StoreError, StoreResult};

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    pool: SqlitePool,
    doorbell: Doorbell,
}

fn unavailable(e: sqlx::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path/to/file.db`) and
    /// applies pending migrations. Parent directories are created too.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(unavailable)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across application crashes in WAL mode; only an OS crash or
            // power loss can lose the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        if let Some(parent) = options.get_filename().parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", parent.display())))?;
        }
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await.map_err(unavailable)?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migration failed: {e}")))?;
        Ok(Self { pool, doorbell: Doorbell::new() })
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

    async fn upsert_user(&self, user: &User) -> StoreResult<bool> {
        tenant::upsert_user(&self.pool, user).await
    }

    async fn find_user(&self, uri: &str) -> StoreResult<Option<User>> {
        tenant::find_user(&self.pool, uri).await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        tenant::list_users(&self.pool).await
    }

    async fn insert_token(&self, token: &TokenRecord) -> StoreResult<()> {
        tenant::insert_token(&self.pool, token).await
    }

    async fn find_token(&self, hash: &[u8], now_ms: i64) -> StoreResult<Option<TokenRecord>> {
        tenant::find_token(&self.pool, hash, now_ms).await
    }

    async fn purge_expired_tokens(&self, now_ms: i64) -> StoreResult<u64> {
        tenant::purge_expired_tokens(&self.pool, now_ms).await
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

    async fn delete_application(&self, id: &str) -> StoreResult<bool> {
        tenant::delete_application(&self.pool, id).await
    }

    async fn make_available(&self, id: &str, events: Vec<NewEvent>, now_ms: i64) -> StoreResult<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(unavailable)?;
        let changed =
            sqlx::query("UPDATE applications SET available = 1 WHERE id = ? AND available = 0 AND status = 'active'")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?
                .rows_affected()
                == 1;
        if !changed {
            return Ok(false);
        }
        let rung = events::append(&mut tx, &events, now_ms).await?;
        tx.commit().await.map_err(unavailable)?;
        self.doorbell.ring(rung.iter().map(String::as_str));
        Ok(true)
    }

    async fn touch_channel(&self, id: &str, params: ChannelParams, now_ms: i64) -> StoreResult<()> {
        tenant::touch_channel(&self.pool, id, params, now_ms).await
    }

    async fn expire_idle_applications(&self, idle_before_ms: i64, busy: &[String]) -> StoreResult<Vec<String>> {
        tenant::expire_idle_applications(&self.pool, idle_before_ms, busy).await
    }

    async fn append_events(&self, events: Vec<NewEvent>, now_ms: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(unavailable)?;
        let rung = events::append(&mut tx, &events, now_ms).await?;
        tx.commit().await.map_err(unavailable)?;
        self.doorbell.ring(rung.iter().map(String::as_str));
        Ok(())
    }

    async fn events_after(&self, app_id: &str, after_seq: i64, limit: u32) -> StoreResult<Vec<StoredEvent>> {
        events::after(&self.pool, app_id, after_seq, limit).await
    }

    async fn save_batch(&self, app_id: &str, batch: &DeliveredBatch, previous_no: u64) -> StoreResult<bool> {
        events::save_batch(&self.pool, app_id, batch, previous_no).await
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

    async fn meetings_organized_by(&self, uri: &str) -> StoreResult<Vec<MeetingRecord>> {
        meetings::organized_by(&self.pool, uri).await
    }

    async fn save_meeting(
        &self,
        after: &MeetingRecord,
        before: &Meeting,
        events: Vec<NewEvent>,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let rung = meetings::save(&self.pool, after, before, &events, now_ms).await?;
        Ok(self.ring_if_committed(rung))
    }

    async fn delete_meeting(&self, id: &str, version: u64, events: Vec<NewEvent>, now_ms: i64) -> StoreResult<bool> {
        let rung = meetings::delete(&self.pool, id, version, &events, now_ms).await?;
        Ok(self.ring_if_committed(rung))
    }

    async fn session_location(&self, session_id: &str) -> StoreResult<Option<SessionLocation>> {
        meetings::location(&self.pool, session_id).await
    }

    async fn sessions_of_application(&self, app_id: &str) -> StoreResult<Vec<SessionLocation>> {
        meetings::of_application(&self.pool, app_id).await
    }

    async fn meetings_due(&self, now_ms: i64) -> StoreResult<Vec<String>> {
        meetings::due(&self.pool, now_ms).await
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
