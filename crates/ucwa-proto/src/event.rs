//! The event builder the server renders with until it switches to the typed model
//! ([`crate::model::Event`], [`crate::model::EventBatch`]): events embed resources already
//! rendered as JSON. Batches are assembled by the typed model.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ErrorBody;
use crate::model::events::{EventBatch, SenderGroup as TypedSenderGroup};
pub use crate::model::events::{EventType, Status};
use crate::rel::{Rel, RelName};

/// A rel + href pair (event `link`, `in` and `sender`), the rel spelled out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelLink {
    pub rel: String,
    pub href: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

impl RelLink {
    pub fn new(rel: impl Into<String>, href: impl Into<String>) -> Self {
        Self { rel: rel.into(), href: href.into(), title: None }
    }
}

/// One event inside a sender group, its resource embedded as rendered JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub link: RelLink,
    #[serde(rename = "in", skip_serializing_if = "Option::is_none")]
    pub in_: Option<RelLink>,
    #[serde(rename = "_embedded", skip_serializing_if = "Option::is_none")]
    pub embedded: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<ErrorBody>,
    #[serde(rename = "type")]
    pub kind: EventType,
}

impl Event {
    /// A plain event about `link`, without `in`, body, status or reason.
    pub fn new(kind: EventType, link: RelLink) -> Self {
        Self { link, in_: None, embedded: None, status: None, reason: None, kind }
    }

    /// Embeds the target resource (already rendered) under its rel.
    pub fn embedding(mut self, rel: &str, resource: Value) -> Self {
        let mut m = Map::new();
        m.insert(rel.to_owned(), resource);
        self.embedded = Some(m);
        self
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Events of one sender, kept as rendered JSON: the log stores them that way.
pub type SenderGroup = TypedSenderGroup<Value>;

/// Builds the `sender` array from (sender, event) pairs ([`TypedSenderGroup::group`]).
pub fn group_by_sender(items: impl IntoIterator<Item = (RelLink, Value)>) -> Vec<SenderGroup> {
    TypedSenderGroup::group(items.into_iter().map(|(sender, event)| (Rel::parse(&sender.rel), sender.href, event)))
}

/// Which link continues the channel after this batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continuation {
    /// Normal flow: `next`.
    Next,
    /// The channel was reset after long inactivity: `resume` (same role as `next`).
    Resume,
}

/// A full batch body: `{"_links":{"self","next"|"resume"},"sender":[...]}`.
pub fn batch_body(self_href: &str, cont_rel: Continuation, cont_href: &str, senders: &[SenderGroup]) -> Value {
    let next = match cont_rel {
        Continuation::Next => RelName::Next,
        Continuation::Resume => RelName::Resume,
    };
    // Borrows the rendered events: a batch can hold hundreds.
    let senders = senders
        .iter()
        .map(|g| TypedSenderGroup { rel: g.rel.clone(), href: g.href.clone(), events: g.events.iter().collect() })
        .collect();
    let batch: EventBatch<&Value> = EventBatch::new(self_href, next, cont_href, senders);
    serde_json::to_value(batch).unwrap_or(Value::Null)
}

/// The answer to an out-of-range `ack`: only a `resync` link (docs/protocol.md, events).
pub fn resync_body(resync_href: &str) -> Value {
    serde_json::to_value(EventBatch::<Value>::resync(resync_href)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(rel: &str) -> Value {
        Event::new(EventType::Updated, RelLink::new(rel, "/x")).to_value()
    }

    #[test]
    fn groups_neighbours_without_reordering() {
        let a = RelLink::new("communication", "/c");
        let b = RelLink::new("conversation", "/c/1");
        let groups = group_by_sender(vec![(a.clone(), ev("1")), (a.clone(), ev("2")), (b, ev("3")), (a, ev("4"))]);
        let shape: Vec<(String, usize)> = groups.iter().map(|g| (g.rel.to_string(), g.events.len())).collect();
        assert_eq!(shape, vec![("communication".into(), 2), ("conversation".into(), 1), ("communication".into(), 1)]);
    }

    #[test]
    fn batches_and_resyncs_have_the_documented_shape() {
        let groups = group_by_sender(vec![(RelLink::new("ms:rtc:saas:communication", "/c"), ev("x"))]);
        assert_eq!(
            serde_json::to_string(&batch_body("/e?ack=2", Continuation::Next, "/e?ack=3", &groups)).unwrap(),
            serde_json::to_string(&json!({
                "_links": {"self": {"href": "/e?ack=2"}, "next": {"href": "/e?ack=3"}},
                "sender": [{"rel": "ms:rtc:saas:communication", "href": "/c", "events": [ev("x")]}]
            }))
            .unwrap()
        );
        assert_eq!(resync_body("/e?ack=1"), json!({"_links": {"resync": {"href": "/e?ack=1"}}}));
    }
}
