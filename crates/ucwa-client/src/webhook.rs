//! Trusted Application API callbacks on the receiving side: checking the signature OpenUCWA
//! puts on every callback (README, "Verifying callbacks") and handing the events to the
//! application's handles ([`CallbackInbox`]).
//!
//! The header is `X-OpenUCWA-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(signing key,
//! "<t>.<raw body>")>`. Verify over the raw bytes received (not re-serialized JSON), compare
//! in constant time, and refuse old timestamps so a recorded callback cannot be replayed later.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use ucwa_proto::RelName;
use ucwa_proto::model::{EventBatch, EventLink};

use crate::application::lock;
use crate::error::{Error, Result};
use crate::events::{ChannelEvent, ChannelItem};
use crate::hub::Hub;

/// The name of the signature header.
pub const SIGNATURE_HEADER: &str = "X-OpenUCWA-Signature";

/// How old a callback's timestamp may be by default.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Checks a callback's signature header against its raw body, at time `now`: the timestamp
/// must be within `tolerance` of `now` and the HMAC must match (compared in constant time).
pub fn verify_signature(
    signing_key: &str,
    header: &str,
    raw_body: &[u8],
    now: SystemTime,
    tolerance: Duration,
) -> Result<()> {
    let invalid = |why: &str| Error::Invalid(format!("callback signature: {why}"));
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signature = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(invalid("the header is not t=<seconds>,v1=<hex>"));
    };
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    if now.abs_diff(timestamp) > tolerance.as_secs() {
        return Err(invalid("the timestamp is too far from now"));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(signing_key.as_bytes()).map_err(|_| invalid("unusable key"))?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(raw_body);
    mac.verify_slice(&signature).map_err(|_| invalid("it does not match"))
}

/// How many callback batches an inbox remembers to recognise redeliveries.
const REMEMBERED_BATCHES: usize = 4096;

/// Where a service application's callbacks go in: hand each received callback to
/// [`CallbackInbox::deliver`] from your HTTP endpoint, answer `200` when it returns `Ok`, and
/// the application's handles ([`Join`](crate::Join), [`Conversation`](crate::Conversation))
/// follow the events as they would on an event channel. Cheap to clone.
#[derive(Clone)]
pub struct CallbackInbox {
    hub: Arc<Hub>,
    signing_key: Option<String>,
    tolerance: Duration,
    /// `self` hrefs of the batches taken in: callbacks are delivered at least once, so a
    /// batch sent again (its 2xx was lost) is recognised and not handed out twice.
    seen: Arc<Mutex<(HashSet<String>, VecDeque<String>)>>,
}

impl CallbackInbox {
    pub(crate) fn new(hub: Arc<Hub>, signing_key: Option<String>) -> Self {
        Self { hub, signing_key, tolerance: DEFAULT_TOLERANCE, seen: Arc::default() }
    }

    /// Accepts timestamps up to `tolerance` away from now.
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Takes in one callback: its signature header (checked when the inbox has a signing
    /// key) and its raw body. Heartbeats (no events) are accepted and change nothing.
    pub fn deliver(&self, signature: Option<&str>, raw_body: &[u8]) -> Result<()> {
        if let Some(key) = &self.signing_key {
            let header = signature.ok_or_else(|| Error::Invalid(format!("callback without {SIGNATURE_HEADER}")))?;
            verify_signature(key, header, raw_body, SystemTime::now(), self.tolerance)?;
        }
        let batch: EventBatch =
            serde_json::from_slice(raw_body).map_err(|e| Error::Invalid(format!("callback body: {e}")))?;
        if let Some(self_href) = batch.links.href(RelName::SelfLink).filter(|_| batch.events().next().is_some()) {
            let mut seen = lock(&self.seen);
            let (set, order) = &mut *seen;
            if !set.insert(self_href.to_owned()) {
                return Ok(());
            }
            order.push_back(self_href.to_owned());
            if order.len() > REMEMBERED_BATCHES
                && let Some(oldest) = order.pop_front()
            {
                set.remove(&oldest);
            }
        }
        for (group, event) in batch.events() {
            let sender = EventLink { rel: group.rel.clone(), href: group.href.clone(), title: None };
            self.hub.publish(ChannelItem::Event(Box::new(ChannelEvent { sender, event: event.clone() })));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_signature_verifies() {
        // The test vector of ucwa-core's signer: HMAC-SHA256("k", "1700000000.{}").
        let header = "t=1700000000,v1=c6ef4734033cee2367414a0939385eca0397754aa7a59716da7463a9298b5146";
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_100);
        assert!(verify_signature("k", header, b"{}", at, DEFAULT_TOLERANCE).is_ok());
        assert!(verify_signature("k2", header, b"{}", at, DEFAULT_TOLERANCE).is_err(), "another key");
        assert!(verify_signature("k", header, b"{ }", at, DEFAULT_TOLERANCE).is_err(), "another body");
        let late = UNIX_EPOCH + Duration::from_secs(1_700_000_301);
        assert!(verify_signature("k", header, b"{}", late, DEFAULT_TOLERANCE).is_err(), "too old");
        assert!(verify_signature("k", "v1=00", b"{}", at, DEFAULT_TOLERANCE).is_err(), "no timestamp");
    }
}
