//! Keeps background tasks alive: a task that panics is logged and started again after a
//! backoff (doubling from [`Restart::first`] up to [`Restart::max`]), until shutdown. A task
//! that returns is done (the housekeeping and callback tasks return only on shutdown).
//!
//! The backoff is real time, not the injected clock: it paces restarts of broken code, and
//! must not wait for a test to move a manual clock. Every pass of the supervised tasks is
//! idempotent, so a restart repeats at most the pass that panicked.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How soon a panicked task is started again.
#[derive(Debug, Clone, Copy)]
pub struct Restart {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Restart {
    fn default() -> Self {
        Self { first: Duration::from_millis(100), max: Duration::from_secs(30) }
    }
}

/// Runs `task()` until it returns or `shutdown` is cancelled, starting it again whenever it
/// panics. Returns how many times it panicked.
pub async fn supervise<F, Fut>(name: &'static str, shutdown: CancellationToken, restart: Restart, task: F) -> u32
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut panics = 0u32;
    let mut backoff = restart.first;
    loop {
        let handle = tokio::spawn(task());
        let abort = handle.abort_handle();
        let outcome = tokio::select! {
            outcome = handle => outcome,
            _ = shutdown.cancelled() => {
                // The task watches the same token; give it its orderly stop, then end it.
                abort.abort();
                return panics;
            }
        };
        match outcome {
            Ok(()) => return panics,
            Err(e) if e.is_panic() => {
                panics = panics.saturating_add(1);
                let detail = e.into_panic();
                let detail = detail
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| detail.downcast_ref::<&str>().copied())
                    .unwrap_or("unknown panic");
                tracing::error!(task = name, panic = detail, restart_in = ?backoff, "background task panicked");
            }
            Err(_) => return panics,
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.cancelled() => return panics,
        }
        backoff = (backoff * 2).min(restart.max);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_panicking_task_is_restarted_until_it_returns() {
        let runs = Arc::new(AtomicU32::new(0));
        let restart = Restart { first: Duration::ZERO, max: Duration::ZERO };
        let counter = runs.clone();
        let panics = supervise("test", CancellationToken::new(), restart, move || {
            let counter = counter.clone();
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) < 2 {
                    panic!("broken pass");
                }
            }
        })
        .await;
        assert_eq!(panics, 2);
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }
}
