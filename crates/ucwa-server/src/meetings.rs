//! The meeting engine: runs one command at a time per meeting, renders its notices into
//! events and saves state and events in one store transaction.
//!
//! Concurrency: each meeting has a `tokio::sync::Mutex` (held across the store round trip,
//! hence tokio's rather than std's). Commands on one meeting queue up instead of racing
//! into compare-and-swap retries, which keeps latency flat when a thousand people wait in
//! one lobby. The lock also guards this node's cached copy of the meeting, which is reused
//! only while the stored version still matches, so another node's writes are always seen.
//! The store's version check remains the real arbiter; a lost race reloads and retries.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use ucwa_core::meeting::{Command, ConversationState, MeetingError, Notice};
use ucwa_core::model::{MeetingRecord, NewEvent};

use crate::error::{ApiError, ApiResult};
use crate::render::projection::project;
use crate::state::{AppState, now_ms};

/// One meeting's lock and this node's cached copy of it.
#[derive(Default)]
struct Slot {
    record: tokio::sync::Mutex<Option<MeetingRecord>>,
    last_used_ms: AtomicI64,
}

/// Cached meetings unused for this long are dropped by [`MeetingEngine::prune`].
const IDLE_CACHE_MS: i64 = 60_000;

#[derive(Default)]
pub struct MeetingEngine {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

/// How many times a command is retried after losing a race with another node.
const ATTEMPTS: usize = 5;

pub fn meeting_error(e: MeetingError) -> ApiError {
    match e {
        MeetingError::Forbidden => {
            ApiError::Forbidden { subcode: None, message: "You do not have this capability in the meeting.".into() }
        }
        MeetingError::NotFound => ApiError::not_found(),
        MeetingError::Conflict => ApiError::conflict("The participant is not in a state where this applies."),
        MeetingError::Ended => {
            ApiError::NotFound { subcode: Some("DestinationNotFound"), message: "The meeting has ended.".into() }
        }
    }
}

fn meeting_not_found() -> ApiError {
    ApiError::NotFound { subcode: Some("DestinationNotFound"), message: "The meeting cannot be found.".into() }
}

impl MeetingEngine {
    fn slot(&self, meeting_id: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = slots.entry(meeting_id.to_owned()).or_default().clone();
        slot.last_used_ms.store(now_ms(), Ordering::Relaxed);
        slot
    }

    /// Forgets cached meetings nobody has used for a minute. They are only a cache, so
    /// dropping one costs a reload; without this the map would keep every meeting this node
    /// ever saw. A slot only this map holds has no task inside or waiting on it, and a new
    /// user must take the map lock to get it, so the check cannot race.
    pub fn prune(&self) {
        let now = now_ms();
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.retain(|_, slot| {
            Arc::strong_count(slot) > 1 || now - slot.last_used_ms.load(Ordering::Relaxed) < IDLE_CACHE_MS
        });
    }

    fn drop_slot(&self, meeting_id: &str) {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).remove(meeting_id);
    }

    /// The current meeting, from this node's cache when the store still has that version
    /// (or, when this process makes every write, whenever there is a cached copy: every save
    /// goes through this engine under the meeting's lock and refreshes it).
    async fn current(state: &AppState, cached: Option<MeetingRecord>, meeting_id: &str) -> ApiResult<MeetingRecord> {
        if let Some(record) = cached
            && (state.store.sees_every_write()
                || state.store.meeting_version(meeting_id).await? == Some(record.meeting.version()))
        {
            return Ok(record);
        }
        state.store.meeting(meeting_id).await?.ok_or_else(meeting_not_found)
    }

    /// A snapshot of the meeting for rendering a GET.
    pub async fn read(&self, state: &AppState, meeting_id: &str) -> ApiResult<MeetingRecord> {
        let slot = self.slot(meeting_id);
        let mut guard = slot.record.lock().await;
        let record = Self::current(state, guard.take(), meeting_id).await?;
        *guard = Some(record.clone());
        Ok(record)
    }

    /// Applies `change` to the meeting, which returns a result and the notices to deliver;
    /// renders and saves them atomically. Sessions that ended are forgotten in the same
    /// save, after their last events were rendered.
    pub async fn run<T>(
        &self,
        state: &AppState,
        meeting_id: &str,
        mut change: impl FnMut(&mut MeetingRecord, i64) -> ApiResult<(T, Vec<Notice>)>,
    ) -> ApiResult<T> {
        let slot = self.slot(meeting_id);
        let mut guard = slot.record.lock().await;
        for _ in 0..ATTEMPTS {
            let before = Self::current(state, guard.take(), meeting_id).await?;
            let mut after = before.clone();
            let now = now_ms();
            let (out, notices) = match change(&mut after, now) {
                Ok(done) => done,
                Err(e) => {
                    *guard = Some(before);
                    return Err(e);
                }
            };
            let events = project(&after, &notices);
            forget_ended(&mut after, now);
            if state.store.save_meeting(&after, &before.meeting, events, now).await? {
                *guard = Some(after);
                return Ok(out);
            }
        }
        Err(ApiError::Internal(format!("meeting {meeting_id} kept changing under this node")))
    }

    /// Runs one meeting command.
    pub async fn command(&self, state: &AppState, meeting_id: &str, cmd: Command) -> ApiResult<()> {
        self.run(state, meeting_id, |record, now| {
            let notices = record.meeting.handle(cmd.clone(), now).map_err(meeting_error)?;
            Ok(((), notices))
        })
        .await
    }

    pub async fn create(&self, state: &AppState, record: &MeetingRecord) -> ApiResult<()> {
        state.store.insert_meeting(record).await?;
        Ok(())
    }

    /// Ends the meeting (everyone in it is disconnected with reason `Ended`) and deletes it.
    pub async fn delete(&self, state: &AppState, meeting_id: &str) -> ApiResult<()> {
        let slot = self.slot(meeting_id);
        let mut guard = slot.record.lock().await;
        for _ in 0..ATTEMPTS {
            let mut record = Self::current(state, guard.take(), meeting_id).await?;
            let version = record.meeting.version();
            let notices = record.meeting.handle(Command::End, now_ms()).unwrap_or_default();
            let events: Vec<NewEvent> = project(&record, &notices);
            if state.store.delete_meeting(meeting_id, version, events, now_ms()).await? {
                drop(guard);
                self.drop_slot(meeting_id);
                return Ok(());
            }
        }
        Err(ApiError::Internal(format!("meeting {meeting_id} kept changing under this node")))
    }
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
