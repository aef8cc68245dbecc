//! The clock port: where every use case and background task reads the time and waits for
//! a deadline. The server runs on [`SystemClock`]; tests run on a [`ManualClock`] and
//! [`ManualClock::advance`] it, which wakes everything waiting on a deadline that has now
//! passed (lobby waits, unanswered invitations, event-channel timeouts and holds, callback
//! backoff, idle expiry, token expiry), so no test sleeps for a timeout.
//!
//! Time is milliseconds since the Unix epoch, the unit the store and the core use.
//!
//! Concurrency: [`ManualClock`] keeps the time in a `tokio::sync::watch` channel; a waiter
//! checks the time when it is first polled and again on every change, so an advance that
//! lands between computing a deadline and waiting for it is never missed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// A future that completes when a clock reaches a deadline.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Completes once [`Clock::now_ms`] is at or past `at_ms` (at once if it already is).
    fn sleep_until(&self, at_ms: i64) -> Sleep;

    /// Completes once `duration` has passed on this clock.
    fn sleep(&self, duration: Duration) -> Sleep {
        self.sleep_until(self.now_ms().saturating_add(millis(duration)))
    }
}

pub type DynClock = Arc<dyn Clock>;

/// A duration in whole milliseconds, saturating.
pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The machine's clock; waits use tokio's timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, millis)
    }

    fn sleep_until(&self, at_ms: i64) -> Sleep {
        let wait = u64::try_from(at_ms.saturating_sub(self.now_ms())).unwrap_or(0);
        Box::pin(tokio::time::sleep(Duration::from_millis(wait)))
    }
}

/// A clock that moves only when told to: [`ManualClock::advance`].
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<i64>,
}

impl ManualClock {
    pub fn new(start_ms: i64) -> Self {
        Self { now: watch::Sender::new(start_ms) }
    }

    /// A manual clock that starts at the machine's time.
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now_ms())
    }

    /// Moves time forward by `by` and wakes every waiter whose deadline has passed; returns
    /// the new time.
    pub fn advance(&self, by: Duration) -> i64 {
        self.now.send_modify(|now| *now = now.saturating_add(millis(by)));
        *self.now.borrow()
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        *self.now.borrow()
    }

    fn sleep_until(&self, at_ms: i64) -> Sleep {
        let mut now = self.now.subscribe();
        Box::pin(async move {
            // An error means the clock is gone (the server is shutting down): stop waiting.
            let _ = now.wait_for(|now| *now >= at_ms).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use std::task::{Context, Poll, Waker};

    use super::*;

    fn ready(sleep: &mut Sleep) -> bool {
        sleep.as_mut().poll(&mut Context::from_waker(Waker::noop())) == Poll::Ready(())
    }

    #[tokio::test]
    async fn advancing_wakes_waiters_whose_deadline_passed() {
        let clock = ManualClock::new(1_000);
        let mut early = clock.sleep_until(1_500);
        let mut late = clock.sleep_until(5_000);
        assert!(!ready(&mut early));
        assert_eq!(clock.advance(Duration::from_millis(600)), 1_600);
        tokio::time::timeout(Duration::from_secs(1), &mut early).await.expect("woken by the advance");
        assert!(!ready(&mut late), "a later deadline keeps waiting");
        assert!(ready(&mut clock.sleep_until(0)), "a past deadline completes at once");
    }
}
