//! Event batches: the answer to `GET events?ack=N` and the body of a Trusted Application API
//! callback (docs/protocol.md, events and callbacks;
//! [Events in UCWA](https://learn.microsoft.com/en-us/skype-sdk/ucwa/eventsinucwa)).
//!
//! [`EventBatch<E>`] is generic over how an event is held: a client reads typed [`Event`]s; a
//! server that keeps rendered events as JSON (the event log stores them that way, and a replay
//! must be byte for byte) assembles an `EventBatch<serde_json::Value>` from them.

use serde::{Deserialize, Serialize};

use super::any::{AnyResource, Kind};
use super::hal::{Embedded, Embeds, Hal, Link, LinkSet, Links};
use crate::error::ErrorBody;
use crate::rel::{Rel, RelName};

/// `added`/`updated`/`deleted` for resources; `started`/`updated`/`completed` for operations.
/// A closed set (the UCWA event model has no others), so `Copy` and without fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Added,
    Updated,
    Deleted,
    Started,
    Completed,
}

/// `status` of a `completed` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    Success,
    Failure,
}

/// The `link` and `in` of an event, and the `rel`/`href` of its sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventLink {
    pub rel: Rel,
    pub href: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

impl EventLink {
    pub fn new(rel: Rel, href: impl Into<String>) -> Self {
        Self { rel, href: href.into(), title: None }
    }
}

/// One event: what happened (`type`) to which resource (`link`), possibly within which
/// collection (`in`), with the resource embedded for most types, and `status`/`reason` on
/// completions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub link: EventLink,
    #[serde(rename = "in", default, skip_serializing_if = "Option::is_none")]
    pub in_: Option<EventLink>,
    #[serde(rename = "_embedded", default, skip_serializing_if = "Option::is_none")]
    pub embedded: Option<Embedded>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<ErrorBody>,
    #[serde(rename = "type")]
    pub kind: EventType,
}

impl Event {
    pub fn new(kind: EventType, link: EventLink) -> Self {
        Self { link, in_: None, embedded: None, status: None, reason: None, kind }
    }

    /// An event about `resource`, linking to it (its rel and `self` href) and embedding it:
    /// the shape of operation, conversation and participant events.
    pub fn about(kind: EventType, resource: impl Into<AnyResource>) -> Self {
        let resource = resource.into();
        let rel = resource.rel().cloned().unwrap_or_else(|| Rel::bare(RelName::SelfLink));
        let link = EventLink::new(rel.clone(), resource.self_href().unwrap_or_default());
        let mut embedded = Embedded::default();
        embedded.insert(rel, Embeds::One(Box::new(resource)));
        Self { embedded: Some(embedded), ..Self::new(kind, link) }
    }

    /// The resource the event is about, when embedded (under the event link's rel).
    pub fn resource(&self) -> Option<&AnyResource> {
        self.embedded.as_ref()?.entry(self.link.rel.name.clone())?.as_slice().first()
    }

    /// The embedded resource, if it is a `P`.
    pub fn resource_as<P: Kind>(&self) -> Option<&Hal<P>> {
        self.resource().and_then(P::from_any)
    }
}

/// Events from one sender, in order. Consecutive events from the same sender share a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SenderGroup<E = Event> {
    pub rel: Rel,
    pub href: String,
    pub events: Vec<E>,
}

impl<E> SenderGroup<E> {
    /// Groups (sender, event) pairs, merging neighbours with the same sender and never
    /// reordering: the channel promises in-order delivery.
    pub fn group(items: impl IntoIterator<Item = (Rel, String, E)>) -> Vec<Self> {
        let mut groups: Vec<Self> = Vec::new();
        for (rel, href, event) in items {
            match groups.last_mut() {
                Some(g) if g.rel == rel && g.href == href => g.events.push(event),
                _ => groups.push(SenderGroup { rel, href, events: vec![event] }),
            }
        }
        groups
    }
}

/// A batch: `{"_links": {"self", "next" | "resume" | "resync"}, "sender": [...], "baseuri"?}`.
/// The answer to an out-of-range `ack` has only a `resync` link and no `sender`; an empty
/// callback heartbeat has only `self`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventBatch<E = Event> {
    #[serde(rename = "_links")]
    pub links: Links,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<Vec<SenderGroup<E>>>,
    /// Trusted Application API callbacks: the base relative hrefs resolve against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseuri: Option<String>,
}

impl<E> EventBatch<E> {
    /// A batch of `senders` whose `self` is `self_href` and whose continuation is `next`
    /// (`RelName::Next`, or `RelName::Resume` after the channel was reset).
    pub fn new(
        self_href: impl Into<String>,
        next: RelName,
        next_href: impl Into<String>,
        senders: Vec<SenderGroup<E>>,
    ) -> Self {
        let mut links = Links::default();
        links.insert(Rel::bare(RelName::SelfLink), LinkSet::One(Link::new(self_href)));
        links.insert(Rel::bare(next), LinkSet::One(Link::new(next_href)));
        Self { links, sender: Some(senders), baseuri: None }
    }

    /// The answer to an `ack` that is neither the last batch nor the next: only a `resync`
    /// link (docs/protocol.md, events).
    pub fn resync(href: impl Into<String>) -> Self {
        let mut links = Links::default();
        links.insert(Rel::bare(RelName::Resync), LinkSet::One(Link::new(href)));
        Self { links, sender: None, baseuri: None }
    }

    /// Where to ask next: the `next` link, else `resume`, else `resync`.
    pub fn continuation(&self) -> Option<&str> {
        [RelName::Next, RelName::Resume, RelName::Resync].into_iter().find_map(|name| self.links.href(name))
    }

    /// Every event, with its sender, in delivery order.
    pub fn events(&self) -> impl Iterator<Item = (&SenderGroup<E>, &E)> {
        self.sender.iter().flatten().flat_map(|g| g.events.iter().map(move |e| (g, e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Participant;
    use crate::rel::Namespace;

    #[test]
    fn an_event_about_a_resource_links_and_embeds_it() {
        let bob = Hal::new(Namespace::Saas, RelName::Participant, "/p/2", Participant::default());
        let event = Event::about(EventType::Added, bob.clone());
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["link"], serde_json::json!({"rel": "ms:rtc:saas:participant", "href": "/p/2"}));
        assert_eq!(json["_embedded"]["ms:rtc:saas:participant"]["_links"]["self"]["href"], "/p/2");
        assert_eq!(event.resource_as::<Participant>(), Some(&bob));
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }
}
