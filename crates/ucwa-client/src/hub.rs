//! Fan-out of one application's events to every handle that follows them.
//!
//! An application has one event channel, but many handles (a join, a conversation, the
//! stream of incoming invitations) each want the events about their resources. One reader —
//! the pump task reading the [`EventStream`](crate::EventStream), or a Trusted Application API
//! callback endpoint feeding [`CallbackInbox`](crate::CallbackInbox) — publishes every item
//! here, and each subscriber gets all of them, in order, and picks its own.
//!
//! # Concurrency
//! Subscribers are unbounded `tokio::sync::mpsc` channels, so a slow handle never makes the
//! reader drop or delay an event for the others (a handle that is never read keeps its events
//! in memory until it is dropped). The subscriber list is a `std::sync::Mutex` held only to
//! push or send, never across an `.await`. A handle subscribes *before* the request that
//! starts what it follows (a join), so events that arrive before the `201` are not missed.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::mpsc;

use crate::error::Error;
use crate::events::ChannelItem;

/// What subscribers receive: the next item, or why the channel ended (shared by all).
pub type Notification = Result<Arc<ChannelItem>, Arc<Error>>;

#[derive(Default)]
struct Shared {
    subscribers: Vec<mpsc::UnboundedSender<Notification>>,
    ended: Option<Arc<Error>>,
}

/// The subscriber list of one application.
#[derive(Default)]
pub(crate) struct Hub {
    shared: Mutex<Shared>,
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        // A panic while holding this lock cannot leave the list half-updated.
        self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new subscriber, receiving everything published from now on.
    pub(crate) fn subscribe(&self) -> Notifications {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut shared = self.lock();
        match &shared.ended {
            Some(error) => {
                let _ = tx.send(Err(error.clone()));
            }
            None => shared.subscribers.push(tx),
        }
        Notifications { rx }
    }

    /// Sends `item` to every subscriber still listening.
    pub(crate) fn publish(&self, item: ChannelItem) {
        let item = Arc::new(item);
        self.lock().subscribers.retain(|s| s.send(Ok(item.clone())).is_ok());
    }

    /// Tells every subscriber that the channel ended; later subscribers are told at once.
    pub(crate) fn end(&self, error: Error) {
        let error = Arc::new(error);
        let mut shared = self.lock();
        for subscriber in shared.subscribers.drain(..) {
            let _ = subscriber.send(Err(error.clone()));
        }
        shared.ended = Some(error);
    }
}

/// Everything an application's event channel delivers, as a [`Stream`]: each item once, in
/// order, from the moment of subscription. It ends after an `Err` (the channel ended: the
/// application expired, was deleted, or another reader took over).
#[derive(Debug)]
pub struct Notifications {
    rx: mpsc::UnboundedReceiver<Notification>,
}

impl Notifications {
    /// The next notification, or `None` once the channel has ended.
    pub async fn recv(&mut self) -> Option<Notification> {
        self.rx.recv().await
    }
}

impl Stream for Notifications {
    type Item = Notification;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}
