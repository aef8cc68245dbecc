//! Retention: deletes what finished longer than `--retention-hours` ago (finished
//! conversations and meetings, expired applications, old callback failures), in bounded
//! steps of `Store::purge_finished`, from housekeeping. What "finished" means for each kind
//! is `Meeting::finished_at` and docs/ARCHITECTURE.md, "Retention".
//!
//! Applications that ended while some of their conversations were still live (the server
//! stopped between expiring an application and ending its conversations) come back from
//! the store as stranded; their conversations are ended here the usual way, so the other
//! participants see them leave and the meetings can finish.

use crate::Services;

/// Rows of each kind one step deletes. A step of 256 finished conversations holds the
/// SQLite writer for 2-3.5 ms at the median, 8-12 ms at p99 on a busy 2-core machine
/// (docs/BENCHMARKS.md, scenario (e)): short enough that the writes queued behind it barely
/// notice, and a thousand conversations finishing a minute take four steps.
const STEP: u32 = 256;
/// Steps in one pass at most; anything left waits for the next pass. Other writers take
/// turns between steps (the writer is handed out first come, first served).
const STEPS_PER_PASS: usize = 64;

impl Services {
    /// One retention pass at `now_ms`.
    pub(crate) async fn purge_finished(&self, now_ms: i64) {
        let before_ms = now_ms.saturating_sub(i64::try_from(self.limits.retention().as_millis()).unwrap_or(i64::MAX));
        for _ in 0..STEPS_PER_PASS {
            let step = match self.store.purge_finished(before_ms, STEP).await {
                Ok(step) => step,
                Err(e) => return tracing::warn!(error = %e, "retention purge failed"),
            };
            if step.meetings + step.applications + step.callback_failures > 0 {
                tracing::debug!(
                    meetings = step.meetings,
                    applications = step.applications,
                    callback_failures = step.callback_failures,
                    "purged finished records"
                );
            }
            for app in &step.stranded_applications {
                tracing::info!(app = %app, "ending the conversations of an application that ended before them");
                self.leave_all(app).await;
            }
            if !step.more {
                return;
            }
        }
    }
}
