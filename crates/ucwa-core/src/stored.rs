//! Rows as both stores keep them, and what they mean: the SQL of SQLite and PostgreSQL
//! differs, the columns and their decoding do not, so the decoding lives here once. A value
//! that does not decode is `StoreError::Corrupt`, never a panic.
//!
//! With the `sqlx` feature the row types derive `sqlx::FromRow` (generic over the database,
//! so both stores read them straight from their queries).

use std::collections::BTreeMap;

use serde_json::value::RawValue;

use crate::channel::{ChannelParams, Priority};
use crate::meeting::{Meeting, MeetingKind, Session};
use crate::model::{AppKind, AppStatus, Application, BatchMark, MeetingRecord, Principal, StoredEvent, TokenRecord};
use crate::service::{CallbackFailure, CallbackRoute, ServiceApp};
use crate::store::{StoreError, StoreResult};

/// The columns of an [`ApplicationRow`], in its order.
pub const APPLICATION_COLUMNS: &str = "id, owner_uri, anonymous, display_name, endpoint_id, user_agent, culture, \
     instance_id, kind, status, available, created_ms, last_seen_ms, timeout_s, low_s, medium_s, priority, batch_no, \
     batch_max_seq";

/// An `applications` row: the columns both stores select for an [`Application`].
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct ApplicationRow {
    pub id: String,
    pub owner_uri: String,
    pub anonymous: bool,
    pub display_name: String,
    pub endpoint_id: String,
    pub user_agent: String,
    pub culture: String,
    pub instance_id: Option<String>,
    pub kind: String,
    pub status: String,
    pub available: bool,
    pub created_ms: i64,
    pub last_seen_ms: i64,
    pub timeout_s: i64,
    pub low_s: i64,
    pub medium_s: i64,
    pub priority: i64,
    pub batch_no: i64,
    pub batch_max_seq: i64,
}

impl TryFrom<ApplicationRow> for Application {
    type Error = StoreError;

    fn try_from(r: ApplicationRow) -> Result<Self, StoreError> {
        let status = match r.status.as_str() {
            "active" => AppStatus::Active,
            "expired" => AppStatus::Expired,
            other => return Err(StoreError::Corrupt(format!("application status {other:?}"))),
        };
        let kind =
            AppKind::parse(&r.kind).ok_or_else(|| StoreError::Corrupt(format!("application kind {:?}", r.kind)))?;
        let u32_of = |v: i64| u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("channel parameter {v}")));
        Ok(Application {
            id: r.id,
            owner_uri: r.owner_uri,
            anonymous: r.anonymous,
            display_name: r.display_name,
            endpoint_id: r.endpoint_id,
            user_agent: r.user_agent,
            culture: r.culture,
            instance_id: r.instance_id,
            kind,
            status,
            available: r.available,
            created_ms: r.created_ms,
            last_seen_ms: r.last_seen_ms,
            channel: ChannelParams {
                timeout_s: u32_of(r.timeout_s)?,
                low_s: u32_of(r.low_s)?,
                medium_s: u32_of(r.medium_s)?,
                priority: u32_of(r.priority)?,
            },
            delivered: BatchMark {
                no: u64::try_from(r.batch_no).map_err(|_| StoreError::Corrupt("negative batch number".into()))?,
                max_seq: r.batch_max_seq,
            },
        })
    }
}

/// The columns of a [`MeetingRow`], in its order.
pub const MEETING_COLUMNS: &str =
    "id, settings, ended, version, settings_revision, join_url, created_ms, kind, pending";

/// A `meetings` row (the header; sessions are rows of their own).
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct MeetingRow {
    pub id: String,
    pub settings: String,
    pub ended: bool,
    pub version: i64,
    pub settings_revision: i64,
    pub join_url: String,
    pub created_ms: i64,
    pub kind: String,
    pub pending: Option<String>,
}

impl MeetingRow {
    /// The meeting of this header with its `sessions`.
    pub fn into_record(self, sessions: BTreeMap<String, Session>) -> StoreResult<MeetingRecord> {
        let settings = serde_json::from_str(&self.settings).map_err(|e| corrupt("meeting settings", e))?;
        let version = u64::try_from(self.version).map_err(|_| StoreError::Corrupt("negative version".into()))?;
        let kind = match self.kind.as_str() {
            "Conference" => MeetingKind::Conference,
            "TwoParty" => MeetingKind::TwoParty,
            other => return Err(StoreError::Corrupt(format!("meeting kind {other:?}"))),
        };
        let pending = match self.pending {
            Some(notices) => serde_json::from_str(&notices).map_err(|e| corrupt("pending notices", e))?,
            None => Vec::new(),
        };
        Ok(MeetingRecord {
            meeting: Meeting::restore(self.id, settings, sessions, self.ended, version).with_kind(kind),
            join_url: self.join_url,
            created_ms: self.created_ms,
            settings_revision: u64::try_from(self.settings_revision).unwrap_or(0),
            pending,
        })
    }
}

/// The `kind` column of a meeting ([`MeetingRow::into_record`] reads it back).
pub fn meeting_kind_name(kind: MeetingKind) -> &'static str {
    match kind {
        MeetingKind::Conference => "Conference",
        MeetingKind::TwoParty => "TwoParty",
    }
}

/// A session from its `state` column.
pub fn session(state: &str) -> StoreResult<Session> {
    serde_json::from_str(state).map_err(|e| corrupt("session", e))
}

/// The form in which user search compares a display name, an address and a query: Unicode
/// lower case, computed here and kept in `users.name_key` and `users.uri_key`, so that both
/// stores find and order the same users whatever their SQL's `lower` and collation do
/// (SQLite folds ASCII only; PostgreSQL folds and orders as the database's locale says).
pub fn search_key(text: &str) -> String {
    text.to_lowercase()
}

/// A counter as the signed integer a column keeps.
pub fn to_i64(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("counter {v} out of range")))
}

/// A driver error as a [`StoreError`]: [`StoreError::Unavailable`] when the same work may
/// succeed in a moment (the database could not be reached or cut the connection, no pooled
/// connection came free in time, the pool is closing, or the database answered with an error
/// `transient` says passes), [`StoreError::Failed`] otherwise. `transient` reads the
/// database's own error code (a SQLSTATE, or SQLite's result code).
#[cfg(feature = "sqlx")]
pub fn sqlx_error(e: sqlx::Error, transient: impl Fn(&str) -> bool) -> StoreError {
    if sqlx_is_unavailable(&e, transient) {
        StoreError::Unavailable(describe(&e))
    } else {
        StoreError::Failed(describe(&e))
    }
}

/// What a driver error says, for logs and start-up errors: a database's error as its message
/// and SQLSTATE (or SQLite result code). sqlx's own text of a PostgreSQL error ends with "at
/// line N", the line of PostgreSQL's C source that raised it, which reads like a line of a
/// migration or a statement.
#[cfg(feature = "sqlx")]
fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => match d.code() {
            Some(code) => format!("error returned from database: {} (code {code})", d.message()),
            None => format!("error returned from database: {}", d.message()),
        },
        e => e.to_string(),
    }
}

/// A failed migration at open as a [`StoreError`]. A database that already has a migration
/// this build does not know was opened by a newer release; the message says so, where sqlx
/// says only that a migration "is missing in the resolved migrations".
#[cfg(feature = "sqlx")]
pub fn migration_error(e: sqlx::migrate::MigrateError) -> StoreError {
    match e {
        sqlx::migrate::MigrateError::VersionMissing(version) => StoreError::Failed(format!(
            "the database was upgraded by a newer release of ucwa-server (it has migration {version}, \
             which this release does not know): run that release or a later one"
        )),
        sqlx::migrate::MigrateError::Execute(e) => StoreError::Failed(format!("migration failed: {}", describe(&e))),
        sqlx::migrate::MigrateError::ExecuteMigration(e, version) => {
            StoreError::Failed(format!("migration {version} failed: {}", describe(&e)))
        }
        e => StoreError::Failed(format!("migration failed: {e}")),
    }
}

/// Whether [`sqlx_error`] makes `e` [`StoreError::Unavailable`].
#[cfg(feature = "sqlx")]
pub fn sqlx_is_unavailable(e: &sqlx::Error, transient: impl Fn(&str) -> bool) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|code| transient(&code)),
        _ => false,
    }
}

/// A value as the JSON text a column keeps.
pub fn json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| corrupt("encode", e))
}

fn corrupt(what: &str, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// An `events` row as a reader selects it (`seq, priority, created_ms, sender_rel,
/// sender_href, body`).
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct EventRow {
    pub seq: i64,
    pub priority: i64,
    pub created_ms: i64,
    pub sender_rel: String,
    pub sender_href: String,
    pub body: String,
}

impl TryFrom<EventRow> for StoredEvent {
    type Error = StoreError;

    fn try_from(r: EventRow) -> Result<Self, StoreError> {
        Ok(StoredEvent {
            seq: r.seq,
            priority: Priority::from_i64(r.priority),
            created_ms: r.created_ms,
            sender_rel: r.sender_rel,
            sender_href: r.sender_href,
            // Checked, and kept as the text it is (no copy): batches splice it in as stored.
            body: RawValue::from_string(r.body).map_err(|e| StoreError::Corrupt(format!("event body: {e}")))?,
        })
    }
}

/// A `tokens` row (only the hash of the secret is stored).
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct TokenRow {
    pub hash: Vec<u8>,
    pub kind: String,
    pub uri: String,
    pub meeting_uri: Option<String>,
    pub origins: Option<String>,
    pub expires_ms: i64,
}

impl TryFrom<TokenRow> for TokenRecord {
    type Error = StoreError;

    fn try_from(r: TokenRow) -> Result<Self, StoreError> {
        let principal = match (r.kind.as_str(), r.meeting_uri) {
            ("user", _) => Principal::User { uri: r.uri },
            ("anonymous", Some(meeting_uri)) => Principal::Anonymous { uri: r.uri, meeting_uri },
            ("service", _) => Principal::Service { uri: r.uri },
            ("psguest", Some(meeting_uri)) => {
                Principal::PsGuest { uri: r.uri, meeting_uri, origins: split_list(&r.origins.unwrap_or_default()) }
            }
            (kind, _) => return Err(StoreError::Corrupt(format!("token of unknown kind {kind:?}"))),
        };
        Ok(TokenRecord { hash: r.hash, principal, expires_ms: r.expires_ms })
    }
}

/// The `kind` column of a token of `principal`.
pub fn token_kind(principal: &Principal) -> &'static str {
    match principal {
        Principal::User { .. } => "user",
        Principal::Anonymous { .. } => "anonymous",
        Principal::Service { .. } => "service",
        Principal::PsGuest { .. } => "psguest",
    }
}

/// The `meeting_uri` and `origins` columns of a token of `principal`.
pub fn token_scope(principal: &Principal) -> (Option<&str>, Option<String>) {
    match principal {
        Principal::User { .. } | Principal::Service { .. } => (None, None),
        Principal::Anonymous { meeting_uri, .. } => (Some(meeting_uri.as_str()), None),
        Principal::PsGuest { meeting_uri, origins, .. } => (Some(meeting_uri.as_str()), Some(origins.join(";"))),
    }
}

/// The columns of a [`ServiceAppRow`], in its order.
pub const SERVICE_APP_COLUMNS: &str = "uri, display_name, secret_hash, signing_key, callback_url, created_ms, domains";

/// A `service_apps` row.
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct ServiceAppRow {
    pub uri: String,
    pub display_name: String,
    pub secret_hash: String,
    pub signing_key: String,
    pub callback_url: Option<String>,
    pub created_ms: i64,
    pub domains: String,
}

impl From<ServiceAppRow> for ServiceApp {
    fn from(r: ServiceAppRow) -> Self {
        ServiceApp {
            uri: r.uri,
            display_name: r.display_name,
            secret_hash: r.secret_hash,
            signing_key: r.signing_key,
            callback_url: r.callback_url,
            created_ms: r.created_ms,
            domains: split_list(&r.domains),
        }
    }
}

/// A `callback_failures` row.
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct FailureRow {
    pub app_id: String,
    pub session_id: String,
    pub url: String,
    pub attempts: i64,
    pub last_error: String,
    pub dropped: i64,
    pub failed_ms: i64,
}

impl From<FailureRow> for CallbackFailure {
    fn from(r: FailureRow) -> Self {
        CallbackFailure {
            app_id: r.app_id,
            session_id: r.session_id,
            url: r.url,
            attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
            last_error: r.last_error,
            dropped: u64::try_from(r.dropped).unwrap_or(0),
            failed_ms: r.failed_ms,
        }
    }
}

/// The items of a `;`-separated list column.
fn split_list(list: &str) -> Vec<String> {
    list.split(';').filter(|item| !item.is_empty()).map(str::to_owned).collect()
}

/// The columns of a [`RouteRow`], in its order.
pub const ROUTE_COLUMNS: &str =
    "session_id, app_id, url, context, base_uri, attempts, next_attempt_ms, delivered, created_ms, batch_through";

/// A `callback_routes` row.
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct RouteRow {
    pub session_id: String,
    pub app_id: String,
    pub url: Option<String>,
    pub context: Option<String>,
    pub base_uri: String,
    pub attempts: i64,
    pub next_attempt_ms: i64,
    pub delivered: i64,
    pub created_ms: i64,
    pub batch_through: Option<i64>,
}

impl From<RouteRow> for CallbackRoute {
    fn from(r: RouteRow) -> Self {
        CallbackRoute {
            session_id: r.session_id,
            app_id: r.app_id,
            url: r.url,
            context: r.context,
            base_uri: r.base_uri,
            attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
            next_attempt_ms: r.next_attempt_ms,
            delivered: u64::try_from(r.delivered).unwrap_or(0),
            created_ms: r.created_ms,
            batch_through: r.batch_through,
        }
    }
}
