//! Event batches (docs/protocol.md, events): what a parked `GET events?ack=N` returns and
//! what a Trusted Application API callback carries.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ErrorBody;
use crate::resource::link_value;

/// `added`/`updated`/`deleted` for resources; `started`/`updated`/`completed` for operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Added,
    Updated,
    Deleted,
    Started,
    Completed,
}

/// `status` on `completed` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Success,
    Failure,
}

/// A rel + href pair (event `link`, `in` and `sender`).
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

/// One event inside a sender group.
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

/// Events from one sender, in order. Consecutive events from the same sender share a group.
/// Events are kept as rendered JSON: the log stores them that way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SenderGroup {
    pub rel: String,
    pub href: String,
    pub events: Vec<Value>,
}

/// Builds the `sender` array from (sender, event) pairs, merging neighbours with the same
/// sender and never reordering: the channel promises in-order delivery.
pub fn group_by_sender(items: impl IntoIterator<Item = (RelLink, Value)>) -> Vec<SenderGroup> {
    let mut groups: Vec<SenderGroup> = Vec::new();
    for (sender, event) in items {
        match groups.last_mut() {
            Some(g) if g.rel == sender.rel && g.href == sender.href => g.events.push(event),
            _ => groups.push(SenderGroup { rel: sender.rel, href: sender.href, events: vec![event] }),
        }
    }
    groups
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
    let mut links = Map::new();
    links.insert("self".into(), link_value(self_href.to_owned(), None));
    let rel = match cont_rel {
        Continuation::Next => "next",
        Continuation::Resume => "resume",
    };
    links.insert(rel.into(), link_value(cont_href.to_owned(), None));
    let mut body = Map::new();
    body.insert("_links".into(), Value::Object(links));
    body.insert("sender".into(), serde_json::to_value(senders).unwrap_or(Value::Array(vec![])));
    Value::Object(body)
}

/// The answer to an out-of-range `ack`: only a `resync` link (docs/protocol.md, events).
pub fn resync_body(resync_href: &str) -> Value {
    let mut links = Map::new();
    links.insert("resync".into(), link_value(resync_href.to_owned(), None));
    let mut body = Map::new();
    body.insert("_links".into(), Value::Object(links));
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(rel: &str) -> Value {
        Event::new(EventType::Updated, RelLink::new(rel, "/x")).to_value()
    }

    #[test]
    fn groups_neighbours_without_reordering() {
        let a = RelLink::new("communication", "/c");
        let b = RelLink::new("conversation", "/c/1");
        let groups = group_by_sender(vec![(a.clone(), ev("1")), (a.clone(), ev("2")), (b, ev("3")), (a, ev("4"))]);
        let shape: Vec<(String, usize)> = groups.iter().map(|g| (g.rel.clone(), g.events.len())).collect();
        assert_eq!(shape, vec![("communication".into(), 2), ("conversation".into(), 1), ("communication".into(), 1)]);
    }
}
