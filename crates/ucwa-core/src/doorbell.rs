//! The doorbell: after a commit appends events for an application, the store rings that
//! application's bell; parked event-channel requests wake and re-read the event table.
//!
//! Events live in the store (the mailbox); the bell carries no data, so a lost or spurious
//! ring costs latency, never an event. Readers must call [`Notified::enable`] on the
//! future from [`Doorbell::subscribe`] *before* they query, so a commit that lands between
//! the query and the wait still wakes them.
//!
//! A bell also counts *claims*: with several nodes on one database, a newer event request
//! for an application on another node takes the application's channel over, and the store
//! tells this node with [`Doorbell::ring_claims`]. A parked request that sees the count
//! change asks the store whether it still holds the channel (and answers `409
//! PGetReplaced` if not); without a claim it never asks, so the wake-up path stays one read.
//!
//! Concurrency: one `std::sync::Mutex` guards the map. Critical sections are a lookup or an
//! insert, never held across `.await`, so a blocking mutex is cheaper than tokio's
//! (the mini-redis `db.rs` reasoning).
//!
//! [`Notified::enable`]: tokio::sync::futures::Notified::enable

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct Doorbell {
    bells: Mutex<HashMap<String, Weak<Bell>>>,
}

/// One application's bell: wakes its parked readers (it derefs to the [`Notify`]) and
/// counts the claims on its channel made elsewhere.
#[derive(Debug, Default)]
pub struct Bell {
    notify: Notify,
    claims: AtomicU64,
}

impl Bell {
    /// How many times another node has claimed the channel (or the count was lost and
    /// everyone must check) since the bell was made; compare before and after a wait.
    pub fn claims(&self) -> u64 {
        self.claims.load(Ordering::Acquire)
    }

    fn claimed(&self) {
        self.claims.fetch_add(1, Ordering::AcqRel);
        self.notify.notify_waiters();
    }
}

impl std::ops::Deref for Bell {
    type Target = Notify;

    fn deref(&self) -> &Notify {
        &self.notify
    }
}

impl Doorbell {
    pub fn new() -> Self {
        Self::default()
    }

    /// The bell of one application; hold the `Arc` while waiting.
    pub fn subscribe(&self, app_id: &str) -> Arc<Bell> {
        let mut bells = self.bells.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bell) = bells.get(app_id).and_then(Weak::upgrade) {
            return bell;
        }
        let bell = Arc::new(Bell::default());
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

    /// Tells the readers parked on these applications that another node claimed their
    /// channel (and wakes them).
    pub fn ring_claims<'a>(&self, app_ids: impl IntoIterator<Item = &'a str>) {
        let bells = self.bells.lock().unwrap_or_else(|p| p.into_inner());
        for id in app_ids {
            if let Some(bell) = bells.get(id).and_then(Weak::upgrade) {
                bell.claimed();
            }
        }
    }

    /// Wakes every parked reader, as for a commit and a claim (after a lost cross-node
    /// notification stream, say: whatever it carried must be read again).
    pub fn ring_all(&self) {
        let bells = self.bells.lock().unwrap_or_else(|p| p.into_inner());
        for bell in bells.values().filter_map(Weak::upgrade) {
            bell.claimed();
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

    #[tokio::test]
    async fn a_claim_wakes_and_is_counted_a_ring_is_not() {
        let bell = Doorbell::new();
        let a = bell.subscribe("a");
        bell.ring(["a"]);
        assert_eq!(a.claims(), 0);
        let notified = a.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        bell.ring_claims(["a", "b"]);
        tokio::time::timeout(std::time::Duration::from_secs(1), notified).await.unwrap();
        assert_eq!(a.claims(), 1);
        bell.ring_all();
        assert_eq!(a.claims(), 2, "a lost stream counts as a claim: everyone checks");
    }
}
