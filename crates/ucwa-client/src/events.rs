//! The event channel as a [`Stream`]: `GET events?ack=N`, following each batch's `next` link
//! (docs/protocol.md, events;
//! [Events in UCWA](https://learn.microsoft.com/en-us/skype-sdk/ucwa/eventsinucwa)).
//!
//! # The acknowledgement contract
//! Asking for batch `N+1` acknowledges batch `N` (the server deletes its events). The stream
//! asks for the next batch only when the caller polls for an item after it has received every
//! event of the current one, so nothing the caller has not received is ever acknowledged.
//! After a network error (a restart, a dropped connection, a timeout) it asks for the *same*
//! batch again, after a backoff: the server answers the same `ack` with the same batch, so no
//! event is lost and none is delivered twice. [`EventStream::position`] says how far the
//! caller got (the batch and how many of its events it has received); a stream resumed from it
//! with [`Application::resume_event_stream`](crate::Application::resume_event_stream) — in another process, after a crash — carries on exactly there.
//!
//! # Endings
//! * `409 PGetReplaced`: another request for the same application took over (two readers of
//!   one application); the stream yields [`Error::Replaced`] and ends.
//! * `410` (expired) and `404` (deleted): [`Error::ApplicationGone`], and it ends.
//! * A `resync` answer (the `ack` asked was out of range, for instance a position saved long
//!   ago): the stream follows it and yields [`ChannelItem::Resync`] first, since events may
//!   have been missed; re-read the resources you follow.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use ucwa_proto::RelName;
use ucwa_proto::error::ErrorSubcode;
use ucwa_proto::model::{Event, EventBatch, EventLink};
use ucwa_proto::paths::with_query;

use crate::error::{Error, Result};
use crate::http::{Body, Http, check, read_json};

/// The protocol's default long-poll timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);
/// How much longer than the server's timeout the HTTP request may take.
const POLL_MARGIN: Duration = Duration::from_secs(30);
/// First and longest wait before asking again after a network error.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// How the caller wants the channel to behave: the query parameters of every event request
/// (docs/protocol.md, events). The server clamps out-of-range values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelOptions {
    /// How long the server may hold a request without events (`timeout`; 180 s by default).
    pub timeout: Option<Duration>,
    /// This reader's `priority`: a newer request of lower priority does not replace it.
    pub priority: Option<u32>,
    /// How long Low-priority events may be held (`low`).
    pub low: Option<Duration>,
    /// How long Medium-priority events may be held (`medium`).
    pub medium: Option<Duration>,
}

impl ChannelOptions {
    /// The defaults: the server's timeout and holds.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets `priority`.
    pub fn priority(mut self, priority: u32) -> Self {
        self.priority = Some(priority);
        self
    }

    /// Sets the `low` and `medium` holds.
    pub fn holds(mut self, low: Duration, medium: Duration) -> Self {
        self.low = Some(low);
        self.medium = Some(medium);
        self
    }

    fn query(&self) -> String {
        let mut pairs = Vec::new();
        let secs = |d: Duration| d.as_secs().max(1);
        pairs.push(format!("timeout={}", secs(self.timeout.unwrap_or(DEFAULT_TIMEOUT))));
        if let Some(p) = self.priority {
            pairs.push(format!("priority={p}"));
        }
        if let Some(d) = self.low {
            pairs.push(format!("low={}", secs(d)));
        }
        if let Some(d) = self.medium {
            pairs.push(format!("medium={}", secs(d)));
        }
        pairs.join("&")
    }

    fn http_timeout(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_TIMEOUT) + POLL_MARGIN
    }
}

/// How far a reader got: the batch it is reading (its `events?ack=N` URL) and how many of
/// that batch's events it has received; once it has received them all, the next batch and 0.
/// Save it to carry on later without losing or repeating an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The absolute URL of the batch.
    pub href: String,
    /// Events of that batch already received.
    pub received: usize,
}

/// One event, with the resource that sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelEvent {
    /// The sender group's `rel` and `href` (`communication` for invitations and
    /// conversations, `conversation` for what happens inside one, `me`, ...).
    pub sender: EventLink,
    /// The event.
    pub event: Event,
}

/// What the stream hands out.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ChannelItem {
    /// The next event.
    Event(Box<ChannelEvent>),
    /// The server answered `resync`: the reader's `ack` was out of range and events may have
    /// been missed. The stream goes on from the batch the server named; re-read the resources
    /// you follow.
    Resync,
    /// The channel is unreachable; the same batch is asked for again after `retry_in`.
    Retrying {
        /// Why the last request failed.
        error: String,
        /// How long the stream waits before asking again.
        retry_in: Duration,
        /// Consecutive failures so far.
        attempt: u32,
    },
}

/// The answer to one event request.
enum Fetched {
    Batch(EventBatch),
    Failed(Error),
}

type Fetch = Pin<Box<dyn Future<Output = Fetched> + Send>>;

/// An application's event channel: a [`Stream`] of [`ChannelItem`]s, or read with
/// [`EventStream::next_item`]. Errors end it (see the module documentation).
pub struct EventStream {
    http: Http,
    options: ChannelOptions,
    position: Position,
    /// Events of the current batch the caller has not received yet.
    pending: VecDeque<ChannelEvent>,
    /// Where to go once the current batch is received: its `next` link.
    next: Option<String>,
    fetch: Option<Fetch>,
    failures: u32,
    finished: bool,
}

impl EventStream {
    /// Starts at `events_href` (an application's `events` link).
    pub(crate) fn new(http: Http, events_href: &str, options: ChannelOptions) -> Result<Self> {
        let href = http.resolve(events_href)?.to_string();
        Ok(Self::resume(http, Position { href, received: 0 }, options))
    }

    /// Carries on from `position`: the batch is asked for again (the server replays it) and
    /// the events already received are skipped.
    pub(crate) fn resume(http: Http, position: Position, options: ChannelOptions) -> Self {
        Self {
            http,
            options,
            position,
            pending: VecDeque::new(),
            next: None,
            fetch: None,
            failures: 0,
            finished: false,
        }
    }

    /// How far the caller got; see [`Position`].
    pub fn position(&self) -> &Position {
        &self.position
    }

    /// Events received from the server that the caller has not taken yet: 0 means the next
    /// item needs a request (which acknowledges the batch taken).
    pub fn buffered(&self) -> usize {
        self.pending.len()
    }

    /// The next item, or `None` once the stream has ended.
    pub async fn next_item(&mut self) -> Option<Result<ChannelItem>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Starts the request for the current position, after `delay`.
    fn start_fetch(&mut self, delay: Duration) {
        let http = self.http.clone();
        let url = with_query(&self.position.href, &self.options.query());
        let timeout = self.options.http_timeout();
        self.fetch = Some(Box::pin(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            match fetch(&http, &url, timeout).await {
                Ok(batch) => Fetched::Batch(batch),
                Err(e) => Fetched::Failed(e),
            }
        }));
    }

    /// Takes in a batch; `Some` is an item to hand out at once (a resync).
    fn take_batch(&mut self, batch: EventBatch) -> Result<Option<ChannelItem>> {
        self.failures = 0;
        let events = batch.events().map(|(group, event)| ChannelEvent {
            sender: EventLink { rel: group.rel.clone(), href: group.href.clone(), title: None },
            event: event.clone(),
        });
        self.pending.extend(events.skip(self.position.received));
        if let Some(next) = batch.links.href(RelName::Next).or_else(|| batch.links.href(RelName::Resume)) {
            self.next = Some(self.http.resolve(next)?.to_string());
            return Ok(None);
        }
        let Some(resync) = batch.links.href(RelName::Resync) else {
            return Err(Error::Protocol {
                url: self.position.href.clone(),
                problem: "a batch without next or resync".into(),
            });
        };
        self.position = Position { href: self.http.resolve(resync)?.to_string(), received: 0 };
        self.pending.clear();
        Ok(Some(ChannelItem::Resync))
    }

    /// Once every event of the batch is received, the position is the next batch: asking
    /// for it acknowledges this one, which is now safe.
    fn advance_if_received(&mut self) {
        if self.pending.is_empty()
            && let Some(next) = self.next.take()
        {
            self.position = Position { href: next, received: 0 };
        }
    }

    fn fail(&mut self, error: Error) -> Poll<Option<Result<ChannelItem>>> {
        self.finished = true;
        Poll::Ready(Some(Err(error)))
    }
}

impl Stream for EventStream {
    type Item = Result<ChannelItem>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.finished {
                return Poll::Ready(None);
            }
            if let Some(event) = this.pending.pop_front() {
                this.position.received += 1;
                this.advance_if_received();
                return Poll::Ready(Some(Ok(ChannelItem::Event(Box::new(event)))));
            }
            let Some(fetch) = this.fetch.as_mut() else {
                this.start_fetch(Duration::ZERO);
                continue;
            };
            let fetched = match fetch.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(fetched) => fetched,
            };
            this.fetch = None;
            match fetched {
                Fetched::Batch(batch) => match this.take_batch(batch) {
                    Ok(Some(item)) => return Poll::Ready(Some(Ok(item))),
                    Ok(None) => this.advance_if_received(),
                    Err(e) => return this.fail(e),
                },
                Fetched::Failed(error) if error.is_transient() => {
                    this.failures += 1;
                    let retry_in = backoff(this.failures);
                    this.start_fetch(retry_in);
                    let item = ChannelItem::Retrying { error: error.to_string(), retry_in, attempt: this.failures };
                    return Poll::Ready(Some(Ok(item)));
                }
                Fetched::Failed(error) => return this.fail(error),
            }
        }
    }
}

/// `FIRST_BACKOFF` doubled per consecutive failure, at most `MAX_BACKOFF`.
fn backoff(failures: u32) -> Duration {
    FIRST_BACKOFF.saturating_mul(1 << failures.saturating_sub(1).min(16)).min(MAX_BACKOFF)
}

/// One event request, its error answers sorted into the channel's endings.
async fn fetch(http: &Http, url: &str, timeout: Duration) -> Result<EventBatch> {
    let resp = http.send_raw(Method::GET, url, &Body::Empty, None, timeout).await?;
    match resp.status() {
        StatusCode::GONE | StatusCode::NOT_FOUND => {
            let status = resp.status().as_u16();
            let body = resp.json().await.ok().map(Box::new);
            Err(Error::ApplicationGone { status, body })
        }
        StatusCode::CONFLICT => match check(Method::GET, resp).await {
            Err(e) if e.subcode() == Some(&ErrorSubcode::PGetReplaced) => Err(Error::Replaced),
            other => other.map(drop).and(Err(Error::Replaced)),
        },
        _ => read_json(check(Method::GET, resp).await?).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(30), MAX_BACKOFF);
    }

    #[test]
    fn options_become_query_parameters() {
        assert_eq!(ChannelOptions::new().query(), "timeout=180");
        let options = ChannelOptions::new()
            .timeout(Duration::from_secs(2))
            .priority(3)
            .holds(Duration::from_secs(20), Duration::from_millis(10));
        assert_eq!(options.query(), "timeout=2&priority=3&low=20&medium=1");
    }
}
