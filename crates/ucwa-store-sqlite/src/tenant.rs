//! Users, tokens and applications.

use sqlx::{FromRow, SqlitePool};
use ucwa_core::channel::ChannelParams;
use ucwa_core::model::{
    AppKind, AppStatus, Application, DeliveredBatch, NewApplication, NewEvent, Principal, TokenRecord, User,
};
use ucwa_core::store::{QuotaUsage, SigninWindow, StoreError, StoreResult};

use crate::{events, unavailable, upsert_created};

#[derive(FromRow)]
struct UserRow {
    uri: String,
    display_name: String,
    password_hash: String,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User { uri: r.uri, display_name: r.display_name, password_hash: r.password_hash }
    }
}

pub async fn upsert_user(pool: &SqlitePool, user: &User) -> StoreResult<bool> {
    let upsert = sqlx::query(
        "INSERT INTO users (uri, display_name, password_hash) VALUES (?, ?, ?)
         ON CONFLICT (uri) DO UPDATE SET display_name = excluded.display_name, password_hash = excluded.password_hash",
    )
    .bind(&user.uri)
    .bind(&user.display_name)
    .bind(&user.password_hash);
    upsert_created(pool, "SELECT 1 FROM users WHERE uri = ?", &user.uri, upsert).await
}

pub async fn find_user(pool: &SqlitePool, uri: &str) -> StoreResult<Option<User>> {
    let row: Option<UserRow> = sqlx::query_as("SELECT uri, display_name, password_hash FROM users WHERE uri = ?")
        .bind(uri)
        .fetch_optional(pool)
        .await
        .map_err(unavailable)?;
    Ok(row.map(User::from))
}

pub async fn list_users(pool: &SqlitePool) -> StoreResult<Vec<User>> {
    let rows: Vec<UserRow> = sqlx::query_as("SELECT uri, display_name, password_hash FROM users ORDER BY uri")
        .fetch_all(pool)
        .await
        .map_err(unavailable)?;
    Ok(rows.into_iter().map(User::from).collect())
}

#[derive(FromRow)]
struct TokenRow {
    hash: Vec<u8>,
    kind: String,
    uri: String,
    meeting_uri: Option<String>,
    origins: Option<String>,
    expires_ms: i64,
}

pub async fn quota_usage(pool: &SqlitePool, uri: &str, now_ms: i64) -> StoreResult<QuotaUsage> {
    let (applications, meetings): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM applications WHERE owner_uri = ? AND status = 'active'),
                (SELECT COUNT(*) FROM meetings WHERE organizer_uri = ? AND (finished_ms IS NULL OR finished_ms > ?))",
    )
    .bind(uri)
    .bind(uri)
    .bind(now_ms)
    .fetch_one(pool)
    .await
    .map_err(unavailable)?;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(QuotaUsage { applications: count(applications), meetings: count(meetings) })
}

/// The `kind` column of a principal's tokens.
fn token_kind(principal: &Principal) -> &'static str {
    match principal {
        Principal::User { .. } => "user",
        Principal::Anonymous { .. } => "anonymous",
        Principal::Service { .. } => "service",
        Principal::PsGuest { .. } => "psguest",
    }
}

pub async fn revoke_tokens(pool: &SqlitePool, principal: &Principal) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM tokens WHERE uri = ? AND kind = ?")
        .bind(principal.uri())
        .bind(token_kind(principal))
        .execute(pool)
        .await
        .map_err(unavailable)?;
    Ok(done.rows_affected())
}

pub async fn insert_token(pool: &SqlitePool, token: &TokenRecord) -> StoreResult<()> {
    let kind = token_kind(&token.principal);
    let (meeting_uri, origins) = match &token.principal {
        Principal::User { .. } | Principal::Service { .. } => (None, None),
        Principal::Anonymous { meeting_uri, .. } => (Some(meeting_uri.as_str()), None),
        Principal::PsGuest { meeting_uri, origins, .. } => (Some(meeting_uri.as_str()), Some(origins.join(";"))),
    };
    sqlx::query("INSERT INTO tokens (hash, kind, uri, meeting_uri, origins, expires_ms) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(&token.hash)
        .bind(kind)
        .bind(token.principal.uri())
        .bind(meeting_uri)
        .bind(origins)
        .bind(token.expires_ms)
        .execute(pool)
        .await
        .map_err(unavailable)?;
    Ok(())
}

pub async fn find_token(pool: &SqlitePool, hash: &[u8], now_ms: i64) -> StoreResult<Option<TokenRecord>> {
    let row: Option<TokenRow> = sqlx::query_as(
        "SELECT hash, kind, uri, meeting_uri, origins, expires_ms FROM tokens WHERE hash = ? AND expires_ms > ?",
    )
    .bind(hash)
    .bind(now_ms)
    .fetch_optional(pool)
    .await
    .map_err(unavailable)?;
    row.map(|r| {
        let principal = match (r.kind.as_str(), r.meeting_uri) {
            ("user", _) => Principal::User { uri: r.uri },
            ("anonymous", Some(meeting_uri)) => Principal::Anonymous { uri: r.uri, meeting_uri },
            ("service", _) => Principal::Service { uri: r.uri },
            ("psguest", Some(meeting_uri)) => Principal::PsGuest {
                uri: r.uri,
                meeting_uri,
                origins: r
                    .origins
                    .unwrap_or_default()
                    .split(';')
                    .filter(|o| !o.is_empty())
                    .map(str::to_owned)
                    .collect(),
            },
            (kind, _) => return Err(StoreError::Corrupt(format!("token of unknown kind {kind:?}"))),
        };
        Ok(TokenRecord { hash: r.hash, principal, expires_ms: r.expires_ms })
    })
    .transpose()
}

pub async fn purge_expired_tokens(pool: &SqlitePool, now_ms: i64) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM tokens WHERE expires_ms <= ?")
        .bind(now_ms)
        .execute(pool)
        .await
        .map_err(unavailable)?;
    sqlx::query("DELETE FROM signin_failures WHERE until_ms <= ?")
        .bind(now_ms)
        .execute(pool)
        .await
        .map_err(unavailable)?;
    Ok(done.rows_affected())
}

pub async fn signin_failures(pool: &SqlitePool, key: &str, now_ms: i64) -> StoreResult<Option<SigninWindow>> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT failures, until_ms FROM signin_failures WHERE name = ? AND until_ms > ?")
            .bind(key)
            .bind(now_ms)
            .fetch_optional(pool)
            .await
            .map_err(unavailable)?;
    Ok(row.map(|(n, until_ms)| SigninWindow { failures: u32::try_from(n).unwrap_or(u32::MAX), until_ms }))
}

pub async fn record_signin_failure(pool: &SqlitePool, name: &str, now_ms: i64, window_ms: i64) -> StoreResult<()> {
    sqlx::query(SIGNIN_FAILURE).bind(name).bind(now_ms).bind(window_ms).execute(pool).await.map_err(unavailable)?;
    Ok(())
}

/// Counts a failure in the open window, or opens a new one (?1 name, ?2 now, ?3 window).
const SIGNIN_FAILURE: &str = "INSERT INTO signin_failures (name, until_ms, failures) VALUES (?1, ?2 + ?3, 1)
     ON CONFLICT (name) DO UPDATE SET
         failures = CASE WHEN signin_failures.until_ms <= ?2 THEN 1 ELSE signin_failures.failures + 1 END,
         until_ms = CASE WHEN signin_failures.until_ms <= ?2 THEN ?2 + ?3 ELSE signin_failures.until_ms END";

#[derive(FromRow)]
struct AppRow {
    id: String,
    owner_uri: String,
    anonymous: bool,
    display_name: String,
    endpoint_id: String,
    user_agent: String,
    culture: String,
    instance_id: Option<String>,
    kind: String,
    status: String,
    available: bool,
    created_ms: i64,
    last_seen_ms: i64,
    timeout_s: i64,
    low_s: i64,
    medium_s: i64,
    priority: i64,
    batch_no: i64,
    batch_body: String,
    batch_max_seq: i64,
}

const APP_COLUMNS: &str = "id, owner_uri, anonymous, display_name, endpoint_id, user_agent, culture, instance_id, kind, status, \
     available, created_ms, last_seen_ms, timeout_s, low_s, medium_s, priority, batch_no, batch_body, batch_max_seq";

impl TryFrom<AppRow> for Application {
    type Error = StoreError;

    fn try_from(r: AppRow) -> Result<Self, StoreError> {
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
            delivered: DeliveredBatch {
                no: u64::try_from(r.batch_no).map_err(|_| StoreError::Corrupt("negative batch number".into()))?,
                body: r.batch_body,
                max_seq: r.batch_max_seq,
            },
        })
    }
}

pub async fn application(pool: &SqlitePool, id: &str) -> StoreResult<Option<Application>> {
    let sql = format!("SELECT {APP_COLUMNS} FROM applications WHERE id = ?");
    let row: Option<AppRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await.map_err(unavailable)?;
    row.map(Application::try_from).transpose()
}

/// Active applications of `uri` that called `makeMeAvailable`: where invitations ring.
pub async fn online_applications(pool: &SqlitePool, uri: &str) -> StoreResult<Vec<Application>> {
    let sql = format!(
        "SELECT {APP_COLUMNS} FROM applications WHERE owner_uri = ? AND anonymous = 0 AND available = 1 \
         AND status = 'active' ORDER BY created_ms, id"
    );
    let rows: Vec<AppRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(uri).fetch_all(pool).await.map_err(unavailable)?;
    rows.into_iter().map(Application::try_from).collect()
}

pub async fn create_application(
    pool: &SqlitePool,
    new: &NewApplication,
    params: ChannelParams,
    now_ms: i64,
) -> StoreResult<(Application, bool)> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(unavailable)?;
    let sql = format!(
        "SELECT {APP_COLUMNS} FROM applications WHERE kind = ? AND owner_uri = ? AND endpoint_id = ? AND status = 'active'"
    );
    let existing: Option<AppRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(new.kind.as_str())
        .bind(&new.owner_uri)
        .bind(&new.endpoint_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?;
    if let Some(row) = existing {
        return Ok((Application::try_from(row)?, false));
    }
    sqlx::query(
        "INSERT INTO applications (id, owner_uri, anonymous, display_name, endpoint_id, user_agent, culture, instance_id,
             kind, status, created_ms, last_seen_ms, timeout_s, low_s, medium_s, priority)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?)",
    )
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
    .bind(now_ms)
    .bind(i64::from(params.timeout_s))
    .bind(i64::from(params.low_s))
    .bind(i64::from(params.medium_s))
    .bind(i64::from(params.priority))
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    let app = application(pool, &new.id).await?.ok_or_else(|| StoreError::Corrupt("application vanished".into()))?;
    Ok((app, true))
}

pub async fn delete_application(pool: &SqlitePool, id: &str) -> StoreResult<bool> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(unavailable)?;
    sqlx::query("DELETE FROM events WHERE app_id = ?").bind(id).execute(&mut *tx).await.map_err(unavailable)?;
    let gone = sqlx::query("DELETE FROM applications WHERE id = ?")
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?
        .rows_affected();
    tx.commit().await.map_err(unavailable)?;
    Ok(gone == 1)
}

/// Marks the application available and appends `events`; `None` if it already was.
/// Returns the applications to ring.
pub async fn make_available(
    pool: &SqlitePool,
    id: &str,
    new_events: &[NewEvent],
    now_ms: i64,
) -> StoreResult<Option<Vec<String>>> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(unavailable)?;
    let changed =
        sqlx::query("UPDATE applications SET available = 1 WHERE id = ? AND available = 0 AND status = 'active'")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?
            .rows_affected()
            == 1;
    if !changed {
        return Ok(None);
    }
    let rung = events::append(&mut tx, new_events, now_ms).await?;
    tx.commit().await.map_err(unavailable)?;
    Ok(Some(rung.into_iter().collect()))
}

pub async fn touch_channel(pool: &SqlitePool, id: &str, params: ChannelParams, now_ms: i64) -> StoreResult<()> {
    sqlx::query(
        "UPDATE applications SET last_seen_ms = ?, timeout_s = ?, low_s = ?, medium_s = ?, priority = ?
         WHERE id = ? AND status = 'active'",
    )
    .bind(now_ms)
    .bind(i64::from(params.timeout_s))
    .bind(i64::from(params.low_s))
    .bind(i64::from(params.medium_s))
    .bind(i64::from(params.priority))
    .bind(id)
    .execute(pool)
    .await
    .map_err(unavailable)?;
    Ok(())
}

/// Whether any application that can expire has been idle since before `idle_before_ms`.
pub async fn any_idle(pool: &SqlitePool, idle_before_ms: i64) -> StoreResult<bool> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT 1 FROM applications WHERE status = 'active' AND kind != 'service' AND last_seen_ms < ? LIMIT 1",
    )
    .bind(idle_before_ms)
    .fetch_optional(pool)
    .await
    .map_err(unavailable)?;
    Ok(row.is_some())
}

pub async fn expire_idle_applications(
    pool: &SqlitePool,
    idle_before_ms: i64,
    busy: &[String],
) -> StoreResult<Vec<String>> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(unavailable)?;
    let candidates: Vec<(String,)> =
        // Service applications are logical per-endpoint entries without a P-GET: they never
        // expire by inactivity (docs/protocol.md, ms:rtc:saas:applications).
        sqlx::query_as("SELECT id FROM applications WHERE status = 'active' AND kind != 'service' AND last_seen_ms < ?")
            .bind(idle_before_ms)
            .fetch_all(&mut *tx)
            .await
            .map_err(unavailable)?;
    let mut expired = Vec::new();
    for (id,) in candidates.into_iter().filter(|(id,)| !busy.contains(id)) {
        // Its whole log goes, so nothing acknowledged is left for the cleanup either.
        sqlx::query(
            "UPDATE applications SET status = 'expired', batch_body = '', purged_seq = acked_max_seq WHERE id = ?",
        )
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        sqlx::query("DELETE FROM events WHERE app_id = ?").bind(&id).execute(&mut *tx).await.map_err(unavailable)?;
        expired.push(id);
    }
    tx.commit().await.map_err(unavailable)?;
    Ok(expired)
}
