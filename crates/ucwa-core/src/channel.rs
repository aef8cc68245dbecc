//! The rules of the UCWA event channel (docs/protocol.md, events;
//! <https://learn.microsoft.com/en-us/skype-sdk/ucwa/eventchanneldetails>), free of I/O:
//! parameter clamping, what an `ack` asks for, and when a parked request is released.

use serde::{Deserialize, Serialize};

/// Event priority classes. Real-time events are folded into `High`: both release a parked
/// request at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Priority {
    Low = 0,
    Medium = 1,
    High = 2,
}

impl Priority {
    pub fn as_i64(self) -> i64 {
        self as i64
    }

    pub fn from_i64(v: i64) -> Self {
        match v {
            0 => Priority::Low,
            1 => Priority::Medium,
            _ => Priority::High,
        }
    }
}

/// The sticky channel parameters (seconds), remembered per application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelParams {
    pub timeout_s: u32,
    pub low_s: u32,
    pub medium_s: u32,
    pub priority: u32,
}

/// Allowed ranges. The documented ones are the default; a server may lower the floors
/// (tests use one-second timeouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelLimits {
    pub timeout_min_s: u32,
    pub timeout_max_s: u32,
    pub hold_min_s: u32,
    pub hold_max_s: u32,
}

impl Default for ChannelLimits {
    fn default() -> Self {
        Self { timeout_min_s: 180, timeout_max_s: 1800, hold_min_s: 5, hold_max_s: 1800 }
    }
}

impl ChannelLimits {
    /// Parameters of a new application: the documented defaults, clamped to these limits.
    pub fn defaults(&self) -> ChannelParams {
        ChannelParams {
            timeout_s: 180u32.clamp(self.timeout_min_s, self.timeout_max_s),
            low_s: 15u32.clamp(self.hold_min_s, self.hold_max_s),
            medium_s: 5u32.clamp(self.hold_min_s, self.hold_max_s),
            priority: 0,
        }
    }

    /// Applies the parameters a request carries onto the sticky ones. Out-of-range values
    /// are clamped, as the Microsoft sample library does, rather than refused.
    pub fn apply(&self, sticky: ChannelParams, req: &ChannelRequest) -> ChannelParams {
        let clamp_hold = |v: u64| v.clamp(self.hold_min_s.into(), self.hold_max_s.into()) as u32;
        ChannelParams {
            timeout_s: req
                .timeout_s
                .map(|v| v.clamp(self.timeout_min_s.into(), self.timeout_max_s.into()) as u32)
                .unwrap_or(sticky.timeout_s),
            low_s: req.low_s.map(clamp_hold).unwrap_or(sticky.low_s),
            medium_s: req.medium_s.map(clamp_hold).unwrap_or(sticky.medium_s),
            priority: req.priority.map(|p| p.min(u32::MAX.into()) as u32).unwrap_or(sticky.priority),
        }
    }
}

/// Parameters present on one `GET events` request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelRequest {
    pub timeout_s: Option<u64>,
    pub low_s: Option<u64>,
    pub medium_s: Option<u64>,
    pub priority: Option<u64>,
}

/// What a `GET events?ack=N` asks for, given the number of the last delivered batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckDecision {
    /// `N` is the last delivered batch: its response was lost; send the same body again.
    Replay,
    /// `N` is the next batch: the previous one is acknowledged; build (or wait for) `N`.
    Build,
    /// Anything else: answer with only a `resync` link to this batch number.
    Resync(u64),
}

pub fn decide_ack(last_delivered: u64, requested: Option<u64>) -> AckDecision {
    match requested {
        Some(n) if last_delivered > 0 && n == last_delivered => AckDecision::Replay,
        Some(n) if Some(n) == last_delivered.checked_add(1) => AckDecision::Build,
        // The first unacknowledged batch: the last delivered one, or the first ever.
        _ => AckDecision::Resync(last_delivered.max(1)),
    }
}

/// Priority and age of one undelivered event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub priority: Priority,
    pub created_ms: i64,
}

/// When a parked request with these undelivered events must be released (docs/protocol.md, events): at once
/// for a high-priority event, when the oldest medium event is `medium` seconds old, when the
/// oldest low one is `low` seconds old. `None`: nothing forces a release before the timeout.
/// Whatever releases the request, every undelivered event goes out in order: holding low
/// events never reorders them behind later high ones.
pub fn release_at(pending: &[Pending], params: &ChannelParams) -> Option<i64> {
    pending
        .iter()
        .map(|p| match p.priority {
            Priority::High => p.created_ms,
            Priority::Medium => p.created_ms.saturating_add(i64::from(params.medium_s) * 1000),
            Priority::Low => p.created_ms.saturating_add(i64::from(params.low_s) * 1000),
        })
        .min()
}

/// How many events, of the given body sizes in delivery order, one batch carries within
/// `max_bytes`: as many as fit, and always the first (an event larger than the cap goes
/// alone), so the rest follow in the next batch, in order, and nothing is ever stuck.
pub fn batch_len(sizes: impl IntoIterator<Item = usize>, max_bytes: usize) -> usize {
    let mut total = 0usize;
    let mut count = 0;
    for size in sizes {
        total = total.saturating_add(size);
        if count > 0 && total > max_bytes {
            break;
        }
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    #[test]
    fn batches_are_cut_by_bytes_keeping_at_least_one_event() {
        assert_eq!(batch_len([], 10), 0);
        assert_eq!(batch_len([4, 4, 4], 10), 2);
        assert_eq!(batch_len([4, 6, 1], 10), 2);
        assert_eq!(batch_len([50, 1], 10), 1, "a larger event goes alone");
        assert_eq!(batch_len([1, 2, 3], 100), 3);
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ack_bookkeeping_follows_the_samples() {
        assert_eq!(decide_ack(0, Some(1)), AckDecision::Build);
        assert_eq!(decide_ack(0, Some(0)), AckDecision::Resync(1));
        assert_eq!(decide_ack(0, None), AckDecision::Resync(1));
        assert_eq!(decide_ack(4, Some(4)), AckDecision::Replay);
        assert_eq!(decide_ack(4, Some(5)), AckDecision::Build);
        assert_eq!(decide_ack(4, Some(3)), AckDecision::Resync(4));
        assert_eq!(decide_ack(4, Some(u64::MAX)), AckDecision::Resync(4));
        assert_eq!(decide_ack(u64::MAX, Some(u64::MAX)), AckDecision::Replay);
    }

    #[test]
    fn clamps_to_documented_ranges_and_sticks() {
        let limits = ChannelLimits::default();
        let p = limits
            .apply(limits.defaults(), &ChannelRequest { timeout_s: Some(5), low_s: Some(99999), ..Default::default() });
        assert_eq!((p.timeout_s, p.low_s, p.medium_s), (180, 1800, 5));
        let q = limits.apply(p, &ChannelRequest { medium_s: Some(60), ..Default::default() });
        assert_eq!((q.timeout_s, q.low_s, q.medium_s), (180, 1800, 60), "unspecified values stay as they were");
    }

    #[test]
    fn high_releases_at_once_low_and_medium_wait() {
        let params = ChannelLimits::default().defaults();
        let low = Pending { priority: Priority::Low, created_ms: 1000 };
        let med = Pending { priority: Priority::Medium, created_ms: 2000 };
        let high = Pending { priority: Priority::High, created_ms: 3000 };
        assert_eq!(release_at(&[], &params), None);
        assert_eq!(release_at(&[low], &params), Some(16_000));
        assert_eq!(release_at(&[low, med], &params), Some(7_000));
        assert_eq!(release_at(&[low, med, high], &params), Some(3_000));
    }

    proptest! {
        /// Replaying and building only ever target the last or the next batch; everything
        /// else resyncs to a batch the client can actually fetch.
        #[test]
        fn every_ack_gets_a_fetchable_answer(last in 0u64..1000, req in proptest::option::of(0u64..1100)) {
            match decide_ack(last, req) {
                AckDecision::Replay => prop_assert!(last > 0 && req == Some(last)),
                AckDecision::Build => prop_assert_eq!(req, Some(last + 1)),
                AckDecision::Resync(to) => {
                    prop_assert!(to == last || (last == 0 && to == 1));
                    prop_assert_ne!(decide_ack(last, Some(to)), AckDecision::Resync(to));
                }
            }
        }

        /// A release is never later than the rule for any single pending event.
        #[test]
        fn release_is_earliest_deadline(events in proptest::collection::vec((0i64..3, 0i64..100_000), 1..20)) {
            let params = ChannelLimits::default().defaults();
            let pending: Vec<Pending> = events.iter().map(|(p, t)| Pending { priority: Priority::from_i64(*p), created_ms: *t }).collect();
            let at = release_at(&pending, &params).unwrap();
            for p in &pending {
                prop_assert!(at <= release_at(&[*p], &params).unwrap());
            }
        }
    }
}
