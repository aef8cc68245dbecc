//! The resource builder the server renders with until it switches to the typed model
//! ([`crate::model::Hal`]): `{ <props>, "_links": {...}, "_embedded": {...}, "rel": "..." }`
//! assembled as JSON, rels given as text and spelled by [`Namespace::rel`].
//!
//! Property order follows the recorded payloads: properties first, then `_links`,
//! `_embedded`, and `rel` last (see `fixtures/lync2013-trace/7-response.txt`).

use serde_json::{Map, Value};

pub use crate::rel::Namespace;

/// A resource under construction. Build with [`Resource::new`], add properties, links and
/// embedded resources, then turn it into JSON with [`Resource::into_value`].
#[derive(Debug, Clone)]
pub struct Resource {
    ns: Namespace,
    rel: String,
    props: Map<String, Value>,
    links: Map<String, Value>,
    embedded: Map<String, Value>,
}

impl Resource {
    /// A resource with the given (unprefixed) rel and `self` href.
    pub fn new(ns: Namespace, rel: &str, self_href: impl Into<String>) -> Self {
        let mut links = Map::new();
        links.insert("self".into(), link_value(self_href.into(), None));
        Self { ns, rel: ns.rel(rel), props: Map::new(), links, embedded: Map::new() }
    }

    /// A resource without a `self` link (rare: the discovery root and batch bodies).
    pub fn without_self(ns: Namespace, rel: &str) -> Self {
        Self { ns, rel: ns.rel(rel), props: Map::new(), links: Map::new(), embedded: Map::new() }
    }

    pub fn namespace(&self) -> Namespace {
        self.ns
    }

    /// Sets a property; `None`-like JSON nulls are skipped so absent data stays absent.
    pub fn prop(mut self, name: &str, value: impl Into<Value>) -> Self {
        let value = value.into();
        if !value.is_null() {
            self.props.insert(name.to_owned(), value);
        }
        self
    }

    /// Sets a property from an optional value.
    pub fn opt_prop<V: Into<Value>>(self, name: &str, value: Option<V>) -> Self {
        match value {
            Some(v) => self.prop(name, v),
            None => self,
        }
    }

    /// Adds a single link under `rel` (prefixed by the namespace).
    pub fn link(mut self, rel: &str, href: impl Into<String>) -> Self {
        self.links.insert(self.ns.rel(rel), link_value(href.into(), None));
        self
    }

    /// Adds a single link with a `title` (participant display names).
    pub fn titled_link(mut self, rel: &str, href: impl Into<String>, title: &str) -> Self {
        self.links.insert(self.ns.rel(rel), link_value(href.into(), Some(title)));
        self
    }

    /// Adds a link when there is an href (data-URI links such as `customContent`).
    pub fn opt_link(self, rel: &str, href: Option<&str>) -> Self {
        match href {
            Some(h) => self.link(rel, h),
            None => self,
        }
    }

    /// Adds a link only when `cond` holds: capability links come and go with state.
    pub fn link_if(self, cond: bool, rel: &str, href: impl FnOnce() -> String) -> Self {
        if cond { self.link(rel, href()) } else { self }
    }

    /// Adds a link whose rel is always an array (rels that can repeat).
    pub fn link_array(mut self, rel: &str, hrefs: impl IntoIterator<Item = (String, Option<String>)>) -> Self {
        let items: Vec<Value> = hrefs.into_iter().map(|(href, title)| link_value(href, title.as_deref())).collect();
        self.links.insert(self.ns.rel(rel), Value::Array(items));
        self
    }

    /// Embeds a resource under its own rel.
    pub fn embed(mut self, resource: Resource) -> Self {
        let key = resource.rel.clone();
        self.embedded.insert(key, resource.into_value());
        self
    }

    /// Embeds a resource under an explicit (unprefixed) rel, e.g. `from` for a participant.
    pub fn embed_as(mut self, rel: &str, resource: Resource) -> Self {
        self.embedded.insert(self.ns.rel(rel), resource.into_value());
        self
    }

    /// Embeds a list of resources under `rel` (always an array, even with one element).
    pub fn embed_array(mut self, rel: &str, resources: Vec<Resource>) -> Self {
        let items = resources.into_iter().map(Resource::into_value).collect();
        self.embedded.insert(self.ns.rel(rel), Value::Array(items));
        self
    }

    /// The href of the `self` link, if any.
    pub fn self_href(&self) -> Option<&str> {
        self.links.get("self")?.get("href")?.as_str()
    }

    /// The namespaced rel of this resource.
    pub fn rel(&self) -> &str {
        &self.rel
    }

    pub fn into_value(self) -> Value {
        let mut out = self.props;
        if !self.links.is_empty() {
            out.insert("_links".into(), Value::Object(self.links));
        }
        if !self.embedded.is_empty() {
            out.insert("_embedded".into(), Value::Object(self.embedded));
        }
        out.insert("rel".into(), Value::String(self.rel));
        Value::Object(out)
    }
}

/// `{"href": ...}` or `{"href": ..., "title": ...}`.
pub fn link_value(href: String, title: Option<&str>) -> Value {
    let link = crate::model::Link { href, title: title.map(str::to_owned), revision: None };
    serde_json::to_value(link).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builds_hal_shape_in_recorded_order() {
        let r = Resource::new(Namespace::Ucwa, "me", "/me")
            .prop("name", "Alice")
            .link("makeMeAvailable", "/me/makeMeAvailable")
            .into_value();
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            serde_json::to_string(&json!({"name":"Alice","_links":{"self":{"href":"/me"},"makeMeAvailable":{"href":"/me/makeMeAvailable"}},"rel":"me"})).unwrap()
        );
    }

    #[test]
    fn embedded_arrays_stay_arrays() {
        let r = Resource::new(Namespace::Saas, "lobby", "/l")
            .embed_array("participant", vec![Resource::new(Namespace::Saas, "participant", "/p")])
            .into_value();
        assert!(r["_embedded"]["ms:rtc:saas:participant"].is_array());
    }
}
