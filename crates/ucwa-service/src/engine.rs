//! The meeting engine: runs one command at a time per meeting, renders its notices into
//! events and saves state and events in one store transaction.
//!
//! Concurrency: each meeting has a `tokio::sync::Mutex` (held across the store round trip,
//! hence tokio's rather than std's). Commands on one meeting queue up instead of racing
//! into compare-and-swap retries, which keeps latency flat when a thousand people wait in
//! one lobby. The lock also guards this node's cached copy of the meeting. A read (a `GET`)
//! uses the copy only while the stored version still matches, so another node's writes are
//! always seen. A command may run on the copy without that check while no other node has
//! been seen writing the meeting (the copy is *trusted*): the save's version check catches a
//! stale copy, and a command the copy refuses is tried again on a checked one, so the
//! outcome is the same and a meeting only this node writes costs one round trip less per
//! command. The store's version check remains the real arbiter; a lost race reloads,
//! retries, and stops the trust until a check finds the copy current again.
//!
//! The changed first: a command with more than `FANOUT_SPLIT` notices beyond what the
//! sessions it changed must hear first (an admit into a large roster tells every member,
//! and lists every member to the joiner) is saved twice, under the lock. The first save
//! commits the new state with the changed sessions' own events (the joiner's conversation,
//! local participant and `completed`) and the other notices as `MeetingRecord::pending`, so
//! the joiner is released before the fan-out is even rendered; the second renders the
//! pending notices (everyone else's, and the roster listed to the joiner after its
//! `completed`) against that same state, appends their events and forgets ended sessions.
//! Each application's events stay in order: a recipient's notices in the first part are a
//! prefix of its notices, and the next command waits for the lock. Nothing is lost to a crash
//! between the saves: the pending notices are stored, and whoever loads the meeting next
//! completes them before anything else (rendering is a function of the stored state and the
//! notices, so the events are the ones the first node would have appended).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use ucwa_core::DynStore;
use ucwa_core::clock::DynClock;
use ucwa_core::meeting::{Command, ConversationState, Notice, NoticeKind};
use ucwa_core::model::{MeetingRecord, NewEvent};
use ucwa_core::store::MeetingSince;

use crate::error::{ServiceError, ServiceResult};
use crate::metrics::{MeetingChange, Metrics, Observed};
use crate::render::projection::project;

/// One meeting's lock and this node's cached copy of it.
#[derive(Default)]
struct Slot {
    copy: tokio::sync::Mutex<Copy>,
    last_used_ms: AtomicI64,
}

/// This node's copy of a meeting.
#[derive(Default)]
struct Copy {
    record: Option<MeetingRecord>,
    /// Whether a command may run on `record` unchecked: no other node was seen writing the
    /// meeting since this node last saved it or found its copy current.
    trusted: bool,
}

/// How [`MeetingEngine::current`] came by a meeting.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Look {
    /// The cached copy, unchecked (it was trusted).
    Trusted,
    /// The cached copy, found current (or this process makes every write), or the first load.
    Current,
    /// Loaded again: another node had changed the meeting since this node's copy.
    Changed,
}

/// Cached meetings unused for this long are dropped by [`MeetingEngine::prune`].
const IDLE_CACHE_MS: i64 = 60_000;

pub struct MeetingEngine {
    store: DynStore,
    clock: DynClock,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    metrics: Metrics,
    /// The lobby limit deadlines are set with (the metrics tell entry times from it).
    lobby_timeout_ms: u64,
}

/// How many times a command is tried when it keeps losing the compare-and-swap to other
/// nodes. Commands on one meeting queue on each node (the slot's lock), so at most one per
/// node competes at a time and every round has a winner: with N nodes a command wins a round
/// with a chance of about 1/N, and losing 64 in a row does not happen in practice even with
/// dozens of joins spread over three nodes. A lost round costs a reload; the next attempt
/// reads what the winner committed.
const ATTEMPTS: usize = 64;

/// A command whose notices to sessions it did not change number more than this is saved in
/// two steps (see the module documentation); smaller ones in one transaction.
const FANOUT_SPLIT: usize = 64;

pub(crate) fn meeting_not_found() -> ServiceError {
    ServiceError::destination_not_found("The meeting cannot be found.")
}

/// Contention, not a fault: the client is told to retry (503 with `Retry-After`), as when the
/// database is not taking work.
fn kept_changing(meeting_id: &str) -> ServiceError {
    ServiceError::StoreUnavailable(format!("meeting {meeting_id} kept changing under this node"))
}

impl MeetingEngine {
    pub fn new(store: DynStore, clock: DynClock, metrics: Metrics, lobby_timeout_ms: u64) -> Self {
        Self { store, clock, slots: Mutex::default(), metrics, lobby_timeout_ms }
    }

    fn observe(&self, before: &MeetingRecord, after: &MeetingRecord, notices: &[Notice], now_ms: i64) -> Observed {
        let lobby_timeout_ms = self.lobby_timeout_ms;
        Observed::of(MeetingChange { before, after, notices, now_ms, lobby_timeout_ms })
    }

    fn slot(&self, meeting_id: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = slots.entry(meeting_id.to_owned()).or_default().clone();
        slot.last_used_ms.store(self.clock.now_ms(), Ordering::Relaxed);
        slot
    }

    /// Forgets cached meetings nobody has used for a minute. They are only a cache, so
    /// dropping one costs a reload; without this the map would keep every meeting this node
    /// ever saw. A slot only this map holds has no task inside or waiting on it, and a new
    /// user must take the map lock to get it, so the check cannot race.
    pub fn prune(&self) {
        let now = self.clock.now_ms();
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.retain(|_, slot| {
            Arc::strong_count(slot) > 1 || now - slot.last_used_ms.load(Ordering::Relaxed) < IDLE_CACHE_MS
        });
    }

    /// Drops the slot of `meeting_id` if nobody is using or waiting for it (see [`Self::prune`]).
    fn forget_if_unused(&self, meeting_id: &str) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if slots.get(meeting_id).is_some_and(|slot| Arc::strong_count(slot) == 1) {
            slots.remove(meeting_id);
        }
    }

    /// After a failed look-up: no slot stays behind for a meeting that does not exist (a join
    /// may name any).
    fn forget_unknown(&self, slot: Arc<Slot>, meeting_id: &str) {
        drop(slot);
        self.forget_if_unused(meeting_id);
    }

    fn drop_slot(&self, meeting_id: &str) {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).remove(meeting_id);
    }

    /// The current meeting, from this node's cache when the store still has that version
    /// (or, when this process makes every write, whenever there is a cached copy: every save
    /// goes through this engine under the meeting's lock and refreshes it), or unchecked when
    /// `trust` says so.
    async fn current(
        &self,
        cached: Option<MeetingRecord>,
        meeting_id: &str,
        trust: bool,
    ) -> ServiceResult<(MeetingRecord, Look)> {
        let mut cached = cached;
        let mut look = Look::Current;
        for _ in 0..ATTEMPTS {
            let record = match cached.take() {
                Some(record) if self.store.sees_every_write() => record,
                Some(record) if trust && record.pending.is_empty() => return Ok((record, Look::Trusted)),
                Some(record) => match self.store.meeting_if_changed(meeting_id, record.meeting.version()).await? {
                    MeetingSince::Unchanged => record,
                    MeetingSince::Changed(newer) => {
                        look = Look::Changed;
                        *newer
                    }
                    MeetingSince::Gone => return Err(meeting_not_found()),
                },
                None => self.store.meeting(meeting_id).await?.ok_or_else(meeting_not_found)?,
            };
            if record.pending.is_empty() {
                return Ok((record, look));
            }
            // A command's fan-out was left pending (a crash, or a failed second save).
            if let Some(done) = self.append_pending(record).await? {
                return Ok((done, look));
            }
            look = Look::Changed;
        }
        Err(kept_changing(meeting_id))
    }

    /// The second save of a split command: renders `record.pending` against `record`,
    /// appends those events and forgets ended sessions. `None`: someone else saved the
    /// meeting first (and so completed them); reload.
    async fn append_pending(&self, record: MeetingRecord) -> ServiceResult<Option<MeetingRecord>> {
        let now = self.clock.now_ms();
        let events = project(&record, &record.pending);
        let mut after = record.clone();
        after.pending = Vec::new();
        forget_ended(&mut after, now);
        after.meeting.bump_version();
        let appended = events.len();
        let saved = self.store.save_meeting(&after, &record.meeting, events, now).await?;
        if saved {
            self.metrics.events_appended(appended);
        }
        Ok(saved.then_some(after))
    }

    /// A snapshot of the meeting for rendering a GET: always checked against the store.
    pub async fn read(&self, meeting_id: &str) -> ServiceResult<MeetingRecord> {
        let slot = self.slot(meeting_id);
        let mut copy = slot.copy.lock().await;
        let (record, look) = match self.current(copy.record.take(), meeting_id, false).await {
            Ok(found) => found,
            Err(e) => {
                drop(copy);
                self.forget_unknown(slot, meeting_id);
                return Err(e);
            }
        };
        copy.trusted = copy.trusted && look == Look::Current;
        copy.record = Some(record.clone());
        Ok(record)
    }

    /// Applies `change` to the meeting, which returns a result and the notices to deliver;
    /// renders and saves them atomically. Sessions that ended are forgotten in the same
    /// save, after their last events were rendered.
    pub async fn run<T>(
        &self,
        meeting_id: &str,
        mut change: impl FnMut(&mut MeetingRecord, i64) -> ServiceResult<(T, Vec<Notice>)>,
    ) -> ServiceResult<T> {
        let started = std::time::Instant::now();
        let slot = self.slot(meeting_id);
        let mut copy = slot.copy.lock().await;
        // Whether this command met another node's write; the next one checks first if so.
        let mut interfered = false;
        for _ in 0..ATTEMPTS {
            let trust = copy.trusted && !interfered;
            let (before, look) = match self.current(copy.record.take(), meeting_id, trust).await {
                Ok(found) => found,
                Err(e) => {
                    drop(copy);
                    self.forget_unknown(slot, meeting_id);
                    return Err(e);
                }
            };
            interfered |= look == Look::Changed;
            let mut after = before.clone();
            let now = self.clock.now_ms();
            let (out, notices) = match change(&mut after, now) {
                Ok(done) => done,
                Err(e) => {
                    copy.record = Some(before);
                    if look == Look::Trusted {
                        // Refused by an unchecked copy: decide on a checked one.
                        copy.trusted = false;
                        continue;
                    }
                    copy.trusted = !interfered;
                    return Err(e);
                }
            };
            let observed = self.observe(&before, &after, &notices, now);
            let (first, rest) = split_fanout(&after, &before, notices);
            if rest.len() > FANOUT_SPLIT {
                after.pending = rest;
                let events = project(&after, &first);
                let appended = events.len();
                if !self.store.save_meeting(&after, &before.meeting, events, now).await? {
                    interfered = true;
                    continue;
                }
                self.metrics.events_appended(appended);
                self.metrics.record_meeting(observed, started);
                // Committed: the changed sessions are released. Let their parked requests run
                // before the fan-out is rendered: the doorbell woke them from this thread,
                // and tokio keeps a task woken that way in this worker's LIFO slot, which no
                // other worker may steal. Without this they ran only once the fan-out was
                // queued at the writer, and their batch saves committed behind it (the
                // joiner's `completed` came as late as the whole fan-out).
                tokio::task::yield_now().await;
                // Now everyone else.
                copy.record = match self.append_pending(after).await {
                    Ok(done) => done,
                    Err(e) => {
                        // The pending notices are stored; the next command completes them.
                        tracing::warn!(meeting = meeting_id, error = ?e, "appending a command's fan-out failed");
                        None
                    }
                };
                copy.trusted = !interfered && copy.record.is_some();
                return Ok(out);
            }
            let mut notices = first;
            notices.extend(rest);
            let events = project(&after, &notices);
            forget_ended(&mut after, now);
            let appended = events.len();
            if self.store.save_meeting(&after, &before.meeting, events, now).await? {
                copy.record = Some(after);
                copy.trusted = !interfered;
                self.metrics.events_appended(appended);
                self.metrics.record_meeting(observed, started);
                return Ok(out);
            }
            interfered = true;
        }
        copy.trusted = false;
        Err(kept_changing(meeting_id))
    }

    /// Runs one meeting command.
    pub async fn command(&self, meeting_id: &str, cmd: Command) -> ServiceResult<()> {
        self.run(meeting_id, |record, now| Ok(((), record.meeting.handle(cmd.clone(), now)?))).await
    }

    pub async fn create(&self, record: &MeetingRecord) -> ServiceResult<()> {
        self.store.insert_meeting(record).await?;
        Ok(())
    }

    /// Ends the meeting (everyone in it is disconnected with reason `Ended`) and deletes it.
    pub async fn delete(&self, meeting_id: &str) -> ServiceResult<()> {
        let slot = self.slot(meeting_id);
        let mut copy = slot.copy.lock().await;
        for _ in 0..ATTEMPTS {
            let (before, _) = self.current(copy.record.take(), meeting_id, false).await?;
            let mut record = before.clone();
            let version = record.meeting.version();
            let now = self.clock.now_ms();
            let notices = record.meeting.handle(Command::End, now).unwrap_or_default();
            let events: Vec<NewEvent> = project(&record, &notices);
            let (observed, appended) = (self.observe(&before, &record, &notices, now), events.len());
            if self.store.delete_meeting(meeting_id, version, events, now).await? {
                drop(copy);
                self.drop_slot(meeting_id);
                self.metrics.events_appended(appended);
                self.metrics.record_meeting(observed, std::time::Instant::now());
                return Ok(());
            }
        }
        Err(kept_changing(meeting_id))
    }
}

/// Splits a command's notices in two, each part in emission order: what the sessions it
/// changed (new, or different from `before`) hear up to their last notice about themselves,
/// and the rest (every notice to the other sessions, and the changed sessions' trailing
/// listing of other participants, such as the roster a joiner gets after its `completed`).
/// A recipient's notices in the first part are a prefix of its notices, so each
/// application's events keep their order when the first part is appended first.
fn split_fanout(after: &MeetingRecord, before: &MeetingRecord, notices: Vec<Notice>) -> (Vec<Notice>, Vec<Notice>) {
    let changes = after.meeting.session_changes(&before.meeting);
    let changed: HashSet<&str> = changes.written.iter().map(|(id, _)| id.as_str()).collect();
    let in_first: Vec<bool> = {
        let mut own_end: HashMap<&str, usize> = HashMap::new();
        for (i, n) in notices.iter().enumerate() {
            if changed.contains(n.to.as_str()) && !lists_another(n) {
                own_end.insert(n.to.as_str(), i);
            }
        }
        notices.iter().enumerate().map(|(i, n)| own_end.get(n.to.as_str()).is_some_and(|&end| i <= end)).collect()
    };
    let (mut first, mut rest) = (Vec::new(), Vec::with_capacity(notices.len()));
    for (notice, first_part) in notices.into_iter().zip(in_first) {
        if first_part { first.push(notice) } else { rest.push(notice) }
    }
    (first, rest)
}

/// Whether `notice` tells its recipient that another participant is in a view.
fn lists_another(notice: &Notice) -> bool {
    matches!(&notice.kind, NoticeKind::ParticipantAdded { subject, .. } if *subject != notice.to)
}

/// Drops sessions whose conversation was deleted: their last events are rendered, and
/// their resources answer 404 from now on.
fn forget_ended(record: &mut MeetingRecord, now: i64) {
    let ended: Vec<String> = record
        .meeting
        .sessions()
        .iter()
        .filter(|(_, s)| s.state == ConversationState::Disconnected)
        .map(|(id, _)| id.clone())
        .collect();
    for session in ended {
        // Forget only fails for sessions that are not disconnected, which these are.
        let _ = record.meeting.handle(Command::Forget { session }, now);
    }
}
