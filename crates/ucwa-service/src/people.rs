//! Presence and people (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/presence_ref>,
//! <https://learn.microsoft.com/en-us/skype-sdk/ucwa/people_ref>): what a user publishes
//! about itself (`me/presence`, `me/note`, `me/location`), how others see it (`contact`,
//! `contactPresence`, `contactNote`, `contactLocation`), the contact list (every user of this
//! server), search, and presence subscriptions.
//!
//! Presence belongs to the user, not to one application: an availability set by one of its
//! applications shows on all of them, and others see `Offline` while none of them is
//! available. A change is told (Medium, no body, as recorded) to each of the user's
//! available applications (`presence updated`, sender `me`) and to every application with an
//! unexpired subscription to the user (`contactPresence updated`, sender `people`), in the
//! same transaction that stores it.
//!
//! Only signed-in users have presence and people: anonymous guests get `409
//! MakeMeAvailableRequired` on their own presence (the page's "or is anonymous") and `403
//! AnonymousNotAllowed` on people.

use serde_json::Value;
use ucwa_core::credentials::new_id;
use ucwa_core::model::{Application, NewEvent, PresenceSubscription, PublicationChange, User};
use ucwa_proto::event::EventType;
use ucwa_proto::input::{PropertyBag, Validator};

use crate::Services;
use crate::applications::make_me_available_required;
use crate::error::{ServiceError, ServiceResult};
use crate::render::people as render;
use crate::urls::AppUrls;
use crate::validate::normalize_sip_uri;

/// The availabilities a user may set (PreferredAvailability).
pub const PREFERRED_AVAILABILITY: &[&str] = &["Online", "Busy", "DoNotDisturb", "BeRightBack", "Away", "Offwork"];
/// Longest location (`location_ref`: "The maximum length is 60 characters").
const LOCATION_MAX: usize = 60;
/// Longest personal note (not documented; a note is a line of text).
const NOTE_MAX: usize = 1024;
/// At most this many contacts are listed.
pub const CONTACTS_LISTED: u32 = 500;
/// `search`'s `limit` (`search_ref`: 1 to 100) and its default.
const SEARCH_LIMIT_MAX: i64 = 100;
const SEARCH_LIMIT_DEFAULT: u32 = 20;
/// Longest `search` query (`search_ref`: 256).
const SEARCH_QUERY_MAX: usize = 256;
/// `duration` of a presence subscription, in minutes (`presencesubscriptions_ref`: 10 to 30).
const SUBSCRIPTION_MINUTES: (i64, i64) = (10, 30);
/// People one subscription may watch, and live subscriptions per application
/// (`403 LimitExceeded` past it).
const SUBSCRIPTION_URIS_MAX: usize = 100;
const SUBSCRIPTIONS_PER_APP: u32 = 20;

/// Which part of a publication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Presence,
    Note,
    Location,
}

impl Part {
    /// `presence`, `note` or `location`, as the `me` links and the contact sub-resources are
    /// spelled.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "presence" => Some(Part::Presence),
            "note" => Some(Part::Note),
            "location" => Some(Part::Location),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Part::Presence => "presence",
            Part::Note => "note",
            Part::Location => "location",
        }
    }

    /// The rel of the same part of a contact.
    fn contact_rel(self) -> &'static str {
        match self {
            Part::Presence => "contactPresence",
            Part::Note => "contactNote",
            Part::Location => "contactLocation",
        }
    }
}

/// People are for signed-in users.
fn signed_in(app: &Application) -> ServiceResult<()> {
    if app.anonymous {
        return Err(ServiceError::Forbidden {
            subcode: Some("AnonymousNotAllowed"),
            message: "Anonymous users have no contacts.".into(),
        });
    }
    Ok(())
}

/// The SIP URI a contact href's key names (`bob@example.com` → `sip:bob@example.com`).
fn uri_of_key(key: &str) -> Option<String> {
    normalize_sip_uri(&format!("sip:{key}"))
}

impl Services {
    /// A user's availability and activity as others see them: `Offline` while none of its
    /// applications is available.
    async fn shown_presence(&self, uri: &str) -> ServiceResult<(&'static str, Option<&'static str>)> {
        if self.store.online_applications(uri).await?.is_empty() {
            return Ok(("Offline", None));
        }
        let publication = self.store.publication(uri).await?;
        Ok(render::shown_availability(publication.availability.as_deref()))
    }

    /// `GET me/presence|note|location`.
    pub async fn my_publication(&self, app: &Application, part: &str) -> ServiceResult<Value> {
        let part = Part::parse(part).ok_or_else(ServiceError::not_found)?;
        if app.anonymous || !app.available {
            return Err(make_me_available_required());
        }
        let href = AppUrls::of(app).me_part(part.as_str());
        let publication = self.store.publication(&app.owner_uri).await?;
        let resource = match part {
            Part::Presence => {
                let (availability, activity) = render::shown_availability(publication.availability.as_deref());
                render::presence("presence", href, availability, activity)
            }
            Part::Note => render::note("note", href, &publication),
            Part::Location => render::location("location", href, &publication),
        };
        Ok(resource.into_value())
    }

    /// `POST me/presence` (`availability`; none resets to `Online`), `me/note` (`message`;
    /// blank resets) or `me/location` (`location`, at most 60 characters; blank clears).
    pub async fn publish(&self, app: &Application, part: &str, input: &PropertyBag) -> ServiceResult<()> {
        let part = Part::parse(part).ok_or_else(ServiceError::not_found)?;
        let mut v = Validator::new();
        let change = match part {
            Part::Presence => PublicationChange::Availability(
                v.check(input.enumeration("availability", PREFERRED_AVAILABILITY)).map(str::to_owned),
            ),
            Part::Note => PublicationChange::Note(non_blank(v.check(input.string("message", NOTE_MAX)))),
            Part::Location => PublicationChange::Location(non_blank(v.check(input.string("location", LOCATION_MAX)))),
        };
        v.finish()?;
        if app.anonymous || !app.available {
            return Err(make_me_available_required());
        }
        self.publish_change(&app.owner_uri, part, &change, None).await
    }

    /// Stores `change` to `uri`'s publication and tells its applications (but `except`) and
    /// its watchers.
    pub(crate) async fn publish_change(
        &self,
        uri: &str,
        part: Part,
        change: &PublicationChange,
        except: Option<&str>,
    ) -> ServiceResult<()> {
        let mut events: Vec<NewEvent> = self
            .store
            .online_applications(uri)
            .await?
            .iter()
            .filter(|a| Some(a.id.as_str()) != except)
            .map(|a| render::me_event(a, part.as_str(), EventType::Updated))
            .collect();
        events.extend(self.watcher_events(uri, part).await?);
        self.store.publish(uri, change, events, self.now_ms()).await?;
        Ok(())
    }

    /// `contact*` `updated` for everyone watching `uri`.
    async fn watcher_events(&self, uri: &str, part: Part) -> ServiceResult<Vec<NewEvent>> {
        let mut events = Vec::new();
        for app_id in self.store.presence_watchers(uri, self.now_ms()).await? {
            if let Some(app) = self.store.application(&app_id).await? {
                events.push(render::contact_event(&app, uri, part.contact_rel(), part.as_str()));
            }
        }
        Ok(events)
    }

    /// Tells `uri`'s watchers that its presence may have changed (an application of it became
    /// available, or its last one went away).
    pub(crate) async fn presence_may_have_changed(&self, uri: &str) {
        let events = match self.watcher_events(uri, Part::Presence).await {
            Ok(events) => events,
            Err(e) => return tracing::warn!(error = %e, "presence watchers could not be read"),
        };
        if !events.is_empty()
            && let Err(e) = self.store.append_events(events, self.now_ms()).await
        {
            tracing::warn!(error = %e, "presence watchers could not be told");
        }
    }

    /// The user `key` (`bob@example.com`) names, or 404.
    async fn contact_user(&self, app: &Application, key: &str) -> ServiceResult<User> {
        signed_in(app)?;
        let uri = uri_of_key(key).ok_or_else(ServiceError::not_found)?;
        self.store.find_user(&uri).await?.ok_or_else(ServiceError::not_found)
    }

    /// `GET people/{key}`: a user of this server as a contact.
    pub async fn contact(&self, app: &Application, key: &str) -> ServiceResult<Value> {
        let user = self.contact_user(app, key).await?;
        Ok(render::contact(&AppUrls::of(app), &user).into_value())
    }

    /// `GET people/{key}/presence|note|location`.
    pub async fn contact_publication(&self, app: &Application, key: &str, part: &str) -> ServiceResult<Value> {
        let part = Part::parse(part).ok_or_else(ServiceError::not_found)?;
        let user = self.contact_user(app, key).await?;
        let href = AppUrls::of(app).contact_part(&ucwa_core::meeting::address_key(&user.uri), part.as_str());
        let resource = match part {
            Part::Presence => {
                let (availability, activity) = self.shown_presence(&user.uri).await?;
                render::presence("contactPresence", href, availability, activity)
            }
            Part::Note => render::note("contactNote", href, &self.store.publication(&user.uri).await?),
            Part::Location => render::location("contactLocation", href, &self.store.publication(&user.uri).await?),
        };
        Ok(resource.into_value())
    }

    /// `GET people/contacts` (`myContacts`): every user of this server but the caller, by
    /// name, at most [`CONTACTS_LISTED`].
    pub async fn my_contacts(&self, app: &Application) -> ServiceResult<Value> {
        signed_in(app)?;
        let users = self.store.search_users("", CONTACTS_LISTED + 1).await?;
        let others: Vec<User> =
            users.into_iter().filter(|u| u.uri != app.owner_uri).take(CONTACTS_LISTED as usize).collect();
        Ok(render::my_contacts(&AppUrls::of(app), &others).into_value())
    }

    /// `GET people/search?query=&limit=`: users whose name or SIP address contains `query`.
    pub async fn search(&self, app: &Application, input: &PropertyBag) -> ServiceResult<Value> {
        signed_in(app)?;
        let mut v = Validator::new();
        let query = v.check(input.required_string("query", SEARCH_QUERY_MAX));
        let limit = v.check(input.integer("limit", 1, SEARCH_LIMIT_MAX));
        v.finish()?;
        let limit = limit.and_then(|l| u32::try_from(l).ok()).unwrap_or(SEARCH_LIMIT_DEFAULT);
        let mut found = self.store.search_users(query.trim(), limit + 1).await?;
        let more = found.len() > limit as usize;
        found.truncate(limit as usize);
        Ok(render::search(&AppUrls::of(app), &found, more).into_value())
    }

    /// `GET people/presenceSubscriptions`.
    pub async fn presence_subscriptions(&self, app: &Application) -> ServiceResult<Value> {
        signed_in(app)?;
        let subscriptions = self.store.presence_subscriptions(&app.id, self.now_ms()).await?;
        Ok(render::presence_subscriptions(&AppUrls::of(app), &subscriptions).into_value())
    }

    /// `POST people/presenceSubscriptions` `{duration, uris}`: returns the subscription. Its
    /// members that are users of this server are announced at once (`contactPresence
    /// updated`), so the client fetches their current state: a SIP subscription is answered
    /// with the current state, and the reference pages show no other way to learn it.
    pub async fn subscribe(&self, app: &Application, input: &PropertyBag) -> ServiceResult<Value> {
        signed_in(app)?;
        let mut v = Validator::new();
        let minutes = v.check(input.integer("duration", SUBSCRIPTION_MINUTES.0, SUBSCRIPTION_MINUTES.1));
        if !input.contains("duration") {
            v.fail("duration", "is required");
        }
        let uris = subscription_uris(&mut v, input, true);
        v.finish()?;
        let now = self.now_ms();
        let subscription = PresenceSubscription {
            id: new_id(),
            app_id: app.id.clone(),
            uris,
            expires_ms: now.saturating_add(minutes.unwrap_or(SUBSCRIPTION_MINUTES.0) * 60_000),
        };
        if !self.store.insert_presence_subscription(&subscription, SUBSCRIPTIONS_PER_APP, now).await? {
            return Err(ServiceError::Forbidden {
                subcode: Some("LimitExceeded"),
                message: format!("At most {SUBSCRIPTIONS_PER_APP} presence subscriptions per application."),
            });
        }
        self.announce_members(app, &subscription.uris).await?;
        Ok(render::presence_subscription(&AppUrls::of(app), &subscription).into_value())
    }

    /// One of `app`'s live subscriptions, or 404.
    async fn own_subscription(&self, app: &Application, id: &str) -> ServiceResult<PresenceSubscription> {
        signed_in(app)?;
        let live = self.store.presence_subscriptions(&app.id, self.now_ms()).await?;
        live.into_iter().find(|s| s.id == id).ok_or_else(ServiceError::not_found)
    }

    /// `GET people/presenceSubscriptions/{id}`.
    pub async fn presence_subscription(&self, app: &Application, id: &str) -> ServiceResult<Value> {
        let subscription = self.own_subscription(app, id).await?;
        Ok(render::presence_subscription(&AppUrls::of(app), &subscription).into_value())
    }

    /// `POST people/presenceSubscriptions/{id}` `{duration}`: the duration is added to what
    /// remains, at most 30 minutes from now (`presencesubscription_ref`).
    pub async fn extend_subscription(&self, app: &Application, id: &str, input: &PropertyBag) -> ServiceResult<Value> {
        let mut v = Validator::new();
        let minutes = v.check(input.integer("duration", SUBSCRIPTION_MINUTES.0, SUBSCRIPTION_MINUTES.1));
        if !input.contains("duration") {
            v.fail("duration", "is required");
        }
        v.finish()?;
        let mut subscription = self.own_subscription(app, id).await?;
        let now = self.now_ms();
        let cap = now.saturating_add(SUBSCRIPTION_MINUTES.1 * 60_000);
        subscription.expires_ms =
            subscription.expires_ms.saturating_add(minutes.unwrap_or(SUBSCRIPTION_MINUTES.0) * 60_000).min(cap);
        if !self.store.update_presence_subscription(&app.id, id, Some(subscription.expires_ms), &[], now).await? {
            return Err(ServiceError::not_found());
        }
        Ok(render::presence_subscription(&AppUrls::of(app), &subscription).into_value())
    }

    /// `POST people/presenceSubscriptions/{id}/addToPresenceSubscription` `{uris}`.
    pub async fn add_to_subscription(&self, app: &Application, id: &str, input: &PropertyBag) -> ServiceResult<()> {
        let mut v = Validator::new();
        let uris = subscription_uris(&mut v, input, true);
        v.finish()?;
        let subscription = self.own_subscription(app, id).await?;
        let new: Vec<String> = uris.into_iter().filter(|u| !subscription.uris.contains(u)).collect();
        if subscription.uris.len() + new.len() > SUBSCRIPTION_URIS_MAX {
            let mut v = Validator::new();
            v.fail("uris", format!("a subscription watches at most {SUBSCRIPTION_URIS_MAX} people"));
            v.finish()?;
        }
        if !self.store.update_presence_subscription(&app.id, id, None, &new, self.now_ms()).await? {
            return Err(ServiceError::not_found());
        }
        self.announce_members(app, &new).await
    }

    /// `DELETE people/presenceSubscriptions/{id}`.
    pub async fn unsubscribe(&self, app: &Application, id: &str) -> ServiceResult<()> {
        signed_in(app)?;
        if !self.store.delete_presence_subscription(&app.id, id).await? {
            return Err(ServiceError::not_found());
        }
        Ok(())
    }

    /// `contactPresence updated` to `app` for each of `uris` that is a user here.
    async fn announce_members(&self, app: &Application, uris: &[String]) -> ServiceResult<()> {
        let mut events = Vec::new();
        for uri in uris {
            if self.store.find_user(uri).await?.is_some() {
                events.push(render::contact_event(app, uri, "contactPresence", "presence"));
            }
        }
        if !events.is_empty() {
            self.store.append_events(events, self.now_ms()).await?;
        }
        Ok(())
    }
}

/// A value whose blank means "reset".
fn non_blank(value: Option<String>) -> Option<String> {
    value.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The `uris` of a subscription: SIP URIs, once each, at most [`SUBSCRIPTION_URIS_MAX`].
fn subscription_uris(v: &mut Validator, input: &PropertyBag, required: bool) -> Vec<String> {
    let Some(raw) = v.check(input.string_list("uris", 256)) else {
        if required {
            v.fail("uris", "is required: the SIP URIs to watch");
        }
        return Vec::new();
    };
    if raw.is_empty() || raw.len() > SUBSCRIPTION_URIS_MAX {
        v.fail("uris", format!("must name 1 to {SUBSCRIPTION_URIS_MAX} SIP URIs"));
        return Vec::new();
    }
    let mut uris: Vec<String> = Vec::with_capacity(raw.len());
    for u in &raw {
        match normalize_sip_uri(u) {
            Some(uri) if !uris.contains(&uri) => uris.push(uri),
            Some(_) => {}
            None => {
                v.fail("uris", "must be SIP URIs such as sip:alice@example.com");
                return Vec::new();
            }
        }
    }
    uris
}
