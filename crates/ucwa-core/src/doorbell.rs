//! The doorbell: after a commit appends events for an application, the store rings that
//! application's bell; parked event-channel requests wake and re-read the event table.
//!
//! Events live in the store (the mailbox); the bell carries no data, so a lost or spurious
//! ring costs latency, never an event. Readers must call [`Notified::enable`] on the
//! future from [`Doorbell::subscribe`] *before* they query, so a commit that lands between
//! the query and the wait still wakes them.
//!
//! Concurrency: one `std::sync::Mutex` guards the map. Critical sections are a lookup or an
//! insert, never held across `.await`, so a blocking mutex is cheaper than tokio's
//! (the mini-redis `db.rs` reasoning).
//!
//! [`Notified::enable`]: tokio::sync::futures::Notified::enable

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct Doorbell {
    bells: Mutex<HashMap<String, Weak<Notify>>>,
}

impl Doorbell {
    pub fn new() -> Self {
        Self::default()
    }

    /// The bell of one application; hold the `Arc` while waiting.
    pub fn subscribe(&self, app_id: &str) -> Arc<Notify> {
        let mut bells = self.bells.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bell) = bells.get(app_id).and_then(Weak::upgrade) {
            return bell;
        }
        let bell = Arc::new(Notify::new());
        bells.insert(app_id.to_owned(), Arc::downgrade(&bell));
        // Drop bells nobody holds any more, so the map tracks live waiters only.
        if bells.len() > 64 && bells.len().is_power_of_two() {
            bells.retain(|_, w| w.strong_count() > 0);
        }
        bell
    }

    /// Wakes every reader parked on these applications.
    pub fn ring<'a>(&self, app_ids: impl IntoIterator<Item = &'a str>) {
        let bells = self.bells.lock().unwrap_or_else(|p| p.into_inner());
        for id in app_ids {
            if let Some(bell) = bells.get(id).and_then(Weak::upgrade) {
                bell.notify_waiters();
            }
        }
    }

    /// Wakes every parked reader (after a lost cross-node notification stream, say).
    pub fn ring_all(&self) {
        let bells = self.bells.lock().unwrap_or_else(|p| p.into_inner());
        for bell in bells.values().filter_map(Weak::upgrade) {
            bell.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn enabled_waiter_sees_ring_that_happens_before_await() {
        let bell = Doorbell::new();
        let notify = bell.subscribe("a");
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        bell.ring(["a"]); // the commit lands between "query" and "wait"
        tokio::time::timeout(std::time::Duration::from_secs(1), notified).await.unwrap();
    }
}
