//! Presence and people, as the recorded Lync traffic shows them
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/receiveanim>,
//! <https://learn.microsoft.com/en-us/skype-sdk/ucwa/getmypresenceinformation>): the user's
//! `presence`, `note`, `location` and `phones`; `contact`s with their `contactPresence`,
//! `contactNote`, `contactLocation` and `contactPhoto` links; `myContacts`, `search` and
//! presence subscriptions; and the events that tell of changes.

use ucwa_core::channel::Priority;
use ucwa_core::meeting::address_key;
use ucwa_core::model::{Application, NewEvent, PresenceSubscription, Publication, User};
use ucwa_proto::event::{Event, EventType, RelLink};
use ucwa_proto::{Namespace, Resource};

use crate::urls::AppUrls;

/// What a user's published availability shows as (Availability, and an activity): a
/// PreferredAvailability is shown as itself, except `Offwork`, which has no Availability of
/// its own and shows as `Away` with the well-known activity `off-work`
/// (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/contactpresence_ref>). Never set:
/// `Online`.
pub fn shown_availability(preferred: Option<&str>) -> (&'static str, Option<&'static str>) {
    match preferred {
        Some("Busy") => ("Busy", None),
        Some("DoNotDisturb") => ("DoNotDisturb", None),
        Some("BeRightBack") => ("BeRightBack", None),
        Some("Away") => ("Away", None),
        Some("Offwork") => ("Away", Some("off-work")),
        _ => ("Online", None),
    }
}

/// A `presence` (the user's own) or `contactPresence` at `href`.
pub fn presence(rel: &str, href: String, availability: &str, activity: Option<&str>) -> Resource {
    Resource::new(Namespace::Ucwa, rel, href).prop("availability", availability).opt_prop("activity", activity)
}

/// A `note` or `contactNote`: the personal note, `""` when there is none.
pub fn note(rel: &str, href: String, publication: &Publication) -> Resource {
    Resource::new(Namespace::Ucwa, rel, href)
        .prop("message", publication.note.as_deref().unwrap_or_default())
        .prop("type", "Personal")
}

/// A `location` or `contactLocation`, `""` when none is set.
pub fn location(rel: &str, href: String, publication: &Publication) -> Resource {
    Resource::new(Namespace::Ucwa, rel, href).prop("location", publication.location.as_deref().unwrap_or_default())
}

/// `me/phones`: no phone numbers are known here.
pub fn phones(urls: &AppUrls) -> Resource {
    Resource::new(Namespace::Ucwa, "phones", urls.me_part("phones")).embed_array("phone", Vec::new())
}

/// A user of this server as a `contact`.
pub fn contact(urls: &AppUrls, user: &User) -> Resource {
    let key = address_key(&user.uri);
    Resource::new(Namespace::Ucwa, "contact", urls.contact(&key))
        .prop("uri", user.uri.as_str())
        .prop("name", user.display_name.as_str())
        .prop("type", "User")
        .prop("sourceNetwork", "SameEnterprise")
        .link("contactPhoto", urls.photo(&key))
        .link("contactPresence", urls.contact_part(&key, "presence"))
        .link("contactLocation", urls.contact_part(&key, "location"))
        .link("contactNote", urls.contact_part(&key, "note"))
}

/// `myContacts`: every user of this server but the caller.
pub fn my_contacts(urls: &AppUrls, users: &[User]) -> Resource {
    Resource::new(Namespace::Ucwa, "myContacts", urls.at("people/contacts"))
        .embed_array("contact", users.iter().map(|u| contact(urls, u)).collect())
}

/// `search` results.
pub fn search(urls: &AppUrls, users: &[User], more: bool) -> Resource {
    Resource::new(Namespace::Ucwa, "search", urls.at("people/search"))
        .prop("moreResultsAvailable", more)
        .embed_array("contact", users.iter().map(|u| contact(urls, u)).collect())
}

pub fn presence_subscription(urls: &AppUrls, subscription: &PresenceSubscription) -> Resource {
    let href = urls.presence_subscription(&subscription.id);
    Resource::new(Namespace::Ucwa, "presenceSubscription", href.clone())
        .prop("id", subscription.id.as_str())
        .link("addToPresenceSubscription", format!("{href}/addToPresenceSubscription"))
}

pub fn presence_subscriptions(urls: &AppUrls, subscriptions: &[PresenceSubscription]) -> Resource {
    Resource::new(Namespace::Ucwa, "presenceSubscriptions", urls.at("people/presenceSubscriptions"))
        .embed_array("presenceSubscription", subscriptions.iter().map(|s| presence_subscription(urls, s)).collect())
}

/// The user's own `presence`, `note` or `location` event of `kind` for `app` (sender `me`,
/// Medium, no body: as recorded, the application fetches what it wants).
pub fn me_event(app: &Application, part: &str, kind: EventType) -> NewEvent {
    let urls = AppUrls::of(app);
    NewEvent {
        app_id: app.id.clone(),
        priority: Priority::Medium,
        sender_rel: "me".into(),
        sender_href: urls.me(),
        body: Event::new(kind, RelLink::new(part, urls.me_part(part))).to_value(),
        conversation: None,
    }
}

/// `contactPresence`, `contactNote` or `contactLocation` `updated` for a watcher `app` of the
/// person at `uri` (sender `people`, Medium, `in` the contact:
/// <https://learn.microsoft.com/en-us/skype-sdk/ucwa/contactpresence_ref>).
pub fn contact_event(app: &Application, uri: &str, rel: &str, part: &str) -> NewEvent {
    let urls = AppUrls::of(app);
    let key = address_key(uri);
    let mut event = Event::new(EventType::Updated, RelLink::new(rel, urls.contact_part(&key, part)));
    event.in_ = Some(RelLink::new("contact", urls.contact(&key)));
    NewEvent {
        app_id: app.id.clone(),
        priority: Priority::Medium,
        sender_rel: "people".into(),
        sender_href: urls.people(),
        body: event.to_value(),
        conversation: None,
    }
}

/// The `me` links that only an available application has, in the recorded order.
pub fn me_links(r: Resource, urls: &AppUrls) -> Resource {
    r.link("note", urls.me_part("note"))
        .link("presence", urls.me_part("presence"))
        .link("location", urls.me_part("location"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn offwork_shows_as_away_off_work() {
        assert_eq!(shown_availability(None), ("Online", None));
        assert_eq!(shown_availability(Some("Offwork")), ("Away", Some("off-work")));
        assert_eq!(shown_availability(Some("DoNotDisturb")), ("DoNotDisturb", None));
        let urls = AppUrls::new(false, "a1");
        assert_eq!(phones(&urls).into_value()["_embedded"]["phone"], json!([]));
    }
}
