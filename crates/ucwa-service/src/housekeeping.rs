//! Background housekeeping on the injected clock: fails lobby waits and unanswered
//! invitations past their deadline, expires idle applications (their conversations end),
//! purges expired tokens and presence subscriptions, drops meetings this node has not used for a while from its
//! cache, and once a minute deletes what finished before the retention period
//! ([`crate::retention`]). Each pass is idempotent, so several nodes may run it at once, and the supervisor
//! may restart it after a panic.
//!
//! Passes that may write run only as often as their limits need: every write waits for
//! the database's one writer, and a write each second showed up in the latency tail of
//! admissions and event deliveries.
//!
//! Progress is published ([`SweepProgress`]): when each pass ran and when the next is due,
//! by the clock. A test that moves a manual clock waits on it for the pass the move made due.

use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use ucwa_core::clock::millis;
use ucwa_core::meeting::Command;

use crate::Services;

/// When housekeeping last ran and when it runs next, in clock milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sweep {
    pub swept_at: i64,
    pub next_at: i64,
}

/// The published [`Sweep`].
#[derive(Debug)]
pub struct SweepProgress(watch::Sender<Sweep>);

impl Default for SweepProgress {
    fn default() -> Self {
        Self(watch::Sender::new(Sweep::default()))
    }
}

impl SweepProgress {
    pub fn subscribe(&self) -> watch::Receiver<Sweep> {
        self.0.subscribe()
    }

    /// Waits until housekeeping has nothing due at clock time `at`: it swept at or after
    /// `at`, or its next pass is later than `at`.
    pub async fn settled(&self, at: i64) {
        let mut progress = self.subscribe();
        let _ = progress.wait_for(|s| s.swept_at >= at || s.next_at > at).await;
    }
}

/// Runs housekeeping passes until `shutdown`.
pub async fn run(services: Services, shutdown: CancellationToken) {
    let limits = &services.limits;
    let idle = limits.application_idle();
    let lobby = Duration::from_secs(limits.lobby_timeout_secs.min(limits.invitation_timeout_secs));
    // Often enough that a deadline is at most a quarter of its limit late (and a second at
    // the most for lobby waits and ringing invitations, which people watch).
    let period = millis((idle.min(lobby) / 4).clamp(Duration::from_millis(100), Duration::from_secs(1)));
    // Idle expiry at most a quarter of its limit late; expired tokens only cost disk space.
    let mut idle_sweep = Every::new((idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(30)));
    let mut token_sweep = Every::new(Duration::from_secs(60));
    let mut retention_sweep = Every::new(Duration::from_secs(60));
    loop {
        let now = services.now_ms();
        services.expire_lobbies(now).await;
        services.meetings.prune();
        if idle_sweep.due(now) {
            services.expire_idle_applications(now - millis(idle)).await;
        }
        if token_sweep.due(now) {
            if let Err(e) = services.store.purge_expired_tokens(now).await {
                tracing::warn!(error = %e, "token purge failed");
            }
            // Expired presence subscriptions no longer deliver; this only frees their rows.
            if let Err(e) = services.store.purge_expired_presence_subscriptions(now).await {
                tracing::warn!(error = %e, "presence subscription purge failed");
            }
        }
        if retention_sweep.due(now) {
            services.purge_finished(now).await;
        }
        let next_at = now.saturating_add(period);
        services.sweeps.0.send_replace(Sweep { swept_at: now, next_at });
        tokio::select! {
            _ = services.clock.sleep_until(next_at) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// A pass that runs at most once per `every`.
struct Every {
    every_ms: i64,
    last_ms: Option<i64>,
}

impl Every {
    fn new(every: Duration) -> Self {
        Self { every_ms: millis(every), last_ms: None }
    }

    fn due(&mut self, now: i64) -> bool {
        let due = self.last_ms.is_none_or(|last| now - last >= self.every_ms);
        if due {
            self.last_ms = Some(now);
        }
        due
    }
}

impl Services {
    /// Fails lobby waits and unanswered invitations whose deadline passed (and, on loading a
    /// meeting, appends a fan-out a stopped server left pending).
    async fn expire_lobbies(&self, now: i64) {
        let due = match self.store.meetings_due(now).await {
            Ok(due) => due,
            Err(e) => return tracing::warn!(error = %e, "lobby sweep failed"),
        };
        for meeting in due {
            if let Err(e) = self.meetings.command(&meeting, Command::ExpireLobbies).await {
                tracing::warn!(meeting = %meeting, error = ?e, "lobby expiry failed");
            }
        }
    }

    /// Expires applications whose event channel was idle since `idle_before` (not those with
    /// a request parked now) and ends their conversations.
    async fn expire_idle_applications(&self, idle_before: i64) {
        let busy = self.channels.busy();
        match self.store.expire_idle_applications(idle_before, &busy).await {
            Ok(expired) => {
                if !expired.is_empty() {
                    tracing::info!(count = expired.len(), "expired idle applications");
                }
                for app in expired {
                    self.leave_all(&app).await;
                    if let Ok(Some(app)) = self.store.application(&app).await {
                        self.after_going_away(&app).await;
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "application expiry failed"),
        }
    }
}
