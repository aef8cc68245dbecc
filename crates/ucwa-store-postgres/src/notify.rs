//! The doorbell across nodes: `NOTIFY` at commit, one `LISTEN` connection per node.
//!
//! A transaction that appends events calls `pg_notify` with the ids of the applications
//! whose log grew; PostgreSQL delivers the notification only if and when it commits. Each
//! node's [`Listener`] task receives every notification and rings its local [`Doorbell`] for
//! those applications; parked requests then re-read the event table. The payload is
//! `<node>|<app id>,<app id>,...`: a node skips its own notifications, because it rang right
//! after its own commit (no round trip through the server). An id written `!<app id>` is a
//! claim of the application's event channel by a newer request (`Store::claim_poll`): the
//! node rings it as a claim ([`Doorbell::ring_claims`]), and its parked request checks
//! whether it was replaced.
//!
//! Payloads are limited to 8000 bytes, so a commit that reaches many applications sends
//! several notifications. A notification carries no data, so one that is lost costs latency
//! (until the parked request's timeout), never an event. Losses are noticed and repaired:
//! - the listening connection drops: sqlx reconnects and listens again, then reports it
//!   (`try_recv` answers `Ok(None)`); the task rings every parked request, which re-reads;
//!   anything committed before the new `LISTEN` is in the table they read, anything after
//!   it is notified;
//! - the connection hangs without failing (a silently dead peer): every node notifies itself
//!   every [`HEARTBEAT`]; when nothing at all arrives for [`STALE`], the task drops the
//!   connection, listens on a new one and then rings every parked request.
//!
//! The listener also tells the pool which connections to test before use
//! ([`ConnectionCheck`]): a loss of the listening connection is the node's first news of a
//! database restart or a network failure, which the pool's connections suffered as well.
//!
//! `LISTEN` needs a session of its own: a pooler in transaction mode (PgBouncer) in front of
//! PostgreSQL loses it (docs/DEPLOYMENT.md).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use ucwa_core::Doorbell;
use ucwa_core::store::{StoreError, StoreResult};

use crate::db_error;
use crate::pool::Db;

/// The notification channel.
pub(crate) const CHANNEL: &str = "ucwa_events";
/// PostgreSQL refuses payloads of 8000 bytes or more; stay below with room to spare.
const MAX_PAYLOAD: usize = 7900;
/// How often a node notifies itself to prove its listening connection alive.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// Silence after which the listening connection is presumed dead.
const STALE: Duration = Duration::from_secs(10);
/// How long a starting node waits for its own first notification ([`Listener::hears_itself`]).
const FIRST_NOTIFICATION: Duration = Duration::from_secs(5);

/// Which pooled connections to test with a round trip before a statement uses them. sqlx
/// tests every one by default, which was a second round trip for every statement
/// (docs/BENCHMARKS.md, issue 9, fifth look). A connection is tested when it has been idle
/// for [`ConnectionCheck::IDLE`] (a database or a network in between may have closed it
/// meanwhile, as HikariCP reasons), or when it was opened before this node last lost its
/// listening connection, or before a statement last found its own connection cut (whichever
/// the node noticed first): whatever cut that one (a restart of the database, a failover, the
/// network) cut the pool's connections of that age too, and a test finds them dead and
/// replaces them before a request fails on one. Connections that survived such a loss keep
/// being tested until they reach the pool's maximum lifetime (30 minutes) and are replaced.
#[derive(Debug)]
pub(crate) struct ConnectionCheck {
    /// Made before the pool, so every pooled connection is younger than it: a loss recorded
    /// at `base` itself (the initial 0) tests none.
    base: Instant,
    /// Nanoseconds after `base` at which the last loss was noticed.
    lost_at: AtomicU64,
    /// Losses noticed so far (a metric).
    losses: AtomicU64,
    /// Nanoseconds after `base` at which a connection last went unanswered (0: never).
    silent_at: AtomicU64,
}

impl ConnectionCheck {
    const IDLE: Duration = Duration::from_secs(1);

    pub(crate) fn new() -> Self {
        Self {
            base: Instant::now(),
            lost_at: AtomicU64::new(0),
            losses: AtomicU64::new(0),
            silent_at: AtomicU64::new(0),
        }
    }

    /// Nanoseconds since `base`.
    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The listening connection was found lost, now.
    fn lost(&self) {
        self.connection_cut();
        self.losses.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection was found cut, now: the pool's other connections of its age may be too.
    pub(crate) fn connection_cut(&self) {
        self.lost_at.store(self.now(), Ordering::Release);
    }

    /// A statement (or a test) on a connection went unanswered, now: the database's host
    /// may have vanished, and connections opened before now with it. Those are closed
    /// untested ([`ConnectionCheck::presumed_silent`]), since a test of each would wait as
    /// long; on a database that was merely slow, that costs new connections, not requests.
    pub(crate) fn unanswered(&self) {
        self.silent_at.store(self.now(), Ordering::Release);
    }

    /// Whether a connection opened `age` ago was opened before a connection last went
    /// unanswered.
    pub(crate) fn presumed_silent(&self, age: Duration) -> bool {
        let silent_at = self.silent_at.load(Ordering::Acquire);
        silent_at != 0 && age >= self.base.elapsed().saturating_sub(Duration::from_nanos(silent_at))
    }

    /// How many times the listening connection was lost.
    pub(crate) fn losses(&self) -> u64 {
        self.losses.load(Ordering::Relaxed)
    }

    /// Whether a connection opened `age` ago and idle for `idle_for` must be tested before
    /// use.
    pub(crate) fn needed(&self, age: Duration, idle_for: Duration) -> bool {
        let lost_at = Duration::from_nanos(self.lost_at.load(Ordering::Acquire));
        idle_for >= Self::IDLE || age >= self.base.elapsed().saturating_sub(lost_at)
    }
}

/// The payloads announcing `apps`, each below the size limit.
pub(crate) fn payloads(node: &str, apps: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = format!("{node}|");
    let empty = current.len();
    for app in apps {
        if current.len() > empty && current.len() + 1 + app.len() > MAX_PAYLOAD {
            out.push(std::mem::replace(&mut current, format!("{node}|")));
        }
        if current.len() > empty {
            current.push(',');
        }
        current.push_str(app);
    }
    if current.len() > empty {
        out.push(current);
    }
    out
}

/// A payload from `node` naming no application: it rings nothing, and proves to `node`'s own
/// listener that notifications arrive (the heartbeat, and the check as a node opens).
fn self_payload(node: &str) -> String {
    format!("{node}|")
}

/// The payload announcing that a request on `node` claimed `app_id`'s event channel.
pub(crate) fn claim_payload(node: &str, app_id: &str) -> String {
    format!("{node}|!{app_id}")
}

/// What a payload announces, unless it came from `own_node`: applications whose log grew
/// and applications whose channel was claimed.
pub(crate) fn announced<'p>(payload: &'p str, own_node: &str) -> Option<(Vec<&'p str>, Vec<&'p str>)> {
    let (node, ids) = payload.split_once('|')?;
    if node == own_node {
        return None;
    }
    let (mut grew, mut claimed) = (Vec::new(), Vec::new());
    for id in ids.split(',').filter(|a| !a.is_empty()) {
        match id.strip_prefix('!') {
            Some(app) => claimed.push(app),
            None => grew.push(id),
        }
    }
    Some((grew, claimed))
}

/// The listening task of one node.
pub(crate) struct Listener {
    options: PgConnectOptions,
    node: String,
    doorbell: Arc<Doorbell>,
    check: Arc<ConnectionCheck>,
}

impl Listener {
    /// Listens (failing if it cannot, so a misconfigured database is noticed at start) and
    /// spawns the task that rings `doorbell` and reports losses to `check`, plus the
    /// heartbeat sent through `pool`.
    pub(crate) async fn start(
        pool: &Db,
        options: PgConnectOptions,
        node: String,
        doorbell: Arc<Doorbell>,
        check: Arc<ConnectionCheck>,
    ) -> StoreResult<Vec<tokio::task::JoinHandle<()>>> {
        let this = Self { options, node, doorbell, check };
        let mut listener = this.listen().await.map_err(db_error)?;
        this.hears_itself(pool, &mut listener).await?;
        let heartbeat = tokio::spawn(heartbeat(pool.clone(), this.node.clone()));
        Ok(vec![tokio::spawn(this.run(listener)), heartbeat])
    }

    /// Sends a notification through `pool` and waits for it on `listener`: proof, before the
    /// node serves, that notifications reach it. They do not through a pooler in transaction
    /// mode (PgBouncer): the `LISTEN` stays with whichever server session ran it, and the
    /// listening client, idle, is linked to none. Such a pooler would also mix the sessions'
    /// prepared statements up, so the node refuses to start and says why, rather than serve
    /// with late wake-ups and failing statements.
    async fn hears_itself(&self, pool: &Db, listener: &mut PgListener) -> StoreResult<()> {
        let payload = self_payload(&self.node);
        debug_assert!(self.node.bytes().all(|b| b.is_ascii_hexdigit()), "a node id needs no quoting");
        // The simple protocol (nothing prepared), so the check itself works through such a pooler.
        let notify = format!("SELECT pg_notify('{CHANNEL}', '{payload}')");
        let heard = async {
            loop {
                sqlx::raw_sql(sqlx::AssertSqlSafe(notify.as_str())).execute(pool).await?;
                // `None`: sqlx reconnected and listens again; the notification may have been
                // sent before that, so it is sent again.
                while let Some(notification) = listener.try_recv().await? {
                    if notification.payload() == payload {
                        return Ok::<_, sqlx::Error>(());
                    }
                }
            }
        };
        // Through such a pooler the notification may also reach the session that sent it,
        // which sqlx reports as an unexpected message: a failure here is the same finding.
        let what = match tokio::time::timeout(FIRST_NOTIFICATION, heard).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => format!("failed ({e})"),
            Err(_) => format!("did not come back within {FIRST_NOTIFICATION:?}"),
        };
        Err(StoreError::Failed(format!(
            "the node's own notification {what}; is a pooler in transaction mode (PgBouncer) between \
             the node and the database? LISTEN needs a session of its own: connect directly, or \
             through a pooler in session mode"
        )))
    }

    /// A new connection (in a pool of its own, so a broken one never returns to the shared
    /// pool) listening on [`CHANNEL`]. After an outage the pool's first connection takes as
    /// long as the database was away, and sqlx would warn that the acquire was slow: its
    /// warning is off, since [`run`](Self::run) says when the connection failed and
    /// [`relisten`](Self::relisten) when it listens again.
    ///
    /// A listening session sends nothing and is idle by design, so each of its connections
    /// (sqlx's own reconnects too) turns off `idle_session_timeout` (PostgreSQL 14 and later),
    /// which a DBA may set to reap idle sessions: it would end the listening one every
    /// period, and each loss rings every parked request and has the pool test its
    /// connections before every statement. The pool's connections keep the database's
    /// setting; an idle one that was ended is found by the pool's test and replaced.
    async fn listen(&self) -> Result<PgListener, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_slow_threshold(Duration::MAX)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::raw_sql(
                        "SELECT set_config(name, '0', false) FROM pg_settings WHERE name = 'idle_session_timeout'",
                    )
                    .execute(conn)
                    .await
                    .map(drop)
                })
            })
            .connect_with(self.options.clone())
            .await?;
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(listener)
    }

    /// Listens again until it succeeds, backing off up to a few seconds between attempts.
    async fn relisten(&self) -> PgListener {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.listen().await {
                Ok(listener) => {
                    tracing::info!("listening for other nodes' events again");
                    return listener;
                }
                Err(e) => tracing::warn!(error = %db_error(e), "cannot listen for other nodes' events; retrying"),
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    async fn run(self, mut listener: PgListener) {
        loop {
            match tokio::time::timeout(STALE, listener.try_recv()).await {
                Ok(Ok(Some(notification))) => {
                    if let Some((grew, claimed)) = announced(notification.payload(), &self.node) {
                        self.doorbell.ring(grew);
                        self.doorbell.ring_claims(claimed);
                    }
                    continue;
                }
                // Reconnected and listening again: whatever was committed meanwhile is in
                // the table, so a re-read by everyone finds it.
                Ok(Ok(None)) => {
                    self.check.lost();
                    tracing::warn!("the listening connection was lost and re-established");
                }
                Ok(Err(e)) => {
                    self.check.lost();
                    tracing::warn!(error = %db_error(e), "the listening connection failed");
                    drop(listener);
                    listener = self.relisten().await;
                }
                Err(_) => {
                    self.check.lost();
                    tracing::warn!(silent_for = ?STALE, "no notification arrived, not even our heartbeat; listening anew");
                    drop(listener);
                    listener = self.relisten().await;
                }
            }
            self.doorbell.ring_all();
        }
    }
}

/// Notifies this node's own listener every [`HEARTBEAT`] (an empty payload rings nothing).
async fn heartbeat(pool: Db, node: String) {
    let payload = self_payload(&node);
    let mut ticker = tokio::time::interval(HEARTBEAT);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if pool.is_closed() {
            return;
        }
        let sent = sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(&payload).execute(&pool).await;
        if let Err(e) = sent {
            tracing::debug!(error = %db_error(e), "heartbeat notification failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Connections are tested when idle for a while or older than the last loss, never
    /// merely for being busy. (The check is a minute old; times are relative to its start.)
    #[test]
    fn only_idle_connections_and_those_older_than_a_loss_are_tested() {
        let minute_old = || ConnectionCheck {
            base: Instant::now() - Duration::from_secs(60),
            lost_at: AtomicU64::new(0),
            losses: AtomicU64::new(0),
            silent_at: AtomicU64::new(0),
        };
        let secs = Duration::from_secs;
        let check = minute_old();
        assert!(!check.needed(secs(50), Duration::ZERO), "a busy connection, no loss yet");
        assert!(!check.needed(secs(50), Duration::from_millis(999)), "idle for less than a second");
        assert!(check.needed(secs(50), secs(1)), "idle for a second");
        // A loss noticed 30 s after the check began.
        check.lost_at.store(secs(30).as_nanos() as u64, Ordering::Release);
        assert!(check.needed(secs(45), Duration::ZERO), "opened before the loss");
        assert!(!check.needed(secs(20), Duration::ZERO), "opened after the loss");
        let check = minute_old();
        check.lost();
        assert!(check.needed(secs(50), Duration::ZERO), "a loss noticed now: every connection is older");
    }

    /// After a connection went unanswered, those opened before are presumed silent, those
    /// opened since are not.
    #[test]
    fn connections_opened_before_one_went_unanswered_are_presumed_silent() {
        let check = ConnectionCheck::new();
        assert!(!check.presumed_silent(Duration::from_secs(3600)), "nothing went unanswered yet");
        check.unanswered();
        assert!(check.presumed_silent(check.base.elapsed()), "opened before");
        assert!(!check.presumed_silent(Duration::ZERO), "opened just now");
        assert!(!check.needed(Duration::ZERO, Duration::ZERO), "going unanswered is not a loss");
    }

    #[test]
    fn payloads_stay_below_the_limit_and_carry_every_application() {
        let apps: BTreeSet<String> = (0..2000).map(|i| format!("{i:020x}")).collect();
        let out = payloads("node1", &apps);
        assert!(out.len() > 1);
        assert!(out.iter().all(|p| p.len() < 8000));
        let back: BTreeSet<String> =
            out.iter().flat_map(|p| announced(p, "node2").unwrap().0).map(str::to_owned).collect();
        assert_eq!(back, apps);
        assert!(announced(&out[0], "node1").is_none(), "a node skips its own notifications");
        assert!(payloads("node1", &BTreeSet::new()).is_empty());
        assert_eq!(announced("node1|", "node2").unwrap(), (vec![], vec![]), "a heartbeat rings nothing");
        let claim = claim_payload("node1", "app7");
        assert_eq!(announced(&claim, "node2").unwrap(), (vec![], vec!["app7"]));
    }
}
