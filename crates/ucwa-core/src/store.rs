//! The storage port. Both backends (embedded SQLite today, PostgreSQL for several nodes)
//! implement [`Store`]; the server only ever sees `Arc<dyn Store>`.
//!
//! The API is use-case shaped ("create this application", "save this batch if the
//! previous one is still the last"), not generic CRUD: transactions do not cross a trait
//! object cleanly, so each method is one transaction inside the backend. Every method
//! that appends events allocates their sequence numbers per application inside that
//! transaction and rings the [`Doorbell`] after commit.

use std::sync::Arc;

use async_trait::async_trait;

use crate::channel::ChannelParams;
use crate::doorbell::Doorbell;
use crate::meeting::Meeting;
use crate::model::{
    Application, DeliveredBatch, MeetingRecord, NewApplication, NewEvent, PresenceSubscription, Principal, Publication,
    PublicationChange, StoredEvent, TokenRecord, User,
};
use crate::service::{CallbackFailure, CallbackRoute, DueCallback, OutboxItem, ServiceApp};

/// Backend-neutral storage failure: no driver types leak past the port.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is not taking work now (the connection was refused
    /// or cut, no connection came free in time, the server is shutting down or starting up,
    /// the file is locked): the same request may succeed in a moment. Clients are told to
    /// retry (503 with `Retry-After`).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database refused the work itself (a statement it rejects, a schema that does not
    /// match, a full disk): retrying will not help, so it is a server failure (500).
    #[error("database failure: {0}")]
    Failed(String),
    /// Stored data could not be decoded (a bug or a hand-edited database).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The write would break a uniqueness rule the store keeps for every node (one session
    /// per application and `operationId`, [`Store::save_meeting`]); nothing was written.
    #[error("conflicting write: {0}")]
    Conflict(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What a store's connections to a database server are doing, for operators' metrics
/// ([`Store::database_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatabaseStats {
    /// Connections open now (besides the one that listens).
    pub connections: usize,
    /// Of them, those running a statement or a transaction now.
    pub in_use: usize,
    /// Statements waiting for a connection now: a pool that is often too small has some.
    pub waiting: usize,
    /// How many times the listening connection was lost (a restart, a failover, the network).
    pub listener_losses: u64,
}

/// A meeting as [`Store::meeting_if_changed`] found it.
#[derive(Debug)]
pub enum MeetingSince {
    /// It no longer exists.
    Gone,
    /// Still at the version asked about.
    Unchanged,
    /// At another version: here it is.
    Changed(Box<MeetingRecord>),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The bell this store rings after committing events.
    fn doorbell(&self) -> &Doorbell;

    /// Whether this process makes every write to the database (the embedded, single-node
    /// case). Then a node's own cached copies can only go stale through its own writes, and
    /// callers may skip checking them against the store.
    fn sees_every_write(&self) -> bool {
        false
    }

    /// What the connections to a database server are doing; `None` for a store without any
    /// (the embedded one).
    fn database_stats(&self) -> Option<DatabaseStats> {
        None
    }

    /// Adds a user or replaces its name and password hash; `true` when it is new.
    async fn upsert_user(&self, user: &User) -> StoreResult<bool>;
    async fn find_user(&self, uri: &str) -> StoreResult<Option<User>>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    /// Up to `limit` users whose display name or URI contains `query` in any letter case
    /// (every user for an empty query), by display name, then URI.
    async fn search_users(&self, query: &str, limit: u32) -> StoreResult<Vec<User>>;

    /// What `uri` published (nothing set if it never did).
    async fn publication(&self, uri: &str) -> StoreResult<Publication>;
    /// Applies `change` to `uri`'s publication and appends `events` in the same transaction.
    async fn publish(
        &self,
        uri: &str,
        change: &PublicationChange,
        events: Vec<NewEvent>,
        now_ms: i64,
    ) -> StoreResult<()>;
    /// Stores a new presence subscription, unless its application already has `max_live`
    /// unexpired ones at `now_ms` (`false`, nothing stored).
    async fn insert_presence_subscription(
        &self,
        subscription: &PresenceSubscription,
        max_live: u32,
        now_ms: i64,
    ) -> StoreResult<bool>;
    /// The application's presence subscriptions unexpired at `now_ms`, oldest first.
    async fn presence_subscriptions(&self, app_id: &str, now_ms: i64) -> StoreResult<Vec<PresenceSubscription>>;
    /// Moves an unexpired subscription of `app_id` to expire at `expires_ms` (when given) and
    /// adds `uris` it does not have yet; `false` if there is no such subscription.
    async fn update_presence_subscription(
        &self,
        app_id: &str,
        id: &str,
        expires_ms: Option<i64>,
        uris: &[String],
        now_ms: i64,
    ) -> StoreResult<bool>;
    /// Deletes a subscription of `app_id`; `false` if there was none.
    async fn delete_presence_subscription(&self, app_id: &str, id: &str) -> StoreResult<bool>;
    /// The active applications with a subscription to `uri` unexpired at `now_ms`.
    async fn presence_watchers(&self, uri: &str, now_ms: i64) -> StoreResult<Vec<String>>;
    /// Deletes subscriptions expired at `now_ms`; returns how many.
    async fn purge_expired_presence_subscriptions(&self, now_ms: i64) -> StoreResult<u64>;

    async fn insert_token(&self, token: &TokenRecord) -> StoreResult<()>;
    /// A token by the hash of its secret, if it has not expired at `now_ms`.
    async fn find_token(&self, hash: &[u8], now_ms: i64) -> StoreResult<Option<TokenRecord>>;
    /// [`Store::find_token`] and, when the token is valid, [`Store::application`] of `app_id`
    /// (whoever owns it) and, when a `session_id` is given, [`Store::session_location`] of it:
    /// what every request on an application's resources (and on a session under it) reads
    /// first. A store several nodes share answers in one round trip (it cannot cache tokens).
    async fn find_request_scope(
        &self,
        hash: &[u8],
        now_ms: i64,
        app_id: &str,
        session_id: Option<&str>,
    ) -> StoreResult<Option<RequestScope>> {
        let Some(token) = self.find_token(hash, now_ms).await? else { return Ok(None) };
        let application = self.application(app_id).await?;
        let session = match session_id {
            Some(id) => self.session_location(id).await?,
            None => None,
        };
        Ok(Some(RequestScope { token, application, session }))
    }
    /// Deletes expired tokens (and sign-in failure windows closed by `now_ms`); returns how
    /// many tokens.
    async fn purge_expired_tokens(&self, now_ms: i64) -> StoreResult<u64>;
    /// Failed sign-ins counted under `key` (a client address, or a name and address) in its
    /// window open at `now_ms` (`None` when no window is open). Kept in the store, so a limit
    /// holds across every node.
    async fn signin_failures(&self, key: &str, now_ms: i64) -> StoreResult<Option<SigninWindow>>;
    /// Records a failed sign-in under `key` at `now_ms`: counts it in the open window, or
    /// opens a new one of `window_ms`.
    async fn record_signin_failure(&self, key: &str, now_ms: i64, window_ms: i64) -> StoreResult<()>;
    /// Deletes every token of `principal` (a user or a service application, matched by kind
    /// and URI): after a password change, or `user revoke`. Returns how many.
    async fn revoke_tokens(&self, principal: &Principal) -> StoreResult<u64>;

    /// Creates the application, or returns the active one the same owner already has for
    /// the same endpoint id (`false`: not created).
    async fn create_application(
        &self,
        new: &NewApplication,
        params: ChannelParams,
        now_ms: i64,
    ) -> StoreResult<(Application, bool)>;
    async fn application(&self, id: &str) -> StoreResult<Option<Application>>;
    /// The active, available (`makeMeAvailable`) applications of a signed-in user: where
    /// incoming invitations ring, oldest first.
    async fn online_applications(&self, uri: &str) -> StoreResult<Vec<Application>>;
    /// What `uri` holds now, for the per-user quotas: its active applications and the
    /// meetings (of any kind) it organizes that have not finished at `now_ms` (see
    /// [`Meeting::finished_at`]).
    async fn quota_usage(&self, uri: &str, now_ms: i64) -> StoreResult<QuotaUsage>;
    /// Deletes the application with its event log; `false` if there was none.
    async fn delete_application(&self, id: &str) -> StoreResult<bool>;
    /// Marks the application available and appends `events` in the same transaction;
    /// `false` (and nothing appended) if it already was.
    async fn make_available(&self, id: &str, events: Vec<NewEvent>, now_ms: i64) -> StoreResult<bool>;
    /// Records event-channel activity and the sticky parameters.
    async fn touch_channel(&self, id: &str, params: ChannelParams, now_ms: i64) -> StoreResult<()>;
    /// Marks active applications whose last channel activity is older than
    /// `idle_before_ms` as expired, except those in `busy` (a request is parked on them).
    /// Their event logs are dropped. Returns the expired ids.
    async fn expire_idle_applications(&self, idle_before_ms: i64, busy: &[String]) -> StoreResult<Vec<String>>;

    /// Appends events to their applications' logs in one transaction (dropping those
    /// addressed to applications that are gone) and rings the doorbell after commit.
    async fn append_events(&self, events: Vec<NewEvent>, now_ms: i64) -> StoreResult<()>;
    /// Takes application `app_id`'s event channel for a request of `claim.priority` parked
    /// (on this node) until `claim.until_ms`, unless a request of higher priority holds it
    /// and has not reached its own end at `claim.now_ms` (then `None`: the newer request is
    /// refused). Returns the new holder's ticket and, read once the claim holds the
    /// application's row, [`Store::events_after`] `after_seq` (up to `limit`): how every
    /// poll starts, in one round trip. A request holding it on another node is told through
    /// its node's doorbell ([`Doorbell::ring_claims`]) and finds with [`Store::poll_holder`]
    /// that it was replaced. Until the holder's end the application counts as active for idle
    /// expiry on every node. A store written by one process only keeps nothing here (ticket
    /// 0): the node's own table of parked requests is the whole truth.
    async fn claim_poll(
        &self,
        app_id: &str,
        claim: PollClaim,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Option<(u64, Vec<StoredEvent>)>>;
    /// The ticket of the request holding the application's channel (see
    /// [`Store::claim_poll`]).
    async fn poll_holder(&self, app_id: &str) -> StoreResult<Option<u64>>;
    /// The request with `ticket` has returned at `now_ms`: frees the channel, unless a newer
    /// request took it meanwhile.
    async fn release_poll(&self, app_id: &str, ticket: u64, now_ms: i64) -> StoreResult<()>;
    /// Up to `limit` undelivered events with a sequence number above `after_seq`, in order.
    async fn events_after(&self, app_id: &str, after_seq: i64, limit: u32) -> StoreResult<Vec<StoredEvent>>;
    /// Saves `batch` as the last delivered batch if `previous_no` still is, marks the events
    /// the previous batch carried as acknowledged (the client asked for this one; the
    /// backend removes them later, off the delivery path) and records channel activity at
    /// `now_ms`. `false`: another request got there first.
    async fn save_batch(
        &self,
        app_id: &str,
        batch: &DeliveredBatch,
        previous_no: u64,
        now_ms: i64,
    ) -> StoreResult<bool>;
    /// [`Store::save_batch`], then [`Store::release_poll`] for `ticket` if the batch was
    /// saved, as one write where the store can: a delivery costs one round trip, not two.
    async fn save_batch_and_release(
        &self,
        app_id: &str,
        batch: &DeliveredBatch,
        previous_no: u64,
        ticket: u64,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let saved = self.save_batch(app_id, batch, previous_no, now_ms).await?;
        if saved {
            self.release_poll(app_id, ticket, now_ms).await?;
        }
        Ok(saved)
    }
    /// The body of batch `no` if it is the last batch delivered on the channel of `app_id`
    /// (what a replay answers); `None` when another batch has been saved since, or the
    /// application is gone.
    async fn delivered_batch(&self, app_id: &str, no: u64) -> StoreResult<Option<String>>;
    /// Deletes acknowledged events, at most `limit` in one short transaction, by key (an
    /// application and a range of its sequence numbers), never by scanning the log. Returns
    /// how many it deleted and whether it stopped at its limit with some left; call again
    /// while [`AckCleanup::more`]. Backends also run this on their own, off the delivery path;
    /// calling it is never needed for correctness, since acknowledged events are never read
    /// again.
    async fn delete_acknowledged_events(&self, limit: u32) -> StoreResult<AckCleanup>;

    /// Stores a new meeting (no sessions yet), finished from [`Meeting::finished_at`] at
    /// its `created_ms` (a two-party conversation nobody joins is purged like an ended one).
    async fn insert_meeting(&self, record: &MeetingRecord) -> StoreResult<()>;
    async fn meeting(&self, id: &str) -> StoreResult<Option<MeetingRecord>>;
    /// The stored version of a meeting.
    async fn meeting_version(&self, id: &str) -> StoreResult<Option<u64>>;
    /// The meeting if its stored version is no longer `version`: lets a node reuse its
    /// cached copy when unchanged. The default reads the version, then the meeting if needed;
    /// a networked store does both in one round trip.
    async fn meeting_if_changed(&self, id: &str, version: u64) -> StoreResult<MeetingSince> {
        Ok(match self.meeting_version(id).await? {
            None => MeetingSince::Gone,
            Some(stored) if stored == version => MeetingSince::Unchanged,
            Some(_) => self.meeting(id).await?.map_or(MeetingSince::Gone, |m| MeetingSince::Changed(Box::new(m))),
        })
    }
    /// The `limit` most recently created meetings organized by `uri`, oldest first (not
    /// two-party conversations).
    async fn meetings_organized_by(&self, uri: &str, limit: u32) -> StoreResult<Vec<MeetingRecord>>;
    /// Up to `limit` meetings of every kind with an id above `after_id`, in id order: one
    /// page of a walk through all of them (`ucwa-server store copy`).
    async fn meetings_after(&self, after_id: &str, limit: u32) -> StoreResult<Vec<MeetingRecord>>;
    /// Saves `after` if the stored meeting is still `before` (compare-and-swap on the
    /// version), writing only the sessions that changed ([`Meeting::session_changes`]) and
    /// when it finished ([`Meeting::finished_at`] at `now_ms`), and appends `events` in the
    /// same transaction. `false`: someone else changed the meeting first; reload and retry.
    /// [`StoreError::Conflict`], with nothing written: a new session carries the
    /// [`own_operation_id`](crate::meeting::Session::own_operation_id) of another stored
    /// session of the same application (two nodes started the same operation at once; the
    /// loser finds the winner's with [`Store::find_operation`]).
    async fn save_meeting(
        &self,
        after: &MeetingRecord,
        before: &Meeting,
        events: Vec<NewEvent>,
        now_ms: i64,
    ) -> StoreResult<bool>;
    /// Deletes the meeting if it is still at `version`, appending `events` (the goodbyes of
    /// its sessions) in the same transaction.
    async fn delete_meeting(&self, id: &str, version: u64, events: Vec<NewEvent>, now_ms: i64) -> StoreResult<bool>;
    /// The meeting and application of a session (conversation / invitation id).
    async fn session_location(&self, session_id: &str) -> StoreResult<Option<SessionLocation>>;
    /// The session that application `app_id` started with the operation `operation_id` (its
    /// join or `startMessaging`, [`crate::meeting::Session::own_operation_id`]), while the
    /// session is stored: a retried request returns that operation instead of starting
    /// another.
    async fn find_operation(&self, app_id: &str, operation_id: &str) -> StoreResult<Option<SessionLocation>>;
    /// Live sessions of an application, to end them when the application goes away.
    async fn sessions_of_application(&self, app_id: &str) -> StoreResult<Vec<SessionLocation>>;
    /// Meetings with a lobby deadline at or before `now_ms`, and meetings with notices
    /// pending (`MeetingRecord::pending`: a server stopped between the two saves of a
    /// command), so housekeeping completes them even if nobody uses the meeting again.
    async fn meetings_due(&self, now_ms: i64) -> StoreResult<Vec<String>>;

    /// Registers a service application endpoint or replaces its name, secret hash, signing
    /// key and default callback URL; `true` when it is new.
    async fn upsert_service_app(&self, app: &ServiceApp) -> StoreResult<bool>;
    async fn find_service_app(&self, uri: &str) -> StoreResult<Option<ServiceApp>>;
    async fn list_service_apps(&self) -> StoreResult<Vec<ServiceApp>>;

    /// Records where a service application's conversation delivers its events. Must be
    /// stored before the conversation's first event is appended: the event append consults
    /// it to put the events of a conversation with a callback URL into the callback outbox
    /// (in the same transaction) instead of the event log.
    async fn insert_callback_route(&self, route: &CallbackRoute) -> StoreResult<()>;
    async fn delete_callback_route(&self, session_id: &str) -> StoreResult<()>;
    /// Claims for `node`, until `lease_until_ms`, up to `limit` conversations whose callbacks
    /// are due at `now_ms` and whose delivery lease is free (never taken, released, or
    /// expired), oldest undelivered event first, taking at most `per_app` leases of one
    /// application (endpoint) in all: the leases it holds already, on any node, count.
    /// Only the holder of a conversation's lease delivers it, so with several nodes on one
    /// database each conversation has one deliverer at a time, a dead node's conversations
    /// are taken over once its leases expire, and one endpoint's many slow conversations
    /// cannot take every delivery slot of every node (callback fairness).
    async fn claim_callbacks(
        &self,
        node: &str,
        now_ms: i64,
        lease_until_ms: i64,
        per_app: u32,
        limit: u32,
    ) -> StoreResult<Vec<DueCallback>>;
    /// Extends `node`'s lease on a conversation to `lease_until_ms`. `false`: `node` does not
    /// hold it any more (released, or expired and claimed by another node); stop delivering.
    async fn renew_callback_lease(&self, session_id: &str, node: &str, lease_until_ms: i64) -> StoreResult<bool>;
    /// Frees `node`'s lease on a conversation (its delivery turn is over), so any node may
    /// claim it when it is next due.
    async fn release_callback_lease(&self, session_id: &str, node: &str) -> StoreResult<()>;
    /// The route of a conversation and up to `limit` of its undelivered events, in order,
    /// ending at the route's pinned batch end ([`CallbackRoute::batch_through`]) if it has one.
    async fn callback_batch(
        &self,
        session_id: &str,
        limit: u32,
    ) -> StoreResult<Option<(CallbackRoute, Vec<OutboxItem>)>>;
    /// Pins the end of the batch about to be sent (unless one is pinned already): until it
    /// is delivered, every attempt, on any node, sends exactly the events up to `through_id`
    /// under the same `ack`, so a receiver can drop a repeat by its delivery id.
    async fn pin_callback_batch(&self, session_id: &str, through_id: i64) -> StoreResult<()>;
    /// The events up to `through_id` were delivered: drops them, unpins the batch, resets the
    /// retry state, counts the batch, and replaces the context when the receiver answered a
    /// new one.
    async fn callback_delivered(&self, session_id: &str, through_id: i64, context: Option<&str>) -> StoreResult<()>;
    /// Records a failed attempt and when to try again; returns the failures so far.
    async fn callback_attempt_failed(&self, session_id: &str, next_attempt_ms: i64) -> StoreResult<u32>;
    /// Gives up on a conversation: its undelivered events are dropped, its route stops
    /// taking callbacks (later events go to the log) and the failure is recorded.
    async fn callback_give_up(&self, session_id: &str, last_error: &str, now_ms: i64) -> StoreResult<()>;
    /// Every recorded give-up, oldest first.
    async fn callback_failures(&self) -> StoreResult<Vec<CallbackFailure>>;
    /// Forgets routes of conversations that ended and have nothing left to deliver, created
    /// before `before_ms`.
    async fn purge_callback_routes(&self, before_ms: i64) -> StoreResult<u64>;

    /// One bounded step of retention: deletes up to `limit` meetings finished (see
    /// [`Meeting::finished_at`]) before `before_ms` with their sessions, up to `limit`
    /// expired applications not polled since before `before_ms` and without live sessions
    /// with their events, and up to `limit` callback failures recorded before `before_ms`,
    /// each kind in its own short transaction. Reports the applications that ended but still
    /// have live sessions, for the caller to end through the meeting engine.
    async fn purge_finished(&self, before_ms: i64, limit: u32) -> StoreResult<Purged>;

    /// Closes the database (flushes the write-ahead log on SQLite).
    async fn close(&self);
}

pub type DynStore = Arc<dyn Store>;

/// What a user holds, for the per-user quotas ([`Store::quota_usage`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaUsage {
    pub applications: u64,
    pub meetings: u64,
}

/// An open window of failed sign-ins ([`Store::signin_failures`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigninWindow {
    pub failures: u32,
    /// When the window closes (and its count starts again from nothing).
    pub until_ms: i64,
}

/// What one [`Store::delete_acknowledged_events`] pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AckCleanup {
    /// Acknowledged events deleted.
    pub deleted: u64,
    /// The pass stopped at its limit while acknowledged events were left: there is more to
    /// delete right away. `false` once a pass reached the end of what was acknowledged when
    /// it ran, which is what ends a backend's upkeep round: under load, clients acknowledge
    /// a few events between any two passes, so "until a pass deletes nothing" would spin
    /// (and take the application row locks appenders wait for) for as long as the load lasts.
    pub more: bool,
}

impl AckCleanup {
    /// Acknowledged events one pass of a backend's own upkeep deletes at most. A pass of
    /// 1,000 holds SQLite's single writer for 1.4-2.7 ms at the median with a million events
    /// stored (docs/BENCHMARKS.md, scenario (e)), short enough that a commit queued behind it
    /// barely notices, large enough that a backlog of a million events goes in a few seconds.
    pub const UPKEEP_CHUNK: u32 = 1_000;
    /// Passes per upkeep tick at most: 100,000 events a second, far above the rate clients
    /// acknowledge at, while leaving the database to others between passes.
    pub const UPKEEP_PASSES_PER_TICK: usize = 100;

    /// One tick of a backend's own upkeep: passes of [`Self::UPKEEP_CHUNK`] events (`pass`
    /// runs [`Store::delete_acknowledged_events`] its way) until one reaches the end
    /// ([`Self::more`] is false), one fails (its error is returned), or
    /// [`Self::UPKEEP_PASSES_PER_TICK`] ran.
    pub async fn upkeep_tick<F, Fut>(mut pass: F) -> StoreResult<()>
    where
        F: FnMut(u32) -> Fut,
        Fut: std::future::Future<Output = StoreResult<AckCleanup>>,
    {
        for _ in 0..Self::UPKEEP_PASSES_PER_TICK {
            if !pass(Self::UPKEEP_CHUNK).await?.more {
                break;
            }
        }
        Ok(())
    }
}

/// What one [`Store::purge_finished`] step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purged {
    /// Finished meetings deleted, with their sessions.
    pub meetings: u64,
    /// Expired applications deleted, with their events.
    pub applications: u64,
    /// Recorded callback give-ups deleted.
    pub callback_failures: u64,
    /// Applications that ended (expired before the cutoff, or deleted) while some of their
    /// sessions are still live: a crash or a lost race between the end of an application
    /// and the end of its conversations. The caller ends those conversations the usual way
    /// (`sessions_of_application`, then `Command::Leave`), so that the other participants
    /// see them leave and the meetings can finish. At most `limit`.
    pub stranded_applications: Vec<String>,
    /// Some kind reached `limit`: there may be more to purge right away.
    pub more: bool,
}

/// What a request on an application's resources reads first ([`Store::find_request_scope`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestScope {
    pub token: TokenRecord,
    /// The application the request's path names, whoever owns it.
    pub application: Option<Application>,
    /// Where the session the request's path names lives, when it names one that exists.
    pub session: Option<SessionLocation>,
}

/// A request's claim of its application's event channel ([`Store::claim_poll`]): its
/// priority, when it was made and when the request ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollClaim {
    pub priority: u32,
    pub now_ms: i64,
    pub until_ms: i64,
}

/// Where a session lives (a `meeting_sessions` row, as both stores read it).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct SessionLocation {
    pub session_id: String,
    pub meeting_id: String,
    pub app_id: String,
}
