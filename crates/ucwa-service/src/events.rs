//! The event channel: parked `GET events?ack=N` requests
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/events_ref>).
//!
//! Mailbox and doorbell: events are rows in the store; the store's doorbell only wakes
//! readers, who always re-read. A reader enables its wake-up future *before* it queries, so
//! an event committed between the query and the wait still wakes it.
//!
//! One parked request per application: a newer request releases the older one with
//! `409 PGetReplaced` (unless the older one asked for a higher `priority`). The slot table
//! is a `std::sync::Mutex` held only for map updates, never across `.await`.
//!
//! Deadlines (the `timeout`, the `low`/`medium` holds) are waited for on the injected clock.
//! Which applications have a request waiting right now is published in a `watch` channel
//! ([`EventChannels::waiting`]), so a test can move a manual clock exactly when a request
//! waits instead of sleeping until it probably does.
//!
//! Several nodes: slots are per node, and the store arbitrates between nodes
//! (`Store::claim_poll`): a request first takes the application's channel in the store
//! (refused when the holder, on any node, asked for a higher priority), then its node's
//! slot. The request it replaces on another node learns of it through its doorbell (a
//! claim, see `ucwa_core::doorbell`), asks the store who holds the channel now and answers
//! `409 PGetReplaced`. The batch save is compare-and-swap on the batch number, so two
//! requests can never deliver different batches under one number. On a store one process
//! writes (SQLite) the store keeps nothing and the slot table alone decides.

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::futures::Notified;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use ucwa_core::channel::{AckDecision, ChannelParams, ChannelRequest, Pending, batch_len, decide_ack, release_at};
use ucwa_core::doorbell::Bell;
use ucwa_core::model::{Application, DeliveredBatch, StoredEvent};
use ucwa_core::store::PollClaim;
use ucwa_proto::event::resync_body;
use ucwa_proto::model::events::{EventBatch, SenderGroup};
use ucwa_proto::rel::{Rel, RelName};

use crate::Services;
use crate::error::{ServiceError, ServiceResult};
use crate::urls::AppUrls;

/// How stale the recorded last activity of an application may get before a poll writes it:
/// far below any sensible idle limit.
const ACTIVITY_RESOLUTION_MS: i64 = 10_000;

/// Most events one batch carries (and at most `--max-batch-bytes` of them); the rest follow
/// in the next batch, in order.
const MAX_BATCH_EVENTS: u32 = 256;

struct Slot {
    ticket: u64,
    priority: u32,
    replaced: CancellationToken,
}

/// The parked requests of this node.
pub struct EventChannels {
    slots: Mutex<HashMap<String, Slot>>,
    tickets: AtomicU64,
    shutdown: CancellationToken,
    waiting: watch::Sender<BTreeMap<String, usize>>,
}

/// Marks an application's request as waiting for a wake-up while it lives.
struct Waiting<'a> {
    channels: &'a EventChannels,
    app_id: &'a str,
}

impl<'a> Waiting<'a> {
    fn new(channels: &'a EventChannels, app_id: &'a str) -> Self {
        channels.waiting.send_modify(|w| *w.entry(app_id.to_owned()).or_default() += 1);
        Self { channels, app_id }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.channels.waiting.send_modify(|w| {
            if let Some(count) = w.get_mut(self.app_id) {
                *count -= 1;
                if *count == 0 {
                    w.remove(self.app_id);
                }
            }
        });
    }
}

/// Holds an application's slot while its request is parked; frees it on drop.
struct SlotGuard<'a> {
    channels: &'a EventChannels,
    app_id: String,
    ticket: u64,
    replaced: CancellationToken,
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        let mut slots = self.channels.slots.lock().unwrap_or_else(|p| p.into_inner());
        if slots.get(&self.app_id).is_some_and(|s| s.ticket == self.ticket) {
            slots.remove(&self.app_id);
        }
    }
}

fn replaced_error() -> ServiceError {
    ServiceError::Conflict {
        subcode: Some("PGetReplaced"),
        message: "A newer event channel request replaced this one.".into(),
    }
}

/// A body ready to send. Replays must be byte-identical, so bodies stay strings.
pub struct BatchResponse(pub String);

impl EventChannels {
    pub fn new(shutdown: CancellationToken) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            tickets: AtomicU64::new(1),
            shutdown,
            waiting: watch::Sender::new(BTreeMap::new()),
        }
    }

    /// The applications with a request waiting for an event or a deadline right now, and how
    /// many (a replaced request may not have left yet when its successor waits).
    pub fn waiting(&self) -> watch::Receiver<BTreeMap<String, usize>> {
        self.waiting.subscribe()
    }

    /// Applications with a parked request right now (they are not idle).
    pub fn busy(&self) -> Vec<String> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect()
    }

    /// How many requests are parked.
    pub fn parked(&self) -> usize {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Takes the application's slot, releasing the request that held it, or refuses when
    /// the holder asked for a higher priority.
    fn claim(&self, app_id: &str, priority: u32) -> Option<SlotGuard<'_>> {
        let ticket = self.tickets.fetch_add(1, Ordering::Relaxed);
        let replaced = CancellationToken::new();
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = slots.get(app_id) {
            if existing.priority > priority {
                return None;
            }
            existing.replaced.cancel();
        }
        slots.insert(app_id.to_owned(), Slot { ticket, priority, replaced: replaced.clone() });
        Some(SlotGuard { channels: self, app_id: app_id.to_owned(), ticket, replaced })
    }
}

impl Services {
    /// Serves one `GET events` request for `app` (already authorised).
    pub async fn poll(&self, app: Application, ack: Option<u64>, req: ChannelRequest) -> ServiceResult<BatchResponse> {
        let params = self.channel_limits.apply(app.channel, &req);
        // Record activity and sticky parameters, but skip the write when nothing would change
        // much: delivering a batch records activity too, and a write per poll costs latency.
        let now = self.now_ms();
        if params != app.channel || now - app.last_seen_ms > ACTIVITY_RESOLUTION_MS {
            self.store.touch_channel(&app.id, params, now).await?;
        }
        let urls = AppUrls::of(&app);
        let last = app.delivered.no;
        match decide_ack(last, ack) {
            // A request that delivered a newer batch meanwhile replaced this one.
            AckDecision::Replay => return self.delivered(&app.id, last).await,
            AckDecision::Resync(to) => return Ok(BatchResponse(resync_body(&urls.events(to)).to_string())),
            AckDecision::Build => {}
        }
        let parked_at = self.now_ms();
        let timeout_at = parked_at + i64::from(params.timeout_s) * 1000;
        // The doorbell before the claim, which reads the events too: a commit after that read
        // still wakes the request.
        let bell = self.store.doorbell().subscribe(&app.id);
        let claims = bell.claims();
        let notified = bell.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // The store first (it sees every node's requests), then this node's slot table.
        let claim = PollClaim { priority: params.priority, now_ms: parked_at, until_ms: timeout_at };
        let (ticket, events) = self
            .store
            .claim_poll(&app.id, claim, app.delivered.max_seq, MAX_BATCH_EVENTS)
            .await?
            .ok_or_else(replaced_error)?;
        let result = match self.channels.claim(&app.id, params.priority) {
            Some(guard) => {
                let parked = Parked { guard, ticket, timeout_at, bell: &bell, claims, notified };
                self.park(&app, params, parked, events).await
            }
            None => Err(replaced_error()),
        };
        let replaced = matches!(&result, Err(ServiceError::Conflict { subcode: Some("PGetReplaced"), .. }));
        let released = matches!(&result, Ok(Delivery { released: true, .. }));
        if !released && (!replaced || self.store.poll_holder(&app.id).await? == Some(ticket)) {
            self.store.release_poll(&app.id, ticket, self.now_ms()).await?;
        }
        result.map(|delivery| delivery.batch)
    }

    /// Waits on the channel of `app` (held as `parked` says), starting from `events`, what the
    /// claim read, until events are due, the request times out or is replaced, then builds
    /// and saves the next batch, releasing the channel in the same write.
    async fn park(
        &self,
        app: &Application,
        params: ChannelParams,
        parked: Parked<'_, '_>,
        mut events: Vec<StoredEvent>,
    ) -> ServiceResult<Delivery> {
        let Parked { guard, ticket, timeout_at, bell, mut claims, mut notified } = parked;
        let urls = AppUrls::of(app);
        let last = app.delivered.no;
        let no = last + 1;
        let channels = &self.channels;
        let events = loop {
            let pending: Vec<Pending> =
                events.iter().map(|e| Pending { priority: e.priority, created_ms: e.created_ms }).collect();
            let now = self.now_ms();
            let wake_at = release_at(&pending, &params).map_or(timeout_at, |r| r.min(timeout_at));
            let fits = batch_len(events.iter().map(body_size), self.limits.max_batch_bytes);
            let full = events.len() >= MAX_BATCH_EVENTS as usize || fits < events.len();
            if now >= wake_at || full || channels.shutdown.is_cancelled() {
                events.truncate(fits);
                break events;
            }
            {
                let _waiting = Waiting::new(channels, &app.id);
                tokio::select! {
                    _ = notified.as_mut() => {}
                    _ = self.clock.sleep_until(wake_at) => {}
                    _ = guard.replaced.cancelled() => return Err(replaced_error()),
                    // Shutdown releases parked requests with what they have (usually nothing).
                    _ = channels.shutdown.cancelled() => {}
                }
            }
            // Register before reading again: a commit after the read still wakes us.
            notified.set(bell.notified());
            notified.as_mut().enable();
            // Another node's request claimed the channel (or may have): is it still ours?
            if bell.claims() != claims {
                claims = bell.claims();
                if self.store.poll_holder(&app.id).await? != Some(ticket) {
                    return Err(replaced_error());
                }
            }
            events = self.store.events_after(&app.id, app.delivered.max_seq, MAX_BATCH_EVENTS).await?;
        };
        let max_seq = events.last().map_or(app.delivered.max_seq, |e| e.seq);
        // The batch takes the bodies; the delivery-delay metric needs only when each was made
        // (and nothing when metrics are off).
        let created: Vec<i64> =
            if self.metrics.enabled() { events.iter().map(|e| e.created_ms).collect() } else { Vec::new() };
        let body = build_batch(&urls, no, events)?;
        let batch = DeliveredBatch { no, body, max_seq };
        let now = self.now_ms();
        let saved = self.store.save_batch_and_release(&app.id, &batch, last, ticket, now).await?;
        drop(guard);
        if saved {
            self.metrics.batch_delivered(&created, now);
            return Ok(Delivery { batch: BatchResponse(batch.body), released: true });
        }
        // Another request delivered batch `no` first: hand out exactly that one.
        let batch = self.delivered(&app.id, no).await?;
        Ok(Delivery { batch, released: false })
    }

    /// Batch `no` of the channel of `app_id` as it was delivered, if it still is the last one;
    /// otherwise a newer request has taken over the channel (`409 PGetReplaced`).
    async fn delivered(&self, app_id: &str, no: u64) -> ServiceResult<BatchResponse> {
        self.store.delivered_batch(app_id, no).await?.map(BatchResponse).ok_or_else(replaced_error)
    }
}

/// A request that holds its application's channel: in this node's slot table (`guard`) and
/// in the store (`ticket`), until `timeout_at`; its doorbell, the claims on it counted when
/// the request started, and its wake-up, enabled before the last read.
struct Parked<'a, 'w> {
    guard: SlotGuard<'a>,
    ticket: u64,
    timeout_at: i64,
    bell: &'a Bell,
    claims: u64,
    notified: Pin<&'w mut Notified<'a>>,
}

/// What a parked request ends with: its batch, and whether saving it also released the
/// channel in the store (otherwise [`Services::poll`] still has to).
struct Delivery {
    batch: BatchResponse,
    released: bool,
}

/// The bytes an event's body adds to a batch: it goes in as stored.
fn body_size(event: &StoredEvent) -> usize {
    event.body.get().len()
}

/// The batch body, serialised straight to text with the stored event bodies spliced in as
/// they are (raw JSON): no event is parsed into a tree or copied on the way. The bytes are
/// those of rendering the same events through `serde_json::Value`.
fn build_batch(urls: &AppUrls, no: u64, events: Vec<StoredEvent>) -> ServiceResult<String> {
    let groups = SenderGroup::group(events.into_iter().map(|e| (Rel::parse(&e.sender_rel), e.sender_href, e.body)));
    let batch = EventBatch::new(urls.events(no), RelName::Next, urls.events(no + 1), groups);
    serde_json::to_string(&batch).map_err(|e| ServiceError::Internal(format!("event batch: {e}")))
}
