//! The HAL envelope every resource shares: properties, `_links`, `_embedded` and `rel`
//! ([Payload format](https://learn.microsoft.com/en-us/skype-sdk/ucwa/payloadformat),
//! [Web links](https://learn.microsoft.com/en-us/skype-sdk/ucwa/weblinks)).
//!
//! [`Hal<P>`] carries the typed properties `P` of one kind of resource; links and embedded
//! resources are ordered lists keyed by [`Rel`], looked up by [`RelName`] whatever the
//! namespace. Serialization writes properties first, then `_links`, `_embedded` and `rel`,
//! the order of the recorded Lync payload.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::any::{AnyResource, Kind};
use crate::rel::{Namespace, Rel, RelName};

/// The value real servers give the PUT-guard property (docs/protocol.md, Wire format).
pub const PUT_GUARD_VALUE: &str = "please pass this in a PUT request";

/// One link: `{"href", "title"?, "revision"?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub href: String,
    /// Display text: a participant's name, a meeting's subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The link's version; absent means 1. This server never sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

impl Link {
    pub fn new(href: impl Into<String>) -> Self {
        Self { href: href.into(), title: None, revision: None }
    }

    pub fn titled(href: impl Into<String>, title: impl Into<String>) -> Self {
        Self { href: href.into(), title: Some(title.into()), revision: None }
    }
}

/// A rel's links: one, or (for rels that can repeat) always an array, even of one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LinkSet {
    One(Link),
    Many(Vec<Link>),
}

impl LinkSet {
    pub fn as_slice(&self) -> &[Link] {
        match self {
            LinkSet::One(link) => std::slice::from_ref(link),
            LinkSet::Many(links) => links,
        }
    }
}

/// Entries keyed by rel, in the order they were added or received: `_links` ([`Links`]) and
/// `_embedded` ([`Embedded`]). Lookups by [`RelName`] accept either namespace spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelMap<V>(Vec<(Rel, V)>);

impl<V> Default for RelMap<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V> RelMap<V> {
    /// The first entry named `name`, in either namespace spelling.
    pub fn entry(&self, name: RelName) -> Option<&V> {
        self.0.iter().find(|(rel, _)| rel.name == name).map(|(_, v)| v)
    }

    /// The entry under exactly this spelling.
    pub fn get_rel(&self, rel: &Rel) -> Option<&V> {
        self.0.iter().find(|(r, _)| r == rel).map(|(_, v)| v)
    }

    /// Sets the entry of `rel`, replacing any it had.
    pub fn insert(&mut self, rel: Rel, value: V) {
        match self.0.iter_mut().find(|(r, _)| *r == rel) {
            Some(entry) => entry.1 = value,
            None => self.0.push((rel, value)),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Rel, &V)> {
        self.0.iter().map(|(rel, v)| (rel, v))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Reads a JSON object's entries, each value with `read` (given its rel).
    fn read<E: serde::de::Error>(
        map: Map<String, Value>,
        mut read: impl FnMut(&Rel, Value) -> serde_json::Result<V>,
    ) -> Result<Self, E> {
        let mut entries = Vec::with_capacity(map.len());
        for (key, value) in map {
            let rel = Rel::deserialize(Value::String(key)).map_err(E::custom)?;
            let value = read(&rel, value).map_err(E::custom)?;
            entries.push((rel, value));
        }
        Ok(Self(entries))
    }
}

impl<V: Serialize> Serialize for RelMap<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

/// `_links`.
pub type Links = RelMap<LinkSet>;

impl Links {
    /// The first link named `name`, in either namespace spelling.
    pub fn get(&self, name: RelName) -> Option<&Link> {
        self.all(name).first()
    }

    /// Every link named `name` (the array of a repeating rel).
    pub fn all(&self, name: RelName) -> &[Link] {
        self.entry(name).map_or(&[], LinkSet::as_slice)
    }

    /// The href of the first link named `name`.
    pub fn href(&self, name: RelName) -> Option<&str> {
        self.get(name).map(|l| l.href.as_str())
    }
}

impl<'de> Deserialize<'de> for Links {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::read(Map::deserialize(deserializer)?, |_, value| LinkSet::deserialize(value))
    }
}

/// The resources under one rel of `_embedded`: one, or an array.
#[derive(Debug, Clone, PartialEq)]
pub enum Embeds {
    One(Box<AnyResource>),
    Many(Vec<AnyResource>),
}

impl Embeds {
    pub fn as_slice(&self) -> &[AnyResource] {
        match self {
            Embeds::One(resource) => std::slice::from_ref(resource),
            Embeds::Many(resources) => resources,
        }
    }
}

impl Serialize for Embeds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Embeds::One(resource) => resource.serialize(serializer),
            Embeds::Many(resources) => resources.serialize(serializer),
        }
    }
}

/// `_embedded` (of a resource or an event).
pub type Embedded = RelMap<Embeds>;

impl Embedded {
    /// The first resource under `name`, if it is a `P`.
    pub fn one<P: Kind>(&self, name: RelName) -> Option<&Hal<P>> {
        self.entry(name)?.as_slice().first().and_then(P::from_any)
    }

    /// The resources under `name` that are `P`s (the `participant` array of a roster view).
    pub fn many<'a, P: Kind + 'a>(&'a self, name: RelName) -> impl Iterator<Item = &'a Hal<P>> {
        self.entry(name).map(Embeds::as_slice).unwrap_or_default().iter().filter_map(P::from_any)
    }
}

impl<'de> Deserialize<'de> for Embedded {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A resource without its own `rel` is read as the kind its key names.
        Self::read(Map::deserialize(deserializer)?, |rel, value| match value {
            Value::Array(items) => items
                .into_iter()
                .map(|item| AnyResource::from_value(item, Some(rel)))
                .collect::<Result<_, _>>()
                .map(Embeds::Many),
            other => AnyResource::from_value(other, Some(rel)).map(|r| Embeds::One(Box::new(r))),
        })
    }
}

/// A resource: typed properties `P` in the HAL envelope.
///
/// Servers build one with [`Hal::new`] and the chained `link*`/`embed*` methods, which spell
/// rels in the resource's namespace; clients read `props`, `links` and `embedded`.
#[derive(Debug, Clone, PartialEq)]
pub struct Hal<P> {
    /// The namespace the builder methods spell rels in: read from the `rel` prefix.
    pub ns: Namespace,
    /// The `rel` property. Absent only on the discovery root and user resources.
    pub rel: Option<Rel>,
    pub props: P,
    /// The name of the PUT-guard property of a PUT-able resource (docs/protocol.md, Wire
    /// format): a PUT must send it back with [`PUT_GUARD_VALUE`].
    pub put_guard: Option<String>,
    pub links: Links,
    pub embedded: Embedded,
}

impl<P> Hal<P> {
    /// A resource named `name` in `ns`, with its `self` link.
    pub fn new(ns: Namespace, name: RelName, self_href: impl Into<String>, props: P) -> Self {
        Self::without_self(ns, Some(ns.rel_of(name)), props).link(RelName::SelfLink, self_href)
    }

    /// A resource without a `self` link, and with the given `rel` (or none).
    pub fn without_self(ns: Namespace, rel: Option<Rel>, props: P) -> Self {
        Self { ns, rel, props, put_guard: None, links: Links::default(), embedded: Embedded::default() }
    }

    /// The `self` href.
    pub fn self_href(&self) -> Option<&str> {
        self.links.href(RelName::SelfLink)
    }

    /// Adds the PUT-guard property under `name`.
    pub fn put_guard(mut self, name: impl Into<String>) -> Self {
        self.put_guard = Some(name.into());
        self
    }

    /// Adds a link, spelled in the resource's namespace.
    pub fn link(self, name: RelName, href: impl Into<String>) -> Self {
        let rel = self.ns.rel_of(name);
        self.link_as(rel, Link::new(href))
    }

    /// Adds a link with a `title` (participants' display names).
    pub fn titled_link(self, name: RelName, href: impl Into<String>, title: impl Into<String>) -> Self {
        let rel = self.ns.rel_of(name);
        self.link_as(rel, Link::titled(href, title))
    }

    /// Adds a link only when `cond` holds: capability links come and go with state.
    pub fn link_if(self, cond: bool, name: RelName, href: impl FnOnce() -> String) -> Self {
        if cond { self.link(name, href()) } else { self }
    }

    /// Adds a link under an exact spelling (mixed-namespace resources such as `discover`).
    pub fn link_as(mut self, rel: Rel, link: Link) -> Self {
        self.links.insert(rel, LinkSet::One(link));
        self
    }

    /// Adds a repeating rel: always an array, even of one or none.
    pub fn link_array(mut self, name: RelName, links: impl IntoIterator<Item = Link>) -> Self {
        let rel = self.ns.rel_of(name);
        self.links.insert(rel, LinkSet::Many(links.into_iter().collect()));
        self
    }

    /// Embeds one resource under `name`.
    pub fn embed(mut self, name: RelName, resource: impl Into<AnyResource>) -> Self {
        let rel = self.ns.rel_of(name);
        self.embedded.insert(rel, Embeds::One(Box::new(resource.into())));
        self
    }

    /// Embeds resources under `name`, always as an array.
    pub fn embed_array(mut self, name: RelName, resources: impl IntoIterator<Item = AnyResource>) -> Self {
        let rel = self.ns.rel_of(name);
        self.embedded.insert(rel, Embeds::Many(resources.into_iter().collect()));
        self
    }
}

/// The property map a `PUT` guard adds: `{"<name>": "please pass this in a PUT request"}`.
struct GuardEntry<'a>(&'a str);

impl Serialize for GuardEntry<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map([(self.0, PUT_GUARD_VALUE)])
    }
}

#[derive(Serialize)]
struct HalOut<'a, P> {
    #[serde(flatten)]
    put_guard: Option<GuardEntry<'a>>,
    #[serde(flatten)]
    props: &'a P,
    #[serde(rename = "_links", skip_serializing_if = "no_links")]
    links: &'a Links,
    #[serde(rename = "_embedded", skip_serializing_if = "nothing_embedded")]
    embedded: &'a Embedded,
    #[serde(skip_serializing_if = "Option::is_none")]
    rel: Option<&'a Rel>,
}

fn no_links(links: &&Links) -> bool {
    links.is_empty()
}

fn nothing_embedded(embedded: &&Embedded) -> bool {
    embedded.is_empty()
}

impl<P: Serialize> Serialize for Hal<P> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        HalOut {
            put_guard: self.put_guard.as_deref().map(GuardEntry),
            props: &self.props,
            links: &self.links,
            embedded: &self.embedded,
            rel: self.rel.as_ref(),
        }
        .serialize(serializer)
    }
}

impl<P: DeserializeOwned> Hal<P> {
    /// Reads a resource from its JSON object; `fallback_rel` (the key it was embedded under)
    /// stands in for a missing `rel` when deciding the namespace.
    pub(crate) fn from_object(mut object: Map<String, Value>, fallback_rel: Option<&Rel>) -> serde_json::Result<Self> {
        let links = object.remove("_links").map(serde_json::from_value).transpose()?.unwrap_or_default();
        let embedded = object.remove("_embedded").map(serde_json::from_value).transpose()?.unwrap_or_default();
        let rel: Option<Rel> = object.remove("rel").map(serde_json::from_value).transpose()?;
        let put_guard = object.iter().find(|(_, v)| v.as_str() == Some(PUT_GUARD_VALUE)).map(|(name, _)| name.clone());
        if let Some(name) = &put_guard {
            object.remove(name);
        }
        let ns = rel.as_ref().or(fallback_rel).map_or(Namespace::Ucwa, Rel::namespace);
        let props = serde_json::from_value(Value::Object(object))?;
        Ok(Self { ns, rel, props, put_guard, links, embedded })
    }
}

impl<'de, P: DeserializeOwned> Deserialize<'de> for Hal<P> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let object = Map::<String, Value>::deserialize(deserializer)?;
        Self::from_object(object, None).map_err(serde::de::Error::custom)
    }
}
