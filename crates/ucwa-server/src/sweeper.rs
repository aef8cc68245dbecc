//! Background housekeeping on a timer: expires idle applications and purges expired
//! tokens. Each pass is idempotent, so several nodes may run it at once.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::state::{AppState, now_ms};

pub async fn run(state: AppState, shutdown: CancellationToken) {
    let idle = state.limits.application_idle();
    // Often enough that expiry is at most a quarter of the idle limit late.
    let period = (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
    let mut ticker = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        let now = now_ms();
        let busy = state.channels.busy();
        match state.store.expire_idle_applications(now - idle.as_millis() as i64, &busy).await {
            Ok(expired) if !expired.is_empty() => tracing::info!(count = expired.len(), "expired idle applications"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "application expiry failed"),
        }
        if let Err(e) = state.store.purge_expired_tokens(now).await {
            tracing::warn!(error = %e, "token purge failed");
        }
    }
}
