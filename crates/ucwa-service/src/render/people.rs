//! Presence and people, as the recorded Lync traffic shows them
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/receiveanim>,
//! <https://learn.microsoft.com/en-us/skype-sdk/ucwa/getmypresenceinformation>): the user's
//! `presence`, `note`, `location` and `phones`; `contact`s with their `contactPresence`,
//! `contactNote`, `contactLocation` and `contactPhoto` links; `myContacts`, `search` and
//! presence subscriptions; and the events that tell of changes.

use ucwa_core::channel::Priority;
use ucwa_core::meeting::address_key;
use ucwa_core::model::{Application, NewEvent, PresenceSubscription, Publication, User};
use ucwa_proto::model::{self, Contact, Dashboard, Event, EventLink, EventType, Hal, Location, Note, Presence, Search};
use ucwa_proto::values::{Availability, ContactType, NoteType, SourceNetwork};
use ucwa_proto::{Namespace, RelName};

use crate::urls::AppUrls;

/// What a user's published availability shows as (Availability, and an activity): a
/// PreferredAvailability is shown as itself, except `Offwork`, which has no Availability of
/// its own and shows as `Away` with the well-known activity `off-work`
/// (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/contactpresence_ref>). Never set:
/// `Online`.
pub fn shown_availability(preferred: Option<&str>) -> (Availability, Option<&'static str>) {
    match preferred {
        Some("Busy") => (Availability::Busy, None),
        Some("DoNotDisturb") => (Availability::DoNotDisturb, None),
        Some("BeRightBack") => (Availability::BeRightBack, None),
        Some("Away") => (Availability::Away, None),
        Some("Offwork") => (Availability::Away, Some("off-work")),
        _ => (Availability::Online, None),
    }
}

/// A `presence` (the user's own) or `contactPresence` at `href`.
pub fn presence(name: RelName, href: String, availability: Availability, activity: Option<&str>) -> Hal<Presence> {
    let props = Presence { availability, activity: activity.map(str::to_owned), device_type: None, last_active: None };
    Hal::new(Namespace::Ucwa, name, href, props)
}

/// A `note` or `contactNote`: the personal note, `""` when there is none.
pub fn note(name: RelName, href: String, publication: &Publication) -> Hal<Note> {
    let props = Note { message: publication.note.clone().unwrap_or_default(), kind: NoteType::Personal };
    Hal::new(Namespace::Ucwa, name, href, props)
}

/// A `location` or `contactLocation`, `""` when none is set.
pub fn location(name: RelName, href: String, publication: &Publication) -> Hal<Location> {
    let props = Location { location: publication.location.clone().unwrap_or_default() };
    Hal::new(Namespace::Ucwa, name, href, props)
}

/// `me/phones`: no phone numbers are known here.
pub fn phones(urls: &AppUrls) -> Hal<Dashboard> {
    Hal::new(Namespace::Ucwa, RelName::Phones, urls.me_part("phones"), Dashboard {}).embed_array(RelName::Phone, [])
}

/// A user of this server as a `contact`.
pub fn contact(urls: &AppUrls, user: &User) -> Hal<Contact> {
    let key = address_key(&user.uri);
    let props = Contact {
        uri: user.uri.clone(),
        name: user.display_name.clone(),
        kind: ContactType::User,
        source_network: Some(SourceNetwork::SameEnterprise),
    };
    Hal::new(Namespace::Ucwa, RelName::Contact, urls.contact(&key), props)
        .link(RelName::ContactPhoto, urls.photo(&key))
        .link(RelName::ContactPresence, urls.contact_part(&key, "presence"))
        .link(RelName::ContactLocation, urls.contact_part(&key, "location"))
        .link(RelName::ContactNote, urls.contact_part(&key, "note"))
}

/// `myContacts`: every user of this server but the caller.
pub fn my_contacts(urls: &AppUrls, users: &[User]) -> Hal<Dashboard> {
    Hal::new(Namespace::Ucwa, RelName::MyContacts, urls.at("people/contacts"), Dashboard {})
        .embed_array(RelName::Contact, users.iter().map(|u| contact(urls, u).into()))
}

/// `search` results.
pub fn search(urls: &AppUrls, users: &[User], more: bool) -> Hal<Search> {
    Hal::new(Namespace::Ucwa, RelName::Search, urls.at("people/search"), Search { more_results_available: more })
        .embed_array(RelName::Contact, users.iter().map(|u| contact(urls, u).into()))
}

pub fn presence_subscription(urls: &AppUrls, subscription: &PresenceSubscription) -> Hal<model::PresenceSubscription> {
    let href = urls.presence_subscription(&subscription.id);
    let props = model::PresenceSubscription { id: subscription.id.clone() };
    Hal::new(Namespace::Ucwa, RelName::PresenceSubscription, href.clone(), props)
        .link(RelName::AddToPresenceSubscription, format!("{href}/addToPresenceSubscription"))
}

pub fn presence_subscriptions(urls: &AppUrls, subscriptions: &[PresenceSubscription]) -> Hal<Dashboard> {
    let href = urls.at("people/presenceSubscriptions");
    Hal::new(Namespace::Ucwa, RelName::PresenceSubscriptions, href, Dashboard {})
        .embed_array(RelName::PresenceSubscription, subscriptions.iter().map(|s| presence_subscription(urls, s).into()))
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
        body: super::json(&Event::new(kind, EventLink::new(RelName::from(part).into(), urls.me_part(part)))),
        conversation: None,
    }
}

/// `contactPresence`, `contactNote` or `contactLocation` `updated` for a watcher `app` of the
/// person at `uri` (sender `people`, Medium, `in` the contact:
/// <https://learn.microsoft.com/en-us/skype-sdk/ucwa/contactpresence_ref>).
pub fn contact_event(app: &Application, uri: &str, rel: RelName, part: &str) -> NewEvent {
    let urls = AppUrls::of(app);
    let key = address_key(uri);
    let mut event = Event::new(EventType::Updated, EventLink::new(rel.into(), urls.contact_part(&key, part)));
    event.in_ = Some(EventLink::new(RelName::Contact.into(), urls.contact(&key)));
    NewEvent {
        app_id: app.id.clone(),
        priority: Priority::Medium,
        sender_rel: "people".into(),
        sender_href: urls.people(),
        body: super::json(&event),
        conversation: None,
    }
}

/// The `me` links that only an available application has, in the recorded order.
pub fn me_links<P>(r: Hal<P>, urls: &AppUrls) -> Hal<P> {
    r.link(RelName::Note, urls.me_part("note"))
        .link(RelName::Presence, urls.me_part("presence"))
        .link(RelName::Location, urls.me_part("location"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn offwork_shows_as_away_off_work() {
        assert_eq!(shown_availability(None), (Availability::Online, None));
        assert_eq!(shown_availability(Some("Offwork")), (Availability::Away, Some("off-work")));
        assert_eq!(shown_availability(Some("DoNotDisturb")), (Availability::DoNotDisturb, None));
        let urls = AppUrls::ucwa(false, "a1");
        assert_eq!(phones(&urls).into_value()["_embedded"]["phone"], json!([]));
    }
}
