//! Background housekeeping on a timer: fails lobby waits and unanswered invitations past
//! their deadline, expires idle applications (their conversations end), purges expired
//! tokens, and once a minute deletes what finished before the retention period
//! ([`crate::retention`]). Each pass is idempotent, so several nodes may run it at once.
//!
//! Passes that may write run only as often as their limits need: every write waits for
//! the database's one writer, and a write each second showed up in the latency tail of
//! admissions and event deliveries.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use ucwa_core::meeting::Command;

use crate::state::{AppState, now_ms};

pub async fn run(state: AppState, shutdown: CancellationToken) {
    let idle = state.limits.application_idle();
    let lobby = Duration::from_secs(state.limits.lobby_timeout_secs.min(state.limits.invitation_timeout_secs));
    // Often enough that a deadline is at most a quarter of its limit late (and a second at
    // the most for lobby waits and ringing invitations, which people watch).
    let period = (idle.min(lobby) / 4).clamp(Duration::from_millis(100), Duration::from_secs(1));
    let mut ticker = tokio::time::interval(period);
    // Idle expiry at most a quarter of its limit late; expired tokens only cost disk space.
    let mut idle_sweep = Every::new((idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(30)));
    let mut token_sweep = Every::new(Duration::from_secs(60));
    let mut retention_sweep = Every::new(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        let now = now_ms();
        expire_lobbies(&state, now).await;
        state.meetings.prune();
        if !idle_sweep.due(now) {
            continue;
        }
        let busy = state.channels.busy();
        match state.store.expire_idle_applications(now - idle.as_millis() as i64, &busy).await {
            Ok(expired) => {
                if !expired.is_empty() {
                    tracing::info!(count = expired.len(), "expired idle applications");
                }
                for app in expired {
                    leave_all(&state, &app).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "application expiry failed"),
        }
        if token_sweep.due(now)
            && let Err(e) = state.store.purge_expired_tokens(now).await
        {
            tracing::warn!(error = %e, "token purge failed");
        }
        if retention_sweep.due(now) {
            crate::retention::purge(&state, now).await;
        }
    }
}

/// A pass that runs at most once per `every`.
struct Every {
    every_ms: i64,
    last_ms: i64,
}

impl Every {
    fn new(every: Duration) -> Self {
        Self { every_ms: every.as_millis() as i64, last_ms: 0 }
    }

    fn due(&mut self, now: i64) -> bool {
        let due = now - self.last_ms >= self.every_ms;
        if due {
            self.last_ms = now;
        }
        due
    }
}

async fn expire_lobbies(state: &AppState, now: i64) {
    let due = match state.store.meetings_due(now).await {
        Ok(due) => due,
        Err(e) => return tracing::warn!(error = %e, "lobby sweep failed"),
    };
    for meeting in due {
        if let Err(e) = state.meetings.command(state, &meeting, Command::ExpireLobbies).await {
            tracing::warn!(meeting = %meeting, error = ?e, "lobby expiry failed");
        }
    }
}

/// Ends every conversation of an application that is going away (deleted or expired).
pub async fn leave_all(state: &AppState, app_id: &str) {
    let sessions = match state.store.sessions_of_application(app_id).await {
        Ok(s) => s,
        Err(e) => return tracing::warn!(error = %e, "listing conversations failed"),
    };
    for s in sessions {
        let cmd = Command::Leave { session: s.session_id.clone() };
        if let Err(e) = state.meetings.command(state, &s.meeting_id, cmd).await {
            tracing::debug!(session = %s.session_id, error = ?e, "leaving on application end");
        }
    }
}
