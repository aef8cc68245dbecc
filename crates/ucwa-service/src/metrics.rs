//! What the use cases count and time for operators: events, the event channel, the lobby,
//! invitations, callback delivery and sign-in. Recorded through the `metrics` facade into the
//! recorder the server hands in ([`Metrics::new`]; the server's is Prometheus and serves
//! `/metrics`), or nowhere ([`Metrics::disabled`], the default: no cost beyond a call).
//!
//! The recorder is held here instead of being installed process-wide, so that every server
//! in one process (the tests run many) counts only its own traffic. Metrics with fixed
//! labels are registered once; those with a label from a small closed set (an outcome, a
//! grant type) or from the registered service application endpoints are looked up in the
//! recorder's registry when they move, which is a hash lookup.
//!
//! Where each metric moves:
//! - `ucwa_events_appended_total`: the meeting engine's saves and `makeMeAvailable`.
//! - `ucwa_events_delivered_total`, `ucwa_event_delivery_delay_seconds`: a new event
//!   channel batch (replays are not counted again); the delay is from the event's commit to
//!   its batch, on the server's clock.
//! - `ucwa_parked_event_requests`: set from the event channel's slot table when scraped.
//! - `ucwa_database_connections{state}`, `ucwa_database_statements_waiting`,
//!   `ucwa_database_listener_losses_total`: read from the store when scraped
//!   ([`Store::database_stats`](ucwa_core::Store::database_stats); PostgreSQL only).
//! - `ucwa_lobby_wait_seconds{outcome}`, `ucwa_invitations_completed_total{kind,direction,outcome}`,
//!   `ucwa_admit_to_completed_seconds`: derived by the meeting engine from each saved command.
//! - `ucwa_callback_*_total{endpoint}`: the callback worker.
//! - `ucwa_signin_failures_total{grant}`: sign-in.
//! - `ucwa_rate_limited_total{limit}`: requests and connections refused by a limit: `signin`
//!   (failed sign-ins per address or name, 429), `hashing` (the argon2 cap, 503),
//!   `applications_per_user`, `meetings_per_user`, `invitations_per_conversation` (quotas) and
//!   `connections` (the connection cap, counted by the accept loop).

use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, SharedString, Unit};
use ucwa_core::meeting::{ConversationState, Direction, InvitationKind, InvitationState, Notice, NoticeKind, Session};
use ucwa_core::model::MeetingRecord;
use ucwa_core::store::DatabaseStats;

/// A recorder shared by the server's layers.
pub type DynRecorder = Arc<dyn Recorder + Send + Sync>;

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

const EVENTS_APPENDED: &str = "ucwa_events_appended_total";
const EVENTS_DELIVERED: &str = "ucwa_events_delivered_total";
const EVENT_DELIVERY_DELAY: &str = "ucwa_event_delivery_delay_seconds";
const PARKED: &str = "ucwa_parked_event_requests";
const LOBBY_WAIT: &str = "ucwa_lobby_wait_seconds";
const ADMIT_TO_COMPLETED: &str = "ucwa_admit_to_completed_seconds";
const INVITATIONS: &str = "ucwa_invitations_completed_total";
const CALLBACKS_DELIVERED: &str = "ucwa_callback_deliveries_total";
const CALLBACK_EVENTS: &str = "ucwa_callback_events_delivered_total";
const CALLBACK_RETRIES: &str = "ucwa_callback_retries_total";
const CALLBACK_GIVE_UPS: &str = "ucwa_callback_give_ups_total";
const SIGNIN_FAILURES: &str = "ucwa_signin_failures_total";
const RATE_LIMITED: &str = "ucwa_rate_limited_total";
const DB_CONNECTIONS: &str = "ucwa_database_connections";
const DB_WAITING: &str = "ucwa_database_statements_waiting";
const DB_LISTENER_LOSSES: &str = "ucwa_database_listener_losses_total";

/// The use cases' metrics. Cheap to clone.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    recorder: DynRecorder,
    enabled: bool,
    events_appended: Counter,
    events_delivered: Counter,
    event_delivery_delay: Histogram,
    parked: Gauge,
    admit_to_completed: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::disabled()
    }
}

impl Metrics {
    /// Records into `recorder`, describing every metric first (the `# HELP` lines).
    pub fn new(recorder: DynRecorder) -> Self {
        Self::with(recorder, true)
    }

    fn with(recorder: DynRecorder, enabled: bool) -> Self {
        describe(recorder.as_ref());
        let plain = |name: &'static str| Key::from_static_name(name);
        Metrics(Arc::new(Inner {
            events_appended: recorder.register_counter(&plain(EVENTS_APPENDED), &METADATA),
            events_delivered: recorder.register_counter(&plain(EVENTS_DELIVERED), &METADATA),
            event_delivery_delay: recorder.register_histogram(&plain(EVENT_DELIVERY_DELAY), &METADATA),
            parked: recorder.register_gauge(&plain(PARKED), &METADATA),
            admit_to_completed: recorder.register_histogram(&plain(ADMIT_TO_COMPLETED), &METADATA),
            recorder,
            enabled,
        }))
    }

    /// Records nothing.
    pub fn disabled() -> Self {
        Self::with(Arc::new(metrics::NoopRecorder), false)
    }

    /// Whether anything is recorded (callers skip work that only feeds metrics otherwise).
    pub fn enabled(&self) -> bool {
        self.0.enabled
    }

    /// The recorder, for the server's own (HTTP) metrics.
    pub fn recorder(&self) -> &DynRecorder {
        &self.0.recorder
    }

    fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        self.0.recorder.register_counter(&Key::from_parts(name, labels), &METADATA)
    }

    fn histogram(&self, name: &'static str, labels: Vec<Label>) -> Histogram {
        self.0.recorder.register_histogram(&Key::from_parts(name, labels), &METADATA)
    }

    /// `n` events were written to applications' mailboxes.
    pub fn events_appended(&self, n: usize) {
        self.0.events_appended.increment(n as u64);
    }

    /// A new batch carried events made at `created_ms` out of the event channel at `now_ms`.
    pub fn batch_delivered(&self, created_ms: &[i64], now_ms: i64) {
        self.0.events_delivered.increment(created_ms.len() as u64);
        for created in created_ms {
            self.0.event_delivery_delay.record(seconds(now_ms - created));
        }
    }

    /// How many event requests are parked right now.
    pub fn set_parked(&self, n: usize) {
        self.0.parked.set(n as f64);
    }

    /// What the store's database connections are doing now (a store without any reports
    /// nothing, and these series are then absent).
    pub fn set_database(&self, stats: &DatabaseStats) {
        let state = |s: &'static str| vec![Label::new("state", s)];
        let gauge = |name: &'static str, labels: Vec<Label>| {
            self.0.recorder.register_gauge(&Key::from_parts(name, labels), &METADATA)
        };
        gauge(DB_CONNECTIONS, state("in_use")).set(stats.in_use as f64);
        gauge(DB_CONNECTIONS, state("idle")).set(stats.connections.saturating_sub(stats.in_use) as f64);
        gauge(DB_WAITING, Vec::new()).set(stats.waiting as f64);
        self.counter(DB_LISTENER_LOSSES, Vec::new()).absolute(stats.listener_losses);
    }

    /// A service application endpoint's callback batch of `events` events was answered 2xx.
    pub fn callback_delivered(&self, endpoint: &str, events: usize) {
        let label = || vec![Label::new("endpoint", endpoint.to_owned())];
        self.counter(CALLBACKS_DELIVERED, label()).increment(1);
        self.counter(CALLBACK_EVENTS, label()).increment(events as u64);
    }

    /// A callback POST failed and will be retried (unless this was the last attempt).
    pub fn callback_failed(&self, endpoint: &str) {
        self.counter(CALLBACK_RETRIES, vec![Label::new("endpoint", endpoint.to_owned())]).increment(1);
    }

    /// Callback delivery gave up on a conversation.
    pub fn callback_given_up(&self, endpoint: &str) {
        self.counter(CALLBACK_GIVE_UPS, vec![Label::new("endpoint", endpoint.to_owned())]).increment(1);
    }

    /// A sign-in was refused for a wrong name or secret (`grant`: the grant type).
    pub fn signin_failed(&self, grant: &'static str) {
        self.counter(SIGNIN_FAILURES, vec![Label::from_static_parts("grant", grant)]).increment(1);
    }

    /// A request (or connection) was refused by the named limit: a rate, a capacity or a
    /// quota (the module overview lists them).
    pub fn rate_limited(&self, limit: &'static str) {
        self.counter(RATE_LIMITED, vec![Label::from_static_parts("limit", limit)]).increment(1);
    }

    /// Records what [`Observed::of`] saw; `started` is when the command reached the
    /// meeting engine (queueing on the meeting's lock included).
    pub fn record_meeting(&self, observed: Observed, started: Instant) {
        for (kind, direction, outcome) in observed.invitations {
            let labels = vec![
                Label::from_static_parts("kind", kind),
                Label::from_static_parts("direction", direction),
                Label::new("outcome", outcome),
            ];
            self.counter(INVITATIONS, labels).increment(1);
        }
        for (outcome, waited) in observed.lobby {
            self.histogram(LOBBY_WAIT, vec![Label::from_static_parts("outcome", outcome)]).record(waited);
        }
        if observed.admitted {
            self.0.admit_to_completed.record(started.elapsed().as_secs_f64());
        }
    }
}

/// What one meeting command did, as [`Observed::of`] saw it.
#[derive(Debug, Default)]
pub struct Observed {
    /// Completed invitations: kind, direction, outcome.
    invitations: Vec<(&'static str, &'static str, String)>,
    /// Lobby waits that ended: outcome, seconds waited.
    lobby: Vec<(&'static str, f64)>,
    /// A waiting joiner was admitted (its invitation completed with success).
    admitted: bool,
}

impl Observed {
    /// What a meeting command did, told by the meeting before and after it (before ended
    /// sessions are forgotten) and its notices: invitations that completed, and who left the
    /// lobby after how long. Computed before the save, recorded with [`Metrics::record_meeting`] once
    /// the save succeeded.
    pub fn of(change: MeetingChange<'_>) -> Self {
        let MeetingChange { before, after, notices, now_ms, lobby_timeout_ms } = change;
        let (before, after) = (before.meeting.sessions(), after.meeting.sessions());
        let mut observed = Self::default();
        for notice in notices {
            let Some(session) = after.get(&notice.to) else { continue };
            match &notice.kind {
                NoticeKind::InvitationCompleted { state } => {
                    let kind = match session.invitation.kind {
                        InvitationKind::OnlineMeeting => "onlineMeeting",
                        InvitationKind::Messaging => "messaging",
                    };
                    let outcome = outcome(*state, session.invitation.reason.as_ref().map(|r| r.subcode.as_str()));
                    observed.invitations.push((kind, direction(session.invitation.direction), outcome));
                    observed.admitted |=
                        *state == InvitationState::Connected && before.get(&notice.to).is_some_and(|s| s.is_waiting());
                }
                NoticeKind::ParticipantInvitationCompleted { id } => {
                    if let Some(pinv) = session.participant_invitations.iter().find(|p| &p.id == id) {
                        let outcome = outcome(pinv.state, pinv.reason.as_ref().map(|r| r.subcode.as_str()));
                        observed.invitations.push(("participant", "outgoing", outcome));
                    }
                }
                _ => {}
            }
        }
        for (id, was) in before.iter().filter(|(_, s)| s.is_waiting()) {
            let now = after.get(id);
            if now.is_some_and(|s| s.is_waiting()) {
                continue;
            }
            let Some(deadline) = was.lobby_deadline_ms else { continue };
            let entered = deadline.saturating_sub_unsigned(lobby_timeout_ms);
            observed.lobby.push((lobby_outcome(now.map(Arc::as_ref)), seconds(now_ms - entered)));
        }
        observed
    }
}

/// One saved meeting command, for [`Observed::of`].
pub struct MeetingChange<'a> {
    pub before: &'a MeetingRecord,
    pub after: &'a MeetingRecord,
    pub notices: &'a [Notice],
    pub now_ms: i64,
    pub lobby_timeout_ms: u64,
}

fn seconds(ms: i64) -> f64 {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0)).as_secs_f64()
}

fn direction(direction: Direction) -> &'static str {
    match direction {
        Direction::Outgoing => "outgoing",
        Direction::Incoming => "incoming",
    }
}

/// `Success`, or the failure's reason subcode (`Denied`, `Timeout`, `Canceled`, ...: a
/// closed set, the constructors of `ucwa_core::meeting::Reason`).
fn outcome(state: InvitationState, subcode: Option<&str>) -> String {
    match state {
        InvitationState::Connected => "Success".into(),
        InvitationState::Connecting => "Connecting".into(),
        InvitationState::Failed => subcode.unwrap_or("Failure").to_owned(),
    }
}

/// Why a session is no longer waiting in the lobby.
fn lobby_outcome(now: Option<&Session>) -> &'static str {
    let Some(session) = now else { return "left" };
    if session.state != ConversationState::Disconnected {
        return "admitted";
    }
    match session.invitation.reason.as_ref().map(|r| r.subcode.as_str()) {
        Some("Denied") => "rejected",
        Some("Timeout") => "timeout",
        Some("Canceled") => "canceled",
        Some("Ended") => "ended",
        _ => "left",
    }
}

fn describe(recorder: &dyn Recorder) {
    let text = |s: &'static str| SharedString::from(s);
    let counters: [(&'static str, &'static str); 10] = [
        (EVENTS_APPENDED, "Events written to applications' event channels and callback outboxes."),
        (EVENTS_DELIVERED, "Events handed out in new event channel batches (replays not counted)."),
        (INVITATIONS, "Invitations completed, by kind, direction and outcome (Success or the reason subcode)."),
        (CALLBACKS_DELIVERED, "Callback batches a service application endpoint answered with a 2xx."),
        (CALLBACK_EVENTS, "Events delivered in callback batches."),
        (CALLBACK_RETRIES, "Failed callback POSTs (each is retried until the attempts run out)."),
        (CALLBACK_GIVE_UPS, "Conversations terminated because their callbacks kept failing."),
        (SIGNIN_FAILURES, "Sign-ins refused for a wrong name or secret, by grant type."),
        (RATE_LIMITED, "Requests and connections refused by a rate limit, capacity or quota, by limit."),
        (DB_LISTENER_LOSSES, "Times the connection listening for other nodes' commits was lost (PostgreSQL)."),
    ];
    for (name, help) in counters {
        recorder.describe_counter(KeyName::from_const_str(name), None, text(help));
    }
    recorder.describe_gauge(KeyName::from_const_str(PARKED), None, text("Event channel requests parked now."));
    recorder.describe_gauge(
        KeyName::from_const_str(DB_CONNECTIONS),
        None,
        text("Connections to the database open now, by state (in_use, idle), besides the listening one (PostgreSQL)."),
    );
    recorder.describe_gauge(
        KeyName::from_const_str(DB_WAITING),
        None,
        text("Statements waiting for a database connection now; often above 0, the pool is too small (PostgreSQL)."),
    );
    let histograms: [(&'static str, &'static str); 3] = [
        (EVENT_DELIVERY_DELAY, "From an event's commit to the batch that carries it, on the server's clock."),
        (
            LOBBY_WAIT,
            "Time spent in a lobby, by how the wait ended (admitted, rejected, timeout, canceled, ended, left).",
        ),
        (
            ADMIT_TO_COMPLETED,
            "From an admit reaching the meeting engine to the joiner's completed event being committed.",
        ),
    ];
    for (name, help) in histograms {
        recorder.describe_histogram(KeyName::from_const_str(name), Some(Unit::Seconds), text(help));
    }
}
